// The HAProxy supervisor against the real HAProxy (/usr/sbin/haproxy 2.6):
// loopback, OS-picked ports, a temp dir per test, tiny HTTP backends of our
// own. Skipped with a message when HAProxy is not installed.
#include "apps/lb/haproxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "actors/launcher.hpp"
#include "actors/safety.hpp"
#include "apps/lb/haproxy_internal.hpp"
#include "common/json.hpp"
#include "tests/cluster.hpp"
#include "tests/poll.hpp"

namespace stoa::lb {
namespace {

constexpr const char* HAPROXY_TEST_BINARY = "/usr/sbin/haproxy";
// Bound of one request to the actor (a start or reload takes well under it).
constexpr auto HAPROXY_TEST_REPLY = std::chrono::seconds(30);
// How long HAProxy may take to stop once the actor is gone (soft stop).
constexpr auto HAPROXY_TEST_STOP = std::chrono::seconds(20);

// GET http://127.0.0.1:<port><path> on a fresh connection. Returns the
// status (0 when the connection failed or was cut) and the body.
std::pair<int, std::string> http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      ssize_t n = 0;
      while ((n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0) {
        answer.append(buffer, static_cast<size_t>(n));
      }
      if (n < 0) {
        answer.clear();
      }
    }
  }
  ::close(fd);
  const size_t body = answer.find("\r\n\r\n");
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12 || body == std::string::npos) {
    return {0, answer};
  }
  return {std::atoi(answer.c_str() + 9), answer.substr(body + 4)};
}

