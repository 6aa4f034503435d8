#pragma once
// Atoms used between Stoa actors (at most 10 characters of [0-9A-Za-z_ ]).

#include <caf/atom.hpp>

namespace stoa {

#define STOA_ATOM(name, text)                                \
  using name##_atom = caf::atom_constant<caf::atom(text)>;   \
  constexpr name##_atom name##_atom_v {}

STOA_ATOM(register, "register");
STOA_ATOM(unregister, "unregister");
STOA_ATOM(lookup, "lookup");
STOA_ATOM(resolve, "resolve");
STOA_ATOM(list, "list");
STOA_ATOM(state, "state");
STOA_ATOM(tick, "tick");
STOA_ATOM(timeout, "timeout");
STOA_ATOM(retry, "retry");
STOA_ATOM(stop, "stop");
STOA_ATOM(exited, "exited");
STOA_ATOM(reaped, "reaped");
STOA_ATOM(kill, "kill");
STOA_ATOM(allocate, "allocate");
STOA_ATOM(offers, "offers");
STOA_ATOM(metrics, "metrics");
STOA_ATOM(summary, "summary");
STOA_ATOM(frameworks, "frameworks");
STOA_ATOM(slaves, "slaves");
STOA_ATOM(tasks, "tasks");
STOA_ATOM(flags, "flags");
STOA_ATOM(health, "health");
STOA_ATOM(subscribe, "subscribe");
STOA_ATOM(update, "update");
STOA_ATOM(rescind, "rescind");
// The master's timers (each sent by the master to itself only).
STOA_ATOM(ping_timer, "ping_tmr");          // ping a slave, count a missed pong
STOA_ATOM(reregister_timer, "rereg_tmr");   // a disconnected slave's time to come back
STOA_ATOM(failover_timer, "failov_tmr");    // a disconnected framework's failover timeout
STOA_ATOM(offer_timer, "offer_tmr");        // --offer_timeout of one offer
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
