#include "apps/services/placement.hpp"

#include <gtest/gtest.h>

namespace stoa::services {
namespace {

Resource scalar(const std::string& name, double value, const std::string& role = "*") {
  Resource r;
  r.set_name(name);
  r.set_type(Value::SCALAR);
  r.mutable_scalar()->set_value(value);
  r.set_role(role);
  return r;
}

Resource ports(std::vector<std::pair<uint64_t, uint64_t>> ranges, const std::string& role = "*") {
  Resource r;
  r.set_name("ports");
  r.set_type(Value::RANGES);
  r.set_role(role);
  for (auto [b, e] : ranges) {
    Value::Range* range = r.mutable_ranges()->add_range();
    range->set_begin(b);
    range->set_end(e);
  }
  return r;
}

Offer make_offer(const std::string& host, double cpus = 4, double mem = 1024, double disk = 1000,
                 std::vector<std::pair<uint64_t, uint64_t>> port_ranges = {{31000, 31009}}) {
  Offer o;
  o.mutable_id()->set_value("offer-" + host);
  o.mutable_framework_id()->set_value("fw");
  o.mutable_slave_id()->set_value("slave-" + host);
  o.set_hostname(host);
  *o.add_resources() = scalar("cpus", cpus);
  *o.add_resources() = scalar("mem", mem);
  *o.add_resources() = scalar("disk", disk);
  if (!port_ranges.empty()) {
    *o.add_resources() = ports(port_ranges);
  }
  return o;
}

void add_text(Offer& o, const std::string& name, const std::string& value) {
  Attribute* a = o.add_attributes();
  a->set_name(name);
  a->set_type(Value::TEXT);
  a->mutable_text()->set_value(value);
}

App make_app(int port_count = 1) {
  App app;
  app.id = "/prod/web";
  app.cmd = "sleep 100";
  app.cpus = 1;
  app.mem = 128;
  app.disk = 0;
  app.port_definitions.clear();
  for (int i = 0; i < port_count; ++i) {
    PortDefinition d;
    d.port = 10000 + i;
    app.port_definitions.push_back(d);
  }
  return app;
}

PlaceOptions options(const std::string& task_id = "prod_web.instance-1._app.1") {
  PlaceOptions o;
  o.task_id = task_id;
  return o;
}

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

TEST(PlacementTest, OfferFieldFormatsEveryAttributeType) {
  Offer o = make_offer("node-1");
  add_text(o, "rack", "r1");
  Attribute* s = o.add_attributes();
  s->set_name("weight");
  s->set_type(Value::SCALAR);
  s->mutable_scalar()->set_value(1.23456);
  Attribute* half = o.add_attributes();
  half->set_name("half");
  half->set_type(Value::SCALAR);
  half->mutable_scalar()->set_value(0.0625);  // an exact tie: HALF_EVEN keeps 0.062
  Attribute* whole = o.add_attributes();
  whole->set_name("whole");
  whole->set_type(Value::SCALAR);
  whole->mutable_scalar()->set_value(2.0);
  Attribute* r = o.add_attributes();
  r->set_name("range");
  r->set_type(Value::RANGES);
  for (auto [b, e] : std::vector<std::pair<int, int>>{{1, 2}, {5, 9}}) {
    Value::Range* range = r->mutable_ranges()->add_range();
    range->set_begin(b);
    range->set_end(e);
  }
  Attribute* set = o.add_attributes();
  set->set_name("set");
  set->set_type(Value::SET);
  set->mutable_set()->add_item("x");
  set->mutable_set()->add_item("y");

  EXPECT_EQ(offer_field(o, "hostname"), "node-1");
  EXPECT_EQ(offer_field(o, "@hostname"), "node-1");
  EXPECT_EQ(offer_field(o, "rack"), "r1");
  EXPECT_EQ(offer_field(o, "weight"), "1.235");
  EXPECT_EQ(offer_field(o, "half"), "0.062");
  EXPECT_EQ(offer_field(o, "whole"), "2");
  EXPECT_EQ(offer_field(o, "range"), "[1-2,5-9]");
  EXPECT_EQ(offer_field(o, "set"), "{x,y}");
  EXPECT_EQ(offer_field(o, "missing"), std::nullopt);
  EXPECT_EQ(offer_field(o, "@zone"), std::nullopt);

  SlaveFields fields = offer_fields(o);
  EXPECT_EQ(fields["hostname"], "node-1");
  EXPECT_EQ(fields["@hostname"], "node-1");
  EXPECT_EQ(fields["range"], "[1-2,5-9]");
  EXPECT_EQ(fields["weight"], "1.235");
}

// A cluster of hand-built offers and the instances placed on them.
struct ConstraintWorld {
  std::map<std::string, Offer> offers;
  std::map<std::string, SlaveFields> fields;
  std::vector<Instance> instances;

