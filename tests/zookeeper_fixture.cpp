#include "tests/zookeeper_fixture.hpp"

#include "tests/cluster_internal.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

namespace stoa::tests {
namespace fs = std::filesystem;

namespace {

// `java` on $PATH, else "".
std::string find_java() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / "java";
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
  }
  return "";
}


Try<std::string> make_temp_dir(const std::string& prefix) {
  std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Error("mkdtemp " + tmpl + ": " + internal::errno_text(errno));
  }
  return tmpl;
}

void remove_dir(const std::string& dir) {
  if (dir.empty()) {
    return;
  }
  if (std::getenv("STOA_KEEP_TEST_DIRS") != nullptr) {
    std::cerr << "[ zookeeper ] kept directory " << dir << "\n";
    return;
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

std::optional<Error> write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return Error("cannot write " + path);
  }
  return std::nullopt;
}

// The server's class path: `dir` (nothing there but the config), the
// package's jar and, when installed, SLF4J's simple binding so that the log
// says what the server did (an exit for a port in use among it).
std::string class_path(const std::string& dir) {
  std::string path = dir + ":" + ZOOKEEPER_JAR;
  if (::access(ZOOKEEPER_LOG_BINDING, R_OK) == 0) {
    path += std::string(":") + ZOOKEEPER_LOG_BINDING;
  }
  return path;
}

}  // namespace

std::optional<std::string> zookeeper_missing() {
  std::vector<std::string> missing;
  if (find_java().empty()) {
    missing.push_back("java (no `java` on $PATH; Debian's default-jre-headless)");
  }
  if (::access(ZOOKEEPER_JAR, R_OK) != 0) {
    missing.push_back(std::string("the zookeeper package (") + ZOOKEEPER_JAR +
                      " is missing; run deploy/setup.sh)");
  }
  if (missing.empty()) {
    return std::nullopt;
  }
  std::string text = "ZooKeeper cannot run here, missing: ";
  for (size_t i = 0; i < missing.size(); ++i) {
    text += (i > 0 ? "; " : "") + missing[i];
  }
  return text;
}

Try<std::string> zookeeper_four_letter_word(int port, const std::string& word) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return Error("socket: " + internal::errno_text(errno));
  }
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    ::close(fd);
    return Error("connect 127.0.0.1:" + std::to_string(port) + ": " + internal::errno_text(err));
  }
  if (::send(fd, word.data(), word.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(word.size())) {
    int err = errno;
    ::close(fd);
    return Error("send '" + word + "' to 127.0.0.1:" + std::to_string(port) + ": " + internal::errno_text(err));
  }
  std::string answer;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) {
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return answer;
}

// One server process: its directory holds zoo.cfg, data/ (with myid in an
// ensemble) and zookeeper.log (the JVM's output).
class ZooKeeperNode {
 public:
  ZooKeeperNode(std::string dir, int port) : dir_(std::move(dir)), port_(port) {}
  ~ZooKeeperNode() { stop(); }

  const std::string& dir() const { return dir_; }
  int port() const { return port_; }
  std::string log_path() const { return dir_ + "/zookeeper.log"; }

  // Writes the config: `servers` are "server.N=..." lines (empty: standalone).
  std::optional<Error> configure(const std::vector<std::string>& servers, int myid) {
    std::error_code ec;
    fs::create_directories(dir_ + "/data", ec);
    if (ec) {
      return Error("mkdir " + dir_ + "/data: " + ec.message());
    }
    std::string cfg = "tickTime=" + std::to_string(ZOOKEEPER_TICK_MS) +
                      "\ninitLimit=25\nsyncLimit=10\nmaxSessionTimeout=60000\n"
                      "dataDir=" + dir_ + "/data\nclientPort=" + std::to_string(port_) +
                      "\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                      "4lw.commands.whitelist=srvr,ruok,stat\n";
    for (const std::string& s : servers) {
      cfg += s + "\n";
    }
    if (auto e = write_text(dir_ + "/zoo.cfg", cfg)) {
      return e;
    }
    if (!servers.empty()) {
      return write_text(dir_ + "/data/myid", std::to_string(myid) + "\n");
    }
    return std::nullopt;
  }

