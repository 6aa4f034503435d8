#include "common/metric_families.hpp"

#include <gtest/gtest.h>

namespace stoa::metrics {
namespace {

TEST(MetricFamilies, TerminalStatesAreCountersOthersGauges) {
  Registry r;
  declare_task_state_metrics(r, "master");
  std::string text = r.prometheus();
  EXPECT_NE(text.find("# TYPE master_tasks_finished counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE master_tasks_lost counter"), std::string::npos);
  EXPECT_NE(text.find("# TYPE master_tasks_running gauge"), std::string::npos);
  EXPECT_NE(text.find("# TYPE master_tasks_staging gauge"), std::string::npos);
  std::map<std::string, double> g;
  task_state_gauges("master", {{TASK_RUNNING, 3}}, &g);
  EXPECT_EQ(g["master/tasks_running"], 3);
  EXPECT_EQ(g["master/tasks_staging"], 0);
  EXPECT_EQ(g.count("master/tasks_finished"), 0u);
  for (const auto& [name, v] : g) {
    EXPECT_TRUE(r.has(name)) << name;
  }
}

TEST(MetricFamilies, ResourceGauges) {
  Registry r;
  declare_resource_metrics(r, "slave", "of running executors");
  std::map<std::string, double> g;
  resource_gauges("slave", *Resources::parse("cpus:4;mem:1024"), *Resources::parse("cpus:1;mem:256"), &g);
  EXPECT_EQ(g["slave/cpus_total"], 4);
  EXPECT_EQ(g["slave/cpus_used"], 1);
  EXPECT_DOUBLE_EQ(g["slave/mem_percent"], 0.25);
  EXPECT_EQ(g["slave/gpus_percent"], 0);  // no gpus: 0, not NaN
  for (const auto& [name, v] : g) {
    EXPECT_TRUE(r.has(name)) << name;
  }
}

}  // namespace
}  // namespace stoa::metrics
