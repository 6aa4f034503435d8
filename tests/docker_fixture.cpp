#include "tests/docker_fixture.hpp"

#include <elf.h>
#include <picojson.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "common/strings.hpp"
#include "tests/cluster.hpp"
#include "tests/cluster_internal.hpp"

namespace stoa::tests {

namespace fs = std::filesystem;

namespace {

// Where fixture directories live, and their names' prefix.
constexpr const char* FIXTURE_PREFIX = "/tmp/stoa-docker-";
// Bridge numbers N (stoa-br<N>, 172.31.<N>.0/24) the fixture tries.
constexpr int BRIDGE_FIRST = 16;
constexpr int BRIDGE_COUNT = 224;
constexpr int BRIDGE_TRIES = 32;
// What dockerd and its helpers find on PATH (Debian's, not /usr/local's).
constexpr const char* DOCKERD_PATH_ENV = "/usr/sbin:/usr/bin:/sbin:/bin";

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string find_program(const std::string& name) {
  for (const char* dir : {"/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
    std::string path = std::string(dir) + "/" + name;
    if (executable(path)) {
      return path;
    }
  }
  return "";
}

// True when `path` is an ELF executable without an interpreter (static).
bool statically_linked(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Elf64_Ehdr eh{};
  if (!in.read(reinterpret_cast<char*>(&eh), sizeof(eh)) ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return false;
  }
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph{};
    in.seekg(static_cast<std::streamoff>(eh.e_phoff + static_cast<uint64_t>(i) * eh.e_phentsize));
    if (!in.read(reinterpret_cast<char*>(&ph), sizeof(ph))) {
      return false;
    }
    if (ph.p_type == PT_INTERP) {
      return false;
    }
  }
  return true;
}

// Runs `program args` (stdout and stderr to a file in `log_dir`), waits up
// to DOCKER_COMMAND_TIMEOUT: its output, or an Error naming the command.
Try<std::string> run(const std::string& log_dir, const std::string& program,
                     const std::vector<std::string>& args) {
  static std::atomic<int> counter{0};
  std::string log = log_dir + "/command-" + std::to_string(counter++) + ".log";
  std::string command = program + " " + join(args, " ");
  auto proc = Process::start(program, args, log);
  if (proc.is_error()) {
    return Error(proc.error());
  }
  std::optional<int> code = (*proc)->wait_exit(deadline_in(DOCKER_COMMAND_TIMEOUT));
  std::string output = read_file(log);
  ::unlink(log.c_str());
  if (!code) {
    return Error("`" + command + "` did not finish within " +
                 std::to_string(DOCKER_COMMAND_TIMEOUT.count()) + " s");
  }
  if (*code != 0) {
    return Error("`" + command + "` failed (" + (*proc)->describe_exit() +
                 "): " + std::string(trim(output)));
  }
  return output;
}

bool process_alive(pid_t pid) {
  return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM) &&
         read_file("/proc/" + std::to_string(pid) + "/stat").find(") Z") == std::string::npos;
}

// Mount points at or under `dir`, deepest first.
std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> found;
  std::istringstream in(read_file("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, point;
    fields >> id >> parent >> devno >> root >> point;
    // Spaces and the like are octal escapes ("\040").
    std::string decoded;
    for (size_t i = 0; i < point.size(); ++i) {
      if (point[i] == '\\' && i + 3 < point.size()) {
        decoded += static_cast<char>(std::stoi(point.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        decoded += point[i];
      }
    }
    if (decoded == dir || decoded.rfind(dir + "/", 0) == 0) {
      found.push_back(decoded);
    }
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return found;
}

// SIGKILLs what is left of an engine whose directory is `dir`: processes
// naming it (dockerd, containerd, shims) and the processes of its containers
// (their cgroups), then waits until they are gone.
void kill_leftovers(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir + "/data/containers", ec)) {
    std::string id = entry.path().filename();
    for (const char* controller : {"pids", "memory", "cpu", "freezer"}) {
      std::istringstream procs(read_file("/sys/fs/cgroup/" + std::string(controller) + "/docker/" +
                                         id + "/cgroup.procs"));
      for (pid_t pid = 0; procs >> pid;) {
        ::kill(pid, SIGKILL);
      }
    }
  }
  for (pid_t pid : processes_with_marker(dir + "/")) {
    ::kill(pid, SIGKILL);
  }
  poll_until(
      [&] {
        internal::reap_adopted_zombies();
        return processes_with_marker(dir + "/").empty();
      },
      deadline_in(internal::CLEANUP_TIMEOUT));
}

// Deletes the bridge, unmounts everything under `dir` and removes it (only
// when nothing stays mounted: removing through a mount would delete what
// it shows).
void remove_fixture_dir(const std::string& dir, const std::string& bridge) {
  if (!bridge.empty()) {
    if (std::string ip = find_program("ip"); !ip.empty()) {
      (void)run(dir, ip, {"link", "del", bridge});
    }
  }
  for (const std::string& point : mounts_under(dir)) {
    ::umount2(point.c_str(), MNT_DETACH);
  }
  if (std::vector<std::string> left = mounts_under(dir); !left.empty()) {
    std::cerr << "[ docker   ] kept " << dir << ": " << left.front() << " is still mounted\n";
    return;
  }
  if (std::getenv("STOA_KEEP_TEST_DIRS") != nullptr) {
    std::cerr << "[ docker   ] kept directory " << dir << "\n";
    return;
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

// Cleans up after fixtures whose test binary died without stopping them.
void clean_stale_fixtures() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    std::string dir = entry.path().string();
    if (dir.rfind(FIXTURE_PREFIX, 0) != 0 || !entry.is_directory(ec)) {
      continue;
    }
    std::string owner(trim(read_file(dir + "/owner")));
    if (owner.empty() || owner.find_first_not_of("0123456789") != std::string::npos ||
        process_alive(static_cast<pid_t>(std::stol(owner)))) {
      continue;
    }
    std::cerr << "[ docker   ] cleaning up " << dir << " (its test binary, pid " << owner
              << ", is gone)\n";
    kill_leftovers(dir);
    remove_fixture_dir(dir, std::string(trim(read_file(dir + "/bridge"))));
  }
}

}  // namespace

struct DockerFixture::Daemon {
  std::unique_ptr<Process> process;
};

std::string docker_missing() {
  if (::geteuid() != 0) {
    return "Docker tests need root (dockerd runs as root)";
  }
  if (!executable(DOCKERD_PATH)) {
    return std::string("Docker tests need dockerd: ") + DOCKERD_PATH +
           " is missing (Debian's docker.io; run deploy/setup.sh)";
  }
  if (!executable(DOCKER_CLI_PATH)) {
    return std::string("Docker tests need the docker CLI: ") + DOCKER_CLI_PATH +
           " is missing (Debian's docker.io; run deploy/setup.sh)";
  }
  if (!executable(BUSYBOX_PATH) || !statically_linked(BUSYBOX_PATH)) {
    return std::string("Docker tests need a static busybox for their image: ") + BUSYBOX_PATH +
           " is missing or dynamically linked (Debian's busybox-static; run deploy/setup.sh)";
  }
  if (find_program("tar").empty()) {
    return "Docker tests need tar to build their image";
  }
  return "";
}

Try<std::pair<int, std::string>> docker_engine_request(const std::string& socket,
                                                       const std::string& method,
                                                       const std::string& path,
                                                       std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.size() >= sizeof(addr.sun_path)) {
    return Error("socket path too long: " + socket);
  }
  std::memcpy(addr.sun_path, socket.data(), socket.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error("socket: " + internal::errno_text(errno));
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return Error("connect to " + socket + ": " + internal::errno_text(err));
  }
  // HTTP/1.0: the engine answers without chunks and closes.
  std::string request =
      method + " " + path + " HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n";
  std::string answer;
  bool sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(request.size());
  char buf[8192];
  for (ssize_t n = 0; sent && (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) {
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t blank = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12 || blank == std::string::npos) {
    return Error(method + " " + path + " on " + socket + ": no complete answer");
  }
  return std::make_pair(std::atoi(answer.c_str() + 9), answer.substr(blank + 4));
}

DockerFixture::DockerFixture() {
  skip_reason_ = docker_missing();
  if (!skip_reason_.empty()) {
    return;
  }
  if (auto e = start()) {
    skip_reason_ = "The Docker engine for tests did not come up: " + e->message;
    stop();
  }
}

DockerFixture::~DockerFixture() { stop(); }

pid_t DockerFixture::dockerd_pid() const {
  return dockerd_ && dockerd_->process ? dockerd_->process->pid() : 0;
}

std::optional<Error> DockerFixture::start() {
  internal::become_subreaper();  // containerd's shims are re-parented to us
  clean_stale_fixtures();
  std::string tmpl = std::string(FIXTURE_PREFIX) + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Error("mkdtemp " + tmpl + ": " + internal::errno_text(errno));
  }
  dir_ = tmpl;
  socket_ = dir_ + "/docker.sock";
  std::ofstream(dir_ + "/owner") << ::getpid() << "\n";
  std::ofstream(dir_ + "/daemon.json") << "{}\n";  // not /etc/docker/daemon.json
  make_bridge();
  std::optional<Error> started = start_dockerd(bridge_.empty() ? "none" : bridge_);
  if (started && !bridge_.empty()) {
    // Without the bridge, rather than not at all.
    bridge_reason_ = "dockerd did not start with --bridge=" + bridge_ + ": " + started->message;
    (void)run(dir_, find_program("ip"), {"link", "del", bridge_});
    bridge_.clear();
    started = start_dockerd("none");
  }
  if (started) {
    return started;
  }
  return build_image();
}

