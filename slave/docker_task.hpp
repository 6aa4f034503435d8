#pragma once
// What stoa-docker-executor asks `docker create` for, from the task
// (docs/docker.md): pure functions, so every rule is unit-tested.

#include <string>
#include <vector>

#include "common/try.hpp"
#include "proto/stoa.pb.h"

namespace stoa::slave {

struct DockerTaskOptions {
  std::string container_name;    // docker::container_name(container_id)
  std::string container_id;
  std::string sandbox;           // the host's sandbox directory
  std::string mapped_directory;  // --sandbox_directory: the sandbox inside the container
  std::string work_dir;          // the slave's --work_dir (label stoa.work_dir)
  std::string slave_id;
};

// Mesos' floor for a container's memory limit.
constexpr double MIN_DOCKER_MEMORY_MB = 32;

// The arguments of `docker create` (after "create") for `task`: name and
// labels, cpu shares (1024 per cpu, at least 2) and memory limit (mem MB,
// at least 32), environment (the command's, then MESOS_SANDBOX and
// STOA_SANDBOX = the mapped directory, MESOS_TASK_ID, MESOS_CONTAINER_NAME),
// the sandbox and the volumes bind-mounted, network and port mappings,
// privileged, hostname, each parameter as --key=value, the image, and the
// command (shell: --entrypoint=/bin/sh before the image and -c <value> after
// it; else value, if any, and the arguments after the image). The error
// names the offending field and value.
Try<std::vector<std::string>> docker_create_args(const TaskInfo& task, const DockerTaskOptions& options);

}  // namespace stoa::slave
