// The health checker: its policy as a pure state machine, the checker actor
// on CAF's test_coordinator (virtual time: delays, intervals and timeouts
// pass in microseconds, cookbook §6) with scripted probes, the real
// probes against real processes and sockets on loopback, and the
// HealthCheckTarget hook: a command runner in place of the launcher, and
// HTTP/TCP probes inside a network namespace the test makes (as root).

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

#include <deque>
#include <filesystem>
#include <fstream>
#include <future>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "framework/health_checker.hpp"
#include "tests/poll.hpp"

namespace stoa {
namespace {

using namespace std::chrono_literals;
using time_point = HealthPolicy::time_point;

HealthCheck check_with(double grace, uint32_t failures) {
  HealthCheck c;
  c.set_type(HealthCheck::TCP);
  c.mutable_tcp()->set_port(1);
  c.set_grace_period_seconds(grace);
  c.set_consecutive_failures(failures);
  return c;
}

// ---------------------------------------------------------------------------
// HealthPolicy.

TEST(HealthPolicy, FailuresInsideTheGracePeriodAreIgnoredUntilTheFirstSuccess) {
  time_point t0{};
  HealthPolicy p(check_with(10, 3), t0);
  EXPECT_FALSE(p.on_failure(t0 + 1s, "down"));
  EXPECT_FALSE(p.on_failure(t0 + 10s, "down"));  // the grace period's last instant
  EXPECT_EQ(p.consecutive_failures(), 0u);
  std::optional<HealthVerdict> v = p.on_failure(t0 + 11s, "down");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->healthy);
  EXPECT_FALSE(v->kill);
  EXPECT_EQ(v->consecutive_failures, 1u);
  EXPECT_EQ(v->message, "Health check failed 1 time consecutively: down");
}

TEST(HealthPolicy, AfterTheFirstSuccessTheGracePeriodNoLongerApplies) {
  time_point t0{};
  HealthPolicy p(check_with(60, 3), t0);
  std::optional<HealthVerdict> first = p.on_success();
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->healthy);
  EXPECT_FALSE(p.on_success()) << "a success that changes nothing is silent";
  std::optional<HealthVerdict> v = p.on_failure(t0 + 2s, "refused");
  ASSERT_TRUE(v) << "counted although inside the grace period";
  EXPECT_EQ(v->consecutive_failures, 1u);
}

TEST(HealthPolicy, EveryCountedFailureIsReportedAndTheLastOneKills) {
  time_point t0{};
  HealthPolicy p(check_with(0, 3), t0);
  for (uint32_t i = 1; i <= 3; ++i) {
    std::optional<HealthVerdict> v = p.on_failure(t0 + i * 1s, "status 500");
    ASSERT_TRUE(v) << "failure " << i;
    EXPECT_FALSE(v->healthy);
    EXPECT_EQ(v->consecutive_failures, i);
    EXPECT_EQ(v->kill, i == 3) << "failure " << i;
  }
  EXPECT_EQ(p.consecutive_failures(), 3u);
}

TEST(HealthPolicy, ASuccessEndsARunOfFailuresAndResetsTheCount) {
  time_point t0{};
  HealthPolicy p(check_with(0, 2), t0);
  ASSERT_TRUE(p.on_success());
  ASSERT_TRUE(p.on_failure(t0 + 1s, "x"));
  std::optional<HealthVerdict> back = p.on_success();
  ASSERT_TRUE(back) << "healthy again is a change";
  EXPECT_TRUE(back->healthy);
  EXPECT_EQ(p.consecutive_failures(), 0u);
  std::optional<HealthVerdict> v = p.on_failure(t0 + 2s, "x");
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->kill) << "the count started again from 0";
  EXPECT_TRUE(p.on_failure(t0 + 3s, "x")->kill);
}

// ---------------------------------------------------------------------------
// The checker actor in virtual time.

struct Verdicts {
  std::vector<HealthVerdict> got;
};

