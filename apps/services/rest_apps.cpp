// /v2/apps (marathon.md §1.1): the app collection, one app (nested ids,
// `grp/*`), its restart, tasks and versions.

#include <algorithm>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "apps/services/rest_internal.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"

namespace stoa::services::rest_detail {

namespace {

constexpr std::string_view APPS_PREFIX = "/v2/apps";

// ---- the label selector (LabelSelector) ------------------------------------

struct AppsSelector {
  std::string key;
  std::string op;  // "exists", "==", "!=", "in", "notin"
  std::vector<std::string> values;
};

// Splits at `sep` outside parentheses and escapes; keeps escapes in place.
std::vector<std::string> apps_split_unescaped(std::string_view text, char sep) {
  std::vector<std::string> out(1);
  int depth = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      out.back() += c;
      out.back() += text[++i];
      continue;
    }
    if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    }
    if (c == sep && depth == 0) {
      out.emplace_back();
      continue;
    }
    out.back() += c;
  }
  return out;
}

// A key or value: [A-Za-z0-9._-] or backslash-escaped characters.
Try<std::string> apps_selector_word(std::string_view text) {
  std::string word(trim(text));
  std::string out;
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c == '\\' && i + 1 < word.size()) {
      out += word[++i];
      continue;
    }
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return Error("unescaped '" + std::string(1, c) + "'");
    }
    out += c;
  }
  if (out.empty()) {
    return Error("empty key or value");
  }
  return out;
}

Try<std::vector<AppsSelector>> apps_parse_selector(std::string_view text) {
  std::vector<AppsSelector> out;
  auto fail = [&text]() { return Error("Can not parse label selector " + std::string(text)); };
  for (const std::string& term : apps_split_unescaped(text, ',')) {
    AppsSelector s;
    std::string t(trim(term));
    size_t eq = t.find("==");
    size_t ne = t.find("!=");
    size_t paren = t.find('(');
    if (paren != std::string::npos) {
      if (t.back() != ')') {
        return fail();
      }
      std::string head(trim(std::string_view(t).substr(0, paren)));
      size_t space = head.find_last_of(" \t");
      if (space == std::string::npos) {
        return fail();
      }
      s.op = std::string(trim(std::string_view(head).substr(space + 1)));
      if (s.op != "in" && s.op != "notin") {
        return fail();
      }
      Try<std::string> key = apps_selector_word(std::string_view(head).substr(0, space));
      if (key.is_error()) {
        return fail();
      }
      s.key = *key;
      for (const std::string& v :
           apps_split_unescaped(std::string_view(t).substr(paren + 1, t.size() - paren - 2), ',')) {
        Try<std::string> value = apps_selector_word(v);
        if (value.is_error()) {
          return fail();
        }
        s.values.push_back(*value);
      }
    } else if (eq != std::string::npos || ne != std::string::npos) {
      size_t at = eq != std::string::npos ? eq : ne;
      s.op = eq != std::string::npos ? "==" : "!=";
      Try<std::string> key = apps_selector_word(std::string_view(t).substr(0, at));
      Try<std::string> value = apps_selector_word(std::string_view(t).substr(at + 2));
      if (key.is_error() || value.is_error()) {
        return fail();
      }
      s.key = *key;
      s.values = {*value};
    } else {
      Try<std::string> key = apps_selector_word(t);
      if (key.is_error()) {
        return fail();
      }
      s.key = *key;
      s.op = "exists";
    }
    out.push_back(std::move(s));
  }
  return out;
}

