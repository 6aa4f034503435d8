// /v2/tasks, /v2/tasks/delete, /v2/deployments and /v2/queue
// (marathon.md §1.1, §1.5).

#include <algorithm>
#include <cctype>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "apps/services/rest_internal.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"

namespace stoa::services::rest_detail {

namespace {

std::string tasks_upper(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

// ---- /v2/tasks -------------------------------------------------------------------

void tasks_index(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const http::Responder& respond) {
  if (wants_text_plain(req)) {
    call_core(self, ctx,
              [](Core& core, std::function<void(http::Response)> reply) {
                std::vector<const App*> apps;
                for (const auto& [id, app] : core.apps()) {
                  apps.push_back(&app);
                }
                reply(http::text_response(tasks_text_plain(core, apps), 200, "text/plain"));
              },
              respond);
    return;
  }
  std::vector<std::string> wanted;
  for (const char* key : {"status", "status[]"}) {
    for (const std::string& v : query_values(req, key)) {
      if (!v.empty()) {
        wanted.push_back("TASK_" + tasks_upper(v));
      }
    }
  }
  call_core(self, ctx,
            [wanted](Core& core, std::function<void(http::Response)> reply) {
              picojson::array tasks;
              for (const auto& [id, instance] : core.instances()) {
                if (!instance.active() || instance.slave_id.empty()) {
                  continue;
                }
                if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), instance.state) == wanted.end()) {
                  continue;
                }
                tasks.emplace_back(task_json(instance, core.app(instance.app_id), true));
              }
              picojson::object o;
              o["tasks"] = picojson::value(tasks);
              reply(http::json_response(picojson::value(o)));
            },
            respond);
}

void tasks_delete(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const http::Responder& respond) {
  Try<bool> scale = query_bool(req, "scale", false);
  Try<bool> wipe = query_bool(req, "wipe", false);
  Try<bool> force = query_bool(req, "force", false);
  for (const Try<bool>* b : {&scale, &wipe, &force}) {
    if (b->is_error()) {
      respond(message_response(400, b->error()));
      return;
    }
  }
  if (*scale && *wipe) {
    respond(message_response(400, "You cannot use scale and wipe at the same time."));
    return;
  }
  auto body = parse_body(req);
  if (auto* e = std::get_if<ApiError>(&body)) {
    respond(api_error_response(*e));
    return;
  }
  const picojson::value& json = std::get<picojson::value>(body);
  if (!json.is<picojson::object>() || !json.get("ids").is<picojson::array>()) {
    respond(api_error_response(invalid_json_shape({{"/ids", "error.path.missing"}})));
    return;
  }
  std::vector<std::string> ids;
  for (const picojson::value& v : json.get("ids").get<picojson::array>()) {
    if (!v.is<std::string>() || task_id_app_prefix(v.get<std::string>()).empty()) {
      respond(message_response(400, "Invalid task id '" + (v.is<std::string>() ? v.get<std::string>() : v.serialize()) +
                                        "'"));
      return;
    }
    ids.push_back(v.get<std::string>());
  }
  call_core(self, ctx,
            [ids, scale = *scale, wipe = *wipe, force = *force](Core& core,
                                                                  std::function<void(http::Response)> reply) {
              std::vector<std::string> known;
              for (const std::string& id : ids) {
                if (core.instances().count(id) > 0) {
                  known.push_back(id);
                }
              }
              kill_tasks(core, known, scale, wipe, force, false, reply);
            },
            respond);
}

// ---- /v2/deployments -------------------------------------------------------------

