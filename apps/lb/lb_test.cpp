// The balancer actor against a scripted HAProxy actor: health from the
// cache, config cleanup, --skip-config-cleanup, coalescing, SIGUSR1 and the
// options it hands the other parts.

#include "apps/lb/lb.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <mutex>

#include <caf/all.hpp>

#include "actors/safety.hpp"
#include "common/json.hpp"
#include "tests/poll.hpp"

namespace lb_test {
namespace {

using namespace stoa::lb;  // NOLINT: test file
using stoa::tests::deadline_in;
using stoa::tests::poll_until;

using fake_release_atom = caf::atom_constant<caf::atom("lbt_rel")>;

// What the scripted HAProxy saw, and how it answers.
struct FakeHaproxyLog {
  std::mutex mu;
  std::vector<std::string> applied;    // configs given to lb_apply_atom
  std::vector<std::string> validated;  // configs given to lb_validate_atom
  std::vector<std::string> forced;     // configs given to lb_reload_atom
  std::string refuse;                  // a config containing this is invalid
  bool hold = false;                   // keep apply replies until fake_release_atom

  size_t applies() {
    std::lock_guard<std::mutex> lock(mu);
    return applied.size();
  }
  size_t validations() {
    std::lock_guard<std::mutex> lock(mu);
    return validated.size();
  }
};

struct FakeHaproxyState {
  std::shared_ptr<FakeHaproxyLog> log;
  std::string last;
  uint64_t generation = 0;
  std::vector<std::pair<caf::response_promise, ApplyResult>> held;
  FakeHaproxyState() = default;

  ApplyResult judge(const std::string& config) {
    ApplyResult r;
    std::lock_guard<std::mutex> lock(log->mu);
    r.valid = log->refuse.empty() || config.find(log->refuse) == std::string::npos;
    if (!r.valid) {
      r.error = "[ALERT] refused: contains " + log->refuse;
    }
    return r;
  }
};

caf::behavior fake_haproxy(caf::stateful_actor<FakeHaproxyState>* self, std::shared_ptr<FakeHaproxyLog> log) {
  self->state.log = std::move(log);
  return {
      [self](lb_apply_atom, const HaproxyConfig& c) -> caf::result<ApplyResult> {
        FakeHaproxyState& st = self->state;
        ApplyResult r = st.judge(c.config);
        if (r.valid) {
          r.changed = c.config != st.last;
          r.reloaded = r.changed;
          st.last = c.config;
          st.generation += r.reloaded ? 1 : 0;
        }
        r.generation = st.generation;
        bool hold = false;
        {
          std::lock_guard<std::mutex> lock(st.log->mu);
          st.log->applied.push_back(c.config);
          hold = st.log->hold;
        }
        if (hold) {
          caf::response_promise rp = self->make_response_promise();
          st.held.emplace_back(rp, r);
          return rp;
        }
        return r;
      },
      [self](lb_reload_atom, const HaproxyConfig& c) -> caf::result<ApplyResult> {
        FakeHaproxyState& st = self->state;
        {
          std::lock_guard<std::mutex> lock(st.log->mu);
          st.log->forced.push_back(c.config);
        }
        ApplyResult r = st.judge(c.config);
        if (r.valid) {
          r.changed = c.config != st.last;
          r.reloaded = true;
          st.last = c.config;
          ++st.generation;
        }
        r.generation = st.generation;
        return r;
      },
      [self](lb_validate_atom, const std::string& config) -> ApplyResult {
        {
          std::lock_guard<std::mutex> lock(self->state.log->mu);
          self->state.log->validated.push_back(config);
        }
        return self->state.judge(config);
      },
      [self](fake_release_atom) {
        {
          std::lock_guard<std::mutex> lock(self->state.log->mu);
          self->state.log->hold = false;
        }
        for (auto& [rp, r] : self->state.held) {
          rp.deliver(r);
        }
        self->state.held.clear();
      },
  };
}

App web_app(const std::string& id, int service_port, int tasks, std::optional<bool> healthy) {
  App app;
  app.id = id;
  app.labels = {{"HAPROXY_GROUP", "external"}};
  app.service_ports = {service_port};
  app.instances = tasks;
  HealthCheck check;
  check.protocol = "HTTP";
  check.path = "/";
  check.port_index = 0;
  app.health_checks = {check};
  for (int i = 0; i < tasks; ++i) {
    Task t;
    t.id = id.substr(1) + ".task" + std::to_string(i);
    t.app_id = id;
    t.host = "127.0.0.1";
    t.ip = "127.0.0.1";
    t.ports = {31000 + service_port % 1000 * 10 + i};
    t.state = "TASK_RUNNING";
    t.healthy = healthy;
    app.tasks.push_back(t);
  }
  return app;
}

SnapshotPtr snapshot(std::vector<App> apps, uint64_t sequence) {
  auto s = std::make_shared<Snapshot>();
  s->apps = std::move(apps);
  s->url = "http://registry:8080";
  s->sequence = sequence;
  return s;
}

class BalancerTest : public ::testing::Test {
 protected:
  BalancerTest() : sys(cfg) {
    flags.groups = {"external"};
    flags.dont_bind_http_https = true;
    flags.haproxy_config = "/tmp/stoa-lb-test/haproxy.cfg";
  }

