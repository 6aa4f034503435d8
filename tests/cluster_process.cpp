// The harness: binaries, temp directories and files, and processes.
#include "tests/cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#ifndef STOA_DEFAULT_BIN_DIR
#define STOA_DEFAULT_BIN_DIR "bin"
#endif

#include "tests/cluster_internal.hpp"

extern char** environ;

namespace stoa::tests {

namespace {

namespace fs = std::filesystem;

using internal::errno_text;
using internal::test_failed;

// Pids of live Process objects: the zombie reaper must leave them to their owners.
std::set<pid_t>& tracked_pids() {
  static std::set<pid_t> pids;
  return pids;
}

struct ProcStat {
  char state = 0;
  pid_t ppid = 0;
};

std::optional<ProcStat> read_proc_stat(const std::string& pid) {
  std::string line = read_file("/proc/" + pid + "/stat");
  size_t close = line.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream rest(line.substr(close + 1));
  ProcStat st;
  if (!(rest >> st.state >> st.ppid)) {
    return std::nullopt;
  }
  return st;
}

std::vector<std::string> proc_pids() {
  std::vector<std::string> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename();
    if (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      pids.push_back(name);
    }
  }
  return pids;
}

bool is_zombie(const std::string& pid) {
  std::optional<ProcStat> st = read_proc_stat(pid);
  return !st || st->state == 'Z' || st->state == 'X';
}

}  // namespace

namespace internal {

std::string errno_text(int err) {
  const char* text = strerrordesc_np(err);
  return text != nullptr ? text : "errno " + std::to_string(err);
}

bool test_failed() {
  return ::testing::Test::HasFailure();
}

void become_subreaper() {
  static const bool done = [] {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    return true;
  }();
  (void)done;
}

void reap_adopted_zombies() {
  const std::string self = std::to_string(::getpid());
  for (const std::string& pid : proc_pids()) {
    std::optional<ProcStat> st = read_proc_stat(pid);
    if (st && st->state == 'Z' && std::to_string(st->ppid) == self) {
      pid_t p = static_cast<pid_t>(std::stol(pid));
      if (!tracked_pids().contains(p)) {
        ::waitpid(p, nullptr, WNOHANG);
      }
    }
  }
}

}  // namespace internal


// ---------------------------------------------------------------------------
// Binaries.

std::string bin_dir() {
  if (const char* dir = std::getenv("STOA_BIN_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return STOA_DEFAULT_BIN_DIR;
}

std::string binary_path(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    return name;
  }
  return bin_dir() + "/" + name;
}

std::optional<std::string> missing_binaries(std::initializer_list<std::string> names) {
  std::string missing;
  for (const std::string& name : names) {
    std::string path = binary_path(name);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) {
      missing += (missing.empty() ? "" : ", ") + path;
    }
  }
  if (missing.empty()) {
    return std::nullopt;
  }
  return "binary not built yet: " + missing + " (set STOA_BIN_DIR or build the target)";
}

// ---------------------------------------------------------------------------
// Files.

TempDir::TempDir() {
  fs::path base = fs::temp_directory_path();
  std::string tmpl = (base / "stoa-test-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp in " << base << ": " << errno_text(errno);
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (test_failed() || std::getenv("STOA_KEEP_TEST_DIRS") != nullptr) {
    std::cerr << "[ cluster  ] kept test directory " << path_ << "\n";
    return;
  }
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tail_of_file(const std::string& path, size_t lines) {
  std::string text = read_file(path);
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') {
    --pos;
  }
  size_t seen = 0;
  while (pos > 0) {
    if (text[pos - 1] == '\n' && ++seen == lines) {
      break;
    }
    --pos;
  }
  return text.substr(pos);
}

std::vector<std::string> find_files_named(const std::string& root, const std::string& name) {
  std::vector<std::string> found;
  std::error_code ec;
  // Symlinks (runs/latest) are not followed, so each file is listed once.
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->path().filename() == name && it->is_regular_file(ec)) {
      found.push_back(it->path().string());
    }
  }
  return found;
}

// ---------------------------------------------------------------------------
// Processes.

