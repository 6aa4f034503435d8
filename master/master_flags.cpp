#include "master/master_flags.hpp"

#include <set>
#include <vector>

#include "common/resources.hpp"
#include "common/strings.hpp"
#include "master/allocator/sorter.hpp"
#include "master/validation.hpp"

namespace stoa::master {

namespace {

std::optional<std::string> not_supported(const std::string&) { return "not supported yet"; }

// --roles: comma-separated valid roles, each once.
std::optional<std::string> check_roles(const std::string& text) {
  std::set<std::string> seen;
  for (const std::string& role : split(text, ',')) {
    if (role.empty()) {
      return "empty role (expected role1,role2,...)";
    }
    if (std::optional<std::string> e = validate_role(role)) {
      return *e;
    }
    if (!seen.insert(role).second) {
      return "role '" + role + "' is listed twice";
    }
  }
  return std::nullopt;
}

// --weights: role=weight,... with valid roles, each once, and weights
// parse_weights() accepts.
std::optional<std::string> check_weights(const std::string& text) {
  std::set<std::string> seen;
  for (const std::string& entry : split(text, ',')) {
    size_t eq = entry.find('=');
    if (eq != std::string::npos && !seen.insert(entry.substr(0, eq)).second) {
      return "role '" + entry.substr(0, eq) + "' is given more than one weight";
    }
  }
  Try<std::map<std::string, double>> w = parse_weights(text);
  if (w.is_error()) {
    return w.error();
  }
  return std::nullopt;
}

// --min_allocatable_resources: alternatives separated by '|', each a
// non-empty list of unreserved scalars ("cpus:0.01|mem:32").
std::optional<std::string> check_min_allocatable(const std::string& text) {
  for (const std::string& part : split(text, '|')) {
    if (part.find_first_not_of(" \t") == std::string::npos) {
      return "empty alternative (expected e.g. cpus:0.01|mem:32)";
    }
    Try<Resources> r = Resources::parse(part);
    if (r.is_error()) {
      return r.error();
    }
    if (r->empty()) {
      return "alternative '" + part + "' names no positive quantity";
    }
    for (const ResourceEntry& e : *r) {
      if (e.type != ResourceType::SCALAR) {
        return "alternative '" + part + "': '" + e.name + "' is not a scalar (only quantities are supported)";
      }
      if (e.role != "*") {
        return "alternative '" + part + "': '" + e.name + "(" + e.role +
               ")' is reserved (only unreserved quantities are supported)";
      }
    }
  }
  return std::nullopt;
}

}  // namespace

MasterFlags::MasterFlags() {
  add(&ip, "ip", "IP address to listen on (HTTP and actor traffic).", "127.0.0.1");
  check("ip", ipv4_address());
  add(&port, "port", "Port to listen on (0 = the OS picks one).", 5050);
  check("port", within(0, 65535));
  add_network_limits(&limits);
  add_logging_flags(&logging);
  add(&hostname, "hostname", "Hostname to advertise (default: --ip, or the looked-up name).");
  check("hostname", no_whitespace());
  add(&hostname_lookup, "hostname_lookup",
      "Whether to look up the hostname of --ip when --hostname is not given.", true);
  add(&work_dir, "work_dir", "Directory for the master's files.", "/var/lib/stoa/master");
  check("work_dir", non_empty());
  add(&log_dir, "log_dir", "Directory for log files (logs go to stderr when unset).");
  check("log_dir", non_empty());
  add(&zk, "zk", "ZooKeeper URL for leader election (zk://host:port/path).");
  check("zk", not_supported);
  add(&quorum, "quorum", "Size of the replicated registry quorum (with --zk).", 1);
  check("quorum", only_supported({"1"}));
  add(&registry, "registry", "Where the registry lives: in_memory.", "in_memory");
  check("registry", only_supported({"in_memory"}));
  add(&cluster, "cluster", "Human readable name of the cluster, shown in the web UI.");
  add(&allocation_interval, "allocation_interval", "Time between periodic allocation runs (> 0).",
      std::chrono::seconds(1));
  check("allocation_interval", positive_duration());
  add(&allocator_policy, "allocator_policy", "Sorter used by the allocator (" + allocator::sorter_help() + ").",
      "drf");
  check("allocator_policy", only_supported(allocator::sorter_names()));
  add(&roles, "roles", "Comma-separated whitelist of roles, each once (any role when unset).");
  check("roles", check_roles);
  add(&weights, "weights", "Role weights: role1=2,role2=1 (each role once, weights > 0; roles in --roles).");
  check("weights", check_weights);
  add(&slave_ping_timeout, "slave_ping_timeout",
      "Time the master waits for a slave's pong before counting a missed ping (> 0).",
      std::chrono::seconds(15));
  check("slave_ping_timeout", positive_duration());
  add(&max_slave_ping_timeouts, "max_slave_ping_timeouts",
      "Missed pings after which a slave is removed (>= 1).", 5);
  check("max_slave_ping_timeouts", at_least(1));
  add(&slave_reregister_timeout, "slave_reregister_timeout",
      "Time a disconnected slave has to come back before it is removed (> 0).", std::chrono::minutes(10));
  check("slave_reregister_timeout", positive_duration());
  add(&max_completed_frameworks, "max_completed_frameworks",
      "Completed frameworks kept for /master/state (>= 0).", 50);
  check("max_completed_frameworks", at_least(0));
  add(&max_completed_tasks_per_framework, "max_completed_tasks_per_framework",
      "Completed tasks kept per framework (>= 0).", 1000);
  check("max_completed_tasks_per_framework", at_least(0));
  add(&min_allocatable_resources, "min_allocatable_resources",
      "Smallest offers: alternatives of unreserved scalars separated by '|'.", "cpus:0.01|mem:32");
  check("min_allocatable_resources", check_min_allocatable);
  add(&offer_timeout, "offer_timeout",
      "Time after which an unanswered offer is rescinded (> 0; offers never expire when unset).");
  check("offer_timeout", [](const std::string& v) -> std::optional<std::string> {
    Try<Duration> d = parse_duration(v);
    if (d.is_error()) {
      return d.error();
    }
    if (*d > MAX_FLAG_DURATION) {
      return "too large (at most " + format_duration(MAX_FLAG_DURATION) + ")";
    }
    if (d->count() <= 0) {
      return "must be positive";
    }
    return std::nullopt;
  });
}

std::optional<Error> MasterFlags::validate() const {
  if (roles && weights) {
    std::vector<std::string> listed = split(*roles, ',');
    std::set<std::string> whitelist(listed.begin(), listed.end());
    for (const std::string& entry : split(*weights, ',')) {
      std::string role = entry.substr(0, entry.find('='));
      if (role != "*" && !whitelist.contains(role)) {
        return Error("Invalid value '" + *weights + "' for flag '--weights': role '" + role +
                     "' is not in --roles=" + *roles);
      }
    }
  }
  return std::nullopt;
}

}  // namespace stoa::master
