// The docker containerizer end to end (docs/docker.md), on a real dockerd
// started by the fixture (tests/docker_fixture.hpp) with a busybox image
// built locally: a slave with --containerizers=docker,mesos runs tasks
// from stoa-execute --docker_image. Skips where Docker cannot run (no root,
// no docker.io or busybox-static).
#include <gtest/gtest.h>
#include <signal.h>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/json.hpp"
#include "tests/cluster.hpp"
#include "tests/docker_fixture.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

class Docker : public DockerClusterTest {
 protected:
  Process* execute(Cluster& cluster, const std::string& label, const std::string& command,
                   std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--master=" + cluster.master_address(), "--name=" + label,
                                     "--command=" + command, "--resources=cpus:0.2;mem:64",
                                     "--docker_image=" + docker_fixture().image()};
    args.insert(args.end(), extra.begin(), extra.end());
    Try<Process*> p = cluster.start("stoa-execute", label, args);
    EXPECT_TRUE(p) << p.error();
    return p ? *p : nullptr;
  }

  // The engine's containers named mesos-* (`docker ps -a`), one per line.
  std::vector<std::string> mesos_containers() {
    Try<std::string> out = docker_fixture().cli({"ps", "-a", "--filter", "name=mesos-", "--format", "{{.Names}}"});
    EXPECT_TRUE(out) << out.error();
    std::vector<std::string> names;
    std::istringstream in(out ? *out : "");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("mesos-", 0) == 0) {
        names.push_back(line);
      }
    }
    return names;
  }
};

TEST_F(Docker, EchoFinishesWithItsOutputInTheSandbox) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  const std::string marker = unique_marker();
  Process* p = execute(cluster, "echo", "echo hello-" + marker + "; echo to-stderr-" + marker + " >&2");
  ASSERT_NE(p, nullptr);
  auto done = p->wait_for_line(std::regex("TASK_(FINISHED|FAILED|KILLED|LOST|ERROR)"), deadline_in(DOCKER_TIMEOUT));
  ASSERT_TRUE(done) << p->log();
  EXPECT_NE((*done)[0].find("TASK_FINISHED"), std::string::npos) << p->log();
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(1s))) << p->log();
  // The container's stdout and stderr, each in its sandbox file.
  std::vector<std::string> out = find_files_named(cluster.slave_work_dir(0), "stdout");
  std::vector<std::string> err = find_files_named(cluster.slave_work_dir(0), "stderr");
  ASSERT_EQ(out.size(), 1U);
  ASSERT_EQ(err.size(), 1U);
  EXPECT_TRUE(poll_until([&] { return read_file(out[0]).find("hello-" + marker) != std::string::npos; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << read_file(out[0]);
  EXPECT_NE(read_file(err[0]).find("to-stderr-" + marker), std::string::npos);
  EXPECT_EQ(read_file(out[0]).find("to-stderr-" + marker), std::string::npos);
}

TEST_F(Docker, AKillWhileTheContainerIsBeingCreatedEndsKilledAndLeavesNoContainer) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  // A docker CLI (used for `create` only) that holds every call until the
  // test opens its gate (or a minute has passed).
  const std::string marker = unique_marker();
  const std::string gate = docker_fixture().dir() + "/gate-" + marker;
  const std::string cli = docker_fixture().dir() + "/gated-docker-" + marker;
  {
    std::ofstream script(cli);
    script << "#!/bin/sh\ni=0\nwhile [ ! -e " << gate << " ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n"
           << "exec " << docker_fixture().docker_cli() << " \"$@\"\n";
  }
  ASSERT_EQ(::chmod(cli.c_str(), 0755), 0);
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster, {"--docker=" + cli}));
  Process* p = execute(cluster, "early-kill", "sleep 1000");
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->wait_for_line(std::regex("TASK_STARTING"), deadline_in(DOCKER_TIMEOUT))) << p->log();
  p->kill(SIGTERM);
  // The executor has the kill while `docker create` still waits.
  auto executor_log = [&] { return docker_executor_log(cluster, "early-kill"); };
  ASSERT_TRUE(poll_until([&] { return executor_log().find("is being created") != std::string::npos; },
                         deadline_in(DOCKER_TIMEOUT)))
      << executor_log();
  std::ofstream(gate).put('\n');
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_KILLED.*Killed before the container started"),
                               deadline_in(DOCKER_TIMEOUT)))
      << p->log();
  EXPECT_TRUE(p->lines_matching(std::regex("TASK_RUNNING")).empty()) << p->log();
  // Created, never started, and removed at once (not after --docker_remove_delay).
  EXPECT_EQ(mesos_containers(), std::vector<std::string>{});
}

