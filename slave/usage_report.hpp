#pragma once
// Usage reports (docs/utilization.md): every --usage_report_interval the
// slave samples each running executor's container through the
// containerizer's `usage` (the isolators that serve /monitor/statistics:
// posix/cpu and posix/mem walk the executor's process tree, disk/du measures
// the sandbox) and sends the master a SlaveUsageMessage. The slave actor's
// timer and sending are in usage_report.cpp (Slave members); the arithmetic
// is this pure class, unit-tested in usage_report_test.cpp.

#include <map>
#include <string>
#include <vector>

#include "proto/messages.pb.h"
#include "slave/isolator.hpp"

namespace stoa::slave {

// A running executor and its container.
struct UsageTarget {
  std::string framework_id;
  std::string executor_id;
  std::string container_id;
};

// Turns samples of containers into reports. CPU use is a rate: the CPU time
// (user + system) a container's processes used between its previous sample
// and this one, divided by the time between the two samples' timestamps.
// Not thread-safe: owned by the slave actor.
class UsageRates {
 public:
  // The report of slave `slave_id` for `executors`, from `usages` (the
  // containerizer's samples by container id; an executor without one is
  // left out). Remembers each sampled container's CPU time for the next
  // call and forgets containers no longer sampled. An executor's first
  // sample has no `cpus_used` (nothing to compare with) and adds 0 to the
  // total; a CPU time that went down (a process of the tree exited and took
  // its time along) counts as 0. `disk_used_bytes` is set, in the entries
  // and the totals, only where the disk/du isolator measured it.
  internal::SlaveUsageMessage report(const std::string& slave_id, double now, double interval_seconds,
                                     const std::vector<UsageTarget>& executors,
                                     const std::map<std::string, ResourceStatistics>& usages);

  // Containers with a remembered sample.
  size_t remembered() const { return previous_.size(); }

 private:
  struct Previous {
    double timestamp = 0;
    double cpu_secs = 0;
  };
  std::map<std::string, Previous> previous_;  // by container id
};

}  // namespace stoa::slave
