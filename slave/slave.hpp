#pragma once
// The slave: registers with the master, launches one command executor
// process (stoa-executor) per task in a sandbox, relays status updates to
// the master reliably (status_update_manager.hpp) and kills what it is told
// to kill.
//
// Master detection: a fixed --master=host:port is resolved and registered
// with at once. With --master=zk://... (or file://) the slave follows the
// leader its detector reports: on every new leader it drops the old one
// (messages from it are dropped from then on: the split-brain guard counts
// them in slave/dropped_messages), resolves the new one and (re-)registers
// at once (ReregisterSlaveMessage once it has an id); with no leader it
// waits. The 75 s master ping timeout applies to whichever master leads.
//
// Messages: from the master  SlaveRegisteredMessage, SlaveReregisteredMessage,
//   RunTaskMessage, KillTaskMessage, StatusUpdateAcknowledgementMessage,
//   ShutdownFrameworkMessage, PingSlaveMessage, FrameworkToExecutorMessage,
//   ShutdownMessage; from executors RegisterExecutorMessage,
//   StatusUpdateMessage, ExecutorToFrameworkMessage. To the master, besides
//   the replies: SlaveUsageMessage every --usage_report_interval
//   (usage_report.hpp).
// Requests (local, HTTP): (state_atom, endpoint, query) -> (int, std::string).
//
// Layout: slave_actor.hpp (the actor's state class), slave.cpp (message
// table, registration), slave_executors.cpp (executor lifecycle),
// slave_status_updates.cpp (status updates), state_json.cpp (the JSON
// views), containerizer.hpp + posix_containerizer.cpp (sandboxes, processes,
// isolators).

#include <string>

#include <caf/fwd.hpp>

#include <caf/actor.hpp>

#include "actors/upid.hpp"
#include "common/resources.hpp"
#include "proto/stoa.pb.h"
#include "slave/containerizer.hpp"
#include "slave/recovery_state.hpp"
#include "slave/slave_flags.hpp"

namespace stoa {
class Runtime;
}

namespace stoa::metrics {
class Registry;
}

namespace stoa::slave {

struct SlaveOptions {
  SlaveFlags flags;
  Upid upid;                    // slave(1)@ip:port
  Upid master;                  // master@host:port (the leader, when following)
  // A zk:// or file:// --master (detector::is_detected): the slave spawns a
  // master detector (actors/master_detector.hpp) and follows the leader it
  // reports: `master` is then the current leader (unset until one is
  // detected); --zk_session_timeout is the ZooKeeper session's timeout.
  // Empty: `master` is fixed.
  std::string detect;
  // Tests: a detector double to follow instead (its (det_leader, Leader)
  // messages are taken, nobody else's); `detect` is then ignored.
  caf::actor detector;
  std::string hostname;
  Resources resources;
  std::vector<Attribute> attributes;
  std::string executor_path;    // the stoa-executor binary
  std::string docker_executor_path;  // stoa-docker-executor (--containerizers with docker)
  std::string http_executor_path;    // stoa-http-executor (--http_command_executor)
  // The Unix socket the HTTP API is also served on (--http_executor_domain_sockets),
  // told to HTTP executors as MESOS_DOMAIN_SOCKET; empty = none.
  std::string domain_socket;
  uint16_t actor_port = 0;      // this process's actor port, told to executors
  // The containerizer to use. Empty (production): the slave spawns the POSIX
  // containerizer (posix_containerizer.hpp) with the --isolation isolators
  // and stops it when it stops. Tests inject a double here.
  containerizer_actor containerizer;
  // The process' metrics registry (Runtime::metrics()); null = the slave
  // keeps its own (tests).
  metrics::Registry* metrics = nullptr;
  // The checkpoint found at start (read_slave_state, already checked against
  // this slave's info): recovered as --recover says. Empty: a new slave.
  std::optional<SlaveCheckpoint> recovered;
  // Tests: the seed of the slave's random waits (registration retries);
  // unset: std::random_device.
  std::optional<uint64_t> rng_seed;
};

// The SlaveInfo a slave started with `opts` registers with (no id yet).
SlaveInfo make_slave_info(const SlaveOptions& opts);

// Checks that a checkpointed slave can be recovered by a slave started with
// `info` (its resources, attributes, hostname and port must be the same,
// Mesos' --reconfiguration_policy=equal). The error says what differs and the
// way out (remove <work_dir>/meta/slaves/latest).
std::optional<Error> check_recoverable(const SlaveCheckpoint& checkpoint, const SlaveInfo& info,
                                       const std::string& work_dir);

// Spawns the slave actor. It resolves `opts.master` through `router` (the
// process router: `(resolve_atom, upid) -> caf::actor`) and registers.
caf::actor spawn_slave(caf::actor_system& sys, const caf::actor& router, SlaveOptions opts);

// /slave(1)/state, /slave(1)/health, /slave(1)/flags.
void register_slave_routes(Runtime& runtime, const caf::actor& slave, const std::string& id);

}  // namespace stoa::slave
