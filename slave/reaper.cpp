#include "slave/reaper.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/launcher.hpp"

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

// waitpid(pid, WNOHANG), retried on EINTR: pid once reaped (*status set),
// 0 while our child runs, -1 when it is not our child.
pid_t try_reap(pid_t pid, int* status) {
  pid_t r;
  do {
    r = ::waitpid(pid, status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  return r;
}

constexpr int POLL_MS = 100;

// Waits until `pid` exits or `stop` is set: the wait status of a child, -1
// for any other process, nullopt when stopped. A pidfd wakes it as soon as
// the process exits; without one (kernels before 5.3) it polls /proc.
std::optional<int> watch(pid_t pid, const std::shared_ptr<std::atomic<bool>>& stop) {
  int status = -1;
  const bool child = try_reap(pid, &status) != -1;
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  std::optional<int> result;
  for (;;) {
    if (child ? try_reap(pid, &status) != 0 : !process_running(pid)) {
      result = child ? status : -1;  // a child that cannot be waited for any more: -1 too
      break;
    }
    if (stop && stop->load()) {
      break;
    }
    if (fd >= 0) {
      struct pollfd p {fd, POLLIN, 0};
      ::poll(&p, 1, POLL_MS);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(POLL_MS / 2));
    }
  }
  if (fd >= 0) {
    ::close(fd);
  }
  return result;
}

}  // namespace

caf::actor spawn_reaper(caf::actor_system& sys, std::string tag) {
  return sys.spawn<caf::detached>([tag](caf::event_based_actor* self) -> caf::behavior {
    return {
        [self, tag](reaped_atom, pid_t pid, const caf::actor& notify) {
          self->send(notify, reaped_atom_v, tag, wait_for(pid));
          self->quit();
        },
    };
  });
}

caf::actor spawn_waiter(caf::actor_system& sys, pid_t pid, std::shared_ptr<std::atomic<bool>> stop) {
  return sys.spawn([pid, stop](caf::blocking_actor* self) {
    caf::typed_response_promise<int32_t> rp;
    bool asked = false;
    self->receive([&](reaped_atom) -> caf::result<int32_t> {
      asked = true;
      rp = self->make_response_promise<int32_t>();
      return rp;
    });
    if (!asked) {
      return;
    }
    if (std::optional<int> status = watch(pid, stop)) {
      rp.deliver(static_cast<int32_t>(*status));
    }
  });
}

}  // namespace stoa::slave