TEST_F(Docker, AFailingCommandFailsWithItsExitCode) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  Process* p = execute(cluster, "fail", "exit 3");
  ASSERT_NE(p, nullptr);
  auto failed = p->wait_for_line(std::regex("TASK_FAILED.*status 3"), deadline_in(DOCKER_TIMEOUT));
  EXPECT_TRUE(failed) << p->log();
}

TEST_F(Docker, AKilledContainerIsKilledAndRemovedAfterTheDelayWithItsLimitsApplied) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster, {"--docker_remove_delay=1secs"}));
  Process* p = execute(cluster, "sleeper", "sleep 1000");
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DOCKER_TIMEOUT))) << p->log();
  std::vector<std::string> names = mesos_containers();
  ASSERT_EQ(names.size(), 1U);
  // Cpu shares and memory limit from the task's resources (cpus:0.2;mem:64).
  Try<std::string> limits =
      docker_fixture().cli({"inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.CpuShares}}", names[0]});
  ASSERT_TRUE(limits) << limits.error();
  EXPECT_EQ(*limits, std::to_string(64 * 1024 * 1024) + " 205\n");
  // The master's state shows the container as Mesos does.
  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();
  std::string body = json_serialize(*state);
  EXPECT_NE(body.find("\"container\":{\"docker\":{\"image\":\"" + docker_fixture().image()), std::string::npos)
      << body;
  EXPECT_NE(body.find("\"executor_pid\""), std::string::npos) << body;
  // So does the slave's.
  Try<picojson::value> slave_state = http_get_json("127.0.0.1", cluster.slave_port(0), "/slave(1)/state");
  ASSERT_TRUE(slave_state) << slave_state.error();
  std::string slave_body = json_serialize(*slave_state);
  EXPECT_NE(slave_body.find("\"container\":{\"docker\":{\"image\":\"" + docker_fixture().image()), std::string::npos)
      << slave_body;
  EXPECT_NE(slave_body.find("Docker Executor (Task: "), std::string::npos) << slave_body;
  p->kill(SIGTERM);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_KILLED"), deadline_in(DOCKER_TIMEOUT))) << p->log();
  EXPECT_TRUE(poll_until([&] { return mesos_containers().empty(); }, deadline_in(DOCKER_TIMEOUT)))
      << "left: " << mesos_containers().size();
}

