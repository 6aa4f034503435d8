#include "master/maintenance.hpp"

#include <arpa/inet.h>

#include <picojson.h>

#include "common/json.hpp"
#include "common/try.hpp"
#include "proto/registry.pb.h"

namespace stoa::master {

namespace {

Try<MachineId> parse_machine(const picojson::value& v, const std::string& where) {
  if (!v.is<picojson::object>()) {
    return Error(where + " must be an object {\"hostname\": ..., \"ip\": ...}, not " + v.serialize());
  }
  MachineId m;
  for (const auto& [key, value] : v.get<picojson::object>()) {
    if (key != "hostname" && key != "ip") {
      return Error(where + ": unknown field '" + key + "' (expected hostname, ip)");
    }
    if (!value.is<std::string>()) {
      return Error(where + ": '" + key + "' must be a string, not " + value.serialize());
    }
    (key == "hostname" ? m.hostname : m.ip) = value.get<std::string>();
  }
  if (m.hostname.empty() && m.ip.empty()) {
    return Error(where + " needs a hostname or an ip: " + v.serialize());
  }
  if (m.hostname.find_first_of(" \t\r\n") != std::string::npos) {
    return Error(where + ": hostname '" + m.hostname + "' contains whitespace");
  }
  if (!m.ip.empty()) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, m.ip.c_str(), buf) != 1 && inet_pton(AF_INET6, m.ip.c_str(), buf) != 1) {
      return Error(where + ": '" + m.ip + "' is not an IP address");
    }
  }
  return m;
}

picojson::value machine_json(const MachineId& m) {
  picojson::object o;
  if (!m.hostname.empty()) {
    o["hostname"] = picojson::value(m.hostname);
  }
  if (!m.ip.empty()) {
    o["ip"] = picojson::value(m.ip);
  }
  return picojson::value(o);
}

// {"nanoseconds": N}; `non_negative` for durations.
Try<int64_t> parse_time(const picojson::value& v, const std::string& where, bool non_negative) {
  if (!v.is<picojson::object>() || !v.contains("nanoseconds") || v.get<picojson::object>().size() != 1) {
    return Error(where + " must be {\"nanoseconds\": <integer>}, not " + v.serialize());
  }
  const picojson::value& n = v.get("nanoseconds");
  if (!n.is<int64_t>()) {
    return Error(where + ".nanoseconds must be an integer, not " + n.serialize());
  }
  int64_t ns = n.get<int64_t>();
  if (non_negative && ns < 0) {
    return Error(where + ".nanoseconds must not be negative: " + std::to_string(ns));
  }
  return ns;
}

picojson::value time_json(int64_t ns) {
  picojson::object o;
  o["nanoseconds"] = picojson::value(ns);
  return picojson::value(o);
}

Try<MaintenanceWindow> parse_window(const picojson::value& v, const std::string& where) {
  if (!v.is<picojson::object>()) {
    return Error(where + " must be an object, not " + v.serialize());
  }
  for (const auto& [key, value] : v.get<picojson::object>()) {
    (void)value;
    if (key != "machine_ids" && key != "unavailability") {
      return Error(where + ": unknown field '" + key + "' (expected machine_ids, unavailability)");
    }
  }
  MaintenanceWindow w;
  const picojson::value& ids = v.get("machine_ids");
  if (!ids.is<picojson::array>() || ids.get<picojson::array>().empty()) {
    return Error(where + ".machine_ids must be a non-empty array of machine ids");
  }
  const auto& list = ids.get<picojson::array>();
  for (size_t i = 0; i < list.size(); ++i) {
    Try<MachineId> m = parse_machine(list[i], where + ".machine_ids[" + std::to_string(i) + "]");
    if (m.is_error()) {
      return Error(m.error());
    }
    w.machines.push_back(*m);
  }
  const picojson::value& u = v.get("unavailability");
  if (!u.is<picojson::object>()) {
    return Error(where + ".unavailability must be {\"start\": {\"nanoseconds\": N}, \"duration\": "
                         "{\"nanoseconds\": N}}");
  }
  for (const auto& [key, value] : u.get<picojson::object>()) {
    (void)value;
    if (key != "start" && key != "duration") {
      return Error(where + ".unavailability: unknown field '" + key + "' (expected start, duration)");
    }
  }
  Try<int64_t> start = parse_time(u.get("start"), where + ".unavailability.start", false);
  if (start.is_error()) {
    return Error(start.error());
  }
  w.start_ns = *start;
  if (u.contains("duration")) {
    Try<int64_t> d = parse_time(u.get("duration"), where + ".unavailability.duration", true);
    if (d.is_error()) {
      return Error(d.error());
    }
    w.duration_ns = *d;
  }
  return w;
}

