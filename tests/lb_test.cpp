// stoa-lb end to end (issue #14): a real master, a slave and stoa-services
// (the registry), backend apps that are `python3 -m http.server $PORT0`, and
// stoa-lb driving a real HAProxy (Debian's /usr/sbin/haproxy) on loopback
// ports. What HAProxy runs is read from its own stats page
// (/haproxy?stats;csv). One cluster serves the suite (each test has its own
// app ids, ports and stoa-lb); the failover test runs two stoa-services
// against a real ZooKeeper in a cluster of its own.

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <picojson.h>

#include "common/strings.hpp"
#include "tests/cluster.hpp"
#include "tests/services_events.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::tests {
namespace {

constexpr const char* LB_HAPROXY = "/usr/sbin/haproxy";
constexpr const char* LB_PYTHON = "/usr/bin/python3";
constexpr auto LB_TIMEOUT = std::chrono::seconds(40);
// From the registry's status event to the backend change. The issue's 1 s
// is a speed goal, measured by stoa-bench-lb-reload (docs/benchmarks.md), not
// here: beside another heavy test (ClusterGc's 1,000 executors) each HAProxy
// validation and reload took 1.5-2.5 s, and CI's sanitized run missed 1 s.
// This bound tells a change that follows the event from one that waits for
// the periodic snapshot (300 s) or a reconnection.
constexpr auto LB_FOLLOW_BOUND = std::chrono::seconds(15);

#define LB_REQUIRE_TOOLS()                                                       \
  do {                                                                           \
    if (::access(LB_HAPROXY, X_OK) != 0 || ::access(LB_PYTHON, X_OK) != 0) {     \
      GTEST_SKIP() << "needs " << LB_HAPROXY << " and " << LB_PYTHON;            \
    }                                                                            \
  } while (0)

Try<HttpResponse> lb_request(int port, const std::string& method, const std::string& path,
                             const std::string& body = "", Deadline deadline = deadline_in(DEFAULT_TIMEOUT)) {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return http_raw("127.0.0.1", port, req + "\r\n" + body, deadline);
}

picojson::value lb_parse(const std::string& text) {
  picojson::value v;
  std::string err = picojson::parse(v, text);
  return err.empty() ? v : picojson::value();
}

// The app JSON of a backend: a python HTTP server on $PORT0 (loopback) that
// serves a file `name` holding `text` from its sandbox; its one service
// port is `service_port`, its frontend binds 127.0.0.1.
std::string lb_app_json(const std::string& id, int service_port, int instances, const std::string& extra_labels = "",
                        const std::string& file = "whoami.txt", const std::string& health_checks = "") {
  std::string cmd = "echo " + id.substr(1) + " > " + file + " && exec " + LB_PYTHON +
                    " -m http.server $PORT0 --bind 127.0.0.1";
  std::string json = R"({"id":")" + id + R"(","cmd":")" + cmd + R"(","cpus":0.1,"mem":64,"instances":)" +
                     std::to_string(instances) + R"(,"portDefinitions":[{"port":)" + std::to_string(service_port) +
                     R"(}],"labels":{"HAPROXY_GROUP":"external","HAPROXY_0_BIND_ADDR":"127.0.0.1")" + extra_labels +
                     "}";
  if (!health_checks.empty()) {
    json += R"(,"healthChecks":)" + health_checks;
  }
  return json + "}";
}

// The server names of `backend` in HAProxy's stats CSV (empty when the
// backend is missing); nullopt when the stats page does not answer.
std::optional<std::vector<std::string>> lb_servers(int stats_port, const std::string& backend) {
  Try<HttpResponse> r = http_get("127.0.0.1", stats_port, "/haproxy?stats;csv", deadline_in(std::chrono::seconds(2)));
  if (r.is_error() || r->status != 200) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  std::istringstream lines(r->body);
  std::string line;
  while (std::getline(lines, line)) {
    std::vector<std::string> fields = split(line, ',');
    if (fields.size() < 2 || fields[0] != backend || fields[1] == "BACKEND" || fields[1] == "FRONTEND") {
      continue;
    }
    out.push_back(fields[1]);
  }
  return out;
}

size_t lb_server_count(int stats_port, const std::string& backend) {
  std::optional<std::vector<std::string>> s = lb_servers(stats_port, backend);
  return s ? s->size() : SIZE_MAX;
}

// Running tasks of `id` per the registry: task id → its first host port.
std::map<std::string, int> lb_running_tasks(int svc_port, const std::string& id) {
  std::map<std::string, int> out;
  Try<HttpResponse> r = lb_request(svc_port, "GET", "/v2/apps" + id);
  if (r.is_error() || r->status != 200) {
    return out;
  }
  const picojson::value body = lb_parse(r->body);
  for (const picojson::value& t : json_array(json_at(json_at(body, "app"), "tasks"))) {
    if (json_string(json_at(t, "state")) == "TASK_RUNNING") {
      const picojson::array& ports = json_array(json_at(t, "ports"));
      out[json_string(json_at(t, "id"))] = ports.empty() ? 0 : static_cast<int>(json_number(ports[0]));
    }
  }
  return out;
}

// Task ids of `app` whose latest status_update_event the subscriber saw is `state`.
std::set<std::string> lb_tasks_in_state(SvcEvents& events, const std::string& app, const std::string& state) {
  std::map<std::string, std::string> last;
  for (const auto& [type, data] : events.events()) {
    if (type == "status_update_event" && json_string(json_at(data, "appId")) == app) {
      last[json_string(json_at(data, "taskId"))] = json_string(json_at(data, "taskStatus"));
    }
  }
  std::set<std::string> out;
  for (const auto& [task, s] : last) {
    if (s == state) {
      out.insert(task);
    }
  }
  return out;
}

// One stoa-lb and its HAProxy.
struct LbRun {
  Process* process = nullptr;
  std::string dir;  // config, run dir
  int stats_port = 0;
  int http_port = 0;
  // The ports its HAProxy binds, held while the run is (tests/cluster.hpp).
  std::shared_ptr<HeldPorts> ports = std::make_shared<HeldPorts>();
};

// HAProxy processes (or anything else) whose command line names `dir`.
std::vector<pid_t> lb_processes_naming(const std::string& dir, pid_t except) {
  std::vector<pid_t> out;
  for (pid_t p : processes_with_marker(dir)) {
    if (p != except && p != ::getpid()) {
      out.push_back(p);
    }
  }
  return out;
}

// Starts stoa-lb in sse mode against `urls` and waits until HAProxy's stats
// page answers. `extra` goes after the defaults (loopback ports, no :80/:443
// unless the caller drops --dont-bind-http-https through `shared_frontends`).
Try<LbRun> lb_start(Cluster& cluster, const std::string& label, const std::vector<std::string>& urls,
                    std::vector<std::string> extra = {}, bool shared_frontends = false) {
  LbRun run;
  run.dir = cluster.dir() + "/" + label;
  std::filesystem::create_directories(run.dir);
  run.stats_port = run.ports->take();
  run.http_port = run.ports->take();
  const int https_port = run.ports->take();
  const int appid_port = run.ports->take();
  if (run.stats_port == 0 || run.http_port == 0 || https_port == 0 || appid_port == 0) {
    return Error("cannot hold a loopback port");
  }
  std::vector<std::string> args = {"sse", "--group", "external", "-m"};
  args.insert(args.end(), urls.begin(), urls.end());
  std::vector<std::string> more = {"--haproxy-config",  run.dir + "/haproxy.cfg",
                                   "--haproxy-bin",     LB_HAPROXY,
                                   "--templates-dir",   run.dir + "/templates",
                                   "--bind-address",    "127.0.0.1",
                                   "--http-port",       std::to_string(run.http_port),
                                   "--https-port",      std::to_string(https_port),
                                   "--http-appid-port", std::to_string(appid_port),
                                   "--min-reload-interval", "50",
                                   "--max-backoff",     "2"};
  args.insert(args.end(), more.begin(), more.end());
  if (!shared_frontends) {
    args.push_back("--dont-bind-http-https");
  }
  args.insert(args.end(), extra.begin(), extra.end());
  Try<Process*> p = cluster.start("stoa-lb", label, args, {{"PORTS", std::to_string(run.stats_port)}});
  if (p.is_error()) {
    return Error(p.error());
  }
  run.process = *p;
  bool up = poll_until(
      [&] {
        Try<HttpResponse> r = http_get("127.0.0.1", run.stats_port, "/haproxy?stats;csv",
                                       deadline_in(std::chrono::seconds(1)));
        return (r.is_some() && r->status == 200) || !run.process->running();
      },
      deadline_in(LB_TIMEOUT));
  if (!up || !run.process->running()) {
    return Error("stoa-lb (" + label + ") did not serve its stats page: " + tail_of_file(run.process->log_path(), 30));
  }
  return run;
}

// Stops stoa-lb with SIGTERM: it exits 0 and its HAProxy is gone.
void lb_stop_cleanly(LbRun& run) {
  run.process->kill(SIGTERM);
  std::optional<int> code = run.process->wait_exit(deadline_in(LB_TIMEOUT));
  ASSERT_TRUE(code.has_value()) << "stoa-lb did not exit on SIGTERM";
  EXPECT_EQ(*code, 0) << run.process->describe_exit();
  EXPECT_TRUE(poll_until([&] { return lb_processes_naming(run.dir, 0).empty(); }, deadline_in(DEFAULT_TIMEOUT)))
      << "HAProxy still runs after stoa-lb stopped";
}

// Kills whatever still names `dir` (a stoa-lb killed by the harness leaves
// its HAProxy behind).
void lb_kill_leftovers(const std::string& dir) {
  for (pid_t p : lb_processes_naming(dir, 0)) {
    ::kill(p, SIGKILL);
  }
}

// Kills what a stoa-lb under `dir` left behind when the test ends early.
struct LbLeftovers {
  std::string dir;
  ~LbLeftovers() { lb_kill_leftovers(dir); }
};

// The slave's host ports: a block of 100 in 20000-24999 picked per test
// process, so the backends meet neither the 31000-32000 other clusters on
// this machine hand out nor the ports free_loopback_port() hands out
// (25000 and up), which every test process uses for its daemons.
Try<Process*> lb_start_slave(Cluster& cluster) {
  const int base = 20000 + static_cast<int>(::getpid() % 50) * 100;
  const std::string ports = "ports:[" + std::to_string(base) + "-" + std::to_string(base + 99) + "]";
  return cluster.start_slave("cpus:8;mem:4096;disk:1000;" + ports, {"--hostname=127.0.0.1"});
}

Try<int> lb_start_services(Cluster& cluster, const std::string& label, std::vector<std::string> extra) {
  int port = free_loopback_port();
  std::vector<std::string> args = {"--master=" + cluster.master_address(), "--http_port=" + std::to_string(port),
                                   "--hostname=127.0.0.1", "--reconciliation_initial_delay=1secs"};
  args.insert(args.end(), extra.begin(), extra.end());
  Try<Process*> p = cluster.start("stoa-services", label, args);
  if (p.is_error()) {
    return Error(p.error());
  }
  bool up = poll_until(
      [&] {
        Try<HttpResponse> l = lb_request(port, "GET", "/v2/apps", "", deadline_in(std::chrono::seconds(1)));
        return l.is_some() && l->status == 200;
      },
      deadline_in(LB_TIMEOUT));
  if (!up) {
    return Error("stoa-services (" + label + ") did not answer: " + tail_of_file((*p)->log_path(), 20));
  }
  return port;
}

class LbEndToEnd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (missing_binaries({"stoa-master", "stoa-slave", "stoa-executor", "stoa-services", "stoa-lb"}) ||
        ::access(LB_HAPROXY, X_OK) != 0) {
      return;
    }
    cluster_ = new Cluster();
    if (Try<Process*> m = cluster_->start_master(); m.is_error()) {
      start_error_ = m.error();
      return;
    }
    if (Try<Process*> s = lb_start_slave(*cluster_); s.is_error()) {
      start_error_ = s.error();
      return;
    }
    if (!cluster_->wait_for_active_slaves(1, deadline_in(LB_TIMEOUT))) {
      start_error_ = "the slave did not become active";
      return;
    }
    Try<int> svc = lb_start_services(*cluster_, "services", {"--work_dir=" + cluster_->dir() + "/services"});
    if (svc.is_error()) {
      start_error_ = svc.error();
      return;
    }
    svc_port_ = *svc;
  }
  static void TearDownTestSuite() {
    if (cluster_ != nullptr) {
      std::string dir = cluster_->dir();
      delete cluster_;
      cluster_ = nullptr;
      lb_kill_leftovers(dir);
    }
  }
  void SetUp() override {
    STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-services", "stoa-lb");
    LB_REQUIRE_TOOLS();
    ASSERT_NE(svc_port_, 0) << "the cluster did not start: " << start_error_;
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) {
      cluster_->print_logs(60);
    }
  }
  std::string registry() const { return "http://127.0.0.1:" + std::to_string(svc_port_); }
  bool wait_running(const std::string& id, size_t n) {
    return poll_until([&] { return lb_running_tasks(svc_port_, id).size() == n; }, deadline_in(LB_TIMEOUT));
  }

  static Cluster* cluster_;
  static int svc_port_;
  static std::string start_error_;
};

