// stoa-http-executor's environment (ExecutorConfig) and its log lines
// (slave/http_executor.hpp).
#include <arpa/inet.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>

#include "common/strings.hpp"
#include "slave/http_executor.hpp"

namespace stoa::http_executor {

// --- The environment. ---

std::optional<Error> agent_endpoint_from_environment(const std::function<const char*(const char*)>& getenv,
                                                    ExecutorConfig* c) {
  const char* set = getenv("MESOS_AGENT_ENDPOINT");
  if (set == nullptr || *set == '\0') {
    return Error("MESOS_AGENT_ENDPOINT is not set");
  }
  const std::string endpoint(set);
  const size_t colon = endpoint.rfind(':');
  std::string host = colon == std::string::npos ? "" : endpoint.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port = colon == std::string::npos ? "" : endpoint.substr(colon + 1);
  unsigned char addr[16];
  const bool ip = inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
  const bool port_ok = !port.empty() && port.size() <= 5 &&
                       std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
                       std::stoi(port) >= 1 && std::stoi(port) <= 65535;
  if (!ip || !port_ok) {
    return Error("MESOS_AGENT_ENDPOINT='" + endpoint + "' is not ip:port (e.g. 10.0.0.1:5051)");
  }
  c->agent_host = host;
  c->agent_port = static_cast<uint16_t>(std::stoi(port));
  c->agent_endpoint = endpoint;
  const char* local = getenv("MESOS_DOMAIN_SOCKET");
  if (local != nullptr && *local != '\0') {
    const std::string path(local);
    if (path[0] != '/' || path.size() >= sizeof(sockaddr_un::sun_path)) {
      return Error("MESOS_DOMAIN_SOCKET='" + path + "' is not an absolute path of fewer than " +
                   std::to_string(sizeof(sockaddr_un::sun_path)) + " bytes");
    }
    c->domain_socket = path;
  }
  return std::nullopt;
}

Try<ExecutorConfig> config_from_environment(const std::function<const char*(const char*)>& getenv) {
  auto value = [&](const char* name) -> std::optional<std::string> {
    const char* v = getenv(name);
    return v == nullptr || *v == '\0' ? std::nullopt : std::optional<std::string>(v);
  };
  auto shown = [&](const char* name) { return std::string(name) + "='" + value(name).value_or("") + "'"; };
  ExecutorConfig c;
  for (auto [name, field] : {std::pair{"MESOS_FRAMEWORK_ID", &c.id.framework_id},
                             std::pair{"MESOS_EXECUTOR_ID", &c.id.executor_id}}) {
    std::optional<std::string> v = value(name);
    if (!v) {
      return Error(std::string(name) + " is not set");
    }
    *field = *v;
  }
  if (std::optional<Error> e = agent_endpoint_from_environment(getenv, &c)) {
    return *e;
  }
  std::optional<std::string> dir = value("MESOS_DIRECTORY");
  if (!dir) {
    dir = value("MESOS_SANDBOX");
  }
  if (!dir) {
    return Error("MESOS_DIRECTORY (or MESOS_SANDBOX) is not set");
  }
  c.sandbox = *dir;
  std::optional<std::string> checkpoint = value("MESOS_CHECKPOINT");
  if (!checkpoint) {
    return Error("MESOS_CHECKPOINT is not set");
  }
  if (*checkpoint == "1" || *checkpoint == "true") {
    c.checkpoint = true;
  } else if (*checkpoint != "0" && *checkpoint != "false") {
    return Error(shown("MESOS_CHECKPOINT") + " is not 0 or 1");
  }
  for (auto [name, field, required] :
       {std::tuple{"MESOS_RECOVERY_TIMEOUT", &c.recovery_timeout, c.checkpoint},
        std::tuple{"MESOS_SUBSCRIPTION_BACKOFF_MAX", &c.subscription_backoff_max, false},
        std::tuple{"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", &c.shutdown_grace_period, false}}) {
    std::optional<std::string> v = value(name);
    if (!v) {
      if (required) {
        return Error(std::string(name) + " is not set (MESOS_CHECKPOINT=1 needs it)");
      }
      continue;
    }
    Try<Duration> d = parse_duration(*v);
    if (d.is_error()) {
      return Error(shown(name) + " is not a duration: " + d.error());
    }
    *field = *d;
  }
  c.slave_id = value("MESOS_SLAVE_ID").value_or("");
  c.container_id = value("STOA_CONTAINER_ID").value_or("");
  return c;
}

void log_to_stderr(const std::string& line) {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  std::tm tm{};
  ::gmtime_r(&tv.tv_sec, &tm);
  char stamp[96];
  std::snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(tv.tv_usec));
  std::string out = stamp + line + "\n";
  // One write per line, so that lines never interleave.
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::write(STDERR_FILENO, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace stoa::http_executor
