#include "common/uuid.hpp"

#include <chrono>
#include <cstdio>
#include <random>

namespace stoa {

std::string random_uuid_bytes() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  std::string b(16, '\0');
  uint64_t a = gen();
  uint64_t c = gen();
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<char>((a >> (8 * i)) & 0xff);
    b[8 + i] = static_cast<char>((c >> (8 * i)) & 0xff);
  }
  b[6] = static_cast<char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
  return b;
}

std::string uuid_to_string(const std::string& bytes) {
  std::string out;
  char buf[3];
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    std::snprintf(buf, sizeof(buf), "%02x", static_cast<unsigned char>(bytes[i]));
    out += buf;
  }
  return out;
}

std::string random_uuid() { return uuid_to_string(random_uuid_bytes()); }

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace stoa
