#include "tests/cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#ifndef STOA_DEFAULT_BIN_DIR
#define STOA_DEFAULT_BIN_DIR "bin"
#endif

extern char** environ;

namespace stoa::tests {
namespace {

namespace fs = std::filesystem;

// How long the harness waits for a server to log its "listening on" line.
constexpr auto STARTUP_TIMEOUT = std::chrono::seconds(10);
// How long cleanup keeps killing leftovers before giving up.
constexpr auto CLEANUP_TIMEOUT = std::chrono::seconds(5);

std::string errno_text(int err) {
  const char* text = strerrordesc_np(err);
  return text != nullptr ? text : "errno " + std::to_string(err);
}

bool test_failed() {
  return ::testing::Test::HasFailure();
}

// Pids of live Process objects: the zombie reaper must leave them to their owners.
std::set<pid_t>& tracked_pids() {
  static std::set<pid_t> pids;
  return pids;
}

// We adopt orphans (executors and tasks of a killed slave) so they can be
// reaped; on this kind of machine pid 1 may never reap them.
void become_subreaper() {
  static const bool done = [] {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    return true;
  }();
  (void)done;
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

// Reaps zombie children that no Process object owns (adopted orphans).
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

bool is_zombie(const std::string& pid) {
  std::optional<ProcStat> st = read_proc_stat(pid);
  return !st || st->state == 'Z' || st->state == 'X';
}

}  // namespace

bool poll_until(const std::function<bool()>& done, Deadline deadline) {
  while (true) {
    if (done()) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return done();
    }
    std::this_thread::sleep_for(POLL_INTERVAL);
  }
}

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
  become_subreaper();
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
  reap_adopted_zombies();
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

// ---------------------------------------------------------------------------
// HTTP.

namespace {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

int millis_until(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

Try<int> connect_to(const std::string& host, int port, Deadline deadline) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    return Error("resolve " + host + ": " + gai_strerror(rc));
  }
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return Error(std::string("socket: ") + errno_text(errno));
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    return Error("connect " + host + ":" + std::to_string(port) + ": " + errno_text(err));
  }
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, millis_until(deadline)) != 1) {
      ::close(fd);
      return Error("connect " + host + ":" + std::to_string(port) + ": timed out");
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      return Error("connect " + host + ":" + std::to_string(port) + ": " + errno_text(err));
    }
  }
  return fd;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Parses what has arrived; returns the response once complete. `closed`: the
// peer has closed, so a body without length ends here.
std::optional<Try<HttpResponse>> parse_response(const std::string& data, bool closed) {
  size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (closed) {
      return Try<HttpResponse>(Error("connection closed before a complete response header (got " +
                                     std::to_string(data.size()) + " bytes)"));
    }
    return std::nullopt;
  }
  HttpResponse r;
  std::istringstream head(data.substr(0, head_end));
  std::string status_line;
  std::getline(head, status_line);
  std::istringstream sl(status_line);
  std::string version;
  if (!(sl >> version >> r.status) || version.rfind("HTTP/1.", 0) != 0) {
    return Try<HttpResponse>(Error("bad status line: " + status_line));
  }
  std::string line;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    r.headers[lower(line.substr(0, colon))] = value;
  }
  std::string rest = data.substr(head_end + 4);
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    size_t length = std::stoul(it->second);
    if (rest.size() < length) {
      if (closed) {
        return Try<HttpResponse>(Error("connection closed inside the body"));
      }
      return std::nullopt;
    }
    r.body = rest.substr(0, length);
    return Try<HttpResponse>(std::move(r));
  }
  if (auto it = r.headers.find("transfer-encoding"); it != r.headers.end() && lower(it->second) == "chunked") {
    std::string body;
    size_t pos = 0;
    while (true) {
      size_t eol = rest.find("\r\n", pos);
      if (eol == std::string::npos) {
        break;
      }
      size_t size = std::stoul(rest.substr(pos, eol - pos), nullptr, 16);
      if (size == 0) {
        r.body = body;
        return Try<HttpResponse>(std::move(r));
      }
      if (rest.size() < eol + 2 + size + 2) {
        break;
      }
      body += rest.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    if (closed) {
      return Try<HttpResponse>(Error("connection closed inside a chunked body"));
    }
    return std::nullopt;
  }
  if (closed) {
    r.body = rest;
    return Try<HttpResponse>(std::move(r));
  }
  return std::nullopt;
}

}  // namespace

