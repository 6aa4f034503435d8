#pragma once
// Shared by rest_test.cpp and rest_endpoints_test.cpp: an in-process Core
// (maps the test fills, every write recorded), the actor that runs CoreCalls
// on it, and a fixture with a real HTTP server carrying rest_routes().

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <gtest/gtest.h>
#include <picojson.h>

#include "actors/http_test_support.hpp"
#include "apps/services/core.hpp"
#include "apps/services/leadership.hpp"
#include "apps/services/rest.hpp"
#include "common/metrics.hpp"

namespace rest_test {

using stoa::services::ApiError;
using stoa::services::App;
using stoa::services::Change;
using stoa::services::Deployment;
using stoa::services::DeploymentResult;
using stoa::services::Instance;
using stoa::services::Outcome;
using stoa::services::QueueEntry;
using stoa::services::TaskFailure;
using stoa::services::Timestamp;

// A Core over plain maps. Writes apply the simplest effect and are recorded.
class TestCore : public stoa::services::Core {
 public:
  bool leading_ = true;
  std::optional<std::string> framework_id_ = std::string("fw-0001");
  std::map<std::string, App> apps_;
  std::map<std::string, Instance> instances_;
  std::vector<Deployment> deployments_;
  std::map<std::string, TaskFailure> failures_;
  std::map<std::string, std::map<Timestamp, App>> stored_versions_;
  std::vector<QueueEntry> queue_;
  std::string master_ = "127.0.0.1:5050";

  std::vector<Change> changes;
  std::vector<std::pair<std::vector<std::string>, bool>> kills;  // ids, wipe
  std::vector<std::pair<std::string, bool>> cancels;              // id, force
  std::vector<std::string> resets;
  std::atomic<int> abdications{0};
  std::optional<ApiError> fail_next;  // the next change answers this
  Timestamp clock = 1600000000000;

  void add_app(App app) {
    if (app.version == 0) {
      app.version = ++clock;
    }
    stored_versions_[app.id][app.version] = app;
    apps_[app.id] = std::move(app);
  }
  void add_task(Instance i) { instances_[i.task_id] = std::move(i); }

  bool leading() const override { return leading_; }
  std::optional<std::string> framework_id() const override { return framework_id_; }
  const std::map<std::string, App>& apps() const override { return apps_; }
  const App* app(const std::string& id) const override {
    auto it = apps_.find(id);
    return it == apps_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, Instance>& instances() const override { return instances_; }
  std::vector<const Instance*> tasks_of(const std::string& app_id) const override {
    std::vector<const Instance*> out;
    for (const auto& [id, i] : instances_) {
      if (i.app_id == app_id && i.active() && !i.slave_id.empty()) {
        out.push_back(&i);
      }
    }
    return out;
  }
  std::vector<const Deployment*> deployments() const override {
    std::vector<const Deployment*> out;
    for (const auto& d : deployments_) {
      out.push_back(&d);
    }
    return out;
  }
  std::vector<const Deployment*> deployments_of(const std::string& app_id) const override {
    std::vector<const Deployment*> out;
    for (const auto& d : deployments_) {
      for (const auto& a : d.affected_apps) {
        if (a == app_id) {
          out.push_back(&d);
          break;
        }
      }
    }
    return out;
  }
  std::optional<TaskFailure> last_task_failure(const std::string& app_id) const override {
    auto it = failures_.find(app_id);
    return it == failures_.end() ? std::nullopt : std::optional<TaskFailure>(it->second);
  }
  std::vector<Timestamp> versions(const std::string& app_id) const override {
    std::vector<Timestamp> out;
    auto it = stored_versions_.find(app_id);
    if (it != stored_versions_.end()) {
      for (auto v = it->second.rbegin(); v != it->second.rend(); ++v) {
        out.push_back(v->first);
      }
    }
    return out;
  }
  void app_version(const std::string& app_id, Timestamp version,
                   std::function<void(std::optional<App>)> done) override {
    auto it = stored_versions_.find(app_id);
    if (it == stored_versions_.end() || it->second.count(version) == 0) {
      done(std::nullopt);
      return;
    }
    done(it->second.at(version));
  }
  std::vector<QueueEntry> queue() const override { return queue_; }
  std::set<int> taken_service_ports(const std::string&) const override { return {}; }
  std::string master_address() const override { return master_; }

  void change(Change c, std::function<void(Outcome)> done) override {
    changes.push_back(c);
    if (fail_next) {
      ApiError e = *fail_next;
      fail_next.reset();
      done(e);
      return;
    }
    Timestamp version = ++clock;
    for (auto& [id, app] : c.upserts) {
      App a = app;
      a.version = version;
      add_app(a);
    }
    for (const auto& id : c.removals) {
      apps_.erase(id);
    }
    done(DeploymentResult{"deployment-" + std::to_string(changes.size()), version});
  }
  void kill(const std::vector<std::string>& ids, bool wipe, std::function<void()> done) override {
    kills.emplace_back(ids, wipe);
    for (const auto& id : ids) {
      auto it = instances_.find(id);
      if (it != instances_.end()) {
        it->second.state = "TASK_KILLING";
      }
    }
    done();
  }
  void cancel_deployment(const std::string& id, bool force,
                         std::function<void(std::optional<Outcome>)> done) override {
    cancels.emplace_back(id, force);
    for (auto it = deployments_.begin(); it != deployments_.end(); ++it) {
      if (it->id == id) {
        if (force) {
          deployments_.erase(it);
          done(Outcome(DeploymentResult{"", ++clock}));
        } else {
          done(Outcome(DeploymentResult{"revert-of-" + id, ++clock}));
        }
        return;
      }
    }
    done(std::nullopt);
  }
  bool reset_delay(const std::string& app_id) override {
    resets.push_back(app_id);
    for (const auto& q : queue_) {
      if (q.app_id == app_id) {
        return true;
      }
    }
    return false;
  }
  void abdicate() override { ++abdications; }
};

// Runs each CoreCall on the TestCore, as the core actor does.
inline caf::behavior test_core_actor(caf::event_based_actor* self, std::shared_ptr<TestCore> core) {
  return {
      [self, core](stoa::services::core_call_atom, stoa::services::CoreCall& call) -> caf::result<http::Response> {
        auto rp = self->make_response_promise<http::Response>();
        call(*core, [rp](http::Response r) mutable { rp.deliver(std::move(r)); });
        return rp;
      },
  };
}

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;
  std::string body;
  picojson::value json;
};

class RestTest : public ::testing::Test {
 protected:
  RestTest() : sys(std::make_unique<caf::actor_system>(http_test::configure(cfg))) {
    core = std::make_shared<TestCore>();
    core_actor = sys->spawn(test_core_actor, core);
  }

