#pragma once
// The slave's records: plain structs the slave actor (slave_actor.hpp) owns
// and changes, and the JSON views (state_json.hpp) read. No CAF behaviour,
// no I/O.
//
// Invariants (kept by the `add_*` / `erase_*` members, the only writers of
// the indexes):
// - `containers` holds exactly the container id of every executor in
//   `frameworks` (not the completed ones), mapped to its (framework, executor);
// - `executor_handles` holds the actor of every executor that registered and
//   whose actor has not gone down, mapped to its container id;
// - `task_executors` holds every queued or running (not yet archived) task of
//   an executor in `frameworks`, mapped to that executor's id.

#include <sys/types.h>

#include <cstddef>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>

#include "common/resources.hpp"
#include "proto/stoa.pb.h"

namespace stoa::slave {

struct Executor {
  // RECOVERING: found running by a restarted slave, waiting for the
  // executor to re-register (slave_recovery.cpp).
  enum class Phase { LAUNCHING, RUNNING, TERMINATING, TERMINATED, RECOVERING };
  std::string framework_id;
  std::string executor_id;
  std::string container_id;
  std::string directory;
  pid_t pid = -1;        // -1 until the containerizer has started it
  caf::actor handle;     // the executor actor, once registered
  Phase phase = Phase::LAUNCHING;
  std::map<std::string, TaskInfo> queued;    // not yet sent to the executor
  std::map<std::string, Task> tasks;         // sent to the executor
  std::vector<Task> completed;
  Resources resources;
  bool docker = false;  // a DOCKER container (stoa-docker-executor), docs/docker.md
  // It subscribed through the v1 HTTP API (slave_executor_api.cpp): its
  // handle is a connection actor of this process.
  bool http = false;
};

struct Framework {
  FrameworkInfo info;
  std::string pid;
  std::map<std::string, Executor> executors;  // by executor id
  std::vector<Executor> completed_executors;
  bool shutting_down = false;  // the master removed it; archived once its executors are gone
  bool info_checkpointed = false;  // framework.info and .pid hold `info` and `pid` (checkpointing only)
};

constexpr size_t MAX_COMPLETED_EXECUTORS = 200;  // per framework
constexpr size_t MAX_COMPLETED_FRAMEWORKS = 50;

// The Task record of a task the slave holds but has not handed to its
// executor (or that the executor never answered for): `state`, no statuses.
Task make_task(const TaskInfo& ti, const std::string& framework_id, const std::string& slave_id,
               TaskState state);

// Records a status update's `status` (with the update's `uuid`, without
// its message) on `t`, as the master keeps them: a status of the state the
// last one has replaces it (the container's address stays when the new one
// lacks it). A task whose health checks repeat TASK_RUNNING every few
// seconds keeps one such status, not one per check for as long as it runs.
void record_status(Task& t, const TaskStatus& status, const std::string& uuid);

struct SlaveState {
  SlaveInfo info;          // what the slave registers with; its id once registered
  std::string slave_id;    // empty until the first registration
  bool registered = false;
  double start_time = 0;   // seconds since the epoch
  std::map<std::string, Framework> frameworks;  // by framework id
  std::deque<Framework> completed_frameworks;

  // Indexes (see the invariants above).
  std::unordered_map<std::string, std::pair<std::string, std::string>> containers;  // cid -> (fid, eid)
  std::unordered_map<caf::actor_addr, std::string> executor_handles;                // executor -> cid
  std::map<std::pair<std::string, std::string>, std::string> task_executors;        // (fid, tid) -> eid

  size_t executors_running() const;

  // Lookups; nullptr when unknown.
  Executor* executor_by_container(const std::string& container_id);
  Executor* executor_by_handle(const caf::actor_addr& handle);
  Executor* executor_of_task(const std::string& framework_id, const std::string& task_id);
  Task* find_task(const std::string& framework_id, const std::string& task_id);

  // Adds `e` (with its queued tasks) to framework `f`. REQUIRES: `f` is in
  // `frameworks`, no executor of `f` has e's id. Returns the stored record.
  Executor& add_executor(Framework& f, Executor e);
  // Records that `e` registered as `handle` (or lost its actor: null handle).
  void set_handle(Executor& e, const caf::actor& handle);
  // Queued or running task `task_id` of `e` leaves the index (archived).
  void forget_task(const Executor& e, const std::string& task_id);
  // Removes executor `executor_id` of `f` from `f.executors` and every index
  // and returns it (to archive or drop). REQUIRES: it exists.
  Executor erase_executor(Framework& f, const std::string& executor_id);
};

}  // namespace stoa::slave
