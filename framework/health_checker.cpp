#include "framework/health_checker.hpp"
#include "common/strings.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstring>
#include <map>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/launcher.hpp"
#include "framework/executor.hpp"
#include "common/logging.hpp"
#include "common/try.hpp"

extern char** environ;

namespace stoa {

namespace {

using std::chrono::nanoseconds;
using steady = std::chrono::steady_clock;

// The longest a probe waits in one go before it looks at its cancel flag.
constexpr auto CANCEL_SLICE = std::chrono::milliseconds(100);
// How much longer than timeout_seconds the checker waits for a probe's
// answer before it counts the check as timed out itself.
constexpr auto PROBE_ANSWER_SLACK = std::chrono::seconds(1);
// At most this much of an HTTP response is read looking for the status line.
constexpr size_t MAX_STATUS_LINE = 4096;

std::string seconds_text(nanoseconds d) {
  std::ostringstream out;
  out << std::chrono::duration<double>(d).count() << "s";
  return out.str();
}

bool cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

// Waits until `fd` has `events`, `deadline` passes or `cancel` is set.
// 1 = ready, 0 = deadline, -1 = cancelled, -2 = poll error (errno set).
int wait_fd(int fd, short events, steady::time_point deadline, const std::atomic<bool>* cancel) {
  for (;;) {
    if (cancelled(cancel)) {
      return -1;
    }
    auto left = deadline - steady::now();
    if (left <= nanoseconds::zero()) {
      return 0;
    }
    auto slice = std::min<nanoseconds>(left, CANCEL_SLICE);
    int ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count());
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, ms);
    if (r > 0) {
      return 1;
    }
    if (r < 0 && errno != EINTR) {
      return -2;
    }
  }
}

// Waits for child `pid` until `deadline`: its wait status, or nullopt at the
// deadline or on cancel (the child is still running then).
std::optional<int> wait_child(pid_t pid, steady::time_point deadline, const std::atomic<bool>* cancel) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (pidfd >= 0) {
        ::close(pidfd);
      }
      return status;
    }
    if (r < 0 && errno != EINTR) {
      if (pidfd >= 0) {
        ::close(pidfd);
      }
      return -1;  // not ours any more (someone else reaped it)
    }
    if (cancelled(cancel) || steady::now() >= deadline) {
      if (pidfd >= 0) {
        ::close(pidfd);
      }
      return std::nullopt;
    }
    if (pidfd >= 0) {
      wait_fd(pidfd, POLLIN, deadline, cancel);
    } else {
      // No pidfd (old kernel): look again within 10 ms, up to the deadline.
      wait_fd(-1, 0, std::min(deadline, steady::now() + std::chrono::milliseconds(10)), cancel);
    }
  }
}

// " in the network namespace of pid N", or "" for our own.
std::string namespace_text(pid_t network_namespace_pid) {
  return network_namespace_pid == 0 ? ""
                                    : " in the network namespace of pid " + std::to_string(network_namespace_pid);
}

// A non-blocking TCP socket of our network namespace, or (pid not 0) of the
// namespace of `network_namespace_pid`: the calling thread enters it for the
// socket() call only, since a socket stays in the namespace it was made in.
Try<int> tcp_socket(pid_t network_namespace_pid) {
  auto make = [] { return ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); };
  if (network_namespace_pid == 0) {
    int fd = make();
    if (fd < 0) {
      return Error("cannot create a socket: " + errno_text(errno));
    }
    return fd;
  }
  const std::string path = "/proc/" + std::to_string(network_namespace_pid) + "/ns/net";
  int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    return Error("cannot open " + path + " (is the process gone?): " + errno_text(errno));
  }
  int own = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0) {
    int err = errno;
    ::close(target);
    return Error("cannot open /proc/thread-self/ns/net: " + errno_text(err));
  }
  if (::setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    ::close(target);
    ::close(own);
    return Error("cannot enter the network namespace of pid " + std::to_string(network_namespace_pid) + ": " +
                 errno_text(err) +
                 (err == EPERM ? " (entering another network namespace needs root: CAP_SYS_ADMIN)" : ""));
  }
  int fd = make();
  int socket_errno = errno;
  if (::setns(own, CLONE_NEWNET) != 0) {
    // This thread stays in the other namespace; it is a probe's own thread,
    // which ends with the probe.
    LOG_ERROR << "Cannot return to our own network namespace after a health check: " << errno_text(errno);
  }
  ::close(target);
  ::close(own);
  if (fd < 0) {
    return Error("cannot create a socket" + namespace_text(network_namespace_pid) + ": " + errno_text(socket_errno));
  }
  return fd;
}

