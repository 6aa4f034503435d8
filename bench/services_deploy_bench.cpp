// stoa-bench-services-deploy: how long stoa-services takes to deploy an app
// of 1,000 instances to all running on a local cluster of simulated slaves,
// and then to restart it (rolling) and to scale it to 0 (issue #13).
//
//   stoa-bench-services-deploy [--instances=1000] [--slaves=50]
//                              [--slave_resources=cpus:4;mem:8192;...]
//                              [--cpus=0.01] [--mem=8] [--poll=50ms]
//                              [--work_dir=/tmp/stoa-bench-services-deploy]
//
// It starts a real stoa-master, one stoa-slave-simulator process with
// --slaves simulated slaves (bench/slave_simulator.hpp: they answer a launch
// with TASK_STARTING and TASK_RUNNING, nothing is forked), and a real
// stoa-services with its file store under --work_dir, all on loopback with
// OS-picked ports. Once the framework is registered it times, from sending
// the request:
//   deploy   POST /v2/apps {instances: N, cmd: "sleep 3600"} until
//            /v2/apps/{id} says tasksRunning = N, and until GET
//            /v2/deployments is empty;
//   restart  POST /v2/apps/{id}/restart (a rolling replacement of every
//            instance, the default upgradeStrategy: minimumHealthCapacity 1,
//            maximumOverCapacity 1) until no deployment is left and N tasks
//            run, none of them from before;
//   scale 0  PUT /v2/apps/{id} {instances: 0} until tasksRunning = 0, no
//            deployment is left and the simulators run no task.
// After each phase it reads stoa-services' and the master's VmRSS and CPU
// time (utime + stime) from /proc. Prints a table; docs/benchmarks.md holds
// the results. Every process it started is killed by pid on every exit path
// (also on SIGINT/SIGTERM).
//
// Not measured: a Marathon-level health check. Those probes run from
// stoa-services against the task's slave hostname and host port, and a
// simulated slave is named "sim-<i>" (not resolvable) and runs no process
// that could listen; a Mesos-level check needs a slave that runs it.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/flags.hpp"
#include "common/resources.hpp"
#include "tests/cluster.hpp"

namespace {

namespace st = stoa::tests;
using st::Clock;
using stoa::Duration;
using stoa::Error;
using stoa::Try;

constexpr auto DEPLOY_STARTUP_TIMEOUT = std::chrono::seconds(60);
constexpr auto DEPLOY_REQUEST_TIMEOUT = std::chrono::seconds(30);
constexpr auto DEPLOY_METRIC_TIMEOUT = std::chrono::seconds(5);
// stoa-services counts as idle after this long of samples with few writes.
constexpr auto DEPLOY_QUIET = std::chrono::seconds(1);
constexpr auto DEPLOY_SAMPLE = std::chrono::milliseconds(250);
constexpr long long DEPLOY_IDLE_WRITES = 3;
const std::string DEPLOY_APP_ID = "/bench-deploy";

struct DeployBenchFlags : stoa::FlagsBase {
  DeployBenchFlags() {
    add(&instances, "instances", "Instances of the app.", 1000);
    check("instances", stoa::within(1, 100000));
    add(&slaves, "slaves", "Simulated slaves (one stoa-slave-simulator process).", 50);
    check("slaves", stoa::within(1, 100000));
    add(&slave_resources, "slave_resources", "Each simulated slave's resources.",
        "cpus:4;mem:8192;disk:10000;ports:[31000-32000]");
    check("slave_resources", [](const std::string& v) -> std::optional<std::string> {
      Try<stoa::Resources> r = stoa::Resources::parse(v);
      if (r.is_error()) {
        return r.error();
      }
      return std::nullopt;
    });
    add(&cpus, "cpus", "The app's cpus per instance.", 0.01);
    add(&mem, "mem", "The app's mem (MiB) per instance.", 8.0);
    add(&cmd, "cmd", "The app's command (simulated slaves never run it).", "sleep 3600");
    check("cmd", [](const std::string& v) -> std::optional<std::string> {
      if (v.empty() || v.find_first_of("\"\\") != std::string::npos) {
        return "must be non-empty and hold no '\"' or '\\'";
      }
      return std::nullopt;
    });
    add(&poll, "poll", "How often the bench polls stoa-services while it waits.",
        std::chrono::milliseconds(50));
    check("poll", stoa::positive_duration());
    add(&timeout, "timeout", "How long each phase may take.", std::chrono::minutes(10));
    check("timeout", stoa::positive_duration());
    add(&skip_restart, "skip_restart", "Measure the deploy and scale to 0 only.", false);
    add(&work_dir, "work_dir",
        "The run's directory (logs, the master's and stoa-services' work dirs); emptied first.",
        "/tmp/stoa-bench-services-deploy");
    check("work_dir", stoa::non_empty());
  }
  std::optional<Error> validate() const override {
    if (!(cpus > 0) || !(mem > 0)) {
      return Error("--cpus and --mem must be positive (got " + std::to_string(cpus) + " and " +
                   std::to_string(mem) + ")");
    }
    return std::nullopt;
  }

