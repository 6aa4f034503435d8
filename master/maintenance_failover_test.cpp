// The maintenance schedule and the down machines are stored in the registry
// before a POST is answered, and the next leader goes on with them
// (docs/operator-api.md, "Maintenance").

#include <gtest/gtest.h>

#include <utility>

#include "common/json.hpp"
#include "master/master_fixture.hpp"

namespace stoa::master {
namespace {

using namespace stoa::master::testing;

class MaintenanceFailover : public MasterFixture {
 protected:
  std::pair<int, std::string> post(const std::string& endpoint, const std::string& body) {
    std::pair<int, std::string> out{0, ""};
    // The path only goes into the log line.
    auto h = self_->request(master_, caf::infinite, update_atom_v, endpoint, std::string("POST"),
                            "/" + endpoint, body);
    sched_.run();
    h.receive([&](int status, std::string& text) { out = {status, std::move(text)}; },
              [&](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    return out;
  }

  std::string schedule() { return json_serialize(view("maintenance-schedule")); }
  std::string status() { return json_serialize(view("maintenance-status")); }

  void fail_over() {
    stop_master();
    start({});
  }
};

TEST_F(MaintenanceFailover, TheScheduleAndTheDownMachinesOutliveTheLeader) {
  start({});
  const std::string windows =
      R"({"windows":[{"machine_ids":[{"hostname":"h1"},{"hostname":"h2","ip":"10.0.0.2"}],)"
      R"("unavailability":{"start":{"nanoseconds":1000},"duration":{"nanoseconds":3600000000000}}},)"
      R"({"machine_ids":[{"ip":"10.0.0.3"}],"unavailability":{"start":{"nanoseconds":2000}}}]})";
  auto set = post("maintenance-schedule", windows);
  ASSERT_EQ(set.first, 200) << set.second;
  auto down = post("machine-down", R"([{"hostname":"h1"}])");
  ASSERT_EQ(down.first, 200) << down.second;
  const std::string before_schedule = schedule();
  const std::string before_status = status();
  EXPECT_NE(before_schedule.find("10.0.0.3"), std::string::npos) << before_schedule;
  EXPECT_NE(before_status.find(R"("down_machines":[{"hostname":"h1"}])"), std::string::npos) << before_status;

  fail_over();
  EXPECT_EQ(schedule(), before_schedule);
  EXPECT_EQ(status(), before_status);

  // A refused request changes nothing, here or in the registry.
  auto bad = post("machine-up", R"([{"hostname":"nope"}])");
  EXPECT_EQ(bad.first, 400) << bad.second;
  EXPECT_NE(bad.second.find("'nope'"), std::string::npos) << bad.second;
  fail_over();
  EXPECT_EQ(status(), before_status);

  // Up again: h1 leaves the schedule, for the next leader too.
  auto up = post("machine-up", R"([{"hostname":"h1"}])");
  ASSERT_EQ(up.first, 200) << up.second;
  fail_over();
  const std::string after = schedule();
  EXPECT_EQ(after.find("h1"), std::string::npos) << after;
  EXPECT_NE(after.find("h2"), std::string::npos) << after;
  EXPECT_NE(status().find(R"("down_machines":[])"), std::string::npos) << status();

  // Cleared: the next leader has no schedule.
  auto cleared = post("maintenance-schedule", "{}");
  ASSERT_EQ(cleared.first, 200) << cleared.second;
  fail_over();
  EXPECT_EQ(schedule(), "{}");
}

TEST_F(MaintenanceFailover, PostsBuildOnTheChangeStillBeingStored) {
  start({});
  // Two requests handled before the registrar answers the first: the second
  // applies to the first's result, and both are stored in order.
  auto first = self_->request(master_, caf::infinite, update_atom_v, std::string("maintenance-schedule"),
                              std::string("POST"), std::string("/master/maintenance/schedule"),
                              std::string(R"({"windows":[{"machine_ids":[{"hostname":"a"}],)"
                                          R"("unavailability":{"start":{"nanoseconds":5}}}]})"));
  auto second = self_->request(master_, caf::infinite, update_atom_v, std::string("machine-down"),
                               std::string("POST"), std::string("/master/machine/down"),
                               std::string(R"([{"hostname":"a"}])"));
  sched_.run();
  for (auto* h : {&first, &second}) {
    h->receive([](int status, std::string& body) { EXPECT_EQ(status, 200) << body; },
               [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  }
  EXPECT_NE(status().find(R"("down_machines":[{"hostname":"a"}])"), std::string::npos) << status();
  fail_over();
  EXPECT_NE(status().find(R"("down_machines":[{"hostname":"a"}])"), std::string::npos) << status();
}

}  // namespace
}  // namespace stoa::master
