// Command tasks under stoa-http-executor (--http_command_executor), the
// executor that speaks Mesos' v1 executor HTTP API and links no actor
// runtime: tasks finish, fail and are killed as under stoa-executor; a
// checkpointing framework's tasks outlive a killed slave and their executors
// subscribe again to the restarted one, and an executor whose connections
// are cut while its slave lives subscribes again; an executor killed under its task
// fails it; a task with a health check still gets stoa-executor, which
// runs health checks; and the slave's /api/v1/executor refuses bad calls
// with the reason and changes nothing.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cluster.hpp"
#include "tests/task_checks.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::vector<std::string> HTTP_EXECUTOR = {"--http_command_executor"};

Try<bool> start_http_cluster(Cluster& cluster, std::vector<std::string> flags = {}) {
  Try<Process*> master = cluster.start_master();
  if (master.is_error()) {
    return Error("master: " + master.error());
  }
  flags.insert(flags.begin(), HTTP_EXECUTOR.begin(), HTTP_EXECUTOR.end());
  Try<Process*> slave = cluster.start_slave("cpus:4;mem:2048;disk:1000;ports:[31000-32000]", flags);
  if (slave.is_error()) {
    return Error("slave: " + slave.error());
  }
  if (!cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT))) {
    return Error("the slave never became active");
  }
  return true;
}

// The pids of running processes whose argv[0] ends with "/stoa-http-executor".
std::vector<pid_t> http_executors_in(const std::string& dir) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::string cmdline = read_file(entry.path().string() + "/cmdline");
    std::string argv0 = cmdline.substr(0, cmdline.find('\0'));
    std::string env = read_file(entry.path().string() + "/environ");
    if (argv0.size() >= 19 && argv0.compare(argv0.size() - 19, 19, "/stoa-http-executor") == 0 &&
        env.find(dir) != std::string::npos) {
      out.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return out;
}

// stoa-example-framework (checkpointing) with `count` tasks of
// `sleep 1000; echo <marker>`, once all of them run.
Try<Process*> start_checkpointing_sleepers(Cluster& cluster, int count, const std::string& marker) {
  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=" + std::to_string(count), "--checkpoint",
                     "--command=sleep 1000; echo " + marker, "--task_resources=cpus:0.1;mem:32"});
  if (framework.is_error()) {
    return framework;
  }
  if (!poll_until([&] { return tasks_in_state(**framework, "TASK_RUNNING") == static_cast<size_t>(count); },
                  deadline_in(DEFAULT_TIMEOUT))) {
    return Error("not all " + std::to_string(count) + " tasks ran:\n" + (*framework)->log());
  }
  return framework;
}

Try<HttpResponse> post_call(int port, const std::string& body, const std::string& content_type = "application/json",
                            const std::string& accept = "application/json") {
  std::string req = "POST /api/v1/executor HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + content_type +
                    "\r\nAccept: " + accept + "\r\nContent-Length: " + std::to_string(body.size()) +
                    "\r\nConnection: close\r\n\r\n" + body;
  return http_raw("127.0.0.1", port, req);
}

