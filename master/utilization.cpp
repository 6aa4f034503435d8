#include "master/utilization.hpp"

#include <algorithm>
#include <cmath>

#include "common/json.hpp"

namespace stoa::master {

namespace {

void average_used(ResourceFigures* into, const ResourceFigures& next, uint32_t records) {
  into->total = next.total;
  into->allocated = next.allocated;
  into->used += (next.used - into->used) / static_cast<double>(records);
}

picojson::value figures_json(const ResourceFigures& f) {
  picojson::object o;
  o["total"] = json_number(f.total);
  o["allocated"] = json_number(f.allocated);
  o["used"] = json_number(f.used);
  return picojson::value(o);
}

}  // namespace

// --- UtilizationRing -------------------------------------------------------------

UtilizationRing::UtilizationRing(size_t capacity, double interval_seconds)
    : slots_(capacity == 0 ? 1 : capacity), interval_(interval_seconds > 0 ? interval_seconds : 1) {}

bool UtilizationRing::record(const UtilizationSample& s) {
  if (!std::isfinite(s.timestamp)) {
    return false;
  }
  const double b = std::floor(s.timestamp / interval_);
  if (!std::isfinite(b) || b > 9e18 || b < -9e18) {
    return false;
  }
  const auto bucket = static_cast<int64_t>(b);
  if (size_ > 0 && bucket < newest_bucket_) {
    return false;
  }
  if (size_ > 0 && bucket == newest_bucket_) {
    UtilizationSample& n = slots_[(first_ + size_ - 1) % slots_.size()];
    ++newest_records_;
    n.timestamp = std::max(n.timestamp, s.timestamp);
    average_used(&n.cpus, s.cpus, newest_records_);
    average_used(&n.mem, s.mem, newest_records_);
    average_used(&n.disk, s.disk, newest_records_);
    average_used(&n.gpus, s.gpus, newest_records_);
    return true;
  }
  if (size_ == slots_.size()) {
    first_ = (first_ + 1) % slots_.size();
    --size_;
  }
  slots_[(first_ + size_) % slots_.size()] = s;
  ++size_;
  newest_bucket_ = bucket;
  newest_records_ = 1;
  return true;
}

std::vector<UtilizationSample> UtilizationRing::samples() const {
  std::vector<UtilizationSample> out;
  out.reserve(size_);
  for (size_t i = 0; i < size_; ++i) {
    out.push_back(slots_[(first_ + i) % slots_.size()]);
  }
  return out;
}

const UtilizationSample* UtilizationRing::newest() const {
  return size_ == 0 ? nullptr : &slots_[(first_ + size_ - 1) % slots_.size()];
}

size_t UtilizationRing::memory_bytes() const { return sizeof(*this) + slots_.capacity() * sizeof(UtilizationSample); }

// --- UtilizationHistory -------------------------------------------------------------

UtilizationHistory::UtilizationHistory(UtilizationOptions options)
    : options_(options), cluster_(options.cluster_samples, options.cluster_interval) {}

void UtilizationHistory::record_cluster(const UtilizationSample& base) {
  for (auto it = slaves_.begin(); it != slaves_.end(); ++it) {
    if (it->second.latest.expires < base.timestamp) {
      it->second.latest = Latest{};  // stale: counts no more (its ring stays)
    }
  }
  recompute_used();
  cluster_base_ = base;
  UtilizationSample s = base;
  s.cpus.used = running_used_.cpus;
  s.mem.used = running_used_.mem;
  s.disk.used = running_used_.disk;
  s.gpus.used = 0;
  cluster_.record(s);
}

void UtilizationHistory::record_slave(const std::string& id, const UtilizationSample& sample,
                                      double report_interval, std::vector<ExecutorUsageFigures> executors) {
  auto it = slaves_.find(id);
  if (it == slaves_.end()) {
    it = slaves_.emplace(id, SlaveHistory{UtilizationRing(options_.slave_samples, options_.slave_interval), {}})
             .first;
  }
  SlaveHistory& h = it->second;
  h.ring.record(sample);
  MeasuredUsage used{sample.cpus.used, sample.mem.used, sample.disk.used};
  running_used_.cpus += used.cpus - h.latest.used.cpus;
  running_used_.mem += used.mem - h.latest.used.mem;
  running_used_.disk += used.disk - h.latest.used.disk;
  h.latest.used = used;
  h.latest.executors = std::move(executors);
  h.latest.expires = sample.timestamp + std::max(report_interval, 0.0) * options_.report_lifetime_intervals;
  // The cluster's current sample follows at once; record_cluster() makes
  // the sum exact again and drops what went stale.
  UtilizationSample c = cluster_base_;
  c.timestamp = sample.timestamp;
  c.cpus.used = std::max(0.0, running_used_.cpus);
  c.mem.used = std::max(0.0, running_used_.mem);
  c.disk.used = std::max(0.0, running_used_.disk);
  c.gpus.used = 0;
  cluster_.record(c);
}

void UtilizationHistory::remove_slave(const std::string& id) {
  auto it = slaves_.find(id);
  if (it == slaves_.end()) {
    return;
  }
  slaves_.erase(it);
  recompute_used();
}

MeasuredUsage UtilizationHistory::used_at(double now) const {
  MeasuredUsage sum;
  for (const auto& [id, h] : slaves_) {
    if (h.latest.expires >= now) {
      sum.cpus += h.latest.used.cpus;
      sum.mem += h.latest.used.mem;
      sum.disk += h.latest.used.disk;
    }
  }
  return sum;
}

const UtilizationRing* UtilizationHistory::slave(const std::string& id) const {
  auto it = slaves_.find(id);
  return it == slaves_.end() ? nullptr : &it->second.ring;
}

const std::vector<ExecutorUsageFigures>* UtilizationHistory::slave_executors(const std::string& id) const {
  auto it = slaves_.find(id);
  return it == slaves_.end() || it->second.latest.expires == 0 ? nullptr : &it->second.latest.executors;
}

void UtilizationHistory::recompute_used() {
  running_used_ = MeasuredUsage{};
  for (const auto& [id, h] : slaves_) {
    running_used_.cpus += h.latest.used.cpus;
    running_used_.mem += h.latest.used.mem;
    running_used_.disk += h.latest.used.disk;
  }
}

// --- JSON -------------------------------------------------------------------------

picojson::value utilization_sample_json(const UtilizationSample& s) {
  picojson::object o;
  o["timestamp"] = json_number(s.timestamp);
  o["cpus"] = figures_json(s.cpus);
  o["mem"] = figures_json(s.mem);
  o["disk"] = figures_json(s.disk);
  o["gpus"] = figures_json(s.gpus);
  return picojson::value(o);
}

namespace {

picojson::value samples_json(const UtilizationRing& ring) {
  picojson::array a;
  for (const UtilizationSample& s : ring.samples()) {
    a.push_back(utilization_sample_json(s));
  }
  return picojson::value(a);
}

}  // namespace

picojson::value cluster_utilization_json(const UtilizationHistory& h) {
  picojson::object o;
  o["interval_seconds"] = json_number(h.cluster().interval());
  o["cluster"] = samples_json(h.cluster());
  return picojson::value(o);
}

picojson::value slave_utilization_json(const std::string& id, const UtilizationRing* ring, double interval,
                                       const std::vector<ExecutorUsageFigures>* executors) {
  picojson::object o;
  o["interval_seconds"] = json_number(ring != nullptr ? ring->interval() : interval);
  o["slave_id"] = picojson::value(id);
  o["samples"] = ring != nullptr ? samples_json(*ring) : picojson::value(picojson::array{});
  picojson::array entries;
  if (executors != nullptr) {
    for (const ExecutorUsageFigures& e : *executors) {
      picojson::object x;
      x["framework_id"] = picojson::value(e.framework_id);
      x["executor_id"] = picojson::value(e.executor_id);
      if (e.cpus) {
        x["cpus_used"] = json_number(*e.cpus);
      }
      if (e.mem) {
        x["mem_used"] = json_number(*e.mem);
      }
      if (e.disk) {
        x["disk_used"] = json_number(*e.disk);
      }
      entries.emplace_back(x);
    }
  }
  o["executors"] = picojson::value(entries);
  return picojson::value(o);
}

}  // namespace stoa::master
