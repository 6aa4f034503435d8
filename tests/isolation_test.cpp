// cgroups isolation end to end (docs/isolation.md): a slave with
// --isolation=cgroups/cpu,cgroups/mem,cgroups/pids,disk/du runs real tasks;
// the memory limit, the cpu shares, the pids limit, the disk quota,
// /monitor/statistics, recovery of cgroups and --switch_user are checked on
// the machine's cgroups. Tests that need root and cgroups v1 skip otherwise.

#include <gtest/gtest.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "common/strings.hpp"
#include "tests/cgroups_skip.hpp"
#include "tests/cluster.hpp"
#include "tests/task_checks.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::string& HIERARCHY = CGROUPS_HIERARCHY;
const std::vector<std::string>& CONTROLLERS = CGROUPS_CONTROLLERS;

uint64_t read_u64(const std::string& path) {
  try {
    return std::stoull(read_file(path));
  } catch (const std::exception&) {
    return 0;
  }
}

// The containers' cgroups of one controller under `root`.
std::vector<std::string> container_cgroups(const std::string& controller, const std::string& root) {
  std::vector<std::string> dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(HIERARCHY + "/" + controller + "/" + root, ec)) {
    if (entry.is_directory()) {
      dirs.push_back(entry.path().string());
    }
  }
  return dirs;
}

// A --cgroups_root of its own per test (tests run in parallel), and its
// removal whatever the test left: every process in it killed, every
// cgroup removed.
class Isolation : public ::testing::Test {
 protected:
  void SetUp() override { root_ = "stoa_test_" + unique_marker(); }
  void TearDown() override {
    for (const std::string& dir : container_cgroups("freezer", root_)) {
      std::ofstream(dir + "/freezer.state") << "THAWED";
      poll_until(
          [&] {
            std::istringstream pids(read_file(dir + "/cgroup.procs"));
            bool empty = true;
            for (pid_t pid; pids >> pid; empty = false) {
              ::kill(pid, SIGKILL);
            }
            return empty;
          },
          deadline_in(1s));
    }
    for (const std::string& c : CONTROLLERS) {
      for (const std::string& dir : container_cgroups(c, root_)) {
        ::rmdir(dir.c_str());
      }
      ::rmdir((HIERARCHY + "/" + c + "/" + root_).c_str());
    }
  }

  // A master and one slave with `flags` (cpus:2;mem:1024;disk:1000), active.
  ::testing::AssertionResult start_cluster(Cluster& cluster, const std::vector<std::string>& flags) {
    if (!cluster.start_master()) {
      return ::testing::AssertionFailure() << "the master did not start";
    }
    if (!cluster.start_slave("cpus:2;mem:1024;disk:1000", flags)) {
      return ::testing::AssertionFailure() << "the slave did not start";
    }
    if (!cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT))) {
      return ::testing::AssertionFailure() << "the slave did not become active";
    }
    return ::testing::AssertionSuccess();
  }

  std::vector<std::string> slave_flags(const std::string& isolation = "cgroups/cpu,cgroups/mem,cgroups/pids,disk/du") {
    return {"--isolation=" + isolation, "--cgroups_root=" + root_};
  }

  // Starts stoa-execute with `command` and `resources`; waits for its
  // TASK_RUNNING unless `wait_running` is false.
  Process* execute(Cluster& cluster, const std::string& label, const std::string& command,
                   const std::string& resources, bool wait_running = true, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--master=" + cluster.master_address(), "--name=" + label,
                                     "--command=" + command, "--resources=" + resources};
    args.insert(args.end(), extra.begin(), extra.end());
    Try<Process*> p = cluster.start("stoa-execute", label, args);
    EXPECT_TRUE(p) << p.error();
    if (!p) {
      return nullptr;
    }
    if (wait_running) {
      EXPECT_TRUE((*p)->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DEFAULT_TIMEOUT)))
          << label << " never ran: " << (*p)->log();
    }
    return *p;
  }

  std::string root_;
};

