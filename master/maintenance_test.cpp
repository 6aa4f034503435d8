// The maintenance schedule and machine modes (pure; the endpoints are tested
// end to end in tests/operator_test.cpp).
#include "master/maintenance.hpp"

#include <gtest/gtest.h>
#include <picojson.h>

#include "proto/registry.pb.h"

namespace stoa::master {
namespace {

const char* TWO_WINDOWS =
    R"({"windows":[)"
    R"({"machine_ids":[{"hostname":"h1","ip":"10.0.0.1"}],"unavailability":{"start":{"nanoseconds":100}}},)"
    R"({"machine_ids":[{"hostname":"h2"},{"ip":"::1"}],)"
    R"("unavailability":{"start":{"nanoseconds":200},"duration":{"nanoseconds":50}}}]})";

TEST(Maintenance, EmptyScheduleIsAnEmptyObject) {
  Maintenance m;
  EXPECT_EQ(m.schedule_json().serialize(), "{}");
  EXPECT_EQ(m.status_json().serialize(), R"({"down_machines":[],"draining_machines":[]})");
  EXPECT_FALSE(m.set_schedule("{}"));
  EXPECT_FALSE(m.set_schedule(R"({"windows":[]})"));
  EXPECT_EQ(m.schedule_json().serialize(), "{}");
}

TEST(Maintenance, ScheduleRoundTripsInMesosShape) {
  Maintenance m;
  ASSERT_FALSE(m.set_schedule(TWO_WINDOWS));
  picojson::value expected;
  ASSERT_TRUE(picojson::parse(expected, TWO_WINDOWS).empty());
  EXPECT_EQ(m.schedule_json().serialize(), expected.serialize());
  ASSERT_EQ(m.windows().size(), 2u);
  EXPECT_EQ(m.windows()[1].start_ns, 200);
  EXPECT_EQ(m.windows()[1].duration_ns, 50);
  EXPECT_FALSE(m.windows()[0].duration_ns.has_value());
  EXPECT_EQ(m.status_json().get("draining_machines").get<picojson::array>().size(), 3u);
}

TEST(Maintenance, BadSchedulesAreRefusedNamingTheValueAndChangeNothing) {
  Maintenance m;
  ASSERT_FALSE(m.set_schedule(TWO_WINDOWS));
  const std::string before = m.schedule_json().serialize();
  struct Case {
    const char* body;
    const char* names;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"", "not valid JSON"},
           {"[]", "JSON object"},
           {R"({"windowz":[]})", "'windowz'"},
           {R"({"windows":{}})", "'windows' must be an array"},
           {R"({"windows":[{"machine_ids":[],"unavailability":{"start":{"nanoseconds":1}}}]})", "machine_ids"},
           {R"({"windows":[{"machine_ids":[{}],"unavailability":{"start":{"nanoseconds":1}}}]})", "hostname or an ip"},
           {R"({"windows":[{"machine_ids":[{"hostname":""}],"unavailability":{"start":{"nanoseconds":1}}}]})",
            "hostname or an ip"},
           {R"({"windows":[{"machine_ids":[{"ip":"1.2.3"}],"unavailability":{"start":{"nanoseconds":1}}}]})",
            "'1.2.3' is not an IP address"},
           {R"({"windows":[{"machine_ids":[{"hostname":"a","rack":"r"}],"unavailability":{"start":{"nanoseconds":1}}}]})",
            "'rack'"},
           {R"({"windows":[{"machine_ids":[{"hostname":7}],"unavailability":{"start":{"nanoseconds":1}}}]})",
            "'hostname' must be a string"},
           {R"({"windows":[{"machine_ids":[{"hostname":"a"}]}]})", "unavailability"},
           {R"({"windows":[{"machine_ids":[{"hostname":"a"}],"unavailability":{}}]})", "start"},
           {R"({"windows":[{"machine_ids":[{"hostname":"a"}],"unavailability":{"start":{"nanoseconds":1.5}}}]})",
            "must be an integer"},
           {R"({"windows":[{"machine_ids":[{"hostname":"a"}],"unavailability":{"start":{"nanoseconds":1},"duration":{"nanoseconds":-1}}}]})",
            "must not be negative"},
           {R"({"windows":[{"machine_ids":[{"hostname":"a"},{"hostname":"a"}],"unavailability":{"start":{"nanoseconds":1}}}]})",
            "Machine 'a' is in more than one window"},
           {R"({"windows":[{"machine_ids":[{"hostname":"a"}],"unavailability":{"start":{"nanoseconds":1}}},)"
            R"({"machine_ids":[{"hostname":"a"}],"unavailability":{"start":{"nanoseconds":2}}}]})",
            "Machine 'a' is in more than one window"},
       }) {
    std::optional<std::string> e = m.set_schedule(c.body);
    ASSERT_TRUE(e.has_value()) << c.body << " was accepted";
    EXPECT_NE(e->find(c.names), std::string::npos) << c.body << " -> " << *e;
    EXPECT_EQ(m.schedule_json().serialize(), before);
  }
}

