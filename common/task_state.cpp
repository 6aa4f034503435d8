#include "common/task_state.hpp"

namespace stoa {

TaskStatus* keep_status(Task& t, const TaskStatus& status) {
  const int n = t.statuses_size();
  TaskStatus* last = n > 0 ? t.mutable_statuses(n - 1) : nullptr;
  const bool replacing = last != nullptr && last->state() == status.state();
  const bool carry = replacing && last->has_container_status() && !status.has_container_status();
  ContainerStatus container;
  if (carry) {
    container.Swap(last->mutable_container_status());
  }
  TaskStatus* kept = replacing ? last : t.add_statuses();
  *kept = status;
  if (carry) {
    kept->mutable_container_status()->Swap(&container);
  }
  return kept;
}

}  // namespace stoa