class HealthCheckerActor : public ::testing::Test {
 protected:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    add_message_types(cfg);
    cfg.set("scheduler.policy", caf::atom("testing"));
    cfg.set("logger.inline-output", true);
    return cfg;
  }
  HealthCheckerActor() : sys_(configure(cfg_)), sched_(dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler())) {
    auto verdicts = verdicts_;
    notify_ = sys_.spawn([verdicts](caf::event_based_actor*) -> caf::behavior {
      return {
          [verdicts](health_status_atom, bool healthy, bool kill, uint32_t failures, const std::string& message) {
            verdicts->got.push_back(HealthVerdict{healthy, kill, failures, message});
          },
      };
    });
  }
  ~HealthCheckerActor() override {
    if (checker_) {
      caf::anon_send_exit(checker_, caf::exit_reason::user_shutdown);
    }
    caf::anon_send_exit(notify_, caf::exit_reason::user_shutdown);
    sched_.run();
  }

  // Probes answer from `script_` in order ('+' healthy, '-' failing, '.'
  // never answers); each one asked is counted.
  HealthProbeSpawner scripted() {
    return [this](caf::actor_system& sys, std::shared_ptr<std::atomic<bool>>) {
      char next = '.';
      if (!script_.empty()) {
        next = script_.front();
        script_.pop_front();
      }
      ++probes_;
      auto kept = promises_;
      return sys.spawn([next, kept](caf::event_based_actor* self) -> caf::behavior {
        return {
            [self, next, kept](health_probe_atom) -> caf::result<bool, std::string> {
              if (next == '.') {
                kept->push_back(self->make_response_promise());
                return caf::delegated<bool, std::string>();
              }
              self->quit();
              return {next == '+', next == '+' ? "" : "scripted failure"};
            },
        };
      });
    };
  }

  void start(HealthCheck check, const std::string& script) {
    script_.assign(script.begin(), script.end());
    checker_ = spawn_health_checker(sys_, std::move(check), "/nonexistent", notify_, scripted());
    sched_.run();
  }

  void advance(caf::timespan total, caf::timespan step = 100ms) {
    for (caf::timespan t{0}; t < total; t += step) {
      sched_.advance_time(std::min(step, total - t));
      sched_.run();
    }
  }

  bool checker_alive() {
    bool alive = false;
    // The checker's exit reason is set once it has terminated.
    alive = !caf::actor_cast<caf::abstract_actor*>(checker_)->getf(caf::abstract_actor::is_terminated_flag);
    return alive;
  }

  HealthCheck check(double delay, double interval, double timeout, double grace, uint32_t failures) {
    HealthCheck c = check_with(grace, failures);
    c.set_delay_seconds(delay);
    c.set_interval_seconds(interval);
    c.set_timeout_seconds(timeout);
    return c;
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_;
  caf::scheduler::test_coordinator& sched_;
  std::shared_ptr<Verdicts> verdicts_ = std::make_shared<Verdicts>();
  std::shared_ptr<std::vector<caf::response_promise>> promises_ =
      std::make_shared<std::vector<caf::response_promise>>();
  std::deque<char> script_;
  int probes_ = 0;
  caf::actor notify_;
  caf::actor checker_;
};

TEST_F(HealthCheckerActor, WaitsTheDelayThenChecksEveryIntervalAfterThePreviousCheck) {
  start(check(15, 10, 20, 0, 3), "++++");
  advance(14900ms);
  EXPECT_EQ(probes_, 0) << "no check before delay_seconds";
  advance(200ms);
  EXPECT_EQ(probes_, 1);
  ASSERT_EQ(verdicts_->got.size(), 1u);
  EXPECT_TRUE(verdicts_->got[0].healthy);
  advance(9800ms);
  EXPECT_EQ(probes_, 1);
  advance(200ms);
  EXPECT_EQ(probes_, 2);
  advance(20s);
  EXPECT_EQ(probes_, 4);
  EXPECT_EQ(verdicts_->got.size(), 1u) << "successes that change nothing are not reported";
}

TEST_F(HealthCheckerActor, ConsecutiveFailuresKillAndTheCheckerExits) {
  start(check(0, 1, 5, 0, 3), "+---+");
  advance(3500ms);
  ASSERT_EQ(verdicts_->got.size(), 4u);
  EXPECT_TRUE(verdicts_->got[0].healthy);
  for (size_t i = 1; i <= 3; ++i) {
    EXPECT_FALSE(verdicts_->got[i].healthy);
    EXPECT_EQ(verdicts_->got[i].consecutive_failures, i);
    EXPECT_EQ(verdicts_->got[i].kill, i == 3);
  }
  EXPECT_EQ(verdicts_->got[3].message, "Health check failed 3 times consecutively: scripted failure");
  advance(5s);
  EXPECT_EQ(probes_, 4) << "no check after the kill verdict";
  EXPECT_FALSE(checker_alive());
}