Try<HttpResponse> http_raw(const std::string& host, int port, const std::string& request, Deadline deadline) {
  Try<int> fd = connect_to(host, port, deadline);
  if (fd.is_error()) {
    return Error(fd.error());
  }
  Socket sock(*fd);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(sock.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{sock.fd(), POLLOUT, 0};
      if (::poll(&p, 1, millis_until(deadline)) != 1) {
        return Error("send to " + host + ":" + std::to_string(port) + ": timed out");
      }
      continue;
    }
    if (n < 0) {
      // The server may answer and close before reading everything (e.g. 400): read what it said.
      break;
    }
    sent += static_cast<size_t>(n);
  }
  std::string data;
  char buf[16384];
  while (true) {
    pollfd p{sock.fd(), POLLIN, 0};
    int ready = ::poll(&p, 1, millis_until(deadline));
    if (ready == 0) {
      return Error("no complete response from " + host + ":" + std::to_string(port) + " before the deadline (got " +
                   std::to_string(data.size()) + " bytes)");
    }
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    ssize_t n = ::recv(sock.fd(), buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    bool closed = n <= 0;
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
    }
    if (auto r = parse_response(data, closed)) {
      return std::move(*r);
    }
  }
}

Try<HttpResponse> http_get(const std::string& host, int port, const std::string& path, Deadline deadline) {
  return http_raw(host, port,
                  "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                      "\r\nConnection: close\r\n\r\n",
                  deadline);
}

Try<picojson::value> http_get_json(const std::string& host, int port, const std::string& path, Deadline deadline) {
  Try<HttpResponse> r = http_get(host, port, path, deadline);
  if (r.is_error()) {
    return Error("GET " + path + ": " + r.error());
  }
  if (r->status != 200) {
    return Error("GET " + path + ": status " + std::to_string(r->status) + ": " + r->body);
  }
  picojson::value v;
  std::string err = picojson::parse(v, r->body);
  if (!err.empty()) {
    return Error("GET " + path + ": bad JSON: " + err);
  }
  return v;
}

const picojson::value& json_at(const picojson::value& v, const std::string& key) {
  static const picojson::value null_value;
  if (!v.is<picojson::object>()) {
    return null_value;
  }
  const auto& obj = v.get<picojson::object>();
  auto it = obj.find(key);
  return it == obj.end() ? null_value : it->second;
}

const picojson::array& json_array(const picojson::value& v) {
  static const picojson::array empty;
  return v.is<picojson::array>() ? v.get<picojson::array>() : empty;
}

std::string json_string(const picojson::value& v) { return v.is<std::string>() ? v.get<std::string>() : ""; }