TEST_F(Isolation, MemoryHogFailsWithTheLimitationItsUsageAndItsLimit) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  STOA_REQUIRE_CGROUPS();
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster, slave_flags()));
  // The hog grows a string in user space, so the memory is charged on page
  // faults (where a container at its limit stops, and the slave reports the
  // limitation). Memory charged inside a system call (e.g. `tail` reading
  // into a fresh buffer) fails that call with ENOMEM instead, and the task
  // may exit on its own first: docs/isolation.md.
  Process* hog = execute(cluster, "hog", "awk 'BEGIN { s = \"x\"; while (1) s = s s }'", "cpus:0.5;mem:64", false);
  ASSERT_NE(hog, nullptr);
  auto failed = hog->wait_for_line(
      std::regex(R"(TASK_FAILED for task \S+: (Memory limit exceeded: Requested: 64MB Maximum Used: (\d+)MB.*) )"
                 R"(\(REASON_CONTAINER_LIMITATION_MEMORY\))"),
      deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(failed) << hog->log();
  EXPECT_GE(std::stoi((*failed)[2]), 60) << (*failed)[1];
  EXPECT_TRUE(hog->lines_matching(std::regex("REASON_EXECUTOR_TERMINATED|TASK_FINISHED")).empty()) << hog->log();
  EXPECT_TRUE(poll_until([&] { return container_cgroups("memory", root_).empty(); }, deadline_in(10s)))
      << "the hog's memory cgroup was not removed";
}

