// stoa-services end to end (issue #13, "Tests (real local cluster)"): a real
// master, three slaves (racks r1, r1, r2; nodes n1..n3) and stoa-services
// with its file store, driven through Marathon's REST API and watched
// through /v2/events, /master/state and the master's /files/read. One
// cluster serves the whole suite (each test uses its own app ids); the HA
// test runs two stoa-services against a real ZooKeeper.

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <picojson.h>

#include "tests/cluster.hpp"
#include "tests/services_events.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::tests {
namespace {

constexpr auto SVC_TIMEOUT = std::chrono::seconds(40);

Try<HttpResponse> svc_request(int port, const std::string& method, const std::string& path,
                              const std::string& body = "", Deadline deadline = deadline_in(DEFAULT_TIMEOUT)) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return http_raw("127.0.0.1", port, req + "\r\n" + body, deadline);
}

picojson::value svc_parse(const std::string& text) {
  picojson::value v;
  std::string err = picojson::parse(v, text);
  return err.empty() ? v : picojson::value();
}

// Marathon's instance id of a task id (without "._app.<n>").
std::string svc_instance_id(const std::string& task_id) {
  size_t at = task_id.rfind("._app.");
  return at == std::string::npos ? task_id : task_id.substr(0, at);
}

// One stoa-services process and what it needs to come back after a restart.
struct SvcInstance {
  Process* process = nullptr;
  int port = 0;
  std::vector<std::string> args;
};

Try<SvcInstance> svc_start(Cluster& cluster, const std::string& label, int port, std::vector<std::string> extra) {
  std::vector<std::string> args = {"--master=" + cluster.master_address(), "--http_port=" + std::to_string(port),
                                   "--hostname=127.0.0.1", "--reconciliation_initial_delay=1secs"};
  args.insert(args.end(), extra.begin(), extra.end());
  Try<Process*> p = cluster.start("stoa-services", label, args);
  if (p.is_error()) {
    return Error(p.error());
  }
  bool up = poll_until(
      [&] {
        // Up, and a leader that has loaded its state answers (this one once elected, or the
        // one a standby proxies to): before that, writes get 502 or 503.
        Try<HttpResponse> r = svc_request(port, "GET", "/ping", "", deadline_in(std::chrono::seconds(1)));
        Try<HttpResponse> l = svc_request(port, "GET", "/v2/apps", "", deadline_in(std::chrono::seconds(1)));
        return r.is_some() && r->status == 200 && l.is_some() && l->status == 200;
      },
      deadline_in(SVC_TIMEOUT));
  if (!up) {
    return Error("stoa-services (" + label + ") did not answer /ping and /v2/apps: " + tail_of_file((*p)->log_path(), 20));
  }
  return SvcInstance{*p, port, args};
}

// GET /v2/apps/{id}'s "app" (with its tasks), or null.
picojson::value svc_app(int port, const std::string& id) {
  Try<HttpResponse> r = svc_request(port, "GET", "/v2/apps" + id);
  if (r.is_error() || r->status != 200) {
    return picojson::value();
  }
  return json_at(svc_parse(r->body), "app");
}

