// Tasks end to end: master + slaves + a framework, real commands in sandboxes.

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

// Every task, active or completed, of every framework (active or completed) in `state`.
struct StateTask {
  std::string id;
  std::string state;
  std::string slave_id;
  bool completed = false;
};

std::vector<StateTask> all_tasks(const picojson::value& state) {
  std::vector<StateTask> out;
  for (const char* list : {"frameworks", "completed_frameworks"}) {
    for (const auto& fw : json_array(json_at(state, list))) {
      for (const char* tasks : {"tasks", "completed_tasks"}) {
        for (const auto& t : json_array(json_at(fw, tasks))) {
          out.push_back({json_string(json_at(t, "id")), json_string(json_at(t, "state")),
                         json_string(json_at(t, "slave_id")), std::string(tasks) == "completed_tasks"});
        }
      }
    }
  }
  return out;
}

// Directories named `name` below `root` (symlinks not followed).
std::vector<std::string> dirs_named(const std::string& root, const std::string& name) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() == name && it->is_directory(ec) && !it->is_symlink(ec)) {
      found.push_back(it->path().string());
    }
  }
  return found;
}

TEST(ClusterTasks, TwentyTasksFinishOnATwoSlaveCluster) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(2);
  ASSERT_TRUE(started) << started.error();

  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=20", "--command=true",
                     "--task_resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  std::optional<int> code = (*framework)->wait_exit(deadline_in(15s));
  ASSERT_TRUE(code) << "the framework did not finish 20 tasks in 15 s";
  EXPECT_EQ(*code, 0) << (*framework)->describe_exit();

  std::set<std::string> finished;
  for (const std::string& line : (*framework)->lines_matching(std::regex(R"(\bTASK_FINISHED (\S+)\s*$)"))) {
    std::smatch m;
    std::regex_search(line, m, std::regex(R"(\bTASK_FINISHED (\S+)\s*$)"));
    finished.insert(m[1]);
  }
  EXPECT_EQ(finished.size(), 20U) << "distinct 'TASK_FINISHED <task_id>' lines";
  EXPECT_TRUE((*framework)->lines_matching(std::regex(R"(\bTASK_(FAILED|LOST|ERROR|KILLED|DROPPED)\b)")).empty());

  // The master moves each task to completed_tasks once its terminal update is acknowledged.
  std::vector<StateTask> tasks;
  bool all_completed = poll_until(
      [&] {
        Try<picojson::value> state = cluster.state();
        if (state.is_error()) {
          return false;
        }
        tasks = all_tasks(*state);
        size_t done = 0;
        for (const StateTask& t : tasks) {
          done += (t.completed && t.state == "TASK_FINISHED" && finished.contains(t.id)) ? 1 : 0;
        }
        return done == 20;
      },
      deadline_in(5s));
  EXPECT_TRUE(all_completed) << "/master/state does not list the 20 tasks as completed TASK_FINISHED; it lists "
                             << tasks.size() << " tasks";
  std::set<std::string> slaves_used;
  for (const StateTask& t : tasks) {
    slaves_used.insert(t.slave_id);
  }
  RecordProperty("slaves_used", static_cast<int>(slaves_used.size()));

  // Each task had a sandbox with the Mesos layout.
  size_t sandboxes = 0;
  for (size_t i = 0; i < 2; ++i) {
    for (const std::string& runs : dirs_named(cluster.slave_work_dir(i) + "/slaves", "runs")) {
      for (const auto& entry : std::filesystem::directory_iterator(runs)) {
        sandboxes += entry.is_directory() && !entry.is_symlink() ? 1 : 0;
      }
    }
  }
  EXPECT_EQ(sandboxes, 20U) << "run directories under <work_dir>/slaves/*/frameworks/*/executors/*/runs";
}

