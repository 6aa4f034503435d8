// The services core in one process: changes (validation, 404, 409, 403,
// force), cancelling and reverting deployments, leadership, launches the
// store refuses, backoff and the instance index. No master is reachable, so
// deployments stay running: exactly what the lock tests need. The events
// the core publishes are in core_events_test.cpp, what it persists and
// loads back in core_persistence_test.cpp.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "apps/services/core_test_support.hpp"

namespace stoa::services::core_test {
namespace {

// The calls the core sends to its scheduler driver, as a test reads them.
struct CoreTestCalls {
  std::mutex mu;
  std::vector<scheduler::Call> calls;

  std::vector<scheduler::Call> of_type(scheduler::Call::Type type) {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<scheduler::Call> out;
    for (const scheduler::Call& c : calls) {
      if (c.type() == type) {
        out.push_back(c);
      }
    }
    return out;
  }
};

caf::behavior core_test_driver(caf::event_based_actor* self, std::shared_ptr<CoreTestCalls> data) {
  set_safe_handlers(self, "core-test-driver");
  return {
      [data](scheduler::Call& c) {
        std::lock_guard<std::mutex> lock(data->mu);
        data->calls.push_back(std::move(c));
      },
  };
}

// Points the core's calls at `driver` and makes it believe it is subscribed.
void core_test_use_driver(CoreState& st, const caf::actor& driver) {
  st.calls_ = std::make_unique<SchedulerDriver>(st.self, driver);
  st.subscribed_ = true;
}

Offer core_test_offer(const std::string& host) {
  Offer o;
  o.mutable_id()->set_value("offer-" + host);
  o.mutable_framework_id()->set_value("fw");
  o.mutable_slave_id()->set_value("slave-" + host);
  o.set_hostname(host);
  for (auto [name, amount] : {std::pair<const char*, double>{"cpus", 4}, {"mem", 4096}, {"disk", 1000}}) {
    Resource* r = o.add_resources();
    r->set_name(name);
    r->set_type(Value::SCALAR);
    r->mutable_scalar()->set_value(amount);
  }
  Resource* ports = o.add_resources();
  ports->set_name("ports");
  ports->set_type(Value::RANGES);
  Value::Range* range = ports->mutable_ranges()->add_range();
  range->set_begin(31000);
  range->set_end(31099);
  return o;
}

std::vector<std::string> core_test_launched(const scheduler::Call& accept) {
  std::vector<std::string> ids;
  for (const Offer::Operation& op : accept.accept().operations()) {
    for (const TaskInfo& t : op.launch().task_infos()) {
      ids.push_back(t.task_id().value());
    }
  }
  return ids;
}

// The per-app index agrees with a scan of every instance.
std::string core_test_index_agrees(const CoreState& st) {
  std::map<std::string, std::vector<std::string>> scanned;
  for (const auto& [id, i] : st.instances_) {
    scanned[i.app_id].push_back(id);
  }
  std::map<std::string, std::vector<std::string>> indexed;
  for (const auto& [app_id, ids] : st.instances_by_app_) {
    for (const Instance* i : st.instances_of(app_id)) {
      indexed[app_id].push_back(i->task_id);
    }
  }
  return scanned == indexed ? std::to_string(st.instances_.size()) : "index differs";
}

TEST_F(CoreTest, UnknownAppsAndDependenciesAreRefusedAndNothingIsStored) {
  caf::actor core = start_core();
  Change remove;
  remove.removals.insert("/nope");
  http::Response r = change(core, remove);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body_of(r)["message"].to_str(), "App '/nope' does not exist");

