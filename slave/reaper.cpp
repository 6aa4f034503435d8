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
#include "actors/safety.hpp"
#include "common/logging.hpp"

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

namespace {

caf::actor spawn_blocking_waiter(caf::actor_system& sys, pid_t pid, std::shared_ptr<std::atomic<bool>> stop) {
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

using retry_waiter_atom = caf::atom_constant<caf::atom("w_retry")>;

constexpr auto WAITER_RETRY = std::chrono::seconds(1);

// Stands in for the waiter while its thread cannot start (EAGAIN: the pids
// are all taken): a thread-less actor that tries again every second and,
// once a waiter runs, hands it the request. The process is waited for late,
// never lost (an exited child stays a zombie until then).
caf::behavior retrying_waiter(caf::event_based_actor* self, pid_t pid, std::shared_ptr<std::atomic<bool>> stop) {
  auto rp = std::make_shared<caf::typed_response_promise<int32_t>>();
  auto attempt = [self, pid, stop, rp] {
    if (stop && stop->load()) {
      self->quit();
      return;
    }
    Try<caf::actor> waiter = spawn_with_thread(self->system(), ThreadActor::blocking,
                                               [&] { return spawn_blocking_waiter(self->system(), pid, stop); });
    if (waiter.is_error()) {
      self->delayed_send(self, WAITER_RETRY, retry_waiter_atom::value);
      return;
    }
    LOG_INFO << "Waiting for process " << pid << " again: its waiter's thread started";
    self->request(*waiter, caf::infinite, reaped_atom_v)
        .then([self, rp](int32_t status) {
                rp->deliver(status);
                self->quit();
              },
              [self](caf::error&) { self->quit(); });
  };
  return {
      [self, rp, attempt](reaped_atom) -> caf::result<int32_t> {
        *rp = self->make_response_promise<int32_t>();
        attempt();
        return *rp;
      },
      [attempt](retry_waiter_atom) { attempt(); },
  };
}

}  // namespace

caf::actor spawn_waiter(caf::actor_system& sys, pid_t pid, std::shared_ptr<std::atomic<bool>> stop) {
  Try<caf::actor> waiter =
      spawn_with_thread(sys, ThreadActor::blocking, [&] { return spawn_blocking_waiter(sys, pid, stop); });
  if (!waiter.is_error()) {
    return *waiter;
  }
  LOG_WARNING << "Cannot wait for process " << pid << " yet (" << waiter.error() << "); retrying every "
              << WAITER_RETRY.count() << " s";
  return sys.spawn(retrying_waiter, pid, std::move(stop));
}

}  // namespace stoa::slave