// Running tasks' ids (sorted), per /v2/apps/{id}.
std::vector<std::string> svc_running_tasks(int port, const std::string& id) {
  std::vector<std::string> out;
  const picojson::value tasks_json = svc_app(port, id);
  for (const picojson::value& t : json_array(json_at(tasks_json, "tasks"))) {
    if (json_string(json_at(t, "state")) == "TASK_RUNNING") {
      out.push_back(json_string(json_at(t, "id")));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool svc_no_deployments(int port) {
  Try<HttpResponse> r = svc_request(port, "GET", "/v2/deployments");
  return r.is_some() && r->status == 200 && json_array(svc_parse(r->body)).empty();
}

// Tasks of the "marathon" framework in /master/state: id → state.
std::map<std::string, std::string> svc_master_tasks(Cluster& cluster) {
  std::map<std::string, std::string> out;
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return out;
  }
  for (const picojson::value& f : json_array(json_at(*state, "frameworks"))) {
    if (json_string(json_at(f, "name")) != "marathon") {
      continue;
    }
    for (const picojson::value& t : json_array(json_at(f, "tasks"))) {
      out[json_string(json_at(t, "id"))] = json_string(json_at(t, "state"));
    }
  }
  return out;
}

// slave id → the value of attribute `name`, per /master/state.
std::map<std::string, std::string> svc_slave_attribute(Cluster& cluster, const std::string& name) {
  std::map<std::string, std::string> out;
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return out;
  }
  for (const picojson::value& s : json_array(json_at(*state, "slaves"))) {
    const picojson::value& v = json_at(json_at(s, "attributes"), name);
    out[json_string(json_at(s, "id"))] = v.is<std::string>() ? v.get<std::string>() : v.serialize();
  }
  return out;
}

class ServicesEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (missing_binaries({"stoa-master", "stoa-slave", "stoa-executor", "stoa-services"})) {
      return;
    }
    cluster_ = new Cluster();
    if (!cluster_->start_master()) {
      return;
    }
    const char* attrs[] = {"rack:r1;node:n1", "rack:r1;node:n2", "rack:r2;node:n3"};
    for (const char* a : attrs) {
      if (!cluster_->start_slave("cpus:4;mem:2048;disk:1000;ports:[31000-32000]", {std::string("--attributes=") + a})) {
        return;
      }
    }
    if (!cluster_->wait_for_active_slaves(3, deadline_in(SVC_TIMEOUT))) {
      return;
    }
    Try<SvcInstance> svc =
        svc_start(*cluster_, "services", free_loopback_port(), {"--work_dir=" + cluster_->dir() + "/services"});
    if (svc.is_error()) {
      start_error_ = svc.error();
      return;
    }
    svc_ = new SvcInstance(*svc);
  }
  static void TearDownTestSuite() {
    delete svc_;
    svc_ = nullptr;
    delete cluster_;
    cluster_ = nullptr;
  }
  void SetUp() override {
    STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-services");
    ASSERT_NE(svc_, nullptr) << "the cluster did not start: " << start_error_;
    port_ = svc_->port;
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) {
      cluster_->print_logs(60);
    }
  }
  Try<HttpResponse> post_app(const std::string& json) { return svc_request(port_, "POST", "/v2/apps", json); }
  bool wait_running(const std::string& id, size_t n) {
    return poll_until([&] { return svc_running_tasks(port_, id).size() == n && svc_no_deployments(port_); },
                      deadline_in(SVC_TIMEOUT));
  }

  static Cluster* cluster_;
  static SvcInstance* svc_;
  static std::string start_error_;
  int port_ = 0;
};

Cluster* ServicesEndToEnd::cluster_ = nullptr;
SvcInstance* ServicesEndToEnd::svc_ = nullptr;
std::string ServicesEndToEnd::start_error_;

TEST_F(ServicesEndToEnd, HelloMesosRunsPrintsThroughTheMasterAndIsAFrameworkTask) {
  Try<HttpResponse> r = post_app(
      R"({"id":"/hello","cmd":"while [ true ];do sleep 1;echo 'hello mesos' ;done","cpus":0.1,"mem":32})");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->status, 201) << r->body;
  ASSERT_TRUE(wait_running("/hello", 1)) << svc_app(port_, "/hello").serialize();
  std::string task = svc_running_tasks(port_, "/hello").front();
  EXPECT_EQ(svc_master_tasks(*cluster_)[task], "TASK_RUNNING");

  // Its stdout, through the master's /files/read.
  std::string stdout_path;
  for (size_t k = 0; k < 3 && stdout_path.empty(); ++k) {
    for (const std::string& f : find_files_named(cluster_->slave_work_dir(k), "stdout")) {
      if (f.find(task) != std::string::npos) {
        stdout_path = f;
      }
    }
  }
  ASSERT_FALSE(stdout_path.empty()) << "no sandbox for " << task;
  std::string data;
  bool printed = poll_until(
      [&] {
        Try<HttpResponse> read =
            http_get("127.0.0.1", cluster_->master_port(), "/files/read?path=" + stdout_path + "&offset=0");
        data = read.is_some() ? json_string(json_at(svc_parse(read->body), "data")) : "";
        return data.find("hello mesos") != std::string::npos;
      },
      deadline_in(SVC_TIMEOUT));
  EXPECT_TRUE(printed) << data;
}

