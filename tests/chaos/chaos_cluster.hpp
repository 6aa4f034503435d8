#pragma once
// The chaos harness' cluster (docs/chaos.md): a 3-server ZooKeeper
// ensemble, 3 masters, 4 slaves, 2 stoa-services and the checker framework,
// all real processes on loopback under one directory, plus the faults of
// chaos_schedule.hpp applied to them. Built on the tests' harness
// (tests/cluster.hpp, tests/zookeeper_fixture.hpp).
//
// Threading: blocking, for the orchestrator's main thread only.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/try.hpp"
#include "tests/chaos/chaos_checks.hpp"
#include "tests/cluster.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::chaos {

// Wall clock in ms since the epoch (the checker's record uses the same).
int64_t wall_ms();

// The wall-clock time of a glog line ("I1201 19:28:05.123456 ..."), taken
// as local time in the current year; nullopt when the line has no prefix.
std::optional<int64_t> log_line_time(const std::string& line);

struct ClusterOptions {
  std::string dir;
  int masters = 3;
  int slaves = 4;
  int services = 2;
  std::chrono::milliseconds zk_session_timeout{2000};
  std::chrono::milliseconds slave_ping_timeout{500};
  int max_slave_ping_timeouts = 3;
  std::string slave_resources = "cpus:4;mem:2048;disk:10000;ports:[31000-32000]";
};

// One daemon slot: restarted with the same arguments (and work dir).
struct Daemon {
  std::string binary;
  std::string label;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::unique_ptr<tests::Process> process;  // null while down
  int port = 0;                             // from its "listening on" line
  int generation = 0;
  bool stopped = false;  // SIGSTOPped
  bool down_on_purpose = false;
};

class ChaosCluster {
 public:
  explicit ChaosCluster(ClusterOptions options);
  ~ChaosCluster();  // stops everything it started, by pid
  ChaosCluster(const ChaosCluster&) = delete;
  ChaosCluster& operator=(const ChaosCluster&) = delete;

  // ZooKeeper, masters (until one leads), slaves (until the leader has them
  // all active), stoa-services (until both answer /v2/leader alike).
  std::optional<Error> start();

  const std::string& master_url() const { return master_url_; }
  tests::ZooKeeperEnsemble& zookeeper() { return *zk_; }
  std::vector<Daemon>& masters() { return masters_; }
  std::vector<Daemon>& slaves() { return slaves_; }
  std::vector<Daemon>& services() { return services_; }

  // Starts (or restarts) a slot's process. With `wait`, also waits for its
  // "listening on" line (Error with the end of its log).
  std::optional<Error> launch(Daemon& d, bool wait);
  // SIGKILLs the slot's process; its log stays for the checks.
  void kill(Daemon& d);

  // The index of the one master whose /metrics/snapshot says elected, or
  // nullopt (none, or more than one).
  std::optional<size_t> leading_master();
  // The leading stoa-services (the one /v2/leader names), or nullopt.
  std::optional<size_t> leading_services();
  // The leader's /master/state, or Error.
  Try<picojson::value> leader_state();

  // Restarts masters that exited without being killed by us (a master exits
  // when it loses leadership, as in Mesos). Returns a line per restart.
  std::vector<std::string> supervise_masters();

  // The leadership terms of every master process run so far, from its log;
  // a term ends at the master's kill or "Lost leadership" line, else `now`.
  std::vector<LeaderTerm> leader_terms(int64_t now) const;
  // The invariant violations of every master process (its log), plus the
  // counter of the running leader.
  std::vector<std::string> invariant_violations();
  // The end of every log, for a failed run.
  void print_logs(size_t lines) const;

  // The checker framework.
  std::optional<Error> start_checker(const std::vector<std::string>& args);
  tests::Process* checker() { return checker_.get(); }

 private:
  ClusterOptions options_;
  std::unique_ptr<tests::ZooKeeperEnsemble> zk_;
  std::string master_url_;
  std::string services_url_;
  std::vector<Daemon> masters_;
  std::vector<Daemon> slaves_;
  std::vector<Daemon> services_;
  std::unique_ptr<tests::Process> checker_;
  // Every process that has exited or was killed (their logs), with the
  // wall time we killed it (0 if it exited on its own).
  std::vector<std::pair<std::unique_ptr<tests::Process>, int64_t>> retired_;
  std::map<const tests::Process*, bool> is_master_;
};

}  // namespace stoa::chaos