Cluster* LbEndToEnd::cluster_ = nullptr;
int LbEndToEnd::svc_port_ = 0;
std::string LbEndToEnd::start_error_;

// Scales through the REST API and measures, from the status event this test
// sees, how long until HAProxy's stats list the new set of servers.
TEST_F(LbEndToEnd, ScalingOneThreeOneChangesTheBackendsOnTheEvent) {
  const int service_port = free_loopback_port();
  const std::string backend = "lbscale_" + std::to_string(service_port);
  SvcEvents events;
  ASSERT_TRUE(events.connect(svc_port_));
  Try<LbRun> lb = lb_start(*cluster_, "lb-scale", {registry()});
  ASSERT_TRUE(lb) << lb.error();
  Try<HttpResponse> r = lb_request(svc_port_, "POST", "/v2/apps", lb_app_json("/lbscale", service_port, 1));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(poll_until([&] { return lb_server_count(lb->stats_port, backend) == 1; }, deadline_in(LB_TIMEOUT)))
      << "backend " << backend << " never got its server";

  auto follow = [&](int instances, const std::string& state, size_t events_needed) {
    std::string body = "{\"instances\":" + std::to_string(instances) + "}";
    Try<HttpResponse> put = lb_request(svc_port_, "PUT", "/v2/apps/lbscale", body);
    ASSERT_TRUE(put && put->status == 200) << (put ? put->body : put.error());
    ASSERT_TRUE(poll_until([&] { return lb_tasks_in_state(events, "/lbscale", state).size() >= events_needed; },
                           deadline_in(LB_TIMEOUT), std::chrono::milliseconds(5)))
        << "no " << state << " events for /lbscale";
    const Clock::time_point seen = Clock::now();
    ASSERT_TRUE(poll_until([&] { return lb_server_count(lb->stats_port, backend) == static_cast<size_t>(instances); },
                           deadline_in(LB_TIMEOUT), std::chrono::milliseconds(5)))
        << "HAProxy never showed " << instances << " servers";
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - seen);
    EXPECT_LE(took, LB_FOLLOW_BOUND) << "the backends followed the event after " << took.count() << " ms";
    std::cerr << "[ lb ] " << instances << " servers in HAProxy " << took.count() << " ms after the " << state
              << " event\n";
  };
  follow(3, "TASK_RUNNING", 3);
  follow(1, "TASK_KILLED", 2);
  // The remaining server is the running task, by port.
  std::map<std::string, int> running = lb_running_tasks(svc_port_, "/lbscale");
  ASSERT_EQ(running.size(), 1u);
  // Read again until the stats page answers (its 2 s deadline can pass on a
  // loaded machine, e.g. under the sanitizers); the count was 1 already.
  std::optional<std::vector<std::string>> servers;
  ASSERT_TRUE(poll_until(
      [&] {
        servers = lb_servers(lb->stats_port, backend);
        return servers.has_value();
      },
      deadline_in(LB_TIMEOUT)))
      << "HAProxy's stats page never answered";
  ASSERT_EQ(servers->size(), 1u) << "servers of " << backend << " after scaling to 1";
  EXPECT_NE(servers->front().find("_" + std::to_string(running.begin()->second)), std::string::npos)
      << servers->front();
  // Through HAProxy to the app.
  Try<HttpResponse> through = http_get("127.0.0.1", service_port, "/whoami.txt");
  ASSERT_TRUE(through) << through.error();
  EXPECT_EQ(through->status, 200);
  EXPECT_EQ(through->body, "lbscale\n");
  // SIGHUP reads the registry again, SIGUSR1 re-applies: neither stops stoa-lb.
  lb->process->kill(SIGHUP);
  EXPECT_TRUE(lb->process->wait_for_line(std::regex("Received SIGHUP"), deadline_in(DEFAULT_TIMEOUT)));
  lb->process->kill(SIGUSR1);
  EXPECT_TRUE(lb->process->wait_for_line(std::regex("SIGUSR1: re-validating and re-applying"),
                                         deadline_in(DEFAULT_TIMEOUT)));
  // The same two through HAProxy's stats port, as marathon-lb serves them.
  for (const auto& [path, line] : {std::pair<std::string, std::string>{"/_mlb_signal/hup", "Received SIGHUP"},
                                   {"/_mlb_signal/usr1", "SIGUSR1: re-validating and re-applying"}}) {
    Try<HttpResponse> sent = http_get("127.0.0.1", lb->stats_port, path);
    ASSERT_TRUE(sent && sent->status == 200) << path << ": " << (sent ? sent->body : sent.error());
    EXPECT_EQ(sent->body, "Sent SIG" + std::string(path == "/_mlb_signal/hup" ? "HUP" : "USR1") + " to stoa-lb (pid " +
                              std::to_string(lb->process->pid()) + ")\n");
    EXPECT_TRUE(poll_until([&] { return lb->process->lines_matching(std::regex(line)).size() == 2; },
                           deadline_in(DEFAULT_TIMEOUT)))
        << path << " did not reach stoa-lb";
  }
  EXPECT_TRUE(lb->process->running());
  EXPECT_EQ(lb_server_count(lb->stats_port, backend), 1u);
  lb_stop_cleanly(*lb);
  lb_request(svc_port_, "DELETE", "/v2/apps/lbscale");
}

