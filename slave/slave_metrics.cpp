#include "slave/slave_metrics.hpp"

#include "common/strings.hpp"
#include "common/task_state.hpp"

namespace stoa::slave {

std::string task_state_metric(TaskState state) { return "slave/tasks_" + lower(TaskState_Name(state).substr(5)); }

void declare_slave_metrics(metrics::Registry& r) {
  r.gauge("slave/registered", "1 while registered with a master");
  r.gauge("slave/uptime_secs", "Seconds since this slave started");
  r.gauge("slave/frameworks_active", "Frameworks with executors on this slave");
  r.gauge("slave/executors_registering", "Executors launched and not yet registered");
  r.gauge("slave/executors_running", "Executors registered and running");
  r.gauge("slave/executors_terminating", "Executors being shut down");
  r.counter("slave/executors_terminated", "Executors that exited");
  for (int i = TaskState_MIN; i <= TaskState_MAX; ++i) {
    if (!TaskState_IsValid(i)) {
      continue;
    }
    auto state = static_cast<TaskState>(i);
    if (is_terminal_state(state)) {
      r.counter(task_state_metric(state), "Tasks that reached " + TaskState_Name(state));
    } else {
      r.gauge(task_state_metric(state), "Tasks now in " + TaskState_Name(state));
    }
  }
  r.counter("slave/valid_status_updates", "Status updates accepted from executors or made by the slave");
  r.counter("slave/invalid_status_updates", "Status updates dropped (no uuid)");
  r.counter("slave/dropped_messages", "Messages refused because of their sender");
  for (const char* res : {"cpus", "mem", "disk", "gpus"}) {
    std::string n = res;
    r.gauge("slave/" + n + "_total", "Total " + n + " of this slave");
    r.gauge("slave/" + n + "_used", "The " + n + " of running executors");
    r.gauge("slave/" + n + "_percent", "Fraction of " + n + " in use");
  }
}

std::map<std::string, double> slave_gauges(const SlaveState& s, const Resources& total, double now) {
  std::map<std::string, double> g;
  g["slave/registered"] = s.registered ? 1 : 0;
  g["slave/uptime_secs"] = s.start_time > 0 ? now - s.start_time : 0;
  double registering = 0;
  double running = 0;
  double terminating = 0;
  double frameworks = 0;
  std::map<TaskState, double> tasks;
  Resources used;
  for (const auto& [fid, f] : s.frameworks) {
    bool any = false;
    for (const auto& [eid, e] : f.executors) {
      switch (e.phase) {
        case Executor::Phase::LAUNCHING:
          registering += 1;
          break;
        case Executor::Phase::RUNNING:
          running += 1;
          break;
        case Executor::Phase::TERMINATING:
          terminating += 1;
          break;
        case Executor::Phase::TERMINATED:
          continue;
      }
      any = true;
      used += e.resources;
      tasks[TASK_STAGING] += static_cast<double>(e.queued.size());
      for (const auto& [tid, t] : e.tasks) {
        tasks[t.state()] += 1;
      }
    }
    frameworks += any ? 1 : 0;
  }
  g["slave/frameworks_active"] = frameworks;
  g["slave/executors_registering"] = registering;
  g["slave/executors_running"] = running;
  g["slave/executors_terminating"] = terminating;
  for (int i = TaskState_MIN; i <= TaskState_MAX; ++i) {
    if (TaskState_IsValid(i) && !is_terminal_state(static_cast<TaskState>(i))) {
      g[task_state_metric(static_cast<TaskState>(i))] = tasks[static_cast<TaskState>(i)];
    }
  }
  for (const char* r : {"cpus", "mem", "disk", "gpus"}) {
    double t = total.scalar(r);
    double u = used.scalar(r);
    g[std::string("slave/") + r + "_total"] = t;
    g[std::string("slave/") + r + "_used"] = u;
    g[std::string("slave/") + r + "_percent"] = t > 0 ? u / t : 0.0;
  }
  return g;
}

}  // namespace stoa::slave
