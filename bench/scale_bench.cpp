// stoa-bench-scale: one real stoa-master with many simulated slaves
// (stoa-slave-simulator processes, bench/slave_simulator.hpp) and one
// in-process framework (issue #17). For each --slaves count it measures:
//   - registration: from starting the simulators until the master has all
//     slaves active; the master's RSS per slave;
//   - placement: the framework launches --tasks tasks (cpus:0.01;mem:8,
//     they run until the end) on the offers it gets, as fast as they come:
//     tasks/s from the first launch to the last TASK_RUNNING, launch ->
//     TASK_RUNNING p50/p99, status updates/s the master handled meanwhile,
//     the allocation pass time (allocator/mesos/allocation_run_ms) and the
//     master's RSS per task;
//   - /master/state: latency and size, plain and gzip;
//   - /master/health latency (p50/p99/max over --probe_seconds) idle and
//     while --state_clients clients poll /master/state back to back, with
//     the allocation passes per second in both windows.
//
//   stoa-bench-scale [--slaves=1000,10000] [--tasks=20000] [--slaves_per_process=5000]
//                    [--state_clients=4] [--probe_seconds=5] [--work_dir=/tmp/stoa-bench-scale]
//
// --mode=updates measures status updates instead: the raw CAF remote rate
// between this process and the first simulator process (bench/
// remote_rate.hpp: one-way with a window, echoed round trips), then the
// simulators repeat TASK_RUNNING for every running task as soon as the last
// one is acknowledged (--repeat_running_updates) while the framework
// acknowledges at once; the master's updates/s and CPU per update over
// --update_seconds, and the ratios to the raw rate; then two more windows
// of the flood, /master/health probed back to back alone and with
// --state_clients clients polling /master/state: how much the update and
// allocation rates drop while the master serves its state. --batched=false turns
// Stoa's batched status updates off (one message per update, event and
// acknowledgement, as in Mesos).
//
// Prints a table; results are recorded in docs/benchmarks.md ("Scale (#17)").

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/runtime.hpp"
#include "bench/remote_rate.hpp"
#include "bench/bench_processes.hpp"
#include "bench/bench_util.hpp"
#include "common/flags.hpp"
#include "common/resources.hpp"
#include "common/strings.hpp"
#include "framework/scheduler.hpp"
#include "tests/cluster.hpp"

namespace {

using namespace stoa;
using namespace stoa::tests;
using namespace stoa::bench;
using namespace std::chrono_literals;

constexpr auto SCALE_METRIC_TIMEOUT = std::chrono::seconds(10);
constexpr auto SCALE_POLL = std::chrono::milliseconds(20);
constexpr auto SCALE_METRIC_EVERY = std::chrono::seconds(1);

struct ScaleFlags : FlagsBase {
  ScaleFlags() {
    add(&slaves, "slaves", "Comma-separated slave counts, one run each.", "1000,10000");
    check("slaves", [](const std::string& v) -> std::optional<std::string> {
      for (const std::string& n : split(v, ',')) {
        if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 7 || std::stoul(n) == 0) {
          return "'" + n + "' is not a slave count from 1 to 9999999";
        }
      }
      return std::nullopt;
    });
    add(&tasks, "tasks", "Tasks the framework launches in each run (they keep running).", 20000);
    check("tasks", within(0, 10000000));
    add(&slaves_per_process, "slaves_per_process", "Simulated slaves per stoa-slave-simulator process.", 5000);
    check("slaves_per_process", at_least(1));
    add(&simulator_nice, "simulator_nice",
        "The simulators' nice value (0-19): they stand for other machines, so a positive value keeps "
        "them from taking the master's cores on this one (0: they compete with it as equals).",
        0);
    check("simulator_nice", within(0, 19));
    add(&state_clients, "state_clients", "Clients polling /master/state during the second /health probe (of both modes).", 4);
    check("state_clients", within(1, 64));
    add(&probe_seconds, "probe_seconds", "Length of each /master/health probe window.", 5);
    check("probe_seconds", within(1, 600));
    add(&timeout, "timeout", "How long each phase may take.", std::chrono::minutes(5));
    check("timeout", positive_duration());
    add(&work_dir, "work_dir", "Where the processes' logs go (one directory per run).", "/tmp/stoa-bench-scale");
    check("work_dir", non_empty());
    add(&mode, "mode", "placement (the table of docs/benchmarks.md) or updates (status updates vs raw CAF).",
        "placement");
    check("mode", [](const std::string& v) -> std::optional<std::string> {
      if (v != "placement" && v != "updates") {
        return "'" + v + "' is neither 'placement' nor 'updates'";
      }
      return std::nullopt;
    });
    add(&update_seconds, "update_seconds", "--mode=updates: the window the master's update rate is measured over.",
        5);
    check("update_seconds", within(1, 600));
    add(&rate_messages, "rate_messages", "--mode=updates: messages of each raw remote rate measurement.", 200000);
    check("rate_messages", within(1000, 100000000));
    add(&max_tasks_per_slave, "max_tasks_per_slave",
        "At most this many tasks on one slave (0: as many as each offer holds, cpus:0.01;mem:8 each).", 0);
    check("max_tasks_per_slave", within(0, 1000000));
    add(&batched, "batched",
        "Stoa's batched status updates: the framework subscribes with batched_events and the simulated "
        "slaves register with batched_acknowledgements (false: one message per update, event, "
        "acknowledgement, as Mesos).",
        true);
  }
  std::string slaves;
  int tasks;
  int slaves_per_process;
  int simulator_nice;
  int state_clients;
  int probe_seconds;
  Duration timeout;
  std::string work_dir;
  std::string mode;
  int update_seconds;
  int rate_messages;
  int max_tasks_per_slave;
  bool batched;
};