TEST_F(HealthCheckerActor, FailuresInsideTheGracePeriodAreIgnoredThenCounted) {
  // Checks at 0, 1, ..., 9 s fail inside a 9.5 s grace period; 10 s and 11 s
  // fail outside it.
  start(check(0, 1, 5, 9.5, 2), "------------");
  advance(9600ms);
  EXPECT_EQ(probes_, 10);
  EXPECT_TRUE(verdicts_->got.empty()) << "failures inside the grace period are ignored";
  advance(1s);
  ASSERT_EQ(verdicts_->got.size(), 1u);
  EXPECT_EQ(verdicts_->got[0].consecutive_failures, 1u);
  advance(1s);
  ASSERT_EQ(verdicts_->got.size(), 2u);
  EXPECT_TRUE(verdicts_->got[1].kill);
}

TEST_F(HealthCheckerActor, AProbeThatNeverAnswersFailsAfterTheTimeout) {
  start(check(0, 1, 2, 0, 1), ".");
  advance(2900ms);
  EXPECT_TRUE(verdicts_->got.empty()) << "the checker waits timeout_seconds + 1 s";
  advance(200ms);
  ASSERT_EQ(verdicts_->got.size(), 1u);
  EXPECT_FALSE(verdicts_->got[0].healthy);
  EXPECT_TRUE(verdicts_->got[0].kill);
  EXPECT_EQ(verdicts_->got[0].message, "Health check failed 1 time consecutively: Health check timed out after 2s");
}

TEST_F(HealthCheckerActor, ExitsWithTheActorItReportsTo) {
  start(check(0, 1, 2, 0, 3), "++++");
  advance(1500ms);
  EXPECT_TRUE(checker_alive());
  caf::anon_send_exit(notify_, caf::exit_reason::user_shutdown);
  sched_.run();
  EXPECT_FALSE(checker_alive());
}

// ---------------------------------------------------------------------------
// Real probes.

class TempDirectory {
 public:
  TempDirectory() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "stoa-health-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDirectory() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

CommandInfo shell(const std::string& text) {
  CommandInfo c;
  c.set_shell(true);
  c.set_value(text);
  return c;
}

TEST(HealthProbes, CommandRunsInTheSandboxWithItsEnvironment) {
  TempDirectory dir;
  CommandInfo c = shell("test -f marker && test \"$CHECK_VAR\" = yes && test \"$MESOS_SANDBOX\" = \"$(pwd)\"");
  auto* v = c.mutable_environment()->add_variables();
  v->set_name("CHECK_VAR");
  v->set_value("yes");
  std::optional<std::string> missing = probe_command(c, dir.path(), 10s);
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("exited with status 1"), std::string::npos) << *missing;
  std::ofstream(dir.path() + "/marker") << "x";
  EXPECT_EQ(probe_command(c, dir.path(), 10s), std::nullopt);
}

TEST(HealthProbes, CommandWithArgvIsLookedUpInPath) {
  TempDirectory dir;
  CommandInfo c;
  c.set_shell(false);
  c.set_value("test");
  c.add_arguments("test");
  c.add_arguments("-d");
  c.add_arguments(dir.path());
  EXPECT_EQ(probe_command(c, dir.path(), 10s), std::nullopt);
  c.set_value("no-such-program-for-health");
  std::optional<std::string> why = probe_command(c, dir.path(), 10s);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("'no-such-program-for-health' not found"), std::string::npos) << *why;
}

TEST(HealthProbes, ACommandPastItsTimeoutHasItsWholeProcessGroupKilled) {
  TempDirectory dir;
  // A background grandchild writes its pid; both must be gone afterwards.
  CommandInfo c = shell("sleep 60 & echo $! > child.pid; sleep 60");
  auto started = std::chrono::steady_clock::now();
  std::optional<std::string> why = probe_command(c, dir.path(), 500ms);
  auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("timed out after 0.5s"), std::string::npos) << *why;
  EXPECT_LT(took, 10s);
  std::ifstream in(dir.path() + "/child.pid");
  pid_t grandchild = 0;
  ASSERT_TRUE(in >> grandchild);
  // The grandchild is orphaned and reaped by init: poll with a deadline.
  bool gone = tests::poll_until(
      [&] {
        std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
        std::string pid, comm, state;
        return !(stat >> pid >> comm >> state) || state == "Z";
      },
      tests::deadline_in(10s));
  EXPECT_TRUE(gone) << "grandchild " << grandchild << " survived";
}

TEST(HealthProbes, CancellingStopsACommandEarly) {
  TempDirectory dir;
  std::atomic<bool> cancel{true};
  std::optional<std::string> why = probe_command(shell("sleep 60"), dir.path(), 60s, &cancel);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("cancelled"), std::string::npos) << *why;
}