// Two apps behind one shared HTTP frontend, told apart by the Host header.
TEST_F(LbEndToEnd, HostHeaderRoutesToTwoAppsThroughOneFrontend) {
  // The shared HTTPS frontend needs a certificate.
  const std::string pem = cluster_->dir() + "/lb-vhost-cert.pem";
  Try<Process*> openssl = cluster_->start(
      "/usr/bin/openssl", "openssl",
      {"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=stoa-lb-test", "-keyout",
       cluster_->dir() + "/lb-vhost.key", "-out", cluster_->dir() + "/lb-vhost.crt"});
  ASSERT_TRUE(openssl) << openssl.error();
  ASSERT_EQ((*openssl)->wait_exit(deadline_in(LB_TIMEOUT)), 0) << (*openssl)->log();
  {
    std::ofstream out(pem);
    out << read_file(cluster_->dir() + "/lb-vhost.crt") << read_file(cluster_->dir() + "/lb-vhost.key");
  }
  Try<LbRun> lb = lb_start(*cluster_, "lb-vhost", {registry()}, {"--ssl-certs", pem}, true);
  ASSERT_TRUE(lb) << lb.error();
  const int port_a = free_loopback_port();
  const int port_b = free_loopback_port();
  Try<HttpResponse> r =
      lb_request(svc_port_, "POST", "/v2/apps", lb_app_json("/vhosta", port_a, 1, R"(,"HAPROXY_0_VHOST":"a.lb.test")"));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  r = lb_request(svc_port_, "POST", "/v2/apps", lb_app_json("/vhostb", port_b, 1, R"(,"HAPROXY_0_VHOST":"b.lb.test")"));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(wait_running("/vhosta", 1));
  ASSERT_TRUE(wait_running("/vhostb", 1));
  auto get_via = [&](const std::string& host) -> std::string {
    Try<HttpResponse> g = http_raw("127.0.0.1", lb->http_port,
                                   "GET /whoami.txt HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n",
                                   deadline_in(std::chrono::seconds(2)));
    return g.is_some() && g->status == 200 ? g->body : "";
  };
  EXPECT_TRUE(poll_until([&] { return get_via("a.lb.test") == "vhosta\n"; }, deadline_in(LB_TIMEOUT)))
      << "a.lb.test answered '" << get_via("a.lb.test") << "'";
  EXPECT_TRUE(poll_until([&] { return get_via("b.lb.test") == "vhostb\n"; }, deadline_in(LB_TIMEOUT)))
      << "b.lb.test answered '" << get_via("b.lb.test") << "'";
  // Neither the Host header's case nor its port matters; an unknown host is not routed to either.
  EXPECT_EQ(get_via("A.LB.TEST"), "vhosta\n");
  EXPECT_EQ(get_via("b.lb.test:" + std::to_string(lb->http_port)), "vhostb\n");
  Try<HttpResponse> unknown = http_raw("127.0.0.1", lb->http_port,
                                       "GET /whoami.txt HTTP/1.1\r\nHost: c.lb.test\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(unknown) << unknown.error();
  EXPECT_NE(unknown->status, 200) << unknown->body;
  lb_stop_cleanly(*lb);
  lb_request(svc_port_, "DELETE", "/v2/apps/vhosta");
  lb_request(svc_port_, "DELETE", "/v2/apps/vhostb");
}

// --health-check: a task whose HTTP health check fails leaves the pool.
TEST_F(LbEndToEnd, ATaskFailingItsHealthCheckLeavesThePool) {
  Try<LbRun> lb = lb_start(*cluster_, "lb-health", {registry()}, {"--health-check"});
  ASSERT_TRUE(lb) << lb.error();
  const int service_port = free_loopback_port();
  const std::string backend = "lbhealth_" + std::to_string(service_port);
  const std::string checks =
      R"([{"protocol":"HTTP","path":"/lbhealth-ok.txt","portIndex":0,"intervalSeconds":1,"timeoutSeconds":1,)"
      R"("gracePeriodSeconds":30,"maxConsecutiveFailures":0}])";
  Try<HttpResponse> r = lb_request(svc_port_, "POST", "/v2/apps",
                                   lb_app_json("/lbhealth", service_port, 2, "", "lbhealth-ok.txt", checks));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(poll_until([&] { return lb_server_count(lb->stats_port, backend) == 2; }, deadline_in(LB_TIMEOUT)))
      << "the two healthy tasks never both entered the pool";
  // Break one task's health endpoint: remove the file it serves.
  std::map<std::string, int> tasks = lb_running_tasks(svc_port_, "/lbhealth");
  ASSERT_EQ(tasks.size(), 2u);
  std::vector<std::string> files = find_files_named(cluster_->dir(), "lbhealth-ok.txt");
  ASSERT_EQ(files.size(), 2u);
  std::string failing;
  for (const auto& [task, port] : tasks) {
    if (files[0].find(task) != std::string::npos) {
      failing = task;
    }
  }
  ASSERT_TRUE(std::filesystem::remove(files[0]));
  // One server left, and not the failing task's: read in one poll (a
  // reload in between, or the replacement joining, made a second read race).
  std::optional<std::vector<std::string>> servers;
  ASSERT_TRUE(poll_until(
      [&] {
        servers = lb_servers(lb->stats_port, backend);
        return servers && servers->size() == 1u &&
               (failing.empty() || servers->front().find("_" + std::to_string(tasks[failing])) == std::string::npos);
      },
      deadline_in(LB_TIMEOUT)))
      << "the failing task never left the pool: "
      << (servers && !servers->empty() ? servers->front() : std::string("no servers read"));
  // Healthy again: back in.
  {
    std::ofstream again(files[0]);
    again << "ok\n";
  }
  EXPECT_TRUE(poll_until([&] { return lb_server_count(lb->stats_port, backend) == 2; }, deadline_in(LB_TIMEOUT)))
      << "the task never came back after its check passed again";
  lb_stop_cleanly(*lb);
  lb_request(svc_port_, "DELETE", "/v2/apps/lbhealth");
}

// Config cleanup on a real HAProxy: an app whose own configuration HAProxy
// refuses (an unknown bind keyword) is left out, the others are published.
TEST_F(LbEndToEnd, ConfigCleanupLeavesOutTheAppHaproxyRefuses) {
  Try<LbRun> lb = lb_start(*cluster_, "lb-cleanup", {registry()});
  ASSERT_TRUE(lb) << lb.error();
  const int good_port = free_loopback_port();
  const int bad_port = free_loopback_port();
  Try<HttpResponse> r = lb_request(svc_port_, "POST", "/v2/apps", lb_app_json("/lbgood", good_port, 1));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  r = lb_request(svc_port_, "POST", "/v2/apps",
                 lb_app_json("/lbbad", bad_port, 1, R"(,"HAPROXY_0_BIND_OPTIONS":"no-such-bind-keyword")"));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(wait_running("/lbgood", 1));
  ASSERT_TRUE(wait_running("/lbbad", 1));
  EXPECT_TRUE(lb->process->wait_for_line(std::regex("Config cleanup: leaving out app /lbbad"), deadline_in(LB_TIMEOUT)));
  EXPECT_TRUE(poll_until([&] { return lb_server_count(lb->stats_port, "lbgood_" + std::to_string(good_port)) == 1; },
                         deadline_in(LB_TIMEOUT)));
  EXPECT_EQ(lb_server_count(lb->stats_port, "lbbad_" + std::to_string(bad_port)), 0u);
  EXPECT_EQ(read_file(lb->dir + "/haproxy.cfg").find("no-such-bind-keyword"), std::string::npos);
  lb_stop_cleanly(*lb);
  lb_request(svc_port_, "DELETE", "/v2/apps/lbgood");
  lb_request(svc_port_, "DELETE", "/v2/apps/lbbad");
}

// --dry: one snapshot, the configuration on stdout, no HAProxy.
TEST_F(LbEndToEnd, DryPrintsTheConfigurationOfTheRegistry) {
  const int service_port = free_loopback_port();
  Try<HttpResponse> r = lb_request(svc_port_, "POST", "/v2/apps", lb_app_json("/lbdry", service_port, 1));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(wait_running("/lbdry", 1));
  const std::string dir = cluster_->dir() + "/lb-dry";
  Try<Process*> p = cluster_->start("stoa-lb", "lb-dry",
                                    {"--dry", "--group", "external", "-m", registry(), "--haproxy-config",
                                     dir + "/haproxy.cfg", "--haproxy-bin", LB_HAPROXY});
  ASSERT_TRUE(p) << p.error();
  std::optional<int> code = (*p)->wait_exit(deadline_in(LB_TIMEOUT));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << (*p)->log();
  std::string out = (*p)->log();
  EXPECT_NE(out.find("backend lbdry_" + std::to_string(service_port)), std::string::npos) << out;
  EXPECT_NE(out.find("listen stats"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(dir + "/haproxy.cfg"));
  lb_request(svc_port_, "DELETE", "/v2/apps/lbdry");
}

// marathon-lb's one run: no sse/poll mode, an HAProxy started by --command;
// stoa-lb writes the configuration, runs the command, sees a new haproxy
// process and exits 0, leaving that HAProxy serving.
TEST_F(LbEndToEnd, OneRunWithACommandAppliesOnceAndExits) {
  const int service_port = free_loopback_port();
  Try<HttpResponse> r = lb_request(svc_port_, "POST", "/v2/apps", lb_app_json("/lbonce", service_port, 1));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(wait_running("/lbonce", 1));
  const std::string dir = cluster_->dir() + "/lb-once";
  std::filesystem::create_directories(dir);
  LbLeftovers leftovers{dir};
  const int stats_port = free_loopback_port();
  const std::string command = std::string(LB_HAPROXY) + " -D -f " + dir + "/haproxy.cfg -p " + dir + "/daemon.pid";
  Try<Process*> p = cluster_->start(
      "stoa-lb", "lb-once",
      {"--group", "external", "-m", registry(), "--command", command, "--haproxy-config", dir + "/haproxy.cfg",
       "--haproxy-bin", LB_HAPROXY, "--dont-bind-http-https", "--reload-interval", "5", "--max-reload-retries", "2"},
      {{"PORTS", std::to_string(stats_port)}});
  ASSERT_TRUE(p) << p.error();
  std::optional<int> code = (*p)->wait_exit(deadline_in(LB_TIMEOUT));
  ASSERT_TRUE(code.has_value()) << "stoa-lb did not exit after one run";
  EXPECT_EQ(*code, 0) << (*p)->log();
  EXPECT_NE(read_file(dir + "/haproxy.cfg").find("backend lbonce_" + std::to_string(service_port)), std::string::npos);
  EXPECT_EQ(lb_server_count(stats_port, "lbonce_" + std::to_string(service_port)), 1u);
  lb_request(svc_port_, "DELETE", "/v2/apps/lbonce");
}

// Bad flags: exit 2 with a message naming the option and value.
TEST(LbCommandLine, BadFlagsExitTwoNamingTheValue) {
  STOA_REQUIRE_BINARIES("stoa-lb");
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"sse", "--group", "external", "--max-reload-retries", "lots"}, "--max-reload-retries: 'lots' is not an integer"},
      {{"sse", "--group", "external", "--frobnicate"}, "unknown option '--frobnicate'"},
      {{"sse", "-m", "http://127.0.0.1:1"}, "--group is required"},
      {{"--group", "g", "-m", "ftp://x"}, "'ftp://x'"},
  };
  int n = 0;
  for (const Case& c : cases) {
    std::string log = dir.path() + "/bad" + std::to_string(n++) + ".log";
    Try<std::unique_ptr<Process>> p = Process::start("stoa-lb", c.args, log);
    ASSERT_TRUE(p) << p.error();
    std::optional<int> code = (*p)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 2) << (*p)->log();
    EXPECT_NE((*p)->log().find(c.expected), std::string::npos) << (*p)->log();
    EXPECT_NE((*p)->log().find("--help"), std::string::npos) << (*p)->log();
  }
  // PORTS is checked too.
  Try<std::unique_ptr<Process>> p =
      Process::start("stoa-lb", {"sse", "--group", "g"}, dir.path() + "/ports.log", {{"PORTS", "http"}});
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ((*p)->wait_exit(deadline_in(DEFAULT_TIMEOUT)), 2);
  EXPECT_NE((*p)->log().find("PORTS: 'http'"), std::string::npos) << (*p)->log();
}