TEST_F(ServicesEndToEnd, ScalingOneFiveTwoEmitsEventsForEachStep) {
  SvcEvents events;
  ASSERT_TRUE(events.connect(port_));
  EXPECT_NE(events.status_line().find("200"), std::string::npos) << events.status_line();
  Try<HttpResponse> r = post_app(R"({"id":"/scale","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":1})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(wait_running("/scale", 1));
  for (const char* type : {"api_post_event", "group_change_success", "deployment_info", "deployment_step_success",
                           "deployment_success", "status_update_event", "instance_changed_event"}) {
    EXPECT_TRUE(poll_until([&] { return events.saw(type); }, deadline_in(DEFAULT_TIMEOUT))) << type;
  }
  for (int n : {5, 2}) {
    r = svc_request(port_, "PUT", "/v2/apps/scale", "{\"instances\":" + std::to_string(n) + "}");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error());
    std::string deployment = json_string(json_at(svc_parse(r->body), "deploymentId"));
    EXPECT_FALSE(deployment.empty()) << r->body;
    ASSERT_TRUE(wait_running("/scale", static_cast<size_t>(n))) << svc_app(port_, "/scale").serialize();
    // The deployment's own events.
    EXPECT_TRUE(poll_until(
        [&] {
          for (const auto& [type, data] : events.events()) {
            if (type == "deployment_success" && json_string(json_at(data, "id")) == deployment) {
              return true;
            }
          }
          return false;
        },
        deadline_in(DEFAULT_TIMEOUT)))
        << deployment;
  }
  // The master agrees: two running tasks of this app.
  std::vector<std::string> ours = svc_running_tasks(port_, "/scale");
  EXPECT_TRUE(poll_until(
      [&] {
        size_t running = 0;
        for (const auto& [id, state] : svc_master_tasks(*cluster_)) {
          running += id.rfind("scale.", 0) == 0 && state == "TASK_RUNNING" ? 1 : 0;
        }
        return running == 2;
      },
      deadline_in(SVC_TIMEOUT)));
}