// A listening socket on an OS-picked loopback port.
struct Listener {
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(fd, 8);
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~Listener() { close(); }
  void close() {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  }
  int fd = -1;
  uint16_t port = 0;
};

TEST(HealthProbes, TcpIsHealthyWhileSomethingListens) {
  Listener l;
  EXPECT_EQ(probe_tcp(l.port, 5s), std::nullopt);
  uint16_t port = l.port;
  l.close();
  std::optional<std::string> why = probe_tcp(port, 5s);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos) << *why;
}

// Serves one connection with `response` and returns the request it read.
std::string serve_once(Listener& l, const std::string& response) {
  int c = ::accept(l.fd, nullptr, nullptr);
  std::string request;
  char buf[1024];
  while (request.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(c, buf, sizeof(buf), 0);
    if (n <= 0) {
      break;
    }
    request.append(buf, static_cast<size_t>(n));
  }
  ::send(c, response.data(), response.size(), MSG_NOSIGNAL);
  ::close(c);
  return request;
}

TEST(HealthProbes, HttpAcceptsTheExpectedStatuses) {
  Listener l;
  HealthCheck::HTTPCheckInfo http;
  http.set_port(l.port);
  http.set_path("/health");
  auto probe = std::async(std::launch::async, [&] { return probe_http(http, 10s); });
  std::string request = serve_once(l, "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(probe.get(), std::nullopt) << "3xx is healthy when statuses is empty";
  EXPECT_EQ(request.rfind("GET /health HTTP/1.1\r\n", 0), 0u) << request;

  probe = std::async(std::launch::async, [&] { return probe_http(http, 10s); });
  serve_once(l, "HTTP/1.1 500 Internal Server Error\r\n\r\n");
  std::optional<std::string> why = probe.get();
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("returned status 500 (expected 200..399)"), std::string::npos) << *why;

  http.add_statuses(500);
  probe = std::async(std::launch::async, [&] { return probe_http(http, 10s); });
  serve_once(l, "HTTP/1.1 500 Internal Server Error\r\n\r\n");
  EXPECT_EQ(probe.get(), std::nullopt) << "500 was asked for";
}

TEST(HealthProbes, HttpTimesOutOnASilentServerAndRefusesHttps) {
  Listener l;  // accepts (backlog) but never answers
  HealthCheck::HTTPCheckInfo http;
  http.set_port(l.port);
  std::optional<std::string> why = probe_http(http, 300ms);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("no response within 0.3s"), std::string::npos) << *why;
  http.set_scheme("https");
  why = probe_http(http, 300ms);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("scheme 'https' is not supported"), std::string::npos) << *why;
}

// ---------------------------------------------------------------------------
// HealthCheckTarget: where a check runs.

HealthCheck command_check(const std::string& text, double timeout) {
  HealthCheck c;
  c.set_type(HealthCheck::COMMAND);
  *c.mutable_command() = shell(text);
  c.set_timeout_seconds(timeout);
  return c;
}

TEST(HealthCheckTarget, ACommandRunnerIsCalledInsteadOfTheLauncher) {
  TempDirectory dir;
  std::vector<std::string> asked;
  std::chrono::nanoseconds asked_timeout{0};
  HealthCheckTarget target;
  target.run_command = [&](const CommandInfo& c, std::chrono::nanoseconds timeout,
                           const std::atomic<bool>*) -> std::optional<std::string> {
    asked.push_back(c.value());
    asked_timeout = timeout;
    return asked.size() == 1 ? std::optional<std::string>("exec in container failed") : std::nullopt;
  };
  HealthCheck check = command_check("touch ran", 7);
  EXPECT_EQ(run_health_check(check, dir.path(), nullptr, target), "exec in container failed");
  EXPECT_EQ(run_health_check(check, dir.path(), nullptr, target), std::nullopt);
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[0], "touch ran");
  EXPECT_EQ(asked_timeout, 7s);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/ran")) << "the command was launched here";
  // Without a runner, the same check runs here.
  EXPECT_EQ(run_health_check(check, dir.path()), std::nullopt);
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/ran"));
}

