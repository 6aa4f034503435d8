#pragma once
// The renderer's parts (render.cpp assembles them): the published service
// ports with their parsed labels (render_service.cpp), the vhost routing of
// the shared frontends (render_frontends.cpp) and the hashes of server ids
// and cookies (render_hash.cpp). Internal to apps/lb.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "apps/lb/model.hpp"
#include "apps/lb/render.hpp"
#include "apps/lb/templates.hpp"

namespace stoa::lb::render_detail {

using Vars = std::map<std::string, std::string>;

struct Server {
  std::string host;
  std::string ip;
  int port = 0;
  bool draining = false;
};

// One published service port of an app, its labels parsed.
struct Service {
  const App* app = nullptr;
  int index = 0;                    // n of HAPROXY_{n}_*
  int service_port = 0;             // HAPROXY_{n}_PORT, else the app's service port
  std::string backend;              // `<id without '/', '/'→'_'>_<service_port>`
  std::string hostname;             // HAPROXY_{n}_VHOST lower-cased ("" = none)
  std::vector<std::string> vhosts;  // hostname split at ','
  std::string path;
  std::string realm, user, passwd;  // HAPROXY_{n}_AUTH
  std::string ssl_cert;
  std::string bind_options;
  std::string bind_addr = "*";
  std::string mode;  // "tcp" or "http"
  std::string balance = "roundrobin";
  bool sticky = false;
  bool redirect_to_https = false;
  bool use_hsts = false;
  int backend_weight = 0;
  std::string network_allowed;
  std::optional<int> healthcheck_port_index;
  std::string proxypath, revproxypath, redirpath;
  const HealthCheck* health_check = nullptr;
  std::vector<Server> servers;  // sorted by (host, port), unique
  // With HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX: the servers of that
  // port index of the app, in the same order (published or not).
  std::vector<Server> health_servers;
};

// The service ports of `apps` that `options` publish (groups, strict mode)
// and that have at least one server (task state, health, ip), sorted by
// (app id, service port). A port with a bad label value is left out with a
// warning naming app, port, label and value.
std::vector<Service> collect_services(const std::vector<const App*>& apps,
                                      const RenderOptions& options,
                                      std::vector<std::string>& warnings);

// The port of the `idx`-th server used for health checks of `service`:
// the `idx`-th server of the port HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX
// names (same app), else (or when it has fewer servers) of the service.
int health_check_port(const Service& service, size_t idx);

// Expands the templates of one service: per-service label overrides, the
// error (first one) naming template and label.
class Expander {
 public:
  Expander(const Templates& templates, const Service& service)
      : templates_(templates), service_(service) {}
  // Appends the expansion of `name` to `out`; false (and error() set) on failure.
  bool add(std::string& out, const std::string& name, const Vars& vars);
  Try<std::string> expand(const std::string& name, const Vars& vars);
  const std::string& error() const { return error_; }

 private:
  const Templates& templates_;
  const Service& service_;
  std::string error_;
};

struct GroupedVhost {
  std::vector<std::pair<int, std::string>> entries;  // (weight, text)
  std::set<std::string> certs;
  std::set<std::string> bind_options;
};

// What one service contributes to the shared frontends.
struct VhostRouting {
  int weight = 0;
  std::string http;
  std::string https;
  std::map<std::string, GroupedVhost> grouped;
};

// State shared across services when routing through map files.
struct MapState {
  bool http_acl_emitted = false;
  bool https_acl_emitted = false;
  bool appid_acl_emitted = false;
  std::vector<std::pair<std::string, std::string>> domain_map;  // (host, backend), first wins
  std::vector<std::pair<std::string, std::string>> app_map;
};

// The vhost ACLs of `service` (REQUIRES: a hostname) for marathon_http_in
// and marathon_https_in. Error: a template failed to expand.
Try<VhostRouting> vhost_routing(Expander& expander, const Service& service,
                                const RenderOptions& options, MapState& maps);

// `[^a-zA-Z0-9-]` → '_', as marathon-lb cleans names.
std::string clean_name(const std::string& s);

// Stable server id in [1, 32766] (sha256 of the name mod 32767, retried
// with the digest appended on collision or 0), as marathon-lb computes it.
int server_id(const std::string& server_name, std::set<int>& taken);
// First 10 hex digits of sha1(name): the sticky cookie value.
std::string cookie_value(const std::string& server_name);
std::string sha256_hex(const std::string& data);
std::string sha1_hex(const std::string& data);

}  // namespace stoa::lb::render_detail
