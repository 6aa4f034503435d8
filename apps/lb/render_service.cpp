// Which service ports are published, with which servers, and what their
// HAPROXY_{n}_* labels say (marathon.md §7.1, §7.3).

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <set>
#include <sstream>
#include <tuple>

#include "apps/lb/render_internal.hpp"

namespace stoa::lb::render_detail {
namespace {

// Task states marathon-lb leaves out (a missing state is kept).
const std::set<std::string>& service_excluded_states() {
  static const std::set<std::string> states = {
      "TASK_STAGING", "TASK_STARTING",         "TASK_KILLING", "TASK_FINISHED",
      "TASK_FAILED",  "TASK_KILLED",           "TASK_ERROR",   "TASK_DROPPED",
      "TASK_GONE",    "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"};
  return states;
}

std::vector<std::string> service_split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::stringstream in(s);
  while (std::getline(in, item, sep)) {
    out.push_back(item);
  }
  if (s.empty() || s.back() == sep) {
    out.emplace_back();
  }
  return out;
}

std::string service_lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// marathon-lb's string_to_bool.
bool service_truthy(const std::string& v) {
  std::string l = service_lower(v);
  return l == "true" || l == "t" || l == "yes" || l == "y";
}

std::optional<int> service_parse_int(const std::string& v) {
  int out = 0;
  const char* end = v.data() + v.size();
  auto [ptr, ec] = std::from_chars(v.data(), end, out);
  if (ec != std::errc() || ptr != end || v.empty()) {
    return std::nullopt;
  }
  return out;
}

bool service_has_space(const std::string& v) {
  return v.find_first_of(" \t\r\n") != std::string::npos;
}
// A control character (line breaks, NUL, ...): HAProxy splits its
// configuration at line breaks and stops reading a line at NUL, so a value
// carrying one could add lines or cut a condition off.
bool service_has_control(const std::string& v) {
  return std::any_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
  });
}

bool service_is_port(int port) { return port >= 1 && port <= 65535; }

// Marathon's app ids are paths of [a-z0-9.-] names; the id becomes the
// backend's name and the app-id ACL, so anything else (blanks, quotes,
// braces, control characters, ...) would change the configuration's words.
// Upper case and '_' are let through: HAProxy takes them in names.
bool service_id_is_safe(const std::string& id) {
  return !id.empty() && id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789._-/") == std::string::npos;
}

