// stoa-docker-executor end to end (slave/docker_executor_main.cpp,
// docs/docker.md, docs/health-checks.md "Checks of Docker tasks"): what
// tests/docker_test.cpp leaves out, on the same real dockerd
// (tests/docker_fixture.hpp) through a real master and slave — health
// checks against the container (COMMAND through the engine's exec, HTTP
// inside its network namespace), a health-check kill, the engine's OOM
// kill, a container that cannot be created, TASK_RUNNING's
// container_status, the container killed with a lost slave, and waits on
// the container that the engine drops (through tests/docker_fixture.hpp's
// EngineProxy). Skips where Docker cannot run.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <regex>

#include "common/json.hpp"
#include "common/strings.hpp"
#include "tests/cluster.hpp"
#include "tests/docker_fixture.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

class DockerExecutor : public DockerClusterTest {
 protected:
  // stoa-execute --task with the fixture's image; `docker` and `extra` are
  // JSON members added to DockerInfo and to the task.
  Process* run_task(Cluster& cluster, const std::string& label, const std::string& command,
                    const std::string& docker = "", const std::string& extra = "",
                    const std::string& resources = "cpus:0.2;mem:64", const std::vector<std::string>& flags = {}) {
    std::string task = R"({"name":")" + label + R"(","command":{"value":)" + json_quote(command) +
                       R"(},"container":{"type":"DOCKER","docker":{"image":")" + docker_fixture().image() + "\"" +
                       (docker.empty() ? "" : "," + docker) + "}}" + (extra.empty() ? "" : "," + extra) + "}";
    std::vector<std::string> args = {"--master=" + cluster.master_address(), "--task=" + task,
                                     "--resources=" + resources};
    args.insert(args.end(), flags.begin(), flags.end());
    Try<Process*> p = cluster.start("stoa-execute", label, args);
    EXPECT_TRUE(p) << p.error();
    return p ? *p : nullptr;
  }

  static std::string json_quote(const std::string& text) { return json_serialize(picojson::value(text)); }
};

TEST_F(DockerExecutor, CommandHealthChecksRunInsideTheContainerAndRunningCarriesItsAddress) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  // The file exists only inside the container: the check passes there only.
  const std::string marker = "/tmp/stoa-in-container-" + unique_marker();
  ASSERT_FALSE(std::filesystem::exists(marker));
  Process* p = run_task(cluster, "checked", "touch " + marker + " && exec sleep 1000", "",
                        R"("health_check":{"type":"COMMAND","command":{"value":"test -f )" + marker +
                            R"("},"delay_seconds":0,"interval_seconds":1,"grace_period_seconds":30})");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_RUNNING.*\\[healthy\\]"), deadline_in(DOCKER_TIMEOUT))) << p->log();
  // Host networking: the container's address is the slave's.
  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();
  std::string body = json_serialize(*state);
  EXPECT_NE(body.find(R"("ip_address":"127.0.0.1")"), std::string::npos) << body;
  p->kill(SIGTERM);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_KILLED"), deadline_in(DOCKER_TIMEOUT))) << p->log();
}

// How often `needle` occurs in `text`.
int count_occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

TEST_F(DockerExecutor, CommandHealthChecksGetTheirEnvironmentAndATimedOutOneIsKilledInTheContainer) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  // Healthy only with its environment (a value a shell would split).
  Process* ok = run_task(cluster, "env-checked", "exec sleep 1000", "",
                         R"("health_check":{"type":"COMMAND","command":{"value":"test \"$CHECK_VALUE\" = 'a b'",)"
                         R"("environment":{"variables":[{"name":"CHECK_VALUE","value":"a b"}]}},)"
                         R"("delay_seconds":0,"interval_seconds":1,"grace_period_seconds":30})");
  ASSERT_NE(ok, nullptr);
  EXPECT_TRUE(ok->wait_for_line(std::regex("TASK_RUNNING.*\\[healthy\\]"), deadline_in(DOCKER_TIMEOUT))) << ok->log();
  // Each check outlives its 1 s timeout: each must be killed inside the
  // container (the engine would let it sleep on), so that they never pile up.
  Process* p = run_task(cluster, "slow-checked", "exec sleep 1000", "",
                        R"("health_check":{"type":"COMMAND","command":{"value":"sleep 304"},"delay_seconds":0,)"
                        R"("interval_seconds":1,"timeout_seconds":1,"grace_period_seconds":300,)"
                        R"("consecutive_failures":100})");
  ASSERT_NE(p, nullptr);
  // Inside the grace period, each failed check is a line of the executor's log.
  auto failed_checks = [&] {
    return count_occurrences(docker_executor_log(cluster, "slow-checked"),
                             "Ignoring a failed health check inside the grace period");
  };
  EXPECT_TRUE(poll_until([&] { return failed_checks() >= 3; }, deadline_in(DOCKER_TIMEOUT))) << p->log();
  Try<std::string> names = docker_fixture().cli({"ps", "--filter", "name=mesos-", "--format", "{{.Names}}"});
  ASSERT_TRUE(names) << names.error();
  int checks_alive = 0;
  for (const std::string& name : split(trim(*names), '\n')) {
    Try<std::string> ps = docker_fixture().cli({"exec", std::string(trim(name)), "ps", "-o", "args"});
    ASSERT_TRUE(ps) << ps.error();
    for (const std::string& line : split(*ps, '\n')) {
      checks_alive += line.find("sleep 304") != std::string::npos ? 1 : 0;
    }
  }
  // At most the check under way now.
  EXPECT_LE(checks_alive, 1);
  p->kill(SIGTERM);
  ok->kill(SIGTERM);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_KILLED"), deadline_in(DOCKER_TIMEOUT))) << p->log();
  EXPECT_TRUE(ok->wait_for_line(std::regex("TASK_KILLED"), deadline_in(DOCKER_TIMEOUT))) << ok->log();
}

