// Service ports for IP-per-task apps without any (marathon_json.hpp),
// assigned with marathon-lb's hash so every balancer picks the same.

#include <cstdint>
#include <string>
#include <utility>

#include "apps/lb/marathon_json.hpp"
#include "apps/lb/render_internal.hpp"

namespace stoa::lb {

namespace {

// How many hash trials an IP-per-task service port gets before the range is
// walked in order (marathon-lb's MAX_CLASHES).
constexpr int MP_MAX_PORT_CLASHES = 50;

}  // namespace

ServicePortAssigner::ServicePortAssigner(int min_port, int max_port)
    : min_(min_port), max_(max_port), enabled_(min_port > 0 && max_port >= min_port) {}

int ServicePortAssigner::assign(const std::string& app_id, int task_port) {
  auto key = std::make_pair(app_id, task_port);
  auto it = by_app_.find(key);
  if (it != by_app_.end()) {
    return it->second;
  }
  int range = max_ - min_ + 1;
  if (static_cast<int>(by_app_.size()) >= range) {
    return 0;
  }
  int port = 0;
  for (int trial = 0; trial < MP_MAX_PORT_CLASHES && port == 0; ++trial) {
    // The digest's first 32 bits (its first 8 hex digits).
    const std::string digest =
        render_detail::sha1_hex(app_id + "-" + std::to_string(task_port) + "-" + std::to_string(trial));
    const uint32_t head = static_cast<uint32_t>(std::stoul(digest.substr(0, 8), nullptr, 16));
    int candidate = min_ + static_cast<int>(head % static_cast<uint32_t>(range));
    if (used_.count(candidate) == 0) {
      port = candidate;
    }
  }
  for (int p = min_; p <= max_ && port == 0; ++p) {
    if (used_.count(p) == 0) {
      port = p;
    }
  }
  by_app_[key] = port;
  used_.insert(port);
  return port;
}

}  // namespace stoa::lb
