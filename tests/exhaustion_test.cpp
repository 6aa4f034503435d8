// A slave whose machine runs out of pids: a task under POSIX isolation (no
// pids limit of its own) that takes every pid it can. The machine is stood
// in for by a pids cgroup of the test's own that holds the slave and all it
// starts (never the host's limit). While the pids are gone, what needs a new
// thread or process fails with a clear error; the slave itself keeps
// working: the task can be killed, and once its pids are back the next task
// runs. Needs root and the cgroup v1 pids controller.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "common/strings.hpp"
#include "tests/cgroups_skip.hpp"
#include "tests/cluster.hpp"
#include "tests/cluster_internal.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

uint64_t read_number(const std::string& path, const std::string& key = "") {
  std::ifstream in(path);
  std::string word;
  uint64_t n = 0;
  if (!key.empty()) {
    while (in >> word >> n) {
      if (word == key) {
        return n;
      }
    }
    return 0;
  }
  return (in >> n) ? n : 0;
}

// The pids cgroup standing in for the machine, removed with whatever is
// left in it.
class MachineCgroup {
 public:
  explicit MachineCgroup(std::string dir) : dir_(std::move(dir)) { fs::create_directory(dir_, ec_); }
  ~MachineCgroup() {
    std::ofstream(dir_ + "/pids.max") << "max" << std::flush;
    poll_until(
        [&] {
          std::ifstream procs(dir_ + "/cgroup.procs");
          bool empty = true;
          for (pid_t pid; procs >> pid; empty = false) {
            ::kill(pid, SIGKILL);
          }
          return empty;
        },
        deadline_in(10s));
    fs::remove(dir_, ec_);
  }
  bool ok() const { return !ec_; }
  const std::string& dir() const { return dir_; }
  bool add(pid_t pid) { return static_cast<bool>(std::ofstream(dir_ + "/cgroup.procs") << pid << std::flush); }
  bool limit(uint64_t max) {
    max_ = max;
    return static_cast<bool>(std::ofstream(dir_ + "/pids.max") << max << std::flush);
  }
  uint64_t current() const { return read_number(dir_ + "/pids.current"); }
  // Pids left under the limit (a zombie holds its pid until it is reaped).
  uint64_t room() const {
    uint64_t now = current();
    return now < max_ ? max_ - now : 0;
  }
  uint64_t refused() const { return read_number(dir_ + "/pids.events", "max"); }
  // "<pid> <comm> (<threads> threads)" for each process in the cgroup.
  std::string describe() const {
    std::string out;
    std::ifstream procs(dir_ + "/cgroup.procs");
    for (pid_t pid; procs >> pid;) {
      std::string base = "/proc/" + std::to_string(pid);
      std::string comm = read_file(base + "/comm");
      size_t threads = 0;
      std::error_code ec;
      for (auto it = fs::directory_iterator(base + "/task", ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        ++threads;
      }
      out += std::to_string(pid) + " " + std::string(trim(comm)) + " (" + std::to_string(threads) + " threads); ";
    }
    return out;
  }

 private:
  std::string dir_;
  std::error_code ec_;
  uint64_t max_ = 0;
};

TEST(PidExhaustion, TheSlaveKeepsWorkingWhileATaskHoldsEveryPid) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  STOA_REQUIRE_CGROUPS();
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  ASSERT_TRUE(cluster.start_slave("cpus:2;mem:1024;disk:1000",
                                  {"--isolation=posix/cpu,posix/mem", "--usage_report_interval=200ms"}));
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  MachineCgroup machine(CGROUPS_HIERARCHY + "/pids/stoa_test_" + unique_marker());
  ASSERT_TRUE(machine.ok()) << "cannot create " << machine.dir();
  ASSERT_TRUE(machine.add(cluster.slave(0)->pid()));
  // Room for the executor and a few more; the filler takes the rest.
  ASSERT_TRUE(machine.limit(machine.current() + 40));

  const std::string marker = unique_marker();
  Try<Process*> filler = cluster.start(
      "stoa-execute", "filler",
      {"--master=" + cluster.master_address(), "--name=filler",
       "--command=export STOA_TEST_MARKER=" + marker +
           "; exec perl -e 'for (;;) { my $p = fork; if (!defined $p) { sleep 1; next } if (!$p) { exec q(sleep), 1000 } }'",
       "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(filler) << filler.error();
  ASSERT_TRUE((*filler)->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DEFAULT_TIMEOUT))) << (*filler)->log();
  ASSERT_TRUE(poll_until([&] { return machine.refused() > 0; }, deadline_in(20s)))
      << "the filler never reached the limit (" << machine.current() << " pids)";
  // Full: the slave's usage reports (every 200 ms) and a statistics request
  // each want a thread now.
  const uint64_t refused_before = machine.refused();
  ASSERT_TRUE(poll_until([&] { return machine.refused() > refused_before + 3; }, deadline_in(10s)));
  Try<picojson::value> stats = http_get_json("127.0.0.1", cluster.slave_port(0), "/monitor/statistics");
  (void)stats;  // an answer or an error: what matters is what follows
  // The slave's usage sampling met the full table (it says why it skipped).
  EXPECT_TRUE(poll_until(
      [&] { return !cluster.slave(0)->lines_matching(std::regex("cannot start a thread: Resource temporarily")).empty(); },
      deadline_in(10s)))
      << cluster.slave(0)->log();
  // The task can be killed, and the framework hears of it.
  (*filler)->kill(SIGTERM);
  ASSERT_TRUE((*filler)->wait_for_line(std::regex("TASK_KILLED"), deadline_in(DEFAULT_TIMEOUT))) << (*filler)->log()
                                                                                                 << cluster.slave(0)->log();
  EXPECT_TRUE((*filler)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  std::vector<pid_t> left;
  EXPECT_TRUE(poll_until([&] { return (left = processes_with_marker(marker)).empty(); }, deadline_in(20s)))
      << left.size() << " processes of the filler survived";
  // The pids are back once the killed processes are reaped too: a zombie
  // holds its pid, and the filler's forks, orphaned when it died, are this
  // test's (the cluster's subreaper) to reap. Then the slave runs the next
  // task.
  EXPECT_TRUE(poll_until(
      [&] {
        internal::reap_adopted_zombies();
        return machine.room() >= 20;
      },
      deadline_in(20s)))
      << "only " << machine.room() << " pids free under the limit (" << machine.current()
      << " used): " << machine.describe();
  Try<Process*> next = cluster.start("stoa-execute", "next",
                                     {"--master=" + cluster.master_address(), "--name=next", "--command=true",
                                      "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(next) << next.error();
  EXPECT_TRUE((*next)->wait_for_line(std::regex("TASK_FINISHED"), deadline_in(DEFAULT_TIMEOUT)))
      << (*next)->log() << cluster.slave(0)->log();
  Try<picojson::value> after = http_get_json("127.0.0.1", cluster.slave_port(0), "/monitor/statistics");
  EXPECT_TRUE(after) << after.error();
  // And it stops when asked: the threads it could not start are not waited
  // for (CAF's counts were taken back).
  cluster.slave(0)->kill(SIGTERM);
  std::optional<int> code = cluster.slave(0)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "the slave did not stop within " << DEFAULT_TIMEOUT.count() << " s of SIGTERM";
  EXPECT_EQ(*code, 0) << cluster.slave(0)->log();
}

}  // namespace
}  // namespace stoa::tests
