#include "slave/pid_watcher.hpp"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "actors/launcher.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"

namespace stoa::slave {

namespace {

// How often stop flags and processes without a pidfd are looked at.
constexpr int WATCH_TICK_MS = 100;
// The eventfd's epoll key; watch ids start at 1.
constexpr PidWatcher::Id WAKE_KEY = 0;

// True once `pid` has exited (a zombie child, or no live process), without
// reaping it: the look of a process no pidfd watches.
bool watched_process_exited(pid_t pid) {
  siginfo_t info{};
  int r;
  do {
    r = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    return info.si_pid == pid;  // our child: 0 while it runs
  }
  return !process_running(pid);  // not our child
}

}  // namespace

struct PidWatcher::Core {
  struct Entry {
    pid_t pid = -1;
    int fd = -1;        // its pidfd, or -1: looked at every tick
    bool gone = false;  // no such process when it was watched
    std::shared_ptr<std::atomic<bool>> stop;
    Report report;
  };

  mutable std::mutex mu;
  std::unordered_map<Id, Entry> entries;
  Id next = WAKE_KEY + 1;
  int epfd = -1;
  int wake_fd = -1;
  bool ticking = false;  // the thread's wait has a timeout (under mu)
  std::atomic<bool> quit{false};
  std::thread thread;

  ~Core() {
    for (auto& [id, e] : entries) {
      if (e.fd >= 0) {
        ::close(e.fd);
      }
    }
    if (wake_fd >= 0) {
      ::close(wake_fd);
    }
    if (epfd >= 0) {
      ::close(epfd);
    }
  }

  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd, &one, sizeof one);
  }

  // Forgets entry `it` (under mu), closing its pidfd.
  void drop(std::unordered_map<Id, Entry>::iterator it) {
    if (it->second.fd >= 0) {
      ::epoll_ctl(epfd, EPOLL_CTL_DEL, it->second.fd, nullptr);
      ::close(it->second.fd);
    }
    entries.erase(it);
  }

  // Whether the thread must wake on its own (under mu): a stop flag to look
  // at, a process without a pidfd, or one already gone.
  bool needs_tick() const {
    for (const auto& [id, e] : entries) {
      if (e.stop || e.fd < 0) {
        return true;
      }
    }
    return false;
  }

  void run() {
    epoll_event events[64];
    while (!quit.load()) {
      int timeout;
      {
        std::lock_guard<std::mutex> lock(mu);
        ticking = needs_tick();
        timeout = ticking ? WATCH_TICK_MS : -1;
      }
      int n = ::epoll_wait(epfd, events, 64, timeout);
      if (quit.load()) {
        break;
      }
      std::vector<std::pair<Report, bool>> due;
      {
        std::lock_guard<std::mutex> lock(mu);
        for (int i = 0; i < n; ++i) {
          if (events[i].data.u64 == WAKE_KEY) {
            std::uint64_t count = 0;
            [[maybe_unused]] ssize_t r = ::read(wake_fd, &count, sizeof count);
            continue;
          }
          auto it = entries.find(events[i].data.u64);
          if (it != entries.end()) {
            due.emplace_back(std::move(it->second.report), true);
            drop(it);
          }
        }
        for (auto it = entries.begin(); it != entries.end();) {
          Entry& e = it->second;
          bool exited = e.gone || (e.fd < 0 && watched_process_exited(e.pid));
          if (exited || (e.stop && e.stop->load())) {
            due.emplace_back(std::move(e.report), exited);
            auto next_it = std::next(it);
            drop(it);
            it = next_it;
          } else {
            ++it;
          }
        }
      }
      for (auto& [report, exited] : due) {
        try {
          report(exited);
        } catch (const std::exception& e) {
          LOG_ERROR << "A process watch's report failed: " << e.what();
        }
      }
    }
  }
};

Try<std::shared_ptr<PidWatcher>> PidWatcher::shared() {
  static std::mutex mu;
  static std::weak_ptr<PidWatcher> instance;
  std::lock_guard<std::mutex> lock(mu);
  if (std::shared_ptr<PidWatcher> live = instance.lock()) {
    return live;
  }
  auto core = std::make_shared<Core>();
  core->epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (core->epfd < 0) {
    return Error("cannot watch processes: epoll_create1: " + errno_text(errno));
  }
  core->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (core->wake_fd < 0) {
    return Error("cannot watch processes: eventfd: " + errno_text(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = WAKE_KEY;
  if (::epoll_ctl(core->epfd, EPOLL_CTL_ADD, core->wake_fd, &ev) != 0) {
    return Error("cannot watch processes: epoll_ctl: " + errno_text(errno));
  }
  try {
    core->thread = std::thread([c = core] { c->run(); });
  } catch (const std::system_error& e) {
    return Error(std::string("cannot watch processes: cannot start a thread: ") + e.what());
  }
  std::shared_ptr<PidWatcher> watcher(new PidWatcher(std::move(core)));
  instance = watcher;
  return watcher;
}

PidWatcher::~PidWatcher() {
  core_->quit.store(true);
  core_->wake();
  if (core_->thread.get_id() == std::this_thread::get_id()) {
    core_->thread.detach();  // a report let the last holder go: the thread ends after it
  } else {
    core_->thread.join();
  }
}

PidWatcher::Id PidWatcher::watch(pid_t pid, std::shared_ptr<std::atomic<bool>> stop, Report report) {
  int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  const bool gone = pid <= 0 || (fd < 0 && errno == ESRCH);
  std::lock_guard<std::mutex> lock(core_->mu);
  Id id = core_->next++;
  Core::Entry& e = core_->entries[id];
  e.pid = pid;
  e.gone = gone;
  e.stop = std::move(stop);
  e.report = std::move(report);
  if (fd >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = id;
    if (::epoll_ctl(core_->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
      e.fd = fd;
    } else {
      ::close(fd);  // looked at every tick instead
    }
  }
  if (gone || (!core_->ticking && (e.stop || e.fd < 0))) {
    core_->wake();  // it must report at once, or it waits without a timeout
  }
  return id;
}

void PidWatcher::unwatch(Id id) {
  std::lock_guard<std::mutex> lock(core_->mu);
  auto it = core_->entries.find(id);
  if (it != core_->entries.end()) {
    core_->drop(it);
  }
}

std::size_t PidWatcher::size() const {
  std::lock_guard<std::mutex> lock(core_->mu);
  return core_->entries.size();
}

}  // namespace stoa::slave
