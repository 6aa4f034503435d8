#include "slave/reaper.hpp"

#include <sys/wait.h>

#include <cerrno>

#include <caf/all.hpp>

#include "actors/atoms.hpp"

namespace stoa::slave {

void spawn_reaper(caf::actor_system& sys, pid_t pid, const caf::actor& notify, std::string tag) {
  sys.spawn<caf::detached>([pid, notify, tag](caf::event_based_actor* self) {
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      status = -1;  // not our child, or already reaped
    }
    self->send(notify, reaped_atom_v, tag, status);
    self->quit();
  });
}

}  // namespace stoa::slave