void deployments_dispatch(caf::io::broker* self, const Ctx& ctx, const http::Request& req,
                          const http::Responder& respond) {
  const std::string prefix = "/v2/deployments";
  std::string rest = req.path.substr(std::min(req.path.size(), prefix.size()));
  if (!rest.empty() && rest.front() != '/') {
    respond(message_response(404, "URI not found"));
    return;
  }
  std::string id(trim(rest, "/"));
  if (id.empty()) {
    if (req.method != "GET") {
      respond(message_response(405, "Method " + req.method + " is not allowed on " + req.path));
      return;
    }
    call_core(self, ctx,
              [](Core& core, std::function<void(http::Response)> reply) {
                picojson::array arr;
                for (const Deployment* d : core.deployments()) {
                  arr.emplace_back(deployment_json(*d));
                }
                reply(http::json_response(picojson::value(arr)));
              },
              respond);
    return;
  }
  if (req.method != "DELETE" || id.find('/') != std::string::npos) {
    respond(id.find('/') != std::string::npos
                ? message_response(404, "URI not found")
                : message_response(405, "Method " + req.method + " is not allowed on " + req.path));
    return;
  }
  Try<bool> force = query_bool(req, "force", false);
  if (force.is_error()) {
    respond(message_response(400, force.error()));
    return;
  }
  call_core(self, ctx,
            [id, force = *force](Core& core, std::function<void(http::Response)> reply) {
              core.cancel_deployment(id, force, [id, force, reply](std::optional<Outcome> outcome) {
                if (!outcome) {
                  reply(message_response(404, "DeploymentPlan " + id + " does not exist"));
                  return;
                }
                if (force && std::holds_alternative<DeploymentResult>(*outcome)) {
                  http::Response r;
                  r.status = 202;
                  reply(std::move(r));
                  return;
                }
                reply(outcome_response(*outcome));
              });
            },
            respond);
}

// ---- /v2/queue -------------------------------------------------------------------

picojson::object queue_item_json(const QueueEntry& e, const App* app, Timestamp now, bool unused_offers) {
  picojson::object o;
  o["count"] = picojson::value(static_cast<int64_t>(e.count));
  o["role"] = picojson::value(app != nullptr ? app->role : std::string("*"));
  picojson::object delay;
  const Timestamp left = std::max<Timestamp>(0, e.delay_until - now);
  delay["timeLeftSeconds"] = picojson::value(static_cast<int64_t>((left + 999) / 1000));
  delay["overdue"] = picojson::value(e.delay_until <= now);
  o["delay"] = picojson::value(delay);
  o["since"] = picojson::value(format_timestamp(e.since));
  picojson::object summary;
  summary["processedOffersCount"] = picojson::value(static_cast<int64_t>(e.processed_offers));
  summary["unusedOffersCount"] = picojson::value(static_cast<int64_t>(e.unused_offers));
  picojson::array rejects;
  for (const auto& [reason, declined] : e.last_rejects) {
    picojson::object r;
    r["reason"] = picojson::value(reason);
    r["declined"] = picojson::value(static_cast<int64_t>(declined));
    r["processed"] = picojson::value(static_cast<int64_t>(e.processed_offers));
    rejects.emplace_back(r);
  }
  summary["rejectSummaryLastOffers"] = picojson::value(rejects);
  summary["rejectSummaryLaunchAttempt"] = picojson::value(rejects);
  o["processedOffersSummary"] = picojson::value(summary);
  if (app != nullptr) {
    o["app"] = picojson::value(app_json(*app));
  }
  if (unused_offers) {
    // Single unused offers are not kept (only their counts above).
    o["lastUnusedOffers"] = picojson::value(picojson::array());
  }
  return o;
}

