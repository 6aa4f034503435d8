// The cgroups v1 isolators (docs/isolation.md): cgroups/cpu, cgroups/mem,
// cgroups/pids, and the freezer every cgroups/* isolation adds in front of
// them. Each puts a container in <hierarchy>/<controller>/<root>/<id> of its
// controllers (the first process joins before it execs: cgroups()), writes
// the limits there, reads its usage there and removes it at cleanup.

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <set>

#include "common/logging.hpp"
#include "slave/cgroups.hpp"
#include "slave/isolator.hpp"

namespace stoa::slave {

namespace {

constexpr uint64_t MB = 1024 * 1024;
constexpr uint64_t CPU_SHARES_PER_CPU = 1024;
constexpr uint64_t MIN_CPU_SHARES = 2;
constexpr uint64_t CFS_PERIOD_US = 100000;  // 100 ms
constexpr uint64_t MIN_CFS_QUOTA_US = 1000;
constexpr uint64_t MIN_MEMORY_BYTES = 32 * MB;

std::string megabytes(uint64_t bytes) { return std::to_string(bytes / MB) + "MB"; }

// What every cgroups isolator shares: its controllers' cgroups of a
// container, created at prepare, removed at cleanup, orphans removed at
// recover. The subclasses write limits and read usage.
class CgroupsIsolator : public Isolator {
 public:
  CgroupsIsolator(IsolatorOptions options, std::vector<std::string> controllers)
      : options_(std::move(options)), controllers_(std::move(controllers)) {}

  std::optional<Error> recover(const std::vector<RecoveredContainer>& containers) override {
    std::set<std::string> known;
    for (const RecoveredContainer& c : containers) {
      known.insert(c.container_id);
    }
    for (const std::string& controller : controllers_) {
      for (const std::string& id : cgroups::children(root(controller))) {
        if (known.count(id) != 0) {
          continue;
        }
        LOG_INFO << "Removing the orphan cgroup " << root(controller) << "/" << id
                 << " (no checkpointed container owns it)";
        if (controller == "freezer") {
          if (std::optional<Error> error = cgroups::kill_all(dir(controller, id))) {
            return error;
          }
        }
        if (std::optional<Error> error = cgroups::remove(dir(controller, id))) {
          return error;
        }
      }
    }
    return std::nullopt;
  }

  std::optional<Error> prepare(const std::string& cid, const ContainerSpec& spec) override {
    for (const std::string& controller : controllers_) {
      if (std::optional<Error> error = cgroups::create(dir(controller, cid))) {
        return error;
      }
    }
    return set_limits(cid, spec.resources);
  }

  std::vector<std::string> cgroups(const std::string& cid) const override {
    std::vector<std::string> dirs;
    for (const std::string& controller : controllers_) {
      dirs.push_back(dir(controller, cid));
    }
    return dirs;
  }

  std::optional<Error> update(const std::string& cid, const Resources& resources) override {
    return set_limits(cid, resources);
  }

  std::optional<Error> cleanup(const std::string& cid) override {
    std::optional<Error> first;
    for (const std::string& controller : controllers_) {
      std::optional<Error> error = cgroups::remove(dir(controller, cid));
      if (error && !first) {
        first = error;
      }
    }
    return first;
  }

 protected:
  virtual std::optional<Error> set_limits(const std::string& cid, const Resources& resources) = 0;

  std::string root(const std::string& controller) const {
    return cgroups::path(options_.cgroups_hierarchy, controller, options_.cgroups_root);
  }
  std::string dir(const std::string& controller, const std::string& cid) const {
    return cgroups::path(options_.cgroups_hierarchy, controller, options_.cgroups_root, cid);
  }

  IsolatorOptions options_;
  std::vector<std::string> controllers_;
};

// cgroups/cpu: cpu.shares = 1024 per cpu (at least 2); with
// --cgroups_enable_cfs also a quota of cpus x 100 ms per 100 ms. Usage from
// cpuacct (user and system time) and cpu.stat (throttling).
class CgroupsCpuIsolator : public CgroupsIsolator {
 public:
  explicit CgroupsCpuIsolator(const IsolatorOptions& options)
      : CgroupsIsolator(options, controllers_of(options)) {}

  std::string name() const override { return "cgroups/cpu"; }

