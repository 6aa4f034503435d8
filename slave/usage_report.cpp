// The slave's usage reports (usage_report.hpp, docs/utilization.md): the
// rates from successive samples, and the slave actor's timer that samples
// the running executors through the containerizer and sends the master a
// SlaveUsageMessage.

#include "slave/usage_report.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include <caf/all.hpp>

#include "common/logging.hpp"
#include "common/uuid.hpp"
#include "slave/slave_actor.hpp"

namespace stoa::slave {

internal::SlaveUsageMessage UsageRates::report(const std::string& slave_id, double now, double interval_seconds,
                                               const std::vector<UsageTarget>& executors,
                                               const std::map<std::string, ResourceStatistics>& usages) {
  internal::SlaveUsageMessage m;
  m.mutable_slave_id()->set_value(slave_id);
  m.set_timestamp(now);
  m.set_interval_seconds(interval_seconds);
  double cpus = 0;
  double mem = 0;
  double disk = 0;
  bool any_disk = false;
  std::map<std::string, Previous> next;
  for (const UsageTarget& target : executors) {
    auto u = usages.find(target.container_id);
    if (u == usages.end()) {
      continue;
    }
    const ResourceStatistics& s = u->second;
    internal::ExecutorUsage* e = m.add_executors();
    e->mutable_framework_id()->set_value(target.framework_id);
    e->mutable_executor_id()->set_value(target.executor_id);
    e->set_container_id(target.container_id);
    if (s.cpus_user_time_secs || s.cpus_system_time_secs) {
      double cpu = s.cpus_user_time_secs.value_or(0) + s.cpus_system_time_secs.value_or(0);
      auto before = previous_.find(target.container_id);
      if (before != previous_.end() && s.timestamp > before->second.timestamp) {
        double rate = std::max(0.0, cpu - before->second.cpu_secs) / (s.timestamp - before->second.timestamp);
        if (std::isfinite(rate)) {
          e->set_cpus_used(rate);
          cpus += rate;
        }
      }
      if (std::isfinite(cpu) && std::isfinite(s.timestamp)) {
        next[target.container_id] = Previous{s.timestamp, cpu};
      }
    }
    if (s.mem_rss_bytes) {
      e->set_mem_rss_bytes(static_cast<double>(*s.mem_rss_bytes));
      mem += static_cast<double>(*s.mem_rss_bytes);
    }
    if (s.disk_used_bytes) {
      e->set_disk_used_bytes(static_cast<double>(*s.disk_used_bytes));
      disk += static_cast<double>(*s.disk_used_bytes);
      any_disk = true;
    }
  }
  previous_ = std::move(next);
  m.set_cpus_used(cpus);
  m.set_mem_rss_bytes(mem);
  if (any_disk) {
    m.set_disk_used_bytes(disk);
  }
  return m;
}

// --- the slave actor ---------------------------------------------------------------

void Slave::start_usage_reports() {
  if (usage_ticking || opts.flags.usage_report_interval.count() == 0) {
    return;
  }
  usage_ticking = true;
  self->delayed_send(self, opts.flags.usage_report_interval, usage_tick_atom::value);
}

void Slave::on_usage_tick() {
  const Duration interval = opts.flags.usage_report_interval;
  self->delayed_send(self, interval, usage_tick_atom::value);
  // One sample at a time; none while no master listens.
  if (usage_sampling || !records.registered || !master || records.slave_id.empty()) {
    return;
  }
  std::vector<UsageTarget> targets;
  std::vector<std::string> ids;
  for (const auto& [fid, f] : records.frameworks) {
    for (const auto& [eid, e] : f.executors) {
      if (e.phase != Executor::Phase::TERMINATED && e.pid > 0) {
        targets.push_back(UsageTarget{fid, eid, e.container_id});
        ids.push_back(e.container_id);
      }
    }
  }
  usage_sampling = true;
  uint64_t gen = connection_generation;
  // A sample must not outlive its interval by much: the next tick waits.
  auto timeout = std::max<Duration>(interval * 2, std::chrono::seconds(1));
  self->request(containerizer, timeout, usage_atom::value, std::move(ids))
      .then(
          [this, gen, targets, interval](const ContainerUsages& usages) {
            usage_sampling = false;
            double seconds = std::chrono::duration<double>(interval).count();
            internal::SlaveUsageMessage m = usage_rates.report(records.slave_id, now_seconds(), seconds, targets, usages);
            // The master we sampled for may have gone meanwhile.
            if (gen == connection_generation && records.registered && master) {
              self->send(master, m);
            }
          },
          [this](caf::error& e) {
            usage_sampling = false;
            LOG_WARNING << "Cannot sample the executors' usage for the master: " << self->system().render(e);
          });
}

}  // namespace stoa::slave
