// Our Lua services and the stats proxy of the default head, served by a
// real HAProxy (master-worker mode, loopback only, OS-picked port).

#include "apps/lb/lua.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/lb/render.hpp"
#include "apps/lb/render_test_support.hpp"
#include "tests/cluster.hpp"
#include "tests/poll.hpp"

extern char** environ;

namespace stoa::lb {
namespace {

const char* const HAPROXY = "/usr/sbin/haproxy";

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
};

HttpAnswer lua_test_get(int port, const std::string& path) {
  HttpAnswer answer;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return answer;
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return answer;
  }
  std::string raw;
  char buf[8192];
  ssize_t n = 0;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    raw.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) {
    return answer;
  }
  answer.status = std::stoi(raw.substr(9, 3));
  answer.body = raw.substr(head_end + 4);
  return answer;
}

// A child that stands in for stoa-lb as the target of /_mlb_signal/*: it
// waits for SIGHUP and SIGUSR1 (blocked before the fork, so none is lost)
// and writes each signal's number to a pipe, until the pipe is closed.
pid_t lua_test_signal_receiver(int& read_fd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return -1;
  }
  sigset_t set;
  sigset_t old;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    for (;;) {
      int sig = ::sigwaitinfo(&set, nullptr);
      if (sig < 0) {
        if (errno == EINTR) {
          continue;
        }
        ::_exit(1);
      }
      unsigned char b = static_cast<unsigned char>(sig);
      if (::write(fds[1], &b, 1) != 1) {
        ::_exit(0);
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(fds[1]);
  read_fd = fds[0];
  return pid;
}

// The next signal the receiver reported, 0 if none within `timeout`.
int lua_test_next_signal(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    return 0;
  }
  unsigned char b = 0;
  return ::read(fd, &b, 1) == 1 ? b : 0;
}

class LuaServicesTest : public ::testing::Test {
 protected:
  // Whether the rendered configuration names a stoa-lb to signal.
  virtual bool names_a_stoa_lb() const { return true; }

  void SetUp() override {
    if (::access(HAPROXY, X_OK) != 0) {
      GTEST_SKIP() << HAPROXY << " is not installed: cannot serve the Lua services";
    }
    if (names_a_stoa_lb()) {
      receiver_ = lua_test_signal_receiver(receiver_fd_);
      ASSERT_GT(receiver_, 0) << "cannot start the signal receiver: " << std::strerror(errno);
    }
    char tmpl[] = "/tmp/stoa-lb-lua-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_FALSE(write_lua_scripts(dir_ + "/lua").has_value());
    RenderOptions o = render_testing::test_options();
    o.groups = {"*"};
    o.run_dir = dir_;
    o.config_dir = dir_;
    o.lua_dir = dir_ + "/lua";
    o.dont_bind_http_https = true;
    // Held (tests/cluster.hpp): HAProxy binds them beside our sockets.
    o.stats_port = ports_.take();
    o.http_appid_port = ports_.take();
    o.lb_pid = names_a_stoa_lb() ? static_cast<int>(receiver_) : 0;
    stats_port_ = o.stats_port;
    config_ = render({}, Templates(), o).config;
    // Loopback only in tests: the default head binds the stats proxy to 0.0.0.0.
    size_t at = config_.find("bind 0.0.0.0:");
    ASSERT_NE(at, std::string::npos);
    config_.replace(at, std::string("bind 0.0.0.0:").size(), "bind 127.0.0.1:");
    std::ofstream(dir_ + "/haproxy.cfg") << config_;
    std::ofstream(dir_ + "/domain2backend.map") << "a.com a_1\n";

    std::string cfg = dir_ + "/haproxy.cfg";
    std::string log = dir_ + "/haproxy.log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {HAPROXY, "-W", "-f", cfg};
    std::vector<char*> argv;
    for (std::string& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    int rc = posix_spawn(&master_, HAPROXY, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ASSERT_EQ(rc, 0);
    bool up = tests::poll_until(
        [this] { return lua_test_get(stats_port_, "/_haproxy_health_check").status == 200; },
        tests::deadline_in(tests::DEFAULT_TIMEOUT));
    ASSERT_TRUE(up) << "haproxy did not serve the stats proxy; log:\n" << read(log);
  }

  void TearDown() override {
    stop_receiver();
    if (master_ > 0) {
      ::kill(master_, SIGTERM);
      int status = 0;
      ::waitpid(master_, &status, 0);
    }
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  }

  void stop_receiver() {
    if (receiver_ > 0) {
      ::kill(receiver_, SIGKILL);
      int status = 0;
      ::waitpid(receiver_, &status, 0);
      receiver_ = -1;
    }
    if (receiver_fd_ >= 0) {
      ::close(receiver_fd_);
      receiver_fd_ = -1;
    }
  }

  tests::HeldPorts ports_;
  std::string dir_;
  std::string config_;
  int stats_port_ = 0;
  pid_t master_ = -1;
  pid_t receiver_ = -1;
  int receiver_fd_ = -1;
};

class LuaServicesWithoutStoaLbTest : public LuaServicesTest {
 protected:
  bool names_a_stoa_lb() const override { return false; }
};

TEST_F(LuaServicesTest, GetPidsListsMasterAndWorkers) {
  HttpAnswer a = lua_test_get(stats_port_, "/_haproxy_getpids");
  ASSERT_EQ(a.status, 200);
  std::istringstream in(a.body);
  std::vector<int> pids;
  int pid = 0;
  while (in >> pid) {
    pids.push_back(pid);
  }
  ASSERT_GE(pids.size(), 2u) << a.body;
  EXPECT_TRUE(std::is_sorted(pids.begin(), pids.end()));
  EXPECT_NE(std::find(pids.begin(), pids.end(), master_), pids.end()) << a.body;
  for (int p : pids) {
    EXPECT_EQ(read("/proc/" + std::to_string(p) + "/comm"), "haproxy\n") << p;
  }
  EXPECT_EQ(a.body.find('\n'), std::string::npos);
}

TEST_F(LuaServicesTest, GetConfigAnswersTheStartedConfiguration) {
  HttpAnswer a = lua_test_get(stats_port_, "/_haproxy_getconfig");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body, config_);
}

TEST_F(LuaServicesTest, GetVhostMapAnswersTheMapFile) {
  HttpAnswer a = lua_test_get(stats_port_, "/_haproxy_getvhostmap");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "a.com a_1\n");
  HttpAnswer app = lua_test_get(stats_port_, "/_haproxy_getappmap");
  ASSERT_EQ(app.status, 200);
  EXPECT_EQ(app.body, "");
}

