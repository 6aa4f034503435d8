#pragma once
// GET /metrics (Prometheus text) and GET /metrics/snapshot (JSON) of every
// serving process, over the Runtime's metrics::Registry.
//
// Gauges derived from an actor's state are refreshed through collectors: on
// each scrape the metrics actor sends every collector `(metrics_atom)` and
// waits for its reply (`true`; any reply counts) for at most the collector
// timeout. A collector that does not answer in time is counted in
// `system/metrics_collector_timeouts` and the scrape is served anyway. Then
// the `system/*` gauges are read from /proc and sysconf and the registry is
// rendered.
//
// The metrics actor is detached (a thread of its own): the /proc reads are
// cheap, but they are file reads all the same, and on its own thread they
// never hold up the CAF workers or the middleman's event loop that serves
// HTTP. Its only other work is waiting for replies, which takes no thread.

#include <chrono>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/http.hpp"
#include "common/metrics.hpp"

namespace stoa {

constexpr auto DEFAULT_METRICS_COLLECTOR_TIMEOUT = std::chrono::seconds(5);
constexpr const char* PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4";

// Declares Mesos' system/* gauges (system/cpus_total, system/load_{1,5,15}min,
// system/mem_{total,free}_bytes) and the counter
// system/metrics_collector_timeouts in `registry`.
void declare_system_metrics(metrics::Registry& registry);

// Sets the system/* gauges from sysconf, /proc/loadavg and /proc/meminfo. A
// file that cannot be read leaves its gauges unchanged. Reads files: call it
// off CAF's worker threads.
void refresh_system_metrics(metrics::Registry& registry);

// Spawns the metrics actor (detached). Its protocol:
//   (collector_atom, actor)               refresh `actor` on every scrape; local senders only
//   (scrape_atom, bool prometheus) -> std::string   the rendered registry
// REQUIRES: `registry` outlives the actor; declare_system_metrics(registry)
// was called.
caf::actor spawn_metrics_actor(caf::actor_system& sys, metrics::Registry& registry,
                               std::chrono::milliseconds collector_timeout);

// GET /metrics and GET /metrics/snapshot, answered by `metrics_actor`.
std::vector<http::Route> metrics_routes(const caf::actor& metrics_actor,
                                        std::chrono::milliseconds collector_timeout);

}  // namespace stoa