// Two stoa-services in ZooKeeper; stoa-lb is given both; the leader is
// killed; the app is scaled through the new leader and stoa-lb follows.
TEST(LbFailover, StoaLbFollowsTheNewLeaderAfterTheOldOneIsKilled) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-services", "stoa-lb");
  LB_REQUIRE_TOOLS();
  STOA_REQUIRE_ZOOKEEPER();
  Try<ZooKeeperServer*> zk = shared_zookeeper_server();
  ASSERT_TRUE(zk) << zk.error();
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  ASSERT_TRUE(lb_start_slave(cluster));
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(LB_TIMEOUT)));
  std::string zk_url = "zk://" + (*zk)->connect_string() + "/marathon-" + unique_marker();
  std::vector<int> ports;
  for (const char* label : {"services-a", "services-b"}) {
    Try<int> port = lb_start_services(cluster, label, {"--zk=" + zk_url, "--zk_session_timeout=2secs"});
    ASSERT_TRUE(port) << port.error();
    ports.push_back(*port);
  }
  auto leader_of = [](int port) {
    Try<HttpResponse> r = lb_request(port, "GET", "/v2/leader");
    return r.is_some() && r->status == 200 ? json_string(json_at(lb_parse(r->body), "leader")) : std::string();
  };
  std::string leader;
  ASSERT_TRUE(poll_until(
      [&] {
        leader = leader_of(ports[0]);
        return !leader.empty() && leader_of(ports[1]) == leader;
      },
      deadline_in(LB_TIMEOUT)));
  size_t li = leader == "127.0.0.1:" + std::to_string(ports[0]) ? 0 : 1;
  size_t si = 1 - li;
  Try<LbRun> lb = lb_start(cluster, "lb-ha",
                           {"http://127.0.0.1:" + std::to_string(ports[li]),
                            "http://127.0.0.1:" + std::to_string(ports[si])});
  ASSERT_TRUE(lb) << lb.error();
  LbLeftovers leftovers{lb->dir};
  const int service_port = free_loopback_port();
  const std::string backend = "lbha_" + std::to_string(service_port);
  Try<HttpResponse> r = lb_request(ports[li], "POST", "/v2/apps", lb_app_json("/lbha", service_port, 1));
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error());
  ASSERT_TRUE(poll_until([&] { return lb_server_count(lb->stats_port, backend) == 1; }, deadline_in(LB_TIMEOUT)));

  std::vector<pid_t> leader_pids = processes_with_marker("--http_port=" + std::to_string(ports[li]));
  ASSERT_EQ(leader_pids.size(), 1u);
  ASSERT_EQ(::kill(leader_pids[0], SIGKILL), 0);
  std::string standby = "127.0.0.1:" + std::to_string(ports[si]);
  ASSERT_TRUE(poll_until([&] { return leader_of(ports[si]) == standby; }, deadline_in(LB_TIMEOUT)));
  // Until the new leader has loaded its state it answers 503 ("try again").
  ASSERT_TRUE(poll_until(
      [&] {
        r = lb_request(ports[si], "PUT", "/v2/apps/lbha", R"({"instances":2})");
        return r && r->status == 200;
      },
      deadline_in(LB_TIMEOUT)))
      << (r ? r->body : r.error());
  EXPECT_TRUE(poll_until([&] { return lb_server_count(lb->stats_port, backend) == 2; }, deadline_in(LB_TIMEOUT)))
      << "stoa-lb did not follow the new leader";
  // HAProxy kept serving through the failover.
  Try<HttpResponse> through = http_get("127.0.0.1", service_port, "/whoami.txt");
  ASSERT_TRUE(through) << through.error();
  EXPECT_EQ(through->body, "lbha\n");
  lb_stop_cleanly(*lb);
  if (HasFailure()) {
    cluster.print_logs(60);
  }
}

}  // namespace
}  // namespace stoa::tests
