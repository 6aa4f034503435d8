#pragma once
// A real Docker engine for tests: Debian's docker.io dockerd, run directly
// (never the system service) with its own data and exec roots, socket and
// config under a fresh directory /tmp/stoa-docker-XXXXXX (under /tmp, not
// $TMPDIR, so the unix sockets dockerd and containerd make stay below the
// 108-byte limit), the vfs storage driver and no iptables rules. A test
// image, DOCKER_TEST_IMAGE, is imported from Debian's busybox-static: a
// rootfs of /bin/busybox and its applet links, with PATH set.
//
// Networking: the fixture tries to make a private Linux bridge of its own
// (stoa-br<N>, 172.31.<N>.1/24) and gives it to dockerd (--bridge), so that
// `--net=bridge -p host:container` works through docker-proxy, without
// iptables; where it cannot, bridge_available() is false with the reason and
// dockerd runs with --bridge=none (host and none networking only).
//
// Lifetime: one engine per test binary. docker_fixture() starts it on first
// use (about a second, plus the image) and returns the same instance after;
// it is a function-local static, so it is stopped when the binary exits:
// every container removed, dockerd sent SIGTERM and, after
// DOCKER_STOP_TIMEOUT, SIGKILL with what it started, the bridge deleted,
// anything mounted under its directory unmounted, the directory removed.
// A binary that died without that (a crash, ctest's timeout) leaves its
// directory with an `owner` pid file: the next fixture to start cleans up
// every such directory whose owner is gone.
//
// Tests start with STOA_REQUIRE_DOCKER(), which skips them with
// skip_reason(): not root, dockerd or the docker CLI or busybox-static
// missing, or the engine did not come up (with the end of its log).
//
// Cluster tests (tests/docker_test.cpp, tests/docker_executor_test.cpp)
// derive from DockerClusterTest, start with STOA_REQUIRE_DOCKER_CLUSTER()
// and get their master and slave from start_docker_cluster().
//
// Threading: blocking, for the GoogleTest thread only.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/try.hpp"

namespace stoa::tests {

// The image the fixture builds: busybox-static with its applets, PATH set.
constexpr const char* DOCKER_TEST_IMAGE = "stoa/busybox:local";
// Where Debian's docker.io puts the engine; the CLI is /usr/bin/docker (not
// the first `docker` on PATH, which may be another version).
constexpr const char* DOCKERD_PATH = "/usr/sbin/dockerd";
constexpr const char* DOCKER_CLI_PATH = "/usr/bin/docker";
// The statically linked busybox of Debian's busybox-static.
constexpr const char* BUSYBOX_PATH = "/bin/busybox";
// How long dockerd may take to answer GET /version after it is spawned.
constexpr auto DOCKER_START_TIMEOUT = std::chrono::seconds(30);
// How long dockerd has to exit after SIGTERM before it is SIGKILLed.
constexpr auto DOCKER_STOP_TIMEOUT = std::chrono::seconds(10);
// How long a command the fixture runs (docker, ip, tar) may take.
constexpr auto DOCKER_COMMAND_TIMEOUT = std::chrono::seconds(60);

class DockerFixture {
 public:
  // Starts the engine; failures end up in skip_reason(). Use docker_fixture().
  DockerFixture();
  ~DockerFixture();  // stop()
  DockerFixture(const DockerFixture&) = delete;
  DockerFixture& operator=(const DockerFixture&) = delete;

  // "" while the engine serves; otherwise why Docker tests cannot run here.
  const std::string& skip_reason() const { return skip_reason_; }
  bool usable() const { return skip_reason_.empty(); }

  // The engine's unix socket path (no "unix://").
  const std::string& socket() const { return socket_; }
  // "unix://<socket>", for `docker -H` and --docker_socket.
  std::string host() const { return "unix://" + socket_; }
  // The docker CLI to use with this engine (DOCKER_CLI_PATH).
  const std::string& docker_cli() const { return docker_cli_; }
  const std::string& image() const { return image_; }
  pid_t dockerd_pid() const;
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/dockerd.log"; }