bool apps_selected(const App& app, const std::vector<AppsSelector>& selectors) {
  for (const AppsSelector& s : selectors) {
    auto it = app.labels.find(s.key);
    bool has = it != app.labels.end();
    bool in = has && std::find(s.values.begin(), s.values.end(), it->second) != s.values.end();
    bool ok = (s.op == "exists" && has) || ((s.op == "==" || s.op == "in") && in) ||
              ((s.op == "!=" || s.op == "notin") && has && !in);
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool apps_contains_ci(const std::string& haystack, const std::string& needle) {
  return lower(haystack).find(lower(needle)) != std::string::npos;
}

// ---- the collection ----------------------------------------------------------

void apps_index(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const http::Responder& respond) {
  std::vector<AppsSelector> selectors;
  if (auto it = req.query.find("label"); it != req.query.end() && !it->second.empty()) {
    Try<std::vector<AppsSelector>> parsed = apps_parse_selector(it->second);
    if (parsed.is_error()) {
      respond(message_response(422, parsed.error()));
      return;
    }
    selectors = *parsed;
  }
  std::string cmd = req.query.count("cmd") > 0 ? req.query.at("cmd") : "";
  std::string id = req.query.count("id") > 0 ? req.query.at("id") : "";
  AppEmbed embed = parse_app_embed(query_values(req, "embed"), {"apps.", "app.", "group.apps.", ""});
  call_core(self, ctx,
            [selectors, cmd, id, embed](Core& core, std::function<void(http::Response)> reply) {
              picojson::array apps;
              for (const auto& [app_id, app] : core.apps()) {
                if (!cmd.empty() && !(app.cmd && apps_contains_ci(*app.cmd, cmd))) {
                  continue;
                }
                if (!id.empty() && !apps_contains_ci(app_id, id)) {
                  continue;
                }
                if (!apps_selected(app, selectors)) {
                  continue;
                }
                apps.emplace_back(app_info(core, app, embed));
              }
              picojson::object o;
              o["apps"] = picojson::value(apps);
              reply(http::json_response(picojson::value(o)));
            },
            respond);
}

void apps_create(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const http::Responder& respond) {
  Try<bool> force = query_bool(req, "force", false);
  if (force.is_error()) {
    respond(message_response(400, force.error()));
    return;
  }
  auto body = parse_body(req);
  if (auto* e = std::get_if<ApiError>(&body)) {
    respond(api_error_response(*e));
    return;
  }
  auto parsed = parse_app(std::get<picojson::value>(body));
  if (auto* e = std::get_if<ApiError>(&parsed)) {
    respond(api_error_response(*e));
    return;
  }
  App app = std::get<App>(std::move(parsed));
  Change change;
  change.upserts[app.id] = app;
  change.force = *force;
  change.client_ip = client_ip(req);
  change.uri = req.path;
  change.post_event = true;
  std::string host = req.headers.count("host") > 0 ? req.headers.at("host") : ctx->self;
  call_core(self, ctx,
            [app, change, host](Core& core, std::function<void(http::Response)> reply) {
              if (core.app(app.id) != nullptr) {
                reply(message_response(409, "An app with id [" + app.id + "] already exists."));
                return;
              }
              Core* c = &core;
              core.change(change, [c, app, host, reply](Outcome outcome) {
                if (auto* e = std::get_if<ApiError>(&outcome)) {
                  reply(api_error_response(*e));
                  return;
                }
                const auto& result = std::get<DeploymentResult>(outcome);
                App created = app;
                if (const App* stored = c->app(app.id)) {
                  created = *stored;
                } else {
                  created.version = result.version;
                }
                picojson::object o = app_json(created);
                o["tasksStaged"] = picojson::value(int64_t{0});
                o["tasksRunning"] = picojson::value(int64_t{0});
                o["tasksHealthy"] = picojson::value(int64_t{0});
                o["tasksUnhealthy"] = picojson::value(int64_t{0});
                picojson::array deployments;
                if (!result.deployment_id.empty()) {
                  picojson::object ref;
                  ref["id"] = picojson::value(result.deployment_id);
                  deployments.emplace_back(ref);
                }
                o["deployments"] = picojson::value(deployments);
                http::Response r = http::json_response(picojson::value(o), 201);
                r.headers.emplace_back("Location", "http://" + host + created.id);
                if (!result.deployment_id.empty()) {
                  r.headers.emplace_back("Marathon-Deployment-Id", result.deployment_id);
                }
                reply(std::move(r));
              });
            },
            respond);
}

// PUT/PATCH /v2/apps: an array of app updates, each with an id.
void apps_update_many(caf::io::broker* self, const Ctx& ctx, const http::Request& req,
                      const http::Responder& respond) {
  Try<bool> force = query_bool(req, "force", false);
  Try<bool> partial = query_bool(req, "partialUpdate", true);
  if (force.is_error() || partial.is_error()) {
    respond(message_response(400, force.is_error() ? force.error() : partial.error()));
    return;
  }
  auto body = parse_body(req);
  if (auto* e = std::get_if<ApiError>(&body)) {
    respond(api_error_response(*e));
    return;
  }
  const picojson::value& json = std::get<picojson::value>(body);
  if (!json.is<picojson::array>()) {
    respond(api_error_response(invalid_json_shape({{"/", "error.expected.jsarray"}})));
    return;
  }
  std::vector<std::pair<std::string, picojson::value>> updates;
  const auto& arr = json.get<picojson::array>();
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string path = "(" + std::to_string(i) + ")/id";
    if (!arr[i].is<picojson::object>() || !arr[i].get("id").is<std::string>()) {
      respond(api_error_response(invalid_object({{path, "must be defined"}})));
      return;
    }
    Try<std::string> id = canonical_id(arr[i].get("id").get<std::string>());
    if (id.is_error()) {
      respond(api_error_response(invalid_object({{path, id.error()}})));
      return;
    }
    updates.emplace_back(*id, arr[i]);
  }
  const bool patch = req.method == "PATCH";
  const bool merge = patch || *partial;
  Change change;
  change.force = *force;
  // Each updated app's api_post_event, as for one app (marathon-lb reloads on it).
  change.client_ip = client_ip(req);
  change.uri = req.path;
  change.post_event = true;
  call_core(self, ctx,
            [updates, patch, merge, change](Core& core, std::function<void(http::Response)> reply) mutable {
              for (const auto& [id, update] : updates) {
                const App* current = core.app(id);
                if (current == nullptr && patch) {
                  reply(message_response(404, "App '" + id + "' does not exist"));
                  return;
                }
                ParseOptions options;
                options.path_id = id;
                if (current != nullptr && merge) {
                  auto u = apply_update(*current, update, options);
                  if (auto* e = std::get_if<ApiError>(&u)) {
                    reply(api_error_response(*e));
                    return;
                  }
                  change.upserts[id] = std::get<AppUpdate>(u).app;
                } else {
                  auto a = parse_app(update, options);
                  if (auto* e = std::get_if<ApiError>(&a)) {
                    reply(api_error_response(*e));
                    return;
                  }
                  change.upserts[id] = std::get<App>(a);
                }
                change.upserts[id].id = id;
              }
              core.change(change, [reply](Outcome outcome) { reply(outcome_response(outcome)); });
            },
            respond);
}

// ---- one app -------------------------------------------------------------------

enum class AppsSub { APP, RESTART, TASKS, TASK, VERSIONS, VERSION };

struct AppsTarget {
  AppsSub sub = AppsSub::APP;
  std::string id;        // canonical app id, or the group of a `grp/*`
  bool wildcard = false; // `grp/*`
  std::string arg;       // task id or version
};

Try<AppsTarget> apps_target(const std::string& path) {
  std::vector<std::string> segs;
  for (const std::string& s : split(path.substr(APPS_PREFIX.size()), '/')) {
    if (!s.empty()) {
      segs.push_back(s);
    }
  }
  AppsTarget t;
  const size_t n = segs.size();
  if (n >= 2 && segs[n - 1] == "restart") {
    t.sub = AppsSub::RESTART;
    segs.pop_back();
  } else if (n >= 2 && segs[n - 1] == "tasks") {
    t.sub = AppsSub::TASKS;
    segs.pop_back();
  } else if (n >= 2 && segs[n - 1] == "versions") {
    t.sub = AppsSub::VERSIONS;
    segs.pop_back();
  } else if (n >= 3 && segs[n - 2] == "tasks") {
    t.sub = AppsSub::TASK;
    t.arg = segs[n - 1];
    segs.resize(n - 2);
  } else if (n >= 3 && segs[n - 2] == "versions") {
    t.sub = AppsSub::VERSION;
    t.arg = segs[n - 1];
    segs.resize(n - 2);
  }
  if (!segs.empty() && segs.back() == "*") {
    t.wildcard = true;
    segs.pop_back();
  }
  Try<std::string> id = canonical_id("/" + join(segs, "/"));
  if (id.is_error()) {
    return Error(id.error());
  }
  t.id = *id;
  return t;
}

http::Response apps_missing(const std::string& id) {
  return message_response(404, "App '" + id + "' does not exist");
}

void apps_get_one(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const AppsTarget& t,
                  const http::Responder& respond) {
  AppEmbed embed = parse_app_embed(query_values(req, "embed"), {"apps.", "app.", ""});
  embed.tasks = true;
  embed.last_task_failure = true;
  call_core(self, ctx,
            [t, embed](Core& core, std::function<void(http::Response)> reply) {
              picojson::object o;
              if (t.wildcard) {
                picojson::array apps;
                for (const App* app : apps_under(core, t.id)) {
                  apps.emplace_back(app_info(core, *app, embed));
                }
                o["*"] = picojson::value(apps);
              } else if (const App* app = core.app(t.id)) {
                o["app"] = picojson::value(app_info(core, *app, embed));
              } else {
                reply(apps_missing(t.id));
                return;
              }
              reply(http::json_response(picojson::value(o)));
            },
            respond);
}

// PUT (creates when missing; partialUpdate=true merges) and PATCH (merges).
void apps_put_one(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const AppsTarget& t,
                  const http::Responder& respond) {
  Try<bool> force = query_bool(req, "force", false);
  Try<bool> partial = query_bool(req, "partialUpdate", true);
  if (force.is_error() || partial.is_error()) {
    respond(message_response(400, force.is_error() ? force.error() : partial.error()));
    return;
  }
  auto body = parse_body(req);
  if (auto* e = std::get_if<ApiError>(&body)) {
    respond(api_error_response(*e));
    return;
  }
  const picojson::value json = std::get<picojson::value>(body);
  const bool patch = req.method == "PATCH";
  const bool merge = patch || *partial;
  Change change;
  change.force = *force;
  change.client_ip = client_ip(req);
  change.uri = req.path;
  change.post_event = true;
  const std::string id = t.id;
  const std::string host = req.headers.count("host") > 0 ? req.headers.at("host") : ctx->self;
  call_core(
      self, ctx,
      [id, json, patch, merge, change, host](Core& core, std::function<void(http::Response)> reply) mutable {
        const App* current = core.app(id);
        if (current == nullptr && patch) {
          reply(apps_missing(id));
          return;
        }
        const bool rollback = json.is<picojson::object>() && json.get<picojson::object>().size() == 1 &&
                              json.contains("version");
        ParseOptions options;
        options.path_id = id;
        auto finish = [id, host, reply, created = current == nullptr](Outcome outcome) {
          http::Response r = outcome_response(outcome, created ? 201 : 200);
          if (created && r.status == 201) {
            r.headers.emplace_back("Location", "http://" + host + id);
          }
          reply(std::move(r));
        };
        if (current != nullptr && (merge || rollback)) {
          auto u = apply_update(*current, json, options);
          if (auto* e = std::get_if<ApiError>(&u)) {
            reply(api_error_response(*e));
            return;
          }
          AppUpdate update = std::get<AppUpdate>(std::move(u));
          if (update.rollback_to) {
            Core* c = &core;
            Timestamp ts = *update.rollback_to;
            core.app_version(id, ts, [c, id, ts, change, finish, reply](std::optional<App> old) mutable {
              if (!old) {
                reply(message_response(404, "App '" + id + "' does not exist in version " + format_timestamp(ts)));
                return;
              }
              old->id = id;
              change.upserts[id] = *old;
              c->change(change, finish);
            });
            return;
          }
          change.upserts[id] = update.app;
        } else {
          auto a = parse_app(json, options);
          if (auto* e = std::get_if<ApiError>(&a)) {
            reply(api_error_response(*e));
            return;
          }
          change.upserts[id] = std::get<App>(a);
        }
        change.upserts[id].id = id;
        core.change(change, finish);
      },
      respond);
}

void apps_delete_one(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const AppsTarget& t,
                     const http::Responder& respond, bool restart) {
  Try<bool> force = query_bool(req, "force", !restart);
  if (force.is_error()) {
    respond(message_response(400, force.error()));
    return;
  }
  Change change;
  change.force = *force;
  if (restart) {
    change.restarts.insert(t.id);
  } else {
    change.removals.insert(t.id);
  }
  const std::string id = t.id;
  call_core(self, ctx,
            [id, change](Core& core, std::function<void(http::Response)> reply) {
              if (core.app(id) == nullptr) {
                reply(apps_missing(id));
                return;
              }
              core.change(change, [reply](Outcome outcome) { reply(outcome_response(outcome)); });
            },
            respond);
}

void apps_tasks(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const AppsTarget& t,
                const http::Responder& respond) {
  const bool text = wants_text_plain(req);
  call_core(self, ctx,
            [t, text](Core& core, std::function<void(http::Response)> reply) {
              std::vector<const App*> apps;
              if (t.wildcard) {
                apps = apps_under(core, t.id);
              } else if (const App* app = core.app(t.id)) {
                apps.push_back(app);
              } else {
                reply(apps_missing(t.id));
                return;
              }
              if (text) {
                reply(http::text_response(tasks_text_plain(core, apps), 200, "text/plain"));
                return;
              }
              picojson::array tasks;
              for (const App* app : apps) {
                for (const Instance* i : core.tasks_of(app->id)) {
                  tasks.emplace_back(task_json(*i, app, false));
                }
              }
              picojson::object o;
              o["tasks"] = picojson::value(tasks);
              reply(http::json_response(picojson::value(o)));
            },
            respond);
}

// DELETE …/tasks (host filter) and …/tasks/{taskId}.
void apps_kill(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const AppsTarget& t,
               const http::Responder& respond) {
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
  std::string host = req.query.count("host") > 0 ? req.query.at("host") : "*";
  const bool single = t.sub == AppsSub::TASK;
  call_core(self, ctx,
            [t, host, single, scale = *scale, wipe = *wipe, force = *force](
                Core& core, std::function<void(http::Response)> reply) {
              if (core.app(t.id) == nullptr) {
                reply(apps_missing(t.id));
                return;
              }
              std::vector<std::string> ids;
              for (const Instance* i : core.tasks_of(t.id)) {
                if (single ? i->task_id == t.arg : (host.empty() || host == "*" || i->host == host)) {
                  ids.push_back(i->task_id);
                }
              }
              if (single && ids.empty()) {
                reply(message_response(404, "Task '" + t.arg + "' does not exist"));
                return;
              }
              kill_tasks(core, ids, scale, wipe, force, single, reply);
            },
            respond);
}

void apps_versions(caf::io::broker* self, const Ctx& ctx, const AppsTarget& t, const http::Responder& respond) {
  std::optional<Timestamp> version;
  if (t.sub == AppsSub::VERSION) {
    Try<Timestamp> ts = parse_timestamp(t.arg);
    if (ts.is_error()) {
      respond(message_response(400, ts.error()));
      return;
    }
    version = *ts;
  }
  call_core(self, ctx,
            [t, version](Core& core, std::function<void(http::Response)> reply) {
              if (core.app(t.id) == nullptr) {
                reply(apps_missing(t.id));
                return;
              }
              if (!version) {
                picojson::array arr;
                for (Timestamp v : core.versions(t.id)) {
                  arr.emplace_back(format_timestamp(v));
                }
                picojson::object o;
                o["versions"] = picojson::value(arr);
                reply(http::json_response(picojson::value(o)));
                return;
              }
              core.app_version(t.id, *version, [t, reply](std::optional<App> app) {
                if (!app) {
                  reply(message_response(404, "App '" + t.id + "' does not exist in version " + t.arg));
                  return;
                }
                reply(http::json_response(picojson::value(app_json(*app))));
              });
            },
            respond);
}

void apps_dispatch(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const http::Responder& respond) {
  const std::string& path = req.path;
  if (path.rfind(APPS_PREFIX, 0) != 0 || (path.size() > APPS_PREFIX.size() && path[APPS_PREFIX.size()] != '/')) {
    respond(message_response(404, "URI not found"));
    return;
  }
  auto not_allowed = [&respond, &req]() {
    respond(message_response(405, "Method " + req.method + " is not allowed on " + req.path));
  };
  if (path.find_first_not_of('/', APPS_PREFIX.size()) == std::string::npos) {
    if (req.method == "GET") {
      apps_index(self, ctx, req, respond);
    } else if (req.method == "POST") {
      apps_create(self, ctx, req, respond);
    } else if (req.method == "PUT" || req.method == "PATCH") {
      apps_update_many(self, ctx, req, respond);
    } else {
      not_allowed();
    }
    return;
  }
  Try<AppsTarget> target = apps_target(path);
  if (target.is_error()) {
    respond(message_response(404, "App does not exist: " + target.error()));
    return;
  }
  const AppsTarget& t = *target;
  const std::string& m = req.method;
  if (t.wildcard && !(m == "GET" && (t.sub == AppsSub::APP || t.sub == AppsSub::TASKS))) {
    not_allowed();
    return;
  }
  switch (t.sub) {
    case AppsSub::APP:
      if (m == "GET") {
        apps_get_one(self, ctx, req, t, respond);
      } else if (m == "PUT" || m == "PATCH") {
        apps_put_one(self, ctx, req, t, respond);
      } else if (m == "DELETE") {
        apps_delete_one(self, ctx, req, t, respond, false);
      } else {
        not_allowed();
      }
      return;
    case AppsSub::RESTART:
      if (m == "POST") {
        apps_delete_one(self, ctx, req, t, respond, true);
      } else {
        not_allowed();
      }
      return;
    case AppsSub::TASKS:
    case AppsSub::TASK:
      if (m == "GET" && t.sub == AppsSub::TASKS) {
        apps_tasks(self, ctx, req, t, respond);
      } else if (m == "DELETE") {
        apps_kill(self, ctx, req, t, respond);
      } else {
        not_allowed();
      }
      return;
    case AppsSub::VERSIONS:
    case AppsSub::VERSION:
      if (m == "GET") {
        apps_versions(self, ctx, t, respond);
      } else {
        not_allowed();
      }
      return;
  }
}

}  // namespace

std::vector<http::Route> app_routes(const Ctx& ctx) {
  http::Route r;
  r.path = std::string(APPS_PREFIX);
  r.prefix = true;
  r.methods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  r.help = "Marathon's /v2/apps: the apps, one app (nested ids, grp/*), /restart, /tasks[/{taskId}], "
           "/versions[/{ts}].";
  r.handler = [ctx](caf::io::broker* self, const http::Request& req, http::Responder respond) {
    apps_dispatch(self, ctx, req, respond);
  };
  return {r};
}

}  // namespace stoa::services::rest_detail