TEST_F(DockerExecutor, HttpHealthChecksConnectInsideTheContainersNetworkNamespace) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  // Free here: the server listens on it only inside the container, whose
  // network (NONE) has nothing but its own loopback.
  const std::string port = std::to_string(free_loopback_port());
  Process* p = run_task(cluster, "web", "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 127.0.0.1:" +
                                            port + " -h /www",
                        R"("network":"NONE")",
                        R"("health_check":{"type":"HTTP","http":{"port":)" + port +
                            R"(,"path":"/index.html"},"delay_seconds":0,"interval_seconds":1,"grace_period_seconds":30})");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_RUNNING.*\\[healthy\\]"), deadline_in(DOCKER_TIMEOUT))) << p->log();
  p->kill(SIGTERM);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_KILLED"), deadline_in(DOCKER_TIMEOUT))) << p->log();
}

TEST_F(DockerExecutor, AFailingHealthCheckKillsTheContainer) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  Process* p = run_task(cluster, "sick", "exec sleep 1000", "",
                        R"("health_check":{"type":"COMMAND","command":{"value":"exit 7"},"delay_seconds":0,)"
                        R"("interval_seconds":1,"grace_period_seconds":0,"consecutive_failures":1})");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_RUNNING.*exited with status 7.*\\[unhealthy\\]"),
                               deadline_in(DOCKER_TIMEOUT)))
      << p->log();
  EXPECT_TRUE(p->wait_for_line(
      std::regex("TASK_KILLED.*Task killed after 1 failed health check.*REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"),
      deadline_in(DOCKER_TIMEOUT)))
      << p->log();
}

TEST_F(DockerExecutor, AContainerKilledForItsMemoryFailsWithTheMemoryLimitation) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  // dd's 200 MB block is far above the 32 MB limit. It starts two seconds
  // in: the engine's containerd shim watches a container's cgroup for OOM
  // kills only once the start has returned, so a kill in the first moments
  // can go unrecorded (seen under load: exit 137 with OOMKilled false and
  // the container's pid already 0 when the start returned; docs/docker.md).
  Process* p = run_task(cluster, "hog", "sleep 2 && dd if=/dev/zero of=/dev/null bs=200M count=1", "", "",
                        "cpus:0.2;mem:32");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->wait_for_line(
      std::regex("TASK_FAILED.*Memory limit exceeded: Requested: 32MB.*status 137.*REASON_CONTAINER_LIMITATION_MEMORY"),
      deadline_in(DOCKER_TIMEOUT)))
      << p->log();
}

TEST_F(DockerExecutor, AContainerThatCannotBeCreatedFailsTheLaunchWithTheCliMessage) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  Process* p = run_task(cluster, "bad", "true", R"("parameters":[{"key":"no-such-option","value":"x"}])");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->wait_for_line(
      // One line: the CLI's message and the reason (the CLI's lines are joined).
      std::regex("TASK_FAILED.*Failed to launch container: .*--no-such-option.*\\(REASON_CONTAINER_LAUNCH_FAILED\\)"),
      deadline_in(DOCKER_TIMEOUT)))
      << p->log();
}

