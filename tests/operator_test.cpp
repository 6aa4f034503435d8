// The operator's endpoints end to end (docs/operator-api.md): POST
// /master/kill and /master/teardown on real tasks of real frameworks, the
// maintenance schedule's round trip, and the web UI served by the master.

#include <gtest/gtest.h>

#include <regex>

#include "common/json.hpp"
#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

Try<HttpResponse> post(int port, const std::string& path, const std::string& body,
                       const std::string& type = "application/x-www-form-urlencoded") {
  return http_raw("127.0.0.1", port,
                  "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: " + type +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

std::string message_of(const HttpResponse& r) {
  Try<picojson::value> v = json_parse(r.body);
  return v.is_some() ? json_string(json_at(*v, "message")) : r.body;
}

// The framework named `name` in `state` (active or completed), or null.
const picojson::value* framework_named(const picojson::value& state, const std::string& name, bool completed) {
  for (const auto& fw : json_array(json_at(state, completed ? "completed_frameworks" : "frameworks"))) {
    if (json_string(json_at(fw, "name")) == name) {
      return &fw;
    }
  }
  return nullptr;
}

// The state of task `tid` of framework `fid` anywhere in `state`, or "".
std::string task_state(const picojson::value& state, const std::string& fid, const std::string& tid) {
  for (const char* list : {"frameworks", "completed_frameworks"}) {
    for (const auto& fw : json_array(json_at(state, list))) {
      if (json_string(json_at(fw, "id")) != fid) {
        continue;
      }
      for (const char* tasks : {"tasks", "completed_tasks"}) {
        for (const auto& t : json_array(json_at(fw, tasks))) {
          if (json_string(json_at(t, "id")) == tid) {
            return json_string(json_at(t, "state"));
          }
        }
      }
    }
  }
  return "";
}

TEST(ClusterOperator, KillAndTeardownRealTasks) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const int port = cluster.master_port();

  // Two frameworks, each with a task of the same id.
  const std::string task = R"({"name":"dup","task_id":{"value":"dup"},"command":{"value":"sleep 600"}})";
  for (const char* name : {"fw-a", "fw-b"}) {
    Try<Process*> p = cluster.start("stoa-execute", name,
                                    {"--master=" + cluster.master_address(), "--framework_name=" + std::string(name),
                                     "--task=" + task, "--resources=cpus:0.1;mem:32"});
    ASSERT_TRUE(p) << p.error();
  }
  std::string fid_a, fid_b;
  bool running = poll_until(
      [&] {
        Try<picojson::value> state = cluster.state();
        if (state.is_error()) {
          return false;
        }
        const picojson::value* a = framework_named(*state, "fw-a", false);
        const picojson::value* b = framework_named(*state, "fw-b", false);
        if (a == nullptr || b == nullptr) {
          return false;
        }
        fid_a = json_string(json_at(*a, "id"));
        fid_b = json_string(json_at(*b, "id"));
        return task_state(*state, fid_a, "dup") == "TASK_RUNNING" && task_state(*state, fid_b, "dup") == "TASK_RUNNING";
      },
      deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(running) << "both tasks named 'dup' did not reach TASK_RUNNING";

  // Bad requests change nothing.
  Try<HttpResponse> r = post(port, "/master/kill", "taskID=dup");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_NE(message_of(*r).find(fid_a), std::string::npos) << r->body;
  EXPECT_NE(message_of(*r).find(fid_b), std::string::npos) << r->body;
  r = post(port, "/master/kill", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = post(port, "/master/kill", "taskID=nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_NE(message_of(*r).find("'nope'"), std::string::npos) << r->body;
  r = post(port, "/master/kill", R"({"task_id":"dup","framework_id":"no-such-framework"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  r = post(port, "/master/kill", "taskID=dup&color=red");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(message_of(*r).find("'color'"), std::string::npos) << r->body;
  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state);
  EXPECT_EQ(task_state(*state, fid_a, "dup"), "TASK_RUNNING");
  EXPECT_EQ(task_state(*state, fid_b, "dup"), "TASK_RUNNING");

  // The kill of fw-a's task: 202, then TASK_KILLED through the slave.
  r = post(port, "/master/kill", "taskID=dup&frameworkID=" + fid_a);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  Try<picojson::value> body = json_parse(r->body);
  ASSERT_TRUE(body) << r->body;
  EXPECT_EQ(json_string(json_at(*body, "task_id")), "dup");
  EXPECT_EQ(json_string(json_at(*body, "framework_id")), fid_a);
  EXPECT_FALSE(json_string(json_at(*body, "slave_id")).empty());
  bool killed = poll_until(
      [&] {
        Try<picojson::value> s = cluster.state();
        return s.is_some() && task_state(*s, fid_a, "dup") == "TASK_KILLED";
      },
      deadline_in(DEFAULT_TIMEOUT));
  EXPECT_TRUE(killed) << "fw-a's task did not become TASK_KILLED";
  state = cluster.state();
  ASSERT_TRUE(state);
  EXPECT_EQ(task_state(*state, fid_b, "dup"), "TASK_RUNNING") << "the other framework's task was touched";
  // Now only fw-b's is running: the id alone names it; fw-a's is terminal.
  r = post(port, "/master/kill", R"({"task_id":"dup","framework_id":")" + fid_a + "\"}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_NE(message_of(*r).find("TASK_KILLED"), std::string::npos) << r->body;

  // Teardown of fw-b: its task is killed and it is completed.
  r = post(port, "/master/teardown", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = post(port, "/master/teardown", "frameworkID=no-such-framework");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_EQ(message_of(*r), "No framework found with specified ID 'no-such-framework'");
  r = post(port, "/master/teardown", "frameworkID=" + fid_b);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  state = cluster.state();
  ASSERT_TRUE(state);
  EXPECT_EQ(framework_named(*state, "fw-b", false), nullptr);
  ASSERT_NE(framework_named(*state, "fw-b", true), nullptr) << "fw-b is not in completed_frameworks";
  EXPECT_EQ(task_state(*state, fid_b, "dup"), "TASK_KILLED");
  r = post(port, "/master/teardown", R"({"framework_id":")" + fid_b + "\"}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << "a completed framework: " << r->body;
  // The slave shuts the framework's executor down.
  EXPECT_TRUE(cluster.slave(0)->wait_for_line(
      std::regex("Executor dup of framework " + regex_escape(fid_b) + " exited"), deadline_in(DEFAULT_TIMEOUT)))
      << "the slave still runs fw-b's executor";
}

TEST(ClusterOperator, MaintenanceRoundTripAndWebUi) {
  STOA_REQUIRE_BINARIES("stoa-master");
  Cluster cluster;
  Try<Process*> master = cluster.start_master({"--webui_read_only"});
  ASSERT_TRUE(master) << master.error();
  const int port = cluster.master_port();

  Try<picojson::value> schedule = http_get_json("127.0.0.1", port, "/master/maintenance/schedule");
  ASSERT_TRUE(schedule) << schedule.error();
  EXPECT_EQ(schedule->serialize(), "{}");
  const std::string windows =
      R"({"windows":[{"machine_ids":[{"hostname":"h1","ip":"10.0.0.1"},{"hostname":"h2"}],)"
      R"("unavailability":{"start":{"nanoseconds":1700000000000000000},"duration":{"nanoseconds":3600000000000}}}]})";
  Try<HttpResponse> r = post(port, "/master/maintenance/schedule", windows, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  schedule = http_get_json("127.0.0.1", port, "/master/maintenance/schedule");
  ASSERT_TRUE(schedule);
  EXPECT_EQ(schedule->serialize(), json_parse(windows)->serialize());

  // Refused, and nothing changes: a machine in two windows, no id, bad ip.
  for (const std::string& bad :
       {std::string(R"({"windows":[{"machine_ids":[{"hostname":"h1"}],"unavailability":{"start":{"nanoseconds":1}}},)"
                    R"({"machine_ids":[{"hostname":"h1"}],"unavailability":{"start":{"nanoseconds":2}}}]})"),
        std::string(R"({"windows":[{"machine_ids":[{}],"unavailability":{"start":{"nanoseconds":1}}}]})"),
        std::string(R"({"windows":[{"machine_ids":[{"ip":"300.1.1.1"}],"unavailability":{"start":{"nanoseconds":1}}}]})"),
        std::string("not json")}) {
    r = post(port, "/master/maintenance/schedule", bad, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << " -> " << r->body;
  }
  schedule = http_get_json("127.0.0.1", port, "/master/maintenance/schedule");
  ASSERT_TRUE(schedule);
  EXPECT_EQ(schedule->serialize(), json_parse(windows)->serialize());

  // Down only for scheduled machines; up only for down ones.
  r = post(port, "/machine/down", R"([{"hostname":"elsewhere"}])", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = post(port, "/machine/up", R"([{"hostname":"h2"}])", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = post(port, "/machine/down", R"([{"hostname":"h2"}])", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  Try<picojson::value> status = http_get_json("127.0.0.1", port, "/master/maintenance/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(json_at(*status, "down_machines").serialize(), R"([{"hostname":"h2"}])");
  EXPECT_EQ(json_at(*status, "draining_machines").serialize(), R"([{"id":{"hostname":"h1","ip":"10.0.0.1"}}])");
  r = post(port, "/machine/up", R"([{"hostname":"h2"}])", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  status = http_get_json("127.0.0.1", port, "/master/maintenance/status");
  ASSERT_TRUE(status);
  EXPECT_TRUE(json_array(json_at(*status, "down_machines")).empty()) << status->serialize();
  schedule = http_get_json("127.0.0.1", port, "/master/maintenance/schedule");
  ASSERT_TRUE(schedule);
  EXPECT_EQ(schedule->serialize().find("h2"), std::string::npos) << "a machine back up leaves the schedule";

  // The web UI and its flag.
  Try<HttpResponse> index = http_get("127.0.0.1", port, "/");
  ASSERT_TRUE(index) << index.error();
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<html"), std::string::npos);
  EXPECT_FALSE(index->headers["etag"].empty());
  Try<HttpResponse> cached = http_raw("127.0.0.1", port,
                                      "GET /static/index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                      "If-None-Match: " + index->headers["etag"] + "\r\n\r\n");
  ASSERT_TRUE(cached) << cached.error();
  EXPECT_EQ(cached->status, 304);
  Try<picojson::value> flags = http_get_json("127.0.0.1", port, "/master/flags");
  ASSERT_TRUE(flags);
  EXPECT_EQ(json_string(json_at(json_at(*flags, "flags"), "webui_read_only")), "true");
}

}  // namespace
}  // namespace stoa::tests