  // Spawns the JVM and waits until the server answers `srvr` with its mode.
  std::optional<Error> start() {
    if (auto e = spawn()) {
      return e;
    }
    return await_serving();
  }

  // Spawns the JVM (an ensemble spawns all its servers before waiting: one
  // alone has no quorum and does not serve).
  std::optional<Error> spawn() {
    stop();
    begin_ = Clock::now();
    auto proc = Process::start(
        find_java(),
        {"-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", class_path(dir_),
         "-Dorg.slf4j.simpleLogger.showDateTime=true",
         "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS", "org.apache.zookeeper.server.quorum.QuorumPeerMain",
         dir_ + "/zoo.cfg"},
        log_path());
    if (proc.is_error()) {
      return Error("cannot start ZooKeeper: " + proc.error());
    }
    process_ = std::move(proc).get();
    return std::nullopt;
  }

  // REQUIRES: spawn() succeeded.
  std::optional<Error> await_serving() {
    bool serving = poll_until(
        [this] { return !process_->running() || !mode().empty(); }, deadline_in(ZOOKEEPER_START_TIMEOUT));
    if (!serving || !process_->running()) {
      std::string why = process_->running() ? "not serving after " +
                                                  std::to_string(ZOOKEEPER_START_TIMEOUT.count()) + "s"
                                            : "exited (" + process_->describe_exit() + ")";
      return Error("ZooKeeper on 127.0.0.1:" + std::to_string(port_) + " " + why + "; its log ends:\n" +
                   tail_of_file(log_path(), 30));
    }
    startup_time_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin_);
    return std::nullopt;
  }

  void stop() {
    if (!process_) {
      return;
    }
    process_->kill(SIGTERM);
    process_->wait_exit(deadline_in(ZOOKEEPER_STOP_TIMEOUT));
    process_.reset();  // SIGKILLs the process group if still there, reaps
  }

  bool running() { return process_ && process_->running(); }

  // "standalone", "leader", "follower", or "" when not serving.
  std::string mode() {
    Try<std::string> answer = zookeeper_four_letter_word(port_, "srvr");
    if (answer.is_error()) {
      return "";
    }
    size_t at = answer->find("Mode: ");
    if (at == std::string::npos) {
      return "";
    }
    size_t end = answer->find('\n', at);
    return answer->substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
  }

  std::chrono::milliseconds startup_time() const { return startup_time_; }

 private:
  std::string dir_;
  int port_;
  std::unique_ptr<Process> process_;
  Clock::time_point begin_;
  std::chrono::milliseconds startup_time_{0};
};

// ---------------------------------------------------------------------------
// ZooKeeperServer.

ZooKeeperServer::ZooKeeperServer(std::string dir) : dir_(std::move(dir)) {}

ZooKeeperServer::~ZooKeeperServer() {
  node_.reset();
  remove_dir(dir_);
}

Try<std::unique_ptr<ZooKeeperServer>> ZooKeeperServer::start() {
  if (auto missing = zookeeper_missing()) {
    return Error(*missing);
  }
  Try<std::string> dir = make_temp_dir("stoa-zookeeper");
  if (dir.is_error()) {
    return Error(dir.error());
  }
  std::unique_ptr<ZooKeeperServer> server(new ZooKeeperServer(*dir));
  int port = server->ports_.take();
  if (port == 0) {
    return Error("no loopback port could be held for ZooKeeper");
  }
  server->node_ = std::make_unique<ZooKeeperNode>(*dir, port);
  if (auto e = server->node_->configure({}, 0)) {
    return *e;
  }
  if (auto e = server->node_->start()) {
    return *e;
  }
  return server;
}

