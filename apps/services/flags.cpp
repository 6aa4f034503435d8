#include "apps/services/flags.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>

#include "actors/master_detector.hpp"
#include "actors/zookeeper.hpp"

namespace stoa::services {

namespace {

// Why `url` is not an http://host[:port][/path] callback URL, or nullopt.
std::optional<std::string> services_flags_check_http_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    return "'" + url + "' is not an http:// URL";
  }
  std::string rest = url.substr(scheme.size());
  std::string authority = rest.substr(0, rest.find('/'));
  std::string host = authority;
  size_t colon = authority.rfind(':');
  if (colon != std::string::npos) {
    host = authority.substr(0, colon);
    std::string port = authority.substr(colon + 1);
    int n = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || n < 1 || n > 65535) {
      return "'" + url + "' has a bad port '" + port + "' (1..65535)";
    }
  }
  if (host.empty()) {
    return "'" + url + "' has no host";
  }
  for (char c : url) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
      return "'" + url + "' contains whitespace or control characters";
    }
  }
  return std::nullopt;
}

std::vector<std::string> services_flags_split(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    out.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) {
      return out;
    }
    start = end + 1;
  }
}

}  // namespace

ServicesFlags::ServicesFlags() {
  set_style(FlagStyle{true, {"STOA_", "MARATHON_"}});
  add(&master, "master",
      "The Mesos master (required): host:port, zk://host:port,.../mesos or file:///path holding one.", "");
  check("master", [](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) {
      return "must not be empty";
    }
    return detector::check_master(v);
  });
  add(&zk, "zk",
      "ZooKeeper URL zk://host:port,.../path: leader election under <path>/leader and the state under "
      "<path>/state (high availability). Without it there is one instance and its state is in --work_dir.");
  check("zk", [](const std::string& v) -> std::optional<std::string> {
    Try<zookeeper::Url> url = zookeeper::parse_url(v);
    if (url.is_error()) {
      return url.error();
    }
    if (url->path == "/") {
      return "needs a path below / (e.g. zk://host:2181/marathon)";
    }
    return std::nullopt;
  });
  add(&disable_ha, "disable_ha", "With --zk, lead at once without an election (one instance only).", false);
  add(&zk_session_timeout, "zk_session_timeout",
      "ZooKeeper session timeout (milliseconds, or a duration such as 10secs).", std::chrono::seconds(10),
      std::chrono::milliseconds(1));
  check("zk_session_timeout", positive_duration());
  add(&hostname, "hostname",
      "The host name this instance is reached at by the other instances and in FrameworkInfo "
      "(default: the HTTP address).",
      "");
  add(&http_address, "http_address",
      "IPv4 address to serve HTTP on (and the actor port). Default: --hostname when it is an IPv4 address "
      "(so `--hostname=10.0.0.1` serves on 10.0.0.1:8080 as Marathon would), else 127.0.0.1.");
  check("http_address", ipv4_address());
  add(&http_port, "http_port", "Port to serve the REST API and the UI on (0 = the OS picks one).", 8080);
  check("http_port", within(0, 65535));
  add(&framework_name, "framework_name", "The framework's name in Mesos.", "marathon");
  check("framework_name", non_empty());
  add(&mesos_role, "mesos_role", "The role the framework registers with.", "*");
  check("mesos_role", no_whitespace());
  add(&failover_timeout, "failover_timeout",
      "How long the master keeps the framework's tasks after it disconnects (seconds, or a duration "
      "such as 7days).",
      std::chrono::hours(24 * 7), std::chrono::seconds(1));
  check("failover_timeout", positive_duration());
  add(&event_subscriber, "event_subscriber",
      "Event subscribers besides /v2/events: http_callback (POSTs every event to --http_endpoints).");
  check("event_subscriber", only_supported({"http_callback"}));
  add(&http_endpoints, "http_endpoints",
      "Comma-separated http:// URLs the http_callback subscriber POSTs every event to.");
  check("http_endpoints", [](const std::string& v) -> std::optional<std::string> {
    for (const std::string& url : services_flags_split(v, ',')) {
      if (std::optional<std::string> e = services_flags_check_http_url(url)) {
        return *e;
      }
    }
    return std::nullopt;
  });
  add(&work_dir, "work_dir", "Directory of the file store (<work_dir>/state); required without --zk.", "");
  add(&local_port_min, "local_port_min", "Lowest service port assigned to apps (1..65535).", 10000);
  check("local_port_min", within(1, 65535));
  add(&local_port_max, "local_port_max", "Highest service port assigned to apps (1..65535).", 20000);
  check("local_port_max", within(1, 65535));
  add(&reconciliation_interval, "reconciliation_interval",
      "How often every task is reconciled with the master (milliseconds, or a duration).",
      std::chrono::minutes(10), std::chrono::milliseconds(1));
  check("reconciliation_interval", positive_duration());
  add(&reconciliation_initial_delay, "reconciliation_initial_delay",
      "Delay of the first periodic reconciliation after leading (milliseconds, or a duration).",
      std::chrono::seconds(15), std::chrono::milliseconds(1));
  check("reconciliation_initial_delay", positive_duration());
  add(&task_launch_timeout, "task_launch_timeout",
      "A task not running this long after its launch is killed (milliseconds, or a duration).",
      std::chrono::minutes(5), std::chrono::milliseconds(1));
  check("task_launch_timeout", positive_duration());
  add(&decline_offer_duration, "decline_offer_duration",
      "How long a declined offer's resources stay away when nothing waits to launch (milliseconds, or a "
      "duration).",
      std::chrono::seconds(120), std::chrono::milliseconds(1));
  check("decline_offer_duration", positive_duration());
  add(&max_running_deployments, "max_running_deployments",
      "Deployments that may run at once; more are refused with 403 (>= 1).", 100);
  check("max_running_deployments", at_least(1));
  add(&event_stream_max_outstanding_messages, "event_stream_max_outstanding_messages",
      "Events an SSE client may fall behind by before it is dropped (>= 1).", 50);
  check("event_stream_max_outstanding_messages", at_least(1));
  add(&leader_proxy_read_timeout, "leader_proxy_read_timeout",
      "How long a standby waits for the leader's answer to a proxied request (milliseconds, or a "
      "duration).",
      std::chrono::seconds(10), std::chrono::milliseconds(1));
  check("leader_proxy_read_timeout", positive_duration());
  add(&webui_url, "webui_url", "FrameworkInfo.webui_url (default: http://<hostname>:<http_port>).", "");
  check("webui_url", [](const std::string& v) -> std::optional<std::string> {
    if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
      return "must start with http:// or https://";
    }
    return std::nullopt;
  });
  add(&log_dir, "log_dir", "Directory for log files (logs go to stderr when unset).");
  check("log_dir", non_empty());
  add_logging_flags(&logging);
  add_network_limits(&limits);
  check("hostname", no_whitespace());
}