TEST(HealthCheckTarget, TheCheckersOwnProbesUseTheTarget) {
  caf::actor_system_config cfg;
  add_message_types(cfg);
  caf::actor_system sys{cfg};
  caf::scoped_actor notify{sys};
  HealthCheckTarget target;
  target.run_command = [](const CommandInfo& c, std::chrono::nanoseconds,
                          const std::atomic<bool>*) -> std::optional<std::string> {
    return "the runner ran '" + c.value() + "'";
  };
  HealthCheck check = command_check("true", 5);
  check.set_delay_seconds(0);
  check.set_grace_period_seconds(0);
  check.set_consecutive_failures(1);
  caf::actor checker = spawn_health_checker(sys, check, "/nonexistent", notify, nullptr, target);
  bool got = false;
  notify->receive(
      [&](health_status_atom, bool healthy, bool kill, uint32_t, const std::string& message) {
        got = true;
        EXPECT_FALSE(healthy);
        EXPECT_TRUE(kill);
        EXPECT_EQ(message, "Health check failed 1 time consecutively: the runner ran 'true'");
      },
      caf::after(std::chrono::seconds(20)) >> [] {});
  EXPECT_TRUE(got) << "no verdict within 20 s";
  caf::anon_send_exit(checker, caf::exit_reason::user_shutdown);
}

// A child process in a network namespace of its own (unshare), with its
// loopback up and a listener on 127.0.0.1:<port> there answering every
// connection with "HTTP/1.1 204 No Content". Killed on destruction.
class NamespacedListener {
 public:
  explicit NamespacedListener(uint16_t port) {
    int ready[2];
    if (::pipe(ready) != 0) {
      error_ = std::string("pipe: ") + std::strerror(errno);
      return;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      serve(port, ready[1]);  // never returns
    }
    ::close(ready[1]);
    char status = 0;
    ssize_t n = ::read(ready[0], &status, 1);
    ::close(ready[0]);
    if (pid_ < 0 || n != 1 || status != 'y') {
      error_ = "the namespaced listener did not start (step " + std::string(1, n == 1 ? status : '?') + ")";
    }
  }
  ~NamespacedListener() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  const std::string& error() const { return error_; }

 private:
  // In the child: only system calls from here on.
  [[noreturn]] static void serve(uint16_t port, int ready) {
    auto fail = [ready](char step) {
      ::write(ready, &step, 1);
      ::_exit(1);
    };
    if (::unshare(CLONE_NEWNET) != 0) {
      fail('u');
    }
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (s < 0 || ::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
      fail('i');
    }
    ifr.ifr_flags |= IFF_UP;
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
      fail('l');
    }
    int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (l < 0 || ::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, 8) != 0) {
      fail('b');
    }
    char ok = 'y';
    ::write(ready, &ok, 1);
    ::close(ready);
    static const char response[] = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
    for (;;) {
      int c = ::accept(l, nullptr, nullptr);
      if (c < 0) {
        continue;
      }
      char buf[1024];
      // Reads the request (or the end of a TCP check's connection).
      ssize_t n = ::recv(c, buf, sizeof(buf), 0);
      if (n > 0) {
        ::send(c, response, sizeof(response) - 1, MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }

  pid_t pid_ = -1;
  std::string error_;
};

TEST(HealthCheckTarget, TcpAndHttpChecksConnectInsideTheNetworkNamespaceOfTheTarget) {
  if (::geteuid() != 0) {
    // Without root, entering another process' namespace is refused: the
    // check fails saying why.
    std::optional<std::string> why = probe_tcp(80, 1s, nullptr, 1);
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("needs root"), std::string::npos) << *why;
    GTEST_SKIP() << "making a network namespace needs root";
  }
  // The port is bound (not listening) here, so that on the host a
  // connection to it is refused for sure.
  int held = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(held, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
  socklen_t len = sizeof(a);
  ::getsockname(held, reinterpret_cast<sockaddr*>(&a), &len);
  const uint16_t port = ntohs(a.sin_port);
  NamespacedListener inside(port);
  ASSERT_EQ(inside.error(), "");

  std::optional<std::string> here = probe_tcp(port, 5s);
  ASSERT_TRUE(here) << "something listens on 127.0.0.1:" << port << " here";
  EXPECT_NE(here->find("Connection refused"), std::string::npos) << *here;
  EXPECT_EQ(probe_tcp(port, 5s, nullptr, inside.pid()), std::nullopt);
  // The probing thread went back to its own namespace.
  EXPECT_TRUE(probe_tcp(port, 5s)) << "the thread stayed in the other network namespace";

  HealthCheck http;
  http.set_type(HealthCheck::HTTP);
  http.mutable_http()->set_port(port);
  http.mutable_http()->set_path("/ready");
  http.set_timeout_seconds(5);
  HealthCheckTarget target;
  target.network_namespace_pid = inside.pid();
  EXPECT_EQ(run_health_check(http, "/nonexistent", nullptr, target), std::nullopt);
  std::optional<std::string> host_http = run_health_check(http, "/nonexistent");
  ASSERT_TRUE(host_http);
  EXPECT_NE(host_http->find("Connection refused"), std::string::npos) << *host_http;
  ::close(held);
}

TEST(HealthCheckTarget, AProbeIntoTheNamespaceOfAGoneProcessFailsSayingWhy) {
  pid_t gone = ::fork();
  if (gone == 0) {
    ::_exit(0);
  }
  ASSERT_GT(gone, 0);
  ::waitpid(gone, nullptr, 0);
  std::optional<std::string> why = probe_tcp(80, 1s, nullptr, gone);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("cannot open /proc/" + std::to_string(gone) + "/ns/net"), std::string::npos) << *why;
  HealthCheck::HTTPCheckInfo http;
  http.set_port(80);
  why = probe_http(http, 1s, nullptr, gone);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("in the network namespace of pid " + std::to_string(gone)), std::string::npos) << *why;
}