void queue_dispatch(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const http::Responder& respond) {
  const std::string prefix = "/v2/queue";
  std::string rest(trim(req.path.substr(std::min(req.path.size(), prefix.size())), "/"));
  if (req.path.size() > prefix.size() && req.path[prefix.size()] != '/') {
    respond(message_response(404, "URI not found"));
    return;
  }
  if (rest.empty()) {
    if (req.method != "GET") {
      respond(message_response(405, "Method " + req.method + " is not allowed on " + req.path));
      return;
    }
    std::vector<std::string> embed = query_values(req, "embed");
    const bool unused = std::find(embed.begin(), embed.end(), "lastUnusedOffers") != embed.end();
    call_core(self, ctx,
              [unused](Core& core, std::function<void(http::Response)> reply) {
                picojson::array arr;
                const Timestamp now = now_ms();
                for (const QueueEntry& e : core.queue()) {
                  arr.emplace_back(queue_item_json(e, core.app(e.app_id), now, unused));
                }
                picojson::object o;
                o["queue"] = picojson::value(arr);
                reply(http::json_response(picojson::value(o)));
              },
              respond);
    return;
  }
  const std::string suffix = "/delay";
  if (rest.size() <= suffix.size() || rest.compare(rest.size() - suffix.size(), suffix.size(), suffix) != 0) {
    respond(message_response(404, "URI not found"));
    return;
  }
  if (req.method != "DELETE") {
    respond(message_response(405, "Method " + req.method + " is not allowed on " + req.path));
    return;
  }
  Try<std::string> id = canonical_id("/" + rest.substr(0, rest.size() - suffix.size()));
  if (id.is_error()) {
    respond(message_response(404, "URI not found"));
    return;
  }
  call_core(self, ctx,
            [id = *id](Core& core, std::function<void(http::Response)> reply) {
              if (!core.reset_delay(id)) {
                reply(message_response(404, "Application " + id + " not found in tasks queue."));
                return;
              }
              http::Response r;
              r.status = 204;
              reply(std::move(r));
            },
            respond);
}

http::Route tasks_route(std::string path, bool prefix, std::vector<std::string> methods, std::string help,
                        std::function<void(caf::io::broker*, const Ctx&, const http::Request&, const http::Responder&)> fn,
                        const Ctx& ctx) {
  http::Route r;
  r.path = std::move(path);
  r.prefix = prefix;
  r.methods = std::move(methods);
  r.help = std::move(help);
  r.handler = [ctx, fn = std::move(fn)](caf::io::broker* self, const http::Request& req, http::Responder respond) {
    fn(self, ctx, req, respond);
  };
  return r;
}

}  // namespace

std::string tasks_text_plain(const Core& core, const std::vector<const App*>& apps) {
  std::string out;
  for (const App* app : apps) {
    std::string safe_id = app->id.substr(app->id.empty() ? 0 : 1);
    std::replace(safe_id.begin(), safe_id.end(), '/', '_');
    std::vector<const Instance*> running;
    for (const Instance* i : core.tasks_of(app->id)) {
      if (i->running()) {
        running.push_back(i);
      }
    }
    const std::vector<int> service_ports = app->service_ports();
    if (service_ports.empty()) {
      out += safe_id + "\t \t";
      for (const Instance* i : running) {
        out += i->host + "\t";
      }
      out += "\n";
      continue;
    }
    for (size_t p = 0; p < service_ports.size(); ++p) {
      out += safe_id + "\t" + std::to_string(service_ports[p]) + "\t";
      for (const Instance* i : running) {
        out += i->host + ":" + std::to_string(p < i->host_ports.size() ? i->host_ports[p] : 0) + "\t";
      }
      out += "\n";
    }
  }
  return out;
}

std::vector<http::Route> task_routes(const Ctx& ctx) {
  return {
      tasks_route("/v2/tasks", false, {"GET"},
                  "Marathon's GET /v2/tasks: every running task (status= filter), with servicePorts.", tasks_index,
                  ctx),
      tasks_route("/v2/tasks/delete", false, {"POST"},
                  "Marathon's POST /v2/tasks/delete {\"ids\":[…]} (scale, wipe, force).", tasks_delete, ctx),
      tasks_route("/v2/deployments", true, {"GET", "DELETE"},
                  "Marathon's /v2/deployments: GET the running deployments, DELETE /{id} (force=true cancels).",
                  deployments_dispatch, ctx),
      tasks_route("/v2/queue", true, {"GET", "DELETE"},
                  "Marathon's /v2/queue: the launch queue; DELETE /v2/queue/{appId}/delay resets a launch delay.",
                  queue_dispatch, ctx),
  };
}

}  // namespace stoa::services::rest_detail
