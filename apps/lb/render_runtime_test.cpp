// The rendered routing does what the labels say on a real HAProxy: vhost
// and path routing, basic auth, redirect to https, proxy-pass, app-id
// routing and a tcp port. The "tasks" are extra frontends of the same
// HAProxy that answer which one was reached. Loopback only, OS-picked ports.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/lb/render.hpp"
#include "apps/lb/render_test_support.hpp"
#include "tests/cluster.hpp"
#include "tests/poll.hpp"

extern char** environ;

namespace stoa::lb {
// Named so that this file's helpers stay apart from other test files'
// when CI compiles the test files of one binary as one unit (unity build).
namespace render_runtime_test {
namespace {

using render_testing::make_app;
using render_testing::make_task;

const char* const HAPROXY = "/usr/sbin/haproxy";
// openssl passwd -5 -salt stoalbsalt secret
const char* const SECRET_HASH = "$5$stoalbsalt$F7O5GXsNVNeV8vHr/LnveqDQGebskOHyq1kpGM1dDN8";

struct Answer {
  int status = 0;
  std::string head;  // status line and headers, lower-cased
  std::string body;
};

Answer get(int port, const std::string& path, const std::string& headers) {
  Answer answer;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return answer;
  }
  std::string request = "GET " + path + " HTTP/1.0\r\n" + headers + "\r\n";
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string raw;
  char buf[4096];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) {
    return answer;
  }
  answer.status = std::stoi(raw.substr(9, 3));
  answer.head = raw.substr(0, end);
  for (char& c : answer.head) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  answer.body = raw.substr(end + 4);
  return answer;
}

class RenderRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(HAPROXY, X_OK) != 0) {
      GTEST_SKIP() << HAPROXY << " is not installed: cannot run the rendered configuration";
    }
    char tmpl[] = "/tmp/stoa-lb-runtime-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  // An app whose one task is an echo frontend answering "tag=<tag> path=<path> host=<host>".
  App echo_app(const std::string& id, std::map<std::string, std::string> labels) {
    int port = ports_.take();
    std::string tag = id.substr(1);
    echoes_ += "\nfrontend echo_" + tag + "\n  bind 127.0.0.1:" + std::to_string(port) +
               "\n  mode http\n  http-request return status 200 content-type text/plain lf-string "
               "\"tag=" +
               tag + " path=%[path] host=%[req.hdr(host)]\"\n";
    labels["HAPROXY_GROUP"] = "external";
    labels["HAPROXY_0_BIND_ADDR"] = "127.0.0.1";
    App app = make_app(id, {ports_.take()}, std::move(labels), 0);
    app.tasks.push_back(make_task(tag + ".1", "localhost", "127.0.0.1", {port}));
    return app;
  }

  void start(const std::vector<App>& apps) {
    RenderOptions o = render_testing::test_options();
    o.run_dir = dir_;
    o.config_dir = dir_;
    o.stats_port = ports_.take();
    o.http_port = http_port_ = ports_.take();
    o.http_appid_port = appid_port_ = ports_.take();
    o.https_port = ports_.take();
    Rendered r = render(apps, Templates(), o);
    ASSERT_TRUE(r.warnings.empty()) << r.warnings.front();
    std::string config = r.config;
    size_t at = config.find("bind 0.0.0.0:");
    ASSERT_NE(at, std::string::npos);
    config.replace(at, std::string("bind 0.0.0.0:").size(), "bind 127.0.0.1:");
    // No TLS in this test: the https frontend is dropped (haproxy_test covers its syntax).
    size_t https = config.find("\nfrontend marathon_https_in\n");
    ASSERT_NE(https, std::string::npos);
    size_t next = config.find("\n\n", https + 1);
    config.erase(https, next - https);
    config += echoes_;
    std::ofstream(dir_ + "/haproxy.cfg") << config;
    config_ = config;
    std::string cfg = dir_ + "/haproxy.cfg";
    std::string log = dir_ + "/haproxy.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {HAPROXY, "-db", "-f", cfg};
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, HAPROXY, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    bool up =
        tests::poll_until([this] { return get(http_port_, "/", "Host: nobody\r\n").status != 0; },
                          tests::deadline_in(tests::DEFAULT_TIMEOUT));
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    ASSERT_TRUE(up) << "haproxy did not start:\n" << text.str() << "\n" << config_;
  }

  // HAProxy's ports, held (tests/cluster.hpp): no other frontend of this
  // test nor another process is given one.
  tests::HeldPorts ports_;
  std::string dir_;
  std::string echoes_;
  std::string config_;
  int http_port_ = 0;
  int appid_port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(RenderRuntimeTest, LabelsRouteAsDeclared) {
  std::vector<App> apps = {
      echo_app("/web", {{"HAPROXY_0_VHOST", "web.test"}}),
      echo_app("/api", {{"HAPROXY_0_VHOST", "web.test"}, {"HAPROXY_0_PATH", "/api"}}),
      echo_app("/secure", {{"HAPROXY_0_VHOST", "s.test"},
                           {"HAPROXY_0_AUTH", std::string("Area:alice:") + SECRET_HASH}}),
      echo_app("/redir", {{"HAPROXY_0_VHOST", "r.test"}, {"HAPROXY_0_REDIRECT_TO_HTTPS", "true"}}),
      echo_app("/pp", {{"HAPROXY_0_VHOST", "pp.test"},
                       {"HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH", "/prefix"},
                       {"HAPROXY_0_USE_HSTS", "true"}}),
      echo_app("/tcpapp", {}),
  };
  start(apps);

  Answer web = get(http_port_, "/index", "Host: web.test\r\n");
  EXPECT_EQ(web.status, 200);
  EXPECT_EQ(web.body, "tag=web path=/index host=web.test");
  // A Host header with a port (a non-default --http-port) routes too.
  EXPECT_EQ(get(http_port_, "/i", "Host: Web.Test:8080\r\n").body, "tag=web path=/i host=Web.Test:8080");
  // The path ACL (weight 1) is tried before the bare vhost (weight 0).
  EXPECT_EQ(get(http_port_, "/api/v1", "Host: web.test\r\n").body,
            "tag=api path=/api/v1 host=web.test");
  EXPECT_EQ(get(http_port_, "/", "Host: unknown.test\r\n").status, 503);

  EXPECT_EQ(get(http_port_, "/", "Host: s.test\r\n").status, 401);
  // alice:secret
  Answer authed = get(http_port_, "/", "Host: s.test\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n");
  EXPECT_EQ(authed.status, 200);
  EXPECT_EQ(authed.body, "tag=secure path=/ host=s.test");

  Answer redirect = get(http_port_, "/x", "Host: r.test\r\n");
  EXPECT_EQ(redirect.status, 301);
  EXPECT_NE(redirect.head.find("location: https://r.test/x"), std::string::npos) << redirect.head;

  Answer pp = get(http_port_, "/prefix/deep/path", "Host: pp.test\r\n");
  EXPECT_EQ(pp.body, "tag=pp path=/deep/path host=pp.test");
  EXPECT_NE(pp.head.find("strict-transport-security: max-age=15768000"), std::string::npos)
      << pp.head;

  Answer appid = get(appid_port_, "/a", "Host: any\r\nX-Marathon-App-Id: /web\r\n");
  EXPECT_EQ(appid.body, "tag=web path=/a host=any");

  // The tcp app's own frontend forwards bytes to its task.
  int tcp_port = apps[5].service_ports[0];
  EXPECT_EQ(get(tcp_port, "/t", "Host: h\r\n").body, "tag=tcpapp path=/t host=h");
}

}  // namespace
}  // namespace render_runtime_test
}  // namespace stoa::lb
