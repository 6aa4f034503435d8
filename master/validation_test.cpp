#include "master/validation.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace stoa::master {
namespace {

MasterState with_offers() {
  MasterState s;
  for (auto [oid, fid, sid] : {std::tuple{"O1", "F", "S1"}, std::tuple{"O2", "F", "S2"},
                               std::tuple{"O3", "G", "S1"}, std::tuple{"O4", "F", "S1"}}) {
    OfferRecord r;
    r.offer.mutable_id()->set_value(oid);
    r.offer.mutable_framework_id()->set_value(fid);
    r.offer.mutable_slave_id()->set_value(sid);
    r.offer.set_hostname("h");
    s.offers.emplace(oid, r);
  }
  return s;
}

TEST(Validation, Offers) {
  MasterState s = with_offers();
  EXPECT_FALSE(validate_offers(s, "F", {"O1", "O4"}));
  EXPECT_NE(validate_offers(s, "F", {})->find("No offers"), std::string::npos);
  EXPECT_NE(validate_offers(s, "F", {"O9"})->find("O9"), std::string::npos);
  EXPECT_NE(validate_offers(s, "F", {"O3"})->find("O3"), std::string::npos);
  EXPECT_NE(validate_offers(s, "F", {"O1", "O2"})->find("single slave"), std::string::npos);
  EXPECT_NE(validate_offers(s, "F", {"O1", "O1"})->find("more than once"), std::string::npos);
}

TaskInfo task(const char* id, const char* resources, const char* slave = "S1") {
  TaskInfo t;
  t.set_name(id);
  t.mutable_task_id()->set_value(id);
  t.mutable_slave_id()->set_value(slave);
  t.mutable_command()->set_value("true");
  Resources::parse(resources)->to_proto(t.mutable_resources());
  return t;
}

TEST(Validation, Tasks) {
  FrameworkRecord f;
  f.tasks.insert_or_assign("running", Task());
  Resources available = *Resources::parse("cpus:1;mem:256");
  Resources r;
  EXPECT_FALSE(validate_task(task("a", "cpus:0.5;mem:128"), f, "S1", available, {}, &r));
  EXPECT_EQ(r.scalar("cpus"), 0.5);
  auto too_big = validate_task(task("a", "cpus:1000"), f, "S1", available, {}, &r);
  ASSERT_TRUE(too_big);
  EXPECT_NE(too_big->find("more resources"), std::string::npos);
  EXPECT_NE(validate_task(task("running", "cpus:0.1"), f, "S1", available, {}, &r)->find("already in use"),
            std::string::npos);
  EXPECT_NE(validate_task(task("b", "cpus:0.1"), f, "S1", available, {"b"}, &r)->find("already in use"),
            std::string::npos);
  EXPECT_NE(validate_task(task("c", "cpus:0.1", "S2"), f, "S1", available, {}, &r)->find("S2"),
            std::string::npos);
  EXPECT_TRUE(validate_task(task("bad/id", "cpus:0.1"), f, "S1", available, {}, &r));
  TaskInfo no_cmd = task("d", "cpus:0.1");
  no_cmd.clear_command();
  EXPECT_TRUE(validate_task(no_cmd, f, "S1", available, {}, &r));
  TaskInfo no_res = task("e", "cpus:0.1");
  no_res.clear_resources();
  EXPECT_NE(validate_task(no_res, f, "S1", available, {}, &r)->find("no resources"), std::string::npos);
}

TEST(Validation, WeightsAndRoles) {
  auto w = parse_weights("web=2,batch=0.5");
  ASSERT_TRUE(w.is_some());
  EXPECT_EQ(w->at("web"), 2.0);
  for (const char* bad : {"web", "web=-1", "web=nan", "web=0", "=2", "web=2x"}) {
    auto e = parse_weights(bad);
    ASSERT_TRUE(e.is_error()) << bad;
  }
  EXPECT_FALSE(validate_role("*"));
  EXPECT_FALSE(validate_role("web"));
  EXPECT_TRUE(validate_role(""));
  EXPECT_TRUE(validate_role("a b"));
  EXPECT_TRUE(validate_role(".."));
  FrameworkInfo info;
  info.set_user("u");
  info.set_name("n");
  info.set_role("web");
  EXPECT_FALSE(validate_framework_info(info, std::nullopt));
  EXPECT_FALSE(validate_framework_info(info, std::string("web,db")));
  EXPECT_TRUE(validate_framework_info(info, std::string("db")));
  info.set_name("");
  EXPECT_TRUE(validate_framework_info(info, std::nullopt));
}

HealthCheck tcp_check(uint32_t port) {
  HealthCheck c;
  c.set_type(HealthCheck::TCP);
  c.mutable_tcp()->set_port(port);
  return c;
}

// The reason for rejecting `c`, or "" when it is valid.
std::string health_error(const HealthCheck& c) { return validate_health_check(c).value_or(""); }

TEST(Validation, HealthChecksWithTheirDefaultsAreValid) {
  EXPECT_EQ(health_error(tcp_check(8080)), "");
  HealthCheck http;
  http.set_type(HealthCheck::HTTP);
  http.mutable_http()->set_port(65535);
  http.mutable_http()->add_statuses(204);
  EXPECT_EQ(health_error(http), "");
  HealthCheck cmd;
  cmd.set_type(HealthCheck::COMMAND);
  cmd.mutable_command()->set_value("test -f ready");
  EXPECT_EQ(health_error(cmd), "");
}

TEST(Validation, HealthCheckErrorsNameTheFieldAndItsValue) {
  HealthCheck none;
  EXPECT_EQ(health_error(none), "health_check.type is missing (must be COMMAND, HTTP or TCP)");
  HealthCheck unknown = tcp_check(80);
  unknown.set_type(HealthCheck::UNKNOWN);
  EXPECT_EQ(health_error(unknown), "health_check.type 0 is not supported (must be COMMAND, HTTP or TCP)");
  HealthCheck no_http;
  no_http.set_type(HealthCheck::HTTP);
  EXPECT_EQ(health_error(no_http), "health_check.type is HTTP but health_check.http is missing");
  HealthCheck no_cmd;
  no_cmd.set_type(HealthCheck::COMMAND);
  EXPECT_EQ(health_error(no_cmd), "health_check.type is COMMAND but health_check.command is missing");
  no_cmd.mutable_command()->set_value("");
  EXPECT_NE(health_error(no_cmd).find("health_check.command.value must not be empty"), std::string::npos);
  HealthCheck no_tcp;
  no_tcp.set_type(HealthCheck::TCP);
  EXPECT_EQ(health_error(no_tcp), "health_check.type is TCP but health_check.tcp is missing");

  EXPECT_EQ(health_error(tcp_check(0)), "health_check.tcp.port 0 is out of range (must be 1..65535)");
  EXPECT_EQ(health_error(tcp_check(65536)), "health_check.tcp.port 65536 is out of range (must be 1..65535)");
  HealthCheck http;
  http.set_type(HealthCheck::HTTP);
  http.mutable_http()->set_port(70000);
  EXPECT_EQ(health_error(http), "health_check.http.port 70000 is out of range (must be 1..65535)");
  http.mutable_http()->set_port(80);
  http.mutable_http()->set_scheme("https");
  EXPECT_EQ(health_error(http), "health_check.http.scheme 'https' is not supported (only 'http')");
  http.mutable_http()->set_scheme("gopher");
  EXPECT_EQ(health_error(http), "health_check.http.scheme 'gopher' is invalid (must be 'http')");
  http.mutable_http()->set_scheme("http");
  http.mutable_http()->set_path("health");
  EXPECT_EQ(health_error(http), "health_check.http.path 'health' must start with '/'");
  http.mutable_http()->set_path("/a b");
  EXPECT_NE(health_error(http).find("contains spaces"), std::string::npos);
  http.mutable_http()->set_path("/");
  http.mutable_http()->add_statuses(99);
  EXPECT_EQ(health_error(http), "health_check.http.statuses has 99, not an HTTP status (100..599)");

  HealthCheck c = tcp_check(80);
  c.set_delay_seconds(-1);
  EXPECT_NE(health_error(c).find("health_check.delay_seconds -1 is invalid"), std::string::npos) << health_error(c);
  c = tcp_check(80);
  c.set_grace_period_seconds(NAN);
  EXPECT_NE(health_error(c).find("health_check.grace_period_seconds nan is invalid"), std::string::npos)
      << health_error(c);
  c = tcp_check(80);
  c.set_timeout_seconds(1e300);
  EXPECT_NE(health_error(c).find("health_check.timeout_seconds 1.0000000000000001e+300 is invalid"),
            std::string::npos)
      << health_error(c);
  c = tcp_check(80);
  c.set_interval_seconds(0);
  EXPECT_EQ(health_error(c), "health_check.interval_seconds 0 is invalid (must be above 0)");
  c = tcp_check(80);
  c.set_consecutive_failures(0);
  EXPECT_EQ(health_error(c), "health_check.consecutive_failures 0 is invalid (must be at least 1)");
}

TEST(Validation, ATaskWithABadHealthCheckIsRejectedNamingTheField) {
  FrameworkRecord f;
  Resources available = *Resources::parse("cpus:1;mem:256");
  Resources r;
  TaskInfo t = task("hc", "cpus:0.1");
  *t.mutable_health_check() = tcp_check(0);
  std::optional<std::string> e = validate_task(t, f, "S1", available, {}, &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, "Task 'hc' has an invalid health check: health_check.tcp.port 0 is out of range (must be 1..65535)");
  t.mutable_health_check()->mutable_tcp()->set_port(8080);
  EXPECT_FALSE(validate_task(t, f, "S1", available, {}, &r));
}


ContainerInfo docker_container(const char* image = "busybox") {
  ContainerInfo c;
  c.set_type(ContainerInfo::DOCKER);
  c.mutable_docker()->set_image(image);
  return c;
}

TEST(Validation, DockerContainersFollowMesosRules) {
  Resources ports = *Resources::parse("cpus:1;mem:64;ports:[31000-31001]");
  EXPECT_FALSE(validate_container(docker_container(), ports));
  ContainerInfo mesos;
  mesos.set_type(ContainerInfo::MESOS);
  EXPECT_FALSE(validate_container(mesos, ports));
  // Each bad field is named with its value.
  auto expect_error = [&](const ContainerInfo& c, const std::string& part) {
    std::optional<std::string> e = validate_container(c, ports);
    ASSERT_TRUE(e) << "accepted " << c.ShortDebugString();
    EXPECT_NE(e->find(part), std::string::npos) << *e;
  };
  expect_error(docker_container(""), "docker.image");
  ContainerInfo no_docker;
  no_docker.set_type(ContainerInfo::DOCKER);
  expect_error(no_docker, "docker.image");
  ContainerInfo mesos_with_docker = docker_container();
  mesos_with_docker.set_type(ContainerInfo::MESOS);
  expect_error(mesos_with_docker, "type MESOS");
  ContainerInfo host_mapping = docker_container();
  auto* m = host_mapping.mutable_docker()->add_port_mappings();
  m->set_host_port(31000);
  m->set_container_port(80);
  expect_error(host_mapping, "not HOST");
  ContainerInfo bridge = host_mapping;
  bridge.mutable_docker()->set_network(ContainerInfo::DockerInfo::BRIDGE);
  EXPECT_FALSE(validate_container(bridge, ports));
  ContainerInfo foreign = bridge;
  foreign.mutable_docker()->mutable_port_mappings(0)->set_host_port(8080);
  expect_error(foreign, "host_port 8080");
  ContainerInfo zero = bridge;
  zero.mutable_docker()->mutable_port_mappings(0)->set_container_port(0);
  expect_error(zero, "container_port 0");
  ContainerInfo sctp = bridge;
  sctp.mutable_docker()->mutable_port_mappings(0)->set_protocol("sctp");
  expect_error(sctp, "'sctp'");
  ContainerInfo user = docker_container();
  user.mutable_docker()->set_network(ContainerInfo::DockerInfo::USER);
  expect_error(user, "network_infos[0].name");
  user.add_network_infos()->set_name("overlay");
  EXPECT_FALSE(validate_container(user, ports));
  ContainerInfo host_name = docker_container();
  host_name.set_hostname("web");
  expect_error(host_name, "hostname 'web'");
  ContainerInfo volume = docker_container();
  volume.add_volumes()->set_container_path("/data");
  expect_error(volume, "volume '/data'");
  ContainerInfo param = docker_container();
  auto* p = param.mutable_docker()->add_parameters();
  p->set_key("--memory");
  p->set_value("1g");
  expect_error(param, "'--memory'");
}

TEST(Validation, ATaskWithABadContainerIsRejectedAndADockerTaskMayHaveNoProgram) {
  FrameworkRecord f;
  Resources available = *Resources::parse("cpus:1;mem:256");
  Resources r;
  TaskInfo bad = task("d", "cpus:0.1");
  *bad.mutable_container() = docker_container("");
  std::optional<std::string> e = validate_task(bad, f, "S1", available, {}, &r);
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("Task 'd' has an invalid container"), std::string::npos) << *e;
  // An image's own entrypoint: no value, no arguments, shell false.
  TaskInfo entry = task("e", "cpus:0.1");
  *entry.mutable_container() = docker_container();
  entry.mutable_command()->set_shell(false);
  entry.mutable_command()->clear_value();
  EXPECT_FALSE(validate_task(entry, f, "S1", available, {}, &r));
  entry.clear_container();
  EXPECT_TRUE(validate_task(entry, f, "S1", available, {}, &r));
}

}  // namespace
}  // namespace stoa::master
