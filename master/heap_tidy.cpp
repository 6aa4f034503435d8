#include "master/heap_tidy.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "common/logging.hpp"

namespace stoa::master {

namespace {

// Above the largest size the thread cache keeps (1,032 bytes), in glibc's
// large-bin range (>= 1,024 bytes: the requests that consolidate first),
// far below the mmap threshold (128 KiB: served by the arena).
constexpr size_t HEAP_TIDY_BYTES = 1100;

// jemalloc's control interface: int mallctl(name, oldp, oldlenp, newp, newlen).
using Mallctl = int (*)(const char*, void*, size_t*, void*, size_t);

}  // namespace

std::string malloc_name() {
  auto mallctl = reinterpret_cast<Mallctl>(::dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr) {
    return "glibc";
  }
  const char* version = nullptr;
  size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0 || version == nullptr) {
    return "jemalloc";
  }
  return std::string("jemalloc ") + version;
}

std::chrono::milliseconds heap_tidy_period() {
  static const std::chrono::milliseconds period = [] {
    const char* text = std::getenv("STOA_HEAP_TIDY_MS");
    if (const std::string name = malloc_name(); name != "glibc") {
      if (text != nullptr) {
        LOG_INFO << "Ignoring STOA_HEAP_TIDY_MS='" << text << "': the heap tidy is for glibc's malloc, this process runs "
                 << name;
      }
      return std::chrono::milliseconds(0);
    }
    if (text == nullptr) {
      return HEAP_TIDY_EVERY;
    }
    char* end = nullptr;
    long ms = std::strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || ms < 0 || ms > 60000) {
      LOG_WARNING << "Ignoring STOA_HEAP_TIDY_MS='" << text << "': not a number of milliseconds in [0, 60000]; using "
                  << HEAP_TIDY_EVERY.count();
      return HEAP_TIDY_EVERY;
    }
    return std::chrono::milliseconds(ms);
  }();
  return period;
}

void tidy_heap() {
  void* p = std::malloc(HEAP_TIDY_BYTES);
  // The compiler may drop a malloc whose block is only freed: the block
  // escapes here, so the request reaches glibc.
  asm volatile("" : : "r"(p) : "memory");
  std::free(p);
}

void tidy_heap_every(std::chrono::milliseconds period, std::chrono::steady_clock::time_point now) {
  static thread_local std::chrono::steady_clock::time_point last;
  if (period.count() > 0 && now - last >= period) {
    last = now;
    tidy_heap();
  }
}

}  // namespace stoa::master
