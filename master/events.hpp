#pragma once
// The master's event stream, GET /master/events (docs/events.md): the master
// publishes what changes on its sse::Hub (MasterOptions::events); the HTTP
// route attaches subscribers. Every publish is a no-op that builds nothing
// while nobody is subscribed (one atomic load).
//
// Call sites are one line each, from the master's own code paths:
//   events::task_added(*this, task);
//   events::publish(*this, "UTILIZATION", [&] { return sample_json; });
// Runs inside the master actor.

#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <picojson.h>

#include "actors/sse.hpp"
#include "master/master_state.hpp"

namespace stoa {
class Runtime;
}

namespace stoa::master {

class Master;

namespace events {

// Every event type a subscriber may name in ?types= (SUBSCRIBED always comes first).
const std::vector<std::string>& event_types();

// True when someone is subscribed.
bool listening(const Master& m);

// Publishes (type, build()) when someone listens; `build` returns the data
// (a picojson::value) and runs only then.
void publish_json(const Master& m, const std::string& type, const picojson::value& data);
template <class Build>
void publish(const Master& m, const std::string& type, Build&& build) {
  if (listening(m)) {
    publish_json(m, type, build());
  }
}

// The contract's events (docs/events.md).
void task_added(const Master& m, const Task& task);
// `status` is the update that changed the task (its message kept).
void task_updated(const Master& m, const Task& task, const TaskStatus& status);
void slave_added(const Master& m, const SlaveRecord& slave);
void slave_updated(const Master& m, const SlaveRecord& slave);
void slave_removed(const Master& m, const std::string& slave_id);
void framework_added(const Master& m, const FrameworkRecord& framework);
void framework_updated(const Master& m, const FrameworkRecord& framework);
void framework_removed(const Master& m, const std::string& framework_id);

// The SUBSCRIBED event's data: {"master_id","leader","heartbeat_interval_seconds"}.
picojson::value subscribed_json(const Master& m);

}  // namespace events

// Serves GET /master/events[?types=A,B] on the runtime's server from `hub`
// (the hub given to the master in MasterOptions::events). A master that does
// not lead answers like every other endpoint (307 to the leader, 503).
void register_events_route(Runtime& runtime, const caf::actor& master, const sse::Hub& hub);

}  // namespace stoa::master
