#pragma once
// Marathon's REST API v2 (marathon.md §1) over the services core: every
// route, query parameter, status code, header and JSON shape listed there
// (apps, tasks, deployments, groups, queue, info, leader, ping, metrics).
// A standby forwards every request but /v2/events to the leader (adding
// X-Marathon-Via, answering 502 on a loop or no leader) and copies the
// answer back; the leader adds X-Marathon-Leader; every answer carries
// Marathon's cache-disabling headers.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "actors/http.hpp"
#include "apps/services/leadership.hpp"

namespace stoa::metrics {
class Registry;
}

namespace stoa::services {

struct RestOptions {
  caf::actor core;                         // core.hpp
  std::shared_ptr<Leadership> leadership;  // leadership.hpp
  std::string self;                        // "host:port" of this instance
  // /v2/info's marathon_config and zookeeper_config: the effective flags.
  std::map<std::string, std::string> flags;
  std::string zk;                          // --zk or ""
  std::chrono::milliseconds proxy_timeout = std::chrono::seconds(10);
  metrics::Registry* metrics = nullptr;    // /metrics (the process' registry)
};

std::vector<http::Route> rest_routes(RestOptions options);

}  // namespace stoa::services
