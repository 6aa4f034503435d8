// The Docker engine client against a real dockerd (tests/docker_fixture.hpp:
// one engine per test binary, its own directories, socket and busybox
// image). Each test skips, naming why, where Docker cannot run.
// slave/docker_http_test.cpp covers the wire details against a stand-in.
#include "slave/docker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <thread>

#include "tests/cluster.hpp"
#include "tests/docker_fixture.hpp"

namespace stoa::slave::docker {
namespace {

using namespace std::chrono_literals;
using tests::Clock;

constexpr int64_t MIB = 1024 * 1024;

class DockerEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    STOA_REQUIRE_DOCKER();
    fixture_ = &tests::docker_fixture();
    engine_ = std::make_unique<Engine>(fixture_->docker_cli(), fixture_->socket(), 30s);
  }

  void TearDown() override {
    for (const std::string& name : names_) {
      if (auto e = engine_->remove(name)) {
        ADD_FAILURE() << "cannot remove " << name << ": " << e->message;
      }
    }
  }

  // A fresh container name (removed after the test): "<stem>-<marker>".
  std::string fresh_name(const std::string& stem) {
    names_.push_back(stem + "-" + tests::unique_marker());
    return names_.back();
  }

  // `docker create --name=<name> <options> <image> <command>`: the id.
  std::string create(const std::string& name, const std::vector<std::string>& options,
                     const std::vector<std::string>& command) {
    std::vector<std::string> args = {"--name=" + name};
    args.insert(args.end(), options.begin(), options.end());
    args.push_back(fixture_->image());
    args.insert(args.end(), command.begin(), command.end());
    Try<std::string> id = engine_->create(args);
    EXPECT_TRUE(id.is_some()) << id.error();
    return id.is_some() ? *id : "";
  }

  // Creates and starts a container; its name.
  std::string run(const std::string& stem, const std::vector<std::string>& options,
                  const std::vector<std::string>& command) {
    std::string name = fresh_name(stem);
    create(name, options, command);
    std::optional<Error> started = engine_->start(name);
    EXPECT_FALSE(started.has_value()) << started->message;
    return name;
  }

  tests::DockerFixture* fixture_ = nullptr;
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> names_;
};

TEST_F(DockerEngineTest, FixtureServesItsOwnEngineAndImage) {
  EXPECT_GT(fixture_->dockerd_pid(), 0);
  EXPECT_EQ(::kill(fixture_->dockerd_pid(), 0), 0);
  EXPECT_EQ(fixture_->socket().rfind("/tmp/stoa-docker-", 0), 0u) << fixture_->socket();
  EXPECT_EQ(fixture_->docker_cli(), "/usr/bin/docker");
  Try<bool> present = engine_->has_image(fixture_->image());
  ASSERT_TRUE(present.is_some()) << present.error();
  EXPECT_TRUE(*present);
  Try<bool> absent = engine_->has_image("stoa/absent:none");
  ASSERT_TRUE(absent.is_some()) << absent.error();
  EXPECT_FALSE(*absent);
  if (!fixture_->bridge_available()) {
    std::cerr << "[ docker   ] no bridge: " << fixture_->bridge_unavailable_reason() << "\n";
  }
}

TEST_F(DockerEngineTest, FixtureStopLeavesNothingBehind) {
  // A second engine of our own, with a running container, then stopped.
  tests::DockerFixture second;
  ASSERT_TRUE(second.usable()) << second.skip_reason();
  const std::string dir = second.dir();
  const std::string bridge = second.bridge();
  const pid_t dockerd = second.dockerd_pid();
  EXPECT_NE(dir, fixture_->dir());
  Try<std::string> started = second.cli({"run", "-d", "--net=none", second.image(), "sleep", "1000"});
  ASSERT_TRUE(started.is_some()) << started.error();
  second.stop();
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  EXPECT_NE(::kill(dockerd, 0), 0) << "dockerd " << dockerd << " still runs";
  EXPECT_TRUE(tests::processes_with_marker(dir + "/").empty());
  EXPECT_EQ(tests::read_file("/proc/self/mountinfo").find(dir), std::string::npos);
  if (!bridge.empty()) {
    EXPECT_FALSE(std::filesystem::exists("/sys/class/net/" + bridge)) << bridge;
  }
  EXPECT_TRUE(fixture_->usable());  // the shared engine is untouched
  EXPECT_TRUE(engine_->version().is_some());
}

