// `stoa app ...` and `stoa deployment ...`: stoa-services' Marathon API
// (--services, docs/services-api.md) from the command line.

#include <charconv>
#include <set>
#include <thread>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/json.hpp"
#include "common/strings.hpp"
#include "framework/cli_client.hpp"
#include "framework/cli_commands.hpp"
#include "framework/cli_output.hpp"

namespace stoa::cli {

namespace {

// "/group/app" (a leading '/' added) with each segment percent-encoded.
std::string app_path_of(const std::string& id) {
  std::string out;
  for (const std::string& segment : split(id, '/')) {
    if (!segment.empty()) {
      out += "/" + url_encode(segment);
    }
  }
  return out;
}

// failure_of() for stoa-services: a 422's details are listed by path.
Failure app_failure_of(const Reply& reply, const std::string& method, const std::string& url) {
  Failure f = failure_of(reply, method, url);
  const std::string master_prefix = "the master answered";
  if (f.message.rfind(master_prefix, 0) == 0) {
    f.message = "stoa-services answered" + f.message.substr(master_prefix.size());
  }
  Try<picojson::value> body = json_parse(reply.body);
  if (body && body->is<picojson::object>() && body->get("details").is<picojson::array>()) {
    for (const picojson::value& d : body->get("details").get<picojson::array>()) {
      std::vector<std::string> errors;
      for (const picojson::value& e : array_at(d, "errors")) {
        errors.push_back(plain_text(e));
      }
      f.message += "\n  " + string_at(d, "path") + ": " + join(errors, "; ");
    }
  }
  return f;
}

// One call to stoa-services; the parsed JSON answer (null for an empty body)
// unless it is not 2xx.
Result<picojson::value> app_call(Context& c, const std::string& method, const std::string& path,
                                 const std::string& body = "") {
  if (c.services == nullptr) {
    return Failure{EXIT_USAGE, "no stoa-services client (--services)"};
  }
  Result<Reply> reply = c.services->call(method, path, body, body.empty() ? "" : "application/json");
  if (!reply) {
    return reply.failure();
  }
  if (reply->status < 200 || reply->status >= 300) {
    return app_failure_of(*reply, method, c.services->base_url() + path);
  }
  if (trim(reply->body).empty()) {
    return picojson::value();
  }
  Try<picojson::value> parsed = json_parse(reply->body);
  if (parsed.is_error()) {
    return Failure{EXIT_MASTER_ERROR,
                   method + " " + c.services->base_url() + path + " answered no JSON: " + parsed.error()};
  }
  return *parsed;
}

// Status as the services page shows it (apps/services/ui/model.js).
std::string app_status_of(const picojson::value& app) {
  if (!array_at(app, "deployments").empty()) {
    return "deploying";
  }
  double instances = number_at(app, "instances");
  if (instances == 0) {
    return "suspended";
  }
  return number_at(app, "tasksRunning") < instances ? "waiting" : "running";
}

// A deployment's answer ({"version","deploymentId"}, or an app with
// "deployments") as a line, or the JSON.
int app_print_result(Context& c, const picojson::value& result, const std::string& done) {
  if (c.machine()) {
    *c.out << json_serialize(result) << std::endl;
    return EXIT_OK;
  }
  std::string deployment = string_at(result, "deploymentId");
  if (deployment.empty() && !array_at(result, "deployments").empty()) {
    deployment = string_at(array_at(result, "deployments").front(), "id");
  }
  *c.out << done << (deployment.empty() ? "" : " (deployment " + deployment + ")") << std::endl;
  return EXIT_OK;
}

Result<std::string> app_read_definition(const std::string& file) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return Failure{EXIT_USAGE, "cannot read the app definition '" + file + "'"};
    }
    text << in.rdbuf();
  }
  Try<picojson::value> parsed = json_parse(text.str());
  if (parsed.is_error()) {
    return Failure{EXIT_USAGE, "the app definition '" + file + "' is not JSON: " + parsed.error()};
  }
  if (!parsed->is<picojson::object>()) {
    return Failure{EXIT_USAGE, "the app definition '" + file + "' is not a JSON object"};
  }
  return json_serialize(*parsed);
}


// The running deployments, or the failure of asking.
Result<picojson::array> app_deployments(Context& c) {
  Result<picojson::value> r = app_call(c, "GET", "/v2/deployments");
  if (!r) {
    return r.failure();
  }
  if (!r->is<picojson::array>()) {
    return Failure{EXIT_MASTER_ERROR, "GET " + c.services->base_url() + "/v2/deployments answered no JSON array"};
  }
  return r->get<picojson::array>();
}

