// --longhelp: the templates and labels stoa-lb knows (flags.hpp).

#include <sstream>
#include <utility>
#include <vector>

#include "apps/lb/flags.hpp"
#include "apps/lb/templates.hpp"
#include "common/strings.hpp"

namespace stoa::lb {

std::string lb_longhelp() {
  std::ostringstream out;
  out << "Templates (override with a file of the same name in --templates-dir, an environment\n"
      << "variable of the same name, or, for per-service ones, the label HAPROXY_{n}_<NAME without\n"
      << "HAPROXY_>):\n\n";
  for (const TemplateInfo& t : template_catalogue()) {
    out << "## " << t.name << (t.per_service ? "  (per service port: label HAPROXY_{n}_" + t.name.substr(8) + ")" : "")
        << "\n"
        << t.help << "\n";
    if (!t.variables.empty()) {
      out << "Variables: {" << join(t.variables, "}, {") << "}\n";
    }
    out << "Default:\n" << t.default_text << "\n\n";
  }
  out << "Labels ({n} = the index of the service port):\n\n";
  static const std::vector<std::pair<std::string, std::string>> labels = {
      {"HAPROXY_GROUP", "comma list of groups the app belongs to (matched against --group)"},
      {"HAPROXY_{n}_GROUP", "the groups of service port n (overrides HAPROXY_GROUP)"},
      {"HAPROXY_{n}_ENABLED", "true publishes the port under --strict-mode"},
      {"HAPROXY_{n}_VHOST", "host[,host2]: Host-header routing on the shared HTTP(S) frontends; http mode"},
      {"HAPROXY_{n}_PATH", "path prefix (path_beg) routed with the vhost"},
      {"HAPROXY_{n}_PORT", "the frontend's bind port (default: the service port)"},
      {"HAPROXY_{n}_BIND_ADDR", "the frontend's bind address (default *)"},
      {"HAPROXY_{n}_BIND_OPTIONS", "extra options of the frontend's bind line"},
      {"HAPROXY_{n}_MODE", "tcp or http (default http with a vhost or an HTTP health check, else tcp)"},
      {"HAPROXY_{n}_BALANCE", "the balance algorithm (default roundrobin)"},
      {"HAPROXY_{n}_STICKY", "true: cookie-based sticky sessions"},
      {"HAPROXY_{n}_REDIRECT_TO_HTTPS", "true: redirect plain HTTP to HTTPS"},
      {"HAPROXY_{n}_USE_HSTS", "true: send Strict-Transport-Security"},
      {"HAPROXY_{n}_SSL_CERT", "certificate(s) bound on the frontend"},
      {"HAPROXY_{n}_AUTH", "realm:user:encpass: HTTP Basic auth through a userlist"},
      {"HAPROXY_{n}_BACKEND_WEIGHT", "orders the vhost/path ACLs (higher first)"},
      {"HAPROXY_{n}_BACKEND_NETWORK_ALLOWED_ACL", "space-separated CIDRs allowed to reach the backend"},
      {"HAPROXY_{n}_BACKEND_HEALTHCHECK_PORT_INDEX", "which port index the health check of port n uses"},
      {"HAPROXY_{n}_HTTP_BACKEND_PROXYPASS_PATH", "path prefix stripped before forwarding"},
      {"HAPROXY_{n}_HTTP_BACKEND_REVPROXY_PATH", "path prefix added to the backend's redirects"},
      {"HAPROXY_{n}_HTTP_BACKEND_REDIR", "redirect / of the vhost to this path"},
      {"HAPROXY_{n}_<TEMPLATE>", "a per-service template's text for this port (see above)"},
      {"HAPROXY_DEPLOYMENT_GROUP, _ALT_PORT, _COLOUR, _STARTED_AT, _TARGET_INSTANCES, _NEW_INSTANCES",
       "zero-downtime (blue/green) deployments: apps sharing a group are merged, old tasks drain"},
  };
  for (const auto& [name, help] : labels) {
    out << "  " << name << "\n      " << help << "\n";
  }
  return out.str();
}

}  // namespace stoa::lb
