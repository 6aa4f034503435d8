#pragma once
// The docker containerizer (Mesos' DockerContainerizer; docs/docker.md) and
// the composing containerizer that puts it beside the Mesos one for
// --containerizers=docker,mesos.
//
// A Docker task runs as two things: stoa-docker-executor, an ordinary
// process started by a POSIX containerizer of our own (no isolators: Docker
// confines the task), and the Docker container `mesos-<container id>` that
// the executor creates, starts, follows and stops through the engine. This
// actor adds to the POSIX containerizer what only the engine can do:
// - launch: checks the engine, pulls the image when it is missing or
//   force_pull_image (a failure is the launch's error, so the task fails
//   with the engine's message), then starts the executor;
// - wait: once the executor has exited, its container is killed too if it
//   still runs (an executor that died cannot stop it) and removed after
//   --docker_remove_delay;
// - destroy / destroy_all: the executor and the container, SIGKILL;
// - usage: the container's figures from the engine (GET .../stats);
// - adopt: a restarted slave's executor, as the POSIX one; its container
//   keeps running;
// - at start, containers of an earlier run of this slave (label
//   stoa.work_dir = --work_dir) that no checkpoint knows are orphans:
//   killed and removed with --docker_kill_orphans, else only logged.
// Every engine call runs in a detached worker; the actor never blocks
// except when it stops (it kills its unfinished, uncheckpointed containers
// synchronously then, as the POSIX containerizer does).
//
// An unreachable engine never stops the slave (Mesos refuses to start; a
// node whose Docker is down still runs command tasks here): it is logged at
// start, and each Docker launch checks again, failing its task with the
// reason ("Docker is not available: Cannot reach the Docker engine at ...").

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "slave/containerizer.hpp"

namespace stoa::slave {

struct DockerContainerizerOptions {
  std::string docker = "docker";                 // --docker (the CLI)
  std::string socket = "/var/run/docker.sock";   // --docker_socket
  std::string work_dir;                          // --work_dir: the stoa.work_dir label of our containers
  bool kill_orphans = true;                      // --docker_kill_orphans
  std::chrono::nanoseconds remove_delay = std::chrono::hours(6);  // --docker_remove_delay
  // The container ids a restarted slave knows (checkpointed runs): any
  // other container of ours is an orphan.
  std::vector<std::string> known;
};

containerizer_actor spawn_docker_containerizer(caf::actor_system& sys, DockerContainerizerOptions options);

// Routes each launch and adoption by ContainerConfig::docker /
// AdoptConfig::docker to the docker or the mesos containerizer, and every
// later call about a container to the one that has it. It spawns both
// itself, giving each `listener` (the slave) for its limitations, and stops
// both when it stops.
using ContainerizerFactory = std::function<containerizer_actor(caf::actor listener)>;
containerizer_actor spawn_composing_containerizer(caf::actor_system& sys, ContainerizerFactory make_mesos,
                                                  ContainerizerFactory make_docker, caf::actor listener);

}  // namespace stoa::slave
