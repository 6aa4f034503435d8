// Assembles HAProxy's configuration (render.hpp): the head, userlists, the
// shared frontends with their sorted vhost routing, then a frontend and a
// backend per published service port. A service whose templates fail to
// expand, or whose backend name is taken, is left out with a warning; the
// rest still renders.

#include "apps/lb/render.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "apps/lb/lua.hpp"
#include "apps/lb/render_internal.hpp"

namespace stoa::lb::render_detail {
namespace {

// What one service port adds to the configuration.
struct ServiceOutput {
  std::string userlist;
  std::string frontend;
  std::string backend;
  std::string appid_acl;
  bool appid = false;
  std::optional<render_detail::VhostRouting> routing;
  std::vector<std::string> servers;
};

// The default texts, built once: the fallback of a failing override.
const Templates& render_default_templates() {
  static const Templates defaults;
  return defaults;
}

bool render_head_is_usable(const std::string& head) {
  std::istringstream words(head);
  std::string word;
  while (words >> word) {
    if (word == "daemon") {
      return false;
    }
  }
  return head.find("expose-fd listeners") != std::string::npos;
}

std::string render_head(const Templates& templates, const RenderOptions& options,
                        std::vector<std::string>& warnings) {
  std::string lua_load;
  std::string lua_services;
  if (!options.lua_dir.empty()) {
    lua_load += "  setenv STOA_LB_CONFIG_DIR " + options.config_dir + "\n";
    if (options.lb_pid > 0) {
      lua_load += "  setenv STOA_LB_PID " + std::to_string(options.lb_pid) + "\n";
    }
    for (const LuaScript& script : lua_scripts()) {
      lua_load += "  lua-load " + options.lua_dir + "/" + script.file + "\n";
      for (const auto& [service, path] : script.services) {
        lua_services += "  http-request use-service lua." + service + " if { path " + path + " }\n";
      }
    }
  }
  Vars vars = {{"statsPort", std::to_string(options.stats_port)},
               {"runDir", options.run_dir},
               {"luaLoad", lua_load},
               {"luaServices", lua_services},
               {"globalMaxconn",
                options.maxconn > 0 ? "  maxconn " + std::to_string(options.maxconn) + "\n" : ""}};
  std::string text = templates.get("HAPROXY_HEAD");
  if (!render_head_is_usable(text)) {
    warnings.push_back(
        "HAPROXY_HEAD: a custom head must not contain 'daemon' and must contain 'stats socket ... "
        "expose-fd listeners'; using the default head");
    text = render_default_templates().get("HAPROXY_HEAD");
  }
  return *expand_template("HAPROXY_HEAD", text, vars);
}

// A global template; a failing override falls back to the default text.
std::string render_global(const Templates& templates, const std::string& name, const Vars& vars,
                          std::vector<std::string>& warnings) {
  Try<std::string> out = expand_template(name, templates.get(name), vars);
  if (out.is_error()) {
    warnings.push_back(out.error() + "; using the default " + name);
    return *expand_template(name, render_default_templates().get(name), vars);
  }
  return *out;
}

std::string render_certs(const std::vector<std::string>& certs) {
  std::string out;
  for (const std::string& cert : certs) {
    out += (out.empty() ? "crt " : " crt ") + cert;
  }
  return out;
}

Vars render_health_vars(const HealthCheck& check, const std::optional<int>& port) {
  std::string port_text = port.has_value() && *port != 0 ? std::to_string(*port) : "";
  return Vars{{"healthCheckPortIndex", check.port_index ? std::to_string(*check.port_index) : ""},
              {"healthCheckPort", port_text},
              {"healthCheckProtocol", check.protocol},
              {"healthCheckPath", check.path.empty() ? "/" : check.path},
              {"healthCheckTimeoutSeconds", std::to_string(check.timeout_seconds)},
              {"healthCheckIntervalSeconds", std::to_string(check.interval_seconds)},
              {"healthCheckGracePeriodSeconds", std::to_string(check.grace_period_seconds)},
              {"healthCheckMaxConsecutiveFailures", std::to_string(check.max_consecutive_failures)},
              {"healthCheckFalls", std::to_string(check.max_consecutive_failures + 1)},
              {"healthCheckPortOptions", port_text.empty() ? "" : " port " + port_text}};
}

std::string render_trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) {
    return "";
  }
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// The backend lines of one service after its head: health check options
// and servers.
bool render_servers(Expander& x, const Service& s, ServiceOutput& out) {
  const HealthCheck* check = s.health_check;
  bool tcp_check = check != nullptr &&
                   (s.mode == "tcp" || check->protocol == "TCP" || check->protocol == "MESOS_TCP");
  bool http_check = check != nullptr && !tcp_check && s.mode == "http";
  if (tcp_check || http_check) {
    int port = render_detail::health_check_port(s, 0);
    const char* name = tcp_check ? "HAPROXY_BACKEND_TCP_HEALTHCHECK_OPTIONS"
                                 : "HAPROXY_BACKEND_HTTP_HEALTHCHECK_OPTIONS";
    if (!x.add(out.backend, name, render_health_vars(*check, port))) {
      return false;
    }
  }
  std::set<int> taken;
  for (size_t idx = 0; idx < s.servers.size(); ++idx) {
    const render_detail::Server& server = s.servers[idx];
    std::string name = server.host != server.ip
                           ? server.host + "_" + server.ip + "_" + std::to_string(server.port)
                           : server.ip + "_" + std::to_string(server.port);
    name = render_detail::clean_name(name);
    int id = render_detail::server_id(name, taken);
    std::string check_options;
    if (tcp_check || http_check) {
      std::optional<int> port = s.healthcheck_port_index.has_value()
                                    ? std::optional<int>(render_detail::health_check_port(s, idx))
                                    : check->port;
      const char* tname = tcp_check ? "HAPROXY_BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS"
                                    : "HAPROXY_BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS";
      Try<std::string> text = x.expand(tname, render_health_vars(*check, port));
      if (text.is_error()) {
        return false;
      }
      check_options = render_trim(*text);
      if (!check_options.empty()) {
        check_options = " " + check_options;
      }
    }
    Vars vars = {
        {"host", server.host},
        {"host_ipv4", server.ip},
        {"port", std::to_string(server.port)},
        {"serverName", name},
        {"serverId", std::to_string(id)},
        {"cookieOptions", s.sticky ? " check cookie " + render_detail::cookie_value(name) : ""},
        {"healthCheckOptions", check_options},
        {"otherOptions", server.draining ? " disabled" : ""}};
    if (!x.add(out.backend, "HAPROXY_BACKEND_SERVER_OPTIONS", vars)) {
      return false;
    }
    out.servers.push_back(name);
  }
  return true;
}

bool render_service(Expander& x, const Service& s, const RenderOptions& options, bool appid_free,
                    MapState& maps, ServiceOutput& out) {
  if (!s.user.empty() && !x.add(out.userlist, "HAPROXY_USERLIST_HEAD",
                                {{"backend", s.backend}, {"user", s.user}, {"passwd", s.passwd}})) {
    return false;
  }
  Vars fe = {{"backend", s.backend},
             {"bindAddr", s.bind_addr},
             {"servicePort", std::to_string(s.service_port)},
             {"mode", s.mode},
             {"sslCert", s.ssl_cert.empty() ? "" : " ssl crt " + s.ssl_cert},
             {"bindOptions", s.bind_options.empty() ? "" : " " + s.bind_options}};
  if (!x.add(out.frontend, "HAPROXY_FRONTEND_HEAD", fe) ||
      !x.add(out.backend, "HAPROXY_BACKEND_HEAD",
             {{"backend", s.backend}, {"balance", s.balance}, {"mode", s.mode}})) {
    return false;
  }
  if (s.mode == "http") {
    // A reload soft-stops the old worker: with this, its idle keep-alive
    // connections end after their next response ("Connection: close")
    // instead of being closed under a request in flight (a read error at
    // the client). Not a template: it is what makes reloads drop nothing.
    out.frontend += "  option idle-close-on-response\n";
  }
  if (!options.dont_bind_http_https && !s.hostname.empty()) {
    Try<render_detail::VhostRouting> routing = render_detail::vhost_routing(x, s, options, maps);
    if (routing.is_error()) {
      return false;
    }
    out.routing = std::move(*routing);
  }
  if (s.mode == "http" && appid_free) {
    out.appid = true;
    if (options.haproxy_map) {
      if (!maps.appid_acl_emitted) {
        if (!x.add(out.appid_acl, "HAPROXY_MAP_HTTP_FRONTEND_APPID_ACL",
                   {{"haproxy_dir", options.config_dir}})) {
          return false;
        }
        maps.appid_acl_emitted = true;
      }
      std::pair<std::string, std::string> entry{s.app->id, s.backend};
      if (std::find(maps.app_map.begin(), maps.app_map.end(), entry) == maps.app_map.end()) {
        maps.app_map.push_back(entry);
      }
    } else if (!x.add(out.appid_acl, "HAPROXY_HTTP_FRONTEND_APPID_ACL",
                      {{"cleanedUpAppId", render_detail::clean_name(s.app->id)},
                       {"hostname", s.hostname},
                       {"appId", s.app->id},
                       {"backend", s.backend}})) {
      return false;
    }
  }
  if (s.mode == "http") {
    bool ok =
        (!s.use_hsts || x.add(out.backend, "HAPROXY_BACKEND_HSTS_OPTIONS", {})) &&
        x.add(out.backend, "HAPROXY_BACKEND_HTTP_OPTIONS", {}) &&
        (s.proxypath.empty() || x.add(out.backend, "HAPROXY_HTTP_BACKEND_PROXYPASS_GLUE",
                                      {{"hostname", s.hostname}, {"proxypath", s.proxypath}})) &&
        (s.revproxypath.empty() ||
         x.add(out.backend, "HAPROXY_HTTP_BACKEND_REVPROXY_GLUE",
               {{"hostname", s.hostname}, {"rootpath", s.revproxypath}})) &&
        (s.redirpath.empty() || x.add(out.backend, "HAPROXY_HTTP_BACKEND_REDIR",
                                      {{"hostname", s.hostname}, {"redirpath", s.redirpath}}));
    if (!ok) {
      return false;
    }
  }
  if (!s.network_allowed.empty()) {
    bool http = s.mode == "http";
    std::istringstream networks(s.network_allowed);
    std::string network;
    while (networks >> network) {
      if (!x.add(out.backend,
                 http ? "HAPROXY_HTTP_BACKEND_NETWORK_ALLOWED_ACL"
                      : "HAPROXY_TCP_BACKEND_NETWORK_ALLOWED_ACL",
                 {{"network_allowed", network}})) {
        return false;
      }
    }
    if (!x.add(out.backend,
               http ? "HAPROXY_HTTP_BACKEND_ACL_ALLOW_DENY" : "HAPROXY_TCP_BACKEND_ACL_ALLOW_DENY",
               {})) {
      return false;
    }
  }
  if (s.sticky && !x.add(out.backend, "HAPROXY_BACKEND_STICKY_OPTIONS", {})) {
    return false;
  }
  if (!x.add(out.frontend, "HAPROXY_FRONTEND_BACKEND_GLUE", {{"backend", s.backend}})) {
    return false;
  }
  return render_servers(x, s, out);
}

std::string render_map(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  for (const auto& [key, backend] : entries) {
    out += key + " " + backend + "\n";
  }
  return out;
}

}  // namespace
}  // namespace stoa::lb::render_detail