  ~BalancerTest() override {
    for (const caf::actor& a : actors) {
      stoa::stop_actor(sys, a);
    }
  }

  caf::actor start() {
    haproxy = sys.spawn(fake_haproxy, log);
    balancer = spawn_balancer(sys, flags, Templates(), haproxy);
    actors = {balancer, haproxy};
    return balancer;
  }

  picojson::object status() {
    caf::scoped_actor self{sys};
    picojson::object out;
    self->request(balancer, std::chrono::seconds(10), lb_status_atom::value)
        .receive(
            [&](const std::string& json) {
              stoa::Try<picojson::value> v = stoa::json_parse(json);
              if (v.is_some() && v->is<picojson::object>()) {
                out = v->get<picojson::object>();
              }
            },
            [&](const caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return out;
  }

  size_t servers(const std::string& backend) {
    picojson::object s = status();
    if (!s.count("backends") || !s["backends"].contains(backend)) {
      return SIZE_MAX;
    }
    return s["backends"].get(backend).get<picojson::array>().size();
  }

  // No server: the backend is empty, or left out as marathon-lb leaves out
  // a service without tasks.
  bool no_servers(const std::string& backend) {
    size_t n = servers(backend);
    return n == 0 || n == SIZE_MAX;
  }

  double counter(const std::string& name) {
    picojson::object s = status();
    return s.count(name) ? s[name].get<double>() : -1;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  LbFlags flags;
  std::shared_ptr<FakeHaproxyLog> log = std::make_shared<FakeHaproxyLog>();
  caf::actor haproxy;
  caf::actor balancer;
  std::vector<caf::actor> actors;
};

TEST_F(BalancerTest, AppliesEachSnapshotAndReportsItsBackends) {
  start();
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 2, true)}, 1));
  ASSERT_TRUE(poll_until([&] { return servers("web_10001") == 2; }, deadline_in(std::chrono::seconds(10))));
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 3, true)}, 2));
  ASSERT_TRUE(poll_until([&] { return servers("web_10001") == 3; }, deadline_in(std::chrono::seconds(10))));
  EXPECT_EQ(log->applies(), 2u);
  EXPECT_EQ(log->validations(), 0u);
  EXPECT_EQ(counter("reloads"), 2);
  picojson::object s = status();
  EXPECT_EQ(s["snapshot"].get("sequence").get<double>(), 2);
  EXPECT_EQ(s["last_error"].get<std::string>(), "");
}

TEST_F(BalancerTest, HealthMissingFromTheRegistryComesFromTheCache) {
  flags.health_check = true;
  start();
  // Known healthy, then the registry leaves healthCheckResults out: still in.
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 2, true)}, 1));
  ASSERT_TRUE(poll_until([&] { return servers("web_10001") == 2; }, deadline_in(std::chrono::seconds(10))));
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 2, std::nullopt)}, 2));
  ASSERT_TRUE(poll_until([&] { return counter("snapshots") == 2 && log->applies() == 2; },
                         deadline_in(std::chrono::seconds(10))));
  ASSERT_TRUE(poll_until([&] { return !status()["busy"].get<bool>(); }, deadline_in(std::chrono::seconds(10))));
  EXPECT_EQ(servers("web_10001"), 2u);
  // Known unhealthy: out, and stays out while the registry says nothing.
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 2, false)}, 3));
  ASSERT_TRUE(poll_until([&] { return no_servers("web_10001"); }, deadline_in(std::chrono::seconds(10))));
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 2, std::nullopt)}, 4));
  ASSERT_TRUE(poll_until([&] { return log->applies() == 4 && !status()["busy"].get<bool>(); },
                         deadline_in(std::chrono::seconds(10))));
  EXPECT_TRUE(no_servers("web_10001"));
}

TEST_F(BalancerTest, NeverSeenHealthCountsAsUnhealthy) {
  flags.health_check = true;
  start();
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 2, std::nullopt)}, 1));
  ASSERT_TRUE(poll_until([&] { return log->applies() == 1 && counter("applies") == 1 && !status()["busy"].get<bool>(); },
                         deadline_in(std::chrono::seconds(10))));
  EXPECT_TRUE(no_servers("web_10001"));
  // The same tasks, now known healthy: in.
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 2, true)}, 2));
  EXPECT_TRUE(poll_until([&] { return servers("web_10001") == 2; }, deadline_in(std::chrono::seconds(10))));
}

