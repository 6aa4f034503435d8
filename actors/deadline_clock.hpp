#pragma once
// An actor clock (CAF's timer service: receive timeouts, request timeouts,
// delayed sends) whose thread is woken only when a new deadline comes before
// the one it sleeps towards.
//
// Why (#17, docs/benchmarks.md "A timer thread woken only for an earlier
// deadline"): CAF 0.17's thread_safe_actor_clock hands every set and cancel
// to its thread through a ring buffer, and the first push into an empty
// buffer wakes that thread: every request with a timeout (a set, then a
// cancel at the response), every delayed send and every actor's exit (its
// cleanup cancels its timeouts, even when it has none) cost a futex wake and
// two context switches. A slave launching tasks did ~5 of those per task.
// Here sets and cancels change the schedule under a mutex in the caller's
// thread; the clock's thread sleeps until the earliest deadline and is
// notified only when a set moves that deadline earlier.
//
// Reentrancy: the schedule's entries hold strong references to actors, and
// dropping the last one destroys an actor, whose cleanup calls
// cancel_timeouts on this clock. So no entry is destroyed, and no message
// shipped, while the mutex is held: removed entries are moved out first.
//
// Semantics are those of CAF's simple_actor_clock: one ordinary timeout per
// actor and type (a set replaces it), any number of multi timeouts, request
// timeouts shipped as sec::request_timeout with the request's id, delayed
// messages to actors and groups, cancel_all dropping everything.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/fwd.hpp>

namespace stoa {

class DeadlineClock final : public caf::actor_clock {
 public:
  DeadlineClock();
  ~DeadlineClock() override;
  DeadlineClock(const DeadlineClock&) = delete;
  DeadlineClock& operator=(const DeadlineClock&) = delete;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type, uint64_t id) override;
  void set_multi_timeout(time_point t, caf::abstract_actor* self, caf::atom_value type, uint64_t id) override;
  void set_request_timeout(time_point t, caf::abstract_actor* self, caf::message_id id) override;
  void cancel_ordinary_timeout(caf::abstract_actor* self, caf::atom_value type) override;
  void cancel_request_timeout(caf::abstract_actor* self, caf::message_id id) override;
  void cancel_timeouts(caf::abstract_actor* self) override;
  void schedule_message(time_point t, caf::strong_actor_ptr receiver, caf::mailbox_element_ptr content) override;
  void schedule_message(time_point t, caf::group target, caf::strong_actor_ptr sender, caf::message content) override;
  void cancel_all() override;

  // Ships due entries until stop() (on the calling thread: the timer
  // thread's body). Entries left at the stop are dropped.
  void run();
  // Makes run() return; callable from any thread, once run() has started or not.
  void stop();

  // How many times run()'s thread woke (a deadline passed, a notification,
  // or a spurious wake of the condition variable): for tests and benches.
  uint64_t wakeups() const;
  // Whether run()'s thread waits for a deadline or a notification now.
  bool asleep() const;
  // Entries scheduled now.
  size_t size() const;

 private:
  struct Entry;
  using Schedule = std::multimap<time_point, std::unique_ptr<Entry>>;
  using Lookup = std::multimap<caf::actor_id, Schedule::iterator>;

  // With mu_ held: adds `e` (its due time set), returns whether the clock's
  // thread must be notified (it sleeps past e's due time).
  bool add_locked(std::unique_ptr<Entry> e);
  // With mu_ held: removes the entries of `aid` that `pred` accepts (all
  // when `first_only` is false) into `dropped`.
  template <class Pred>
  void remove_locked(caf::actor_id aid, Pred pred, bool first_only, std::vector<std::unique_ptr<Entry>>* dropped);
  void add(std::unique_ptr<Entry> e);
  static void ship(Entry& e);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Schedule schedule_;
  Lookup lookup_;
  // When the clock's thread will wake by itself: time_point::min() while it
  // is awake (it looks at the schedule before sleeping again), max() while
  // it sleeps with nothing scheduled.
  time_point sleeps_until_;
  bool stopping_ = false;
  uint64_t wakeups_ = 0;
};

}  // namespace stoa
