// stoa-chaos: the chaos harness (issue #16, docs/chaos.md). One command
// starts a ZooKeeper ensemble, 3 masters, 4 slaves, 2 stoa-services with a
// 10-instance health-checked app, and the checker framework
// (stoa-chaos-checker) running --tasks short tasks; applies a seeded random
// fault schedule (chaos_schedule.hpp); then checks the promises
// (chaos_checks.hpp plus the services app, leftovers and invariants) and
// prints the availability after each leader kill.
//
//   stoa-chaos [--tasks=1000] [--seed=N] [--master_kills=10] [--slave_restarts=10]
//              [--slave_partitions=5] [--zookeeper_restarts=2] [--services_kills=2]
//              [--fault_window=150secs] [--duration=15mins] [--dir=/tmp/stoa-chaos-<seed>]
//
// Exit status: 0 when every check passed, 1 on any violation (each printed),
// 2 for bad flags, 77 when ZooKeeper (java) or a binary is missing.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <set>
#include <thread>

#include "common/flags.hpp"
#include "tests/chaos/chaos_cluster.hpp"
#include "tests/chaos/chaos_schedule.hpp"
#include "tests/poll.hpp"

namespace stoa::chaos {
namespace {

using tests::deadline_in;

constexpr int EXIT_PASSED = 0;
constexpr int EXIT_VIOLATIONS = 1;
constexpr int EXIT_BAD_FLAGS = 2;
constexpr int EXIT_SKIPPED = 77;
// The orchestrator's loop period (it polls; nothing it waits for sends it a message).
constexpr auto TICK = std::chrono::milliseconds(50);
constexpr auto HTTP_PROBE = std::chrono::milliseconds(300);
// How long a fault may wait for its target (a leader to kill) before it is dropped.
constexpr int64_t FAULT_TARGET_WAIT_MS = 30000;
// How long a process left in a sandbox may outlive its task (the slave's kill path).
constexpr auto LEFTOVER_GRACE = std::chrono::seconds(15);
const std::string SERVICES_APP = "/chaos-web";
constexpr int SERVICES_INSTANCES = 10;

struct ChaosFlags : FlagsBase {
  ChaosFlags() {
    add(&tasks, "tasks", "Short tasks the checker framework must finish.", 1000);
    check("tasks", at_least(1));
    add(&seed, "seed",
        "The fault schedule's seed, a decimal number (0 = pick one from the clock; it is printed).",
        "0");
    check("seed", [](const std::string& v) -> std::optional<std::string> {
      if (v.empty() || v.size() > 19 || v.find_first_not_of("0123456789") != std::string::npos) {
        return "'" + v + "' is not a decimal number of at most 19 digits";
      }
      return std::nullopt;
    });
    add(&master_kills, "master_kills", "kill -9 of the leading master (restarted).", 10);
    add(&slave_restarts, "slave_restarts", "kill -9 + restart of a slave.", 10);
    add(&slave_partitions, "slave_partitions",
        "SIGSTOP of a slave beyond the ping timeout, then SIGCONT.", 5);
    add(&zookeeper_restarts, "zookeeper_restarts", "Restarts of one ZooKeeper server.", 2);
    add(&services_kills, "services_kills", "kill -9 of the leading stoa-services (restarted).", 2);
    for (const char* f : {"master_kills", "slave_restarts", "slave_partitions",
                          "zookeeper_restarts", "services_kills"}) {
      check(f, at_least(0));
    }
    add(&fault_window, "fault_window", "Faults start within this long after the workload starts.",
        std::chrono::seconds(150));
    check("fault_window", positive_duration());
    add(&tasks_per_second, "tasks_per_second",
        "The checker's launch rate (0 = spread --tasks over --fault_window).", 0.0);
    add(&duration, "duration", "The whole run's bound: past it the run fails.",
        std::chrono::minutes(15));
    check("duration", positive_duration());
    add(&services_bound, "services_bound",
        "After the last fault heals, the services app must be back at 10 healthy instances within "
        "this.",
        std::chrono::seconds(60));
    check("services_bound", positive_duration());
    add(&zk_session_timeout, "zk_session_timeout", "Every process' ZooKeeper session timeout.",
        std::chrono::seconds(2));
    check("zk_session_timeout", positive_duration());
    add(&dir, "dir",
        "The run's directory (logs, work dirs, the record); default /tmp/stoa-chaos-<seed>.");
  }
  int tasks = 1000;
  std::string seed;
  int master_kills = 10;
  int slave_restarts = 10;
  int slave_partitions = 5;
  int zookeeper_restarts = 2;
  int services_kills = 2;
  Duration fault_window;
  double tasks_per_second = 0;
  Duration duration;
  Duration services_bound;
  Duration zk_session_timeout;
  std::optional<std::string> dir;
};

std::chrono::milliseconds ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

struct ActiveFault {
  Fault fault;
  enum { pending, active, healed, dropped } phase = pending;
  int64_t started = 0;  // wall ms
  size_t slot = 0;      // the master or services slot killed
};

struct LeaderKill {
  int64_t killed = 0;               // wall ms
  std::optional<int64_t> answered;  // ms until /master/state answered from a leader
  size_t slot = 0;
};

class Run {
 public:
  Run(const ChaosFlags& flags, std::string dir, uint64_t seed)
      : flags_(flags), dir_(std::move(dir)), seed_(seed), cluster_(cluster_options()) {}