// "step 1/2: ScaleApplication /web, RestartApplication /db".
std::string deployment_progress(const picojson::value& d) {
  std::vector<std::string> actions;
  for (const picojson::value& a : array_at(d, "currentActions")) {
    actions.push_back(string_at(a, "action") + " " + string_at(a, "app"));
  }
  return "step " + number_text(number_at(d, "currentStep")) + "/" + number_text(number_at(d, "totalSteps")) +
         (actions.empty() ? "" : ": " + join(actions, ", "));
}

// "3/5 running, 2 healthy" for each affected app ("/web 3/5 running").
std::string deployment_apps_progress(Context& c, const picojson::value& d) {
  std::vector<std::string> parts;
  for (const picojson::value& id : array_at(d, "affectedApps")) {
    const std::string app_id = plain_text(id);
    Result<picojson::value> app = app_call(c, "GET", "/v2/apps" + app_path_of(app_id));
    if (!app) {
      continue;  // removed meanwhile (a StopApplication)
    }
    const picojson::value& a = app->get("app");
    std::string part = app_id + " " + number_text(number_at(a, "tasksRunning")) + "/" +
                       number_text(number_at(a, "instances")) + " running";
    if (a.get("healthChecks").is<picojson::array>() && !array_at(a, "healthChecks").empty()) {
      part += ", " + number_text(number_at(a, "tasksHealthy")) + " healthy";
    }
    parts.push_back(part);
  }
  return join(parts, "; ");
}

// Follows deployments until none of `ids` (every running one when empty at
// the start) is left. `lines`: print a line on stdout for each change (`stoa
// deployment watch`); otherwise a progress line on stderr (a terminal only).
// Stops at the first failed request (its failure).
std::optional<Failure> follow_deployments(Context& c, std::set<std::string> ids, bool lines) {
  std::map<std::string, std::string> last;  // id -> last line shown
  bool first = true;
  while (true) {
    Result<picojson::array> running = app_deployments(c);
    if (!running) {
      return running.failure();
    }
    if (first && ids.empty()) {
      for (const picojson::value& d : *running) {
        ids.insert(string_at(d, "id"));
      }
      if (ids.empty() && lines) {
        *c.out << "No deployment is running." << std::endl;
      }
    }
    first = false;
    std::set<std::string> still;
    for (const picojson::value& d : *running) {
      const std::string id = string_at(d, "id");
      if (ids.count(id) == 0) {
        continue;
      }
      still.insert(id);
      std::string line = "Deployment " + id + " " + deployment_progress(d);
      const std::string apps = deployment_apps_progress(c, d);
      if (!apps.empty()) {
        line += " (" + apps + ")";
      }
      if (last[id] != line) {
        last[id] = line;
        if (!lines) {
          c.progress(line);
        } else if (c.globals.json) {
          *c.out << json_serialize(d) << std::endl;
        } else {
          *c.out << line << std::endl;
        }
      }
    }
    for (const std::string& id : ids) {
      if (still.count(id) == 0) {
        if (lines && !c.globals.json) {
          *c.out << "Deployment " << id << " is over." << std::endl;
        } else if (!lines) {
          c.progress("Deployment " + id + " is over.");
        }
      }
    }
    ids = std::move(still);
    if (ids.empty()) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(c.poll_interval);
  }
}

// After a command that started a deployment: waits for it unless --no-wait,
// then prints where the app stands ("/web: 5/5 running").
int app_finish(Context& c, const Invocation& inv, const picojson::value& result, const std::string& done,
               const std::string& app_id) {
  int code = app_print_result(c, result, done);
  std::string deployment = string_at(result, "deploymentId");
  if (deployment.empty() && !array_at(result, "deployments").empty()) {
    deployment = string_at(array_at(result, "deployments").front(), "id");
  }
  if (code != EXIT_OK || deployment.empty() || inv.has("no-wait")) {
    return code;
  }
  if (std::optional<Failure> f = follow_deployments(c, {deployment}, false)) {
    return c.fail(*f);
  }
  if (app_id.empty() || c.machine()) {
    return EXIT_OK;
  }
  Result<picojson::value> app = app_call(c, "GET", "/v2/apps" + app_path_of(app_id));
  if (!app) {
    if (app.failure().code == EXIT_NOT_FOUND) {
      *c.out << app_id << ": removed" << std::endl;
      return EXIT_OK;
    }
    return c.fail(app.failure());
  }
  const picojson::value& a = app->get("app");
  *c.out << string_at(a, "id") << ": " << number_text(number_at(a, "tasksRunning")) << "/"
         << number_text(number_at(a, "instances")) << " running" << std::endl;
  return EXIT_OK;
}

}  // namespace