TEST_F(DockerEngineTest, NegotiatesTheApiVersion) {
  Try<Version> v = engine_->version();
  ASSERT_TRUE(v.is_some()) << v.error();
  EXPECT_FALSE(v->version.empty());
  Try<int> vs_max = compare_api_versions(v->api_version, MAX_API_VERSION);
  ASSERT_TRUE(vs_max.is_some()) << vs_max.error();
  // Debian 12's dockerd 20.10 speaks 1.41, the maximum.
  EXPECT_EQ(v->negotiated, *vs_max >= 0 ? std::string(MAX_API_VERSION) : v->api_version);
}

TEST_F(DockerEngineTest, WaitReturnsTheExitCode) {
  std::string name = fresh_name("stoa-exit");
  std::string id = create(name, {"--net=host"}, {"sh", "-c", "exit 3"});
  EXPECT_EQ(id.size(), 64u) << id;
  ASSERT_FALSE(engine_->start(name).has_value());
  Try<int> code = engine_->wait(name);
  ASSERT_TRUE(code.is_some()) << code.error();
  EXPECT_EQ(*code, 3);
  Try<ContainerState> s = engine_->inspect(id);
  ASSERT_TRUE(s.is_some()) << s.error();
  EXPECT_EQ(s->id, id);
  EXPECT_EQ(s->name, name);
  EXPECT_EQ(s->status, "exited");
  EXPECT_FALSE(s->running);
  EXPECT_EQ(s->exit_code, 3);
}

TEST_F(DockerEngineTest, CreateFailuresCarryTheCliError) {
  std::string name = fresh_name("stoa-twice");
  create(name, {}, {"true"});
  Try<std::string> again = engine_->create({"--name=" + name, fixture_->image(), "true"});
  ASSERT_TRUE(again.is_error());
  EXPECT_NE(again.error().find("is already in use"), std::string::npos) << again.error();
  EXPECT_EQ(again.error().find('\n'), std::string::npos) << "trimmed: " << again.error();
  Try<std::string> bad = engine_->create({"--no-such-option=1", fixture_->image(), "true"});
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("--no-such-option"), std::string::npos) << bad.error();
  Try<std::string> missing_cli =
      Engine("/nonexistent/docker", fixture_->socket()).create({fixture_->image()});
  ASSERT_TRUE(missing_cli.is_error());
  EXPECT_NE(missing_cli.error().find("/nonexistent/docker"), std::string::npos)
      << missing_cli.error();
}

TEST_F(DockerEngineTest, FollowLogsSeparatesStdoutAndStderrExactly) {
  // Many interleaved lines, one long line, control bytes, no final newline.
  const std::string script =
      "i=0; while [ $i -lt 3000 ]; do echo \"out $i\"; echo \"err $i\" >&2; i=$((i+1)); done;"
      "head -c 40000 /dev/zero | tr '\\0' x; echo;"
      "printf '\\001\\002\\t\\r\\303\\251 tail'; printf 'last words' >&2";
  std::string name = run("stoa-logs", {"--net=none"}, {"sh", "-c", script});
  tests::TempDir dir;
  const std::string out_path = dir.path() + "/stdout";
  const std::string err_path = dir.path() + "/stderr";
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::optional<Error> followed = engine_->follow_logs(name, out, err);
  ::close(out);
  ::close(err);
  ASSERT_FALSE(followed.has_value()) << followed->message;
  std::string want_out;
  std::string want_err;
  for (int i = 0; i < 3000; ++i) {
    want_out += "out " + std::to_string(i) + "\n";
    want_err += "err " + std::to_string(i) + "\n";
  }
  want_out += std::string(40000, 'x') + "\n" + "\001\002\t\r\303\251 tail";
  want_err += "last words";
  std::string got_out = tests::read_file(out_path);
  std::string got_err = tests::read_file(err_path);
  auto end = [](const std::string& s) {
    return s.substr(s.size() - std::min<size_t>(s.size(), 40));
  };
  EXPECT_TRUE(got_out == want_out) << "stdout has " << got_out.size() << " bytes, not "
                                   << want_out.size() << "; it ends with: " << end(got_out);
  EXPECT_TRUE(got_err == want_err) << "stderr has " << got_err.size() << " bytes, not "
                                   << want_err.size() << "; it ends with: " << end(got_err);
}

