// Health checks end to end: stoa-execute --task launches a TaskInfo with a
// health_check through a real master and slave; the command executor runs
// the checker next to the task. The test owns what is checked (an HTTP
// server and a TCP listener on loopback, a file), flips it, and reads the
// status updates stoa-execute prints ("Received status update TASK_RUNNING
// for task t: ... (REASON_...) [healthy]").

#include <fstream>
#include <regex>

#include <gtest/gtest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/http.hpp"
#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

const std::regex HEALTHY(R"(TASK_RUNNING .*\(REASON_TASK_HEALTH_CHECK_STATUS_UPDATED\) \[healthy\])");
const std::regex UNHEALTHY(R"(TASK_RUNNING .*\(REASON_TASK_HEALTH_CHECK_STATUS_UPDATED\) \[unhealthy\])");
const std::regex KILLED(R"(TASK_KILLED .*\[unhealthy\])");

// A cluster with one slave, and stoa-execute runs against it.
class HealthChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
    Try<bool> started = cluster_.start_with_slaves(1);
    ASSERT_TRUE(started) << started.error();
  }

  // Runs `sleep 600` as task `name` with `health_check` (JSON), through a
  // --task file.
  Process* launch(const std::string& name, const std::string& health_check) {
    std::string path = cluster_.dir() + "/" + name + ".json";
    std::ofstream(path) << R"({"name": ")" << name << R"(", "command": {"value": "sleep 600"},)"
                        << R"( "health_check": )" << health_check << "}";
    Try<Process*> p = cluster_.start("stoa-execute", name,
                                     {"--master=" + cluster_.master_address(), "--task=" + path,
                                      "--resources=cpus:0.1;mem:32", "--timeout=2mins"});
    EXPECT_TRUE(p) << p.error();
    return p ? *p : nullptr;
  }

  // Waits until `p` has printed `count` lines matching `re`.
  static bool wait_lines(Process* p, const std::regex& re, size_t count, Clock::duration within = 30s) {
    return poll_until([&] { return p->lines_matching(re).size() >= count; }, deadline_in(within));
  }

  Cluster cluster_;
};

// An HTTP server in this process answering GET /health with `status`.
struct HealthEndpoint {
  HealthEndpoint() {
    cfg.load<caf::io::middleman>();
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    http::Route route;
    route.path = "/health";
    route.help = "The test's health endpoint.";
    auto code = status;
    route.handler = [code](caf::io::broker*, const http::Request&, http::Responder respond) {
      respond(http::text_response("status " + std::to_string(code->load()), code->load()));
    };
    auto server = http::spawn_server(*sys, http::ServerOptions{}, {route});
    if (server) {
      actor = server->actor;
      port = server->port;
    }
  }
  ~HealthEndpoint() {
    if (actor) {
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    }
    actor = caf::actor{};
    sys.reset();
  }
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<std::atomic<int>> status = std::make_shared<std::atomic<int>>(200);
  caf::actor actor;
  uint16_t port = 0;
};

TEST_F(HealthChecks, HttpCheckGoesHealthyThenUnhealthyAndKillsAfterConsecutiveFailures) {
  HealthEndpoint endpoint;
  ASSERT_NE(endpoint.port, 0) << "the test's HTTP server did not start";
  Process* execute = launch("web", R"({"type": "HTTP", "http": {"port": )" + std::to_string(endpoint.port) +
                                       R"(, "path": "/health"}, "delay_seconds": 0, "interval_seconds": 0.3,)"
                                       R"( "timeout_seconds": 5, "grace_period_seconds": 0, "consecutive_failures": 3})");
  ASSERT_NE(execute, nullptr);
  ASSERT_TRUE(wait_lines(execute, HEALTHY, 1)) << execute->log();
  endpoint.status->store(500);
  ASSERT_TRUE(wait_lines(execute, KILLED, 1)) << execute->log();

  std::vector<std::string> unhealthy = execute->lines_matching(UNHEALTHY);
  ASSERT_EQ(unhealthy.size(), 3u) << "one update per counted failure:\n" << execute->log();
  EXPECT_NE(unhealthy[0].find("Health check failed 1 time consecutively: HTTP health check of http://127.0.0.1:" +
                              std::to_string(endpoint.port) + "/health returned status 500 (expected 200..399)"),
            std::string::npos)
      << unhealthy[0];
  EXPECT_NE(unhealthy[2].find("failed 3 times consecutively"), std::string::npos) << unhealthy[2];
  std::vector<std::string> killed = execute->lines_matching(KILLED);
  EXPECT_NE(killed[0].find("Task killed after 3 consecutive failed health checks"), std::string::npos) << killed[0];
  EXPECT_NE(killed[0].find("(REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)"), std::string::npos) << killed[0];
  EXPECT_EQ(execute->lines_matching(HEALTHY).size(), 1u) << "later successes change nothing";
  std::optional<int> code = execute->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1) << "a killed task is not TASK_FINISHED";
}

