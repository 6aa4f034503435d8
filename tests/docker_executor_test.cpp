// stoa-docker-executor end to end (slave/docker_executor_main.cpp,
// docs/docker.md, docs/health-checks.md "Checks of Docker tasks"): what
// tests/docker_test.cpp leaves out, on the same real dockerd
// (tests/docker_fixture.hpp) through a real master and slave — health
// checks against the container (COMMAND through the engine's exec, HTTP
// inside its network namespace), a health-check kill, the engine's OOM
// kill, a container that cannot be created, TASK_RUNNING's
// container_status, and the container killed with a lost slave. Skips where Docker cannot run.
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

// Containers get up to this long to be created and started (vfs copies the
// image's layer for each one).
constexpr auto DOCKER_TIMEOUT = 60s;

class DockerExecutor : public ::testing::Test {
 protected:
  // A master and one slave with the docker containerizer on the fixture's
  // engine; active.
  ::testing::AssertionResult start_cluster(Cluster& cluster) {
    if (!cluster.start_master()) {
      return ::testing::AssertionFailure() << "the master did not start";
    }
    std::vector<std::string> flags = {"--containerizers=docker,mesos", "--docker=" + docker_fixture().docker_cli(),
                                      "--docker_socket=" + docker_fixture().socket()};
    if (!cluster.start_slave("cpus:2;mem:1024;disk:1000;ports:[31000-32000]", flags)) {
      return ::testing::AssertionFailure() << "the slave did not start";
    }
    if (!cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT))) {
      return ::testing::AssertionFailure() << "the slave did not become active";
    }
    return ::testing::AssertionSuccess();
  }

  // stoa-execute --task with the fixture's image; `docker` and `extra` are
  // JSON members added to DockerInfo and to the task.
  Process* run_task(Cluster& cluster, const std::string& label, const std::string& command,
                    const std::string& docker = "", const std::string& extra = "",
                    const std::string& resources = "cpus:0.2;mem:64") {
    std::string task = R"({"name":")" + label + R"(","command":{"value":)" + json_quote(command) +
                       R"(},"container":{"type":"DOCKER","docker":{"image":")" + docker_fixture().image() + "\"" +
                       (docker.empty() ? "" : "," + docker) + "}}" + (extra.empty() ? "" : "," + extra) + "}";
    Try<Process*> p = cluster.start("stoa-execute", label,
                                    {"--master=" + cluster.master_address(), "--task=" + task,
                                     "--resources=" + resources});
    EXPECT_TRUE(p) << p.error();
    return p ? *p : nullptr;
  }

  static std::string json_quote(const std::string& text) { return json_serialize(picojson::value(text)); }

  void TearDown() override {
    if (docker_fixture().usable()) {
      docker_fixture().remove_all_containers();
    }
  }
};

#define REQUIRE_DOCKER_CLUSTER()                                                                 \
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-docker-executor", \
                        "stoa-execute");                                                         \
  STOA_REQUIRE_DOCKER()

TEST_F(DockerExecutor, CommandHealthChecksRunInsideTheContainerAndRunningCarriesItsAddress) {
  REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster));
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

TEST_F(DockerExecutor, HttpHealthChecksConnectInsideTheContainersNetworkNamespace) {
  REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster));
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
  REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster));
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
  REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster));
  // dd's 200 MB block is far above the 32 MB limit.
  Process* p = run_task(cluster, "hog", "dd if=/dev/zero of=/dev/null bs=200M count=1", "", "", "cpus:0.2;mem:32");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->wait_for_line(
      std::regex("TASK_FAILED.*Memory limit exceeded: Requested: 32MB.*status 137.*REASON_CONTAINER_LIMITATION_MEMORY"),
      deadline_in(DOCKER_TIMEOUT)))
      << p->log();
}

TEST_F(DockerExecutor, AContainerThatCannotBeCreatedFailsTheLaunchWithTheCliMessage) {
  REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster));
  Process* p = run_task(cluster, "bad", "true", R"("parameters":[{"key":"no-such-option","value":"x"}])");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->wait_for_line(
      // One line: the CLI's message and the reason (the CLI's lines are joined).
      std::regex("TASK_FAILED.*Failed to launch container: .*--no-such-option.*\\(REASON_CONTAINER_LAUNCH_FAILED\\)"),
      deadline_in(DOCKER_TIMEOUT)))
      << p->log();
}

TEST_F(DockerExecutor, LosingTheSlaveWithoutCheckpointingKillsTheContainer) {
  REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_cluster(cluster));
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

}  // namespace
}  // namespace stoa::tests