TEST_F(ServicesEndToEnd, ConstraintsUniqueAndGroupByOverSlaveAttributes) {
  Try<HttpResponse> r = post_app(
      R"({"id":"/uniq","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":3,"constraints":[["node","UNIQUE"]]})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  r = post_app(
      R"({"id":"/grouped","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":4,"constraints":[["rack","GROUP_BY","2"]]})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(wait_running("/uniq", 3));
  ASSERT_TRUE(wait_running("/grouped", 4));
  std::map<std::string, std::string> node = svc_slave_attribute(*cluster_, "node");
  std::map<std::string, std::string> rack = svc_slave_attribute(*cluster_, "rack");
  std::set<std::string> nodes;
  const picojson::value tasks_json = svc_app(port_, "/uniq");
  for (const picojson::value& t : json_array(json_at(tasks_json, "tasks"))) {
    nodes.insert(node[json_string(json_at(t, "slaveId"))]);
  }
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2", "n3"}));
  std::map<std::string, int> per_rack;
  const picojson::value grouped_json = svc_app(port_, "/grouped");
  for (const picojson::value& t : json_array(json_at(grouped_json, "tasks"))) {
    ++per_rack[rack[json_string(json_at(t, "slaveId"))]];
  }
  EXPECT_EQ(per_rack, (std::map<std::string, int>{{"r1", 2}, {"r2", 2}}));

  // A fourth UNIQUE task has nowhere to go: it waits in the queue.
  r = svc_request(port_, "PUT", "/v2/apps/uniq", R"({"instances":4})");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error());
  EXPECT_TRUE(poll_until(
      [&] {
        Try<HttpResponse> q = svc_request(port_, "GET", "/v2/queue");
        if (q.is_error()) {
          return false;
        }
        const picojson::value queue_json = svc_parse(q->body);
        for (const picojson::value& e : json_array(json_at(queue_json, "queue"))) {
          if (json_string(json_at(json_at(e, "app"), "id")) == "/uniq" && json_number(json_at(e, "count")) == 1) {
            return true;
          }
        }
        return false;
      },
      deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_EQ(svc_running_tasks(port_, "/uniq").size(), 3u);
  r = svc_request(port_, "DELETE", "/v2/apps/uniq");
  EXPECT_TRUE(r && r->status == 200) << (r ? r->body : r.error());
}

TEST_F(ServicesEndToEnd, AFailingHealthCheckReplacesTheTask) {
  SvcEvents events;
  ASSERT_TRUE(events.connect(port_, "?event_type=unhealthy_instance_kill_event&event_type=failed_health_check_event"));
  // Nothing listens on the task's port: every probe fails after the grace period.
  Try<HttpResponse> r = post_app(R"({"id":"/sick","cmd":"sleep 1000","cpus":0.1,"mem":16,
      "healthChecks":[{"protocol":"HTTP","path":"/","portIndex":0,"gracePeriodSeconds":1,
      "intervalSeconds":1,"timeoutSeconds":1,"maxConsecutiveFailures":2}]})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  std::vector<std::string> first;
  ASSERT_TRUE(poll_until([&] { first = svc_running_tasks(port_, "/sick"); return first.size() == 1; },
                         deadline_in(SVC_TIMEOUT)));
  EXPECT_TRUE(poll_until(
      [&] {
        std::vector<std::string> now = svc_running_tasks(port_, "/sick");
        return now.size() == 1 && now != first;
      },
      deadline_in(SVC_TIMEOUT)))
      << "task " << first.front() << " was not replaced";
  EXPECT_TRUE(events.saw("failed_health_check_event"));
  EXPECT_TRUE(events.saw("unhealthy_instance_kill_event"));
  for (const auto& [type, data] : events.events()) {
    EXPECT_NE(type, "deployment_info") << "the filter let another type through";
  }
  r = svc_request(port_, "DELETE", "/v2/apps/sick");
  EXPECT_TRUE(r && r->status == 200);
}

// The readiness results of /readiness's current action in GET /v2/deployments ([] if none).
picojson::array svc_readiness_results(int port) {
  Try<HttpResponse> r = svc_request(port, "GET", "/v2/deployments");
  if (r.is_error() || r->status != 200) {
    return {};
  }
  const picojson::value deployments = svc_parse(r->body);
  for (const picojson::value& d : json_array(deployments)) {
    for (const picojson::value& a : json_array(json_at(d, "currentActions"))) {
      if (json_string(json_at(a, "app")) == "/readiness") {
        return json_array(json_at(a, "readinessCheckResults"));
      }
    }
  }
  return {};
}

TEST_F(ServicesEndToEnd, AReadinessCheckHoldsTheDeploymentUntilTheTaskIsReady) {
  // python3's http.server serves the sandbox: /ready is a 404 until the file exists.
  Try<HttpResponse> r = post_app(R"({"id":"/readiness","cmd":"exec python3 -m http.server $PORT0","cpus":0.1,"mem":64,
      "portDefinitions":[{"port":0,"name":"http"}],
      "readinessChecks":[{"name":"ready","protocol":"HTTP","path":"/ready","portName":"http","intervalSeconds":1,
                          "timeoutSeconds":2,"httpStatusCodesForReady":[200],"preserveLastResponse":true}]})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  std::vector<std::string> tasks;
  ASSERT_TRUE(poll_until([&] { tasks = svc_running_tasks(port_, "/readiness"); return tasks.size() == 1; },
                         deadline_in(SVC_TIMEOUT)));
  const std::string task = tasks.front();
  // Running, answering 404: not ready, and the deployment waits.
  picojson::array results;
  ASSERT_TRUE(poll_until(
      [&] {
        results = svc_readiness_results(port_);
        return results.size() == 1 && json_number(json_at(json_at(results[0], "lastResponse"), "status")) == 404;
      },
      deadline_in(SVC_TIMEOUT)))
      << picojson::value(results).serialize();
  EXPECT_EQ(json_string(json_at(results[0], "name")), "ready");
  EXPECT_EQ(json_string(json_at(results[0], "taskId")), task);
  EXPECT_EQ(json_at(results[0], "ready"), picojson::value(false));
  EXPECT_FALSE(svc_no_deployments(port_));

  std::string sandbox;
  for (size_t k = 0; k < 3 && sandbox.empty(); ++k) {
    for (const std::string& f : find_files_named(cluster_->slave_work_dir(k), "stdout")) {
      if (f.find(task) != std::string::npos) {
        sandbox = f.substr(0, f.rfind('/'));
      }
    }
  }
  ASSERT_FALSE(sandbox.empty()) << "no sandbox for " << task;
  std::ofstream(sandbox + "/ready") << "ok\n";
  EXPECT_TRUE(poll_until([&] { return svc_no_deployments(port_); }, deadline_in(SVC_TIMEOUT)))
      << picojson::value(svc_readiness_results(port_)).serialize();
  EXPECT_EQ(svc_running_tasks(port_, "/readiness"), tasks);
  r = svc_request(port_, "DELETE", "/v2/apps/readiness");
  EXPECT_TRUE(r && r->status == 200);
}