void DockerFixture::make_bridge() {
  std::string ip = find_program("ip");
  if (ip.empty()) {
    bridge_reason_ = "no `ip` command (Debian's iproute2) to make a bridge";
    return;
  }
  Try<std::string> addresses = run(dir_, ip, {"-o", "-4", "addr", "show"});
  bridge_reason_ = "no free stoa-br<N> bridge name and 172.31.<N>.0/24 subnet";
  for (int i = 0; i < BRIDGE_TRIES; ++i) {
    int n = BRIDGE_FIRST + (static_cast<int>(::getpid()) + i * 7) % BRIDGE_COUNT;
    std::string name = "stoa-br" + std::to_string(n);
    std::string net = "172.31." + std::to_string(n) + ".";
    if (addresses.is_some() && addresses->find(" " + net) != std::string::npos) {
      continue;  // that subnet is someone's
    }
    Try<std::string> added = run(dir_, ip, {"link", "add", name, "type", "bridge"});
    if (added.is_error()) {
      bridge_reason_ = "cannot make a bridge: " + added.error();
      if (added.error().find("File exists") != std::string::npos) {
        continue;  // another fixture's
      }
      return;
    }
    std::ofstream(dir_ + "/bridge") << name << "\n";
    Try<std::string> up = run(dir_, ip, {"addr", "add", net + "1/24", "dev", name});
    if (up.is_some()) {
      up = run(dir_, ip, {"link", "set", name, "up"});
    }
    if (up.is_error()) {
      bridge_reason_ = "cannot set up bridge " + name + ": " + up.error();
      (void)run(dir_, ip, {"link", "del", name});
      return;
    }
    bridge_ = name;
    bridge_reason_.clear();
    return;
  }
}