// A non-blocking TCP socket connected to 127.0.0.1:port (in the network
// namespace of `network_namespace_pid` when not 0), or why not.
Try<int> connect_loopback(uint32_t port, steady::time_point deadline, const std::atomic<bool>* cancel,
                          nanoseconds timeout, pid_t network_namespace_pid) {
  std::string where = "127.0.0.1:" + std::to_string(port) + namespace_text(network_namespace_pid);
  Try<int> made = tcp_socket(network_namespace_pid);
  if (made.is_error()) {
    return made;
  }
  int fd = *made;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  if (r < 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    return Error("cannot connect to " + where + ": " + errno_text(err));
  }
  if (r < 0) {
    int w = wait_fd(fd, POLLOUT, deadline, cancel);
    if (w != 1) {
      ::close(fd);
      return Error(w == 0 ? "connecting to " + where + " timed out after " + seconds_text(timeout)
                          : "connecting to " + where + " was cancelled");
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      return Error("cannot connect to " + where + ": " + errno_text(err));
    }
  }
  return fd;
}

}  // namespace

// ---------------------------------------------------------------------------
// HealthPolicy.

nanoseconds health_seconds(double seconds) {
  if (!std::isfinite(seconds) || seconds <= 0) {
    return nanoseconds::zero();
  }
  return std::chrono::duration_cast<nanoseconds>(std::chrono::duration<double>(seconds));
}

HealthPolicy::HealthPolicy(const HealthCheck& check, time_point start)
    : grace_(health_seconds(check.grace_period_seconds())),
      max_failures_(check.consecutive_failures()),
      start_(start) {}

std::optional<HealthVerdict> HealthPolicy::on_success() {
  bool report = !reported_healthy_ || failures_ > 0;
  succeeded_ = true;
  failures_ = 0;
  if (!report) {
    return std::nullopt;
  }
  reported_healthy_ = true;
  return HealthVerdict{true, false, 0, ""};
}

std::optional<HealthVerdict> HealthPolicy::on_failure(time_point now, const std::string& why) {
  if (!succeeded_ && now - start_ <= grace_) {
    return std::nullopt;  // still starting up
  }
  ++failures_;
  reported_healthy_ = false;
  HealthVerdict v;
  v.healthy = false;
  v.consecutive_failures = failures_;
  v.kill = max_failures_ > 0 && failures_ >= max_failures_;
  v.message = "Health check failed " + std::to_string(failures_) + (failures_ == 1 ? " time" : " times") +
              " consecutively: " + why;
  return v;
}

// ---------------------------------------------------------------------------
// Probes.

