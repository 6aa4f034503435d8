#include "slave/http_executor_io.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>

#include <fcntl.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iterator>

#include "common/io.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"
#include "slave/pool_adoption.hpp"

namespace stoa::http_executor {

void Connection::close() {
  if (fd >= 0) {
    ::close(fd);
  }
  fd = -1;
  connecting = false;
  out.clear();
  response.reset();
}

namespace {

// What a Unix connection goes to, for errors.
std::string target(const ExecutorConfig& c) { return "unix:" + c.domain_socket; }

}  // namespace

std::optional<Error> Connection::connect(const ExecutorConfig& c) {
  if (!c.domain_socket.empty()) {
    sockaddr_un un{};
    if (c.domain_socket.size() >= sizeof(un.sun_path)) {
      return Error("the Unix socket path '" + c.domain_socket + "' is too long");
    }
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, c.domain_socket.data(), c.domain_socket.size());
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      return Error("socket: " + errno_text(errno));
    }
    // A Unix socket connects at once or fails (EAGAIN: the slave's backlog
    // is full; the caller retries as after any failed connect).
    if (::connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof(un)) == 0) {
      connecting = true;  // finish_connect() finds no error
      return std::nullopt;
    }
    const int err = errno;
    close();
    if (err != ENOENT && err != ECONNREFUSED) {
      return Error("connect to " + target(c) + ": " + errno_text(err));
    }
    // No socket there, or nobody listening: a slave restarted without
    // --http_executor_domain_sockets still serves its TCP port, where a
    // recovered executor finds it.
    log_to_stderr("connect to " + target(c) + ": " + errno_text(err) + "; trying " + c.agent_endpoint);
  }
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, c.agent_host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(c.agent_port);
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, c.agent_host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(c.agent_port);
    len = sizeof(sockaddr_in6);
  } else {
    return Error("'" + c.agent_host + "' is not an IP address");
  }
  fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error("socket: " + errno_text(errno));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 && errno != EINPROGRESS) {
    const int err = errno;
    close();
    return Error("connect to " + c.agent_endpoint + ": " + errno_text(err));
  }
  connecting = true;
  return std::nullopt;
}

std::optional<Error> Connection::finish_connect(const ExecutorConfig& c) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    err = errno;
  }
  if (err != 0) {
    return Error("connect to " + c.agent_endpoint + ": " + errno_text(err));
  }
  connecting = false;
  return std::nullopt;
}

std::optional<Error> Connection::advance(const ExecutorConfig& c) {
  if (connecting) {
    if (std::optional<Error> e = finish_connect(c)) {
      return e;
    }
  }
  return flush();
}

std::optional<Error> Connection::flush() {
  while (!out.empty()) {
    const ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return std::nullopt;
      }
      return Error("write: " + errno_text(errno));
    }
    out.erase(0, static_cast<size_t>(n));
  }
  return std::nullopt;
}

Try<std::optional<size_t>> Connection::read(char* buf, size_t size) {
  while (true) {
    const ssize_t n = ::recv(fd, buf, size, 0);
    if (n >= 0) {
      return std::optional<size_t>(static_cast<size_t>(n));
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return std::optional<size_t>();
    }
    return Error("read: " + errno_text(errno));
  }
}

short Connection::events() const {
  return static_cast<short>(POLLIN | (connecting || !out.empty() ? POLLOUT : 0));
}

// The `message` of a JSON error body, else the body itself (shortened).
std::string error_message(const std::string& body) {
  Try<picojson::value> v = json_parse(body);
  if (v.is_some() && v->is<picojson::object>()) {
    const picojson::object& o = v->get<picojson::object>();
    if (auto m = o.find("message"); m != o.end() && m->second.is<std::string>()) {
      return m->second.get<std::string>();
    }
  }
  return body.size() > 500 ? body.substr(0, 500) + "..." : body;
}

// --- The pooled phase (docs/executor-pool.md). ---