std::string ZooKeeperServer::connect_string() const { return "127.0.0.1:" + std::to_string(port()); }
int ZooKeeperServer::port() const { return node_->port(); }
void ZooKeeperServer::stop() { node_->stop(); }
std::optional<Error> ZooKeeperServer::restart() { return node_->start(); }
bool ZooKeeperServer::running() { return node_->running(); }
std::chrono::milliseconds ZooKeeperServer::startup_time() const { return node_->startup_time(); }

Try<ZooKeeperServer*> shared_zookeeper_server() {
  // Destroyed when the binary exits, which stops the server.
  static Try<std::unique_ptr<ZooKeeperServer>> shared = ZooKeeperServer::start();
  if (shared.is_error()) {
    return Error(shared.error());
  }
  return shared->get();
}

// ---------------------------------------------------------------------------
// ZooKeeperEnsemble.

ZooKeeperEnsemble::ZooKeeperEnsemble(std::string dir) : dir_(std::move(dir)) {}

ZooKeeperEnsemble::~ZooKeeperEnsemble() {
  nodes_.clear();
  remove_dir(dir_);
}

Try<std::unique_ptr<ZooKeeperEnsemble>> ZooKeeperEnsemble::start() {
  if (auto missing = zookeeper_missing()) {
    return Error(*missing);
  }
  // The ports are held from the pick on, so no other process binds one
  // first (before they were: a server then exited, code 14 for a quorum
  // port). A server that exits at start anyway is started again on new
  // ports, a few times; its log says why.
  Error last("not started");
  for (int attempt = 0; attempt < ENSEMBLE_START_ATTEMPTS; ++attempt) {
    Try<std::string> dir = make_temp_dir("stoa-zookeeper-ensemble");
    if (dir.is_error()) {
      return Error(dir.error());
    }
    std::unique_ptr<ZooKeeperEnsemble> ensemble(new ZooKeeperEnsemble(*dir));
    std::optional<Error> error = ensemble->start_all();
    if (!error) {
      return ensemble;
    }
    last = *error;
    bool exited = false;
    for (int i = 0; i < SIZE; ++i) {
      exited |= !ensemble->running(i);
    }
    if (!exited) {
      break;  // up but not serving: new ports would not help
    }
  }
  return last;
}

std::optional<Error> ZooKeeperEnsemble::start_all() {
  std::vector<std::string> servers;
  for (int i = 0; i < SIZE; ++i) {
    int quorum = ports_.take();
    int election = ports_.take();
    int client = ports_.take();
    if (quorum == 0 || election == 0 || client == 0) {
      return Error("no loopback ports could be held for the ZooKeeper ensemble");
    }
    // server.N=host:quorum_port:election_port
    servers.push_back("server." + std::to_string(i + 1) + "=127.0.0.1:" + std::to_string(quorum) + ":" +
                      std::to_string(election));
    nodes_.push_back(std::make_unique<ZooKeeperNode>(dir_ + "/zk" + std::to_string(i + 1), client));
  }
  for (int i = 0; i < SIZE; ++i) {
    if (auto e = nodes_[i]->configure(servers, i + 1)) {
      return e;
    }
  }
  for (auto& node : nodes_) {
    if (auto e = node->spawn()) {
      return e;
    }
  }
  for (auto& node : nodes_) {
    if (auto e = node->await_serving()) {
      return e;
    }
  }
  return std::nullopt;
}

std::string ZooKeeperEnsemble::connect_string() const {
  std::string out;
  for (const auto& node : nodes_) {
    out += (out.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(node->port());
  }
  return out;
}

int ZooKeeperEnsemble::port(int i) const { return nodes_.at(i)->port(); }
void ZooKeeperEnsemble::stop(int i) { nodes_.at(i)->stop(); }
std::optional<Error> ZooKeeperEnsemble::start(int i) { return nodes_.at(i)->start(); }
bool ZooKeeperEnsemble::running(int i) { return nodes_.at(i)->running(); }
std::string ZooKeeperEnsemble::mode(int i) { return nodes_.at(i)->mode(); }

}  // namespace stoa::tests
