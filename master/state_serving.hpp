#pragma once
// Serving the big read-only views (/master/state, /master/frameworks)
// without stalling the master actor (issue #17).
//
// The master forks: the child is a copy-on-write image of the master's
// memory at that instant, an immutable snapshot that costs the master actor
// only the copy of its page tables (measured in docs/benchmarks.md, "Scale
// (#17)"), where copying MasterState itself costs ~2 us per task and
// rendering it ~5 us. The child renders the view into a pipe, 1 MiB at a
// time as it goes, and _exits; a detached collector actor (its own thread)
// reads the pipe concurrently and reaps the child, while the master goes
// on handling messages. The child only runs
// the pure renderers of state_json.cpp, write(2) and _exit(2).
//
// Requests for a view that arrive while that view renders wait for the next
// render (Mesos batches /state requests the same way): every answer shows
// the state at or after its request, and at most one child per view runs.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <caf/fwd.hpp>

#include "actors/body_spans.hpp"
#include "common/try.hpp"

namespace stoa::master {

// A child rendering a view: its pid and the read end of its pipe.
struct ForkedRender {
  pid_t pid = -1;
  int fd = -1;
};

// Runs `render` in a forked child, which writes the body into a pipe as
// frames, each a header line and for "D" its bytes:
//   "H <bytes>\n"          the body will be about this long (optional);
//   "D <bytes>\n" <bytes>  the next part of the body;
//   "R\n"                  drop the parts so far (a render that failed
//                          after streaming part of its body);
//   "E <status> <bytes>\n" the end: the status `render` returned and the
//                          body's length, the sum of the "D" frames since
//                          the last "R".
// While `render` runs, current_body_pipe() (state_json_writer.hpp) is the
// child's pipe: write_state() and write_frameworks() hand the body over in
// JsonBuffer::PIPE_CHUNK parts as they render it, and leave only its tail
// in their string. REQUIRES: a `render` that calls them returns, as its
// body, that string, unchanged. The child then sends what `render`
// returned as the last part, and the end frame. A child that dies, or
// writes a frame it does not finish, never has an end frame: its reader
// fails (never a short body). Returns an Error when pipe(2) or fork(2)
// fail (the caller then renders in place). Runs in the master actor:
// REQUIRES the state `render` reads to be consistent at the call.
Try<ForkedRender> fork_render(const std::function<int(std::string* body)>& render);

struct RenderedView {
  int status = 0;
  std::string body;
};

// Reads the child's frames as the child writes them (each part straight
// into the body's string) and reaps the child. Returns the view, or an
// Error naming how the child ended and where its output stopped (killed by
// SIGKILL, by its pid, when it has not finished within `timeout`). Blocks:
// run it in a detached actor.
Try<RenderedView> collect_render(ForkedRender child, std::chrono::milliseconds timeout);

// A detached actor that answers one `(state_atom) -> (int status,
// std::string body)` request with the child's view or a 500 JSON error,
// then exits. When its thread cannot start (spawn_with_thread) the child
// is killed and reaped here and the error returned.
Try<caf::actor> spawn_render_collector(caf::actor_system& sys, ForkedRender child,
                                  std::chrono::milliseconds timeout);

// The gzip (RFC 1952) encoding of `data`, for `Content-Encoding: gzip`.
// Level 1: /master/state's JSON shrinks ~20x at ~300 MB/s on one core.
std::string gzip(std::string_view data, int level = 1);
// The same of a body in spans (a rope), read span by span, never joined.
std::string gzip(const http::BodySpans& body, int level = 1);

// True when an Accept-Encoding header value accepts gzip (`gzip`, `x-gzip`
// or `*`, with a q-value above 0).
bool accepts_gzip(const std::string& accept_encoding);

}  // namespace stoa::master