TEST(Maintenance, DownOnlyForScheduledUpOnlyForDown) {
  Maintenance m;
  ASSERT_FALSE(m.set_schedule(TWO_WINDOWS));
  std::optional<std::string> e = m.machines_down(R"([{"hostname":"h9"}])");
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("'h9' is not in the maintenance schedule"), std::string::npos) << *e;
  e = m.machines_up(R"([{"hostname":"h2"}])");
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("'h2' is not down"), std::string::npos) << *e;
  EXPECT_TRUE(m.machines_down("[]"));
  EXPECT_TRUE(m.machines_down(R"({"hostname":"h2"})"));
  EXPECT_TRUE(m.machines_down(R"([{"hostname":"h2"},{"hostname":"h2"}])"));
  // All or nothing: one unscheduled machine and none goes down.
  EXPECT_TRUE(m.machines_down(R"([{"hostname":"h2"},{"hostname":"h9"}])"));
  EXPECT_TRUE(m.down().empty());

  ASSERT_FALSE(m.machines_down(R"([{"hostname":"h2"},{"ip":"::1"}])"));
  EXPECT_EQ(m.down().size(), 2u);
  EXPECT_TRUE(m.machines_down(R"([{"hostname":"h2"}])")) << "already down";
  picojson::value status = m.status_json();
  EXPECT_EQ(status.get("down_machines").serialize(), R"([{"ip":"::1"},{"hostname":"h2"}])");
  EXPECT_EQ(status.get("draining_machines").serialize(), R"([{"id":{"hostname":"h1","ip":"10.0.0.1"}}])");
  // A down machine cannot leave the schedule.
  e = m.set_schedule("{}");
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("'(::1)' is down: it must stay in the schedule"), std::string::npos) << *e;

  // Up: out of the schedule, and the emptied window goes too.
  ASSERT_FALSE(m.machines_up(R"([{"hostname":"h2"},{"ip":"::1"}])"));
  EXPECT_TRUE(m.down().empty());
  ASSERT_EQ(m.windows().size(), 1u);
  EXPECT_EQ(m.windows()[0].machines[0].hostname, "h1");
  EXPECT_FALSE(m.set_schedule("{}"));
}

TEST(Maintenance, TheRegistrysFormRestoresTheSameState) {
  Maintenance m;
  ASSERT_FALSE(m.set_schedule(TWO_WINDOWS));
  ASSERT_FALSE(m.machines_down(R"([{"ip":"::1"}])"));
  registry::Maintenance stored = m.to_proto();
  ASSERT_EQ(stored.windows_size(), 2);
  EXPECT_FALSE(stored.windows(0).has_duration_nanoseconds());
  EXPECT_EQ(stored.windows(1).duration_nanoseconds(), 50);
  ASSERT_EQ(stored.down_size(), 1);
  EXPECT_EQ(stored.down(0).ip(), "::1");
  EXPECT_FALSE(stored.down(0).has_hostname());
  Maintenance back;
  ASSERT_FALSE(back.restore(stored));
  EXPECT_EQ(back.schedule_json().serialize(), m.schedule_json().serialize());
  EXPECT_EQ(back.status_json().serialize(), m.status_json().serialize());
  EXPECT_EQ(Maintenance().to_proto().ByteSizeLong(), 0u);  // nothing to store
}

TEST(Maintenance, ABadStoredStateIsAnErrorAndChangesNothing) {
  Maintenance m;
  ASSERT_FALSE(m.set_schedule(TWO_WINDOWS));
  const std::string before = m.status_json().serialize();
  registry::Maintenance stored;
  stored.add_down()->set_hostname("h9");  // down, but in no window
  std::optional<std::string> error = m.restore(stored);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("the stored down machines: Machine 'h9' is not in the maintenance schedule"),
            std::string::npos)
      << *error;
  registry::Maintenance bad_ip;
  registry::MaintenanceWindow* w = bad_ip.add_windows();
  w->add_machine_ids()->set_ip("not-an-ip");
  w->mutable_start()->set_nanoseconds(1);
  error = m.restore(bad_ip);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("'not-an-ip' is not an IP address"), std::string::npos) << *error;
  EXPECT_EQ(m.status_json().serialize(), before);
}

}  // namespace
}  // namespace stoa::master
