// The vhost routing of one service port in the shared frontends
// (marathon_http_in, marathon_https_in, and the per-vhost TLS frontends of
// --group-https-by-vhost), in the template choice marathon-lb makes for each
// combination of VHOST (one or several), PATH, AUTH, REDIRECT_TO_HTTPS and
// --haproxy-map.

#include <algorithm>

#include "apps/lb/render_internal.hpp"

namespace stoa::lb::render_detail {
namespace {

void frontends_add_map_entry(std::vector<std::pair<std::string, std::string>>& map,
                             const std::string& key, const std::string& backend) {
  std::pair<std::string, std::string> entry{key, backend};
  if (std::find(map.begin(), map.end(), entry) == map.end()) {
    map.push_back(std::move(entry));
  }
}

class VhostBuilder {
 public:
  VhostBuilder(Expander& expander, const Service& s, const RenderOptions& options, MapState& maps)
      : x_(expander), s_(s), options_(options), maps_(maps) {
    std::string id = s.app->id.size() > 0 && s.app->id[0] == '/' ? s.app->id.substr(1) : s.app->id;
    std::replace(id.begin(), id.end(), '/', '_');
    const std::string& first = s.vhosts.empty() ? s.hostname : s.vhosts.front();
    acl_name_ = clean_name(first) + "_" + id;
    out_.weight = s.backend_weight;
  }

  Try<VhostRouting> build() {
    bool ok = s_.vhosts.size() > 1 ? several() : single();
    if (!ok) {
      return Error(x_.error());
    }
    return out_;
  }

 private:
  Vars vars(const std::string& hostname) const {
    return Vars{{"cleanedUpHostname", acl_name_},
                {"hostname", hostname},
                {"appId", s_.app->id},
                {"realm", s_.realm},
                {"path", s_.path},
                {"backend", s_.backend},
                {"bindAddr", s_.bind_addr},
                {"haproxy_dir", options_.config_dir}};
  }

  GroupedVhost& grouped(const std::string& vhost) {
    GroupedVhost& g = out_.grouped[vhost];
    if (!s_.ssl_cert.empty()) {
      g.certs.insert(s_.ssl_cert);
    }
    if (!s_.bind_options.empty()) {
      g.bind_options.insert(s_.bind_options);
    }
    return g;
  }

  // Appends an SNI routing entry to marathon_https_in and to the vhost's
  // grouped frontend.
  bool https_entry(const std::string& name, const std::string& vhost) {
    std::string text;
    if (!x_.add(text, name, vars(vhost))) {
      return false;
    }
    out_.https += text;
    grouped(vhost).entries.emplace_back(out_.weight, text);
    return true;
  }

  bool https_map_entry(const std::string& vhost) {
    if (!maps_.https_acl_emitted) {
      out_.weight = -1;
      if (!https_entry("HAPROXY_MAP_HTTPS_FRONTEND_ACL", vhost)) {
        return false;
      }
      maps_.https_acl_emitted = true;
    }
    frontends_add_map_entry(maps_.domain_map, vhost, s_.backend);
    return true;
  }

  bool http_map_acl(const std::string& name, const std::string& vhost) {
    if (!maps_.http_acl_emitted) {
      out_.weight = -1;
      if (!x_.add(out_.http, name, vars(vhost))) {
        return false;
      }
      maps_.http_acl_emitted = true;
    }
    frontends_add_map_entry(maps_.domain_map, vhost, s_.backend);
    return true;
  }

