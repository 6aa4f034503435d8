// stoa-bench-launch: task launch throughput and latency through a real
// cluster on loopback (one stoa-master and two stoa-slave processes started
// here), plus the raw CAF remote message rate between two actor systems on
// this machine as the reference limit.
//
//   stoa-bench-launch [--tasks=500] [--bin_dir=build/bin] [--messages=200000]
//
// Prints a table; results are recorded in docs/benchmarks.md.

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "common/flags.hpp"
#include "common/resources.hpp"
#include "common/uuid.hpp"
#include "framework/scheduler.hpp"
#include "actors/launcher.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace stoa;

struct BenchFlags : FlagsBase {
  BenchFlags() {
    add(&tasks, "tasks", "Tasks of `true` to run.", 500);
    add(&bin_dir, "bin_dir", "Directory of the Stoa binaries (default: this binary's).", "");
    add(&max_in_flight, "max_in_flight", "Unfinished tasks allowed at once.", 4);
    add(&messages, "messages", "Messages for the raw CAF remote rate.", 200000);
    add(&work_dir, "work_dir", "Scratch directory.", "/tmp/stoa-bench-launch");
    add(&checkpoint, "checkpoint",
        "Run the framework with FrameworkInfo.checkpoint (the slaves fsync its tasks' info and updates).", false);
    add(&launch_gap, "launch_gap",
        "Wait this long after a task finishes before launching the next (0 = at once): the latency of a "
        "launch on a machine that is not busy with the previous one (the pool refilled, the executor gone).",
        std::chrono::milliseconds(0));
    add(&executor_pool_size, "executor_pool_size",
        "Passed to both slaves: command executors each keeps started ahead (0 = cold starts).", 0);
    add(&http_command_executor, "http_command_executor",
        "Passed to both slaves: tasks run under stoa-http-executor (the v1 HTTP API, no CAF) instead of "
        "stoa-executor.",
        false);
    add(&domain_sockets, "domain_sockets",
        "Passed to both slaves as --http_executor_domain_sockets: stoa-http-executors talk to their slave over "
        "a Unix socket (MESOS_DOMAIN_SOCKET) instead of TCP.",
        false);
    add(&batched, "batched",
        "The framework subscribes with batched_events (Stoa's batched status updates; false: one message per "
        "event and acknowledgement, as Mesos).",
        true);
    add(&framework_on_io_thread, "framework_on_io_thread",
        "Run this process' framework (its scheduler actor and driver) on CAF's I/O thread, as stoa-master and "
        "stoa-slave run theirs, instead of CAF's scheduler threads (a framework whose actors never block may; "
        "STOA_ACTORS_ON_IO_THREAD in the environment wins).",
        false);
  }
  bool http_command_executor = false;
  bool domain_sockets = false;
  bool framework_on_io_thread = false;
  bool batched = true;
  bool checkpoint = false;
  int executor_pool_size = 0;
  Duration launch_gap{0};
  int tasks;
  std::string bin_dir;
  int messages;
  int max_in_flight;
  std::string work_dir;
};

// How many lines of the log at `path` contain `text`.
int count_lines(const std::string& path, const std::string& text) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    n += line.find(text) != std::string::npos ? 1 : 0;
  }
  return n;
}

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string p(buf, n > 0 ? static_cast<size_t>(n) : 0);
  return p.substr(0, p.rfind('/'));
}

struct Daemon {
  pid_t pid = -1;
  std::string log;
  int port = 0;
};

// Starts a daemon and waits (bounded) for its "listening on" line.
Daemon start(const std::string& bin, std::vector<std::string> args, const std::string& log) {
  LaunchSpec spec;
  spec.argv = {bin};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.stdout_path = log;
  spec.stderr_path = log;
  Try<pid_t> pid = launch(spec);
  if (pid.is_error()) {
    std::cerr << pid.error() << "\n";
    std::exit(1);
  }
  Daemon d{*pid, log, 0};
  std::regex re("listening on http://[0-9.]+:([0-9]+)");
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    std::smatch m;
    std::string text = ss.str();
    if (std::regex_search(text, m, re)) {
      d.port = std::stoi(m[1]);
      return d;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a log file
  }
  std::cerr << "timed out waiting for " << bin << "; see " << log << "\n";
  std::exit(1);
}

