#include "apps/services/placement.hpp"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "apps/services/placement_test_support.hpp"

namespace stoa::services {
namespace {

using namespace placement_test;

std::map<std::string, std::string> env_of(const TaskInfo& task) {
  std::map<std::string, std::string> env;
  for (const Environment::Variable& v : task.command().environment().variables()) {
    env[v.name()] = v.value();
  }
  return env;
}

double resource_sum(const TaskInfo& task, const std::string& name) {
  double sum = 0;
  for (const Resource& r : task.resources()) {
    if (r.name() == name) {
      sum += r.scalar().value();
    }
  }
  return sum;
}

TEST(PlacementTest, PlacesATaskAndTakesItsResourcesFromTheOffer) {
  Offer offer = make_offer("h1", 2, 300);
  OfferSpace space(offer);
  App app = make_app(2);
  auto first = place(app, space, options("t1"));
  ASSERT_TRUE(std::holds_alternative<Placement>(first));
  const Placement& p = std::get<Placement>(first);
  EXPECT_EQ(p.task.task_id().value(), "t1");
  EXPECT_EQ(p.task.slave_id().value(), "slave-h1");
  EXPECT_EQ(p.task.name(), "web.prod");
  EXPECT_EQ(p.host_ports, (std::vector<int>{31000, 31001}));
  EXPECT_DOUBLE_EQ(resource_sum(p.task, "cpus"), 1);
  EXPECT_DOUBLE_EQ(resource_sum(p.task, "mem"), 128);
  EXPECT_DOUBLE_EQ(space.scalars["cpus"], 1);
  EXPECT_DOUBLE_EQ(space.scalars["mem"], 172);
  EXPECT_EQ(space.ports, (std::vector<std::pair<uint64_t, uint64_t>>{{31002, 31009}}));
  EXPECT_TRUE(p.task.command().shell());
  EXPECT_EQ(p.task.command().value(), "sleep 100");

  auto second = place(app, space, options("t2"));
  ASSERT_TRUE(std::holds_alternative<Placement>(second));
  EXPECT_EQ(std::get<Placement>(second).host_ports, (std::vector<int>{31002, 31003}));
  // The second task's TaskInfo has only its own share; `used` has both.
  EXPECT_DOUBLE_EQ(resource_sum(std::get<Placement>(second).task, "mem"), 128);
  double used_mem = 0;
  for (const Resource& r : space.used) {
    if (r.name() == "mem") {
      used_mem += r.scalar().value();
    }
  }
  EXPECT_DOUBLE_EQ(used_mem, 256);

  auto third = place(app, space, options("t3"));  // 0 cpus left
  ASSERT_TRUE(std::holds_alternative<Reject>(third));
  EXPECT_EQ(std::get<Reject>(third), Reject::INSUFFICIENT_CPUS);
}

TEST(PlacementTest, NamesEachMissingResource) {
  App app = make_app(1);
  {
    Offer o = make_offer("h", 0.5);
    OfferSpace s(o);
    EXPECT_EQ(std::get<Reject>(place(app, s, options())), Reject::INSUFFICIENT_CPUS);
  }
  {
    Offer o = make_offer("h", 4, 100);
    OfferSpace s(o);
    EXPECT_EQ(std::get<Reject>(place(app, s, options())), Reject::INSUFFICIENT_MEMORY);
  }
  {
    App big_disk = app;
    big_disk.disk = 2000;
    Offer o = make_offer("h");
    OfferSpace s(o);
    EXPECT_EQ(std::get<Reject>(place(big_disk, s, options())), Reject::INSUFFICIENT_DISK);
  }
  {
    App gpu = app;
    gpu.gpus = 1;
    Offer o = make_offer("h");
    OfferSpace s(o);
    EXPECT_EQ(std::get<Reject>(place(gpu, s, options())), Reject::INSUFFICIENT_GPUS);
  }
  {
    Offer o = make_offer("h", 4, 1024, 1000, {});
    OfferSpace s(o);
    EXPECT_EQ(std::get<Reject>(place(app, s, options())), Reject::INSUFFICIENT_PORTS);
    EXPECT_TRUE(std::holds_alternative<Placement>(place(make_app(0), s, options())));
  }
  EXPECT_STREQ(reject_name(Reject::INSUFFICIENT_CPUS), "InsufficientCpus");
  EXPECT_STREQ(reject_name(Reject::INSUFFICIENT_MEMORY), "InsufficientMemory");
  EXPECT_STREQ(reject_name(Reject::UNFULFILLED_CONSTRAINT), "UnfulfilledConstraint");
  EXPECT_STREQ(reject_name(Reject::UNFULFILLED_ROLE), "UnfulfilledRole");
}

TEST(PlacementTest, ExactCpusFitWithoutRoundingTrouble) {
  Offer o = make_offer("h", 0.3);
  OfferSpace s(o);
  App app = make_app(0);
  app.cpus = 0.1;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(std::holds_alternative<Placement>(place(app, s, options("t" + std::to_string(i))))) << i;
  }
  EXPECT_EQ(std::get<Reject>(place(app, s, options("t3"))), Reject::INSUFFICIENT_CPUS);
}

TEST(PlacementTest, RequirePortsTakesTheDeclaredPortsOrRejects) {
  App app = make_app(2);
  app.require_ports = true;
  app.port_definitions[0].port = 31005;
  app.port_definitions[1].port = 31001;
  Offer o = make_offer("h");
  OfferSpace s(o);
  auto p = place(app, s, options());
  ASSERT_TRUE(std::holds_alternative<Placement>(p));
  EXPECT_EQ(std::get<Placement>(p).host_ports, (std::vector<int>{31005, 31001}));
  EXPECT_EQ(std::get<Reject>(place(app, s, options("t2"))), Reject::INSUFFICIENT_PORTS);

  app.port_definitions[0].port = 40000;  // outside the offer
  Offer o2 = make_offer("h");
  OfferSpace s2(o2);
  EXPECT_EQ(std::get<Reject>(place(app, s2, options())), Reject::INSUFFICIENT_PORTS);
}

TEST(PlacementTest, TooFewFreePortsRejects) {
  Offer o = make_offer("h", 4, 1024, 1000, {{31000, 31001}});
  OfferSpace s(o);
  EXPECT_EQ(std::get<Reject>(place(make_app(3), s, options())), Reject::INSUFFICIENT_PORTS);
  // Nothing was taken by the failed attempt.
  EXPECT_DOUBLE_EQ(s.scalars["cpus"], 4);
  EXPECT_TRUE(s.used.empty());
}

// The core seeds each task's dynamic ports at random (as Marathon picks
// them): the seed is an index into the free ports, and the task takes the
// ports from there on, wrapping to the start of the offer.
TEST(PlacementTest, DynamicPortsStartAtTheSeedsIndexAndWrap) {
  Offer o = make_offer("h", 4, 1024, 1000, {{31000, 31004}, {32000, 32004}});
  OfferSpace s(o);
  PlaceOptions po = options("t1");
  po.port_seed = 7;  // index 7 of the ten free ports: 32002
  auto p = place(make_app(2), s, po);
  ASSERT_TRUE(std::holds_alternative<Placement>(p));
  EXPECT_EQ(std::get<Placement>(p).host_ports, (std::vector<int>{32002, 32003}));
  EXPECT_EQ(s.ports, (std::vector<std::pair<uint64_t, uint64_t>>{{31000, 31004}, {32000, 32001}, {32004, 32004}}));

  po = options("t2");
  po.port_seed = 7 + 8 * 1000;  // mod the eight ports left: index 7 is 32004, then wrap to 31000
  p = place(make_app(3), s, po);
  ASSERT_TRUE(std::holds_alternative<Placement>(p));
  EXPECT_EQ(std::get<Placement>(p).host_ports, (std::vector<int>{32004, 31000, 31001}));

  // A seed past every port is reduced: nothing is out of the offer.
  po = options("t3");
  po.port_seed = UINT64_MAX;
  p = place(make_app(5), s, po);
  ASSERT_TRUE(std::holds_alternative<Placement>(p));
  for (int port : std::get<Placement>(p).host_ports) {
    EXPECT_TRUE((port >= 31002 && port <= 31004) || (port >= 32000 && port <= 32001)) << port;
  }
  EXPECT_TRUE(s.ports.empty());
}

TEST(PlacementTest, DynamicPortsSkipThePortsAskedForByNumber) {
  App app = make_app(0);
  app.networks = {Network{"container/bridge", std::nullopt, {}}};
  Container c;
  c.type = "DOCKER";
  c.docker = DockerSpec{"nginx:1.25", false, false, {}, std::nullopt};
  PortMapping any;
  any.container_port = 80;
  PortMapping fixed;
  fixed.container_port = 443;
  fixed.host_port = 31003;
  c.port_mappings = {any, fixed};
  app.container = c;
  Offer o = make_offer("h", 4, 1024, 1000, {{31000, 31003}});
  OfferSpace s(o);
  PlaceOptions po = options();
  po.port_seed = 3;  // index 3 of the three ports left once 31003 is taken: wraps to 31000
  auto p = place(app, s, po);
  ASSERT_TRUE(std::holds_alternative<Placement>(p));
  EXPECT_EQ(std::get<Placement>(p).host_ports, (std::vector<int>{31000, 31003}));
}

TEST(PlacementTest, UsesOnlyUnreservedAndTheFrameworkRole) {
  Offer o;
  o.mutable_id()->set_value("o");
  o.mutable_framework_id()->set_value("fw");
  o.mutable_slave_id()->set_value("s");
  o.set_hostname("h");
  *o.add_resources() = scalar("cpus", 1, "web");
  *o.add_resources() = scalar("cpus", 0.5);
  *o.add_resources() = scalar("mem", 1024, "other");
  *o.add_resources() = scalar("mem", 64);
  *o.add_resources() = scalar("mem", 128, "web");
  App app = make_app(0);
  app.cpus = 1.5;
  app.mem = 160;
  {
    OfferSpace s(o);  // role '*' only: the reserved cpus are out of reach
    EXPECT_EQ(std::get<Reject>(place(app, s, options())), Reject::UNFULFILLED_ROLE);
  }
  PlaceOptions web = options();
  web.role = "web";
  OfferSpace s(o);
  auto p = place(app, s, web);
  ASSERT_TRUE(std::holds_alternative<Placement>(p));
  std::map<std::pair<std::string, std::string>, double> taken;
  for (const Resource& r : std::get<Placement>(p).task.resources()) {
    taken[{r.name(), r.role()}] += r.scalar().value();
  }
  // The role's reservation first, then '*'; never another role.
  EXPECT_DOUBLE_EQ((taken[{"cpus", "web"}]), 1);
  EXPECT_DOUBLE_EQ((taken[{"cpus", "*"}]), 0.5);
  EXPECT_DOUBLE_EQ((taken[{"mem", "web"}]), 128);
  EXPECT_DOUBLE_EQ((taken[{"mem", "*"}]), 32);
  EXPECT_EQ((taken.count({"mem", "other"})), 0U);

  // acceptedResourceRoles restricts to the listed roles.
  App only_star = app;
  only_star.accepted_resource_roles = {"*"};
  OfferSpace s2(o);
  EXPECT_EQ(std::get<Reject>(place(only_star, s2, web)), Reject::UNFULFILLED_ROLE);
  App only_other = app;
  only_other.accepted_resource_roles = {"other"};
  OfferSpace s3(o);
  EXPECT_EQ(std::get<Reject>(place(only_other, s3, web)), Reject::UNFULFILLED_ROLE);
}

TEST(PlacementTest, EnvironmentHasMarathonsVariables) {
  App app = make_app(2);
  app.port_definitions[0].name = "http";
  app.port_definitions[1].name = "admin-api";
  app.labels = {{"HAPROXY_GROUP", "external"}, {"team.name", "core"}};
  app.env = {{"FOO", "bar"}, {"HOST", "overridden"}};
  app.version = 0;
  app.cpus = 0.5;
  Offer o = make_offer("node-1");
  OfferSpace s(o);
  auto p = place(app, s, options("prod_web.instance-x._app.1"));
  ASSERT_TRUE(std::holds_alternative<Placement>(p));
  std::map<std::string, std::string> env = env_of(std::get<Placement>(p).task);
  EXPECT_EQ(env["PORT0"], "31000");
  EXPECT_EQ(env["PORT1"], "31001");
  EXPECT_EQ(env["PORT"], "31000");
  EXPECT_EQ(env["PORTS"], "31000,31001");
  EXPECT_EQ(env["PORT_HTTP"], "31000");
  EXPECT_EQ(env["PORT_ADMIN-API"], "31001");  // upper-cased only, as Marathon does
  EXPECT_EQ(env["PORT_10000"], "31000");
  EXPECT_EQ(env["PORT_10001"], "31001");
  EXPECT_EQ(env["HOST"], "overridden");  // the app's env wins
  EXPECT_EQ(env["FOO"], "bar");
  EXPECT_EQ(env["MARATHON_APP_ID"], "/prod/web");
  EXPECT_EQ(env["MARATHON_APP_VERSION"], format_timestamp(0));
  EXPECT_EQ(env["MARATHON_APP_RESOURCE_CPUS"], "0.5");
  EXPECT_EQ(env["MARATHON_APP_RESOURCE_MEM"], "128.0");
  EXPECT_EQ(env["MARATHON_APP_RESOURCE_DISK"], "0.0");
  EXPECT_EQ(env["MARATHON_APP_RESOURCE_GPUS"], "0");
  EXPECT_EQ(env["MARATHON_APP_LABELS"], "HAPROXY_GROUP TEAM_NAME");
  EXPECT_EQ(env["MARATHON_APP_LABEL_HAPROXY_GROUP"], "external");
  EXPECT_EQ(env["MARATHON_APP_LABEL_TEAM_NAME"], "core");
  EXPECT_EQ(env["MESOS_TASK_ID"], "prod_web.instance-x._app.1");
  EXPECT_EQ(std::get<Placement>(p).service_ports, (std::vector<int>{10000, 10001}));

  app.env.erase("HOST");
  Offer o2 = make_offer("node-2");
  OfferSpace s2(o2);
  EXPECT_EQ(env_of(std::get<Placement>(place(app, s2, options())).task)["HOST"], "node-2");
}

TEST(PlacementTest, EnvironmentLeavesOutOverlongLabelsAndNamesPortsWithoutARequest) {
  App app = make_app(1);
  app.port_definitions[0].port = 0;  // no service port: PORT_<host port>
  app.labels = {{std::string(492, 'k'), "fits"}, {std::string(493, 'x'), "key too long"},
                {"big", std::string(512, 'v')}};
  Offer o = make_offer("h");
  OfferSpace s(o);
  std::map<std::string, std::string> env = env_of(std::get<Placement>(place(app, s, options())).task);
  EXPECT_EQ(env["PORT_31000"], "31000");
  EXPECT_EQ(env["MARATHON_APP_LABELS"], std::string(492, 'K'));
  EXPECT_EQ(env.count("MARATHON_APP_LABEL_BIG"), 0U);
  EXPECT_EQ(env.count("MARATHON_APP_LABEL_" + std::string(493, 'X')), 0U);
}

TEST(PlacementTest, ArgsRunWithoutAShellAndFetchUrisAndUserAreSet) {
  App app = make_app(0);
  app.cmd.reset();
  app.args = std::vector<std::string>{"/bin/echo", "hi"};
  app.user = "nobody";
  app.fetch.push_back(FetchUri{"http://example.com/a.tgz", true, true, false, std::nullopt});
  app.task_kill_grace_period_seconds = 7;
  app.labels = {{"a", "b"}};
  Offer o = make_offer("h");
  OfferSpace s(o);
  const TaskInfo task = std::get<Placement>(place(app, s, options())).task;
  EXPECT_FALSE(task.command().shell());
  EXPECT_EQ(task.command().value(), "/bin/echo");
  ASSERT_EQ(task.command().arguments_size(), 2);
  EXPECT_EQ(task.command().arguments(1), "hi");
  EXPECT_EQ(task.command().user(), "nobody");
  ASSERT_EQ(task.command().uris_size(), 1);
  EXPECT_EQ(task.command().uris(0).value(), "http://example.com/a.tgz");
  EXPECT_TRUE(task.command().uris(0).executable());
  EXPECT_EQ(task.kill_policy().grace_period().nanoseconds(), 7'000'000'000LL);
  ASSERT_EQ(task.labels().labels_size(), 1);
  EXPECT_EQ(task.labels().labels(0).key(), "a");
  EXPECT_FALSE(task.has_container());
  EXPECT_FALSE(task.has_health_check());
}

TEST(PlacementTest, DockerBridgeMapsHostPorts) {
  App app = make_app(0);
  app.networks = {Network{"container/bridge", std::nullopt, {}}};
  Container c;
  c.type = "DOCKER";
  c.docker = DockerSpec{"nginx:1.25", true, false, {{"label", "x=y"}}, std::nullopt};
  c.volumes.push_back(Volume{"/data", "/srv/data", "RO"});
  PortMapping any;
  any.container_port = 80;
  any.service_port = 10080;
  any.name = "http";
  PortMapping fixed;
  fixed.container_port = 443;
  fixed.host_port = 31007;
  c.port_mappings = {any, fixed};
  app.container = c;
  HealthCheck hc;
  hc.protocol = "MESOS_HTTP";
  hc.path = "/health";
  hc.port_index = 0;
  app.health_checks.push_back(hc);
  Offer o = make_offer("h");
  OfferSpace s(o);
  auto p = place(app, s, options());
  ASSERT_TRUE(std::holds_alternative<Placement>(p));
  const Placement& placement = std::get<Placement>(p);
  EXPECT_EQ(placement.host_ports, (std::vector<int>{31000, 31007}));
  const ContainerInfo& info = placement.task.container();
  EXPECT_EQ(info.type(), ContainerInfo::DOCKER);
  EXPECT_EQ(info.docker().image(), "nginx:1.25");
  EXPECT_EQ(info.docker().network(), ContainerInfo::DockerInfo::BRIDGE);
  EXPECT_TRUE(info.docker().force_pull_image());
  ASSERT_EQ(info.docker().port_mappings_size(), 2);
  EXPECT_EQ(info.docker().port_mappings(0).host_port(), 31000U);
  EXPECT_EQ(info.docker().port_mappings(0).container_port(), 80U);
  EXPECT_EQ(info.docker().port_mappings(1).host_port(), 31007U);
  EXPECT_EQ(info.docker().port_mappings(1).container_port(), 443U);
  ASSERT_EQ(info.docker().parameters_size(), 1);
  EXPECT_EQ(info.docker().parameters(0).key(), "label");
  ASSERT_EQ(info.volumes_size(), 1);
  EXPECT_EQ(info.volumes(0).mode(), stoa::Volume::RO);
  EXPECT_EQ(info.volumes(0).host_path(), "/srv/data");
  std::map<std::string, std::string> env = env_of(placement.task);
  EXPECT_EQ(env["MARATHON_APP_DOCKER_IMAGE"], "nginx:1.25");
  EXPECT_EQ(env["PORT_HTTP"], "31000");
  EXPECT_EQ(env["PORT_80"], "31000");  // the container port
  EXPECT_EQ(env["PORT_443"], "31007");
  EXPECT_EQ(env.count("PORT_10080"), 0U);
  // A Mesos HTTP check behind a bridge probes the container port.
  ASSERT_TRUE(placement.task.has_health_check());
  EXPECT_EQ(placement.task.health_check().type(), stoa::HealthCheck::HTTP);
  EXPECT_EQ(placement.task.health_check().http().port(), 80U);
  EXPECT_EQ(placement.task.health_check().http().path(), "/health");
}

TEST(PlacementTest, MesosLevelHealthChecksGoIntoTheTaskInfo) {
  App app = make_app(2);
  HealthCheck marathon_level;  // HTTP: probed by stoa-services, not in the TaskInfo
  app.health_checks.push_back(marathon_level);
  HealthCheck tcp;
  tcp.protocol = "MESOS_TCP";
  tcp.port_index = 1;
  tcp.interval_seconds = 5;
  tcp.timeout_seconds = 2;
  tcp.grace_period_seconds = 30;
  tcp.max_consecutive_failures = 4;
  tcp.delay_seconds = 1;
  app.health_checks.push_back(tcp);
  Offer o = make_offer("h");
  OfferSpace s(o);
  const TaskInfo task = std::get<Placement>(place(app, s, options())).task;
  ASSERT_TRUE(task.has_health_check());
  EXPECT_EQ(task.health_check().type(), stoa::HealthCheck::TCP);
  EXPECT_EQ(task.health_check().tcp().port(), 31001U);
  EXPECT_DOUBLE_EQ(task.health_check().interval_seconds(), 5);
  EXPECT_DOUBLE_EQ(task.health_check().timeout_seconds(), 2);
  EXPECT_DOUBLE_EQ(task.health_check().grace_period_seconds(), 30);
  EXPECT_DOUBLE_EQ(task.health_check().delay_seconds(), 1);
  EXPECT_EQ(task.health_check().consecutive_failures(), 4U);

  App https = make_app(1);
  HealthCheck h;
  h.protocol = "MESOS_HTTPS";
  h.port = 8443;
  https.health_checks.push_back(h);
  OfferSpace s2(o);
  const TaskInfo t2 = std::get<Placement>(place(https, s2, options())).task;
  EXPECT_EQ(t2.health_check().http().scheme(), "https");
  EXPECT_EQ(t2.health_check().http().port(), 8443U);

  App command = make_app(0);
  HealthCheck c;
  c.protocol = "COMMAND";
  c.command = "test -f /tmp/ok";
  command.health_checks.push_back(c);
  OfferSpace s3(o);
  const TaskInfo t3 = std::get<Placement>(place(command, s3, options())).task;
  EXPECT_EQ(t3.health_check().type(), stoa::HealthCheck::COMMAND);
  EXPECT_EQ(t3.health_check().command().value(), "test -f /tmp/ok");
}

TEST(PlacementTest, AssignServicePortsFillsZerosWithTheLowestFree) {
  App app = make_app(3);
  app.port_definitions[0].port = 0;
  app.port_definitions[1].port = 10001;
  app.port_definitions[2].port = 0;
  Try<App> assigned = assign_service_ports(app, {10000, 10002}, 10000, 10010);
  ASSERT_TRUE(assigned.is_some()) << assigned.error();
  EXPECT_EQ(assigned->port_definitions[0].port, 10003);
  EXPECT_EQ(assigned->port_definitions[1].port, 10001);
  EXPECT_EQ(assigned->port_definitions[2].port, 10004);

  Try<App> full = assign_service_ports(app, {10000, 10002}, 10000, 10003);
  ASSERT_TRUE(full.is_error());
  EXPECT_NE(full.error().find("10003"), std::string::npos) << full.error();

  App bridge = make_app(0);
  bridge.networks = {Network{"container/bridge", std::nullopt, {}}};
  Container c;
  c.type = "DOCKER";
  c.docker = DockerSpec{"img", false, false, {}, std::nullopt};
  c.port_mappings.resize(2);
  c.port_mappings[1].service_port = 10000;
  bridge.container = c;
  Try<App> b = assign_service_ports(bridge, {}, 10000, 10010);
  ASSERT_TRUE(b.is_some());
  EXPECT_EQ(b->container->port_mappings[0].service_port, 10001);
  EXPECT_EQ(b->container->port_mappings[1].service_port, 10000);
}

}  // namespace
}  // namespace stoa::services