TEST_F(BalancerTest, ConfigCleanupLeavesOutTheAppThatBreaksValidation) {
  {
    std::lock_guard<std::mutex> lock(log->mu);
    log->refuse = "bad_10002";
  }
  start();
  caf::anon_send(balancer, lb_snapshot_atom::value,
                 snapshot({web_app("/web", 10001, 1, true), web_app("/bad", 10002, 1, true)}, 1));
  ASSERT_TRUE(poll_until([&] { return servers("web_10001") == 1; }, deadline_in(std::chrono::seconds(10))));
  picojson::object s = status();
  ASSERT_EQ(s["dropped_apps"].get<picojson::array>().size(), 1u);
  EXPECT_EQ(s["dropped_apps"].get<picojson::array>()[0].get<std::string>(), "/bad");
  EXPECT_FALSE(s["backends"].contains("bad_10002"));
  EXPECT_EQ(log->validations(), 2u);  // each app alone
  EXPECT_EQ(log->applies(), 2u);      // the refused one, then the cleaned one
}

TEST_F(BalancerTest, SkipConfigCleanupKeepsThePreviousConfiguration) {
  flags.skip_config_cleanup = true;
  start();
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 1, true)}, 1));
  ASSERT_TRUE(poll_until([&] { return servers("web_10001") == 1; }, deadline_in(std::chrono::seconds(10))));
  {
    std::lock_guard<std::mutex> lock(log->mu);
    log->refuse = "bad_10002";
  }
  caf::anon_send(balancer, lb_snapshot_atom::value,
                 snapshot({web_app("/web", 10001, 3, true), web_app("/bad", 10002, 1, true)}, 2));
  ASSERT_TRUE(poll_until([&] { return counter("invalid") == 1; }, deadline_in(std::chrono::seconds(10))));
  picojson::object s = status();
  EXPECT_NE(s["last_error"].get<std::string>().find("refused"), std::string::npos);
  EXPECT_EQ(s["snapshot"].get("sequence").get<double>(), 1);
  EXPECT_EQ(servers("web_10001"), 1u);
  EXPECT_EQ(log->validations(), 0u);
}

// A snapshot arriving while an apply is unanswered (HAProxy validating or
// reloading) goes to the HAProxy actor at once, which merges it (the newest
// wins) and skips a reload it made needless; the balancer does not queue it
// behind the running reload. The newest snapshot is the one reported.
TEST_F(BalancerTest, SnapshotsArrivingDuringAnApplyGoToHaproxyAtOnceAndTheNewestWins) {
  {
    std::lock_guard<std::mutex> lock(log->mu);
    log->hold = true;
  }
  start();
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 1, true)}, 1));
  ASSERT_TRUE(poll_until([&] { return log->applies() == 1; }, deadline_in(std::chrono::seconds(10))));
  for (uint64_t seq = 2; seq <= 5; ++seq) {
    caf::anon_send(balancer, lb_snapshot_atom::value,
                   snapshot({web_app("/web", 10001, static_cast<int>(seq), true)}, seq));
  }
  ASSERT_TRUE(poll_until([&] { return log->applies() == 5; }, deadline_in(std::chrono::seconds(10))))
      << "the later snapshots waited for the first apply's answer";
  EXPECT_TRUE(status()["busy"].get<bool>());
  caf::anon_send(haproxy, fake_release_atom::value);
  ASSERT_TRUE(poll_until([&] { return servers("web_10001") == 5; }, deadline_in(std::chrono::seconds(10))));
  EXPECT_EQ(status()["snapshot"].get("sequence").get<double>(), 5);
  EXPECT_FALSE(status()["busy"].get<bool>());
}

// An older snapshot's apply refused while a newer one is in flight does not
// start a cleanup run: the newer one decides.
TEST_F(BalancerTest, ARefusedApplyFollowedByANewerOneLeavesTheDecisionToTheNewer) {
  {
    std::lock_guard<std::mutex> lock(log->mu);
    log->hold = true;
    log->refuse = "web_10001";
  }
  start();
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 1, true)}, 1));
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/other", 10002, 1, true)}, 2));
  ASSERT_TRUE(poll_until([&] { return log->applies() == 2; }, deadline_in(std::chrono::seconds(10))));
  caf::anon_send(haproxy, fake_release_atom::value);
  ASSERT_TRUE(poll_until([&] { return servers("other_10002") == 1; }, deadline_in(std::chrono::seconds(10))));
  EXPECT_EQ(log->validations(), 0u) << "no cleanup run for the superseded snapshot";
  EXPECT_EQ(counter("invalid"), 1);
}

