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
//   (disconnect_atom, actor, why)       -> bool   local senders only: forgets
//        the cached actors of `actor`'s process and closes the connection to
//        it (disconnect_node); false for an actor of this process
// Resolved peers are cached and monitored; a dead peer leaves the cache. An
// exit message from an actor of this process exits every named actor with
// the same reason (how Runtime::shutdown() takes the process down).

#include <chrono>
#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/node_id.hpp>

namespace stoa {

// Each step of a resolve (discovery, connect, lookup) gives up after this long.
constexpr auto ROUTER_STEP_TIMEOUT = std::chrono::seconds(5);
// The discovery route on every serving process' HTTP port.
constexpr const char* PROCESSES_PATH = "/__stoa__/processes";

// The router's own atom (the others are in actors/atoms.hpp).
using disconnect_atom = caf::atom_constant<caf::atom("disconnect")>;
constexpr disconnect_atom disconnect_atom_v{};

// Closes this process' connection to the process `node` at once and drops
// whatever is still queued for it: an abortive close (SO_LINGER 0), so the
// peer sees a reset and nothing stale is ever delivered to it later, even if
// the connection only hung (a partition shorter than the middleman's
// connection timeout keeps unacknowledged messages in TCP's retransmission
// queue, whose retry interval backs off to seconds). CAF then cleans up as
// for any broken connection: the proxies of `node`'s actors go down
// (remote_link_unreachable) and a later resolve opens a fresh connection.
// For peers declared lost by an application health check (missed pings).
// Asynchronous, callable from any actor; does nothing for this process' own
// node or a node without a direct connection. `why` goes into the log line.
void disconnect_node(caf::actor_system& sys, const caf::node_id& node, std::string why);

// Spawns the router of a process whose HTTP port is `ip:port`. A UPID naming
// that address resolves locally; `port` 0 (a process that does not serve)
// matches no UPID, so every UPID is resolved remotely.
caf::actor spawn_router(caf::actor_system& sys, std::string ip, uint16_t port);

}  // namespace stoa