// What the framework saw; written by its actor, read by main once it is done.
struct Placement {
  std::atomic<int> running{0};
  std::atomic<int> lost{0};
  std::atomic<int> slaves_used{0};  // slaves the tasks were launched on
  Clock::time_point first_launch;
  Clock::time_point last_running;
  std::vector<double> latencies_ms;
};

// Launches `n` tasks on the offers as they come, declining what is left.
class PlacingScheduler : public Scheduler {
 public:
  // `per_slave`: at most this many tasks on one slave (0: as many as fit).
  PlacingScheduler(int n, int per_slave, Placement* out) : n_(n), per_slave_(per_slave), out_(out) {}

  void offers(SchedulerDriver& d, const std::vector<Offer>& offers) override {
    Resources per_task = *Resources::parse("cpus:0.01;mem:8");
    Filters f;
    f.set_refuse_seconds(3600);
    for (const Offer& o : offers) {
      Try<Resources> avail = Resources::from_proto(o.resources());
      Resources left = avail.is_some() ? *avail : Resources();
      std::vector<TaskInfo> tasks;
      int& here = on_slave_[o.slave_id().value()];
      while (launched_ < n_ && left.contains(per_task) && (per_slave_ == 0 || here < per_slave_)) {
        ++here;
        TaskInfo t;
        t.set_name("scale");
        t.mutable_task_id()->set_value("scale-" + std::to_string(launched_++));
        *t.mutable_slave_id() = o.slave_id();
        t.mutable_command()->set_value("sleep 3600");
        per_task.to_proto(t.mutable_resources());
        left -= per_task;
        tasks.push_back(std::move(t));
      }
      if (tasks.empty()) {
        d.decline(o.id(), f);
        continue;
      }
      out_->slaves_used.store(static_cast<int>(std::count_if(on_slave_.begin(), on_slave_.end(),
                                                             [](const auto& s) { return s.second > 0; })));
      auto now = Clock::now();
      if (sent_.empty()) {
        out_->first_launch = now;
      }
      for (const TaskInfo& t : tasks) {
        sent_[t.task_id().value()] = now;
      }
      d.launch({o.id()}, tasks, f);
    }
  }

  void update(SchedulerDriver&, const TaskStatus& s) override {
    if (s.state() == TASK_RUNNING) {
      auto it = sent_.find(s.task_id().value());
      if (it != sent_.end()) {
        out_->last_running = Clock::now();
        out_->latencies_ms.push_back(std::chrono::duration<double, std::milli>(out_->last_running - it->second).count());
        sent_.erase(it);
        out_->running.fetch_add(1);
      }
    } else if (s.state() != TASK_STARTING) {
      out_->lost.fetch_add(1);
    }
  }

 private:
  int n_;
  int per_slave_;
  Placement* out_;
  int launched_ = 0;
  std::map<std::string, int> on_slave_;  // tasks launched per slave id
  std::map<std::string, Clock::time_point> sent_;
};

