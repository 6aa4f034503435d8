// The actor clock that wakes its thread only for an earlier deadline
// (actors/deadline_clock.hpp): delayed messages, receive and request
// timeouts as CAF's clocks deliver them; cancels and later deadlines leave
// its thread asleep; dropping the last reference to an actor inside the
// clock does not deadlock.

#include "actors/deadline_clock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/io_thread_scheduler.hpp"
#include "actors/io_thread_test_support.hpp"

namespace stoa {
namespace {

using namespace std::chrono_literals;

using tick_atom = caf::atom_constant<caf::atom("dc_tick")>;
using ask_atom = caf::atom_constant<caf::atom("dc_ask")>;

// A clock with its thread, as a coordinator runs it.
struct RunningClock {
  RunningClock() : thread([this] { clock.run(); }) {}
  ~RunningClock() {
    clock.stop();
    thread.join();
  }
  // Waits (up to 10 s) until its thread waits for a deadline or a notification.
  bool asleep() {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!clock.asleep()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::yield();
    }
    return true;
  }
  DeadlineClock clock;
  std::thread thread;
};

caf::mailbox_element_ptr tick(int n) {
  return caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, tick_atom::value, n);
}

TEST(DeadlineClock, DelayedMessagesArriveInDueOrder) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  RunningClock c;
  auto now = c.clock.now();
  c.clock.schedule_message(now + 60ms, caf::actor_cast<caf::strong_actor_ptr>(self), tick(3));
  c.clock.schedule_message(now + 20ms, caf::actor_cast<caf::strong_actor_ptr>(self), tick(1));
  c.clock.schedule_message(now + 40ms, caf::actor_cast<caf::strong_actor_ptr>(self), tick(2));
  std::vector<int> got;
  for (int i = 0; i < 3; ++i) {
    self->receive([&](tick_atom, int n) { got.push_back(n); }, caf::after(10s) >> [] {});
  }
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(c.clock.now() - now, 60ms);
  EXPECT_EQ(c.clock.size(), 0u);
}

TEST(DeadlineClock, CancelsAndLaterDeadlinesLeaveItsThreadAsleepAnEarlierOneWakesIt) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto* me = caf::actor_cast<caf::abstract_actor*>(self);
  RunningClock c;
  c.clock.schedule_message(c.clock.now() + 1h, caf::actor_cast<caf::strong_actor_ptr>(self), tick(0));
  ASSERT_TRUE(c.asleep());  // until the message's hour has passed
  const uint64_t before = c.clock.wakeups();
  for (uint64_t i = 0; i < 2000; ++i) {
    auto id = caf::make_message_id(i + 1).response_id();
    c.clock.set_request_timeout(c.clock.now() + 2h, me, id);
    c.clock.set_multi_timeout(c.clock.now() + 3h, me, tick_atom::value, i);
    c.clock.set_ordinary_timeout(c.clock.now() + 4h, me, tick_atom::value, i);  // replaces the last one
    c.clock.cancel_request_timeout(me, id);
  }
  EXPECT_EQ(c.clock.size(), 1u + 2000u + 1u);
  c.clock.cancel_ordinary_timeout(me, tick_atom::value);
  c.clock.cancel_timeouts(me);
  EXPECT_EQ(c.clock.size(), 1u);
  // A condition variable may wake spuriously; 8,002 operations woke CAF's
  // clock thousands of times.
  EXPECT_LE(c.clock.wakeups() - before, 2u);
  EXPECT_TRUE(c.asleep());
  // An earlier deadline wakes it, and the message arrives.
  c.clock.schedule_message(c.clock.now() + 10ms, caf::actor_cast<caf::strong_actor_ptr>(self), tick(7));
  int got = 0;
  self->receive([&](tick_atom, int n) { got = n; }, caf::after(10s) >> [] {});
  EXPECT_EQ(got, 7);
  c.clock.cancel_all();
  EXPECT_EQ(c.clock.size(), 0u);
}

struct Watched {
  std::shared_ptr<std::promise<void>> gone;
  ~Watched() {
    if (gone) {
      gone->set_value();
    }
  }
};

