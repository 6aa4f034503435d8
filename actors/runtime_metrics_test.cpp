// GET /metrics and /metrics/snapshot of a Runtime, with metrics collectors.

#include <picojson.h>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <regex>
#include <set>
#include <sstream>

#include "actors/atoms.hpp"
#include "actors/http_client.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "common/json.hpp"

namespace stoa {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> SYSTEM_METRICS = {
    "system/cpus_total",      "system/load_1min",     "system/load_5min",
    "system/load_15min",      "system/mem_total_bytes", "system/mem_free_bytes",
    "system/metrics_collector_timeouts",
};

std::unique_ptr<Runtime> start(std::chrono::milliseconds collector_timeout = DEFAULT_METRICS_COLLECTOR_TIMEOUT) {
  RuntimeOptions opts;
  opts.metrics_collector_timeout = collector_timeout;
  Try<std::unique_ptr<Runtime>> rt = Runtime::start(opts);
  EXPECT_TRUE(rt.is_some()) << (rt.is_error() ? rt.error() : "");
  return std::move(*rt);
}

http::Response get(Runtime& rt, const std::string& path) {
  http::ClientRequest req;
  req.host = rt.ip();
  req.port = rt.port();
  req.path = path;
  req.timeout = 20s;
  caf::scoped_actor self{rt.system()};
  http::Response out;
  out.status = 0;
  self->request(http::spawn_request(rt.system(), req), 30s, http::go_atom_v)
      .receive([&](http::Response& r) { out = std::move(r); },
               [&](caf::error& e) { ADD_FAILURE() << "GET " << path << ": " << rt.system().render(e); });
  return out;
}

picojson::object snapshot(Runtime& rt) {
  http::Response r = get(rt, "/metrics/snapshot");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  Try<picojson::value> v = json_parse(r.body);
  if (v.is_error() || !v->is<picojson::object>()) {
    ADD_FAILURE() << "not a JSON object: " << r.body;
    return {};
  }
  return v->get<picojson::object>();
}

// Checks the text exposition format: every line a `# HELP`, a `# TYPE` or a
// `name value` sample, and a `# TYPE` before every sample's metric. Returns
// name -> value.
std::map<std::string, double> parse_prometheus(const std::string& text) {
  static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  std::map<std::string, double> samples;
  std::set<std::string> typed;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream words(line.substr(7));
      std::string name;
      std::string type;
      words >> name >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge") << line;
      typed.insert(name);
      continue;
    }
    std::istringstream words(line);
    std::string name;
    std::string value;
    std::string extra;
    words >> name >> value;
    EXPECT_FALSE(words >> extra) << "more than `name value`: " << line;
    EXPECT_TRUE(std::regex_match(name, name_re)) << "bad metric name: " << line;
    EXPECT_TRUE(typed.contains(name)) << "no # TYPE before " << line;
    char* end = nullptr;
    double v = std::strtod(value.c_str(), &end);
    EXPECT_TRUE(!value.empty() && end != nullptr && *end == '\0') << "bad value: " << line;
    samples[name] = v;
  }
  return samples;
}

// Sets its gauge on every scrape and answers `true`.
caf::behavior gauge_collector(caf::event_based_actor* self, metrics::Gauge* gauge,
                              std::shared_ptr<std::atomic<int>> scrapes) {
  set_safe_handlers(self, "gauge collector");
  return {[gauge, scrapes](metrics_atom) {
    gauge->set(++*scrapes * 10);
    return true;
  }};
}

// Keeps every request pending: never answers.
struct SilentState {
  SilentState() = default;
  std::vector<caf::response_promise> held;
};
caf::behavior silent_collector(caf::stateful_actor<SilentState>* self) {
  return {[self](metrics_atom) { self->state.held.push_back(self->make_response_promise()); }};
}

// Answers with an empty message (a handler returning nothing).
caf::behavior unit_collector(caf::event_based_actor*) {
  return {[](metrics_atom) {}};
}

