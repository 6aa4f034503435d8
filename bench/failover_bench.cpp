// stoa-bench-failover: how long N slaves take to register with a master,
// and after kill -9 of the leading master, how long until a new leader is
// elected and until all N slaves are re-registered with it (issue #8).
//
//   stoa-bench-failover --slaves=1000,10000 [--masters=3] [--zk=127.0.0.1:2181]
//                       [--zk_session_timeout=10secs] [--slaves_per_process=5000]
//   stoa-bench-failover --slaves=1000,10000 --registration_only
//
// Each run starts (with the tests' harness, tests/cluster.hpp and
// tests/zookeeper_fixture.hpp) a ZooKeeper server unless --zk names one,
// `--masters` stoa-master processes with --zk=zk://<zk>/stoa-bench-<run>
// --quorum=1, and stoa-slave-simulator processes following the same zk://
// URL. It waits until the leader (the master whose /metrics/snapshot says
// master/elected = 1) has all N slaves active, kills it with SIGKILL, and
// polls the others every 5 ms: election = the first to say elected;
// re-registered = every simulated slave has had SlaveReregisteredMessage
// from the new leader (the simulators' simulator/reregistrations) and the
// new leader has N slaves active. --registration_only runs one master
// without ZooKeeper and measures registration alone; with --restart it then
// kills that master and starts it again on its port (the slaves re-register
// with their ids, as with a new leader, without an election).
//
// Prints a table; results are recorded in docs/benchmarks.md.

#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "bench/bench_processes.hpp"
#include "bench/bench_util.hpp"
#include "common/flags.hpp"
#include "common/strings.hpp"
#include "tests/cluster.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace {

using namespace stoa;
using namespace stoa::tests;
using namespace stoa::bench;
using namespace std::chrono_literals;

// A non-leading master answers (a redirect) at once: a short wait suffices.
constexpr auto METRIC_TIMEOUT = std::chrono::seconds(2);
constexpr auto POLL = std::chrono::milliseconds(5);
// Exit status when the masters cannot do what the failover needs yet.
constexpr int EXIT_UNSUPPORTED = 3;

struct BenchFlags : FlagsBase {
  BenchFlags() {
    add(&slaves, "slaves", "Comma-separated slave counts, one run each.", "1000,10000");
    check("slaves", [](const std::string& v) -> std::optional<std::string> {
      for (const std::string& n : split(v, ',')) {
        if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos || n.size() > 7 ||
            std::stoul(n) == 0) {
          return "'" + n + "' is not a slave count from 1 to 9999999";
        }
      }
      return std::nullopt;
    });
    add(&masters, "masters", "Masters contending through ZooKeeper.", 3);
    check("masters", within(2, 9));
    add(&zk, "zk",
        "An existing ZooKeeper (host:port[,host:port]); default: start one on loopback.");
    check("zk", no_whitespace());
    add(&zk_session_timeout, "zk_session_timeout",
        "The masters' and simulators' ZooKeeper session timeout.", std::chrono::seconds(10));
    check("zk_session_timeout", positive_duration());
    add(&slaves_per_process, "slaves_per_process",
        "Simulated slaves per stoa-slave-simulator process.", 5000);
    check("slaves_per_process", at_least(1));
    add(&simulator_nice, "simulator_nice",
        "The simulators' nice value (0-19): they stand for other machines, so a positive value keeps "
        "them from taking the masters' cores on this one.",
        0);
    check("simulator_nice", within(0, 19));
    add(&reregister_spread, "reregister_spread",
        "The simulators' --reregister_spread (0 = every slave re-registers at once; unset: "
        "--registration_backoff_factor, as stoa-slave).");
    check("reregister_spread", duration_text());
    add(&registration_only, "registration_only",
        "One master without ZooKeeper: measure registration only.", false);
    add(&restart, "restart",
        "With --registration_only: then kill -9 the master and start it again on its port, and "
        "measure until every slave is re-registered with it.",
        false);
    add(&registration_backoff_factor, "registration_backoff_factor",
        "The simulators' --registration_backoff_factor.",
        std::chrono::seconds(1));
    check("registration_backoff_factor", positive_duration());
    add(&timeout, "timeout", "How long each phase may take.", std::chrono::minutes(5));
    check("timeout", positive_duration());
    add(&work_dir, "work_dir", "Where the processes' logs go (one directory per run).",
        "/tmp/stoa-bench-failover");
    check("work_dir", non_empty());
  }
  std::string slaves;
  int masters;
  std::optional<std::string> zk;
  Duration zk_session_timeout;
  int slaves_per_process;
  int simulator_nice;
  std::optional<std::string> reregister_spread;
  bool registration_only;
  bool restart;
  Duration registration_backoff_factor;
  Duration timeout;
  std::string work_dir;
};

