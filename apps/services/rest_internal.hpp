#pragma once
// Shared by the REST layer's files (rest.cpp: routing, leader proxy and
// headers; rest_apps.cpp: /v2/apps; rest_tasks.cpp: /v2/tasks,
// /v2/deployments, /v2/queue; rest_groups.cpp: /v2/groups; rest_misc.cpp:
// /v2/info, /v2/leader, /ping, /metrics). Not a public header.
//
// Threads: request parsing runs in the HTTP server broker; everything that
// reads or changes the services' state runs in a CoreCall closure inside the
// core actor (core.hpp) and answers through its `reply`.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <picojson.h>

#include "actors/http.hpp"
#include "apps/services/core.hpp"
#include "apps/services/model.hpp"
#include "apps/services/rest.hpp"
#include "common/try.hpp"

namespace stoa::services::rest_detail {

using Ctx = std::shared_ptr<const RestOptions>;

// A CoreCall not answered within this is a 503 (Marathon maps a
// TimeoutException to 503); below the HTTP server's 30 s handler timeout.
constexpr auto CORE_CALL_TIMEOUT = std::chrono::seconds(20);

// Sends `call` to the core and hands its Response to `respond` (503
// {"message"} when the core cannot be reached or does not answer). Unless
// `any_state`, a core that does not lead yet (elected, still loading its
// state) answers 503 instead of running `call`: its apps are not known yet.
void call_core(caf::io::broker* self, const Ctx& ctx, CoreCall call, http::Responder respond,
               bool any_state = false);

// Every value of `key` in the raw query string, decoded, in order (the
// server's Request::query keeps only the last of a repeated key).
std::vector<std::string> query_values(const http::Request& req, std::string_view key);
// A boolean query parameter: absent → `dflt`; "", "true", "1" → true;
// "false", "0" → false; anything else is an Error naming it.
Try<bool> query_bool(const http::Request& req, const std::string& key, bool dflt);
// The client's address without the port (for api_post_event's clientIp):
// the first X-Forwarded-For entry of a request a standby forwarded.
std::string client_ip(const http::Request& req);
// True if the request's Accept asks for text/plain but not JSON (Marathon's
// deprecated text_plain_tasks form, tasks_text_plain()).
bool wants_text_plain(const http::Request& req);
// Marathon's text/plain task list: per app and service port one line
// "<id with '/' as '_'>\t<service port>\t<host:port>\t…" of its running tasks
// (an app without service ports: "<id>\t \t<host>\t…").
std::string tasks_text_plain(const Core& core, const std::vector<const App*>& apps);

// The body as JSON: 400 "Invalid JSON" (model.hpp) when it is not.
std::variant<picojson::value, ApiError> parse_body(const http::Request& req);

// Responses.
http::Response message_response(int status, const std::string& message);
http::Response api_error_response(const ApiError& e);
// {"version","deploymentId"} + Marathon-Deployment-Id.
http::Response deployment_response(const DeploymentResult& r, int status = 200);
// The deployment result with `status`, or the error.
http::Response outcome_response(const Outcome& outcome, int status = 200);
picojson::object deployment_result_json(const DeploymentResult& r);

// What an AppInfo carries beyond app_json (InfoEmbedResolver). Counts and
// deployments are always written.
struct AppEmbed {
  bool tasks = false;
  bool readiness = false;
  bool last_task_failure = false;
  bool task_stats = false;
};
// `prefixes` are the accepted prefixes ("apps.", "app.", "group.apps.", "").
AppEmbed parse_app_embed(const std::vector<std::string>& values, const std::vector<std::string>& prefixes);
// AppInfo: app_json + tasksStaged/Running/Healthy/Unhealthy + deployments
// [{id}] + what `embed` asks. Runs in the core.
picojson::object app_info(const Core& core, const App& app, const AppEmbed& embed);

// The apps whose id is `group` or below it ("/" = every app).
std::vector<const App*> apps_under(const Core& core, const std::string& group);

// A scale-down change: lowers each app's instances by its number of
// `task_ids` and kills those tasks (DELETE …/tasks?scale=true,
// POST /v2/tasks/delete?scale=true). REQUIRES: every task id is known.
Change scale_down_change(const Core& core, const std::vector<std::string>& task_ids, bool force);

// Kills `task_ids` (known to the core) from inside the core: with `scale`,
// as a scale-down deployment (deploymentResult); else without scaling (they
// are replaced) answering {"tasks":[…]}, or {"task":…} when `single`.
void kill_tasks(Core& core, const std::vector<std::string>& task_ids, bool scale, bool wipe, bool force,
                bool single, std::function<void(http::Response)> reply);

// The route tables of each file.
std::vector<http::Route> app_routes(const Ctx& ctx);    // rest_apps.cpp
std::vector<http::Route> task_routes(const Ctx& ctx);   // rest_tasks.cpp
std::vector<http::Route> group_routes(const Ctx& ctx);  // rest_groups.cpp
// /v2/info, /v2/leader (proxied like the others).
std::vector<http::Route> misc_routes(const Ctx& ctx);   // rest_misc.cpp
// /ping and /metrics: served by every instance, never proxied.
std::vector<http::Route> local_routes(const Ctx& ctx);  // rest_misc.cpp

// The percent-encoded form of a decoded path (for forwarding it).
std::string encode_path(std::string_view path);

}  // namespace stoa::services::rest_detail
