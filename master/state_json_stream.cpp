// The streamed writers of /master/state and /master/frameworks
// (write_state, write_frameworks): the same bytes as json_serialize() of
// state_json.cpp's trees (picojson objects are std::maps, so keys go out
// sorted), written straight into one buffer (state_json_writer.hpp).
//
// What makes them fast (issue #17, docs/benchmarks.md): no picojson value
// on the per-task and per-slave paths; each distinct `resources` of a task
// is parsed and rendered once per render (the tasks of a big cluster share
// a few shapes), keyed by exactly the fields Resources::from_proto reads;
// the slaves' used resources are summed from those parsed values, finding
// each task through a per-render hash index instead of the frameworks'
// ordered maps; the tasks' fields are read ahead in batches (touch_tasks);
// completed tasks are not rendered at all: their JSON was made once, as
// they completed (CompletedTasks, master_state.hpp), and is copied.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/attributes.hpp"
#include "common/container_json.hpp"
#include "common/json.hpp"
#include "common/json_writer.hpp"
#include "common/task_state.hpp"
#include "common/version.hpp"
#include "master/state_json.hpp"
#include "master/state_json_internal.hpp"
#include "master/state_json_writer.hpp"

namespace stoa::master {

namespace {

using picojson::array;
using picojson::object;
using picojson::value;
using state_json_detail::JsonBuffer;
using state_json_detail::RenderedResources;
using state_json_detail::resources_views;
using state_json_detail::ResourcesViews;
using state_json_detail::task_resources_key;
using state_json_detail::TaskWriter;
using state_json_detail::labels_json;
using state_json_detail::query_matches;
using state_json_detail::status_json;
using state_json_detail::task_resources;
using state_json_detail::write_reserved_resources;
using state_json_detail::write_resources;

// Bytes per task / slave of a typical render: the buffer's first reservation.
constexpr size_t STREAM_BYTES_PER_TASK = 420;
constexpr size_t STREAM_BYTES_PER_SLAVE = 1400;
constexpr size_t STREAM_BYTES_FIXED = 1 << 16;
// The first reservations of a completed task's scratch buffers (they grow
// past it, and are reused).
constexpr size_t COMPLETED_TASK_BYTES = 1024;
constexpr size_t COMPLETED_RESOURCES_BYTES = 256;


struct StreamKeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
struct StreamKeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

using Streamed = std::map<std::string, std::function<void(JsonBuffer*)>>;


// Reads the fields the render reads of tasks[begin, end) in one tight
// loop, so that the processor overlaps their cache misses (a task's fields
// are a dozen separate heap objects); the render then finds them cached.
// Measured: the render of 400k tasks is bound by these misses when each
// task's are taken one after another (docs/benchmarks.md).
size_t touch_tasks(const std::vector<const Task*>& tasks, size_t begin, size_t end) {
  size_t sum = 0;
  for (size_t i = begin; i < end; ++i) {
    const Task& t = *tasks[i];
    sum += t.task_id().value().size() + t.framework_id().value().size() + t.slave_id().value().size() +
           t.executor_id().value().size() + t.name().size() + static_cast<size_t>(t.state());
    for (const Resource& r : t.resources()) {
      sum += r.name().size() + r.role().size() + static_cast<size_t>(r.scalar().value());
    }
    for (const TaskStatus& st : t.statuses()) {
      sum += static_cast<size_t>(st.timestamp()) + static_cast<size_t>(st.state()) + static_cast<size_t>(st.source());
    }
  }
  return sum;
}

// The tasks read ahead by touch_tasks() at a time.
constexpr size_t TOUCH_BATCH = 32;

// Task id -> parsed resources, open addressing in one array. In a render
// child every small allocation lands in the master's copy-on-write heap
// and copies a page; this index of 200k tasks makes one allocation.
class TaskIndex {
 public:
  // REQUIRES: before any insert(); at most `n` inserts.
  void reserve(size_t n) {
    size_t size = 16;
    while (size < 2 * n) {
      size *= 2;
    }
    slots_.assign(size, Slot{});
  }
  // A key inserted twice keeps its first value (as std::map keys are unique,
  // it is not).
  void insert(std::string_view id, const RenderedResources* r) {
    for (size_t i = slot_of(id);; i = (i + 1) & (slots_.size() - 1)) {
      if (!slots_[i].used) {
        slots_[i] = Slot{id, r, true};
        return;
      }
      if (slots_[i].id == id) {
        return;
      }
    }
  }
  // The value of `id`; nullptr when absent or terminal.
  const RenderedResources* find(std::string_view id) const {
    if (slots_.empty()) {
      return nullptr;
    }
    for (size_t i = slot_of(id);; i = (i + 1) & (slots_.size() - 1)) {
      if (!slots_[i].used) {
        return nullptr;
      }
      if (slots_[i].id == id) {
        return slots_[i].value;
      }
    }
  }

