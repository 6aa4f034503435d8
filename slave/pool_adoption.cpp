#include "slave/pool_adoption.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "actors/launcher.hpp"
#include "common/strings.hpp"

extern char** environ;

namespace stoa::slave {

namespace {

constexpr std::string_view CONTAINER_ID_KEY = "STOA_CONTAINER_ID=";

}  // namespace

std::optional<Error> claim_container_id(const std::string& container_id) {
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

std::optional<Error> adopt_environment(const std::vector<std::pair<std::string, std::string>>& environment) {
  for (const auto& [name, value] : environment) {
    if (name == "STOA_CONTAINER_ID") {
      const char* now = std::getenv("STOA_CONTAINER_ID");
      if (now == nullptr || value != now) {
        return Error("STOA_CONTAINER_ID " + value + " is not the claimed container id");
      }
      continue;
    }
    if (name.empty() || name.find('=') != std::string::npos) {
      return Error("invalid environment variable name '" + name + "'");
    }
    if (::setenv(name.c_str(), value.c_str(), 1) != 0) {
      return Error("cannot set " + name + ": " + errno_text(errno));
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

}  // namespace stoa::slave
