// The blocking pieces of the HAProxy supervisor (haproxy_internal.hpp).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "actors/launcher.hpp"
#include "common/strings.hpp"
#include "apps/lb/haproxy_internal.hpp"

namespace stoa::lb {
namespace haproxy_detail {
namespace {

// How often wait_for_new_worker looks at /proc, and at the master CLI.
constexpr auto HAPROXY_WORKER_POLL = std::chrono::milliseconds(10);
constexpr auto HAPROXY_CLI_POLL = std::chrono::milliseconds(100);
constexpr auto HAPROXY_CLI_TIMEOUT = std::chrono::milliseconds(500);
// How much of HAProxy's output an error carries.
constexpr size_t HAPROXY_MESSAGE_BYTES = 4096;

std::string haproxy_dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) {
    return ".";
  }
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool haproxy_read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return true;
}

// Waits for `pid` (our child) and returns its wait status.
int haproxy_wait_child(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return -1;
    }
  }
  return status;
}

// Runs argv with its output in `output_path` and waits; "" on exit 0, else
// "<what>: <output> (<status>)".
std::string haproxy_run_and_wait(const std::vector<std::string>& argv, const std::string& output_path) {
  ::unlink(output_path.c_str());
  LaunchSpec spec;
  spec.argv = argv;
  spec.stdout_path = output_path;
  spec.stderr_path = output_path;
  Try<pid_t> pid = launch(spec);
  if (pid.is_error()) {
    return pid.error();
  }
  const int status = haproxy_wait_child(pid.get());
  std::string output = file_tail(output_path, HAPROXY_MESSAGE_BYTES);
  ::unlink(output_path.c_str());
  if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    return "";
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) {
    output.pop_back();
  }
  return output + (output.empty() ? "" : " ") + "(" + describe_wait_status(status, "'" + argv[0] + "'") + ")";
}

// /proc/<pid>/stat fields after the command name: state, ppid, …, starttime.
struct HaproxyProcStat {
  char state = '?';
  int ppid = 0;
  unsigned long long start_time = 0;
};

std::optional<HaproxyProcStat> haproxy_read_stat(int pid) {
  std::string text;
  if (!haproxy_read_file("/proc/" + std::to_string(pid) + "/stat", text)) {
    return std::nullopt;
  }
  const size_t close = text.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(text.substr(close + 1));
  HaproxyProcStat stat;
  fields >> stat.state >> stat.ppid;
  std::string skip;
  for (int i = 0; i < 17 && fields; ++i) {  // fields 5..21
    fields >> skip;
  }
  fields >> stat.start_time;
  if (!fields) {
    return std::nullopt;
  }
  return stat;
}

template <typename Visit>
void haproxy_for_each_pid(Visit visit) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return;
  }
  while (dirent* entry = ::readdir(proc)) {
    const char* name = entry->d_name;
    if (name[0] < '1' || name[0] > '9' || std::strspn(name, "0123456789") != std::strlen(name)) {
      continue;
    }
    visit(std::atoi(name));
  }
  ::closedir(proc);
}

}  // namespace

std::string domain_map_path(const std::string& config_path) {
  return haproxy_dir_of(config_path) + "/domain2backend.map";
}

std::string app_map_path(const std::string& config_path) {
  return haproxy_dir_of(config_path) + "/app2backend.map";
}

std::string master_socket_path(const HaproxyOptions& options) { return options.run_dir + "/master.sock"; }

std::string master_log_path(const HaproxyOptions& options) { return options.run_dir + "/haproxy.log"; }

