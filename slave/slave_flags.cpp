#include "slave/slave_flags.hpp"

#include <sys/un.h>

#include "actors/master_detector.hpp"
#include "common/attributes.hpp"
#include "common/resources.hpp"
#include "slave/isolator.hpp"

namespace stoa::slave {

Try<std::vector<std::string>> parse_containerizers(const std::string& flag) {
  std::vector<std::string> names;
  size_t start = 0;
  while (start <= flag.size()) {
    size_t comma = flag.find(',', start);
    std::string name = flag.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!name.empty() && name.front() == ' ') {
      name.erase(name.begin());
    }
    while (!name.empty() && name.back() == ' ') {
      name.pop_back();
    }
    if (name.empty()) {
      return Error("empty containerizer name in '" + flag + "'");
    }
    if (name != "mesos" && name != "docker") {
      return Error("unknown containerizer '" + name + "' (known: mesos, docker)");
    }
    for (const std::string& n : names) {
      if (n == name) {
        return Error("containerizer '" + name + "' is listed twice");
      }
    }
    names.push_back(name);
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  return names;
}

namespace {

std::string isolator_names() {
  std::string names;
  for (const IsolatorEntry& entry : isolator_table()) {
    names += (names.empty() ? "" : ",") + std::string(entry.name);
  }
  return names;
}

}  // namespace

SlaveFlags::SlaveFlags() {
  add(&master, "master",
      "The master (required): host:port, master@host:port, zk://host1:port1,host2:port2/path (follow the "
      "leader elected in ZooKeeper) or file:///path (a file holding one of those).");
  check("master", [](const std::string& v) { return detector::check_master(v); });
  add(&zk_session_timeout, "zk_session_timeout",
      "ZooKeeper session timeout, for a zk:// --master (> 0).", std::chrono::seconds(10));
  check("zk_session_timeout", positive_duration());
  add(&ip, "ip", "IPv4 address to listen on (HTTP and actor traffic); 0.0.0.0 = every interface.", "127.0.0.1");
  check("ip", ipv4_address());
  add(&port, "port", "Port to listen on (0 = the OS picks one).", 5051);
  check("port", within(0, 65535));
  add_address_flags(&address);
  add_network_limits(&limits);
  add_logging_flags(&logging);
  add(&hostname, "hostname", "Hostname to advertise (default: the advertised IP, or its looked-up name).");
  check("hostname", no_whitespace());
  add(&hostname_lookup, "hostname_lookup",
      "Whether to look up the name of the advertised IP when --hostname is not given.", true);
  add(&work_dir, "work_dir",
      "Directory for sandboxes and checkpoints; one slave at a time (locked with <work_dir>/slave.lock).",
      "/var/lib/stoa/slave");
  check("work_dir", non_empty());
  add(&log_dir, "log_dir", "Directory for log files (logs go to stderr when unset).");
  check("log_dir", non_empty());
  add(&resources, "resources",
      "Total resources, e.g. cpus:4;mem:4096;disk:10000;ports:[31000-32000];cpus(web):2. "
      "Anything not given is detected. gpus are whole numbers; ports are ranges within 0..65535.",
      "");
  check("resources", [](const std::string& v) -> std::optional<std::string> {
    Try<Resources> r = Resources::parse(v);
    if (r.is_error()) {
      return r.error();
    }
    return std::nullopt;
  });
  add(&attributes, "attributes", "Attributes of this machine, e.g. rack:r1;zone:a (each name once).");
  check("attributes", [](const std::string& v) -> std::optional<std::string> {
    auto a = parse_attributes(v);
    if (a.is_error()) {
      return a.error();
    }
    return std::nullopt;
  });
  add(&isolation, "isolation",
      "Isolators, comma-separated: " + isolator_names() +
          " (docs/isolation.md). cgroups/* need root and the cgroups v1 controllers under --cgroups_hierarchy.",
      "posix/cpu,posix/mem");
  // The names come from the isolator table (isolator_table.cpp).
  check("isolation", [](const std::string& v) -> std::optional<std::string> {
    Try<std::vector<std::string>> names = parse_isolation(v);
    if (names.is_error()) {
      return names.error();
    }
    return std::nullopt;
  });
  add(&containerizers, "containerizers",
      "Containerizers, in order of preference, comma-separated: mesos, docker (docs/docker.md). A task whose "
      "ContainerInfo is DOCKER runs in Docker; any other in the Mesos containerizer.",
      "mesos");
  check("containerizers", [](const std::string& v) -> std::optional<std::string> {
    Try<std::vector<std::string>> names = parse_containerizers(v);
    if (names.is_error()) {
      return names.error();
    }
    return std::nullopt;
  });
  add(&docker, "docker", "The docker CLI (a name looked up in PATH, or a path): used for `docker create`.",
      "docker");
  check("docker", non_empty());
  add(&docker_socket, "docker_socket", "The Docker engine's unix socket (the engine API is spoken there).",
      "/var/run/docker.sock");
  check("docker_socket", non_empty());
  add(&docker_stop_timeout, "docker_stop_timeout",
      "How long `docker stop` waits after SIGTERM before SIGKILL, when the task has no kill policy.",
      std::chrono::seconds(0));
  add(&docker_kill_orphans, "docker_kill_orphans",
      "At start, kill and remove the Docker containers an earlier run of this slave (same --work_dir) started "
      "and no checkpoint knows.",
      true);
  add(&docker_remove_delay, "docker_remove_delay",
      "How long an exited Docker container is kept (for `docker logs`/`inspect`) before it is removed.",
      std::chrono::hours(6));
  add(&sandbox_directory, "sandbox_directory",
      "Where a Docker container sees its sandbox (an absolute path inside the container).",
      "/mnt/mesos/sandbox");
  check("sandbox_directory", [](const std::string& v) -> std::optional<std::string> {
    if (v.empty() || v[0] != '/') {
      return std::string("must be an absolute path");
    }
    return std::nullopt;
  });
  add(&switch_user, "switch_user",
      "Run each executor and its task as the task's command user, else the framework's user (Mesos' "
      "semantics; switching to another user needs root; the sandbox is chown'd to that user).",
      true);
  add(&systemd_enable_support, "systemd_enable_support",
      "Launch executors in their own systemd scope.", false);
  check("systemd_enable_support", only_supported({"false"}));
  add(&launcher_dir, "launcher_dir",
      "Directory holding stoa-executor (default: the directory of this binary).");
  check("launcher_dir", non_empty());
  add(&registration_backoff_factor, "registration_backoff_factor",
      "Initial backoff between registration attempts (> 0).", std::chrono::seconds(1));
  check("registration_backoff_factor", positive_duration());
  add(&executor_registration_timeout, "executor_registration_timeout",
      "Time an executor has to register before it is killed (> 0).", std::chrono::minutes(1));
  check("executor_registration_timeout", positive_duration());
  add(&executor_shutdown_grace_period, "executor_shutdown_grace_period",
      "Time an executor has to exit after being told to shut down (>= 0).", std::chrono::seconds(5));
  add(&executor_pool_size, "executor_pool_size",
      "How many command executors (stoa-executor, or stoa-http-executor with --http_command_executor) to keep "
      "started ahead, each adopting one task's launch (docs/executor-pool.md); 0 = none, every executor starts "
      "when its task arrives (0 to 64).",
      0);
  check("executor_pool_size", [](const std::string& v) -> std::optional<std::string> {
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 3 || std::stoi(v) > 64) {
      return "must be a whole number from 0 to 64, not '" + v + "'";
    }
    return std::nullopt;
  });
  add(&http_command_executor, "http_command_executor",
      "Run command tasks under stoa-http-executor, which speaks Mesos' v1 executor HTTP API to the slave and "
      "links no actor runtime (it starts in a fraction of stoa-executor's time; docs/executor-http-api.md). A "
      "task with a health check still gets stoa-executor, started afresh.",
      false);
  add(&http_executor_domain_sockets, "http_executor_domain_sockets",
      "Serve the executor HTTP API on a Unix domain socket too (--domain_socket_location) and tell executors "
      "its path in MESOS_DOMAIN_SOCKET, as Mesos does: stoa-http-executor then talks to the slave over it "
      "instead of TCP (cheaper per message and per connection); executors that do not know the variable "
      "keep using MESOS_AGENT_ENDPOINT.",
      false);
  add(&domain_socket_location, "domain_socket_location",
      "Path of the Unix domain socket of --http_executor_domain_sockets: absolute, under 108 bytes "
      "(default: <work_dir>/agent.sock).");
  check("domain_socket_location", [](const std::string& v) -> std::optional<std::string> {
    if (v.empty() || v[0] != '/') {
      return std::string("must be an absolute path");
    }
    if (v.size() >= sizeof(sockaddr_un::sun_path)) {
      return "must have fewer than " + std::to_string(sizeof(sockaddr_un::sun_path)) +
             " bytes (a Unix socket's path), not " + std::to_string(v.size());
    }
    return std::nullopt;
  });
  add(&recover, "recover",
      "What to do with the executors a previous run of this slave left running (docs/checkpoints.md): "
      "'reconnect' takes back those of frameworks that checkpoint (they keep running); 'cleanup' kills "
      "them and starts as a new slave.",
      "reconnect");
  check("recover", only_supported({"reconnect", "cleanup"}));
  add(&recovery_timeout, "recovery_timeout",
      "How long executors of checkpointing frameworks wait for their slave to come back before they kill "
      "their tasks and exit (> 0).",
      std::chrono::minutes(15));
  check("recovery_timeout", positive_duration());
  add(&executor_reregistration_timeout, "executor_reregistration_timeout",
      "How long a restarted slave waits for the executors it recovered to re-register before it kills them "
      "(> 0).",
      std::chrono::seconds(5));
  check("executor_reregistration_timeout", positive_duration());
  add(&strict, "strict",
      "Whether an unreadable checkpoint stops the slave at start (true), or its bad entries are skipped "
      "with a warning (false).",
      true);
  add(&cgroups_hierarchy, "cgroups_hierarchy",
      "Where the cgroups v1 controllers are mounted (one directory per controller).", "/sys/fs/cgroup");
  check("cgroups_hierarchy", non_empty());
  add(&cgroups_root, "cgroups_root",
      "Name of the cgroup (under each controller) that holds this slave's containers.", "stoa");
  check("cgroups_root", non_empty());
  add(&cgroups_enable_cfs, "cgroups_enable_cfs",
      "With cgroups/cpu: also cap each container at its cpus with a CFS quota (not only shares).", false);
  add(&cgroups_pids_limit, "cgroups_pids_limit",
      "With cgroups/pids: the most processes and threads a container may have (0 = no limit).", 0);
  check("cgroups_pids_limit", at_least(0));
  add(&enforce_container_disk_quota, "enforce_container_disk_quota",
      "With disk/du: kill a container whose sandbox grows past its disk resource "
      "(REASON_CONTAINER_LIMITATION_DISK).",
      false);
  add(&container_disk_watch_interval, "container_disk_watch_interval",
      "How often disk/du measures each sandbox (> 0).", std::chrono::seconds(15));
  check("container_disk_watch_interval", positive_duration());
  add(&gc_delay, "gc_delay",
      "How long the sandboxes of finished executors and frameworks are kept before they are deleted, at most; "
      "shortened as the disk fills (> 0).",
      std::chrono::hours(24 * 7));
  check("gc_delay", positive_duration());
  add(&gc_disk_headroom, "gc_disk_headroom",
      "Disk share to keep free: sandboxes are kept gc_delay * max(0, 1 - gc_disk_headroom - disk usage) "
      "(0.0 to 1.0).",
      0.1);
  check("gc_disk_headroom", [](const std::string& v) -> std::optional<std::string> {
    double d = std::stod(v);
    if (d < 0.0 || d > 1.0) {
      return "must be within 0.0..1.0";
    }
    return std::nullopt;
  });
  add(&disk_watch_interval, "disk_watch_interval",
      "How often the work directory's disk usage is checked to prune sandboxes (> 0).", std::chrono::minutes(1));
  check("disk_watch_interval", positive_duration());
  add(&usage_report_interval, "usage_report_interval",
      "How often the slave measures its running executors (CPU rate, resident memory, sandbox disk with disk/du) "
      "and reports it to the master for /master/utilization (0secs = never; else at least 100ms).",
      std::chrono::seconds(5));
  check("usage_report_interval", [](const std::string& v) -> std::optional<std::string> {
    Try<Duration> d = parse_duration(v);
    if (d.is_error()) {
      return d.error();
    }
    if (d->count() != 0 && *d < std::chrono::milliseconds(100)) {
      return std::string("must be 0secs (no reports) or at least 100ms");
    }
    return std::nullopt;
  });
}

std::optional<Error> SlaveFlags::validate() const { return check_address_flags(port, address); }

}  // namespace stoa::slave
