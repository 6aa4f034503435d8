// `stoa slave list`, `stoa framework list`, `stoa task list`.

#include <iostream>

#include "common/json.hpp"
#include "common/strings.hpp"
#include "framework/cli_client.hpp"
#include "framework/cli_commands.hpp"
#include "framework/cli_output.hpp"
#include "framework/cli_tasks.hpp"
#include "proto/stoa.pb.h"

namespace stoa::cli {

namespace {

// "used/total" of one resource.
std::string used_of(const picojson::value& used, const picojson::value& total, const std::string& name) {
  return number_text(number_at(used, name)) + "/" + number_text(number_at(total, name));
}

// Prints `items` as a JSON array (machine) or as a table.
int print_list(Context& c, const picojson::array& items, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  if (c.machine()) {
    *c.out << json_serialize(picojson::value(items)) << std::endl;
  } else {
    *c.out << render_table(header, rows);
  }
  return EXIT_OK;
}

}  // namespace

int run_slave_list(Context& c, const Invocation&) {
  Result<picojson::value> slaves = get_json(*c.client, "/master/slaves");
  if (!slaves) {
    return c.fail(slaves.failure());
  }
  const picojson::array& items = array_at(*slaves, "slaves");
  std::vector<std::vector<std::string>> rows;
  for (const picojson::value& s : items) {
    const picojson::value& used = s.get("used_resources");
    const picojson::value& total = s.get("resources");
    bool active = s.get("active").is<bool>() && s.get("active").get<bool>();
    rows.push_back({string_at(s, "id"), string_at(s, "hostname") + ":" + number_text(number_at(s, "port")),
                    active ? "yes" : "no", used_of(used, total, "cpus"), used_of(used, total, "mem"),
                    used_of(used, total, "disk"), used_of(used, total, "gpus")});
  }
  return print_list(c, items, {"ID", "HOSTNAME", "ACTIVE", "CPUS", "MEM", "DISK", "GPUS"}, rows);
}

int run_framework_list(Context& c, const Invocation& inv) {
  Result<picojson::value> frameworks = get_json(*c.client, "/master/frameworks");
  if (!frameworks) {
    return c.fail(frameworks.failure());
  }
  picojson::array items = array_at(*frameworks, "frameworks");
  if (inv.has("all")) {
    for (const picojson::value& f : array_at(*frameworks, "completed_frameworks")) {
      items.push_back(f);
    }
  }
  std::vector<std::vector<std::string>> rows;
  for (const picojson::value& f : items) {
    std::vector<std::string> roles;
    for (const picojson::value& r : array_at(f, "roles")) {
      roles.push_back(plain_text(r));
    }
    if (roles.empty()) {
      roles.push_back(string_at(f, "role"));
    }
    bool active = f.get("active").is<bool>() && f.get("active").get<bool>();
    const picojson::value& used = f.get("used_resources");
    rows.push_back({string_at(f, "id"), string_at(f, "name"), active ? "yes" : "no", join(roles, ","),
                    std::to_string(array_at(f, "tasks").size()), number_text(number_at(used, "cpus")),
                    number_text(number_at(used, "mem")), number_text(number_at(used, "disk"))});
  }
  return print_list(c, items, {"ID", "NAME", "ACTIVE", "ROLES", "TASKS", "CPUS", "MEM", "DISK"}, rows);
}

int run_task_list(Context& c, const Invocation& inv) {
  std::optional<std::string> state;
  if (std::optional<std::string> given = inv.option("state")) {
    Result<std::string> parsed = parse_task_state(*given);
    if (!parsed) {
      return c.fail(parsed.failure());
    }
    state = *parsed;
  }
  std::optional<std::string> framework = inv.option("framework");
  if (framework && framework->empty()) {
    return c.fail(Failure{EXIT_USAGE, "option '--framework' needs a framework ID"});
  }
  Result<picojson::value> st = get_json(*c.client, "/master/state");
  if (!st) {
    return c.fail(st.failure());
  }
  const bool all = inv.has("all");
  bool framework_known = false;
  picojson::array items;
  auto consider = [&](const picojson::value& f, bool completed_framework) {
    if (framework && string_at(f, "id") != *framework) {
      return;
    }
    framework_known = true;
    std::vector<const char*> lists = {"tasks", "unreachable_tasks"};
    if (all) {
      lists.push_back("completed_tasks");
    }
    if (completed_framework && !all) {
      return;
    }
    for (const char* list : lists) {
      for (const picojson::value& t : array_at(f, list)) {
        if (!state || string_at(t, "state") == *state) {
          items.push_back(t);
        }
      }
    }
  };
  for (const picojson::value& f : array_at(*st, "frameworks")) {
    consider(f, false);
  }
  for (const picojson::value& f : array_at(*st, "completed_frameworks")) {
    consider(f, true);
  }
  if (framework && !framework_known) {
    return c.fail(Failure{EXIT_NOT_FOUND, "no framework '" + *framework + "' at " + c.client->base_url()});
  }
  std::vector<std::vector<std::string>> rows;
  for (const picojson::value& t : items) {
    const picojson::value& r = t.get("resources");
    rows.push_back({string_at(t, "id"), string_at(t, "name"), string_at(t, "state"), string_at(t, "framework_id"),
                    string_at(t, "slave_id"), number_text(number_at(r, "cpus")), number_text(number_at(r, "mem"))});
  }
  return print_list(c, items, {"ID", "NAME", "STATE", "FRAMEWORK", "SLAVE", "CPUS", "MEM"}, rows);
}

}  // namespace stoa::cli