  int instances;
  int slaves;
  std::string slave_resources;
  double cpus;
  double mem;
  std::string cmd;
  Duration poll;
  Duration timeout;
  bool skip_restart;
  std::string work_dir;
};

// The pids this bench started, for the signal handler (async-signal-safe:
// a fixed array and kill()).
constexpr int DEPLOY_MAX_CHILDREN = 8;
std::atomic<pid_t> deploy_children[DEPLOY_MAX_CHILDREN];

void deploy_remember_child(pid_t pid) {
  for (auto& slot : deploy_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) {
      return;
    }
  }
}

extern "C" void deploy_on_signal(int sig) {
  for (auto& slot : deploy_children) {
    pid_t pid = slot.load();
    if (pid > 0) {
      ::kill(-pid, SIGKILL);  // each child leads its own process group
      ::kill(pid, SIGKILL);
    }
  }
  ::_exit(128 + sig);
}

struct ProcStats {
  double rss_mib = 0;
  double cpu_s = 0;  // utime + stime
};

// VmRSS and CPU time of `pid` from /proc (zeros when unreadable).
ProcStats deploy_proc_stats(pid_t pid) {
  ProcStats out;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      out.rss_mib = std::stod(line.substr(6)) / 1024;
    }
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces) start after the last ')'.
  size_t close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream rest(text.substr(close + 2));
    std::vector<std::string> fields;
    std::string f;
    while (rest >> f) {
      fields.push_back(f);
    }
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    if (fields.size() > 13) {
      double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
      out.cpu_s = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
    }
  }
  return out;
}

// Write system calls `pid` has made so far (/proc/<pid>/io "syscw"; -1 when
// unreadable). stoa-services' file store writes, fsyncs and renames one file
// per instance change, so this keeps growing while its store has a backlog.
long long deploy_write_calls(pid_t pid) {
  std::ifstream io("/proc/" + std::to_string(pid) + "/io");
  std::string line;
  while (std::getline(io, line)) {
    if (line.rfind("syscw:", 0) == 0) {
      return std::stoll(line.substr(6));
    }
  }
  return -1;
}

struct Server {
  std::unique_ptr<st::Process> process;
  int port = 0;
};

// Starts `binary`, remembers its pid, waits for its "listening on" line.
Try<Server> deploy_start(const std::string& binary, const std::vector<std::string>& args,
                         const std::string& log) {
  Try<std::unique_ptr<st::Process>> p = st::Process::start(binary, args, log);
  if (p.is_error()) {
    return Error(p.error());
  }
  deploy_remember_child((*p)->pid());
  static const std::regex listening(R"(listening on http://[0-9.]+:([0-9]+))");
  auto line = (*p)->wait_for_line(listening, st::deadline_in(DEPLOY_STARTUP_TIMEOUT));
  if (!line) {
    return Error(binary + " did not start (" + (*p)->describe_exit() + "); its log ends:\n" +
                 st::tail_of_file(log, 15));
  }
  Server s;
  s.port = std::stoi((*line)[1]);
  s.process = std::move(*p);
  return s;
}

Try<st::HttpResponse> deploy_request(int port, const std::string& method, const std::string& path,
                                     const std::string& body = "") {
  std::string req = method + " " + path +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                    "Content-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  return st::http_raw("127.0.0.1", port, req, st::deadline_in(DEPLOY_REQUEST_TIMEOUT));
}

