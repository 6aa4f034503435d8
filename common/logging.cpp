#include "common/logging.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cerrno>
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

std::optional<std::string> log_to_directory(const std::string& dir, const std::string& program) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') {
      std::string prefix = dir.substr(0, i);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        return "cannot create '" + prefix + "': " + std::strerror(errno);
      }
    }
  }
  std::string path = dir + "/" + program + ".log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return "cannot open '" + path + "': " + std::strerror(errno);
  }
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
  return std::nullopt;
}

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
