// The HTTP endpoints of a running master and slave, after real tasks ran,
// and flags taken from the environment.

#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

const std::string LOCALHOST = "127.0.0.1";

// The element of `list` whose `key` is `value`, or null.
const picojson::value* find_by(const picojson::value& list, const std::string& key, const std::string& value) {
  for (const auto& v : json_array(list)) {
    if (json_string(json_at(v, key)) == value) {
      return &v;
    }
  }
  return nullptr;
}

std::set<std::string> ids_of(const picojson::value& list) {
  std::set<std::string> out;
  for (const auto& v : json_array(list)) {
    out.insert(json_string(json_at(v, "id")));
  }
  return out;
}

// A cluster of one master and one slave (with attributes) on which two tasks
// of an example framework finished and a `sleep 1000` task of stoa-execute runs.
class ClusterEndpoints : public ::testing::Test {
 protected:
  void SetUp() override {
    STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute", "stoa-example-framework");
    Try<Process*> master = cluster.start_master();
    ASSERT_TRUE(master) << master.error();
    Try<Process*> slave =
        cluster.start_slave("cpus:2;mem:1024;disk:1000;ports:[31000-32000]", {"--attributes=rack:r1;zone:a"});
    ASSERT_TRUE(slave) << slave.error();
    ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
    Try<picojson::value> state = cluster.state();
    ASSERT_TRUE(state) << state.error();
    slave_id = json_string(json_at(json_array(json_at(*state, "slaves")).at(0), "id"));
    ASSERT_FALSE(slave_id.empty());

    Try<Process*> example = cluster.start("stoa-example-framework", "example",
                                          {"--master=" + cluster.master_address(), "--tasks=2", "--command=true",
                                           "--task_resources=cpus:0.1;mem:32"});
    ASSERT_TRUE(example) << example.error();
    std::optional<int> code = (*example)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
    ASSERT_TRUE(code) << "the example framework did not finish its 2 tasks";
    ASSERT_EQ(*code, 0) << (*example)->describe_exit();

    marker = unique_marker();
    Try<Process*> execute =
        cluster.start("stoa-execute", "execute",
                      {"--master=" + cluster.master_address(), "--name=sleeper",
                       "--command=sleep 1000; : " + marker, "--resources=cpus:0.1;mem:32"});
    ASSERT_TRUE(execute) << execute.error();
    auto running = (*execute)->wait_for_line(std::regex(R"(Received status update TASK_RUNNING for task (\S+))"),
                                             deadline_in(DEFAULT_TIMEOUT));
    ASSERT_TRUE(running) << "no TASK_RUNNING (" << (*execute)->describe_exit() << ")";
    running_task = (*running)[1];
    auto subscribed = (*execute)->wait_for_line(std::regex(R"(Subscribed with framework ID (\S+))"), deadline_in(1s));
    ASSERT_TRUE(subscribed);
    running_framework = (*subscribed)[1];
    // The master has seen TASK_RUNNING (stoa-execute printed it, so it was forwarded).
  }

  Try<picojson::value> master_json(const std::string& path) {
    return http_get_json(LOCALHOST, cluster.master_port(), path);
  }

  Cluster cluster;
  std::string slave_id;
  std::string marker;
  std::string running_task;
  std::string running_framework;
};

