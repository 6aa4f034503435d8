#pragma once
// Internals of the registry client shared by marathon_json.cpp and
// marathon.cpp: parsing an already-parsed JSON document (so the client parses
// a large /v2/apps body once, and can tell "not JSON" — a dead host, try the
// next — from "JSON without a required key" — refuse the refresh), and the
// Basic credentials header.

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <picojson.h>

#include "apps/lb/model.hpp"
#include "common/try.hpp"

namespace stoa::lb {

// parse_apps() on a parsed document. Same contract (model.hpp).
Try<std::vector<App>> parse_apps_json(const picojson::value& doc, const ParseOptions& options);

// "user:pass" -> "Basic dXNlcjpwYXNz" (RFC 7617).
std::string basic_auth_header(const std::string& user_pass);

// The 'message' of a registry error body ({"message": "..."}), or "" when the
// body is not such an object.
std::string registry_error_message(const picojson::value& doc);

// Assigns service ports to IP-per-task apps that have none, from [min, max],
// as marathon-lb does: the first 32 bits of sha1("<app id>-<task port>-<trial>")
// modulo the range size, retried on a clash with a port assigned earlier in
// the same refresh (one assigner per refresh), then the lowest free port. The
// same input gives the same ports on every balancer. (marathon_ports.cpp)
class ServicePortAssigner {
 public:
  // Disabled (assigns nothing) when min is 0 or max < min.
  ServicePortAssigner(int min_port, int max_port);
  bool enabled() const { return enabled_; }
  // The port for (app, task port), the same on every call; 0 when the range
  // is used up.
  int assign(const std::string& app_id, int task_port);

 private:
  int min_;
  int max_;
  bool enabled_;
  std::map<std::pair<std::string, int>, int> by_app_;
  std::set<int> used_;
};

}  // namespace stoa::lb
