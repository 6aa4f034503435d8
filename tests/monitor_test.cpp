// The posix/cpu and posix/mem isolators' usage view: /slave(1)/monitor/statistics.

#include <gtest/gtest.h>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

TEST(ClusterMonitor, RunningExecutorReportsCpuAndMemoryUsage) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  ASSERT_TRUE(cluster.start_slave());
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  Try<Process*> exec = cluster.start(
      "stoa-execute", "execute",
      {"--master=" + cluster.master_address(), "--name=busy",
       // The shell spins (CPU time), with a sleep beside it (a third process).
       "--command=sleep 1000 & while :; do :; done", "--resources=cpus:0.5;mem:64"});
  ASSERT_TRUE(exec) << exec.error();
  ASSERT_TRUE((*exec)->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DEFAULT_TIMEOUT)));
  picojson::value entry;
  bool seen = poll_until(
      [&] {
        Try<picojson::value> stats =
            http_get_json("127.0.0.1", cluster.slave_port(0), "/slave(1)/monitor/statistics");
        if (!stats || !stats->is<picojson::array>() || json_array(*stats).empty()) {
          return false;
        }
        entry = json_array(*stats)[0];
        const picojson::value& s = json_at(entry, "statistics");
        // The executor and the task's shell and sleep, and the spinning
        // shell's first CPU ticks.
        return json_number(json_at(s, "processes")) >= 3 && json_number(json_at(s, "cpus_user_time_secs")) > 0;
      },
      deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(seen) << entry.serialize();
  const picojson::value& s = json_at(entry, "statistics");
  // Every figure is there: a missing one is not a zero.
  for (const char* field : {"processes", "mem_rss_bytes", "mem_limit_bytes", "cpus_limit", "cpus_user_time_secs",
                            "cpus_system_time_secs"}) {
    EXPECT_TRUE(json_at(s, field).is<double>()) << field << " is missing or not a number in " << entry.serialize();
  }
  EXPECT_GT(json_number(json_at(s, "mem_rss_bytes")), 1e6);  // the executor alone has MBs resident
  EXPECT_EQ(json_number(json_at(s, "mem_limit_bytes")), 64.0 * 1024 * 1024);
  EXPECT_EQ(json_number(json_at(s, "cpus_limit")), 0.5);
  EXPECT_GT(json_number(json_at(s, "cpus_user_time_secs")), 0.0);  // the shell spins
  EXPECT_EQ(json_string(json_at(entry, "framework_id")).empty(), false);
  (*exec)->kill(SIGTERM);
  EXPECT_TRUE((*exec)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
}

}  // namespace
}  // namespace stoa::tests