 private:
  struct Slot {
    std::string_view id;
    const RenderedResources* value = nullptr;
    bool used = false;
  };
  size_t slot_of(std::string_view id) const { return std::hash<std::string_view>{}(id) & (slots_.size() - 1); }
  std::vector<Slot> slots_;
};



// One render of one view. Lives for the render; reads `s` only.
class StateStreamer : private TaskWriter {
 public:
  StateStreamer(const MasterState& s, JsonBuffer* b) : TaskWriter(b), s_(s) {}

  void state();
  void frameworks(const std::vector<const FrameworkRecord*>& active,
                  const std::vector<const FrameworkRecord*>& completed);

 private:
  // Writes `fixed` and `streamed` (disjoint keys) as one object, keys sorted.
  void object_of(const object& fixed, const Streamed& streamed);

  const RenderedResources& resources_of(const Task& t);
  void slave(const SlaveRecord& slave);
  void framework(const FrameworkRecord& f);
  // Renders `tasks`, reading each batch ahead with touch_tasks().
  // `resources`, when not empty, holds resources_of() of each task.
  void tasks_of(const std::vector<const Task*>& tasks, const std::vector<const RenderedResources*>& resources);
  // The parsed resources of f.tasks (in map order) and their sum over the
  // non-terminal ones (used_resources(f)); indexes the tasks for slave().
  struct ActiveTasks {
    std::vector<const Task*> tasks;
    std::vector<const RenderedResources*> resources;
    Resources used;
    // Task id (the key of f.tasks) -> its parsed resources; nullptr for a
    // terminal task.
    TaskIndex by_id;
  };
  const ActiveTasks& active_tasks(const FrameworkRecord& f);
  // The views of `r`, rendered once per distinct value this render (many
  // slaves have the same totals, and their tasks the same sums).
  const ResourcesViews& views_of(const Resources& r);