std::vector<std::string> ServicesFlags::callback_urls() const {
  if (!http_endpoints) {
    return {};
  }
  return services_flags_split(*http_endpoints, ',');
}

std::optional<Error> ServicesFlags::validate() const {
  if (help) {
    return std::nullopt;  // --help needs no --master
  }
  if (master.empty()) {
    return Error("Flag '--master' is required (e.g. --master zk://host:2181/mesos or --master host:5050)");
  }
  if (!zk && work_dir.empty()) {
    return Error("Flag '--work_dir' is required without --zk (the state is kept in <work_dir>/state)");
  }
  if (zk && !work_dir.empty()) {
    return Error("Invalid value '" + work_dir + "' for flag '--work_dir': not used with --zk=" + *zk +
                 " (the state is kept in ZooKeeper)");
  }
  if (local_port_min >= local_port_max) {
    return Error("Flags '--local_port_min' (" + std::to_string(local_port_min) + ") and '--local_port_max' (" +
                 std::to_string(local_port_max) + ") are no range: the minimum must be below the maximum");
  }
  if (event_subscriber && !http_endpoints) {
    return Error("Flag '--event_subscriber=" + *event_subscriber + "' needs --http_endpoints (the callback URLs)");
  }
  if (http_endpoints && !event_subscriber) {
    return Error("Invalid value '" + *http_endpoints +
                 "' for flag '--http_endpoints': it needs --event_subscriber http_callback");
  }
  return std::nullopt;
}

std::string ServicesFlags::effective_http_address() const {
  if (http_address) {
    return *http_address;
  }
  in_addr parsed{};
  if (!hostname.empty() && inet_pton(AF_INET, hostname.c_str(), &parsed) == 1) {
    return hostname;
  }
  return "127.0.0.1";
}

}  // namespace stoa::services
