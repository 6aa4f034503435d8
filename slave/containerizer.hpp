#pragma once
// The containerizer (Mesos' `Containerizer`): how the slave starts, watches,
// kills and measures its executors' containers. The typed handle is the
// whole interface, so a later Docker or cgroups containerizer is one more
// actor with the same handle; the slave holds only a `containerizer_actor`
// (SlaveOptions::containerizer injects one, e.g. a test double).
//
//   (launch_atom, ContainerConfig) -> LaunchResult
//       Creates the sandbox (config.directory, with runs/latest pointing at
//       it), prepares the isolators and starts config.argv in it. Answers
//       once the process runs (pid) or with the error that stopped it.
//   (wait_atom, container_id) -> int32_t
//       Answers with the raw wait status of the container's first process
//       once it has exited (at once if it already has); -1 when the
//       container is unknown.
//   (destroy_atom, container_id)
//       Kills every process of the container (SIGKILL); what the first
//       process leaves behind is killed once it has exited. A container
//       still starting is killed as soon as it runs. Unknown ids are ignored.
//   (usage_atom, container_ids) -> ContainerUsages
//       The usage of each listed container that runs, as its isolators see it.
//   (adopt_atom, AdoptConfig) -> bool
//       Takes over a container an earlier slave started (recovery): its
//       first process runs but is not our child. wait, destroy and usage work
//       on it as on any other; its exit status is unknown (wait answers -1).
//       A container checkpointed (ContainerConfig::checkpoint, or adopted)
//       survives the containerizer's stop.
//   (destroy_all_atom) -> bool
//       Kills every container synchronously, checkpointed ones included
//       (the master told the slave to shut down), and answers once done.
//
// Limitations (docs/isolation.md): when an isolator reports one (the
// memory limit hit, the disk quota passed) the containerizer destroys the
// container and, once its first process is reaped and before it answers any
// wait, tells its listener (the slave) `(limitation_atom, container_id,
// ContainerLimitation)`. Both go from the containerizer to the slave, so the
// slave always knows the limitation when the exit status arrives.
//
// A containerizer outlives no slave: the slave that spawned it stops it, and
// it kills every container it still runs when it stops, except checkpointed
// ones (a restarted slave adopts them).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "common/resources.hpp"
#include "slave/isolator.hpp"

namespace stoa::slave {

using launch_atom = caf::atom_constant<caf::atom("launch")>;
using wait_atom = caf::atom_constant<caf::atom("wait")>;
using destroy_atom = caf::atom_constant<caf::atom("destroy")>;
using usage_atom = caf::atom_constant<caf::atom("usage")>;
using adopt_atom = caf::atom_constant<caf::atom("adopt")>;
using destroy_all_atom = caf::atom_constant<caf::atom("destroyall")>;
using limitation_atom = caf::atom_constant<caf::atom("limitation")>;

struct ContainerConfig {
  std::string container_id;
  // The sandbox: <work_dir>/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>.
  std::string work_dir;
  std::string slave_id;
  std::string framework_id;
  std::string executor_id;
  std::string directory;  // = sandbox_path(work_dir, slave_id, framework_id, executor_id, container_id)
  std::vector<std::string> argv;              // the executor and its arguments
  std::map<std::string, std::string> env;     // added to the slave's environment
  Resources resources;                        // what the isolators are given
  // The framework checkpoints: the container survives the containerizer's
  // stop (the slave restarting) instead of being killed.
  bool checkpoint = false;
  // --switch_user: the user the executor runs as (the sandbox is chown'd to
  // it). Empty = the slave's user.
  std::string user;
  // A Docker container (ContainerInfo.type DOCKER): argv is
  // stoa-docker-executor, which runs the task in the container named
  // docker::container_name(container_id); the docker containerizer pulls
  // `docker_image` first when it is missing or `force_pull_image`.
  bool docker = false;
  std::string docker_image;
  bool force_pull_image = false;
  // > 0: a pooled stoa-executor that already runs in a session of its own
  // (--executor_pool_size, slave/executor_pool.hpp) becomes the container's
  // first process instead of a new one: the sandbox is created and the
  // isolators prepare and isolate as for a cold launch, but nothing is
  // started; the slave then tells the executor to adopt the container.
  // Only for launches pool_refusal() accepts.
  int32_t pooled_pid = -1;
  // Its process_start_ticks, read when the pool started it (0: read here).
  uint64_t pooled_started_ticks = 0;
};

struct AdoptConfig {
  std::string container_id;
  int32_t pid = -1;  // the container's first process (the executor)
  Resources resources;
  bool docker = false;  // launched as a Docker container (ContainerConfig::docker)
};

struct LaunchResult {
  int32_t pid = -1;    // > 0 once the container's first process runs
  std::string error;   // why it did not start, e.g. "Cannot create the sandbox: ..."
  // When that process started (process_start_ticks, launcher.hpp); 0 when
  // unknown. Its leftovers are looked for among processes started since.
  uint64_t started_ticks = 0;
};

using ContainerUsages = std::map<std::string, ResourceStatistics>;  // by container id

using containerizer_actor = caf::typed_actor<
    caf::replies_to<launch_atom, ContainerConfig>::with<LaunchResult>,
    caf::replies_to<wait_atom, std::string>::with<int32_t>,
    caf::reacts_to<destroy_atom, std::string>,
    caf::replies_to<usage_atom, std::vector<std::string>>::with<ContainerUsages>,
    caf::replies_to<adopt_atom, AdoptConfig>::with<bool>,
    caf::replies_to<destroy_all_atom>::with<bool>>;

}  // namespace stoa::slave

// Local messages only: a containerizer lives in its slave's process, so
// these never cross the network and need no serialization.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::slave::ContainerConfig)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::slave::LaunchResult)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::slave::AdoptConfig)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::slave::ContainerUsages)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::slave::ContainerLimitation)