TEST(HttpExecutor, CommandTasksFinishFailAndAreKilled) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = start_http_cluster(cluster);
  ASSERT_TRUE(started) << started.error();

  // A task that finishes sees Mesos' environment in its sandbox.
  Try<Process*> ok = cluster.start("stoa-execute", "finishes",
                                   {"--master=" + cluster.master_address(), "--name=finishes",
                                    "--resources=cpus:0.1;mem:32",
                                    "--command=echo sandbox=$MESOS_SANDBOX; echo pwd=$(pwd); echo task=$MESOS_TASK_ID"});
  ASSERT_TRUE(ok) << ok.error();
  std::optional<int> code = (*ok)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << (*ok)->log();
  EXPECT_EQ(*code, 0) << (*ok)->log();
  std::vector<std::string> finished = (*ok)->lines_matching(std::regex(R"(\bTASK_FINISHED\b)"));
  EXPECT_EQ(finished.size(), 1U) << (*ok)->log();
  EXPECT_EQ((*ok)->lines_matching(std::regex(R"(\bTASK_STARTING\b)")).size(), 1U) << (*ok)->log();
  EXPECT_EQ((*ok)->lines_matching(std::regex(R"(\bTASK_RUNNING\b)")).size(), 1U) << (*ok)->log();
  EXPECT_EQ(cluster.slave(0)->lines_matching(std::regex("subscribed over HTTP")).size(), 1U)
      << cluster.slave(0)->log();
  std::vector<std::string> stdouts = find_files_named(cluster.slave_work_dir(0) + "/slaves", "stdout");
  ASSERT_EQ(stdouts.size(), 1U);
  const std::string sandbox = fs::path(stdouts[0]).parent_path().string();
  const std::string out = read_file(stdouts[0]);
  EXPECT_NE(out.find("sandbox=" + sandbox + "\n"), std::string::npos) << out;
  EXPECT_NE(out.find("pwd=" + sandbox + "\n"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex("task=\\S+\n"))) << out;

  // A command that fails: TASK_FAILED with its exit status.
  Try<Process*> bad = cluster.start("stoa-execute", "fails",
                                    {"--master=" + cluster.master_address(), "--name=fails",
                                     "--resources=cpus:0.1;mem:32", "--command=exit 3"});
  ASSERT_TRUE(bad) << bad.error();
  code = (*bad)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << (*bad)->log();
  EXPECT_NE(*code, 0);
  std::vector<std::string> failed = (*bad)->lines_matching(std::regex(R"(\bTASK_FAILED\b)"));
  ASSERT_EQ(failed.size(), 1U) << (*bad)->log();
  EXPECT_NE(failed[0].find("status 3"), std::string::npos) << failed[0];

  // A kill ends the task's process tree and its executor.
  const std::string marker = unique_marker();
  Try<Process*> slow = cluster.start("stoa-execute", "killed",
                                     {"--master=" + cluster.master_address(), "--name=killed",
                                      "--resources=cpus:0.1;mem:32", "--command=sleep 1000; echo " + marker});
  ASSERT_TRUE(slow) << slow.error();
  ASSERT_TRUE((*slow)->wait_for_line(std::regex(R"(\bTASK_RUNNING\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << (*slow)->log();
  ASSERT_EQ(await_task_processes(marker, **slow, 1).size(), 1U);
  ASSERT_EQ(http_executors_in(cluster.dir()).size(), 1U);
  (*slow)->kill(SIGINT);  // stoa-execute kills its task on SIGINT
  EXPECT_TRUE((*slow)->wait_for_line(std::regex(R"(\bTASK_KILLED\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << (*slow)->log();
  EXPECT_TRUE(poll_until([&] { return task_processes(marker, **slow).empty() && http_executors_in(cluster.dir()).empty(); },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "the task or its executor outlived the kill";
  EXPECT_EQ(cluster.slave(0)->lines_matching(std::regex("subscribed over HTTP")).size(), 3U);
}

TEST(HttpExecutor, KilledExecutorFailsItsTask) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = start_http_cluster(cluster);
  ASSERT_TRUE(started) << started.error();
  const std::string marker = unique_marker();
  Try<Process*> execute = cluster.start("stoa-execute", "orphan",
                                        {"--master=" + cluster.master_address(), "--name=orphan",
                                         "--resources=cpus:0.1;mem:32", "--command=sleep 1000; echo " + marker});
  ASSERT_TRUE(execute) << execute.error();
  ASSERT_TRUE((*execute)->wait_for_line(std::regex(R"(\bTASK_RUNNING\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << (*execute)->log();
  std::vector<pid_t> executors = http_executors_in(cluster.dir());
  ASSERT_EQ(executors.size(), 1U);
  ASSERT_EQ(::kill(executors[0], SIGKILL), 0);
  std::optional<int> code = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "stoa-execute did not exit after its executor was killed";
  EXPECT_NE(*code, 0);
  std::vector<std::string> failed = (*execute)->lines_matching(std::regex(R"(\bTASK_FAILED\b)"));
  ASSERT_EQ(failed.size(), 1U) << (*execute)->log();
  EXPECT_TRUE(std::regex_search(failed[0], std::regex("[Ee]xecutor"))) << failed[0];
  EXPECT_TRUE(poll_until([&] { return task_processes(marker, **execute).empty(); }, deadline_in(10s)))
      << "the task outlived its executor";
}

TEST(HttpExecutor, KilledSlaveComesBackWithItsTasksStillRunning) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-example-framework");
  Cluster cluster;
  Try<bool> started = start_http_cluster(cluster);
  ASSERT_TRUE(started) << started.error();
  const std::string marker = unique_marker();
  Try<Process*> framework = start_checkpointing_sleepers(cluster, 3, marker);
  ASSERT_TRUE(framework) << framework.error();
  std::vector<pid_t> before = await_task_processes(marker, **framework, 3);
  ASSERT_EQ(before.size(), 3U);
  std::vector<pid_t> executors = sorted(http_executors_in(cluster.dir()));
  ASSERT_EQ(executors.size(), 3U);
  const std::string slave_id = only_slave_id(cluster);
  ASSERT_FALSE(slave_id.empty());

  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(5s)));
  EXPECT_EQ(task_processes(marker, **framework), before) << "the tasks died with their slave";

  Try<Process*> restarted = cluster.restart_slave(0, "slave0-restarted");
  ASSERT_TRUE(restarted) << restarted.error();
  ASSERT_TRUE((*restarted)->wait_for_line(std::regex("Recovery finished"), deadline_in(DEFAULT_TIMEOUT)))
      << (*restarted)->log();
  ASSERT_TRUE(poll_until([&] { return running_tasks_on(cluster, slave_id) == 3; }, deadline_in(DEFAULT_TIMEOUT)))
      << "the master never saw the 3 tasks running on " << slave_id << " again";
  EXPECT_EQ(task_processes(marker, **framework), before) << "the tasks were restarted";
  EXPECT_EQ(sorted(http_executors_in(cluster.dir())), executors) << "the executors were restarted";
  EXPECT_EQ((*restarted)->lines_matching(std::regex("re-registered with 1 tasks")).size(), 3U) << (*restarted)->log();
  EXPECT_EQ((*restarted)->lines_matching(std::regex("subscribed over HTTP")).size(), 3U);
  for (const auto& [task, states] : updates_by_task(**framework)) {
    EXPECT_EQ(std::count(states.begin(), states.end(), "TASK_RUNNING"), 1) << task;
  }
}

// The standard output of `command` (run by sh), or nullopt when it failed.
std::optional<std::string> command_output(const std::string& command) {
  FILE* f = ::popen(command.c_str(), "r");
  if (f == nullptr) {
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    out.append(buf, n);
  }
  return ::pclose(f) == 0 ? std::optional<std::string>(out) : std::nullopt;
}

// The local ports of `pid`'s established TCP connections to `port` on
// loopback (`ss -tnp`).
std::vector<int> connections_of(pid_t pid, int port) {
  std::vector<int> ports;
  std::optional<std::string> out =
      command_output("ss -tnpH state established '( dport = :" + std::to_string(port) + " )' 2>/dev/null");
  if (!out) {
    return ports;
  }
  std::regex line(R"(127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:\d+\s+users:.*pid=)" + std::to_string(pid) + R"(,)");
  std::istringstream in(*out);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_search(l, m, line)) {
      ports.push_back(std::stoi(m[1]));
    }
  }
  return ports;
}

// The executor's connections break while its slave lives (cut with `ss -K`):
// a checkpointing framework's executor keeps its task and subscribes again,
// and the slave takes it back (Mesos' agent does the same); the task's
// updates go on over the new connections.
TEST(HttpExecutor, AnExecutorWhoseConnectionsBreakSubscribesAgainWithItsTask) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-example-framework");
  if (::geteuid() != 0 || !command_output("ss -V")) {
    GTEST_SKIP() << "needs root and ss (iproute2) to cut one process's TCP connections (ss -K)";
  }
  Cluster cluster;
  Try<bool> started = start_http_cluster(cluster);
  ASSERT_TRUE(started) << started.error();
  const std::string marker = unique_marker();
  Try<Process*> framework = start_checkpointing_sleepers(cluster, 1, marker);
  ASSERT_TRUE(framework) << framework.error();
  std::vector<pid_t> task = await_task_processes(marker, **framework, 1);
  ASSERT_EQ(task.size(), 1U);
  std::vector<pid_t> executors = http_executors_in(cluster.dir());
  ASSERT_EQ(executors.size(), 1U);
  const int port = cluster.slave_port(0);
  std::vector<int> cut;
  ASSERT_TRUE(poll_until([&] { return !(cut = connections_of(executors[0], port)).empty(); }, deadline_in(10s)))
      << "no connection of executor " << executors[0] << " to port " << port << " in `ss -tnp`";
  for (int p : cut) {
    ASSERT_TRUE(command_output("ss -K '( sport = :" + std::to_string(p) + " and dport = :" + std::to_string(port) +
                               " )' >/dev/null 2>&1"))
        << "ss -K failed";
  }
  std::regex subscribed("Executor \\S+ of framework \\S+ subscribed over HTTP");
  EXPECT_TRUE(poll_until([&] { return cluster.slave(0)->lines_matching(subscribed).size() == 2; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "the executor did not subscribe again:\n" << cluster.slave(0)->log();
  std::vector<std::string> stderrs = find_files_named(cluster.slave_work_dir(0) + "/slaves", "stderr");
  ASSERT_EQ(stderrs.size(), 1U);
  EXPECT_TRUE(poll_until([&] { return read_file(stderrs[0]).find("Lost the slave") != std::string::npos; },
                         deadline_in(10s)))
      << read_file(stderrs[0]);
  EXPECT_EQ(task_processes(marker, **framework), task) << "the task did not survive its executor's lost connection";
  EXPECT_EQ(http_executors_in(cluster.dir()), executors);
  // The task is still the slave's and the master's, with one TASK_RUNNING.
  EXPECT_EQ(running_tasks_on(cluster, only_slave_id(cluster)), 1);
  for (const auto& [t, states] : updates_by_task(**framework)) {
    EXPECT_EQ(std::count(states.begin(), states.end(), "TASK_RUNNING"), 1) << t;
    EXPECT_EQ(std::count(states.begin(), states.end(), "TASK_LOST") + std::count(states.begin(), states.end(), "TASK_FAILED"), 0) << t;
  }
}

TEST(HttpExecutor, ATaskWithAHealthCheckStillGetsTheExecutorThatRunsIt) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = start_http_cluster(cluster);
  ASSERT_TRUE(started) << started.error();
  Try<Process*> execute = start_health_checked_sleep(cluster, "checked");
  ASSERT_TRUE(execute) << execute.error();
  ASSERT_TRUE((*execute)->wait_for_line(HEALTHY_RUNNING, deadline_in(DEFAULT_TIMEOUT))) << (*execute)->log();
  EXPECT_TRUE(cluster.slave(0)->lines_matching(std::regex("subscribed over HTTP")).empty()) << cluster.slave(0)->log();
  EXPECT_TRUE(http_executors_in(cluster.dir()).empty());
  (*execute)->kill(SIGINT);
  EXPECT_TRUE((*execute)->wait_for_line(std::regex(R"(\bTASK_KILLED\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << (*execute)->log();
}

// The master's teardown makes the slave shut the executor down (SHUTDOWN):
// it kills its task and exits on its own, long before the slave's grace
// period would have it killed.
TEST(HttpExecutor, ATornDownFrameworksExecutorKillsItsTaskAndExits) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = start_http_cluster(cluster, {"--executor_shutdown_grace_period=60secs"});
  ASSERT_TRUE(started) << started.error();
  const std::string marker = unique_marker();
  Try<Process*> execute = cluster.start("stoa-execute", "torn",
                                        {"--master=" + cluster.master_address(), "--name=torn",
                                         "--resources=cpus:0.1;mem:32", "--command=sleep 1000; echo " + marker});
  ASSERT_TRUE(execute) << execute.error();
  ASSERT_TRUE((*execute)->wait_for_line(std::regex(R"(\bTASK_RUNNING\b)"), deadline_in(DEFAULT_TIMEOUT)))
      << (*execute)->log();
  ASSERT_EQ(await_task_processes(marker, **execute, 1).size(), 1U);
  std::vector<std::string> fids = framework_ids(cluster, "frameworks");
  ASSERT_EQ(fids.size(), 1U);
  Try<HttpResponse> r = http_raw("127.0.0.1", cluster.master_port(),
                                 "POST /master/teardown HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                 "application/x-www-form-urlencoded\r\nContent-Length: " +
                                     std::to_string(12 + fids[0].size()) + "\r\nConnection: close\r\n\r\nframeworkID=" +
                                     fids[0]);
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(cluster.slave(0)->wait_for_line(
      std::regex("Executor \\S+ of framework " + regex_escape(fids[0]) + " exited: Executor exited with status 0"),
      deadline_in(DEFAULT_TIMEOUT)))
      << cluster.slave(0)->log();
  EXPECT_TRUE(poll_until([&] { return task_processes(marker, **execute).empty(); }, deadline_in(10s)))
      << "the task outlived its executor's shutdown";
  EXPECT_TRUE(http_executors_in(cluster.dir()).empty());
}

TEST(HttpExecutor, BadCallsAreRefusedWithTheReason) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-http-executor");
  Cluster cluster;
  Try<bool> started = start_http_cluster(cluster);
  ASSERT_TRUE(started) << started.error();
  const int port = cluster.slave_port(0);
  struct Case {
    std::string body;
    std::string content_type;
    std::string accept;
    int status;
    std::string says;
  };
  const std::string ids = R"("framework_id":{"value":"f1"},"executor_id":{"value":"e1"})";
  const std::vector<Case> cases = {
      {"{}", "text/plain", "application/json", 415, "text/plain"},
      {"{\"type\":\"SUBSCRIBE\"," + ids + "}", "application/json", "text/html", 406, "text/html"},
      {"{\"type\":", "application/json", "application/json", 400, "Failed to parse"},
      {R"({"type":"SUBSCRIBE"})", "application/json", "application/json", 400, "required fields: executor_id"},
      {R"({"type":"SUBSCRIBE","framework_id":{"value":7}})", "application/json", "application/json", 400,
       "'framework_id.value' must be a string, not 7"},
      {R"({"type":"SUBSCRIBE","framework_id":{"value":""},"executor_id":{"value":"e1"}})", "application/json",
       "application/json", 400, "'framework_id' must not be empty"},
      {"{\"type\":\"UNKNOWN\"," + ids + "}", "application/json", "application/json", 400, "UNKNOWN"},
      {"{\"type\":\"UPDATE\"," + ids + "}", "application/json", "application/json", 400, "needs 'update'"},
      {"{\"type\":\"UPDATE\"," + ids +
           R"(,"update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","uuid":"AAEC"}}})",
       "application/json", "application/json", 400, "16 bytes"},
      {"{\"type\":\"UPDATE\"," + ids +
           R"(,"update":{"status":{"task_id":{"value":"t"},"state":"TASK_STAGING","uuid":"AAECAwQFBgcICQoLDA0ODw=="}}})",
       "application/json", "application/json", 400, "TASK_STAGING"},
      {"{\"type\":\"SUBSCRIBE\"," + ids + "}", "application/json", "application/json", 400,
       "Framework 'f1' is not known"},
      {"\x18\x01", "application/x-protobuf", "application/x-protobuf", 400, "required fields"},
  };
  for (const Case& c : cases) {
    Try<HttpResponse> r = post_call(port, c.body, c.content_type, c.accept);
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, c.status) << c.body << " -> " << r->body;
    EXPECT_NE(r->body.find(c.says), std::string::npos) << c.body << " -> " << r->body;
  }
  // The slave is unharmed: still active, and a GET is refused as a wrong method.
  EXPECT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  Try<HttpResponse> get = http_get("127.0.0.1", port, "/api/v1/executor");
  ASSERT_TRUE(get) << get.error();
  EXPECT_EQ(get->status, 405);
}

}  // namespace
}  // namespace stoa::tests
