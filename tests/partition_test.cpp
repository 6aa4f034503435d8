// Partitions and removal with real binaries on loopback: a slave stopped
// (SIGSTOP) past the master's ping timeout is marked unreachable; when it
// runs again it re-registers within its ping timeout (told by the master),
// and the tasks of frameworks that are not partition-aware are killed there
// (they were reported TASK_LOST) while those of partition-aware frameworks
// come back TASK_RUNNING (REASON_SLAVE_REREGISTERED). A framework torn down
// while its slave was away never comes back, through a slave restart and a
// master restart.

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

#include "tests/cluster.hpp"
#include "tests/task_checks.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> FAST_PINGS = {"--slave_ping_timeout=1secs", "--max_slave_ping_timeouts=2"};

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

double used_cpus(Cluster& cluster, const std::string& slave_id) {
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return -1;
  }
  for (const auto& s : json_array(json_at(*state, "slaves"))) {
    if (json_string(json_at(s, "id")) == slave_id) {
      return json_number(json_at(json_at(s, "used_resources"), "cpus"));
    }
  }
  return -1;
}

// The id the framework subscribed with, from its log.
std::string framework_id_of(const Process& framework) {
  static const std::regex re(R"(Subscribed as framework (\S+))");
  for (const std::string& line : framework.lines_matching(re)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) {
      return m[1];
    }
  }
  return "";
}

// Master with fast pings, one slave, a framework running one `sleep` task
// (with `framework_flags`); then the slave is stopped until the framework
// hears `lost_state`, and continued.
struct Partitioned {
  Cluster cluster;
  Process* framework = nullptr;
  std::string marker = unique_marker();
  std::string slave_id;
  std::vector<pid_t> task_pids;

  void run(const std::vector<std::string>& framework_flags, const std::string& lost_state) {
    ASSERT_TRUE(cluster.start_master(FAST_PINGS));
    ASSERT_TRUE(cluster.start_slave());
    ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
    slave_id = only_slave_id(cluster);
    std::vector<std::string> args = {"--master=" + cluster.master_address(), "--tasks=1",
                                     "--command=sleep 1000; echo " + marker, "--task_resources=cpus:0.5;mem:32"};
    args.insert(args.end(), framework_flags.begin(), framework_flags.end());
    Try<Process*> f = cluster.start("stoa-example-framework", "framework", args);
    ASSERT_TRUE(f) << f.error();
    framework = *f;
    ASSERT_TRUE(poll_until([&] { return tasks_in_state(*framework, "TASK_RUNNING") == 1; },
                           deadline_in(DEFAULT_TIMEOUT)));
    // The shell's child carries its command line until it execs sleep: wait
    // for the one process that stays.
    ASSERT_TRUE(poll_until([&] { return (task_pids = task_processes(marker, *framework)).size() == 1; },
                           deadline_in(DEFAULT_TIMEOUT)))
        << task_pids.size() << " processes carry the task's marker";
    cluster.slave(0)->kill(SIGSTOP);
    ASSERT_TRUE(poll_until([&] { return tasks_in_state(*framework, lost_state) == 1; }, deadline_in(DEFAULT_TIMEOUT)))
        << "the framework never heard " << lost_state;
    cluster.slave(0)->kill(SIGCONT);
  }
};

