#include "slave/cgroups.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/strings.hpp"

namespace stoa::slave::cgroups {

namespace {

using Clock = std::chrono::steady_clock;

// One line of /proc/self/mountinfo: where, what filesystem, which options.
struct Mount {
  std::string point;
  std::string fstype;
  std::vector<std::string> options;  // super options (the controllers of a v1 cgroup)
};

std::vector<Mount> mounts() {
  std::vector<Mount> result;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<std::string> parts;
    std::string part;
    while (fields >> part) {
      parts.push_back(part);
    }
    // id parent major:minor root point options [optional...] - fstype source super
    size_t dash = 0;
    while (dash < parts.size() && parts[dash] != "-") {
      ++dash;
    }
    if (parts.size() < 5 || dash + 3 >= parts.size()) {
      continue;
    }
    result.push_back({parts[4], parts[dash + 1], split(parts[dash + 3], ',')});
  }
  return result;
}

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) != nullptr ? std::string(buf) : p;
}

}  // namespace

std::string path(const std::string& hierarchy, const std::string& controller, const std::string& root,
                 const std::string& container_id) {
  std::string p = hierarchy + "/" + controller + "/" + root;
  return container_id.empty() ? p : p + "/" + container_id;
}

std::optional<Error> check_mounted(const std::string& hierarchy, const std::string& controller) {
  const std::string where = real_path(hierarchy + "/" + controller);
  std::optional<std::string> unified;
  for (const Mount& m : mounts()) {
    if (m.fstype == "cgroup" && m.point == where) {
      for (const std::string& option : m.options) {
        if (option == controller) {
          return std::nullopt;
        }
      }
    }
    if (m.fstype == "cgroup2" && m.point.compare(0, real_path(hierarchy).size(), real_path(hierarchy)) == 0) {
      unified = m.point;
    }
  }
  std::string message = "the cgroups v1 '" + controller + "' controller is not mounted at " + hierarchy + "/" +
                        controller + " (--cgroups_hierarchy=" + hierarchy + ")";
  if (unified) {
    message += "; this machine has the unified cgroup v2 hierarchy at " + *unified +
               ", and cgroups v2 is not supported";
  }
  return Error(message);
}

std::optional<Error> create(const std::string& dir) {
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    std::string prefix = dir.substr(0, pos);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
      return Error("Cannot create cgroup " + prefix + ": " + errno_text(errno));
    }
  }
  return std::nullopt;
}

std::optional<Error> write(const std::string& dir, const std::string& file, const std::string& value) {
  const std::string p = dir + "/" + file;
  int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return Error("Cannot open " + p + ": " + errno_text(errno));
  }
  ssize_t n = ::write(fd, value.data(), value.size());
  int err = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return Error("Cannot write '" + value + "' to " + p + ": " + errno_text(n < 0 ? err : EIO));
  }
  return std::nullopt;
}

Try<std::string> read(const std::string& dir, const std::string& file) {
  const std::string p = dir + "/" + file;
  std::ifstream in(p);
  if (!in) {
    return Error("Cannot read " + p + ": " + errno_text(errno));
  }
  std::stringstream content;
  content << in.rdbuf();
  std::string s = content.str();
  while (!s.empty() && s.back() == '\n') {
    s.pop_back();
  }
  return s;
}

Try<uint64_t> read_number(const std::string& dir, const std::string& file) {
  Try<std::string> s = read(dir, file);
  if (s.is_error()) {
    return Error(s.error());
  }
  if (*s == "max") {
    return UINT64_MAX;
  }
  try {
    size_t used = 0;
    uint64_t v = std::stoull(*s, &used);
    if (used == s->size()) {
      return v;
    }
  } catch (const std::exception&) {
  }
  return Error("Cannot parse '" + *s + "' in " + dir + "/" + file + " as a number");
}

Try<std::map<std::string, uint64_t>> read_stat(const std::string& dir, const std::string& file) {
  Try<std::string> s = read(dir, file);
  if (s.is_error()) {
    return Error(s.error());
  }
  std::map<std::string, uint64_t> stat;
  std::istringstream lines(*s);
  std::string key;
  uint64_t value = 0;
  while (lines >> key >> value) {
    stat[key] = value;
  }
  return stat;
}

Try<std::vector<pid_t>> processes(const std::string& dir, const std::string& file) {
  Try<std::string> s = read(dir, file);
  if (s.is_error()) {
    return Error(s.error());
  }
  std::vector<pid_t> pids;
  std::istringstream lines(*s);
  long pid = 0;
  while (lines >> pid) {
    pids.push_back(static_cast<pid_t>(pid));
  }
  return pids;
}

std::optional<Error> assign(const std::string& dir, pid_t pid) {
  return write(dir, "cgroup.procs", std::to_string(pid));
}

std::vector<std::string> children(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return names;
  }
  while (struct dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (entry->d_type == DT_DIR && name != "." && name != "..") {
      names.push_back(name);
    }
  }
  ::closedir(d);
  return names;
}

std::optional<Error> remove(const std::string& dir, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (::rmdir(dir.c_str()) != 0) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    if (errno != EBUSY || Clock::now() >= deadline) {
      return Error("Cannot remove cgroup " + dir + ": " + errno_text(errno));
    }
    // The kernel releases a dead process' cgroup shortly after it is reaped.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

std::optional<Error> kill_all(const std::string& freezer_dir, std::chrono::milliseconds timeout) {
  struct stat st {};
  if (::stat(freezer_dir.c_str(), &st) != 0 && errno == ENOENT) {
    return std::nullopt;
  }
  const auto deadline = Clock::now() + timeout;
  while (true) {
    Try<std::vector<pid_t>> pids = processes(freezer_dir);
    if (pids.is_error()) {
      return ::stat(freezer_dir.c_str(), &st) != 0 ? std::nullopt : std::optional<Error>(Error(pids.error()));
    }
    if (pids->empty()) {
      return std::nullopt;
    }
    if (Clock::now() >= deadline) {
      return Error("Cannot kill the " + std::to_string(pids->size()) + " processes left in " + freezer_dir);
    }
    // Frozen, nothing forks while we kill; a process that cannot freeze
    // (stuck in the kernel) is killed all the same.
    write(freezer_dir, "freezer.state", "FROZEN");
    const auto freeze_deadline = std::min(deadline, Clock::now() + std::chrono::seconds(1));
    while (Clock::now() < freeze_deadline) {
      Try<std::string> state = read(freezer_dir, "freezer.state");
      if (state.is_error() || *state == "FROZEN") {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (Try<std::vector<pid_t>> frozen = processes(freezer_dir); frozen.is_some()) {
      for (pid_t pid : *frozen) {
        if (pid > 1) {
          ::kill(pid, SIGKILL);
        }
      }
    }
    write(freezer_dir, "freezer.state", "THAWED");
    // The killed processes leave cgroup.procs as they die (they must be
    // thawed to die); poll until empty.
    const auto exit_deadline = std::min(deadline, Clock::now() + std::chrono::milliseconds(500));
    while (Clock::now() < exit_deadline) {
      Try<std::vector<pid_t>> left = processes(freezer_dir);
      if (left.is_error() || left->empty()) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

}  // namespace stoa::slave::cgroups
