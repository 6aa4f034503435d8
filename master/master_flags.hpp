#pragma once
#include <optional>
#include <string>

#include "common/flags.hpp"
#include "common/try.hpp"

namespace stoa::master {

// Flags of stoa-master. Mesos names; values this build does not act on are
// rejected with "not supported yet".
struct MasterFlags : FlagsBase {
  MasterFlags();

  std::string ip;
  int port;
  AddressFlags address;      // --advertise_ip, --advertise_port, --actor_port
  NetworkLimitFlags limits;  // --max_connections, --http_idle_timeout, ...
  LoggingFlags logging;      // --logging_level, --quiet, --max_log_size
  std::optional<std::string> hostname;
  bool hostname_lookup;
  std::string work_dir;
  std::optional<std::string> log_dir;
  std::optional<std::string> zk;
  Duration zk_session_timeout;
  int quorum;
  std::optional<std::string> registry;
  Duration registry_fetch_timeout;
  Duration registry_store_timeout;
  std::string recovery_slave_removal_limit;  // e.g. 100%
  std::optional<std::string> cluster;
  Duration allocation_interval;
  std::string allocator_policy;
  std::optional<std::string> roles;
  std::optional<std::string> weights;
  Duration slave_ping_timeout;
  int max_slave_ping_timeouts;
  Duration slave_reregister_timeout;
  int max_completed_frameworks;
  int max_completed_tasks_per_framework;
  std::string min_allocatable_resources;
  std::optional<std::string> offer_timeout;
  std::optional<std::string> slave_removal_rate_limit;  // "<n>/<duration>"
  std::optional<std::string> webui_dir;  // serve the web UI from here instead of the embedded copy
  bool webui_read_only;                  // the web UI hides kill and teardown

  // --recovery_slave_removal_limit as a fraction (1.0 for 100%).
  double recovery_removal_fraction() const;

 protected:
  // Roles given --weights must be in --roles (when both are given).
  std::optional<Error> validate() const override;
};

// The registry in use: in_memory, leveldb or zookeeper. --registry unset
// means zookeeper with --zk, in_memory without; Mesos' name replicated_log
// means zookeeper with --zk, leveldb (a durable local store) without.
std::string effective_registry(const MasterFlags& flags);

// --slave_removal_rate_limit: at most `permits` removals per `per`.
struct RateLimit {
  int permits = 0;
  Duration per{};
};

// "1/20mins" -> {1, 20 min} (Mesos' syntax); errors say what is expected.
Try<RateLimit> parse_rate_limit(const std::string& text);

// "37.5%" -> 0.375; errors say what is expected.
Try<double> parse_percentage(const std::string& text);

}  // namespace stoa::master