TEST(SlavePartition, TasksOfOtherFrameworksAreKilledWhenTheSlaveReturns) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Partitioned p;
  ASSERT_NO_FATAL_FAILURE(p.run({}, "TASK_LOST"));
  const std::string fid = framework_id_of(*p.framework);
  // Back within its ping timeout (2 s, from the master), not 75 s.
  ASSERT_TRUE(poll_until([&] { return only_active_slave_id(p.cluster) == p.slave_id; }, deadline_in(15s)))
      << "the slave never re-registered";
  EXPECT_TRUE(poll_until([&] { return task_processes(p.marker, *p.framework).empty(); }, deadline_in(DEFAULT_TIMEOUT)))
      << "the lost task still runs on the slave";
  EXPECT_TRUE(poll_until([&] { return used_cpus(p.cluster, p.slave_id) == 0; }, deadline_in(DEFAULT_TIMEOUT)))
      << "the slave's resources are still held";
  EXPECT_EQ(running_tasks_on(p.cluster, p.slave_id), 0U);
  // The framework ended when its only task was lost: it is completed, never revived.
  ASSERT_TRUE(p.framework->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_TRUE(poll_until([&] { return contains(framework_ids(p.cluster, "completed_frameworks"), fid); },
                         deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_FALSE(contains(framework_ids(p.cluster, "frameworks"), fid));
  EXPECT_EQ(tasks_in_state(*p.framework, "TASK_RUNNING"), 1U);
}

TEST(SlavePartition, PartitionAwareTasksComeBackRunning) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Partitioned p;
  ASSERT_NO_FATAL_FAILURE(p.run({"--partition_aware"}, "TASK_UNREACHABLE"));
  ASSERT_TRUE(poll_until(
      [&] {
        for (const auto& [task, states] : updates_with_reasons(*p.framework)) {
          if (contains(states, "TASK_RUNNING REASON_SLAVE_REREGISTERED")) {
            return true;
          }
        }
        return false;
      },
      deadline_in(15s)))
      << "the framework never heard its task run again";
  EXPECT_EQ(task_processes(p.marker, *p.framework), p.task_pids) << "the task was restarted or killed";
  EXPECT_EQ(running_tasks_on(p.cluster, p.slave_id), 1U);
  EXPECT_EQ(tasks_in_state(*p.framework, "TASK_LOST"), 0U);
  EXPECT_TRUE(poll_until([&] { return used_cpus(p.cluster, p.slave_id) == 0.5; }, deadline_in(DEFAULT_TIMEOUT)));
}

TEST(SlavePartition, TornDownFrameworkNeverComesBack) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master({"--registry=leveldb"}));
  ASSERT_TRUE(cluster.start_slave());
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  const std::string slave_id = only_slave_id(cluster);
  const std::string marker = unique_marker();
  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=1", "--checkpoint",
                     "--command=sleep 1000; echo " + marker, "--task_resources=cpus:0.5;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  ASSERT_TRUE(poll_until([&] { return tasks_in_state(**framework, "TASK_RUNNING") == 1; }, deadline_in(DEFAULT_TIMEOUT)));
  const std::string fid = framework_id_of(**framework);
  ASSERT_FALSE(fid.empty());

  // The slave dies; the framework goes away (failover timeout 0: torn down at
  // once) while the slave cannot hear of it; then the master fails over too.
  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(5s)));
  (*framework)->kill(SIGKILL);
  ASSERT_TRUE((*framework)->wait_exit(deadline_in(5s)));
  ASSERT_TRUE(poll_until([&] { return contains(framework_ids(cluster, "completed_frameworks"), fid); },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "the master never tore the framework down";
  // The removal is written to the registry after the state shows it: fail
  // the master over only once it is there.
  ASSERT_TRUE(poll_until(
      [&] {
        return cluster.master()->log().find("Recorded the removal of framework " + fid + " in the registry") !=
               std::string::npos;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the master never recorded the removal in the registry";
  cluster.master()->kill(SIGKILL);
  ASSERT_TRUE(cluster.master()->wait_exit(deadline_in(5s)));
  Try<Process*> master = cluster.restart_master("master-2", {"--registry=leveldb"});
  ASSERT_TRUE(master) << master.error();
  ASSERT_EQ(processes_with_marker(marker).size(), 1U) << "the checkpointed task should outlive its slave";

  Try<Process*> restarted = cluster.restart_slave(0, "slave0-restarted");
  ASSERT_TRUE(restarted) << restarted.error();
  ASSERT_TRUE(poll_until([&] { return only_active_slave_id(cluster) == slave_id; }, deadline_in(DEFAULT_TIMEOUT)))
      << "the slave never re-registered";
  EXPECT_TRUE(poll_until([&] { return processes_with_marker(marker).empty(); }, deadline_in(DEFAULT_TIMEOUT)))
      << "the torn-down framework's task still runs";
  EXPECT_FALSE(contains(framework_ids(cluster, "frameworks"), fid)) << "the torn-down framework came back";
  EXPECT_TRUE(poll_until([&] { return used_cpus(cluster, slave_id) == 0; }, deadline_in(DEFAULT_TIMEOUT)));
}

}  // namespace
}  // namespace stoa::tests
