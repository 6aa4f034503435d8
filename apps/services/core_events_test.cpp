// The events the services core publishes (core_events.cpp), as an event
// bus that records them in order sees them: a cancelled step, a terminal
// update of an unknown task, health changes, an expunged unreachable task.

#include <gtest/gtest.h>

#include <algorithm>

#include "apps/services/core_test_support.hpp"

namespace stoa::services::core_test {
namespace {

// Every event the core publishes, in order.
class CoreTestEvents : public EventBus {
 public:
  void publish(const std::string& type, picojson::object fields) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.emplace_back(type, std::move(fields));
  }
  bool listening() const override { return true; }
  std::vector<std::pair<std::string, picojson::object>> of_type(const std::string& type) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<std::string, picojson::object>> out;
    for (const auto& e : events_) {
      if (e.first == type) {
        out.push_back(e);
      }
    }
    return out;
  }
  std::vector<std::string> types() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) {
      out.push_back(e.first);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, picojson::object>> events_;
};

TEST_F(CoreTest, CancellingARunningStepPublishesStepFailureThenDeploymentFailed) {
  auto events = std::make_shared<CoreTestEvents>();
  caf::actor core = start_core(100, {}, events);
  std::string id = body_of(change(core, core_test_upsert(core_test_app("/web", 2))))["deploymentId"].to_str();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(tests::poll_until([&] { return !events->of_type("deployment_info").empty(); },
                                tests::deadline_in(CORE_TEST_TIMEOUT)));
  EXPECT_TRUE(events->of_type("deployment_step_failure").empty());
  http::Response r = call(core, [id](Core& c, std::function<void(http::Response)> reply) {
    c.cancel_deployment(id, true, [reply](std::optional<Outcome> o) {
      reply(core_test_response_of(200, "text/plain", o ? "cancelled" : "none"));
    });
  });
  ASSERT_EQ(r.body, "cancelled");
  std::vector<std::string> types = events->types();
  auto failure = std::find(types.begin(), types.end(), "deployment_step_failure");
  auto failed = std::find(types.begin(), types.end(), "deployment_failed");
  ASSERT_NE(failure, types.end());
  ASSERT_NE(failed, types.end());
  EXPECT_LT(failure - types.begin(), failed - types.begin());
  picojson::object f = events->of_type("deployment_step_failure").front().second;
  EXPECT_EQ(f["plan"].get("id").to_str(), id);
  // The step it was in: the scale of /web.
  const picojson::value& actions = f["currentStep"].get("actions");
  ASSERT_TRUE(actions.is<picojson::array>()) << json_serialize(picojson::value(f));
  ASSERT_EQ(actions.get<picojson::array>().size(), 1u);
  EXPECT_EQ(actions.get<picojson::array>()[0].get("app").to_str(), "/web");
}

TEST_F(CoreTest, ATerminalUpdateOfAnUnknownTaskPublishesUnknownInstanceTerminated) {
  auto events = std::make_shared<CoreTestEvents>();
  caf::actor core = start_core(100, {}, events);
  ASSERT_EQ(change(core, core_test_upsert(core_test_app("/prod/my_web", 0))).status, 200);
  std::string task = new_task_id("/prod/my_web");
  EXPECT_EQ(core_test_in_state(*this, core, [task](CoreState& st) {
              st.on_update(core_test_status(task, TASK_KILLED));
              st.on_update(core_test_status("gone.instance-1._app.1", TASK_GONE));
              return std::string("ok");
            }),
            "ok");
  auto seen = events->of_type("unknown_instance_terminated_event");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].second["instanceId"].to_str(), task.substr(0, task.rfind("._app.")));
  EXPECT_EQ(seen[0].second["runSpecId"].to_str(), "/prod/my_web");
  EXPECT_EQ(seen[0].second["condition"].to_str(), "Killed");
  EXPECT_EQ(seen[1].second["runSpecId"].to_str(), "/gone");
  EXPECT_EQ(seen[1].second["condition"].to_str(), "Gone");
}

TEST_F(CoreTest, HealthChangesPublishInstanceHealthChangedOncePerChange) {
  auto events = std::make_shared<CoreTestEvents>();
  caf::actor core = start_core(100, {}, events);
  App web = core_test_app("/web", 1);
  HealthCheck hc;
  hc.protocol = "HTTP";
  hc.grace_period_seconds = 0;
  hc.max_consecutive_failures = 0;  // no kills
  web.health_checks.push_back(hc);
  ASSERT_EQ(change(core, core_test_upsert(web)).status, 200);
  std::string out = core_test_in_state(*this, core, [](CoreState& st) {
    Instance i = core_test_instance(*st.app("/web"), 1);
    std::string id = i.task_id;
    st.add_instance(i);
    ProbeResult ok;
    ok.healthy = true;
    ProbeResult bad;
    bad.cause = "HTTP 503";
    st.on_probe(id, 0, ok);
    st.on_probe(id, 0, ok);  // no change: no event
    st.on_probe(id, 0, bad);
    st.on_probe(id, 0, bad);
    return id;
  });
  auto seen = events->of_type("instance_health_changed_event");
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].second["healthy"], picojson::value(true));
  EXPECT_EQ(seen[1].second["healthy"], picojson::value(false));
  EXPECT_EQ(seen[0].second["runSpecId"].to_str(), "/web");
  EXPECT_EQ(seen[0].second["instanceId"].to_str(), out.substr(0, out.rfind("._app.")));
  EXPECT_FALSE(seen[0].second["runSpecVersion"].to_str().empty());
}

// Regression (issue #15, the netns scenario): an unreachable task expunged
// without an event left stoa-lb's HAProxy backend on the lost slave.
TEST_F(CoreTest, ExpungingAnUnreachableTaskPublishesItKilled) {
  auto events = std::make_shared<CoreTestEvents>();
  caf::actor core = start_core(100, {}, events);
  ASSERT_EQ(change(core, core_test_upsert(core_test_app("/web", 1))).status, 200);
  std::string id = core_test_in_state(*this, core, [](CoreState& st) {
    Instance i = core_test_instance(*st.app("/web"), 0);
    std::string task = i.task_id;
    st.add_instance(i);
    st.on_update(core_test_status(task, TASK_UNREACHABLE));
    st.check_timeouts();  // the default strategy: expunged at once
    return task;
  });
  std::vector<std::string> statuses;
  for (const auto& [type, f] : events->of_type("status_update_event")) {
    if (f.at("taskId").to_str() == id) {
      statuses.push_back(f.at("taskStatus").to_str());
    }
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"TASK_UNREACHABLE", "TASK_KILLED"}));
  auto changed = events->of_type("instance_changed_event");
  ASSERT_FALSE(changed.empty());
  EXPECT_EQ(changed.back().second["instanceId"].to_str(), id.substr(0, id.rfind("._app.")));
  EXPECT_EQ(changed.back().second["condition"].to_str(), "Killed");
}

}  // namespace
}  // namespace stoa::services::core_test
