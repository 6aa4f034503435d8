#pragma once
#include "proto/stoa.pb.h"

namespace stoa {

// Terminal for the master (Mesos: LOST is terminal too, though the task may
// still run on a partitioned slave).
inline bool is_terminal_state(TaskState s) {
  switch (s) {
    case TASK_FINISHED:
    case TASK_FAILED:
    case TASK_KILLED:
    case TASK_ERROR:
    case TASK_LOST:
    case TASK_DROPPED:
    case TASK_GONE:
    case TASK_GONE_BY_OPERATOR:
      return true;
    default:
      return false;
  }
}

// Puts `status` among `t`'s statuses as Mesos' master keeps them: a status
// of the state the last one has replaces it (a health check's repeated
// TASK_RUNNING), else it is appended; the container's address (set on the
// first TASK_RUNNING) stays with a repeat that does not carry it. Returns
// the kept status (the caller clears what it does not keep). Used by the
// master's and the slave's task records alike.
TaskStatus* keep_status(Task& t, const TaskStatus& status);

}  // namespace stoa