TEST_F(ClusterEndpoints, StateSummarySlavesFrameworksAndTasks) {
  Try<picojson::value> summary = master_json("/master/state-summary");
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_FALSE(json_string(json_at(*summary, "hostname")).empty());
  const picojson::value* s = find_by(json_at(*summary, "slaves"), "id", slave_id);
  ASSERT_NE(s, nullptr) << summary->serialize();
  EXPECT_EQ(json_number(json_at(*s, "TASK_RUNNING")), 1.0) << s->serialize();
  const picojson::value* f = find_by(json_at(*summary, "frameworks"), "id", running_framework);
  ASSERT_NE(f, nullptr) << summary->serialize();
  EXPECT_EQ(json_number(json_at(*f, "TASK_RUNNING")), 1.0) << f->serialize();
  EXPECT_NEAR(json_number(json_at(json_at(*f, "used_resources"), "cpus")), 0.1, 1e-9) << f->serialize();

  Try<picojson::value> slaves = master_json("/master/slaves");
  ASSERT_TRUE(slaves) << slaves.error();
  ASSERT_EQ(json_array(json_at(*slaves, "slaves")).size(), 1U) << slaves->serialize();
  const picojson::value& slave = json_array(json_at(*slaves, "slaves")).front();
  EXPECT_EQ(json_string(json_at(slave, "id")), slave_id);
  EXPECT_EQ(json_string(json_at(json_at(slave, "attributes"), "rack")), "r1") << slave.serialize();
  EXPECT_EQ(json_string(json_at(json_at(slave, "attributes"), "zone")), "a") << slave.serialize();
  EXPECT_EQ(json_number(json_at(json_at(slave, "resources"), "cpus")), 2.0) << slave.serialize();
  EXPECT_EQ(json_number(json_at(json_at(slave, "resources"), "mem")), 1024.0) << slave.serialize();
  EXPECT_NEAR(json_number(json_at(json_at(slave, "used_resources"), "cpus")), 0.1, 1e-9) << slave.serialize();
  Try<picojson::value> no_slave = master_json("/master/slaves?slave_id=no-such-slave");
  ASSERT_TRUE(no_slave) << no_slave.error();
  EXPECT_TRUE(json_array(json_at(*no_slave, "slaves")).empty()) << "?slave_id= does not filter";

  // The example framework tore down after its 2 tasks: completed, with both tasks finished.
  Try<picojson::value> frameworks = master_json("/master/frameworks");
  ASSERT_TRUE(frameworks) << frameworks.error();
  EXPECT_EQ(ids_of(json_at(*frameworks, "frameworks")), std::set<std::string>{running_framework})
      << frameworks->serialize();
  ASSERT_EQ(json_array(json_at(*frameworks, "completed_frameworks")).size(), 1U) << frameworks->serialize();
  const picojson::value& done = json_array(json_at(*frameworks, "completed_frameworks")).front();
  EXPECT_EQ(json_string(json_at(done, "name")), "stoa-example-framework");
  std::set<std::string> finished;
  for (const auto& t : json_array(json_at(done, "completed_tasks"))) {
    EXPECT_EQ(json_string(json_at(t, "state")), "TASK_FINISHED") << t.serialize();
    finished.insert(json_string(json_at(t, "id")));
  }
  EXPECT_EQ(finished, (std::set<std::string>{"example-0", "example-1"}));
  const picojson::value* running = find_by(json_at(*frameworks, "frameworks"), "id", running_framework);
  ASSERT_NE(running, nullptr);
  const picojson::value* task = find_by(json_at(*running, "tasks"), "id", running_task);
  ASSERT_NE(task, nullptr) << running->serialize();
  EXPECT_EQ(json_string(json_at(*task, "state")), "TASK_RUNNING");
  EXPECT_EQ(json_string(json_at(*task, "slave_id")), slave_id);
  Try<picojson::value> one_framework = master_json("/master/frameworks?framework_id=" + running_framework);
  ASSERT_TRUE(one_framework) << one_framework.error();
  EXPECT_EQ(ids_of(json_at(*one_framework, "frameworks")), std::set<std::string>{running_framework});
  EXPECT_TRUE(json_array(json_at(*one_framework, "completed_frameworks")).empty()) << "?framework_id= does not filter";

  // /master/tasks: all three, or as many as ?limit= says.
  Try<picojson::value> tasks = master_json("/master/tasks");
  ASSERT_TRUE(tasks) << tasks.error();
  EXPECT_EQ(ids_of(json_at(*tasks, "tasks")), (std::set<std::string>{"example-0", "example-1", running_task}))
      << tasks->serialize();
  Try<picojson::value> limited = master_json("/master/tasks?limit=1");
  ASSERT_TRUE(limited) << limited.error();
  EXPECT_EQ(json_array(json_at(*limited, "tasks")).size(), 1U) << limited->serialize();

  Try<HttpResponse> bad = http_get(LOCALHOST, cluster.master_port(), "/master/tasks?limit=abc");
  ASSERT_TRUE(bad) << bad.error();
  EXPECT_EQ(bad->status, 400) << bad->body;
  picojson::value error;
  ASSERT_TRUE(picojson::parse(error, bad->body).empty()) << "the 400 body is not JSON: " << bad->body;
  EXPECT_NE(json_string(json_at(error, "message")).find("abc"), std::string::npos)
      << "the message does not name the bad value: " << bad->body;
}

