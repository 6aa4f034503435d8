#pragma once
// The warm pool of command executors (--executor_pool_size,
// docs/executor-pool.md): both sides of it.
//
// Slave side: pooled_executor_spec() is how the slave starts a pooled
// stoa-executor (the launcher's path, as a cold launch: its own session,
// no framework or executor yet), pool_refusal() says which launches may
// adopt one instead of starting a fresh process.
//
// Executor side: a stoa-executor started with STOA_POOL_TOKEN runs its
// executor actor through spawn_pooled_executor() (framework/executor.hpp):
// it connects to its slave, says it is ready (ExecutorPoolReadyMessage) and
// waits for AdoptExecutorMessage; then adopt() enters the sandbox
// (enter_sandbox), names the container in its /proc/<pid>/environ
// (claim_container_id) and takes the environment a cold launch would have
// given it (adopt_environment). From there on it is an ordinary executor
// (ExecutorOptions::from_environment()), registered by the adoption itself.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/launcher.hpp"
#include "common/try.hpp"
#include "framework/executor.hpp"
#include "proto/messages.pb.h"
#include "slave/containerizer.hpp"

namespace stoa::slave {

// The variable naming a pooled executor (its token, a fresh uuid per
// process); set only until adoption.
constexpr const char* POOL_TOKEN_VARIABLE = "STOA_POOL_TOKEN";
// A pooled executor starts with STOA_CONTAINER_ID set to this many
// POOL_PLACEHOLDER_CHAR: the bytes that adoption overwrites in place with
// the container id (followed by NULs). A longer id cannot be adopted.
constexpr size_t POOL_CONTAINER_ID_CAPACITY = 96;
constexpr char POOL_PLACEHOLDER_CHAR = '_';

// What the slave passes a pooled executor (its flags and addresses).
struct PoolSpecInputs {
  std::string executor_path;  // stoa-executor
  std::string token;
  std::string slave_pid;      // the slave's UPID
  uint16_t slave_actor_port = 0;
  std::string ip;             // where the executor's runtime binds (STOA_EXECUTOR_IP)
  std::string work_dir;       // its working directory until adoption
};

// The LaunchSpec of a pooled executor: its own session (setsid, as a cold
// launch), stdout/stderr to /dev/null, in `work_dir`, environment: the
// slave's plus STOA_POOL_TOKEN, STOA_SLAVE_PID, STOA_SLAVE_ACTOR_PORT,
// STOA_EXECUTOR_IP and the STOA_CONTAINER_ID placeholder.
LaunchSpec pooled_executor_spec(const PoolSpecInputs& in);

// Why the launch `config` must start a fresh executor instead of adopting a
// pooled one (nullopt: it may adopt). `isolation` is the slave's
// --isolation names, `slave_user` the user the slave (and its pool) runs as.
// Refused: a Docker container; another user (--switch_user); an isolator
// that puts the executor in cgroups before it execs (a process moved later
// does not carry what it charged before); a container id longer than
// POOL_CONTAINER_ID_CAPACITY.
std::optional<std::string> pool_refusal(const ContainerConfig& config, const std::vector<std::string>& isolation,
                                        const std::string& slave_user);

// The name of the user this process runs as (effective uid); the uid in
// decimal when it has no passwd entry.
std::string current_user_name();

// Executor side. Overwrites the STOA_CONTAINER_ID placeholder of this
// process's initial environment in place with `container_id` followed by
// NULs, so /proc/self/environ (and so the slave's recovery and leftover
// walk) names the container, and getenv() returns it. Errors: no
// placeholder, the placeholder was claimed already, an id longer than the
// placeholder, or /proc/self/environ not naming it afterwards.
std::optional<Error> claim_container_id(const std::string& container_id);

// Executor side. setenv() of every variable of `environment` (but
// STOA_CONTAINER_ID, which claim_container_id() wrote in place) and
// unsetenv(STOA_POOL_TOKEN): the environment a cold launch gives.
// REQUIRES: no other thread reads or writes the environment meanwhile.
std::optional<Error> adopt_environment(const Environment& environment);

// Executor side. chdir(directory), and stdout/stderr reopened (dup2) onto
// <directory>/stdout and <directory>/stderr (O_WRONLY|O_CREAT|O_APPEND,
// 0644, as the launcher opens them for a cold launch). Errors name the path.
std::optional<Error> enter_sandbox(const std::string& directory);

// Executor side: everything of an adoption, in order (sandbox, so that a
// failure is logged there; claim; environment), then
// ExecutorOptions::from_environment().
Try<ExecutorOptions> adopt(const internal::AdoptExecutorMessage& m, const std::string& token);

}  // namespace stoa::slave
