// The services core in one process: changes (validation, 404, 409, 403,
// force), what they persist, cancelling deployments, and loading the
// state back in a second core (a restart or a failover). No master is
// reachable, so deployments stay running: exactly what the lock tests need.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include <caf/all.hpp>

#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "apps/services/core.hpp"
#include "apps/services/core_internal.hpp"
#include "apps/services/events.hpp"
#include "apps/services/store.hpp"
#include "common/json.hpp"
#include "tests/cluster.hpp"
#include "tests/poll.hpp"

namespace stoa::services {
namespace {

constexpr auto CORE_TEST_TIMEOUT = std::chrono::seconds(10);

// The store protocol over a map the test can read (store.hpp).
struct CoreTestStoreData {
  std::mutex mu;
  std::map<std::string, std::string> entries;
  bool fail_writes = false;
  std::set<std::string> fail_keys;  // puts of these keys fail

  std::map<std::string, std::string> snapshot() {
    std::lock_guard<std::mutex> lock(mu);
    return entries;
  }
  size_t count_prefix(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const auto& [k, v] : entries) {
      n += k.compare(0, prefix.size(), prefix) == 0 ? 1 : 0;
    }
    return n;
  }
};

caf::behavior core_test_store(caf::event_based_actor* self, std::shared_ptr<CoreTestStoreData> data) {
  set_safe_handlers(self, "core-test-store");
  return {
      [data](store_load_atom) {
        std::lock_guard<std::mutex> lock(data->mu);
        return data->entries;
      },
      [data](store_put_atom, const std::string& key, const std::string& value) -> caf::result<bool> {
        std::lock_guard<std::mutex> lock(data->mu);
        if (data->fail_writes || data->fail_keys.count(key) > 0) {
          return caf::make_error(caf::sec::runtime_error, "disk full writing " + key);
        }
        data->entries[key] = value;
        return true;
      },
      [data](store_delete_atom, const std::string& key) {
        std::lock_guard<std::mutex> lock(data->mu);
        data->entries.erase(key);
        return true;
      },
      [data](store_delete_prefix_atom, const std::string& prefix) {
        std::lock_guard<std::mutex> lock(data->mu);
        for (auto it = data->entries.begin(); it != data->entries.end();) {
          it = it->first.compare(0, prefix.size(), prefix) == 0 ? data->entries.erase(it) : std::next(it);
        }
        return true;
      },
  };
}

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

App core_test_app(const std::string& id, int instances) {
  App a;
  a.id = id;
  a.cmd = "sleep 1000";
  a.instances = instances;
  a.cpus = 0.1;
  a.mem = 16;
  return a;
}

http::Response core_test_response_of(int status, const std::string& content_type, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = content_type;
  r.body = std::move(body);
  return r;
}

// An Outcome as the REST layer would answer it.
http::Response core_test_response(const Outcome& o) {
  http::Response r;
  if (const auto* e = std::get_if<ApiError>(&o)) {
    r.status = e->status;
    r.body = json_serialize(e->body);
    return r;
  }
  const auto& d = std::get<DeploymentResult>(o);
  picojson::object body;
  body["deploymentId"] = picojson::value(d.deployment_id);
  body["version"] = picojson::value(static_cast<double>(d.version));
  r.body = json_serialize(picojson::value(body));
  return r;
}

class CoreTest : public ::testing::Test {
 public:
  void SetUp() override {
    auto rt = Runtime::start(RuntimeOptions{});
    ASSERT_TRUE(rt.is_some()) << rt.error();
    runtime = std::move(rt).get();
    data = std::make_shared<CoreTestStoreData>();
    store = runtime->system().spawn(core_test_store, data);
  }

  void TearDown() override {
    for (const caf::actor& a : cores) {
      stop_actor(runtime->system(), a);
    }
    stop_actor(runtime->system(), store);
    runtime->shutdown();
  }

  caf::actor start_core(int max_deployments = 100, caf::actor with_store = {},
                        std::shared_ptr<EventBus> events = nullptr) {
    CoreOptions o;
    o.events = std::move(events);
    o.master = "127.0.0.1:1";  // nothing listens: no offers, deployments stay running
    o.store = with_store ? with_store : store;
    o.max_running_deployments = max_deployments;
    o.hostname = "localhost";
    caf::actor core = spawn_core(*runtime, o);
    cores.push_back(core);
    caf::anon_send(core, elected_atom_v);
    bool leading = tests::poll_until(
        [&] { return call(core, [](Core& c, auto reply) { reply(core_test_response_of(200, "text/plain", c.leading() ? "1" : "0")); }).body == "1"; },
        tests::deadline_in(CORE_TEST_TIMEOUT));
    EXPECT_TRUE(leading);
    return core;
  }

  http::Response call(const caf::actor& core, CoreCall fn) {
    caf::scoped_actor self{runtime->system()};
    http::Response out = core_test_response_of(599, "text/plain", "no answer");
    self->request(core, CORE_TEST_TIMEOUT, core_call_atom_v, std::move(fn))
        .receive([&](http::Response& r) { out = std::move(r); },
                 [&](caf::error& e) { out.body = caf::to_string(e); });
    return out;
  }

  http::Response change(const caf::actor& core, Change c) {
    return call(core, [c](Core& core, std::function<void(http::Response)> reply) {
      core.change(c, [reply](Outcome o) { reply(core_test_response(o)); });
    });
  }

  picojson::object body_of(const http::Response& r) {
    Try<picojson::value> v = json_parse(r.body);
    EXPECT_TRUE(v.is_some() && v->is<picojson::object>()) << r.body;
    return v.is_some() && v->is<picojson::object>() ? v->get<picojson::object>() : picojson::object{};
  }

  std::unique_ptr<Runtime> runtime;
  std::shared_ptr<CoreTestStoreData> data;
  caf::actor store;
  std::vector<caf::actor> cores;
};

Change core_test_upsert(const App& a, bool force = false) {
  Change c;
  c.upserts[a.id] = a;
  c.force = force;
  return c;
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

// Runs `fn` inside the core with its state (the core's own files' view),
// answering what it returns.
std::string core_test_in_state(CoreTest& t, const caf::actor& core, std::function<std::string(CoreState&)> fn);

TaskStatus core_test_status(const std::string& task_id, TaskState state) {
  TaskStatus s;
  s.mutable_task_id()->set_value(task_id);
  s.mutable_slave_id()->set_value("s1");
  s.set_state(state);
  s.set_message("exited with status 3");
  return s;
}

// A running task of `a` the core believes it launched.
Instance core_test_instance(const App& a, size_t marathon_checks) {
  Instance i;
  i.task_id = new_task_id(a.id);
  i.app_id = a.id;
  i.app_version = a.version;
  i.slave_id = "s1";
  i.host = "127.0.0.1";
  i.state = "TASK_RUNNING";
  i.staged_at = now_ms();
  i.started_at = now_ms();
  i.health.resize(marathon_checks);
  return i;
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

std::string core_test_in_state(CoreTest& t, const caf::actor& core, std::function<std::string(CoreState&)> fn) {
  return t.call(core, [fn](Core& c, std::function<void(http::Response)> reply) {
            auto* st = dynamic_cast<CoreState*>(&c);
            reply(core_test_response_of(200, "text/plain", st == nullptr ? "not a CoreState" : fn(*st)));
          }).body;
}

}  // namespace
}  // namespace stoa::services