std::optional<std::string> probe_command(const CommandInfo& command, const std::string& sandbox,
                                         nanoseconds timeout, const std::atomic<bool>* cancel) {
  LaunchSpec spec;
  spec.argv = command_argv(command);
  // Its own group, so a timeout takes everything it started; output goes
  // where the executor's goes.
  spec.new_session = false;
  spec.new_process_group = true;
  spec.working_dir = sandbox;
  spec.env["MESOS_SANDBOX"] = sandbox;
  spec.env["STOA_SANDBOX"] = sandbox;
  for (const auto& v : command.environment().variables()) {
    spec.env[v.name()] = v.value();
  }
  steady::time_point deadline = steady::now() + timeout;
  Try<pid_t> pid = launch(spec);
  if (pid.is_error()) {
    return "Command health check: " + pid.error();
  }
  std::optional<int> status = wait_child(*pid, deadline, cancel);
  // Whatever the check left behind in its group goes with it.
  signal_process_group(*pid, SIGKILL);
  if (!status) {
    while (::waitpid(*pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (cancelled(cancel)) {
      return "Command health check was cancelled";
    }
    return "Command health check timed out after " + seconds_text(timeout) + " (its process group was killed)";
  }
  if (*status == -1) {
    return "Command health check: its process was reaped by someone else";
  }
  if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
    return std::nullopt;
  }
  return describe_wait_status(*status, "Command health check '" + command.value() + "'");
}

std::optional<std::string> probe_http(const HealthCheck::HTTPCheckInfo& http, nanoseconds timeout,
                                      const std::atomic<bool>* cancel, pid_t network_namespace_pid) {
  if (http.scheme() != "http") {
    return "HTTP health check: scheme '" + http.scheme() + "' is not supported (only 'http')";
  }
  std::string url = "http://127.0.0.1:" + std::to_string(http.port()) + http.path() +
                    namespace_text(network_namespace_pid);
  steady::time_point deadline = steady::now() + timeout;
  Try<int> fd = connect_loopback(http.port(), deadline, cancel, timeout, network_namespace_pid);
  if (fd.is_error()) {
    return "HTTP health check of " + url + ": " + fd.error();
  }
  std::string request = "GET " + http.path() + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(http.port()) +
                        "\r\nUser-Agent: stoa-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  std::string failure;
  while (sent < request.size() && failure.empty()) {
    ssize_t n = ::send(*fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (wait_fd(*fd, POLLOUT, deadline, cancel) != 1) {
        failure = "sending the request timed out after " + seconds_text(timeout);
      }
    } else {
      failure = "sending the request failed: " + errno_text(errno);
    }
  }
  std::string response;
  while (failure.empty() && response.find("\r\n") == std::string::npos && response.size() < MAX_STATUS_LINE) {
    int w = wait_fd(*fd, POLLIN, deadline, cancel);
    if (w != 1) {
      failure = w == 0 ? "no response within " + seconds_text(timeout) : "cancelled";
      break;
    }
    char buf[1024];
    ssize_t n = ::recv(*fd, buf, sizeof(buf), 0);
    if (n > 0) {
      response.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EAGAIN && errno != EINTR) {
      failure = "reading the response failed: " + errno_text(errno);
    }
  }
  ::close(*fd);
  if (!failure.empty()) {
    return "HTTP health check of " + url + ": " + failure;
  }
  // "HTTP/1.1 200 OK"
  std::string line = response.substr(0, response.find("\r\n"));
  int code = 0;
  if (line.rfind("HTTP/", 0) == 0 && line.size() >= 12 && line[8] == ' ') {
    code = std::atoi(line.substr(9, 3).c_str());
  }
  if (code < 100 || code > 599) {
    return "HTTP health check of " + url + ": not an HTTP response: '" + line.substr(0, 80) + "'";
  }
  bool ok = false;
  std::string expected;
  if (http.statuses_size() == 0) {
    ok = code >= 200 && code <= 399;
    expected = "200..399";
  } else {
    for (uint32_t s : http.statuses()) {
      ok = ok || static_cast<int>(s) == code;
      expected += (expected.empty() ? "" : ", ") + std::to_string(s);
    }
  }
  if (ok) {
    return std::nullopt;
  }
  return "HTTP health check of " + url + " returned status " + std::to_string(code) + " (expected " + expected +
         ")";
}

std::optional<std::string> probe_tcp(uint32_t port, nanoseconds timeout, const std::atomic<bool>* cancel,
                                     pid_t network_namespace_pid) {
  Try<int> fd = connect_loopback(port, steady::now() + timeout, cancel, timeout, network_namespace_pid);
  if (fd.is_error()) {
    return "TCP health check: " + fd.error();
  }
  ::close(*fd);
  return std::nullopt;
}

std::optional<std::string> run_health_check(const HealthCheck& check, const std::string& sandbox,
                                            const std::atomic<bool>* cancel, const HealthCheckTarget& target) {
  nanoseconds timeout = health_seconds(check.timeout_seconds());
  switch (check.type()) {
    case HealthCheck::COMMAND:
      if (target.run_command) {
        return target.run_command(check.command(), timeout, cancel);
      }
      return probe_command(check.command(), sandbox, timeout, cancel);
    case HealthCheck::HTTP:
      return probe_http(check.http(), timeout, cancel, target.network_namespace_pid);
    case HealthCheck::TCP:
      return probe_tcp(check.tcp().port(), timeout, cancel, target.network_namespace_pid);
    default:
      return "Unsupported health check type " + std::to_string(static_cast<int>(check.type()));
  }
}

// ---------------------------------------------------------------------------
// The checker actor.

namespace {

// The default probe: one check on a plain thread of its own (a check
// blocks). Not a detached actor: when the container's pids limit leaves no
// room for a thread (a fork bomb), std::thread says so and the check fails,
// as Mesos' check fails to fork there, while CAF cannot shut down after a
// detached actor's thread failed to start. The actor lives as long as its
// thread, so the actor system's shutdown still waits for the thread; an
// exit message (the checker gave up on it) does not end it early: the check
// honours its own timeout and the checker's cancel flag.
caf::behavior health_probe(caf::event_based_actor* self, HealthCheck check, std::string sandbox,
                           HealthCheckTarget target, std::shared_ptr<std::atomic<bool>> cancel) {
  self->set_exit_handler([](caf::exit_msg&) {});
  return {
      [self, check, sandbox, target, cancel](health_probe_atom) -> caf::result<bool, std::string> {
        auto rp = self->make_response_promise<bool, std::string>();
        caf::actor me = caf::actor_cast<caf::actor>(self);
        try {
          std::thread([me, check, sandbox, target, cancel] {
            std::optional<std::string> failure = run_health_check(check, sandbox, cancel.get(), target);
            caf::anon_send(me, health_probe_atom_v, !failure.has_value(), failure.value_or(""));
          }).detach();
        } catch (const std::system_error& e) {
          rp.deliver(false, std::string("Could not start the health check: ") + e.what());
          self->quit();
          return rp;
        }
        self->become([self, rp](health_probe_atom, bool healthy, std::string& why) mutable {
          rp.deliver(healthy, std::move(why));
          self->quit();
        });
        return rp;
      },
  };
}

struct checker_state {
  HealthCheck check;
  caf::actor notify;
  HealthProbeSpawner spawner;
  std::optional<HealthPolicy> policy;
  // Set when the checker exits: a probe in flight gives up within 100 ms.
  std::shared_ptr<std::atomic<bool>> stopping = std::make_shared<std::atomic<bool>>(false);
  static inline const char* name = "health_checker";
};

using checker_actor = caf::stateful_actor<checker_state>;

void on_check_result(checker_actor* self, bool healthy, const std::string& why) {
  checker_state& st = self->state;
  std::optional<HealthVerdict> v = healthy ? st.policy->on_success() : st.policy->on_failure(self->clock().now(), why);
  if (!healthy && !v) {
    LOG_INFO << "Ignoring a failed health check inside the grace period: " << why;
  }
  if (v) {
    if (v->healthy) {
      LOG_INFO << "Health check passed";
    } else {
      LOG_WARNING << v->message;
    }
    self->send(st.notify, health_status_atom_v, v->healthy, v->kill, v->consecutive_failures, v->message);
    if (v->kill) {
      self->quit();
      return;
    }
  }
  self->delayed_send(self, health_seconds(st.check.interval_seconds()), health_tick_atom_v);
}

void on_tick(checker_actor* self) {
  checker_state& st = self->state;
  caf::actor probe;
  try {
    probe = st.spawner(self->system(), st.stopping);
  } catch (const std::exception& e) {
    // No thread to probe with (EAGAIN: the container's pids limit is
    // reached, as under a fork bomb): a failed check, not a dead executor.
    on_check_result(self, false, std::string("Could not start the health check probe: ") + e.what());
    return;
  }
  caf::timespan wait = health_seconds(st.check.timeout_seconds()) + PROBE_ANSWER_SLACK;
  self->request(probe, wait, health_probe_atom_v)
      .then([self](bool healthy, const std::string& why) { on_check_result(self, healthy, why); },
            [self, probe](const caf::error& e) {
              self->send_exit(probe, caf::exit_reason::user_shutdown);
              std::string why = e == caf::sec::request_timeout
                                    ? "Health check timed out after " +
                                          seconds_text(health_seconds(self->state.check.timeout_seconds()))
                                    : "Health check probe failed: " + self->system().render(e);
              on_check_result(self, false, why);
            });
}

caf::behavior health_checker(checker_actor* self, HealthCheck check, caf::actor notify, HealthProbeSpawner spawner) {
  checker_state& st = self->state;
  st.check = std::move(check);
  st.notify = notify;
  st.spawner = std::move(spawner);
  st.policy.emplace(st.check, self->clock().now());
  self->attach_functor([stopping = st.stopping] { stopping->store(true); });
  self->monitor(notify);
  self->set_down_handler([self](const caf::down_msg&) { self->quit(); });
  self->delayed_send(self, health_seconds(st.check.delay_seconds()), health_tick_atom_v);
  return {
      [self](health_tick_atom) { on_tick(self); },
  };
}

}  // namespace

caf::actor spawn_health_checker(caf::actor_system& sys, HealthCheck check, std::string sandbox, caf::actor notify,
                                HealthProbeSpawner spawner, HealthCheckTarget target) {
  if (!spawner) {
    spawner = [check, sandbox, target](caf::actor_system& s, std::shared_ptr<std::atomic<bool>> cancel) {
      return s.spawn(health_probe, check, sandbox, target, std::move(cancel));
    };
  }
  return sys.spawn(health_checker, std::move(check), std::move(notify), std::move(spawner));
}

}  // namespace stoa