struct Row {
  size_t slaves = 0;
  size_t processes = 0;
  double register_s = 0;
  double master_rss_mib = 0;
  double master_kib_per_slave = 0;
  double simulator_kib_per_slave = 0;
  double registration_messages = 0;  // sent by the simulators, retries included
  double election_s = -1;
  double reregistered_s = -1;
  double reregistration_messages = 0;
};

class Run {
 public:
  Run(const BenchFlags& flags, size_t slaves, std::string zk, std::string dir)
      : flags_(flags), slaves_(slaves), zk_(std::move(zk)), dir_(std::move(dir)) {}

  // The failover run (or registration alone). Error says which step failed;
  // *unsupported is set when the masters refused --zk.
  Try<Row> go(bool* unsupported) {
    Row row;
    row.slaves = slaves_;
    std::string master_flag;
    if (flags_.registration_only) {
      Try<Server> m = start_server(
          "stoa-master", {"--ip=127.0.0.1", "--port=0", "--work_dir=" + dir_ + "/master1"},
          dir_ + "/master1.log");
      if (m.is_error()) {
        return Error(m.error());
      }
      masters_.push_back(std::move(*m));
      master_flag = "127.0.0.1:" + std::to_string(masters_[0].port);
    } else {
      std::string url = "zk://" + zk_ + "/stoa-bench-" + std::to_string(::getpid()) + "-" +
                        std::to_string(slaves_);
      for (int i = 1; i <= flags_.masters; ++i) {
        std::string name = "master" + std::to_string(i);
        Try<Server> m = start_server(
            "stoa-master",
            {"--ip=127.0.0.1", "--port=0", "--work_dir=" + dir_ + "/" + name, "--zk=" + url,
             "--quorum=1", "--zk_session_timeout=" + format_duration(flags_.zk_session_timeout)},
            dir_ + "/" + name + ".log");
        if (m.is_error()) {
          *unsupported = m.error().find("--zk") != std::string::npos;
          return Error(m.error());
        }
        masters_.push_back(std::move(*m));
      }
      master_flag = url;
    }
    std::optional<size_t> leader = await_leader(std::nullopt);
    if (!leader) {
      return Error("no master reported master/elected = 1 within --timeout");
    }
    // The simulators.
    Clock::time_point start = Clock::now();
    size_t per = static_cast<size_t>(flags_.slaves_per_process);
    for (size_t left = slaves_, i = 1; left > 0; ++i) {
      size_t n = std::min(left, per);
      left -= n;
      Try<Server> s = start_server(
          "stoa-slave-simulator",
          {"--master=" + master_flag, "--slaves=" + std::to_string(n), "--ip=127.0.0.1", "--port=0",
           "--hostname=sim" + std::to_string(i),
           "--zk_session_timeout=" + format_duration(flags_.zk_session_timeout),
           "--reregister_spread=" + flags_.reregister_spread.value_or(
                                        format_duration(flags_.registration_backoff_factor)),
           "--registration_backoff_factor=" + format_duration(flags_.registration_backoff_factor),
           "--nice=" + std::to_string(flags_.simulator_nice)},
          dir_ + "/simulator" + std::to_string(i) + ".log");
      if (s.is_error()) {
        return Error(s.error());
      }
      simulators_.push_back(std::move(*s));
    }
    row.processes = simulators_.size();
    int leader_port = masters_[*leader].port;
    // Registered = the leader holds every slave and every simulated slave
    // has its SlaveRegisteredMessage: a kill between the two would lose
    // answers in flight, and those slaves would register again as new ones
    // with the next leader (new ids), never re-register.
    if (!poll_until(
            [&] {
              return metric(leader_port, "master/slaves_active", METRIC_TIMEOUT).value_or(0) >= slaves_ &&
                     sum_of_simulators("simulator/slaves_registered") >= static_cast<double>(slaves_);
            },
            deadline(), POLL)) {
      return Error("the leader did not get all " + std::to_string(slaves_) +
                   " slaves, or not all simulated slaves heard it, within --timeout");
    }
    row.register_s = seconds_since(start);
    double master_kib = rss_kib(masters_[*leader].process->pid());
    row.master_rss_mib = master_kib / 1024;
    row.master_kib_per_slave = master_kib / static_cast<double>(slaves_);
    double sim_kib = 0;
    for (const Server& s : simulators_) {
      sim_kib += rss_kib(s.process->pid());
    }
    row.simulator_kib_per_slave = sim_kib / static_cast<double>(slaves_);
    row.registration_messages = sum_of_simulators("simulator/registration_messages");
    if (flags_.registration_only && !flags_.restart) {
      return row;
    }
    // The failover (or the restart of the only master).
    double reregistered_before = sum_of_simulators("simulator/reregistrations");
    Clock::time_point kill = Clock::now();
    masters_[*leader].process->kill(SIGKILL);
    if (flags_.restart) {
      masters_[*leader].process->wait_exit(deadline());
      Try<Server> m = start_server("stoa-master",
                                   {"--ip=127.0.0.1", "--port=" + std::to_string(leader_port),
                                    "--work_dir=" + dir_ + "/master1"},
                                   dir_ + "/master1-restarted.log");
      if (m.is_error()) {
        return Error(m.error());
      }
      masters_.push_back(std::move(*m));
    }
    std::optional<size_t> next = await_leader(*leader);
    if (!next) {
      return Error("no new leader within --timeout after the kill");
    }
    row.election_s = seconds_since(kill);
    int next_port = masters_[*next].port;
    auto all_back = [&] {
      return sum_of_simulators("simulator/reregistrations") - reregistered_before >=
                 static_cast<double>(slaves_) &&
             metric(next_port, "master/slaves_active", METRIC_TIMEOUT).value_or(0) >= static_cast<double>(slaves_);
    };
    if (!poll_until(all_back, deadline(), POLL)) {
      return Error("the new leader did not get all " + std::to_string(slaves_) +
                   " slaves back within --timeout");
    }
    row.reregistered_s = seconds_since(kill);
    row.reregistration_messages =
        sum_of_simulators("simulator/registration_messages") - row.registration_messages;
    return row;
  }

