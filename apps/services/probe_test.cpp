// The Marathon-level probes against real sockets on loopback: our HTTP
// server, a TLS server made here with a fresh self-signed certificate, a
// port nobody listens on and a listener that never answers.
#include "apps/services/probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <gtest/gtest.h>

#include "actors/http.hpp"

namespace stoa::services {
namespace {

// Upper bound of any wait here; only reached when a test fails.
constexpr auto PROBE_TEST_DEADLINE = std::chrono::seconds(30);

struct ProbeFixture : ::testing::Test {
  ProbeFixture() {
    cfg.load<caf::io::middleman>();
    cfg.set("scheduler.max-threads", 4);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  ~ProbeFixture() override {
    if (server) {
      caf::anon_send_exit(server->actor, caf::exit_reason::user_shutdown);
    }
  }

  void start_http_server() {
    const auto reply = [](int status) {
      return [status](caf::io::broker*, const http::Request&, http::Responder respond) {
        http::Response r;
        r.status = status;
        r.content_type = "text/plain";
        r.body = "status " + std::to_string(status);
        if (status == 302) {
          r.headers.emplace_back("Location", "/elsewhere");
        }
        respond(r);
      };
    };
    std::vector<http::Route> routes;
    for (int status : {200, 302, 404, 503}) {
      routes.push_back(http::Route{"/s" + std::to_string(status), "test", {"GET"}, reply(status)});
    }
    auto started = http::spawn_server(*sys, http::ServerOptions{}, routes);
    ASSERT_TRUE(started) << caf::to_string(started.error());
    server = *started;
  }

  // Runs one probe in an event-based actor and waits for its result.
  ProbeResult run(const HealthCheck& check, int port, const std::string& host = "127.0.0.1") {
    caf::scoped_actor waiter{*sys};
    caf::actor client = waiter;
    sys->spawn([check, host, port, client](caf::event_based_actor* self) -> caf::behavior {
      probe(self, check, host, port, [self, client](ProbeResult r) {
        self->send(client, r.healthy, r.ignored, r.cause);
        self->quit();
      });
      return {[](const std::string&) {}};
    });
    ProbeResult result{false, false, "no answer from the probe"};
    waiter->receive(
        [&](bool healthy, bool ignored, const std::string& cause) { result = ProbeResult{healthy, ignored, cause}; },
        caf::after(PROBE_TEST_DEADLINE) >> [] {});
    return result;
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::optional<http::Server> server;
};

HealthCheck check(const std::string& protocol, const std::string& path = "/", int timeout_seconds = 5) {
  HealthCheck hc;
  hc.protocol = protocol;
  hc.path = path;
  hc.timeout_seconds = timeout_seconds;
  return hc;
}

// A port on loopback that was just free (nobody listens on it).
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A listening socket that never accepts: connects succeed (the kernel's
// backlog), nothing is ever answered.
struct SilentListener {
  SilentListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd, 8);
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd); }
  int fd = -1;
  int port = 0;
};

// A one-connection server answering its request with `status` and no
// body: over TLS with a self-signed certificate made on the spot, or plain.
class OneShotServer {
 public:
  explicit OneShotServer(int status, bool tls = true) : status_(status), tls_(tls) {
    EVP_PKEY* key = EVP_RSA_gen(2048);
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
                               0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx_, cert);
    SSL_CTX_use_PrivateKey(ctx_, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 4);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~OneShotServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  int port = 0;
  std::atomic<bool> saw_request{false};