std::optional<Error> DockerFixture::start_dockerd(const std::string& bridge) {
  dockerd_ = std::make_unique<Daemon>();
  std::vector<std::string> args = {"--config-file=" + dir_ + "/daemon.json",
                                   "--data-root=" + dir_ + "/data",
                                   "--exec-root=" + dir_ + "/exec",
                                   "--pidfile=" + dir_ + "/dockerd.pid",
                                   "-H",
                                   "unix://" + socket_,
                                   "--storage-driver=vfs",
                                   "--iptables=false",
                                   "--ip-masq=false",
                                   "--ip-forward=false",
                                   "--bridge=" + bridge};
  auto proc = Process::start(DOCKERD_PATH, args, log_path(), {{"PATH", DOCKERD_PATH_ENV}});
  if (proc.is_error()) {
    return Error(proc.error());
  }
  dockerd_->process = std::move(proc).get();
  Process& p = *dockerd_->process;
  bool up = poll_until(
      [&] {
        if (!p.running()) {
          return true;
        }
        Try<std::pair<int, std::string>> v = docker_engine_request(socket_, "GET", "/version");
        return v.is_some() && v->first == 200;
      },
      deadline_in(DOCKER_START_TIMEOUT));
  if (up && p.running()) {
    return std::nullopt;
  }
  std::string why = p.running() ? "no answer on " + socket_ + " within " +
                                      std::to_string(DOCKER_START_TIMEOUT.count()) + " s"
                                : "dockerd exited (" + p.describe_exit() + ")";
  std::string tail = tail_of_file(log_path(), 15);
  p.kill(SIGKILL);
  p.wait_exit(deadline_in(DOCKER_STOP_TIMEOUT));
  dockerd_.reset();
  kill_leftovers(dir_);
  return Error(why + "; its log (" + log_path() + ") ends:\n" + tail);
}

