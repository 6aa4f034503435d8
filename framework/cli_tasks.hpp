#pragma once
// What `stoa task ...` subcommands share: naming a task state and finding a
// task (with its framework, slave and executor) through the master.

#include <string>

#include "framework/cli.hpp"

namespace stoa::cli {

class MasterClient;

// "TASK_RUNNING", "task_running" or "running" -> "TASK_RUNNING"; EXIT_USAGE
// naming the value and the states otherwise.
Result<std::string> parse_task_state(const std::string& text);

// Whether a state name ("TASK_KILLED") is terminal for the master.
bool is_terminal_state_name(const std::string& state);

struct TaskRef {
  std::string task_id;
  std::string framework_id;
  std::string slave_id;
  std::string executor_id;  // the command executor is named after its task
  std::string state;
};

// The task `task_id` (of `framework_id` when not empty), active or
// completed, from GET /master/tasks. EXIT_NOT_FOUND when there is none;
// EXIT_CONFLICT naming the frameworks when several use the id and no
// framework was given; EXIT_USAGE for an empty task id.
Result<TaskRef> find_task(MasterClient& client, const std::string& task_id, const std::string& framework_id);

}  // namespace stoa::cli