  int go() {
    std::vector<Fault> schedule = build_schedule(schedule_options());
    std::cout << "stoa-chaos: seed " << seed_ << ", dir " << dir_ << "\nschedule:\n"
              << describe_schedule(schedule) << std::flush;
    if (auto e = cluster_.start()) {
      std::cout << "FAILED to start the cluster: " << e->message << "\n";
      cluster_.print_logs(30);
      return EXIT_VIOLATIONS;
    }
    deadline_ = start_wall_ + ms(flags_.duration).count();
    if (auto e = deploy_services_app()) {
      fail(e->message);
    }
    double rate =
        flags_.tasks_per_second > 0
            ? flags_.tasks_per_second
            : flags_.tasks /
                  std::max(1.0, std::chrono::duration<double>(flags_.fault_window).count());
    record_ = dir_ + "/record.jsonl";
    if (auto e = cluster_.start_checker(
            {"--master=" + cluster_.master_url(), "--tasks=" + std::to_string(flags_.tasks),
             "--record=" + record_, "--tasks_per_second=" + std::to_string(rate),
             "--zk_session_timeout=" + format_duration(flags_.zk_session_timeout)})) {
      fail(e->message);
    }
    run_faults(schedule);
    await_checker();
    await_services_app();
    check_everything();
    print_report();
    if (!violations_.empty()) {
      cluster_.print_logs(15);
    }
    return violations_.empty() ? EXIT_PASSED : EXIT_VIOLATIONS;
  }

 private:
  ClusterOptions cluster_options() const {
    ClusterOptions o;
    o.dir = dir_;
    o.zk_session_timeout = ms(flags_.zk_session_timeout);
    return o;
  }

  ScheduleOptions schedule_options() const {
    ScheduleOptions o;
    o.seed = seed_;
    o.counts = {flags_.master_kills, flags_.slave_restarts, flags_.slave_partitions,
                flags_.zookeeper_restarts, flags_.services_kills};
    o.window = ms(flags_.fault_window);
    // A partition outlasts the ping timeouts (3 x 500 ms) by at least half.
    o.partition_down = std::chrono::milliseconds(2500);
    return o;
  }

  void fail(const std::string& why) {
    std::cout << "VIOLATION: " << why << "\n" << std::flush;
    violations_.push_back(why);
  }
  void note(const std::string& what) {
    std::cout << "[" << (wall_ms() - start_wall_) / 1000.0 << "s] " << what << "\n" << std::flush;
  }
  bool past_deadline() const { return wall_ms() > deadline_; }

