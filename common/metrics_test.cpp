#include "common/metrics.hpp"

#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace stoa::metrics {
namespace {

TEST(Metrics, DeclaredMetricsArePresentAtZero) {
  Registry r;
  r.counter("master/tasks_lost", "Tasks lost");
  r.gauge("master/elected", "1 if this master leads");
  EXPECT_EQ(r.value("master/tasks_lost"), 0.0);
  EXPECT_EQ(r.value("master/elected"), 0.0);
  EXPECT_FALSE(r.value("master/nothing").has_value());
  Try<picojson::value> snapshot = json_parse(r.json());
  ASSERT_TRUE(snapshot.is_some()) << snapshot.error();
  ASSERT_TRUE(snapshot->get("master/tasks_lost").is<double>());
  EXPECT_EQ(snapshot->get("master/tasks_lost").get<double>(), 0.0);
  EXPECT_TRUE(snapshot->get("master/elected").is<double>());
}

TEST(Metrics, HandlesAndNamesUpdateTheSameValue) {
  Registry r;
  Counter& c = r.counter("slave/tasks_finished", "");
  c.inc();
  r.inc("slave/tasks_finished", 2);
  EXPECT_EQ(c.value(), 3.0);
  EXPECT_EQ(&r.counter("slave/tasks_finished", "again"), &c);  // declared once
  Gauge& g = r.gauge("slave/executors_running", "");
  r.set("slave/executors_running", 4);
  g.add(-1);
  EXPECT_EQ(r.value("slave/executors_running"), 3.0);
  EXPECT_TRUE(r.undeclared_names().empty());
}

TEST(Metrics, UndeclaredNamesAreKeptAndReported) {
  Registry r;
  r.inc("master/typo");
  EXPECT_EQ(r.value("master/typo"), 1.0);
  ASSERT_EQ(r.undeclared_names().size(), 1u);
  EXPECT_EQ(r.undeclared_names()[0], "master/typo");
}

TEST(Metrics, TypeClashKeepsTheFirstMeaning) {
  Registry r;
  r.counter("x", "a counter").inc(5);
  r.gauge("x", "a gauge").set(100);  // logged, not rendered
  EXPECT_EQ(r.value("x"), 5.0);
  EXPECT_NE(r.prometheus().find("# TYPE x counter\nx 5\n"), std::string::npos) << r.prometheus();
}

TEST(Metrics, PrometheusTextFormat) {
  Registry r;
  r.counter("master/slave_removals/reason_unhealthy", "Slaves removed\nafter missed pings").inc(2);
  r.gauge("system/load_1min", "Load average").set(0.25);
  r.gauge("1st", "").set(-1);
  std::string text = r.prometheus();
  EXPECT_NE(text.find("# HELP master_slave_removals_reason_unhealthy Slaves removed\\nafter missed pings\n"
                      "# TYPE master_slave_removals_reason_unhealthy counter\n"
                      "master_slave_removals_reason_unhealthy 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE system_load_1min gauge\nsystem_load_1min 0.25\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n_1st -1\n"), std::string::npos) << text;
  // Every sample line is `name value` with a legal name (what a Prometheus
  // scraper requires).
  std::istringstream lines(text);
  std::string line;
  std::regex sample("[a-zA-Z_:][a-zA-Z0-9_:]* (-?[0-9.e+-]+|NaN|[+-]Inf)");
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("# ", 0) == 0) {
      continue;
    }
    EXPECT_TRUE(std::regex_match(line, sample)) << line;
    ++samples;
  }
  EXPECT_EQ(samples, 3);
}

TEST(Metrics, PrometheusValues) {
  EXPECT_EQ(prometheus_value(0), "0");
  EXPECT_EQ(prometheus_value(12345678), "12345678");
  EXPECT_EQ(prometheus_value(0.5), "0.5");
  EXPECT_EQ(prometheus_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(prometheus_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(prometheus_value(std::nan("")), "NaN");
}

TEST(Metrics, ConcurrentIncrementsAreNotLost) {
  Registry r;
  Counter& c = r.counter("c", "");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        r.inc("c");
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(c.value(), 80000.0);
}

}  // namespace
}  // namespace stoa::metrics
