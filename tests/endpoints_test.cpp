// The HTTP endpoints of a running master and slave, after real tasks ran,
// and flags taken from the environment.

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "tests/cluster.hpp"

namespace stoa::tests {
// Named so that this file's helpers stay apart from other test files'
// when CI compiles the test files of one binary as one unit (unity build).
namespace endpoints_test {
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
  EXPECT_EQ(json_string(json_at(f, "port")), std::to_string(cluster.master_port())) << flags->serialize();
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
  // (Polled: for a moment after its exec a process's command line reads empty.)
  EXPECT_TRUE(poll_until([&] { return !processes_with_marker(marker).empty(); }, deadline_in(DEFAULT_TIMEOUT)))
      << "the running task's process is gone";
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

// ---------------------------------------------------------------------------
// Both metric formats, scraped from a real master and slave.

// One metric of a Prometheus text exposition (format 0.0.4).
struct Sample {
  std::optional<double> value;
  std::optional<std::string> type;  // "counter", "gauge", ...
  bool has_help = false;
};

// A Prometheus sample value: a decimal number, NaN, +Inf or -Inf.
std::optional<double> prometheus_number(const std::string& text) {
  if (text == "NaN") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (text == "+Inf" || text == "-Inf") {
    return text[0] == '+' ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

// The metrics of `text` by name. Error naming the line when a sample line is
// not `name value` with a legal metric name, a name has two samples, HELP or
// TYPE lines, or a metric lacks its HELP or TYPE line or value.
Try<std::map<std::string, Sample>> parse_exposition(const std::string& text) {
  static const std::regex sample_line(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$)");
  static const std::regex help_line(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*)( .*)?$)");
  static const std::regex type_line(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  std::map<std::string, Sample> out;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    if (std::regex_match(line, m, help_line)) {
      Sample& s = out[m[1]];
      if (s.has_help) {
        return Error("second HELP line: '" + line + "'");
      }
      s.has_help = true;
    } else if (std::regex_match(line, m, type_line)) {
      Sample& s = out[m[1]];
      if (s.type) {
        return Error("second TYPE line: '" + line + "'");
      }
      s.type = m[2];
    } else if (line[0] == '#') {
      continue;  // other comments are allowed
    } else if (std::regex_match(line, m, sample_line)) {
      Sample& s = out[m[1]];
      if (s.value) {
        return Error("second sample: '" + line + "'");
      }
      s.value = prometheus_number(m[2]);
      if (!s.value) {
        return Error("not a number: '" + line + "'");
      }
    } else {
      return Error("not 'name value': '" + line + "'");
    }
  }
  for (const auto& [name, s] : out) {
    if (!s.value || !s.type || !s.has_help) {
      return Error("metric '" + name + "' lacks its" + (s.value ? "" : " value") + (s.type ? "" : " TYPE") +
                   (s.has_help ? "" : " HELP"));
    }
  }
  if (out.empty()) {
    return Error("no metrics in:\n" + text);
  }
  return out;
}

// A Mesos metric name as Prometheus writes it: every character outside
// [A-Za-z0-9_:] becomes '_' ("master/tasks_running" -> "master_tasks_running").
std::string prometheus_form(const std::string& mesos_name) {
  std::string out = mesos_name;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') {
      c = '_';
    }
  }
  return out;
}

// Both formats from one process, checked against each other.
struct Scrape {
  std::map<std::string, Sample> text;  // by Prometheus name
  picojson::value json;                // by Mesos name

