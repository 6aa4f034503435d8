#include "common/logging.hpp"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include <glog/logging.h>

namespace stoa::logging {

namespace {

std::atomic<int> min_level{0};
std::atomic<bool> glog_ready{false};
std::mutex glog_mu;

int rank(char level) {
  switch (level) {
    case 'W': return 1;
    case 'E': return 2;
    default: return 0;
  }
}

google::LogSeverity severity_of(char level) {
  switch (level) {
    case 'W': return google::GLOG_WARNING;
    case 'E': return google::GLOG_ERROR;
    default: return google::GLOG_INFO;
  }
}

// glog must be initialised once; a process that never called initialize()
// (a test binary, an executor) logs to stderr only.
void ensure_glog() {
  if (glog_ready.load(std::memory_order_acquire)) {
    return;
  }
  std::lock_guard<std::mutex> lock(glog_mu);
  if (!google::IsGoogleLoggingInitialized()) {
    FLAGS_logtostderr = true;
    FLAGS_logbufsecs = 0;
    FLAGS_log_year_in_prefix = false;  // Mesos' "I1130 05:27:01.752007"
    google::InitGoogleLogging("stoa");
  }
  glog_ready.store(true, std::memory_order_release);
}

std::optional<std::string> make_dirs(const std::string& dir) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i == dir.size() || dir[i] == '/') {
      std::string prefix = dir.substr(0, i);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        return "cannot create '" + prefix + "': " + std::strerror(errno);
      }
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return "'" + dir + "' is not a directory";
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> initialize(const char* argv0, const Options& options) {
  int level = 0;
  if (options.level == "INFO") {
    level = 0;
  } else if (options.level == "WARNING") {
    level = 1;
  } else if (options.level == "ERROR") {
    level = 2;
  } else {
    return "Invalid value '" + options.level + "' for flag '--logging_level': expected INFO, WARNING or ERROR";
  }
  if (options.log_dir) {
    if (auto err = make_dirs(*options.log_dir)) {
      return "Flag '--log_dir=" + *options.log_dir + "': " + *err;
    }
  }
  // glog calls mktime() for every line, and with TZ unset glibc stats
  // /etc/localtime each time (1 % of a busy slave's CPU, #17). The same
  // zone, named once: glibc then reads it once. (Called before any thread.)
  if (::getenv("TZ") == nullptr) {
    ::setenv("TZ", ":/etc/localtime", 0);
  }
  static std::string program;  // glog keeps the pointer
  program = options.program.empty() ? std::string(argv0 != nullptr ? argv0 : "stoa") : options.program;
  std::lock_guard<std::mutex> lock(glog_mu);
  FLAGS_logbufsecs = 0;  // every line reaches the file at once
  FLAGS_log_year_in_prefix = false;  // Mesos' "I1130 05:27:01.752007"
  FLAGS_max_log_size = static_cast<uint32_t>(options.max_log_size_mb);
  FLAGS_stop_logging_if_full_disk = true;
  if (options.log_dir) {
    FLAGS_logtostderr = false;
    FLAGS_log_dir = *options.log_dir;
    // As Mesos: with --log_dir lines also go to stderr unless --quiet.
    FLAGS_stderrthreshold = options.quiet ? google::NUM_SEVERITIES : level;
  } else {
    FLAGS_logtostderr = true;
  }
  FLAGS_minloglevel = level;
  if (!google::IsGoogleLoggingInitialized()) {
    google::InitGoogleLogging(program.c_str());
  }
  google::InstallFailureSignalHandler();  // a stack trace on SIGSEGV, SIGABRT, ...
  glog_ready.store(true, std::memory_order_release);
  set_min_level(level);
  return std::nullopt;
}

void set_min_level(int level) { min_level = level; }
bool enabled(char level) { return rank(level) >= min_level.load(std::memory_order_relaxed); }

Line::Line(char level, const char* file, int line) : level_(level), file_(file), line_(line) {}

Line::~Line() {
  ensure_glog();
  google::LogMessage(file_, line_, severity_of(level_)).stream() << out_.str();
}

}  // namespace stoa::logging
