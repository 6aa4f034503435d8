// Operator actions on the leading master (docs/operator-api.md):
// POST /master/teardown removes a framework through the same path as a
// scheduler's TEARDOWN call (remove_framework); POST /master/kill kills one
// task through the same path as a scheduler's KILL call (on_kill), so the
// TASK_KILLED comes back through the normal status update flow.

#include <picojson.h>

#include <caf/all.hpp>

#include "actors/http.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"
#include "master/master_actor.hpp"
#include "master/operator_json.hpp"

namespace stoa::master {

namespace {

// One field of an action's body: its form name (Mesos') and its JSON name.
struct ActionField {
  const char* form;
  const char* json;
};

// A form body (`frameworkID=x`) or a JSON object (`{"framework_id": "x"}`)
// as {json name -> value}. Unknown fields, repeated ones and non-string JSON
// values are errors naming them.
Try<std::map<std::string, std::string>> parse_action_body(const std::string& body,
                                                          const std::vector<ActionField>& fields) {
  std::string expected;
  for (const ActionField& f : fields) {
    expected += std::string(expected.empty() ? "" : ", ") + f.form + " (JSON " + f.json + ")";
  }
  std::map<std::string, std::string> out;
  std::string_view text = trim(body);
  if (!text.empty() && text.front() == '{') {
    Try<picojson::value> v = json_parse(text);
    if (v.is_error()) {
      return Error("The body is not valid JSON: " + v.error());
    }
    if (!v->is<picojson::object>()) {
      return Error("The body must be a JSON object");
    }
    for (const auto& [name, value] : v->get<picojson::object>()) {
      bool known = false;
      for (const ActionField& f : fields) {
        known = known || name == f.json;
      }
      if (!known) {
        return Error("Unknown field '" + name + "' (expected " + expected + ")");
      }
      if (!value.is<std::string>()) {
        return Error("Field '" + name + "' must be a string, not " + value.serialize());
      }
      out[name] = value.get<std::string>();
    }
    return out;
  }
  for (const std::string& part : split(text, '&')) {
    if (part.empty()) {
      continue;
    }
    Try<std::map<std::string, std::string>> kv = http::parse_query(part);
    if (kv.is_error()) {
      return Error("The form body is malformed: " + kv.error());
    }
    for (const auto& [name, value] : *kv) {
      const ActionField* field = nullptr;
      for (const ActionField& f : fields) {
        field = name == f.form ? &f : field;
      }
      if (field == nullptr) {
        return Error("Unknown field '" + name + "' (expected " + expected + ")");
      }
      if (!out.emplace(field->json, value).second) {
        return Error("Field '" + name + "' is given twice");
      }
    }
  }
  return out;
}

std::string field(const std::map<std::string, std::string>& m, const std::string& name) {
  auto it = m.find(name);
  return it == m.end() ? std::string() : it->second;
}

const std::vector<ActionField> TEARDOWN_FIELDS = {{"frameworkID", "framework_id"}};
const std::vector<ActionField> KILL_FIELDS = {{"taskID", "task_id"}, {"frameworkID", "framework_id"}};

// Where a task id was found.
struct TaskMatch {
  FrameworkRecord* framework = nullptr;  // null for a completed framework
  std::string framework_id;
  std::string slave_id;
  TaskState state = TASK_STAGING;
  bool live = false;  // can still be killed
};

const Task* find_completed(const std::deque<Task>& tasks, const std::string& tid) {
  for (auto it = tasks.rbegin(); it != tasks.rend(); ++it) {
    if (it->task_id().value() == tid) {
      return &*it;
    }
  }
  return nullptr;
}

}  // namespace

StatusReply Master::teardown_by_operator(const std::string& body) {
  Try<std::map<std::string, std::string>> fields = parse_action_body(body, TEARDOWN_FIELDS);
  if (fields.is_error()) {
    return json_error(400, fields.error());
  }
  std::string fid = field(*fields, "framework_id");
  if (fid.empty()) {
    return json_error(400, "Missing 'frameworkID' (form frameworkID=<id>, or JSON {\"framework_id\": \"<id>\"})");
  }
  auto it = st.frameworks.find(fid);
  if (it == st.frameworks.end()) {
    return json_error(404, "No framework found with specified ID '" + fid + "'");
  }
  if (it->second.handle) {
    send_error(it->second.handle, "Framework has been removed");
  }
  remove_framework(fid, "torn down by the operator");
  count("master/operator_teardowns");
  return {200, "{}"};
}

StatusReply Master::kill_by_operator(const std::string& body) {
  Try<std::map<std::string, std::string>> fields = parse_action_body(body, KILL_FIELDS);
  if (fields.is_error()) {
    return json_error(400, fields.error());
  }
  std::string tid = field(*fields, "task_id");
  std::string fid = field(*fields, "framework_id");
  if (tid.empty()) {
    return json_error(400, "Missing 'taskID' (form taskID=<id>[&frameworkID=<id>], or JSON {\"task_id\": "
                           "\"<id>\", \"framework_id\": \"<id>\"})");
  }
  std::vector<TaskMatch> matches;
  bool framework_known = fid.empty();
  for (auto& [id, f] : st.frameworks) {
    if (!fid.empty() && id != fid) {
      continue;
    }
    framework_known = true;
    TaskMatch m;
    m.framework = &f;
    m.framework_id = id;
    if (auto t = f.tasks.find(tid); t != f.tasks.end()) {
      m.slave_id = t->second.slave_id().value();
      m.state = t->second.state();
      m.live = !is_terminal_state(m.state);
    } else if (auto u = f.unreachable_tasks.find(tid); u != f.unreachable_tasks.end()) {
      m.slave_id = u->second.slave_id().value();
      m.state = u->second.state();
      m.live = true;
    } else if (const Task* c = find_completed(f.completed_tasks, tid)) {
      m.slave_id = c->slave_id().value();
      m.state = c->state();
    } else {
      continue;
    }
    matches.push_back(m);
  }
  for (const FrameworkRecord& f : st.completed_frameworks) {
    if (!fid.empty() && f.id != fid) {
      continue;
    }
    framework_known = true;
    if (const Task* c = find_completed(f.completed_tasks, tid)) {
      TaskMatch m;
      m.framework_id = f.id;
      m.slave_id = c->slave_id().value();
      m.state = c->state();
      matches.push_back(m);
    }
  }
  if (!framework_known) {
    return json_error(404, "No framework found with specified ID '" + fid + "'");
  }
  std::vector<TaskMatch> live;
  for (const TaskMatch& m : matches) {
    if (m.live) {
      live.push_back(m);
    }
  }
  if (live.size() > 1) {
    std::string names;
    for (const TaskMatch& m : live) {
      names += (names.empty() ? "" : ", ") + m.framework_id;
    }
    return json_error(409, "Task '" + tid + "' is running in more than one framework (" + names +
                               "): give frameworkID");
  }
  if (live.empty()) {
    if (matches.empty()) {
      return json_error(404, "No task found with specified ID '" + tid + "'" +
                                 (fid.empty() ? std::string() : " in framework '" + fid + "'"));
    }
    const TaskMatch& m = matches.back();
    return json_error(409, "Task '" + tid + "' of framework '" + m.framework_id + "' is already " +
                               TaskState_Name(m.state));
  }
  const TaskMatch& m = live.front();
  scheduler::Call::Kill kill;
  kill.mutable_task_id()->set_value(tid);
  kill.mutable_slave_id()->set_value(m.slave_id);
  LOG_INFO << "Killing task " << tid << " of framework " << m.framework_id << " on slave " << m.slave_id
           << " for the operator";
  on_kill(*m.framework, kill);
  count("master/operator_kills");
  picojson::object o;
  o["task_id"] = picojson::value(tid);
  o["framework_id"] = picojson::value(m.framework_id);
  o["slave_id"] = picojson::value(m.slave_id);
  return {202, json_serialize(picojson::value(o))};
}

}  // namespace stoa::master
