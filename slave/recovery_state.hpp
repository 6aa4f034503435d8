#pragma once
// Reading a slave's checkpoints back (slave/checkpoint.hpp writes them; the
// layout is in slave/paths.hpp and docs/checkpoints.md). Plain data, no CAF,
// never throws.
//
// `read_slave_state` walks <work_dir>/meta/slaves/latest and returns what it
// finds. With `strict`, the first unreadable or corrupt file is an Error
// naming it and the way out ("... remove <work_dir>/meta/slaves/latest to
// start as a new slave (running tasks are then lost)"); without it, bad
// entries are skipped, each counted in `errors` with a warning logged.

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/try.hpp"
#include "proto/messages.pb.h"
#include "proto/stoa.pb.h"

namespace stoa::slave {

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
  bool completed = false;            // executor.sentinel: the executor had terminated
  std::map<std::string, TaskCheckpoint> tasks;  // by task id
};

struct ExecutorCheckpoint {
  ExecutorInfo info;
  std::string latest_run;                     // runs/latest -> container id ("" if none)
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
// checkpoint.hpp). Paths from slave/paths.hpp.
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
