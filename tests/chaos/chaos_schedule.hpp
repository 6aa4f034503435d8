#pragma once
// The chaos harness' fault schedule (docs/chaos.md): a pure function of a
// seed, so a failing run is reproduced by passing its seed again.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace stoa::chaos {

enum class FaultKind {
  kill_leading_master,   // kill -9 the leader; its slot is restarted after `down`
  restart_slave,         // kill -9 a slave; restarted (same work dir) after `down`
  partition_slave,       // SIGSTOP a slave for `down` (longer than the ping timeout), then SIGCONT
  restart_zookeeper,     // stop one ZooKeeper server; started again after `down`
  kill_leading_services  // kill -9 the leading stoa-services; restarted after `down`
};

// "kill_leading_master", ...
std::string fault_name(FaultKind kind);

// What the cluster tolerates at once: faults of one class never overlap
// (<= 1 master of 3, <= 1 ZooKeeper server of 3, <= 1 slave, <= 1 stoa-services
// of 2 down). Faults of different classes may overlap, except that a
// ZooKeeper restart never overlaps a leading-master kill (a master loses its
// session only when both its server and the leader election move at once,
// which the configuration does not promise to survive).
int fault_class(FaultKind kind);

struct FaultCounts {
  int master_kills = 0;
  int slave_restarts = 0;
  int slave_partitions = 0;
  int zookeeper_restarts = 0;
  int services_kills = 0;
};

struct Fault {
  std::chrono::milliseconds at{0};  // from the start of the fault window
  FaultKind kind = FaultKind::kill_leading_master;
  int target = 0;                     // slave index, ZooKeeper server index (else 0)
  std::chrono::milliseconds down{0};  // how long until it is healed
};

struct ScheduleOptions {
  uint64_t seed = 0;
  FaultCounts counts;
  std::chrono::milliseconds window{60000};  // faults start within [0, window)
  int slaves = 4;
  int zookeeper_servers = 3;
  std::chrono::milliseconds min_down{1000};  // restarts: down for [min_down, max_down]
  std::chrono::milliseconds max_down{3000};
  std::chrono::milliseconds partition_down{
      3000};  // partitions: [partition_down, 2 * partition_down]
  // Between the heal of one fault and the next of a conflicting class.
  std::chrono::milliseconds settle{2000};
};

// The faults, sorted by `at`. Same options, same schedule. Faults that do
// not fit a free slot of their class are pushed later (past `window` if
// need be), so every requested fault is in the schedule.
std::vector<Fault> build_schedule(const ScheduleOptions& options);

// "+12.3s kill_leading_master down 2.1s" per fault, one per line.
std::string describe_schedule(const std::vector<Fault>& faults);

}  // namespace stoa::chaos
