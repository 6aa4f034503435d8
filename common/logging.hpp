#pragma once
// Minimal glog-style logging to stderr: `LOG_INFO << "text";` prints
// "I1124 17:59:39.610863 12345 master.cpp:263] text" as one write, so lines
// from several threads never interleave.

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
  std::ostringstream out_;
};

// Set once at start-up; lines below it are dropped (0 = INFO, 1 = WARNING, 2 = ERROR).
void set_min_level(int level);
bool enabled(char level);

// Sends this process's log lines (stderr) to `<dir>/<program>.log`, creating
// `dir` as needed (the --log_dir flag). Returns an error naming the path.
std::optional<std::string> log_to_directory(const std::string& dir, const std::string& program);

}  // namespace stoa::logging

#define STOA_LOG(level_char) \
  if (!::stoa::logging::enabled(level_char)) {} else ::stoa::logging::Line(level_char, __FILE__, __LINE__).stream()
#define LOG_INFO STOA_LOG('I')
#define LOG_WARNING STOA_LOG('W')
#define LOG_ERROR STOA_LOG('E')