 private:
  void serve() {
    const auto deadline = std::chrono::steady_clock::now() + PROBE_TEST_DEADLINE;
    int conn = -1;
    while (conn < 0 && !stop_ && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        conn = ::accept(fd_, nullptr, nullptr);
      }
    }
    if (conn < 0) {
      return;
    }
    SSL* ssl = tls_ ? SSL_new(ctx_) : nullptr;
    if (ssl != nullptr) {
      SSL_set_fd(ssl, conn);
    }
    if (ssl == nullptr || SSL_accept(ssl) == 1) {
      std::string got;
      char buffer[1024];
      while (got.find("\r\n\r\n") == std::string::npos) {
        const auto n = ssl != nullptr ? SSL_read(ssl, buffer, sizeof(buffer)) : ::recv(conn, buffer, sizeof(buffer), 0);
        if (n <= 0) {
          break;
        }
        got.append(buffer, static_cast<size_t>(n));
      }
      saw_request = got.rfind("GET /health HTTP/1.1\r\n", 0) == 0;
      const std::string reply = "HTTP/1.1 " + std::to_string(status_) + " X\r\nContent-Length: 0\r\n\r\n";
      if (ssl != nullptr) {
        SSL_write(ssl, reply.data(), static_cast<int>(reply.size()));
        SSL_shutdown(ssl);
      } else {
        ::send(conn, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
    }
    SSL_free(ssl);
    ::close(conn);
  }

  int status_;
  bool tls_;
  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_F(ProbeFixture, HttpStatusesDecideHealth) {
  start_http_server();
  ASSERT_TRUE(server);
  ProbeResult ok = run(check("HTTP", "/s200"), server->port);
  EXPECT_TRUE(ok.healthy) << ok.cause;
  EXPECT_FALSE(ok.ignored);
  ProbeResult redirect = run(check("HTTP", "/s302"), server->port);
  EXPECT_TRUE(redirect.healthy) << redirect.cause;
  ProbeResult down = run(check("HTTP", "/s503"), server->port);
  EXPECT_FALSE(down.healthy);
  EXPECT_FALSE(down.ignored);
  EXPECT_EQ(down.cause, "HTTP 503");
  ProbeResult missing = run(check("HTTP", "s404"), server->port);  // a path without '/' gets one
  EXPECT_FALSE(missing.healthy);
  EXPECT_EQ(missing.cause, "HTTP 404");
}

// Over plain HTTP the client waits for the final status after an interim
// 1xx (probe.hpp): a server that sends only a 1xx and closes has failed,
// ignoreHttp1xx or not.
TEST_F(ProbeFixture, HttpWithOnlyAnInterimAnswerFails) {
  for (bool ignore : {true, false}) {
    OneShotServer plain(150, false);
    HealthCheck hc = check("HTTP", "/health");
    hc.ignore_http1xx = ignore;
    ProbeResult r = run(hc, plain.port);
    EXPECT_FALSE(r.healthy);
    EXPECT_FALSE(r.ignored);
    EXPECT_NE(r.cause.find("closed before a complete response"), std::string::npos) << r.cause;
    EXPECT_TRUE(plain.saw_request);
  }
}

TEST_F(ProbeFixture, HttpToAClosedPortIsRefused) {
  ProbeResult r = run(check("HTTP"), closed_port());
  EXPECT_FALSE(r.healthy);
  EXPECT_FALSE(r.ignored);
  EXPECT_FALSE(r.cause.empty());
  EXPECT_EQ(r.cause, "connection refused");
}

TEST_F(ProbeFixture, HttpWithoutAnAnswerTimesOut) {
  SilentListener silent;
  const auto started = std::chrono::steady_clock::now();
  ProbeResult r = run(check("HTTP", "/", 1), silent.port);
  EXPECT_FALSE(r.healthy);
  EXPECT_EQ(r.cause, "timed out after 1s");
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
}

TEST_F(ProbeFixture, TcpConnectsOrIsRefused) {
  SilentListener listening;
  ProbeResult ok = run(check("TCP"), listening.port);
  EXPECT_TRUE(ok.healthy) << ok.cause;
  ProbeResult refused = run(check("TCP"), closed_port());
  EXPECT_FALSE(refused.healthy);
  EXPECT_EQ(refused.cause, "connection refused");
  ProbeResult unresolvable = run(check("TCP"), 80, "no-such-host.invalid");
  EXPECT_FALSE(unresolvable.healthy);
  EXPECT_NE(unresolvable.cause.find("no-such-host.invalid"), std::string::npos) << unresolvable.cause;
}

TEST_F(ProbeFixture, HttpsSpeaksTlsWithoutVerifying) {
  {
    OneShotServer tls(204);
    ProbeResult ok = run(check("HTTPS", "/health"), tls.port);
    EXPECT_TRUE(ok.healthy) << ok.cause;
    EXPECT_TRUE(tls.saw_request);
  }
  {
    OneShotServer tls(500);
    ProbeResult down = run(check("HTTPS", "/health"), tls.port);
    EXPECT_FALSE(down.healthy);
    EXPECT_EQ(down.cause, "HTTP 500");
  }
  {
    OneShotServer tls(101);
    HealthCheck hc = check("HTTPS", "/health");
    hc.ignore_http1xx = true;
    ProbeResult early = run(hc, tls.port);
    EXPECT_FALSE(early.healthy);
    EXPECT_TRUE(early.ignored);
  }
  {
    OneShotServer tls(101);  // without ignoreHttp1xx a 1xx is a failure
    ProbeResult early = run(check("HTTPS", "/health"), tls.port);
    EXPECT_FALSE(early.healthy);
    EXPECT_FALSE(early.ignored);
    EXPECT_EQ(early.cause, "HTTP 101");
  }
  SilentListener silent;
  ProbeResult timeout = run(check("HTTPS", "/", 1), silent.port);
  EXPECT_FALSE(timeout.healthy);
  EXPECT_EQ(timeout.cause, "timed out after 1s");
  ProbeResult refused = run(check("HTTPS"), closed_port());
  EXPECT_EQ(refused.cause, "connection refused");
}

TEST_F(ProbeFixture, HttpsAgainstPlainHttpFailsTheHandshake) {
  start_http_server();
  ASSERT_TRUE(server);
  ProbeResult r = run(check("HTTPS", "/s200"), server->port);
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.cause.find("TLS"), std::string::npos) << r.cause;
}

TEST_F(ProbeFixture, MesosLevelChecksAreNotProbedHere) {
  ProbeResult r = run(check("MESOS_HTTP"), 80);
  EXPECT_FALSE(r.healthy);
  EXPECT_NE(r.cause.find("MESOS_HTTP"), std::string::npos);
  ProbeResult no_port = run(check("HTTP"), 0);
  EXPECT_FALSE(no_port.healthy);
}

}  // namespace
}  // namespace stoa::services
