// Reading an app definition (model.hpp: parse_app, apply_update).
//
// Two phases, as Marathon has them: reading the JSON into an App (a value of
// the wrong JSON type is a 422 "Invalid JSON" with play-json's error keys,
// "error.expected.jsnumber" and friends), then normalization (ports →
// portDefinitions, uris → fetch, legacy docker.network, default
// portDefinitions) and validation of the whole app (a 422 "Object is not
// valid" listing every violation with its path). Nothing here throws.

#include <algorithm>
#include <climits>
#include <cmath>
#include <regex>
#include <set>

#include "apps/services/model.hpp"
#include "apps/services/store_layout.hpp"
#include "common/json.hpp"

namespace stoa::services {

namespace {
namespace model_in {

const char* const PATH_ID_PATTERN =
    "^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$";

// What the input said, beyond the App it gives (normalization needs it).
struct Given {
  bool ports = false;
  bool port_definitions = false;
  bool uris = false;
  bool fetch = false;
  bool networks = false;
  bool container_port_mappings = false;
  std::vector<std::string> uri_list;
  std::vector<PortMapping> docker_port_mappings;
  bool docker_port_mappings_given = false;
  std::vector<int> ports_list;
  std::optional<std::string> raw_id;
  // Legacy IP-per-task ("ipAddress": {"networkName": …}).
  bool ip_address = false;
  std::optional<std::string> ip_network_name;
};

// Scala's Double.toString for the usual range: "0.0", "1.5", "0.001".
std::string scala_double(double d) {
  std::string s = json_serialize(json_number(d));
  if (s.find_first_of(".eE") == std::string::npos && s != "null") {
    s += ".0";
  }
  return s;
}

struct Reader {
  std::vector<Violation> shape;    // → 422 Invalid JSON
  std::vector<Violation> invalid;  // → 422 Object is not valid

  void type_error(const std::string& path, const std::string& key) { shape.push_back({path, key}); }
  void violation(const std::string& path, const std::string& error) { invalid.push_back({path, error}); }

  // The member `key` of `o`, or nullptr when absent or null.
  static const picojson::value* field(const picojson::object& o, const std::string& key) {
    auto it = o.find(key);
    if (it == o.end() || it->second.is<picojson::null>()) {
      return nullptr;
    }
    return &it->second;
  }

  bool string(const picojson::value& v, const std::string& path, std::string* out) {
    if (!v.is<std::string>()) {
      type_error(path, "error.expected.jsstring");
      return false;
    }
    *out = v.get<std::string>();
    return true;
  }
  bool number(const picojson::value& v, const std::string& path, double* out) {
    if (!v.is<double>()) {
      type_error(path, "error.expected.jsnumber");
      return false;
    }
    *out = v.get<double>();
    return true;
  }
  bool integer(const picojson::value& v, const std::string& path, int* out) {
    if (v.is<int64_t>()) {
      int64_t i = v.get<int64_t>();
      if (i < INT_MIN || i > INT_MAX) {
        type_error(path, "error.expected.int");
        return false;
      }
      *out = static_cast<int>(i);
      return true;
    }
    if (!v.is<double>()) {
      type_error(path, "error.expected.jsnumber");
      return false;
    }
    double d = v.get<double>();
    if (std::floor(d) != d || d < INT_MIN || d > INT_MAX) {
      type_error(path, "error.expected.int");
      return false;
    }
    *out = static_cast<int>(d);
    return true;
  }
  bool boolean(const picojson::value& v, const std::string& path, bool* out) {
    if (!v.is<bool>()) {
      type_error(path, "error.expected.jsboolean");
      return false;
    }
    *out = v.get<bool>();
    return true;
  }
  const picojson::object* object(const picojson::value& v, const std::string& path) {
    if (!v.is<picojson::object>()) {
      type_error(path, "error.expected.jsobject");
      return nullptr;
    }
    return &v.get<picojson::object>();
  }
  const picojson::array* array(const picojson::value& v, const std::string& path) {
    if (!v.is<picojson::array>()) {
      type_error(path, "error.expected.jsarray");
      return nullptr;
    }
    return &v.get<picojson::array>();
  }
  bool enumeration(const picojson::value& v, const std::string& path, const std::set<std::string>& allowed,
                   std::string* out) {
    std::string s;
    if (!string(v, path, &s)) {
      return false;
    }
    if (allowed.count(s) == 0) {
      type_error(path, "error.unknown.enum.literal");
      return false;
    }
    *out = s;
    return true;
  }

