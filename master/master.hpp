#pragma once
// The leading master: admits slaves, subscribes frameworks, turns the
// allocator's decisions into offers, validates and forwards launches, and
// relays status updates and acknowledgements (Mesos semantics; see
// docs/architecture.md).
//
// Messages (all asynchronous, sender = the peer's actor):
//   from slaves:     RegisterSlaveMessage, ReregisterSlaveMessage, UnregisterSlaveMessage,
//                    StatusUpdateMessage, ExitedExecutorMessage, PongSlaveMessage,
//                    ExecutorToFrameworkMessage, SlaveUsageMessage (usage_reports.cpp)
//   from schedulers: stoa::scheduler::Call   (answered with stoa::scheduler::Event)
// Requests (local, from the HTTP routes):
//   (state_atom, std::string endpoint, std::map<std::string,std::string> query)
//       -> (int status, std::string json)
//   endpoints: "state", "state-summary", "slaves", "frameworks", "tasks",
//              "flags", "health", "metrics" (the registry as JSON, gauges
//              refreshed), "utilization" (?slave_id=), "roles", "weights", "quota" (asked from the
//              allocator actor)
//   (view_atom, endpoint, query) -> (int status, std::string json, ViewBody spans)
//       what the HTTP routes ask for the views that grow with the cluster
//       ("state", "frameworks", "state-summary", "slaves", "tasks"): once big,
//       a 200 comes as `spans` (json empty; /master/state and /master/frameworks
//       are then a rope of the records' fragments, never joined), else as `json`.
//   (update_atom, endpoint, method, path, body) -> (int status, std::string json)
//       PUT weights, POST quota, DELETE quota/<role>
//   (metrics_atom) -> bool: refresh the gauges (a metrics scrape)
// From its allocator actor only: (offers_atom, allocator::Allocations).

#include <chrono>
#include <memory>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "actors/body_spans.hpp"
#include "actors/sse.hpp"
#include "actors/upid.hpp"
#include "master/master_flags.hpp"

namespace stoa {
class Runtime;
}

namespace stoa::metrics {
class Registry;
}

namespace stoa::registrar {
struct Storage;
}

namespace stoa::master {

using view_atom = caf::atom_constant<caf::atom("m_view")>;
constexpr view_atom view_atom_v{};
// A view's body in pieces, shared by every request a render answers.
using ViewBody = std::shared_ptr<const http::BodySpans>;

struct MasterOptions {
  MasterFlags flags;
  Upid upid;             // master@ip:port
  std::string hostname;  // advertised
  uint16_t actor_port = 0;  // the process' actor port (MasterInfo.actor_port); 0 = unknown
  // The process' metrics registry (Runtime::metrics()); null = the master
  // keeps its own (tests).
  metrics::Registry* metrics = nullptr;
  // An allocation pass runs this long after an event that adds or frees
  // resources (bursts coalesce into one pass).
  std::chrono::milliseconds allocation_event_delay{2};
  // The allocator actor runs on its own thread; false for tests driven by
  // CAF's test_coordinator (virtual time), which must schedule it.
  bool detached_allocator = true;
  // The longest the master rests after a render of /master/state or
  // /master/frameworks before it starts the next (view_renders.cpp);
  // 0: no rest (tests driven in virtual time, where a rest would wait for
  // the test to move the clock).
  std::chrono::milliseconds view_render_rest_max{100};
  // Likewise for the registrar (registrar::Options::detached).
  bool detached_registrar = true;
  // A store for the registry spawned by the caller instead of --registry's
  // (tests: one in-memory store shared by a master and its successor).
  std::shared_ptr<registrar::Storage> registry_storage;
  // The event stream's hub (master/events.hpp); none = nothing is published.
  // The master stops it when it exits.
  sse::Hub events;
};

// Spawns the master actor. Errors (e.g. bad --weights) name the flag.
Try<caf::actor> spawn_master(caf::actor_system& sys, MasterOptions opts);

// Registers the master's HTTP routes (/master/*, /version) on the runtime's
// server. The master's metrics are served by the runtime (/metrics,
// /metrics/snapshot) from MasterOptions::metrics; register the master as a
// metrics collector so its gauges are fresh on every scrape.
void register_master_routes(Runtime& runtime, const caf::actor& master, const MasterFlags& flags);

}  // namespace stoa::master

// Local only (a reply to this process' HTTP routes), never serialized.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::master::ViewBody)