TEST(DeadlineClock, DroppingTheLastReferenceToAnActorInsideTheClockDoesNotDeadlock) {
  IoThreadSystem s;
  auto gone = std::make_shared<std::promise<void>>();
  std::future<void> destroyed = gone->get_future();
  {
    caf::actor a = s.sys.spawn([gone](caf::stateful_actor<Watched>* self) -> caf::behavior {
      self->state.gone = gone;
      self->delayed_send(self, 1h, tick_atom::value, 1);
      return {[](tick_atom, int) {}};
    });
    // Once it has run its start (the delayed send is scheduled), the
    // clock's entry is the only other reference.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (s.clock().size() < 1 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_GE(s.clock().size(), 1u);
  }
  // The entry's reference is the last: the actor is destroyed in cancel_all,
  // and its cleanup cancels its timeouts on this clock again.
  s.clock().cancel_all();
  EXPECT_EQ(destroyed.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(s.clock().size(), 0u);
}

TEST(DeadlineClock, ReceiveAndRequestTimeoutsBehaveAsOnCafsClock) {
  IoThreadSystem s;
  caf::scoped_actor self{s.sys};
  // Answers an ask after a receive timeout of 500 ms with no message between;
  // each tick sets the timeout again (an ordinary timeout replaced).
  caf::actor quiet = s.sys.spawn([](caf::event_based_actor* me) -> caf::behavior {
    auto ticks = std::make_shared<int>(0);
    auto asker = std::make_shared<caf::strong_actor_ptr>();
    return {[=](ask_atom) { *asker = me->current_sender(); },
            [=](tick_atom, int) { ++*ticks; },
            caf::after(500ms) >> [=] {
              if (*asker) {
                me->send(caf::actor_cast<caf::actor>(*asker), tick_atom::value, *ticks);
                *asker = nullptr;
              }
            }};
  });
  self->send(quiet, ask_atom::value);
  auto started = std::chrono::steady_clock::now();
  // Ten ticks 10 ms apart, paced by delayed sends on the clock under test.
  s.sys.spawn([quiet](caf::event_based_actor* me) -> caf::behavior {
    me->send(me, tick_atom::value, 0);
    return {[=](tick_atom, int i) {
      me->send(quiet, tick_atom::value, i);
      if (i + 1 < 10) {
        me->delayed_send(me, 10ms, tick_atom::value, i + 1);
      } else {
        me->quit();
      }
    }};
  });
  int ticks = -1;
  self->receive([&](tick_atom, int n) { ticks = n; }, caf::after(10s) >> [] {});
  EXPECT_EQ(ticks, 10);  // no timeout while ticks came every 10 ms
  EXPECT_GE(std::chrono::steady_clock::now() - started, 590ms);
  // A request nobody answers times out with sec::request_timeout; one
  // answered in time does not time out later.
  caf::actor mute = s.sys.spawn([]() -> caf::behavior { return {[](ask_atom) -> caf::result<int> { return caf::delegated<int>(); }}; });
  caf::actor echo = s.sys.spawn([]() -> caf::behavior { return {[](ask_atom) { return 5; }}; });
  caf::error timed_out;
  self->request(mute, 30ms, ask_atom::value).receive([](int) {}, [&](caf::error& e) { timed_out = e; });
  EXPECT_EQ(timed_out, caf::sec::request_timeout);
  int answer = 0;
  self->request(echo, 30ms, ask_atom::value).receive([&](int n) { answer = n; }, [&](caf::error& e) { FAIL() << s.sys.render(e); });
  EXPECT_EQ(answer, 5);
  self->receive([](caf::error& e) { FAIL() << "a late " << to_string(e); }, caf::after(100ms) >> [] {});
  self->send_exit(mute, caf::exit_reason::user_shutdown);
  self->send_exit(echo, caf::exit_reason::user_shutdown);
  self->send_exit(quiet, caf::exit_reason::user_shutdown);
}

}  // namespace
}  // namespace stoa
