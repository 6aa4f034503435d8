// Service ports for IP-per-task apps without any (marathon_json.hpp),
// assigned with marathon-lb's hash so every balancer picks the same.

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "apps/lb/marathon_json.hpp"

namespace stoa::lb {

namespace {

// How many hash trials an IP-per-task service port gets before the range is
// walked in order (marathon-lb's MAX_CLASHES).
constexpr int MP_MAX_PORT_CLASHES = 50;

// SHA-1 (FIPS 180-4), for the port hash.

uint32_t mp_rotl(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

std::array<uint8_t, 20> mp_sha1(const std::string& text) {
  std::array<uint32_t, 5> h = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
  std::string msg = text;
  uint64_t bit_len = static_cast<uint64_t>(text.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) {
    msg.push_back('\0');
  }
  for (int i = 7; i >= 0; --i) {
    msg.push_back(static_cast<char>((bit_len >> (i * 8)) & 0xff));
  }
  for (size_t chunk = 0; chunk < msg.size(); chunk += 64) {
    std::array<uint32_t, 80> w{};
    for (int i = 0; i < 16; ++i) {
      const auto* p =
          reinterpret_cast<const uint8_t*>(msg.data() + chunk + static_cast<size_t>(i) * 4);
      w[i] =
          (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
    }
    for (int i = 16; i < 80; ++i) {
      w[i] = mp_rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; ++i) {
      uint32_t f;
      uint32_t k;
      if (i < 20) {
        f = (b & c) | (~b & d);
        k = 0x5A827999u;
      } else if (i < 40) {
        f = b ^ c ^ d;
        k = 0x6ED9EBA1u;
      } else if (i < 60) {
        f = (b & c) | (b & d) | (c & d);
        k = 0x8F1BBCDCu;
      } else {
        f = b ^ c ^ d;
        k = 0xCA62C1D6u;
      }
      uint32_t t = mp_rotl(a, 5) + f + e + k + w[i];
      e = d;
      d = c;
      c = mp_rotl(b, 30);
      b = a;
      a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
  std::array<uint8_t, 20> out{};
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 4; ++j) {
      out[i * 4 + j] = static_cast<uint8_t>((h[i] >> (24 - j * 8)) & 0xff);
    }
  }
  return out;
}

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
    auto digest = mp_sha1(app_id + "-" + std::to_string(task_port) + "-" + std::to_string(trial));
    uint32_t head = (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) |
                    (uint32_t{digest[2]} << 8) | uint32_t{digest[3]};
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