TEST_F(Isolation, TwoBusyTasksSplitOneCoreByTheirCpuShares) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  STOA_REQUIRE_CGROUPS();
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster, slave_flags()));
  const std::string busy = "exec taskset -c 0 sh -c 'while :; do :; done'";
  Process* small = execute(cluster, "small", busy, "cpus:0.5;mem:64");
  Process* large = execute(cluster, "large", busy, "cpus:1.5;mem:64");
  ASSERT_TRUE(small && large);
  // The two containers, told apart by their shares (1024 per cpu).
  std::string small_dir;
  std::string large_dir;
  ASSERT_TRUE(poll_until(
      [&] {
        for (const std::string& dir : container_cgroups("cpu", root_)) {
          uint64_t shares = read_u64(dir + "/cpu.shares");
          if (shares == 512) {
            small_dir = dir;
          } else if (shares == 1536) {
            large_dir = dir;
          }
        }
        return !small_dir.empty() && !large_dir.empty();
      },
      deadline_in(10s)))
      << "no cgroups with cpu.shares 512 and 1536 under " << root_;
  auto usage = [&](const std::string& dir) {
    return read_u64(HIERARCHY + "/cpuacct/" + root_ + "/" + fs::path(dir).filename().string() + "/cpuacct.usage");
  };
  // A measuring window of 3 s of the core's time between the two (polled:
  // it ends when they have used it, however busy the machine is).
  uint64_t small0 = usage(small_dir);
  uint64_t large0 = usage(large_dir);
  double small_ns = 0;
  double large_ns = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        small_ns = static_cast<double>(usage(small_dir) - small0);
        large_ns = static_cast<double>(usage(large_dir) - large0);
        return small_ns + large_ns >= 3e9;
      },
      deadline_in(60s)))
      << "the two tasks used only " << (small_ns + large_ns) / 1e9 << " s of cpu";
  ASSERT_GT(small_ns, 0) << "the small task got no cpu at all";
  double ratio = large_ns / small_ns;
  EXPECT_GE(ratio, 2.0) << "large " << large_ns << " ns, small " << small_ns << " ns";
  EXPECT_LE(ratio, 4.0) << "large " << large_ns << " ns, small " << small_ns << " ns";
  small->kill(SIGTERM);
  large->kill(SIGTERM);
  EXPECT_TRUE(small->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_TRUE(large->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
}

TEST_F(Isolation, ForkBombIsContainedByThePidsLimitAndLeavesNothing) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  STOA_REQUIRE_CGROUPS();
  Cluster cluster;
  std::vector<std::string> flags = slave_flags();
  flags.push_back("--cgroups_pids_limit=32");
  ASSERT_TRUE(start_cluster(cluster, flags));
  const std::string marker = unique_marker();
  // The bomb runs in a subshell: a shell whose fork fails exits (dash: status
  // 2), and the top-level shell may be the one that loses the race for the
  // last pid. The bomb collapses once every fork fails at the limit; the
  // shell then becomes a sleep (exec forks nothing), so the container and
  // its pids.events stay until the test kills it.
  Process* bomb = execute(cluster, "bomb",
                          "export STOA_TEST_MARKER=" + marker + "; b() { b | b; }; (b) 2>/dev/null; exec sleep 1000; : " + marker,
                          "cpus:0.5;mem:256");
  ASSERT_NE(bomb, nullptr);
  std::vector<std::string> pids_dirs;
  ASSERT_TRUE(poll_until([&] { return (pids_dirs = container_cgroups("pids", root_)).size() == 1; }, deadline_in(10s)));
  EXPECT_EQ(read_file(pids_dirs[0] + "/pids.max"), "32\n");
  // The bomb reaches the limit (pids.events counts the forks refused
  // there) and never passes it.
  uint64_t most = 0;
  auto refused = [&] {
    std::istringstream events(read_file(pids_dirs[0] + "/pids.events"));
    std::string key;
    uint64_t count = 0;
    return (events >> key >> count) && key == "max" ? count : 0;
  };
  ASSERT_TRUE(poll_until(
      [&] {
        most = std::max(most, read_u64(pids_dirs[0] + "/pids.current"));
        return refused() > 0;
      },
      deadline_in(20s)))
      << "the bomb never reached the limit (most " << most << ")";
  EXPECT_LE(most, 32U);
  bomb->kill(SIGTERM);
  EXPECT_TRUE(bomb->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  std::vector<pid_t> left;
  EXPECT_TRUE(poll_until([&] { return (left = processes_with_marker(marker)).empty(); }, deadline_in(20s)))
      << left.size() << " processes of the bomb survived";
  for (const std::string& c : CONTROLLERS) {
    EXPECT_TRUE(poll_until([&] { return container_cgroups(c, root_).empty(); }, deadline_in(10s)))
        << "a " << c << " cgroup of the bomb is left under " << root_;
  }
}

// A task that holds every pid of its container: the executor's health check
// cannot start its thread, which is a failed check (as Mesos' check that
// cannot fork), the kill verdict kills the task, and the executor and the
// task are gone afterwards. (That the executor's actor system still stops
// after such a failure: HealthCheckTarget.AProbeThatCannotStartItsThread...
// in framework/health_checker_test.cpp; here the framework's teardown may
// reach the slave before the executor has exited, and the slave then ends it.)
TEST_F(Isolation, HealthCheckAtAFullPidsLimitFailsAndTheTaskIsKilled) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  STOA_REQUIRE_CGROUPS();
  Cluster cluster;
  std::vector<std::string> flags = slave_flags();
  flags.push_back("--cgroups_pids_limit=16");
  ASSERT_TRUE(start_cluster(cluster, flags));
  // What the TCP check connects to: a listener whose backlog accepts, so the
  // check passes whenever its thread starts.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 64), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  // perl forks sleeps until a fork fails, then retries every second: the
  // container stays at its limit (a fork bomb collapses and frees pids).
  const std::string marker = unique_marker();
  const std::string path = cluster.dir() + "/full.json";
  std::ofstream(path) << R"({"name": "full", "command": {"value": "export STOA_TEST_MARKER=)" << marker
                      << R"(; exec perl -e 'for (;;) { my $p = fork; if (!defined $p) { sleep 1; next } )"
                      << R"(if (!$p) { exec q(sleep), 1000 } }'"},)"
                      << R"( "health_check": {"type": "TCP", "tcp": {"port": )" << ntohs(addr.sin_port)
                      << R"(}, "delay_seconds": 1, "interval_seconds": 0.3, "timeout_seconds": 5,)"
                      << R"( "grace_period_seconds": 0, "consecutive_failures": 1}})";
  Try<Process*> full = cluster.start("stoa-execute", "full",
                                     {"--master=" + cluster.master_address(), "--task=" + path,
                                      "--resources=cpus:0.1;mem:64"});
  ASSERT_TRUE(full) << full.error();
  auto killed = (*full)->wait_for_line(std::regex(R"(TASK_KILLED for task (\S+): .*\[unhealthy\])"),
                                       deadline_in(DEFAULT_TIMEOUT));
  ::close(listener);
  ASSERT_TRUE(killed) << (*full)->log();
  EXPECT_EQ((*full)
                ->lines_matching(std::regex("TASK_RUNNING .*Could not start the health check: Resource temporarily "
                                            "unavailable .*\\[unhealthy\\]"))
                .size(),
            1U)
      << (*full)->log();
  const std::string task_id = (*killed)[1];
  EXPECT_TRUE((*full)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_TRUE(cluster.slave(0)->wait_for_line(
      std::regex("Executor " + regex_escape(task_id) + " of framework \\S+ exited: (.*)"), deadline_in(DEFAULT_TIMEOUT)))
      << cluster.slave(0)->log();
  std::vector<pid_t> left;
  EXPECT_TRUE(poll_until([&] { return (left = processes_with_marker(marker)).empty(); }, deadline_in(20s)))
      << left.size() << " processes of the task survived";
}

