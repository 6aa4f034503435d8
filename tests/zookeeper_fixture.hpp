#pragma once
// Real ZooKeeper servers for tests: Debian's `zookeeper` package run
// directly with java (QuorumPeerMain and a config file of ours), never the
// system service. Each server listens on loopback ports held for it
// (HeldPorts: no other process is given them, even while it is stopped for
// a restart on the same port) with its own data directory under $TMPDIR,
// and is stopped by pid (SIGTERM, then SIGKILL of its process group after
// STOP_TIMEOUT); the directory is then removed.
//
// A JVM takes about a second to serve, so a test binary shares one server
// (shared_zookeeper_server(), started on first use, stopped at exit) rather
// than starting one per test. A test that needs ZooKeeper starts with
// STOA_REQUIRE_ZOOKEEPER(), which skips it naming what is missing.
//
// Threading: blocking, for the GoogleTest thread only.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/try.hpp"
#include "tests/cluster.hpp"

namespace stoa::tests {

// Where Debian's package puts the server (zookeeper.jar's manifest names the
// jars it needs, all in /usr/share/java).
constexpr const char* ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar";
// SLF4J's simple binding (libslf4j-java, a dependency of the package): on
// the class path, the server logs to its zookeeper.log; without it SLF4J
// drops every line, even the reason the server exits.
constexpr const char* ZOOKEEPER_LOG_BINDING = "/usr/share/java/slf4j-simple.jar";
// How long a server may take to serve after its JVM starts.
constexpr auto ZOOKEEPER_START_TIMEOUT = std::chrono::seconds(30);
// How long a server has to exit after SIGTERM before it is SIGKILLed.
constexpr auto ZOOKEEPER_STOP_TIMEOUT = std::chrono::seconds(5);
// The servers' tick: sessions may last from 2 to 300 ticks (0.4 s to 60 s).
constexpr int ZOOKEEPER_TICK_MS = 200;

// A skip message naming what is missing (java, the zookeeper package), or
// nullopt when a server can be started.
std::optional<std::string> zookeeper_missing();

#define STOA_REQUIRE_ZOOKEEPER()                                           \
  do {                                                                     \
    if (auto stoa_missing_ = ::stoa::tests::zookeeper_missing()) {         \
      GTEST_SKIP() << *stoa_missing_;                                      \
    }                                                                      \
  } while (0)

// The four-letter word `word` ("srvr", "ruok") sent to 127.0.0.1:`port`,
// and the whole answer; Error when nothing answers.
Try<std::string> zookeeper_four_letter_word(int port, const std::string& word);

class ZooKeeperNode;  // one server process (zookeeper_fixture.cpp)

// One standalone server.
class ZooKeeperServer {
 public:
  // Starts it and waits until it serves. Error names what failed, with the
  // end of the server's log.
  static Try<std::unique_ptr<ZooKeeperServer>> start();
  ~ZooKeeperServer();  // stops it, removes its directory
  ZooKeeperServer(const ZooKeeperServer&) = delete;
  ZooKeeperServer& operator=(const ZooKeeperServer&) = delete;

  std::string connect_string() const;  // "127.0.0.1:<port>"
  int port() const;
  // Stops the process (its data stays); restart() brings it back on the same
  // port with the same data (nodes and live sessions), waiting until it
  // serves. (Wiping the data does not expire a client's session: a server
  // refuses a client that has seen a later zxid than its own.)
  void stop();
  std::optional<Error> restart();
  bool running();
  // From spawning the JVM to the first answer that it serves.
  std::chrono::milliseconds startup_time() const;

 private:
  explicit ZooKeeperServer(std::string dir);
  std::string dir_;
  HeldPorts ports_;  // the client port, held across stop() and restart()
  std::unique_ptr<ZooKeeperNode> node_;
};

// The binary's shared server, started on first call (an Error then is
// returned again on later calls), stopped when the binary exits.
Try<ZooKeeperServer*> shared_zookeeper_server();

// Three servers in one quorum, election and quorum ports on loopback.
class ZooKeeperEnsemble {
 public:
  static constexpr int SIZE = 3;
  // Starts on new ports when a server exits at start. The ports are held
  // (HeldPorts), so none should be taken first; the log names the reason.
  static constexpr int ENSEMBLE_START_ATTEMPTS = 3;
  // Starts all three and waits until each serves (a leader was elected).
  static Try<std::unique_ptr<ZooKeeperEnsemble>> start();
  ~ZooKeeperEnsemble();
  ZooKeeperEnsemble(const ZooKeeperEnsemble&) = delete;
  ZooKeeperEnsemble& operator=(const ZooKeeperEnsemble&) = delete;

  // "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
  std::string connect_string() const;
  int port(int i) const;
  // REQUIRES: 0 <= i < SIZE. stop(i) stops server i; start(i) starts it again
  // and waits until it serves (it needs a quorum: two servers up).
  void stop(int i);
  std::optional<Error> start(int i);
  bool running(int i);
  // "leader", "follower" or "" (not serving), from its `srvr` answer.
  std::string mode(int i);

 private:
  explicit ZooKeeperEnsemble(std::string dir);
  // Picks the ports, configures, spawns and awaits the three servers.
  std::optional<Error> start_all();
  std::string dir_;
  HeldPorts ports_;  // client, quorum and election ports, for the ensemble's life
  std::vector<std::unique_ptr<ZooKeeperNode>> nodes_;
};

}  // namespace stoa::tests
