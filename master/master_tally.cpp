// The master's kept totals (master_tally.hpp): the plain arithmetic, the
// recount that checks them, and the Master's hooks that keep them as tasks
// and slaves change. Every hook is O(1) or O(tasks of one slave).

#include "master/master_tally.hpp"

#include <cmath>
#include <cstdio>

#include <caf/all.hpp>

#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "master/master_actor.hpp"
#include "master/master_state.hpp"

namespace stoa::master {

void ScalarTally::add(const ScalarTally& that) {
  for (size_t i = 0; i < units.size(); ++i) {
    units[i] += that.units[i];
  }
}

void ScalarTally::subtract(const ScalarTally& that) {
  for (size_t i = 0; i < units.size(); ++i) {
    units[i] -= that.units[i];
  }
}

double ScalarTally::get(std::string_view name) const {
  for (size_t i = 0; i < NAMES.size(); ++i) {
    if (name == NAMES[i]) {
      return fixed_to_scalar(units[i]);
    }
  }
  return 0;
}

std::string ScalarTally::to_string() const {
  std::string out;
  for (size_t i = 0; i < NAMES.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%s%s:%.3f", i == 0 ? "" : ";", NAMES[i], fixed_to_scalar(units[i]));
    out += buf;
  }
  return out;
}

ScalarTally scalar_tally(const Resources& r) {
  ScalarTally out;
  for (size_t i = 0; i < ScalarTally::NAMES.size(); ++i) {
    out.units[i] = r.scalar_units(ScalarTally::NAMES[i]);
  }
  return out;
}

ScalarTally task_scalar_tally(const Task& t) {
  ScalarTally out;
  for (const Resource& r : t.resources()) {
    if (r.type() != Value::SCALAR) {
      continue;
    }
    if (!r.has_scalar() || !std::isfinite(r.scalar().value()) || r.scalar().value() < 0 || r.name().empty()) {
      return ScalarTally{};  // as used_scalars(): an invalid task counts nothing
    }
    for (size_t i = 0; i < ScalarTally::NAMES.size(); ++i) {
      if (r.name() == ScalarTally::NAMES[i]) {
        out.units[i] += scalar_to_fixed(r.scalar().value());
      }
    }
  }
  return out;
}

std::optional<std::string> check_tally(const MasterState& st) {
  MasterTally counted;
  for (const auto& [id, s] : st.slaves) {
    ScalarTally used = scalar_tally(used_scalars(st, s));
    if (!(used == s.used)) {
      return "slave " + id + " uses " + used.to_string() + " but its kept total is " + s.used.to_string();
    }
    counted.used.add(used);
    counted.total.add(scalar_tally(s.total));
    counted.slaves_active += s.active ? 1 : 0;
  }
  std::map<std::string, std::set<std::pair<std::string, std::string>>> unreachable;
  for (const auto& [fid, f] : st.frameworks) {
    for (const auto& [tid, t] : f.tasks) {
      counted.tasks_by_state[static_cast<size_t>(t.state())] += 1;
    }
    for (const auto& [tid, t] : f.unreachable_tasks) {
      unreachable[t.slave_id().value()].insert({fid, tid});
    }
  }
  for (const FrameworkRecord& f : st.completed_frameworks) {
    for (const auto& [tid, t] : f.unreachable_tasks) {
      unreachable[t.slave_id().value()].insert({f.id, tid});
    }
  }
  if (unreachable != st.unreachable_by_slave) {
    auto describe = [](const auto& index) {
      size_t n = 0;
      for (const auto& [sid, tasks] : index) {
        n += tasks.size();
      }
      return std::to_string(n) + " on " + std::to_string(index.size()) + " slaves";
    };
    return "unreachable tasks by slave: counted " + describe(unreachable) + ", kept " +
           describe(st.unreachable_by_slave);
  }
  const MasterTally& kept = st.tally;
  for (int i = 0; i < TaskState_ARRAYSIZE; ++i) {
    if (kept.tasks_by_state[i] != counted.tasks_by_state[i]) {
      return "tasks in state " + (TaskState_IsValid(i) ? TaskState_Name(static_cast<TaskState>(i)) : std::to_string(i)) +
             ": counted " + std::to_string(counted.tasks_by_state[i]) + ", kept " +
             std::to_string(kept.tasks_by_state[i]);
    }
  }
  if (!(kept.used == counted.used)) {
    return "cluster used: counted " + counted.used.to_string() + ", kept " + kept.used.to_string();
  }
  if (!(kept.total == counted.total)) {
    return "cluster total: counted " + counted.total.to_string() + ", kept " + kept.total.to_string();
  }
  if (kept.slaves_active != counted.slaves_active) {
    return "active slaves: counted " + std::to_string(counted.slaves_active) + ", kept " +
           std::to_string(kept.slaves_active);
  }
  return std::nullopt;
}

// --- the Master's hooks -------------------------------------------------------

// The slave whose `used` counts task `t` of `fid` while it is not terminal:
// its own slave, if that lists it.
SlaveRecord* Master::slave_counting(const std::string& fid, const Task& t) {
  auto s = st.slaves.find(t.slave_id().value());
  if (s == st.slaves.end() || s->second.tasks.count({fid, t.task_id().value()}) == 0) {
    return nullptr;
  }
  return &st.slaves.edit(s);
}

// Charges (held) or releases task `t`'s scalars on the slave counting it
// and on the cluster's used total.
void Master::tally_held(const std::string& fid, const Task& t, bool held) {
  SlaveRecord* s = slave_counting(fid, t);
  if (s == nullptr) {
    return;
  }
  ScalarTally u = task_scalar_tally(t);
  if (held) {
    s->used.add(u);
    st.tally.used.add(u);
  } else {
    s->used.subtract(u);
    st.tally.used.subtract(u);
  }
}

void Master::tally_task_added(const std::string& fid, const Task& t) {
  st.tally.tasks_by_state[static_cast<size_t>(t.state())] += 1;
  if (!is_terminal_state(t.state())) {
    tally_held(fid, t, true);
  }
}

void Master::tally_task_removing(const std::string& fid, const Task& t) {
  st.tally.tasks_by_state[static_cast<size_t>(t.state())] -= 1;
  if (!is_terminal_state(t.state())) {
    tally_held(fid, t, false);
  }
}

void Master::tally_task_state(const std::string& fid, const Task& t, TaskState before) {
  st.tally.tasks_by_state[static_cast<size_t>(before)] -= 1;
  st.tally.tasks_by_state[static_cast<size_t>(t.state())] += 1;
  bool held_before = !is_terminal_state(before);
  bool held_now = !is_terminal_state(t.state());
  if (held_before == held_now) {
    return;
  }
  tally_held(fid, t, held_now);
}

void Master::tally_slave_added(SlaveRecord& s) {
  s.used = ScalarTally{};
  for_each_live_task(st, s, [&](const Task& t) { s.used.add(task_scalar_tally(t)); });
  st.tally.used.add(s.used);
  st.tally.total.add(scalar_tally(s.total));
  st.tally.slaves_active += s.active ? 1 : 0;
}

void Master::tally_slave_removing(const SlaveRecord& s) {
  st.tally.used.subtract(s.used);
  st.tally.total.subtract(scalar_tally(s.total));
  st.tally.slaves_active -= s.active ? 1 : 0;
}

void Master::add_unreachable_task(FrameworkRecord& f, Task t) {
  const std::string tid = t.task_id().value();
  if (auto old = f.unreachable_tasks.find(tid); old != f.unreachable_tasks.end()) {
    take_unreachable_task(f, old);  // one id, one place: the new record replaces it
  }
  st.unreachable_by_slave[t.slave_id().value()].insert({f.id, tid});
  f.unreachable_tasks.insert_or_assign(tid, std::move(t));
}

Task Master::take_unreachable_task(FrameworkRecord& f, TaskMap::const_iterator it) {
  if (auto s = st.unreachable_by_slave.find(it->second.slave_id().value()); s != st.unreachable_by_slave.end()) {
    s->second.erase({f.id, it->first});
    if (s->second.empty()) {
      st.unreachable_by_slave.erase(s);
    }
  }
  return f.unreachable_tasks.extract(it);
}

void Master::set_slave_active(SlaveRecord& s, bool active) {
  if (s.active != active) {
    st.tally.slaves_active += active ? 1 : -1;
    s.active = active;
  }
}

void Master::verify_tally() {
  if (std::optional<std::string> wrong = check_tally(st)) {
    LOG_ERROR << "The master's kept totals differ from its records: " << *wrong;
    count("master/invariant_violations");
  }
}

}  // namespace stoa::master
