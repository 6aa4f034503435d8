// Marathon-level health probes (marathon.md §3). HTTP goes through the
// asynchronous client (actors/http_client.hpp); TCP and HTTPS need a socket
// of their own (OpenSSL's handshake), so they run in a detached actor that
// connects without blocking past the check's timeout and replies once.

#include "apps/services/probe.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

#include <caf/all.hpp>

#include "actors/http_client.hpp"
#include "actors/safety.hpp"

namespace stoa::services {

namespace {

using probe_socket_atom = caf::atom_constant<caf::atom("svc_probe")>;
constexpr probe_socket_atom probe_socket_atom_v{};

// The detached worker answers within the check's timeout; the request that
// waits for it allows this much more, so the worker's own cause wins.
constexpr auto PROBE_REPLY_SLACK = std::chrono::seconds(2);
// The most of an HTTPS answer read while looking for the status line.
constexpr size_t PROBE_MAX_STATUS_LINE = 4096;

using ProbeClock = std::chrono::steady_clock;

std::string probe_timed_out(int seconds) { return "timed out after " + std::to_string(seconds) + "s"; }

// Classifies an HTTP status as the check sees it.
ProbeResult probe_status_result(int status, bool ignore_http1xx) {
  ProbeResult r;
  if (status >= 200 && status <= 399) {
    r.healthy = true;
  } else if (status >= 100 && status <= 199 && ignore_http1xx) {
    r.ignored = true;
    r.cause = "HTTP " + std::to_string(status) + " (ignored)";
  } else {
    r.cause = "HTTP " + std::to_string(status);
  }
  return r;
}

// Milliseconds left until `deadline` (at least 0).
int probe_ms_left(ProbeClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ProbeClock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// A connected non-blocking socket, or -1 with `cause` set.
int probe_connect(const std::string& host, int port, ProbeClock::time_point deadline, int timeout_seconds,
                  std::string& cause) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    cause = "cannot resolve '" + host + "': " + ::gai_strerror(rc);
    return -1;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);
  cause = "no address for '" + host + "'";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      cause = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      return fd;
    }
    if (errno != EINPROGRESS) {
      cause = errno == ECONNREFUSED ? "connection refused" : std::string("connect: ") + std::strerror(errno);
      ::close(fd);
      continue;
    }
    pollfd p{fd, POLLOUT, 0};
    int ready = ::poll(&p, 1, probe_ms_left(deadline));
    if (ready == 0) {
      cause = probe_timed_out(timeout_seconds);
      ::close(fd);
      return -1;
    }
    int error = 0;
    socklen_t len = sizeof(error);
    if (ready < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
      cause = error == ECONNREFUSED ? "connection refused" : std::string("connect: ") + std::strerror(error);
      ::close(fd);
      continue;
    }
    return fd;
  }
  return -1;
}

// Waits until `fd` is readable/writable as OpenSSL asks, or the deadline.
bool probe_wait_ssl(SSL* ssl, int fd, int rc, ProbeClock::time_point deadline) {
  const int want = SSL_get_error(ssl, rc);
  short events = 0;
  if (want == SSL_ERROR_WANT_READ) {
    events = POLLIN;
  } else if (want == SSL_ERROR_WANT_WRITE) {
    events = POLLOUT;
  } else {
    return false;
  }
  pollfd p{fd, events, 0};
  return ::poll(&p, 1, probe_ms_left(deadline)) > 0;
}

std::string probe_ssl_error(const std::string& what) {
  unsigned long e = ERR_get_error();
  if (e == 0) {
    return what;
  }
  char text[256];
  ERR_error_string_n(e, text, sizeof(text));
  ERR_clear_error();
  return what + ": " + text;
}