TEST_F(Isolation, DiskQuotaExceededFailsTheTaskWithTheDiskLimitation) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  // disk/du alone needs neither root nor cgroups.
  Cluster cluster;
  std::vector<std::string> flags = slave_flags("posix/cpu,disk/du");
  flags.push_back("--enforce_container_disk_quota");
  flags.push_back("--container_disk_watch_interval=100ms");
  ASSERT_TRUE(start_cluster(cluster, flags));
  Process* filler = execute(cluster, "filler", "dd if=/dev/zero of=big bs=1M count=4 && sleep 1000",
                            "cpus:0.1;mem:64;disk:1", false);
  ASSERT_NE(filler, nullptr);
  EXPECT_TRUE(filler->wait_for_line(std::regex(R"(TASK_FAILED for task \S+: Disk usage \(\d+KB\) exceeds quota )"
                                               R"(\(1MB\) \(REASON_CONTAINER_LIMITATION_DISK\))"),
                                    deadline_in(DEFAULT_TIMEOUT)))
      << filler->log();
}

TEST_F(Isolation, MonitorStatisticsShowTheCgroupFigures) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  STOA_REQUIRE_CGROUPS();
  Cluster cluster;
  std::vector<std::string> flags = slave_flags();
  flags.push_back("--cgroups_enable_cfs");
  ASSERT_TRUE(start_cluster(cluster, flags));
  Process* sleeper = execute(cluster, "sleeper", "sleep 1000", "cpus:0.5;mem:96;disk:10");
  ASSERT_NE(sleeper, nullptr);
  picojson::value stats;
  ASSERT_TRUE(poll_until(
      [&] {
        Try<picojson::value> got = http_get_json("127.0.0.1", cluster.slave_port(0), "/slave(1)/monitor/statistics");
        if (!got || !got->is<picojson::array>() || got->get<picojson::array>().empty()) {
          return false;
        }
        stats = json_at(got->get<picojson::array>()[0], "statistics");
        return stats.contains("cpus_nr_periods") && stats.contains("disk_used_bytes");
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "no cgroup figures in /monitor/statistics: " << stats.serialize();
  EXPECT_EQ(stats.get("mem_limit_bytes").get<int64_t>(), 96 * 1024 * 1024) << stats.serialize();
  EXPECT_EQ(stats.get("mem_soft_limit_bytes").get<int64_t>(), 96 * 1024 * 1024) << stats.serialize();
  EXPECT_GT(stats.get("mem_total_bytes").get<int64_t>(), 0) << stats.serialize();
  EXPECT_TRUE(stats.contains("mem_rss_bytes") && stats.contains("mem_cache_bytes")) << stats.serialize();
  EXPECT_DOUBLE_EQ(stats.get("cpus_limit").get<double>(), 0.5) << stats.serialize();
  EXPECT_TRUE(stats.contains("cpus_user_time_secs") && stats.contains("cpus_throttled_time_secs"))
      << stats.serialize();
  EXPECT_GE(stats.get("processes").get<int64_t>(), 2) << stats.serialize();  // the executor and the sleep
  EXPECT_GE(stats.get("threads").get<int64_t>(), stats.get("processes").get<int64_t>()) << stats.serialize();
  EXPECT_EQ(stats.get("disk_limit_bytes").get<int64_t>(), 10 * 1024 * 1024) << stats.serialize();
  sleeper->kill(SIGTERM);
  EXPECT_TRUE(sleeper->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
}

TEST_F(Isolation, SlaveRefusesCgroupsIsolationWithoutTheV1Controllers) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  STOA_REQUIRE_CGROUPS();
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  // No controller there at all; then the unified (v2) hierarchy alone.
  Try<Process*> missing = cluster.start("stoa-slave", "missing",
                                        {"--master=" + cluster.master_address(), "--port=0",
                                         "--work_dir=" + cluster.dir() + "/missing", "--isolation=cgroups/mem",
                                         "--cgroups_hierarchy=/nonexistent/cgroup"});
  ASSERT_TRUE(missing) << missing.error();
  std::optional<int> code = (*missing)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "the slave started without its cgroups";
  EXPECT_NE(*code, 0);
  EXPECT_NE((*missing)->log().find("isolator 'cgroups/mem' cannot work: the cgroups v1 'memory' controller is not "
                                   "mounted at /nonexistent/cgroup/memory (--cgroups_hierarchy=/nonexistent/cgroup)"),
            std::string::npos)
      << (*missing)->log();
  if (!fs::exists(HIERARCHY + "/unified/cgroup.controllers")) {
    return;
  }
  Try<Process*> v2 = cluster.start("stoa-slave", "v2",
                                   {"--master=" + cluster.master_address(), "--port=0",
                                    "--work_dir=" + cluster.dir() + "/v2", "--isolation=cgroups/cpu",
                                    "--cgroups_hierarchy=" + HIERARCHY + "/unified"});
  ASSERT_TRUE(v2) << v2.error();
  ASSERT_TRUE((*v2)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_NE((*v2)->log().find("cgroups v2 is not supported"), std::string::npos) << (*v2)->log();
}

TEST_F(Isolation, RestartedSlaveKeepsItsContainersCgroupsAndDestroysOrphans) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  STOA_REQUIRE_CGROUPS();
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster, slave_flags()));
  const std::string marker = unique_marker();
  Process* kept = execute(cluster, "kept", "sleep 1000; : " + marker, "cpus:0.5;mem:64", true, {"--checkpoint"});
  ASSERT_NE(kept, nullptr);
  std::vector<std::string> before = container_cgroups("freezer", root_);
  ASSERT_EQ(before.size(), 1U);
  // The task's shell, counted once: its fork before `sleep` is exec'd has
  // the shell's command line (and the marker) for a moment, and stoa-execute
  // names the marker too.
  std::vector<pid_t> tasks;
  ASSERT_TRUE(poll_until([&] { return !(tasks = task_processes(marker, *kept)).empty(); }, deadline_in(5s)))
      << "the task's shell never ran";
  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(5s)));
  // An orphan: a cgroup no checkpointed container owns, with a process in it.
  const std::string orphan_marker = unique_marker();
  for (const std::string& c : CONTROLLERS) {
    fs::create_directories(HIERARCHY + "/" + c + "/" + root_ + "/orphan");
  }
  Try<Process*> orphan = cluster.start("/bin/sh", "orphan",
                                       {"-c", "echo $$ > " + HIERARCHY + "/freezer/" + root_ +
                                                  "/orphan/cgroup.procs && export STOA_TEST_MARKER=" +
                                                  orphan_marker + " && exec sleep 1000"});
  ASSERT_TRUE(orphan) << orphan.error();
  // Until the shell has moved itself into the cgroup and become `sleep` (its
  // command line carries the marker before that, too).
  const std::string orphan_procs = HIERARCHY + "/freezer/" + root_ + "/orphan/cgroup.procs";
  ASSERT_TRUE(poll_until(
      [&] {
        std::vector<pid_t> found = processes_with_marker(orphan_marker);
        return found.size() == 1 && trim(read_file(orphan_procs)) == std::to_string(found[0]) &&
               read_file("/proc/" + std::to_string(found[0]) + "/cmdline").rfind("sleep", 0) == 0;
      },
      deadline_in(5s)))
      << read_file(orphan_procs);

  Try<Process*> restarted = cluster.restart_slave(0, "slave0-restarted");
  ASSERT_TRUE(restarted) << restarted.error();
  ASSERT_TRUE((*restarted)->wait_for_line(std::regex("Recovery finished"), deadline_in(DEFAULT_TIMEOUT)))
      << (*restarted)->log();
  EXPECT_TRUE(poll_until([&] { return (*orphan)->wait_exit(deadline_in(100ms)).has_value(); }, deadline_in(10s)))
      << "the orphan cgroup's process survived";
  for (const std::string& c : CONTROLLERS) {
    EXPECT_FALSE(fs::exists(HIERARCHY + "/" + c + "/" + root_ + "/orphan")) << c << " orphan cgroup left";
  }
  EXPECT_EQ(container_cgroups("freezer", root_), before) << "the checkpointed container lost its cgroup";
  EXPECT_EQ(task_processes(marker, *kept), tasks) << "the checkpointed task did not survive";
  EXPECT_FALSE(read_file(before[0] + "/cgroup.procs").empty());
  kept->kill(SIGTERM);
  EXPECT_TRUE(kept->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_TRUE(poll_until([&] { return container_cgroups("freezer", root_).empty(); }, deadline_in(10s)));
}

