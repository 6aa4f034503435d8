#pragma once
// Safe defaults for every long-lived actor (cookbook §3, §8):
// - unexpected *async* messages are dropped quietly (CAF's print_and_drop
//   would send an error back and kill the sender); unexpected requests get
//   sec::unexpected_message so the requester is not left waiting;
// - error messages (e.g. a failed request nobody handled) are logged, and the
//   actor keeps running;
// - an exception thrown by a handler is logged with the actor's name;
// - exit messages are obeyed only when an actor of this process sent them.
//   CAF delivers an exit_msg sent over the network like any other message,
//   and the router hands out handles to anyone: without this guard any peer
//   could stop (or, with `kill`, crash) a master or slave. Anonymous exits
//   are refused too, since a remote sender can be anonymous: stop a
//   component with stop_actor().

#include <functional>

#include <caf/actor.hpp>
#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/fwd.hpp>
#include <caf/scheduled_actor.hpp>

#include "common/try.hpp"

namespace stoa {

void set_safe_handlers(caf::scheduled_actor* self, const char* name);

// True when `msg` was sent by another actor of this process.
bool exit_from_this_process(caf::scheduled_actor* self, const caf::exit_msg& msg);

// Sends `reason` as an exit message to `whom` from a short-lived local actor
// (so the exit guard above accepts it).
void stop_actor(caf::actor_system& sys, const caf::actor& whom,
                caf::error reason = caf::exit_reason::user_shutdown);

// Call once in the init of every broker (HTTP server and client): closes
// and drains its mailbox when it terminates, as CAF does for every other
// scheduled actor. CAF 0.17's broker cleanup (abstract_broker::cleanup)
// skips that step, so a terminated broker keeps what is in its mailbox and
// takes what is sent to it afterwards; a message it sent itself (a delayed
// tick or timeout) holds a strong reference to it, and broker and message
// are never freed. Requests left in the mailbox get the exit reason, as
// from any terminated actor (docs/actor-pitfalls.md, 17).
void close_mailbox_at_exit(caf::scheduled_actor* self);

// How the actor `spawn_with_thread` spawns gets its thread.
enum class ThreadActor {
  detached,  // an event-based actor spawned with caf::detached
  blocking,  // a blocking actor (a function taking caf::blocking_actor*)
};

// Calls `spawn`, which spawns one actor of `kind` and returns its handle.
// When the actor's thread cannot start (EAGAIN: the machine's or the
// cgroup's pids are all taken, as under a fork bomb) the error, naming it,
// instead of the exception. CAF 0.17 counts such an actor (as running, and
// its thread) before it creates the thread and never takes the counts back
// when that fails, so the actor system would wait for it for ever at
// shutdown; this takes them back (docs/actor-pitfalls.md, 16). Every
// spawn of a detached or blocking actor on a path a request or a timer
// takes goes through here; those made once at start may throw.
Try<caf::actor> spawn_with_thread(caf::actor_system& sys, ThreadActor kind, const std::function<caf::actor()>& spawn);

}  // namespace stoa
