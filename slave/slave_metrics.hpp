#pragma once
// The slave's metrics, named as Mesos names them: declared up front in the
// process registry (present at 0 from the first scrape), counters bumped
// where the event happens, gauges derived from the records on each scrape
// (the slave actor is a metrics collector).

#include <map>
#include <string>

#include "common/metrics.hpp"
#include "common/resources.hpp"
#include "slave/slave_state.hpp"

namespace stoa::slave {

void declare_slave_metrics(metrics::Registry& registry);

// Gauges from the records: registered, uptime, executors by phase, tasks in
// each non-terminal state, frameworks, resources total / used / percent.
std::map<std::string, double> slave_gauges(const SlaveState& s, const Resources& total, double now);

// "slave/tasks_finished" for TASK_FINISHED, ...
std::string task_state_metric(TaskState state);

}  // namespace stoa::slave