TEST(RuntimeMetrics, ACollectorsGaugeIsInTheSnapshotAndThePrometheusText) {
  auto rt = start();
  metrics::Gauge& gauge = rt->metrics().gauge("test/widgets", "Widgets the collector counted.");
  auto scrapes = std::make_shared<std::atomic<int>>(0);
  caf::actor collector = rt->system().spawn(gauge_collector, &gauge, scrapes);
  rt->add_metrics_collector(collector);

  picojson::object snap = snapshot(*rt);
  ASSERT_TRUE(snap.contains("test/widgets"));
  EXPECT_EQ(snap["test/widgets"].get<double>(), 10);  // refreshed by this scrape

  http::Response text = get(*rt, "/metrics");
  EXPECT_EQ(text.status, 200);
  EXPECT_EQ(text.content_type, "text/plain; version=0.0.4");
  std::map<std::string, double> samples = parse_prometheus(text.body);
  ASSERT_TRUE(samples.contains("test_widgets")) << text.body;
  EXPECT_EQ(samples["test_widgets"], 20);
  EXPECT_NE(text.body.find("# HELP test_widgets Widgets the collector counted."), std::string::npos);
  EXPECT_EQ(scrapes->load(), 2);
  stop_actor(rt->system(), collector);
}

TEST(RuntimeMetrics, EverySystemMetricIsServedInBothFormats) {
  auto rt = start();
  picojson::object snap = snapshot(*rt);
  std::map<std::string, double> samples = parse_prometheus(get(*rt, "/metrics").body);
  for (const std::string& name : SYSTEM_METRICS) {
    EXPECT_TRUE(snap.contains(name)) << name;
    EXPECT_TRUE(samples.contains(metrics::prometheus_name(name))) << name;
  }
  // Read from the host at scrape time (this host has CPUs and memory).
  EXPECT_GE(snap["system/cpus_total"].get<double>(), 1);
  EXPECT_GT(snap["system/mem_total_bytes"].get<double>(), 0);
  EXPECT_GT(snap["system/mem_total_bytes"].get<double>(), snap["system/mem_free_bytes"].get<double>());
  EXPECT_EQ(snap["system/metrics_collector_timeouts"].get<double>(), 0);
  EXPECT_TRUE(rt->metrics().undeclared_names().empty());
}

// This test's own atom: see backlogged_collector.
using hold_atom = caf::atom_constant<caf::atom("rmt_hold")>;
constexpr hold_atom hold_atom_v{};

// A collector with a backlog. `hold_atom` keeps it busy (held is set)
// until the probe is asked (at most 20 s); meanwhile the test queues `int`s
// behind it. A scrape records how many ints were handled before it.
struct Backlog {
  std::promise<void> held;
  std::shared_future<void> held_future = held.get_future().share();
  std::promise<void> asked;
  std::shared_future<void> asked_future = asked.get_future().share();
  std::atomic<bool> asked_once{false};
  std::atomic<int> handled{0};
  std::atomic<int> handled_before_scrape{-1};
};
caf::behavior backlogged_collector(caf::event_based_actor* self, std::shared_ptr<Backlog> b) {
  set_safe_handlers(self, "backlogged collector");
  return {
      [b](hold_atom) {
        b->held.set_value();
        b->asked_future.wait_for(20s);
      },
      [b](int) { ++b->handled; },
      [b](metrics_atom) {
        b->handled_before_scrape = b->handled.load();
        return true;
      },
  };
}

// Says when it is asked: the metrics actor asks its collectors in the order
// they were added, so the collectors added before it have been asked too.
caf::behavior probe_collector(caf::event_based_actor*, std::shared_ptr<Backlog> b) {
  return {[b](metrics_atom) {
    if (!b->asked_once.exchange(true)) {
      b->asked.set_value();
    }
    return true;
  }};
}

TEST(RuntimeMetrics, ACollectorAnswersTheScrapeBeforeItsBacklog) {
  auto rt = start();
  auto b = std::make_shared<Backlog>();
  caf::actor collector = rt->system().spawn(backlogged_collector, b);
  caf::actor probe = rt->system().spawn(probe_collector, b);
  rt->add_metrics_collector(collector);
  rt->add_metrics_collector(probe);
  caf::anon_send(collector, hold_atom_v);
  ASSERT_EQ(b->held_future.wait_for(20s), std::future_status::ready);
  constexpr int BACKLOG = 1000;
  for (int i = 0; i < BACKLOG; ++i) {
    caf::anon_send(collector, i);
  }
  picojson::object snap = snapshot(*rt);
  EXPECT_EQ(snap["system/metrics_collector_timeouts"].get<double>(), 0);
  EXPECT_EQ(b->handled_before_scrape.load(), 0) << "the scrape waited behind the backlog";
  stop_actor(rt->system(), probe);
  stop_actor(rt->system(), collector);
}