TEST_F(Docker, AnImageThatCannotBePulledFailsTheTaskWithTheEnginesMessageAndForcePullAlwaysPulls) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  // A registry on loopback where nothing listens: the pull fails at once,
  // and nothing leaves the machine.
  const std::string registry = "127.0.0.1:" + std::to_string(free_loopback_port());
  Try<Process*> started = cluster.start("stoa-execute", "missing",
                                        {"--master=" + cluster.master_address(), "--name=missing", "--command=true",
                                         "--resources=cpus:0.1;mem:32", "--docker_image=" + registry + "/stoa/none:1"});
  ASSERT_TRUE(started) << started.error();
  Process* missing = *started;
  EXPECT_TRUE(missing->wait_for_line(
      std::regex("TASK_FAILED.*Failed to pull image '" + regex_escape(registry) + "/stoa/none:1'.*" +
                 regex_escape(registry) + ".*REASON_CONTAINER_LAUNCH_FAILED"),
      deadline_in(DOCKER_TIMEOUT)))
      << missing->log();
  // Present locally under that name, but force_pull_image pulls anyway.
  const std::string local = registry + "/stoa/busybox:local";
  Try<std::string> tagged = docker_fixture().cli({"tag", docker_fixture().image(), local});
  ASSERT_TRUE(tagged) << tagged.error();
  std::string task = R"({"name":"forced","command":{"value":"true"},"container":{"type":"DOCKER","docker":{"image":")" +
                     local + R"(","force_pull_image":true}}})";
  Try<Process*> forced = cluster.start("stoa-execute", "forced",
                                       {"--master=" + cluster.master_address(), "--task=" + task,
                                        "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(forced) << forced.error();
  EXPECT_TRUE((*forced)->wait_for_line(std::regex("TASK_FAILED.*Failed to pull image '" + regex_escape(local) + "'"),
                                       deadline_in(DOCKER_TIMEOUT)))
      << (*forced)->log();
  EXPECT_TRUE(mesos_containers().empty());
}

TEST_F(Docker, AnUnreachableEngineFailsDockerTasksAndLeavesCommandTasksRunning) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-docker-executor", "stoa-execute");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  const std::string socket = cluster.dir() + "/no-docker.sock";
  ASSERT_TRUE(cluster.start_slave("cpus:2;mem:1024;disk:1000",
                                  {"--containerizers=docker,mesos", "--docker_socket=" + socket}));
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  Try<Process*> docker = cluster.start("stoa-execute", "docker",
                                       {"--master=" + cluster.master_address(), "--name=d", "--command=true",
                                        "--resources=cpus:0.1;mem:32", "--docker_image=busybox"});
  ASSERT_TRUE(docker) << docker.error();
  auto failed = (*docker)->wait_for_line(std::regex("TASK_FAILED.*Docker is not available.*" + regex_escape(socket)),
                                         deadline_in(DEFAULT_TIMEOUT));
  EXPECT_TRUE(failed) << (*docker)->log();
  Try<Process*> plain = cluster.start("stoa-execute", "plain",
                                      {"--master=" + cluster.master_address(), "--name=p", "--command=true",
                                       "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_TRUE((*plain)->wait_for_line(std::regex("TASK_FINISHED"), deadline_in(DEFAULT_TIMEOUT))) << (*plain)->log();
}

TEST_F(Docker, ADockerTaskOnASlaveWithoutTheDockerContainerizerFailsNamingTheFlag) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_with_slaves(1));
  Try<Process*> p = cluster.start("stoa-execute", "docker",
                                  {"--master=" + cluster.master_address(), "--name=d", "--command=true",
                                   "--resources=cpus:0.1;mem:32", "--docker_image=busybox"});
  ASSERT_TRUE(p) << p.error();
  EXPECT_TRUE((*p)->wait_for_line(std::regex("TASK_FAILED.*--containerizers=mesos.*REASON_CONTAINER_LAUNCH_FAILED"),
                                  deadline_in(DEFAULT_TIMEOUT)))
      << (*p)->log();
}

TEST_F(Docker, OrphansOfThisSlaveAreKilledAndOthersLeftAlone) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  // What an earlier run of this slave (same --work_dir: start_slave gives
  // the first slave <dir>/slave0) left, and a container of another slave on
  // the same engine.
  const std::string work_dir = cluster.dir() + "/slave0";
  const std::string ours = "mesos-" + unique_marker();
  const std::string theirs = "mesos-" + unique_marker();
  for (auto [name, label] : {std::pair{ours, work_dir}, std::pair{theirs, std::string("/elsewhere")}}) {
    Try<std::string> run = docker_fixture().cli(
        {"run", "-d", "--net=none", "--name", name, "--label", "stoa.work_dir=" + label, docker_fixture().image(),
         "sleep", "1000"});
    ASSERT_TRUE(run) << run.error();
  }
  std::vector<std::string> flags = {"--containerizers=docker,mesos", "--docker=" + docker_fixture().docker_cli(),
                                    "--docker_socket=" + docker_fixture().socket()};
  ASSERT_TRUE(cluster.start_slave("cpus:2;mem:1024;disk:1000", flags));
  EXPECT_TRUE(poll_until(
      [&] {
        std::vector<std::string> left = mesos_containers();
        return std::find(left.begin(), left.end(), ours) == left.end();
      },
      deadline_in(DOCKER_TIMEOUT)))
      << cluster.slave(0)->log();
  std::vector<std::string> left = mesos_containers();
  EXPECT_NE(std::find(left.begin(), left.end(), theirs), left.end()) << "another slave's container was killed";
}