namespace stoa::lb {

Rendered render_subset(const std::vector<App>& apps, const std::vector<size_t>& keep,
                       const Templates& templates, const RenderOptions& options) {
  using render_detail::Expander;
  using render_detail::GroupedVhost;
  using render_detail::MapState;
  using render_detail::render_certs;
  using render_detail::render_global;
  using render_detail::Service;
  using render_detail::ServiceOutput;
  using render_detail::Vars;
  Rendered rendered;
  std::vector<const App*> selected;
  for (size_t i : keep) {
    if (i < apps.size()) {
      selected.push_back(&apps[i]);
    }
  }
  std::stable_sort(selected.begin(), selected.end(),
                   [](const App* a, const App* b) { return a->id < b->id; });
  selected.erase(std::unique(selected.begin(), selected.end()), selected.end());

  std::string config = render_detail::render_head(templates, options, rendered.warnings);
  std::vector<Service> services =
      render_detail::collect_services(selected, options, rendered.warnings);

  std::string userlists, frontends, backends, appid_acls;
  std::vector<std::pair<int, std::string>> http_acls, https_acls;
  std::map<std::string, GroupedVhost> grouped;
  std::vector<std::string> certs =
      options.ssl_certs.empty() ? std::vector<std::string>{"/etc/ssl/cert.pem"} : options.ssl_certs;
  const std::vector<std::string> default_certs = certs;
  std::set<std::string> appid_apps;
  MapState maps;

  for (const Service& s : services) {
    std::string where = "app " + s.app->id + " port " + std::to_string(s.index) + ": ";
    if (rendered.backends.count(s.backend) > 0) {
      rendered.warnings.push_back(where + "backend name '" + s.backend +
                                  "' is already taken (HAPROXY_" + std::to_string(s.index) +
                                  "_PORT or a similar app id); left out");
      continue;
    }
    Expander x(templates, s);
    MapState maps_after = maps;
    ServiceOutput out;
    if (!render_detail::render_service(x, s, options, appid_apps.count(s.app->id) == 0, maps_after,
                                       out)) {
      rendered.warnings.push_back(where + x.error() + "; left out");
      continue;
    }
    maps = std::move(maps_after);
    userlists += out.userlist;
    frontends += out.frontend;
    backends += out.backend;
    appid_acls += out.appid_acl;
    if (out.appid) {
      appid_apps.insert(s.app->id);
    }
    if (out.routing) {
      http_acls.emplace_back(out.routing->weight, out.routing->http);
      https_acls.emplace_back(out.routing->weight, out.routing->https);
      for (auto& [vhost, g] : out.routing->grouped) {
        GroupedVhost& into = grouped[vhost];
        into.entries.insert(into.entries.end(), g.entries.begin(), g.entries.end());
        into.certs.insert(g.certs.begin(), g.certs.end());
        into.bind_options.insert(g.bind_options.begin(), g.bind_options.end());
      }
      if (!s.ssl_cert.empty() && std::find(certs.begin(), certs.end(), s.ssl_cert) == certs.end()) {
        certs.push_back(s.ssl_cert);
      }
    }
    rendered.backends[s.backend] = std::move(out.servers);
  }

  auto by_weight = [](const std::pair<int, std::string>& a, const std::pair<int, std::string>& b) {
    return a.first > b.first;
  };
  std::stable_sort(http_acls.begin(), http_acls.end(), by_weight);
  std::stable_sort(https_acls.begin(), https_acls.end(), by_weight);

  const std::string bind = options.bind_address;
  config += userlists;
  if (!options.dont_bind_http_https) {
    config += render_global(templates, "HAPROXY_HTTP_FRONTEND_HEAD",
                            {{"bindAddr", bind}, {"httpPort", std::to_string(options.http_port)}},
                            rendered.warnings);
    for (const auto& acl : http_acls) {
      config += acl.second;
    }
  }
  config += render_global(
      templates, "HAPROXY_HTTP_FRONTEND_APPID_HEAD",
      {{"bindAddr", bind}, {"httpAppIdPort", std::to_string(options.http_appid_port)}},
      rendered.warnings);
  config += appid_acls;
  if (!options.dont_bind_http_https) {
    Vars https = {{"bindAddr", bind}, {"httpsPort", std::to_string(options.https_port)}};
    if (options.group_https_by_vhost) {
      config +=
          render_global(templates, "HAPROXY_HTTPS_GROUPED_FRONTEND_HEAD", https, rendered.warnings);
      for (const auto& [vhost, g] : grouped) {
        config += render_global(templates, "HAPROXY_HTTPS_GROUPED_VHOST_FRONTEND_ACL",
                                {{"backend", render_detail::clean_name(vhost)}, {"host", vhost}},
                                rendered.warnings);
      }
      for (auto& [vhost, g] : grouped) {
        std::string name = render_detail::clean_name(vhost);
        config += render_global(templates, "HAPROXY_HTTPS_GROUPED_VHOST_BACKEND_HEAD",
                                {{"name", name}}, rendered.warnings);
        std::vector<std::string> vhost_certs =
            g.certs.empty() ? default_certs
                            : std::vector<std::string>(g.certs.begin(), g.certs.end());
        std::string bind_opts;
        for (const std::string& o : g.bind_options) {
          bind_opts += (bind_opts.empty() ? " " : "  ") + o;
        }
        config += render_global(
            templates, "HAPROXY_HTTPS_GROUPED_VHOST_FRONTEND_HEAD",
            {{"name", name}, {"sslCerts", render_certs(vhost_certs)}, {"bindOpts", bind_opts}},
            rendered.warnings);
        std::stable_sort(g.entries.begin(), g.entries.end(), by_weight);
        for (const auto& entry : g.entries) {
          config += entry.second;
        }
      }
    } else {
      https["sslCerts"] = render_certs(certs);
      config += render_global(templates, "HAPROXY_HTTPS_FRONTEND_HEAD", https, rendered.warnings);
      for (const auto& acl : https_acls) {
        config += acl.second;
      }
    }
  }
  config += frontends;
  config += backends;
  rendered.config = std::move(config);
  if (options.haproxy_map) {
    rendered.domain2backend_map = render_detail::render_map(maps.domain_map);
    rendered.app2backend_map = render_detail::render_map(maps.app_map);
  }
  return rendered;
}

Rendered render(const std::vector<App>& apps, const Templates& templates,
                const RenderOptions& options) {
  std::vector<size_t> all(apps.size());
  for (size_t i = 0; i < apps.size(); ++i) {
    all[i] = i;
  }
  return render_subset(apps, all, templates, options);
}

}  // namespace stoa::lb
