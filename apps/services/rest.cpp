// The REST layer's routing: the leader proxy (marathon.md §6), the headers
// every answer carries (§1.1), and the helpers the route files share.

#include "apps/services/rest.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/http_client.hpp"
#include "apps/services/instance.hpp"
#include "apps/services/rest_internal.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"

namespace stoa::services {

namespace rest_detail {

void call_core(caf::io::broker* self, const Ctx& ctx, CoreCall call, http::Responder respond, bool any_state) {
  if (!ctx->core) {
    respond(message_response(503, "The services core is not running"));
    return;
  }
  if (!any_state) {
    call = [inner = std::move(call)](Core& core, std::function<void(http::Response)> reply) {
      if (!core.leading()) {
        reply(message_response(503, "This instance was elected and is still loading its state; try again"));
        return;
      }
      inner(core, std::move(reply));
    };
  }
  self->request(ctx->core, CORE_CALL_TIMEOUT, core_call_atom_v, std::move(call))
      .then([respond](http::Response& r) { respond(std::move(r)); },
            [respond](caf::error& e) {
              respond(message_response(503, "The services core did not answer: " + caf::to_string(e)));
            });
}

std::vector<std::string> query_values(const http::Request& req, std::string_view key) {
  std::vector<std::string> out;
  for (const std::string& pair : split(req.query_string, '&')) {
    if (pair.empty()) {
      continue;
    }
    size_t eq = pair.find('=');
    Try<std::string> name = http::percent_decode(std::string_view(pair).substr(0, eq), true);
    if (name.is_error() || *name != key) {
      continue;
    }
    Try<std::string> value =
        http::percent_decode(eq == std::string::npos ? std::string_view() : std::string_view(pair).substr(eq + 1), true);
    if (value.is_some()) {
      out.push_back(*value);
    }
  }
  return out;
}

Try<bool> query_bool(const http::Request& req, const std::string& key, bool dflt) {
  auto it = req.query.find(key);
  if (it == req.query.end()) {
    return dflt;
  }
  std::string v = lower(it->second);
  if (v.empty() || v == "true" || v == "1") {
    return true;
  }
  if (v == "false" || v == "0") {
    return false;
  }
  return Error("Invalid boolean value for query parameter '" + key + "': '" + it->second + "'");
}

std::string client_ip(const http::Request& req) {
  // A standby's forward names the client first in X-Forwarded-For; other
  // requests' X-Forwarded-For is not ours to trust.
  auto xff = req.headers.find("x-forwarded-for");
  if (req.headers.count("x-marathon-via") > 0 && xff != req.headers.end() && !xff->second.empty()) {
    return std::string(trim(split(xff->second, ',').front()));
  }
  size_t colon = req.peer.rfind(':');
  return colon == std::string::npos ? req.peer : req.peer.substr(0, colon);
}

bool wants_text_plain(const http::Request& req) {
  auto it = req.headers.find("accept");
  if (it == req.headers.end()) {
    return false;
  }
  const std::string accept = lower(it->second);
  return accept.find("text/plain") != std::string::npos && accept.find("application/json") == std::string::npos &&
         accept.find("*/*") == std::string::npos;
}

std::variant<picojson::value, ApiError> parse_body(const http::Request& req) {
  Try<picojson::value> v = json_parse(req.body);
  if (v.is_error()) {
    return invalid_json_syntax(v.error());
  }
  return std::move(*v);
}

http::Response message_response(int status, const std::string& message) {
  return http::error_response(status, message);
}

http::Response api_error_response(const ApiError& e) {
  http::Response r;
  r.status = e.status;
  r.body = json_serialize(e.body);
  return r;
}

picojson::object deployment_result_json(const DeploymentResult& r) {
  picojson::object o;
  o["version"] = picojson::value(format_timestamp(r.version));
  o["deploymentId"] = picojson::value(r.deployment_id);
  return o;
}

http::Response deployment_response(const DeploymentResult& r, int status) {
  http::Response resp;
  resp.status = status;
  resp.body = json_serialize(picojson::value(deployment_result_json(r)));
  if (!r.deployment_id.empty()) {
    resp.headers.emplace_back("Marathon-Deployment-Id", r.deployment_id);
  }
  return resp;
}

http::Response outcome_response(const Outcome& outcome, int status) {
  if (const auto* e = std::get_if<ApiError>(&outcome)) {
    return api_error_response(*e);
  }
  return deployment_response(std::get<DeploymentResult>(outcome), status);
}

AppEmbed parse_app_embed(const std::vector<std::string>& values, const std::vector<std::string>& prefixes) {
  AppEmbed e;
  for (const std::string& value : values) {
    bool known = false;
    for (const std::string& prefix : prefixes) {
      if (value.rfind(prefix, 0) != 0) {
        continue;
      }
      const std::string what = value.substr(prefix.size());
      known = true;
      if (what == "tasks") {
        e.tasks = true;
      } else if (what == "readiness") {
        e.readiness = true;
      } else if (what == "lastTaskFailure") {
        e.last_task_failure = true;
      } else if (what == "taskStats") {
        e.task_stats = true;
      } else if (what == "failures") {
        e.tasks = true;
        e.last_task_failure = true;
      } else {
        known = what == "deployments" || what == "counts";
      }
      if (known) {
        break;
      }
    }
    if (!known) {
      LOG_INFO << "Ignoring unknown embed value '" << value << "'";
    }
  }
  return e;
}

namespace {

// Marathon's TaskCounts: staged = not yet running; healthy / unhealthy only
// for apps with health checks (an app without checks counts neither).
void rest_add_counts(const App& app, const std::vector<const Instance*>& tasks, picojson::object& o) {
  int64_t staged = 0;
  int64_t running = 0;
  int64_t healthy = 0;
  int64_t unhealthy = 0;
  const bool checked = !app.health_checks.empty();
  for (const Instance* i : tasks) {
    if (i->state == "TASK_STAGING" || i->state == "TASK_STARTING") {
      ++staged;
    }
    if (i->running()) {
      ++running;
    }
    if (!checked) {
      continue;
    }
    if (i->healthy(app)) {
      ++healthy;
      continue;
    }
    bool failed = i->mesos_healthy.has_value() && !*i->mesos_healthy;
    for (const HealthResult& h : i->health) {
      failed = failed || (h.last_failure.has_value() && !h.alive());
    }
    if (failed) {
      ++unhealthy;
    }
  }
  o["tasksStaged"] = picojson::value(staged);
  o["tasksRunning"] = picojson::value(running);
  o["tasksHealthy"] = picojson::value(healthy);
  o["tasksUnhealthy"] = picojson::value(unhealthy);
}

}  // namespace

picojson::object app_info(const Core& core, const App& app, const AppEmbed& embed) {
  picojson::object o = app_json(app);
  std::vector<const Instance*> tasks = core.tasks_of(app.id);
  rest_add_counts(app, tasks, o);
  picojson::array deployments;
  for (const Deployment* d : core.deployments_of(app.id)) {
    picojson::object ref;
    ref["id"] = picojson::value(d->id);
    deployments.emplace_back(ref);
  }
  o["deployments"] = picojson::value(deployments);
  if (embed.tasks) {
    picojson::array arr;
    for (const Instance* i : tasks) {
      arr.emplace_back(task_json(*i, &app, false));
    }
    o["tasks"] = picojson::value(arr);
  }
  if (embed.readiness) {
    // The results of the current step of each deployment of this app.
    picojson::array results;
    for (const Deployment* d : core.deployments_of(app.id)) {
      for (const ReadinessCheckResult& r : d->readiness) {
        if (r.app_id == app.id) {
          results.push_back(readiness_result_json(r));
        }
      }
    }
    o["readinessCheckResults"] = picojson::value(std::move(results));
  }
  if (embed.last_task_failure) {
    if (std::optional<TaskFailure> f = core.last_task_failure(app.id)) {
      o["lastTaskFailure"] = picojson::value(task_failure_json(*f));
    }
  }
  if (embed.task_stats) {
    o["taskStats"] = picojson::value(picojson::object());
  }
  return o;
}

std::vector<const App*> apps_under(const Core& core, const std::string& group) {
  std::vector<const App*> out;
  const std::string prefix = group == "/" ? "/" : group + "/";
  for (const auto& [id, app] : core.apps()) {
    if (id == group || id.rfind(prefix, 0) == 0) {
      out.push_back(&app);
    }
  }
  return out;
}

Change scale_down_change(const Core& core, const std::vector<std::string>& task_ids, bool force) {
  Change change;
  change.force = force;
  for (const std::string& id : task_ids) {
    auto it = core.instances().find(id);
    if (it == core.instances().end()) {
      continue;
    }
    const std::string& app_id = it->second.app_id;
    auto up = change.upserts.find(app_id);
    if (up == change.upserts.end()) {
      const App* app = core.app(app_id);
      if (app == nullptr) {
        continue;
      }
      up = change.upserts.emplace(app_id, *app).first;
    }
    up->second.instances = std::max(0, up->second.instances - 1);
    change.kill_tasks.push_back(id);
  }
  return change;
}

void kill_tasks(Core& core, const std::vector<std::string>& task_ids, bool scale, bool wipe, bool force,
                bool single, std::function<void(http::Response)> reply) {
  if (scale) {
    core.change(scale_down_change(core, task_ids, force),
                [reply](Outcome outcome) { reply(outcome_response(outcome)); });
    return;
  }
  picojson::array killed;
  for (const std::string& id : task_ids) {
    auto it = core.instances().find(id);
    if (it != core.instances().end()) {
      killed.emplace_back(task_json(it->second, core.app(it->second.app_id), false));
    }
  }
  core.kill(task_ids, wipe, [reply, killed, single]() {
    picojson::object o;
    if (single && !killed.empty()) {
      o["task"] = killed.front();
    } else {
      o["tasks"] = picojson::value(killed);
    }
    reply(http::json_response(picojson::value(o)));
  });
}

std::string encode_path(std::string_view path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '@' ||
        c == '*' || c == '+' || c == ',' || c == '=' || c == '!') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

}  // namespace rest_detail

namespace {

using rest_detail::Ctx;

void rest_add_cache_headers(http::Response& r) {
  r.headers.emplace_back("Cache-Control", "no-cache, no-store, must-revalidate");
  r.headers.emplace_back("Pragma", "no-cache");
  r.headers.emplace_back("Expires", "0");
}

bool rest_has_header(const http::Response& r, const std::string& name) {
  return std::any_of(r.headers.begin(), r.headers.end(),
                     [&](const auto& h) { return lower(h.first) == lower(name); });
}

// Headers of a forwarded answer that are the hop's own (the server writes
// Content-Type, Content-Length and Connection itself).
bool rest_hop_header(const std::string& name) {
  const std::string n = lower(name);
  return n == "content-length" || n == "connection" || n == "transfer-encoding" || n == "keep-alive" ||
         n == "content-type";
}

// Forwards the request to the leader (LeaderProxyFilter) and copies its
// answer back.
void rest_proxy(caf::io::broker* self, const Ctx& ctx, const LeaderView& view, const http::Request& req,
                const http::Responder& respond) {
  auto fail = [respond](const std::string& message) {
    http::Response r = rest_detail::message_response(502, message);
    rest_add_cache_headers(r);
    respond(std::move(r));
  };
  std::string via;
  if (auto it = req.headers.find("x-marathon-via"); it != req.headers.end()) {
    via = it->second;
    for (const std::string& hop : split(via, ',')) {
      if (trim(hop) == ctx->self) {
        fail("Detected proxying loop.");
        return;
      }
    }
  }
  size_t colon = view.leader.rfind(':');
  int port = 0;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(view.leader.substr(colon + 1));
    } catch (...) {
      port = 0;
    }
  }
  if (view.leader.empty() || view.leader == ctx->self || port <= 0 || port > 65535) {
    fail("Could not determine the current leader");
    return;
  }
  http::ClientRequest out;
  out.method = req.method;
  out.host = view.leader.substr(0, colon);
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  out.port = static_cast<uint16_t>(port);
  out.path = rest_detail::encode_path(req.path);
  if (!req.query_string.empty()) {
    out.path += "?" + req.query_string;
  }
  out.body = req.body;
  out.timeout = ctx->proxy_timeout;
  for (const char* name : {"content-type", "accept", "authorization"}) {
    if (auto it = req.headers.find(name); it != req.headers.end()) {
      out.headers.emplace_back(name, it->second);
    }
  }
  out.headers.emplace_back("X-Marathon-Via", via.empty() ? ctx->self : via + ", " + ctx->self);
  std::string forwarded = req.peer.substr(0, req.peer.rfind(':'));
  if (auto it = req.headers.find("x-forwarded-for"); it != req.headers.end() && !it->second.empty()) {
    forwarded = it->second + ", " + forwarded;
  }
  out.headers.emplace_back("X-Forwarded-For", forwarded);
  const std::string leader = view.leader;
  http::fetch(
      self, std::move(out),
      [respond](http::Response r) {
        http::Response copy;
        copy.status = r.status;
        copy.content_type = r.content_type.empty() ? "application/json" : r.content_type;
        copy.body = std::move(r.body);
        for (auto& [name, value] : r.headers) {
          if (!rest_hop_header(name)) {
            copy.headers.emplace_back(name, value);
          }
        }
        if (!rest_has_header(copy, "Cache-Control")) {
          rest_add_cache_headers(copy);
        }
        respond(std::move(copy));
      },
      [fail, leader](const caf::error& e) {
        fail("Could not proxy the request to the leader " + leader + ": " + caf::to_string(e));
      });
}

