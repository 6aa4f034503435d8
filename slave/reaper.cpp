#include "slave/reaper.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

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

// Running (not a zombie): /proc/<pid>/stat's state field.
bool running(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z' && stat[paren + 2] != 'X';
}

constexpr int POLL_MS = 100;

// Waits until `pid` exits or `stop` is set; the status as wait_for's, or
// nullopt when stopped.
std::optional<int> watch(pid_t pid, const std::shared_ptr<std::atomic<bool>>& stop) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid) {
    return status;
  }
  bool child = r == 0;
  if (!child && !running(pid)) {
    return -1;
  }
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  for (;;) {
    if (stop && stop->load()) {
      if (fd >= 0) {
        ::close(fd);
      }
      return std::nullopt;
    }
    bool exited = false;
    if (fd >= 0) {
      struct pollfd p {fd, POLLIN, 0};
      exited = ::poll(&p, 1, POLL_MS) > 0;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(POLL_MS / 2));
      exited = child ? false : !running(pid);
      if (child) {
        do {
          r = ::waitpid(pid, &status, WNOHANG);
        } while (r < 0 && errno == EINTR);
        if (r == pid || r < 0) {
          return r == pid ? status : -1;
        }
      }
    }
    if (exited) {
      if (fd >= 0) {
        ::close(fd);
      }
      return child ? wait_for(pid) : -1;
    }
  }
}

}  // namespace

void spawn_reaper(caf::actor_system& sys, pid_t pid, const caf::actor& notify, std::string tag) {
  sys.spawn<caf::detached>([pid, notify, tag](caf::event_based_actor* self) {
    self->send(notify, reaped_atom_v, tag, wait_for(pid));
    self->quit();
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
