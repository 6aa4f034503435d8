#pragma once
// Shared by the services core's tests (core_test.cpp, core_events_test.cpp,
// core_persistence_test.cpp): a store actor over a map the test can read,
// the fixture that starts cores on it (no master is reachable, so
// deployments stay running), and helpers to build apps, changes, task
// updates and instances and to run code inside a core.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

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

namespace stoa::services::core_test {

inline constexpr auto CORE_TEST_TIMEOUT = std::chrono::seconds(10);

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

inline caf::behavior core_test_store(caf::event_based_actor* self, std::shared_ptr<CoreTestStoreData> data) {
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

inline App core_test_app(const std::string& id, int instances) {
  App a;
  a.id = id;
  a.cmd = "sleep 1000";
  a.instances = instances;
  a.cpus = 0.1;
  a.mem = 16;
  return a;
}

inline http::Response core_test_response_of(int status, const std::string& content_type, std::string body) {
  http::Response r;
  r.status = status;
  r.content_type = content_type;
  r.body = std::move(body);
  return r;
}

// An Outcome as the REST layer would answer it.
inline http::Response core_test_response(const Outcome& o) {
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

inline Change core_test_upsert(const App& a, bool force = false) {
  Change c;
  c.upserts[a.id] = a;
  c.force = force;
  return c;
}

// Runs `fn` inside the core with its state (the core's own files' view),
// answering what it returns.
inline std::string core_test_in_state(CoreTest& t, const caf::actor& core, std::function<std::string(CoreState&)> fn) {
  return t.call(core, [fn](Core& c, std::function<void(http::Response)> reply) {
            auto* st = dynamic_cast<CoreState*>(&c);
            reply(core_test_response_of(200, "text/plain", st == nullptr ? "not a CoreState" : fn(*st)));
          }).body;
}

inline TaskStatus core_test_status(const std::string& task_id, TaskState state) {
  TaskStatus s;
  s.mutable_task_id()->set_value(task_id);
  s.mutable_slave_id()->set_value("s1");
  s.set_state(state);
  s.set_message("exited with status 3");
  return s;
}

// A running task of `a` the core believes it launched.
inline Instance core_test_instance(const App& a, size_t marathon_checks) {
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

}  // namespace stoa::services::core_test
