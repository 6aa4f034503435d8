#include "slave/reaper.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "common/logging.hpp"
#include "slave/pid_watcher.hpp"

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

using waiter_retry_atom = caf::atom_constant<caf::atom("w_retry")>;
using waiter_report_atom = caf::atom_constant<caf::atom("w_report")>;

constexpr auto WAITER_RETRY = std::chrono::seconds(1);

struct WaiterState {
  WaiterState() = default;
  WaiterState(const WaiterState&) = delete;
  WaiterState& operator=(const WaiterState&) = delete;
  ~WaiterState() {
    if (watcher) {
      watcher->unwatch(watch);
    }
  }
  static inline const char* name = "process waiter";
  std::shared_ptr<PidWatcher> watcher;  // while it watches
  PidWatcher::Id watch = 0;
  caf::typed_response_promise<int32_t> rp;
};

// Answers one (reaped_atom) once `pid` exits: the process watcher (one
// thread for the whole process) reports the exit, this reaps a child.
caf::behavior waiter_actor(caf::stateful_actor<WaiterState>* self, pid_t pid,
                           std::shared_ptr<std::atomic<bool>> stop) {
  auto start = [self, pid, stop] {
    if (stop && stop->load()) {
      self->quit();
      return;
    }
    Try<std::shared_ptr<PidWatcher>> watcher = PidWatcher::shared();
    if (watcher.is_error()) {
      // No thread can start (EAGAIN: the pids are all taken): tried again
      // every second. The process is waited for late, never lost (an
      // exited child stays a zombie until then).
      LOG_WARNING << "Cannot wait for process " << pid << " yet (" << watcher.error() << "); retrying every "
                  << WAITER_RETRY.count() << " s";
      self->delayed_send(self, WAITER_RETRY, waiter_retry_atom::value);
      return;
    }
    self->state.watcher = std::move(*watcher);
    caf::actor_addr me = self->address();
    self->state.watch = self->state.watcher->watch(pid, stop, [me](bool exited) {
      if (caf::actor a = caf::actor_cast<caf::actor>(me)) {
        caf::anon_send(a, waiter_report_atom::value, exited);
      }
    });
  };
  return {
      [self, start](reaped_atom) -> caf::result<int32_t> {
        if (self->state.rp.pending()) {
          return caf::make_error(caf::sec::request_receiver_down);  // one request only
        }
        self->state.rp = self->make_response_promise<int32_t>();
        start();
        return self->state.rp;
      },
      [self, pid, stop, start](waiter_report_atom, bool exited) {
        self->state.watcher.reset();
        if (!exited || (stop && stop->load())) {
          self->quit();  // its owner stops: no answer
          return;
        }
        int status = -1;
        pid_t r = try_reap(pid, &status);
        if (r == 0) {
          start();  // a child not yet reapable: watched again
          return;
        }
        self->state.rp.deliver(static_cast<int32_t>(r == pid ? status : -1));
        self->quit();
      },
      [start](waiter_retry_atom) { start(); },
  };
}

}  // namespace

caf::actor spawn_waiter(caf::actor_system& sys, pid_t pid, std::shared_ptr<std::atomic<bool>> stop) {
  return sys.spawn(waiter_actor, pid, std::move(stop));
}

}  // namespace stoa::slave
