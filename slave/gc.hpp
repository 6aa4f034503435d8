#pragma once
// The slave's garbage collector (Mesos' GarbageCollector): directories
// scheduled for removal after a delay, removed (rm -r) by a detached worker
// so the actor itself never touches the disk.
//
// Requests (local; the slave is the only client):
//   (gc_schedule_atom, Duration delay, path) -> bool
//       Removes `path` once `delay` has passed on the actor clock (virtual
//       time in tests). The reply comes when the schedule ends: true once
//       the path is removed (or was already gone), false when it was
//       unscheduled, scheduled again (the newer schedule replaces it), the
//       removal failed, or the collector stopped. Scheduling a path again
//       restarts its delay.
//   (gc_unschedule_atom, path) -> bool
//       true when a pending schedule was cancelled. When the path (or a
//       parent or child of it) is being removed right now, the reply waits
//       until that removal is over (then false), so whoever reuses the path
//       next (a new launch) never races with rm -r.
//   (gc_prune_atom, Duration max_age) -> uint64_t
//       Removes now every path scheduled at least `max_age` ago; returns
//       how many.
//   (state_atom, endpoint, query) -> (int, std::string)
//       /slave(1)/gc: {"gc_delay_secs", "max_age_secs", "disk_usage",
//       "scheduled": [{"path", "scheduled_at", "removal_time",
//       "remaining_secs"}], "removing": [paths]} (times in seconds since the
//       epoch).
//
// Disk pressure (Mesos' --gc_disk_headroom): while anything is scheduled
// (an idle collector keeps no timer), every --disk_watch_interval the
// worker measures the work_dir's file system (statvfs) and the collector
// prunes what is older than
//   max_age = gc_delay * max(0, 1 - gc_disk_headroom - disk usage)
// so a filling disk shortens every delay, down to the next check when the
// disk is fuller than 1 - headroom.
//
// Metrics (Mesos' names): gc/path_removals_succeeded,
// gc/path_removals_failed (counters), gc/path_removals_pending (gauge:
// scheduled + being removed).

#include <chrono>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "common/flags.hpp"

namespace stoa::metrics {
class Registry;
}

namespace stoa::slave {

using gc_schedule_atom = caf::atom_constant<caf::atom("gc_sched")>;
using gc_unschedule_atom = caf::atom_constant<caf::atom("gc_unsched")>;
using gc_prune_atom = caf::atom_constant<caf::atom("gc_prune")>;
// The worker's protocol (a test double implements it):
//   (gc_remove_atom, std::vector<std::string> paths) -> std::vector<std::string>
//       rm -r of each path, in order; per path "" or the error (a path
//       already gone is no error);
//   (gc_usage_atom, std::string dir) -> double: the used share (0..1) of
//       the file system holding `dir`, or an error.
using gc_remove_atom = caf::atom_constant<caf::atom("gc_remove")>;
using gc_usage_atom = caf::atom_constant<caf::atom("gc_usage")>;

struct GcOptions {
  Duration gc_delay = std::chrono::hours(24 * 7);
  double disk_headroom = 0.1;
  Duration disk_watch_interval = std::chrono::minutes(1);
  std::string work_dir;  // whose file system is watched
  // The process registry (Runtime::metrics()); null = none.
  metrics::Registry* metrics = nullptr;
  // Tests: a worker double. Empty: a detached worker linked to the collector.
  caf::actor worker;
};

// max(0, 1 - headroom - usage) * gc_delay, the age beyond which a
// scheduled path goes at once.
Duration max_gc_age(Duration gc_delay, double headroom, double usage);

// The used share of the file system holding `dir` (statvfs: 1 - available
// to unprivileged users / total). Blocking; Error names the path.
Try<double> disk_usage(const std::string& dir);

// Spawns the collector (event-based; its timers use the actor clock). It
// stops with an exit message; its worker stops with it.
caf::actor spawn_gc(caf::actor_system& sys, GcOptions opts);

// The detached worker (removal and disk usage), for production use.
caf::actor spawn_gc_worker(caf::actor_system& sys);

}  // namespace stoa::slave