TEST_F(Docker, ACheckpointedContainerSurvivesASlaveRestartAndIsKilledAfter) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  Process* p = execute(cluster, "durable", "sleep 1000", {"--checkpoint"});
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DOCKER_TIMEOUT))) << p->log();
  std::vector<std::string> before = mesos_containers();
  ASSERT_EQ(before.size(), 1U);
  cluster.slave(0)->kill(SIGKILL);
  ASSERT_TRUE(cluster.slave(0)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  Try<Process*> again = cluster.restart_slave(0, "slave0-again");
  ASSERT_TRUE(again) << again.error();
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  // Re-attached: the executor re-registered, the container still runs.
  EXPECT_TRUE((*again)->wait_for_line(std::regex("Adopted Docker container " + before[0]), deadline_in(DEFAULT_TIMEOUT)))
      << (*again)->log();
  Try<std::string> running = docker_fixture().cli({"inspect", "--format", "{{.State.Running}}", before[0]});
  ASSERT_TRUE(running) << running.error();
  EXPECT_EQ(*running, "true\n");
  p->kill(SIGTERM);
  EXPECT_TRUE(p->wait_for_line(std::regex("TASK_KILLED"), deadline_in(DOCKER_TIMEOUT))) << p->log();
}

TEST_F(Docker, ABridgedContainerAnswersOnItsMappedHostPort) {
  STOA_REQUIRE_DOCKER_CLUSTER();
  if (!docker_fixture().bridge_available()) {
    GTEST_SKIP() << "no bridge network for Docker here: " << docker_fixture().bridge_unavailable_reason();
  }
  Cluster cluster;
  ASSERT_TRUE(start_docker_cluster(cluster));
  const int port = 31000 + free_loopback_port() % 1000;
  const std::string marker = unique_marker();
  std::string task = R"({"name":"web","command":{"value":"mkdir -p /www && echo )" + marker +
                     R"( > /www/index.html && exec httpd -f -p 8080 -h /www"},)"
                     R"("resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.2}},)"
                     R"({"name":"mem","type":"SCALAR","scalar":{"value":64}},)"
                     R"({"name":"ports","type":"RANGES","ranges":{"range":[{"begin":)" +
                     std::to_string(port) + R"(,"end":)" + std::to_string(port) +
                     R"(}]}}],"container":{"type":"DOCKER","docker":{"image":")" + docker_fixture().image() +
                     R"(","network":"BRIDGE","port_mappings":[{"host_port":)" + std::to_string(port) +
                     R"(,"container_port":8080}]}}})";
  Try<Process*> p = cluster.start("stoa-execute", "web", {"--master=" + cluster.master_address(), "--task=" + task});
  ASSERT_TRUE(p) << p.error();
  ASSERT_TRUE((*p)->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DOCKER_TIMEOUT))) << (*p)->log();
  std::string body;
  EXPECT_TRUE(poll_until(
      [&] {
        Try<HttpResponse> r = http_get("127.0.0.1", port, "/index.html");
        body = r ? r->body : r.error();
        return r && r->status == 200;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << body;
  EXPECT_NE(body.find(marker), std::string::npos) << body;
  (*p)->kill(SIGTERM);
  EXPECT_TRUE((*p)->wait_for_line(std::regex("TASK_KILLED"), deadline_in(DOCKER_TIMEOUT))) << (*p)->log();
}

}  // namespace
}  // namespace stoa::tests
