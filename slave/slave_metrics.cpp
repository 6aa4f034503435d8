#include "slave/slave_metrics.hpp"

#include "common/metric_families.hpp"
#include "common/task_state.hpp"

namespace stoa::slave {

std::string task_state_metric(TaskState state) { return metrics::task_state_metric("slave", state); }

void declare_slave_metrics(metrics::Registry& r) {
  r.gauge("slave/registered", "1 while registered with a master");
  r.gauge("slave/uptime_secs", "Seconds since this slave started");
  r.gauge("slave/frameworks_active", "Frameworks with executors on this slave");
  r.gauge("slave/executors_registering", "Executors launched and not yet registered");
  r.gauge("slave/executors_running", "Executors registered and running");
  r.gauge("slave/executors_terminating", "Executors being shut down");
  r.gauge("slave/executors_recovering", "Executors a restarted slave found running, waiting for them to re-register");
  r.gauge("slave/recovery_errors", "Checkpoint entries the last recovery skipped (--strict=false)");
  r.counter("slave/checkpoint_errors", "Checkpoint writes that failed");
  r.counter("slave/executors_terminated", "Executors that exited");
  r.gauge("slave/executor_pool_ready", "Pooled command executors started and ready to adopt a launch");
  r.counter("slave/executor_pool_adopted", "Launches that a pooled command executor adopted");
  r.counter("slave/executor_pool_cold_starts",
            "Launches that started a fresh executor while the pool is on (none ready, or not eligible)");
  metrics::declare_task_state_metrics(r, "slave");
  r.counter("slave/valid_status_updates", "Status updates accepted from executors or made by the slave");
  r.counter("slave/invalid_status_updates", "Status updates dropped (no uuid)");
  r.counter("slave/dropped_messages", "Messages refused because of their sender");
  metrics::declare_resource_metrics(r, "slave", "of running executors");
}

std::map<std::string, double> slave_gauges(const SlaveState& s, const Resources& total, double now) {
  std::map<std::string, double> g;
  g["slave/registered"] = s.registered ? 1 : 0;
  g["slave/uptime_secs"] = s.start_time > 0 ? now - s.start_time : 0;
  double registering = 0;
  double running = 0;
  double terminating = 0;
  double recovering = 0;
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
        case Executor::Phase::RECOVERING:
          recovering += 1;
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
  g["slave/executors_recovering"] = recovering;
  g["slave/executors_registering"] = registering;
  g["slave/executors_running"] = running;
  g["slave/executors_terminating"] = terminating;
  metrics::task_state_gauges("slave", tasks, &g);
  metrics::resource_gauges("slave", total, used, &g);
  return g;
}

}  // namespace stoa::slave
