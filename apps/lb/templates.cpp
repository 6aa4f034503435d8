// The template catalogue (names and variables as marathon-lb's config.py,
// texts our own, in HAProxy 2.6 syntax), template loading, and the
// str.format subset the templates are written in. docs/lb-templates.md
// lists every entry.

#include "apps/lb/templates.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace stoa::lb {
namespace {

const std::vector<std::string> TEMPLATES_HC_VARS = {"healthCheckPortIndex",
                                                    "healthCheckPort",
                                                    "healthCheckProtocol",
                                                    "healthCheckPath",
                                                    "healthCheckTimeoutSeconds",
                                                    "healthCheckIntervalSeconds",
                                                    "healthCheckGracePeriodSeconds",
                                                    "healthCheckMaxConsecutiveFailures",
                                                    "healthCheckFalls",
                                                    "healthCheckPortOptions"};

const char* const TEMPLATES_DEFAULT_OPTIONS = "redispatch,http-server-close,dontlognull";

// `  option <o>` lines of a comma list, sorted and deduplicated, as
// marathon-lb builds them from HAPROXY_GLOBAL_DEFAULT_OPTIONS.
std::string templates_option_lines(const std::string& list) {
  std::set<std::string> lines;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t b = item.find_first_not_of(" \t");
    size_t e = item.find_last_not_of(" \t");
    std::string opt = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    lines.insert("  option " + opt + "\n");
  }
  std::string out;
  for (const std::string& l : lines) {
    out += l;
  }
  return out;
}

const char* const TEMPLATES_CIPHERS =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
const char* const TEMPLATES_CIPHERSUITES =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

std::string templates_head_text(const std::string& default_options) {
  std::string ciphers = TEMPLATES_CIPHERS;
  std::string suites = TEMPLATES_CIPHERSUITES;
  return "global\n"
         "{globalMaxconn}"
         "  spread-checks 5\n"
         "  tune.ssl.default-dh-param 2048\n"
         "  ssl-default-bind-ciphers " +
         ciphers +
         "\n"
         "  ssl-default-bind-ciphersuites " +
         suites +
         "\n"
         "  ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets\n"
         "  ssl-default-server-ciphers " +
         ciphers +
         "\n"
         "  ssl-default-server-ciphersuites " +
         suites +
         "\n"
         "  ssl-default-server-options ssl-min-ver TLSv1.2 no-tls-tickets\n"
         "  stats socket {runDir}/socket expose-fd listeners level admin\n"
         "  server-state-file {runDir}/server-state\n"
         "{luaLoad}"
         "defaults\n"
         "  load-server-state-from-file global\n"
         "  retries 3\n"
         "  backlog 10000\n"
         "  maxconn 10000\n"
         "  timeout connect 3s\n"
         "  timeout client 30s\n"
         "  timeout server 30s\n"
         "  timeout tunnel 3600s\n"
         "  timeout http-keep-alive 1s\n"
         "  timeout http-request 15s\n"
         "  timeout queue 30s\n"
         "  timeout tarpit 60s\n"
         // On a reload the old worker would close its idle keep-alive
         // connections under a client about to send on them (failed
         // requests); with this it answers them with Connection: close.
         "  option idle-close-on-response\n" +
         templates_option_lines(default_options) +
         "listen stats\n"
         "  bind 0.0.0.0:{statsPort}\n"
         "  mode http\n"
         "  stats enable\n"
         "  stats uri /haproxy?stats\n"
         "  monitor-uri /_haproxy_health_check\n"
         "  http-request use-service prometheus-exporter if { path /metrics }\n"
         "{luaServices}";
}

using TemplateVarNames = std::vector<std::string>;

