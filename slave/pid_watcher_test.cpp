// The process's one watcher of exits (slave/pid_watcher.hpp) and the
// waiter built on it (slave/reaper.hpp): real child processes, no actor
// cluster.

#include "slave/pid_watcher.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "slave/reaper.hpp"

namespace stoa::slave {
namespace {

using namespace std::chrono_literals;

// A child that exits with `code` once it reads a byte from the pipe whose
// write end is returned (or at once when `wait` is false).
struct WatchedChild {
  pid_t pid = -1;
  int release_fd = -1;
};

WatchedChild start_watched_child(int code, bool wait) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only its own read end: the write ends of children started before
    // must not be held open here.
    ::dup2(fds[0], 0);
    ::close_range(3, ~0U, 0);
    if (wait) {
      char c;
      [[maybe_unused]] ssize_t n = ::read(0, &c, 1);
    }
    ::_exit(code);
  }
  ::close(fds[0]);
  return {pid, fds[1]};
}

void release_child(WatchedChild& c) {
  ::close(c.release_fd);  // its read returns 0: it exits
  c.release_fd = -1;
}

int reap_child(pid_t pid) {
  int status = -1;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

// WatchReports collected from the watcher's thread.
class WatchReports {
 public:
  PidWatcher::Report add(int key) {
    return [this, key](bool exited) {
      std::lock_guard<std::mutex> lock(mu_);
      got_.emplace_back(key, exited);
      cv_.notify_all();
    };
  }
  // Waits up to `deadline` for `n` reports in all.
  std::vector<std::pair<int, bool>> wait_for(std::size_t n, std::chrono::milliseconds deadline = 5s) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, deadline, [&] { return got_.size() >= n; });
    return got_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<int, bool>> got_;
};

TEST(PidWatcher, ReportsAnExitOnceWithoutReapingTheChild) {
  auto watcher = PidWatcher::shared();
  ASSERT_FALSE(watcher.is_error()) << watcher.error();
  WatchedChild c = start_watched_child(7, true);
  WatchReports reports;
  (*watcher)->watch(c.pid, nullptr, reports.add(1));
  EXPECT_EQ((*watcher)->size(), 1u);
  release_child(c);
  auto got = reports.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], std::make_pair(1, true));
  // Not reaped by the watcher: the parent gets the status.
  int status = reap_child(c.pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
  EXPECT_EQ((*watcher)->size(), 0u);
}

TEST(PidWatcher, AProcessAlreadyGoneIsReportedAtOnce) {
  auto watcher = PidWatcher::shared();
  ASSERT_FALSE(watcher.is_error()) << watcher.error();
  WatchedChild c = start_watched_child(0, false);
  reap_child(c.pid);
  ::close(c.release_fd);
  WatchReports reports;
  (*watcher)->watch(c.pid, nullptr, reports.add(2));
  auto got = reports.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], std::make_pair(2, true));
}

TEST(PidWatcher, AStopFlagEndsTheWatchWithoutAnExit) {
  auto watcher = PidWatcher::shared();
  ASSERT_FALSE(watcher.is_error()) << watcher.error();
  WatchedChild c = start_watched_child(0, true);
  auto stop = std::make_shared<std::atomic<bool>>(false);
  WatchReports reports;
  (*watcher)->watch(c.pid, stop, reports.add(3));
  stop->store(true);
  auto got = reports.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], std::make_pair(3, false));
  release_child(c);
  reap_child(c.pid);
}

TEST(PidWatcher, AnUnwatchedProcessIsNotReported) {
  auto watcher = PidWatcher::shared();
  ASSERT_FALSE(watcher.is_error()) << watcher.error();
  WatchedChild quiet = start_watched_child(0, true);
  WatchedChild loud = start_watched_child(0, true);
  WatchReports reports;
  PidWatcher::Id id = (*watcher)->watch(quiet.pid, nullptr, reports.add(4));
  (*watcher)->watch(loud.pid, nullptr, reports.add(5));
  (*watcher)->unwatch(id);
  release_child(quiet);
  reap_child(quiet.pid);
  release_child(loud);  // reported after the quiet one has exited
  auto got = reports.wait_for(1);
  reap_child(loud.pid);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], std::make_pair(5, true));
  EXPECT_EQ((*watcher)->size(), 0u);
}

TEST(PidWatcher, ManyProcessesOneThread) {
  auto watcher = PidWatcher::shared();
  ASSERT_FALSE(watcher.is_error()) << watcher.error();
  auto again = PidWatcher::shared();
  ASSERT_FALSE(again.is_error());
  EXPECT_EQ(watcher->get(), again->get()) << "one watcher per process while it is held";
  constexpr int N = 64;  // more than one epoll_wait's batch
  std::vector<WatchedChild> children;
  WatchReports reports;
  for (int i = 0; i < N; ++i) {
    children.push_back(start_watched_child(i, true));
    (*watcher)->watch(children.back().pid, nullptr, reports.add(i));
  }
  for (WatchedChild& c : children) {
    release_child(c);
  }
  auto got = reports.wait_for(N);
  EXPECT_EQ(got.size(), static_cast<std::size_t>(N));
  std::vector<bool> seen(N, false);
  for (auto [key, exited] : got) {
    EXPECT_TRUE(exited);
    seen[key] = true;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), N);
  for (int i = 0; i < N; ++i) {
    int status = reap_child(children[i].pid);
    EXPECT_EQ(WEXITSTATUS(status), i);
  }
}

// --- the waiter: one request, answered with the reaped status -----------

TEST(ProcessWaiter, AnswersWithTheChildsWaitStatusAndReapsIt) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  WatchedChild c = start_watched_child(5, true);
  caf::actor waiter = spawn_waiter(sys, c.pid);
  caf::scoped_actor self{sys};
  release_child(c);
  std::optional<int32_t> status;
  self->request(waiter, 10s, reaped_atom_v)
      .receive([&](int32_t s) { status = s; }, [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 5);
  errno = 0;
  EXPECT_EQ(::waitpid(c.pid, nullptr, WNOHANG), -1) << "reaped by the waiter";
  EXPECT_EQ(errno, ECHILD);
}

TEST(ProcessWaiter, AProcessThatIsNoChildAnswersMinusOne) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  WatchedChild c = start_watched_child(0, false);
  reap_child(c.pid);  // gone, and no child any more
  ::close(c.release_fd);
  caf::actor waiter = spawn_waiter(sys, c.pid);
  caf::scoped_actor self{sys};
  std::optional<int32_t> status;
  self->request(waiter, 10s, reaped_atom_v)
      .receive([&](int32_t s) { status = s; }, [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, -1);
}

TEST(ProcessWaiter, StopsWithoutAnAnswerOnceItsOwnerStops) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  WatchedChild c = start_watched_child(0, true);
  auto stop = std::make_shared<std::atomic<bool>>(false);
  caf::actor waiter = spawn_waiter(sys, c.pid, stop);
  caf::scoped_actor self{sys};
  self->monitor(waiter);
  self->send(waiter, reaped_atom_v);
  stop->store(true);
  bool down = false;
  self->receive([&](caf::down_msg& d) { down = d.source == waiter.address(); },
                caf::after(5s) >> [] {});
  EXPECT_TRUE(down) << "the waiter did not stop within 5 s of its stop flag";
  errno = 0;
  EXPECT_EQ(::waitpid(c.pid, nullptr, WNOHANG), 0) << "still running and not reaped";
  release_child(c);
  reap_child(c.pid);
}

}  // namespace
}  // namespace stoa::slave