// A task's address as it goes into `server <name> <ip>:<port>`: an IP literal.
bool service_is_ip(const std::string& ip) {
  unsigned char buf[16];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

// A task's host name (the `host` template variable, server names): DNS
// characters only.
bool service_host_is_safe(const std::string& host) {
  return host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789._-:") == std::string::npos;
}

// What of the registry's health check reaches the configuration (path in
// `option httpchk GET <path>`, the numbers in timeouts) must be one word and
// sane; else the error names it.
std::optional<std::string> service_check_problem(const HealthCheck& check) {
  if (check.path.find_first_of(" \t") != std::string::npos || service_has_control(check.path) ||
      check.path.find_first_of("{}#\\\"'") != std::string::npos) {
    return "health check path '" + check.path + "' is not a URL path";
  }
  if (check.port.has_value() && *check.port != 0 && !service_is_port(*check.port)) {
    return "health check port " + std::to_string(*check.port) + " is not a port number";
  }
  for (auto [name, value] : {std::pair{"timeoutSeconds", check.timeout_seconds},
                             std::pair{"intervalSeconds", check.interval_seconds},
                             std::pair{"gracePeriodSeconds", check.grace_period_seconds},
                             std::pair{"maxConsecutiveFailures", check.max_consecutive_failures}}) {
    if (value < 0) {
      return std::string("health check ") + name + " " + std::to_string(value) + " is negative";
    }
  }
  return std::nullopt;
}

bool service_has_group(const std::vector<std::string>& wanted,
                       const std::vector<std::string>& groups) {
  if (std::find(wanted.begin(), wanted.end(), "*") != wanted.end()) {
    return true;
  }
  for (const std::string& g : groups) {
    if (std::find(wanted.begin(), wanted.end(), g) != wanted.end()) {
      return true;
    }
  }
  return false;
}

// marathon-lb's get_health_check: the first check with a port, else the
// first whose portIndex is `index`.
const HealthCheck* service_health_check(const App& app, int index) {
  for (const HealthCheck& check : app.health_checks) {
    if (check.port.has_value() && *check.port != 0) {
      return &check;
    }
    if (check.port_index.has_value() && *check.port_index == index) {
      return &check;
    }
  }
  return nullptr;
}

bool service_is_http_protocol(const std::string& p) {
  return p == "HTTP" || p == "HTTPS" || p == "MESOS_HTTP" || p == "MESOS_HTTPS";
}

// Parses the labels of port `n` into `s`; the error names label and value.
std::optional<std::string> service_apply_labels(Service& s,
                                                const std::map<std::string, std::string>& labels) {
  const std::string prefix = "HAPROXY_" + std::to_string(s.index) + "_";
  auto bad = [&prefix](const std::string& name, const std::string& value, const std::string& why) {
    return prefix + name + " '" + value + "' " + why;
  };
  auto get = [&labels, &prefix](const std::string& name) -> const std::string* {
    auto it = labels.find(prefix + name);
    return it == labels.end() ? nullptr : &it->second;
  };
  // Every value below ends up inside a configuration line.
  for (const char* name :
       {"VHOST", "PATH", "AUTH", "SSL_CERT", "BIND_OPTIONS", "BIND_ADDR", "PORT", "MODE", "BALANCE",
        "BACKEND_WEIGHT", "BACKEND_NETWORK_ALLOWED_ACL", "BACKEND_HEALTHCHECK_PORT_INDEX",
        "HTTP_BACKEND_PROXYPASS_PATH", "HTTP_BACKEND_REVPROXY_PATH", "HTTP_BACKEND_REDIR"}) {
    if (const std::string* v = get(name); v != nullptr && service_has_control(*v)) {
      return bad(name, *v, "contains a line break or another control character");
    }
  }
  if (const std::string* v = get("VHOST")) {
    // Blanks around the names are dropped ("a.com, b.com").
    s.vhosts.clear();
    s.hostname.clear();
    for (std::string h : service_split(service_lower(*v), ',')) {
      size_t b = h.find_first_not_of(" \t");
      h = b == std::string::npos ? "" : h.substr(b, h.find_last_not_of(" \t") - b + 1);
      if (h.empty() || service_has_space(h) || h.find_first_of("{}\"'#\\") != std::string::npos) {
        return bad("VHOST", *v, "is not a comma list of host names");
      }
      s.hostname += (s.hostname.empty() ? "" : ",") + h;
      s.vhosts.push_back(h);
    }
  }
  if (const std::string* v = get("PATH")) {
    if (v->empty() || v->find_first_of("{}#") != std::string::npos) {
      return bad("PATH", *v, "is not a path_beg pattern");
    }
    s.path = *v;
    if (s.backend_weight == 0) {
      s.backend_weight = 1;
    }
  }
  if (const std::string* v = get("AUTH")) {
    std::vector<std::string> parts = service_split(*v, ':');
    if (parts.size() != 3 || parts[0].empty() || parts[1].empty() || parts[2].empty() ||
        service_has_space(parts[1]) || service_has_space(parts[2]) ||
        parts[0].find_first_of("\"\\") != std::string::npos) {
      return bad("AUTH", *v, "is not realm:user:encrypted-password");
    }
    s.realm = parts[0];
    s.user = parts[1];
    s.passwd = parts[2];
  }
  if (const std::string* v = get("STICKY")) {
    s.sticky = service_truthy(*v);
  }
  if (const std::string* v = get("REDIRECT_TO_HTTPS")) {
    s.redirect_to_https = service_truthy(*v);
  }
  if (const std::string* v = get("USE_HSTS")) {
    s.use_hsts = service_truthy(*v);
  }
  if (const std::string* v = get("SSL_CERT")) {
    if (v->empty() || service_has_space(*v)) {
      return bad("SSL_CERT", *v, "is not a certificate path");
    }
    s.ssl_cert = *v;
  }
  if (const std::string* v = get("BIND_OPTIONS")) {
    s.bind_options = *v;
  }
  if (const std::string* v = get("BIND_ADDR")) {
    if (v->empty() || service_has_space(*v)) {
      return bad("BIND_ADDR", *v, "is not an address");
    }
    s.bind_addr = *v;
  }
  if (const std::string* v = get("PORT")) {
    std::optional<int> port = service_parse_int(*v);
    if (!port || *port < 1 || *port > 65535) {
      return bad("PORT", *v, "is not a port number");
    }
    s.service_port = *port;
  }
  if (const std::string* v = get("MODE")) {
    std::string mode = service_lower(*v);
    if (mode != "tcp" && mode != "http") {
      return bad("MODE", *v, "is not tcp or http");
    }
    s.mode = mode;
  }
  if (const std::string* v = get("BALANCE")) {
    if (v->empty() || v->find_first_of("{}#") != std::string::npos) {
      return bad("BALANCE", *v, "is not a balance algorithm");
    }
    s.balance = *v;
  }
  for (auto [name, field] : {std::pair{"HTTP_BACKEND_PROXYPASS_PATH", &s.proxypath},
                             std::pair{"HTTP_BACKEND_REVPROXY_PATH", &s.revproxypath},
                             std::pair{"HTTP_BACKEND_REDIR", &s.redirpath}}) {
    if (const std::string* v = get(name)) {
      if (v->empty() || (*v)[0] != '/' || service_has_space(*v)) {
        return bad(name, *v, "is not a path starting with '/'");
      }
      *field = *v;
    }
  }
  if (const std::string* v = get("BACKEND_WEIGHT")) {
    std::optional<int> weight = service_parse_int(*v);
    if (!weight) {
      return bad("BACKEND_WEIGHT", *v, "is not an integer");
    }
    s.backend_weight = *weight;
  }
  if (const std::string* v = get("BACKEND_NETWORK_ALLOWED_ACL")) {
    bool ok = !v->empty() &&
              v->find_first_not_of("0123456789abcdefABCDEF.:/ ") == std::string::npos &&
              v->find_first_not_of(' ') != std::string::npos;
    if (!ok) {
      return bad("BACKEND_NETWORK_ALLOWED_ACL", *v,
                 "is not a space-separated list of addresses or CIDRs");
    }
    s.network_allowed = *v;
  }
  if (const std::string* v = get("BACKEND_HEALTHCHECK_PORT_INDEX")) {
    std::optional<int> index = service_parse_int(*v);
    if (!index || *index < 0) {
      return bad("BACKEND_HEALTHCHECK_PORT_INDEX", *v, "is not a port index");
    }
    s.healthcheck_port_index = *index;
  }
  return std::nullopt;
}

// The ports a task serves the app's service ports on, in order.
std::vector<int> service_task_ports(const App& app, const Task& task) {
  if (app.mode == NetworkingMode::Container && !app.container_ports.empty()) {
    return app.container_ports;
  }
  return task.ports;
}

// Servers of service port `i`: task ports paired with the service ports in
// order, unique by (host, port), sorted by (host, port).
std::vector<Server> service_servers(const App& app, const std::vector<const Task*>& tasks,
                                    size_t i) {
  std::vector<Server> servers;
  std::set<std::pair<std::string, int>> seen;
  for (const Task* task : tasks) {
    std::vector<int> ports = service_task_ports(app, *task);
    if (i < ports.size() && service_is_port(ports[i]) && seen.insert({task->host, ports[i]}).second) {
      servers.push_back(Server{task->host, task->ip, ports[i], task->draining});
    }
  }
  std::sort(servers.begin(), servers.end(), [](const Server& a, const Server& b) {
    return std::tie(a.host, a.port, a.ip) < std::tie(b.host, b.port, b.ip);
  });
  return servers;
}

bool service_task_published(const App& app, const Task& task, const RenderOptions& options) {
  if (task.host.empty() || task.ip.empty()) {
    return false;
  }
  if (task.state.has_value() && service_excluded_states().count(*task.state) > 0) {
    return false;
  }
  if (options.health_check && !app.health_checks.empty() && task.healthy != true) {
    return false;
  }
  return true;
}

}  // namespace

