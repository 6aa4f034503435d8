// Slave usage reports at the master: the pure checks, and the master actor
// taking reports (fake slaves on CAF's test_coordinator, master_fixture.hpp)
// into /master/utilization and the master/utilization/* gauges.

#include "master/usage_reports.hpp"

#include <cmath>
#include <functional>
#include <limits>

#include "master/master_fixture.hpp"

namespace stoa::master {
namespace {

using namespace stoa::master::testing;

SlaveUsageMessage usage_report(const std::string& slave_id, double cpus, double rss_bytes) {
  SlaveUsageMessage m;
  m.mutable_slave_id()->set_value(slave_id);
  m.set_timestamp(1.7e9);
  m.set_cpus_used(cpus);
  m.set_mem_rss_bytes(rss_bytes);
  m.set_interval_seconds(1);
  ExecutorUsage* e = m.add_executors();
  e->mutable_framework_id()->set_value("F");
  e->mutable_executor_id()->set_value("E");
  e->set_cpus_used(cpus);
  e->set_mem_rss_bytes(rss_bytes);
  return m;
}

TEST(UsageReports, NumbersMustBeFiniteAndNotNegative) {
  EXPECT_FALSE(check_usage_report(usage_report("S1", 0.5, 1024)));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    std::function<void(SlaveUsageMessage&)> spoil;
    std::string expected;
  };
  const Case cases[] = {
      {[](SlaveUsageMessage& m) { m.set_cpus_used(-1); }, "cpus_used is -1"},
      {[nan](SlaveUsageMessage& m) { m.set_cpus_used(nan); }, "cpus_used is nan"},
      {[inf](SlaveUsageMessage& m) { m.set_mem_rss_bytes(inf); }, "mem_rss_bytes is inf"},
      {[](SlaveUsageMessage& m) { m.set_disk_used_bytes(-5); }, "disk_used_bytes is -5"},
      {[nan](SlaveUsageMessage& m) { m.set_timestamp(nan); }, "timestamp is nan"},
      {[](SlaveUsageMessage& m) { m.set_interval_seconds(-0.5); }, "interval_seconds is -0.5"},
      {[](SlaveUsageMessage& m) { m.mutable_executors(0)->set_cpus_used(-2); }, "executors[0].cpus_used is -2"},
      {[nan](SlaveUsageMessage& m) { m.mutable_executors(0)->set_mem_rss_bytes(nan); },
       "executors[0].mem_rss_bytes is nan"},
      {[](SlaveUsageMessage& m) { m.mutable_executors(0)->set_disk_used_bytes(-1); },
       "executors[0].disk_used_bytes is -1"},
      {[](SlaveUsageMessage& m) { m.mutable_slave_id()->set_value(""); }, "slave_id is empty"},
      {[](SlaveUsageMessage& m) { m.mutable_executors(0)->mutable_executor_id()->set_value(""); },
       "executors[0].executor_id is empty"},
      {[](SlaveUsageMessage& m) {
         for (int i = 0; i < MAX_USAGE_REPORT_EXECUTORS; ++i) {
           *m.add_executors() = m.executors(0);
         }
       },
       "executors has 10001 entries"},
  };
  for (const Case& c : cases) {
    SlaveUsageMessage m = usage_report("S1", 0.5, 1024);
    c.spoil(m);
    std::optional<std::string> error = check_usage_report(m);
    ASSERT_TRUE(error) << c.expected;
    EXPECT_NE(error->find(c.expected), std::string::npos) << *error;
  }
}

TEST(UsageReports, ConversionsAndQueries) {
  SlaveUsageMessage m = usage_report("S1", 1.25, 64.0 * 1024 * 1024);
  MeasuredUsage u = measured_usage(m);
  EXPECT_EQ(u.cpus, 1.25);
  EXPECT_EQ(u.mem, 64.0);
  EXPECT_EQ(u.disk, 0.0);
  EXPECT_EQ(report_interval_seconds(m), 1.0);
  std::vector<ExecutorUsageFigures> figures = executor_figures(m);
  ASSERT_EQ(figures.size(), 1u);
  EXPECT_EQ(figures[0].framework_id, "F");
  EXPECT_EQ(figures[0].executor_id, "E");
  EXPECT_EQ(figures[0].cpus, 1.25);
  EXPECT_EQ(figures[0].mem, 64.0);
  EXPECT_FALSE(figures[0].disk);
  m.clear_interval_seconds();
  EXPECT_EQ(report_interval_seconds(m), 5.0);
  EXPECT_FALSE(check_utilization_query({}));
  EXPECT_FALSE(check_utilization_query({{"slave_id", "S1"}, {"jsonp", "cb"}}));
  std::optional<std::string> bad = check_utilization_query({{"slave_id", ""}});
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("slave_id"), std::string::npos) << *bad;
  bad = check_utilization_query({{"slaveid", "S1"}});
  ASSERT_TRUE(bad);
  EXPECT_NE(bad->find("'slaveid'"), std::string::npos) << *bad;
}

