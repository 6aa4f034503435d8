#pragma once
// stoa-services' flags: Marathon's names, given as `--name value` or
// `--name=value`, from the environment as STOA_<NAME> or MARATHON_<NAME>
// too (MARATHON_ wins over STOA_, the command line over both; MESOS_ is not
// read). docs/services-operations.md lists them with their defaults.
//
// Durations take Marathon's bare numbers (milliseconds; seconds for
// --failover_timeout) as well as Stoa durations ("10secs"). Without --zk,
// --work_dir is required (the file store); with --zk it is refused (state
// lives in ZooKeeper).

#include <optional>
#include <string>
#include <vector>

#include "common/flags.hpp"

namespace stoa::services {

struct ServicesFlags : FlagsBase {
  ServicesFlags();

  std::string master;                 // --master (required): host:port or zk://…/mesos
  std::optional<std::string> zk;      // --zk zk://…/marathon: HA + state in ZooKeeper
  bool disable_ha = false;            // --disable_ha: with --zk, lead without an election
  std::string hostname;               // --hostname ("" = the HTTP address)
  // --http_address: the bind address; unset = --hostname when that is an
  // IPv4 address (Marathon's `--hostname=<ip>` set-up), else 127.0.0.1.
  std::optional<std::string> http_address;
  int http_port = 8080;               // --http_port
  std::string framework_name = "marathon";
  std::string mesos_role = "*";
  Duration failover_timeout = std::chrono::hours(24 * 7);  // --failover_timeout (seconds in Marathon: we take both)
  std::optional<std::string> event_subscriber;  // --event_subscriber http_callback
  std::optional<std::string> http_endpoints;    // --http_endpoints URL,URL (callback subscribers)
  std::string work_dir;               // --work_dir: the file store (required without --zk)
  int local_port_min = 10000;
  int local_port_max = 20000;
  Duration zk_session_timeout = std::chrono::seconds(10);
  Duration reconciliation_interval = std::chrono::minutes(10);  // --reconciliation_interval
  Duration reconciliation_initial_delay = std::chrono::seconds(15);
  Duration task_launch_timeout = std::chrono::minutes(5);       // STAGING longer → killed
  Duration decline_offer_duration = std::chrono::seconds(120);  // filters.refuse_seconds when nothing to launch
  int max_running_deployments = 100;
  int event_stream_max_outstanding_messages = 50;
  Duration leader_proxy_read_timeout = std::chrono::seconds(10);
  std::string webui_url;              // --webui_url (FrameworkInfo.webui_url); "" = http://host:port
  std::optional<std::string> log_dir;
  LoggingFlags logging;
  NetworkLimitFlags limits;

  // --http_endpoints split at ',' (empty without it).
  std::vector<std::string> callback_urls() const;
  // "hostname:http_port": this instance's identity (election, proxying).
  // REQUIRES: loaded. With --http_port 0 the caller substitutes the bound port.
  std::string effective_http_address() const;
  std::string effective_hostname() const { return hostname.empty() ? effective_http_address() : hostname; }

 protected:
  std::optional<Error> validate() const override;
};

}  // namespace stoa::services
