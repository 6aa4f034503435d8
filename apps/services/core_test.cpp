// The services core in one process: changes (validation, 404, 409, 403,
// force), what they persist, cancelling deployments, and loading the
// state back in a second core (a restart or a failover). No master is
// reachable, so deployments stay running: exactly what the lock tests need.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include <caf/all.hpp>

#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "apps/services/core.hpp"
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
        if (data->fail_writes) {
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
 protected:
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

  caf::actor start_core(int max_deployments = 100, caf::actor with_store = {}) {
    CoreOptions o;
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
  EXPECT_EQ(data->count_prefix("deployments/"), 0u);
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

}  // namespace
}  // namespace stoa::services
