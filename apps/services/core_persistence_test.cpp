// What the services core persists and loads back (core_state.cpp): a second
// core (a restart or a failover) finds the apps, versions, deployments,
// task failures and launch delays the first wrote; store failures answer
// 503 and undo only their own change; writes in one turn are coalesced.

#include <gtest/gtest.h>

#include <algorithm>

#include "apps/services/core_test_support.hpp"

namespace stoa::services::core_test {
namespace {

TEST_F(CoreTest, AFailedStoreWriteAnswers503AndChangesNothing) {
  caf::actor core = start_core();
  data->fail_writes = true;
  http::Response r = change(core, core_test_upsert(core_test_app("/web", 1)));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("disk full"), std::string::npos) << r.body;
  r = call(core, [](Core& c, std::function<void(http::Response)> reply) {
    reply(core_test_response_of(200, "text/plain", c.apps().empty() && c.deployments().empty() ? "empty" : "changed"));
  });
  EXPECT_EQ(r.body, "empty");
}

TEST_F(CoreTest, ASecondCoreLoadsAppsVersionsAndDeploymentsFromTheStore) {
  caf::actor first = start_core();
  picojson::object body = body_of(change(first, core_test_upsert(core_test_app("/prod/web", 2))));
  std::string deployment = body["deploymentId"].to_str();
  auto version = static_cast<Timestamp>(body["version"].get<double>());
  ASSERT_FALSE(deployment.empty());
  stop_actor(runtime->system(), first);

  caf::actor second = start_core();
  http::Response r = call(second, [version, deployment](Core& c, std::function<void(http::Response)> reply) {
    const App* a = c.app("/prod/web");
    std::string why;
    if (a == nullptr) {
      why = "no app";
    } else if (a->version != version || a->instances != 2) {
      why = "wrong app";
    } else if (c.deployments().size() != 1 || c.deployments().front()->id != deployment) {
      why = "wrong deployments";
    } else if (c.versions("/prod/web") != std::vector<Timestamp>{version}) {
      why = "wrong versions";
    }
    reply(core_test_response_of(200, "text/plain", why.empty() ? "ok" : why));
  });
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(call(second, [](Core& c, std::function<void(http::Response)> reply) {
              reply(core_test_response_of(200, "text/plain", c.reset_delay("/none") ? "yes" : "no"));
            }).body,
            "no");
}

TEST_F(CoreTest, OnlyTheNewestFiftyVersionsAreKept) {
  caf::actor core = start_core();
  for (int n = 1; n <= 55; ++n) {
    ASSERT_EQ(change(core, core_test_upsert(core_test_app("/web", n), true)).status, 200) << n;
  }
  http::Response r = call(core, [](Core& c, std::function<void(http::Response)> reply) {
    std::vector<Timestamp> v = c.versions("/web");
    bool newest_first = std::is_sorted(v.rbegin(), v.rend());
    reply(core_test_response_of(200, "text/plain",
                                std::to_string(v.size()) + (newest_first && !v.empty() && v.front() == c.app("/web")->version
                                                                ? " current first"
                                                                : " wrong order")));
  });
  EXPECT_EQ(r.body, "50 current first");
  EXPECT_TRUE(tests::poll_until([&] { return data->count_prefix("app-versions/web/") == 50; },
                                tests::deadline_in(CORE_TEST_TIMEOUT)))
      << data->count_prefix("app-versions/web/");
}

TEST_F(CoreTest, TheFileStoreKeepsWhatACoreWroteForTheNextOne) {
  tests::TempDir dir;
  Try<caf::actor> files = spawn_file_store(runtime->system(), dir.path() + "/state");
  ASSERT_TRUE(files.is_some()) << files.error();
  caf::actor first = start_core(100, *files);
  App web = core_test_app("/prod/web", 3);
  web.port_definitions.push_back(PortDefinition{});  // a service port to assign
  picojson::object body = body_of(change(first, core_test_upsert(web)));
  std::string deployment = body["deploymentId"].to_str();
  ASSERT_FALSE(deployment.empty());
  http::Response assigned = call(first, [](Core& c, std::function<void(http::Response)> reply) {
    const App* a = c.app("/prod/web");
    reply(core_test_response_of(200, "text/plain", a == nullptr ? "none" : std::to_string(a->service_ports().at(0))));
  });
  ASSERT_NE(assigned.body, "0");
  ASSERT_NE(assigned.body, "none");
  stop_actor(runtime->system(), first);
  stop_actor(runtime->system(), *files);

  // A new store actor over the same directory, as after a restart.
  Try<caf::actor> again = spawn_file_store(runtime->system(), dir.path() + "/state");
  ASSERT_TRUE(again.is_some()) << again.error();
  caf::actor second = start_core(100, *again);
  http::Response r = call(second, [deployment](Core& c, std::function<void(http::Response)> reply) {
    const App* a = c.app("/prod/web");
    std::string out = a == nullptr ? "none" : std::to_string(a->instances) + " " + std::to_string(a->service_ports().at(0));
    out += c.deployments().size() == 1 && c.deployments().front()->id == deployment ? " resumed" : " lost";
    reply(core_test_response_of(200, "text/plain", out));
  });
  EXPECT_EQ(r.body, "3 " + assigned.body + " resumed");
  stop_actor(runtime->system(), *again);
}

TEST_F(CoreTest, ATaskFailureAndTheLaunchDelaySurviveForTheNextCore) {
  caf::actor first = start_core();
  App web = core_test_app("/web", 1);
  web.backoff_seconds = 3600;
  web.max_launch_delay_seconds = 3600;
  ASSERT_EQ(change(first, core_test_upsert(web)).status, 200);
  std::string task = core_test_in_state(*this, first, [](CoreState& st) {
    Instance i = core_test_instance(*st.app("/web"), 0);
    st.add_instance(i);
    st.on_update(core_test_status(i.task_id, TASK_FAILED));
    return i.task_id;
  });
  ASSERT_TRUE(tests::poll_until(
      [&] { return data->count_prefix("task-failures/web") == 1 && data->count_prefix("launch-delays/web") == 1; },
      tests::deadline_in(CORE_TEST_TIMEOUT)));
  EXPECT_EQ(data->count_prefix("instances/"), 0u);
  stop_actor(runtime->system(), first);

  caf::actor second = start_core();
  std::string out = core_test_in_state(*this, second, [](CoreState& st) {
    std::optional<TaskFailure> f = st.last_task_failure("/web");
    std::vector<QueueEntry> q = st.queue();
    std::string delay = !q.empty() && q[0].delay_until > now_ms() + 3000 * 1000 ? "delayed" : "not delayed";
    return (f ? f->task_id + " " + f->state + " " + f->message : std::string("none")) + " " + delay;
  });
  EXPECT_EQ(out, task + " TASK_FAILED exited with status 3 delayed");
  // Resetting the delay forgets it in the store too.
  EXPECT_EQ(core_test_in_state(*this, second, [](CoreState& st) { return st.reset_delay("/web") ? "reset" : "no"; }),
            "reset");
  EXPECT_TRUE(tests::poll_until([&] { return data->count_prefix("launch-delays/") == 0; },
                                tests::deadline_in(CORE_TEST_TIMEOUT)));
}

TEST_F(CoreTest, ARemovalTheStoreRefusesKeepsTheFailureAndTheDelay) {
  caf::actor core = start_core();
  App web = core_test_app("/web", 1);
  web.backoff_seconds = 3600;
  ASSERT_EQ(change(core, core_test_upsert(web)).status, 200);
  core_test_in_state(*this, core, [](CoreState& st) {
    Instance i = core_test_instance(*st.app("/web"), 0);
    st.add_instance(i);
    st.on_update(core_test_status(i.task_id, TASK_FAILED));
    return std::string();
  });
  data->fail_writes = true;
  Change remove;
  remove.removals.insert("/web");
  remove.force = true;
  EXPECT_EQ(change(core, remove).status, 503);
  EXPECT_EQ(core_test_in_state(*this, core, [](CoreState& st) {
              bool failure = st.last_task_failure("/web").has_value();
              bool delayed = !st.queue().empty() && st.queue()[0].delay_until > now_ms();
              return std::string(failure ? "failure" : "none") + (delayed ? " delayed" : " not delayed");
            }),
            "failure delayed");
}

TEST_F(CoreTest, ManyInstanceWritesInOneTurnAreCoalescedAndKeepTheirOrder) {
  caf::actor core = start_core();
  ASSERT_EQ(change(core, core_test_upsert(core_test_app("/web", 0))).status, 200);
  // 200 tasks written, then half of them deleted again, all in one turn:
  // the store ends with exactly the survivors.
  std::string out = core_test_in_state(*this, core, [](CoreState& st) {
    std::vector<StoreOp> puts;
    std::vector<std::string> ids;
    for (int n = 0; n < 200; ++n) {
      Instance i = core_test_instance(*st.app("/web"), 0);
      ids.push_back(i.task_id);
      st.persist({st.put_instance(i)});
    }
    for (size_t n = 0; n < ids.size(); n += 2) {
      st.persist({StoreOp{StoreOp::DELETE, CoreState::instance_key(ids[n]), {}}});
    }
    size_t queued = 0;
    for (const auto& [key, op] : st.pending_writes_) {
      queued += key.compare(0, 10, "instances/") == 0 ? 1 : 0;
    }
    return std::to_string(queued);
  });
  EXPECT_EQ(out, "200");  // one queued write per key
  EXPECT_TRUE(tests::poll_until([&] { return data->count_prefix("instances/") == 100; },
                                tests::deadline_in(CORE_TEST_TIMEOUT)))
      << data->count_prefix("instances/");
}

TEST_F(CoreTest, AStoreFailureUndoesOnlyItsOwnChange) {
  caf::actor core = start_core();
  data->fail_keys.insert("apps/a");
  // Two changes in one turn: /b is applied while the write of /a is in flight.
  auto answers = std::make_shared<std::vector<int>>();
  core_test_in_state(*this, core, [answers](CoreState& st) {
    Change a = core_test_upsert(core_test_app("/a", 0));
    Change b = core_test_upsert(core_test_app("/b", 0));
    st.change(a, [answers](Outcome o) { answers->push_back(std::holds_alternative<ApiError>(o) ? 503 : 200); });
    st.change(b, [answers](Outcome o) { answers->push_back(std::holds_alternative<ApiError>(o) ? 503 : 200); });
    return std::string();
  });
  auto both = [&] {
    return core_test_in_state(*this, core, [answers](CoreState&) { return std::to_string(answers->size()); }) == "2";
  };
  ASSERT_TRUE(tests::poll_until(both, tests::deadline_in(CORE_TEST_TIMEOUT)));
  EXPECT_EQ(core_test_in_state(*this, core, [answers](CoreState& st) {
              return std::to_string((*answers)[0]) + " " + std::to_string((*answers)[1]) +
                     (st.app("/a") == nullptr ? " no a" : " a") + (st.app("/b") == nullptr ? " no b" : " b") +
                     " " + std::to_string(st.versions("/b").size());
            }),
            "503 200 no a b 1");
  EXPECT_EQ(data->count_prefix("apps/b"), 1u);
}

}  // namespace
}  // namespace stoa::services::core_test