TEST_F(DockerExecutor, LosingTheSlaveWithoutCheckpointingKillsTheContainer) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  Process* p = run_task(cluster, "doomed", "exec sleep 1000");
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DOCKER_TIMEOUT))) << p->log();
  Try<std::string> name = docker_fixture().cli({"ps", "--filter", "name=mesos-", "--format", "{{.Names}}"});
  ASSERT_TRUE(name) << name.error();
  ASSERT_EQ(name->rfind("mesos-", 0), 0U) << *name;
  const std::string container(trim(*name));
  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  std::string running;
  EXPECT_TRUE(poll_until(
      [&] {
        Try<std::string> r = docker_fixture().cli({"inspect", "--format", "{{.State.Running}}", container});
        running = r ? *r : r.error();
        return r && *r == "false\n";
      },
      deadline_in(DOCKER_TIMEOUT)))
      << container << " still running: " << running;
}

TEST_F(DockerExecutor, AStopTheEngineDoesNotAnswerInTimeIsRetriedAsAKill) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  // stoa-execute kills the task 5 s after TASK_RUNNING (and, unlike after a
  // signal, waits for TASK_KILLED as long as it takes).
  Process* p = run_task(cluster, "engine_frozen", "exec sleep 1000", "", "", "cpus:0.2;mem:64", {"--kill_after=5secs"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DOCKER_TIMEOUT))) << p->log();
  // Before the kill, the engine freezes (SIGSTOP) until the executor has
  // given up on its stop (the engine client's 30 s timeout); it always
  // resumes.
  const pid_t dockerd = docker_fixture().dockerd_pid();
  ASSERT_GT(dockerd, 0);
  ASSERT_EQ(::kill(dockerd, SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{dockerd};
  EXPECT_TRUE(poll_until([&] { return docker_executor_log(cluster, "engine_frozen").find("Stopping container") != std::string::npos; },
                         deadline_in(DOCKER_TIMEOUT)))
      << docker_executor_log(cluster, "engine_frozen");
  EXPECT_TRUE(p->lines_matching(std::regex("TASK_KILLED")).empty()) << "killed while the engine was frozen";
  EXPECT_TRUE(poll_until(
      [&] { return docker_executor_log(cluster, "engine_frozen").find("Cannot stop container") != std::string::npos; },
      deadline_in(DOCKER_TIMEOUT)))
      << docker_executor_log(cluster, "engine_frozen");
  ::kill(dockerd, SIGCONT);
  // The retry (a SIGKILL) ends it.
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_KILLED"), deadline_in(DOCKER_TIMEOUT))) << p->log();
}

// The engine drops the executor's first two waits on the container (as when
// it restarts): the executor waits again and still reports the exit status.
TEST_F(DockerExecutor, AWaitTheEngineDropsIsRetriedAndTheExitStatusStillArrives) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  EngineProxy proxy(docker_fixture().dir() + "/proxy.sock", docker_fixture().socket());
  ASSERT_EQ(proxy.error(), "");
  proxy.cut("/wait", 2);
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster, {"--docker_socket=unix://" + proxy.socket()}));
  Process* p = run_task(cluster, "dropped_waits", "sleep 2; exit 3");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_FAILED.*exited with status 3"), deadline_in(DOCKER_TIMEOUT)))
      << p->log() << docker_executor_log(cluster, "dropped_waits");
  EXPECT_EQ(proxy.cuts(), 2);
  const std::string log = docker_executor_log(cluster, "dropped_waits");
  const std::regex retry("Waiting for container \\S+ failed");
  const auto retries = std::distance(std::sregex_iterator(log.begin(), log.end(), retry), std::sregex_iterator());
  EXPECT_EQ(retries, 2) << log;
}

// Every wait dropped: after its attempts the executor fails the task, saying
// it lost track of the container, instead of waiting forever.
TEST_F(DockerExecutor, AContainerTheEngineNeverLetsUsWaitOnFailsTheTask) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  EngineProxy proxy(docker_fixture().dir() + "/proxy.sock", docker_fixture().socket());
  ASSERT_EQ(proxy.error(), "");
  proxy.cut("/wait", 1000);
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster, {"--docker_socket=unix://" + proxy.socket()}));
  Process* p = run_task(cluster, "lost_track", "exec sleep 1000");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_FAILED.*Lost track of container mesos-"), deadline_in(DOCKER_TIMEOUT)))
      << p->log() << docker_executor_log(cluster, "lost_track");
  EXPECT_EQ(proxy.cuts(), 5);
}

}  // namespace
}  // namespace stoa::tests