TEST_F(ClusterEndpoints, FlagsVersionHelpJsonpAndMetrics) {
  Try<picojson::value> flags = master_json("/master/flags");
  ASSERT_TRUE(flags) << flags.error();
  const picojson::value& f = json_at(*flags, "flags");
  EXPECT_EQ(json_string(json_at(f, "ip")), "127.0.0.1") << flags->serialize();
  EXPECT_EQ(json_string(json_at(f, "port")), "0") << flags->serialize();
  EXPECT_EQ(json_string(json_at(f, "work_dir")), cluster.dir() + "/master") << flags->serialize();

  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();
  Try<picojson::value> version = master_json("/version");
  ASSERT_TRUE(version) << version.error();
  EXPECT_FALSE(json_string(json_at(*version, "version")).empty()) << version->serialize();
  EXPECT_EQ(json_string(json_at(*version, "version")), json_string(json_at(*state, "version")));

  // /help lists the routes with their help text.
  Try<picojson::value> help = master_json("/help");
  ASSERT_TRUE(help) << help.error();
  for (const std::string path : {"/master/state", "/master/state-summary", "/master/slaves", "/master/frameworks",
                                 "/master/tasks", "/master/flags", "/metrics/snapshot", "/version", "/help"}) {
    const picojson::value* route = find_by(json_at(*help, "routes"), "path", path);
    EXPECT_NE(route, nullptr) << path << " is not in /help";
    if (route != nullptr) {
      EXPECT_FALSE(json_string(json_at(*route, "help")).empty()) << path << " has no help text";
    }
  }

  // JSONP wraps the state in the callback.
  Try<HttpResponse> jsonp = http_get(LOCALHOST, cluster.master_port(), "/master/state?jsonp=cb");
  ASSERT_TRUE(jsonp) << jsonp.error();
  EXPECT_EQ(jsonp->status, 200);
  ASSERT_EQ(jsonp->body.rfind("cb(", 0), 0U) << jsonp->body.substr(0, 80);
  size_t close = jsonp->body.rfind(')');
  ASSERT_NE(close, std::string::npos);
  picojson::value wrapped;
  EXPECT_TRUE(picojson::parse(wrapped, jsonp->body.substr(3, close - 3)).empty()) << "not JSON inside cb(...)";
  EXPECT_EQ(json_string(json_at(wrapped, "id")), json_string(json_at(*state, "id")));

  Try<picojson::value> metrics = master_json("/metrics/snapshot");
  ASSERT_TRUE(metrics) << metrics.error();
  EXPECT_EQ(json_number(json_at(*metrics, "master/slaves_active")), 1.0) << metrics->serialize();
  EXPECT_EQ(json_number(json_at(*metrics, "master/tasks_finished")), 2.0) << metrics->serialize();
  EXPECT_EQ(json_number(json_at(*metrics, "master/tasks_running")), 1.0) << metrics->serialize();
  // Messages received: the slave may have retried its registration.
  EXPECT_GE(json_number(json_at(*metrics, "master/messages_register_slave")), 1.0) << metrics->serialize();
}

