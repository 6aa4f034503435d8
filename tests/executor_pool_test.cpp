// The slave's warm executor pool end to end (--executor_pool_size,
// docs/executor-pool.md): real master, slave, stoa-executor on loopback. A
// task an adopted executor runs looks as a cold-started one would (its
// environment, sandbox stdout/stderr, updates, kill, TASK_FINISHED); the
// adopted executor names its container in /proc/<pid>/environ; the pool
// refills; a launch the pool cannot honour (another user, a cgroups
// isolator; both need root) starts afresh; pooled executors that die are
// restarted with a backoff; a restarted slave recovers an adopted executor
// while the old pool goes. The HttpExecutorPool tests do the same with a
// pool of stoa-http-executor (--http_command_executor), whose adoption comes
// over HTTP, and check what only it has: a health-checked task starts
// stoa-executor afresh, and the pool route refuses calls it did not ask for.
// Each test runs in 0.2-1 s, the backoff one in ~3.5 s.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "actors/launcher.hpp"
#include "tests/cgroups_skip.hpp"
#include "tests/cluster.hpp"
#include "tests/task_checks.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

double slave_metric(Cluster& cluster, const std::string& name) {
  Try<picojson::value> m = http_get_json("127.0.0.1", cluster.slave_port(0), "/metrics/snapshot");
  return m.is_some() ? json_number(json_at(*m, name)) : -1;
}

std::string environ_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The pids of the slave's "<what> (pid N)" lines.
std::set<pid_t> pids_logged(const Process& slave, const std::string& what) {
  std::set<pid_t> pids;
  std::regex re(what + R"( \(pid (\d+)\))");
  for (const std::string& line : slave.lines_matching(re)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) {
      pids.insert(static_cast<pid_t>(std::stol(m[1])));
    }
  }
  return pids;
}

// /proc/<pid>/stat's parent pid, or -1.
pid_t parent_of(pid_t pid) {
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    return -1;
  }
  std::istringstream in(stat.substr(close + 2));
  std::string state;
  pid_t ppid = -1;
  in >> state >> ppid;
  return ppid;
}

::testing::AssertionResult start_pool_cluster(Cluster& cluster, const std::vector<std::string>& flags) {
  if (!cluster.start_master()) {
    return ::testing::AssertionFailure() << "the master did not start";
  }
  if (!cluster.start_slave("cpus:4;mem:2048;disk:1000", flags)) {
    return ::testing::AssertionFailure() << "the slave did not start";
  }
  if (!cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT))) {
    return ::testing::AssertionFailure() << "the slave did not become active";
  }
  if (!poll_until([&] { return slave_metric(cluster, "slave/executor_pool_ready") >= 1; },
                  deadline_in(DEFAULT_TIMEOUT))) {
    return ::testing::AssertionFailure() << "no pooled executor became ready:\n" << cluster.slave(0)->log();
  }
  return ::testing::AssertionSuccess();
}

// The flags of a slave whose pool holds stoa-http-executor (`http`) or
// stoa-executor.
std::vector<std::string> pool_flags(bool http, const std::string& size) {
  std::vector<std::string> flags = {"--executor_pool_size=" + size};
  if (http) {
    flags.push_back("--http_command_executor");
  }
  return flags;
}