std::variant<int, AdoptionStream> wait_for_adoption(const ExecutorConfig& endpoint, const std::string& token) {
  AdoptionStream a;
  Connection& c = a.sub;
  if (std::optional<Error> e = c.connect(endpoint)) {
    log_to_stderr("Pooled executor: " + e->message);
    return 1;
  }
  c.out = http_post_pool(endpoint.agent_endpoint, token, ::getpid());
  const TimePoint connect_deadline = Clock::now() + CONNECT_TIMEOUT;
  Connection& u = a.upd;
  TimePoint upd_opened{};
  // At most one UPDATE connection a second: a slave that refuses them at
  // once must not make this loop spin (the Loop connects at adoption then).
  auto open_update = [&u, &upd_opened, &endpoint] {
    const TimePoint now = Clock::now();
    if (!u.open() && now - upd_opened >= std::chrono::seconds(1)) {
      upd_opened = now;
      if (u.connect(endpoint)) {
        u.close();
      }
    }
  };
  open_update();
  char buf[16 * 1024];
  auto give_up = [&c, &u](int code, const std::string& why) {
    log_to_stderr("Pooled executor: " + why);
    c.close();
    u.close();
    return code;
  };
  while (true) {
    int timeout = -1;
    if (c.connecting) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(connect_deadline - Clock::now()).count();
      if (left <= 0) {
        return give_up(1, "connect to " + endpoint.agent_endpoint + " timed out");
      }
      timeout = static_cast<int>(left);
    } else if (!u.open()) {
      timeout = 1000;  // to reopen it
    }
    pollfd p[2] = {{c.fd, c.events(), 0}, {u.fd, u.events(), 0}};
    if (::poll(p, u.open() ? 2 : 1, timeout) < 0) {
      if (errno != EINTR) {
        return give_up(1, "poll: " + errno_text(errno));
      }
      continue;
    }
    if (u.open() && p[1].revents != 0) {
      // Connected (nothing to write), or closed by the slave: nothing else
      // comes on it before an UPDATE.
      if (u.advance(endpoint) || (p[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        u.close();
      }
    }
    open_update();
    if (p[0].revents == 0) {
      continue;
    }
    if (std::optional<Error> e = c.advance(endpoint)) {
      return give_up(1, e->message);
    }
    if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      continue;
    }
    Try<std::optional<size_t>> got = c.read(buf, sizeof(buf));
    if (got.is_error()) {
      return give_up(0, "the pool stream broke: " + got.error());
    }
    if (!*got) {
      continue;
    }
    if (**got == 0) {
      std::optional<Error> e = c.response.finish();
      if (c.response.head_done() && c.response.head().status != 200) {
        return give_up(1, "the slave refused the pooled executor with status " +
                              std::to_string(c.response.head().status) + ": " + error_message(c.response.body()));
      }
      return give_up(0, e ? e->message : "the slave closed the pool stream");
    }
    Try<size_t> used = c.response.feed(std::string_view(buf, **got));
    if (used.is_error()) {
      return give_up(1, "bad response to the pool call: " + used.error());
    }
    if (!c.response.head_done()) {
      continue;
    }
    if (c.response.head().status != 200) {
      if (c.response.complete()) {
        return give_up(1, "the slave refused the pooled executor with status " +
                              std::to_string(c.response.head().status) + ": " + error_message(c.response.body()));
      }
      continue;
    }
    Try<std::vector<std::string>> records = a.decoder.feed(c.response.body());
    c.response.body().clear();
    if (records.is_error()) {
      return give_up(1, "bad pool stream: " + records.error());
    }
    for (size_t i = 0; i < records->size(); ++i) {
      Try<Event> event = parse_event((*records)[i]);
      if (event.is_error()) {
        return give_up(1, "bad event on the pool stream: " + event.error());
      }
      if (event->type == Event::Type::SHUTDOWN) {
        return give_up(0, "the slave shut the pooled executor down");
      }
      if (event->type != Event::Type::ADOPTED) {
        continue;  // HEARTBEAT, or nothing for a pooled executor
      }
      if (event->adoption->token != token) {
        return give_up(1, "an adoption for pooled executor " + event->adoption->token + ", not " + token);
      }
      a.adoption = std::move(*event->adoption);
      a.rest.assign(std::make_move_iterator(records->begin() + static_cast<std::ptrdiff_t>(i) + 1),
                    std::make_move_iterator(records->end()));
      return a;
    }
    if (c.response.complete()) {
      return give_up(0, "the slave ended the pool stream");
    }
  }
}

std::optional<Error> adopt_container(const Adoption& a) {
  if (std::optional<Error> e = slave::enter_sandbox(a.directory)) {
    return e;
  }
  if (std::optional<Error> e = slave::claim_container_id(a.container_id)) {
    return e;
  }
  return slave::adopt_environment(a.environment);
}

// --- The zygote (docs/executor-pool.md). ---

namespace {

// All of `text` on the zygote's socket; false when the slave is gone.
bool reply(const std::string& text) { return send_all(STDIN_FILENO, text); }

bool valid_token(const std::string& token) {
  return !token.empty() && token.size() <= 128 && std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
  });
}

}  // namespace

std::optional<std::string> serve_as_zygote() {
  // The time zone, read once here for every child: the first log line's
  // gmtime_r reads /etc/localtime otherwise, seven system calls in each
  // pooled executor (#17, session 31).
  ::tzset();
  std::string buffer;
  char chunk[1024];
  while (true) {
    size_t nl = buffer.find('\n');
    if (nl == std::string::npos) {
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof(chunk));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0 || buffer.size() > 4096) {
        return std::nullopt;  // the slave closed its end (or sends no lines)
      }
      buffer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    const std::string token = buffer.substr(0, nl);
    buffer.erase(0, nl + 1);
    if (!valid_token(token)) {
      if (!reply("-" + std::to_string(EINVAL) + "\n")) {
        return std::nullopt;
      }
      continue;
    }
    // fork(), but the child's parent is ours (the slave). Single-threaded
    // and holding no lock here, so the raw system call is safe.
    const long pid = ::syscall(SYS_clone, CLONE_PARENT | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (pid == 0) {
      const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
      if (null < 0 || ::dup2(null, STDIN_FILENO) < 0 || ::dup2(null, STDOUT_FILENO) < 0) {
        ::_exit(1);
      }
      ::close(null);
      ::setsid();
      ::unsetenv(slave::ZYGOTE_VARIABLE);
      ::setenv(slave::POOL_TOKEN_VARIABLE, token.c_str(), 1);
      return token;
    }
    if (!reply((pid > 0 ? std::to_string(pid) : "-" + std::to_string(errno)) + "\n")) {
      return std::nullopt;
    }
  }
}

}  // namespace stoa::http_executor
