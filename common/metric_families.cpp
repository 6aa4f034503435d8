#include "common/metric_families.hpp"

#include "common/strings.hpp"
#include "common/task_state.hpp"

namespace stoa::metrics {

namespace {

constexpr const char* RESOURCES[] = {"cpus", "mem", "disk", "gpus"};

}  // namespace

std::string task_state_metric(const std::string& prefix, TaskState state) {
  return prefix + "/tasks_" + lower(TaskState_Name(state).substr(5));
}

void declare_task_state_metrics(Registry& r, const std::string& prefix) {
  for (int i = TaskState_MIN; i <= TaskState_MAX; ++i) {
    if (!TaskState_IsValid(i)) {
      continue;
    }
    auto state = static_cast<TaskState>(i);
    if (is_terminal_state(state)) {
      r.counter(task_state_metric(prefix, state), "Tasks that reached " + TaskState_Name(state));
    } else {
      r.gauge(task_state_metric(prefix, state), "Tasks now in " + TaskState_Name(state));
    }
  }
}

void task_state_gauges(const std::string& prefix, const std::map<TaskState, double>& active,
                       std::map<std::string, double>* out) {
  for (int i = TaskState_MIN; i <= TaskState_MAX; ++i) {
    auto state = static_cast<TaskState>(i);
    if (TaskState_IsValid(i) && !is_terminal_state(state)) {
      auto it = active.find(state);
      (*out)[task_state_metric(prefix, state)] = it == active.end() ? 0.0 : it->second;
    }
  }
}

void declare_resource_metrics(Registry& r, const std::string& prefix, const std::string& used_by) {
  for (const char* res : RESOURCES) {
    std::string n = res;
    r.gauge(prefix + "/" + n + "_total", "Total " + n);
    r.gauge(prefix + "/" + n + "_used", "The " + n + " " + used_by);
    r.gauge(prefix + "/" + n + "_percent", "Fraction of " + n + " " + used_by);
  }
}

void resource_gauges(const std::string& prefix, const Resources& total, const Resources& used,
                     std::map<std::string, double>* out) {
  for (const char* r : RESOURCES) {
    double t = total.scalar(r);
    double u = used.scalar(r);
    (*out)[prefix + "/" + r + "_total"] = t;
    (*out)[prefix + "/" + r + "_used"] = u;
    (*out)[prefix + "/" + r + "_percent"] = t > 0 ? u / t : 0.0;
  }
}

}  // namespace stoa::metrics
