#include "slave/docker_task.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "common/resources.hpp"

namespace stoa::slave {
namespace {

DockerTaskOptions options() {
  DockerTaskOptions o;
  o.container_name = "mesos-c1";
  o.container_id = "c1";
  o.sandbox = "/var/lib/stoa/slaves/S/frameworks/F/executors/t/runs/c1";
  o.mapped_directory = "/mnt/mesos/sandbox";
  o.work_dir = "/var/lib/stoa";
  o.slave_id = "S";
  return o;
}

TaskInfo docker_task(const std::string& resources = "cpus:0.5;mem:64;ports:[31000-31001]") {
  TaskInfo t;
  t.set_name("t");
  t.mutable_task_id()->set_value("t1");
  t.mutable_slave_id()->set_value("S");
  Resources::parse(resources)->to_proto(t.mutable_resources());
  t.mutable_command()->set_value("echo hi");
  t.mutable_container()->set_type(ContainerInfo::DOCKER);
  t.mutable_container()->mutable_docker()->set_image("busybox:1");
  return t;
}

bool has(const std::vector<std::string>& args, const std::string& a) {
  return std::find(args.begin(), args.end(), a) != args.end();
}

// `flag value` as two consecutive arguments.
bool has_pair(const std::vector<std::string>& args, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag && args[i + 1] == value) {
      return true;
    }
  }
  return false;
}

std::string error_of(const TaskInfo& t) {
  Try<std::vector<std::string>> args = docker_create_args(t, options());
  return args.is_error() ? args.error() : "";
}

TEST(DockerTask, AShellCommandRunsUnderShWithTheSandboxAndLimits) {
  TaskInfo t = docker_task();
  auto* v = t.mutable_command()->mutable_environment()->add_variables();
  v->set_name("GREETING");
  v->set_value("hello");
  Try<std::vector<std::string>> args = docker_create_args(t, options());
  ASSERT_TRUE(args.is_some()) << args.error();
  const std::vector<std::string>& a = *args;
  EXPECT_TRUE(has(a, "--name=mesos-c1"));
  EXPECT_TRUE(has(a, "--label=stoa.work_dir=/var/lib/stoa"));
  EXPECT_TRUE(has(a, "--label=stoa.slave_id=S"));
  EXPECT_TRUE(has(a, "--label=stoa.container_id=c1"));
  EXPECT_TRUE(has(a, "--cpu-shares=512"));
  EXPECT_TRUE(has(a, "--memory=64m"));
  EXPECT_TRUE(has_pair(a, "-e", "GREETING=hello"));
  EXPECT_TRUE(has_pair(a, "-e", "MESOS_SANDBOX=/mnt/mesos/sandbox"));
  EXPECT_TRUE(has_pair(a, "-e", "MESOS_TASK_ID=t1"));
  EXPECT_TRUE(has_pair(a, "-e", "MESOS_CONTAINER_NAME=mesos-c1"));
  EXPECT_TRUE(has_pair(a, "-v", options().sandbox + ":/mnt/mesos/sandbox"));
  EXPECT_TRUE(has(a, "--net=host"));  // Mesos' default network
  // The command last: entrypoint before the image, -c value after it.
  ASSERT_GE(a.size(), 4U);
  EXPECT_EQ(std::vector<std::string>(a.end() - 4, a.end()),
            (std::vector<std::string>{"--entrypoint=/bin/sh", "busybox:1", "-c", "echo hi"}));
}

TEST(DockerTask, LimitsHaveMesosFloors) {
  Try<std::vector<std::string>> tiny = docker_create_args(docker_task("cpus:0.001;mem:4"), options());
  ASSERT_TRUE(tiny.is_some()) << tiny.error();
  EXPECT_TRUE(has(*tiny, "--cpu-shares=2"));
  EXPECT_TRUE(has(*tiny, "--memory=32m"));
  Try<std::vector<std::string>> no_mem = docker_create_args(docker_task("cpus:2"), options());
  ASSERT_TRUE(no_mem.is_some()) << no_mem.error();
  EXPECT_TRUE(has(*no_mem, "--cpu-shares=2048"));
  EXPECT_TRUE(std::none_of(no_mem->begin(), no_mem->end(), [](const std::string& s) { return s.rfind("--memory", 0) == 0; }));
}

TEST(DockerTask, WithoutShellValueAndArgumentsGoToTheImagesEntrypoint) {
  TaskInfo t = docker_task();
  t.mutable_command()->set_shell(false);
  t.mutable_command()->clear_value();
  t.mutable_command()->add_arguments("--port");
  t.mutable_command()->add_arguments("80");
  Try<std::vector<std::string>> args = docker_create_args(t, options());
  ASSERT_TRUE(args.is_some()) << args.error();
  EXPECT_FALSE(has(*args, "--entrypoint=/bin/sh"));
  EXPECT_EQ(std::vector<std::string>(args->end() - 3, args->end()),
            (std::vector<std::string>{"busybox:1", "--port", "80"}));
  t.mutable_command()->set_value("/bin/server");
  args = docker_create_args(t, options());
  ASSERT_TRUE(args.is_some()) << args.error();
  EXPECT_EQ(std::vector<std::string>(args->end() - 4, args->end()),
            (std::vector<std::string>{"busybox:1", "/bin/server", "--port", "80"}));
}