std::optional<Error> DockerFixture::build_image() {
  // A rootfs of busybox and a link per applet (not "busybox" itself: that
  // link would replace the binary).
  std::string rootfs = dir_ + "/rootfs";
  std::error_code ec;
  fs::create_directories(rootfs + "/bin", ec);
  fs::create_directories(rootfs + "/tmp", ec);
  fs::copy_file(BUSYBOX_PATH, rootfs + "/bin/busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) {
    return Error("copy " + std::string(BUSYBOX_PATH) + " to " + rootfs + ": " + ec.message());
  }
  Try<std::string> applets = run(dir_, rootfs + "/bin/busybox", {"--list"});
  if (applets.is_error()) {
    return Error(applets.error());
  }
  for (const std::string& applet : split(*applets, '\n')) {
    if (!applet.empty() && applet != "busybox" && applet.find('/') == std::string::npos) {
      fs::create_symlink("busybox", rootfs + "/bin/" + applet, ec);
    }
  }
  std::string tarball = dir_ + "/rootfs.tar";
  Try<std::string> packed = run(dir_, find_program("tar"), {"-C", rootfs, "-cf", tarball, "."});
  if (packed.is_error()) {
    return Error(packed.error());
  }
  Try<std::string> imported =
      cli({"import", "-c", "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin", tarball, image_});
  fs::remove_all(rootfs, ec);
  fs::remove(tarball, ec);
  if (imported.is_error()) {
    return Error("cannot build the test image " + image_ + ": " + imported.error());
  }
  return std::nullopt;
}

Try<std::string> DockerFixture::cli(const std::vector<std::string>& args) const {
  std::vector<std::string> all = {"-H", host()};
  all.insert(all.end(), args.begin(), args.end());
  return run(dir_, docker_cli_, all);
}