TEST_F(ServicesEndToEnd, AMesosLevelCheckRunsOnTheSlaveAndGatesTheDeployment) {
  Try<HttpResponse> r = post_app(R"({"id":"/checked","cmd":"sleep 1000","cpus":0.1,"mem":16,
      "healthChecks":[{"protocol":"COMMAND","command":{"value":"true"},"gracePeriodSeconds":10,
      "intervalSeconds":1,"timeoutSeconds":5,"delaySeconds":0,"maxConsecutiveFailures":3}]})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  // The deployment ends only once the slave reports the task healthy.
  ASSERT_TRUE(wait_running("/checked", 1)) << svc_app(port_, "/checked").serialize();
  picojson::value app = svc_app(port_, "/checked");
  EXPECT_EQ(json_number(json_at(app, "tasksHealthy")), 1) << app.serialize();
  r = svc_request(port_, "DELETE", "/v2/apps/checked");
  EXPECT_TRUE(r && r->status == 200);
}

TEST_F(ServicesEndToEnd, ARollingUpgradeNeverDropsBelowMinimumHealthCapacity) {
  if (access("/usr/bin/python3", X_OK) != 0) {
    GTEST_SKIP() << "needs /usr/bin/python3 for an HTTP server task";
  }
  const std::string app = R"({"id":"/web","cmd":"exec /usr/bin/python3 -m http.server $PORT0 --bind 127.0.0.1",
      "cpus":0.1,"mem":32,"instances":2,"env":{"V":"%V%"},
      "upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0},
      "healthChecks":[{"protocol":"HTTP","path":"/","portIndex":0,"gracePeriodSeconds":30,
      "intervalSeconds":1,"timeoutSeconds":2,"maxConsecutiveFailures":5}]})";
  auto with_version = [&](const std::string& v) {
    std::string s = app;
    s.replace(s.find("%V%"), 3, v);
    return s;
  };
  Try<HttpResponse> r = post_app(with_version("1"));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(wait_running("/web", 2));
  ASSERT_TRUE(poll_until([&] { return json_number(json_at(svc_app(port_, "/web"), "tasksHealthy")) == 2; },
                         deadline_in(SVC_TIMEOUT)));

  std::vector<std::string> old_tasks = svc_running_tasks(port_, "/web");
  SvcEvents events;
  ASSERT_TRUE(events.connect(port_, "?event_type=health_status_changed_event&event_type=status_update_event"
                                    "&event_type=deployment_success&event_type=deployment_failed"));
  r = svc_request(port_, "PUT", "/v2/apps/web", with_version("2"));
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error());
  std::string deployment = json_string(json_at(svc_parse(r->body), "deploymentId"));
  ASSERT_TRUE(poll_until([&] { return events.saw("deployment_success"); }, deadline_in(std::chrono::seconds(90))))
      << svc_app(port_, "/web").serialize();
  EXPECT_FALSE(events.saw("deployment_failed"));

  // Replay the stream: the two old instances start healthy; an instance is
  // healthy from its alive=true until alive=false or a state other than
  // running. ceil(2 * 0.5) = 1 must stay healthy throughout.
  std::set<std::string> healthy;
  std::set<std::string> old_instances;
  for (const std::string& t : old_tasks) {
    healthy.insert(svc_instance_id(t));
    old_instances.insert(svc_instance_id(t));
  }
  size_t lowest = healthy.size();
  size_t old_stopped = 0;
  for (const auto& [type, data] : events.events()) {
    if (type == "status_update_event") {
      std::string id = svc_instance_id(json_string(json_at(data, "taskId")));
      std::string state = json_string(json_at(data, "taskStatus"));
      if (state != "TASK_RUNNING" && state != "TASK_STAGING" && state != "TASK_STARTING") {
        healthy.erase(id);
        old_stopped += old_instances.count(id) > 0 && state != "TASK_KILLING" ? 1 : 0;
      }
    } else if (type == "health_status_changed_event") {
      std::string id = json_string(json_at(data, "instanceId"));
      if (json_at(data, "alive").evaluate_as_boolean()) {
        healthy.insert(id);
      } else {
        healthy.erase(id);
      }
    } else {
      continue;
    }
    lowest = std::min(lowest, healthy.size());
  }
  EXPECT_GE(lowest, 1u) << "healthy instances fell below ceil(2 * 0.5) during deployment " << deployment;
  EXPECT_EQ(old_stopped, 2u) << "the old instances were not both replaced";
  std::vector<std::string> now = svc_running_tasks(port_, "/web");
  for (const std::string& t : old_tasks) {
    EXPECT_EQ(std::count(now.begin(), now.end(), t), 0) << t << " still runs";
  }
  EXPECT_EQ(svc_running_tasks(port_, "/web").size(), 2u);
  r = svc_request(port_, "DELETE", "/v2/apps/web");
  EXPECT_TRUE(r && r->status == 200);
}

