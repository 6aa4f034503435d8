#include "common/uuid.hpp"

#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstdlib>

#include <sys/random.h>

namespace stoa {

// 16 bytes from the kernel's CSPRNG (getrandom): ids from two processes
// started at the same moment never collide, unlike a 32-bit seeded
// mt19937_64 (std::random_device gives 32 bits per call).
std::string random_uuid_bytes() {
  std::string b(16, '\0');
  size_t got = 0;
  while (got < b.size()) {
    ssize_t n = ::getrandom(b.data() + got, b.size() - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      // getrandom cannot fail on Linux >= 3.17 with a 16-byte request
      // once the pool is initialised; never return a predictable id.
      std::perror("getrandom");
      std::abort();
    }
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