TEST_F(DockerEngineTest, InspectReportsWhatCreateAsked) {
  std::string name = run(
      "stoa-inspect", {"--net=none", "--memory=64m", "--cpu-shares=512", "--label=stoa.test=yes"},
      {"sleep", "1000"});
  Try<ContainerState> s = engine_->inspect(name);
  ASSERT_TRUE(s.is_some()) << s.error();
  EXPECT_EQ(s->name, name);
  EXPECT_EQ(s->image, fixture_->image());
  EXPECT_EQ(s->status, "running");
  EXPECT_TRUE(s->running);
  EXPECT_GT(s->pid, 0);
  EXPECT_EQ(s->memory_limit, 64 * MIB);
  EXPECT_EQ(s->cpu_shares, 512);
  EXPECT_EQ(s->labels, (std::map<std::string, std::string>{{"stoa.test", "yes"}}));
  EXPECT_EQ(s->network_mode, "none");
  EXPECT_EQ(s->ip_address, "");
  EXPECT_FALSE(s->oom_killed);
}

TEST_F(DockerEngineTest, StopWithGraceLetsItExitThenKills) {
  std::string polite = run("stoa-polite", {"--net=none"},
                           {"sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"});
  std::string term_ignored =
      run("stoa-term-ignored", {"--net=none"}, {"sh", "-c", "trap '' TERM; sleep 1000"});
  auto begin = Clock::now();
  ASSERT_FALSE(engine_->stop(polite, 20s).has_value());
  EXPECT_LT(Clock::now() - begin, 10s);  // it left on SIGTERM, long before the grace ended
  EXPECT_EQ(engine_->inspect(polite)->exit_code, 7);
  EXPECT_FALSE(engine_->stop(polite, 1s).has_value());  // already stopped: no error

  begin = Clock::now();
  ASSERT_FALSE(engine_->stop(term_ignored, 1s).has_value());
  EXPECT_GE(Clock::now() - begin, 1s);  // SIGKILL came after the grace
  Try<ContainerState> s = engine_->inspect(term_ignored);
  ASSERT_TRUE(s.is_some()) << s.error();
  EXPECT_FALSE(s->running);
  EXPECT_EQ(s->exit_code, 137);
}

TEST_F(DockerEngineTest, KillEndsItAndKillingAgainIsNoError) {
  std::string name = run("stoa-kill", {"--net=none"}, {"sleep", "1000"});
  ASSERT_FALSE(engine_->kill(name, SIGKILL).has_value());
  Try<int> code = engine_->wait(name);
  ASSERT_TRUE(code.is_some()) << code.error();
  EXPECT_EQ(*code, 137);
  EXPECT_FALSE(engine_->kill(name).has_value());
}

TEST_F(DockerEngineTest, RemovedContainerIsGone) {
  std::string name = run("stoa-remove", {"--net=none"}, {"sleep", "1000"});
  ASSERT_FALSE(engine_->remove(name).has_value());  // running: removed by force
  Try<ContainerState> s = engine_->inspect(name);
  ASSERT_TRUE(s.is_error());
  EXPECT_EQ(s.error(), "No such container: " + name + " (HTTP 404)");
  EXPECT_FALSE(engine_->remove(name).has_value());  // already gone: no error
}

TEST_F(DockerEngineTest, ListWithAPrefixIgnoresNamesThatOnlyContainIt) {
  std::string prefix = "stoa-list-" + tests::unique_marker() + "-";
  names_ = {prefix + "a", "x-" + prefix + "b"};
  create(names_[0], {}, {"true"});
  create(names_[1], {}, {"true"});
  Try<std::vector<ContainerSummary>> listed = engine_->list(prefix);
  ASSERT_TRUE(listed.is_some()) << listed.error();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, names_[0]);
  EXPECT_EQ((*listed)[0].state, "created");
  EXPECT_EQ((*listed)[0].id.size(), 64u);
}

TEST_F(DockerEngineTest, StatsOfARunningContainer) {
  std::string name =
      run("stoa-stats", {"--net=none", "--memory=64m"},
          {"sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; sleep 1000"});
  Try<ContainerStats> s = Error("not asked yet");
  bool busy = tests::poll_until(
      [&] {
        s = engine_->stats(name);
        return s.is_error() || s->cpus_user_time_secs + s->cpus_system_time_secs > 0;
      },
      tests::deadline_in(20s), 200ms);
  ASSERT_TRUE(s.is_some()) << s.error();
  EXPECT_TRUE(busy) << "no CPU time seen";
  EXPECT_EQ(s->mem_limit_bytes, static_cast<uint64_t>(64 * MIB));
  EXPECT_GT(s->mem_total_bytes, 0u);
  EXPECT_LE(s->mem_rss_bytes, s->mem_total_bytes);
}

