// Slave durability with real binaries on loopback: a slave killed with -9
// and restarted on the same work dir and port takes back the executors of
// frameworks that checkpoint (same tasks, same processes, same slave id, no
// duplicate update at the framework); an update the dead slave never
// forwarded arrives exactly once; an unreadable or incompatible checkpoint
// stops the slave with the way out; --recover=cleanup kills what it finds.
// (Partitions and torn-down frameworks: partition_test.cpp.)

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "slave/recovery_state.hpp"
#include "tests/cluster.hpp"
#include "tests/task_checks.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// True when the slave's checkpoint holds exactly `count` tasks, each with
// `updates` status updates, every one of them acknowledged. Status updates
// are delivered at least once: one whose acknowledgement had not reached the
// slave is sent again by the restarted slave, so tests that count updates
// wait for this before they stop the slave.
bool all_updates_acknowledged(const std::string& work_dir, size_t count, size_t updates) {
  Try<std::optional<slave::SlaveCheckpoint>> state = slave::read_slave_state(work_dir, false);
  if (state.is_error() || !state->has_value()) {
    return false;
  }
  std::vector<const slave::TaskCheckpoint*> tasks;
  for (const auto& [fid, framework] : (*state)->frameworks) {
    for (const auto& [eid, executor] : framework.executors) {
      for (const auto& [cid, run] : executor.runs) {
        for (const auto& [tid, task] : run.tasks) {
          tasks.push_back(&task);
        }
      }
    }
  }
  return tasks.size() == count && std::all_of(tasks.begin(), tasks.end(), [&](const slave::TaskCheckpoint* t) {
           return t->updates.size() == updates && t->pending().empty();
         });
}

TEST(SlaveRecovery, KilledSlaveComesBackWithItsTasksStillRunning) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const std::string marker = unique_marker();
  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=5", "--checkpoint",
                     "--command=sleep 1000; echo " + marker, "--task_resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  ASSERT_TRUE(poll_until([&] { return tasks_in_state(**framework, "TASK_RUNNING") == 5; }, deadline_in(DEFAULT_TIMEOUT)))
      << "5 tasks never ran";
  std::vector<pid_t> before = await_task_processes(marker, **framework, 5);
  ASSERT_EQ(before.size(), 5U);
  ASSERT_TRUE(poll_until([&] { return all_updates_acknowledged(cluster.slave_work_dir(0), 5, 2); },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "the slave never checkpointed the acknowledgements of TASK_STARTING and TASK_RUNNING";
  const std::string slave_id = only_slave_id(cluster);
  ASSERT_FALSE(slave_id.empty());

  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(5s)));
  EXPECT_EQ(task_processes(marker, **framework), before) << "the tasks died with their slave";

  Try<Process*> restarted = cluster.restart_slave(0, "slave0-restarted");
  ASSERT_TRUE(restarted) << restarted.error();
  ASSERT_TRUE((*restarted)->wait_for_line(std::regex("Recovery finished"), deadline_in(DEFAULT_TIMEOUT)))
      << "the restarted slave never finished its recovery";
  ASSERT_TRUE(poll_until([&] { return running_tasks_on(cluster, slave_id) == 5; }, deadline_in(DEFAULT_TIMEOUT)))
      << "the master never saw the 5 tasks running on " << slave_id << " again";
  EXPECT_EQ(only_slave_id(cluster), slave_id);
  EXPECT_EQ(task_processes(marker, **framework), before) << "the tasks were restarted";
  EXPECT_EQ((*restarted)->lines_matching(std::regex("re-registered with 1 tasks")).size(), 5U);
  // Exactly one TASK_RUNNING per task: nothing was re-sent to the framework twice.
  for (const auto& [task, states] : updates_by_task(**framework)) {
    EXPECT_EQ(std::count(states.begin(), states.end(), "TASK_RUNNING"), 1) << task;
    for (const std::string& state : states) {
      EXPECT_TRUE(state == "TASK_STARTING" || state == "TASK_RUNNING") << task << " went " << state;
    }
  }
}

