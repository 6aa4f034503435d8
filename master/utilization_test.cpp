#include "master/utilization.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace stoa::master {
namespace {

UtilizationSample at(double t, double cpus_used, double cpus_total = 8, double cpus_allocated = 2) {
  UtilizationSample s;
  s.timestamp = t;
  s.cpus = {cpus_total, cpus_allocated, cpus_used};
  s.mem = {1024, 256, cpus_used * 100};
  s.disk = {2048, 0, 1};
  s.gpus = {1, 0, 0};
  return s;
}

TEST(UtilizationHistory, RingKeepsOneSamplePerBucketOldestFirst) {
  UtilizationRing ring(4, 5);
  EXPECT_EQ(ring.newest(), nullptr);
  EXPECT_TRUE(ring.record(at(100.0, 1)));
  EXPECT_TRUE(ring.record(at(106.0, 2)));
  EXPECT_TRUE(ring.record(at(111.0, 3)));
  std::vector<UtilizationSample> s = ring.samples();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].timestamp, 100.0);
  EXPECT_EQ(s[1].timestamp, 106.0);
  EXPECT_EQ(s[2].timestamp, 111.0);
  EXPECT_EQ(s[2].cpus.used, 3);
  ASSERT_NE(ring.newest(), nullptr);
  EXPECT_EQ(ring.newest()->timestamp, 111.0);
}

TEST(UtilizationHistory, RingWrapsAroundDroppingTheOldest) {
  UtilizationRing ring(3, 5);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(ring.record(at(1000.0 + 5.0 * i, i)));
    EXPECT_EQ(ring.size(), static_cast<size_t>(std::min(i + 1, 3)));
  }
  std::vector<UtilizationSample> s = ring.samples();
  ASSERT_EQ(s.size(), 3u);
  // The newest three, in order, across the wrap-around.
  EXPECT_EQ(s[0].cpus.used, 7);
  EXPECT_EQ(s[1].cpus.used, 8);
  EXPECT_EQ(s[2].cpus.used, 9);
  EXPECT_LT(s[0].timestamp, s[1].timestamp);
  EXPECT_LT(s[1].timestamp, s[2].timestamp);
}

TEST(UtilizationHistory, SamplesInOneBucketAverageUsedAndKeepTheNewestTotals) {
  UtilizationRing ring(4, 15);
  ring.record(at(150.0, 1.0, 8, 2));
  ring.record(at(155.0, 2.0, 8, 3));
  ring.record(at(164.9, 6.0, 10, 4));
  ASSERT_EQ(ring.size(), 1u);
  const UtilizationSample* n = ring.newest();
  EXPECT_EQ(n->timestamp, 164.9);
  EXPECT_DOUBLE_EQ(n->cpus.used, 3.0);  // (1 + 2 + 6) / 3
  EXPECT_EQ(n->cpus.total, 10);
  EXPECT_EQ(n->cpus.allocated, 4);
  ring.record(at(165.0, 5.0));  // the next bucket starts a new sample
  ASSERT_EQ(ring.size(), 2u);
  EXPECT_EQ(ring.newest()->cpus.used, 5.0);
}

TEST(UtilizationHistory, RingRefusesOlderBucketsAndBadTimestamps) {
  UtilizationRing ring(4, 5);
  ASSERT_TRUE(ring.record(at(100.0, 1)));
  EXPECT_FALSE(ring.record(at(94.0, 9)));
  EXPECT_FALSE(ring.record(at(std::numeric_limits<double>::quiet_NaN(), 9)));
  EXPECT_FALSE(ring.record(at(std::numeric_limits<double>::infinity(), 9)));
  EXPECT_FALSE(ring.record(at(1e300, 9)));
  ASSERT_EQ(ring.size(), 1u);
  EXPECT_EQ(ring.newest()->cpus.used, 1);
}

TEST(UtilizationHistory, MemoryPerSlaveIsBoundedByItsRing) {
  UtilizationHistory h;
  for (int i = 0; i < 5000; ++i) {
    h.record_slave("S1", at(1e9 + 5.0 * i, 1), 5);
  }
  const UtilizationRing* ring = h.slave("S1");
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(ring->size(), 60u);
  EXPECT_EQ(ring->capacity(), 60u);
  EXPECT_EQ(ring->interval(), 15);
  // 60 samples of 4 resources x 3 figures + a timestamp: about 6 KB.
  EXPECT_LE(ring->memory_bytes(), 60 * sizeof(UtilizationSample) + 256);
  EXPECT_LE(ring->memory_bytes(), 8u * 1024);
  // 15 minutes: the oldest sample is 59 buckets before the newest.
  std::vector<UtilizationSample> s = ring->samples();
  EXPECT_NEAR(s.back().timestamp - s.front().timestamp, 59 * 15, 15);
  EXPECT_EQ(h.cluster().capacity(), 180u);
  EXPECT_LE(h.cluster().size(), 180u);
}