TEST(ClusterTasks, FailingCommandGivesTaskFailedWithExitCode) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();

  Try<Process*> execute = cluster.start("stoa-execute", "execute",
                                        {"--master=" + cluster.master_address(), "--name=fails",
                                         "--command=exit 3", "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(execute) << execute.error();
  std::optional<int> code = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "stoa-execute did not exit";
  EXPECT_NE(*code, 0) << "stoa-execute must exit non-zero unless TASK_FINISHED";

  EXPECT_FALSE((*execute)->lines_matching(std::regex(R"(\bTASK_FAILED\b)")).empty()) << "no TASK_FAILED line";
  EXPECT_TRUE((*execute)->lines_matching(std::regex(R"(\bTASK_FINISHED\b)")).empty());
  // The status message carries the exit code ("Command exited with status 3").
  EXPECT_FALSE((*execute)->lines_matching(std::regex(R"(status 3\b)")).empty())
      << "the output does not show the task's exit code (expected \"Command exited with status 3\")";
}

TEST(ClusterTasks, KillLeavesNoProcessOfTheTaskTree) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();

  // Every process of the tree carries the marker in its environment; the shell also in its command line.
  const std::string marker = unique_marker();
  const std::string command = "export STOA_TEST_MARKER=" + marker +
                              "; sh -c 'sleep 1000; true' & sleep 1000; : " + marker;
  Try<Process*> execute =
      cluster.start("stoa-execute", "execute",
                    {"--master=" + cluster.master_address(), "--name=sleeper", "--command=" + command,
                     "--resources=cpus:0.1;mem:32", "--kill_after=2secs"});
  ASSERT_TRUE(execute) << execute.error();

  ASSERT_TRUE((*execute)->wait_for_line(std::regex(R"(\bTASK_RUNNING\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << "no TASK_RUNNING";
  // Outer sh, inner sh and two sleeps (a shell may exec its last command, so at least 3).
  size_t seen = 0;
  EXPECT_TRUE(poll_until(
      [&] {
        seen = std::max(seen, processes_with_marker(marker).size());
        return seen >= 3;
      },
      deadline_in(2s)))
      << "the task tree never showed up (saw " << seen << " processes with " << marker << ")";

  std::optional<int> code = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "stoa-execute did not exit after killing its task";
  EXPECT_NE(*code, 0);
  EXPECT_FALSE((*execute)->lines_matching(std::regex(R"(\bTASK_KILLED\b)")).empty()) << "no TASK_KILLED line";

  std::vector<pid_t> left;
  EXPECT_TRUE(poll_until(
      [&] {
        left = processes_with_marker(marker);
        return left.empty();
      },
      deadline_in(5s)))
      << left.size() << " processes of the killed task are still running";
}

TEST(ClusterTasks, OversizedTaskGetsTaskErrorAndNothingLaunches) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(2);
  ASSERT_TRUE(started) << started.error();

  const std::string marker = unique_marker();
  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=1", "--command=true; : " + marker,
                     "--task_resources=cpus:1000;mem:32", "--launch_without_fit"});
  ASSERT_TRUE(framework) << framework.error();
  ASSERT_TRUE((*framework)->wait_for_line(std::regex(R"(\bTASK_ERROR\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << "no TASK_ERROR for a task of cpus:1000 (" << (*framework)->describe_exit() << ")";
  EXPECT_TRUE((*framework)->lines_matching(std::regex(R"(\bTASK_(RUNNING|STARTING|FINISHED)\b)")).empty());

  // Nothing may launch: no sandbox, no task process, no task in the master, no resources in use.
  // A wrongly sent launch would show up within this window.
  auto launched_something = [&] {
    for (size_t i = 0; i < 2; ++i) {
      if (!dirs_named(cluster.slave_work_dir(i), "executors").empty()) {
        return true;
      }
    }
    // The framework's own command line carries the marker (--command=...):
    // it is no task process, however long it takes to exit.
    for (pid_t p : processes_with_marker(marker)) {
      if (p != (*framework)->pid()) {
        return true;
      }
    }
    return false;
  };
  EXPECT_FALSE(poll_until(launched_something, deadline_in(1s))) << "a sandbox or task process appeared";

  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();
  for (const StateTask& t : all_tasks(*state)) {
    EXPECT_EQ(t.state, "TASK_ERROR") << "task " << t.id << " is in /master/state as " << t.state;
    EXPECT_TRUE(t.completed) << "task " << t.id << " is listed as active";
  }
  for (const auto& s : json_array(json_at(*state, "slaves"))) {
    EXPECT_EQ(json_number(json_at(json_at(s, "used_resources"), "cpus")), 0.0)
        << "slave " << json_string(json_at(s, "id")) << " has resources in use";
  }
}

}  // namespace
}  // namespace stoa::tests