  std::optional<Error> usage(const std::string& cid, pid_t, const Resources& resources,
                             ResourceStatistics* stats) override {
    static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    Try<std::map<std::string, uint64_t>> acct = cgroups::read_stat(dir("cpuacct", cid), "cpuacct.stat");
    if (acct.is_error()) {
      return Error(acct.error());
    }
    stats->cpus_user_time_secs = static_cast<double>((*acct)["user"]) / ticks;
    stats->cpus_system_time_secs = static_cast<double>((*acct)["system"]) / ticks;
    stats->cpus_limit = resources.scalar("cpus");
    Try<std::map<std::string, uint64_t>> cpu = cgroups::read_stat(dir("cpu", cid), "cpu.stat");
    if (cpu.is_some()) {
      stats->cpus_nr_periods = (*cpu)["nr_periods"];
      stats->cpus_nr_throttled = (*cpu)["nr_throttled"];
      stats->cpus_throttled_time_secs = static_cast<double>((*cpu)["throttled_time"]) / 1e9;
    }
    return std::nullopt;
  }

 private:
  static std::vector<std::string> controllers_of(const IsolatorOptions& options) {
    // cpu and cpuacct are often one mount (cpu,cpuacct): one cgroup then.
    if (!cgroups::check_mounted(options.cgroups_hierarchy, "cpu") &&
        cgroups::check_mounted(options.cgroups_hierarchy, "cpuacct")) {
      return {"cpu"};
    }
    return {"cpu", "cpuacct"};
  }

  std::optional<Error> set_limits(const std::string& cid, const Resources& resources) override {
    const double cpus = resources.scalar("cpus");
    uint64_t shares = std::max(MIN_CPU_SHARES, static_cast<uint64_t>(CPU_SHARES_PER_CPU * cpus));
    if (std::optional<Error> error = cgroups::write(dir("cpu", cid), "cpu.shares", std::to_string(shares))) {
      return error;
    }
    if (options_.cgroups_enable_cfs) {
      uint64_t quota = std::max(MIN_CFS_QUOTA_US, static_cast<uint64_t>(std::llround(cpus * CFS_PERIOD_US)));
      if (std::optional<Error> error =
              cgroups::write(dir("cpu", cid), "cpu.cfs_period_us", std::to_string(CFS_PERIOD_US))) {
        return error;
      }
      return cgroups::write(dir("cpu", cid), "cpu.cfs_quota_us", std::to_string(quota));
    }
    return std::nullopt;
  }

  std::string dir(const std::string& controller, const std::string& cid) const {
    return CgroupsIsolator::dir(controllers_.size() == 1 ? "cpu" : controller, cid);
  }
};

// cgroups/mem: memory.limit_in_bytes (and memsw, so swap is no way out) =
// mem, at least 32 MB, soft limit the same. The kernel's OOM killer is
// disabled in the cgroup (memory.oom_control): a container at its limit
// stops until the watcher sees under_oom and the containerizer destroys it,
// so the slave, not a race with the executor, decides what its tasks saw.
class CgroupsMemIsolator : public CgroupsIsolator {
 public:
  explicit CgroupsMemIsolator(const IsolatorOptions& options) : CgroupsIsolator(options, {"memory"}) {}

  std::string name() const override { return "cgroups/mem"; }

  std::optional<Error> usage(const std::string& cid, pid_t, const Resources&,
                             ResourceStatistics* stats) override {
    const std::string d = dir("memory", cid);
    Try<std::map<std::string, uint64_t>> stat = cgroups::read_stat(d, "memory.stat");
    if (stat.is_error()) {
      return Error(stat.error());
    }
    stats->mem_rss_bytes = (*stat)["total_rss"];
    stats->mem_cache_bytes = (*stat)["total_cache"];
    if (Try<uint64_t> total = cgroups::read_number(d, "memory.usage_in_bytes"); total.is_some()) {
      stats->mem_total_bytes = *total;
    }
    if (Try<uint64_t> limit = cgroups::read_number(d, "memory.limit_in_bytes"); limit.is_some()) {
      stats->mem_limit_bytes = *limit;
    }
    if (Try<uint64_t> soft = cgroups::read_number(d, "memory.soft_limit_in_bytes"); soft.is_some()) {
      stats->mem_soft_limit_bytes = *soft;
    }
    return std::nullopt;
  }

  bool watches() const override { return true; }

  std::optional<ContainerLimitation> limitation(const std::string& cid) override {
    const std::string d = dir("memory", cid);
    Try<std::map<std::string, uint64_t>> oom = cgroups::read_stat(d, "memory.oom_control");
    if (oom.is_error() || (*oom)["under_oom"] == 0) {
      return std::nullopt;
    }
    Try<uint64_t> limit = cgroups::read_number(d, "memory.limit_in_bytes");
    Try<uint64_t> max_used = cgroups::read_number(d, "memory.max_usage_in_bytes");
    Try<std::map<std::string, uint64_t>> stat = cgroups::read_stat(d, "memory.stat");
    std::string message = "Memory limit exceeded: Requested: " + (limit ? megabytes(*limit) : "?") +
                          " Maximum Used: " + (max_used ? megabytes(*max_used) : "?");
    if (stat.is_some()) {
      message += " (rss " + megabytes((*stat)["total_rss"]) + ", cache " + megabytes((*stat)["total_cache"]) + ")";
    }
    return ContainerLimitation{TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY, message};
  }