std::optional<Error> DockerFixture::remove_all_containers() {
  Try<std::pair<int, std::string>> listed =
      docker_engine_request(socket_, "GET", "/containers/json?all=1");
  if (listed.is_error()) {
    return Error(listed.error());
  }
  picojson::value v;
  if (!picojson::parse(v, listed->second).empty() || !v.is<picojson::array>()) {
    return Error("cannot parse the engine's container list: " + listed->second);
  }
  std::optional<Error> failed;
  for (const picojson::value& c : v.get<picojson::array>()) {
    std::string id = c.is<picojson::object>() && c.contains("Id") ? c.get("Id").to_str() : "";
    Try<std::pair<int, std::string>> removed = docker_engine_request(
        socket_, "DELETE", "/containers/" + id + "?force=1&v=1", std::chrono::seconds(30));
    if (removed.is_error() || (removed->first >= 300 && removed->first != 404)) {
      failed = Error("cannot remove container " + id + ": " +
                     (removed.is_error() ? removed.error() : removed->second));
    }
  }
  return failed;
}

void DockerFixture::stop() {
  if (dir_.empty()) {
    return;
  }
  if (dockerd_ && dockerd_->process && dockerd_->process->running()) {
    if (auto e = remove_all_containers()) {
      std::cerr << "[ docker   ] " << e->message << "\n";
    }
    dockerd_->process->kill(SIGTERM);
    if (!dockerd_->process->wait_exit(deadline_in(DOCKER_STOP_TIMEOUT))) {
      std::cerr << "[ docker   ] dockerd did not exit within " << DOCKER_STOP_TIMEOUT.count()
                << " s of SIGTERM: killing it\n";
    }
  }
  dockerd_.reset();  // SIGKILLs its process group if it is still there
  kill_leftovers(dir_);
  remove_fixture_dir(dir_, bridge_);
  dir_.clear();
  bridge_.clear();
}

DockerFixture& docker_fixture() {
  static DockerFixture fixture;
  return fixture;
}

::testing::AssertionResult start_docker_cluster(Cluster& cluster, const std::vector<std::string>& extra_slave_flags) {
  if (!cluster.start_master()) {
    return ::testing::AssertionFailure() << "the master did not start";
  }
  // The defaults, unless an extra flag gives them another value.
  std::vector<std::string> flags;
  for (const std::string& flag : {std::string("--containerizers=docker,mesos"), "--docker=" + docker_fixture().docker_cli(),
                                  "--docker_socket=" + docker_fixture().socket()}) {
    const std::string name = flag.substr(0, flag.find('=') + 1);
    if (std::none_of(extra_slave_flags.begin(), extra_slave_flags.end(),
                     [&](const std::string& extra) { return extra.rfind(name, 0) == 0; })) {
      flags.push_back(flag);
    }
  }
  flags.insert(flags.end(), extra_slave_flags.begin(), extra_slave_flags.end());
  if (!cluster.start_slave("cpus:2;mem:1024;disk:1000;ports:[31000-32000]", flags)) {
    return ::testing::AssertionFailure() << "the slave did not start";
  }
  if (!cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT))) {
    return ::testing::AssertionFailure() << "the slave did not become active";
  }
  return ::testing::AssertionSuccess();
}

std::string docker_executor_log(Cluster& cluster, const std::string& label) {
  for (const std::string& path : find_files_named(cluster.slave_work_dir(0), "stderr")) {
    if (path.find(label) != std::string::npos) {
      return read_file(path);
    }
  }
  return "";
}

void DockerClusterTest::TearDown() {
  if (docker_fixture().usable()) {
    docker_fixture().remove_all_containers();
  }
}

// --- EngineProxy ---------------------------------------------------------

struct EngineProxy::State {
  std::string engine;
  int listen_fd = -1;
  int wake[2] = {-1, -1};  // the accept loop's stop pipe
  mutable std::mutex mutex;
  std::string needle;
  int remaining = 0;
  int cuts = 0;
  bool stopping = false;
  std::set<int> open;  // every connection's fds, shut down on stop
  std::vector<std::thread> threads;
  std::thread acceptor;