// The leader serves; a standby forwards. Either way the answer carries the
// cache-disabling headers, and the leader's X-Marathon-Leader.
http::Handler rest_leader_or_proxy(Ctx ctx, http::Handler inner) {
  return [ctx, inner = std::move(inner)](caf::io::broker* self, const http::Request& req,
                                         http::Responder respond) {
    LeaderView view = ctx->leadership ? ctx->leadership->get() : LeaderView{true, ctx->self};
    if (!view.elected) {
      rest_proxy(self, ctx, view, req, respond);
      return;
    }
    const std::string leader = "http://" + ctx->self;
    inner(self, req, [respond, leader](http::Response r) {
      r.headers.emplace_back("X-Marathon-Leader", leader);
      r.headers.emplace_back("X-Frame-Options", "DENY");
      r.headers.emplace_back("X-XSS-Protection", "1; mode=block");
      rest_add_cache_headers(r);
      respond(std::move(r));
    });
  };
}

http::Handler rest_local(http::Handler inner) {
  return [inner = std::move(inner)](caf::io::broker* self, const http::Request& req, http::Responder respond) {
    inner(self, req, [respond](http::Response r) {
      rest_add_cache_headers(r);
      respond(std::move(r));
    });
  };
}

}  // namespace

std::vector<http::Route> rest_routes(RestOptions options) {
  auto ctx = std::make_shared<const RestOptions>(std::move(options));
  std::vector<http::Route> routes;
  for (auto* table : {&rest_detail::app_routes, &rest_detail::task_routes, &rest_detail::group_routes,
                      &rest_detail::misc_routes}) {
    for (http::Route& r : (*table)(ctx)) {
      r.handler = rest_leader_or_proxy(ctx, std::move(r.handler));
      routes.push_back(std::move(r));
    }
  }
  // Anything else under /v2 (but /v2/events, its own exact route).
  http::Route unknown;
  unknown.path = "/v2";
  unknown.prefix = true;
  unknown.methods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  unknown.help = "Unknown /v2 paths: 404 {\"message\":\"URI not found\"}.";
  unknown.handler = rest_leader_or_proxy(ctx, [](caf::io::broker*, const http::Request&, http::Responder respond) {
    respond(rest_detail::message_response(404, "URI not found"));
  });
  routes.push_back(std::move(unknown));
  for (http::Route& r : rest_detail::local_routes(ctx)) {
    r.handler = rest_local(std::move(r.handler));
    routes.push_back(std::move(r));
  }
  return routes;
}

}  // namespace stoa::services
