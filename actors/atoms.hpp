#pragma once
// Atoms used between Stoa actors (at most 10 characters of [0-9A-Za-z_ ]).

#include <caf/atom.hpp>

namespace stoa {

#define STOA_ATOM(name, text)                                \
  using name##_atom = caf::atom_constant<caf::atom(text)>;   \
  constexpr name##_atom name##_atom_v {}

// Each atom has one meaning, written beside it. Atoms private to one actor
// (its own timers, a test's probes) are declared next to that actor with a
// text no other atom uses (`ping_tmo` in slave_actor.hpp, `http_tick` in
// http_server.cpp); those shared between components are listed here.

// The process router (actors/router.hpp).
STOA_ATOM(register, "register");      // (register, id, actor): name a local actor
STOA_ATOM(unregister, "unregister");  // (unregister, id)
STOA_ATOM(lookup, "lookup");          // (lookup, id) -> actor
STOA_ATOM(resolve, "resolve");        // (resolve, upid[, actor_port]) -> actor of a remote process
STOA_ATOM(list, "list");              // (list) -> the registered ids
// Component requests from this process' HTTP routes (actors/actor_route.hpp).
STOA_ATOM(state, "state");    // (state, endpoint, query) -> (status, body): a read-only view
STOA_ATOM(update, "update");  // (update, endpoint, method, path, body) -> (status, body)
STOA_ATOM(metrics, "metrics");  // (metrics) -> bool: a collector refreshes its gauges
// Registration of a slave, executor or scheduler with its peer: try again.
STOA_ATOM(retry, "retry");
// A detached waiter saw a child exit: (reaped, container id, wait status).
STOA_ATOM(reaped, "reaped");
// The slave's hard kill of an executor after its shutdown grace period.
STOA_ATOM(kill, "kill");
// Stop a tool's driver or a test actor in an orderly way.
STOA_ATOM(stop, "stop");
// A test's or benchmark's ping-pong: (tick, n) -> n + 1.
STOA_ATOM(tick, "tick");
// Allocations from the allocator actor to the master: (offers, Allocations).
STOA_ATOM(offers, "offers");
// The master's timers (each sent by the master to itself only).
STOA_ATOM(ping_timer, "ping_tmr");          // ping a slave, count a missed pong
STOA_ATOM(reregister_timer, "rereg_tmr");   // a disconnected slave's time to come back
STOA_ATOM(failover_timer, "failov_tmr");    // a disconnected framework's failover timeout
STOA_ATOM(offer_timer, "offer_tmr");        // --offer_timeout of one offer
STOA_ATOM(recovered_timer, "recov_tmr");    // recovered slaves' time to re-register after a failover
// `(collector_atom, actor)` to a process' metrics actor: refresh `actor`'s
// gauges on every scrape (Runtime::add_metrics_collector).
STOA_ATOM(collector, "collector");
// `(scrape_atom, bool prometheus) -> std::string` to a process' metrics
// actor: refresh every gauge, then render the registry.
STOA_ATOM(scrape, "scrape");
// `(signal_atom, int signo)` to a tool's main actor: SIGINT or SIGTERM
// arrived (daemon::run_tool). The same atom as framework/scheduler.hpp's
// scheduler_signal_atom, with the same meaning.
STOA_ATOM(signal, "signal");

#undef STOA_ATOM

}  // namespace stoa
