#pragma once
// The warm pool of command executors (--executor_pool_size,
// docs/executor-pool.md): both sides of it.
//
// Slave side: pooled_executor_spec() is how the slave starts a pooled
// stoa-executor, or stoa-http-executor under --http_command_executor (the launcher's path, as a cold launch: its own session,
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
// A pooled stoa-http-executor does the same over HTTP (POST
// /stoa/executor/pool, slave/executor_http.hpp): the adoption comes as an
// ADOPTED event on its stream, followed by SUBSCRIBED and LAUNCH.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "actors/launcher.hpp"
#include "common/try.hpp"
#include "framework/executor.hpp"
#include "proto/messages.pb.h"
#include "slave/containerizer.hpp"
#include "slave/pool_adoption.hpp"

namespace stoa::slave {

// What the slave passes a pooled executor (its flags and addresses).
struct PoolSpecInputs {
  std::string executor_path;  // stoa-executor or stoa-http-executor
  std::string token;
  std::string slave_pid;      // the slave's UPID
  uint16_t slave_actor_port = 0;
  std::string ip;             // where the executor's runtime binds (STOA_EXECUTOR_IP)
  std::string work_dir;       // its working directory until adoption
  // "ip:port" of the slave's HTTP server, for stoa-http-executor (empty for
  // stoa-executor, which reaches the slave over its actor port).
  std::string agent_endpoint;
  // The slave's Unix socket for them (MESOS_DOMAIN_SOCKET; empty = none).
  std::string domain_socket;
};

// The LaunchSpec of a pooled executor: its own session (setsid, as a cold
// launch), stdout/stderr to /dev/null, in `work_dir`, environment: the
// slave's plus STOA_POOL_TOKEN, STOA_SLAVE_PID, STOA_SLAVE_ACTOR_PORT,
// STOA_EXECUTOR_IP and the STOA_CONTAINER_ID placeholder, and
// MESOS_AGENT_ENDPOINT when `agent_endpoint` is set, MESOS_DOMAIN_SOCKET when
// `domain_socket` is.
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

// Executor side: adopt_environment() (slave/pool_adoption.hpp) of a
// protobuf Environment.
std::optional<Error> adopt_environment(const Environment& environment);

// Executor side: everything of an adoption, in order (sandbox, so that a
// failure is logged there; claim; environment), then
// ExecutorOptions::from_environment().
Try<ExecutorOptions> adopt(const internal::AdoptExecutorMessage& m, const std::string& token);

}  // namespace stoa::slave
