// /v2/groups (marathon.md §1.1): groups are not stored; the tree is built
// from the app ids ("/prod/web" is in group "/prod"), and a group write is
// one Change of its apps.

#include <algorithm>
#include <climits>
#include <cmath>
#include <memory>
#include <set>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "apps/services/plan.hpp"
#include "apps/services/rest_internal.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"

namespace stoa::services::rest_detail {

namespace {

constexpr std::string_view GROUPS_PREFIX = "/v2/groups";

struct GroupsEmbed {
  bool apps = true;
  bool groups = true;
  bool app_info = false;  // any group.apps.<x>: AppInfo with counts and deployments
  AppEmbed app;
};

GroupsEmbed groups_parse_embed(const std::vector<std::string>& values) {
  GroupsEmbed e;
  if (values.empty()) {
    return e;
  }
  e.apps = false;
  e.groups = false;
  std::vector<std::string> app_values;
  for (const std::string& v : values) {
    if (v == "group.apps") {
      e.apps = true;
    } else if (v == "group.groups") {
      e.groups = true;
    } else if (v.rfind("group.apps.", 0) == 0) {
      e.apps = true;
      e.app_info = true;
      app_values.push_back(v);
    } else if (v != "group.pods") {
      LOG_INFO << "Ignoring unknown embed value '" << v << "'";
    }
  }
  e.app = parse_app_embed(app_values, {"group.apps."});
  return e;
}

// The direct child groups of `gid` among `ids` ("/a/b/c" under "/a" → "/a/b").
std::set<std::string> groups_children(const std::vector<std::string>& ids, const std::string& gid) {
  std::set<std::string> out;
  const std::string prefix = gid == "/" ? "/" : gid + "/";
  for (const std::string& id : ids) {
    if (id.rfind(prefix, 0) != 0) {
      continue;
    }
    size_t slash = id.find('/', prefix.size());
    if (slash != std::string::npos) {
      out.insert(id.substr(0, slash));
    }
  }
  return out;
}

std::vector<std::string> groups_app_ids(const std::map<std::string, App>& apps) {
  std::vector<std::string> ids;
  for (const auto& [id, app] : apps) {
    ids.push_back(id);
  }
  return ids;
}

bool groups_under(const std::string& id, const std::string& gid) {
  return gid == "/" || id == gid || id.rfind(gid + "/", 0) == 0;
}

// Below `gid`, `gid` itself excluded.
bool groups_strictly_under(const std::string& id, const std::string& gid) {
  return id != gid && groups_under(id, gid);
}

picojson::object groups_json(const Core& core, const std::string& gid, const GroupsEmbed& embed) {
  picojson::object o;
  o["id"] = picojson::value(gid);
  picojson::array apps;
  Timestamp version = 0;
  for (const App* app : apps_under(core, gid)) {
    version = std::max(version, app->version);
    if (embed.apps && parent_id(app->id) == gid) {
      apps.emplace_back(embed.app_info ? app_info(core, *app, embed.app) : app_json(*app));
    }
  }
  picojson::array groups;
  if (embed.groups) {
    for (const std::string& child : groups_children(groups_app_ids(core.apps()), gid)) {
      groups.emplace_back(groups_json(core, child, embed));
    }
  }
  o["apps"] = picojson::value(apps);
  o["groups"] = picojson::value(groups);
  o["pods"] = picojson::value(picojson::array());
  o["dependencies"] = picojson::value(picojson::array());
  o["version"] = picojson::value(format_timestamp(version));
  o["enforceRole"] = picojson::value(false);
  return o;
}

bool groups_exists(const Core& core, const std::string& gid) {
  return gid == "/" || !apps_under(core, gid).empty();
}

http::Response groups_missing(const std::string& gid) {
  return message_response(404, "Group '" + gid + "' does not exist");
}

// Applies a GroupUpdate body for group `gid` to `target` (every app by id):
// a given `apps` list replaces the group's own apps, a given `groups` list
// replaces its subgroups (recursively).
std::optional<ApiError> groups_apply(const picojson::value& update, const std::string& gid,
                                     std::map<std::string, App>& target, const std::string& path) {
  if (!update.is<picojson::object>()) {
    return invalid_json_shape({{path.empty() ? "/" : path, "error.expected.jsobject"}});
  }
  if (update.contains("apps")) {
    if (!update.get("apps").is<picojson::array>()) {
      return invalid_json_shape({{path + "/apps", "error.expected.jsarray"}});
    }
    for (auto it = target.begin(); it != target.end();) {
      it = parent_id(it->first) == gid ? target.erase(it) : std::next(it);
    }
    ParseOptions options;
    options.base = gid;
    for (const picojson::value& a : update.get("apps").get<picojson::array>()) {
      auto parsed = parse_app(a, options);
      if (auto* e = std::get_if<ApiError>(&parsed)) {
        return *e;
      }
      App app = std::get<App>(std::move(parsed));
      if (!groups_strictly_under(app.id, gid)) {
        return invalid_object({{path + "/apps", "the app '" + app.id + "' is not in the group '" + gid + "'"}});
      }
      target[app.id] = std::move(app);
    }
  }
  if (update.contains("groups")) {
    if (!update.get("groups").is<picojson::array>()) {
      return invalid_json_shape({{path + "/groups", "error.expected.jsarray"}});
    }
    std::set<std::string> listed;
    std::vector<std::pair<std::string, const picojson::value*>> subs;
    const auto& arr = update.get("groups").get<picojson::array>();
    for (size_t i = 0; i < arr.size(); ++i) {
      const std::string sub_path = path + "/groups(" + std::to_string(i) + ")";
      if (!arr[i].is<picojson::object>() || !arr[i].get("id").is<std::string>()) {
        return invalid_object({{sub_path + "/id", "must be defined"}});
      }
      Try<std::string> sid = canonical_id(arr[i].get("id").get<std::string>(), gid);
      if (sid.is_error()) {
        return invalid_object({{sub_path + "/id", sid.error()}});
      }
      // An update of `gid` changes nothing outside it (a sub-group "/" would
      // otherwise replace the top-level apps).
      if (!groups_strictly_under(*sid, gid)) {
        return invalid_object({{sub_path + "/id", "the group '" + *sid + "' is not a subgroup of '" + gid + "'"}});
      }
      listed.insert(*sid);
      subs.emplace_back(*sid, &arr[i]);
    }
    for (const std::string& child : groups_children(groups_app_ids(target), gid)) {
      if (listed.count(child) == 0) {
        for (auto it = target.begin(); it != target.end();) {
          it = groups_under(it->first, child) ? target.erase(it) : std::next(it);
        }
      }
    }
    for (size_t i = 0; i < subs.size(); ++i) {
      if (auto e = groups_apply(*subs[i].second, subs[i].first, target,
                                path + "/groups(" + std::to_string(i) + ")")) {
        return e;
      }
    }
  }
  return std::nullopt;
}

// The change from the current apps to `target`.
Change groups_diff(const Core& core, const std::map<std::string, App>& target, bool force) {
  Change change;
  change.force = force;
  for (const auto& [id, app] : target) {
    const App* current = core.app(id);
    if (current == nullptr || is_upgrade(*current, app) || current->instances != app.instances) {
      change.upserts[id] = app;
    }
  }
  for (const auto& [id, app] : core.apps()) {
    if (target.count(id) == 0) {
      change.removals.insert(id);
    }
  }
  return change;
}

// PUT/PATCH {"version": ts}: every app of the group goes back to its newest
// version not after `ts`; apps younger than `ts` are removed.
void groups_rollback(Core& core, const std::string& gid, Timestamp ts, bool force,
                     const std::function<void(http::Response)>& reply) {
  struct Pending {
    Change change;
    size_t left = 0;
    bool failed = false;
  };
  auto pending = std::make_shared<Pending>();
  pending->change.force = force;
  std::vector<std::pair<std::string, Timestamp>> fetch;
  for (const App* app : apps_under(core, gid)) {
    std::optional<Timestamp> best;
    for (Timestamp v : core.versions(app->id)) {
      if (v <= ts && (!best || v > *best)) {
        best = v;
      }
    }
    if (!best) {
      pending->change.removals.insert(app->id);
    } else if (*best != app->version) {
      fetch.emplace_back(app->id, *best);
    }
  }
  Core* c = &core;
  auto finish = [c, pending, reply]() {
    c->change(pending->change, [reply](Outcome outcome) { reply(outcome_response(outcome)); });
  };
  if (fetch.empty()) {
    finish();
    return;
  }
  pending->left = fetch.size();
  for (const auto& [id, version] : fetch) {
    core.app_version(id, version, [pending, finish, reply, id = id](std::optional<App> old) {
      if (pending->failed) {
        return;
      }
      if (!old) {
        pending->failed = true;
        reply(message_response(404, "App '" + id + "' has no stored version to roll back to"));
        return;
      }
      old->id = id;
      pending->change.upserts[id] = *old;
      if (--pending->left == 0) {
        finish();
      }
    });
  }
}

void groups_write(caf::io::broker* self, const Ctx& ctx, const http::Request& req, const std::string& path_gid,
                  const http::Responder& respond) {
  Try<bool> force = query_bool(req, "force", false);
  Try<bool> dry_run = query_bool(req, "dryRun", false);
  if (force.is_error() || dry_run.is_error()) {
    respond(message_response(400, force.is_error() ? force.error() : dry_run.error()));
    return;
  }
  auto body = parse_body(req);
  if (auto* e = std::get_if<ApiError>(&body)) {
    respond(api_error_response(*e));
    return;
  }
  const picojson::value json = std::get<picojson::value>(body);
  if (!json.is<picojson::object>()) {
    respond(api_error_response(invalid_json_shape({{"/", "error.expected.jsobject"}})));
    return;
  }
  std::string gid = path_gid;
  if (json.get("id").is<std::string>()) {
    Try<std::string> id = canonical_id(json.get("id").get<std::string>(), path_gid);
    if (id.is_error()) {
      respond(api_error_response(invalid_object({{"/id", id.error()}})));
      return;
    }
    gid = *id;
  }
  std::optional<double> scale_by;
  if (json.contains("scaleBy")) {
    if (!json.get("scaleBy").is<double>() || json.get("scaleBy").get<double>() < 0) {
      respond(api_error_response(invalid_object({{"/scaleBy", "must be a number not below 0"}})));
      return;
    }
    scale_by = json.get("scaleBy").get<double>();
  }
  std::optional<Timestamp> version;
  if (json.get("version").is<std::string>()) {
    Try<Timestamp> ts = parse_timestamp(json.get("version").get<std::string>());
    if (ts.is_error()) {
      respond(api_error_response(invalid_object({{"/version", ts.error()}})));
      return;
    }
    version = *ts;
  }
  const bool create = req.method == "POST";
  call_core(
      self, ctx,
      [gid, json, create, scale_by, version, force = *force, dry_run = *dry_run](
          Core& core, std::function<void(http::Response)> reply) {
        const bool exists = gid != "/" && groups_exists(core, gid);
        if (create && exists) {
          reply(message_response(409, "Group " + gid + " is already created. Use PUT to change this group."));
          return;
        }
        if (version && !create && !dry_run) {
          groups_rollback(core, gid, *version, force, reply);
          return;
        }
        std::map<std::string, App> target = core.apps();
        if (scale_by && !create) {
          for (auto& [id, app] : target) {
            if (!groups_under(id, gid)) {
              continue;
            }
            // Checked in double: an int cast of a product past INT_MAX is undefined.
            const double scaled = std::ceil(static_cast<double>(app.instances) * *scale_by);
            if (!(scaled <= static_cast<double>(INT_MAX))) {
              reply(api_error_response(invalid_object(
                  {{"/scaleBy", "scaling " + id + "'s " + std::to_string(app.instances) + " instances by " +
                                    json_serialize(picojson::value(*scale_by)) + " gives more than " +
                                    std::to_string(INT_MAX) + " instances"}})));
              return;
            }
            app.instances = static_cast<int>(scaled);
          }
        } else if (auto e = groups_apply(json, gid, target, "")) {
          reply(api_error_response(*e));
          return;
        }
        if (dry_run) {
          Deployment plan = make_plan(core.apps(), target, {}, now_ms());
          picojson::object o;
          o["steps"] = deployment_json(plan)["steps"];
          reply(http::json_response(picojson::value(o)));
          return;
        }
        core.change(groups_diff(core, target, force),
                    [reply, create](Outcome outcome) { reply(outcome_response(outcome, create ? 201 : 200)); });
      },
      respond);
}

void groups_dispatch(caf::io::broker* self, const Ctx& ctx, const http::Request& req,
                     const http::Responder& respond) {
  const std::string& path = req.path;
  if (path.size() > GROUPS_PREFIX.size() && path[GROUPS_PREFIX.size()] != '/') {
    respond(message_response(404, "URI not found"));
    return;
  }
  std::vector<std::string> segs;
  for (const std::string& s : split(path.substr(GROUPS_PREFIX.size()), '/')) {
    if (!s.empty()) {
      segs.push_back(s);
    }
  }
  bool versions = false;
  if (!segs.empty() && segs.back() == "versions" && req.method == "GET") {
    versions = true;
    segs.pop_back();
  }
  Try<std::string> gid = canonical_id("/" + join(segs, "/"));
  if (gid.is_error()) {
    respond(message_response(404, "Group does not exist: " + gid.error()));
    return;
  }
  const std::string& m = req.method;
  if (m == "GET") {
    GroupsEmbed embed = groups_parse_embed(query_values(req, "embed"));
    call_core(self, ctx,
              [gid = *gid, embed, versions](Core& core, std::function<void(http::Response)> reply) {
                if (!groups_exists(core, gid)) {
                  reply(groups_missing(gid));
                  return;
                }
                if (versions) {
                  std::set<Timestamp, std::greater<>> all;
                  for (const App* app : apps_under(core, gid)) {
                    for (Timestamp v : core.versions(app->id)) {
                      all.insert(v);
                    }
                  }
                  picojson::array arr;
                  for (Timestamp v : all) {
                    arr.emplace_back(format_timestamp(v));
                  }
                  reply(http::json_response(picojson::value(arr)));
                  return;
                }
                reply(http::json_response(picojson::value(groups_json(core, gid, embed))));
              },
              respond);
  } else if (m == "POST" || m == "PUT" || m == "PATCH") {
    groups_write(self, ctx, req, *gid, respond);
  } else if (m == "DELETE") {
    Try<bool> force = query_bool(req, "force", false);
    if (force.is_error()) {
      respond(message_response(400, force.error()));
      return;
    }
    call_core(self, ctx,
              [gid = *gid, force = *force](Core& core, std::function<void(http::Response)> reply) {
                if (!groups_exists(core, gid)) {
                  reply(groups_missing(gid));
                  return;
                }
                Change change;
                change.force = force;
                for (const App* app : apps_under(core, gid)) {
                  change.removals.insert(app->id);
                }
                core.change(change, [reply](Outcome outcome) { reply(outcome_response(outcome)); });
              },
              respond);
  } else {
    respond(message_response(405, "Method " + m + " is not allowed on " + path));
  }
}

}  // namespace

std::vector<http::Route> group_routes(const Ctx& ctx) {
  http::Route r;
  r.path = std::string(GROUPS_PREFIX);
  r.prefix = true;
  r.methods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  r.help = "Marathon's /v2/groups[/{id}]: the group tree built from the app ids, /versions, and group "
           "writes (apps, groups, scaleBy, version, dryRun).";
  r.handler = [ctx](caf::io::broker* self, const http::Request& req, http::Responder respond) {
    groups_dispatch(self, ctx, req, respond);
  };
  return {r};
}

}  // namespace stoa::services::rest_detail
