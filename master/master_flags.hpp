#pragma once
#include <optional>
#include <string>

#include "common/flags.hpp"

namespace stoa::master {

// Flags of stoa-master. Mesos names; values this build does not act on are
// rejected with "not supported yet".
struct MasterFlags : FlagsBase {
  MasterFlags();

  std::string ip;
  int port;
  NetworkLimitFlags limits;  // --max_connections, --http_idle_timeout, ...
  LoggingFlags logging;      // --logging_level, --quiet, --max_log_size
  std::optional<std::string> hostname;
  bool hostname_lookup;
  std::string work_dir;
  std::optional<std::string> log_dir;
  std::optional<std::string> zk;
  int quorum;
  std::string registry;
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

 protected:
  // Roles given --weights must be in --roles (when both are given).
  std::optional<Error> validate() const override;
};

}  // namespace stoa::master
