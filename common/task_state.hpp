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

}  // namespace stoa
