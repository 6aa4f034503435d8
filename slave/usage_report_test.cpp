#include "slave/usage_report.hpp"

#include <gtest/gtest.h>

#include "slave/slave_test_fixture.hpp"

namespace stoa::slave {
namespace {

ResourceStatistics cpu_sample(double timestamp, double user, double system, uint64_t rss) {
  ResourceStatistics s;
  s.timestamp = timestamp;
  s.cpus_user_time_secs = user;
  s.cpus_system_time_secs = system;
  s.mem_rss_bytes = rss;
  return s;
}

const std::vector<UsageTarget> TWO = {{"F1", "E1", "C1"}, {"F1", "E2", "C2"}};

TEST(UsageReport, CpuIsTheRateOfCpuTimeBetweenSamples) {
  UsageRates rates;
  internal::SlaveUsageMessage first =
      rates.report("S1", 100.0, 5, TWO, {{"C1", cpu_sample(100.0, 10, 2, 1 << 20)}, {"C2", cpu_sample(100.0, 1, 0, 2 << 20)}});
  EXPECT_EQ(first.slave_id().value(), "S1");
  EXPECT_EQ(first.timestamp(), 100.0);
  EXPECT_EQ(first.interval_seconds(), 5);
  ASSERT_EQ(first.executors_size(), 2);
  // Nothing to compare with yet: no rate, 0 in the total; memory is there.
  EXPECT_FALSE(first.executors(0).has_cpus_used());
  EXPECT_EQ(first.cpus_used(), 0);
  EXPECT_EQ(first.mem_rss_bytes(), 3.0 * (1 << 20));
  EXPECT_FALSE(first.has_disk_used_bytes());
  EXPECT_FALSE(first.executors(0).has_disk_used_bytes());
  EXPECT_EQ(rates.remembered(), 2u);

  // C1 used 1.5 s of CPU in 2 s (0.75 cores), C2 2 s in 2 s (1 core).
  internal::SlaveUsageMessage second =
      rates.report("S1", 102.0, 5, TWO, {{"C1", cpu_sample(102.0, 11, 2.5, 1 << 20)}, {"C2", cpu_sample(102.0, 3, 0, 2 << 20)}});
  ASSERT_EQ(second.executors_size(), 2);
  EXPECT_EQ(second.executors(0).framework_id().value(), "F1");
  EXPECT_EQ(second.executors(0).executor_id().value(), "E1");
  EXPECT_EQ(second.executors(0).container_id(), "C1");
  EXPECT_DOUBLE_EQ(second.executors(0).cpus_used(), 0.75);
  EXPECT_DOUBLE_EQ(second.executors(1).cpus_used(), 1.0);
  EXPECT_DOUBLE_EQ(second.cpus_used(), 1.75);
}

TEST(UsageReport, CpuTimeThatWentDownCountsAsZero) {
  UsageRates rates;
  std::vector<UsageTarget> one = {{"F1", "E1", "C1"}};
  rates.report("S1", 10.0, 1, one, {{"C1", cpu_sample(10.0, 5, 1, 0)}});
  internal::SlaveUsageMessage m = rates.report("S1", 11.0, 1, one, {{"C1", cpu_sample(11.0, 2, 0, 0)}});
  ASSERT_EQ(m.executors_size(), 1);
  EXPECT_EQ(m.executors(0).cpus_used(), 0);
  EXPECT_EQ(m.cpus_used(), 0);
  // The lower figure is the new base.
  m = rates.report("S1", 12.0, 1, one, {{"C1", cpu_sample(12.0, 2.5, 0, 0)}});
  EXPECT_DOUBLE_EQ(m.cpus_used(), 0.5);
}

TEST(UsageReport, ExecutorsWithoutASampleAreLeftOutAndForgotten) {
  UsageRates rates;
  rates.report("S1", 10.0, 1, TWO, {{"C1", cpu_sample(10.0, 1, 0, 0)}, {"C2", cpu_sample(10.0, 1, 0, 0)}});
  EXPECT_EQ(rates.remembered(), 2u);
  internal::SlaveUsageMessage m = rates.report("S1", 11.0, 1, TWO, {{"C1", cpu_sample(11.0, 2, 0, 0)}});
  ASSERT_EQ(m.executors_size(), 1);
  EXPECT_EQ(m.executors(0).executor_id().value(), "E1");
  EXPECT_EQ(rates.remembered(), 1u);
  // C2 comes back: a first sample again (no rate from a stale base).
  m = rates.report("S1", 12.0, 1, TWO, {{"C1", cpu_sample(12.0, 3, 0, 0)}, {"C2", cpu_sample(12.0, 9, 0, 0)}});
  ASSERT_EQ(m.executors_size(), 2);
  EXPECT_FALSE(m.executors(1).has_cpus_used());
  EXPECT_DOUBLE_EQ(m.cpus_used(), 1.0);
  // A sample of a container that is not a running executor is not reported.
  m = rates.report("S1", 13.0, 1, {}, {{"C1", cpu_sample(13.0, 4, 0, 0)}});
  EXPECT_EQ(m.executors_size(), 0);
  EXPECT_EQ(rates.remembered(), 0u);
}

TEST(UsageReport, DiskOnlyWhereMeasuredAndNoCpuWithoutCpuFigures) {
  UsageRates rates;
  ResourceStatistics with_disk;
  with_disk.timestamp = 10.0;
  with_disk.disk_used_bytes = 4096;
  ResourceStatistics nothing;
  nothing.timestamp = 10.0;
  internal::SlaveUsageMessage m = rates.report("S1", 10.0, 1, TWO, {{"C1", with_disk}, {"C2", nothing}});
  ASSERT_EQ(m.executors_size(), 2);
  EXPECT_EQ(m.executors(0).disk_used_bytes(), 4096);
  EXPECT_FALSE(m.executors(1).has_disk_used_bytes());
  EXPECT_FALSE(m.executors(1).has_mem_rss_bytes());
  ASSERT_TRUE(m.has_disk_used_bytes());
  EXPECT_EQ(m.disk_used_bytes(), 4096);
  EXPECT_EQ(m.mem_rss_bytes(), 0);
  EXPECT_EQ(rates.remembered(), 0u);  // no CPU figures: nothing to remember
  EXPECT_TRUE(m.IsInitialized());
}

// The slave's timer (virtual time, slave_test_fixture.hpp): reports start
// with the registration and come every --usage_report_interval (5 s).
class SlaveUsageReports : public SlaveTimers {};

TEST_F(SlaveUsageReports, ReportsComeEveryIntervalOnceRegistered) {
  advance(20s);
  EXPECT_EQ(to_master->count<SlaveUsageMessage>(), 0u);  // not registered: nobody to tell
  register_slave();
  advance(4900ms);
  EXPECT_EQ(to_master->count<SlaveUsageMessage>(), 0u);
  advance(100ms);
  ASSERT_EQ(to_master->count<SlaveUsageMessage>(), 1u);
  SlaveUsageMessage m = to_master->all<SlaveUsageMessage>()[0];
  EXPECT_EQ(m.slave_id().value(), "S1");
  EXPECT_EQ(m.interval_seconds(), 5);
  EXPECT_EQ(m.executors_size(), 0);  // nothing runs
  EXPECT_EQ(m.cpus_used(), 0);
  EXPECT_TRUE(m.IsInitialized());
  ping();
  advance(5s);
  advance(5s);
  EXPECT_EQ(to_master->count<SlaveUsageMessage>(), 3u);
}

}  // namespace
}  // namespace stoa::slave