// --switch_user: stoa-execute subscribes as the user it runs as.
TEST_F(Isolation, SwitchUserRunsTheTaskAsTheFrameworksUserInASandboxItOwns) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv")) {
    GTEST_SKIP() << "needs root and /usr/bin/setpriv (to run the framework as nobody)";
  }
  Cluster cluster;
  ::chmod(cluster.dir().c_str(), 0755);  // nobody reaches its sandbox
  ASSERT_TRUE(start_cluster(cluster, {"--switch_user"}));
  Try<Process*> as_nobody = cluster.start(
      "/usr/bin/setpriv", "nobody",
      {"--reuid=65534", "--regid=65534", "--clear-groups", binary_path("stoa-execute"),
       "--master=" + cluster.master_address(), "--name=who", "--command=id -u; stat -c %u .",
       "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(as_nobody) << as_nobody.error();
  auto finished = (*as_nobody)->wait_for_line(std::regex(R"(TASK_FINISHED for task ([^\s:]+))"),
                                              deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(finished) << (*as_nobody)->log();
  std::string out;
  for (const auto& entry : fs::recursive_directory_iterator(cluster.slave_work_dir(0) + "/slaves")) {
    if (entry.path().filename() == "stdout" && entry.path().string().find((*finished)[1]) != std::string::npos) {
      out = read_file(entry.path().string());
      struct stat st {};
      ASSERT_EQ(::stat(entry.path().parent_path().c_str(), &st), 0);
      EXPECT_EQ(st.st_uid, 65534U) << "the sandbox is not nobody's";
    }
  }
  EXPECT_NE(out.find("65534\n65534\n"), std::string::npos) << "the task's id -u and sandbox owner: " << out;
}

TEST_F(Isolation, SwitchUserToAUserThatDoesNotExistFailsTheTaskNamingIt) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv")) {
    GTEST_SKIP() << "needs root and /usr/bin/setpriv (to run the framework as a uid without a name)";
  }
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster, {"--switch_user"}));
  // A uid without a passwd entry: the SDK takes $USER as the framework's user.
  Try<Process*> ghost = cluster.start(
      "/usr/bin/setpriv", "ghost",
      {"--reuid=54321", "--regid=54321", "--clear-groups", binary_path("stoa-execute"),
       "--master=" + cluster.master_address(), "--name=ghost", "--command=true", "--resources=cpus:0.1;mem:32"},
      {{"USER", "stoa_no_such_user"}});
  ASSERT_TRUE(ghost) << ghost.error();
  EXPECT_TRUE((*ghost)->wait_for_line(std::regex("TASK_FAILED for task \\S+: .*user 'stoa_no_such_user' does not "
                                                 "exist.*REASON_CONTAINER_LAUNCH_FAILED"),
                                      deadline_in(DEFAULT_TIMEOUT)))
      << (*ghost)->log();
}

}  // namespace
}  // namespace stoa::tests