  bool several() {
    bool map = options_.haproxy_map;
    const std::string& first = s_.vhosts.front();
    if (!s_.path.empty()) {
      const char* http = s_.realm.empty() ? "HAPROXY_HTTP_FRONTEND_ACL_ONLY_WITH_PATH"
                                          : "HAPROXY_HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH";
      if (!x_.add(out_.http, http, vars(first)) ||
          !x_.add(out_.https, "HAPROXY_HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", vars(first))) {
        return false;
      }
    }
    const std::string path_acls = out_.https;
    for (const std::string& vhost : s_.vhosts) {
      grouped(vhost).entries.emplace_back(out_.weight, path_acls);
      if (map && s_.path.empty() && s_.realm.empty() && !s_.redirect_to_https) {
        if (!http_map_acl("HAPROXY_MAP_HTTP_FRONTEND_ACL_ONLY", vhost)) {
          return false;
        }
      } else if (!x_.add(out_.http, "HAPROXY_HTTP_FRONTEND_ACL_ONLY", vars(vhost))) {
        return false;
      }
      bool ok = true;
      if (!s_.path.empty()) {
        ok = https_entry(s_.realm.empty() ? "HAPROXY_HTTPS_FRONTEND_ACL_WITH_PATH"
                                          : "HAPROXY_HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH",
                         vhost);
      } else if (!s_.realm.empty()) {
        ok = https_entry("HAPROXY_HTTPS_FRONTEND_ACL_WITH_AUTH", vhost);
      } else if (map) {
        ok = https_map_entry(vhost);
      } else {
        ok = https_entry("HAPROXY_HTTPS_FRONTEND_ACL", vhost);
      }
      if (!ok) {
        return false;
      }
    }
    // The ACLs are in place: route them (or redirect) once.
    const char* route = nullptr;
    if (s_.redirect_to_https) {
      route = s_.path.empty() ? "HAPROXY_BACKEND_REDIRECT_HTTP_TO_HTTPS"
                              : "HAPROXY_BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH";
    } else if (!s_.path.empty()) {
      route = s_.realm.empty() ? "HAPROXY_HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH"
                               : "HAPROXY_HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH";
    } else if (!s_.realm.empty()) {
      route = "HAPROXY_HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH";
    } else if (!map) {
      route = "HAPROXY_HTTP_FRONTEND_ROUTING_ONLY";
    }
    return route == nullptr || x_.add(out_.http, route, vars(first));
  }

  bool single() {
    bool map = options_.haproxy_map;
    const std::string& host = s_.hostname;
    grouped(host);
    if (!s_.path.empty()) {
      bool ok = true;
      if (s_.redirect_to_https) {
        ok = x_.add(out_.http, "HAPROXY_HTTP_FRONTEND_ACL_ONLY", vars(host)) &&
             x_.add(out_.http, "HAPROXY_HTTP_FRONTEND_ACL_ONLY_WITH_PATH", vars(host)) &&
             x_.add(out_.http, "HAPROXY_BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH", vars(host));
      } else if (!s_.realm.empty()) {
        ok = x_.add(out_.http, "HAPROXY_HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH", vars(host));
      } else {
        ok = x_.add(out_.http, "HAPROXY_HTTP_FRONTEND_ACL_WITH_PATH", vars(host));
      }
      return ok && https_entry("HAPROXY_HTTPS_FRONTEND_ACL_ONLY_WITH_PATH", host) &&
             https_entry(s_.realm.empty() ? "HAPROXY_HTTPS_FRONTEND_ACL_WITH_PATH"
                                          : "HAPROXY_HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH",
                         host);
    }
    bool ok = true;
    if (s_.redirect_to_https) {
      ok = x_.add(out_.http, "HAPROXY_HTTP_FRONTEND_ACL", vars(host)) &&
           x_.add(out_.http, "HAPROXY_BACKEND_REDIRECT_HTTP_TO_HTTPS", vars(host));
    } else if (!s_.realm.empty()) {
      ok = x_.add(out_.http, "HAPROXY_HTTP_FRONTEND_ACL_WITH_AUTH", vars(host));
    } else if (map) {
      ok = http_map_acl("HAPROXY_MAP_HTTP_FRONTEND_ACL", host);
    } else {
      ok = x_.add(out_.http, "HAPROXY_HTTP_FRONTEND_ACL", vars(host));
    }
    if (!ok) {
      return false;
    }
    if (!s_.realm.empty()) {
      return https_entry("HAPROXY_HTTPS_FRONTEND_ACL_WITH_AUTH", host);
    }
    if (map) {
      return https_map_entry(host);
    }
    return https_entry("HAPROXY_HTTPS_FRONTEND_ACL", host);
  }

  Expander& x_;
  const Service& s_;
  const RenderOptions& options_;
  MapState& maps_;
  std::string acl_name_;
  VhostRouting out_;
};

}  // namespace

Try<VhostRouting> vhost_routing(Expander& expander, const Service& service,
                                const RenderOptions& options, MapState& maps) {
  return VhostBuilder(expander, service, options, maps).build();
}

}  // namespace stoa::lb::render_detail
