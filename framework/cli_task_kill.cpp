// `stoa task kill <task> [--framework=ID] [--wait]` through the master's
// POST /master/kill (docs/http-api.md): 202 once the kill went to the slave;
// --wait then polls the task's state until it is terminal.

#include <chrono>
#include <iostream>
#include <thread>

#include "common/json.hpp"
#include "framework/cli_client.hpp"
#include "framework/cli_commands.hpp"
#include "framework/cli_output.hpp"
#include "framework/cli_tasks.hpp"

namespace stoa::cli {

namespace {

// How often --wait asks for the task's state.
constexpr auto KILL_POLL_INTERVAL = std::chrono::milliseconds(200);

}  // namespace

int run_task_kill(Context& c, const Invocation& inv) {
  const std::string task_id = inv.args[0];
  const std::string framework = inv.option("framework").value_or("");
  if (task_id.empty()) {
    return c.fail(Failure{EXIT_USAGE, "the task ID must not be empty"});
  }
  if (inv.has("framework") && framework.empty()) {
    return c.fail(Failure{EXIT_USAGE, "option '--framework' needs a framework ID"});
  }
  picojson::object body;
  body["task_id"] = picojson::value(task_id);
  if (!framework.empty()) {
    body["framework_id"] = picojson::value(framework);
  }
  const std::string path = "/master/kill";
  Result<Reply> reply = c.client->call("POST", path, json_serialize(picojson::value(body)), "application/json");
  if (!reply) {
    return c.fail(reply.failure());
  }
  if (reply->status != 200 && reply->status != 202) {
    return c.fail(failure_of(*reply, "POST", c.client->base_url() + path));
  }
  Try<picojson::value> answer = json_parse(reply->body);
  picojson::value sent = answer ? *answer : picojson::value(picojson::object{});
  std::string fid = string_at(sent, "framework_id").empty() ? framework : string_at(sent, "framework_id");
  std::string sid = string_at(sent, "slave_id");
  if (!c.machine()) {
    *c.out << "Kill of task " << task_id << " (framework " << fid << ") sent to slave " << sid << std::endl;
  }
  if (!inv.has("wait")) {
    if (c.machine()) {
      *c.out << json_serialize(sent) << std::endl;
    }
    return EXIT_OK;
  }

  const auto deadline = std::chrono::steady_clock::now() + c.globals.timeout;
  c.progress("Waiting for task " + task_id + " to be killed...");
  std::string state;
  while (true) {
    Result<TaskRef> now = find_task(*c.client, task_id, fid);
    if (!now) {
      return c.fail(now.failure());
    }
    state = now->state;
    if (is_terminal_state_name(state)) {
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return c.fail(Failure{EXIT_TIMED_OUT, "task " + task_id + " is still " + state + " " +
                                                format_duration(c.globals.timeout) + " after the kill was sent"});
    }
    std::this_thread::sleep_for(KILL_POLL_INTERVAL);
  }
  if (c.machine()) {
    if (sent.is<picojson::object>()) {
      sent.get<picojson::object>()["state"] = picojson::value(state);
    }
    *c.out << json_serialize(sent) << std::endl;
  } else {
    *c.out << "Task " << task_id << " is " << state << std::endl;
  }
  return EXIT_OK;
}

}  // namespace stoa::cli