TEST(RuntimeMetrics, ASilentCollectorDelaysTheScrapeOnlyUntilTheDeadline) {
  auto rt = start(300ms);
  metrics::Gauge& gauge = rt->metrics().gauge("test/widgets", "Widgets.");
  auto scrapes = std::make_shared<std::atomic<int>>(0);
  caf::actor good = rt->system().spawn(gauge_collector, &gauge, scrapes);
  caf::actor silent = rt->system().spawn(silent_collector);
  rt->add_metrics_collector(silent);
  rt->add_metrics_collector(good);
  auto t0 = std::chrono::steady_clock::now();
  picojson::object snap = snapshot(*rt);
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
  EXPECT_EQ(snap["system/metrics_collector_timeouts"].get<double>(), 1);
  EXPECT_EQ(snap["test/widgets"].get<double>(), 10);  // the answering collector still counted
  stop_actor(rt->system(), silent);
  stop_actor(rt->system(), good);
}

TEST(RuntimeMetrics, AnyAnswerCountsAndAnExitedCollectorIsDropped) {
  auto rt = start(10s);
  caf::actor unit = rt->system().spawn(unit_collector);
  caf::actor silent = rt->system().spawn(silent_collector);
  rt->add_metrics_collector(unit);
  rt->add_metrics_collector(silent);
  caf::scoped_actor self{rt->system()};
  self->monitor(silent);
  stop_actor(rt->system(), silent);
  self->receive([](const caf::down_msg&) {}, caf::after(10s) >> [] { ADD_FAILURE() << "no down message"; });
  auto t0 = std::chrono::steady_clock::now();
  picojson::object snap = snapshot(*rt);
  // Neither waits for the 10 s deadline: the answer without `true` counts,
  // and the exited collector is no longer asked (or its request fails at once).
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(snap["system/metrics_collector_timeouts"].get<double>(), 0);
  stop_actor(rt->system(), unit);
}

TEST(RuntimeMetrics, AComponentRouteOnARuntimePathIsAVisibleConflict) {
  auto rt = start();
  http::Route mine;
  mine.path = "/metrics/snapshot";
  mine.help = "A component's own snapshot.";
  mine.handler = [](caf::io::broker*, const http::Request&, http::Responder respond) {
    respond(http::text_response("component"));
  };
  std::optional<Error> conflict = rt->add_route(mine);
  ASSERT_TRUE(conflict.has_value());
  EXPECT_NE(conflict->message.find("'/metrics/snapshot'"), std::string::npos) << conflict->message;
  EXPECT_NE(conflict->message.find("the runtime"), std::string::npos) << conflict->message;
  // The later registration serves (the HTTP server's rule); a new path is no conflict.
  EXPECT_EQ(get(*rt, "/metrics/snapshot").body, "component");
  http::Route other = mine;
  other.path = "/component/snapshot";
  EXPECT_FALSE(rt->add_route(other).has_value());
  EXPECT_TRUE(rt->add_route(other).has_value());  // twice by the component: also a conflict
}

TEST(RuntimeMetrics, AComponentMayReplaceARuntimeRouteOnPurposeButNoOtherRoute) {
  auto rt = start();
  http::Route mine;
  mine.path = "/metrics";
  mine.help = "A component's own metrics.";
  mine.handler = [](caf::io::broker*, const http::Request&, http::Responder respond) {
    respond(http::text_response("component"));
  };
  EXPECT_FALSE(rt->replace_runtime_route(mine).has_value());
  EXPECT_EQ(get(*rt, "/metrics").body, "component");
  // Now the component's: replacing it again, or a path the runtime never served, is refused.
  std::optional<Error> again = rt->replace_runtime_route(mine);
  ASSERT_TRUE(again.has_value());
  EXPECT_NE(again->message.find("'/metrics'"), std::string::npos) << again->message;
  http::Route other = mine;
  other.path = "/component/metrics";
  other.handler = [](caf::io::broker*, const http::Request&, http::Responder respond) {
    respond(http::text_response("other"));
  };
  ASSERT_TRUE(rt->replace_runtime_route(other).has_value());
  EXPECT_NE(get(*rt, "/component/metrics").body, "other") << "a refused replacement was served";
}

}  // namespace
}  // namespace stoa
