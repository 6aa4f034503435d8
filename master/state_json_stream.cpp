// The streamed writers of /master/state and /master/frameworks
// (write_state, write_frameworks): the same bytes as the trees of
// state_json.cpp, written piece by piece.
#include <functional>
#include <string>
#include <unordered_map>

#include "common/container_json.hpp"
#include "common/json.hpp"
#include "common/json_writer.hpp"
#include "master/state_json.hpp"
#include "master/state_json_internal.hpp"

namespace stoa::master {

// Streaming: the same bytes as json_serialize() of state_json.cpp's trees (picojson
// objects are std::maps, so keys go out sorted), written piece by piece so
// that no tree of the whole state is ever built or copied.
namespace {

using picojson::array;
using picojson::object;
using picojson::value;
using state_json_detail::labels_json;
using state_json_detail::query_matches;
using state_json_detail::status_json;
using state_json_detail::task_resources;

using Streamed = std::map<std::string, std::function<void(std::string*)>>;

// Writes `fixed` and `streamed` (disjoint keys) as one object, keys sorted.
void write_object(const object& fixed, const Streamed& streamed, std::string* out) {
  out->push_back('{');
  auto a = fixed.begin();
  auto b = streamed.begin();
  bool first = true;
  while (a != fixed.end() || b != streamed.end()) {
    bool take_fixed = b == streamed.end() || (a != fixed.end() && a->first < b->first);
    if (!first) {
      out->push_back(',');
    }
    first = false;
    json_append_string(take_fixed ? a->first : b->first, out);
    out->push_back(':');
    if (take_fixed) {
      json_append(a->second, out);
      ++a;
    } else {
      b->second(out);
      ++b;
    }
  }
  out->push_back('}');
}

// Writes `[write(x) for x in range]`.
template <class Range, class Write>
void write_array(const Range& range, Write write, std::string* out) {
  out->push_back('[');
  bool first = true;
  for (const auto& x : range) {
    if (!first) {
      out->push_back(',');
    }
    first = false;
    write(x, out);
  }
  out->push_back(']');
}

// Appends `,"key":` (no comma before the first key of an object).
void write_key(const char* key, bool* first, std::string* out) {
  if (!*first) {
    out->push_back(',');
  }
  *first = false;
  json_append_string(key, out);
  out->push_back(':');
}

// status_json(), written directly (keys in the same sorted order).
void write_status(const TaskStatus& st, std::string* out) {
  bool first = true;
  out->push_back('{');
  if (st.has_container_status() || st.has_container_id()) {
    write_key("container_status", &first, out);
    json_append(status_json(st).get("container_status"), out);
  }
  if (st.has_healthy()) {
    write_key("healthy", &first, out);
    out->append(st.healthy() ? "true" : "false");
  }
  if (st.has_message() && !st.message().empty()) {
    write_key("message", &first, out);
    json_append_string(st.message(), out);
  }
  if (st.has_reason()) {
    write_key("reason", &first, out);
    json_append_string(TaskStatus::Reason_Name(st.reason()), out);
  }
  if (st.has_source()) {
    write_key("source", &first, out);
    json_append_string(TaskStatus::Source_Name(st.source()), out);
  }
  write_key("state", &first, out);
  json_append_string(TaskState_Name(st.state()), out);
  write_key("timestamp", &first, out);
  json_append_number(st.timestamp(), out);
  out->push_back('}');
}

// One render's JSON of each distinct `resources` a task holds: the tasks of
// a big cluster share a few shapes, and parsing them is most of a task's
// cost.
using ResourcesCache = std::unordered_map<std::string, std::string>;

// task_json(), written directly (keys in the same sorted order).
void write_task(const Task& t, ResourcesCache* cache, std::string* out) {
  bool first = true;
  out->push_back('{');
  if (t.has_container()) {
    write_key("container", &first, out);
    json_append(container_info_json(t.container()), out);
  }
  write_key("executor_id", &first, out);
  json_append_string(t.has_executor_id() ? t.executor_id().value() : std::string(), out);
  write_key("framework_id", &first, out);
  json_append_string(t.framework_id().value(), out);
  write_key("id", &first, out);
  json_append_string(t.task_id().value(), out);
  if (t.has_labels()) {
    write_key("labels", &first, out);
    json_append(labels_json(t.labels()), out);
  }
  write_key("name", &first, out);
  json_append_string(t.name(), out);
  write_key("resources", &first, out);
  std::string key;
  for (const Resource& r : t.resources()) {
    key += r.SerializeAsString();
    key.push_back('\0');
  }
  auto [it, inserted] = cache->try_emplace(std::move(key));
  if (inserted) {
    json_append(resources_to_json(task_resources(t)), &it->second);
  }
  out->append(it->second);
  write_key("role", &first, out);
  json_append_string(t.has_role() ? t.role() : std::string("*"), out);
  write_key("slave_id", &first, out);
  json_append_string(t.slave_id().value(), out);
  write_key("state", &first, out);
  json_append_string(TaskState_Name(t.state()), out);
  write_key("statuses", &first, out);
  write_array(t.statuses(), [](const TaskStatus& st, std::string* w) { write_status(st, w); }, out);
  if (t.has_user()) {
    write_key("user", &first, out);
    json_append_string(t.user(), out);
  }
  out->push_back('}');
}

void write_framework(const MasterState& s, const FrameworkRecord& f, std::string* out) {
  ResourcesCache cache;
  auto task = [&cache](const Task& t, std::string* w) { write_task(t, &cache, w); };
  Streamed streamed;
  streamed["tasks"] = [&f, &task](std::string* o) {
    write_array(f.tasks, [&task](const auto& entry, std::string* w) { task(entry.second, w); }, o);
  };
  streamed["unreachable_tasks"] = [&f, &task](std::string* o) {
    write_array(f.unreachable_tasks, [&task](const auto& entry, std::string* w) { task(entry.second, w); }, o);
  };
  streamed["completed_tasks"] = [&f, &task](std::string* o) {
    write_array(f.completed_tasks, task, o);
  };
  write_object(framework_head(s, f), streamed, out);
}

}  // namespace

void write_state(const MasterState& s, std::string* out) {
  Streamed streamed;
  streamed["slaves"] = [&s](std::string* o) {
    write_array(
        s.slaves, [&s](const auto& entry, std::string* w) { json_append(slave_json(s, entry.second), w); }, o);
  };
  streamed["frameworks"] = [&s](std::string* o) {
    write_array(s.frameworks, [&s](const auto& entry, std::string* w) { write_framework(s, entry.second, w); }, o);
  };
  streamed["completed_frameworks"] = [&s](std::string* o) {
    write_array(s.completed_frameworks, [&s](const FrameworkRecord& f, std::string* w) { write_framework(s, f, w); },
                o);
  };
  write_object(state_head(s), streamed, out);
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
  Streamed streamed;
  streamed["frameworks"] = [&](std::string* o) {
    write_array(active, [&s](const FrameworkRecord* f, std::string* w) { write_framework(s, *f, w); }, o);
  };
  streamed["completed_frameworks"] = [&](std::string* o) {
    write_array(completed, [&s](const FrameworkRecord* f, std::string* w) { write_framework(s, *f, w); }, o);
  };
  object fixed;
  fixed["unregistered_frameworks"] = value(array{});
  write_object(fixed, streamed, out);
}

}  // namespace stoa::master
