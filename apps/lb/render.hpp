#pragma once
// Rendering HAProxy's configuration: a pure function of (apps, tasks, labels,
// templates, options). No socket, no clock, no file: the same input gives the
// same bytes, so the LB reloads HAProxy only when the text changed.
//
// Layout (marathon.md §7.4): the head (global, defaults, `listen stats` on
// options.stats_port serving /haproxy?stats (+ ;csv), /_haproxy_health_check,
// /_haproxy_getpids, /metrics), userlists, the shared frontends
// marathon_http_in (:http_port, Host-header ACLs of VHOST labels),
// marathon_http_appid_in (:http_appid_port, X-Marathon-App-Id),
// marathon_https_in (:https_port, SNI), then a frontend + backend per
// service port of every published app. Names: backend/frontend
// `<app id without '/', '/'→'_'>_<servicePort>`, servers
// `<host>_<ip>_<port>` (non-alphanumerics → '_').

#include <map>
#include <string>
#include <vector>

#include "apps/lb/model.hpp"
#include "apps/lb/templates.hpp"

namespace stoa::lb {

struct RenderOptions {
  // --group: apps whose HAPROXY_GROUP (comma list) or HAPROXY_{n}_GROUP
  // intersects are published; "*" publishes all, including apps without a
  // group; an app without a group matches only "*".
  std::vector<std::string> groups;
  bool strict_mode = false;            // publish a port only with HAPROXY_{n}_ENABLED=true
  bool health_check = false;           // only tasks with Task::healthy == true (when the app has checks)
  bool dont_bind_http_https = false;   // no marathon_http_in / marathon_https_in
  bool haproxy_map = false;            // vhost/app-id routing through the map files
  bool group_https_by_vhost = false;
  std::vector<std::string> ssl_certs = {"/etc/ssl/cert.pem"};
  // Ports and files of the rendered head (Stoa additions to marathon-lb,
  // whose templates hard-code them; defaults as marathon-lb's).
  int stats_port = 9090;               // env PORTS
  int http_port = 80;
  int https_port = 443;
  int http_appid_port = 9091;
  std::string bind_address = "*";     // default bind of the shared frontends
  std::string run_dir = "/var/run/haproxy";   // stats socket, server state
  std::string lua_dir;                 // our Lua services (getpids, ...); "" = none rendered
  std::string config_dir = "/etc/haproxy";    // where the map files live
  // The stoa-lb process that /_mlb_signal/hup and /_mlb_signal/usr1 signal
  // (rendered as `setenv STOA_LB_PID`, with the Lua services). 0 = none: a
  // --dry run prints no pid, and the endpoints then answer 503.
  int lb_pid = 0;
  // Global `maxconn` of the head ({globalMaxconn}). 0 (default) leaves it
  // out: HAProxy then derives it from its file-descriptor limit. marathon-lb
  // hard-codes 50000, which makes HAProxy refuse to start unless it may
  // raise `ulimit -n` to 100030 (docs/lb-templates.md).
  int maxconn = 0;
};

struct Rendered {
  std::string config;                // haproxy.cfg
  std::string domain2backend_map;    // --haproxy-map: "<host> <backend>" lines
  std::string app2backend_map;       // --haproxy-map: "<app id> <backend>" lines
  // Per-app problems that left the app (or a port of it) out, e.g. a bad
  // label value or a template that failed to format: "app /web port 0:
  // HAPROXY_0_MODE 'udp' is not tcp or http".
  std::vector<std::string> warnings;
  // Backends rendered, with their servers (for logs and tests).
  std::map<std::string, std::vector<std::string>> backends;
};

Rendered render(const std::vector<App>& apps, const Templates& templates, const RenderOptions& options);

// Renders with only `apps[i]` for i in `keep` (config cleanup: the LB adds
// apps one at a time and drops those whose result fails validation).
Rendered render_subset(const std::vector<App>& apps, const std::vector<size_t>& keep,
                       const Templates& templates, const RenderOptions& options);

}  // namespace stoa::lb