 private:
  Deadline deadline() const { return Clock::now() + flags_.timeout; }

  double sum_of_simulators(const std::string& name) {
    double sum = 0;
    for (const Server& s : simulators_) {
      sum += metric(s.port, name, METRIC_TIMEOUT).value_or(0);
    }
    return sum;
  }

  // The index of the master that says it leads, other than `except`.
  std::optional<size_t> await_leader(std::optional<size_t> except) {
    std::optional<size_t> found;
    poll_until(
        [&] {
          for (size_t i = 0; i < masters_.size() && !found; ++i) {
            if (i != except && metric(masters_[i].port, "master/elected", METRIC_TIMEOUT).value_or(0) == 1) {
              found = i;
            }
          }
          return found.has_value();
        },
        deadline(), POLL);
    return found;
  }

  const BenchFlags& flags_;
  size_t slaves_;
  std::string zk_;
  std::string dir_;
  std::vector<Server> masters_;
  std::vector<Server> simulators_;
};

std::string ms(double s) { return std::to_string(std::lround(s * 1000)); }

}  // namespace

int main(int argc, char** argv) {
  BenchFlags flags;
  if (std::optional<Error> e = flags.load(argc, argv)) {
    std::cerr << "stoa-bench-failover: " << e->message << "\n\n"
              << flags.usage("stoa-bench-failover");
    return 2;
  }
  if (flags.help) {
    std::cout << flags.usage("stoa-bench-failover");
    return 0;
  }
  if (flags.restart && !flags.registration_only) {
    std::cerr << "stoa-bench-failover: --restart needs --registration_only (one master, no "
                 "ZooKeeper)\n";
    return 2;
  }
  if (auto missing = missing_binaries({"stoa-master", "stoa-slave-simulator"})) {
    std::cerr << "stoa-bench-failover: " << *missing << " (set STOA_BIN_DIR)\n";
    return 1;
  }
  std::unique_ptr<ZooKeeperServer> own_zk;
  std::string zk = flags.zk.value_or("");
  if (!flags.registration_only && zk.empty()) {
    if (auto missing = zookeeper_missing()) {
      std::cerr << "stoa-bench-failover: " << *missing << "\n";
      return 1;
    }
    Try<std::unique_ptr<ZooKeeperServer>> server = ZooKeeperServer::start();
    if (server.is_error()) {
      std::cerr << "stoa-bench-failover: " << server.error() << "\n";
      return 1;
    }
    own_zk = std::move(*server);
    zk = own_zk->connect_string();
  }
  std::vector<Row> rows;
  for (const std::string& n : split(flags.slaves, ',')) {
    std::string dir = flags.work_dir + "/" + n;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      std::cerr << "stoa-bench-failover: cannot create " << dir << ": " << ec.message() << "\n";
      return 1;
    }
    bool unsupported = false;
    Run run(flags, std::stoul(n), zk, dir);
    Try<Row> row = run.go(&unsupported);
    if (row.is_error()) {
      if (unsupported) {
        std::cerr
            << "stoa-bench-failover: stoa-master refused --zk: this build's master cannot contend "
               "for "
               "leadership through ZooKeeper yet (issue #8), so there is no failover to measure. "
               "--registration_only measures registration against one master.\n"
            << row.error() << "\n";
        return EXIT_UNSUPPORTED;
      }
      std::cerr << "stoa-bench-failover: " << n << " slaves: " << row.error() << "\n(logs in "
                << dir << ")\n";
      return 1;
    }
    rows.push_back(*row);
  }
  double timeout_s = std::chrono::duration<double>(flags.zk_session_timeout).count();
  const char* next = flags.restart ? "restarted" : "election";
  std::printf(
      "| slaves | simulator processes | register all, ms | messages sent | master RSS, MiB | "
      "master KiB/slave | simulator KiB/slave | session timeout, ms | %s, ms | "
      "all re-registered, ms | re-registered − session timeout, ms | re-registered − %s, ms | "
      "messages sent |\n",
      next, next);
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Row& r : rows) {
    bool failover = r.reregistered_s >= 0;
    bool zk = failover && !flags.restart;
    auto cell = [&](const std::string& text) { return failover ? text : std::string("—"); };
    std::printf("| %zu | %zu | %s | %.0f | %.0f | %.1f | %.1f | %s | %s | %s | %s | %s | %s |\n",
                r.slaves, r.processes, ms(r.register_s).c_str(), r.registration_messages,
                r.master_rss_mib, r.master_kib_per_slave, r.simulator_kib_per_slave,
                zk ? ms(timeout_s).c_str() : "—", cell(ms(r.election_s)).c_str(),
                cell(ms(r.reregistered_s)).c_str(),
                zk ? ms(r.reregistered_s - timeout_s).c_str() : "—",
                cell(ms(r.reregistered_s - r.election_s)).c_str(),
                cell(std::to_string(std::lround(r.reregistration_messages))).c_str());
  }
  return 0;
}