std::vector<TemplateInfo> templates_build_catalogue() {
  std::vector<TemplateInfo> c;
  auto add = [&c](std::string name, std::string text, std::string help, TemplateVarNames vars,
                  bool per_service, bool raw = false) {
    c.push_back(TemplateInfo{"HAPROXY_" + std::move(name), std::move(text), std::move(help),
                             std::move(vars), per_service, raw});
  };
  // Global templates.
  add("HEAD", templates_head_text(TEMPLATES_DEFAULT_OPTIONS),
      "global and defaults sections and the `listen stats` proxy (stats page, health check, "
      "/metrics, Lua services). Must keep `expose-fd listeners` and must not say `daemon`",
      {"statsPort", "runDir", "luaLoad", "luaServices", "globalMaxconn"}, false, true);
  add("HTTP_FRONTEND_HEAD",
      "\nfrontend marathon_http_in\n  bind {bindAddr}:{httpPort}\n  mode http\n",
      "the shared HTTP frontend gathering the HAPROXY_{n}_VHOST ACLs", {"bindAddr", "httpPort"},
      false, true);
  add("HTTP_FRONTEND_APPID_HEAD",
      "\nfrontend marathon_http_appid_in\n  bind {bindAddr}:{httpAppIdPort}\n  mode http\n",
      "the shared frontend routing on the X-Marathon-App-Id header to the first http-mode port of "
      "each app",
      {"bindAddr", "httpAppIdPort"}, false, true);
  add("HTTPS_FRONTEND_HEAD",
      "\nfrontend marathon_https_in\n  bind {bindAddr}:{httpsPort} ssl {sslCerts}\n  mode http\n",
      "the shared TLS frontend gathering the SNI ACLs of the VHOST labels",
      {"sslCerts", "bindAddr", "httpsPort"}, false);
  add("HTTPS_GROUPED_FRONTEND_HEAD",
      "\nfrontend marathon_https_in\n  bind {bindAddr}:{httpsPort}\n  mode tcp\n"
      "  tcp-request inspect-delay 5s\n"
      "  tcp-request content accept if { req_ssl_hello_type 1 }\n",
      "with --group-https-by-vhost: the TCP frontend that routes TLS by SNI to one TLS frontend "
      "per "
      "vhost",
      {"bindAddr", "httpsPort"}, false, true);
  add("HTTPS_GROUPED_VHOST_FRONTEND_ACL",
      "  use_backend {backend} if {{ req_ssl_sni -i {host} }}\n",
      "with --group-https-by-vhost: routes one vhost's SNI to its loopback backend",
      {"backend", "host"}, false);
  add("HTTPS_GROUPED_VHOST_BACKEND_HEAD",
      "\nbackend {name}\n  server loopback-for-tls abns@{name} send-proxy-v2\n",
      "with --group-https-by-vhost: the loopback backend of one vhost", {"name"}, false);
  add("HTTPS_GROUPED_VHOST_FRONTEND_HEAD",
      "\nfrontend {name}\n  mode http\n  bind abns@{name} accept-proxy ssl {sslCerts}{bindOpts}\n",
      "with --group-https-by-vhost: the TLS frontend of one vhost",
      {"name", "sslCerts", "bindOpts"}, false);
  add("HTTP_BACKEND_ACL_ALLOW_DENY",
      "  http-request allow if network_allowed\n  http-request deny\n",
      "after the BACKEND_NETWORK_ALLOWED_ACL lines of an http backend: deny everyone else", {},
      false, true);
  add("TCP_BACKEND_ACL_ALLOW_DENY",
      "  tcp-request content accept if network_allowed\n  tcp-request content reject\n",
      "after the BACKEND_NETWORK_ALLOWED_ACL lines of a tcp backend: reject everyone else", {},
      false, true);
  // Per-service templates (HAPROXY_{n}_<name> labels override them).
  add("USERLIST_HEAD", "\nuserlist user_{backend}\n  user {user} password {passwd}\n",
      "the userlist of a port with HAPROXY_{n}_AUTH", {"backend", "user", "passwd"}, true);
  add("FRONTEND_HEAD",
      "\nfrontend {backend}\n  bind {bindAddr}:{servicePort}{sslCert}{bindOptions}\n  mode "
      "{mode}\n",
      "the frontend of a service port",
      {"backend", "bindAddr", "servicePort", "mode", "sslCert", "bindOptions"}, true);
  add("FRONTEND_BACKEND_GLUE", "  use_backend {backend}\n",
      "connects a port's frontend to its backend", {"backend"}, true);
  add("BACKEND_HEAD", "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n",
      "the backend of a service port", {"backend", "balance", "mode"}, true);
  add("BACKEND_REDIRECT_HTTP_TO_HTTPS",
      "  redirect scheme https code 301 if !{{ ssl_fc }} host_{cleanedUpHostname}\n",
      "in marathon_http_in, for HAPROXY_{n}_REDIRECT_TO_HTTPS", {"bindAddr", "cleanedUpHostname"},
      true);
  add("BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH",
      "  redirect scheme https code 301 if !{{ ssl_fc }} host_{cleanedUpHostname} path_{backend}\n",
      "as BACKEND_REDIRECT_HTTP_TO_HTTPS, for a port with a PATH",
      {"bindAddr", "cleanedUpHostname", "backend"}, true);
  add("BACKEND_HSTS_OPTIONS",
      "  http-response set-header Strict-Transport-Security \"max-age=15768000\"\n",
      "in an http backend with HAPROXY_{n}_USE_HSTS (HAProxy 2.x syntax)", {}, true, true);
  add("BACKEND_HTTP_OPTIONS",
      "  option forwardfor\n"
      "  http-request set-header X-Forwarded-Port %[dst_port]\n"
      "  http-request add-header X-Forwarded-Proto https if { ssl_fc }\n",
      "in every http backend: X-Forwarded-* headers", {}, true, true);
  add("BACKEND_STICKY_OPTIONS", "  cookie mesosphere_server_id insert indirect nocache\n",
      "in a backend with HAPROXY_{n}_STICKY", {}, true, true);
  add("BACKEND_HTTP_HEALTHCHECK_OPTIONS",
      "  option httpchk GET {healthCheckPath}\n  timeout check {healthCheckTimeoutSeconds}s\n",
      "in an http backend whose port has a health check", TEMPLATES_HC_VARS, true);
  add("BACKEND_TCP_HEALTHCHECK_OPTIONS", "",
      "in a tcp backend (or TCP check) whose port has a health check; empty by default",
      TEMPLATES_HC_VARS, true);
  add("BACKEND_SERVER_OPTIONS",
      "  server {serverName} {host_ipv4}:{port} id {serverId}{cookieOptions}{healthCheckOptions}"
      "{otherOptions}\n",
      "one server line per task",
      {"host", "host_ipv4", "port", "serverName", "serverId", "cookieOptions", "healthCheckOptions",
       "otherOptions"},
      true);
  add("BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS",
      "  check inter {healthCheckIntervalSeconds}s fall "
      "{healthCheckFalls}{healthCheckPortOptions}\n",
      "server options of an http check (trimmed, then one leading space)", TEMPLATES_HC_VARS, true);
  add("BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS",
      "  check inter {healthCheckIntervalSeconds}s fall "
      "{healthCheckFalls}{healthCheckPortOptions}\n",
      "server options of a tcp check (trimmed, then one leading space)", TEMPLATES_HC_VARS, true);
  add("HTTP_BACKEND_NETWORK_ALLOWED_ACL", "  acl network_allowed src {network_allowed}\n",
      "one line per address of HAPROXY_{n}_BACKEND_NETWORK_ALLOWED_ACL (http)", {"network_allowed"},
      true);
  add("TCP_BACKEND_NETWORK_ALLOWED_ACL", "  acl network_allowed src {network_allowed}\n",
      "one line per address of HAPROXY_{n}_BACKEND_NETWORK_ALLOWED_ACL (tcp)", {"network_allowed"},
      true);
  add("HTTP_BACKEND_PROXYPASS_GLUE",
      "  http-request set-header Host {hostname}\n"
      "  http-request replace-path ^{proxypath}/?(.*) /\\1\n",
      "for HAPROXY_{n}_HTTP_BACKEND_PROXYPASS_PATH: strips the prefix (HAProxy 2.x replace-path)",
      {"hostname", "proxypath"}, true);
  add("HTTP_BACKEND_REVPROXY_GLUE",
      "  acl hdr_location res.hdr(Location) -m found\n"
      "  http-response replace-header Location ^(https?://{hostname}(:[0-9]+)?)?(/.*)$ "
      "{rootpath}\\3 "
      "if hdr_location\n",
      "for HAPROXY_{n}_HTTP_BACKEND_REVPROXY_PATH: rewrites Location (HAProxy 2.x replace-header)",
      {"hostname", "rootpath"}, true);
  add("HTTP_BACKEND_REDIR",
      "  acl is_root path -i /\n  acl is_domain hdr(host),field(1,:) -i {hostname}\n"
      "  redirect code 301 location {redirpath} if is_domain is_root\n",
      "for HAPROXY_{n}_HTTP_BACKEND_REDIR: redirects the root of the vhost. Global only: the label "
      "of its name is the redirect path",
      {"hostname", "redirpath"}, false);
  // Vhost routing in marathon_http_in.
  const TemplateVarNames acl = {"cleanedUpHostname", "hostname", "appId", "backend"};
  const TemplateVarNames acl_auth = {"cleanedUpHostname", "hostname", "appId", "realm", "backend"};
  const TemplateVarNames acl_path = {"cleanedUpHostname", "hostname", "path", "appId", "backend"};
  const TemplateVarNames acl_auth_path = {
      "cleanedUpHostname", "hostname", "path", "appId", "realm", "backend"};
  add("HTTP_FRONTEND_ACL",
      "  acl host_{cleanedUpHostname} hdr(host),field(1,:) -i {hostname}\n"
      "  use_backend {backend} if host_{cleanedUpHostname}\n",
      "one vhost → backend", acl, true);
  add("HTTP_FRONTEND_ACL_WITH_AUTH",
      "  acl host_{cleanedUpHostname} hdr(host),field(1,:) -i {hostname}\n"
      "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n"
      "  http-request auth realm \"{realm}\" if host_{cleanedUpHostname} "
      "!auth_{cleanedUpHostname}\n"
      "  use_backend {backend} if host_{cleanedUpHostname}\n",
      "one vhost → backend behind basic auth", acl_auth, true);
  add("HTTP_FRONTEND_ACL_WITH_PATH",
      "  acl host_{cleanedUpHostname} hdr(host),field(1,:) -i {hostname}\n"
      "  acl path_{backend} path_beg {path}\n"
      "  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n",
      "one vhost + path → backend", acl_path, true);
  add("HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH",
      "  acl host_{cleanedUpHostname} hdr(host),field(1,:) -i {hostname}\n"
      "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n"
      "  acl path_{backend} path_beg {path}\n"
      "  http-request auth realm \"{realm}\" if host_{cleanedUpHostname} path_{backend} "
      "!auth_{cleanedUpHostname}\n"
      "  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n",
      "one vhost + path → backend behind basic auth", acl_auth_path, true);
  add("HTTP_FRONTEND_ACL_ONLY", "  acl host_{cleanedUpHostname} hdr(host),field(1,:) -i {hostname}\n",
      "the host ACL alone (several vhosts, or a redirect)", {"cleanedUpHostname", "hostname"},
      true);
  add("HTTP_FRONTEND_ACL_ONLY_WITH_PATH", "  acl path_{backend} path_beg {path}\n",
      "the path ACL alone", {"cleanedUpHostname", "hostname", "path", "backend"}, true);
  add("HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH",
      "  acl path_{backend} path_beg {path}\n  acl auth_{cleanedUpHostname} "
      "http_auth(user_{backend})\n",
      "the path and auth ACLs alone (several vhosts)",
      {"cleanedUpHostname", "hostname", "path", "realm", "backend"}, true);
  add("HTTP_FRONTEND_ROUTING_ONLY", "  use_backend {backend} if host_{cleanedUpHostname}\n",
      "routing of several vhosts sharing one ACL name", {"cleanedUpHostname", "backend"}, true);
  add("HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH",
      "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n"
      "  http-request auth realm \"{realm}\" if host_{cleanedUpHostname} "
      "!auth_{cleanedUpHostname}\n"
      "  use_backend {backend} if host_{cleanedUpHostname}\n",
      "as HTTP_FRONTEND_ROUTING_ONLY, behind basic auth", {"cleanedUpHostname", "realm", "backend"},
      true);
  add("HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH",
      "  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n",
      "as HTTP_FRONTEND_ROUTING_ONLY, with the path ACL", {"cleanedUpHostname", "backend"}, true);
  add("HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH",
      "  http-request auth realm \"{realm}\" if host_{cleanedUpHostname} path_{backend} "
      "!auth_{cleanedUpHostname}\n"
      "  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n",
      "as HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH, behind basic auth",
      {"cleanedUpHostname", "realm", "backend"}, true);
  add("MAP_HTTP_FRONTEND_ACL",
      "  use_backend %[req.hdr(host),lower,regsub(:.*$,,),map({haproxy_dir}/domain2backend.map)]\n",
      "with --haproxy-map: vhost routing through domain2backend.map (emitted once)",
      {"haproxy_dir"}, true);
  add("MAP_HTTP_FRONTEND_ACL_ONLY",
      "  use_backend %[req.hdr(host),lower,regsub(:.*$,,),map({haproxy_dir}/domain2backend.map)]\n",
      "with --haproxy-map and several vhosts (emitted once)", {"haproxy_dir"}, true);
  // App-id routing in marathon_http_appid_in.
  add("HTTP_FRONTEND_APPID_ACL",
      "  acl app_{cleanedUpAppId} hdr(x-marathon-app-id) -i {appId}\n"
      "  use_backend {backend} if app_{cleanedUpAppId}\n",
      "X-Marathon-App-Id → backend", {"cleanedUpAppId", "hostname", "appId", "backend"}, true);
  add("MAP_HTTP_FRONTEND_APPID_ACL",
      "  use_backend %[req.hdr(x-marathon-app-id),lower,map({haproxy_dir}/app2backend.map)]\n",
      "with --haproxy-map: app-id routing through app2backend.map (emitted once)", {"haproxy_dir"},
      true);
  // SNI routing in marathon_https_in.
  add("HTTPS_FRONTEND_ACL", "  use_backend {backend} if {{ ssl_fc_sni {hostname} }}\n",
      "one vhost's SNI → backend", acl, true);
  add("HTTPS_FRONTEND_ACL_WITH_AUTH",
      "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n"
      "  http-request auth realm \"{realm}\" if {{ ssl_fc_sni {hostname} }} "
      "!auth_{cleanedUpHostname}\n"
      "  use_backend {backend} if {{ ssl_fc_sni {hostname} }}\n",
      "SNI → backend behind basic auth", acl_auth, true);
  add("HTTPS_FRONTEND_ACL_WITH_PATH",
      "  use_backend {backend} if {{ ssl_fc_sni {hostname} }} path_{backend}\n",
      "SNI + path → backend", acl, true);
  add("HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH",
      "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n"
      "  http-request auth realm \"{realm}\" if {{ ssl_fc_sni {hostname} }} path_{backend} "
      "!auth_{cleanedUpHostname}\n"
      "  use_backend {backend} if {{ ssl_fc_sni {hostname} }} path_{backend}\n",
      "SNI + path → backend behind basic auth", acl_auth_path, true);
  add("HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", "  acl path_{backend} path_beg {path}\n",
      "the path ACL in marathon_https_in",
      {"cleanedUpHostname", "hostname", "path", "realm", "backend"}, true);
  add("HTTPS_FRONTEND_AUTH_ACL_ONLY", "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n",
      "kept for override compatibility; not used by the renderer (nor by marathon-lb)",
      {"cleanedUpHostname", "backend"}, true);
  add("HTTPS_FRONTEND_AUTH_REQUEST_ONLY",
      "  http-request auth realm \"{realm}\" if {{ ssl_fc_sni {hostname} }} "
      "!auth_{cleanedUpHostname}\n",
      "kept for override compatibility; not used by the renderer (nor by marathon-lb)",
      {"cleanedUpHostname", "hostname", "realm"}, true);
  add("HTTPS_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH",
      "  http-request auth realm \"{realm}\" if {{ ssl_fc_sni {hostname} }} path_{backend} "
      "!auth_{cleanedUpHostname}\n"
      "  use_backend {backend} if {{ ssl_fc_sni {hostname} }} path_{backend}\n",
      "kept for override compatibility; not used by the renderer (nor by marathon-lb)",
      {"cleanedUpHostname", "hostname", "realm", "backend"}, true);
  add("MAP_HTTPS_FRONTEND_ACL",
      "  use_backend %[ssl_fc_sni,lower,map({haproxy_dir}/domain2backend.map)]\n",
      "with --haproxy-map: SNI routing through domain2backend.map (emitted once)",
      {"hostname", "haproxy_dir"}, true);
  return c;
}

