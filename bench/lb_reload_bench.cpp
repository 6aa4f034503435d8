// stoa-bench-lb-reload: what HAProxy reloads driven by stoa-lb cost the
// traffic going through it (issue #14).
//
//   stoa-bench-lb-reload [--chain=true] [--reloads=20] [--duration=20s] [--connections=32]
//                        [--threads=2] [--backends=3] [--haproxy=/usr/sbin/haproxy]
//                        [--min_reload_interval=500ms] [--work_dir=/tmp/stoa-bench-lb-reload]
//
// Chain mode (the default): a local cluster, stoa-services with an HTTP app
// whose backends drain on SIGTERM, and the stoa-lb binary (--health-check)
// in front of a real HAProxy; wrk (/usr/bin/wrk --latency) runs through
// HAProxy for --duration while the app is scaled 2 <-> 3 --reloads times,
// each scaling waited for until HAProxy lists the new servers (one reload
// each). --chain=false: --backends `python3 -m http.server` processes and the
// supervisor actor (apps/lb/haproxy.hpp) alone, --reloads applies with a
// changed server list spread over --duration. Then the same wrk run straight
// at one backend, for HAProxy's added latency. Prints requests, failures
// (non-2xx/3xx + socket errors, itemised), req/s, latency p50/p90/p99, and
// the reloads HAProxy did (its master CLI's counter). docs/benchmarks.md
// holds the results.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <caf/all.hpp>

#include "actors/launcher.hpp"
#include "actors/safety.hpp"
#include "apps/lb/haproxy.hpp"
#include "apps/lb/haproxy_internal.hpp"
#include "common/flags.hpp"
#include "common/json.hpp"
#include "tests/cluster.hpp"

