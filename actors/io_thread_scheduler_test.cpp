// The scheduler that runs actors on CAF's I/O thread
// (actors/io_thread_scheduler.hpp): where actors run, that messages, timers
// and requests behave as on CAF's own schedulers, and that the system stops.

#include "actors/io_thread_scheduler.hpp"
#include "actors/io_thread_test_support.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

namespace stoa {
namespace {

using namespace std::chrono_literals;

using where_atom = caf::atom_constant<caf::atom("io_where")>;
using count_atom = caf::atom_constant<caf::atom("io_count")>;

std::size_t thread_hash() { return std::hash<std::thread::id>{}(std::this_thread::get_id()); }

caf::behavior where_actor(caf::event_based_actor*) {
  return {[](where_atom) { return thread_hash(); }};
}

TEST(IoThreadScheduler, ActorsRunOnTheMultiplexersThreadAndDetachedOnesOnTheirOwn) {
  IoThreadSystem s;
  caf::scoped_actor self{s.sys};
  std::size_t scheduled = 0;
  std::size_t detached = 0;
  self->request(s.sys.spawn(where_actor), 10s, where_atom::value)
      .receive([&](std::size_t h) { scheduled = h; }, [&](caf::error& e) { FAIL() << s.sys.render(e); });
  self->request(s.sys.spawn<caf::detached>(where_actor), 10s, where_atom::value)
      .receive([&](std::size_t h) { detached = h; }, [&](caf::error& e) { FAIL() << s.sys.render(e); });
  EXPECT_EQ(scheduled, s.io_thread());
  EXPECT_NE(detached, s.io_thread());
  EXPECT_NE(detached, thread_hash());
}

// A chain of actors each passing a count on: every message arrives, in
// order, at the last, which tells `done` after the last count.
caf::behavior relay(caf::event_based_actor* self, caf::actor next, caf::actor done, int last,
                    std::shared_ptr<std::vector<int>> seen) {
  return {[self, next, done, last, seen](count_atom, int n) {
    if (next) {
      self->send(next, count_atom::value, n);
      return;
    }
    seen->push_back(n);
    if (n == last) {
      self->send(done, count_atom::value, static_cast<int>(seen->size()));
    }
  }};
}

TEST(IoThreadScheduler, MessagesAlongAChainArriveInOrder) {
  IoThreadSystem s;
  caf::scoped_actor self{s.sys};
  constexpr int N = 20000;
  auto seen = std::make_shared<std::vector<int>>();
  caf::actor head = s.sys.spawn(relay, caf::actor{}, caf::actor_cast<caf::actor>(self), N - 1, seen);
  for (int i = 0; i < 10; ++i) {
    head = s.sys.spawn(relay, head, caf::actor{}, N - 1, seen);
  }
  for (int n = 0; n < N; ++n) {
    self->send(head, count_atom::value, n);
  }
  int arrived = 0;
  self->receive([&](count_atom, int count) { arrived = count; }, caf::after(30s) >> [] {});
  ASSERT_EQ(arrived, N);
  for (int i = 0; i < N; ++i) {
    ASSERT_EQ((*seen)[i], i);  // written by the last relay only, read after its last write
  }
}

TEST(IoThreadScheduler, TimersFireAndTheSystemStops) {
  IoThreadSystem s;
  caf::scoped_actor self{s.sys};
  auto started = std::chrono::steady_clock::now();
  caf::actor a = s.sys.spawn([](caf::event_based_actor* me) -> caf::behavior {
    return {[me](where_atom) -> caf::result<std::size_t> {
      auto rp = me->make_response_promise<std::size_t>();
      me->delayed_send(me, 50ms, count_atom::value, 0);
      me->become(caf::keep_behavior, [me, rp](count_atom, int) mutable {
        rp.deliver(thread_hash());
        me->unbecome();
      });
      return rp;
    }};
  });
  std::size_t where = 0;
  self->request(a, 10s, where_atom::value).receive([&](std::size_t h) { where = h; },
                                                   [&](caf::error& e) { FAIL() << s.sys.render(e); });
  EXPECT_GE(std::chrono::steady_clock::now() - started, 50ms);
  EXPECT_EQ(where, s.io_thread());
}

}  // namespace
}  // namespace stoa