TEST(UtilizationHistory, ClusterUsedIsTheSumOfFreshSlaveReports) {
  UtilizationHistory h;
  UtilizationSample base = at(1000.0, 0, 16, 4);
  h.record_cluster(base);
  ASSERT_EQ(h.cluster().size(), 1u);
  EXPECT_EQ(h.cluster().newest()->cpus.used, 0);
  EXPECT_EQ(h.cluster().newest()->cpus.total, 16);

  h.record_slave("S1", at(1001.0, 1.5), 1);
  EXPECT_DOUBLE_EQ(h.used_at(1001.0).cpus, 1.5);
  h.record_slave("S2", at(1001.5, 0.5), 1);
  EXPECT_DOUBLE_EQ(h.used_at(1001.5).cpus, 2.0);
  EXPECT_DOUBLE_EQ(h.used_at(1001.5).mem, 200.0);
  // A newer report of S1 replaces its older one in the sum.
  h.record_slave("S1", at(1002.0, 1.0), 1);
  EXPECT_DOUBLE_EQ(h.used_at(1002.0).cpus, 1.5);
  // The cluster's current sample followed, with the master's totals.
  const UtilizationSample* c = h.cluster().newest();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->timestamp, 1002.0);
  EXPECT_EQ(c->cpus.total, 16);
  EXPECT_EQ(c->cpus.allocated, 4);
  EXPECT_EQ(h.cluster().size(), 1u);  // same 5 s bucket

  // Three report intervals later without a report, S2 no longer counts...
  EXPECT_DOUBLE_EQ(h.used_at(1004.6).cpus, 1.0);
  // ...and the next cluster sample says so.
  h.record_cluster(at(1005.0, 0, 16, 4));
  EXPECT_DOUBLE_EQ(h.cluster().newest()->cpus.used, 1.0);

  // A stale report's executors are no longer shown.
  EXPECT_EQ(h.slave_executors("S2"), nullptr);
  ASSERT_NE(h.slave_executors("S1"), nullptr);
  EXPECT_TRUE(h.slave_executors("S1")->empty());
  // A removed slave's history and usage are gone.
  h.remove_slave("S1");
  EXPECT_EQ(h.slave("S1"), nullptr);
  EXPECT_NE(h.slave("S2"), nullptr);
  EXPECT_DOUBLE_EQ(h.used_at(1005.0).cpus, 0.0);
  h.record_cluster(at(1010.0, 0, 16, 4));
  EXPECT_DOUBLE_EQ(h.cluster().newest()->cpus.used, 0.0);
  EXPECT_EQ(h.cluster().size(), 3u);
}

TEST(UtilizationHistory, NewerClusterTotalsGoIntoTheNextReportsSample) {
  UtilizationHistory h;
  EXPECT_EQ(h.cluster_totals_time(), 0);
  h.record_cluster(at(1000.0, 0, 16, 4));
  EXPECT_EQ(h.cluster_totals_time(), 1000.0);
  h.update_cluster_totals(at(1001.0, 0, 20, 6));
  EXPECT_EQ(h.cluster_totals_time(), 1001.0);
  EXPECT_EQ(h.cluster().newest()->cpus.total, 16);  // nothing recorded yet
  h.record_slave("S1", at(1001.5, 1), 5);
  EXPECT_EQ(h.cluster().newest()->cpus.total, 20);
  EXPECT_EQ(h.cluster().newest()->cpus.allocated, 6);
  EXPECT_EQ(h.cluster().size(), 1u);
}

TEST(UtilizationHistory, SampleJsonHasTheContractsShape) {
  UtilizationSample s = at(1700000000.25, 0.75);
  picojson::value v = utilization_sample_json(s);
  EXPECT_EQ(json_serialize(v),
            "{\"cpus\":{\"allocated\":2,\"total\":8,\"used\":0.75},"
            "\"disk\":{\"allocated\":0,\"total\":2048,\"used\":1},"
            "\"gpus\":{\"allocated\":0,\"total\":1,\"used\":0},"
            "\"mem\":{\"allocated\":256,\"total\":1024,\"used\":75},"
            "\"timestamp\":1700000000.25}");
  UtilizationHistory h;
  h.record_cluster(s);
  picojson::value c = cluster_utilization_json(h);
  EXPECT_EQ(c.get("interval_seconds").get<double>(), 5);
  ASSERT_TRUE(c.get("cluster").is<picojson::array>());
  EXPECT_EQ(c.get("cluster").get<picojson::array>().size(), 1u);
  picojson::value none = slave_utilization_json("S9", h.slave("S9"), 15);
  h.record_slave("S1", at(1700000001.0, 0.5), 5, {ExecutorUsageFigures{"F1", "E1", 0.5, 12.5, std::nullopt}});
  picojson::value one = slave_utilization_json("S1", h.slave("S1"), 15, h.slave_executors("S1"));
  EXPECT_EQ(json_serialize(one.get("executors")),
            "[{\"cpus_used\":0.5,\"executor_id\":\"E1\",\"framework_id\":\"F1\",\"mem_used\":12.5}]");
  EXPECT_EQ(one.get("samples").get<picojson::array>().size(), 1u);
  EXPECT_EQ(json_serialize(none), "{\"executors\":[],\"interval_seconds\":15,\"samples\":[],\"slave_id\":\"S9\"}");
}

}  // namespace
}  // namespace stoa::master