// A tiny HTTP/1.0 backend answering every request with its name.
class TinyBackend {
 public:
  explicit TinyBackend(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 512);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  TinyBackend(const TinyBackend&) = delete;
  TinyBackend& operator=(const TinyBackend&) = delete;
  ~TinyBackend() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) {
        continue;
      }
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) {
        continue;
      }
      std::string request;
      char buffer[4096];
      timeval tv{2, 0};
      ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      while (request.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          break;
        }
        request.append(buffer, static_cast<size_t>(n));
      }
      const std::string response = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                   std::to_string(name_.size()) + "\r\n\r\n" + name_;
      ::send(client, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  std::string name_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

struct HaproxyFixture : ::testing::Test {
  void SetUp() override {
    if (::access(HAPROXY_TEST_BINARY, X_OK) != 0) {
      GTEST_SKIP() << HAPROXY_TEST_BINARY << " is not installed: these tests drive a real HAProxy 2.6";
    }
    char pattern[] = "/tmp/stoa-lb-haproxy-XXXXXX";
    dir = ::mkdtemp(pattern);
    cfg.set("scheduler.max-threads", 4);
    sys = std::make_unique<caf::actor_system>(cfg);
    options.binary = HAPROXY_TEST_BINARY;
    options.config_path = dir + "/haproxy.cfg";
    options.run_dir = dir + "/run";
    options.reload_interval = std::chrono::milliseconds(2000);
    options.max_reload_retries = 5;
    options.min_reload_interval = std::chrono::milliseconds(0);
    // Held (tests/cluster.hpp): HAProxy binds them beside our sockets.
    frontend_port = ports.take();
    stats_port = ports.take();
  }

  void TearDown() override {
    if (actor) {
      stop_actor(*sys, actor);
      actor = caf::actor{};
    }
    sys.reset();  // waits for the reapers, i.e. until HAProxy is gone
    if (!dir.empty()) {
      std::filesystem::remove_all(dir);
    }
  }

  void start(const HaproxyOptions& o) { actor = spawn_haproxy(*sys, o); }

  // A config whose backend `app` has one server per backend port.
  HaproxyConfig make_config(const std::vector<int>& ports, const std::string& extra = "",
                            bool server_state = false) const {
    std::ostringstream c;
    c << "global\n  maxconn 2048\n";
    if (server_state) {
      c << "  stats socket " << options.run_dir << "/socket level admin\n"
        << "  server-state-file " << options.run_dir << "/server-state\n";
    }
    c << "defaults\n" << (server_state ? "  load-server-state-from-file global\n" : "") << "  mode http\n  timeout connect 2s\n  timeout client 10s\n  timeout server 10s\n"
      << "listen stats\n  bind 127.0.0.1:" << stats_port << "\n  stats enable\n  stats uri /haproxy?stats\n"
      << "frontend web\n  bind 127.0.0.1:" << frontend_port << "\n  default_backend app\n"
      << "backend app\n  balance roundrobin\n" << extra;
    for (int port : ports) {
      c << "  server s" << port << " 127.0.0.1:" << port << "\n";
    }
    return HaproxyConfig{c.str(), "", ""};
  }

  ApplyResult apply(const HaproxyConfig& config) {
    ApplyResult result;
    result.error = "no reply";
    result.valid = false;
    caf::scoped_actor self{*sys};
    self->request(actor, HAPROXY_TEST_REPLY, lb_apply_atom{}, config)
        .receive([&](const ApplyResult& r) { result = r; },
                 [&](const caf::error& e) { result.error = caf::to_string(e); });
    return result;
  }

  picojson::object status() {
    std::string text;
    caf::scoped_actor self{*sys};
    self->request(actor, HAPROXY_TEST_REPLY, lb_status_atom{})
        .receive([&](const std::string& s) { text = s; }, [&](const caf::error&) {});
    Try<picojson::value> parsed = json_parse(text);
    if (parsed.is_error() || !parsed.get().is<picojson::object>()) {
      return {};
    }
    return parsed.get().get<picojson::object>();
  }

  int master_pid() {
    picojson::object s = status();
    return s.count("master_pid") ? static_cast<int>(s["master_pid"].get<double>()) : 0;
  }

  std::string stats_csv() { return http_get(stats_port, "/haproxy?stats;csv").second; }
  // The stats CSV once it lists server `port`: right after a reload the old
  // worker, soft-stopping, may still take a connection on the shared
  // listening socket and list no servers; ask until the new worker answers.
  std::string stats_csv_listing(int port) {
    std::string csv;
    tests::poll_until(
        [&] {
          csv = stats_csv();
          return csv.find("app,s" + std::to_string(port) + ",") != std::string::npos;
        },
        tests::deadline_in(tests::DEFAULT_TIMEOUT));
    return csv;
  }

  std::string dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  HaproxyOptions options;
  caf::actor actor;
  tests::HeldPorts ports;
  int frontend_port = 0;
  int stats_port = 0;
};

TEST_F(HaproxyFixture, FirstApplyStartsHaproxyAndTheStatsPageListsTheServers) {
  TinyBackend backend("one");
  start(options);
  ApplyResult r = apply(make_config({backend.port()}));
  ASSERT_TRUE(r.valid) << r.error;
  EXPECT_TRUE(r.changed);
  EXPECT_TRUE(r.reloaded) << r.error;
  EXPECT_EQ(r.generation, 1u);
  const int master = master_pid();
  ASSERT_GT(master, 0);
  EXPECT_EQ(haproxy_worker_pids(master).size(), 1u);
  EXPECT_NE(stats_csv().find("app,s" + std::to_string(backend.port()) + ","), std::string::npos) << stats_csv();
  EXPECT_EQ(http_get(frontend_port, "/"), std::make_pair(200, std::string("one")));
}

TEST_F(HaproxyFixture, AChangedConfigReloadsAndTheStatsShowTheNewServers) {
  TinyBackend one("one");
  TinyBackend two("two");
  start(options);
  ASSERT_TRUE(apply(make_config({one.port()})).reloaded);
  const int master = master_pid();
  const std::vector<int> workers = haproxy_worker_pids(master);
  ApplyResult r = apply(make_config({two.port()}));
  ASSERT_TRUE(r.reloaded) << r.error;
  EXPECT_EQ(r.generation, 2u);
  EXPECT_EQ(master_pid(), master);  // the same master, a new worker
  std::vector<int> now = haproxy_worker_pids(master);
  ASSERT_FALSE(now.empty());
  EXPECT_NE(now.back(), workers.back());
  const std::string csv = stats_csv_listing(two.port());
  EXPECT_NE(csv.find("app,s" + std::to_string(two.port()) + ","), std::string::npos) << csv;
  EXPECT_EQ(csv.find("app,s" + std::to_string(one.port()) + ","), std::string::npos) << csv;
  // The reload answers once the new worker runs; the old one, soft-stopping,
  // may take a last connection in the moment before it closes its listener.
  EXPECT_TRUE(tests::poll_until([&] { return http_get(frontend_port, "/").second == "two"; },
                                tests::deadline_in(tests::DEFAULT_TIMEOUT)));
  // The previous text is archived beside the config, the maps written beside it.
  HaproxyConfig with_maps = make_config({two.port()});
  with_maps.domain2backend_map = "a.test app\n";
  with_maps.app2backend_map = "/app app\n";
  ASSERT_TRUE(apply(with_maps).valid);
  std::ifstream domains(dir + "/domain2backend.map");
  std::string line;
  std::getline(domains, line);
  EXPECT_EQ(line, "a.test app");
  std::ifstream archived(options.config_path + ".1");
  std::string text((std::istreambuf_iterator<char>(archived)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, make_config({two.port()}).config);
  std::ifstream older(options.config_path + ".2");
  text.assign((std::istreambuf_iterator<char>(older)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, make_config({one.port()}).config);
}

// Before a reload the servers' state is saved to <run_dir>/server-state, so
// a server put into maintenance stays there in the new worker.
TEST_F(HaproxyFixture, AServerInMaintenanceStaysSoAcrossAReload) {
  TinyBackend one("one");
  TinyBackend two("two");
  start(options);
  ASSERT_TRUE(apply(make_config({one.port(), two.port()}, "", true)).reloaded);
  const std::string server = "app/s" + std::to_string(one.port());
  std::optional<std::string> set = haproxy_detail::cli_command(
      haproxy_detail::stats_socket_path(options), "set server " + server + " state maint", std::chrono::seconds(2));
  ASSERT_TRUE(set.has_value());
  const auto in_maint = [&] {
    std::istringstream lines(stats_csv());
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind("app,s" + std::to_string(one.port()) + ",", 0) == 0) {
        return line.find(",MAINT,") != std::string::npos;
      }
    }
    return false;
  };
  ASSERT_TRUE(in_maint()) << stats_csv();
  ApplyResult r = apply(make_config({one.port(), two.port()}, "  # changed\n", true));
  ASSERT_TRUE(r.reloaded) << r.error;
  EXPECT_TRUE(in_maint()) << stats_csv();
}

// A master an earlier (SIGKILLed) run left behind is stopped at the first
// start, so it does not serve its old configuration beside ours.
TEST_F(HaproxyFixture, AMasterLeftBehindByAnEarlierRunIsStopped) {
  TinyBackend one("one");
  TinyBackend two("two");
  const HaproxyConfig old_config = make_config({one.port()});
  std::filesystem::create_directories(options.run_dir);
  std::ofstream(options.config_path) << old_config.config;
  LaunchSpec spec;
  spec.argv = {options.binary, "-W", "-f", options.config_path, "-p", options.run_dir + "/haproxy.pid", "-S",
               options.run_dir + "/master.sock"};
  spec.stdout_path = dir + "/stale.log";
  spec.stderr_path = spec.stdout_path;
  Try<pid_t> stale = launch(spec);
  ASSERT_FALSE(stale.is_error()) << stale.error();
  ASSERT_TRUE(tests::poll_until([&] { return http_get(frontend_port, "/").second == "one"; },
                                tests::deadline_in(tests::DEFAULT_TIMEOUT)));
  start(options);
  ApplyResult r = apply(make_config({two.port()}));
  ASSERT_TRUE(r.reloaded) << r.error;
  EXPECT_NE(master_pid(), stale.get());
  int status = 0;
  EXPECT_TRUE(tests::poll_until([&] { return ::waitpid(stale.get(), &status, WNOHANG) == stale.get(); },
                                tests::deadline_in(tests::DEFAULT_TIMEOUT)))
      << "the stale master still runs";
  if (!process_running(stale.get())) {
    // Every answer now comes from our HAProxy.
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(http_get(frontend_port, "/").second, "two");
    }
  } else {
    ::kill(stale.get(), SIGKILL);
    ::waitpid(stale.get(), &status, 0);
  }
}