Try<std::vector<MachineId>> parse_machine_list(const std::string& body) {
  Try<picojson::value> v = json_parse(body);
  if (v.is_error()) {
    return Error("The body is not valid JSON: " + v.error());
  }
  if (!v->is<picojson::array>() || v->get<picojson::array>().empty()) {
    return Error("The body must be a non-empty JSON array of machine ids [{\"hostname\": ..., \"ip\": ...}]");
  }
  std::vector<MachineId> out;
  std::set<MachineId> seen;
  const auto& list = v->get<picojson::array>();
  for (size_t i = 0; i < list.size(); ++i) {
    Try<MachineId> m = parse_machine(list[i], "machine [" + std::to_string(i) + "]");
    if (m.is_error()) {
      return Error(m.error());
    }
    if (!seen.insert(*m).second) {
      return Error("Machine " + m->str() + " is listed twice");
    }
    out.push_back(*m);
  }
  return out;
}

}  // namespace

std::string MachineId::str() const {
  if (ip.empty()) {
    return "'" + hostname + "'";
  }
  return hostname.empty() ? "'(" + ip + ")'" : "'" + hostname + " (" + ip + ")'";
}

picojson::value Maintenance::schedule_json() const {
  picojson::object o;
  if (windows_.empty()) {
    return picojson::value(o);
  }
  picojson::array windows;
  for (const MaintenanceWindow& w : windows_) {
    picojson::array ids;
    for (const MachineId& m : w.machines) {
      ids.push_back(machine_json(m));
    }
    picojson::object u;
    u["start"] = time_json(w.start_ns);
    if (w.duration_ns) {
      u["duration"] = time_json(*w.duration_ns);
    }
    picojson::object x;
    x["machine_ids"] = picojson::value(ids);
    x["unavailability"] = picojson::value(u);
    windows.push_back(picojson::value(x));
  }
  o["windows"] = picojson::value(windows);
  return picojson::value(o);
}

picojson::value Maintenance::status_json() const {
  picojson::array draining;
  for (const MaintenanceWindow& w : windows_) {
    for (const MachineId& m : w.machines) {
      if (!down_.count(m)) {
        picojson::object d;
        d["id"] = machine_json(m);
        draining.push_back(picojson::value(d));
      }
    }
  }
  picojson::array down;
  for (const MachineId& m : down_) {
    down.push_back(machine_json(m));
  }
  picojson::object o;
  o["draining_machines"] = picojson::value(draining);
  o["down_machines"] = picojson::value(down);
  return picojson::value(o);
}

bool Maintenance::scheduled(const MachineId& m) const {
  for (const MaintenanceWindow& w : windows_) {
    for (const MachineId& x : w.machines) {
      if (x == m) {
        return true;
      }
    }
  }
  return false;
}

std::optional<std::string> Maintenance::set_schedule(const std::string& body) {
  Try<picojson::value> v = json_parse(body);
  if (v.is_error()) {
    return "The body is not valid JSON: " + v.error();
  }
  if (!v->is<picojson::object>()) {
    return "The schedule must be a JSON object {\"windows\": [...]}, not " + v->serialize();
  }
  for (const auto& [key, value] : v->get<picojson::object>()) {
    (void)value;
    if (key != "windows") {
      return "Unknown field '" + key + "' in the schedule (expected windows)";
    }
  }
  std::vector<MaintenanceWindow> windows;
  if (v->contains("windows")) {
    const picojson::value& list = v->get("windows");
    if (!list.is<picojson::array>()) {
      return "'windows' must be an array, not " + list.serialize();
    }
    std::set<MachineId> seen;
    const auto& arr = list.get<picojson::array>();
    for (size_t i = 0; i < arr.size(); ++i) {
      Try<MaintenanceWindow> w = parse_window(arr[i], "windows[" + std::to_string(i) + "]");
      if (w.is_error()) {
        return w.error();
      }
      for (const MachineId& m : w->machines) {
        if (!seen.insert(m).second) {
          return "Machine " + m.str() + " is in more than one window (or twice in one)";
        }
      }
      windows.push_back(std::move(*w));
    }
  }
  std::set<MachineId> kept;
  for (const MaintenanceWindow& w : windows) {
    kept.insert(w.machines.begin(), w.machines.end());
  }
  for (const MachineId& m : down_) {
    if (!kept.count(m)) {
      return "Machine " + m.str() + " is down: it must stay in the schedule until it is brought up "
             "(POST /machine/up)";
    }
  }
  windows_ = std::move(windows);
  return std::nullopt;
}

