#pragma once
#include <optional>
#include <string>
#include <vector>

#include "common/flags.hpp"
#include "common/try.hpp"

namespace stoa::slave {

// Flags of stoa-slave (Mesos agent names). Values this build does not act
// on are rejected with "not supported yet".
struct SlaveFlags : FlagsBase {
  SlaveFlags();

  std::optional<std::string> master;
  Duration zk_session_timeout;
  std::string ip;
  int port;
  AddressFlags address;      // --advertise_ip, --advertise_port, --actor_port
  NetworkLimitFlags limits;  // --max_connections, --http_idle_timeout, ...
  LoggingFlags logging;      // --logging_level, --quiet, --max_log_size
  std::optional<std::string> hostname;
  bool hostname_lookup;
  std::string work_dir;
  std::optional<std::string> log_dir;
  std::string resources;
  std::optional<std::string> attributes;
  std::string isolation;
  std::string containerizers;
  bool switch_user;
  bool systemd_enable_support;
  std::optional<std::string> launcher_dir;
  Duration registration_backoff_factor;
  Duration executor_registration_timeout;
  Duration executor_shutdown_grace_period;
  int executor_pool_size;  // the warm pool of command executors; 0 = off
  bool http_command_executor;  // command tasks run under stoa-http-executor (v1 HTTP API)
  bool http_executor_domain_sockets;  // executors reach the HTTP API on a Unix socket too
  std::optional<std::string> domain_socket_location;  // its path (default <work_dir>/agent.sock)
  std::string recover;
  Duration recovery_timeout;
  Duration executor_reregistration_timeout;
  bool strict;
  // Isolation (docs/isolation.md).
  std::string cgroups_hierarchy;
  std::string cgroups_root;
  bool cgroups_enable_cfs;
  int cgroups_pids_limit;
  bool enforce_container_disk_quota;
  Duration container_disk_watch_interval;
  // The docker containerizer (docs/docker.md).
  std::string docker;
  std::string docker_socket;
  Duration docker_stop_timeout;
  bool docker_kill_orphans;
  Duration docker_remove_delay;
  std::string sandbox_directory;
  // Garbage collection of sandboxes (docs/sandboxes.md).
  Duration gc_delay;
  double gc_disk_headroom;
  Duration disk_watch_interval;
  // Usage reports to the master (docs/utilization.md); 0 = none.
  Duration usage_report_interval;

 protected:
  // --actor_port differs from --port.
  std::optional<Error> validate() const override;
};

// --containerizers: the names in order, each once, each "mesos" or
// "docker". Errors name the offending entry.
Try<std::vector<std::string>> parse_containerizers(const std::string& flag);

}  // namespace stoa::slave