  double text_value(const std::string& name) const {
    auto it = text.find(name);
    return it == text.end() ? -1 : it->second.value.value_or(-1);
  }
  std::string type_of(const std::string& name) const {
    auto it = text.find(name);
    return it == text.end() ? "(missing)" : it->second.type.value_or("(none)");
  }
  double json_value(const std::string& name) const {
    const picojson::value& v = json_at(json, name);
    return v.is<double>() ? v.get<double>() : -1;
  }
};

// GET /metrics and /metrics/snapshot from 127.0.0.1:port. Error when either
// is malformed, or the two do not hold the same names.
Try<Scrape> scrape(int port) {
  Try<HttpResponse> text = http_get(LOCALHOST, port, "/metrics");
  if (text.is_error()) {
    return Error("GET /metrics: " + text.error());
  }
  if (text->status != 200) {
    return Error("GET /metrics: status " + std::to_string(text->status) + ": " + text->body);
  }
  if (text->headers["content-type"].rfind("text/plain", 0) != 0) {
    return Error("GET /metrics: content type '" + text->headers["content-type"] + "'");
  }
  Try<std::map<std::string, Sample>> parsed = parse_exposition(text->body);
  if (parsed.is_error()) {
    return Error("GET /metrics: " + parsed.error());
  }
  Try<picojson::value> json = http_get_json(LOCALHOST, port, "/metrics/snapshot");
  if (json.is_error()) {
    return Error("GET /metrics/snapshot: " + json.error());
  }
  if (!json->is<picojson::object>()) {
    return Error("GET /metrics/snapshot: not an object: " + json->serialize());
  }
  std::set<std::string> json_names;
  for (const auto& [name, v] : json->get<picojson::object>()) {
    if (!v.is<double>()) {
      return Error("GET /metrics/snapshot: '" + name + "' is not a number");
    }
    json_names.insert(prometheus_form(name));
  }
  std::set<std::string> text_names;
  for (const auto& [name, s] : *parsed) {
    text_names.insert(name);
  }
  if (json_names != text_names) {
    std::string diff;
    for (const std::string& n : json_names) {
      diff += text_names.contains(n) ? "" : " " + n + " (only in JSON)";
    }
    for (const std::string& n : text_names) {
      diff += json_names.contains(n) ? "" : " " + n + " (only in text)";
    }
    return Error("the two formats hold different metrics:" + diff);
  }
  return Scrape{std::move(*parsed), std::move(*json)};
}

TEST(ClusterMetrics, BothFormatsFromAMasterAndASlave) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const int master_port = cluster.master_port();
  const int slave_port = cluster.slave_port(0);

  // The slave may hear of its registration just after the master lists it.
  Try<Scrape> slave = Error("not scraped yet");
  poll_until(
      [&] {
        slave = scrape(slave_port);
        return slave && slave->text_value("slave_registered") == 1;
      },
      deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(slave) << slave.error();
  Try<Scrape> master = scrape(master_port);
  ASSERT_TRUE(master) << master.error();

  EXPECT_EQ("gauge", master->type_of("master_tasks_running"));
  EXPECT_EQ("counter", master->type_of("master_slave_removals_reason_unhealthy"));
  EXPECT_EQ(1, master->text_value("master_elected"));
  EXPECT_GT(master->text_value("system_cpus_total"), 0);
  EXPECT_EQ(0, master->text_value("master_tasks_finished"));
  EXPECT_EQ(1, master->json_value("master/elected"));
  EXPECT_EQ(0, master->json_value("master/tasks_running"));
  EXPECT_EQ(0, master->json_value("master/slave_removals/reason_unhealthy"));
  EXPECT_GT(master->json_value("system/cpus_total"), 0);
  EXPECT_EQ(0, master->json_value("master/tasks_finished"));

  EXPECT_EQ(1, slave->text_value("slave_registered"));
  EXPECT_EQ("counter", slave->type_of("slave_tasks_finished"));
  EXPECT_EQ(0, slave->text_value("slave_tasks_finished"));
  EXPECT_GT(slave->text_value("system_cpus_total"), 0);
  EXPECT_EQ(1, slave->json_value("slave/registered"));
  EXPECT_EQ(0, slave->json_value("slave/tasks_finished"));

  // One short task moves both processes' tasks_finished to 1, in both formats.
  Try<Process*> execute = cluster.start("stoa-execute", "execute",
                                        {"--master=" + cluster.master_address(), "--name=short", "--command=true",
                                         "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(execute) << execute.error();
  std::optional<int> code = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "stoa-execute did not finish its task";
  ASSERT_EQ(0, *code) << (*execute)->describe_exit();

  for (auto [port, prefix] : {std::pair{master_port, "master"}, {slave_port, "slave"}}) {
    Try<Scrape> after = Error("not scraped yet");
    poll_until(
        [&] {
          after = scrape(port);
          return after && after->text_value(std::string(prefix) + "_tasks_finished") == 1 &&
                 after->json_value(std::string(prefix) + "/tasks_finished") == 1;
        },
        deadline_in(DEFAULT_TIMEOUT));
    ASSERT_TRUE(after) << prefix << ": " << after.error();
    EXPECT_EQ(1, after->text_value(std::string(prefix) + "_tasks_finished")) << prefix;
    EXPECT_EQ(1, after->json_value(std::string(prefix) + "/tasks_finished")) << prefix;
    EXPECT_EQ(0, after->text_value(std::string(prefix) + "_tasks_running")) << prefix;
    EXPECT_EQ(0, after->json_value(std::string(prefix) + "/tasks_running")) << prefix;
  }
}

}  // namespace
}  // namespace endpoints_test
}  // namespace stoa::tests