  // Polls `done` every TICK (tests::poll_until) until it is true or
  // --duration ends; false at the end of --duration.
  bool until_deadline(const std::function<bool()>& done) const {
    return tests::poll_until(done, deadline_in(std::chrono::milliseconds(std::max<int64_t>(0, deadline_ - wall_ms()))),
                             TICK);
  }

  std::optional<Error> deploy_services_app() {
    std::string body =
        R"({"id":")" + SERVICES_APP + R"(","cmd":"sleep 100000","cpus":0.1,"mem":16,"instances":)" +
        std::to_string(SERVICES_INSTANCES) +
        R"(,"healthChecks":[{"protocol":"COMMAND","command":{"value":"true"},)"
        R"("gracePeriodSeconds":5,"intervalSeconds":1,"timeoutSeconds":2,"maxConsecutiveFailures":3}]})";
    std::optional<size_t> leader = cluster_.leading_services();
    if (!leader) {
      return Error("no stoa-services instance leads");
    }
    std::string request =
        "POST /v2/apps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        "Connection: close\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body;
    Try<tests::HttpResponse> r =
        tests::http_raw("127.0.0.1", cluster_.services()[*leader].port, request);
    if (r.is_error() || r->status != 201) {
      return Error("POST /v2/apps: " +
                   (r.is_error() ? r.error() : std::to_string(r->status) + " " + r->body));
    }
    std::optional<std::string> healthy;
    if (!tests::poll_until([&] { return (healthy = services_app_healthy()).has_value(); },
                           deadline_in(std::chrono::seconds(60)))) {
      return Error("the services app did not reach " + std::to_string(SERVICES_INSTANCES) +
                   " healthy instances");
    }
    note("services app " + SERVICES_APP + " healthy: " + *healthy);
    return std::nullopt;
  }

  // The app's task ids (sorted, space-separated) when all instances run and
  // are healthy according to the leading stoa-services; else nullopt.
  std::optional<std::string> services_app_healthy() {
    std::optional<size_t> leader = cluster_.leading_services();
    if (!leader) {
      return std::nullopt;
    }
    Try<picojson::value> tasks =
        tests::http_get_json("127.0.0.1", cluster_.services()[*leader].port,
                             "/v2/apps" + SERVICES_APP + "/tasks", deadline_in(HTTP_PROBE * 3));
    if (tasks.is_error()) {
      return std::nullopt;
    }
    std::vector<std::string> ids;
    for (const picojson::value& t : tests::json_array(tests::json_at(*tasks, "tasks"))) {
      const picojson::array& results = tests::json_array(tests::json_at(t, "healthCheckResults"));
      bool alive = !results.empty() &&
                   std::all_of(results.begin(), results.end(), [](const picojson::value& h) {
                     const picojson::value& a = tests::json_at(h, "alive");
                     return a.is<bool>() && a.get<bool>();
                   });
      if (!alive) {
        return std::nullopt;
      }
      ids.push_back(tests::json_string(tests::json_at(t, "id")));
    }
    if (ids.size() != static_cast<size_t>(SERVICES_INSTANCES)) {
      return std::nullopt;
    }
    std::sort(ids.begin(), ids.end());
    std::string out;
    for (const std::string& id : ids) {
      out += (out.empty() ? "" : " ") + id;
    }
    return out;
  }

