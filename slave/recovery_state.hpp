#pragma once
// Reading a slave's checkpoints back (slave/checkpoint.hpp writes them; the
// layout is in slave/paths.hpp and docs/checkpoints.md). Plain data, no CAF,
// never throws.
//
// `read_slave_state` walks <work_dir>/meta/slaves/latest and returns what it
// finds. With `strict`, the first unreadable or corrupt file is an Error
// naming it, the problem and the way out ("... To start this slave afresh
// (its running tasks are then lost), remove <work_dir>/meta/slaves/latest,
// or restart it with --strict=false ..."); without it, a bad entry is
// skipped as the smallest unit holding it (a task, a run, an executor or a
// framework), counted in `errors`, with a warning logged. The slave itself
// is no unit: a bad `latest` link or slave.info is an Error in both modes.
//
// Not errors (both modes): a unit directory without its info file (the
// slave stopped between creating the directory and renaming the file into
// place) is left out with a warning; leftover `*.tmp.<pid>` files are never
// read; a torn last record of task.updates is dropped and the file cut to
// its whole records (so the next append starts clean), with a warning.

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/try.hpp"
#include "proto/messages.pb.h"
#include "proto/stoa.pb.h"

namespace stoa::slave {

// Invariant (checked by the reader; a violation is corruption): acks.size()
// <= updates.size() and acks[i] == updates[i].uuid(), i.e. each ACK
// acknowledges the oldest update not acknowledged yet.
struct TaskCheckpoint {
  Task task;                                    // task.info (state as launched)
  std::vector<internal::StatusUpdate> updates;  // every UPDATE record, in order
  std::vector<std::string> acks;                // every ACK record's uuid, in order
  // The head of the stream: the updates not acknowledged yet (updates[acks.size()..]).
  std::vector<internal::StatusUpdate> pending() const;
  // True once a terminal update has been acknowledged: nothing is left to do.
  bool completed() const;
};

struct RunCheckpoint {
  std::string container_id;
  std::optional<pid_t> forked_pid;   // pids/forked.pid: the executor was started
  bool registered = false;           // pids/libprocess.pid: the executor had registered
  std::string executor_address;      // the text of pids/libprocess.pid (when registered)
  bool completed = false;            // executor.sentinel: the executor had terminated
  std::map<std::string, TaskCheckpoint> tasks;  // by task id
};

struct ExecutorCheckpoint {
  ExecutorInfo info;
  // runs/latest -> container id ("" if none). Without `strict`, it may name
  // a run that was skipped, and so is missing from `runs`.
  std::string latest_run;
  std::map<std::string, RunCheckpoint> runs;  // by container id
};

struct FrameworkCheckpoint {
  FrameworkInfo info;
  std::string pid;  // framework.pid (the scheduler's UPID; may be empty)
  std::map<std::string, ExecutorCheckpoint> executors;  // by executor id
};

struct SlaveCheckpoint {
  std::string slave_id;
  SlaveInfo info;
  std::map<std::string, FrameworkCheckpoint> frameworks;  // by framework id
  int errors = 0;  // entries skipped (non-strict only)
};

// std::nullopt: no checkpoint (first start, or meta/slaves/latest removed).
Try<std::optional<SlaveCheckpoint>> read_slave_state(const std::string& work_dir, bool strict);

// The checkpoint writers the slave uses, one per event, each atomic (see
// checkpoint.hpp). Paths from slave/paths.hpp. The framework id comes from
// `info.id()` (checkpoint_framework), `info.framework_id()`
// (checkpoint_executor) or `task.framework_id()` (checkpoint_task). Each
// returns an Error naming the invalid id (validate_path_id) or the file that
// could not be written. Formats: slave.info, framework.info, executor.info
// and task.info hold the message; framework.pid the scheduler's UPID as
// text (may be empty); forked.pid the pid in decimal; libprocess.pid the
// executor actor's address as text; executor.sentinel is empty;
// task.updates is a log of StatusUpdateRecords (an UPDATE must carry an
// update of that task, an ACK a uuid).
std::optional<Error> checkpoint_slave_info(const std::string& work_dir, const SlaveInfo& info);  // + latest
std::optional<Error> checkpoint_framework(const std::string& work_dir, const std::string& slave_id,
                                          const FrameworkInfo& info, const std::string& pid);
std::optional<Error> checkpoint_executor(const std::string& work_dir, const std::string& slave_id,
                                         const ExecutorInfo& info, const std::string& container_id);  // + runs/latest
std::optional<Error> checkpoint_task(const std::string& work_dir, const std::string& slave_id,
                                     const std::string& executor_id, const std::string& container_id,
                                     const Task& task);
std::optional<Error> checkpoint_forked_pid(const std::string& work_dir, const std::string& slave_id,
                                           const std::string& framework_id, const std::string& executor_id,
                                           const std::string& container_id, pid_t pid);
std::optional<Error> checkpoint_registered(const std::string& work_dir, const std::string& slave_id,
                                           const std::string& framework_id, const std::string& executor_id,
                                           const std::string& container_id, const std::string& executor_address);
std::optional<Error> checkpoint_executor_sentinel(const std::string& work_dir, const std::string& slave_id,
                                                  const std::string& framework_id, const std::string& executor_id,
                                                  const std::string& container_id);
// Appends an UPDATE or ACK record to the task's stream.
std::optional<Error> checkpoint_update_record(const std::string& work_dir, const std::string& slave_id,
                                              const std::string& framework_id, const std::string& executor_id,
                                              const std::string& container_id, const std::string& task_id,
                                              const internal::StatusUpdateRecord& record);

}  // namespace stoa::slave
