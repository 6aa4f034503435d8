#include "common/logging.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace stoa::logging {

namespace {
std::atomic<int> min_level{0};

int rank(char level) {
  switch (level) {
    case 'W': return 1;
    case 'E': return 2;
    default: return 0;
  }
}
}  // namespace

void set_min_level(int level) { min_level = level; }
bool enabled(char level) { return rank(level) >= min_level.load(std::memory_order_relaxed); }

Line::Line(char level, const char* file, int line) {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  localtime_r(&tv.tv_sec, &t);
  char head[64];
  std::snprintf(head, sizeof(head), "%c%02d%02d %02d:%02d:%02d.%06ld %d ", level, t.tm_mon + 1,
                t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, static_cast<long>(tv.tv_usec),
                static_cast<int>(getpid()));
  const char* base = std::strrchr(file, '/');
  out_ << head << (base ? base + 1 : file) << ":" << line << "] ";
}

Line::~Line() {
  out_ << '\n';
  std::string s = out_.str();
  ssize_t ignored = ::write(STDERR_FILENO, s.data(), s.size());
  (void)ignored;
}

}  // namespace stoa::logging