  // Optional members: left unchanged when absent or null.
  void opt_string(const picojson::object& o, const std::string& key, const std::string& base, std::string* out) {
    if (const picojson::value* v = field(o, key)) {
      string(*v, base + "/" + key, out);
    }
  }
  void opt_string(const picojson::object& o, const std::string& key, const std::string& base,
                  std::optional<std::string>* out) {
    if (const picojson::value* v = field(o, key)) {
      std::string s;
      if (string(*v, base + "/" + key, &s)) {
        *out = s;
      }
    }
  }
  void opt_number(const picojson::object& o, const std::string& key, const std::string& base, double* out) {
    if (const picojson::value* v = field(o, key)) {
      number(*v, base + "/" + key, out);
    }
  }
  void opt_int(const picojson::object& o, const std::string& key, const std::string& base, int* out) {
    if (const picojson::value* v = field(o, key)) {
      integer(*v, base + "/" + key, out);
    }
  }
  void opt_int(const picojson::object& o, const std::string& key, const std::string& base, std::optional<int>* out) {
    if (const picojson::value* v = field(o, key)) {
      int i = 0;
      if (integer(*v, base + "/" + key, &i)) {
        *out = i;
      }
    }
  }
  void opt_bool(const picojson::object& o, const std::string& key, const std::string& base, bool* out) {
    if (const picojson::value* v = field(o, key)) {
      boolean(*v, base + "/" + key, out);
    }
  }
  void opt_enum(const picojson::object& o, const std::string& key, const std::string& base,
                const std::set<std::string>& allowed, std::string* out) {
    if (const picojson::value* v = field(o, key)) {
      enumeration(*v, base + "/" + key, allowed, out);
    }
  }
  void string_map(const picojson::value& v, const std::string& path, std::map<std::string, std::string>* out) {
    const picojson::object* o = object(v, path);
    if (o == nullptr) {
      return;
    }
    out->clear();
    for (const auto& [k, e] : *o) {
      std::string s;
      if (string(e, path + "/" + k, &s)) {
        (*out)[k] = s;
      }
    }
  }
  void opt_string_map(const picojson::object& o, const std::string& key, const std::string& base,
                      std::map<std::string, std::string>* out) {
    if (const picojson::value* v = field(o, key)) {
      string_map(*v, base + "/" + key, out);
    }
  }
  bool string_array(const picojson::value& v, const std::string& path, std::vector<std::string>* out) {
    const picojson::array* a = array(v, path);
    if (a == nullptr) {
      return false;
    }
    out->clear();
    bool ok = true;
    for (size_t i = 0; i < a->size(); ++i) {
      std::string s;
      if (string((*a)[i], path + "(" + std::to_string(i) + ")", &s)) {
        out->push_back(s);
      } else {
        ok = false;
      }
    }
    return ok;
  }

