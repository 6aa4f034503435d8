#pragma once
// What a pooled command executor does to take the container a launch hands
// it (docs/executor-pool.md), shared by stoa-executor (slave/executor_pool.cpp)
// and stoa-http-executor, which links neither CAF nor protobuf: so nothing
// here does either.

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/try.hpp"

namespace stoa::slave {

// The variable naming a pooled executor (its token, a fresh uuid per
// process); set only until adoption.
constexpr const char* POOL_TOKEN_VARIABLE = "STOA_POOL_TOKEN";
// The variable (=1) that makes stoa-http-executor the slave's executor
// zygote, which forks the pool's executors (slave/executor_zygote.hpp).
constexpr const char* ZYGOTE_VARIABLE = "STOA_EXECUTOR_ZYGOTE";
// A pooled executor starts with STOA_CONTAINER_ID set to this many
// POOL_PLACEHOLDER_CHAR: the bytes that adoption overwrites in place with
// the container id (followed by NULs). A longer id cannot be adopted.
constexpr size_t POOL_CONTAINER_ID_CAPACITY = 96;
constexpr char POOL_PLACEHOLDER_CHAR = '_';

// Overwrites the STOA_CONTAINER_ID placeholder of this process's initial
// environment in place with `container_id` followed by NULs, so
// /proc/self/environ (and so the slave's recovery and leftover walk) names
// the container, and getenv() returns it. Errors: no placeholder, the
// placeholder was claimed already, an id longer than the placeholder, or
// /proc/self/environ not naming it afterwards.
std::optional<Error> claim_container_id(const std::string& container_id);

// setenv() of every variable of `environment` (but STOA_CONTAINER_ID, which
// claim_container_id() wrote in place: it must equal the claimed id) and
// unsetenv(STOA_POOL_TOKEN): the environment a cold launch gives.
// REQUIRES: no other thread reads or writes the environment meanwhile.
std::optional<Error> adopt_environment(const std::vector<std::pair<std::string, std::string>>& environment);

// chdir(directory), and stdout/stderr reopened (dup2) onto
// <directory>/stdout and <directory>/stderr (O_WRONLY|O_CREAT|O_APPEND,
// 0644, as the launcher opens them for a cold launch). Errors name the path.
std::optional<Error> enter_sandbox(const std::string& directory);

}  // namespace stoa::slave