TEST(SlaveRecovery, StoppedSlaveLeavesOnlyCheckpointedTasksRunning) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const std::string kept = unique_marker();
  const std::string killed = unique_marker();
  Try<Process*> checkpointing = cluster.start("stoa-example-framework", "checkpointing",
                                              {"--master=" + cluster.master_address(), "--tasks=1", "--checkpoint",
                                               "--command=sleep 1000; echo " + kept});
  ASSERT_TRUE(checkpointing) << checkpointing.error();
  Try<Process*> other = cluster.start("stoa-example-framework", "other",
                                      {"--master=" + cluster.master_address(), "--tasks=1",
                                       "--command=sleep 1000; echo " + killed});
  ASSERT_TRUE(other) << other.error();
  ASSERT_TRUE(poll_until(
      [&] { return tasks_in_state(**checkpointing, "TASK_RUNNING") == 1 && tasks_in_state(**other, "TASK_RUNNING") == 1; },
      deadline_in(DEFAULT_TIMEOUT)));
  std::vector<pid_t> before = await_task_processes(kept, **checkpointing, 1);
  ASSERT_EQ(before.size(), 1U);

  cluster.slave(0)->kill(SIGTERM);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(DEFAULT_TIMEOUT))) << "the slave did not stop";
  EXPECT_TRUE(poll_until([&] { return task_processes(killed, **other).empty(); }, deadline_in(DEFAULT_TIMEOUT)))
      << "the task of the framework that does not checkpoint survived its slave";
  EXPECT_EQ(task_processes(kept, **checkpointing), before);

  Try<Process*> restarted = cluster.restart_slave(0, "slave0-restarted");
  ASSERT_TRUE(restarted) << restarted.error();
  ASSERT_TRUE((*restarted)->wait_for_line(std::regex("Recovery finished"), deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_EQ(task_processes(kept, **checkpointing), before);
}

TEST(SlaveRecovery, UpdateTheDeadSlaveNeverForwardedArrivesExactlyOnce) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const std::string marker = unique_marker();
  const std::string go = cluster.dir() + "/go";
  Try<Process*> framework = cluster.start(
      "stoa-example-framework", "framework",
      {"--master=" + cluster.master_address(), "--tasks=1", "--checkpoint",
       "--command=while [ ! -e " + go + " ]; do sleep 0.05; done; echo " + marker,
       "--task_resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  ASSERT_TRUE(poll_until([&] { return tasks_in_state(**framework, "TASK_RUNNING") == 1; }, deadline_in(DEFAULT_TIMEOUT)));
  ASSERT_EQ(await_task_processes(marker, **framework, 1).size(), 1U);
  // The only update left to deliver must be TASK_FINISHED.
  ASSERT_TRUE(poll_until([&] { return all_updates_acknowledged(cluster.slave_work_dir(0), 1, 2); },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "the slave never checkpointed the acknowledgements of TASK_STARTING and TASK_RUNNING";

  // The slave stops reading; the task ends and its executor sends
  // TASK_FINISHED into the stopped slave's socket; the slave dies with it
  // unread.
  cluster.slave(0)->kill(SIGSTOP);
  { std::ofstream(go) << "go\n"; }
  ASSERT_TRUE(poll_until([&] { return task_processes(marker, **framework).empty(); }, deadline_in(DEFAULT_TIMEOUT)))
      << "the task never ended";
  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(5s)));
  EXPECT_EQ(tasks_in_state(**framework, "TASK_FINISHED"), 0U);

  Try<Process*> restarted = cluster.restart_slave(0, "slave0-restarted");
  ASSERT_TRUE(restarted) << restarted.error();
  ASSERT_TRUE((*framework)->wait_exit(deadline_in(DEFAULT_TIMEOUT)))
      << "the framework never learned that its task finished";
  for (const auto& [task, states] : updates_by_task(**framework)) {
    EXPECT_EQ(std::count(states.begin(), states.end(), "TASK_FINISHED"), 1) << task;
    EXPECT_EQ(std::count(states.begin(), states.end(), "TASK_RUNNING"), 1) << task;
  }
}

// A slave with a running checkpointed task, killed; returns the task's marker.
std::string kill_slave_with_a_task(Cluster& cluster, Process** framework) {
  const std::string marker = unique_marker();
  Try<Process*> f = cluster.start("stoa-example-framework", "framework",
                                  {"--master=" + cluster.master_address(), "--tasks=1", "--checkpoint",
                                   "--command=sleep 1000; echo " + marker, "--task_resources=cpus:0.1;mem:32"});
  EXPECT_TRUE(f) << f.error();
  if (!f) {
    return "";
  }
  *framework = *f;
  EXPECT_TRUE(poll_until([&] { return tasks_in_state(**f, "TASK_RUNNING") == 1; }, deadline_in(DEFAULT_TIMEOUT)));
  cluster.slave(0)->kill(SIGKILL);
  EXPECT_TRUE(cluster.slave(0)->wait_exit(deadline_in(5s)));
  return marker;
}

TEST(SlaveRecovery, CorruptCheckpointStopsTheSlaveWithTheWayOut) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const std::string old_id = only_slave_id(cluster);
  Process* framework = nullptr;
  const std::string marker = kill_slave_with_a_task(cluster, &framework);
  ASSERT_FALSE(marker.empty());
  const std::string meta = cluster.slave_work_dir(0) + "/meta/slaves";
  std::vector<std::string> infos = find_files_named(meta, "task.info");
  ASSERT_EQ(infos.size(), 1U);
  { std::ofstream(infos[0], std::ios::trunc) << "\x0a\xff\xff garbage"; }

  Try<Process*> restarted = cluster.restart_slave(0, "slave0-corrupt");
  ASSERT_FALSE(restarted) << "a slave started on a corrupt checkpoint";
  std::string log = read_file(cluster.dir() + "/slave0-corrupt.log");
  EXPECT_NE(log.find("task.info"), std::string::npos) << log;
  EXPECT_NE(log.find(meta + "/latest"), std::string::npos) << log;

  // The documented way out: forget the checkpoint, start as a new slave.
  fs::remove(meta + "/latest");
  Try<Process*> fresh = cluster.restart_slave(0, "slave0-fresh");
  ASSERT_TRUE(fresh) << fresh.error();
  ASSERT_TRUE(poll_until(
      [&] {
        std::string id = only_active_slave_id(cluster);
        return !id.empty() && id != old_id;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the slave never registered afresh";
}

TEST(SlaveRecovery, ChangedResourcesStopTheSlaveWithTheWayOut) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  // The master answers before the slave has written who it is: wait for that.
  ASSERT_TRUE(poll_until([&] { return fs::exists(cluster.slave_work_dir(0) + "/meta/slaves/latest/slave.info"); },
                         deadline_in(DEFAULT_TIMEOUT)));
  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(5s)));
  Try<Process*> restarted = cluster.restart_slave(0, "slave0-changed", {"--resources=cpus:3;mem:1024"});
  ASSERT_FALSE(restarted) << "a slave recovered with other resources";
  std::string log = read_file(cluster.dir() + "/slave0-changed.log");
  EXPECT_NE(log.find("Incompatible slave info"), std::string::npos) << log;
  EXPECT_NE(log.find("meta/slaves/latest"), std::string::npos) << log;
}

TEST(SlaveRecovery, RecoverCleanupKillsWhatItFindsAndRegistersAfresh) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const std::string old_id = only_slave_id(cluster);
  Process* framework = nullptr;
  const std::string marker = kill_slave_with_a_task(cluster, &framework);
  ASSERT_FALSE(marker.empty());
  ASSERT_EQ(await_task_processes(marker, *framework, 1).size(), 1U);
  Try<Process*> restarted = cluster.restart_slave(0, "slave0-cleanup", {"--recover=cleanup"});
  ASSERT_TRUE(restarted) << restarted.error();
  EXPECT_TRUE(poll_until([&] { return task_processes(marker, *framework).empty(); }, deadline_in(DEFAULT_TIMEOUT)))
      << "--recover=cleanup left the task running";
  EXPECT_TRUE(poll_until(
      [&] {
        std::string id = only_active_slave_id(cluster);
        return !id.empty() && id != old_id;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the slave did not register as a new one";
}

}  // namespace
}  // namespace stoa::tests
