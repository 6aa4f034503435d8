#pragma once
// Metric families the master and the slave both have, named as Mesos names
// them: `<prefix>/tasks_<state>` for every task state (terminal states are
// counters, the others gauges of the tasks now in them) and
// `<prefix>/<resource>_{total,used,percent}` for cpus, mem, disk and gpus.

#include <map>
#include <string>

#include "common/metrics.hpp"
#include "common/resources.hpp"
#include "proto/stoa.pb.h"

namespace stoa::metrics {

// "master/tasks_finished" for ("master", TASK_FINISHED).
std::string task_state_metric(const std::string& prefix, TaskState state);

void declare_task_state_metrics(Registry& r, const std::string& prefix);

// Sets `<prefix>/tasks_<state>` in `out` for every non-terminal state, from
// the counts in `active` (absent = 0).
void task_state_gauges(const std::string& prefix, const std::map<TaskState, double>& active,
                       std::map<std::string, double>* out);

// `used_by` completes the help text: "The cpus <used_by>".
void declare_resource_metrics(Registry& r, const std::string& prefix, const std::string& used_by);

void resource_gauges(const std::string& prefix, const Resources& total, const Resources& used,
                     std::map<std::string, double>* out);

}  // namespace stoa::metrics