namespace {

using stoa::Duration;
using stoa::Error;
using stoa::Try;

constexpr auto RELOAD_BENCH_REPLY = std::chrono::seconds(60);
constexpr auto RELOAD_BENCH_STARTUP = std::chrono::seconds(10);
constexpr auto RELOAD_BENCH_CHAIN_STEP = std::chrono::seconds(60);

struct ReloadBenchFlags : stoa::FlagsBase {
  ReloadBenchFlags() {
    add(&reloads, "reloads", "Configurations applied while wrk runs (each a reload).", 20);
    check("reloads", stoa::within(0, 10000));
    add(&duration, "duration", "How long each wrk run lasts.", std::chrono::seconds(20));
    check("duration", stoa::positive_duration());
    add(&connections, "connections", "wrk's open connections (-c).", 32);
    check("connections", stoa::within(1, 10000));
    add(&threads, "threads", "wrk's threads (-t).", 2);
    check("threads", stoa::within(1, 64));
    add(&backends, "backends", "python3 -m http.server backends (the app's instances at most).", 3);
    check("backends", stoa::within(1, 50));
    add(&haproxy, "haproxy", "The HAProxy binary.", "/usr/sbin/haproxy");
    add(&wrk, "wrk", "The wrk binary.", "/usr/bin/wrk");
    add(&min_reload_interval, "min_reload_interval", "The supervisor's rate limit.", std::chrono::milliseconds(500));
    add(&idle_close_on_response, "idle_close_on_response",
        "Render `option idle-close-on-response` (HAProxy 2.6): an old worker answers a kept-alive "
        "connection's next request with Connection: close instead of closing it idle.",
        true);
    add(&chain, "chain",
        "The full chain: a local cluster (master, slave), stoa-services with a python3 http.server app, "
        "and the stoa-lb binary; the app is scaled --reloads times (2 <-> 3 instances). Off: drive the "
        "supervisor actor directly (then --idle_close_on_response applies; in the chain the templates decide).",
        true);
    add(&work_dir, "work_dir", "The run's directory (config, logs); emptied first.", "/tmp/stoa-bench-lb-reload");
    check("work_dir", stoa::non_empty());
  }
  int reloads;
  Duration duration;
  int connections;
  int threads;
  int backends;
  std::string haproxy;
  std::string wrk;
  Duration min_reload_interval;
  bool idle_close_on_response;
  bool chain;
  std::string work_dir;
};

int reload_bench_free_port() {
  return stoa::tests::free_loopback_port();
}

bool reload_bench_port_answers(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// One wrk run's figures, parsed from its --latency output.
struct WrkResult {
  long long requests = 0;
  long long non_2xx = 0;
  long long socket_errors = 0;
  double rps = 0;
  std::string p50, p90, p99;
  std::string raw;
};

std::string read_whole(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Try<WrkResult> run_wrk(const ReloadBenchFlags& flags, int port, const std::string& out) {
  stoa::LaunchSpec spec;
  const long long seconds = std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(flags.duration).count());
  spec.argv = {flags.wrk, "-t" + std::to_string(flags.threads), "-c" + std::to_string(flags.connections),
               "-d" + std::to_string(seconds) + "s", "--latency", "http://127.0.0.1:" + std::to_string(port) + "/"};
  spec.stdout_path = out;
  spec.stderr_path = out;
  spec.new_session = false;
  Try<pid_t> pid = stoa::launch(spec);
  if (pid.is_error()) {
    return Error(pid.error());
  }
  int status = 0;
  while (::waitpid(pid.get(), &status, 0) < 0 && errno == EINTR) {
  }
  WrkResult r;
  r.raw = read_whole(out);
  std::smatch m;
  if (std::regex_search(r.raw, m, std::regex(R"((\d+) requests in)"))) {
    r.requests = std::stoll(m[1]);
  } else {
    return Error("wrk printed no request count: " + r.raw);
  }
  if (std::regex_search(r.raw, m, std::regex(R"(Requests/sec:\s+([\d.]+))"))) {
    r.rps = std::stod(m[1]);
  }
  if (std::regex_search(r.raw, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) {
    r.non_2xx = std::stoll(m[1]);
  }
  if (std::regex_search(r.raw, m, std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    r.socket_errors = std::stoll(m[1]) + std::stoll(m[2]) + std::stoll(m[3]) + std::stoll(m[4]);
  }
  for (auto [label, field] : {std::pair{"50%", &r.p50}, std::pair{"90%", &r.p90}, std::pair{"99%", &r.p99}}) {
    if (std::regex_search(r.raw, m, std::regex(std::string(R"(\s)") + label + R"(\s+([\d.]+\w+))"))) {
      *field = m[1];
    }
  }
  return r;
}

std::string bench_config(int frontend, int stats, const std::vector<int>& servers, int generation,
                         bool idle_close) {
  std::ostringstream c;
  c << "global\n  maxconn 4096\n  nbthread 1\n"
    << "defaults\n  mode http\n  option http-server-close\n  timeout connect 5s\n  timeout client 30s\n"
    << "  timeout server 30s\n" << (idle_close ? "  option idle-close-on-response\n" : "")
    << "listen stats\n  bind 127.0.0.1:" << stats << "\n  stats enable\n  stats uri /haproxy?stats\n"
    << "frontend bench_http\n  bind 127.0.0.1:" << frontend << "\n  default_backend bench_app\n"
    << "backend bench_app\n  balance roundrobin\n  # generation " << generation << "\n";
  for (int port : servers) {
    c << "  server app_" << port << " 127.0.0.1:" << port << "\n";
  }
  return c.str();
}

std::string load_average() {
  std::string text = read_whole("/proc/loadavg");
  return text.substr(0, text.find(' ', text.find(' ', text.find(' ') + 1) + 1));
}

void print_table(const ReloadBenchFlags& flags, const std::string& what, const WrkResult& through,
                 const WrkResult& direct) {
  std::printf("wrk -t%d -c%d for %llds through HAProxy; %d %s while it runs\n", flags.threads, flags.connections,
              static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(flags.duration).count()),
              flags.reloads, what.c_str());
  if (!flags.chain) {
    std::printf("option idle-close-on-response: %s\n", flags.idle_close_on_response ? "on" : "off");
  }
  std::printf("machine: nproc %u, load average %s\n\n", std::thread::hardware_concurrency(), load_average().c_str());
  std::printf("| run | requests | failed (non-2xx + socket) | req/s | p50 | p90 | p99 |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (auto [name, r] : {std::pair{"through HAProxy, reloading", &through},
                         std::pair{"straight at one backend", &direct}}) {
    std::printf("| %s | %lld | %lld | %.0f | %s | %s | %s |\n", name, r->requests, r->non_2xx + r->socket_errors,
                r->rps, r->p50.c_str(), r->p90.c_str(), r->p99.c_str());
  }
  for (auto [name, r] : {std::pair{"through HAProxy", &through}, std::pair{"straight", &direct}}) {
    std::smatch m;
    if (std::regex_search(r->raw, m, std::regex(R"(Socket errors:[^\n]*)"))) {
      std::printf("%s: %s\n", name, m[0].str().c_str());
    }
    if (std::regex_search(r->raw, m, std::regex(R"(Non-2xx or 3xx responses:[^\n]*)"))) {
      std::printf("%s: %s\n", name, m[0].str().c_str());
    }
  }
}

int run_bench(const ReloadBenchFlags& flags) {
  const std::string dir = flags.work_dir;
  std::vector<pid_t> children;
  std::vector<int> ports;
  std::filesystem::create_directories(dir + "/www");
  std::ofstream(dir + "/www/index.html") << "hello from the bench backend\n";
  for (int i = 0; i < flags.backends; ++i) {
    const int port = reload_bench_free_port();
    stoa::LaunchSpec spec;
    // python3 -m http.server, with a listen backlog of 1024 instead of
    // socketserver's 5 (which makes wrk's connects time out, HAProxy or not).
    spec.argv = {"python3", "-c",
                 "import http.server as h, sys\n"
                 "h.ThreadingHTTPServer.request_queue_size = 1024\n"
                 "h.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), h.SimpleHTTPRequestHandler).serve_forever()\n",
                 std::to_string(port)};
    spec.working_dir = dir + "/www";
    spec.stdout_path = dir + "/backend-" + std::to_string(i) + ".log";
    spec.stderr_path = spec.stdout_path;
    Try<pid_t> pid = stoa::launch(spec);
    if (pid.is_error()) {
      std::cerr << "stoa-bench-lb-reload: " << pid.error() << "\n";
      return 1;
    }
    children.push_back(pid.get());
    ports.push_back(port);
  }
  const auto stop_children = [&] {
    for (pid_t pid : children) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  };
  const auto ready_by = stoa::tests::deadline_in(RELOAD_BENCH_STARTUP);
  for (int port : ports) {
    stoa::tests::poll_until([&] { return reload_bench_port_answers(port); }, ready_by);
  }
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  stoa::lb::HaproxyOptions options;
  options.binary = flags.haproxy;
  options.config_path = dir + "/haproxy.cfg";
  options.run_dir = dir + "/run";
  options.min_reload_interval = std::chrono::duration_cast<std::chrono::milliseconds>(flags.min_reload_interval);
  options.reload_interval = std::chrono::seconds(5);
  caf::actor haproxy = stoa::lb::spawn_haproxy(sys, options);
  const int frontend = reload_bench_free_port();
  const int stats = reload_bench_free_port();
  caf::scoped_actor self{sys};
  const auto apply = [&](int generation) {
    // The app scaled: 1..backends instances, rotating.
    std::vector<int> servers(ports.begin(), ports.begin() + 1 + generation % flags.backends);
    stoa::lb::ApplyResult result;
    result.error = "no reply";
    self->request(haproxy, RELOAD_BENCH_REPLY, stoa::lb::lb_apply_atom{},
                  stoa::lb::HaproxyConfig{bench_config(frontend, stats, servers, generation, flags.idle_close_on_response), "", ""})
        .receive([&](const stoa::lb::ApplyResult& r) { result = r; },
                 [&](const caf::error& e) { result.error = caf::to_string(e); });
    return result;
  };
  stoa::lb::ApplyResult first = apply(flags.backends - 1);
  if (!first.reloaded) {
    std::cerr << "stoa-bench-lb-reload: HAProxy did not start: " << first.error << "\n";
    stoa::stop_actor(sys, haproxy);
    stop_children();
    return 1;
  }
  Try<WrkResult> through = Error("wrk did not run");
  std::thread load([&] { through = run_wrk(flags, frontend, dir + "/wrk-haproxy.txt"); });
  const auto spacing = flags.duration / (flags.reloads + 1);
  const auto start = std::chrono::steady_clock::now();
  int failed_applies = 0;
  for (int i = 0; i < flags.reloads; ++i) {
    std::this_thread::sleep_until(start + spacing * (i + 1));
    stoa::lb::ApplyResult r = apply(i);
    if (!r.reloaded) {
      ++failed_applies;
      std::cerr << "apply " << i << ": " << r.error << "\n";
    }
  }
  load.join();
  std::optional<stoa::lb::haproxy_detail::MasterProcInfo> master =
      stoa::lb::haproxy_detail::query_master(stoa::lb::haproxy_detail::master_socket_path(options),
                                             std::chrono::seconds(2));
  std::string status;
  self->request(haproxy, RELOAD_BENCH_REPLY, stoa::lb::lb_status_atom{})
      .receive([&](const std::string& s) { status = s; }, [&](const caf::error&) {});
  Try<picojson::value> parsed = stoa::json_parse(status);
  long long generation = 0;
  if (!parsed.is_error() && parsed.get().is<picojson::object>()) {
    generation = static_cast<long long>(parsed.get().get<picojson::object>().at("generation").get<double>());
  }
  Try<WrkResult> direct = run_wrk(flags, ports.front(), dir + "/wrk-direct.txt");
  stoa::stop_actor(sys, haproxy);
  stop_children();
  if (through.is_error() || direct.is_error()) {
    std::cerr << "stoa-bench-lb-reload: " << (through.is_error() ? through.error() : direct.error()) << "\n";
    return 1;
  }
  print_table(flags, "applies with a changed server list (the supervisor actor driven directly)",
              through.get(), direct.get());
  std::printf("\nreloads: %d applied, %d failed; supervisor generation %lld (1 = the first start); "
              "master CLI reload counter %d\n",
              flags.reloads, failed_applies, generation, master ? master->reloads : -1);
  return 0;
}

// ---------------------------------------------------------------------------
// The full chain: cluster → stoa-services → stoa-lb → HAProxy.

namespace st = stoa::tests;

Try<st::HttpResponse> chain_request(int port, const std::string& method, const std::string& path,
                                    const std::string& body = "") {
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty()) {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return st::http_raw("127.0.0.1", port, req + "\r\n" + body, st::deadline_in(std::chrono::seconds(10)));
}

// Host ports of the app's running tasks, per the registry.
std::vector<int> chain_task_ports(int svc_port, const std::string& id) {
  std::vector<int> ports;
  Try<st::HttpResponse> r = chain_request(svc_port, "GET", "/v2/apps" + id);
  if (r.is_error() || r->status != 200) {
    return ports;
  }
  Try<picojson::value> body = stoa::json_parse(r->body);
  if (body.is_error()) {
    return ports;
  }
  for (const picojson::value& t : st::json_array(st::json_at(st::json_at(body.get(), "app"), "tasks"))) {
    const picojson::array& p = st::json_array(st::json_at(t, "ports"));
    if (st::json_string(st::json_at(t, "state")) == "TASK_RUNNING" && !p.empty()) {
      ports.push_back(static_cast<int>(st::json_number(p[0])));
    }
  }
  return ports;
}

// Servers of `backend` on HAProxy's stats page; -1 when it does not answer.
int chain_server_count(int stats_port, const std::string& backend) {
  Try<st::HttpResponse> r = st::http_get("127.0.0.1", stats_port, "/haproxy?stats;csv",
                                         st::deadline_in(std::chrono::seconds(2)));
  if (r.is_error() || r->status != 200) {
    return -1;
  }
  int count = 0;
  std::istringstream lines(r->body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(backend + ",", 0) == 0 && line.find(",BACKEND,") == std::string::npos &&
        line.find(",FRONTEND,") == std::string::npos) {
      ++count;
    }
  }
  return count;
}

// The master CLI does not answer while the master re-executes itself (a
// reload): asked again for a while.
std::optional<stoa::lb::haproxy_detail::MasterProcInfo> chain_query_master(const std::string& socket) {
  std::optional<stoa::lb::haproxy_detail::MasterProcInfo> info;
  st::poll_until([&] {
    info = stoa::lb::haproxy_detail::query_master(socket, std::chrono::seconds(1));
    return info.has_value();
  }, st::deadline_in(std::chrono::seconds(10)));
  return info;
}

int run_chain(const ReloadBenchFlags& flags) {
  const auto fail = [](const std::string& why) {
    std::cerr << "stoa-bench-lb-reload: " << why << "\n";
    return 1;
  };
  st::Cluster cluster;
  if (Try<st::Process*> m = cluster.start_master(); m.is_error()) {
    return fail(m.error());
  }
  const int base = 20000 + static_cast<int>(::getpid() % 100) * 100;
  if (Try<st::Process*> s = cluster.start_slave("cpus:8;mem:4096;disk:1000;ports:[" + std::to_string(base) + "-" +
                                                    std::to_string(base + 99) + "]",
                                                {"--hostname=127.0.0.1"});
      s.is_error()) {
    return fail(s.error());
  }
  if (!cluster.wait_for_active_slaves(1, st::deadline_in(RELOAD_BENCH_CHAIN_STEP))) {
    return fail("the slave did not become active");
  }
  const int svc_port = st::free_loopback_port();
  Try<st::Process*> services = cluster.start(
      "stoa-services", "services",
      {"--master=" + cluster.master_address(), "--http_port=" + std::to_string(svc_port), "--hostname=127.0.0.1",
       "--work_dir=" + cluster.dir() + "/services"});
  if (services.is_error() || !st::poll_until([&] {
        Try<st::HttpResponse> r = chain_request(svc_port, "GET", "/v2/apps");
        return r.is_some() && r->status == 200;
      }, st::deadline_in(RELOAD_BENCH_CHAIN_STEP))) {
    return fail("stoa-services did not answer");
  }
  // The app: python3's http.server on $PORT0 (listen backlog 1024, see
  // run_bench) that drains on SIGTERM as a well-behaved service does: it
  // keeps serving for 2 s (stoa-lb takes it out of HAProxy meanwhile), then
  // stops accepting and exits once its requests in flight are answered.
  // Without the drain, a scale-down kills requests in flight on the killed
  // task whatever the balancer does; that is the backend's part, not a
  // reload's.
  const int service_port = st::free_loopback_port();
  const std::string backend = "lbbench_" + std::to_string(service_port);
  picojson::object app;
  app["id"] = picojson::value("/lbbench");
  app["cmd"] = picojson::value(
      "exec python3 -c '\n"
      "import http.server as h, signal, sys, threading\n"
      "class S(h.ThreadingHTTPServer):\n"
      "    request_queue_size = 1024\n"
      "    daemon_threads = False\n"
      "s = S((\"127.0.0.1\", int(sys.argv[1])), h.SimpleHTTPRequestHandler)\n"
      "signal.signal(signal.SIGTERM, lambda *_: threading.Timer(2.0, s.shutdown).start())\n"
      "s.serve_forever()\n"
      "s.server_close()\n"
      "' $PORT0");
  app["taskKillGracePeriodSeconds"] = stoa::json_number(10);
  // A new task joins HAProxy's pool only once it answers (stoa-lb
  // --health-check): python binds its port a moment after TASK_RUNNING.
  picojson::object check;
  check["protocol"] = picojson::value("HTTP");
  check["path"] = picojson::value("/");
  check["portIndex"] = stoa::json_number(0);
  check["intervalSeconds"] = stoa::json_number(1);
  check["timeoutSeconds"] = stoa::json_number(2);
  check["gracePeriodSeconds"] = stoa::json_number(10);
  check["maxConsecutiveFailures"] = stoa::json_number(3);
  app["healthChecks"] = picojson::value(picojson::array{picojson::value(check)});
  app["cpus"] = stoa::json_number(0.1);
  app["mem"] = stoa::json_number(64);
  app["instances"] = stoa::json_number(2);
  picojson::object port_definition;
  port_definition["port"] = stoa::json_number(service_port);
  app["portDefinitions"] = picojson::value(picojson::array{picojson::value(port_definition)});
  picojson::object labels;
  labels["HAPROXY_GROUP"] = picojson::value("external");
  labels["HAPROXY_0_BIND_ADDR"] = picojson::value("127.0.0.1");
  // HTTP mode: HAProxy speaks HTTP to both sides, so a request whose server
  // refuses the connection is sent to another one (retries + redispatch).
  labels["HAPROXY_0_MODE"] = picojson::value("http");
  app["labels"] = picojson::value(labels);
  Try<st::HttpResponse> posted = chain_request(svc_port, "POST", "/v2/apps", stoa::json_serialize(picojson::value(app)));
  if (posted.is_error() || posted->status != 201) {
    return fail("POST /v2/apps: " + (posted.is_error() ? posted.error() : posted->body));
  }
  const std::string lb_dir = cluster.dir() + "/lb";
  std::filesystem::create_directories(lb_dir);
  const int stats_port = st::free_loopback_port();
  std::vector<std::string> args = {"sse", "--health-check", "--group", "external", "-m", "http://127.0.0.1:" + std::to_string(svc_port),
                                   "--haproxy-config", lb_dir + "/haproxy.cfg", "--haproxy-bin", flags.haproxy,
                                   "--bind-address", "127.0.0.1", "--dont-bind-http-https",
                                   "--http-port", std::to_string(st::free_loopback_port()),
                                   "--https-port", std::to_string(st::free_loopback_port()),
                                   "--http-appid-port", std::to_string(st::free_loopback_port()),
                                   "--min-reload-interval",
                                   std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       flags.min_reload_interval).count())};
  Try<st::Process*> lb = cluster.start("stoa-lb", "lb", args, {{"PORTS", std::to_string(stats_port)}});
  if (lb.is_error()) {
    return fail(lb.error());
  }
  // Stop stoa-lb with SIGTERM (it stops its HAProxy), whatever happens below.
  struct LbStopper {
    st::Process* process;
    std::string dir;
    ~LbStopper() {
      process->kill(SIGTERM);
      process->wait_exit(st::deadline_in(std::chrono::seconds(20)));
      for (pid_t p : st::processes_with_marker(dir)) {
        if (p != ::getpid()) {
          ::kill(p, SIGKILL);
        }
      }
    }
  } stopper{*lb, lb_dir};
  if (!st::poll_until([&] { return chain_server_count(stats_port, backend) == 2; },
                      st::deadline_in(RELOAD_BENCH_CHAIN_STEP))) {
    return fail("HAProxy never listed the app's 2 servers: " + st::tail_of_file((*lb)->log_path(), 20));
  }
  const std::string master_socket = lb_dir + "/run/master.sock";
  std::optional<stoa::lb::haproxy_detail::MasterProcInfo> before = chain_query_master(master_socket);
  if (!before) {
    std::cerr << "the master CLI at " << master_socket << " does not answer\n";
  }
  Try<WrkResult> through = Error("wrk did not run");
  std::thread load([&] { through = run_wrk(flags, service_port, flags.work_dir + "/wrk-haproxy.txt"); });
  // Each scaling waits until HAProxy serves the new set of servers before
  // the next one (with --health-check a new task joins once it answers its
  // health check), so each is one reload; how long that took is reported.
  int failed_scales = 0;
  std::vector<double> settle_ms;
  for (int i = 0; i < flags.reloads; ++i) {
    const int target = i % 2 == 0 ? 3 : 2;
    const std::string body = "{\"instances\":" + std::to_string(target) + "}";
    const auto asked = std::chrono::steady_clock::now();
    Try<st::HttpResponse> put = chain_request(svc_port, "PUT", "/v2/apps/lbbench?force=true", body);
    if (put.is_error() || put->status != 200) {
      ++failed_scales;
      std::cerr << "scale " << i << ": " << (put.is_error() ? put.error() : put->body) << "\n";
      continue;
    }
    if (!st::poll_until([&] { return chain_server_count(stats_port, backend) == target; },
                        st::deadline_in(RELOAD_BENCH_CHAIN_STEP))) {
      ++failed_scales;
      std::cerr << "scale " << i << ": HAProxy never listed " << target << " servers\n";
      continue;
    }
    settle_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - asked).count());
  }
  const auto scaling_done = std::chrono::steady_clock::now();
  load.join();
  if (scaling_done > std::chrono::steady_clock::now()) {
    std::cerr << "wrk ended before the last scaling: give a longer --duration\n";
  }
  std::optional<stoa::lb::haproxy_detail::MasterProcInfo> after = chain_query_master(master_socket);
  const std::vector<int> task_ports = chain_task_ports(svc_port, "/lbbench");
  if (through.is_error() || task_ports.empty()) {
    return fail(through.is_error() ? through.error() : "no running task to measure directly");
  }
  Try<WrkResult> direct = run_wrk(flags, task_ports.front(), flags.work_dir + "/wrk-direct.txt");
  if (direct.is_error()) {
    return fail(direct.error());
  }
  print_table(flags, "scalings of the app (2 <-> 3 instances) through stoa-services -> stoa-lb", through.get(),
              direct.get());
  std::printf("\nreloads HAProxy did while wrk ran (master CLI counter): %d; scalings that failed: %d\n",
              before && after ? after->reloads - before->reloads : -1, failed_scales);
  if (!settle_ms.empty()) {
    std::sort(settle_ms.begin(), settle_ms.end());
    std::printf("scaling request -> HAProxy serving the new servers: median %.0f ms, max %.0f ms (%zu scalings)\n",
                settle_ms[settle_ms.size() / 2], settle_ms.back(), settle_ms.size());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ReloadBenchFlags flags;
  if (std::optional<Error> e = flags.load(argc, argv)) {
    std::cerr << "stoa-bench-lb-reload: " << e->message << "\n\n" << flags.usage("stoa-bench-lb-reload");
    return 2;
  }
  if (flags.help) {
    std::cout << flags.usage("stoa-bench-lb-reload");
    return 0;
  }
  for (const std::string& binary : {flags.haproxy, flags.wrk}) {
    if (::access(binary.c_str(), X_OK) != 0) {
      std::cerr << "stoa-bench-lb-reload: " << binary << " is not installed\n";
      return 1;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(flags.work_dir, ec);
  std::filesystem::create_directories(flags.work_dir, ec);
  if (ec) {
    std::cerr << "stoa-bench-lb-reload: cannot create " << flags.work_dir << ": " << ec.message() << "\n";
    return 1;
  }
  if (flags.chain) {
    if (auto missing = stoa::tests::missing_binaries({"stoa-master", "stoa-slave", "stoa-executor", "stoa-services", "stoa-lb"})) {
      std::cerr << "stoa-bench-lb-reload: " << *missing << " (set STOA_BIN_DIR, or run with --chain=false)\n";
      return 1;
    }
    return run_chain(flags);
  }
  return run_bench(flags);
}
