#include "master/master_flags.hpp"

namespace stoa::master {

namespace {
std::optional<std::string> not_supported(const std::string&) { return "not supported yet"; }
}  // namespace

MasterFlags::MasterFlags() {
  add(&ip, "ip", "IP address to listen on (HTTP and actor traffic).", "127.0.0.1");
  add(&port, "port", "Port to listen on (0 = the OS picks one).", 5050);
  check("port", [](const std::string& v) -> std::optional<std::string> {
    int p = std::stoi(v);
    if (p < 0 || p > 65535) {
      return "must be within 0..65535";
    }
    return std::nullopt;
  });
  add(&hostname, "hostname", "Hostname to advertise (default: --ip, or the looked-up name).");
  add(&hostname_lookup, "hostname_lookup",
      "Whether to look up the hostname of --ip when --hostname is not given.", true);
  add(&work_dir, "work_dir", "Directory for the master's files.", "/var/lib/stoa/master");
  add(&log_dir, "log_dir", "Directory for log files (logs go to stderr when unset).");
  add(&zk, "zk", "ZooKeeper URL for leader election (zk://host:port/path).");
  check("zk", not_supported);
  add(&quorum, "quorum", "Size of the replicated registry quorum (with --zk).", 1);
  check("quorum", only_supported({"1"}));
  add(&registry, "registry", "Where the registry lives: in_memory.", "in_memory");
  check("registry", only_supported({"in_memory"}));
  add(&cluster, "cluster", "Human readable name of the cluster, shown in the web UI.");
  add(&allocation_interval, "allocation_interval", "Time between periodic allocation runs.",
      std::chrono::seconds(1));
  check("allocation_interval", [](const std::string& v) -> std::optional<std::string> {
    Try<Duration> d = parse_duration(v);
    if (d.is_error() || d->count() <= 0) {
      return "must be positive";
    }
    return std::nullopt;
  });
  add(&allocator_policy, "allocator_policy", "Sorter used by the allocator: drf or random.", "drf");
  check("allocator_policy", only_supported({"drf", "random"}));
  add(&roles, "roles", "Comma-separated whitelist of roles (any role when unset).");
  add(&weights, "weights", "Role weights: role1=2,role2=1.");
  add(&slave_ping_timeout, "slave_ping_timeout",
      "Time the master waits for a slave's pong before counting a missed ping.",
      std::chrono::seconds(15));
  add(&max_slave_ping_timeouts, "max_slave_ping_timeouts",
      "Missed pings after which a slave is removed.", 5);
  add(&slave_reregister_timeout, "slave_reregister_timeout",
      "Time a disconnected slave has to come back before it is removed.", std::chrono::minutes(10));
  add(&max_completed_frameworks, "max_completed_frameworks",
      "Completed frameworks kept for /master/state.", 50);
  add(&max_completed_tasks_per_framework, "max_completed_tasks_per_framework",
      "Completed tasks kept per framework.", 1000);
  add(&min_allocatable_resources, "min_allocatable_resources",
      "Smallest offers: alternatives separated by '|'.", "cpus:0.01|mem:32");
  add(&offer_timeout, "offer_timeout",
      "Time after which an unanswered offer is rescinded (offers never expire when unset).");
  check("offer_timeout", [](const std::string& v) -> std::optional<std::string> {
    Try<Duration> d = parse_duration(v);
    if (d.is_error()) {
      return d.error();
    }
    if (d->count() <= 0) {
      return "must be positive";
    }
    return std::nullopt;
  });
}

}  // namespace stoa::master
