#include "slave/executor_pool.hpp"
#include "common/strings.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/logging.hpp"
#include "slave/isolator.hpp"

extern char** environ;

namespace stoa::slave {

namespace executor_pool_detail {

constexpr std::string_view CONTAINER_ID_KEY = "STOA_CONTAINER_ID=";


}  // namespace executor_pool_detail

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

std::optional<Error> claim_container_id(const std::string& container_id) {
  using executor_pool_detail::CONTAINER_ID_KEY;
  if (container_id.empty()) {
    return Error("an empty container id");
  }
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, CONTAINER_ID_KEY.data(), CONTAINER_ID_KEY.size()) != 0) {
      continue;
    }
    char* value = *e + CONTAINER_ID_KEY.size();
    const size_t capacity = std::strlen(value);
    if (capacity == 0 || std::string_view(value).find_first_not_of(POOL_PLACEHOLDER_CHAR) != std::string_view::npos) {
      return Error("STOA_CONTAINER_ID is '" + std::string(value) + "', not the pool's placeholder");
    }
    if (container_id.size() > capacity) {
      return Error("container id " + container_id + " is longer than the placeholder (" + std::to_string(capacity) +
                   " characters)");
    }
    std::memcpy(value, container_id.data(), container_id.size());
    std::memset(value + container_id.size(), 0, capacity - container_id.size());
    if (!environment_has(::getpid(), std::string(CONTAINER_ID_KEY) + container_id)) {
      return Error("/proc/self/environ does not name container " + container_id + " after the rewrite");
    }
    return std::nullopt;
  }
  return Error("no STOA_CONTAINER_ID placeholder in the environment");
}

std::optional<Error> adopt_environment(const Environment& environment) {
  for (const Environment::Variable& v : environment.variables()) {
    if (v.name() == "STOA_CONTAINER_ID") {
      const char* now = std::getenv("STOA_CONTAINER_ID");
      if (now == nullptr || v.value() != now) {
        return Error("STOA_CONTAINER_ID " + v.value() + " is not the claimed container id");
      }
      continue;
    }
    if (v.name().empty() || v.name().find('=') != std::string::npos) {
      return Error("invalid environment variable name '" + v.name() + "'");
    }
    if (::setenv(v.name().c_str(), v.value().c_str(), 1) != 0) {
      return Error("cannot set " + v.name() + ": " + errno_text(errno));
    }
  }
  ::unsetenv(POOL_TOKEN_VARIABLE);
  return std::nullopt;
}

std::optional<Error> enter_sandbox(const std::string& directory) {
  if (::chdir(directory.c_str()) != 0) {
    return Error("cannot enter the sandbox " + directory + ": " + errno_text(errno));
  }
  const std::pair<const char*, int> outputs[] = {{"/stdout", STDOUT_FILENO}, {"/stderr", STDERR_FILENO}};
  for (const auto& [name, target] : outputs) {
    const std::string path = directory + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      return Error("cannot open " + path + ": " + errno_text(errno));
    }
    if (::dup2(fd, target) < 0) {
      std::string why = errno_text(errno);
      ::close(fd);
      return Error("cannot redirect to " + path + ": " + why);
    }
    ::close(fd);
  }
  return std::nullopt;
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