double json_number(const picojson::value& v) {
  if (v.is<double>()) {
    return v.get<double>();
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Cluster.

const std::regex& listening_line() {
  static const std::regex re(R"(listening on http://127\.0\.0\.1:([0-9]+))");
  return re;
}

Cluster::Cluster() { become_subreaper(); }

Cluster::~Cluster() {
  if (master_ != nullptr && master_port_ != 0 && master_->running()) {
    Try<picojson::value> metrics =
        http_get_json("127.0.0.1", master_port_, "/metrics/snapshot", deadline_in(std::chrono::seconds(2)));
    if (metrics && metrics->is<picojson::object>() && metrics->contains("master/invariant_violations")) {
      EXPECT_EQ(metrics->get("master/invariant_violations").get<double>(), 0.0)
          << "the master logged accounting invariant violations";
    }
  }
  if (test_failed()) {
    print_logs();
  }
  // Clients first, then slaves, then the master.
  while (!processes_.empty()) {
    processes_.pop_back();
  }
  // Executors and tasks whose slave is gone, or that outlived a test failure.
  const std::string root = dir();
  std::vector<pid_t> leftovers;
  poll_until(
      [&] {
        leftovers = processes_under(root);
        for (pid_t pid : leftovers) {
          ::kill(pid, SIGKILL);
        }
        reap_adopted_zombies();
        return leftovers.empty();
      },
      deadline_in(CLEANUP_TIMEOUT));
  if (!leftovers.empty()) {
    ADD_FAILURE() << leftovers.size() << " processes inside " << root << " survived SIGKILL";
  }
}

Try<Process*> Cluster::start(const std::string& binary, const std::string& label,
                             const std::vector<std::string>& args) {
  Try<std::unique_ptr<Process>> p = Process::start(binary, args, dir() + "/" + label + ".log");
  if (p.is_error()) {
    return Error(p.error());
  }
  processes_.push_back(std::move(*p));
  return processes_.back().get();
}

Try<bool> Cluster::start_with_slaves(size_t slaves) {
  Try<Process*> master = start_master();
  if (master.is_error()) {
    return Error(master.error());
  }
  for (size_t i = 0; i < slaves; ++i) {
    Try<Process*> slave = start_slave();
    if (slave.is_error()) {
      return Error(slave.error());
    }
  }
  if (!wait_for_active_slaves(slaves, deadline_in(DEFAULT_TIMEOUT))) {
    return Error(std::to_string(slaves) + " slaves never registered");
  }
  return true;
}

Try<Process*> Cluster::start_master(const std::vector<std::string>& extra_args) {
  return start_master_with_env({}, extra_args);
}

Try<Process*> Cluster::start_slave(const std::string& resources, const std::vector<std::string>& extra_args) {
  if (master_port_ == 0) {
    return Error("start_slave: no master");
  }
  size_t index = slaves_.size();
  std::string work_dir = dir() + "/slave" + std::to_string(index);
  fs::create_directories(work_dir);
  std::vector<std::string> args = {"--master=" + master_address(), "--ip=127.0.0.1", "--port=0",
                                   "--work_dir=" + work_dir};
  if (!resources.empty()) {
    args.push_back("--resources=" + resources);
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  Try<Process*> p = start("stoa-slave", "slave" + std::to_string(index), args);
  if (p.is_error()) {
    return p;
  }
  auto m = (*p)->wait_for_line(listening_line(), deadline_in(STARTUP_TIMEOUT));
  if (!m) {
    return Error("stoa-slave did not log 'listening on http://127.0.0.1:PORT' (" + (*p)->describe_exit() +
                 "); log tail:\n" + tail_of_file((*p)->log_path(), 20));
  }
  slaves_.push_back(*p);
  slave_ports_.push_back(std::stoi((*m)[1]));
  slave_work_dirs_.push_back(work_dir);
  return p;
}

Try<picojson::value> Cluster::state() { return http_get_json("127.0.0.1", master_port_, "/master/state"); }

bool Cluster::wait_for_active_slaves(size_t count, Deadline deadline) {
  return poll_until(
      [&] {
        Try<picojson::value> s = state();
        if (s.is_error()) {
          return false;
        }
        size_t active = 0;
        for (const auto& slave : json_array(json_at(*s, "slaves"))) {
          const picojson::value& a = json_at(slave, "active");
          if (!a.is<bool>() || a.get<bool>()) {
            ++active;
          }
        }
        return active == count;
      },
      deadline);
}

void Cluster::print_logs(size_t lines) const {
  for (const auto& p : processes_) {
    std::cerr << "----- " << p->name() << " (" << p->log_path() << ", last " << lines << " lines) -----\n"
              << tail_of_file(p->log_path(), lines) << "\n";
  }
  // A few sandboxes (executor and task output), to see why a task failed.
  size_t shown = 0;
  for (const char* name : {"stderr", "stdout"}) {
    for (const std::string& file : find_files_named(dir(), name)) {
      if (shown++ == 6) {
        return;
      }
      std::cerr << "----- " << file << " (last 15 lines) -----\n" << tail_of_file(file, 15) << "\n";
    }
  }
}

}  // namespace stoa::tests

// ---------------------------------------------------------------------------
// Cluster: masters with an environment, and a master restarted on its port.

namespace stoa::tests {

Try<Process*> Cluster::start(const std::string& binary, const std::string& label,
                             const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  Try<std::unique_ptr<Process>> p = Process::start(binary, args, dir() + "/" + label + ".log", env);
  if (p.is_error()) {
    return Error(p.error());
  }
  processes_.push_back(std::move(*p));
  return processes_.back().get();
}

Try<Process*> Cluster::start_master_with_env(const std::map<std::string, std::string>& env,
                                             const std::vector<std::string>& extra_args) {
  std::string work_dir = dir() + "/master";
  fs::create_directories(work_dir);
  std::vector<std::string> args = {"--ip=127.0.0.1", "--port=0", "--work_dir=" + work_dir};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  // Every test master checks its accounting invariants after each
  // allocation run (see ~Cluster).
  std::map<std::string, std::string> full_env = env;
  full_env.emplace("STOA_CHECK_INVARIANTS", "1");
  Try<Process*> p = start("stoa-master", "master", args, full_env);
  if (p.is_error()) {
    return p;
  }
  auto m = (*p)->wait_for_line(listening_line(), deadline_in(STARTUP_TIMEOUT));
  if (!m) {
    return Error("stoa-master did not log 'listening on http://127.0.0.1:PORT' (" + (*p)->describe_exit() +
                 "); log tail:\n" + tail_of_file((*p)->log_path(), 20));
  }
  master_ = *p;
  master_port_ = std::stoi((*m)[1]);
  return p;
}

Try<Process*> Cluster::restart_master(const std::string& label, const std::vector<std::string>& extra_args) {
  if (master_port_ == 0) {
    return Error("restart_master: no master was started before");
  }
  std::string work_dir = dir() + "/master";
  fs::create_directories(work_dir);
  std::vector<std::string> args = {"--ip=127.0.0.1", "--port=" + std::to_string(master_port_),
                                   "--work_dir=" + work_dir};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  Try<Process*> p = start("stoa-master", label, args);
  if (p.is_error()) {
    return p;
  }
  auto m = (*p)->wait_for_line(listening_line(), deadline_in(STARTUP_TIMEOUT));
  if (!m) {
    return Error("restarted stoa-master did not log 'listening on http://127.0.0.1:PORT' (" +
                 (*p)->describe_exit() + "); log tail:\n" + tail_of_file((*p)->log_path(), 20));
  }
  if (std::stoi((*m)[1]) != master_port_) {
    return Error("restarted stoa-master listens on port " + (*m)[1] + ", not on " + std::to_string(master_port_));
  }
  master_ = *p;
  return p;
}

}  // namespace stoa::tests