TEST_F(HaproxyFixture, TheSameTextDoesNotReload) {
  TinyBackend one("one");
  start(options);
  ASSERT_TRUE(apply(make_config({one.port()})).reloaded);
  const std::vector<int> workers = haproxy_worker_pids(master_pid());
  ApplyResult r = apply(make_config({one.port()}));
  EXPECT_TRUE(r.valid);
  EXPECT_FALSE(r.changed);
  EXPECT_FALSE(r.reloaded);
  EXPECT_EQ(r.generation, 1u);
  EXPECT_EQ(haproxy_worker_pids(master_pid()), workers);
}

// SIGUSR1 (marathon-lb): the same text, re-validated and reloaded.
TEST_F(HaproxyFixture, AForcedReloadOfTheSameTextValidatesAndStartsANewWorker) {
  TinyBackend one("one");
  start(options);
  const HaproxyConfig config = make_config({one.port()});
  ASSERT_TRUE(apply(config).reloaded);
  const int master = master_pid();
  const std::vector<int> workers = haproxy_worker_pids(master);
  auto forced = [&] {
    ApplyResult result;
    result.error = "no reply";
    caf::scoped_actor self{*sys};
    self->request(actor, HAPROXY_TEST_REPLY, lb_reload_atom{}, config)
        .receive([&](const ApplyResult& r) { result = r; }, [&](const caf::error& e) { result.error = caf::to_string(e); });
    return result;
  };
  ApplyResult r = forced();
  EXPECT_TRUE(r.valid) << r.error;
  EXPECT_FALSE(r.changed);
  EXPECT_TRUE(r.reloaded) << r.error;
  EXPECT_EQ(r.generation, 2u);
  std::vector<int> now = haproxy_worker_pids(master);
  ASSERT_FALSE(now.empty());
  EXPECT_NE(now.back(), workers.back());
  EXPECT_EQ(http_get(frontend_port, "/").second, "one");
  // The file on disk no longer validates (edited by hand): no reload, why.
  {
    std::ofstream out(options.config_path, std::ios::app);
    out << "  no_such_directive 42\n";
  }
  r = forced();
  EXPECT_FALSE(r.valid);
  EXPECT_FALSE(r.reloaded);
  EXPECT_EQ(r.generation, 2u);
  EXPECT_NE(r.error.find("no_such_directive"), std::string::npos) << r.error;
  ASSERT_FALSE(haproxy_worker_pids(master).empty());
  EXPECT_EQ(haproxy_worker_pids(master).back(), now.back()) << "no new worker";
  // A plain apply of the same text still does nothing.
  r = apply(config);
  EXPECT_FALSE(r.changed);
  EXPECT_FALSE(r.reloaded);
}