std::string file_tail(const std::string& path, size_t max_bytes) {
  std::string text;
  if (!haproxy_read_file(path, text)) {
    return "";
  }
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

Try<bool> write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error("Failed to open '" + tmp + "': " + errno_text(errno));
  }
  size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return Error("Failed to write '" + tmp + "': " + errno_text(err));
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return Error("Failed to sync '" + tmp + "': " + errno_text(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return Error("Failed to rename '" + tmp + "' to '" + path + "': " + errno_text(errno));
  }
  int dir = ::open(haproxy_dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

std::string check_config(const std::string& binary, const std::string& config_path) {
  return haproxy_run_and_wait({binary, "-c", "-f", config_path}, config_path + ".check.out");
}

InstallOutcome install_config(const HaproxyOptions& options, const HaproxyConfig& next,
                              const HaproxyConfig& previous) {
  InstallOutcome outcome;
  const std::string& config_path = options.config_path;
  const std::string staged = config_path + ".new";
  for (const auto& [path, text] : {std::pair{domain_map_path(config_path), &next.domain2backend_map},
                                   std::pair{app_map_path(config_path), &next.app2backend_map},
                                   std::pair{staged, &next.config}}) {
    Try<bool> written = write_file_atomically(path, *text);
    if (written.is_error()) {
      outcome.valid = false;
      outcome.error = written.error();
      return outcome;
    }
  }
  if (!options.skip_validation) {
    std::string message = check_config(options.binary, staged);
    if (!message.empty()) {
      outcome.valid = false;
      outcome.error = "invalid HAProxy configuration: " + message;
      ::unlink(staged.c_str());
      // The running HAProxy keeps the maps it loaded; the files go back to
      // the applied ones so that a restart reads a consistent set.
      write_file_atomically(domain_map_path(config_path), previous.domain2backend_map);
      write_file_atomically(app_map_path(config_path), previous.app2backend_map);
      return outcome;
    }
  }
  if (options.archive_versions > 0 && ::access(config_path.c_str(), F_OK) == 0) {
    for (int i = options.archive_versions - 1; i >= 1; --i) {
      const std::string from = config_path + "." + std::to_string(i);
      ::rename(from.c_str(), (config_path + "." + std::to_string(i + 1)).c_str());
    }
    if (::link(config_path.c_str(), (config_path + ".1").c_str()) != 0) {
      std::string text;
      if (haproxy_read_file(config_path, text)) {
        write_file_atomically(config_path + ".1", text);
      }
    }
  }
  if (::rename(staged.c_str(), config_path.c_str()) != 0) {
    outcome.valid = false;
    outcome.error = "Failed to rename '" + staged + "' to '" + config_path + "': " + errno_text(errno);
  }
  return outcome;
}

int stop_stale_master(const HaproxyOptions& options) {
  std::string text;
  if (!haproxy_read_file(options.run_dir + "/haproxy.pid", text)) {
    return 0;
  }
  const int pid = std::atoi(text.c_str());
  std::string cmdline;
  if (pid <= 1 || pid == ::getpid() || !process_running(pid) ||
      !haproxy_read_file("/proc/" + std::to_string(pid) + "/cmdline", cmdline)) {
    return 0;
  }
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  if (cmdline.find(" -f " + options.config_path + " ") == std::string::npos ||
      cmdline.find(" -S " + master_socket_path(options)) == std::string::npos) {
    return 0;
  }
  ::kill(pid, SIGTERM);
  return pid;
}

Try<pid_t> start_master(const HaproxyOptions& options) {
  if (::mkdir(options.run_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Error("Failed to create run directory '" + options.run_dir + "': " + errno_text(errno));
  }
  LaunchSpec spec;
  spec.argv = {options.binary, "-W", "-f", options.config_path, "-p", options.run_dir + "/haproxy.pid",
               "-S", master_socket_path(options)};
  spec.stdout_path = master_log_path(options);
  spec.stderr_path = master_log_path(options);
  return launch(spec);
}

std::optional<std::string> cli_command(const std::string& socket_path, const std::string& command,
                                       std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) {
    return std::nullopt;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return std::nullopt;
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::optional<std::string> answer;
  const std::string line = command + "\n";
  // Without the shutdown HAProxy keeps the connection open for more.
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size()) &&
      ::shutdown(fd, SHUT_WR) == 0) {
    std::string text;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) {
      text.append(buffer, static_cast<size_t>(n));
    }
    if (n == 0) {
      answer = std::move(text);
    }
  }
  ::close(fd);
  return answer;
}

