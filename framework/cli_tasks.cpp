#include "framework/cli_tasks.hpp"

#include <algorithm>
#include <cctype>

#include "common/strings.hpp"
#include "common/task_state.hpp"
#include "framework/cli_client.hpp"
#include "framework/cli_output.hpp"
#include "proto/stoa.pb.h"

namespace stoa::cli {

Result<std::string> parse_task_state(const std::string& text) {
  std::string upper = lower(text);
  for (char& ch : upper) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  if (upper.rfind("TASK_", 0) != 0) {
    upper = "TASK_" + upper;
  }
  TaskState state;
  if (!TaskState_Parse(upper, &state)) {
    std::vector<std::string> names;
    for (int i = TaskState_MIN; i <= TaskState_MAX; ++i) {
      if (TaskState_IsValid(i)) {
        names.push_back(TaskState_Name(static_cast<TaskState>(i)));
      }
    }
    return Failure{EXIT_USAGE, "invalid value '" + text + "' for '--state': not a task state (" + join(names, ", ") + ")"};
  }
  return upper;
}

bool is_terminal_state_name(const std::string& state) {
  TaskState s;
  return TaskState_Parse(state, &s) && is_terminal_state(s);
}

Result<TaskRef> find_task(MasterClient& client, const std::string& task_id, const std::string& framework_id) {
  // The master reads an empty task_id= as "any task".
  if (task_id.empty()) {
    return Failure{EXIT_USAGE, "the task ID must not be empty"};
  }
  std::string path = "/master/tasks?limit=100&task_id=" + url_encode(task_id);
  if (!framework_id.empty()) {
    path += "&framework_id=" + url_encode(framework_id);
  }
  Result<picojson::value> tasks = get_json(client, path);
  if (!tasks) {
    return tasks.failure();
  }
  const picojson::array& found = array_at(*tasks, "tasks");
  if (found.empty()) {
    return Failure{EXIT_NOT_FOUND, "no task '" + task_id + "'" +
                                       (framework_id.empty() ? "" : " of framework '" + framework_id + "'") +
                                       " at " + client.base_url()};
  }
  std::vector<std::string> frameworks;
  for (const picojson::value& t : found) {
    std::string f = string_at(t, "framework_id");
    if (std::find(frameworks.begin(), frameworks.end(), f) == frameworks.end()) {
      frameworks.push_back(f);
    }
  }
  if (frameworks.size() > 1) {
    return Failure{EXIT_CONFLICT, "task '" + task_id + "' is used by frameworks " + join(frameworks, " and ") +
                                      "; name one with --framework=ID"};
  }
  // The newest first (the master sorts by first status, newest first).
  const picojson::value& t = found.front();
  TaskRef ref;
  ref.task_id = task_id;
  ref.framework_id = string_at(t, "framework_id");
  ref.slave_id = string_at(t, "slave_id");
  ref.executor_id = string_at(t, "executor_id").empty() ? task_id : string_at(t, "executor_id");
  ref.state = string_at(t, "state");
  return ref;
}

}  // namespace stoa::cli
