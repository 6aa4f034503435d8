// Checks every cluster must pass: slaves that say whether they are active,
// masters that keep their accounting invariants, and snapshots of the
// operator-visible state for "bad input changes nothing" tests.
#include "tests/cluster.hpp"

#include <set>

namespace stoa::tests {

namespace {

// Keys that hold a time, anywhere in a body.
const std::set<std::string>& time_keys() {
  static const std::set<std::string> keys = {"timestamp",         "start_time",        "elected_time",
                                             "registered_time",   "reregistered_time", "unregistered_time",
                                             "uptime_secs"};
  return keys;
}

// Keys that follow the offers in flight, anywhere in a body.
const std::set<std::string>& offer_keys() {
  static const std::set<std::string> keys = {"offers", "offered_resources", "offered"};
  return keys;
}

void drop_keys(picojson::value& v) {
  if (v.is<picojson::array>()) {
    for (picojson::value& item : v.get<picojson::array>()) {
      drop_keys(item);
    }
    return;
  }
  if (!v.is<picojson::object>()) {
    return;
  }
  picojson::object& o = v.get<picojson::object>();
  for (auto it = o.begin(); it != o.end();) {
    if (time_keys().contains(it->first) || offer_keys().contains(it->first)) {
      it = o.erase(it);
    } else {
      drop_keys(it->second);
      ++it;
    }
  }
}

// Removes `keys` from every object of the array at `v[list]`.
void drop_from_each(picojson::value& v, const std::string& list, std::initializer_list<const char*> keys) {
  if (!v.is<picojson::object>()) {
    return;
  }
  picojson::object& o = v.get<picojson::object>();
  auto it = o.find(list);
  if (it == o.end() || !it->second.is<picojson::array>()) {
    return;
  }
  for (picojson::value& item : it->second.get<picojson::array>()) {
    if (!item.is<picojson::object>()) {
      continue;
    }
    picojson::object& entry = item.get<picojson::object>();
    for (const char* key : keys) {
      entry.erase(key);
    }
    if (auto q = entry.find("quota"); q != entry.end() && q->second.is<picojson::object>()) {
      q->second.get<picojson::object>().erase("consumed");
    }
  }
}

}  // namespace

Try<size_t> count_active_slaves(const picojson::value& state) {
  const picojson::value& slaves = json_at(state, "slaves");
  if (!slaves.is<picojson::array>()) {
    return Error("/master/state has no \"slaves\" array: " + state.serialize());
  }
  size_t active = 0;
  for (const picojson::value& slave : slaves.get<picojson::array>()) {
    const picojson::value& a = json_at(slave, "active");
    if (!a.is<bool>()) {
      return Error("slave '" + json_string(json_at(slave, "id")) + "' in /master/state has no boolean \"active\": " +
                   slave.serialize());
    }
    active += a.get<bool>() ? 1 : 0;
  }
  return active;
}

Try<double> invariant_violations(const picojson::value& metrics) {
  const picojson::value& v = json_at(metrics, "master/invariant_violations");
  if (!v.is<double>()) {
    return Error("/metrics/snapshot has no numeric \"master/invariant_violations\"");
  }
  return v.get<double>();
}

std::vector<std::string> invariant_violations_logged(const Process& master) {
  // The two ERROR lines of the master's invariant check (master.cpp).
  static const std::regex re(R"(invariant violated|used or offered but only)");
  return master.lines_matching(re);
}

const std::vector<std::string>& snapshot_paths() {
  static const std::vector<std::string> paths = {"/master/roles", "/master/weights", "/master/quota",
                                                 "/master/state"};
  return paths;
}

picojson::value without_volatile_fields(const std::string& path, picojson::value body) {
  drop_keys(body);
  if (path == "/master/roles") {
    // A role's allocation includes its offers; its share follows from it.
    drop_from_each(body, "roles", {"resources", "allocated", "share"});
  } else if (path == "/master/state") {
    // A framework's "resources" is used + offered.
    drop_from_each(body, "frameworks", {"resources"});
  }
  return body;
}

Try<picojson::value> master_snapshot(int port, Deadline deadline) {
  picojson::object snapshot;
  for (const std::string& path : snapshot_paths()) {
    Try<picojson::value> body = http_get_json("127.0.0.1", port, path, deadline);
    if (body.is_error()) {
      return Error(body.error());
    }
    snapshot[path] = without_volatile_fields(path, std::move(*body));
  }
  return picojson::value(std::move(snapshot));
}

std::string snapshot_difference(const picojson::value& before, const picojson::value& after) {
  std::string out;
  for (const std::string& path : snapshot_paths()) {
    std::string b = json_at(before, path).serialize();
    std::string a = json_at(after, path).serialize();
    if (a != b) {
      out += path + " changed:\n  before: " + b + "\n  after:  " + a + "\n";
    }
  }
  return out;
}

}  // namespace stoa::tests