class MasterUsageReports : public MasterFixture {
 protected:
  std::pair<int, picojson::value> utilization(const std::map<std::string, std::string>& query = {}) {
    std::pair<int, picojson::value> out;
    auto h = self_->request(master_, caf::infinite, state_atom_v, std::string("utilization"), query);
    sched_.run();
    h.receive(
        [&](int status, std::string& body) {
          out.first = status;
          EXPECT_TRUE(picojson::parse(out.second, body).empty()) << body;
        },
        [&](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    return out;
  }
};

TEST_F(MasterUsageReports, ReportsOfRegisteredSlavesMakeTheHistory) {
  start({});
  auto inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(inbox);
  std::string sid = add_slave(slave, inbox, "cpus:4;mem:1024;disk:100");
  // The cluster's first sample is taken when the master starts leading;
  // the next one (5 s buckets) knows the slave.
  advance(6s, 1s);
  auto [status, cluster] = utilization();
  ASSERT_EQ(status, 200);
  EXPECT_EQ(cluster.get("interval_seconds").get<double>(), 5);
  const picojson::array& samples = cluster.get("cluster").get<picojson::array>();
  ASSERT_FALSE(samples.empty());
  EXPECT_EQ(samples.back().get("cpus").get("total").get<double>(), 4);
  EXPECT_EQ(samples.back().get("mem").get("total").get<double>(), 1024);
  EXPECT_EQ(samples.back().get("cpus").get("used").get<double>(), 0);

  caf::send_as(slave, master_, usage_report(sid, 1.5, 100.0 * 1024 * 1024));
  sched_.run();
  EXPECT_EQ(metric("master/valid_usage_reports"), 1.0);
  EXPECT_DOUBLE_EQ(metric("master/utilization/cpus_used"), 1.5);
  EXPECT_DOUBLE_EQ(metric("master/utilization/mem_used"), 100.0);
  auto [status2, now] = utilization();
  ASSERT_EQ(status2, 200);
  const picojson::value& newest = now.get("cluster").get<picojson::array>().back();
  EXPECT_GT(newest.get("cpus").get("used").get<double>(), 0);
  for (const char* r : {"cpus", "mem", "disk", "gpus"}) {
    for (const char* f : {"total", "allocated", "used"}) {
      EXPECT_TRUE(newest.get(r).get(f).is<double>()) << r << "." << f << " in " << newest.serialize();
    }
  }

  auto [status3, one] = utilization({{"slave_id", sid}});
  ASSERT_EQ(status3, 200) << one.serialize();
  EXPECT_EQ(one.get("slave_id").to_str(), sid);
  EXPECT_EQ(one.get("interval_seconds").get<double>(), 15);
  ASSERT_EQ(one.get("samples").get<picojson::array>().size(), 1u);
  const picojson::value& s = one.get("samples").get<picojson::array>()[0];
  EXPECT_EQ(s.get("cpus").get("used").get<double>(), 1.5);
  EXPECT_EQ(s.get("cpus").get("total").get<double>(), 4);
  EXPECT_EQ(s.get("mem").get("used").get<double>(), 100);
  EXPECT_EQ(s.get("gpus").get("used").get<double>(), 0);
  // The latest report's executors, in MB.
  ASSERT_EQ(one.get("executors").get<picojson::array>().size(), 1u) << one.serialize();
  const picojson::value& e = one.get("executors").get<picojson::array>()[0];
  EXPECT_EQ(e.get("executor_id").to_str(), "E");
  EXPECT_EQ(e.get("framework_id").to_str(), "F");
  EXPECT_EQ(e.get("cpus_used").get<double>(), 1.5);
  EXPECT_EQ(e.get("mem_used").get<double>(), 100);
  EXPECT_FALSE(e.contains("disk_used")) << e.serialize();

  // Unknown slave: 404; a bad query: 400 naming it.
  EXPECT_EQ(utilization({{"slave_id", "nope"}}).first, 404);
  auto [bad_status, bad] = utilization({{"slave_id", ""}});
  EXPECT_EQ(bad_status, 400);
  EXPECT_NE(bad.get("message").to_str().find("slave_id"), std::string::npos) << bad.serialize();
  EXPECT_EQ(utilization({{"since", "5"}}).first, 400);
  // (Stale reports are the history's business: utilization_test.cpp.)
}

TEST_F(MasterUsageReports, BadReportsAreDroppedCountedAndChangeNothing) {
  start({});
  auto inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(inbox);
  std::string sid = add_slave(slave, inbox);
  auto other_inbox = std::make_shared<Inbox>();
  caf::actor other = peer(other_inbox);
  std::string other_id = add_slave(other, other_inbox);
  ASSERT_NE(sid, other_id);

  // Another slave speaking for this one; a stranger; an unknown slave id;
  // a NaN figure.
  caf::send_as(other, master_, usage_report(sid, 1, 1));
  caf::actor stranger = peer(std::make_shared<Inbox>());
  caf::send_as(stranger, master_, usage_report(sid, 1, 1));
  caf::send_as(slave, master_, usage_report("no-such-slave", 1, 1));
  caf::send_as(slave, master_, usage_report(sid, std::numeric_limits<double>::quiet_NaN(), 1));
  caf::send_as(slave, master_, usage_report(sid, -3, 1));
  sched_.run();
  EXPECT_EQ(metric("master/invalid_usage_reports"), 5.0);
  EXPECT_EQ(metric("master/invalid_usage_reports/reason_wrong_sender"), 2.0);
  EXPECT_EQ(metric("master/invalid_usage_reports/reason_unknown_slave"), 1.0);
  EXPECT_EQ(metric("master/invalid_usage_reports/reason_invalid"), 2.0);
  EXPECT_EQ(metric("master/valid_usage_reports"), 0.0);
  EXPECT_EQ(metric("master/utilization/cpus_used"), 0.0);
  auto [status, one] = utilization({{"slave_id", sid}});
  ASSERT_EQ(status, 200);
  EXPECT_TRUE(one.get("samples").get<picojson::array>().empty()) << one.serialize();
}

TEST_F(MasterUsageReports, RemovedSlaveTakesItsHistoryAlong) {
  start({});
  auto inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(inbox);
  std::string sid = add_slave(slave, inbox);
  SlaveUsageMessage m = usage_report(sid, 2, 1);
  m.set_interval_seconds(3600);  // stays fresh: only the removal takes it out
  caf::send_as(slave, master_, m);
  sched_.run();
  EXPECT_EQ(metric("master/utilization/cpus_used"), 2.0);
  UnregisterSlaveMessage u;
  u.mutable_slave_id()->set_value(sid);
  caf::send_as(slave, master_, u);
  sched_.run();
  EXPECT_EQ(metric("master/utilization/cpus_used"), 0.0);
  EXPECT_EQ(utilization({{"slave_id", sid}}).first, 404);
}

}  // namespace
}  // namespace stoa::master
