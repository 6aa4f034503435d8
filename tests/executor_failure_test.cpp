// An executor that dies under its task: the framework gets TASK_FAILED naming
// the executor, nothing of the task survives, and the slave archives the
// executor under completed_executors. And what keeps the command executor
// alive under a task that takes every pid of its container: it starts no
// thread once the task runs.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <dirent.h>

#include <algorithm>
#include <regex>
#include <sstream>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

// argv[0] of `pid`.
std::string program_of(pid_t pid) {
  std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline.substr(0, cmdline.find('\0'));
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The executors listed by /slave(1)/state: ids under frameworks[].executors
// (`completed` false) or frameworks[].completed_executors (`completed` true),
// active and completed frameworks alike.
std::vector<std::string> slave_executors(const picojson::value& state, bool completed) {
  std::vector<std::string> out;
  for (const char* list : {"frameworks", "completed_frameworks"}) {
    for (const auto& fw : json_array(json_at(state, list))) {
      for (const auto& e : json_array(json_at(fw, completed ? "completed_executors" : "executors"))) {
        out.push_back(json_string(json_at(e, "id")));
      }
    }
  }
  return out;
}

TEST(ClusterExecutorFailure, KilledExecutorFailsItsTaskAndLeavesNothingBehind) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();

  // The shell carries the marker in its command line, the sleep in its environment.
  const std::string marker = unique_marker();
  Try<Process*> execute =
      cluster.start("stoa-execute", "execute",
                    {"--master=" + cluster.master_address(), "--name=orphan",
                     "--command=export STOA_TEST_MARKER=" + marker + "; sleep 1000; : " + marker,
                     "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(execute) << execute.error();
  auto running = (*execute)->wait_for_line(std::regex(R"(Received status update TASK_RUNNING for task (\S+))"),
                                           deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(running) << "no TASK_RUNNING (" << (*execute)->describe_exit() << ")";
  const std::string task_id = (*running)[1];

  // The task's shell is a child of stoa-executor; so is nothing else with the marker.
  pid_t executor = 0;
  pid_t shell = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        for (pid_t p : processes_with_marker(marker)) {
          pid_t parent = parent_of(p);
          if (parent > 0 && ends_with(program_of(parent), "/stoa-executor")) {
            shell = p;
            executor = parent;
            return true;
          }
        }
        return false;
      },
      deadline_in(5s)))
      << "no process with " << marker << " whose parent is stoa-executor";
  // It is this task's executor (the command executor is named after its task).
  EXPECT_NE(read_file("/proc/" + std::to_string(executor) + "/environ").find("STOA_EXECUTOR_ID=" + task_id),
            std::string::npos)
      << "executor pid " << executor << " is not the executor of task " << task_id;
  // The sleep carries the marker once the shell has started it.
  size_t seen = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        seen = processes_with_marker(marker).size();
        return seen >= 2;
      },
      deadline_in(5s)))
      << "expected the shell and its sleep, saw " << seen << " processes with " << marker;

  ASSERT_EQ(::kill(executor, SIGKILL), 0) << "kill(" << executor << ", SIGKILL)";

  // The framework sees TASK_FAILED with a message naming the executor, and exits non-zero.
  std::optional<int> code = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "stoa-execute did not exit after its executor was killed";
  EXPECT_NE(*code, 0);
  std::vector<std::string> failed =
      (*execute)->lines_matching(std::regex(R"(Received status update TASK_FAILED for task )" + regex_escape(task_id)));
  ASSERT_EQ(failed.size(), 1U) << "expected one TASK_FAILED for " << task_id;
  EXPECT_TRUE(std::regex_search(failed.front(), std::regex("[Ee]xecutor"))) << failed.front();
  EXPECT_TRUE((*execute)->lines_matching(std::regex(R"(\bTASK_(FINISHED|KILLED)\b)")).empty());

  // Nothing with the marker survives: neither the shell nor its sleep.
  std::vector<pid_t> left;
  bool gone = poll_until(
      [&] {
        left = processes_with_marker(marker);
        return left.empty();
      },
      deadline_in(5s));
  std::string survivors;
  for (pid_t p : left) {
    survivors += " " + std::to_string(p) + " (" + program_of(p) + ", parent " + std::to_string(parent_of(p)) + ")";
  }
  EXPECT_TRUE(gone) << left.size() << " processes of the task survived its executor (the shell was " << shell
                    << "):" << survivors;

  // The slave archives the executor once the terminal update is acknowledged.
  Try<picojson::value> slave_state = Error("not asked yet");
  bool archived = poll_until(
      [&] {
        slave_state = http_get_json("127.0.0.1", cluster.slave_port(0), "/slave(1)/state");
        if (slave_state.is_error()) {
          return false;
        }
        std::vector<std::string> done = slave_executors(*slave_state, true);
        return std::find(done.begin(), done.end(), task_id) != done.end();
      },
      deadline_in(5s));
  EXPECT_TRUE(archived) << "executor " << task_id << " is not under completed_executors in /slave(1)/state: "
                        << (slave_state ? slave_state->serialize() : slave_state.error());
  if (slave_state) {
    std::vector<std::string> active = slave_executors(*slave_state, false);
    EXPECT_EQ(std::find(active.begin(), active.end(), task_id), active.end())
        << "executor " << task_id << " is still listed as running";
  }

  // The master has the task as TASK_FAILED too.
  bool master_failed = poll_until(
      [&] {
        Try<picojson::value> s = cluster.state();
        if (s.is_error()) {
          return false;
        }
        for (const char* list : {"frameworks", "completed_frameworks"}) {
          for (const auto& fw : json_array(json_at(*s, list))) {
            for (const char* tasks : {"tasks", "completed_tasks"}) {
              for (const auto& t : json_array(json_at(fw, tasks))) {
                if (json_string(json_at(t, "id")) == task_id) {
                  return json_string(json_at(t, "state")) == "TASK_FAILED";
                }
              }
            }
          }
        }
        return false;
      },
      deadline_in(5s));
  EXPECT_TRUE(master_failed) << "/master/state does not show task " << task_id << " as TASK_FAILED";
}

