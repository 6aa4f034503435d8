#pragma once
// The process router (internal to the Runtime): a string-keyed directory of
// this process's named actors, and the resolver of remote UPIDs
// (docs/wire-format.md). Its protocol:
//   (register_atom, id, actor)          -> unit   local senders only
//   (unregister_atom, id)                          local senders only
//   (lookup_atom, id)                   -> actor  a named actor of this process
//   (list_atom)                         -> std::vector<std::string> ids
//   (resolve_atom, upid)                -> actor  via the peer's HTTP port
//   (resolve_atom, upid, actor_port)    -> actor  the peer's actor port known
// Resolved peers are cached and monitored; a dead peer leaves the cache. An
// exit message from an actor of this process exits every named actor with
// the same reason (how Runtime::shutdown() takes the process down).

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace stoa {

// Each step of a resolve (discovery, connect, lookup) gives up after this long.
constexpr auto ROUTER_STEP_TIMEOUT = std::chrono::seconds(5);
// The discovery route on every serving process' HTTP port.
constexpr const char* PROCESSES_PATH = "/__stoa__/processes";

// Spawns the router of a process whose HTTP port is `ip:port`. A UPID naming
// that address resolves locally; `port` 0 (a process that does not serve)
// matches no UPID, so every UPID is resolved remotely.
caf::actor spawn_router(caf::actor_system& sys, std::string ip, uint16_t port);

}  // namespace stoa