  // One pass of the loop's bookkeeping: availability probes, supervision.
  void tick() {
    for (LeaderKill& k : kills_) {
      if (k.answered) {
        continue;
      }
      for (size_t i = 0; i < cluster_.masters().size(); ++i) {
        Daemon& m = cluster_.masters()[i];
        if (!m.process || m.port == 0 || (i == k.slot && m.down_on_purpose)) {
          continue;
        }
        Try<tests::HttpResponse> r =
            tests::http_get("127.0.0.1", m.port, "/master/state", deadline_in(HTTP_PROBE));
        if (r.is_some() && r->status == 200) {
          k.answered = wall_ms() - k.killed;
          note("/master/state answered from a leader " + std::to_string(*k.answered) +
               " ms after the kill");
          break;
        }
      }
    }
    for (const std::string& line : cluster_.supervise_masters()) {
      note(line);
      unplanned_master_exits_.push_back(line);
    }
  }

  bool start_fault(ActiveFault& a) {
    Fault& f = a.fault;
    switch (f.kind) {
      case FaultKind::kill_leading_master: {
        std::optional<size_t> leader = cluster_.leading_master();
        if (!leader) {
          return false;
        }
        a.slot = *leader;
        LeaderKill k;
        k.killed = wall_ms();
        k.slot = *leader;
        cluster_.kill(cluster_.masters()[*leader]);
        kills_.push_back(k);
        note("killed the leading master " + cluster_.masters()[*leader].label);
        return true;
      }
      case FaultKind::restart_slave:
        cluster_.kill(cluster_.slaves()[static_cast<size_t>(f.target)]);
        note("killed slave" + std::to_string(f.target));
        return true;
      case FaultKind::partition_slave: {
        Daemon& s = cluster_.slaves()[static_cast<size_t>(f.target)];
        s.process->kill(SIGSTOP);
        s.stopped = true;
        note("partitioned slave" + std::to_string(f.target) + " (SIGSTOP)");
        return true;
      }
      case FaultKind::restart_zookeeper:
        cluster_.zookeeper().stop(f.target);
        note("stopped ZooKeeper server " + std::to_string(f.target));
        return true;
      case FaultKind::kill_leading_services: {
        std::optional<size_t> leader = cluster_.leading_services();
        if (!leader) {
          return false;
        }
        a.slot = *leader;
        cluster_.kill(cluster_.services()[*leader]);
        note("killed the leading stoa-services " + cluster_.services()[*leader].label);
        return true;
      }
    }
    return false;
  }

  void heal_fault(ActiveFault& a) {
    Fault& f = a.fault;
    std::optional<Error> e;
    switch (f.kind) {
      case FaultKind::kill_leading_master:
        e = cluster_.launch(cluster_.masters()[a.slot], false);
        note("restarted " + cluster_.masters()[a.slot].label);
        break;
      case FaultKind::restart_slave:
        e = cluster_.launch(cluster_.slaves()[static_cast<size_t>(f.target)], false);
        note("restarted slave" + std::to_string(f.target));
        break;
      case FaultKind::partition_slave: {
        Daemon& s = cluster_.slaves()[static_cast<size_t>(f.target)];
        s.process->kill(SIGCONT);
        s.stopped = false;
        note("healed slave" + std::to_string(f.target) + " (SIGCONT)");
        break;
      }
      case FaultKind::restart_zookeeper:
        e = cluster_.zookeeper().start(f.target);
        note("restarted ZooKeeper server " + std::to_string(f.target));
        break;
      case FaultKind::kill_leading_services:
        e = cluster_.launch(cluster_.services()[a.slot], false);
        note("restarted " + cluster_.services()[a.slot].label);
        break;
    }
    if (e) {
      fail("healing " + fault_name(f.kind) + ": " + e->message);
    }
  }