  ~RestTest() override {
    for (auto& a : to_stop) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    caf::anon_send_exit(core_actor, caf::exit_reason::user_shutdown);
    core_actor = nullptr;
    to_stop.clear();
    sys.reset();
  }

  // A server with rest_routes(); `leader` empty = this instance leads.
  uint16_t start(std::shared_ptr<stoa::services::Leadership> leadership, const std::string& self_name,
                 caf::actor the_core) {
    stoa::services::RestOptions o;
    o.core = the_core;
    o.leadership = leadership;
    o.self = self_name;
    o.flags = {{"master", "127.0.0.1:5050"},
               {"http_port", "8080"},
               {"zk_session_timeout", "10secs"},
               {"decline_offer_duration", "2mins"},
               {"failover_timeout", "1weeks"},
               {"framework_name", "5secs"},
               {"help", "false"}};
    o.zk = "zk://127.0.0.1:2181/marathon";
    o.metrics = &registry;
    o.proxy_timeout = std::chrono::seconds(5);
    auto server = http::spawn_server(*sys, {}, stoa::services::rest_routes(o));
    if (!server) {
      ADD_FAILURE() << sys->render(server.error());
      return 0;
    }
    to_stop.push_back(server->actor);
    return server->port;
  }

  // The usual leader: elected, named "leader.test:8080" (its X-Marathon-Leader).
  uint16_t start_leader() {
    leadership = std::make_shared<stoa::services::Leadership>();
    self_name = "leader.test:8080";
    leadership->set({true, self_name});
    port = start(leadership, self_name, core_actor);
    return port;
  }

  Reply call(uint16_t to, const std::string& method, const std::string& target, const std::string& body = "",
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    http_test::RawConn conn(to);
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(to) + "\r\n";
    for (const auto& [k, v] : headers) {
      req += k + ": " + v + "\r\n";
    }
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "Connection: close\r\n\r\n" + body;
    conn.send(req);
    Reply out;
    auto r = conn.read_response(method == "HEAD");
    if (!r) {
      ADD_FAILURE() << method << " " << target << ": no response";
      return out;
    }
    out.status = r->status;
    out.headers = r->headers;
    out.body = r->body;
    if (!out.body.empty()) {
      std::string err = picojson::parse(out.json, out.body);
      (void)err;
    }
    return out;
  }
  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return call(port, method, target, body, headers);
  }

  static std::string message(const Reply& r) {
    return r.json.is<picojson::object>() && r.json.get("message").is<std::string>()
               ? r.json.get("message").get<std::string>()
               : "<no message in " + r.body + ">";
  }

  // A minimal valid app.
  static App make_app(const std::string& id, int instances = 1) {
    App a;
    a.id = id;
    a.cmd = "sleep 1000";
    a.instances = instances;
    a.cpus = 0.1;
    a.mem = 32;
    return a;
  }
  static Instance make_task(const std::string& app_id, const std::string& task_id, const std::string& host,
                            const std::string& state = "TASK_RUNNING") {
    Instance i;
    i.task_id = task_id;
    i.app_id = app_id;
    i.slave_id = "S1";
    i.host = host;
    i.state = state;
    i.host_ports = {31000};
    i.service_ports = {10000};
    i.staged_at = 1600000000000;
    return i;
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<TestCore> core;
  caf::actor core_actor;
  std::vector<caf::actor> to_stop;
  std::shared_ptr<stoa::services::Leadership> leadership;
  stoa::metrics::Registry registry;
  uint16_t port = 0;
  std::string self_name;
};

}  // namespace rest_test