TEST_F(LuaServicesTest, StatsCsvAndPrometheusMetrics) {
  HttpAnswer csv = lua_test_get(stats_port_, "/haproxy?stats;csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_NE(csv.body.find("# pxname,svname,"), std::string::npos) << csv.body.substr(0, 200);
  EXPECT_NE(csv.body.find("stats,FRONTEND,"), std::string::npos);
  HttpAnswer metrics = lua_test_get(stats_port_, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("haproxy_process_"), std::string::npos);
}

TEST_F(LuaServicesTest, MlbSignalSendsHupAndUsr1ToTheNamedStoaLb) {
  const std::string pid = std::to_string(receiver_);
  HttpAnswer hup = lua_test_get(stats_port_, "/_mlb_signal/hup");
  ASSERT_EQ(hup.status, 200) << hup.body;
  EXPECT_EQ(hup.body, "Sent SIGHUP to stoa-lb (pid " + pid + ")\n");
  EXPECT_EQ(lua_test_next_signal(receiver_fd_, std::chrono::seconds(10)), SIGHUP);
  HttpAnswer usr1 = lua_test_get(stats_port_, "/_mlb_signal/usr1");
  ASSERT_EQ(usr1.status, 200) << usr1.body;
  EXPECT_EQ(usr1.body, "Sent SIGUSR1 to stoa-lb (pid " + pid + ")\n");
  EXPECT_EQ(lua_test_next_signal(receiver_fd_, std::chrono::seconds(10)), SIGUSR1);
  // Once that stoa-lb is gone the signal cannot be sent: 500, naming it.
  stop_receiver();
  HttpAnswer gone = lua_test_get(stats_port_, "/_mlb_signal/hup");
  EXPECT_EQ(gone.status, 500) << gone.body;
  EXPECT_EQ(gone.body, "cannot send SIGHUP to stoa-lb (pid " + pid + ")\n");
}

TEST_F(LuaServicesWithoutStoaLbTest, MlbSignalAnswers503WhenNoStoaLbIsNamed) {
  HttpAnswer a = lua_test_get(stats_port_, "/_mlb_signal/usr1");
  EXPECT_EQ(a.status, 503) << a.body;
  EXPECT_EQ(a.body, "no stoa-lb to signal: STOA_LB_PID is 'nil'\n");
  // The other services do not depend on it.
  EXPECT_EQ(lua_test_get(stats_port_, "/_haproxy_getappmap").status, 200);
}

TEST(LuaScripts, WriteCreatesEveryScriptAndNamesErrors) {
  char tmpl[] = "/tmp/stoa-lb-luaw-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = std::string(tmpl) + "/nested/lua";
  ASSERT_FALSE(write_lua_scripts(dir).has_value());
  for (const LuaScript& s : lua_scripts()) {
    std::ifstream in(dir + "/" + s.file);
    std::ostringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), s.text) << s.file;
    for (const auto& [service, path] : s.services) {
      EXPECT_NE(s.text.find("core.register_service(\"" + service + "\""), std::string::npos)
          << service;
      EXPECT_TRUE(path.rfind("/_haproxy_", 0) == 0 || path.rfind("/_mlb_signal/", 0) == 0) << path;
    }
  }
  std::ofstream(std::string(tmpl) + "/file") << "x";
  std::optional<Error> error = write_lua_scripts(std::string(tmpl) + "/file/lua");
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find(std::string(tmpl) + "/file/lua"), std::string::npos)
      << error->message;
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace stoa::lb