  void run_faults(const std::vector<Fault>& schedule) {
    std::vector<ActiveFault> faults;
    for (const Fault& f : schedule) {
      faults.push_back(ActiveFault{f});
    }
    int64_t t0 = wall_ms();
    auto busy = [&](const Fault& f) {
      for (const ActiveFault& o : faults) {
        int a = fault_class(o.fault.kind);
        int b = fault_class(f.kind);
        if (o.phase == ActiveFault::active &&
            (a == b || (a == 0 && b == 2) || (a == 2 && b == 0))) {
          return true;
        }
      }
      return false;
    };
    bool healed = until_deadline([&] {
      int64_t now = wall_ms();
      bool open = false;
      for (ActiveFault& a : faults) {
        if (a.phase == ActiveFault::active && now >= a.started + a.fault.down.count()) {
          heal_fault(a);
          a.phase = ActiveFault::healed;
          last_heal_ = wall_ms();
        }
      }
      for (ActiveFault& a : faults) {
        if (a.phase == ActiveFault::pending && now >= t0 + a.fault.at.count() && !busy(a.fault)) {
          if (start_fault(a)) {
            a.phase = ActiveFault::active;
            a.started = wall_ms();
          } else if (now > t0 + a.fault.at.count() + FAULT_TARGET_WAIT_MS) {
            a.phase = ActiveFault::dropped;
            fail(fault_name(a.fault.kind) + " found no target to fault for " +
                 std::to_string(FAULT_TARGET_WAIT_MS / 1000) + "s (no single leader)");
          }
        }
        open = open || a.phase == ActiveFault::pending || a.phase == ActiveFault::active;
      }
      tick();
      return !open;
    });
    if (healed) {
      return;
    }
    fail("the faults did not all run and heal within --duration");
  }

  void await_checker() {
    tests::Process* checker = cluster_.checker();
    until_deadline([&] {
      if (checker == nullptr || !checker->running()) {
        return true;
      }
      tick();
      return false;
    });
    if (checker == nullptr) {
      return;
    }
    if (checker->running()) {
      fail("the checker framework did not finish its " + std::to_string(flags_.tasks) +
           " tasks within --duration");
    } else if (checker->describe_exit() != "exit code 0") {
      fail("the checker framework ended with " + checker->describe_exit());
    } else {
      note("the checker framework finished all tasks");
    }
  }

  void await_services_app() {
    int64_t bound = ms(flags_.services_bound).count();
    int64_t from = std::max(last_heal_, start_wall_);
    std::optional<std::string> ids;
    until_deadline([&] {
      if ((ids = services_app_healthy()) || wall_ms() >= from + bound) {
        return true;
      }
      tick();
      return false;
    });
    if (!ids) {
      fail("the services app was not back at " + std::to_string(SERVICES_INSTANCES) +
           " healthy instances within " + std::to_string(bound / 1000) +
           "s of the last fault's heal");
      return;
    }
    services_back_ms_ = std::max<int64_t>(0, wall_ms() - from);
    note("services app back at 10 healthy " + std::to_string(services_back_ms_) +
         " ms after the last heal");
    services_ids_ = *ids;
  }

