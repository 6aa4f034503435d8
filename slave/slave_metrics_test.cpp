#include "slave/slave_metrics.hpp"

#include <gtest/gtest.h>

namespace stoa::slave {
namespace {

Executor executor(const std::string& id, Executor::Phase phase, const std::string& resources) {
  Executor e;
  e.framework_id = "F1";
  e.executor_id = id;
  e.container_id = "C-" + id;
  e.phase = phase;
  e.resources = *Resources::parse(resources);
  return e;
}

TEST(SlaveMetrics, EveryGaugeIsDeclaredAndEveryTaskStateHasAMetric) {
  metrics::Registry r;
  declare_slave_metrics(r);
  SlaveState s;
  for (const auto& [name, value] : slave_gauges(s, *Resources::parse("cpus:4;mem:1024"), 10)) {
    EXPECT_TRUE(r.has(name)) << name;
  }
  for (const char* name : {"slave/tasks_finished", "slave/tasks_failed", "slave/tasks_killed", "slave/tasks_lost",
                           "slave/tasks_running", "slave/tasks_staging", "slave/dropped_messages",
                           "slave/executors_terminated", "slave/registered"}) {
    EXPECT_EQ(r.value(name), 0.0) << name;
  }
  EXPECT_TRUE(r.undeclared_names().empty());
}

TEST(SlaveMetrics, GaugesFollowTheRecords) {
  SlaveState s;
  s.registered = true;
  s.start_time = 100;
  Framework& f = s.frameworks["F1"];
  Executor running = executor("e1", Executor::Phase::RUNNING, "cpus:1;mem:256");
  Task t;
  t.mutable_task_id()->set_value("t1");
  t.set_state(TASK_RUNNING);
  running.tasks["t1"] = t;
  f.executors.emplace("e1", running);
  Executor launching = executor("e2", Executor::Phase::LAUNCHING, "cpus:0.5;mem:128");
  launching.queued["t2"] = TaskInfo();
  f.executors.emplace("e2", launching);
  f.executors.emplace("e3", executor("e3", Executor::Phase::TERMINATED, "cpus:2;mem:512"));
  auto g = slave_gauges(s, *Resources::parse("cpus:4;mem:1024"), 160);
  EXPECT_EQ(g["slave/registered"], 1);
  EXPECT_EQ(g["slave/uptime_secs"], 60);
  EXPECT_EQ(g["slave/executors_running"], 1);
  EXPECT_EQ(g["slave/executors_registering"], 1);
  EXPECT_EQ(g["slave/executors_terminating"], 0);
  EXPECT_EQ(g["slave/tasks_running"], 1);
  EXPECT_EQ(g["slave/tasks_staging"], 1);
  EXPECT_EQ(g["slave/frameworks_active"], 1);
  // The terminated executor's resources are free again.
  EXPECT_DOUBLE_EQ(g["slave/cpus_used"], 1.5);
  EXPECT_DOUBLE_EQ(g["slave/cpus_percent"], 1.5 / 4);
  EXPECT_DOUBLE_EQ(g["slave/mem_used"], 384);
  EXPECT_EQ(g.count("slave/tasks_finished"), 0u);  // a counter, not a gauge
}

}  // namespace
}  // namespace stoa::slave