std::optional<double> deploy_metric(int port, const std::string& name) {
  Try<picojson::value> snapshot = st::http_get_json("127.0.0.1", port, "/metrics/snapshot",
                                                    st::deadline_in(DEPLOY_METRIC_TIMEOUT));
  if (snapshot.is_error() || !st::json_at(*snapshot, name).is<double>()) {
    return std::nullopt;
  }
  return st::json_number(st::json_at(*snapshot, name));
}

double deploy_seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// One timed phase.
struct Phase {
  std::string name;
  double running_s = -1;  // the running-count goal reached (-1: not measured)
  double done_s = -1;     // no deployment left and the goal holds
  double drained_s = -1;  // stoa-services made its last write system call
  ProcStats services;
  double services_cpu_delta_s = 0;
  ProcStats master;
  double master_cpu_delta_s = 0;
  size_t polls = 0;
};

// What one poll of stoa-services saw.
struct AppView {
  bool ok = false;
  double tasks_running = 0;
  std::set<std::string> running_ids;
  bool no_deployments = false;
};

class DeployRun {
 public:
  DeployRun(const DeployBenchFlags& flags, std::string dir) : flags_(flags), dir_(std::move(dir)) {}

  Try<std::vector<Phase>> go() {
    Try<Server> m = deploy_start("stoa-master",
                                 {"--ip=127.0.0.1", "--port=0", "--work_dir=" + dir_ + "/master"},
                                 dir_ + "/master.log");
    if (m.is_error()) {
      return Error(m.error());
    }
    master_ = std::move(*m);
    Try<Server> s = deploy_start("stoa-slave-simulator",
                                 {"--master=127.0.0.1:" + std::to_string(master_.port),
                                  "--slaves=" + std::to_string(flags_.slaves), "--ip=127.0.0.1",
                                  "--port=0", "--resources=" + flags_.slave_resources},
                                 dir_ + "/simulator.log");
    if (s.is_error()) {
      return Error(s.error());
    }
    simulator_ = std::move(*s);
    if (!st::poll_until(
            [&] {
              return deploy_metric(master_.port, "master/slaves_active").value_or(0) >=
                     flags_.slaves;
            },
            deadline(), std::chrono::milliseconds(20))) {
      return Error("the master did not get all " + std::to_string(flags_.slaves) +
                   " simulated slaves");
    }
    Try<Server> svc = deploy_start(
        "stoa-services",
        {"--master=127.0.0.1:" + std::to_string(master_.port), "--http_address=127.0.0.1",
         "--http_port=0", "--hostname=127.0.0.1", "--work_dir=" + dir_ + "/services"},
        dir_ + "/services.log");
    if (svc.is_error()) {
      return Error(svc.error());
    }
    services_ = std::move(*svc);
    if (!st::poll_until(
            [&] {
              return deploy_metric(master_.port, "master/frameworks_active").value_or(0) >= 1;
            },
            deadline(), std::chrono::milliseconds(20))) {
      return Error("stoa-services did not register with the master; its log ends:\n" +
                   st::tail_of_file(dir_ + "/services.log", 20));
    }
    // Leading and ready to take the app (a standby would proxy or refuse).
    if (!st::poll_until(
            [&] {
              Try<st::HttpResponse> r = deploy_request(services_.port, "GET", "/v2/deployments");
              return r.is_some() && r->status == 200;
            },
            deadline(), std::chrono::milliseconds(20))) {
      return Error("stoa-services did not answer GET /v2/deployments with 200");
    }

    std::vector<Phase> phases;
    const double n = flags_.instances;
    std::ostringstream app;
    app << R"({"id":")" << DEPLOY_APP_ID << R"(","cmd":")" << flags_.cmd << R"(","cpus":)"
        << flags_.cpus << R"(,"mem":)" << flags_.mem << R"(,"instances":)" << flags_.instances
        << "}";
    Try<Phase> deploy =
        timed("deploy " + std::to_string(flags_.instances), "POST", "/v2/apps", app.str(), 201,
              [n](const AppView& v) { return v.tasks_running >= n; });
    if (deploy.is_error()) {
      return Error(deploy.error());
    }
    phases.push_back(*deploy);
    if (!flags_.skip_restart) {
      std::set<std::string> before = view().running_ids;
      if (before.size() != static_cast<size_t>(flags_.instances)) {
        return Error("after the deploy /v2/apps" + DEPLOY_APP_ID + " lists " +
                     std::to_string(before.size()) + " running tasks, not " +
                     std::to_string(flags_.instances));
      }
      Try<Phase> restart =
          timed("restart " + std::to_string(flags_.instances) + " (rolling)", "POST",
                "/v2/apps" + DEPLOY_APP_ID + "/restart", "", 200, [n, &before](const AppView& v) {
                  if (v.tasks_running < n || v.running_ids.size() < static_cast<size_t>(n)) {
                    return false;
                  }
                  return std::none_of(v.running_ids.begin(), v.running_ids.end(),
                                      [&](const std::string& id) { return before.count(id) > 0; });
                });
      if (restart.is_error()) {
        return Error(restart.error());
      }
      phases.push_back(*restart);
    }
    Try<Phase> scale = timed("scale " + std::to_string(flags_.instances) + " → 0", "PUT",
                             "/v2/apps" + DEPLOY_APP_ID, R"({"instances":0})", 200,
                             [](const AppView& v) { return v.tasks_running == 0; });
    if (scale.is_error()) {
      return Error(scale.error());
    }
    phases.push_back(*scale);
    // The simulated slaves run nothing any more (every kill reached them).
    if (!st::poll_until(
            [&] {
              return deploy_metric(simulator_.port, "simulator/tasks_running").value_or(-1) == 0;
            },
            deadline(), flags_.poll)) {
      return Error("after scaling to 0 the simulated slaves still run " +
                   std::to_string(std::llround(
                       deploy_metric(simulator_.port, "simulator/tasks_running").value_or(-1))) +
                   " tasks");
    }
    return phases;
  }

