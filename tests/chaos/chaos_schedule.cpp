#include "tests/chaos/chaos_schedule.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

namespace stoa::chaos {

std::string fault_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::kill_leading_master:
      return "kill_leading_master";
    case FaultKind::restart_slave:
      return "restart_slave";
    case FaultKind::partition_slave:
      return "partition_slave";
    case FaultKind::restart_zookeeper:
      return "restart_zookeeper";
    case FaultKind::kill_leading_services:
      return "kill_leading_services";
  }
  return "unknown";
}

int fault_class(FaultKind kind) {
  switch (kind) {
    case FaultKind::kill_leading_master:
      return 0;
    case FaultKind::restart_slave:
    case FaultKind::partition_slave:
      return 1;
    case FaultKind::restart_zookeeper:
      return 2;
    case FaultKind::kill_leading_services:
      return 3;
  }
  return -1;
}

namespace {

bool schedule_conflict(FaultKind a, FaultKind b) {
  int ca = fault_class(a);
  int cb = fault_class(b);
  return ca == cb || (ca == 0 && cb == 2) || (ca == 2 && cb == 0);
}

// A number in [lo, hi] from `rng` (modulo, so the same seed gives the same
// schedule with any standard library).
int64_t uniform(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  if (hi <= lo) {
    return lo;
  }
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

}  // namespace

std::vector<Fault> build_schedule(const ScheduleOptions& o) {
  std::mt19937_64 rng(o.seed);
  std::vector<Fault> wanted;
  auto add = [&](FaultKind kind, int n) {
    for (int i = 0; i < n; ++i) {
      Fault f;
      f.kind = kind;
      f.at = std::chrono::milliseconds(uniform(rng, 0, std::max<int64_t>(0, o.window.count() - 1)));
      if (kind == FaultKind::partition_slave) {
        f.down = std::chrono::milliseconds(
            uniform(rng, o.partition_down.count(), 2 * o.partition_down.count()));
      } else {
        f.down = std::chrono::milliseconds(uniform(rng, o.min_down.count(), o.max_down.count()));
      }
      if (kind == FaultKind::restart_slave || kind == FaultKind::partition_slave) {
        f.target = static_cast<int>(uniform(rng, 0, o.slaves - 1));
      } else if (kind == FaultKind::restart_zookeeper) {
        f.target = static_cast<int>(uniform(rng, 0, o.zookeeper_servers - 1));
      }
      wanted.push_back(f);
    }
  };
  add(FaultKind::kill_leading_master, o.counts.master_kills);
  add(FaultKind::restart_slave, o.counts.slave_restarts);
  add(FaultKind::partition_slave, o.counts.slave_partitions);
  add(FaultKind::restart_zookeeper, o.counts.zookeeper_restarts);
  add(FaultKind::kill_leading_services, o.counts.services_kills);
  std::stable_sort(wanted.begin(), wanted.end(),
                   [](const Fault& a, const Fault& b) { return a.at < b.at; });

  std::vector<Fault> placed;
  for (Fault f : wanted) {
    bool moved = true;
    while (moved) {
      moved = false;
      for (const Fault& p : placed) {
        if (!schedule_conflict(f.kind, p.kind)) {
          continue;
        }
        auto p_end = p.at + p.down + o.settle;
        auto f_end = f.at + f.down + o.settle;
        if (f.at < p_end && p.at < f_end) {
          f.at = p_end;
          moved = true;
        }
      }
    }
    placed.push_back(f);
  }
  std::stable_sort(placed.begin(), placed.end(),
                   [](const Fault& a, const Fault& b) { return a.at < b.at; });
  return placed;
}

std::string describe_schedule(const std::vector<Fault>& faults) {
  std::string out;
  char buf[160];
  for (const Fault& f : faults) {
    std::snprintf(buf, sizeof(buf), "+%.1fs %s", static_cast<double>(f.at.count()) / 1000.0,
                  fault_name(f.kind).c_str());
    out += buf;
    if (f.kind == FaultKind::restart_slave || f.kind == FaultKind::partition_slave) {
      out += " slave" + std::to_string(f.target);
    } else if (f.kind == FaultKind::restart_zookeeper) {
      out += " zk" + std::to_string(f.target);
    }
    std::snprintf(buf, sizeof(buf), " down %.1fs\n", static_cast<double>(f.down.count()) / 1000.0);
    out += buf;
  }
  return out;
}

}  // namespace stoa::chaos