int run_app_list(Context& c, const Invocation&) {
  Result<picojson::value> apps = app_call(c, "GET", "/v2/apps");
  if (!apps) {
    return c.fail(apps.failure());
  }
  const picojson::array& items = array_at(*apps, "apps");
  if (c.machine()) {
    *c.out << json_serialize(picojson::value(items)) << std::endl;
    return EXIT_OK;
  }
  std::vector<std::vector<std::string>> rows;
  for (const picojson::value& a : items) {
    rows.push_back({string_at(a, "id"), app_status_of(a),
                    number_text(number_at(a, "tasksRunning")) + "/" + number_text(number_at(a, "instances")),
                    number_text(number_at(a, "cpus")), number_text(number_at(a, "mem")),
                    number_text(number_at(a, "tasksHealthy")) + "/" + number_text(number_at(a, "tasksUnhealthy")),
                    string_at(a, "cmd")});
  }
  *c.out << render_table({"ID", "STATUS", "RUNNING", "CPUS", "MEM", "HEALTHY/UNHEALTHY", "CMD"}, rows);
  return EXIT_OK;
}

int run_app_show(Context& c, const Invocation& inv) {
  Result<picojson::value> app = app_call(c, "GET", "/v2/apps" + app_path_of(inv.args[0]));
  if (!app) {
    return c.fail(app.failure());
  }
  const picojson::value& a = app->get("app");
  *c.out << (c.machine() ? json_serialize(a) : pretty_json(a)) << std::endl;
  return EXIT_OK;
}

int run_app_add(Context& c, const Invocation& inv) {
  Result<std::string> body = app_read_definition(inv.args[0]);
  if (!body) {
    return c.fail(body.failure());
  }
  Result<picojson::value> created = app_call(c, "POST", "/v2/apps", *body);
  if (!created) {
    return c.fail(created.failure());
  }
  return app_finish(c, inv, *created, "Created " + string_at(*created, "id"), string_at(*created, "id"));
}

int run_app_scale(Context& c, const Invocation& inv) {
  const std::string& text = inv.args[1];
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < 0) {
    return c.fail(Failure{EXIT_USAGE, "instances '" + text + "' is not a whole number >= 0"});
  }
  picojson::object patch{{"instances", picojson::value(n)}};
  std::string force = inv.has("force") ? "?force=true" : "";
  Result<picojson::value> r = app_call(c, "PUT", "/v2/apps" + app_path_of(inv.args[0]) + force,
                                       json_serialize(picojson::value(patch)));
  if (!r) {
    return c.fail(r.failure());
  }
  return app_finish(c, inv, *r, "Scaling " + inv.args[0] + " to " + std::to_string(n), inv.args[0]);
}

int run_app_restart(Context& c, const Invocation& inv) {
  std::string force = inv.has("force") ? "?force=true" : "";
  Result<picojson::value> r = app_call(c, "POST", "/v2/apps" + app_path_of(inv.args[0]) + "/restart" + force);
  if (!r) {
    return c.fail(r.failure());
  }
  return app_finish(c, inv, *r, "Restarting " + inv.args[0], inv.args[0]);
}

int run_app_remove(Context& c, const Invocation& inv) {
  Result<picojson::value> r = app_call(c, "DELETE", "/v2/apps" + app_path_of(inv.args[0]));
  if (!r) {
    return c.fail(r.failure());
  }
  return app_finish(c, inv, *r, "Removing " + inv.args[0], inv.args[0]);
}

int run_app_versions(Context& c, const Invocation& inv) {
  Result<picojson::value> r = app_call(c, "GET", "/v2/apps" + app_path_of(inv.args[0]) + "/versions");
  if (!r) {
    return c.fail(r.failure());
  }
  const picojson::array& versions = array_at(*r, "versions");
  if (c.machine()) {
    *c.out << json_serialize(picojson::value(versions)) << std::endl;
  } else {
    for (const picojson::value& v : versions) {
      *c.out << plain_text(v) << "\n";
    }
  }
  return EXIT_OK;
}