void adopted_executor_runs_and_kills_the_task(bool http) {
  Cluster cluster;
  ASSERT_TRUE(start_pool_cluster(cluster, pool_flags(http, "1")));
  const std::string marker = unique_marker();
  Try<Process*> execute = cluster.start(
      "stoa-execute", "execute",
      {"--master=" + cluster.master_address(), "--name=pooled", "--resources=cpus:0.1;mem:32",
       "--command=echo sandbox=$MESOS_SANDBOX; echo pwd=$(pwd); echo token=${STOA_POOL_TOKEN:-none}; "
       "echo cid=$STOA_CONTAINER_ID; echo fid=$MESOS_FRAMEWORK_ID; echo oops >&2; sleep 1000; echo " + marker});
  ASSERT_TRUE(execute) << execute.error();
  ASSERT_TRUE((*execute)->wait_for_line(std::regex(R"(\bTASK_RUNNING\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << (*execute)->log();

  // The executor is the pooled process, and names its container.
  std::regex launched(R"(Launched pooled executor \S+ \(pid (\d+)\) of framework (\S+) in (\S+))");
  std::vector<std::string> lines = cluster.slave(0)->lines_matching(launched);
  ASSERT_EQ(lines.size(), 1U) << cluster.slave(0)->log();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(lines[0], m, launched));
  const pid_t pid = static_cast<pid_t>(std::stol(m[1]));
  const std::string framework_id = m[2];
  const std::string sandbox = m[3];
  const std::string cid = fs::path(sandbox).filename();
  EXPECT_EQ(pids_logged(*cluster.slave(0), "Started pooled executor \\S+").count(pid), 1U);
  const std::string env = environ_of(pid);
  EXPECT_NE(env.find(std::string("STOA_CONTAINER_ID=") + cid + '\0'), std::string::npos)
      << "/proc/" << pid << "/environ does not name container " << cid;
  EXPECT_EQ(env.find(std::string(20, '_')), std::string::npos) << "the placeholder is still there";
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(pid) + "/cwd"), fs::path(sandbox));

  // The task saw the environment and sandbox a cold launch gives.
  const std::string out = sandbox + "/stdout";
  ASSERT_TRUE(poll_until([&] { return read_file(out).find("fid=") != std::string::npos; }, deadline_in(10s)))
      << read_file(out);
  const std::string text = read_file(out);
  EXPECT_NE(text.find("sandbox=" + sandbox + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("pwd=" + sandbox + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("token=none\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cid=" + cid + "\n"), std::string::npos) << text;
  EXPECT_NE(text.find("fid=" + framework_id + "\n"), std::string::npos) << text;
  const std::string err = read_file(sandbox + "/stderr");
  EXPECT_NE(err.find("oops"), std::string::npos) << err;
  EXPECT_NE(err.find("Started task"), std::string::npos) << "the executor's own log is not in the sandbox: " << err;
  if (http) {
    // Forked by the executor zygote, as the slave's own child.
    std::set<pid_t> zygotes = pids_logged(*cluster.slave(0), "Started the executor zygote");
    ASSERT_EQ(zygotes.size(), 1U) << cluster.slave(0)->log();
    EXPECT_NE(*zygotes.begin(), pid);
    EXPECT_TRUE(process_running(*zygotes.begin()));
    EXPECT_EQ(parent_of(pid), cluster.slave(0)->pid()) << "the pooled executor is not the slave's child";
    // The adoption was its subscription: no SUBSCRIBE of its own.
    EXPECT_NE(err.find("Adopted container " + cid + " in " + sandbox), std::string::npos) << err;
    EXPECT_NE(err.find("Subscribed to the slave"), std::string::npos) << err;
    EXPECT_TRUE(cluster.slave(0)->lines_matching(std::regex("subscribed over HTTP")).empty())
        << cluster.slave(0)->log();
    EXPECT_NE(read_file("/proc/" + std::to_string(pid) + "/cmdline").find("stoa-http-executor"), std::string::npos);
  } else {
    // The adoption was its registration (#17): no registration round trip.
    EXPECT_TRUE(std::regex_search(err, std::regex(R"(Registered with slave \S+ at adoption)"))) << err;
  }

  // The pool refills, and counted the adoption.
  EXPECT_TRUE(poll_until([&] { return slave_metric(cluster, "slave/executor_pool_ready") == 1; },
                         deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_adopted"), 1);
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_cold_starts"), 0);

  // A kill ends the task's process tree and the executor, as for any executor.
  ASSERT_EQ(await_task_processes(marker, **execute, 1).size(), 1U);
  (*execute)->kill(SIGINT);  // stoa-execute kills its task on SIGINT
  EXPECT_TRUE((*execute)->wait_for_line(std::regex(R"(\bTASK_KILLED\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << (*execute)->log();
  EXPECT_TRUE(poll_until([&] { return task_processes(marker, **execute).empty() && !process_running(pid); },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "the task or its adopted executor outlived the kill";
}

TEST(ExecutorPool, AdoptedExecutorRunsAndKillsTheTaskAsAColdOneWould) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  adopted_executor_runs_and_kills_the_task(false);
}

// --http_command_executor: the pool holds stoa-http-executor, which takes
// its container from the ADOPTED event on its pool stream (POST
// /stoa/executor/pool) and is subscribed by it.
TEST(HttpExecutorPool, AdoptedExecutorRunsAndKillsTheTaskAsAColdOneWould) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-execute");
  adopted_executor_runs_and_kills_the_task(true);
}

void tasks_finish_through_the_pool(bool http) {
  Cluster cluster;
  ASSERT_TRUE(start_pool_cluster(cluster, pool_flags(http, "2")));
  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=6", "--command=echo in=$MESOS_SANDBOX",
                     "--task_resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  ASSERT_TRUE(poll_until([&] { return tasks_in_state(**framework, "TASK_FINISHED") == 6; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << (*framework)->log();
  EXPECT_EQ(tasks_in_state(**framework, "TASK_FAILED"), 0U);
  std::vector<std::string> stdouts = find_files_named(cluster.slave_work_dir(0) + "/slaves", "stdout");
  ASSERT_EQ(stdouts.size(), 6U);
  for (const std::string& path : stdouts) {
    EXPECT_NE(read_file(path).find("in=" + fs::path(path).parent_path().string() + "\n"), std::string::npos)
        << path << ": " << read_file(path);
  }
  const double adopted = slave_metric(cluster, "slave/executor_pool_adopted");
  EXPECT_GE(adopted, 1);
  EXPECT_EQ(adopted + slave_metric(cluster, "slave/executor_pool_cold_starts"), 6);
  EXPECT_EQ(cluster.slave(0)->lines_matching(std::regex("Launched pooled executor")).size(),
            static_cast<size_t>(adopted));
}

TEST(ExecutorPool, TasksFinishThroughThePoolAndWithoutAReadyOne) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  tasks_finish_through_the_pool(false);
}

TEST(HttpExecutorPool, TasksFinishThroughThePoolAndWithoutAReadyOne) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-example-framework");
  tasks_finish_through_the_pool(true);
}

// --http_executor_domain_sockets: the slave serves its HTTP API on
// <work_dir>/agent.sock too and tells executors so (MESOS_DOMAIN_SOCKET);
// stoa-http-executors, pooled and cold, talk to it there; the socket goes
// with the slave.
TEST(HttpExecutorPool, OverTheSlavesUnixSocketTasksFinishAndTheSocketGoesWithTheSlave) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-example-framework");
  Cluster cluster;
  std::vector<std::string> flags = pool_flags(true, "2");
  flags.push_back("--http_executor_domain_sockets");
  ASSERT_TRUE(start_pool_cluster(cluster, flags));
  const std::string socket = fs::absolute(fs::path(cluster.slave_work_dir(0)) / "agent.sock").string();
  EXPECT_TRUE(fs::is_socket(socket)) << socket;
  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=6", "--command=echo via=$MESOS_DOMAIN_SOCKET",
                     "--task_resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  ASSERT_TRUE(poll_until([&] { return tasks_in_state(**framework, "TASK_FINISHED") == 6; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << (*framework)->log();
  std::vector<std::string> stdouts = find_files_named(cluster.slave_work_dir(0) + "/slaves", "stdout");
  ASSERT_EQ(stdouts.size(), 6U);
  for (const std::string& path : stdouts) {
    EXPECT_NE(read_file(path).find("via=" + socket + "\n"), std::string::npos) << path << ": " << read_file(path);
    const std::string err = read_file((fs::path(path).parent_path() / "stderr").string());
    EXPECT_NE(err.find(" over " + socket), std::string::npos) << err;
  }
  const double adopted = slave_metric(cluster, "slave/executor_pool_adopted");
  EXPECT_GE(adopted, 1);
  EXPECT_EQ(adopted + slave_metric(cluster, "slave/executor_pool_cold_starts"), 6);
  cluster.slave(0)->kill(SIGTERM);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_FALSE(fs::exists(socket)) << "the slave left its socket behind";
}

// The zygote that forks the pool's stoa-http-executors dies: the next
// refill finds it gone, starts that executor with an exec instead and the
// one after starts a new zygote; every task runs.
TEST(HttpExecutorPool, AKilledZygoteIsStartedAgainAndThePoolGoesOn) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-example-framework");
  Cluster cluster;
  ASSERT_TRUE(start_pool_cluster(cluster, pool_flags(true, "1")));
  std::set<pid_t> zygotes = pids_logged(*cluster.slave(0), "Started the executor zygote");
  ASSERT_EQ(zygotes.size(), 1U) << cluster.slave(0)->log();
  ASSERT_EQ(::kill(*zygotes.begin(), SIGKILL), 0);
  for (int round = 1; round <= 3; ++round) {
    Try<Process*> framework =
        cluster.start("stoa-example-framework", "framework" + std::to_string(round),
                      {"--master=" + cluster.master_address(), "--tasks=1", "--command=true",
                       "--task_resources=cpus:0.1;mem:32"});
    ASSERT_TRUE(framework) << framework.error();
    ASSERT_TRUE(poll_until([&] { return tasks_in_state(**framework, "TASK_FINISHED") == 1; },
                           deadline_in(DEFAULT_TIMEOUT)))
        << (*framework)->log();
    ASSERT_TRUE(poll_until([&] { return slave_metric(cluster, "slave/executor_pool_ready") == 1; },
                           deadline_in(DEFAULT_TIMEOUT)))
        << cluster.slave(0)->log();
  }
  EXPECT_EQ(cluster.slave(0)->lines_matching(std::regex("without the zygote: the executor zygote is gone")).size(), 1U)
      << cluster.slave(0)->log();
  std::set<pid_t> now = pids_logged(*cluster.slave(0), "Started the executor zygote");
  EXPECT_EQ(now.size(), 2U) << cluster.slave(0)->log();
  for (pid_t z : now) {
    EXPECT_EQ(process_running(z), z != *zygotes.begin()) << z;
  }
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_adopted"), 3);
}

// Many launches at once while the zygote refills the pool: a forked
// executor can say it is ready (over HTTP) before the thread that asked the
// zygote for it reports its start to the slave. Such a one is not adopted
// until its start is reported; before, one adopted then was taken for a
// pool killed meanwhile and SIGKILLed or reaped under its containerizer
// (about 1 task in 300 failed at 8 in flight).
TEST(HttpExecutorPool, ManyLaunchesWhileTheZygoteRefillsAllFinish) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-example-framework");
  Cluster cluster;
  ASSERT_TRUE(start_pool_cluster(cluster, pool_flags(true, "8")));
  constexpr int TASKS = 400;
  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=" + std::to_string(TASKS), "--command=true",
                     "--task_resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  // Sanitized, an executor's start alone can take seconds at 40 in flight
  // (2.6 s seen on a VM whose fork+exec took 4 ms): more room to finish.
  ASSERT_TRUE(poll_until(
      [&] {
        return tasks_in_state(**framework, "TASK_FINISHED") + tasks_in_state(**framework, "TASK_FAILED") == TASKS;
      },
      deadline_in(SANITIZED_BUILD ? DEFAULT_TIMEOUT * 12 : DEFAULT_TIMEOUT * 2)))
      << (*framework)->log();
  EXPECT_EQ(tasks_in_state(**framework, "TASK_FAILED"), 0U) << cluster.slave(0)->log();
  // Enough adoptions during refills for the race above to be met often.
  // How many of the 400 adopt depends on how fast launches go against the
  // refills (40 in flight on a pool of 8): since the slave's actors run on
  // its I/O thread (session 29) as few as 88 in some runs, under 100.
  EXPECT_GE(slave_metric(cluster, "slave/executor_pool_adopted"), TASKS / 8);
  EXPECT_TRUE(cluster.slave(0)->lines_matching(std::regex("unknown wait status|terminated with signal")).empty())
      << cluster.slave(0)->log();
}

// A task with a health check needs stoa-executor (which runs health
// checks): with a pool of stoa-http-executor it starts afresh, named in the
// log, and the pool stays ready for the next command task.
TEST(HttpExecutorPool, AHealthCheckedTaskStartsAfreshUnderStoaExecutor) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-executor", "stoa-execute");
  Cluster cluster;
  ASSERT_TRUE(start_pool_cluster(cluster, pool_flags(true, "1")));
  Try<Process*> execute = start_health_checked_sleep(cluster, "checked");
  ASSERT_TRUE(execute) << execute.error();
  ASSERT_TRUE((*execute)->wait_for_line(HEALTHY_RUNNING, deadline_in(DEFAULT_TIMEOUT))) << (*execute)->log();
  EXPECT_EQ(cluster.slave(0)
                ->lines_matching(std::regex("afresh, not from the pool: it runs \\S+/stoa-executor, the pool holds "
                                            "\\S+/stoa-http-executor"))
                .size(),
            1U)
      << cluster.slave(0)->log();
  EXPECT_TRUE(cluster.slave(0)->lines_matching(std::regex("Launched pooled executor")).empty());
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_adopted"), 0);
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_cold_starts"), 1);
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_ready"), 1);
  (*execute)->kill(SIGINT);
  EXPECT_TRUE((*execute)->wait_for_line(std::regex(R"(\bTASK_KILLED\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << (*execute)->log();
}

// POST /stoa/executor/pool takes only a pooled executor this slave started:
// a bad body gets 400 naming what is wrong, another media type 415, a token
// it did not start 403, and none of them disturbs the pool.
TEST(HttpExecutorPool, PoolCallsTheSlaveDidNotAskForAreRefused) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor");
  Cluster cluster;
  ASSERT_TRUE(start_pool_cluster(cluster, pool_flags(true, "1")));
  struct Case {
    std::string body;
    std::string content_type;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {R"({"token":"t","pid":1})", "text/plain", 415, "text/plain"},
      {R"({"token":)", "application/json", 400, "not JSON"},
      {R"(["t",1])", "application/json", 400, "must be a JSON object"},
      {R"({"pid":12})", "application/json", 400, "'token' must be a non-empty string, not missing"},
      {R"({"token":"","pid":12})", "application/json", 400, "'token' must be a non-empty string"},
      {R"({"token":"t","pid":-3})", "application/json", 400, "'pid' must be a positive integer, not -3"},
      {R"({"token":"t","pid":"12"})", "application/json", 400, "'pid' must be a positive integer"},
      {R"({"token":"not-ours","pid":12})", "application/json", 403, "'not-ours' (pid 12) is not one this slave"},
  };
  for (const Case& c : cases) {
    Try<HttpResponse> r = http_raw("127.0.0.1", cluster.slave_port(0),
                                   "POST /stoa/executor/pool HTTP/1.1\r\nHost: x\r\nContent-Type: " + c.content_type +
                                       "\r\nContent-Length: " + std::to_string(c.body.size()) +
                                       "\r\nConnection: close\r\n\r\n" + c.body);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, c.status) << c.body << " -> " << r->body;
    EXPECT_NE(r->body.find(c.says), std::string::npos) << c.body << " -> " << r->body;
  }
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_ready"), 1);
  EXPECT_TRUE(cluster.slave(0)->lines_matching(std::regex("Pooled executor \\S+ .* exited")).empty())
      << cluster.slave(0)->log();
}

// --switch_user with a framework of another user: the pool (the slave's
// user) cannot run it, so its executor starts afresh as that user.
TEST(ExecutorPool, TaskOfAnotherUserStartsAfresh) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  if (::geteuid() != 0 || !fs::exists("/usr/bin/setpriv")) {
    GTEST_SKIP() << "needs root and /usr/bin/setpriv (to run the framework as nobody)";
  }
  Cluster cluster;
  ::chmod(cluster.dir().c_str(), 0755);  // nobody reaches its sandbox
  ASSERT_TRUE(start_pool_cluster(cluster, {"--executor_pool_size=1", "--switch_user"}));
  Try<Process*> as_nobody = cluster.start(
      "/usr/bin/setpriv", "nobody",
      {"--reuid=65534", "--regid=65534", "--clear-groups", binary_path("stoa-execute"),
       "--master=" + cluster.master_address(), "--name=who", "--command=id -u", "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(as_nobody) << as_nobody.error();
  ASSERT_TRUE((*as_nobody)->wait_for_line(std::regex(R"(TASK_FINISHED for task)"), deadline_in(DEFAULT_TIMEOUT)))
      << (*as_nobody)->log();
  EXPECT_EQ(cluster.slave(0)->lines_matching(std::regex("afresh, not from the pool: runs as user 'nobody'")).size(),
            1U)
      << cluster.slave(0)->log();
  EXPECT_TRUE(cluster.slave(0)->lines_matching(std::regex("Launched pooled executor")).empty());
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_adopted"), 0);
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_cold_starts"), 1);
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_ready"), 1);
  std::vector<std::string> stdouts = find_files_named(cluster.slave_work_dir(0) + "/slaves", "stdout");
  ASSERT_EQ(stdouts.size(), 1U);
  EXPECT_EQ(read_file(stdouts[0]), "65534\n");
}

// A stoa-executor that dies at once: each pooled start exits before
// adoption, is reaped, and the next start waits 1 s, then 2 s (no spinning).
TEST(ExecutorPool, PooledExecutorsThatDieAreRestartedWithABackoff) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  Cluster cluster;
  const std::string launcher_dir = cluster.dir() + "/broken-launcher";
  fs::create_directories(launcher_dir);
  {
    std::ofstream script(launcher_dir + "/stoa-executor");
    script << "#!/bin/sh\nexit 3\n";
  }
  fs::permissions(launcher_dir + "/stoa-executor", fs::perms::owner_all);
  ASSERT_TRUE(cluster.start_master());
  ASSERT_TRUE(cluster.start_slave("cpus:1;mem:512;disk:100", {"--executor_pool_size=1", "--launcher_dir=" + launcher_dir}));
  std::regex exited("Pooled executor \\S+ \\(pid \\d+\\) exited before adoption");
  ASSERT_TRUE(poll_until([&] { return cluster.slave(0)->lines_matching(exited).size() >= 3; }, deadline_in(10s)))
      << cluster.slave(0)->log();
  std::vector<std::string> lines = cluster.slave(0)->lines_matching(exited);
  auto at = [](const std::string& line) {  // glog's hh:mm:ss.micros, as seconds of the day
    std::smatch m;
    std::regex_search(line, m, std::regex(R"((\d\d):(\d\d):(\d\d\.\d+))"));
    return std::stod(m[1]) * 3600 + std::stod(m[2]) * 60 + std::stod(m[3]);
  };
  const double first_gap = at(lines[1]) - at(lines[0]);
  const double second_gap = at(lines[2]) - at(lines[1]);
  EXPECT_GE(first_gap, 0.9) << lines[0] << "\n" << lines[1];
  EXPECT_GE(second_gap, 1.9) << lines[1] << "\n" << lines[2];
  EXPECT_LT(second_gap, 4) << "the backoff grew past 2 s too soon";
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_ready"), 0);
}

// An isolator that puts the executor into cgroups before it execs: the
// pool cannot give a running process that, so the executor starts afresh.
TEST(ExecutorPool, TaskUnderACgroupsIsolatorStartsAfresh) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  STOA_REQUIRE_CGROUPS();
  const std::string root = "stoa_pool_test_" + unique_marker();
  struct RemoveRoot {  // the slave removes the container's cgroups, not its --cgroups_root
    std::string root;
    ~RemoveRoot() {
      for (const std::string c : {"pids", "freezer"}) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(CGROUPS_HIERARCHY + "/" + c + "/" + root, ec)) {
          ::rmdir(entry.path().c_str());
        }
        ::rmdir((CGROUPS_HIERARCHY + "/" + c + "/" + root).c_str());
      }
    }
  } remove_root{root};
  Cluster cluster;
  ASSERT_TRUE(start_pool_cluster(cluster,
                                 {"--executor_pool_size=1", "--isolation=cgroups/pids", "--cgroups_root=" + root}));
  Try<Process*> execute =
      cluster.start("stoa-execute", "execute",
                    {"--master=" + cluster.master_address(), "--name=cg", "--command=cat /proc/self/cgroup",
                     "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(execute) << execute.error();
  std::optional<int> code = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "stoa-execute did not exit";
  EXPECT_EQ(*code, 0) << (*execute)->log();
  EXPECT_EQ(cluster.slave(0)
                ->lines_matching(std::regex("afresh, not from the pool: isolator cgroups/pids puts the executor"))
                .size(),
            1U)
      << cluster.slave(0)->log();
  EXPECT_EQ(slave_metric(cluster, "slave/executor_pool_adopted"), 0);
  std::vector<std::string> stdouts = find_files_named(cluster.slave_work_dir(0) + "/slaves", "stdout");
  ASSERT_EQ(stdouts.size(), 1U);
  EXPECT_NE(read_file(stdouts[0]).find(":pids:/" + root + "/"), std::string::npos)
      << "the task is not in its container's pids cgroup: " << read_file(stdouts[0]);
  cluster.slave(0)->kill(SIGTERM);
  EXPECT_TRUE(cluster.slave(0)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
}

void restarted_slave_recovers_the_adopted_executor(bool http) {
  Cluster cluster;
  ASSERT_TRUE(start_pool_cluster(cluster, pool_flags(http, "2")));
  const std::string marker = unique_marker();
  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=1", "--checkpoint",
                     "--command=sleep 1000; echo " + marker, "--task_resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  ASSERT_TRUE(poll_until([&] { return tasks_in_state(**framework, "TASK_RUNNING") == 1; },
                         deadline_in(DEFAULT_TIMEOUT)));
  std::set<pid_t> adopted = pids_logged(*cluster.slave(0), "Launched pooled executor \\S+");
  ASSERT_EQ(adopted.size(), 1U) << cluster.slave(0)->log();
  ASSERT_TRUE(poll_until([&] { return slave_metric(cluster, "slave/executor_pool_ready") == 2; },
                         deadline_in(DEFAULT_TIMEOUT)));
  std::set<pid_t> pool = pids_logged(*cluster.slave(0), "Started pooled executor \\S+");
  pool.erase(*adopted.begin());
  ASSERT_EQ(pool.size(), 2U);
  std::vector<pid_t> task = await_task_processes(marker, **framework, 1);
  ASSERT_EQ(task.size(), 1U);
  const std::string slave_id = only_slave_id(cluster);

  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(5s)));
  // The unadopted pool lost its slave: it exits (and is not recovered).
  EXPECT_TRUE(poll_until(
      [&] {
        for (pid_t p : pool) {
          if (process_running(p)) {
            return false;
          }
        }
        return true;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "a pooled executor outlived its slave";
  EXPECT_TRUE(process_running(*adopted.begin())) << "the adopted executor of a checkpointing framework died";
  for (pid_t z : pids_logged(*cluster.slave(0), "Started the executor zygote")) {
    EXPECT_TRUE(poll_until([&] { return !process_running(z); }, deadline_in(DEFAULT_TIMEOUT)))
        << "the executor zygote outlived its slave";
  }

  Try<Process*> restarted = cluster.restart_slave(0, "slave0-restarted");
  ASSERT_TRUE(restarted) << restarted.error();
  ASSERT_TRUE((*restarted)->wait_for_line(std::regex("Recovery finished"), deadline_in(DEFAULT_TIMEOUT)))
      << (*restarted)->log();
  ASSERT_TRUE(poll_until([&] { return running_tasks_on(cluster, slave_id) == 1; }, deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_EQ(task_processes(marker, **framework), task) << "the task was restarted";
  EXPECT_EQ((*restarted)->lines_matching(std::regex("re-registered with 1 tasks")).size(), 1U) << (*restarted)->log();
  EXPECT_TRUE((*restarted)->lines_matching(std::regex("Launched pooled executor")).empty());
  for (pid_t p : pids_logged(**restarted, "Started pooled executor \\S+")) {
    EXPECT_EQ(pool.count(p), 0U) << "the restarted slave took an old pooled executor";
  }
  EXPECT_TRUE(poll_until([&] { return slave_metric(cluster, "slave/executor_pool_ready") == 2; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "the restarted slave's own pool never became ready";
}

TEST(ExecutorPool, RestartedSlaveRecoversTheAdoptedExecutorAndNotTheOldPool) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  restarted_slave_recovers_the_adopted_executor(false);
}

// An adopted stoa-http-executor of a checkpointing framework keeps its task
// when its slave dies and subscribes again to the restarted one; the
// unadopted ones see their pool stream end and exit.
TEST(HttpExecutorPool, RestartedSlaveRecoversTheAdoptedExecutorAndNotTheOldPool) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-example-framework");
  restarted_slave_recovers_the_adopted_executor(true);
}

}  // namespace
}  // namespace stoa::tests
