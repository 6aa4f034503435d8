#pragma once
// stoa-lb's command line: marathon-lb's (marathon.md §7.2), parsed as
// argparse parses it — `--name value` or `--name=value`, short forms (-m,
// -s, -H, -c, -d), `--marathon URL [URL ...]`, `--group G` repeatable — plus
// the Docker entry point's mode word first: `stoa-lb sse|poll [options]`
// (`sse` = --sse; `poll` = a snapshot every POLL_INTERVAL seconds, HAProxy
// kept running). Environment: PORTS (the stats port: the first of a comma
// list, default 9090), POLL_INTERVAL (60), FRAMEWORK_NAME,
// MARATHON_USER/MARATHON_PASSWORD, HAPROXY_<TEMPLATE> (templates.hpp).
// Unknown options and bad values are errors naming them.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/try.hpp"

namespace stoa::lb {

struct LbFlags {
  bool sse = false;                 // sse mode word or --sse/-s
  bool poll_loop = false;           // poll mode word: keep polling (marathon-lb's run script)
  bool dry = false;                 // --dry/-d: print the config and exit
  bool longhelp = false;            // --longhelp: templates and labels
  bool help = false;
  std::vector<std::string> marathon = {"http://master.mesos:8080"};
  std::vector<std::string> groups;  // --group (required unless --dry/--longhelp)
  std::string haproxy_config = "/etc/haproxy/haproxy.cfg";
  std::optional<std::string> command;  // --command/-c
  int max_reload_retries = 10;
  std::chrono::milliseconds reload_interval{10'000};
  bool strict_mode = false;
  bool health_check = false;        // --health-check/-H
  bool dont_bind_http_https = false;
  std::vector<std::string> ssl_certs = {"/etc/ssl/cert.pem"};
  bool haproxy_map = false;
  bool group_https_by_vhost = false;
  bool skip_validation = false;
  bool skip_config_cleanup = false;
  int archive_versions = 5;
  int lru_cache_capacity = 1000;
  int min_serv_port_ip_per_task = 10050;
  int max_serv_port_ip_per_task = 10100;
  std::chrono::milliseconds max_backoff{300'000};
  std::optional<std::string> auth_credentials;             // user:pass
  std::optional<std::string> marathon_auth_credential_file;
  std::string syslog_socket = "/dev/log";                  // accepted; logs go to stderr/--log_dir
  std::string log_format;
  std::string log_level = "INFO";
  // Stoa additions (docs/lb.md):
  std::string haproxy_bin = "haproxy";                     // --haproxy-bin
  std::string run_dir;              // --run-dir: HAProxy's sockets/pids ("" = <config dir>/run)
  std::string templates_dir = "templates";                 // --templates-dir
  int stats_port = 9090;            // env PORTS
  int http_port = 80;               // --http-port
  int https_port = 443;             // --https-port
  int http_appid_port = 9091;       // --http-appid-port
  std::string bind_address = "*";   // --bind-address (shared frontends)
  std::chrono::milliseconds poll_interval{60'000};         // env POLL_INTERVAL (seconds)
  std::chrono::milliseconds min_reload_interval{500};      // --min-reload-interval (ms)
  std::string framework_name;       // env FRAMEWORK_NAME
  std::optional<std::string> log_dir;                      // --log-dir
};

// Parses argv[1..] and `env`. Error text names the option and value
// ("--max-reload-retries: 'x' is not an integer", "unknown option '--foo'").
Try<LbFlags> parse_lb_flags(int argc, const char* const* argv, const std::map<std::string, std::string>& env);

std::string lb_usage(const std::string& program);

// --longhelp: every template (templates.hpp's catalogue: name, help,
// variables, default text) and every label stoa-lb reads.
std::string lb_longhelp();

}  // namespace stoa::lb