  const MasterState& s_;
  std::unordered_map<std::string, RenderedResources, StreamKeyHash, StreamKeyEq> resources_;
  // The lookup key of resources_of/views_of, built field by field:
  // strings length-prefixed, plain values as their bytes.
  void put_string(const std::string& x) {
    size_t n = x.size();
    key_.append(reinterpret_cast<const char*>(&n), sizeof(n));
    key_.append(x);
  }
  template <class T>
  void put_pod(const T& x) {
    key_.append(reinterpret_cast<const char*>(&x), sizeof(x));
  }
  std::string key_;
  const std::string* last_key_ = nullptr;
  const RenderedResources* last_ = nullptr;
  std::unordered_map<const FrameworkRecord*, ActiveTasks> active_;
  std::unordered_map<std::string, ResourcesViews, StreamKeyHash, StreamKeyEq> views_;
  // What touch_tasks() read (kept so that its reads are not optimized away).
  size_t touched_ = 0;
};



void StateStreamer::object_of(const object& fixed, const Streamed& streamed) {
  TaskWriter::object_of(fixed, streamed, [this](const std::function<void(JsonBuffer*)>& write) { write(b_); });
}


// The key is exactly what Resources::from_proto reads of each Resource
// (allocation_info does not change the parse), length-prefixed.
const RenderedResources& StateStreamer::resources_of(const Task& t) {
  task_resources_key(t, &key_);
  if (last_key_ != nullptr && *last_key_ == key_) {
    return *last_;
  }
  auto it = resources_.find(std::string_view(key_));
  if (it == resources_.end()) {
    RenderedResources rendered;
    rendered.parsed = task_resources(t);
    json_append(resources_to_json(rendered.parsed), &rendered.json);
    it = resources_.emplace(key_, std::move(rendered)).first;
  }
  last_key_ = &it->first;
  last_ = &it->second;
  return it->second;
}

const ResourcesViews& StateStreamer::views_of(const Resources& r) {
  key_.clear();
  for (const ResourceEntry& e : r) {
    put_string(e.name);
    put_string(e.role);
    put_pod(static_cast<int>(e.type));
    put_pod(e.units);
    put_pod(e.ranges.size());
    for (const Range& x : e.ranges) {
      put_pod(x.begin);
      put_pod(x.end);
    }
    put_pod(e.set.size());
    for (const std::string& item : e.set) {
      put_string(item);
    }
  }
  auto it = views_.find(std::string_view(key_));
  if (it != views_.end()) {
    return it->second;
  }
  ResourcesViews v = resources_views(r);
  return views_.emplace(key_, std::move(v)).first->second;
}

const StateStreamer::ActiveTasks& StateStreamer::active_tasks(const FrameworkRecord& f) {
  auto [it, inserted] = active_.try_emplace(&f);
  ActiveTasks& a = it->second;
  if (!inserted) {
    return a;
  }
  a.tasks.reserve(f.tasks.size());
  std::vector<std::string_view> ids;
  ids.reserve(f.tasks.size());
  for (const auto& [id, t] : f.tasks) {
    a.tasks.push_back(&t);
    ids.emplace_back(id);
  }
  a.resources.reserve(a.tasks.size());
  a.by_id.reserve(a.tasks.size());
  for (size_t i = 0; i < a.tasks.size(); ++i) {
    if (i % TOUCH_BATCH == 0) {
      touched_ += touch_tasks(a.tasks, i, std::min(a.tasks.size(), i + TOUCH_BATCH));
    }
    const Task& t = *a.tasks[i];
    const RenderedResources& r = resources_of(t);
    a.resources.push_back(&r);
    bool terminal = is_terminal_state(t.state());
    if (!terminal) {
      a.used += r.parsed;
    }
    a.by_id.insert(ids[i], terminal ? nullptr : &r);
  }
  return a;
}

// slave_json(s, slave) (full = false), keys in its sorted order.
void StateStreamer::slave(const SlaveRecord& slave) {
  // used_resources(s, slave): the slave's tasks found through the
  // frameworks' indexes (the same sum, in the same order).
  Resources used;
  const std::string* last_fid = nullptr;
  const ActiveTasks* tasks = nullptr;
  for (const auto& [fid, tid] : slave.tasks) {
    if (last_fid == nullptr || *last_fid != fid) {
      last_fid = &fid;
      auto f = s_.frameworks.find(fid);
      tasks = f == s_.frameworks.end() ? nullptr : &active_tasks(f->second);
    }
    if (tasks == nullptr) {
      continue;
    }
    if (const RenderedResources* r = tasks->by_id.find(tid)) {
      used += r->parsed;
    }
  }
  TaskWriter::slave(slave, views_of(slave.total), views_of(used), views_of(offered_resources(s_, slave)).all);
}




void StateStreamer::tasks_of(const std::vector<const Task*>& tasks,
                             const std::vector<const RenderedResources*>& resources) {
  b_->ch('[');
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (i % TOUCH_BATCH == 0) {
      touched_ += touch_tasks(tasks, i, std::min(tasks.size(), i + TOUCH_BATCH));
    }
    if (i > 0) {
      b_->ch(',');
    }
    task(*tasks[i], (resources.empty() ? resources_of(*tasks[i]) : *resources[i]).json);
  }
  b_->ch(']');
}

void StateStreamer::framework(const FrameworkRecord& f) {
  // Only the frameworks of s.frameworks have slaves that index their tasks.
  ActiveTasks unindexed;
  const ActiveTasks* active = nullptr;
  if (auto it = s_.frameworks.find(f.id); it != s_.frameworks.end() && &it->second == &f) {
    active = &active_tasks(f);
  } else {
    for (const auto& [id, t] : f.tasks) {
      unindexed.tasks.push_back(&t);
    }
    for (const Task* t : unindexed.tasks) {
      const RenderedResources& r = resources_of(*t);
      unindexed.resources.push_back(&r);
      if (!is_terminal_state(t->state())) {
        unindexed.used += r.parsed;
      }
    }
    active = &unindexed;
  }
  Streamed streamed;
  streamed["tasks"] = [this, active](JsonBuffer*) { tasks_of(active->tasks, active->resources); };
  streamed["unreachable_tasks"] = [this, &f](JsonBuffer*) {
    std::vector<const Task*> tasks;
    for (const auto& [id, t] : f.unreachable_tasks) {
      tasks.push_back(&t);
    }
    tasks_of(tasks, {});
  };
  streamed["completed_tasks"] = [this, &f](JsonBuffer*) {
    // Rendered once, as each task completed (CompletedTasks).
    b_->ch('[');
    for (size_t i = 0; i < f.completed_tasks.size(); ++i) {
      if (i > 0) {
        b_->ch(',');
      }
      b_->raw(f.completed_tasks.json(i));
    }
    b_->ch(']');
  };
  object_of(framework_head(s_, f, &active->used), streamed);
}

void StateStreamer::state() {
  Streamed streamed;
  streamed["slaves"] = [this](JsonBuffer*) {
    array_of(s_.slaves, [this](const auto& entry) { slave(entry.second); });
  };
  streamed["frameworks"] = [this](JsonBuffer*) {
    array_of(s_.frameworks, [this](const auto& entry) { framework(entry.second); });
  };
  streamed["completed_frameworks"] = [this](JsonBuffer*) {
    array_of(s_.completed_frameworks, [this](const FrameworkRecord& f) { framework(f); });
  };
  object_of(state_head(s_), streamed);
}

void StateStreamer::frameworks(const std::vector<const FrameworkRecord*>& active,
                               const std::vector<const FrameworkRecord*>& completed) {
  Streamed streamed;
  streamed["frameworks"] = [this, &active](JsonBuffer*) {
    array_of(active, [this](const FrameworkRecord* f) { framework(*f); });
  };
  streamed["completed_frameworks"] = [this, &completed](JsonBuffer*) {
    array_of(completed, [this](const FrameworkRecord* f) { framework(*f); });
  };
  object fixed;
  fixed["unregistered_frameworks"] = value(array{});
  object_of(fixed, streamed);
}

size_t expected_bytes(const std::vector<const FrameworkRecord*>& frameworks, size_t slaves) {
  size_t tasks = 0;
  for (const FrameworkRecord* f : frameworks) {
    tasks += f->tasks.size() + f->unreachable_tasks.size() + f->completed_tasks.size();
  }
  return STREAM_BYTES_FIXED + tasks * STREAM_BYTES_PER_TASK + slaves * STREAM_BYTES_PER_SLAVE;
}

}  // namespace

