#include "master/master_flags.hpp"

#include <algorithm>
#include <set>
#include <vector>

#include "actors/zookeeper.hpp"
#include "common/resources.hpp"
#include "common/strings.hpp"
#include "master/allocator/sorter.hpp"
#include "master/validation.hpp"
#include "master/webui_routes.hpp"

namespace stoa::master {

namespace {

std::optional<std::string> check_zk(const std::string& text) {
  Try<zookeeper::Url> url = zookeeper::parse_url(text);
  if (url.is_error()) {
    return url.error();
  }
  return std::nullopt;
}

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
  add(&ip, "ip", "IPv4 address to listen on (HTTP and actor traffic); 0.0.0.0 = every interface.", "127.0.0.1");
  check("ip", ipv4_address());
  add(&port, "port", "Port to listen on (0 = the OS picks one).", 5050);
  check("port", within(0, 65535));
  add_address_flags(&address);
  add_network_limits(&limits);
  add_logging_flags(&logging);
  add(&hostname, "hostname", "Hostname to advertise (default: the advertised IP, or its looked-up name).");
  check("hostname", no_whitespace());
  add(&hostname_lookup, "hostname_lookup",
      "Whether to look up the name of the advertised IP when --hostname is not given.", true);
  add(&work_dir, "work_dir", "Directory for the master's files.", "/var/lib/stoa/master");
  check("work_dir", non_empty());
  add(&log_dir, "log_dir", "Directory for log files (logs go to stderr when unset).");
  check("log_dir", non_empty());
  add(&zk, "zk",
      "ZooKeeper URL for leader election: zk://host1:port1,host2:port2/path, or file:///path holding one. "
      "Masters contend under the path (json.info_ nodes); the lowest leads.");
  check("zk", check_zk);
  add(&zk_session_timeout, "zk_session_timeout",
      "ZooKeeper session timeout: a leader cut off from ZooKeeper this long stops leading (> 0).",
      std::chrono::seconds(10));
  check("zk_session_timeout", positive_duration());
  add(&quorum, "quorum",
      "With --zk: masters that must be contending before the elected one leads (>= 1; a majority of the "
      "masters, as for Mesos' replicated log). See docs/registrar.md.",
      1);
  check("quorum", at_least(1));
  add(&registry, "registry",
      "Where the registry lives: in_memory, leveldb (durable, <work_dir>/registry), zookeeper (under the --zk "
      "path), or replicated_log (Mesos' name: zookeeper with --zk, else leveldb). Default: zookeeper with --zk, "
      "else in_memory.");
  check("registry", only_supported({"in_memory", "leveldb", "zookeeper", "replicated_log"}));
  add(&registry_fetch_timeout, "registry_fetch_timeout",
      "Time to read the registry on election before the master gives up leading (> 0).", std::chrono::minutes(1));
  check("registry_fetch_timeout", positive_duration());
  add(&registry_store_timeout, "registry_store_timeout",
      "Time to store a registry change before the master gives up leading (> 0).", std::chrono::seconds(20));
  check("registry_store_timeout", positive_duration());
  add(&recovery_slave_removal_limit, "recovery_slave_removal_limit",
      "After a failover, the largest share of the registry's slaves that may be marked unreachable for not "
      "re-registering within --slave_reregister_timeout; above it the master exits instead (0%..100%).",
      "100%");
  check("recovery_slave_removal_limit", [](const std::string& v) -> std::optional<std::string> {
    Try<double> p = parse_percentage(v);
    if (p.is_error()) {
      return p.error();
    }
    return std::nullopt;
  });
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
  add(&slave_removal_rate_limit, "slave_removal_rate_limit",
      "Most slaves removed for missed pings per duration, as <n>/<duration> (e.g. 1/20mins); the others wait "
      "in a queue, and one that answers a ping meanwhile stays. Unlimited when unset.");
  check("slave_removal_rate_limit", [](const std::string& v) -> std::optional<std::string> {
    Try<RateLimit> r = parse_rate_limit(v);
    if (r.is_error()) {
      return r.error();
    }
    return std::nullopt;
  });
  add(&webui_dir, "webui_dir",
      "Serve the web UI's files from this directory, read on every request (while developing it), instead "
      "of the copy embedded in the binary. It must be an existing directory.");
  check("webui_dir", check_webui_dir);
  add(&webui_read_only, "webui_read_only",
      "The web UI hides its actions (kill a task, tear down a framework); the endpoints stay available.",
      false);
}

Try<RateLimit> parse_rate_limit(const std::string& text) {
  const std::string expected = "expected <number of removals>/<duration>, such as 1/20mins";
  size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0) {
    return Error(expected);
  }
  std::string count = text.substr(0, slash);
  if (count.size() > 9 || count.find_first_not_of("0123456789") != std::string::npos) {
    return Error("'" + count + "' is not a positive whole number (" + expected + ")");
  }
  RateLimit limit;
  limit.permits = std::stoi(count);
  if (limit.permits <= 0) {
    return Error("the number of removals must be positive (" + expected + ")");
  }
  Try<Duration> per = parse_duration(text.substr(slash + 1));
  if (per.is_error()) {
    return Error("'" + text.substr(slash + 1) + "': " + per.error() + " (" + expected + ")");
  }
  if (per->count() <= 0 || *per > MAX_FLAG_DURATION) {
    return Error("the duration must be positive and at most " + format_duration(MAX_FLAG_DURATION) + " (" +
                 expected + ")");
  }
  limit.per = *per;
  return limit;
}

Try<double> parse_percentage(const std::string& text) {
  const Error expected("expected a percentage such as 100% or 37.5%");
  if (text.size() < 2 || text.back() != '%') {
    return expected;
  }
  std::string number = text.substr(0, text.size() - 1);
  if (number.find_first_not_of("0123456789.") != std::string::npos || number.front() == '.' ||
      number.back() == '.' || std::count(number.begin(), number.end(), '.') > 1 || number.size() > 12) {
    return expected;
  }
  double p = std::stod(number);
  if (p > 100) {
    return Error("must be within 0%..100%");
  }
  return p / 100.0;
}

double MasterFlags::recovery_removal_fraction() const {
  Try<double> p = parse_percentage(recovery_slave_removal_limit);
  return p.is_some() ? *p : 1.0;
}

std::string effective_registry(const MasterFlags& flags) {
  std::string r = flags.registry.value_or(flags.zk ? "zookeeper" : "in_memory");
  if (r == "replicated_log") {
    return flags.zk ? "zookeeper" : "leveldb";
  }
  return r;
}

std::optional<Error> MasterFlags::validate() const {
  if (std::optional<Error> error = check_address_flags(port, address)) {
    return error;
  }
  if (registry && *registry == "zookeeper" && !zk) {
    return Error("Invalid value 'zookeeper' for flag '--registry': it needs --zk (the registry lives under its path)");
  }
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