  void check_everything() {
    Try<picojson::value> state = cluster_.leader_state();
    int64_t now = wall_ms();
    for (LeaderKill& k : kills_) {
      if (!k.answered) {
        fail("after the leader kill at +" + std::to_string((k.killed - start_wall_) / 1000) +
             "s, /master/state never answered from a leader");
      }
    }
    // The final /master/state of every master.
    for (Daemon& m : cluster_.masters()) {
      Try<tests::HttpResponse> r = tests::http_get("127.0.0.1", m.port, "/master/state",
                                                   deadline_in(std::chrono::seconds(5)));
      note("final /master/state of " + m.label + ": " +
           (r.is_some() ? "HTTP " + std::to_string(r->status) : r.error()));
    }
    if (state.is_error()) {
      fail("final /master/state from the leader: " + state.error());
    }
    CheckInput in;
    in.tasks = flags_.tasks;
    Try<std::vector<RecordLine>> record = parse_record(tests::read_file(record_));
    if (record.is_error()) {
      fail("the record " + record_ + ": " + record.error());
    } else {
      in.record = *record;
    }
    in.terms = cluster_.leader_terms(now);
    for (const std::string& path : tests::find_files_named(dir_, "token")) {
      std::string text = tests::read_file(path);
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
        text.pop_back();
      }
      in.tokens[text].push_back(path);
    }
    std::map<std::string, std::string>
        services_running;  // task id -> state, the services framework's
    if (state.is_some()) {
      for (const char* list : {"frameworks", "completed_frameworks"}) {
        for (const picojson::value& f : tests::json_array(tests::json_at(*state, list))) {
          std::string name = tests::json_string(tests::json_at(f, "name"));
          for (const char* tl : {"tasks", "completed_tasks"}) {
            for (const picojson::value& t : tests::json_array(tests::json_at(f, tl))) {
              std::string id = tests::json_string(tests::json_at(t, "id"));
              std::string st = tests::json_string(tests::json_at(t, "state"));
              if (name == "stoa-chaos-checker") {
                in.master_tasks[id] = st;
              } else if (std::string(list) == "frameworks" && st == "TASK_RUNNING") {
                services_running[id] = st;
              }
            }
          }
        }
      }
    }
    for (const std::string& v : check_all(in)) {
      fail(v);
    }
    // The services app's task ids agree with the master's.
    if (!services_ids_.empty()) {
      std::string master_ids;
      for (const auto& [id, st] : services_running) {
        master_ids += (master_ids.empty() ? "" : " ") + id;
      }
      if (master_ids != services_ids_) {
        fail("stoa-services runs tasks [" + services_ids_ + "] but the master has [" + master_ids +
             "] running");
      }
    }
    for (const std::string& v : cluster_.invariant_violations()) {
      fail("invariant: " + v);
    }
    check_leftovers(state);
    // Availability.
    std::vector<int64_t> answered;
    std::vector<int64_t> launched;
    for (const LeaderKill& k : kills_) {
      if (k.answered) {
        answered.push_back(*k.answered);
      }
      if (std::optional<int64_t> l = next_successful_launch(in.record, k.killed)) {
        launched.push_back(*l);
      }
    }
    availability_ = "after " + std::to_string(kills_.size()) +
                    " leader kills (ZooKeeper session timeout " +
                    format_duration(flags_.zk_session_timeout) +
                    "):\n  /master/state answers from a leader: " + distribution(answered) +
                    "\n  the checker's next launch runs:      " + distribution(launched);
    size_t launches = 0;
    for (const RecordLine& r : in.record) {
      launches += r.type == "launch" ? 1 : 0;
    }
    summary_ =
        std::to_string(launches) + " launches for " + std::to_string(flags_.tasks) + " tasks, " +
        std::to_string(in.tokens.size()) + " tokens found, " + std::to_string(in.terms.size()) +
        " leadership terms, " + std::to_string(unplanned_master_exits_.size()) +
        " masters exited on their own (restarted), " + std::to_string(lost_then_ended(in).size()) +
        " tasks reported TASK_LOST for an unreachable slave ended later (allowed)";
  }

  // Processes under the run's directory (executors, tasks) must belong to a
  // task the leader has as running; others may linger for LEFTOVER_GRACE.
  void check_leftovers(const Try<picojson::value>& state) {
    std::set<std::string> live;
    if (state.is_some()) {
      for (const picojson::value& f : tests::json_array(tests::json_at(*state, "frameworks"))) {
        for (const picojson::value& t : tests::json_array(tests::json_at(f, "tasks"))) {
          std::string st = tests::json_string(tests::json_at(t, "state"));
          if (st == "TASK_RUNNING" || st == "TASK_STARTING" || st == "TASK_STAGING" ||
              st == "TASK_KILLING") {
            live.insert(tests::json_string(tests::json_at(t, "id")));
            live.insert(tests::json_string(tests::json_at(t, "executor_id")));
          }
        }
      }
    }
    std::vector<std::string> orphans;
    tests::poll_until(
        [&] {
          orphans.clear();
          for (pid_t pid : tests::processes_under(dir_)) {
            std::error_code ec;
            std::string cwd =
                std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/cwd", ec).string();
            if (ec || cwd.rfind(dir_ + "/", 0) != 0) {
              continue;  // one of our daemons (its flags name the directory), or gone
            }
            size_t at = cwd.find("/executors/");
            std::string executor;
            if (at != std::string::npos) {
              executor = cwd.substr(at + 11, cwd.find('/', at + 11) - (at + 11));
            }
            if (executor.empty() || !live.contains(executor)) {
              orphans.push_back("pid " + std::to_string(pid) + " in " + cwd);
            }
          }
          return orphans.empty();
        },
        deadline_in(LEFTOVER_GRACE), std::chrono::milliseconds(500));
    for (const std::string& o : orphans) {
      fail("a process nobody owns (no running task): " + o);
    }
  }

