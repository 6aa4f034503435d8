#pragma once
// The master's utilization history (docs/utilization.md): fixed-size ring
// buffers of samples, one for the cluster (180 x 5 s) and one per slave
// (60 x 15 s), plus the latest usage each slave reported. A pure data
// structure: no actor, no clock of its own (every call says what time it
// is), so it is unit-tested in microseconds (utilization_test.cpp). The
// master actor owns one and feeds it (usage_reports.cpp).
//
// A sample holds, per resource, what the cluster (or the slave) has
// (`total`), what its tasks hold (`allocated`) and what its executors were
// measured to use (`used`). mem and disk are in MB, cpus and gpus in cores
// and devices. gpus `used` is never measured (always 0).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <picojson.h>

namespace stoa::master {

struct ResourceFigures {
  double total = 0;
  double allocated = 0;
  double used = 0;
};

struct UtilizationSample {
  double timestamp = 0;  // seconds since the epoch
  ResourceFigures cpus;
  ResourceFigures mem;   // MB
  ResourceFigures disk;  // MB
  ResourceFigures gpus;
};

// What the executors of a slave (or of all slaves) were measured to use.
struct MeasuredUsage {
  double cpus = 0;
  double mem = 0;   // MB
  double disk = 0;  // MB
};

// One executor's figures in a slave's latest report (mem, disk in MB);
// unset = not measured (cpus: the executor's first sample; disk: no disk/du).
struct ExecutorUsageFigures {
  std::string framework_id;
  std::string executor_id;
  std::optional<double> cpus;
  std::optional<double> mem;
  std::optional<double> disk;
};

// A fixed-capacity ring of samples, at most one per `interval`-long time
// bucket (bucket = floor(timestamp / interval)).
//
// Invariants: size() <= capacity(); samples() are in increasing timestamp
// order and in distinct buckets; the heap memory held is allocated once, at
// construction (memory_bytes()), and never grows.
class UtilizationRing {
 public:
  // REQUIRES: capacity > 0, interval_seconds > 0.
  UtilizationRing(size_t capacity, double interval_seconds);

  // Records `s`. In the newest sample's bucket it updates that sample: the
  // timestamp, `total` and `allocated` take the new values and `used` is the
  // mean of every sample recorded in the bucket. In a later bucket it is
  // appended, dropping the oldest sample when the ring is full. A sample of
  // an earlier bucket than the newest, or with a non-finite timestamp, is
  // ignored: returns false.
  bool record(const UtilizationSample& s);

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  double interval() const { return interval_; }
  // Oldest first.
  std::vector<UtilizationSample> samples() const;
  // The newest sample, or nullptr when empty.
  const UtilizationSample* newest() const;
  // Heap bytes held (fixed at construction) plus the object itself.
  size_t memory_bytes() const;

 private:
  std::vector<UtilizationSample> slots_;
  double interval_;
  size_t first_ = 0;  // index of the oldest sample
  size_t size_ = 0;
  int64_t newest_bucket_ = 0;
  uint32_t newest_records_ = 0;  // samples averaged into the newest one
};

struct UtilizationOptions {
  size_t cluster_samples = 180;
  double cluster_interval = 5;  // seconds
  size_t slave_samples = 60;
  double slave_interval = 15;  // seconds
  // A slave's report counts in the cluster's `used` for this many of its
  // report intervals (then it is stale: the slave stopped reporting).
  double report_lifetime_intervals = 3;
};

class UtilizationHistory {
 public:
  explicit UtilizationHistory(UtilizationOptions options = {});

  // The master's own figures of the cluster at `base.timestamp` (total and
  // allocated from its records; `used` is ignored): reports that are stale
  // by then are dropped, and a cluster sample is recorded with `used` =
  // the sum of the slaves' latest reports. Call it every cluster interval.
  void record_cluster(const UtilizationSample& base);

  // Newer total and allocated figures of the cluster (`used` ignored) for
  // the samples record_slave() makes until the next record_cluster(); no
  // sample is recorded.
  void update_cluster_totals(const UtilizationSample& base) { cluster_base_ = base; }
  // When the cluster's total and allocated were last given (0 = never).
  double cluster_totals_time() const { return cluster_base_.timestamp; }

  // Slave `id` reported: `sample` holds its total and allocated (from the
  // master's records) and the `used` it measured. Its ring records the
  // sample; its usage counts in the cluster's `used` until
  // `sample.timestamp + report_interval * report_lifetime_intervals`; and
  // the cluster's current sample is updated at once (with the total and
  // allocated of the last record_cluster()). `executors` replaces the
  // slave's latest per-executor figures.
  void record_slave(const std::string& id, const UtilizationSample& sample, double report_interval,
                    std::vector<ExecutorUsageFigures> executors = {});

  // Forgets slave `id`: its ring and its latest report (a removed slave).
  void remove_slave(const std::string& id);

  // The sum of the latest reports that are not stale at `now`.
  MeasuredUsage used_at(double now) const;

  const UtilizationRing& cluster() const { return cluster_; }
  // The ring of slave `id`, or nullptr when it never reported (or was removed).
  const UtilizationRing* slave(const std::string& id) const;
  // The per-executor figures of slave `id`'s latest report while it is not
  // stale (as of the last record_cluster()), or nullptr.
  const std::vector<ExecutorUsageFigures>* slave_executors(const std::string& id) const;
  size_t slave_count() const { return slaves_.size(); }
  const UtilizationOptions& options() const { return options_; }

 private:
  struct Latest {
    MeasuredUsage used;
    double expires = 0;
    std::vector<ExecutorUsageFigures> executors;
  };
  struct SlaveHistory {
    UtilizationRing ring;
    Latest latest;
  };
  void recompute_used();

  UtilizationOptions options_;
  UtilizationRing cluster_;
  UtilizationSample cluster_base_;  // total and allocated of the last record_cluster()
  MeasuredUsage running_used_;      // sum of the latest reports (exact after record_cluster())
  std::unordered_map<std::string, SlaveHistory> slaves_;
};

// {"timestamp": <secs>, "cpus": {"total","allocated","used"}, "mem": {...},
//  "disk": {...}, "gpus": {...}}: one sample as /master/utilization and the
// event stream's UTILIZATION event show it.
picojson::value utilization_sample_json(const UtilizationSample& s);
// {"interval_seconds": 5, "cluster": [samples, oldest first]}
picojson::value cluster_utilization_json(const UtilizationHistory& h);
// {"interval_seconds": 15, "slave_id": id, "samples": [...], "executors":
// [{"framework_id", "executor_id", "cpus_used"?, "mem_used"?, "disk_used"?}]}
// (executors: the latest report's, MB for mem and disk; a figure not
// measured is left out). `ring` and `executors` may be null (a registered
// slave that has not reported yet, or whose report is stale).
picojson::value slave_utilization_json(const std::string& id, const UtilizationRing* ring, double interval,
                                       const std::vector<ExecutorUsageFigures>* executors = nullptr);

}  // namespace stoa::master