// A text that arrives while the previous one is being validated makes that
// one's reload needless: one reload, with the newest text, answers both.
TEST_F(HaproxyFixture, ATextArrivingDuringValidationSupersedesTheReload) {
  TinyBackend one("one");
  TinyBackend two("two");
  TinyBackend three("three");
  start(options);
  ASSERT_TRUE(apply(make_config({one.port()})).reloaded);
  caf::scoped_actor self{*sys};
  auto second = self->request(actor, HAPROXY_TEST_REPLY, lb_apply_atom{}, make_config({two.port()}));
  auto third = self->request(actor, HAPROXY_TEST_REPLY, lb_apply_atom{}, make_config({three.port()}));
  std::vector<ApplyResult> replies;
  for (auto* handle : {&second, &third}) {
    handle->receive([&](const ApplyResult& r) { replies.push_back(r); },
                    [&](const caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  }
  ASSERT_EQ(replies.size(), 2u);
  for (const ApplyResult& r : replies) {
    EXPECT_TRUE(r.valid) << r.error;
    EXPECT_TRUE(r.reloaded) << r.error;
    EXPECT_EQ(r.generation, 2u) << "one reload for both";
  }
  EXPECT_EQ(status()["superseded"].get<double>(), 1);
  // (The old worker may take a last connection before it closes its listener.)
  EXPECT_TRUE(tests::poll_until([&] { return http_get(frontend_port, "/").second == "three"; },
                                tests::deadline_in(tests::DEFAULT_TIMEOUT)));
  std::ifstream archived(options.config_path + ".1");
  std::string text((std::istreambuf_iterator<char>(archived)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, make_config({two.port()}).config) << "the superseded text was installed (archived)";
}

TEST_F(HaproxyFixture, AnInvalidConfigKeepsTheOldOneAndQuotesHaproxy) {
  TinyBackend one("one");
  start(options);
  const HaproxyConfig good = make_config({one.port()});
  ASSERT_TRUE(apply(good).reloaded);
  ApplyResult r = apply(make_config({one.port()}, "  no_such_directive 42\n"));
  EXPECT_TRUE(r.changed);
  EXPECT_FALSE(r.valid);
  EXPECT_FALSE(r.reloaded);
  EXPECT_EQ(r.generation, 1u);
  EXPECT_NE(r.error.find("no_such_directive"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("ALERT"), std::string::npos) << r.error;
  std::ifstream in(options.config_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, good.config);
  EXPECT_EQ(http_get(frontend_port, "/").second, "one");
  EXPECT_NE(status()["last_error"].to_str().find("no_such_directive"), std::string::npos);
  // lb_validate runs haproxy -c only.
  caf::scoped_actor self{*sys};
  self->request(actor, HAPROXY_TEST_REPLY, lb_validate_atom{}, std::string("global\n  bogus_keyword\n"))
      .receive([&](const ApplyResult& v) { EXPECT_FALSE(v.valid); EXPECT_NE(v.error.find("bogus_keyword"), std::string::npos); },
               [&](const caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
}

TEST_F(HaproxyFixture, ABurstWithinTheMinimumIntervalIsMergedAndTheLastWins) {
  std::vector<std::unique_ptr<TinyBackend>> backends;
  for (int i = 0; i < 6; ++i) {
    backends.push_back(std::make_unique<TinyBackend>("b" + std::to_string(i)));
  }
  // The interval counts from the start of the first reload, so the burst
  // must come before it has passed: 1.5 s was too short under the sanitizers
  // (CI: validating and reloading the first config took longer, and the burst
  // made two reloads).
  options.min_reload_interval = std::chrono::milliseconds(4000);
  start(options);
  const auto first_started = std::chrono::steady_clock::now();
  ASSERT_TRUE(apply(make_config({backends[0]->port()})).reloaded);
  const auto burst_after = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - first_started);
  caf::scoped_actor self{*sys};
  std::vector<decltype(self->request(actor, HAPROXY_TEST_REPLY, lb_apply_atom{}, HaproxyConfig{}))> pending;
  for (int i = 1; i < 6; ++i) {
    pending.push_back(self->request(actor, HAPROXY_TEST_REPLY, lb_apply_atom{}, make_config({backends[i]->port()})));
  }
  std::vector<ApplyResult> replies;
  for (auto& handle : pending) {
    handle.receive([&](const ApplyResult& r) { replies.push_back(r); },
                   [&](const caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  }
  ASSERT_EQ(replies.size(), 5u);
  uint64_t last_generation = 0;
  for (const ApplyResult& r : replies) {
    EXPECT_TRUE(r.valid) << r.error;
    EXPECT_TRUE(r.reloaded) << r.error;
    last_generation = std::max(last_generation, r.generation);
  }
  // The four later ones merged into one reload.
  EXPECT_EQ(last_generation, 2u) << "the burst came " << burst_after.count() << " ms after the first reload began";
  const std::string csv = stats_csv_listing(backends[5]->port());
  EXPECT_NE(csv.find("app,s" + std::to_string(backends[5]->port()) + ","), std::string::npos) << csv;
  EXPECT_EQ(csv.find("app,s" + std::to_string(backends[4]->port()) + ","), std::string::npos) << csv;
}

TEST_F(HaproxyFixture, AKilledMasterIsRestartedFromTheLastConfig) {
  TinyBackend one("one");
  TinyBackend two("two");
  start(options);
  ASSERT_TRUE(apply(make_config({one.port()})).reloaded);
  ASSERT_TRUE(apply(make_config({two.port()})).reloaded);
  const int master = master_pid();
  ASSERT_EQ(::kill(master, SIGKILL), 0);
  ASSERT_TRUE(tests::poll_until(
      [&] {
        picojson::object s = status();
        return s.count("restarts") && s["restarts"].get<double>() == 1 && master_pid() != 0;
      },
      tests::deadline_in(tests::DEFAULT_TIMEOUT)))
      << json_serialize(picojson::value(status()));
  EXPECT_NE(master_pid(), master);
  EXPECT_TRUE(tests::poll_until([&] { return http_get(frontend_port, "/").second == "two"; },
                                tests::deadline_in(tests::DEFAULT_TIMEOUT)));
  const std::string csv = stats_csv_listing(two.port());
  EXPECT_NE(csv.find("app,s" + std::to_string(two.port()) + ","), std::string::npos) << csv;
}

TEST_F(HaproxyFixture, ActorExitStopsAndReapsHaproxy) {
  TinyBackend one("one");
  start(options);
  ASSERT_TRUE(apply(make_config({one.port()})).reloaded);
  const int master = master_pid();
  const std::vector<int> workers = haproxy_worker_pids(master);
  ASSERT_FALSE(workers.empty());
  stop_actor(*sys, actor);
  actor = caf::actor{};
  const auto gone = [](int pid) { return ::access(("/proc/" + std::to_string(pid)).c_str(), F_OK) != 0; };
  // Gone from /proc entirely: neither running nor a zombie.
  EXPECT_TRUE(tests::poll_until([&] { return gone(master); }, tests::deadline_in(HAPROXY_TEST_STOP)));
  for (int worker : workers) {
    EXPECT_TRUE(tests::poll_until([&] { return gone(worker); }, tests::deadline_in(HAPROXY_TEST_STOP)));
  }
}

// The proof of seamless reloads: clients on fresh connections through the
// frontend see no refused or reset connection across 20 reloads.
TEST_F(HaproxyFixture, TwentyReloadsUnderLoadFailNoRequest) {
  TinyBackend one("one");
  TinyBackend two("two");
  start(options);
  ASSERT_TRUE(apply(make_config({one.port()})).reloaded);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      while (!stop) {
        std::pair<int, std::string> r = http_get(frontend_port, "/");
        (r.first == 200 ? ok : failed)++;
      }
    });
  }
  const uint64_t first = 1;
  uint64_t generation = first;
  for (int i = 0; i < 20; ++i) {
    // Each reload lands under load: wait until the clients have made 20 more
    // requests since the last one.
    const int before = ok.load() + failed.load();
    ASSERT_TRUE(tests::poll_until([&] { return ok.load() + failed.load() >= before + 20; },
                                  tests::deadline_in(tests::DEFAULT_TIMEOUT)));
    ApplyResult r = apply(make_config(i % 2 == 0 ? std::vector<int>{one.port(), two.port()}
                                                 : std::vector<int>{two.port()},
                                      "  # reload " + std::to_string(i) + "\n"));
    EXPECT_TRUE(r.reloaded) << r.error;
    generation = r.generation;
  }
  stop = true;
  for (std::thread& t : clients) {
    t.join();
  }
  EXPECT_EQ(generation, first + 20);
  EXPECT_GT(ok.load(), 100);
  EXPECT_EQ(failed.load(), 0) << "of " << ok.load() + failed.load() << " requests";
}

TEST_F(HaproxyFixture, CommandModeRunsTheCommandAndWaitsForANewHaproxy) {
  TinyBackend one("one");
  TinyBackend two("two");
  // An HAProxy run by someone else (daemonised, as a distribution's service).
  const std::string pidfile = dir + "/external.pid";
  std::filesystem::create_directories(options.run_dir);
  options.command = std::string(HAPROXY_TEST_BINARY) + " -D -f " + options.config_path + " -p " + pidfile +
                    " $( [ -s " + pidfile + " ] && echo -sf $(cat " + pidfile + ") )";
  start(options);
  ApplyResult r = apply(make_config({one.port()}));
  ASSERT_TRUE(r.reloaded) << r.error;
  EXPECT_EQ(http_get(frontend_port, "/").second, "one");
  r = apply(make_config({two.port()}));
  ASSERT_TRUE(r.reloaded) << r.error;
  EXPECT_EQ(r.generation, 2u);
  EXPECT_TRUE(tests::poll_until([&] { return http_get(frontend_port, "/").second == "two"; },
                                tests::deadline_in(tests::DEFAULT_TIMEOUT)));
  EXPECT_EQ(master_pid(), 0);  // nothing supervised
  std::ifstream in(pidfile);
  int pid = 0;
  while (in >> pid) {
    ::kill(pid, SIGTERM);
  }
  EXPECT_TRUE(tests::poll_until([&] { return !process_running(pid); }, tests::deadline_in(tests::DEFAULT_TIMEOUT)));
}

}  // namespace
}  // namespace stoa::lb