TEST(DockerTask, VolumesNetworksPortsPrivilegeHostnameAndParameters) {
  TaskInfo t = docker_task();
  ContainerInfo& c = *t.mutable_container();
  auto* abs = c.add_volumes();
  abs->set_host_path("/etc/hosts");
  abs->set_container_path("/etc/hosts");
  abs->set_mode(Volume::RO);
  auto* rel = c.add_volumes();
  rel->set_host_path("data");
  rel->set_container_path("data");
  c.mutable_docker()->set_network(ContainerInfo::DockerInfo::BRIDGE);
  auto* m = c.mutable_docker()->add_port_mappings();
  m->set_host_port(31001);
  m->set_container_port(80);
  auto* u = c.mutable_docker()->add_port_mappings();
  u->set_host_port(31000);
  u->set_container_port(53);
  u->set_protocol("udp");
  c.mutable_docker()->set_privileged(true);
  c.set_hostname("web");
  auto* p = c.mutable_docker()->add_parameters();
  p->set_key("label");
  p->set_value("team=a");
  Try<std::vector<std::string>> args = docker_create_args(t, options());
  ASSERT_TRUE(args.is_some()) << args.error();
  const std::vector<std::string>& a = *args;
  EXPECT_TRUE(has_pair(a, "-v", "/etc/hosts:/etc/hosts:ro"));
  EXPECT_TRUE(has_pair(a, "-v", options().sandbox + "/data:/mnt/mesos/sandbox/data:rw"));
  EXPECT_TRUE(has(a, "--net=bridge"));
  EXPECT_TRUE(has_pair(a, "-p", "31001:80/tcp"));
  EXPECT_TRUE(has_pair(a, "-p", "31000:53/udp"));
  EXPECT_TRUE(has(a, "--privileged"));
  EXPECT_TRUE(has(a, "--hostname=web"));
  EXPECT_TRUE(has(a, "--label=team=a"));
  TaskInfo none = docker_task();
  none.mutable_container()->mutable_docker()->set_network(ContainerInfo::DockerInfo::NONE);
  EXPECT_TRUE(has(*docker_create_args(none, options()), "--net=none"));
  TaskInfo user = docker_task();
  user.mutable_container()->mutable_docker()->set_network(ContainerInfo::DockerInfo::USER);
  user.mutable_container()->add_network_infos()->set_name("backend");
  EXPECT_TRUE(has(*docker_create_args(user, options()), "--net=backend"));
}

TEST(DockerTask, BadFieldsAreNamed) {
  TaskInfo not_docker = docker_task();
  not_docker.mutable_container()->set_type(ContainerInfo::MESOS);
  EXPECT_NE(error_of(not_docker).find("not of type DOCKER"), std::string::npos);
  TaskInfo no_image = docker_task();
  no_image.mutable_container()->mutable_docker()->clear_image();
  EXPECT_NE(error_of(no_image).find("docker.image"), std::string::npos);
  TaskInfo host_ports = docker_task();
  auto* m = host_ports.mutable_container()->mutable_docker()->add_port_mappings();
  m->set_host_port(31000);
  m->set_container_port(80);
  EXPECT_NE(error_of(host_ports).find("31000:80 needs docker.network BRIDGE or USER, not HOST"), std::string::npos)
      << error_of(host_ports);
  TaskInfo foreign = host_ports;
  foreign.mutable_container()->mutable_docker()->set_network(ContainerInfo::DockerInfo::BRIDGE);
  foreign.mutable_container()->mutable_docker()->mutable_port_mappings(0)->set_host_port(8080);
  EXPECT_NE(error_of(foreign).find("host port 8080"), std::string::npos) << error_of(foreign);
  TaskInfo sctp = foreign;
  sctp.mutable_container()->mutable_docker()->mutable_port_mappings(0)->set_host_port(31000);
  sctp.mutable_container()->mutable_docker()->mutable_port_mappings(0)->set_protocol("sctp");
  EXPECT_NE(error_of(sctp).find("'sctp'"), std::string::npos) << error_of(sctp);
  TaskInfo user = docker_task();
  user.mutable_container()->mutable_docker()->set_network(ContainerInfo::DockerInfo::USER);
  EXPECT_NE(error_of(user).find("network_infos[0].name"), std::string::npos);
  TaskInfo volume = docker_task();
  volume.mutable_container()->add_volumes()->set_container_path("/x");
  EXPECT_NE(error_of(volume).find("volume '/x' has no host_path"), std::string::npos) << error_of(volume);
  TaskInfo param = docker_task();
  auto* p = param.mutable_container()->mutable_docker()->add_parameters();
  p->set_key("-m");
  p->set_value("1g");
  EXPECT_NE(error_of(param).find("'-m'"), std::string::npos) << error_of(param);
  TaskInfo empty = docker_task();
  empty.mutable_command()->clear_value();
  EXPECT_NE(error_of(empty).find("shell command is empty"), std::string::npos);
  TaskInfo env = docker_task();
  env.mutable_command()->mutable_environment()->add_variables()->set_name("A=B");
  EXPECT_NE(error_of(env).find("'A=B'"), std::string::npos) << error_of(env);
}

}  // namespace
}  // namespace stoa::slave