TEST_F(ServicesEndToEnd, BadAppJsonIs422AndChangesNothing) {
  Try<HttpResponse> apps_before = svc_request(port_, "GET", "/v2/apps");
  ASSERT_TRUE(apps_before);
  Try<HttpResponse> r = post_app(R"({"id":"/bad","cmd":"sleep 1","cpus":-1,"instances":-2})");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 422) << r->body;
  picojson::value body = svc_parse(r->body);
  EXPECT_EQ(json_string(json_at(body, "message")), "Object is not valid") << r->body;
  EXPECT_FALSE(json_array(json_at(body, "details")).empty()) << r->body;
  r = post_app(R"({"id":"/bad","cmd":)");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  r = svc_request(port_, "GET", "/v2/apps/bad");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  Try<HttpResponse> apps_after = svc_request(port_, "GET", "/v2/apps");
  ASSERT_TRUE(apps_after);
  EXPECT_EQ(json_array(json_at(svc_parse(apps_after->body), "apps")).size(),
            json_array(json_at(svc_parse(apps_before->body), "apps")).size());
}

TEST_F(ServicesEndToEnd, RestartReplacesEveryTask) {
  Try<HttpResponse> r = post_app(R"({"id":"/again","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":2})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(wait_running("/again", 2));
  std::vector<std::string> before = svc_running_tasks(port_, "/again");
  r = svc_request(port_, "POST", "/v2/apps/again/restart", "");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error());
  EXPECT_FALSE(json_string(json_at(svc_parse(r->body), "deploymentId")).empty()) << r->body;
  std::vector<std::string> after;
  ASSERT_TRUE(poll_until(
      [&] {
        after = svc_running_tasks(port_, "/again");
        return after.size() == 2 && svc_no_deployments(port_);
      },
      deadline_in(SVC_TIMEOUT)));
  for (const std::string& t : before) {
    EXPECT_EQ(std::count(after.begin(), after.end(), t), 0) << t << " survived the restart";
  }
  r = svc_request(port_, "DELETE", "/v2/apps/again");
  EXPECT_TRUE(r && r->status == 200);
}