// GET `path` on 127.0.0.1:port with `Connection: close`, reading to the end.
// Keeps the head only and counts the body's bytes: the pollers share the
// machine's two cores with the master, so they should cost what a client
// that discards the body (curl -o /dev/null) costs, not copies of 32 MB
// bodies into growing strings. Returns (status, content-encoding, body
// size); an error when fewer bytes came than Content-Length announced.
struct Fetched {
  int status = 0;
  bool gzip = false;
  size_t body_bytes = 0;
};
Try<Fetched> fetch(int port, const std::string& path, bool accept_gzip) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    return Error("cannot connect to port " + std::to_string(port));
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                    (accept_gzip ? "Accept-Encoding: gzip\r\n" : "") + "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return Error("send failed");
  }
  std::string head;  // up to the end of the headers
  size_t eoh = std::string::npos;
  size_t body = 0;
  std::vector<char> buf(1 << 20);
  ssize_t n;
  while ((n = ::recv(fd, buf.data(), buf.size(), 0)) > 0) {
    if (eoh != std::string::npos) {
      body += static_cast<size_t>(n);
      continue;
    }
    size_t had = head.size();
    head.append(buf.data(), static_cast<size_t>(n));
    eoh = head.find("\r\n\r\n", had >= 3 ? had - 3 : 0);
    if (eoh != std::string::npos) {
      body = head.size() - eoh - 4;
      head.resize(eoh);
    }
  }
  ::close(fd);
  if (head.rfind("HTTP/1.1 ", 0) != 0 || eoh == std::string::npos) {
    return Error("no HTTP response");
  }
  Fetched f;
  f.status = std::atoi(head.c_str() + 9);
  head = lower(head);
  f.gzip = head.find("content-encoding: gzip") != std::string::npos;
  f.body_bytes = body;
  if (size_t at = head.find("\r\ncontent-length:"); at != std::string::npos &&
                                                      std::strtoull(head.c_str() + at + 17, nullptr, 10) != body) {
    return Error("a body of " + std::to_string(body) + " bytes, not the announced " +
                 std::to_string(std::strtoull(head.c_str() + at + 17, nullptr, 10)));
  }
  return f;
}

struct Probe {
  std::vector<double> health_ms;
  double allocation_runs_per_s = 0;
  double state_requests = 0;
  // The master's own turns in the window (master/turns_over_*), and its
  // longest turn since it started, before and after the window.
  double turns_over_10ms = 0;
  double turns_over_50ms = 0;
  double turns_over_50ms_cpu = 0;  // of the master thread's CPU (STOA_TURN_CPU=1)
  // Since the master started, before the window: turns of >= 50 ms, and of
  // >= 50 ms of the master thread's CPU.
  double turns_over_50ms_before = 0;
  double turns_over_50ms_cpu_before = 0;
  double longest_turn_before_ms = 0;
  double longest_turn_cpu_before_ms = -1;  // of the master thread's CPU
  double longest_turn_cpu_after_ms = -1;
  double longest_turn_after_ms = 0;
};

// Probes /master/health back to back for `seconds` while `clients` threads
// poll /master/state (0: none).
Probe probe(int port, int seconds, int clients) {
  Probe p;
  std::atomic<bool> stop{false};
  std::atomic<int> states{0};
  std::vector<std::thread> pollers;
  for (int i = 0; i < clients; ++i) {
    pollers.emplace_back([&] {
      while (!stop.load()) {
        if (fetch(port, "/master/state", false).is_some()) {
          states.fetch_add(1);
        }
      }
    });
  }
  const Snapshot before = snapshot(port, SCALE_METRIC_TIMEOUT);
  p.longest_turn_before_ms = before.value("master/turn_longest_ms").value_or(0);
  p.turns_over_50ms_before = before.value("master/turns_over_50ms").value_or(0);
  p.longest_turn_cpu_before_ms = before.value("master/turn_longest_cpu_ms").value_or(-1);
  p.turns_over_50ms_cpu_before = before.value("master/turns_over_50ms_cpu").value_or(-1);
  auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    auto t0 = Clock::now();
    Try<HttpResponse> r = http_get("127.0.0.1", port, "/master/health", deadline_in(30s));
    if (r.is_some() && r->status == 200) {
      p.health_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
  }
  double window = seconds_since(start);
  const Snapshot after = snapshot(port, SCALE_METRIC_TIMEOUT);
  auto grown = [&](const char* name) { return after.value(name).value_or(0) - before.value(name).value_or(0); };
  p.allocation_runs_per_s = grown("allocator/mesos/allocation_runs") / window;
  stop = true;
  p.turns_over_10ms = grown("master/turns_over_10ms");
  p.turns_over_50ms = grown("master/turns_over_50ms");
  p.turns_over_50ms_cpu = after.value("master/turns_over_50ms_cpu") ? grown("master/turns_over_50ms_cpu") : -1;
  p.longest_turn_after_ms = after.value("master/turn_longest_ms").value_or(0);
  p.longest_turn_cpu_after_ms = after.value("master/turn_longest_cpu_ms").value_or(-1);
  for (std::thread& t : pollers) {
    t.join();
  }
  p.state_requests = states.load();
  return p;
}

double load_average() {
  double l[1] = {0};
  return ::getloadavg(l, 1) == 1 ? l[0] : -1;
}

