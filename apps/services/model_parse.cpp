// Reading an app definition (model.hpp: parse_app, apply_update).
//
// Two phases, as Marathon has them: reading the JSON into an App (a value of
// the wrong JSON type is a 422 "Invalid JSON" with play-json's error keys,
// "error.expected.jsnumber" and friends), then normalization (ports →
// portDefinitions, uris → fetch, legacy docker.network, default
// portDefinitions) and validation of the whole app (a 422 "Object is not
// valid" listing every violation with its path). This file reads and
// normalizes; model_validate.cpp validates; model_internal.hpp holds the
// Reader they share. Nothing here throws.

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apps/services/model.hpp"
#include "apps/services/model_internal.hpp"
#include "common/json.hpp"

namespace stoa::services {

namespace model_in {
namespace {

const std::set<std::string>& hc_protocols() {
  static const std::set<std::string> s = {"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"};
  return s;
}

PortDefinition read_port_definition(Reader& r, const picojson::value& v, const std::string& path) {
  PortDefinition p;
  const picojson::object* o = r.object(v, path);
  if (o == nullptr) {
    return p;
  }
  r.opt_int(*o, "port", path, &p.port);
  r.opt_string(*o, "protocol", path, &p.protocol);
  r.opt_string(*o, "name", path, &p.name);
  r.opt_string_map(*o, "labels", path, &p.labels);
  return p;
}

PortMapping read_port_mapping(Reader& r, const picojson::value& v, const std::string& path) {
  PortMapping p;
  const picojson::object* o = r.object(v, path);
  if (o == nullptr) {
    return p;
  }
  r.opt_int(*o, "containerPort", path, &p.container_port);
  r.opt_int(*o, "hostPort", path, &p.host_port);
  r.opt_int(*o, "servicePort", path, &p.service_port);
  r.opt_string(*o, "protocol", path, &p.protocol);
  r.opt_string(*o, "name", path, &p.name);
  r.opt_string_map(*o, "labels", path, &p.labels);
  return p;
}

std::vector<PortMapping> read_port_mappings(Reader& r, const picojson::value& v, const std::string& path) {
  std::vector<PortMapping> out;
  if (const picojson::array* a = r.array(v, path)) {
    for (size_t i = 0; i < a->size(); ++i) {
      out.push_back(read_port_mapping(r, (*a)[i], idx(path, i)));
    }
  }
  return out;
}

HealthCheck read_health_check(Reader& r, const picojson::value& v, const std::string& path) {
  HealthCheck hc;
  const picojson::object* o = r.object(v, path);
  if (o == nullptr) {
    return hc;
  }
  r.opt_enum(*o, "protocol", path, hc_protocols(), &hc.protocol);
  r.opt_string(*o, "path", path, &hc.path);
  r.opt_int(*o, "portIndex", path, &hc.port_index);
  r.opt_int(*o, "port", path, &hc.port);
  if (const picojson::value* c = Reader::field(*o, "command")) {
    if (const picojson::object* co = r.object(*c, path + "/command")) {
      r.opt_string(*co, "value", path + "/command", &hc.command);
    }
  }
  r.opt_int(*o, "gracePeriodSeconds", path, &hc.grace_period_seconds);
  r.opt_int(*o, "intervalSeconds", path, &hc.interval_seconds);
  r.opt_int(*o, "timeoutSeconds", path, &hc.timeout_seconds);
  r.opt_int(*o, "maxConsecutiveFailures", path, &hc.max_consecutive_failures);
  r.opt_int(*o, "delaySeconds", path, &hc.delay_seconds);
  r.opt_bool(*o, "ignoreHttp1xx", path, &hc.ignore_http1xx);
  r.opt_enum(*o, "ipProtocol", path, {"IPv4", "IPv6"}, &hc.ip_protocol);
  return hc;
}

ReadinessCheck read_readiness_check(Reader& r, const picojson::value& v, const std::string& path) {
  ReadinessCheck rc;
  const picojson::object* o = r.object(v, path);
  if (o == nullptr) {
    return rc;
  }
  r.opt_string(*o, "name", path, &rc.name);
  r.opt_enum(*o, "protocol", path, {"HTTP", "HTTPS"}, &rc.protocol);
  r.opt_string(*o, "path", path, &rc.path);
  r.opt_string(*o, "portName", path, &rc.port_name);
  r.opt_int(*o, "intervalSeconds", path, &rc.interval_seconds);
  r.opt_int(*o, "timeoutSeconds", path, &rc.timeout_seconds);
  if (const picojson::value* codes = Reader::field(*o, "httpStatusCodesForReady")) {
    std::string cpath = path + "/httpStatusCodesForReady";
    if (const picojson::array* a = r.array(*codes, cpath)) {
      rc.http_status_codes_for_ready.clear();
      for (size_t i = 0; i < a->size(); ++i) {
        int c = 0;
        if (r.integer((*a)[i], idx(cpath, i), &c)) {
          rc.http_status_codes_for_ready.push_back(c);
        }
      }
    }
  }
  r.opt_bool(*o, "preserveLastResponse", path, &rc.preserve_last_response);
  return rc;
}

Container read_container(Reader& r, const picojson::object& o, const std::string& path, Given* given) {
  Container c;
  // Marathon's container type defaults to DOCKER; without a docker section
  // only the Mesos containerizer makes sense.
  if (Reader::field(o, "docker") != nullptr) {
    c.type = "DOCKER";
  }
  r.opt_enum(o, "type", path, {"MESOS", "DOCKER"}, &c.type);
  if (const picojson::value* d = Reader::field(o, "docker")) {
    std::string dpath = path + "/docker";
    if (const picojson::object* dobj = r.object(*d, dpath)) {
      DockerSpec spec;
      r.opt_string(*dobj, "image", dpath, &spec.image);
      r.opt_bool(*dobj, "forcePullImage", dpath, &spec.force_pull_image);
      r.opt_bool(*dobj, "privileged", dpath, &spec.privileged);
      if (const picojson::value* ps = Reader::field(*dobj, "parameters")) {
        std::string ppath = dpath + "/parameters";
        if (const picojson::array* a = r.array(*ps, ppath)) {
          for (size_t i = 0; i < a->size(); ++i) {
            if (const picojson::object* po = r.object((*a)[i], idx(ppath, i))) {
              std::string key;
              std::string value;
              r.opt_string(*po, "key", idx(ppath, i), &key);
              r.opt_string(*po, "value", idx(ppath, i), &value);
              spec.parameters.emplace_back(key, value);
            }
          }
        }
      }
      if (const picojson::value* n = Reader::field(*dobj, "network")) {
        std::string net;
        if (r.enumeration(*n, dpath + "/network", {"BRIDGE", "HOST", "USER", "NONE"}, &net)) {
          spec.network = net;
        }
      }
      if (const picojson::value* pm = Reader::field(*dobj, "portMappings")) {
        given->docker_port_mappings = read_port_mappings(r, *pm, dpath + "/portMappings");
        given->docker_port_mappings_given = true;
      }
      c.docker = spec;
    }
  }
  if (const picojson::value* vs = Reader::field(o, "volumes")) {
    std::string vpath = path + "/volumes";
    if (const picojson::array* a = r.array(*vs, vpath)) {
      for (size_t i = 0; i < a->size(); ++i) {
        if (const picojson::object* vo = r.object((*a)[i], idx(vpath, i))) {
          Volume vol;
          r.opt_string(*vo, "containerPath", idx(vpath, i), &vol.container_path);
          r.opt_string(*vo, "hostPath", idx(vpath, i), &vol.host_path);
          r.opt_enum(*vo, "mode", idx(vpath, i), {"RO", "RW"}, &vol.mode);
          c.volumes.push_back(vol);
        }
      }
    }
  }
  if (const picojson::value* pm = Reader::field(o, "portMappings")) {
    c.port_mappings = read_port_mappings(r, *pm, path + "/portMappings");
    given->container_port_mappings = true;
  }
  return c;
}

// Reads every field present in `o` over `app` (so an update reads over the
// current app). Type errors go to r.shape.
void read_fields(Reader& r, const picojson::object& o, App* app, Given* given) {
  const std::string root;
  if (const picojson::value* v = Reader::field(o, "id")) {
    std::string id;
    if (r.string(*v, "/id", &id)) {
      given->raw_id = id;
    }
  }
  r.opt_string(o, "cmd", root, &app->cmd);
  if (const picojson::value* v = Reader::field(o, "args")) {
    std::vector<std::string> args;
    if (r.string_array(*v, "/args", &args)) {
      app->args = args;
    }
  }
  r.opt_string(o, "user", root, &app->user);
  if (const picojson::value* v = Reader::field(o, "env")) {
    if (const picojson::object* env = r.object(*v, "/env")) {
      app->env.clear();
      for (const auto& [k, e] : *env) {
        if (k.empty() || k.find_first_of(std::string("=\0", 2)) != std::string::npos) {
          // The task's environment holds "NAME=value" strings.
          r.violation("/env", "the environment variable name " + json_serialize(picojson::value(k)) +
                                  " must not be empty or contain '=' or NUL");
        } else if (e.is<std::string>()) {
          app->env[k] = e.get<std::string>();
        } else if (e.is<picojson::object>() && e.get<picojson::object>().count("secret") != 0) {
          const picojson::value& s = e.get<picojson::object>().at("secret");
          r.violation("/env/" + k, "secrets are not supported by stoa-services: the environment variable '" + k +
                                       "' refers to the secret " + json_serialize(s) +
                                       "; give the value as a string");
        } else {
          r.type_error("/env/" + k, "error.expected.jsstring");
        }
      }
    }
  }
  if (const picojson::value* v = Reader::field(o, "secrets")) {
    if (const picojson::object* s = r.object(*v, "/secrets"); s != nullptr && !s->empty()) {
      r.violation("/secrets", "secrets are not supported by stoa-services");
    }
  }
  r.opt_int(o, "instances", root, &app->instances);
  r.opt_number(o, "cpus", root, &app->cpus);
  r.opt_number(o, "mem", root, &app->mem);
  r.opt_number(o, "disk", root, &app->disk);
  r.opt_number(o, "gpus", root, &app->gpus);
  if (const picojson::value* v = Reader::field(o, "ports")) {
    given->ports = true;
    if (const picojson::array* a = r.array(*v, "/ports")) {
      for (size_t i = 0; i < a->size(); ++i) {
        int p = 0;
        if (r.integer((*a)[i], idx("/ports", i), &p)) {
          given->ports_list.push_back(p);
        }
      }
    }
  }
  if (const picojson::value* v = Reader::field(o, "portDefinitions")) {
    given->port_definitions = true;
    if (const picojson::array* a = r.array(*v, "/portDefinitions")) {
      app->port_definitions.clear();
      for (size_t i = 0; i < a->size(); ++i) {
        app->port_definitions.push_back(read_port_definition(r, (*a)[i], idx("/portDefinitions", i)));
      }
    }
  }
  r.opt_bool(o, "requirePorts", root, &app->require_ports);
  if (const picojson::value* v = Reader::field(o, "constraints")) {
    if (const picojson::array* a = r.array(*v, "/constraints")) {
      app->constraints.clear();
      for (size_t i = 0; i < a->size(); ++i) {
        std::vector<std::string> parts;
        if (!r.string_array((*a)[i], idx("/constraints", i), &parts)) {
          continue;
        }
        if (parts.size() < 2 || parts.size() > 3) {
          r.violation(idx("/constraints", i), "Each constraint must have either 2 or 3 fields");
          continue;
        }
        Constraint c;
        c.field = parts[0];
        c.op = parts[1];
        std::transform(c.op.begin(), c.op.end(), c.op.begin(),
                       [](char ch) { return ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : ch; });
        if (parts.size() == 3) {
          c.value = parts[2];
        }
        check_constraint(r, c, idx("/constraints", i));
        app->constraints.push_back(c);
      }
    }
  }
  r.opt_string_map(o, "labels", root, &app->labels);
  if (const picojson::value* v = Reader::field(o, "healthChecks")) {
    if (const picojson::array* a = r.array(*v, "/healthChecks")) {
      app->health_checks.clear();
      for (size_t i = 0; i < a->size(); ++i) {
        app->health_checks.push_back(read_health_check(r, (*a)[i], idx("/healthChecks", i)));
      }
    }
  }
  if (const picojson::value* v = Reader::field(o, "readinessChecks")) {
    if (const picojson::array* a = r.array(*v, "/readinessChecks")) {
      app->readiness_checks.clear();
      for (size_t i = 0; i < a->size(); ++i) {
        app->readiness_checks.push_back(read_readiness_check(r, (*a)[i], idx("/readinessChecks", i)));
      }
    }
  }
  if (const picojson::value* v = Reader::field(o, "upgradeStrategy")) {
    if (const picojson::object* u = r.object(*v, "/upgradeStrategy")) {
      r.opt_number(*u, "minimumHealthCapacity", "/upgradeStrategy", &app->upgrade_strategy.minimum_health_capacity);
      r.opt_number(*u, "maximumOverCapacity", "/upgradeStrategy", &app->upgrade_strategy.maximum_over_capacity);
    }
  }
  r.opt_number(o, "backoffSeconds", root, &app->backoff_seconds);
  r.opt_number(o, "backoffFactor", root, &app->backoff_factor);
  r.opt_number(o, "maxLaunchDelaySeconds", root, &app->max_launch_delay_seconds);
  r.opt_int(o, "taskKillGracePeriodSeconds", root, &app->task_kill_grace_period_seconds);
  if (const picojson::value* v = Reader::field(o, "uris")) {
    given->uris = true;
    r.string_array(*v, "/uris", &given->uri_list);
  }
  if (const picojson::value* v = Reader::field(o, "fetch")) {
    given->fetch = true;
    if (const picojson::array* a = r.array(*v, "/fetch")) {
      app->fetch.clear();
      for (size_t i = 0; i < a->size(); ++i) {
        std::string path = idx("/fetch", i);
        if (const picojson::object* f = r.object((*a)[i], path)) {
          FetchUri uri;
          if (const picojson::value* u = Reader::field(*f, "uri")) {
            r.string(*u, path + "/uri", &uri.uri);
          } else {
            r.type_error(path + "/uri", "error.path.missing");
          }
          r.opt_bool(*f, "extract", path, &uri.extract);
          r.opt_bool(*f, "executable", path, &uri.executable);
          r.opt_bool(*f, "cache", path, &uri.cache);
          r.opt_string(*f, "destPath", path, &uri.dest_path);
          app->fetch.push_back(uri);
        }
      }
    }
  }
  if (const picojson::value* v = Reader::field(o, "container")) {
    if (const picojson::object* c = r.object(*v, "/container")) {
      app->container = read_container(r, *c, "/container", given);
    }
  }
  if (const picojson::value* v = Reader::field(o, "networks")) {
    given->networks = true;
    if (const picojson::array* a = r.array(*v, "/networks")) {
      app->networks.clear();
      for (size_t i = 0; i < a->size(); ++i) {
        std::string path = idx("/networks", i);
        if (const picojson::object* n = r.object((*a)[i], path)) {
          Network net;
          r.opt_enum(*n, "mode", path, {"host", "container/bridge", "container"}, &net.mode);
          r.opt_string(*n, "name", path, &net.name);
          r.opt_string_map(*n, "labels", path, &net.labels);
          app->networks.push_back(net);
        }
      }
    }
  }
  if (const picojson::value* v = Reader::field(o, "ipAddress")) {
    if (const picojson::object* ip = r.object(*v, "/ipAddress")) {
      given->ip_address = true;
      r.opt_string(*ip, "networkName", "/ipAddress", &given->ip_network_name);
    }
  }
  if (const picojson::value* v = Reader::field(o, "dependencies")) {
    r.string_array(*v, "/dependencies", &app->dependencies);
  }
  r.opt_enum(o, "killSelection", root, {"YOUNGEST_FIRST", "OLDEST_FIRST"}, &app->kill_selection);
  if (const picojson::value* v = Reader::field(o, "unreachableStrategy")) {
    if (v->is<std::string>()) {
      if (v->get<std::string>() == "disabled") {
        app->unreachable_strategy = UnreachableStrategy{true, 0, 0};
      } else {
        r.type_error("/unreachableStrategy", "error.unknown.enum.literal");
      }
    } else if (const picojson::object* u = r.object(*v, "/unreachableStrategy")) {
      UnreachableStrategy s;
      r.opt_int(*u, "inactiveAfterSeconds", "/unreachableStrategy", &s.inactive_after_seconds);
      r.opt_int(*u, "expungeAfterSeconds", "/unreachableStrategy", &s.expunge_after_seconds);
      app->unreachable_strategy = s;
    }
  }
  if (const picojson::value* v = Reader::field(o, "acceptedResourceRoles")) {
    r.string_array(*v, "/acceptedResourceRoles", &app->accepted_resource_roles);
  }
  r.opt_string(o, "role", root, &app->role);
  r.opt_string(o, "executor", root, &app->executor);
}

bool extractable(const std::string& uri) {
  static const char* const kExt[] = {".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"};
  for (const char* e : kExt) {
    std::string ext(e);
    if (uri.size() >= ext.size() && uri.compare(uri.size() - ext.size(), ext.size(), ext) == 0) {
      return true;
    }
  }
  return false;
}

// Marathon's AppNormalization: legacy fields into their current form, and
// the defaults that depend on other fields.
void normalize(Reader& r, App* app, const Given& given) {
  if (given.ports && given.port_definitions) {
    r.violation("/", "You cannot specify both ports and port definitions");
  } else if (given.ports) {
    app->port_definitions.clear();
    for (int p : given.ports_list) {
      PortDefinition pd;
      pd.port = p;
      app->port_definitions.push_back(pd);
    }
  }
  if (given.uris && given.fetch) {
    r.violation("/", "You cannot specify both uris and fetch fields");
  } else if (given.uris) {
    app->fetch.clear();
    for (const std::string& u : given.uri_list) {
      FetchUri f;
      f.uri = u;
      f.extract = extractable(u);
      app->fetch.push_back(f);
    }
  }
  if (app->container && given.docker_port_mappings_given) {
    if (given.container_port_mappings) {
      r.violation("/container", "You cannot specify both container.portMappings and container.docker.portMappings");
    } else {
      app->container->port_mappings = given.docker_port_mappings;
    }
  }
  if (app->container && app->container->docker && app->container->docker->network) {
    const std::string net = *app->container->docker->network;
    if (!given.networks) {
      Network n;
      n.mode = net == "BRIDGE" ? "container/bridge" : net == "USER" ? "container" : "host";
      app->networks = {n};
    }
    app->container->docker->network.reset();
  }
  if (given.ip_address && !given.networks) {
    Network n;
    n.mode = "container";
    n.name = given.ip_network_name;
    app->networks = {n};
  }
  if (app->networks.empty()) {
    app->networks = {Network{}};
  }
  if (app->network_mode() == "host" && !given.ports && !given.port_definitions) {
    PortDefinition pd;
    pd.name = "default";
    app->port_definitions = {pd};
  }
  if (app->executor == "//cmd") {
    app->executor.clear();
  }
  for (HealthCheck& hc : app->health_checks) {
    if (!hc.port && !hc.port_index) {
      hc.port_index = 0;
    }
  }
}

// The id: from the URL when given, else from the body (required).
void resolve_id(Reader& r, App* app, const Given& given, const ParseOptions& options, bool required) {
  std::optional<std::string> text = options.path_id ? options.path_id : given.raw_id;
  std::string base = options.path_id ? std::string("/") : options.base;
  if (!text) {
    if (required) {
      r.type_error("/id", "error.path.missing");
    }
    return;
  }
  Try<std::string> id = canonical_id(*text, base);
  if (id.is_error()) {
    r.violation("/id", id.error());
  } else if (*id == "/") {
    r.violation("/id", "'" + *text + "' is the root group: an app id needs at least one path segment");
  } else if (std::optional<std::string> long_id = id_too_long(*id)) {
    r.violation("/id", *long_id);
  } else {
    app->id = *id;
  }
}

std::variant<App, ApiError> parse_over(const App& start, const picojson::value& json, const ParseOptions& options,
                                       bool id_required) {
  Reader r;
  if (!json.is<picojson::object>()) {
    r.type_error("/", "error.expected.jsobject");
    return invalid_json_shape(r.shape);
  }
  App app = start;
  Given given;
  read_fields(r, json.get<picojson::object>(), &app, &given);
  resolve_id(r, &app, given, options, id_required);
  if (!r.shape.empty()) {
    return invalid_json_shape(r.shape);
  }
  normalize(r, &app, given);
  validate(r, &app);
  if (!r.invalid.empty()) {
    return invalid_object(r.invalid);
  }
  return app;
}

}  // namespace
}  // namespace model_in

std::variant<App, ApiError> parse_app(const picojson::value& json, const ParseOptions& options) {
  return model_in::parse_over(App{}, json, options, true);
}

std::variant<AppUpdate, ApiError> apply_update(const App& current, const picojson::value& json,
                                               const ParseOptions& options) {
  if (!json.is<picojson::object>()) {
    return invalid_json_shape({{"/", "error.expected.jsobject"}});
  }
  const picojson::object& update = json.get<picojson::object>();
  // A body of only a version (an id may come along) asks for a rollback.
  auto version = update.find("version");
  bool only_version = version != update.end() &&
                      std::all_of(update.begin(), update.end(), [](const auto& kv) {
                        return kv.first == "version" || kv.first == "id";
                      });
  if (only_version) {
    if (!version->second.is<std::string>()) {
      return invalid_json_shape({{"/version", "error.expected.jsstring"}});
    }
    Try<Timestamp> ts = parse_timestamp(version->second.get<std::string>());
    if (ts.is_error()) {
      return invalid_json_shape({{"/version", ts.error()}});
    }
    return AppUpdate{current, *ts};
  }
  if (auto id = update.find("id"); id != update.end() && id->second.is<std::string>() && !options.path_id) {
    Try<std::string> canonical = canonical_id(id->second.get<std::string>(), options.base);
    if (canonical.is_some() && *canonical != current.id) {
      return invalid_object({{"/id", "The id '" + *canonical + "' in the body does not match the app id '" +
                                         current.id + "'"}});
    }
  }
  // The current app as written, with the present fields replaced, read as a
  // whole: what the update leaves alone keeps its current value.
  picojson::object merged = app_json(current);
  for (const auto& [key, value] : update) {
    if (key == "id" || key == "version" || key == "versionInfo") {
      continue;
    }
    merged[key] = value;
  }
  if (update.count("ports") != 0) {
    merged.erase("portDefinitions");
  }
  if (update.count("uris") != 0) {
    merged.erase("fetch");
  }
  if (update.count("cmd") != 0 && update.count("args") == 0) {
    merged.erase("args");
  }
  if (update.count("args") != 0 && update.count("cmd") == 0) {
    merged.erase("cmd");
  }
  bool mode_changed = false;
  if (auto nets = update.find("networks"); nets != update.end() && nets->second.is<picojson::array>()) {
    const picojson::array& a = nets->second.get<picojson::array>();
    std::string mode = "host";
    if (!a.empty() && a.back().is<picojson::object>()) {
      const picojson::object& last = a.back().get<picojson::object>();
      if (auto m = last.find("mode"); m != last.end() && m->second.is<std::string>()) {
        mode = m->second.get<std::string>();
      }
    }
    mode_changed = mode != current.network_mode();
  }
  if (mode_changed && update.count("portDefinitions") == 0 && update.count("ports") == 0) {
    // Port definitions follow the networking: dropped for container
    // networking, defaulted again for host networking.
    merged.erase("portDefinitions");
  }
  ParseOptions inner;
  inner.path_id = current.id;
  std::variant<App, ApiError> parsed = model_in::parse_over(App{}, picojson::value(merged), inner, true);
  if (std::holds_alternative<ApiError>(parsed)) {
    return std::get<ApiError>(std::move(parsed));
  }
  App app = std::get<App>(std::move(parsed));
  app.version = current.version;
  app.last_scaling_at = current.last_scaling_at;
  app.last_config_change_at = current.last_config_change_at;
  return AppUpdate{std::move(app), std::nullopt};
}

}  // namespace stoa::services