TEST_F(ServicesEndToEnd, CancellingAStuckDeploymentRevertsIt) {
  // Four UNIQUE tasks on three nodes: the deployment cannot finish.
  Try<HttpResponse> r = post_app(
      R"({"id":"/stuck","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":4,"constraints":[["node","UNIQUE"]]})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(poll_until([&] { return svc_running_tasks(port_, "/stuck").size() == 3; }, deadline_in(SVC_TIMEOUT)));
  Try<HttpResponse> list = svc_request(port_, "GET", "/v2/deployments");
  ASSERT_TRUE(list && list->status == 200);
  std::string id;
  const picojson::value deployments = svc_parse(list->body);
  for (const picojson::value& d : json_array(deployments)) {
    for (const picojson::value& app : json_array(json_at(d, "affectedApps"))) {
      if (json_string(app) == "/stuck") {
        id = json_string(json_at(d, "id"));
      }
    }
  }
  ASSERT_FALSE(id.empty()) << list->body;
  // Another change of the app is locked.
  r = svc_request(port_, "PUT", "/v2/apps/stuck", R"({"instances":5})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_NE(r->body.find(id), std::string::npos) << r->body;

  r = svc_request(port_, "DELETE", "/v2/deployments/" + id);
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : r.error());
  // The app was new: the revert stops and removes it.
  EXPECT_TRUE(poll_until(
      [&] {
        Try<HttpResponse> app = svc_request(port_, "GET", "/v2/apps/stuck");
        return app.is_some() && app->status == 404 && svc_no_deployments(port_);
      },
      deadline_in(SVC_TIMEOUT)));
  EXPECT_TRUE(poll_until(
      [&] {
        for (const auto& [task, state] : svc_master_tasks(*cluster_)) {
          if (task.rfind("stuck.", 0) == 0) {
            return false;
          }
        }
        return true;
      },
      deadline_in(SVC_TIMEOUT)));
}

// The /v2/queue entry of `id` ({count, delay, ...}), or null.
picojson::value svc_queue_entry(int port, const std::string& id) {
  Try<HttpResponse> q = svc_request(port, "GET", "/v2/queue");
  if (q.is_error() || q->status != 200) {
    return picojson::value();
  }
  const picojson::value queue = svc_parse(q->body);
  for (const picojson::value& e : json_array(json_at(queue, "queue"))) {
    if (json_string(json_at(json_at(e, "app"), "id")) == id) {
      return e;
    }
  }
  return picojson::value();
}

TEST_F(ServicesEndToEnd, AFailingTaskIsDelayedUntilTheDelayIsReset) {
  Try<HttpResponse> r = post_app(
      R"({"id":"/crash","cmd":"exit 3","cpus":0.1,"mem":16,"backoffSeconds":600,"backoffFactor":2,"maxLaunchDelaySeconds":3600})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  // The first failure: recorded, and the relaunch waits (10 minutes).
  picojson::value failure;
  ASSERT_TRUE(poll_until(
      [&] {
        Try<HttpResponse> a = svc_request(port_, "GET", "/v2/apps/crash?embed=app.lastTaskFailure");
        failure = a.is_some() ? json_at(json_at(svc_parse(a->body), "app"), "lastTaskFailure") : picojson::value();
        return failure.is<picojson::object>();
      },
      deadline_in(SVC_TIMEOUT)));
  EXPECT_EQ(json_string(json_at(failure, "state")), "TASK_FAILED") << failure.serialize();
  std::string first = json_string(json_at(failure, "taskId"));
  picojson::value entry;
  ASSERT_TRUE(poll_until([&] { entry = svc_queue_entry(port_, "/crash"); return entry.is<picojson::object>(); },
                         deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_EQ(json_number(json_at(entry, "count")), 1) << entry.serialize();
  EXPECT_GT(json_number(json_at(json_at(entry, "delay"), "timeLeftSeconds")), 500) << entry.serialize();
  EXPECT_TRUE(svc_running_tasks(port_, "/crash").empty());

  // Reset: it is launched (and fails) again at once.
  r = svc_request(port_, "DELETE", "/v2/queue/crash/delay");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204) << r->body;
  EXPECT_TRUE(poll_until(
      [&] {
        Try<HttpResponse> a = svc_request(port_, "GET", "/v2/apps/crash?embed=app.lastTaskFailure");
        std::string id = a.is_some()
                             ? json_string(json_at(json_at(json_at(svc_parse(a->body), "app"), "lastTaskFailure"), "taskId"))
                             : "";
        return !id.empty() && id != first;
      },
      deadline_in(SVC_TIMEOUT)));
  r = svc_request(port_, "DELETE", "/v2/apps/crash");
  EXPECT_TRUE(r && r->status == 200);
}

// /lost's lastTaskFailure (null if none).
picojson::value svc_last_failure(int port, const std::string& id) {
  Try<HttpResponse> a = svc_request(port, "GET", "/v2/apps" + id + "?embed=app.lastTaskFailure");
  return a.is_some() ? json_at(json_at(svc_parse(a->body), "app"), "lastTaskFailure") : picojson::value();
}

// Last in the suite: it restarts the shared stoa-services.
TEST_F(ServicesEndToEnd, ZRestartWithTheFileStoreKeepsAppsTasksAndTheLastFailure) {
  Try<HttpResponse> r = post_app(R"({"id":"/keep","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":2})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  // A task that fails once, then waits out a long launch delay.
  r = post_app(R"({"id":"/lost","cmd":"exit 3","cpus":0.1,"mem":16,"backoffSeconds":600,"maxLaunchDelaySeconds":3600})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  picojson::value failure;
  ASSERT_TRUE(poll_until([&] { failure = svc_last_failure(port_, "/lost"); return failure.is<picojson::object>(); },
                         deadline_in(SVC_TIMEOUT)));
  ASSERT_EQ(json_string(json_at(failure, "state")), "TASK_FAILED") << failure.serialize();
  ASSERT_TRUE(wait_running("/keep", 2));
  std::vector<std::string> tasks = svc_running_tasks(port_, "/keep");
  std::string version = json_string(json_at(svc_app(port_, "/keep"), "version"));
  // The failure and the delay are written behind the answer (queued writes,
  // docs/services.md "Persistence"): kill only once both are on disk.
  const std::string state = cluster_->dir() + "/services/state/";
  ASSERT_TRUE(poll_until(
      [&] {
        return std::filesystem::exists(state + "task-failures/lost.v") &&
               std::filesystem::exists(state + "launch-delays/lost.v");
      },
      deadline_in(SVC_TIMEOUT)))
      << "the file store never got /lost's failure and delay under " << state;

  svc_->process->kill(SIGKILL);
  ASSERT_TRUE(svc_->process->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  Try<Process*> again = cluster_->start("stoa-services", "services-restarted", svc_->args);
  ASSERT_TRUE(again) << again.error();
  svc_->process = *again;
  EXPECT_TRUE(poll_until([&] { return svc_running_tasks(port_, "/keep") == tasks; }, deadline_in(SVC_TIMEOUT)))
      << svc_app(port_, "/keep").serialize();
  EXPECT_EQ(json_string(json_at(svc_app(port_, "/keep"), "version")), version);
  std::map<std::string, std::string> master = svc_master_tasks(*cluster_);
  for (const std::string& t : tasks) {
    EXPECT_EQ(master[t], "TASK_RUNNING") << t;
  }
  // The failure and the launch delay came back from the store.
  picojson::value after = svc_last_failure(port_, "/lost");
  EXPECT_EQ(json_string(json_at(after, "taskId")), json_string(json_at(failure, "taskId"))) << after.serialize();
  EXPECT_EQ(json_string(json_at(after, "timestamp")), json_string(json_at(failure, "timestamp")));
  picojson::value entry = svc_queue_entry(port_, "/lost");
  EXPECT_GT(json_number(json_at(json_at(entry, "delay"), "timeLeftSeconds")), 500) << entry.serialize();
  EXPECT_TRUE(svc_running_tasks(port_, "/lost").empty());
}

TEST(ServicesHighAvailability, KillingTheLeaderLetsTheStandbyLeadWithTheSameAppsAndTasks) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-services");
  STOA_REQUIRE_ZOOKEEPER();
  Try<ZooKeeperServer*> zk = shared_zookeeper_server();
  ASSERT_TRUE(zk) << zk.error();
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  std::string zk_url = "zk://" + (*zk)->connect_string() + "/marathon-" + unique_marker();
  std::vector<SvcInstance> svcs;
  for (const char* label : {"services-a", "services-b"}) {
    Try<SvcInstance> s = svc_start(cluster, label, free_loopback_port(), {"--zk=" + zk_url, "--zk_session_timeout=2secs"});
    ASSERT_TRUE(s) << s.error();
    svcs.push_back(*s);
  }
  auto leader_of = [](int port) {
    Try<HttpResponse> r = svc_request(port, "GET", "/v2/leader");
    return r.is_some() && r->status == 200 ? json_string(json_at(svc_parse(r->body), "leader")) : std::string();
  };
  // Both instances agree on the leader.
  std::string leader;
  ASSERT_TRUE(poll_until(
      [&] {
        leader = leader_of(svcs[0].port);
        return !leader.empty() && leader_of(svcs[1].port) == leader;
      },
      deadline_in(SVC_TIMEOUT)));
  size_t li = leader == "127.0.0.1:" + std::to_string(svcs[0].port) ? 0 : 1;
  size_t si = 1 - li;
  ASSERT_EQ(leader, "127.0.0.1:" + std::to_string(svcs[li].port));

  // Through the standby: it proxies to the leader.
  Try<HttpResponse> r = svc_request(svcs[si].port, "POST", "/v2/apps",
                                    R"({"id":"/ha","cmd":"sleep 1000","cpus":0.1,"mem":16,"instances":2})");
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  std::vector<std::string> tasks;
  ASSERT_TRUE(poll_until([&] { tasks = svc_running_tasks(svcs[li].port, "/ha"); return tasks.size() == 2; },
                         deadline_in(SVC_TIMEOUT)));

  svcs[li].process->kill(SIGKILL);
  // Ask the standby only once it leads: until then it would proxy to the dead leader.
  ASSERT_TRUE(svcs[si].process->wait_for_line(std::regex("Elected as the leading stoa-services"),
                                              deadline_in(SVC_TIMEOUT)));
  std::string standby = "127.0.0.1:" + std::to_string(svcs[si].port);
  ASSERT_TRUE(poll_until([&] { return leader_of(svcs[si].port) == standby; }, deadline_in(SVC_TIMEOUT)));
  EXPECT_TRUE(poll_until([&] { return svc_running_tasks(svcs[si].port, "/ha") == tasks; }, deadline_in(SVC_TIMEOUT)))
      << svc_app(svcs[si].port, "/ha").serialize();
  std::map<std::string, std::string> master = svc_master_tasks(cluster);
  for (const std::string& t : tasks) {
    EXPECT_EQ(master[t], "TASK_RUNNING") << t;
  }
  // One framework, re-subscribed by the new leader: no task was lost or relaunched.
  EXPECT_EQ(master.size(), 2u);
}

}  // namespace
}  // namespace stoa::tests