int run_app_rollback(Context& c, const Invocation& inv) {
  picojson::object patch{{"version", picojson::value(inv.args[1])}};
  std::string force = inv.has("force") ? "?force=true" : "";
  Result<picojson::value> r = app_call(c, "PUT", "/v2/apps" + app_path_of(inv.args[0]) + force,
                                       json_serialize(picojson::value(patch)));
  if (!r) {
    return c.fail(r.failure());
  }
  return app_finish(c, inv, *r, "Rolling " + inv.args[0] + " back to " + inv.args[1], inv.args[0]);
}

int run_app_tasks(Context& c, const Invocation& inv) {
  Result<picojson::value> r = app_call(c, "GET", "/v2/apps" + app_path_of(inv.args[0]) + "/tasks");
  if (!r) {
    return c.fail(r.failure());
  }
  const picojson::array& tasks = array_at(*r, "tasks");
  if (c.machine()) {
    *c.out << json_serialize(picojson::value(tasks)) << std::endl;
    return EXIT_OK;
  }
  std::vector<std::vector<std::string>> rows;
  for (const picojson::value& t : tasks) {
    std::vector<std::string> ports;
    for (const picojson::value& p : array_at(t, "ports")) {
      ports.push_back(plain_text(p));
    }
    const picojson::array& results = array_at(t, "healthCheckResults");
    std::string health = "unknown";
    if (!results.empty()) {
      health = "healthy";
      for (const picojson::value& h : results) {
        if (!h.get("alive").is<bool>() || !h.get("alive").get<bool>()) {
          health = "unhealthy";
        }
      }
    }
    rows.push_back({string_at(t, "id"), string_at(t, "state"),
                    string_at(t, "host") + (ports.empty() ? "" : ":" + join(ports, ",")), health,
                    string_at(t, "slaveId")});
  }
  *c.out << render_table({"ID", "STATE", "HOST:PORTS", "HEALTH", "SLAVE"}, rows);
  return EXIT_OK;
}

int run_deployment_list(Context& c, const Invocation&) {
  Result<picojson::value> r = app_call(c, "GET", "/v2/deployments");
  if (!r) {
    return c.fail(r.failure());
  }
  if (c.machine()) {
    *c.out << json_serialize(*r) << std::endl;
    return EXIT_OK;
  }
  std::vector<std::vector<std::string>> rows;
  if (r->is<picojson::array>()) {
    for (const picojson::value& d : r->get<picojson::array>()) {
      std::vector<std::string> apps;
      for (const picojson::value& a : array_at(d, "affectedApps")) {
        apps.push_back(plain_text(a));
      }
      std::vector<std::string> actions;
      for (const picojson::value& a : array_at(d, "currentActions")) {
        actions.push_back(string_at(a, "action") + " " + string_at(a, "app"));
      }
      rows.push_back({string_at(d, "id"), join(apps, ","), join(actions, ", "),
                      number_text(number_at(d, "currentStep")) + "/" + number_text(number_at(d, "totalSteps")),
                      string_at(d, "version")});
    }
  }
  *c.out << render_table({"ID", "APPS", "CURRENT ACTIONS", "STEP", "VERSION"}, rows);
  return EXIT_OK;
}

int run_deployment_cancel(Context& c, const Invocation& inv) {
  bool force = inv.has("force");
  Result<picojson::value> r =
      app_call(c, "DELETE", "/v2/deployments/" + url_encode(inv.args[0]) + (force ? "?force=true" : ""));
  if (!r) {
    return c.fail(r.failure());
  }
  if (force) {
    if (c.machine()) {
      *c.out << "{}" << std::endl;
    } else {
      *c.out << "Stopped deployment " << inv.args[0] << std::endl;
    }
    return EXIT_OK;
  }
  return app_finish(c, inv, *r, "Rolling back deployment " + inv.args[0], "");
}

int run_deployment_watch(Context& c, const Invocation& inv) {
  std::set<std::string> ids;
  if (!inv.args.empty()) {
    Result<picojson::array> running = app_deployments(c);
    if (!running) {
      return c.fail(running.failure());
    }
    bool found = false;
    for (const picojson::value& d : *running) {
      found = found || string_at(d, "id") == inv.args[0];
    }
    if (!found) {
      return c.fail(Failure{EXIT_NOT_FOUND, "no running deployment '" + inv.args[0] + "' (it may be over)"});
    }
    ids.insert(inv.args[0]);
  }
  if (std::optional<Failure> f = follow_deployments(c, ids, true)) {
    return c.fail(*f);
  }
  return EXIT_OK;
}

}  // namespace stoa::cli