// The raw CAF remote rate between this process and a simulator process.
struct RawRates {
  double one_way_per_s = 0;     // messages/s, one way, 1024 unanswered: the fastest of 3 runs
  double one_way_slowest_per_s = 0;
  double echo_per_s = 0;        // round trips/s, 256 unanswered
  double rtt_p50_us = 0;        // one at a time
  double rtt_p99_us = 0;
  // CPU per message of each end while flooding one way: this process sends
  // (serializes), the simulator process receives (deserializes, counts).
  double send_cpu_us = 0;
  double receive_cpu_us = 0;
  // CPU per round trip of both ends together, echoed.
  double echo_cpu_us = 0;
};

// --mode=updates: the master's status updates over --update_seconds while
// every running task repeats TASK_RUNNING, against the raw rate.
int report_updates(const ScaleFlags& flags, size_t slaves, const std::vector<Server>& simulators, int port,
                   pid_t mpid, const RawRates& raw, bool placed, int running, int slaves_used);

std::optional<RawRates> measure_raw(Runtime& rt, int simulator_port, pid_t simulator_pid, int messages) {
  caf::actor echo;
  {
    caf::scoped_actor self{rt.system()};
    std::string upid = std::string(RATE_ECHO_NAME) + "@127.0.0.1:" + std::to_string(simulator_port);
    self->request(rt.router(), RESOLVE_TIMEOUT, resolve_atom_v, upid)
        .receive([&](const caf::actor& h) { echo = h; },
                 [&](caf::error& e) { std::cerr << "cannot resolve " << upid << ": " << caf::to_string(e) << "\n"; });
  }
  if (!echo) {
    return std::nullopt;
  }
  auto n = static_cast<uint64_t>(messages);
  // A short warm-up (connection, first serializations), then the figures.
  auto warm = measure_remote_rate(rt.system(), echo, true, 10000, 1024, std::chrono::seconds(60));
  // One way three times: a burst's pace depends on how the two ends' turns
  // fall (since session 32 each end reads and writes whole chunks per turn,
  // and single runs ranged 155-448k msgs/s), so the reference is the
  // fastest of three, and its CPU per message.
  std::optional<RateResult> one_way;
  double slowest_one_way = 0;
  double send_cpu_s = 0;  // of the fastest run, each end
  double receive_cpu_s = 0;
  for (int i = 0; i < 3; ++i) {
    double s0 = cpu_seconds(::getpid()), m0 = cpu_seconds(simulator_pid);
    auto run = measure_remote_rate(rt.system(), echo, true, n, 1024, std::chrono::seconds(120));
    if (!run) {
      one_way.reset();
      break;
    }
    double rate = static_cast<double>(run->messages) / run->seconds;
    if (slowest_one_way == 0 || rate < slowest_one_way) {
      slowest_one_way = rate;
    }
    if (!one_way || rate > static_cast<double>(one_way->messages) / one_way->seconds) {
      one_way = std::move(run);
      send_cpu_s = cpu_seconds(::getpid()) - s0;
      receive_cpu_s = cpu_seconds(simulator_pid) - m0;
    }
  }
  if (!one_way) {
    std::cerr << "the raw remote rate timed out\n";
    return std::nullopt;
  }
  const double self_e0 = cpu_seconds(::getpid()), sim_e0 = cpu_seconds(simulator_pid);
  auto echoed = measure_remote_rate(rt.system(), echo, false, n / 2, 256, std::chrono::seconds(120));
  double self2 = cpu_seconds(::getpid()), sim2 = cpu_seconds(simulator_pid);
  auto single = measure_remote_rate(rt.system(), echo, false, 2000, 1, std::chrono::seconds(60));
  if (!warm || !one_way || !echoed || !single) {
    std::cerr << "the raw remote rate timed out\n";
    return std::nullopt;
  }
  RawRates r;
  r.one_way_per_s = static_cast<double>(one_way->messages) / one_way->seconds;
  r.one_way_slowest_per_s = slowest_one_way;
  r.echo_per_s = static_cast<double>(echoed->messages) / echoed->seconds;
  r.rtt_p50_us = percentile(single->round_trip_us, 0.5);
  r.rtt_p99_us = percentile(single->round_trip_us, 0.99);
  r.send_cpu_us = 1e6 * send_cpu_s / static_cast<double>(one_way->messages);
  r.receive_cpu_us = 1e6 * receive_cpu_s / static_cast<double>(one_way->messages);
  r.echo_cpu_us = 1e6 * (self2 - self_e0 + sim2 - sim_e0) / static_cast<double>(echoed->messages);
  return r;
}