  Offer& add(const std::string& host, const std::string& rack) {
    Offer o = make_offer(host);
    add_text(o, "rack", rack);
    fields[o.slave_id().value()] = offer_fields(o);
    return offers[host] = o;
  }
  void run_on(const std::string& host, Timestamp version = 0) {
    Instance i;
    i.task_id = "t" + std::to_string(instances.size());
    i.app_id = "/prod/web";
    i.slave_id = offers.at(host).slave_id().value();
    i.host = host;
    i.state = "TASK_RUNNING";
    i.app_version = version;
    instances.push_back(i);
  }
  bool met(const App& app, const std::string& host) const {
    std::vector<const Instance*> placed;
    for (const Instance& i : instances) {
      placed.push_back(&i);
    }
    return constraints_met(app, offers.at(host), placed, fields);
  }
};

App with_constraint(const std::string& field, const std::string& op, std::optional<std::string> value = {}) {
  App app = make_app(1);
  app.constraints.push_back(Constraint{field, op, std::move(value)});
  return app;
}

TEST(PlacementTest, UniqueRefusesASecondInstanceOnTheSameValue) {
  ConstraintWorld w;
  w.add("a", "r1");
  w.add("b", "r1");
  w.add("c", "r2");
  App app = with_constraint("hostname", "UNIQUE");
  EXPECT_TRUE(w.met(app, "a"));
  w.run_on("a");
  EXPECT_FALSE(w.met(app, "a"));
  EXPECT_TRUE(w.met(app, "b"));
  App by_rack = with_constraint("rack", "UNIQUE");
  EXPECT_FALSE(w.met(by_rack, "b"));
  EXPECT_TRUE(w.met(by_rack, "c"));
}

TEST(PlacementTest, InstancesOfAnOlderConfigAndInactiveOnesAreIgnored) {
  ConstraintWorld w;
  w.add("a", "r1");
  App app = with_constraint("hostname", "UNIQUE");
  app.last_config_change_at = 100;
  w.run_on("a", 50);  // launched with an older config: ignored
  EXPECT_TRUE(w.met(app, "a"));
  w.run_on("a", 100);
  EXPECT_FALSE(w.met(app, "a"));
  w.instances.back().state = "TASK_FINISHED";
  EXPECT_TRUE(w.met(app, "a"));
}

TEST(PlacementTest, ClusterWithAndWithoutValue) {
  ConstraintWorld w;
  w.add("a", "r1");
  w.add("b", "r1");
  w.add("c", "r2");
  App fixed = with_constraint("rack", "CLUSTER", "r2");
  EXPECT_FALSE(w.met(fixed, "a"));
  EXPECT_TRUE(w.met(fixed, "c"));
  App free = with_constraint("rack", "CLUSTER");
  EXPECT_TRUE(w.met(free, "a"));
  EXPECT_TRUE(w.met(free, "c"));
  w.run_on("b");
  EXPECT_TRUE(w.met(free, "a"));
  EXPECT_FALSE(w.met(free, "c"));
}

TEST(PlacementTest, GroupByFillsGroupsEvenly) {
  ConstraintWorld w;
  w.add("a", "r1");
  w.add("b", "r2");
  w.add("c", "r3");
  App app = with_constraint("rack", "GROUP_BY", "3");
  // Place 9 tasks, each on the first host that accepts: the racks stay even.
  for (int k = 0; k < 9; ++k) {
    bool placed = false;
    for (const std::string host : {"a", "b", "c"}) {
      if (w.met(app, host)) {
        w.run_on(host);
        placed = true;
        break;
      }
    }
    ASSERT_TRUE(placed) << k;
    std::map<std::string, int> per_rack = {{"r1", 0}, {"r2", 0}, {"r3", 0}};
    for (const Instance& i : w.instances) {
      ++per_rack[w.fields[i.slave_id]["rack"]];
    }
    int lo = 100;
    int hi = 0;
    for (const auto& [rack, count] : per_rack) {
      lo = std::min(lo, count);
      hi = std::max(hi, count);
    }
    EXPECT_LE(hi - lo, 1) << "after " << k + 1 << " tasks";
  }
  // With 3 per rack, every rack accepts again; then the fuller one waits.
  EXPECT_TRUE(w.met(app, "a"));
  w.run_on("a");
  EXPECT_FALSE(w.met(app, "a"));
  EXPECT_TRUE(w.met(app, "b"));
}

TEST(PlacementTest, GroupByWithoutAValueAcceptsTheSmallestGroupOrANewValue) {
  ConstraintWorld w;
  w.add("a", "r1");
  w.add("b", "r2");
  App app = with_constraint("rack", "GROUP_BY");
  w.run_on("a");
  // v1.10.26: N = 0, so the only (hence smallest) group accepts too.
  EXPECT_TRUE(w.met(app, "a"));
  EXPECT_TRUE(w.met(app, "b"));
  w.run_on("a");
  w.run_on("b");
  EXPECT_FALSE(w.met(app, "a"));  // r1 has 2, r2 has 1
  EXPECT_TRUE(w.met(app, "b"));
}

TEST(PlacementTest, GroupByWithAMinimumSpreadsOverThatManyValuesFirst) {
  ConstraintWorld w;
  w.add("a", "r1");
  w.add("b", "r2");
  w.add("c", "r3");
  App app = with_constraint("rack", "GROUP_BY", "3");
  w.run_on("a");
  w.run_on("b");
  EXPECT_FALSE(w.met(app, "a"));  // 2 groups < 3: only a new value
  EXPECT_TRUE(w.met(app, "c"));
  w.run_on("c");
  EXPECT_TRUE(w.met(app, "a"));
}

TEST(PlacementTest, MaxPerLimitsInstancesPerValue) {
  ConstraintWorld w;
  w.add("a", "r1");
  w.add("b", "r1");
  App app = with_constraint("rack", "MAX_PER", "2");
  w.run_on("a");
  EXPECT_TRUE(w.met(app, "b"));
  w.run_on("a");
  EXPECT_FALSE(w.met(app, "b"));
}

TEST(PlacementTest, LikeAndUnlikeAreFullMatches) {
  ConstraintWorld w;
  w.add("a", "rack-1");
  w.add("b", "rack-12");
  EXPECT_TRUE(w.met(with_constraint("rack", "LIKE", "rack-[0-9]"), "a"));
  EXPECT_FALSE(w.met(with_constraint("rack", "LIKE", "rack-[0-9]"), "b"));  // partial match is not enough
  EXPECT_FALSE(w.met(with_constraint("rack", "LIKE", "rack"), "a"));
  EXPECT_FALSE(w.met(with_constraint("rack", "UNLIKE", "rack-[0-9]"), "a"));
  EXPECT_TRUE(w.met(with_constraint("rack", "UNLIKE", "rack-[0-9]"), "b"));
  EXPECT_TRUE(w.met(with_constraint("hostname", "LIKE", "a|c"), "a"));
}

TEST(PlacementTest, AMissingFieldOnlySatisfiesUnlike) {
  ConstraintWorld w;
  w.add("a", "r1");
  for (const std::string op : {"UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "IS", "MAX_PER"}) {
    std::optional<std::string> value;
    if (op == "LIKE" || op == "IS") {
      value = ".*";
    } else if (op == "MAX_PER") {
      value = "5";
    }
    EXPECT_FALSE(w.met(with_constraint("zone", op, value), "a")) << op;
  }
  EXPECT_TRUE(w.met(with_constraint("zone", "UNLIKE", "z1"), "a"));
}

TEST(PlacementTest, IsComparesTextAndNormalisedScalars) {
  ConstraintWorld w;
  Offer& a = w.add("a", "r1");
  Attribute* s = a.add_attributes();
  s->set_name("version");
  s->set_type(Value::SCALAR);
  s->mutable_scalar()->set_value(2);
  Attribute* r = a.add_attributes();
  r->set_name("slots");
  r->set_type(Value::RANGES);
  Value::Range* range = r->mutable_ranges()->add_range();
  range->set_begin(1);
  range->set_end(3);
  Attribute* set = a.add_attributes();
  set->set_name("disks");
  set->set_type(Value::SET);
  set->mutable_set()->add_item("ssd");
  EXPECT_TRUE(w.met(with_constraint("rack", "IS", "r1"), "a"));
  EXPECT_FALSE(w.met(with_constraint("rack", "IS", "r2"), "a"));
  EXPECT_TRUE(w.met(with_constraint("version", "IS", "2"), "a"));
  EXPECT_TRUE(w.met(with_constraint("version", "IS", "2.0"), "a"));
  EXPECT_TRUE(w.met(with_constraint("version", "IS", "2.0001"), "a"));  // 0.### rounds it to 2
  EXPECT_FALSE(w.met(with_constraint("version", "IS", "2.5"), "a"));
  EXPECT_TRUE(w.met(with_constraint("slots", "LIKE", "\\[1-3\\]"), "a"));
  EXPECT_TRUE(w.met(with_constraint("disks", "IS", "{ssd}"), "a"));
}

TEST(PlacementTest, SelectToKillFollowsKillSelection) {
  App app = make_app(1);
  std::vector<Instance> instances(4);
  std::vector<const Instance*> candidates;
  for (size_t i = 0; i < instances.size(); ++i) {
    instances[i].task_id = "t" + std::to_string(i);
    instances[i].staged_at = static_cast<Timestamp>(100 * (i + 1));
    instances[i].state = "TASK_RUNNING";
    candidates.push_back(&instances[i]);
  }
  std::vector<const Instance*> youngest = select_to_kill(app, candidates, 2, {});
  ASSERT_EQ(youngest.size(), 2U);
  EXPECT_EQ(youngest[0]->task_id, "t3");
  EXPECT_EQ(youngest[1]->task_id, "t2");
  app.kill_selection = "OLDEST_FIRST";
  std::vector<const Instance*> oldest = select_to_kill(app, candidates, 2, {});
  ASSERT_EQ(oldest.size(), 2U);
  EXPECT_EQ(oldest[0]->task_id, "t0");
  EXPECT_EQ(oldest[1]->task_id, "t1");
  EXPECT_EQ(select_to_kill(app, candidates, 10, {}).size(), 4U);
}

TEST(PlacementTest, SelectToKillTakesInstancesThatAreNotRunningFirst) {
  App app = make_app(1);
  std::vector<Instance> instances(5);
  const char* states[] = {"TASK_RUNNING", "TASK_STAGING", "TASK_RUNNING", "TASK_UNREACHABLE", "TASK_STARTING"};
  std::vector<const Instance*> candidates;
  for (size_t i = 0; i < instances.size(); ++i) {
    instances[i].task_id = "t" + std::to_string(i);
    instances[i].state = states[i];
    instances[i].staged_at = static_cast<Timestamp>(10 * (i + 1));
    candidates.push_back(&instances[i]);
  }
  instances[0].started_at = 500;  // staged first, started last: the youngest running one
  instances[2].started_at = 100;
  for (const std::string selection : {"YOUNGEST_FIRST", "OLDEST_FIRST"}) {
    app.kill_selection = selection;
    std::vector<const Instance*> victims = select_to_kill(app, candidates, 5, {});
    std::vector<std::string> ids;
    for (const Instance* v : victims) {
      ids.push_back(v->task_id);
    }
    const std::vector<std::string> running_order =
        selection == "YOUNGEST_FIRST" ? std::vector<std::string>{"t0", "t2"} : std::vector<std::string>{"t2", "t0"};
    EXPECT_EQ(ids, (std::vector<std::string>{"t3", "t1", "t4", running_order[0], running_order[1]})) << selection;
  }
}

TEST(PlacementTest, SelectToKillKeepsGroupByEven) {
  ConstraintWorld w;
  w.add("a", "r1");
  w.add("b", "r2");
  // r1 has 3 instances, r2 has 1; the youngest is on r2.
  w.run_on("a");
  w.run_on("a");
  w.run_on("a");
  w.run_on("b");
  for (size_t i = 0; i < w.instances.size(); ++i) {
    w.instances[i].staged_at = static_cast<Timestamp>(10 * (i + 1));
  }
  App app = with_constraint("rack", "GROUP_BY");
  std::vector<const Instance*> candidates;
  for (const Instance& i : w.instances) {
    candidates.push_back(&i);
  }
  std::vector<const Instance*> victims = select_to_kill(app, candidates, 2, w.fields);
  ASSERT_EQ(victims.size(), 2U);
  // Both from the bigger rack, youngest first there; r2's only instance stays.
  EXPECT_EQ(victims[0]->task_id, "t2");
  EXPECT_EQ(victims[1]->task_id, "t1");
  // Without GROUP_BY the youngest overall goes first.
  EXPECT_EQ(select_to_kill(make_app(1), candidates, 1, w.fields)[0]->task_id, "t3");
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