void stop(Daemon& d) {
  if (d.pid > 0) {
    ::kill(d.pid, SIGTERM);
    int status;
    ::waitpid(d.pid, &status, 0);
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

struct LaunchResult {
  double seconds = 0;
  int finished = 0;
  int failed = 0;  // ended in another terminal state (each also named on stderr)
  std::vector<double> latencies_ms;  // ACCEPT sent -> TASK_RUNNING received
};

// Launches `n` tasks of `true`, at most `max_in_flight` unfinished at a
// time, holding offers it cannot use yet instead of declining them.
class BenchScheduler : public Scheduler {
 public:
  BenchScheduler(int n, int max_in_flight, LaunchResult* out, std::chrono::milliseconds gap)
      : n_(n), max_in_flight_(max_in_flight), out_(out), gap_(gap) {}

  void offers(SchedulerDriver& d, const std::vector<Offer>& offers) override {
    for (const Offer& o : offers) {
      held_[o.id().value()] = o;
    }
    launch_some(d);
  }

  void rescind(SchedulerDriver&, const OfferID& id) override { held_.erase(id.value()); }

  void launch_some(SchedulerDriver& d) {
    Resources per_task = *Resources::parse("cpus:0.1;mem:32");
    if (Clock::now() < not_before_) {
      return;  // --launch_gap: the timer launches
    }
    for (auto it = held_.begin(); it != held_.end() && launched_ < n_;) {
      if (launched_ - done_ >= max_in_flight_) {
        return;
      }
      const Offer& o = it->second;
      Try<Resources> avail = Resources::from_proto(o.resources());
      Resources left = avail.is_some() ? *avail : Resources();
      std::vector<TaskInfo> tasks;
      while (launched_ < n_ && launched_ - done_ < max_in_flight_ && left.contains(per_task)) {
        TaskInfo t;
        t.set_name("bench");
        t.mutable_task_id()->set_value("bench-" + std::to_string(launched_++));
        *t.mutable_slave_id() = o.slave_id();
        t.mutable_command()->set_value("true");
        per_task.to_proto(t.mutable_resources());
        left -= per_task;
        tasks.push_back(t);
      }
      auto now = Clock::now();
      if (!started_) {
        started_ = true;
        start_ = now;
      }
      for (const TaskInfo& t : tasks) {
        sent_[t.task_id().value()] = now;
      }
      Filters f;
      f.set_refuse_seconds(0);
      if (tasks.empty()) {
        d.decline(o.id(), f);
      } else {
        d.launch({o.id()}, tasks, f);
      }
      it = held_.erase(it);
    }
  }

  void update(SchedulerDriver& d, const TaskStatus& s) override {
    const std::string& id = s.task_id().value();
    if (s.state() == TASK_RUNNING) {
      auto it = sent_.find(id);
      if (it != sent_.end()) {
        out_->latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
      }
      return;
    }
    if (s.state() == TASK_STARTING) {
      return;
    }
    ++done_;
    if (s.state() == TASK_FINISHED) {
      ++out_->finished;
    } else {
      ++out_->failed;
      std::cerr << "task " << id << " ended " << TaskState_Name(s.state()) << ": " << s.message() << "\n";
    }
    if (done_ == n_) {
      out_->seconds = std::chrono::duration<double>(Clock::now() - start_).count();
      d.teardown();
      d.stop();
      return;
    }
    if (gap_.count() > 0) {
      not_before_ = Clock::now() + gap_;
      d.after(gap_, [this, &d] { launch_some(d); });  // --launch_gap: the machine settles first
    } else {
      launch_some(d);
    }
  }

 private:
  int n_;
  int max_in_flight_;
  LaunchResult* out_;
  std::chrono::milliseconds gap_;
  Clock::time_point not_before_{};
  int launched_ = 0;
  int done_ = 0;
  bool started_ = false;
  Clock::time_point start_;
  std::map<std::string, Offer> held_;
  std::map<std::string, Clock::time_point> sent_;
};

// --- raw CAF remote message rate ---------------------------------------------

struct sink_state {
  sink_state() = default;
  uint64_t received = 0;
  uint64_t expected = 0;
  caf::actor notify;
  static inline const char* name = "bench-sink";
};

caf::behavior sink(caf::stateful_actor<sink_state>* self) {
  return {
      [self](uint64_t expected, const caf::actor& notify) {
        self->state.expected = expected;
        self->state.notify = notify;
      },
      [self](internal::StatusUpdateMessage&) {
        if (++self->state.received == self->state.expected) {
          self->send(self->state.notify, stop_atom_v);
        }
      },
      [](tick_atom, int64_t x) { return x; },
  };
}

struct RateResult {
  double msgs_per_sec = 0;
  std::vector<double> rtt_us;
};

RateResult remote_rate(int messages) {
  RateResult out;
  RuntimeOptions o;
  auto a = Runtime::start(o);
  auto b = Runtime::start(o);
  if (a.is_error() || b.is_error()) {
    std::cerr << "cannot start runtimes\n";
    std::exit(1);
  }
  caf::actor s = (*b)->system().spawn(sink);
  (*b)->register_actor("sink", s);
  {
    caf::scoped_actor self{(*a)->system()};
    caf::actor remote;
    self->request((*a)->router(), RESOLVE_TIMEOUT, resolve_atom_v, (*b)->upid("sink").str())
        .receive([&](const caf::actor& h) { remote = h; },
                 [&](caf::error& e) { std::cerr << "resolve: " << caf::to_string(e) << "\n"; });
    if (!remote) {
      std::exit(1);
    }
    self->send(remote, static_cast<uint64_t>(messages), caf::actor_cast<caf::actor>(self));
    internal::StatusUpdateMessage m;
    m.mutable_update()->mutable_framework_id()->set_value("bench-framework-0000");
    m.mutable_update()->mutable_status()->mutable_task_id()->set_value("bench-task-1");
    m.mutable_update()->mutable_status()->set_state(TASK_RUNNING);
    m.mutable_update()->set_timestamp(1.0);
    m.mutable_update()->set_uuid(random_uuid_bytes());
    auto t0 = Clock::now();
    for (int i = 0; i < messages; ++i) {
      self->send(remote, m);
    }
    self->receive([](stop_atom) {}, caf::after(std::chrono::seconds(120)) >> [] {
      std::cerr << "remote rate: timed out\n";
    });
    out.msgs_per_sec = messages / std::chrono::duration<double>(Clock::now() - t0).count();
    for (int i = 0; i < 2000; ++i) {
      auto r0 = Clock::now();
      self->request(remote, std::chrono::seconds(5), tick_atom_v, static_cast<int64_t>(i))
          .receive([](int64_t) {}, [](caf::error&) {});
      out.rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - r0).count());
    }
  }
  (*a)->shutdown();
  (*b)->shutdown();
  return out;
}