int run(const ScaleFlags& flags, size_t slaves) {
  bool updates_mode = flags.mode == "updates";
  std::string dir = flags.work_dir + "/" + std::to_string(slaves);
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  Try<Server> master = start_server("stoa-master", {"--ip=127.0.0.1", "--port=0", "--work_dir=" + dir + "/master"},
                                    dir + "/master.log");
  if (master.is_error()) {
    std::cerr << master.error() << "\n";
    return 1;
  }
  int port = master->port;
  pid_t mpid = master->process->pid();
  double rss_idle = rss_kib(mpid);
  std::vector<Server> simulators;
  auto start = Clock::now();
  size_t per = static_cast<size_t>(flags.slaves_per_process);
  for (size_t left = slaves, i = 1; left > 0; ++i) {
    size_t n = std::min(left, per);
    left -= n;
    Try<Server> s = start_server("stoa-slave-simulator",
                                 {"--master=127.0.0.1:" + std::to_string(port), "--slaves=" + std::to_string(n),
                                  "--ip=127.0.0.1", "--port=0", "--hostname=sim" + std::to_string(i),
                                  "--repeat_running_updates=" + std::string(updates_mode ? "true" : "false"),
                                  "--batched_acknowledgements=" + std::string(flags.batched ? "true" : "false"),
                                  "--nice=" + std::to_string(flags.simulator_nice)},
                                 dir + "/simulator" + std::to_string(i) + ".log");
    if (s.is_error()) {
      std::cerr << s.error() << "\n";
      return 1;
    }
    simulators.push_back(std::move(*s));
  }
  auto until = [&] { return Clock::now() + flags.timeout; };
  auto all_active = [&] { return metric(port, "master/slaves_active", SCALE_METRIC_TIMEOUT).value_or(0) >= slaves; };
  if (!poll_until(all_active, until(), SCALE_POLL)) {
    std::cerr << "the master did not get all " << slaves << " slaves within --timeout\n";
    return 1;
  }
  double register_s = seconds_since(start);
  double rss_slaves = rss_kib(mpid);

  auto rt = Runtime::start(RuntimeOptions{});
  if (rt.is_error()) {
    std::cerr << rt.error() << "\n";
    return 1;
  }
  std::optional<RawRates> raw;
  if (updates_mode) {
    raw = measure_raw(**rt, simulators.front().port, simulators.front().process->pid(), flags.rate_messages);
    if (!raw) {
      return 1;
    }
  }
  Placement placement;
  double updates_before = metric(port, "master/valid_status_updates", SCALE_METRIC_TIMEOUT).value_or(0);
  std::vector<double> alloc_ms;
  SchedulerOptions so;
  so.master = "127.0.0.1:" + std::to_string(port);
  so.framework_info.set_user(current_user());
  so.framework_info.set_name("stoa-bench-scale");
  so.batched_events = flags.batched;
  spawn_scheduler(**rt, so, std::make_unique<PlacingScheduler>(flags.tasks, flags.max_tasks_per_slave, &placement));
  // The master's metrics are sampled once a second only: a snapshot walks
  // every slave's tasks on the master's thread (see docs/benchmarks.md).
  auto next_sample = Clock::now();
  bool placed = poll_until(
      [&] {
        if (Clock::now() >= next_sample) {
          next_sample = Clock::now() + SCALE_METRIC_EVERY;
          if (auto ms = metric(port, "allocator/mesos/allocation_run_ms", SCALE_METRIC_TIMEOUT)) {
            alloc_ms.push_back(*ms);
          }
        }
        return placement.running.load() + placement.lost.load() >= flags.tasks;
      },
      until(), SCALE_POLL);
  double updates = metric(port, "master/valid_status_updates", SCALE_METRIC_TIMEOUT).value_or(0) - updates_before;
  double place_s = std::chrono::duration<double>(placement.last_running - placement.first_launch).count();
  double rss_tasks = rss_kib(mpid);
  if (updates_mode) {
    int rc = report_updates(flags, slaves, simulators, port, mpid, *raw, placed, placement.running.load(),
                            placement.slaves_used.load());
    (*rt)->shutdown();
    return rc;
  }

  auto t0 = Clock::now();
  Try<Fetched> plain = fetch(port, "/master/state", false);
  double state_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  t0 = Clock::now();
  Try<Fetched> zipped = fetch(port, "/master/state", true);
  double state_gz_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (plain.is_error() || plain->status != 200 || zipped.is_error() || !zipped->gzip) {
    std::cerr << "/master/state failed: " << (plain.is_error() ? plain.error() : std::to_string(plain->status))
              << "\n";
  }

  t0 = Clock::now();
  std::optional<double> snapshot_ok = metric(port, "master/slaves_active", SCALE_METRIC_TIMEOUT);
  double metrics_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();

  Probe idle = probe(port, flags.probe_seconds, 0);
  Probe loaded = probe(port, flags.probe_seconds, flags.state_clients);
  (*rt)->shutdown();

  auto row = [](const char* what, double v, const char* fmt = "%14.1f") {
    std::printf("  %-58s", what);
    std::printf(fmt, v);
    std::printf("\n");
  };
  std::printf("\n== %zu slaves (%zu simulator processes, nice %d), %d tasks ==\n", slaves, simulators.size(),
              flags.simulator_nice, flags.tasks);
  row("registration of all slaves (s)", register_s, "%14.2f");
  row("master RSS idle (MiB)", rss_idle / 1024);
  row("master RSS per slave (KiB)", (rss_slaves - rss_idle) / static_cast<double>(slaves), "%14.2f");
  row("tasks RUNNING", placement.running.load(), "%14.0f");
  row("tasks lost/failed", placement.lost.load(), "%14.0f");
  row("placement: first launch -> last TASK_RUNNING (s)", place_s, "%14.2f");
  row("placement rate (tasks/s)", place_s > 0 ? placement.running.load() / place_s : 0, "%14.0f");
  row("launch -> TASK_RUNNING p50 (ms)", percentile(placement.latencies_ms, 0.5));
  row("launch -> TASK_RUNNING p99 (ms)", percentile(placement.latencies_ms, 0.99));
  row("status updates handled by the master per s (placement)", place_s > 0 ? updates / place_s : 0, "%14.0f");
  row("allocation pass, max seen while placing (ms)",
      alloc_ms.empty() ? 0 : *std::max_element(alloc_ms.begin(), alloc_ms.end()), "%14.2f");
  row("master RSS per task (KiB)", placement.running.load() > 0 ? (rss_tasks - rss_slaves) / placement.running.load() : 0,
      "%14.2f");
  row("master RSS at the end (MiB)", rss_tasks / 1024);
  row("/master/state latency (ms)", plain.is_some() ? state_ms : -1);
  row("/master/state size (MB)", plain.is_some() ? static_cast<double>(plain->body_bytes) / 1e6 : -1, "%14.2f");
  row("/master/state gzip latency (ms)", zipped.is_some() ? state_gz_ms : -1);
  row("/master/state gzip size (MB)", zipped.is_some() ? static_cast<double>(zipped->body_bytes) / 1e6 : -1, "%14.2f");
  row("/metrics/snapshot latency (ms)", snapshot_ok ? metrics_ms : -1);
  row("/master/health p50 idle (ms)", percentile(idle.health_ms, 0.5), "%14.2f");
  row("/master/health p99 idle (ms)", percentile(idle.health_ms, 0.99), "%14.2f");
  row("/master/health max idle (ms)", percentile(idle.health_ms, 1.0), "%14.2f");
  row("allocation passes/s idle", idle.allocation_runs_per_s, "%14.2f");
  row("master's longest turn since it started, before the probes (ms)", idle.longest_turn_before_ms, "%14.2f");
  row("master turns >= 50 ms since it started, before the probes", idle.turns_over_50ms_before, "%14.0f");
  row("  of them >= 50 ms of the master's CPU (-1: not measured)", idle.turns_over_50ms_cpu_before, "%14.0f");
  row("master's most CPU in one turn, before the probes (ms)", idle.longest_turn_cpu_before_ms, "%14.2f");
  std::printf("  with %d clients polling /master/state (%.0f answered in %d s):\n", flags.state_clients,
              loaded.state_requests, flags.probe_seconds);
  row("/master/health p50 (ms)", percentile(loaded.health_ms, 0.5), "%14.2f");
  row("/master/health p99 (ms)", percentile(loaded.health_ms, 0.99), "%14.2f");
  row("/master/health max (ms)", percentile(loaded.health_ms, 1.0), "%14.2f");
  row("allocation passes/s", loaded.allocation_runs_per_s, "%14.2f");
  row("master turns >= 10 ms in the window", loaded.turns_over_10ms, "%14.0f");
  row("master turns >= 50 ms in the window", loaded.turns_over_50ms, "%14.0f");
  row("  of them >= 50 ms of the master's CPU (-1: not measured)", loaded.turns_over_50ms_cpu, "%14.0f");
  // The window's longest turn, when it beat every earlier one (else -1:
  // it was at most the longest before, shown above).
  row("master's longest turn in the window (ms, -1: not above the earlier)",
      loaded.longest_turn_after_ms > idle.longest_turn_after_ms ? loaded.longest_turn_after_ms : -1, "%14.2f");
  row("master's most CPU in one turn in the window (ms, -1: not above the earlier)",
      loaded.longest_turn_cpu_after_ms > idle.longest_turn_cpu_after_ms ? loaded.longest_turn_cpu_after_ms : -1,
      "%14.2f");
  return placed ? 0 : 1;
}