  App web = core_test_app("/web", 1);
  web.dependencies = {"/db"};
  r = change(core, core_test_upsert(web));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("/dependencies(0)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("/db"), std::string::npos) << r.body;
  EXPECT_EQ(data->count_prefix("apps/"), 0u);
  EXPECT_EQ(data->count_prefix("deployments/"), 0u);
}

TEST_F(CoreTest, ChangeStoresTheAppItsVersionAndTheDeployment) {
  caf::actor core = start_core();
  http::Response r = change(core, core_test_upsert(core_test_app("/prod/web", 2)));
  ASSERT_EQ(r.status, 200) << r.body;
  picojson::object body = body_of(r);
  std::string deployment = body["deploymentId"].to_str();
  auto version = static_cast<Timestamp>(body["version"].get<double>());
  EXPECT_FALSE(deployment.empty());
  auto entries = data->snapshot();
  ASSERT_EQ(entries.count("apps/prod/web"), 1u);
  EXPECT_EQ(entries.count("app-versions/prod/web/" + std::to_string(version)), 1u);
  EXPECT_EQ(entries.count("deployments/" + deployment), 1u);
  Try<picojson::value> stored = json_parse(entries["apps/prod/web"]);
  ASSERT_TRUE(stored.is_some());
  Try<App> app = app_from_store(*stored);
  ASSERT_TRUE(app.is_some()) << app.error();
  EXPECT_EQ(app->instances, 2);
  EXPECT_EQ(app->version, version);

  r = call(core, [version](Core& c, std::function<void(http::Response)> reply) {
    const App* a = c.app("/prod/web");
    bool ok = a != nullptr && a->version == version && c.deployments().size() == 1 &&
              c.deployments_of("/prod/web").size() == 1 && c.versions("/prod/web").size() == 1;
    reply(core_test_response_of(200, "text/plain", ok ? "ok" : "wrong"));
  });
  EXPECT_EQ(r.body, "ok");
}

TEST_F(CoreTest, ALockedAppAnswers409UnlessForced) {
  caf::actor core = start_core();
  http::Response first = change(core, core_test_upsert(core_test_app("/web", 1)));
  ASSERT_EQ(first.status, 200) << first.body;
  std::string first_id = body_of(first)["deploymentId"].to_str();

  http::Response locked = change(core, core_test_upsert(core_test_app("/web", 3)));
  ASSERT_EQ(locked.status, 409) << locked.body;
  picojson::object body = body_of(locked);
  EXPECT_NE(body["message"].to_str().find("App is locked by one or more deployments."), std::string::npos);
  ASSERT_TRUE(body["deployments"].is<picojson::array>());
  ASSERT_EQ(body["deployments"].get<picojson::array>().size(), 1u);
  EXPECT_EQ(body["deployments"].get<picojson::array>()[0].get("id").to_str(), first_id);
  EXPECT_EQ(body_of(change(core, core_test_upsert(core_test_app("/web", 3))))["message"].to_str(),
            body["message"].to_str());

  http::Response forced = change(core, core_test_upsert(core_test_app("/web", 3), true));
  ASSERT_EQ(forced.status, 200) << forced.body;
  std::string second_id = body_of(forced)["deploymentId"].to_str();
  EXPECT_NE(second_id, first_id);
  auto entries = data->snapshot();
  EXPECT_EQ(entries.count("deployments/" + first_id), 0u);
  EXPECT_EQ(entries.count("deployments/" + second_id), 1u);
}

TEST_F(CoreTest, MoreDeploymentsThanAllowedAnswer403) {
  caf::actor core = start_core(1);
  ASSERT_EQ(change(core, core_test_upsert(core_test_app("/a", 1))).status, 200);
  http::Response r = change(core, core_test_upsert(core_test_app("/b", 1)));
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(data->count_prefix("apps/"), 1u);
}

TEST_F(CoreTest, CancellingADeploymentWithForceRemovesIt) {
  caf::actor core = start_core();
  std::string id = body_of(change(core, core_test_upsert(core_test_app("/web", 2))))["deploymentId"].to_str();
  http::Response r = call(core, [](Core& c, std::function<void(http::Response)> reply) {
    c.cancel_deployment("no-such-id", true, [reply](std::optional<Outcome> o) {
      reply(core_test_response_of(200, "text/plain", o ? "found" : "none"));
    });
  });
  EXPECT_EQ(r.body, "none");
  r = call(core, [id](Core& c, std::function<void(http::Response)> reply) {
    c.cancel_deployment(id, true, [reply, &c](std::optional<Outcome> o) {
      reply(core_test_response_of(200, "text/plain", o && c.deployments().empty() ? "cancelled" : "still there"));
    });
  });
  EXPECT_EQ(r.body, "cancelled");
  // The delete is fire-and-forget: it reaches the store after the answer.
  EXPECT_TRUE(tests::poll_until([&] { return data->count_prefix("deployments/") == 0; },
                                tests::deadline_in(CORE_TEST_TIMEOUT)));
  // The app stays as changed (force does not roll back).
  EXPECT_EQ(data->count_prefix("apps/"), 1u);
}

TEST_F(CoreTest, RevertingADeploymentRestoresTheOriginalApps) {
  caf::actor core = start_core();
  std::string id = body_of(change(core, core_test_upsert(core_test_app("/web", 2))))["deploymentId"].to_str();
  http::Response r = call(core, [id](Core& c, std::function<void(http::Response)> reply) {
    c.cancel_deployment(id, false, [reply](std::optional<Outcome> o) {
      reply(o ? core_test_response(*o) : core_test_response_of(404, "text/plain", "none"));
    });
  });
  ASSERT_EQ(r.status, 200) << r.body;
  // The app was new: the revert removes it.
  r = call(core, [](Core& c, std::function<void(http::Response)> reply) {
    reply(core_test_response_of(200, "text/plain", c.app("/web") == nullptr ? "gone" : "still there"));
  });
  EXPECT_EQ(r.body, "gone");
  EXPECT_EQ(data->count_prefix("apps/"), 0u);
}

TEST_F(CoreTest, ACoreThatDoesNotLeadRefusesWritesWith503) {
  CoreOptions o;
  o.master = "127.0.0.1:1";
  o.store = store;
  o.hostname = "localhost";
  caf::actor standby = spawn_core(*runtime, o);  // never elected
  cores.push_back(standby);
  http::Response r = change(standby, core_test_upsert(core_test_app("/web", 1)));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(body_of(r)["message"].to_str().find("not the leader"), std::string::npos) << r.body;
  r = call(standby, [](Core& c, std::function<void(http::Response)> reply) {
    c.cancel_deployment("some-id", true, [reply](std::optional<Outcome> o) {
      reply(o ? core_test_response(*o) : core_test_response_of(404, "text/plain", "none"));
    });
  });
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(data->count_prefix("apps/"), 0u);
}

TEST_F(CoreTest, AChangeWithoutDeploymentStillAnswersAFinishedDeploymentId) {
  caf::actor core = start_core();
  http::Response first = change(core, core_test_upsert(core_test_app("/web", 0)));
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_TRUE(tests::poll_until(
      [&] {
        return core_test_in_state(*this, core, [](CoreState& st) { return st.deployments_.empty() ? "done" : "running"; }) ==
               "done";
      },
      tests::deadline_in(CORE_TEST_TIMEOUT)));
  http::Response again = change(core, core_test_upsert(core_test_app("/web", 0)));
  ASSERT_EQ(again.status, 200) << again.body;
  std::string id = body_of(again)["deploymentId"].to_str();
  EXPECT_FALSE(id.empty());
  EXPECT_NE(id, body_of(first)["deploymentId"].to_str());
  EXPECT_EQ(core_test_in_state(*this, core, [id](CoreState& st) {
              return st.deployments_.count(id) == 0 && st.deployments().empty() ? "gone" : "listed";
            }),
            "gone");
}

TEST_F(CoreTest, OnlyTasksStillWantedWhenTheirWriteIsStoredAreLaunched) {
  auto calls = std::make_shared<CoreTestCalls>();
  caf::actor driver = runtime->system().spawn(core_test_driver, calls);
  caf::actor core = start_core();
  ASSERT_EQ(change(core, core_test_upsert(core_test_app("/web", 2))).status, 200);
  std::string kept = core_test_in_state(*this, core, [driver](CoreState& st) {
    core_test_use_driver(st, driver);
    st.on_offers({core_test_offer("h1")});
    std::vector<std::string> ids;
    for (const auto& [id, i] : st.instances_) {
      ids.push_back(id);
    }
    if (ids.size() != 2) {
      return "placed " + std::to_string(ids.size());
    }
    // Scaled down while the write is in flight.
    st.kill_task(st.instances_.at(ids[0]), true);
    return ids[1] + " " + ids[0];
  });
  ASSERT_EQ(kept.rfind("web.", 0), 0u) << kept;
  std::string dropped = kept.substr(kept.find(' ') + 1);
  kept = kept.substr(0, kept.find(' '));
  ASSERT_TRUE(tests::poll_until([&] { return !calls->of_type(scheduler::Call::ACCEPT).empty(); },
                                tests::deadline_in(CORE_TEST_TIMEOUT)));
  std::vector<scheduler::Call> accepts = calls->of_type(scheduler::Call::ACCEPT);
  ASSERT_EQ(accepts.size(), 1u);
  EXPECT_EQ(core_test_launched(accepts[0]), std::vector<std::string>{kept});
  // The one not launched is forgotten (the master never heard of it), in the store too.
  EXPECT_EQ(core_test_in_state(*this, core, [kept, dropped](CoreState& st) {
              return std::to_string(st.instances_.count(kept)) + " " + std::to_string(st.instances_.count(dropped));
            }),
            "1 0");
  EXPECT_TRUE(tests::poll_until([&] { return data->count_prefix("instances/" + dropped) == 0; },
                                tests::deadline_in(CORE_TEST_TIMEOUT)));
  EXPECT_EQ(data->count_prefix("instances/" + kept), 1u);
  stop_actor(runtime->system(), driver);
}

TEST_F(CoreTest, ALaunchTheStoreRefusesIsAFailureAndBacksOff) {
  auto calls = std::make_shared<CoreTestCalls>();
  caf::actor driver = runtime->system().spawn(core_test_driver, calls);
  caf::actor core = start_core();
  App web = core_test_app("/web", 1);
  web.backoff_seconds = 600;
  web.max_launch_delay_seconds = 3600;
  ASSERT_EQ(change(core, core_test_upsert(web)).status, 200);
  data->fail_writes = true;
  EXPECT_EQ(core_test_in_state(*this, core, [driver](CoreState& st) {
              core_test_use_driver(st, driver);
              st.on_offers({core_test_offer("h1")});
              return std::to_string(st.instances_.size());
            }),
            "1");
  ASSERT_TRUE(tests::poll_until([&] { return !calls->of_type(scheduler::Call::DECLINE).empty(); },
                                tests::deadline_in(CORE_TEST_TIMEOUT)));
  EXPECT_EQ(core_test_in_state(*this, core, [](CoreState& st) {
              std::optional<TaskFailure> f = st.last_task_failure("/web");
              std::vector<QueueEntry> q = st.queue();
              bool delayed = q.size() == 1 && q[0].delay_until > now_ms() + 500 * 1000;
              return std::string(st.instances_.empty() ? "forgotten" : "kept") +
                     (f && f->message.find("disk full") != std::string::npos ? " failure" : " no failure") +
                     (delayed ? " delayed" : " not delayed") + " " + std::to_string(st.wanted_launches("/web"));
            }),
            "forgotten failure delayed 0");
  stop_actor(runtime->system(), driver);
}

TEST_F(CoreTest, HugeStoredBackoffNumbersStillDelay) {
  caf::actor core = start_core();
  App web = core_test_app("/web", 1);
  web.backoff_seconds = 1e300;
  web.backoff_factor = 1e300;
  web.max_launch_delay_seconds = std::numeric_limits<double>::infinity();
  ASSERT_EQ(change(core, core_test_upsert(web)).status, 200);
  EXPECT_EQ(core_test_in_state(*this, core, [](CoreState& st) {
              std::string out;
              for (int n = 0; n < 2; ++n) {
                st.note_backoff(*st.app("/web"));
                const Backoff& b = st.backoffs_.at("/web");
                out += b.until > now_ms() && std::isfinite(b.delay_seconds) ? "delayed " : "not delayed ";
              }
              return out;
            }),
            "delayed delayed ");
}

TEST_F(CoreTest, TheInstanceIndexFollowsEveryInsertAndErase) {
  caf::actor core = start_core();
  ASSERT_EQ(change(core, core_test_upsert(core_test_app("/a", 0))).status, 200);
  ASSERT_EQ(change(core, core_test_upsert(core_test_app("/b", 0))).status, 200);
  std::string out = core_test_in_state(*this, core, [](CoreState& st) {
    std::vector<std::string> ids;
    for (const char* app_id : {"/a", "/a", "/a", "/b", "/b"}) {
      Instance i = core_test_instance(*st.app(app_id), 0);
      ids.push_back(i.task_id);
      st.add_instance(i);
      st.persist({st.put_instance(i)});
    }
    std::string seen = core_test_index_agrees(st);
    st.on_update(core_test_status(ids[0], TASK_FAILED));  // terminal: erased
    st.kill({ids[3]}, true, [] {});                      // wiped
    st.on_update(core_test_status(ids[1], TASK_RUNNING));  // a state change keeps it
    seen += " " + core_test_index_agrees(st) + " " + std::to_string(st.instances_of("/a").size()) + " " +
            std::to_string(st.counted_instances("/b").size());
    return seen;
  });
  EXPECT_EQ(out, "5 3 2 1");
  ASSERT_TRUE(tests::poll_until([&] { return data->count_prefix("instances/") == 3; },
                                tests::deadline_in(CORE_TEST_TIMEOUT)));
  // A second core indexes what it loads.
  caf::actor second = start_core();
  EXPECT_EQ(core_test_in_state(*this, second, [](CoreState& st) {
              return core_test_index_agrees(st) + " " + std::to_string(st.instances_of("/a").size()) + " " +
                     std::to_string(st.tasks_of("/b").size());
            }),
            "3 2 1");
}

TEST(CoreReadinessJson, CurrentActionsShowTheirAppsReadinessResults) {
  Deployment d;
  d.id = "d1";
  d.steps = {{DeploymentAction{"ScaleApplication", "/a"}, DeploymentAction{"ScaleApplication", "/b"}}};
  d.current_step = 1;
  d.readiness.push_back(ReadinessCheckResult{"ready", "a.instance-1._app.1", "/a", false,
                                             ReadinessResponse{503, "text/plain", "not yet"}});
  d.readiness.push_back(ReadinessCheckResult{"ready", "b.instance-2._app.1", "/b", true, std::nullopt});
  picojson::object o = deployment_json(d);
  const picojson::array& actions = o["currentActions"].get<picojson::array>();
  ASSERT_EQ(actions.size(), 2u);
  EXPECT_EQ(json_serialize(actions[0].get("readinessCheckResults")),
            R"([{"lastResponse":{"body":"not yet","contentType":"text/plain","status":503},"name":"ready",)"
            R"("ready":false,"taskId":"a.instance-1._app.1"}])");
  EXPECT_EQ(json_serialize(actions[1].get("readinessCheckResults")),
            R"([{"name":"ready","ready":true,"taskId":"b.instance-2._app.1"}])");
}

}  // namespace
}  // namespace stoa::services::core_test