  void print_report() {
    std::cout << "\n==== stoa-chaos report (seed " << seed_ << ")\n"
              << summary_ << "\n"
              << availability_ << "\n";
    if (services_back_ms_ >= 0) {
      std::cout << "services app back at " << SERVICES_INSTANCES << " healthy " << services_back_ms_
                << " ms after the last heal\n";
    }
    for (const std::string& line : unplanned_master_exits_) {
      std::cout << "note: " << line << "\n";
    }
    if (violations_.empty()) {
      std::cout << "PASSED: every check held\n";
    } else {
      std::cout << "FAILED: " << violations_.size() << " violation(s):\n";
      for (const std::string& v : violations_) {
        std::cout << "  - " << v << "\n";
      }
      std::cout << "reproduce with --seed=" << seed_ << " (logs in " << dir_ << ")\n";
    }
    std::cout << std::flush;
  }

  const ChaosFlags& flags_;
  std::string dir_;
  uint64_t seed_;
  ChaosCluster cluster_;
  int64_t start_wall_ = wall_ms();
  int64_t deadline_ = 0;
  int64_t last_heal_ = 0;
  std::string record_;
  std::vector<LeaderKill> kills_;
  std::vector<std::string> violations_;
  std::vector<std::string> unplanned_master_exits_;
  std::string services_ids_;
  int64_t services_back_ms_ = -1;
  std::string availability_;
  std::string summary_;
};

int run(int argc, char** argv) {
  ChaosFlags flags;
  if (std::optional<Error> e = flags.load(argc, argv)) {
    std::cerr << "stoa-chaos: " << e->message << "\n" << flags.usage("stoa-chaos");
    return EXIT_BAD_FLAGS;
  }
  if (flags.help) {
    std::cout << flags.usage("stoa-chaos");
    return EXIT_PASSED;
  }
  if (auto missing = tests::missing_binaries(
          {"stoa-master", "stoa-slave", "stoa-executor", "stoa-services", "stoa-chaos-checker"})) {
    std::cout << "stoa-chaos: skipped: " << *missing << " (set STOA_BIN_DIR)\n";
    return EXIT_SKIPPED;
  }
  if (auto missing = tests::zookeeper_missing()) {
    std::cout << "stoa-chaos: skipped: " << *missing << "\n";
    return EXIT_SKIPPED;
  }
  uint64_t seed = std::stoull(flags.seed);
  if (seed == 0) {
    seed = static_cast<uint64_t>(wall_ms()) % 1000000007ULL;
  }
  std::string dir = flags.dir.value_or("/tmp/stoa-chaos-" + std::to_string(seed));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::cerr << "stoa-chaos: cannot create --dir '" << dir << "': " << ec.message() << "\n";
    return EXIT_BAD_FLAGS;
  }
  dir = std::filesystem::canonical(dir).string();
  ::signal(SIGPIPE, SIG_IGN);
  Run r(flags, dir, seed);
  return r.go();
}

}  // namespace
}  // namespace stoa::chaos

int main(int argc, char** argv) { return stoa::chaos::run(argc, argv); }