  // Range checks in accord's words ("got 0.0, expected 0.001 or more").
  void at_least(double v, double min, const std::string& path) {
    if (!(v >= min)) {
      violation(path, "got " + scala_double(v) + ", expected " + scala_double(min) + " or more");
    }
  }
  void at_least(int v, int min, const std::string& path) {
    if (v < min) {
      violation(path, "got " + std::to_string(v) + ", expected " + std::to_string(min) + " or more");
    }
  }
  void between(double v, double min, double max, const std::string& path) {
    if (!(v >= min && v <= max)) {
      violation(path, "got " + scala_double(v) + ", expected between " + scala_double(min) + " and " +
                          scala_double(max));
    }
  }
  void between(int v, int min, int max, const std::string& path) {
    if (v < min || v > max) {
      violation(path, "got " + std::to_string(v) + ", expected between " + std::to_string(min) + " and " +
                          std::to_string(max));
    }
  }
};

std::string idx(const std::string& base, size_t i) { return base + "(" + std::to_string(i) + ")"; }

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

// One constraint (already upper-cased), checked where its index is known.
void check_constraint(Reader& r, const Constraint& c, const std::string& path) {
  static const std::set<std::string> ops = {"UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"};
  static const std::regex is_value("^[a-zA-Z0-9_/.-]*$");
  auto is_int = [](const std::optional<std::string>& v) {
    if (!v || v->empty() || v->size() > 9) {
      return false;
    }
    return std::all_of(v->begin(), v->end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  };
  if (ops.count(c.op) == 0) {
    r.violation(path, "Constraint operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, "
                      "UNLIKE or IS");
    return;
  }
  if (c.field.empty()) {
    r.violation(path, "Constraint field must not be empty");
  }
  if (c.op == "UNIQUE" && c.value) {
    r.violation(path, "UNIQUE does not accept a value");
  } else if (c.op == "GROUP_BY" && c.value && !is_int(c.value)) {
    r.violation(path, "GROUP BY must define an integer value or else no value at all");
  } else if (c.op == "MAX_PER" && !is_int(c.value)) {
    r.violation(path, "MAX_PER requires an integer value");
  } else if (c.op == "LIKE" || c.op == "UNLIKE") {
    if (!c.value || c.value->empty()) {
      r.violation(path, "LIKE and UNLIKE require a non-empty, regular expression value");
    } else {
      try {
        std::regex re(*c.value);
      } catch (const std::regex_error&) {
        r.violation(path, "'" + *c.value + "' is not a valid regular expression");
      }
    }
  } else if (c.op == "IS" && (!c.value || !std::regex_match(*c.value, is_value))) {
    r.violation(path, "IS only supports Mesos text and float values");
  }
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


// A probe's path goes into a request line as it is: a space or a control
// character (CR, LF) would end it early or forge headers.
bool url_path_chars(const std::string& path) {
  return std::none_of(path.begin(), path.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

bool valid_protocol(const std::string& p) { return p == "tcp" || p == "udp" || p == "udp,tcp" || p == "tcp,udp"; }

void validate_ports(Reader& r, const App& app) {
  std::set<std::string> names;
  std::set<int> ports;
  bool duplicate_name = false;
  bool duplicate_port = false;
  for (size_t i = 0; i < app.port_definitions.size(); ++i) {
    const PortDefinition& p = app.port_definitions[i];
    std::string path = idx("/portDefinitions", i);
    r.between(p.port, 0, 65535, path + "/port");
    if (!valid_protocol(p.protocol)) {
      r.violation(path + "/protocol", "Invalid protocol. Only 'udp', 'tcp', and 'udp,tcp' are allowed.");
    }
    if (p.name && !names.insert(*p.name).second) {
      duplicate_name = true;
    }
    if (p.port != 0 && !ports.insert(p.port).second) {
      duplicate_port = true;
    }
  }
  if (duplicate_name) {
    r.violation("/portDefinitions", "Port names must be unique.");
  }
  if (duplicate_port) {
    r.violation("/portDefinitions", "Ports must be unique.");
  }
  if (app.network_mode() != "host" && !app.port_definitions.empty()) {
    r.violation("/portDefinitions",
                "Port definitions are only allowed with host networking; use container.portMappings with " +
                    app.network_mode() + " networking");
  }
}

void validate_container(Reader& r, const App& app) {
  if (!app.container) {
    return;
  }
  const Container& c = *app.container;
  if (c.type == "DOCKER") {
    if (!c.docker) {
      r.violation("/container/docker", "must be defined for a DOCKER container");
    } else if (c.docker->image.empty()) {
      r.violation("/container/docker/image", "must not be empty");
    }
  }
  for (size_t i = 0; i < c.volumes.size(); ++i) {
    if (c.volumes[i].container_path.empty()) {
      r.violation(idx("/container/volumes", i) + "/containerPath", "must not be empty");
    }
    if (c.volumes[i].host_path.empty()) {
      r.violation(idx("/container/volumes", i) + "/hostPath", "must not be empty");
    }
  }
  if (!c.port_mappings.empty() && app.network_mode() == "host") {
    r.violation("/container/portMappings",
                "Port mappings are only allowed with container or container/bridge networking; use "
                "portDefinitions with host networking");
  }
  std::set<std::string> names;
  bool duplicate_name = false;
  for (size_t i = 0; i < c.port_mappings.size(); ++i) {
    const PortMapping& p = c.port_mappings[i];
    std::string path = idx("/container/portMappings", i);
    r.between(p.container_port, 0, 65535, path + "/containerPort");
    r.between(p.host_port, 0, 65535, path + "/hostPort");
    r.between(p.service_port, 0, 65535, path + "/servicePort");
    if (!valid_protocol(p.protocol)) {
      r.violation(path + "/protocol", "Invalid protocol. Only 'udp', 'tcp', and 'udp,tcp' are allowed.");
    }
    if (p.name && !names.insert(*p.name).second) {
      duplicate_name = true;
    }
  }
  if (duplicate_name) {
    r.violation("/container/portMappings", "Port names must be unique.");
  }
}

void validate_networks(Reader& r, const App& app) {
  bool exclusive = false;
  for (size_t i = 0; i < app.networks.size(); ++i) {
    const Network& n = app.networks[i];
    std::string path = idx("/networks", i);
    if (n.mode == "container") {
      if (!n.name || n.name->empty()) {
        r.violation(path + "/name", "container networks must be given the name of the network to join");
      }
    } else {
      exclusive = true;
      if (n.name) {
        r.violation(path + "/name", "only container networks may have a name (mode is " + n.mode + ")");
      }
    }
  }
  if (exclusive && app.networks.size() > 1) {
    r.violation("/networks", "host and container/bridge networking may not be combined with other networks");
  }
}

void validate_health_checks(Reader& r, const App& app) {
  size_t port_count = app.host_port_count();
  if (app.network_mode() != "host" && app.container) {
    port_count = app.container->port_mappings.size();
  }
  int mesos_checks = 0;
  int marathon_checks = 0;
  for (size_t i = 0; i < app.health_checks.size(); ++i) {
    const HealthCheck& hc = app.health_checks[i];
    std::string path = idx("/healthChecks", i);
    if (hc.marathon_level()) {
      ++marathon_checks;
    } else {
      ++mesos_checks;
    }
    if (hc.protocol == "COMMAND") {
      if (!hc.command || hc.command->empty()) {
        r.violation(path + "/command", "A COMMAND health check needs a command: {\"value\": \"<shell command>\"}");
      }
    } else if (hc.port) {
      r.between(*hc.port, 0, 65535, path + "/port");
    } else if (hc.port_index && (*hc.port_index < 0 || static_cast<size_t>(*hc.port_index) >= port_count)) {
      r.violation(path, "Health check port indices must address an element of the ports array or container port "
                        "mappings.");
    }
    bool http = hc.protocol == "HTTP" || hc.protocol == "HTTPS" || hc.protocol == "MESOS_HTTP" ||
                hc.protocol == "MESOS_HTTPS";
    if (http && (hc.path.empty() || hc.path.front() != '/')) {
      r.violation(path + "/path", "must start with '/' (got '" + hc.path + "')");
    } else if (http && !url_path_chars(hc.path)) {
      r.violation(path + "/path", "must not contain spaces or control characters (got " +
                                      json_serialize(picojson::value(hc.path)) + ")");
    }
    r.at_least(hc.grace_period_seconds, 0, path + "/gracePeriodSeconds");
    r.at_least(hc.interval_seconds, 1, path + "/intervalSeconds");
    r.at_least(hc.timeout_seconds, 1, path + "/timeoutSeconds");
    r.at_least(hc.max_consecutive_failures, 0, path + "/maxConsecutiveFailures");
    r.at_least(hc.delay_seconds, 0, path + "/delaySeconds");
  }
  if (mesos_checks > 1) {
    r.violation("/healthChecks", "AppDefinition can contain at most one Mesos health check.");
  }
  if (mesos_checks > 0 && marathon_checks > 0) {
    r.violation("/healthChecks", "Marathon-level (HTTP, HTTPS, TCP) and Mesos-level (MESOS_HTTP, MESOS_HTTPS, "
                                 "MESOS_TCP, COMMAND) health checks cannot be mixed");
  }
}

void validate_readiness_checks(Reader& r, const App& app) {
  std::vector<std::string> names = app.port_names();
  for (size_t i = 0; i < app.readiness_checks.size(); ++i) {
    const ReadinessCheck& rc = app.readiness_checks[i];
    std::string path = idx("/readinessChecks", i);
    if (std::find(names.begin(), names.end(), rc.port_name) == names.end() || rc.port_name.empty()) {
      r.violation(path + "/portName",
                  "No port definition or port mapping is named '" + rc.port_name + "'");
    }
    if (rc.path.empty() || rc.path.front() != '/') {
      r.violation(path + "/path", "must start with '/' (got '" + rc.path + "')");
    } else if (!url_path_chars(rc.path)) {
      r.violation(path + "/path", "must not contain spaces or control characters (got " +
                                      json_serialize(picojson::value(rc.path)) + ")");
    }
    r.at_least(rc.interval_seconds, 1, path + "/intervalSeconds");
    r.at_least(rc.timeout_seconds, 1, path + "/timeoutSeconds");
    if (rc.http_status_codes_for_ready.empty()) {
      r.violation(path + "/httpStatusCodesForReady", "must not be empty");
    }
    for (size_t j = 0; j < rc.http_status_codes_for_ready.size(); ++j) {
      r.between(rc.http_status_codes_for_ready[j], 100, 999, idx(path + "/httpStatusCodesForReady", j));
    }
  }
}

bool valid_role(const std::string& role) {
  if (role.empty() || role == "." || role == ".." || role.front() == '-') {
    return false;
  }
  return std::none_of(role.begin(), role.end(), [](char c) {
    return c == '/' || c == '\\' || c == ' ' || c == '\t' || c == '\n' || static_cast<unsigned char>(c) < 0x20;
  });
}

bool valid_executor(const std::string& e) {
  static const std::regex re("^(//cmd)|(/?[^/]+(/[^/]+)*)|$");
  return std::regex_match(e, re);
}

void validate(Reader& r, App* app) {
  const App& a = *app;
  bool has_cmd = a.cmd.has_value();
  bool has_args = a.args.has_value() && !a.args->empty();  // Marathon: args.nonEmpty
  if ((has_cmd && has_args) || (!has_cmd && !has_args && !a.container)) {
    r.violation("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.");
  }
  if (has_cmd && a.cmd->empty()) {
    r.violation("/cmd", "must not be empty");
  }
  r.at_least(a.instances, 0, "/instances");
  r.at_least(a.cpus, 0.001, "/cpus");
  r.at_least(a.mem, 0.0, "/mem");
  r.at_least(a.disk, 0.0, "/disk");
  r.at_least(a.gpus, 0.0, "/gpus");
  // Marathon reads both as int32 seconds; a larger one would overflow the
  // launch delay's deadline in milliseconds.
  r.between(a.backoff_seconds, 0.0, static_cast<double>(INT_MAX), "/backoffSeconds");
  r.at_least(a.backoff_factor, 1.0, "/backoffFactor");
  r.between(a.max_launch_delay_seconds, 0.0, static_cast<double>(INT_MAX), "/maxLaunchDelaySeconds");
  if (a.task_kill_grace_period_seconds) {
    r.at_least(*a.task_kill_grace_period_seconds, 0, "/taskKillGracePeriodSeconds");
  }
  validate_ports(r, a);
  validate_container(r, a);
  validate_networks(r, a);
  validate_health_checks(r, a);
  validate_readiness_checks(r, a);
  r.between(a.upgrade_strategy.minimum_health_capacity, 0.0, 1.0, "/upgradeStrategy/minimumHealthCapacity");
  r.between(a.upgrade_strategy.maximum_over_capacity, 0.0, 1.0, "/upgradeStrategy/maximumOverCapacity");
  if (!a.unreachable_strategy.disabled) {
    r.at_least(a.unreachable_strategy.inactive_after_seconds, 0, "/unreachableStrategy/inactiveAfterSeconds");
    r.at_least(a.unreachable_strategy.expunge_after_seconds, 0, "/unreachableStrategy/expungeAfterSeconds");
    if (a.unreachable_strategy.expunge_after_seconds < a.unreachable_strategy.inactive_after_seconds) {
      r.violation("/unreachableStrategy",
                  "expungeAfterSeconds must be greater than or equal to inactiveAfterSeconds");
    }
  }
  for (size_t i = 0; i < a.fetch.size(); ++i) {
    if (a.fetch[i].uri.empty()) {
      r.violation(idx("/fetch", i) + "/uri", "must not be empty");
    }
  }
  if (!valid_role(a.role)) {
    r.violation("/role", "'" + a.role + "' is not a valid role name");
  }
  for (const std::string& role : a.accepted_resource_roles) {
    if (role != "*" && role != a.role) {
      r.violation("/acceptedResourceRoles", "acceptedResourceRoles can only contain * and " + a.role);
      break;
    }
  }
  if (!valid_executor(a.executor)) {
    r.violation("/executor", "must fully match regular expression '^(//cmd)|(/?[^/]+(/[^/]+)*)|$'");
  }
  std::string base = parent_id(a.id);
  for (size_t i = 0; i < a.dependencies.size(); ++i) {
    Try<std::string> dep = canonical_id(a.dependencies[i], base);
    if (dep.is_error()) {
      r.violation(idx("/dependencies", i), dep.error());
    } else {
      app->dependencies[i] = *dep;
    }
  }
}

// Why `id` is too long to run, or nullopt: each of its task ids
// (new_task_id) is one component of a state store key, which holds at most
// MAX_ENCODED_COMPONENT bytes percent-encoded ('.' takes three).
std::optional<std::string> id_too_long(const std::string& id) {
  const std::string longest = new_task_id(id);
  const size_t encoded = store_layout::encode_component(longest).size();
  if (encoded <= store_layout::MAX_ENCODED_COMPONENT) {
    return std::nullopt;
  }
  return "'" + id.substr(0, 60) + (id.size() > 60 ? "..." : "") + "' is too long: its task ids ('" +
         longest.substr(0, 40) + "...') take " + std::to_string(encoded) + " bytes in the state store, at most " +
         std::to_string(store_layout::MAX_ENCODED_COMPONENT) + " fit ('.' counts 3, '/' becomes '_')";
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

}  // namespace model_in
}  // namespace


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