// A probe whose thread cannot start (the pids limit of the process's cgroup
// is full, as in a container under a fork bomb) is a failed check, and the
// actor system still shuts down afterwards: a CAF detached actor whose
// thread failed to start kept its destructor waiting for ever. Run in a
// child process moved into a pids cgroup of its own that allows no more
// threads than it has; the parent gives it 30 s. Needs root and the cgroup
// v1 pids controller.
TEST(HealthCheckTarget, AProbeThatCannotStartItsThreadFailsAndTheSystemStillStops) {
  const std::string pids_root = "/sys/fs/cgroup/pids";
  if (::geteuid() != 0 || !std::filesystem::exists(pids_root + "/cgroup.procs")) {
    GTEST_SKIP() << "needs root and the cgroup v1 pids controller at " << pids_root;
  }
  const std::string dir = pids_root + "/stoa_health_probe_test_" + std::to_string(::getpid());
  std::error_code ec;
  std::filesystem::create_directory(dir, ec);
  ASSERT_FALSE(ec) << "mkdir " << dir << ": " << ec.message();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // 0: the verdict named the thread and the system stopped; 2: another verdict; 3: none.
    int code = 3;
    {
      caf::actor_system_config cfg;
      add_message_types(cfg);
      cfg.set("scheduler.max-threads", 1);
      caf::actor_system sys{cfg};
      caf::scoped_actor notify{sys};
      // Every thread of the system exists now; the cgroup takes the whole
      // process and then allows nothing more.
      std::ofstream(dir + "/cgroup.procs") << ::getpid() << std::flush;
      std::string current;
      std::ifstream(dir + "/pids.current") >> current;
      std::ofstream(dir + "/pids.max") << current << std::flush;
      HealthCheckTarget target;
      target.run_command = [](const CommandInfo&, std::chrono::nanoseconds,
                              const std::atomic<bool>*) -> std::optional<std::string> { return std::nullopt; };
      HealthCheck check = command_check("true", 5);
      check.set_delay_seconds(0);
      check.set_grace_period_seconds(0);
      check.set_consecutive_failures(1);
      caf::actor checker = spawn_health_checker(sys, check, "/nonexistent", notify, nullptr, target);
      notify->receive(
          [&](health_status_atom, bool healthy, bool, uint32_t, const std::string& message) {
            code = !healthy && message.find("Could not start the health check") != std::string::npos ? 0 : 2;
            if (code != 0) {
              std::cerr << "verdict: " << (healthy ? "healthy" : "unhealthy") << ": " << message << std::endl;
            }
          },
          caf::after(std::chrono::seconds(20)) >> [] {});
      caf::anon_send_exit(checker, caf::exit_reason::user_shutdown);
    }
    ::_exit(code);
  }
  int status = 0;
  pid_t done = 0;
  bool exited = tests::poll_until(
      [&] {
        done = ::waitpid(child, &status, WNOHANG);
        return done != 0;
      },
      tests::deadline_in(30s));
  if (!exited) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  std::filesystem::remove(dir, ec);
  ASSERT_TRUE(exited) << "the child's actor system did not stop within 30 s of the failed probe";
  ASSERT_TRUE(WIFEXITED(status)) << "wait status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: no verdict within 20 s; 2: a verdict that does not name the thread";
}

}  // namespace
}  // namespace stoa
