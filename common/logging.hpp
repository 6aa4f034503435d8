#pragma once
// Logging through glog, in Mesos' line format:
//   I1130 05:27:01.752007  8605 master.cpp:75] text
// (severity, date, time, thread id, file:line). `LOG_INFO << "text";` etc.
// This header does not include glog (it stays out of hot includes).
//
// Every daemon calls initialize() first thing in main(): without --log_dir
// lines go to stderr; with it glog writes per-severity files
// `<program>.<host>.<user>.log.<SEVERITY>.<date>-<time>.<pid>` plus the
// `<program>.INFO` / `.WARNING` / `.ERROR` symlinks, rotated by size, and
// (unless --quiet) still echoes to stderr. A fatal signal prints a stack trace.
// A process that never calls initialize() (tests, executors) logs to stderr.

#include <optional>
#include <sstream>
#include <string>

namespace stoa::logging {

class Line {
 public:
  Line(char level, const char* file, int line);
  ~Line();
  std::ostream& stream() { return out_; }

 private:
  char level_;
  const char* file_;
  int line_;
  std::ostringstream out_;
};

struct Options {
  std::string program;                 // "stoa-master": the log files' base name
  std::optional<std::string> log_dir;  // --log_dir (created as needed)
  std::string level = "INFO";          // --logging_level: INFO, WARNING or ERROR
  bool quiet = false;                  // --quiet: nothing to stderr when logging to files
  int max_log_size_mb = 100;           // a log file is rotated at this size
};

// Sets up glog. Error (naming the value or path) for a bad level or an
// unusable log_dir. Call once, before any thread is started.
std::optional<std::string> initialize(const char* argv0, const Options& options);

// Lines below `level` are dropped (0 = INFO, 1 = WARNING, 2 = ERROR).
void set_min_level(int level);
bool enabled(char level);

}  // namespace stoa::logging

#define STOA_LOG(level_char) \
  if (!::stoa::logging::enabled(level_char)) {} else ::stoa::logging::Line(level_char, __FILE__, __LINE__).stream()
#define LOG_INFO STOA_LOG('I')
#define LOG_WARNING STOA_LOG('W')
#define LOG_ERROR STOA_LOG('E')