std::optional<std::string> Maintenance::machines_down(const std::string& body) {
  Try<std::vector<MachineId>> machines = parse_machine_list(body);
  if (machines.is_error()) {
    return machines.error();
  }
  for (const MachineId& m : *machines) {
    if (!scheduled(m)) {
      return "Machine " + m.str() + " is not in the maintenance schedule (only scheduled machines go down)";
    }
    if (down_.count(m)) {
      return "Machine " + m.str() + " is already down";
    }
  }
  down_.insert(machines->begin(), machines->end());
  return std::nullopt;
}

registry::Maintenance Maintenance::to_proto() const {
  auto fill = [](registry::MachineID* out, const MachineId& m) {
    if (!m.hostname.empty()) {
      out->set_hostname(m.hostname);
    }
    if (!m.ip.empty()) {
      out->set_ip(m.ip);
    }
  };
  registry::Maintenance out;
  for (const MaintenanceWindow& w : windows_) {
    registry::MaintenanceWindow* x = out.add_windows();
    for (const MachineId& m : w.machines) {
      fill(x->add_machine_ids(), m);
    }
    x->mutable_start()->set_nanoseconds(w.start_ns);
    if (w.duration_ns) {
      x->set_duration_nanoseconds(*w.duration_ns);
    }
  }
  for (const MachineId& m : down_) {
    fill(out.add_down(), m);
  }
  return out;
}

std::optional<std::string> Maintenance::restore(const registry::Maintenance& stored) {
  auto machine = [](const registry::MachineID& m) {
    MachineId id;
    id.hostname = m.hostname();
    id.ip = m.ip();
    return machine_json(id);
  };
  picojson::array windows;
  for (const registry::MaintenanceWindow& w : stored.windows()) {
    picojson::array ids;
    for (const registry::MachineID& m : w.machine_ids()) {
      ids.push_back(machine(m));
    }
    picojson::object u;
    u["start"] = time_json(w.start().nanoseconds());
    if (w.has_duration_nanoseconds()) {
      u["duration"] = time_json(w.duration_nanoseconds());
    }
    picojson::object x;
    x["machine_ids"] = picojson::value(ids);
    x["unavailability"] = picojson::value(u);
    windows.push_back(picojson::value(x));
  }
  picojson::object schedule;
  schedule["windows"] = picojson::value(windows);
  Maintenance fresh;
  if (std::optional<std::string> error = fresh.set_schedule(json_serialize(picojson::value(schedule)))) {
    return "the stored maintenance schedule: " + *error;
  }
  if (stored.down_size() > 0) {
    picojson::array down;
    for (const registry::MachineID& m : stored.down()) {
      down.push_back(machine(m));
    }
    if (std::optional<std::string> error = fresh.machines_down(json_serialize(picojson::value(down)))) {
      return "the stored down machines: " + *error;
    }
  }
  *this = std::move(fresh);
  return std::nullopt;
}

std::optional<std::string> Maintenance::machines_up(const std::string& body) {
  Try<std::vector<MachineId>> machines = parse_machine_list(body);
  if (machines.is_error()) {
    return machines.error();
  }
  for (const MachineId& m : *machines) {
    if (!down_.count(m)) {
      return "Machine " + m.str() + " is not down";
    }
  }
  std::set<MachineId> up(machines->begin(), machines->end());
  for (const MachineId& m : up) {
    down_.erase(m);
  }
  // A machine back up has had its maintenance: it leaves the schedule, and
  // a window left empty goes with it.
  for (MaintenanceWindow& w : windows_) {
    std::erase_if(w.machines, [&](const MachineId& m) { return up.count(m) > 0; });
  }
  std::erase_if(windows_, [](const MaintenanceWindow& w) { return w.machines.empty(); });
  return std::nullopt;
}

}  // namespace stoa::master