bool templates_is_name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         ch == '_';
}

// Raw templates: only `{v}` for a declared v is replaced.
std::string templates_substitute_known(std::string_view text,
                                       const std::vector<std::string>& declared,
                                       const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '{') {
      size_t close = text.find('}', i + 1);
      if (close != std::string_view::npos) {
        std::string name(text.substr(i + 1, close - i - 1));
        auto it = vars.find(name);
        if (it != vars.end() &&
            std::find(declared.begin(), declared.end(), name) != declared.end()) {
          out += it->second;
          i = close + 1;
          continue;
        }
      }
    }
    out += text[i];
    ++i;
  }
  return out;
}

}  // namespace

const std::vector<TemplateInfo>& template_catalogue() {
  static const std::vector<TemplateInfo> catalogue = templates_build_catalogue();
  return catalogue;
}

const TemplateInfo* find_template(std::string_view name) {
  for (const TemplateInfo& t : template_catalogue()) {
    if (t.name == name) {
      return &t;
    }
  }
  return nullptr;
}

Templates::Templates() {
  for (const TemplateInfo& t : template_catalogue()) {
    texts_[t.name] = t.default_text;
  }
}

Try<Templates> Templates::load(const std::string& dir,
                               const std::map<std::string, std::string>& env) {
  Templates templates;
  auto options = env.find("HAPROXY_GLOBAL_DEFAULT_OPTIONS");
  if (options != env.end()) {
    templates.set("HAPROXY_HEAD", templates_head_text(options->second));
  }
  std::error_code ec;
  if (!dir.empty() && std::filesystem::is_directory(dir, ec)) {
    for (const TemplateInfo& t : template_catalogue()) {
      std::filesystem::path file = std::filesystem::path(dir) / t.name;
      if (!std::filesystem::exists(file, ec)) {
        continue;
      }
      std::ifstream in(file, std::ios::binary);
      if (!std::filesystem::is_regular_file(file, ec) || !in) {
        return Error("template file '" + file.string() + "' cannot be read");
      }
      std::ostringstream text;
      text << in.rdbuf();
      if (in.bad()) {
        return Error("template file '" + file.string() + "' cannot be read");
      }
      templates.set(t.name, text.str());
    }
  }
  for (const TemplateInfo& t : template_catalogue()) {
    auto it = env.find(t.name);
    if (it != env.end()) {
      templates.set(t.name, it->second);
    }
  }
  return templates;
}