int report_updates(const ScaleFlags& flags, size_t slaves, const std::vector<Server>& simulators, int port,
                   pid_t mpid, const RawRates& raw, bool placed, int running, int slaves_used) {
  // The flood is on since the first TASK_RUNNING; the window starts now
  // that every task runs.
  struct Counters {
    double updates, acks, batches_in, batched_in, batches_out, batched_out;
  };
  auto counters = [&] {
    Snapshot snap = snapshot(port, SCALE_METRIC_TIMEOUT);  // one reading: the flood goes on between two
    auto m = [&](const char* name) { return snap.value(name).value_or(0); };
    return Counters{m("master/valid_status_updates"),  m("master/valid_status_update_acknowledgements"),
                    m("master/batches_received"),      m("master/batched_messages_received"),
                    m("master/batches_sent"),          m("master/batched_messages_sent")};
  };
  std::vector<pid_t> sims;
  for (const Server& s : simulators) {
    sims.push_back(s.process->pid());
  }
  auto sims_cpu = [&] {
    double c = 0;
    for (pid_t p : sims) {
      c += cpu_seconds(p);
    }
    return c;
  };
  // One window of the flood: `during` runs in it (a sleep, or a probe).
  struct Window {
    Counters d{};
    double seconds = 0, cpu = 0, self_cpu = 0, sim_cpu = 0;
    double updates_per_s() const { return seconds > 0 ? d.updates / seconds : 0; }
  };
  auto measure = [&](const std::function<void()>& during) {
    Window w;
    Counters c0 = counters();
    double cpu0 = cpu_seconds(mpid), self0 = cpu_seconds(::getpid()), sim0 = sims_cpu();
    auto t0 = Clock::now();
    during();
    Counters c1 = counters();
    w.seconds = seconds_since(t0);
    w.cpu = cpu_seconds(mpid) - cpu0;
    w.self_cpu = cpu_seconds(::getpid()) - self0;
    w.sim_cpu = sims_cpu() - sim0;
    w.d = Counters{c1.updates - c0.updates,       c1.acks - c0.acks,
                   c1.batches_in - c0.batches_in, c1.batched_in - c0.batched_in,
                   c1.batches_out - c0.batches_out, c1.batched_out - c0.batched_out};
    return w;
  };
  // The measurement window: nothing but the flood.
  const Window quiet = measure([&] { std::this_thread::sleep_for(std::chrono::seconds(flags.update_seconds)); });
  // Then as placement mode probes (issue #17: "measure how much the
  // allocation and update rates drop" while clients poll /master/state):
  // /master/health back to back alone, then with --state_clients pollers.
  Probe idle, loaded;
  const Window probed = measure([&] { idle = probe(port, flags.update_seconds, 0); });
  const Window polled = measure([&] { loaded = probe(port, flags.update_seconds, flags.state_clients); });
  const Counters& d = quiet.d;
  const double window = quiet.seconds, cpu = quiet.cpu, self_cpu = quiet.self_cpu, sim_cpu = quiet.sim_cpu;
  double updates = quiet.updates_per_s();
  double acks = d.acks / window;
  // Remote messages at the master for the flood (each update and each
  // acknowledgement comes in and goes out once, alone or in a batch).
  double messages =
      (2 * (d.updates + d.acks) - (d.batched_in + d.batched_out) + (d.batches_in + d.batches_out)) / window;

  auto row = [](const char* what, double v, const char* fmt = "%14.1f") {
    std::printf("  %-62s", what);
    std::printf(fmt, v);
    std::printf("\n");
  };
  std::printf("\n== status updates: %zu slaves (%zu simulator processes), %d tasks running on %d of them, %d s window, "
              "%s ==\n",
              slaves, simulators.size(), running, slaves_used, flags.update_seconds,
              flags.batched ? "batched" : "not batched");
  row("raw CAF remote, one way, 1024 unanswered, fastest of 3 (msgs/s)", raw.one_way_per_s, "%14.0f");
  row("raw CAF remote, one way, slowest of the 3 (msgs/s)", raw.one_way_slowest_per_s, "%14.0f");
  row("raw CAF remote, echoed, 256 unanswered (round trips/s)", raw.echo_per_s, "%14.0f");
  row("raw CAF remote, round trip one at a time p50 (us)", raw.rtt_p50_us);
  row("raw CAF remote, round trip one at a time p99 (us)", raw.rtt_p99_us);
  row("raw: CPU per message, sending end (us)", raw.send_cpu_us, "%14.2f");
  row("raw: CPU per message, receiving end (us)", raw.receive_cpu_us, "%14.2f");
  row("raw: CPU per echoed round trip, both ends (us)", raw.echo_cpu_us, "%14.2f");
  row("status updates handled by the master (per s)", updates, "%14.0f");
  row("acknowledgements handled by the master (per s)", acks, "%14.0f");
  row("batches the master received (per s)", d.batches_in / window, "%14.0f");
  row("  updates or calls per batch received", d.batches_in > 0 ? d.batched_in / d.batches_in : 0, "%14.1f");
  row("batches the master sent (per s)", d.batches_out / window, "%14.0f");
  row("  events or acknowledgements per batch sent", d.batches_out > 0 ? d.batched_out / d.batches_out : 0,
      "%14.1f");
  row("remote messages at the master (per s)", messages, "%14.0f");
  row("  per update (4 without batches)", updates > 0 ? messages / updates : 0, "%14.2f");
  row("ratio per update: updates/s / raw one-way msgs/s (%)", 100 * updates / raw.one_way_per_s);
  row("ratio per message: messages/s at the master / raw one-way msgs/s (%)", 100 * messages / raw.one_way_per_s);
  row("ratio per round trip: updates/s / raw echoed round trips/s (%)", 100 * updates / raw.echo_per_s);
  double per_update = updates > 0 ? 1e6 * cpu / (updates * window) : 0;
  row("master CPU per update (us)", per_update, "%14.2f");
  row("master CPU per remote message (us)", messages > 0 ? 1e6 * cpu / (messages * window) : 0, "%14.2f");
  row("  against raw CPU per message, sending + receiving end (us)", raw.send_cpu_us + raw.receive_cpu_us,
      "%14.2f");
  row("master CPU (% of one core)", 100 * cpu / window);
  row("simulators' CPU (% of one core)", 100 * sim_cpu / window);
  row("simulators' CPU per update (us)", updates > 0 ? 1e6 * sim_cpu / (updates * window) : 0, "%14.2f");
  row("framework (this process) CPU (% of one core)", 100 * self_cpu / window);
  row("framework CPU per update (us)", updates > 0 ? 1e6 * self_cpu / (updates * window) : 0, "%14.2f");
  row("load average (1 min)", load_average(), "%14.2f");
  std::printf("  then /master/health probed back to back for %d s, alone and with %d clients polling /master/state "
              "(%.0f answered):\n",
              flags.update_seconds, flags.state_clients, loaded.state_requests);
  auto drop = [](double before, double after) { return before > 0 ? 100 * (before - after) / before : 0; };
  row("status updates/s, /health probed", probed.updates_per_s(), "%14.0f");
  row("status updates/s, /health probed, /state polled", polled.updates_per_s(), "%14.0f");
  row("  drop from the quiet window (%)", drop(updates, polled.updates_per_s()));
  row("  drop from /health alone (%)", drop(probed.updates_per_s(), polled.updates_per_s()));
  row("master CPU (% of one core), /health probed", 100 * probed.cpu / probed.seconds);
  row("master CPU (% of one core), /state polled", 100 * polled.cpu / polled.seconds);
  row("allocation passes/s, /health probed", idle.allocation_runs_per_s, "%14.2f");
  row("allocation passes/s, /state polled", loaded.allocation_runs_per_s, "%14.2f");
  row("/master/health p50, alone (ms)", percentile(idle.health_ms, 0.5), "%14.2f");
  row("/master/health p99, alone (ms)", percentile(idle.health_ms, 0.99), "%14.2f");
  row("/master/health max, alone (ms)", percentile(idle.health_ms, 1.0), "%14.2f");
  row("/master/health p50, /state polled (ms)", percentile(loaded.health_ms, 0.5), "%14.2f");
  row("/master/health p99, /state polled (ms)", percentile(loaded.health_ms, 0.99), "%14.2f");
  row("/master/health max, /state polled (ms)", percentile(loaded.health_ms, 1.0), "%14.2f");
  row("master turns >= 50 ms in the polled window", loaded.turns_over_50ms, "%14.0f");
  row("  of them >= 50 ms of the master's CPU (-1: not measured)", loaded.turns_over_50ms_cpu, "%14.0f");
  return placed && updates > 0 && polled.updates_per_s() > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  ScaleFlags flags;
  if (auto e = flags.load(argc, argv)) {
    std::cerr << e->message << "\n";
    return 1;
  }
  if (flags.help) {
    std::cout << flags.usage("stoa-bench-scale");
    return 0;
  }
  // The master times each turn's CPU too (a system call per message), so
  // that its slow turns tell its own work from waiting for a core: the
  // simulated slaves share this machine's cores with it.
  ::setenv("STOA_TURN_CPU", "1", 0);
  int rc = 0;
  for (const std::string& n : split(flags.slaves, ',')) {
    rc |= run(flags, std::stoul(n));
  }
  return rc;
}
