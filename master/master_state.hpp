#pragma once
// The master's in-memory view of the cluster: plain records, no behaviour.
// The master actor (master.cpp) mutates them; state_json.cpp renders them.
//
// Invariant: every task in a framework's `tasks` has its slave in `slaves`
// (or the slave was removed and the task moved to completed_tasks); every
// offer in `offers` is listed in its framework's and its slave's offer sets.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include <caf/actor.hpp>

#include "common/resources.hpp"
#include "common/task_state.hpp"
#include "master/master_tally.hpp"
#include "proto/stoa.pb.h"

namespace stoa::master {

// A piece of a view's JSON (a task, a slave), rendered once and shared,
// unchanged, by every render that holds it (state_rope.hpp; issue #17).
using Fragment = std::shared_ptr<const std::string>;

// A std::map<std::string, V> whose records each keep their rendered JSON
// (a Fragment, null when stale) and whose only mutable accesses drop it:
// the const interface reads like the map (`it->first`, `it->second`,
// `for (const auto& [id, v] : m)`), and a record is changed through
// edit(), insert_or_assign(), extract() or erase(), so that a change that
// would leave a stale fragment behind cannot compile. `Touched` is told
// of every record changed, before and after (TaskMap: which slaves' JSON
// those tasks change).
// A run of consecutive records of a RenderedMap that a render joined into
// one piece (state_rope.cpp): marked stale by a change to one of them and
// by a record inserted next to them.
struct FragmentGroup {
  bool stale = false;
};

// The renderer's runs of a record container (state_rope.cpp), held beside
// it: a copy of the container starts without them (the renderer makes its
// own), so that the container's copies stay the compiler's.
class RendererRuns {
 public:
  RendererRuns() = default;
  RendererRuns(const RendererRuns&) {}
  RendererRuns& operator=(const RendererRuns&) {
    runs_.reset();
    return *this;
  }
  RendererRuns(RendererRuns&&) = default;
  RendererRuns& operator=(RendererRuns&&) = default;

  std::shared_ptr<void>& get() const { return runs_; }