std::vector<Service> collect_services(const std::vector<const App*>& apps,
                                      const RenderOptions& options,
                                      std::vector<std::string>& warnings) {
  std::vector<Service> out;
  for (const App* app : apps) {
    if (!service_id_is_safe(app->id)) {
      warnings.push_back("app '" + app->id +
                         "': the id has characters other than letters, digits and '._-/'; not published");
      continue;
    }
    std::vector<std::string> app_groups;
    if (auto it = app->labels.find("HAPROXY_GROUP"); it != app->labels.end()) {
      app_groups = service_split(it->second, ',');
    }
    std::vector<const Task*> tasks;
    for (const Task& task : app->tasks) {
      if (!service_task_published(*app, task, options)) {
        continue;
      }
      if (!service_is_ip(task.ip) || !service_host_is_safe(task.host)) {
        warnings.push_back("app " + app->id + " task " + task.id + ": host '" + task.host + "' / address '" +
                           task.ip + "' is not a host name and an IP address; the task is left out");
        continue;
      }
      std::vector<int> ports = service_task_ports(*app, task);
      for (size_t p = 0; p < ports.size(); ++p) {
        if (!service_is_port(ports[p])) {
          warnings.push_back("app " + app->id + " task " + task.id + ": port " + std::to_string(ports[p]) +
                             " (index " + std::to_string(p) + ") is not a port number; left out there");
        }
      }
      tasks.push_back(&task);
    }
    for (size_t i = 0; i < app->service_ports.size(); ++i) {
      int n = static_cast<int>(i);
      const std::string prefix = "HAPROXY_" + std::to_string(n) + "_";
      std::vector<std::string> groups = app_groups;
      if (auto it = app->labels.find(prefix + "GROUP"); it != app->labels.end()) {
        groups = service_split(it->second, ',');
      }
      if (!service_has_group(options.groups, groups)) {
        continue;
      }
      if (app->service_ports[i] == 0) {
        // No service port (the IP-per-task range was used up): nothing to bind.
        warnings.push_back("app " + app->id + " port " + std::to_string(n) +
                           ": no service port (the IP-per-task range is used up)");
        continue;
      }
      if (!service_is_port(app->service_ports[i])) {
        warnings.push_back("app " + app->id + " port " + std::to_string(n) + ": service port " +
                           std::to_string(app->service_ports[i]) + " is not a port number; not published");
        continue;
      }
      if (options.strict_mode) {
        auto it = app->labels.find(prefix + "ENABLED");
        if (it == app->labels.end() || !service_truthy(it->second)) {
          continue;
        }
      }
      Service s;
      s.app = app;
      s.index = n;
      s.service_port = app->service_ports[i];
      s.servers = service_servers(*app, tasks, i);
      if (s.servers.empty()) {
        continue;
      }
      s.health_check = service_health_check(*app, n);
      if (s.health_check != nullptr) {
        if (std::optional<std::string> problem = service_check_problem(*s.health_check)) {
          warnings.push_back("app " + app->id + " port " + std::to_string(n) + ": " + *problem);
          continue;
        }
      }
      if (s.health_check != nullptr && s.health_check->protocol == "HTTP") {
        s.mode = "http";
      }
      if (std::optional<std::string> error = service_apply_labels(s, app->labels)) {
        warnings.push_back("app " + app->id + " port " + std::to_string(n) + ": " + *error);
        continue;
      }
      if (s.healthcheck_port_index.has_value()) {
        s.health_servers =
            service_servers(*app, tasks, static_cast<size_t>(*s.healthcheck_port_index));
      }
      if (s.health_check == nullptr && s.healthcheck_port_index.has_value()) {
        s.health_check = service_health_check(*app, *s.healthcheck_port_index);
        if (s.health_check != nullptr) {
          if (std::optional<std::string> problem = service_check_problem(*s.health_check)) {
            warnings.push_back("app " + app->id + " port " + std::to_string(n) + ": " + *problem);
            continue;
          }
        }
        if (s.health_check != nullptr && service_is_http_protocol(s.health_check->protocol)) {
          s.mode = "http";
        }
      }
      if (s.mode.empty()) {
        s.mode = s.hostname.empty() ? "tcp" : "http";
      }
      std::string id = app->id.size() > 0 && app->id[0] == '/' ? app->id.substr(1) : app->id;
      std::replace(id.begin(), id.end(), '/', '_');
      s.backend = id + "_" + std::to_string(s.service_port);
      out.push_back(std::move(s));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Service& a, const Service& b) {
    return std::tie(a.app->id, a.service_port) < std::tie(b.app->id, b.service_port);
  });
  return out;
}

int health_check_port(const Service& service, size_t idx) {
  if (service.healthcheck_port_index.has_value() && idx < service.health_servers.size()) {
    return service.health_servers[idx].port;
  }
  return service.servers[idx].port;
}

Try<std::string> Expander::expand(const std::string& name, const Vars& vars) {
  const std::string& text = templates_.get(name, service_.app->labels, service_.index);
  Try<std::string> out = expand_template(name, text, vars);
  if (out.is_error()) {
    std::string label =
        "HAPROXY_" + std::to_string(service_.index) + "_" + name.substr(sizeof("HAPROXY_") - 1);
    const TemplateInfo* info = find_template(name);
    bool from_label = info != nullptr && info->per_service && service_.app->labels.count(label) > 0;
    error_ = out.error() + (from_label ? " (from label " + label + ")" : "");
    return Error(error_);
  }
  return out;
}

bool Expander::add(std::string& out, const std::string& name, const Vars& vars) {
  Try<std::string> text = expand(name, vars);
  if (text.is_error()) {
    return false;
  }
  out += *text;
  return true;
}

}  // namespace stoa::lb::render_detail
