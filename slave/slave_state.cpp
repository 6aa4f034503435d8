#include "slave/slave_state.hpp"

#include "common/task_state.hpp"

namespace stoa::slave {

Task make_task(const TaskInfo& ti, const std::string& framework_id, const std::string& slave_id,
               TaskState state) {
  Task t;
  t.set_name(ti.name());
  *t.mutable_task_id() = ti.task_id();
  t.mutable_framework_id()->set_value(framework_id);
  t.mutable_executor_id()->set_value("");
  t.mutable_slave_id()->set_value(slave_id);
  t.set_state(state);
  *t.mutable_resources() = ti.resources();
  if (ti.has_labels()) {
    *t.mutable_labels() = ti.labels();
  }
  if (ti.has_container()) {
    *t.mutable_container() = ti.container();
  }
  return t;
}

void record_status(Task& t, const TaskStatus& status, const std::string& uuid) {
  t.set_state(status.state());
  TaskStatus* kept = keep_status(t, status);
  kept->clear_message();
  kept->set_uuid(uuid);
}

size_t SlaveState::executors_running() const {
  size_t n = 0;
  for (const auto& [fid, f] : frameworks) {
    n += f.executors.size();
  }
  return n;
}

Executor* SlaveState::executor_by_container(const std::string& container_id) {
  auto it = containers.find(container_id);
  if (it == containers.end()) {
    return nullptr;
  }
  auto f = frameworks.find(it->second.first);
  if (f == frameworks.end()) {
    return nullptr;
  }
  auto e = f->second.executors.find(it->second.second);
  return e == f->second.executors.end() ? nullptr : &e->second;
}

Executor* SlaveState::executor_by_handle(const caf::actor_addr& handle) {
  auto it = executor_handles.find(handle);
  return it == executor_handles.end() ? nullptr : executor_by_container(it->second);
}

Executor* SlaveState::executor_of_task(const std::string& framework_id, const std::string& task_id) {
  auto it = task_executors.find({framework_id, task_id});
  if (it == task_executors.end()) {
    return nullptr;
  }
  auto f = frameworks.find(framework_id);
  if (f == frameworks.end()) {
    return nullptr;
  }
  auto e = f->second.executors.find(it->second);
  return e == f->second.executors.end() ? nullptr : &e->second;
}

Task* SlaveState::find_task(const std::string& framework_id, const std::string& task_id) {
  Executor* e = executor_of_task(framework_id, task_id);
  if (e == nullptr) {
    return nullptr;
  }
  auto t = e->tasks.find(task_id);
  return t == e->tasks.end() ? nullptr : &t->second;
}

Executor& SlaveState::add_executor(Framework& f, Executor e) {
  containers[e.container_id] = {e.framework_id, e.executor_id};
  for (const auto& [tid, ti] : e.queued) {
    task_executors[{e.framework_id, tid}] = e.executor_id;
  }
  for (const auto& [tid, t] : e.tasks) {
    task_executors[{e.framework_id, tid}] = e.executor_id;
  }
  if (e.handle) {
    executor_handles[e.handle.address()] = e.container_id;
  }
  std::string eid = e.executor_id;
  return f.executors.emplace(eid, std::move(e)).first->second;
}

void SlaveState::set_handle(Executor& e, const caf::actor& handle) {
  if (e.handle) {
    executor_handles.erase(e.handle.address());
  }
  e.handle = handle;
  if (handle) {
    executor_handles[handle.address()] = e.container_id;
  }
}

void SlaveState::forget_task(const Executor& e, const std::string& task_id) {
  auto it = task_executors.find({e.framework_id, task_id});
  if (it != task_executors.end() && it->second == e.executor_id) {
    task_executors.erase(it);
  }
}

Executor SlaveState::erase_executor(Framework& f, const std::string& executor_id) {
  auto it = f.executors.find(executor_id);
  Executor e = std::move(it->second);
  f.executors.erase(it);
  containers.erase(e.container_id);
  if (e.handle) {
    executor_handles.erase(e.handle.address());
  }
  for (const auto& [tid, ti] : e.queued) {
    forget_task(e, tid);
  }
  for (const auto& [tid, t] : e.tasks) {
    forget_task(e, tid);
  }
  return e;
}

}  // namespace stoa::slave
