// Usage reports end to end (docs/utilization.md): a real slave measures a
// busy task and the master's /master/utilization shows it.

#include <gtest/gtest.h>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

// What counts as "busy" for the spinning shell: well above an idle
// executor's ~0.01 cpus, and below what one spinning process gets even on a
// loaded 2-core machine (at a load average of 8 it gets ~0.2; 0.3 made this
// test flaky there).
constexpr double BUSY_CPUS = 0.1;

const picojson::value* newest_sample(const picojson::value& body, const std::string& key) {
  const picojson::array& samples = json_array(json_at(body, key));
  return samples.empty() ? nullptr : &samples.back();
}

TEST(ClusterUtilization, BusyTaskShowsUpInTheClusterAndSlaveHistory) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  ASSERT_TRUE(cluster.start_slave("cpus:2;mem:1024;disk:1000;ports:[31000-32000]", {"--usage_report_interval=200ms"}));
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();
  std::string slave_id = json_string(json_at(json_array(json_at(*state, "slaves"))[0], "id"));
  ASSERT_FALSE(slave_id.empty());

  Try<Process*> exec = cluster.start("stoa-execute", "execute",
                                     {"--master=" + cluster.master_address(), "--name=busy",
                                      "--command=while :; do :; done", "--resources=cpus:1;mem:64"});
  ASSERT_TRUE(exec) << exec.error();
  ASSERT_TRUE((*exec)->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DEFAULT_TIMEOUT)));

  // A few report intervals: the first sample of the executor has no rate,
  // the next ones do, and every report updates the cluster's newest sample.
  picojson::value body;
  bool busy = poll_until(
      [&] {
        Try<picojson::value> u = http_get_json("127.0.0.1", cluster.master_port(), "/master/utilization");
        if (!u) {
          return false;
        }
        body = *u;
        const picojson::value* s = newest_sample(body, "cluster");
        // Total and allocated follow within a second of a change.
        return s != nullptr && json_number(json_at(json_at(*s, "cpus"), "used")) > BUSY_CPUS &&
               json_number(json_at(json_at(*s, "cpus"), "total")) == 2 &&
               json_number(json_at(json_at(*s, "cpus"), "allocated")) == 1;
      },
      deadline_in(std::chrono::seconds(15)));
  ASSERT_TRUE(busy) << body.serialize();
  EXPECT_EQ(json_number(json_at(body, "interval_seconds")), 5);
  const picojson::value& cluster_sample = *newest_sample(body, "cluster");
  EXPECT_EQ(json_number(json_at(json_at(cluster_sample, "cpus"), "total")), 2);
  EXPECT_EQ(json_number(json_at(json_at(cluster_sample, "cpus"), "allocated")), 1);
  EXPECT_GT(json_number(json_at(json_at(cluster_sample, "mem"), "used")), 1);  // MB: the executor is resident
  EXPECT_EQ(json_number(json_at(json_at(cluster_sample, "gpus"), "used")), 0);
  EXPECT_GT(json_number(json_at(cluster_sample, "timestamp")), 1.6e9);

  // The slave's own samples (15 s buckets; a bucket's used is the mean of
  // its reports, so the idle reports before the task may hold the current
  // one down until the next bucket starts).
  picojson::value one;
  bool seen = poll_until(
      [&] {
        Try<picojson::value> u =
            http_get_json("127.0.0.1", cluster.master_port(), "/master/utilization?slave_id=" + slave_id);
        if (!u) {
          return false;
        }
        one = *u;
        const picojson::value* s = newest_sample(one, "samples");
        return s != nullptr && json_number(json_at(json_at(*s, "cpus"), "used")) > BUSY_CPUS;
      },
      deadline_in(std::chrono::seconds(20)));
  ASSERT_TRUE(seen) << one.serialize();
  EXPECT_EQ(json_string(json_at(one, "slave_id")), slave_id);
  EXPECT_EQ(json_number(json_at(one, "interval_seconds")), 15);
  const picojson::value& slave_sample = *newest_sample(one, "samples");
  EXPECT_EQ(json_number(json_at(json_at(slave_sample, "cpus"), "total")), 2);
  EXPECT_LE(json_number(json_at(json_at(slave_sample, "cpus"), "used")), 2.5);  // one spinning shell
  // The busy executor's own figures, from the latest report.
  const picojson::array& executors = json_array(json_at(one, "executors"));
  ASSERT_EQ(executors.size(), 1u) << one.serialize();
  EXPECT_FALSE(json_string(json_at(executors[0], "executor_id")).empty());
  EXPECT_GT(json_number(json_at(executors[0], "cpus_used")), BUSY_CPUS) << one.serialize();
  EXPECT_GT(json_number(json_at(executors[0], "mem_used")), 1) << one.serialize();
  EXPECT_TRUE(json_at(executors[0], "disk_used").is<picojson::null>()) << "no disk/du: " << one.serialize();

  // The gauge, the counters, and bad queries.
  Try<picojson::value> metrics = http_get_json("127.0.0.1", cluster.master_port(), "/metrics/snapshot");
  ASSERT_TRUE(metrics) << metrics.error();
  EXPECT_GT(json_number(json_at(*metrics, "master/utilization/cpus_used")), BUSY_CPUS) << metrics->serialize();
  EXPECT_GT(json_number(json_at(*metrics, "master/valid_usage_reports")), 1);
  EXPECT_EQ(json_number(json_at(*metrics, "master/invalid_usage_reports")), 0);
  Try<HttpResponse> unknown = http_get("127.0.0.1", cluster.master_port(), "/master/utilization?slave_id=nope");
  ASSERT_TRUE(unknown) << unknown.error();
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  EXPECT_NE(unknown->body.find("nope"), std::string::npos) << unknown->body;
  Try<HttpResponse> bad = http_get("127.0.0.1", cluster.master_port(), "/master/utilization?slave=x");
  ASSERT_TRUE(bad) << bad.error();
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("'slave'"), std::string::npos) << bad->body;

  (*exec)->kill(SIGTERM);
  EXPECT_TRUE((*exec)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
}

TEST(ClusterUtilization, ReportsCanBeTurnedOff) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  ASSERT_TRUE(cluster.start_slave("cpus:1;mem:256", {"--usage_report_interval=0secs"}));
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  Try<picojson::value> flags = http_get_json("127.0.0.1", cluster.slave_port(0), "/slave(1)/flags");
  ASSERT_TRUE(flags) << flags.error();
  EXPECT_EQ(json_string(json_at(json_at(*flags, "flags"), "usage_report_interval")), "0ns");
  // The cluster's samples still come from the master's own figures.
  Try<picojson::value> u = http_get_json("127.0.0.1", cluster.master_port(), "/master/utilization");
  ASSERT_TRUE(u) << u.error();
  EXPECT_FALSE(json_array(json_at(*u, "cluster")).empty()) << u->serialize();
}

}  // namespace
}  // namespace stoa::tests