// GET `path` over TLS on the connected `fd` (no certificate verification):
// the status code, or -1 with `cause`.
int probe_https_status(int fd, const std::string& host, int port, const std::string& path,
                       ProbeClock::time_point deadline, int timeout_seconds, std::string& cause) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
  if (!ctx) {
    cause = probe_ssl_error("TLS setup failed");
    return -1;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) {
    cause = probe_ssl_error("TLS setup failed");
    return -1;
  }
  SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  const auto timed_out = [&] {
    if (probe_ms_left(deadline) == 0) {
      cause = probe_timed_out(timeout_seconds);
      return true;
    }
    return false;
  };
  for (;;) {
    int rc = SSL_connect(ssl.get());
    if (rc == 1) {
      break;
    }
    if (!probe_wait_ssl(ssl.get(), fd, rc, deadline)) {
      if (!timed_out()) {
        cause = probe_ssl_error("TLS handshake failed");
      }
      return -1;
    }
  }
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                              "\r\nUser-Agent: stoa-services\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    int rc = SSL_write(ssl.get(), request.data() + sent, static_cast<int>(request.size() - sent));
    if (rc > 0) {
      sent += static_cast<size_t>(rc);
      continue;
    }
    if (!probe_wait_ssl(ssl.get(), fd, rc, deadline)) {
      if (!timed_out()) {
        cause = probe_ssl_error("TLS write failed");
      }
      return -1;
    }
  }
  std::string answer;
  while (answer.find("\r\n") == std::string::npos && answer.size() < PROBE_MAX_STATUS_LINE) {
    char buffer[1024];
    int rc = SSL_read(ssl.get(), buffer, sizeof(buffer));
    if (rc > 0) {
      answer.append(buffer, static_cast<size_t>(rc));
      continue;
    }
    if (!probe_wait_ssl(ssl.get(), fd, rc, deadline)) {
      if (!timed_out()) {
        cause = "connection closed before an HTTP status line";
      }
      return -1;
    }
  }
  // "HTTP/1.1 200 OK"
  const size_t space = answer.find(' ');
  if (answer.rfind("HTTP/", 0) != 0 || space == std::string::npos || answer.size() < space + 4) {
    cause = "not an HTTP answer: '" + answer.substr(0, answer.find("\r\n")) + "'";
    return -1;
  }
  const std::string code = answer.substr(space + 1, 3);
  if (code.find_first_not_of("0123456789") != std::string::npos) {
    cause = "not an HTTP status: '" + answer.substr(0, answer.find("\r\n")) + "'";
    return -1;
  }
  return std::stoi(code);
}

// The detached worker: one probe, one reply (status or 0 for a TCP connect,
// -1 with the cause), then it exits.
caf::behavior probe_socket_worker(caf::event_based_actor* self) {
  return {
      [self](probe_socket_atom, const std::string& host, int port, bool tls, const std::string& path,
             int timeout_seconds) {
        auto reply = self->make_response_promise();
        const auto deadline = ProbeClock::now() + std::chrono::seconds(timeout_seconds);
        std::string cause;
        int status = -1;
        int fd = probe_connect(host, port, deadline, timeout_seconds, cause);
        if (fd >= 0) {
          status = tls ? probe_https_status(fd, host, port, path, deadline, timeout_seconds, cause) : 0;
          ::close(fd);
        }
        reply.deliver(status, cause);
        self->quit();
      },
  };
}

std::string probe_error_cause(const caf::error& e, int timeout_seconds) {
  if (e == caf::sec::request_timeout) {
    return probe_timed_out(timeout_seconds);
  }
  const std::string text = caf::to_string(e);
  if (text.find("efused") != std::string::npos) {
    return "connection refused";
  }
  return "connection failed: " + text;
}

}  // namespace

void probe(caf::event_based_actor* self, const HealthCheck& check, const std::string& host, int port,
           std::function<void(ProbeResult)> done) {
  const int timeout_seconds = std::max(1, check.timeout_seconds);
  const std::string path = check.path.empty() || check.path.front() != '/' ? "/" + check.path : check.path;
  if (port <= 0 || port > 65535) {
    done(ProbeResult{false, false, "no port to probe (" + std::to_string(port) + ")"});
    return;
  }
  if (check.protocol == "HTTP") {
    http::ClientRequest req;
    req.host = host;
    req.port = static_cast<uint16_t>(port);
    req.path = path;
    req.timeout = std::chrono::seconds(timeout_seconds);
    const bool ignore_http1xx = check.ignore_http1xx;
    http::fetch(
        self, std::move(req),
        [done, ignore_http1xx](http::Response r) { done(probe_status_result(r.status, ignore_http1xx)); },
        [done, timeout_seconds](caf::error e) { done(ProbeResult{false, false, probe_error_cause(e, timeout_seconds)}); });
    return;
  }
  if (check.protocol != "HTTPS" && check.protocol != "TCP") {
    done(ProbeResult{false, false, "not a Marathon-level check: " + check.protocol});
    return;
  }
  const bool tls = check.protocol == "HTTPS";
  const bool ignore_http1xx = check.ignore_http1xx;
  Try<caf::actor> spawned = spawn_with_thread(self->system(), ThreadActor::detached,
                                              [self] { return self->spawn<caf::detached>(probe_socket_worker); });
  if (spawned.is_error()) {
    done(ProbeResult{false, false, "cannot probe: " + spawned.error()});
    return;
  }
  caf::actor worker = *spawned;
  self->request(worker, std::chrono::seconds(timeout_seconds) + PROBE_REPLY_SLACK, probe_socket_atom_v, host, port,
                tls, path, timeout_seconds)
      .then(
          [done, tls, ignore_http1xx](int status, const std::string& cause) {
            if (status < 0) {
              done(ProbeResult{false, false, cause});
            } else if (!tls) {
              done(ProbeResult{true, false, ""});
            } else {
              done(probe_status_result(status, ignore_http1xx));
            }
          },
          [done, timeout_seconds](const caf::error& e) {
            done(ProbeResult{false, false, probe_error_cause(e, timeout_seconds)});
          });
}

}  // namespace stoa::services