TEST_F(DockerEngineTest, PullFromAnUnreachableRegistryFailsQuickly) {
  // A registry on a loopback port nobody listens on: offline, without
  // sending anything off this machine.
  std::string registry = "127.0.0.1:" + std::to_string(tests::free_loopback_port());
  auto begin = Clock::now();
  std::optional<Error> pulled = engine_->pull(registry + "/stoa/absent:1");
  ASSERT_TRUE(pulled.has_value());
  EXPECT_NE(pulled->message.find(registry), std::string::npos) << pulled->message;
  EXPECT_LT(Clock::now() - begin, 20s);
  Try<bool> present = engine_->has_image(registry + "/stoa/absent:1");
  ASSERT_TRUE(present.is_some()) << present.error();
  EXPECT_FALSE(*present);
}

TEST_F(DockerEngineTest, ExecReturnsTheExitCodeAndOutputWithinItsTimeout) {
  std::string name = run("stoa-exec", {"--net=none"}, {"sleep", "1000"});
  Try<ExecResult> r = engine_->exec(name, {"sh", "-c", "echo hi; echo oops >&2; exit 4"}, 20s);
  ASSERT_TRUE(r.is_some()) << r.error();
  EXPECT_EQ(r->exit_code, 4);
  EXPECT_NE(r->output.find("hi\n"), std::string::npos) << r->output;
  EXPECT_NE(r->output.find("oops\n"), std::string::npos) << r->output;
  auto begin = Clock::now();
  Try<ExecResult> slow = engine_->exec(name, {"sleep", "30"}, 500ms);
  ASSERT_TRUE(slow.is_error());
  EXPECT_EQ(slow.error(), "exec in container '" + name + "' timed out after 500 ms");
  EXPECT_LT(Clock::now() - begin, 5s);
}

TEST_F(DockerEngineTest, ExecPassesItsEnvironmentAsTheEnginesEnv) {
  std::string name = run("stoa-exec-env", {"--net=none", "--env=KEPT=from-the-container"}, {"sleep", "1000"});
  const std::vector<std::string> env = {"GREETING=hello 'quoted' world", "EMPTY="};
  // A shell command and a plain argv see the same variables, as they are.
  Try<ExecResult> shell =
      engine_->exec(name, {"sh", "-c", "echo \"$GREETING|${EMPTY-unset}|$KEPT\""}, 20s, nullptr, env);
  ASSERT_TRUE(shell.is_some()) << shell.error();
  EXPECT_EQ(shell->output, "hello 'quoted' world||from-the-container\n");
  Try<ExecResult> plain = engine_->exec(name, {"env"}, 20s, nullptr, env);
  ASSERT_TRUE(plain.is_some()) << plain.error();
  EXPECT_NE(plain->output.find("\nGREETING=hello 'quoted' world\n"), std::string::npos) << plain->output;
  for (const std::string bad : {"=x", "NOVALUE"}) {
    Try<ExecResult> r = engine_->exec(name, {"true"}, 20s, nullptr, {bad});
    ASSERT_TRUE(r.is_error()) << bad;
    EXPECT_EQ(r.error(), "exec in container '" + name + "': invalid environment variable '" + bad +
                             "' (want NAME=VALUE with a non-empty NAME)");
  }
}

// The processes of container `name` whose command line holds `needle`
// (busybox ps inside it), one per line.
std::string processes_with(Engine& engine, const std::string& name, const std::string& needle) {
  Try<ExecResult> ps = engine.exec(name, {"ps", "-o", "pid,args"}, 20s);
  if (ps.is_error()) {
    return "ps failed: " + ps.error();
  }
  std::string found;
  std::istringstream in(ps->output);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos && line.find("ps -o") == std::string::npos) {
      found += line + "\n";
    }
  }
  return found;
}

