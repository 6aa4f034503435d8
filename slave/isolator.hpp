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

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/resources.hpp"
#include "common/try.hpp"

namespace stoa::slave {

// A container's usage and limits (the fields of Mesos' ResourceStatistics
// that Stoa fills). Each isolator sets the fields of its resource; unset
// fields are left out of /monitor/statistics.
struct ResourceStatistics {
  double timestamp = 0;  // seconds since the epoch, when sampled
  std::optional<double> cpus_user_time_secs;
  std::optional<double> cpus_system_time_secs;
  std::optional<double> cpus_limit;
  std::optional<uint64_t> mem_rss_bytes;
  std::optional<uint64_t> mem_limit_bytes;
  std::optional<int64_t> processes;
};

// Every step but name() and usage() defaults to "nothing to do" (as in
// Mesos, where an isolator overrides only what it enforces).
class Isolator {
 public:
  virtual ~Isolator() = default;

  // The --isolation name, e.g. "posix/cpu".
  virtual std::string name() const = 0;

  // Before the container's first process starts (its sandbox exists).
  // An error aborts the launch.
  virtual std::optional<Error> prepare(const std::string& /*container_id*/, const Resources& /*resources*/) {
    return std::nullopt;
  }

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

  // The container is gone (every process dead): release what prepare and
  // isolate took.
  virtual std::optional<Error> cleanup(const std::string& /*container_id*/) {
    return std::nullopt;
  }
};

using Isolators = std::vector<std::shared_ptr<Isolator>>;

// The table: every isolator this build has, by --isolation name.
struct IsolatorEntry {
  const char* name;
  std::function<std::unique_ptr<Isolator>()> create;
};
const std::vector<IsolatorEntry>& isolator_table();

// Splits a --isolation value ("posix/cpu,posix/mem") and checks each name
// against the table. Error: "isolator 'x' is not supported yet (supported:
// posix/cpu, posix/mem)", naming the first unknown (or empty) name.
Try<std::vector<std::string>> parse_isolation(const std::string& flag);

// Builds the isolators a valid --isolation value names, in its order.
// Error as parse_isolation.
Try<Isolators> create_isolators(const std::string& flag);

// Defined in their own files, listed in the table.
std::unique_ptr<Isolator> create_posix_cpu_isolator();
std::unique_ptr<Isolator> create_posix_mem_isolator();

}  // namespace stoa::slave
