#pragma once
// Isolators (Mesos' `Isolator`): each confines or measures one resource of a
// container. `--isolation` names which ones a slave uses; the names come
// from one table (isolator_table.cpp), which the flag check consults too.
//
// Adding an isolator = one file `<resource>_isolator.cpp` defining the class
// and its factory, one line in the table, one `_test.cpp`.
//
// Threading: the containerizer calls an isolator from its worker actors
// (never from an actor's scheduler thread), and may call it for different
// containers at the same time: an isolator with state guards it itself.
// Every method may block (it reads /proc, writes cgroups, ...).
//
// Call order for one container (docs/isolation.md): prepare (launch worker)
// -> the first process joins cgroups() in the child, before exec -> isolate
// -> usage (usage workers) and limitation (the watcher, polled) while it
// runs -> kill (the cleaner, or the containerizer's destroy) -> cleanup
// (the cleaner, once every process is dead). recover runs once, when the
// containerizer starts, before any launch.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/flags.hpp"
#include "common/resources.hpp"
#include "common/try.hpp"
#include "proto/stoa.pb.h"

namespace stoa::slave {

// A container's usage and limits (the fields of Mesos' ResourceStatistics
// that Stoa fills). Each isolator sets the fields of its resource; unset
// fields are left out of /monitor/statistics.
struct ResourceStatistics {
  double timestamp = 0;  // seconds since the epoch, when sampled
  std::optional<double> cpus_user_time_secs;
  std::optional<double> cpus_system_time_secs;
  std::optional<double> cpus_limit;
  std::optional<uint64_t> cpus_nr_periods;   // cgroups/cpu with CFS: cpu.stat
  std::optional<uint64_t> cpus_nr_throttled;
  std::optional<double> cpus_throttled_time_secs;
  std::optional<uint64_t> mem_total_bytes;   // cgroups/mem: memory.usage_in_bytes
  std::optional<uint64_t> mem_rss_bytes;
  std::optional<uint64_t> mem_cache_bytes;
  std::optional<uint64_t> mem_limit_bytes;
  std::optional<uint64_t> mem_soft_limit_bytes;
  std::optional<uint64_t> disk_limit_bytes;  // disk/du
  std::optional<uint64_t> disk_used_bytes;
  std::optional<int64_t> processes;
  std::optional<int64_t> threads;
};

// Why an isolator wants its container gone (Mesos' ContainerLimitation):
// the reason of the TASK_FAILED its unfinished tasks get, and the message.
struct ContainerLimitation {
  TaskStatus::Reason reason = TaskStatus::REASON_CONTAINER_LIMITATION;
  std::string message;  // e.g. "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB"
};

// What an isolator knows of a container before it starts.
struct ContainerSpec {
  std::string directory;  // the sandbox (exists)
  Resources resources;
};

// A container a restarted slave takes back (recover()).
struct RecoveredContainer {
  std::string container_id;
  std::string directory;
  Resources resources;
};

// The slave's flags an isolator reads (slave_flags.hpp has their help).
struct IsolatorOptions {
  std::string cgroups_hierarchy = "/sys/fs/cgroup";
  std::string cgroups_root = "stoa";
  bool cgroups_enable_cfs = false;
  int cgroups_pids_limit = 0;  // 0: no limit
  bool enforce_container_disk_quota = false;
  Duration container_disk_watch_interval = std::chrono::seconds(15);
};

// Every step but name() and usage() defaults to "nothing to do" (as in
// Mesos, where an isolator overrides only what it enforces).
class Isolator {
 public:
  virtual ~Isolator() = default;

  // The --isolation name, e.g. "posix/cpu".
  virtual std::string name() const = 0;

  // Once, when the containerizer starts, before any launch: takes back the
  // containers a restarted slave adopts (`containers`, still running) and
  // destroys what it holds of any other container (an orphan cgroup under
  // --cgroups_root: its processes are killed and the cgroup removed).
  virtual std::optional<Error> recover(const std::vector<RecoveredContainer>& /*containers*/) {
    return std::nullopt;
  }

  // Before the container's first process starts (its sandbox exists).
  // An error aborts the launch.
  virtual std::optional<Error> prepare(const std::string& /*container_id*/, const ContainerSpec& /*spec*/) {
    return std::nullopt;
  }