  const std::string& dir() const { return dir_; }
  pid_t services_pid() const { return services_.process ? services_.process->pid() : 0; }

 private:
  st::Deadline deadline() const { return Clock::now() + flags_.timeout; }

  // GET /v2/apps/{id} (tasks included, as Marathon answers it) and GET
  // /v2/deployments.
  AppView view() {
    AppView v;
    Try<picojson::value> app =
        st::http_get_json("127.0.0.1", services_.port, "/v2/apps" + DEPLOY_APP_ID,
                          st::deadline_in(DEPLOY_REQUEST_TIMEOUT));
    if (app.is_error()) {
      return v;
    }
    const picojson::value& a = st::json_at(*app, "app");
    v.tasks_running = st::json_number(st::json_at(a, "tasksRunning"));
    for (const picojson::value& t : st::json_array(st::json_at(a, "tasks"))) {
      if (st::json_string(st::json_at(t, "state")) == "TASK_RUNNING") {
        v.running_ids.insert(st::json_string(st::json_at(t, "id")));
      }
    }
    Try<picojson::value> deployments = st::http_get_json(
        "127.0.0.1", services_.port, "/v2/deployments", st::deadline_in(DEPLOY_REQUEST_TIMEOUT));
    if (deployments.is_error()) {
      return v;
    }
    v.no_deployments = deployments->is<picojson::array>() && st::json_array(*deployments).empty();
    v.ok = true;
    return v;
  }

