#pragma once
// The maintenance schedule and the machines' modes (Mesos' maintenance
// primitives, in Mesos' JSON shapes; docs/operator-api.md). Pure: the master
// actor holds one Maintenance, answers the endpoints from it, and stores
// every change in the registry (UpdateMaintenance) before it answers, so a
// new leader goes on with the schedule (restore()).
//
// Partial: no inverse offers are sent; a machine taken down is recorded,
// its slaves are not shut down.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace picojson {
class value;
}  // namespace picojson

namespace stoa::registry {
class Maintenance;
}  // namespace stoa::registry

namespace stoa::master {

// A machine: a hostname, an IP, or both (compared as given).
struct MachineId {
  std::string hostname;
  std::string ip;
  bool operator<(const MachineId& o) const { return std::tie(hostname, ip) < std::tie(o.hostname, o.ip); }
  bool operator==(const MachineId& o) const { return hostname == o.hostname && ip == o.ip; }
  std::string str() const;  // "h (1.2.3.4)", "h", "(1.2.3.4)"
};

struct MaintenanceWindow {
  std::vector<MachineId> machines;
  int64_t start_ns = 0;
  std::optional<int64_t> duration_ns;
};

class Maintenance {
 public:
  // GET /master/maintenance/schedule: {} when empty, else {"windows": [...]}.
  picojson::value schedule_json() const;
  // GET /master/maintenance/status: {"draining_machines": [{"id": ...}],
  // "down_machines": [...]}.
  picojson::value status_json() const;

  // Each returns an error naming the offending value and changes nothing,
  // or applies the whole request.
  // POST /master/maintenance/schedule: replaces the schedule. Every machine
  // id needs a hostname or an IP; a machine is in one window at most; a
  // machine that is down stays in the schedule.
  std::optional<std::string> set_schedule(const std::string& body);
  // POST /machine/down: a JSON array of machine ids, each scheduled and up.
  std::optional<std::string> machines_down(const std::string& body);
  // POST /machine/up: a JSON array of machine ids, each down; they leave
  // the schedule.
  std::optional<std::string> machines_up(const std::string& body);

  // The registry's form of the whole state (UpdateMaintenance).
  registry::Maintenance to_proto() const;
  // Replaces the state with the registry's, through the same checks as the
  // endpoints; an error names the offending value and changes nothing.
  std::optional<std::string> restore(const registry::Maintenance& stored);

  const std::vector<MaintenanceWindow>& windows() const { return windows_; }
  const std::set<MachineId>& down() const { return down_; }

 private:
  bool scheduled(const MachineId& m) const;

  std::vector<MaintenanceWindow> windows_;
  std::set<MachineId> down_;
};

}  // namespace stoa::master