// SIGUSR1 as marathon-lb: the unchanged configuration is reloaded (forced).
TEST_F(BalancerTest, ReapplyForcesAReloadOfTheUnchangedConfiguration) {
  start();
  caf::anon_send(balancer, lb_reapply_atom::value);  // nothing applied yet: nothing to do
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 1, true)}, 1));
  ASSERT_TRUE(poll_until([&] { return servers("web_10001") == 1; }, deadline_in(std::chrono::seconds(10))));
  EXPECT_EQ(counter("reloads"), 1);
  caf::anon_send(balancer, lb_reapply_atom::value);
  ASSERT_TRUE(poll_until([&] { return counter("reloads") == 2; }, deadline_in(std::chrono::seconds(10))));
  EXPECT_EQ(counter("generation"), 2);
  std::lock_guard<std::mutex> lock(log->mu);
  ASSERT_EQ(log->forced.size(), 1u);
  EXPECT_EQ(log->forced[0], log->applied[0]);
  EXPECT_EQ(log->applied.size(), 1u);
}

// A forced reload of a configuration HAProxy now refuses keeps it and
// reports why.
TEST_F(BalancerTest, ReapplyOfAConfigurationNowRefusedReportsIt) {
  start();
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 1, true)}, 1));
  ASSERT_TRUE(poll_until([&] { return servers("web_10001") == 1; }, deadline_in(std::chrono::seconds(10))));
  {
    std::lock_guard<std::mutex> lock(log->mu);
    log->refuse = "web_10001";
  }
  caf::anon_send(balancer, lb_reapply_atom::value);
  ASSERT_TRUE(poll_until([&] { return counter("invalid") == 1; }, deadline_in(std::chrono::seconds(10))));
  EXPECT_EQ(counter("reloads"), 1);
  EXPECT_NE(status()["last_error"].to_str().find("refused"), std::string::npos);
}

TEST_F(BalancerTest, RegistryDownIsReportedAndKeepsTheConfiguration) {
  start();
  caf::anon_send(balancer, lb_snapshot_atom::value, snapshot({web_app("/web", 10001, 1, true)}, 1));
  ASSERT_TRUE(poll_until([&] { return servers("web_10001") == 1; }, deadline_in(std::chrono::seconds(10))));
  caf::anon_send(balancer, lb_registry_down_atom::value, std::string("http://registry:8080: connection refused"));
  ASSERT_TRUE(poll_until([&] { return status()["registry_down"].get<std::string>() != ""; },
                         deadline_in(std::chrono::seconds(10))));
  EXPECT_EQ(servers("web_10001"), 1u);
  EXPECT_EQ(log->applies(), 1u);
}

TEST(LbOptions, PartsGetTheirFlags) {
  LbFlags f;
  f.groups = {"external", "internal"};
  f.haproxy_config = "/tmp/lb/haproxy.cfg";
  f.stats_port = 19090;
  f.http_port = 18080;
  f.health_check = true;
  f.strict_mode = true;
  f.command = "true";
  f.max_reload_retries = 3;
  f.marathon = {"http://a:8080", "http://b:8080"};
  f.sse = true;
  f.auth_credentials = "u:p";
  f.framework_name = "lb";
  f.max_backoff = std::chrono::seconds(1);
  RenderOptions r = render_options(f);
  EXPECT_EQ(r.groups, f.groups);
  EXPECT_EQ(r.stats_port, 19090);
  EXPECT_EQ(r.http_port, 18080);
  EXPECT_TRUE(r.health_check);
  EXPECT_TRUE(r.strict_mode);
  EXPECT_EQ(r.run_dir, "/tmp/lb/run");
  EXPECT_EQ(r.lua_dir, "/tmp/lb/run");
  EXPECT_EQ(r.config_dir, "/tmp/lb");
  EXPECT_EQ(r.lb_pid, static_cast<int>(::getpid()));
  f.dry = true;
  EXPECT_EQ(render_options(f).lb_pid, 0) << "--dry names no process to signal";
  f.dry = false;
  HaproxyOptions h = haproxy_options(f);
  EXPECT_EQ(h.config_path, "/tmp/lb/haproxy.cfg");
  EXPECT_EQ(h.run_dir, "/tmp/lb/run");
  EXPECT_EQ(h.command, std::optional<std::string>("true"));
  EXPECT_EQ(h.max_reload_retries, 3);
  MarathonOptions m = marathon_options(f);
  EXPECT_EQ(m.urls, f.marathon);
  EXPECT_TRUE(m.sse);
  EXPECT_EQ(m.basic_auth, "u:p");
  EXPECT_EQ(m.parse.framework_name, "lb");
  EXPECT_EQ(m.max_backoff, std::chrono::seconds(1));
  EXPECT_LE(m.initial_backoff, m.max_backoff);
  f.run_dir = "/var/lib/lb";
  EXPECT_EQ(lb_run_dir(f), "/var/lib/lb");
}

}  // namespace
}  // namespace lb_test