  // Sends the request, then polls until `goal` holds (running_s) and until
  // it holds with no deployment left (done_s).
  template <typename Goal>
  Try<Phase> timed(const std::string& name, const std::string& method, const std::string& path,
                   const std::string& body, int expected_status, Goal goal) {
    Phase p;
    p.name = name;
    ProcStats svc_before = deploy_proc_stats(services_.process->pid());
    ProcStats master_before = deploy_proc_stats(master_.process->pid());
    Clock::time_point start = Clock::now();
    Try<st::HttpResponse> r = deploy_request(services_.port, method, path, body);
    if (r.is_error() || r->status != expected_status) {
      return Error(name + ": " + method + " " + path + " answered " +
                   (r.is_error() ? r.error() : std::to_string(r->status) + " " + r->body));
    }
    bool done = st::poll_until(
        [&] {
          AppView v = view();
          ++p.polls;
          if (!v.ok) {
            return false;
          }
          bool reached = goal(v);
          if (reached && p.running_s < 0) {
            p.running_s = deploy_seconds(start, Clock::now());
          }
          if (reached && v.no_deployments) {
            p.done_s = deploy_seconds(start, Clock::now());
            return true;
          }
          return false;
        },
        deadline(), flags_.poll);
    if (!done) {
      AppView v = view();
      return Error(name + ": not done within --timeout (tasksRunning " +
                   std::to_string(std::llround(v.tasks_running)) + ", deployments " +
                   (v.no_deployments ? "none" : "still running") + ")");
    }
    // Then, without polling (a poll's answer is written too), until
    // stoa-services has been idle for DEPLOY_QUIET: at most
    // DEPLOY_IDLE_WRITES write system calls per DEPLOY_SAMPLE (idle, it makes
    // ~3 a second: heartbeats). Its store has then written everything the
    // phase changed; drained_s is the end of the last busy sample.
    pid_t pid = services_.process->pid();
    long long writes = deploy_write_calls(pid);
    Clock::time_point last_busy = Clock::now();
    Clock::time_point next = Clock::now() + DEPLOY_SAMPLE;
    while (Clock::now() - last_busy < DEPLOY_QUIET && Clock::now() < deadline()) {
      std::this_thread::sleep_until(next);
      next += DEPLOY_SAMPLE;
      long long now = deploy_write_calls(pid);
      if (now - writes > DEPLOY_IDLE_WRITES) {
        last_busy = Clock::now();
      }
      writes = now;
    }
    p.drained_s = deploy_seconds(start, last_busy);
    p.services = deploy_proc_stats(services_.process->pid());
    p.services_cpu_delta_s = p.services.cpu_s - svc_before.cpu_s;
    p.master = deploy_proc_stats(master_.process->pid());
    p.master_cpu_delta_s = p.master.cpu_s - master_before.cpu_s;
    return p;
  }

  const DeployBenchFlags& flags_;
  std::string dir_;
  Server master_;
  Server simulator_;
  Server services_;
};

}  // namespace

int main(int argc, char** argv) {
  DeployBenchFlags flags;
  if (std::optional<Error> e = flags.load(argc, argv)) {
    std::cerr << "stoa-bench-services-deploy: " << e->message << "\n\n"
              << flags.usage("stoa-bench-services-deploy");
    return 2;
  }
  if (flags.help) {
    std::cout << flags.usage("stoa-bench-services-deploy");
    return 0;
  }
  if (auto missing =
          st::missing_binaries({"stoa-master", "stoa-slave-simulator", "stoa-services"})) {
    std::cerr << "stoa-bench-services-deploy: " << *missing << " (set STOA_BIN_DIR)\n";
    return 1;
  }
  ::signal(SIGINT, deploy_on_signal);
  ::signal(SIGTERM, deploy_on_signal);
  std::error_code ec;
  std::filesystem::remove_all(flags.work_dir, ec);
  std::filesystem::create_directories(flags.work_dir, ec);
  if (ec) {
    std::cerr << "stoa-bench-services-deploy: cannot create " << flags.work_dir << ": "
              << ec.message() << "\n";
    return 1;
  }
  std::vector<Phase> phases;
  {
    // The run's processes are killed (and reaped) when it goes out of scope.
    DeployRun run(flags, flags.work_dir);
    Try<std::vector<Phase>> result = run.go();
    if (result.is_error()) {
      std::cerr << "stoa-bench-services-deploy: " << result.error() << "\n(logs in " << run.dir()
                << ")\n";
      return 1;
    }
    phases = *result;
  }
  std::printf("%d instances (cpus %.2f, mem %.0f) on %d simulated slaves (%s)\n\n", flags.instances,
              flags.cpus, flags.mem, flags.slaves, flags.slave_resources.c_str());
  std::printf(
      "| phase | goal reached, s | deployment finished, s | last write (store drained), s | polls "
      "| "
      "stoa-services RSS after, MiB | stoa-services CPU in phase, s | master RSS after, MiB | "
      "master CPU in phase, s |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Phase& p : phases) {
    std::printf("| %s | %.2f | %.2f | %.2f | %zu | %.1f | %.2f | %.1f | %.2f |\n", p.name.c_str(),
                p.running_s, p.done_s, p.drained_s, p.polls, p.services.rss_mib,
                p.services_cpu_delta_s, p.master.rss_mib, p.master_cpu_delta_s);
  }
  return 0;
}