// The thread ids of `pid` (its /proc/<pid>/task entries).
std::vector<pid_t> threads_of(pid_t pid) {
  std::vector<pid_t> out;
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
  if (dir == nullptr) {
    return out;
  }
  while (struct dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') {
      out.push_back(static_cast<pid_t>(std::stol(e->d_name)));
    }
  }
  ::closedir(dir);
  return out;
}

// A task may fill its container's pids limit at once (a fork bomb does
// within a millisecond); a thread the executor starts after the launch then
// fails with EAGAIN, and the executor can no longer see its task end or be
// shut down. So every thread of the command executor is older than its task:
// the kernel hands out pids in rising order, so each thread id is below the
// task's pid unless the pid counter wrapped meanwhile (then the run says
// nothing and is repeated).
TEST(ClusterExecutorFailure, CommandExecutorStartsNoThreadOnceItsTaskRuns) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string marker = unique_marker();
    Try<Process*> execute = cluster.start(
        "stoa-execute", "execute-" + std::to_string(attempt),
        {"--master=" + cluster.master_address(), "--name=threads-" + std::to_string(attempt),
         "--command=export STOA_TEST_MARKER=" + marker + "; exec sleep 1000", "--resources=cpus:0.1;mem:32"});
    ASSERT_TRUE(execute) << execute.error();
    ASSERT_TRUE((*execute)->wait_for_line(std::regex("Received status update TASK_RUNNING"), deadline_in(DEFAULT_TIMEOUT)))
        << "no TASK_RUNNING (" << (*execute)->describe_exit() << ")";
    pid_t executor = 0;
    pid_t task = 0;
    ASSERT_TRUE(poll_until(
        [&] {
          for (pid_t p : processes_with_marker(marker)) {
            pid_t parent = parent_of(p);
            if (parent > 0 && ends_with(program_of(parent), "/stoa-executor") &&
                ends_with(program_of(p), "sleep")) {
              task = p;
              executor = parent;
              return true;
            }
          }
          return false;
        },
        deadline_in(5s)))
        << "no sleep with " << marker << " whose parent is stoa-executor";
    // The executor has had the time to start whatever it starts after the
    // launch (TASK_RUNNING is sent after the launch, and its acknowledgement
    // has come back).
    std::vector<pid_t> threads = threads_of(executor);
    ASSERT_FALSE(threads.empty()) << "no threads listed for executor " << executor;
    const bool wrapped = task < executor || *std::min_element(threads.begin(), threads.end()) < executor;
    (*execute)->kill(SIGTERM);
    ASSERT_TRUE((*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
    if (wrapped) {
      continue;  // the pid counter wrapped: the order says nothing
    }
    for (pid_t t : threads) {
      EXPECT_LT(t, task) << "thread " << t << " of executor " << executor << " started after its task (pid " << task
                         << ")";
    }
    return;
  }
  GTEST_SKIP() << "the pid counter wrapped between the executor and its task three times";
}

}  // namespace
}  // namespace stoa::tests
