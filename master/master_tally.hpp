#pragma once
// Totals the master keeps up to date as tasks and slaves change (issue #17),
// so that /metrics/snapshot and the utilization samples read them in O(1)
// instead of walking every slave and task on the master's thread (that walk
// took 0.35-0.8 s at 20k slaves / 200k tasks and stalled every message).
//
// Plain values, no behaviour of their own: the Master updates them in
// master_tally.cpp at every place a task or slave record changes, and
// `check_tally` recounts them from the records (the oracle of
// master_tally_test.cpp, and of every cluster test through
// STOA_CHECK_INVARIANTS=1).
//
// Invariants (`check_tally` returns the first one broken):
//   * tasks_by_state[s] == the number of tasks in the frameworks' `tasks`
//     maps whose state is s (terminal ones wait there for their ack);
//   * for every slave S, S.used == the cpus/mem/disk/gpus of
//     used_scalars(st, S): the tasks (fid, tid) listed in S.tasks that are in
//     framework fid's `tasks` and not terminal;
//   * used == the sum of every slave's `used`, total == the sum of every
//     slave's `total` (those four scalars, summed over roles);
//   * slaves_active == the number of slaves with `active` set.

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "common/resources.hpp"
#include "proto/stoa.pb.h"

namespace stoa::master {

struct MasterState;

// cpus, mem, disk and gpus in fixed point (SCALAR_UNITS), summed over roles:
// the scalars the gauges (master/<r>_used, _total) and the utilization
// samples show.
struct ScalarTally {
  static constexpr std::array<const char*, 4> NAMES = {"cpus", "mem", "disk", "gpus"};
  std::array<int64_t, 4> units{};

  void add(const ScalarTally& that);
  void subtract(const ScalarTally& that);
  // The value of `name` (one of NAMES; any other name is 0).
  double get(std::string_view name) const;
  bool operator==(const ScalarTally&) const = default;
  // "cpus:1.5;mem:64;disk:0;gpus:0".
  std::string to_string() const;
};

// The four scalars of `r`, summed over roles.
ScalarTally scalar_tally(const Resources& r);
// The four scalars of a task's resources, counted as used_scalars() counts
// them: a task with any invalid scalar (negative, not finite, unnamed,
// missing value) counts nothing.
ScalarTally task_scalar_tally(const Task& t);

struct MasterTally {
  std::array<int64_t, TaskState_ARRAYSIZE> tasks_by_state{};
  ScalarTally used;
  ScalarTally total;
  int64_t slaves_active = 0;

  int64_t tasks_in(TaskState s) const { return tasks_by_state[static_cast<size_t>(s)]; }
  bool operator==(const MasterTally&) const = default;
};

// Recounts every total of `st.tally` (and every slave's `used`) from the
// records, O(slaves + tasks). Returns a sentence naming the first total
// that differs, with both values, or nullopt when all agree.
std::optional<std::string> check_tally(const MasterState& st);

}  // namespace stoa::master