void CompletedTasks::push_back(Task t) {
  // Reused: a completed task costs one allocation, its own bytes.
  thread_local std::string resources;
  thread_local std::string json;
  resources.clear();
  json.clear();
  {
    JsonBuffer b(&resources, COMPLETED_RESOURCES_BYTES);
    write_resources(task_resources(t), &b);
  }
  {
    JsonBuffer b(&json, COMPLETED_TASK_BYTES);
    TaskWriter(&b).task(t, resources);
  }
  json_.push_back(std::make_shared<const std::string>(json));
  try {
    tasks_.push_back(std::move(t));
  } catch (...) {
    json_.pop_back();
    throw;
  }
}

void write_state(const MasterState& s, std::string* out) {
  std::vector<const FrameworkRecord*> all;
  for (const auto& [id, f] : s.frameworks) {
    all.push_back(&f);
  }
  for (const FrameworkRecord& f : s.completed_frameworks) {
    all.push_back(&f);
  }
  JsonBuffer b(out, expected_bytes(all, s.slaves.size()), current_body_pipe());
  StateStreamer(s, &b).state();
}

void write_frameworks(const MasterState& s, const std::map<std::string, std::string>& query, std::string* out) {
  std::vector<const FrameworkRecord*> active;
  for (const auto& [id, f] : s.frameworks) {
    if (query_matches(query, "framework_id", id)) {
      active.push_back(&f);
    }
  }
  std::vector<const FrameworkRecord*> completed;
  for (const FrameworkRecord& f : s.completed_frameworks) {
    if (query_matches(query, "framework_id", f.id)) {
      completed.push_back(&f);
    }
  }
  std::vector<const FrameworkRecord*> all = active;
  all.insert(all.end(), completed.begin(), completed.end());
  JsonBuffer b(out, expected_bytes(all, 0), current_body_pipe());
  StateStreamer(s, &b).frameworks(active, completed);
}

}  // namespace stoa::master
