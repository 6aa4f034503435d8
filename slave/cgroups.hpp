#pragma once
// cgroups v1 helpers (docs/isolation.md): the files of one cgroup directory,
// read and written synchronously (call them off the actors' threads). A
// container's cgroup under one controller is
// <hierarchy>/<controller>/<root>/<container_id>.
//
// Every call returns an error naming the path and the errno text; none
// throws.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/try.hpp"

namespace stoa::slave::cgroups {

// <hierarchy>/<controller>/<root>[/<container_id>].
std::string path(const std::string& hierarchy, const std::string& controller, const std::string& root,
                 const std::string& container_id = "");

// Whether the v1 `controller` is mounted at <hierarchy>/<controller> (a
// "cgroup" mount whose options name it, from /proc/self/mountinfo). The
// error names the controller and the hierarchy, and says when only the
// unified cgroup v2 hierarchy is there ("cgroups v2 is not supported").
std::optional<Error> check_mounted(const std::string& hierarchy, const std::string& controller);

// mkdir -p of a cgroup (its parents are cgroups too).
std::optional<Error> create(const std::string& dir);

// Writes `value` to <dir>/<file> (one write, as the kernel wants).
std::optional<Error> write(const std::string& dir, const std::string& file, const std::string& value);

// The content of <dir>/<file>, trailing newline removed.
Try<std::string> read(const std::string& dir, const std::string& file);

// <dir>/<file> as one unsigned number (memory.limit_in_bytes, pids.current).
Try<uint64_t> read_number(const std::string& dir, const std::string& file);

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.oom_control).
Try<std::map<std::string, uint64_t>> read_stat(const std::string& dir, const std::string& file);

// The pids in <dir>/cgroup.procs (processes) or <dir>/tasks (threads).
Try<std::vector<pid_t>> processes(const std::string& dir, const std::string& file = "cgroup.procs");

// Moves process `pid` into the cgroup.
std::optional<Error> assign(const std::string& dir, pid_t pid);

// The names of the cgroups directly under `dir` (none when it is missing).
std::vector<std::string> children(const std::string& dir);

// rmdir of the cgroup; a missing one is fine. Retries while the kernel
// still counts dying processes (EBUSY), up to `timeout`.
std::optional<Error> remove(const std::string& dir,
                            std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

// Kills every process of a freezer cgroup so that none escapes: FROZEN
// (waits up to 1 s for the freeze; a process stuck in the kernel, e.g.
// under OOM, is killed anyway), SIGKILL to every pid of cgroup.procs,
// THAWED, and again until cgroup.procs is empty, up to `timeout`. A missing
// cgroup is fine.
std::optional<Error> kill_all(const std::string& freezer_dir,
                              std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

}  // namespace stoa::slave::cgroups
