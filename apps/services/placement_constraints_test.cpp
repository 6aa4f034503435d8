// Constraints (offer fields, UNIQUE, CLUSTER, GROUP_BY, MAX_PER, LIKE,
// UNLIKE, IS) and the choice of victims for a scale-down
// (placement_constraints.cpp).

#include "apps/services/placement.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "apps/services/placement_test_support.hpp"

namespace stoa::services {
namespace {

using namespace placement_test;

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

}  // namespace
}  // namespace stoa::services
