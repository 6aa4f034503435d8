#include "slave/executor_pool.hpp"
#include "common/strings.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstring>

#include "common/logging.hpp"
#include "slave/isolator.hpp"

namespace stoa::slave {

LaunchSpec pooled_executor_spec(const PoolSpecInputs& in) {
  LaunchSpec spec;
  spec.argv = {in.executor_path};
  spec.working_dir = in.work_dir;
  spec.stdout_path = "/dev/null";
  spec.stderr_path = "/dev/null";
  spec.new_session = true;
  spec.env = {
      {POOL_TOKEN_VARIABLE, in.token},
      {"STOA_SLAVE_PID", in.slave_pid},
      {"STOA_SLAVE_ACTOR_PORT", std::to_string(in.slave_actor_port)},
      {"STOA_EXECUTOR_IP", in.ip},
      {"STOA_CONTAINER_ID", std::string(POOL_CONTAINER_ID_CAPACITY, POOL_PLACEHOLDER_CHAR)},
  };
  if (!in.agent_endpoint.empty()) {
    spec.env["MESOS_AGENT_ENDPOINT"] = in.agent_endpoint;
  }
  if (!in.domain_socket.empty()) {
    spec.env["MESOS_DOMAIN_SOCKET"] = in.domain_socket;
  }
  return spec;
}

std::optional<std::string> pool_refusal(const ContainerConfig& config, const std::vector<std::string>& isolation,
                                        const std::string& slave_user) {
  if (config.docker) {
    return std::string("a Docker container");
  }
  if (!config.user.empty() && config.user != slave_user) {
    return "runs as user '" + config.user + "', the pool as '" + slave_user + "'";
  }
  for (const std::string& name : isolation) {
    for (const IsolatorEntry& entry : isolator_table()) {
      if (name == entry.name && std::strlen(entry.controllers) > 0) {
        return "isolator " + name + " puts the executor in its cgroups before it execs";
      }
    }
  }
  if (config.container_id.size() > POOL_CONTAINER_ID_CAPACITY) {
    return "container id longer than " + std::to_string(POOL_CONTAINER_ID_CAPACITY) + " characters";
  }
  return std::nullopt;
}

std::string current_user_name() {
  struct passwd pw;
  struct passwd* found = nullptr;
  char buffer[4096];
  if (::getpwuid_r(::geteuid(), &pw, buffer, sizeof(buffer), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return std::to_string(::geteuid());
}

std::optional<Error> adopt_environment(const Environment& environment) {
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(static_cast<size_t>(environment.variables_size()));
  for (const Environment::Variable& v : environment.variables()) {
    pairs.emplace_back(v.name(), v.value());
  }
  return adopt_environment(pairs);
}

Try<ExecutorOptions> adopt(const internal::AdoptExecutorMessage& m, const std::string& token) {
  if (m.token() != token) {
    return Error("an adoption for pooled executor " + m.token() + ", not " + token);
  }
  // The sandbox first: whatever fails next is logged in its stderr.
  if (std::optional<Error> error = enter_sandbox(m.directory())) {
    return *error;
  }
  if (std::optional<Error> error = claim_container_id(m.container_id())) {
    return *error;
  }
  if (std::optional<Error> error = adopt_environment(m.environment())) {
    return *error;
  }
  LOG_INFO << "Adopted container " << m.container_id() << " in " << m.directory();
  return ExecutorOptions::from_environment();
}

}  // namespace stoa::slave
