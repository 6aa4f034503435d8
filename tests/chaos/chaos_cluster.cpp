#include "tests/chaos/chaos_cluster.hpp"

#include <signal.h>

#include <algorithm>
#include <ctime>
#include <iostream>
#include <regex>
#include <sstream>

#include "common/flags.hpp"

namespace stoa::chaos {

using tests::deadline_in;
using tests::Process;

namespace {

constexpr auto CHAOS_START_TIMEOUT = std::chrono::seconds(60);
constexpr auto CHAOS_HTTP_TIMEOUT = std::chrono::milliseconds(500);

std::string flag_duration(std::chrono::milliseconds d) { return format_duration(Duration(d)); }

}  // namespace

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> log_line_time(const std::string& line) {
  static const std::regex prefix(R"(^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6}))");
  std::smatch m;
  if (!std::regex_search(line, m, prefix)) {
    return std::nullopt;
  }
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  tm.tm_mon = std::stoi(m[1]) - 1;
  tm.tm_mday = std::stoi(m[2]);
  tm.tm_hour = std::stoi(m[3]);
  tm.tm_min = std::stoi(m[4]);
  tm.tm_sec = std::stoi(m[5]);
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  return static_cast<int64_t>(t) * 1000 + std::stoi(m[6]) / 1000;
}

ChaosCluster::ChaosCluster(ClusterOptions options) : options_(std::move(options)) {}

ChaosCluster::~ChaosCluster() {
  // Children first (they would otherwise re-register or re-subscribe), then
  // the masters, then ZooKeeper. Each Process destructor SIGKILLs its group.
  checker_.reset();
  for (auto* group : {&services_, &slaves_, &masters_}) {
    for (Daemon& d : *group) {
      if (d.process && d.stopped) {
        d.process->kill(SIGCONT);
      }
      d.process.reset();
    }
  }
  retired_.clear();
  // Executors and tasks the slaves left (their own process groups).
  for (pid_t pid : tests::processes_under(options_.dir)) {
    ::kill(pid, SIGKILL);
  }
  zk_.reset();
}

std::optional<Error> ChaosCluster::launch(Daemon& d, bool wait) {
  std::string log = options_.dir + "/" + d.label +
                    (d.generation == 0 ? "" : "-r" + std::to_string(d.generation)) + ".log";
  ++d.generation;
  if (d.port != 0) {
    // A restart keeps the port: a slave's checkpointed SlaveInfo holds it
    // (recovery refuses another), and the probes keep finding the masters.
    std::replace(d.args.begin(), d.args.end(), std::string("--port=0"),
                 "--port=" + std::to_string(d.port));
  }
  Try<std::unique_ptr<Process>> p = Process::start(d.binary, d.args, log, d.env);
  if (p.is_error()) {
    return Error(p.error());
  }
  d.process = std::move(*p);
  d.down_on_purpose = false;
  d.stopped = false;
  is_master_[d.process.get()] = d.binary == "stoa-master";
  if (!wait) {
    return std::nullopt;
  }
  if (d.binary == "stoa-services") {
    bool up = tests::poll_until(
        [&] {
          Try<tests::HttpResponse> r =
              tests::http_get("127.0.0.1", d.port, "/ping", deadline_in(CHAOS_HTTP_TIMEOUT));
          return r.is_some() && r->status == 200;
        },
        deadline_in(CHAOS_START_TIMEOUT));
    if (!up) {
      return Error(d.label + " did not answer /ping (" + d.process->describe_exit() + "):\n" +
                   tests::tail_of_file(log, 20));
    }
    return std::nullopt;
  }
  auto line = d.process->wait_for_line(tests::listening_line(), deadline_in(CHAOS_START_TIMEOUT));
  if (!line) {
    return Error(d.label + " did not start (" + d.process->describe_exit() + "):\n" +
                 tests::tail_of_file(log, 20));
  }
  d.port = std::stoi((*line)[1]);
  return std::nullopt;
}

void ChaosCluster::kill(Daemon& d) {
  if (!d.process) {
    return;
  }
  int64_t now = wall_ms();
  d.process->kill(SIGKILL);
  if (d.stopped) {
    d.process->kill(SIGCONT);
  }
  d.process->wait_exit(deadline_in(std::chrono::seconds(5)));
  retired_.emplace_back(std::move(d.process), now);
  d.down_on_purpose = true;
  d.stopped = false;
}

std::optional<Error> ChaosCluster::start() {
  Try<std::unique_ptr<tests::ZooKeeperEnsemble>> zk = tests::ZooKeeperEnsemble::start();
  if (zk.is_error()) {
    return Error("ZooKeeper ensemble: " + zk.error());
  }
  zk_ = std::move(*zk);
  master_url_ = "zk://" + zk_->connect_string() + "/stoa";
  services_url_ = "zk://" + zk_->connect_string() + "/services";
  std::string session = flag_duration(options_.zk_session_timeout);

  for (int i = 0; i < options_.masters; ++i) {
    Daemon d;
    d.binary = "stoa-master";
    d.label = "master" + std::to_string(i);
    d.args = {"--ip=127.0.0.1",
              "--port=0",
              "--work_dir=" + options_.dir + "/" + d.label,
              "--zk=" + master_url_,
              "--quorum=2",
              "--zk_session_timeout=" + session,
              "--no-hostname_lookup",
              "--slave_ping_timeout=" + flag_duration(options_.slave_ping_timeout),
              "--max_slave_ping_timeouts=" + std::to_string(options_.max_slave_ping_timeouts),
              "--slave_reregister_timeout=20secs",
              "--allocation_interval=200ms"};
    d.env = {{"STOA_CHECK_INVARIANTS", "1"}};
    masters_.push_back(std::move(d));
  }
  for (Daemon& d : masters_) {
    if (auto e = launch(d, true)) {
      return e;
    }
  }
  if (!tests::poll_until([&] { return leading_master().has_value(); },
                         deadline_in(CHAOS_START_TIMEOUT))) {
    return Error("no master was elected");
  }
  for (int i = 0; i < options_.slaves; ++i) {
    Daemon d;
    d.binary = "stoa-slave";
    d.label = "slave" + std::to_string(i);
    d.args = {"--master=" + master_url_,
              "--ip=127.0.0.1",
              "--port=0",
              "--work_dir=" + options_.dir + "/" + d.label,
              "--resources=" + options_.slave_resources,
              "--registration_backoff_factor=100ms",
              "--zk_session_timeout=" + session,
              "--no-hostname_lookup",
              "--gc_disk_headroom=0"};
    slaves_.push_back(std::move(d));
  }
  for (Daemon& d : slaves_) {
    if (auto e = launch(d, true)) {
      return e;
    }
  }
  size_t want = slaves_.size();
  if (!tests::poll_until(
          [&] {
            Try<picojson::value> s = leader_state();
            Try<size_t> active =
                s.is_some() ? tests::count_active_slaves(*s) : Try<size_t>(Error("no state"));
            return active.is_some() && *active == want;
          },
          deadline_in(CHAOS_START_TIMEOUT))) {
    return Error("the leader did not get all " + std::to_string(want) + " slaves");
  }
  for (int i = 0; i < options_.services; ++i) {
    Daemon d;
    d.binary = "stoa-services";
    d.label = "services" + std::to_string(i);
    d.port = tests::free_loopback_port();
    d.args = {"--master=" + master_url_,
              "--zk=" + services_url_,
              "--zk_session_timeout=" + session,
              "--http_port=" + std::to_string(d.port),
              "--hostname=127.0.0.1",
              "--reconciliation_initial_delay=1secs",
              "--reconciliation_interval=5secs",
              "--failover_timeout=1days"};
    services_.push_back(std::move(d));
  }
  for (Daemon& d : services_) {
    if (auto e = launch(d, true)) {
      return e;
    }
  }
  if (!tests::poll_until([&] { return leading_services().has_value(); },
                         deadline_in(CHAOS_START_TIMEOUT))) {
    return Error("no stoa-services instance leads");
  }
  return std::nullopt;
}

std::optional<size_t> ChaosCluster::leading_master() {
  std::vector<size_t> leaders;
  for (size_t i = 0; i < masters_.size(); ++i) {
    Daemon& m = masters_[i];
    if (!m.process || !m.process->running()) {
      continue;
    }
    Try<picojson::value> metrics = tests::http_get_json("127.0.0.1", m.port, "/metrics/snapshot",
                                                        deadline_in(CHAOS_HTTP_TIMEOUT));
    if (metrics.is_some() && tests::json_number(tests::json_at(*metrics, "master/elected")) == 1) {
      leaders.push_back(i);
    }
  }
  if (leaders.size() != 1) {
    return std::nullopt;
  }
  return leaders.front();
}

std::optional<size_t> ChaosCluster::leading_services() {
  std::optional<std::string> agreed;
  for (Daemon& s : services_) {
    if (!s.process || !s.process->running()) {
      continue;
    }
    Try<picojson::value> r =
        tests::http_get_json("127.0.0.1", s.port, "/v2/leader", deadline_in(CHAOS_HTTP_TIMEOUT));
    if (r.is_error()) {
      return std::nullopt;
    }
    std::string leader = tests::json_string(tests::json_at(*r, "leader"));
    if (leader.empty() || (agreed && *agreed != leader)) {
      return std::nullopt;
    }
    agreed = leader;
  }
  for (size_t i = 0; agreed && i < services_.size(); ++i) {
    if (*agreed == "127.0.0.1:" + std::to_string(services_[i].port) && services_[i].process) {
      return i;
    }
  }
  return std::nullopt;
}

Try<picojson::value> ChaosCluster::leader_state() {
  std::optional<size_t> leader = leading_master();
  if (!leader) {
    return Error("no single leading master");
  }
  return tests::http_get_json("127.0.0.1", masters_[*leader].port, "/master/state",
                              deadline_in(std::chrono::seconds(10)));
}

std::vector<std::string> ChaosCluster::supervise_masters() {
  std::vector<std::string> out;
  for (Daemon& m : masters_) {
    if (!m.process || m.down_on_purpose || m.process->running()) {
      continue;
    }
    out.push_back(m.label + " exited on its own (" + m.process->describe_exit() +
                  "): " + tests::tail_of_file(m.process->log_path(), 1));
    retired_.emplace_back(std::move(m.process), 0);
    if (auto e = launch(m, false)) {
      out.push_back("restarting " + m.label + " failed: " + e->message);
    }
  }
  return out;
}

std::vector<LeaderTerm> ChaosCluster::leader_terms(int64_t now) const {
  std::vector<std::pair<const Process*, int64_t>> all;
  for (const auto& [p, killed] : retired_) {
    if (is_master_.count(p.get()) && is_master_.at(p.get())) {
      all.emplace_back(p.get(), killed);
    }
  }
  for (const Daemon& m : masters_) {
    if (m.process) {
      all.emplace_back(m.process.get(), 0);
    }
  }
  static const std::regex contending(R"(Master (\S+) contending for leadership)");
  std::vector<LeaderTerm> terms;
  for (const auto& [p, killed] : all) {
    std::istringstream in(p->log());
    std::string line;
    LeaderTerm term;
    bool elected = false;
    std::optional<int64_t> last;
    std::optional<int64_t> lost;
    while (std::getline(in, line)) {
      std::optional<int64_t> t = log_line_time(line);
      if (t) {
        last = t;
      }
      std::smatch m;
      if (std::regex_search(line, m, contending)) {
        term.master_id = m[1];
      } else if (t && line.find("Elected as the leading master") != std::string::npos) {
        term.from = *t;
        elected = true;
      } else if (t && elected && !lost && line.find("Lost leadership") != std::string::npos) {
        lost = t;
      }
    }
    if (!elected) {
      continue;
    }
    term.to = lost                                        ? *lost
              : killed != 0                               ? killed
              : (p->describe_exit() != "running" && last) ? *last
                                                          : now;
    terms.push_back(term);
  }
  return terms;
}

std::vector<std::string> ChaosCluster::invariant_violations() {
  std::vector<std::string> out;
  auto scan = [&](const Process& p) {
    for (const std::string& line : tests::invariant_violations_logged(p)) {
      out.push_back(p.log_path() + ": " + line);
    }
  };
  for (const auto& [p, killed] : retired_) {
    if (is_master_[p.get()]) {
      scan(*p);
    }
  }
  for (const Daemon& m : masters_) {
    if (m.process) {
      scan(*m.process);
    }
  }
  if (std::optional<size_t> leader = leading_master()) {
    Try<picojson::value> metrics =
        tests::http_get_json("127.0.0.1", masters_[*leader].port, "/metrics/snapshot");
    Try<double> n = metrics.is_some() ? tests::invariant_violations(*metrics)
                                      : Try<double>(Error(metrics.error()));
    if (n.is_error()) {
      out.push_back("the leader's master/invariant_violations: " + n.error());
    } else if (*n != 0) {
      out.push_back("the leader's master/invariant_violations is " + std::to_string(*n));
    }
  } else {
    out.push_back("no single leading master to read master/invariant_violations from");
  }
  return out;
}

void ChaosCluster::print_logs(size_t lines) const {
  auto show = [&](const Process& p) {
    std::cerr << "==== " << p.log_path() << " (" << p.describe_exit() << ")\n"
              << tests::tail_of_file(p.log_path(), lines) << "\n";
  };
  for (const auto& [p, killed] : retired_) {
    show(*p);
  }
  for (const auto* group : {&masters_, &slaves_, &services_}) {
    for (const Daemon& d : *group) {
      if (d.process) {
        show(*d.process);
      }
    }
  }
  if (checker_) {
    show(*checker_);
  }
}

std::optional<Error> ChaosCluster::start_checker(const std::vector<std::string>& args) {
  Try<std::unique_ptr<Process>> p =
      Process::start("stoa-chaos-checker", args, options_.dir + "/checker.log");
  if (p.is_error()) {
    return Error(p.error());
  }
  checker_ = std::move(*p);
  return std::nullopt;
}

}  // namespace stoa::chaos