  // Registers fd, unless stopping (then the caller closes it).
  bool track(int fd) {
    std::lock_guard<std::mutex> lock(mutex);
    if (stopping) {
      return false;
    }
    open.insert(fd);
    return true;
  }
  void forget_and_close(int fd) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      open.erase(fd);
    }
    ::close(fd);
  }
  bool should_cut(const std::string& head) {
    std::lock_guard<std::mutex> lock(mutex);
    if (remaining > 0 && head.find(needle) != std::string::npos) {
      --remaining;
      ++cuts;
      return true;
    }
    return false;
  }
};

namespace {

int connect_unix(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return -1;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// One proxied connection: reads the request line, then cuts it or pumps
// both ways until either side closes.
void proxy_connection(const std::shared_ptr<EngineProxy::State>& st, int client) {
  std::string head;
  char buf[16384];
  while (head.find("\r\n") == std::string::npos && head.size() < 8192) {
    ssize_t n = ::recv(client, buf, sizeof(buf), 0);
    if (n <= 0) {
      st->forget_and_close(client);
      return;
    }
    head.append(buf, static_cast<size_t>(n));
  }
  if (st->should_cut(head.substr(0, head.find("\r\n")))) {
    st->forget_and_close(client);
    return;
  }
  int upstream = connect_unix(st->engine);
  if (upstream < 0 || !st->track(upstream)) {
    if (upstream >= 0) {
      ::close(upstream);
    }
    st->forget_and_close(client);
    return;
  }
  bool ok = send_all(upstream, head.data(), head.size());
  pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
  while (ok && ::poll(fds, 2, -1) > 0) {
    for (int i = 0; i < 2 && ok; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      ssize_t n = ::recv(fds[i].fd, buf, sizeof(buf), 0);
      ok = n > 0 && send_all(fds[1 - i].fd, buf, static_cast<size_t>(n));
    }
  }
  st->forget_and_close(upstream);
  st->forget_and_close(client);
}

}  // namespace

EngineProxy::EngineProxy(std::string socket, std::string engine)
    : socket_(std::move(socket)), state_(std::make_shared<State>()) {
  state_->engine = std::move(engine);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(addr.sun_path)) {
    error_ = "proxy socket path too long: " + socket_;
    return;
  }
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  ::unlink(socket_.c_str());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 64) != 0 ||
      ::pipe2(state_->wake, O_CLOEXEC) != 0) {
    error_ = "proxy on " + socket_ + ": " + internal::errno_text(errno);
    if (fd >= 0) {
      ::close(fd);
    }
    return;
  }
  state_->listen_fd = fd;
  state_->acceptor = std::thread([st = state_] {
    pollfd fds[2] = {{st->listen_fd, POLLIN, 0}, {st->wake[0], POLLIN, 0}};
    while (::poll(fds, 2, -1) > 0 && (fds[1].revents & POLLIN) == 0) {
      int client = ::accept4(st->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        continue;
      }
      std::lock_guard<std::mutex> lock(st->mutex);
      if (st->stopping) {
        ::close(client);
        break;
      }
      st->open.insert(client);
      st->threads.emplace_back([st, client] { proxy_connection(st, client); });
    }
  });
}

EngineProxy::~EngineProxy() {
  if (!state_->acceptor.joinable()) {
    return;
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stopping = true;
    for (int fd : state_->open) {
      ::shutdown(fd, SHUT_RDWR);
    }
  }
  (void)!::write(state_->wake[1], "x", 1);
  state_->acceptor.join();
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    threads.swap(state_->threads);
  }
  for (std::thread& t : threads) {
    t.join();
  }
  ::close(state_->listen_fd);
  ::close(state_->wake[0]);
  ::close(state_->wake[1]);
  ::unlink(socket_.c_str());
}

void EngineProxy::cut(const std::string& needle, int n) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->needle = needle;
  state_->remaining = n;
}

int EngineProxy::cuts() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->cuts;
}

}  // namespace stoa::tests