 private:
  mutable std::shared_ptr<void> runs_;
};

// The keys of a node-based map (std::map<std::string, ...>) to their nodes,
// by hash, in one flat array probed linearly: a lookup reads one slot (its
// hash and the node) and the node it finds, which the caller reads anyway,
// where the tree compared ~log2(n) keys, a node each — 20,000 tasks: 15
// string compares, most of them cache misses; slave ids share their first
// 38 bytes — a sixth of the master's CPU per status update (#17). (An
// std::unordered_map beside the tree did not help: a bucket, the node
// before, the node and the key are four misses.) At most half full.
template <class It>
class KeyIndex {
 public:
  std::optional<It> find(std::string_view key) const {
    if (size_ == 0) {
      return std::nullopt;
    }
    const Slot& slot = slots_[probe(key)];
    return slot.hash != 0 ? std::optional<It>(slot.node) : std::nullopt;
  }
  // REQUIRES: the key of `node` is not indexed.
  void insert(It node) {
    if (2 * (size_ + 1) > slots_.size()) {
      grow();
    }
    place(hash(node->first), node);
    ++size_;
  }
  // Removes the key's entry, if any.
  void erase(std::string_view key) {
    if (size_ == 0) {
      return;
    }
    size_t i = probe(key);
    if (slots_[i].hash == 0) {
      return;
    }
    // Backward shift: each later entry of the run that may move into the
    // hole (its home is not in (hole, its slot]) does, until an empty slot.
    for (size_t j = (i + 1) & mask(); slots_[j].hash != 0; j = (j + 1) & mask()) {
      const size_t home = slots_[j].hash & mask();
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays) {
        slots_[i] = slots_[j];
        i = j;
      }
    }
    slots_[i] = Slot{};
    --size_;
  }
  void clear() {
    slots_.clear();
    size_ = 0;
  }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: empty (a key's hash is odd)
    It node{};
  };
  static uint64_t hash(std::string_view key) { return std::hash<std::string_view>{}(key) | 1; }
  size_t mask() const { return slots_.size() - 1; }
  // The key's slot, or the empty slot that ends its run (REQUIRES: size_ > 0).
  size_t probe(std::string_view key) const {
    const uint64_t h = hash(key);
    size_t i = h & mask();
    while (slots_[i].hash != 0 && !(slots_[i].hash == h && slots_[i].node->first == key)) {
      i = (i + 1) & mask();
    }
    return i;
  }
  void place(uint64_t h, It node) {
    size_t i = h & mask();
    while (slots_[i].hash != 0) {
      i = (i + 1) & mask();
    }
    slots_[i] = Slot{h, node};
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(16, 2 * old.size()), Slot{});
    for (const Slot& slot : old) {
      if (slot.hash != 0) {
        place(slot.hash, slot.node);
      }
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

template <class V, class Touched>
class RenderedMap {
 public:
  struct Slot {
    V value;
    // The record's JSON, null until rendered and after every change.
    mutable Fragment json;
    // What the renderer keeps beside it (state_rope.cpp), dropped with it.
    mutable std::shared_ptr<const void> extra;
    // The run it was joined into, told of every change.
    mutable std::shared_ptr<FragmentGroup> group;
  };
  using Base = std::map<std::string, Slot>;
  using value_type = std::pair<const std::string&, const V&>;

  RenderedMap() = default;
  // A copy's index points into its own map.
  RenderedMap(const RenderedMap& o) : map_(o.map_), touched_(o.touched_), groups_(o.groups_) { reindex(); }
  RenderedMap& operator=(const RenderedMap& o) {
    if (this != &o) {
      map_ = o.map_;
      touched_ = o.touched_;
      groups_ = o.groups_;
      reindex();
    }
    return *this;
  }
  // A moved map keeps its nodes, so the index stays true.
  RenderedMap(RenderedMap&& o) noexcept
      : map_(std::move(o.map_)), index_(std::move(o.index_)), touched_(std::move(o.touched_)),
        groups_(std::move(o.groups_)) {
    o.index_.clear();
  }
  RenderedMap& operator=(RenderedMap&& o) noexcept {
    if (this != &o) {
      map_ = std::move(o.map_);
      index_ = std::move(o.index_);
      touched_ = std::move(o.touched_);
      groups_ = std::move(o.groups_);
      o.map_.clear();
      o.index_.clear();
    }
    return *this;
  }

  class const_iterator {
   public:
    using iterator_category = std::bidirectional_iterator_tag;
    using value_type = RenderedMap::value_type;
    using difference_type = std::ptrdiff_t;
    using reference = value_type;
    struct pointer {
      value_type v;
      const value_type* operator->() const { return &v; }
    };
    const_iterator() = default;
    explicit const_iterator(typename Base::const_iterator it) : it_(it) {}
    reference operator*() const { return {it_->first, it_->second.value}; }
    pointer operator->() const { return pointer{**this}; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) { return const_iterator(it_++); }
    const_iterator& operator--() {
      --it_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return it_ == o.it_; }
    bool operator!=(const const_iterator& o) const { return it_ != o.it_; }
    // The record's slot: its fragment, for the renderer.
    const Slot& slot() const { return it_->second; }
    typename Base::const_iterator base() const { return it_; }

   private:
    typename Base::const_iterator it_;
  };
  using iterator = const_iterator;

  const_iterator begin() const { return const_iterator(map_.begin()); }
  const_iterator end() const { return const_iterator(map_.end()); }
  // By the index (KeyIndex).
  const_iterator find(const std::string& key) const {
    std::optional<typename Base::iterator> node = index_.find(key);
    return node ? const_iterator(*node) : end();
  }
  const_iterator lower_bound(const std::string& key) const { return const_iterator(map_.lower_bound(key)); }
  size_t count(const std::string& key) const { return index_.find(key) ? 1 : 0; }
  size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  // REQUIRES: `key` is present (std::out_of_range otherwise, as map::at).
  const V& at(const std::string& key) const {
    std::optional<typename Base::iterator> node = index_.find(key);
    if (!node) {
      throw std::out_of_range("no record '" + key + "'");
    }
    return (*node)->second.value;
  }

  // The record at `it`, to change: its fragment is dropped now (and
  // Touched told of the record as it is). For a TaskMap, REQUIRES: the
  // change keeps the task's slave_id (a task moving is insert_or_assign).
  V& edit(const_iterator it) {
    Slot& slot = mutable_slot(it);
    drop(slot);
    return slot.value;
  }
  // The same, without telling Touched: for a change that leaves what
  // Touched is told of as it was. For a TaskMap: the task's slave, its
  // resources and whether it is terminal (the slave's used resources count
  // the tasks that are not) — a status update between two live states,
  // where telling cost a hash and a string compare per update (#17).
  V& edit_untouched(const_iterator it) {
    Slot& slot = mutable_slot(it);
    drop_fragment(slot);
    return slot.value;
  }
  // REQUIRES: `key` is present (std::out_of_range otherwise).
  V& edit(const std::string& key) {
    auto it = find(key);
    if (it == end()) {
      throw std::out_of_range("no record '" + key + "'");
    }
    return edit(it);
  }
  // Inserts `value` under `key`, or replaces the record there.
  // (By reference: `key` may be a field of `value`, read before the move.)
  template <class T>
  std::pair<const_iterator, bool> insert_or_assign(const std::string& key, T&& value) {
    auto [it, inserted] = map_.try_emplace(key);
    if (!inserted) {
      drop(it->second);
    } else {
      inserted_at(it);
    }
    it->second.value = std::forward<T>(value);
    touched_(it->second.value);
    return {const_iterator(it), inserted};
  }
  // Inserts `value` under `key` unless a record is there (kept unchanged).
  template <class T>
  std::pair<const_iterator, bool> emplace(const std::string& key, T&& value) {
    auto [it, inserted] = map_.try_emplace(key);
    if (inserted) {
      inserted_at(it);
      it->second.value = std::forward<T>(value);
      touched_(it->second.value);
    }
    return {const_iterator(it), inserted};
  }
  // Removes the record at `it` and returns it.
  V extract(const_iterator it) {
    Slot& slot = mutable_slot(it);
    drop(slot);
    V v = std::move(slot.value);
    index_.erase(it.base()->first);
    map_.erase(it.base());
    return v;
  }
  const_iterator erase(const_iterator it) {
    drop(mutable_slot(it));
    index_.erase(it.base()->first);
    return const_iterator(map_.erase(it.base()));
  }
  size_t erase(const std::string& key) {
    auto it = find(key);
    if (it == end()) {
      return 0;
    }
    erase(it);
    return 1;
  }
  void clear() {
    for (auto& [key, slot] : map_) {
      drop(slot);
    }
    index_.clear();
    map_.clear();
  }
  // Drops the fragment of the record at `it` (what it renders changed
  // outside the record: offers of a slave).
  void invalidate(const_iterator it) { drop(mutable_slot(it)); }
  // What the record's run shows changed outside the record and its
  // fragment (a slave's offered resources, which the renderer cuts into
  // the run): the run is joined again, the fragment kept.
  void regroup(const_iterator it) const {
    const Slot& slot = it.slot();
    if (slot.group != nullptr) {
      slot.group->stale = true;
      slot.group.reset();
    }
  }

  Touched& touched() { return touched_; }
  const Touched& touched() const { return touched_; }
  // The renderer's runs of this map's records (state_rope.cpp); not copied.
  std::shared_ptr<void>& groups() const { return groups_.get(); }

 private:
  // An empty erase turns a const_iterator into an iterator in O(1).
  Slot& mutable_slot(const_iterator it) { return map_.erase(it.base(), it.base())->second; }
  void drop(Slot& slot) {
    touched_(slot.value);
    drop_fragment(slot);
  }
  void drop_fragment(Slot& slot) {
    slot.json.reset();
    slot.extra.reset();
    if (slot.group != nullptr) {
      slot.group->stale = true;
      slot.group.reset();
    }
  }
  // A record inserted between two runs (or inside one) makes its
  // neighbours' runs stale: they are joined again with it.
  void inserted_at(typename Base::iterator it) {
    index_.insert(it);
    if (it != map_.begin() && std::prev(it)->second.group != nullptr) {
      std::prev(it)->second.group->stale = true;
    }
    if (std::next(it) != map_.end() && std::next(it)->second.group != nullptr) {
      std::next(it)->second.group->stale = true;
    }
  }

  void reindex() {
    index_.clear();
    for (auto it = map_.begin(); it != map_.end(); ++it) {
      index_.insert(it);
    }
  }

  Base map_;
  KeyIndex<typename Base::iterator> index_;  // every key of map_
  Touched touched_;
  RendererRuns groups_;
};

// Nothing to tell when a slave changes: its fragment is all it affects.
struct NoneTouched {
  template <class V>
  void operator()(const V&) {}
};

// The slaves whose JSON a change to tasks may have changed (their used
// resources): collected here, as each task changes, until a render takes
// them (state_rope.cpp). At most one entry per slave.
class TouchedSlaves {
 public:
  void operator()(const Task& t) {
    if (!t.slave_id().value().empty()) {
      ids_.insert(t.slave_id().value());
    }
  }
  // Moves the slave ids out.
  std::unordered_set<std::string> take() { return std::exchange(ids_, {}); }
  bool empty() const { return ids_.empty(); }

 private:
  std::unordered_set<std::string> ids_;
};

struct SlaveRecord {
  std::string id;
  SlaveInfo info;           // with id set
  std::string pid;          // slave(1)@ip:port
  caf::actor handle;
  Resources total;
  bool active = true;       // connected and not deactivated
  // Takes StatusUpdateAcknowledgementsMessage (said at (re-)registration).
  bool batched_acknowledgements = false;
  double registered_time = 0;
  double reregistered_time = 0;
  // Offered here: `mutable` (changed without dropping the slave's JSON),
  // as the fragment leaves `offered_resources` out (each render writes it;
  // offers come and go every allocation cycle). A change goes with
  // MasterState::slaves.regroup(it): the slaves' runs show them.
  mutable std::set<std::string> offers;
  // (framework id, task id) of the tasks running here.
  std::set<std::pair<std::string, std::string>> tasks;
  // What those tasks use while not terminal (cpus/mem/disk/gpus), kept by
  // the master as they change (master_tally.cpp; invariants there).
  ScalarTally used;
  // Liveness, which the slave's JSON does not show: `mutable`, so that the
  // pings and pongs of 50k slaves change them through a const record
  // without dropping its rendered JSON (RenderedMap).
  mutable int missed_pings = 0;
  mutable bool pong_pending = false;
  mutable uint64_t disconnect_generation = 0;
  // Missed its pings and waits for --slave_removal_rate_limit to remove it.
  mutable bool removal_scheduled = false;
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
    ++popped_;
  }
  void clear() {
    popped_ += tasks_.size();
    tasks_.clear();
    json_.clear();
  }
  // How many tasks left the front so far: the i-th task now is the
  // (popped() + i)-th ever pushed (state_rope.cpp joins them by that number).
  uint64_t popped() const { return popped_; }
  // The renderer's runs of these tasks (state_rope.cpp); not copied.
  std::shared_ptr<void>& groups() const { return groups_.get(); }
  size_t size() const { return tasks_.size(); }
  bool empty() const { return tasks_.empty(); }
  const Task& front() const { return tasks_.front(); }
  const Task& back() const { return tasks_.back(); }
  const_iterator begin() const { return tasks_.begin(); }
  const_iterator end() const { return tasks_.end(); }
  // The JSON of the i-th task (0 = the oldest).
  const std::string& json(size_t i) const { return *json_[i]; }
  // The same, shared (a rope render holds it while it concatenates).
  const Fragment& fragment(size_t i) const { return json_[i]; }
  // The tasks alone, for code that takes a deque.
  const std::deque<Task>& tasks() const { return tasks_; }
  operator const std::deque<Task>&() const { return tasks_; }  // NOLINT: reads as the deque it was

 private:
  std::deque<Task> tasks_;
  std::deque<Fragment> json_;
  uint64_t popped_ = 0;
  RendererRuns groups_;
};

// A framework's tasks by id, each with its JSON (RenderedMap).
using TaskMap = RenderedMap<Task, TouchedSlaves>;

struct FrameworkRecord {
  std::string id;
  FrameworkInfo info;       // with id set
  std::string pid;          // scheduler-<uuid>@ip:port
  caf::actor handle;
  std::vector<std::string> roles;
  bool active = true;
  bool connected = true;
  bool recovered = false;   // known only from a re-registering slave
  // Takes scheduler::Events (Call.Subscribe.batched_events).
  bool batched_events = false;
  double registered_time = 0;
  double reregistered_time = 0;
  double unregistered_time = 0;
  TaskMap tasks;  // active tasks by id
  // Tasks of a partition-aware framework on slaves marked unreachable
  // (TASK_UNREACHABLE, resources released); back in `tasks` if their slave
  // re-registers reporting them.
  TaskMap unreachable_tasks;
  CompletedTasks completed_tasks;
  std::set<std::string> offers;
  uint64_t disconnect_generation = 0;
};

struct OfferRecord {
  Offer offer;
  Resources resources;
};

// A slave of the registry that has not re-registered with this leader yet:
// its SlaveInfo as the registry encodes it, parsed only when read (parsing
// 50,000 of them made a failover's recovery wait ~1 s; issue #17).
struct RecoveredSlave {
  std::string encoded_info;
  // The SlaveInfo (empty if its encoding does not parse: the registrar,
  // which parses the whole registry, then fails and the master exits).
  SlaveInfo info() const {
    SlaveInfo i;
    if (!i.ParseFromString(encoded_info)) {
      i.Clear();
    }
    return i;
  }
};

struct MasterState {
  MasterInfo info;
  std::string version;
  double start_time = 0;
  double elected_time = 0;
  std::map<std::string, std::string> flags;
  std::string cluster;
  // Slaves by id, each with its JSON (RenderedMap): changed through
  // slaves.edit(...), which drops it.
  RenderedMap<SlaveRecord, NoneTouched> slaves;
  std::map<std::string, FrameworkRecord> frameworks;
  std::deque<FrameworkRecord> completed_frameworks;
  std::map<std::string, OfferRecord> offers;
  std::map<std::string, double> weights;
  // Slaves admitted in the registry that have not re-registered with this
  // leader yet (Mesos' `slaves.recovered`), and those marked unreachable
  // (id -> when), as the registry holds them.
  std::map<std::string, RecoveredSlave> recovered_slaves;
  std::map<std::string, double> unreachable_slaves;
  // The unreachable tasks (FrameworkRecord::unreachable_tasks) of each
  // slave, as (framework id, task id): a slave coming back finds its own
  // without a walk of every framework's (that walk, per re-registering
  // slave, made healing a partition quadratic; #17).
  std::map<std::string, std::set<std::pair<std::string, std::string>>> unreachable_by_slave;
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

// Calls fn(it) for every task `slave` lists that its framework still holds
// and that is not terminal (the tasks whose resources the slave uses), `it`
// its entry in the framework's `tasks`.
template <class F>
void for_each_live_task_entry(const MasterState& s, const SlaveRecord& slave, F&& fn) {
  for (const auto& [fid, tid] : slave.tasks) {
    auto f = s.frameworks.find(fid);
    if (f == s.frameworks.end()) {
      continue;
    }
    auto t = f->second.tasks.find(tid);
    if (t != f->second.tasks.end() && !is_terminal_state(t->second.state())) {
      fn(t);
    }
  }
}

// The same, fn(task).
template <class F>
void for_each_live_task(const MasterState& s, const SlaveRecord& slave, F&& fn) {
  for_each_live_task_entry(s, slave, [&fn](const auto& it) { fn(it->second); });
}

}  // namespace stoa::master