TEST_F(ClusterEndpoints, SlaveStateAndHealth) {
  const int port = cluster.slave_port(0);
  Try<HttpResponse> health = http_get(LOCALHOST, port, "/slave(1)/health");
  ASSERT_TRUE(health) << health.error();
  EXPECT_EQ(health->status, 200);

  Try<picojson::value> state = Error("not asked yet");
  // The finished tasks' executors are archived once they have exited.
  bool archived = poll_until(
      [&] {
        state = http_get_json(LOCALHOST, port, "/slave(1)/state");
        if (state.is_error()) {
          return false;
        }
        size_t done = 0;
        for (const char* list : {"frameworks", "completed_frameworks"}) {
          for (const auto& fw : json_array(json_at(*state, list))) {
            for (const auto& e : json_array(json_at(fw, "completed_executors"))) {
              for (const auto& t : json_array(json_at(e, "completed_tasks"))) {
                done += json_string(json_at(t, "state")) == "TASK_FINISHED" ? 1 : 0;
              }
            }
          }
        }
        return done == 2;
      },
      deadline_in(5s));
  ASSERT_TRUE(state) << state.error();
  EXPECT_TRUE(archived) << "the 2 finished tasks are not under completed_executors[].completed_tasks: "
                        << state->serialize();

  EXPECT_EQ(json_string(json_at(*state, "id")), slave_id);
  EXPECT_EQ(json_number(json_at(json_at(*state, "resources"), "cpus")), 2.0) << state->serialize();
  EXPECT_EQ(json_number(json_at(json_at(*state, "resources"), "mem")), 1024.0) << state->serialize();
  EXPECT_EQ(json_string(json_at(json_at(*state, "attributes"), "rack")), "r1") << state->serialize();
  EXPECT_EQ(json_string(json_at(json_at(*state, "attributes"), "zone")), "a") << state->serialize();

  // The running task sits under its framework's executor.
  const picojson::value* fw = find_by(json_at(*state, "frameworks"), "id", running_framework);
  ASSERT_NE(fw, nullptr) << state->serialize();
  const picojson::value* task = nullptr;
  for (const auto& e : json_array(json_at(*fw, "executors"))) {
    if (const picojson::value* t = find_by(json_at(e, "tasks"), "id", running_task)) {
      task = t;
    }
  }
  ASSERT_NE(task, nullptr) << "task " << running_task << " is not in frameworks[].executors[].tasks: "
                           << fw->serialize();
  EXPECT_EQ(json_string(json_at(*task, "state")), "TASK_RUNNING");
  EXPECT_FALSE(processes_with_marker(marker).empty()) << "the running task's process is gone";
}

// Flags come from MESOS_<FLAG> (and STOA_<FLAG>) in the environment.
TEST(ClusterEnvironmentFlags, ClusterNameFromMesosCluster) {
  STOA_REQUIRE_BINARIES("stoa-master");
  Cluster cluster;
  Try<Process*> master = cluster.start_master_with_env({{"MESOS_CLUSTER", "seedcluster"}});
  ASSERT_TRUE(master) << master.error();
  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();
  EXPECT_EQ(json_string(json_at(*state, "cluster")), "seedcluster") << state->serialize();
  Try<picojson::value> summary = http_get_json(LOCALHOST, cluster.master_port(), "/master/state-summary");
  ASSERT_TRUE(summary) << summary.error();
  EXPECT_EQ(json_string(json_at(*summary, "cluster")), "seedcluster") << summary->serialize();
}

TEST(ClusterEnvironmentFlags, NonNumericStoaPortIsRejected) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir dir;
  Try<std::unique_ptr<Process>> p = Process::start(
      "stoa-master", {"--ip=127.0.0.1", "--work_dir=" + dir.path() + "/work"}, dir.path() + "/out.log",
      {{"STOA_PORT", "abc"}});
  ASSERT_TRUE(p) << p.error();
  std::optional<int> code = (*p)->wait_exit(deadline_in(5s));
  ASSERT_TRUE(code) << "stoa-master kept running with STOA_PORT=abc; output:\n" << (*p)->log();
  EXPECT_NE(*code, 0) << "stoa-master accepted STOA_PORT=abc; output:\n" << (*p)->log();
  EXPECT_LT(*code, 128) << "stoa-master died of a signal; output:\n" << (*p)->log();
  EXPECT_TRUE(std::regex_search((*p)->log(), std::regex("abc"))) << "the message does not name 'abc':\n"
                                                                  << (*p)->log();
  EXPECT_TRUE(std::regex_search((*p)->log(), std::regex("port|PORT"))) << "the message does not name the flag:\n"
                                                                        << (*p)->log();
}

}  // namespace
}  // namespace stoa::tests