Try<std::unique_ptr<Process>> Process::start(const std::string& binary, const std::vector<std::string>& args,
                                             const std::string& log_path,
                                             const std::map<std::string, std::string>& env) {
  internal::become_subreaper();
  std::string path = binary_path(binary);

  std::vector<std::string> argv_strings{path};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_strings) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);

  std::map<std::string, std::string> merged;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    size_t eq = entry.find('=');
    if (eq != std::string::npos) {
      merged[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  for (const auto& [k, v] : env) {
    merged[k] = v;
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : merged) {
    env_strings.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return Error("Failed to start '" + path + "': " + errno_text(rc));
  }
  tracked_pids().insert(pid);
  return std::unique_ptr<Process>(new Process(binary, pid, log_path));
}

Process::~Process() {
  if (!status_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  tracked_pids().erase(pid_);
  internal::reap_adopted_zombies();
}

bool Process::try_reap() {
  if (status_) {
    return true;
  }
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    return true;
  }
  return false;
}

bool Process::running() { return !try_reap(); }

void Process::kill(int sig) {
  if (!status_) {
    ::kill(pid_, sig);
  }
}

std::optional<int> Process::wait_exit(Deadline deadline) {
  if (!poll_until([this] { return try_reap(); }, deadline)) {
    return std::nullopt;
  }
  if (WIFEXITED(*status_)) {
    return WEXITSTATUS(*status_);
  }
  if (WIFSIGNALED(*status_)) {
    return 128 + WTERMSIG(*status_);
  }
  return -1;
}

std::string Process::describe_exit() const {
  if (!status_) {
    return "running";
  }
  if (WIFEXITED(*status_)) {
    return "exit code " + std::to_string(WEXITSTATUS(*status_));
  }
  if (WIFSIGNALED(*status_)) {
    return "signal " + std::to_string(WTERMSIG(*status_));
  }
  return "wait status " + std::to_string(*status_);
}

std::vector<std::string> Process::lines_matching(const std::regex& re) const {
  std::vector<std::string> out;
  std::istringstream in(log());
  std::string line;
  while (std::getline(in, line)) {
    if (std::regex_search(line, re)) {
      out.push_back(line);
    }
  }
  return out;
}

std::optional<std::vector<std::string>> Process::wait_for_line(const std::regex& re, Deadline deadline) {
  std::optional<std::vector<std::string>> found;
  auto scan = [&] {
    std::istringstream in(log());
    std::string line;
    while (std::getline(in, line)) {
      std::smatch m;
      if (std::regex_search(line, m, re)) {
        found = std::vector<std::string>(m.begin(), m.end());
        return true;
      }
    }
    return false;
  };
  poll_until(
      [&] {
        bool exited = try_reap();  // Read the log after the exit check, so nothing is missed.
        return scan() || exited;
      },
      deadline);
  return found;
}

pid_t parent_of(pid_t pid) {
  std::optional<ProcStat> st = read_proc_stat(std::to_string(pid));
  return st ? st->ppid : 0;
}

std::vector<pid_t> processes_with_marker(const std::string& marker) {
  std::vector<pid_t> found;
  const pid_t self = ::getpid();
  for (const std::string& pid : proc_pids()) {
    if (is_zombie(pid)) {
      continue;
    }
    std::string cmdline = read_file("/proc/" + pid + "/cmdline");
    std::string environ_text = read_file("/proc/" + pid + "/environ");
    if (cmdline.find(marker) != std::string::npos || environ_text.find(marker) != std::string::npos) {
      pid_t p = static_cast<pid_t>(std::stol(pid));
      if (p != self) {
        found.push_back(p);
      }
    }
  }
  return found;
}

std::vector<pid_t> processes_under(const std::string& dir) {
  std::vector<pid_t> found;
  const pid_t self = ::getpid();
  for (const std::string& pid : proc_pids()) {
    if (is_zombie(pid)) {
      continue;
    }
    std::error_code ec;
    fs::path cwd = fs::read_symlink("/proc/" + pid + "/cwd", ec);
    std::string cmdline = read_file("/proc/" + pid + "/cmdline");
    bool inside = !ec && (cwd.string() == dir || cwd.string().rfind(dir + "/", 0) == 0);
    if (inside || cmdline.find(dir + "/") != std::string::npos) {
      pid_t p = static_cast<pid_t>(std::stol(pid));
      if (p != self) {
        found.push_back(p);
      }
    }
  }
  return found;
}

std::string unique_marker() {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  std::ostringstream out;
  out << "marker-" << std::hex << rd() << rd() << "-" << ::getpid() << "-" << counter++;
  return out.str();
}

std::string regex_escape(const std::string& text) {
  static const std::string special = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : text) {
    if (special.find(c) != std::string::npos) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

namespace {

// Binds 127.0.0.1:`port` (0: the kernel picks) and releases it; the port
// bound, 0 when it was taken.
int try_loopback_port(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int bound = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    bound = ntohs(addr.sin_port);
  }
  ::close(fd);
  return bound;
}

}  // namespace

int free_loopback_port() {
  int low = 0;
  int high = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  // Above the services app's default service ports (10000-20000, which
  // the balancer binds) and the balancer tests' slave port blocks
  // (20000-24999, lb_test.cpp), and below the slaves' task ports
  // (31000-32000): a port handed out here must not be one a task is given.
  constexpr int FIRST = 25000;
  const int last = std::min(low, 31000) - 1;
  if (last > FIRST + 1000) {
    thread_local std::mt19937 rng(static_cast<unsigned>(::getpid()) * 2654435761u ^
                                  static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::uniform_int_distribution<int> pick(FIRST, last);
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (int port = try_loopback_port(pick(rng)); port != 0) {
        return port;
      }
    }
  }
  return try_loopback_port(0);
}

HeldPorts::~HeldPorts() {
  for (int fd : fds_) {
    ::close(fd);
  }
}

int HeldPorts::take() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ADD_FAILURE() << "cannot hold a loopback port: " << std::strerror(errno);
    return 0;
  }
  const int on = 1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "cannot hold a loopback port: " << std::strerror(errno);
    ::close(fd);
    return 0;
  }
  fds_.push_back(fd);
  return ntohs(addr.sin_port);
}

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14 || i == 15) {  // utime, stime
      ticks += std::atof(field.c_str());
    }
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace stoa::tests
