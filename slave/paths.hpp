#pragma once
// The slave's on-disk layout (Mesos `slave/paths.hpp`, reference/mesos.md §6)
// and the detection of a slave's resources. Plain POSIX, no CAF, never throws.
//
// Sandboxes (what tasks see; served by /files):
//   <work_dir>/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>/
//   <work_dir>/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/latest -> <cid>
// Checkpoints (what recovery reads):
//   <work_dir>/meta/slaves/latest -> <sid>
//   <work_dir>/meta/slaves/<sid>/slave.info
//   <work_dir>/meta/slaves/<sid>/frameworks/<fid>/framework.info
//   <work_dir>/meta/slaves/<sid>/frameworks/<fid>/framework.pid
//   <work_dir>/meta/slaves/<sid>/frameworks/<fid>/executors/<eid>/executor.info
//   <work_dir>/meta/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/latest -> <cid>
//   <work_dir>/meta/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>/pids/forked.pid
//   <work_dir>/meta/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>/pids/libprocess.pid
//   <work_dir>/meta/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>/executor.sentinel
//   <work_dir>/meta/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>/tasks/<tid>/task.info
//   <work_dir>/meta/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>/tasks/<tid>/task.updates
// (formats: docs/checkpoints.md)
// The `latest` symlinks are relative (they name only the id), so a work_dir
// can be moved.

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/resources.hpp"
#include "common/try.hpp"

namespace stoa::slave {

// Path builders: pure string functions, nothing touches the disk. IDs are
// used verbatim (see `validate_path_id`).
std::string sandbox_root(const std::string& work_dir, const std::string& slave_id);
std::string executor_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                          const std::string& executor_id);
std::string sandbox_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                         const std::string& executor_id, const std::string& container_id);
// "<executor_path>/runs/latest".
std::string latest_run_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                            const std::string& executor_id);
// "/frameworks/<fid>/executors/<eid>/runs/latest": the virtual path /files attaches.
std::string virtual_sandbox_path(const std::string& framework_id, const std::string& executor_id);

std::string meta_root(const std::string& work_dir);  // "<work_dir>/meta"
std::string slave_meta_path(const std::string& work_dir, const std::string& slave_id);
std::string latest_slave_meta_path(const std::string& work_dir);  // "<work_dir>/meta/slaves/latest"
std::string slave_info_path(const std::string& work_dir, const std::string& slave_id);
std::string framework_meta_path(const std::string& work_dir, const std::string& slave_id,
                                const std::string& framework_id);
std::string executor_meta_path(const std::string& work_dir, const std::string& slave_id,
                               const std::string& framework_id, const std::string& executor_id);
std::string run_meta_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                          const std::string& executor_id, const std::string& container_id);
std::string forked_pid_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                            const std::string& executor_id, const std::string& container_id);
std::string framework_info_path(const std::string& work_dir, const std::string& slave_id,
                                const std::string& framework_id);
std::string framework_pid_path(const std::string& work_dir, const std::string& slave_id,
                               const std::string& framework_id);
std::string executor_info_path(const std::string& work_dir, const std::string& slave_id,
                               const std::string& framework_id, const std::string& executor_id);
std::string latest_run_meta_path(const std::string& work_dir, const std::string& slave_id,
                                 const std::string& framework_id, const std::string& executor_id);
std::string libprocess_pid_path(const std::string& work_dir, const std::string& slave_id,
                                const std::string& framework_id, const std::string& executor_id,
                                const std::string& container_id);
std::string executor_sentinel_path(const std::string& work_dir, const std::string& slave_id,
                                   const std::string& framework_id, const std::string& executor_id,
                                   const std::string& container_id);
std::string task_info_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                           const std::string& executor_id, const std::string& container_id,
                           const std::string& task_id);
std::string task_updates_path(const std::string& work_dir, const std::string& slave_id,
                              const std::string& framework_id, const std::string& executor_id,
                              const std::string& container_id, const std::string& task_id);
std::string task_meta_path(const std::string& work_dir, const std::string& slave_id, const std::string& framework_id,
                           const std::string& executor_id, const std::string& container_id,
                           const std::string& task_id);

// An id becomes one path component: it must be non-empty, not "." or "..",
// and hold no '/' or NUL. Returns an Error naming `what` and the id otherwise.
std::optional<Error> validate_path_id(std::string_view what, const std::string& id);

// mkdir -p with mode 0755. Returns true when it created the leaf, false when
// the leaf already was a directory. Error (naming the path and the errno
// text) when a component exists but is not a directory, or mkdir fails.
Try<bool> mkdirs(const std::string& path);

// mkdirs() that remembers which directories exist, so that making a path
// below a known one issues only the mkdir calls of its missing components,
// top-down, none of them failing (a sandbox of a new executor: 3 calls
// instead of one per component of the whole path). A remembered directory
// that was removed since (GC) makes a mkdir fail: the cache is then
// forgotten and the path made with mkdirs() from the root. Thread-safe (the
// containerizer's launch workers share one).
class DirectoryCache {
 public:
  struct Stats {
    int mkdir_calls = 0;  // this call's mkdir(2) calls
    int failed = 0;       // of which failed (EEXIST included)
  };
  // As mkdirs(path); fills `stats` when given.
  Try<bool> make(const std::string& path, Stats* stats = nullptr);

 private:
  static constexpr size_t MAX_KNOWN = 4096;  // then forgotten, to bound memory
  std::mutex mutex_;
  std::set<std::string> known_;
};

// Creates the run directory `sandbox_path(...)` (mkdir -p through `cache`,
// by default one shared by the whole process) and points `runs/latest` at it
// (replaced atomically via rename). Returns the sandbox path. Errors name the
// path and the errno text, or the invalid id.
Try<std::string> create_sandbox(const std::string& work_dir, const std::string& slave_id,
                                const std::string& framework_id, const std::string& executor_id,
                                const std::string& container_id, DirectoryCache* cache = nullptr);

// A slave's total resources. Everything `flag` names (simple-string syntax,
// e.g. "cpus:4;mem:4096;ports:[31000-32000]") is taken as given; the rest of
// cpus, mem, disk and ports is probed as Mesos does:
//   cpus  = hardware threads (fallback 1);
//   mem   = total - 1 GiB if total >= 2 GiB, else 50% (fallback 1 GiB), in MB;
//   disk  = size of the filesystem holding `work_dir` (or its nearest existing
//           ancestor) - 5 GiB if >= 10 GiB, else 50% (fallback 10 GiB), in MB;
//   ports = [31000-32000].
// Error when `flag` does not parse; the message quotes `flag`.
Try<Resources> detect_resources(const std::string& flag, const std::string& work_dir);

}  // namespace stoa::slave
