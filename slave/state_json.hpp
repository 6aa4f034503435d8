#pragma once
// Renders the slave's records as Mesos-shaped JSON: /slave(1)/state,
// /slave(1)/monitor/statistics and /slave(1)/flags (see
// docs/http-api.md). Pure functions of the records: tools and the web UI
// depend on these shapes, which state_json_test.cpp pins.

#include <picojson.h>

#include "slave/containerizer.hpp"
#include "slave/slave.hpp"
#include "slave/slave_state.hpp"

namespace stoa::slave {

picojson::value task_json(const Task& t);
// Queued tasks are rendered as TASK_STAGING tasks of `slave_id`.
picojson::value executor_json(const Executor& e, const std::string& slave_id);
picojson::value framework_json(const Framework& f, const std::string& slave_id);

// /slave(1)/state.
picojson::value state_json(const SlaveState& s, const SlaveOptions& opts);

// /monitor/statistics: one entry per executor in `s.frameworks` that has
// usage in `usages` (its container id); each statistics object holds the
// fields its isolators set (plus timestamp).
picojson::value monitor_json(const SlaveState& s, const ContainerUsages& usages);


// /slave(1)/flags: {"flags": {name: value}}.
picojson::value flags_json(const SlaveFlags& flags);

}  // namespace stoa::slave