  // True when containers may use --net=bridge with port mappings.
  bool bridge_available() const { return !bridge_.empty(); }
  // Why not, when bridge_available() is false.
  const std::string& bridge_unavailable_reason() const { return bridge_reason_; }
  // The bridge's name ("" without one).
  const std::string& bridge() const { return bridge_; }

  // Runs `docker -H <host> <args>`: its output (stdout and stderr), or an
  // Error naming the command, its exit and its output.
  Try<std::string> cli(const std::vector<std::string>& args) const;

  // Removes every container of this engine (by force, with volumes).
  std::optional<Error> remove_all_containers();

  // Stops everything and removes the directory; idempotent.
  void stop();

 private:
  std::optional<Error> start();
  std::optional<Error> start_dockerd(const std::string& bridge);
  void make_bridge();
  std::optional<Error> build_image();

  std::string skip_reason_;
  std::string dir_;
  std::string socket_;
  std::string docker_cli_ = DOCKER_CLI_PATH;
  std::string image_ = DOCKER_TEST_IMAGE;
  std::string bridge_;
  std::string bridge_reason_;
  struct Daemon;  // the dockerd process (tests/cluster.hpp's Process)
  std::unique_ptr<Daemon> dockerd_;
};

// The binary's engine, started on first call, stopped at exit.
DockerFixture& docker_fixture();

class Cluster;

// How long a Docker task may take to be created and started (vfs copies the
// image's layer for each container) or to end.
constexpr auto DOCKER_TIMEOUT = std::chrono::seconds(60);

// Starts a master and one slave running both containerizers
// (--containerizers=docker,mesos) on the fixture's engine, with
// `extra_slave_flags` (which may replace --docker, --docker_socket or
// --containerizers), and waits until the slave is active.
::testing::AssertionResult start_docker_cluster(Cluster& cluster,
                                                const std::vector<std::string>& extra_slave_flags = {});

// The log of the executor of the task labelled `label` on the cluster's
// first slave (its sandbox's stderr, where the container's stderr goes
// too), or "" before there is one.
std::string docker_executor_log(Cluster& cluster, const std::string& label);

// A test of Docker tasks on a cluster: every container of the engine is
// removed after each test.
class DockerClusterTest : public ::testing::Test {
 protected:
  void TearDown() override;
};

// A unix-socket proxy in front of the fixture's engine that can fail
// requests the way a restarting engine does: every connection is passed
// through byte for byte, except that the next `n` whose request line
// contains `needle` (cut()) are closed without an answer once their request
// line has arrived. Give its socket() as --docker_socket. One thread per
// connection; the destructor closes every connection and joins them.
class EngineProxy {
 public:
  // Listens on `socket`, forwarding to `engine` (both paths, no unix://).
  EngineProxy(std::string socket, std::string engine);
  ~EngineProxy();
  EngineProxy(const EngineProxy&) = delete;
  EngineProxy& operator=(const EngineProxy&) = delete;

  // "" when listening; otherwise why not.
  const std::string& error() const { return error_; }
  const std::string& socket() const { return socket_; }
  // Closes the next `n` connections whose request line contains `needle`.
  void cut(const std::string& needle, int n);
  // How many connections were cut so far.
  int cuts() const;

  struct State;  // shared with the connection threads (docker_fixture.cpp)

 private:
  std::string socket_;
  std::string error_;
  std::shared_ptr<State> state_;
};

// Why Docker cannot run here at all, before trying (root, binaries), or "".
std::string docker_missing();

// One HTTP/1.0 request to the engine at unix socket `socket`, independent
// of the code under test: the status and the body.
Try<std::pair<int, std::string>> docker_engine_request(
    const std::string& socket, const std::string& method, const std::string& path,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace stoa::tests

#define STOA_REQUIRE_DOCKER()                                                         \
  do {                                                                                \
    if (const std::string& stoa_why_ = ::stoa::tests::docker_fixture().skip_reason(); \
        !stoa_why_.empty()) {                                                         \
      GTEST_SKIP() << stoa_why_;                                                      \
    }                                                                                 \
  } while (false)

// Skips a cluster test where the binaries or Docker are missing.
#define STOA_REQUIRE_DOCKER_CLUSTER()                                                            \
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-docker-executor", \
                        "stoa-execute");                                                         \
  STOA_REQUIRE_DOCKER()
