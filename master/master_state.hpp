#pragma once
// The master's in-memory view of the cluster: plain records, no behaviour.
// The master actor (master.cpp) mutates them; state_json.cpp renders them.
//
// Invariant: every task in a framework's `tasks` has its slave in `slaves`
// (or the slave was removed and the task moved to completed_tasks); every
// offer in `offers` is listed in its framework's and its slave's offer sets.

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "common/resources.hpp"
#include "common/task_state.hpp"
#include "master/master_tally.hpp"
#include "proto/stoa.pb.h"

namespace stoa::master {

struct SlaveRecord {
  std::string id;
  SlaveInfo info;           // with id set
  std::string pid;          // slave(1)@ip:port
  caf::actor handle;
  Resources total;
  bool active = true;       // connected and not deactivated
  double registered_time = 0;
  double reregistered_time = 0;
  std::set<std::string> offers;
  // (framework id, task id) of the tasks running here.
  std::set<std::pair<std::string, std::string>> tasks;
  // What those tasks use while not terminal (cpus/mem/disk/gpus), kept by
  // the master as they change (master_tally.cpp; invariants there).
  ScalarTally used;
  int missed_pings = 0;
  bool pong_pending = false;
  uint64_t disconnect_generation = 0;
  // Missed its pings and waits for --slave_removal_rate_limit to remove it.
  bool removal_scheduled = false;
};

// A framework's completed tasks, oldest first, each with its JSON as
// /master/state shows it (task_json(), serialized), rendered once as the task
// enters: completed tasks never change, and rendering 200k of them again
// on every /master/state was half the render's work (issue #17,
// docs/benchmarks.md). The bytes live and go with their task: every
// push_back renders, every pop_front drops both, and a completed task is
// only readable (const), so they cannot disagree.
class CompletedTasks {
 public:
  using const_iterator = std::deque<Task>::const_iterator;

  // Renders `t`'s JSON (state_json_stream.cpp), ~2 us on the caller's thread.
  void push_back(Task t);
  void pop_front() {
    tasks_.pop_front();
    json_.pop_front();
  }
  void clear() {
    tasks_.clear();
    json_.clear();
  }
  size_t size() const { return tasks_.size(); }
  bool empty() const { return tasks_.empty(); }
  const Task& front() const { return tasks_.front(); }
  const Task& back() const { return tasks_.back(); }
  const_iterator begin() const { return tasks_.begin(); }
  const_iterator end() const { return tasks_.end(); }
  // The JSON of the i-th task (0 = the oldest).
  const std::string& json(size_t i) const { return json_[i]; }
  // The tasks alone, for code that takes a deque.
  const std::deque<Task>& tasks() const { return tasks_; }
  operator const std::deque<Task>&() const { return tasks_; }  // NOLINT: reads as the deque it was

 private:
  std::deque<Task> tasks_;
  std::deque<std::string> json_;
};

struct FrameworkRecord {
  std::string id;
  FrameworkInfo info;       // with id set
  std::string pid;          // scheduler-<uuid>@ip:port
  caf::actor handle;
  std::vector<std::string> roles;
  bool active = true;
  bool connected = true;
  bool recovered = false;   // known only from a re-registering slave
  double registered_time = 0;
  double reregistered_time = 0;
  double unregistered_time = 0;
  std::map<std::string, Task> tasks;  // active tasks by id
  // Tasks of a partition-aware framework on slaves marked unreachable
  // (TASK_UNREACHABLE, resources released); back in `tasks` if their slave
  // re-registers reporting them.
  std::map<std::string, Task> unreachable_tasks;
  CompletedTasks completed_tasks;
  std::set<std::string> offers;
  uint64_t disconnect_generation = 0;
};

struct OfferRecord {
  Offer offer;
  Resources resources;
};

struct MasterState {
  MasterInfo info;
  std::string version;
  double start_time = 0;
  double elected_time = 0;
  std::map<std::string, std::string> flags;
  std::string cluster;
  std::map<std::string, SlaveRecord> slaves;
  std::map<std::string, FrameworkRecord> frameworks;
  std::deque<FrameworkRecord> completed_frameworks;
  std::map<std::string, OfferRecord> offers;
  std::map<std::string, double> weights;
  // Slaves admitted in the registry that have not re-registered with this
  // leader yet (Mesos' `slaves.recovered`), and those marked unreachable
  // (id -> when), as the registry holds them.
  std::map<std::string, SlaveInfo> recovered_slaves;
  std::map<std::string, double> unreachable_slaves;
  // Frameworks removed for good (id -> when), as the registry holds them:
  // they never subscribe again nor come back with a slave.
  std::map<std::string, double> removed_frameworks;
  // Slaves removed for good (unregistered, replaced): a message from one is
  // answered with ShutdownMessage. The newest MAX_REMOVED_SLAVES, in order.
  std::set<std::string> removed_slaves;
  std::deque<std::string> removed_slaves_order;
  // Totals kept as tasks and slaves change (master_tally.hpp): what the
  // gauges and utilization samples read instead of walking every task.
  MasterTally tally;
};

constexpr size_t MAX_REMOVED_SLAVES = 100000;

bool partition_aware(const FrameworkInfo& info);

// Resources of a slave used by tasks, and offered, computed from the records.
Resources used_resources(const MasterState& s, const SlaveRecord& slave);
// The scalars of used_resources(s, slave) (summed per name as unreserved
// entries, roles dropped), without parsing each task's resources: for the
// gauges and utilization samples that walk every slave on the master's
// thread (~50 ns a task instead of ~2 us; issue #17).
Resources used_scalars(const MasterState& s, const SlaveRecord& slave);
Resources offered_resources(const MasterState& s, const SlaveRecord& slave);
Resources used_resources(const FrameworkRecord& f);
Resources offered_resources(const MasterState& s, const FrameworkRecord& f);

// Calls fn(task) for every task `slave` lists that its framework still holds
// and that is not terminal: the tasks whose resources the slave uses.
template <class F>
void for_each_live_task(const MasterState& s, const SlaveRecord& slave, F&& fn) {
  for (const auto& [fid, tid] : slave.tasks) {
    auto f = s.frameworks.find(fid);
    if (f == s.frameworks.end()) {
      continue;
    }
    auto t = f->second.tasks.find(tid);
    if (t != f->second.tasks.end() && !is_terminal_state(t->second.state())) {
      fn(t->second);
    }
  }
}

}  // namespace stoa::master