// The statuses of the running task named `name` in /master/state.
picojson::array master_statuses(Cluster& cluster, const std::string& name) {
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return {};
  }
  for (const picojson::value& f : json_array(json_at(*state, "frameworks"))) {
    for (const picojson::value& t : json_array(json_at(f, "tasks"))) {
      if (json_string(json_at(t, "name")) == name) {
        return json_array(json_at(t, "statuses"));
      }
    }
  }
  return {};
}

std::string state_text(Cluster& cluster) {
  Try<picojson::value> state = cluster.state();
  return state.is_error() ? "GET /master/state failed: " + state.error() : state->serialize();
}

// How many of `statuses` carry "healthy": `healthy`.
size_t count_healthy(const picojson::array& statuses, bool healthy) {
  size_t n = 0;
  for (const picojson::value& s : statuses) {
    const picojson::value& h = json_at(s, "healthy");
    n += (h.is<bool>() && h.get<bool>() == healthy) ? 1 : 0;
  }
  return n;
}

TEST_F(HealthChecks, TcpCheckFollowsAListenerAndMasterStateShowsHealthy) {
  auto endpoint = std::make_unique<HealthEndpoint>();  // any listener will do
  ASSERT_NE(endpoint->port, 0);
  uint16_t port = endpoint->port;
  Process* execute = launch("db", R"({"type": "TCP", "tcp": {"port": )" + std::to_string(port) +
                                      R"(}, "delay_seconds": 0, "interval_seconds": 0.3, "timeout_seconds": 5,)"
                                      R"( "grace_period_seconds": 0, "consecutive_failures": 1000})");
  ASSERT_NE(execute, nullptr);
  ASSERT_TRUE(wait_lines(execute, HEALTHY, 1)) << execute->log();
  ASSERT_TRUE(poll_until([&] { return count_healthy(master_statuses(cluster_, "db"), true) >= 1; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "no statuses[].healthy=true in /master/state: " << state_text(cluster_);
  for (const picojson::value& s : master_statuses(cluster_, "db")) {
    if (json_string(json_at(s, "state")) != "TASK_RUNNING") {
      EXPECT_FALSE(json_at(s, "healthy").is<bool>()) << "healthy only where set: " << s.serialize();
    }
  }

  endpoint.reset();  // nothing listens any more
  ASSERT_TRUE(wait_lines(execute, UNHEALTHY, 1)) << execute->log();
  std::string first = execute->lines_matching(UNHEALTHY)[0];
  EXPECT_NE(first.find("TCP health check: cannot connect to 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << first;
  ASSERT_TRUE(poll_until([&] { return count_healthy(master_statuses(cluster_, "db"), false) >= 1; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << state_text(cluster_);
  EXPECT_EQ(execute->lines_matching(KILLED).size(), 0u);
}

TEST_F(HealthChecks, CommandCheckFollowsAFileTheTestCreatesAndRemoves) {
  std::string marker = cluster_.dir() + "/ready";
  std::ofstream(marker) << "ok";
  Process* execute = launch("cmd", R"({"type": "COMMAND", "command": {"value": "test -f )" + marker +
                                       R"("}, "delay_seconds": 0, "interval_seconds": 0.3, "timeout_seconds": 5,)"
                                       R"( "grace_period_seconds": 0, "consecutive_failures": 1000})");
  ASSERT_NE(execute, nullptr);
  ASSERT_TRUE(wait_lines(execute, HEALTHY, 1)) << execute->log();
  std::remove(marker.c_str());
  ASSERT_TRUE(wait_lines(execute, UNHEALTHY, 1)) << execute->log();
  EXPECT_NE(execute->lines_matching(UNHEALTHY)[0].find("exited with status 1"), std::string::npos)
      << execute->lines_matching(UNHEALTHY)[0];
  std::ofstream(marker) << "ok";
  ASSERT_TRUE(wait_lines(execute, HEALTHY, 2)) << "healthy again is reported:\n" << execute->log();
  EXPECT_EQ(execute->lines_matching(KILLED).size(), 0u);
}

TEST_F(HealthChecks, FailuresInsideTheGracePeriodDoNotKillButCountAfterTheFirstSuccess) {
  std::string marker = cluster_.dir() + "/warm";
  // One failure would kill, but the grace period covers the start.
  Process* execute = launch("slow", R"({"type": "COMMAND", "command": {"value": "test -f )" + marker +
                                        R"("}, "delay_seconds": 0, "interval_seconds": 0.2, "timeout_seconds": 5,)"
                                        R"( "grace_period_seconds": 60, "consecutive_failures": 1})");
  ASSERT_NE(execute, nullptr);
  // The executor logs each failure it ignores (glog, in the sandbox's stderr).
  auto ignored = [&] {
    size_t n = 0;
    for (const std::string& f : find_files_named(cluster_.slave_work_dir(0) + "/slaves", "stderr")) {
      std::string text = read_file(f);
      for (size_t at = text.find("inside the grace period"); at != std::string::npos;
           at = text.find("inside the grace period", at + 1)) {
        ++n;
      }
    }
    return n;
  };
  ASSERT_TRUE(poll_until([&] { return ignored() >= 3; }, deadline_in(30s))) << "no failure was ignored";
  EXPECT_EQ(execute->lines_matching(UNHEALTHY).size(), 0u) << execute->log();
  EXPECT_EQ(execute->lines_matching(KILLED).size(), 0u) << execute->log();
  std::ofstream(marker) << "ok";
  ASSERT_TRUE(wait_lines(execute, HEALTHY, 1)) << execute->log();
  EXPECT_EQ(execute->lines_matching(UNHEALTHY).size(), 0u) << execute->log();

  // After the first success the grace period is over: one failure kills.
  std::remove(marker.c_str());
  ASSERT_TRUE(wait_lines(execute, KILLED, 1)) << execute->log();
  EXPECT_NE(execute->lines_matching(KILLED)[0].find("Task killed after 1 failed health check"), std::string::npos)
      << execute->lines_matching(KILLED)[0];
}

TEST_F(HealthChecks, AnInvalidHealthCheckIsATaskErrorNamingTheField) {
  Process* execute = launch("bad", R"({"type": "TCP", "tcp": {"port": 70000}})");
  ASSERT_NE(execute, nullptr);
  std::optional<int> code = execute->wait_exit(deadline_in(30s));
  ASSERT_TRUE(code) << execute->log();
  EXPECT_EQ(*code, 1);
  std::vector<std::string> error = execute->lines_matching(std::regex(R"(TASK_ERROR)"));
  ASSERT_EQ(error.size(), 1u) << execute->log();
  EXPECT_NE(error[0].find("health_check.tcp.port 70000 is out of range (must be 1..65535)"), std::string::npos)
      << error[0];
  EXPECT_NE(error[0].find("(REASON_TASK_INVALID)"), std::string::npos) << error[0];
}

TEST_F(HealthChecks, StoaExecuteRejectsABadTaskFlagNamingTheProblem) {
  std::string path = cluster_.dir() + "/bogus.json";
  std::ofstream(path) << R"({"name": "x", "command": {"value": "true"}, "health_check": {"kind": "TCP"}})";
  for (auto [arg, expected] : {std::pair<std::string, std::string>{"--task=" + path, "(health_check) kind: Cannot find field"},
                               {"--task={\"name\": 1}", "needs a non-empty \"name\""},
                               {"--task={not json", "invalid JSON"},
                               {"--task=" + cluster_.dir() + "/missing.json", "neither a JSON object nor a readable file"}}) {
    Try<Process*> p = cluster_.start("stoa-execute", "bad-flag", {"--master=" + cluster_.master_address(), arg});
    ASSERT_TRUE(p) << p.error();
    std::optional<int> code = (*p)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
    ASSERT_TRUE(code) << arg;
    EXPECT_EQ(*code, 2) << arg;
    std::string log = (*p)->log();
    EXPECT_NE(log.find("Invalid --task: "), std::string::npos) << arg << ": " << log.substr(0, 300);
    EXPECT_NE(log.find(expected), std::string::npos) << arg << ": " << log.substr(0, 300);
    std::remove((*p)->log_path().c_str());  // the next run logs afresh
  }
}

}  // namespace
}  // namespace stoa::tests
