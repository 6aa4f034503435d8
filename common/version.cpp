#include "common/version.hpp"

#include <ctime>

#ifndef STOA_BUILD_EPOCH
#error "STOA_BUILD_EPOCH is set by common/CMakeLists.txt"
#endif
#ifndef STOA_BUILD_USER_NAME
#define STOA_BUILD_USER_NAME "unknown"
#endif

namespace stoa {

double build_time() { return static_cast<double>(STOA_BUILD_EPOCH); }

std::string build_date() {
  std::time_t t = static_cast<std::time_t>(STOA_BUILD_EPOCH);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string build_user() { return STOA_BUILD_USER_NAME; }

}  // namespace stoa