 private:
  std::optional<Error> set_limits(const std::string& cid, const Resources& resources) override {
    const std::string d = dir("memory", cid);
    uint64_t bytes = std::max(MIN_MEMORY_BYTES, static_cast<uint64_t>(resources.scalar("mem") * MB));
    const std::string value = std::to_string(bytes);
    // memsw >= limit at all times: raise memsw first when growing, the
    // limit first when shrinking. No memsw file: the kernel has no swap
    // accounting, and the limit alone holds.
    Try<uint64_t> current = cgroups::read_number(d, "memory.limit_in_bytes");
    const bool growing = current.is_some() && bytes > *current;
    const bool has_memsw = cgroups::read(d, "memory.memsw.limit_in_bytes").is_some();
    if (growing && has_memsw) {
      if (auto error = cgroups::write(d, "memory.memsw.limit_in_bytes", value)) {
        return error;
      }
    }
    if (auto error = cgroups::write(d, "memory.limit_in_bytes", value)) {
      return error;
    }
    if (!growing && has_memsw) {
      if (auto error = cgroups::write(d, "memory.memsw.limit_in_bytes", value)) {
        return error;
      }
    }
    if (auto error = cgroups::write(d, "memory.soft_limit_in_bytes", value)) {
      return error;
    }
    return cgroups::write(d, "memory.oom_control", "1");
  }
};

// cgroups/pids: pids.max = --cgroups_pids_limit (none when 0); usage from
// cgroup.procs and tasks.
class CgroupsPidsIsolator : public CgroupsIsolator {
 public:
  explicit CgroupsPidsIsolator(const IsolatorOptions& options) : CgroupsIsolator(options, {"pids"}) {}

  std::string name() const override { return "cgroups/pids"; }

  std::optional<Error> usage(const std::string& cid, pid_t, const Resources&,
                             ResourceStatistics* stats) override {
    Try<std::vector<pid_t>> procs = cgroups::processes(dir("pids", cid));
    if (procs.is_error()) {
      return Error(procs.error());
    }
    stats->processes = static_cast<int64_t>(procs->size());
    if (Try<std::vector<pid_t>> threads = cgroups::processes(dir("pids", cid), "tasks"); threads.is_some()) {
      stats->threads = static_cast<int64_t>(threads->size());
    }
    return std::nullopt;
  }

 private:
  std::optional<Error> set_limits(const std::string& cid, const Resources&) override {
    const int limit = options_.cgroups_pids_limit;
    return cgroups::write(dir("pids", cid), "pids.max", limit > 0 ? std::to_string(limit) : "max");
  }
};

// The freezer: not named in --isolation (Mesos' Linux launcher does this);
// every cgroups/* isolation has it in front, and the containerizer kills a
// container through it (kill()): freeze, SIGKILL all, thaw, until empty.
class CgroupsFreezerIsolator : public CgroupsIsolator {
 public:
  explicit CgroupsFreezerIsolator(const IsolatorOptions& options) : CgroupsIsolator(options, {"freezer"}) {}

  std::string name() const override { return "cgroups/freezer"; }

  std::optional<Error> usage(const std::string&, pid_t, const Resources&, ResourceStatistics*) override {
    return std::nullopt;
  }

  bool kill(const std::string& cid) override {
    if (std::optional<Error> error = cgroups::kill_all(dir("freezer", cid))) {
      LOG_WARNING << "Cannot kill container " << cid << " through its freezer: " << error->message;
      return false;
    }
    return true;
  }

  std::optional<Error> cleanup(const std::string& cid) override {
    kill(cid);
    return CgroupsIsolator::cleanup(cid);
  }

 private:
  std::optional<Error> set_limits(const std::string&, const Resources&) override { return std::nullopt; }
};

}  // namespace

std::unique_ptr<Isolator> create_cgroups_cpu_isolator(const IsolatorOptions& options) {
  return std::make_unique<CgroupsCpuIsolator>(options);
}

std::unique_ptr<Isolator> create_cgroups_mem_isolator(const IsolatorOptions& options) {
  return std::make_unique<CgroupsMemIsolator>(options);
}

std::unique_ptr<Isolator> create_cgroups_pids_isolator(const IsolatorOptions& options) {
  return std::make_unique<CgroupsPidsIsolator>(options);
}

std::unique_ptr<Isolator> create_cgroups_freezer_isolator(const IsolatorOptions& options) {
  return std::make_unique<CgroupsFreezerIsolator>(options);
}

}  // namespace stoa::slave