std::optional<MasterProcInfo> query_master(const std::string& socket_path, std::chrono::milliseconds timeout) {
  std::optional<std::string> reply = cli_command(socket_path, "show proc", timeout);
  if (!reply) {
    return std::nullopt;
  }
  const std::string answer = std::move(*reply);
  MasterProcInfo info;
  bool saw_master = false;
  std::istringstream lines(answer);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string pid;
    std::string type;
    words >> pid >> type;
    if (pid.empty() || pid[0] == '#') {
      continue;
    }
    if (type == "master") {
      saw_master = true;
      words >> info.reloads;
      const size_t failed = line.find("[failed:");
      if (failed != std::string::npos) {
        info.failed_reloads = std::atoi(line.c_str() + failed + 8);
      }
    } else if (type == "worker") {
      info.workers.push_back(std::atoi(pid.c_str()));
    }
  }
  if (!saw_master) {
    return std::nullopt;
  }
  return info;
}

std::string stats_socket_path(const HaproxyOptions& options) { return options.run_dir + "/socket"; }
std::string server_state_path(const HaproxyOptions& options) { return options.run_dir + "/server-state"; }

bool save_server_state(const HaproxyOptions& options) {
  std::optional<std::string> state =
      cli_command(stats_socket_path(options), "show servers state", HAPROXY_CLI_TIMEOUT);
  // The dump starts with its format version ("1"); anything else (no admin
  // level, an error) is not a state file.
  if (!state || state->rfind("1\n", 0) != 0) {
    return false;
  }
  return !write_file_atomically(server_state_path(options), *state).is_error();
}

std::set<int> pids_named(const std::string& name) {
  std::set<int> pids;
  haproxy_for_each_pid([&](int pid) {
    std::string comm;
    if (!haproxy_read_file("/proc/" + std::to_string(pid) + "/comm", comm)) {
      return;
    }
    while (!comm.empty() && comm.back() == '\n') {
      comm.pop_back();
    }
    if (comm == name && process_running(pid)) {
      pids.insert(pid);
    }
  });
  return pids;
}

int wait_for_new_worker(pid_t master_pid, const std::set<int>& known, const std::string& socket_path,
                        int failed_before, std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  auto next_cli = start + HAPROXY_CLI_POLL;
  while (true) {
    if (!process_running(master_pid)) {
      return -1;
    }
    for (int pid : haproxy_worker_pids(master_pid)) {
      if (known.count(pid) == 0) {
        return pid;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (failed_before >= 0 && now >= next_cli) {
      next_cli = now + HAPROXY_CLI_POLL;
      std::optional<MasterProcInfo> info = query_master(socket_path, HAPROXY_CLI_TIMEOUT);
      if (info && info->failed_reloads > failed_before) {
        return -2;
      }
    }
    if (now >= deadline) {
      return 0;
    }
    std::this_thread::sleep_for(HAPROXY_WORKER_POLL);
  }
}

std::string run_shell(const std::string& command, const std::string& output_path) {
  return haproxy_run_and_wait({"/bin/sh", "-c", command}, output_path);
}

}  // namespace haproxy_detail

std::vector<int> haproxy_worker_pids(int master_pid) {
  std::vector<std::pair<unsigned long long, int>> children;
  if (master_pid <= 1) {
    return {};
  }
  haproxy_detail::haproxy_for_each_pid([&](int pid) {
    std::optional<haproxy_detail::HaproxyProcStat> stat = haproxy_detail::haproxy_read_stat(pid);
    if (stat && stat->ppid == master_pid && stat->state != 'Z' && stat->state != 'X') {
      children.emplace_back(stat->start_time, pid);
    }
  });
  std::sort(children.begin(), children.end());
  std::vector<int> pids;
  for (const auto& child : children) {
    pids.push_back(child.second);
  }
  return pids;
}

}  // namespace stoa::lb