// CPU seconds of a live process from /proc/<pid>/stat: its own (utime +
// stime) and that of its children it has waited for (cutime + cstime): for
// a slave, the executors it reaped and the tasks they reaped.
struct ProcCpu {
  double self = 0;
  double children = 0;
};

ProcCpu read_cpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  ProcCpu cpu;
  std::size_t close = line.rfind(')');
  if (close == std::string::npos) {
    return cpu;
  }
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  std::vector<double> fields;  // fields 3.. of stat
  while (fields.size() < 15 && rest >> field) {
    fields.push_back(std::atof(field.c_str()));
  }
  if (fields.size() < 15) {
    return cpu;
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  cpu.self = (fields[11] + fields[12]) / ticks;       // utime, stime (fields 14, 15)
  cpu.children = (fields[13] + fields[14]) / ticks;   // cutime, cstime (fields 16, 17)
  return cpu;
}

double own_cpu_seconds() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  BenchFlags flags;
  if (auto e = flags.load(argc, argv)) {
    std::cerr << e->message << "\n";
    return 1;
  }
  if (flags.help) {
    std::cout << flags.usage("stoa-bench-launch");
    return 0;
  }
  std::string bin = flags.bin_dir.empty() ? self_dir() : flags.bin_dir;
  std::string dir = flags.work_dir;
  std::system(("rm -rf '" + dir + "' && mkdir -p '" + dir + "'").c_str());
  block_termination_signals();

  Daemon master = start(bin + "/stoa-master", {"--port=0", "--work_dir=" + dir + "/m"}, dir + "/master.log");
  std::string maddr = "127.0.0.1:" + std::to_string(master.port);
  std::vector<Daemon> slaves;
  for (int i = 1; i <= 2; ++i) {
    slaves.push_back(start(bin + "/stoa-slave",
                           {"--master=" + maddr, "--port=0", "--work_dir=" + dir + "/s" + std::to_string(i),
                            "--resources=cpus:2;mem:4096;disk:1000;ports:[31000-32000]",
                            "--executor_pool_size=" + std::to_string(flags.executor_pool_size),
                            std::string("--http_command_executor=") + (flags.http_command_executor ? "true" : "false"),
                            std::string("--http_executor_domain_sockets=") + (flags.domain_sockets ? "true" : "false")},
                           dir + "/slave" + std::to_string(i) + ".log"));
  }
  LaunchResult launch;
  const double framework_cpu_before = own_cpu_seconds();
  ProcCpu master_cpu;
  ProcCpu slaves_cpu;
  {
    RuntimeOptions ro;
    ro.actors_on_io_thread = flags.framework_on_io_thread;
    auto rt = Runtime::start(ro);
    if (rt.is_error()) {
      std::cerr << rt.error() << "\n";
      return 1;
    }
    SchedulerOptions so;
    so.master = maddr;
    so.framework_info.set_user(current_user());
    so.framework_info.set_name("stoa-bench-launch");
    so.framework_info.set_checkpoint(flags.checkpoint);
    so.batched_events = flags.batched;
    caf::actor sched = spawn_scheduler(**rt, so, std::make_unique<BenchScheduler>(
        flags.tasks, flags.max_in_flight, &launch,
        std::chrono::duration_cast<std::chrono::milliseconds>(flags.launch_gap)));
    await_scheduler(**rt, sched, false);
    master_cpu = read_cpu(master.pid);
    for (Daemon& d : slaves) {
      ProcCpu c = read_cpu(d.pid);
      slaves_cpu.self += c.self;
      slaves_cpu.children += c.children;
    }
    (*rt)->shutdown();
  }
  const double framework_cpu = own_cpu_seconds() - framework_cpu_before;
  for (Daemon& d : slaves) {
    stop(d);
  }
  int adopted = 0;
  for (const Daemon& d : slaves) {
    adopted += count_lines(d.log, "Launched pooled executor");
  }
  stop(master);
  RateResult rate = remote_rate(flags.messages);

  std::printf("%-44s %12s\n", "metric", "value");
  std::printf("%-44s %12d\n", "tasks run (true) via master + 2 slaves", launch.finished);
  std::printf("%-44s %12s\n", "tasks NOT finished (failed, killed, lost)",
              launch.failed == 0 ? "0" : (std::to_string(launch.failed) + " <- !").c_str());
  std::printf("%-44s %12d\n", "max tasks in flight", flags.max_in_flight);
  std::printf("%-44s %12d\n", "executor pool size per slave", flags.executor_pool_size);
  std::printf("%-44s %12s\n", "executor", flags.http_command_executor ? "http" : "caf");
  std::printf("%-44s %12s\n", "executor <-> slave over", flags.domain_sockets ? "Unix socket" : "TCP");
  std::printf("%-44s %12s\n", "framework's actors on", flags.framework_on_io_thread ? "I/O thread" : "scheduler");
  std::printf("%-44s %12d\n", "launches adopted from the pool", adopted);
  std::printf("%-44s %12s\n", "gap after each finished task", format_duration(flags.launch_gap).c_str());
  std::printf("%-44s %12.1f\n", "throughput (tasks/s)", launch.seconds > 0 ? launch.finished / launch.seconds : 0.0);
  std::printf("%-44s %12.2f\n", "launch -> TASK_RUNNING p50 (ms)", percentile(launch.latencies_ms, 0.50));
  std::printf("%-44s %12.2f\n", "launch -> TASK_RUNNING p99 (ms)", percentile(launch.latencies_ms, 0.99));
  const double per_task = launch.finished > 0 ? 1000.0 / launch.finished : 0.0;
  std::printf("%-44s %12.2f\n", "CPU per task: master (ms)", master_cpu.self * per_task);
  std::printf("%-44s %12.2f\n", "CPU per task: slaves (ms)", slaves_cpu.self * per_task);
  std::printf("%-44s %12.2f\n", "CPU per task: executors + tasks (ms)", slaves_cpu.children * per_task);
  std::printf("%-44s %12.2f\n", "CPU per task: framework (ms)", framework_cpu * per_task);
  std::printf("%-44s %12.0f\n", "raw CAF remote one-way (msgs/s, 2 systems)", rate.msgs_per_sec);
  std::printf("%-44s %12.1f\n", "raw CAF remote RTT p50 (us, scoped_actor)", percentile(rate.rtt_us, 0.50));
  std::printf("%-44s %12.1f\n", "raw CAF remote RTT p99 (us, scoped_actor)", percentile(rate.rtt_us, 0.99));
  return launch.finished == flags.tasks ? 0 : 1;
}