const std::string& Templates::get(const std::string& name) const { return texts_.at(name); }

const std::string& Templates::get(const std::string& name,
                                  const std::map<std::string, std::string>& labels, int n) const {
  const TemplateInfo* info = find_template(name);
  if (info != nullptr && info->per_service) {
    auto it =
        labels.find("HAPROXY_" + std::to_string(n) + "_" + name.substr(sizeof("HAPROXY_") - 1));
    if (it != labels.end()) {
      return it->second;
    }
  }
  return get(name);
}

void Templates::set(const std::string& name, std::string text) { texts_[name] = std::move(text); }

Try<std::string> format_template(std::string_view text,
                                 const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size() + 64);
  size_t i = 0;
  while (i < text.size()) {
    char ch = text[i];
    if (ch == '{') {
      if (i + 1 < text.size() && text[i + 1] == '{') {
        out += '{';
        i += 2;
        continue;
      }
      size_t close = text.find_first_of("{}", i + 1);
      if (close == std::string_view::npos || text[close] == '{') {
        return Error("unbalanced '{' at offset " + std::to_string(i));
      }
      std::string name(text.substr(i + 1, close - i - 1));
      if (name.empty() || !std::all_of(name.begin(), name.end(), templates_is_name_char) ||
          (name[0] >= '0' && name[0] <= '9')) {
        return Error("unsupported placeholder '{" + name + "}' (only {name} is supported)");
      }
      auto it = vars.find(name);
      if (it == vars.end()) {
        return Error("unknown placeholder '{" + name + "}'");
      }
      out += it->second;
      i = close + 1;
      continue;
    }
    if (ch == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        out += '}';
        i += 2;
        continue;
      }
      return Error("single '}' at offset " + std::to_string(i) +
                   " (write '}}' for a literal brace)");
    }
    out += ch;
    ++i;
  }
  return out;
}

Try<std::string> expand_template(const std::string& name, std::string_view text,
                                 const std::map<std::string, std::string>& vars) {
  const TemplateInfo* info = find_template(name);
  if (info != nullptr && info->raw) {
    return templates_substitute_known(text, info->variables, vars);
  }
  Try<std::string> out = format_template(text, vars);
  if (out.is_error()) {
    return Error(name + ": " + out.error());
  }
  return out;
}

}  // namespace stoa::lb