TEST_F(DockerEngineTest, ExecKillsACommandThatOutlivesItsTimeoutAndWhatItStarted) {
  std::string name = run("stoa-exec-kill", {"--net=none"}, {"sleep", "1000"});
  // The shell starts a child and waits for it: both must go.
  auto begin = Clock::now();
  Try<ExecResult> slow = engine_->exec(name, {"sh", "-c", "sleep 301 & sleep 302; wait"}, 500ms);
  ASSERT_TRUE(slow.is_error());
  EXPECT_EQ(slow.error(), "exec in container '" + name + "' timed out after 500 ms");
  EXPECT_LT(Clock::now() - begin, 10s);
  // exec() returns once the engine sees its command gone; the background
  // sleep is killed before the shell.
  EXPECT_EQ(processes_with(*engine_, name, "sleep 30"), "");
  EXPECT_NE(processes_with(*engine_, name, "sleep 1000"), "") << "the container's own process is untouched";
}

TEST_F(DockerEngineTest, ExecEndsWithinATickOfCancelAndKillsItsCommand) {
  std::string name = run("stoa-exec-cancel", {"--net=none"}, {"sleep", "1000"});
  std::atomic<bool> cancel{false};
  const auto began = Clock::now();
  std::thread canceller([&] {
    tests::poll_until([&] { return Clock::now() - began > 1500ms; }, tests::deadline_in(10s));
    cancel = true;
  });
  Try<ExecResult> r = engine_->exec(name, {"sleep", "303"}, 30s, &cancel);
  const auto returned = Clock::now();
  canceller.join();
  ASSERT_TRUE(r.is_error());
  EXPECT_EQ(r.error(), "cancelled");
  EXPECT_LT(returned - began, 10s);
  EXPECT_EQ(processes_with(*engine_, name, "sleep 303"), "");
}

TEST_F(DockerEngineTest, WaitAndFollowLogsEndWithinATickOfCancel) {
  std::string name = run("stoa-cancel", {"--net=none"}, {"sleep", "1000"});
  Engine engine(fixture_->docker_cli(), fixture_->socket(),
                1s);  // cancel, not the timeout, ends them
  for (const char* call : {"wait", "follow_logs"}) {
    std::atomic<bool> cancel{false};
    std::atomic<Clock::rep> cancelled_at{0};
    const auto began = Clock::now();
    std::thread canceller([&] {
      tests::poll_until([&] { return Clock::now() - began > 1500ms; }, tests::deadline_in(10s));
      cancelled_at = Clock::now().time_since_epoch().count();
      cancel = true;
    });
    std::string error = std::string(call) == "wait"
                            ? engine.wait(name, &cancel).error()
                            : engine.follow_logs(name, -1, -1, &cancel)->message;
    auto returned = Clock::now();
    canceller.join();
    EXPECT_EQ(error, "cancelled") << call;
    auto late = std::chrono::duration_cast<std::chrono::milliseconds>(
        returned - Clock::time_point(Clock::duration(cancelled_at.load())));
    EXPECT_LT(late, 300ms) << call << " returned " << late.count() << " ms after cancel";
  }
}

// An HTTP/1.0 GET of `path` on 127.0.0.1:`port`: the whole answer, or "".
std::string loopback_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\n\r\n";
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (ssize_t n = 0; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) {
      answer.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

TEST_F(DockerEngineTest, BridgePortMappingAnswersOnTheHost) {
  if (!fixture_->bridge_available()) {
    GTEST_SKIP() << "no bridge network for Docker here: " << fixture_->bridge_unavailable_reason();
  }
  int port = tests::free_loopback_port();
  std::string name =
      run("stoa-bridge", {"--net=bridge", "-p", "127.0.0.1:" + std::to_string(port) + ":8080"},
          {"sh", "-c", "echo hello from stoa > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"});
  Try<ContainerState> s = engine_->inspect(name);
  ASSERT_TRUE(s.is_some()) << s.error();
  EXPECT_EQ(s->network_mode, "bridge");
  EXPECT_EQ(s->ip_address.rfind("172.31.", 0), 0u) << s->ip_address;
  std::string answer;
  // docker-proxy accepts at once; the answer comes once httpd listens.
  bool served = tests::poll_until(
      [&] {
        answer = loopback_get(port, "/index.html");
        return answer.find("hello from stoa") != std::string::npos;
      },
      tests::deadline_in(20s), 100ms);
  EXPECT_TRUE(served) << "last answer: " << answer;
}

}  // namespace
}  // namespace stoa::slave::docker
