#include "slave/reaper.hpp"

#include <sys/wait.h>

#include <cerrno>

#include <caf/all.hpp>

#include "actors/atoms.hpp"

namespace stoa::slave {

namespace {

int wait_for(pid_t pid) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    status = -1;  // not our child, or already reaped
  }
  return status;
}

}  // namespace

void spawn_reaper(caf::actor_system& sys, pid_t pid, const caf::actor& notify, std::string tag) {
  sys.spawn<caf::detached>([pid, notify, tag](caf::event_based_actor* self) {
    self->send(notify, reaped_atom_v, tag, wait_for(pid));
    self->quit();
  });
}

caf::actor spawn_waiter(caf::actor_system& sys, pid_t pid) {
  return sys.spawn<caf::detached>([pid](caf::event_based_actor* self) -> caf::behavior {
    return {
        [self, pid](reaped_atom) -> int32_t {
          int status = wait_for(pid);
          self->quit();
          return status;
        },
    };
  });
}

}  // namespace stoa::slave