  // The cgroup directories the container's first process joins in the
  // child, before it execs (so nothing it starts escapes them).
  virtual std::vector<std::string> cgroups(const std::string& /*container_id*/) const { return {}; }

  // Once the container's first process `pid` runs (it leads the container's
  // session). An error aborts the launch; the process is killed.
  virtual std::optional<Error> isolate(const std::string& /*container_id*/, pid_t /*pid*/) {
    return std::nullopt;
  }

  // The container's resources changed.
  virtual std::optional<Error> update(const std::string& /*container_id*/, const Resources& /*resources*/) {
    return std::nullopt;
  }

  // Adds this isolator's figures for the container led by `pid` (whose
  // resources are `resources`) to `stats`.
  virtual std::optional<Error> usage(const std::string& container_id, pid_t pid, const Resources& resources,
                                     ResourceStatistics* stats) = 0;

  // Mesos' watch, polled: whether the container went past a limit this
  // isolator enforces (then the containerizer destroys it and the slave
  // fails its tasks with the limitation's reason and message). Called by
  // the containerizer's watcher thread every few hundred milliseconds while
  // the container runs, when watches() is true.
  virtual bool watches() const { return false; }
  virtual std::optional<ContainerLimitation> limitation(const std::string& /*container_id*/) {
    return std::nullopt;
  }

  // Kills every process of the container, if this isolator can find them
  // all (the freezer): returns true once none is left, false when it
  // cannot (then the containerizer walks /proc).
  virtual bool kill(const std::string& /*container_id*/) { return false; }

  // The container is gone (every process dead): release what prepare and
  // isolate took. A cgroup already gone is no error.
  virtual std::optional<Error> cleanup(const std::string& /*container_id*/) {
    return std::nullopt;
  }
};

using Isolators = std::vector<std::shared_ptr<Isolator>>;

// The table: every isolator this build has, by --isolation name.
struct IsolatorEntry {
  const char* name;
  std::function<std::unique_ptr<Isolator>(const IsolatorOptions&)> create;
  // The cgroups v1 controllers it needs, comma-separated ("" for none).
  const char* controllers = "";
};
const std::vector<IsolatorEntry>& isolator_table();

// Splits a --isolation value ("posix/cpu,posix/mem") and checks each name
// against the table. Error: "isolator 'x' is not supported yet (supported:
// posix/cpu, posix/mem)", naming the first unknown (or empty) name.
Try<std::vector<std::string>> parse_isolation(const std::string& flag);

// Builds the isolators a valid --isolation value names, in its order; a
// cgroups/* name adds the freezer (cgroups_isolators.cpp) in front, through
// which a container is killed. Error as parse_isolation, or (check_controllers)
// when a cgroups/* isolator cannot work on this machine.
Try<Isolators> create_isolators(const std::string& flag, const IsolatorOptions& options = {});

// For each cgroups/* name: we are root, and its v1 controllers (and the
// freezer) are mounted under options.cgroups_hierarchy. The error names the
// isolator, the controller and the hierarchy, and says when the machine has
// only the cgroup v2 (unified) hierarchy, which is not supported.
std::optional<Error> check_controllers(const std::vector<std::string>& names, const IsolatorOptions& options);

// Defined in their own files, listed in the table.
std::unique_ptr<Isolator> create_posix_cpu_isolator(const IsolatorOptions& options);
std::unique_ptr<Isolator> create_posix_mem_isolator(const IsolatorOptions& options);
std::unique_ptr<Isolator> create_cgroups_cpu_isolator(const IsolatorOptions& options);
std::unique_ptr<Isolator> create_cgroups_mem_isolator(const IsolatorOptions& options);
std::unique_ptr<Isolator> create_cgroups_pids_isolator(const IsolatorOptions& options);
std::unique_ptr<Isolator> create_cgroups_freezer_isolator(const IsolatorOptions& options);
std::unique_ptr<Isolator> create_disk_du_isolator(const IsolatorOptions& options);

// The bytes the files under `dir` use on disk, each inode once, not crossing
// mounts or following symlinks (disk/du's measure; 0 when it is missing).
uint64_t directory_bytes(const std::string& dir);

}  // namespace stoa::slave
