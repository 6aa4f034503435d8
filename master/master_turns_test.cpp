// The master times each message it takes (master/turns,
// master/turn_longest_ms, master/turns_over_*): what every message behind a
// slow one waits for, measured where it happens.

#include "master/master_actor.hpp"
#include "master/master_fixture.hpp"

namespace stoa::master {
namespace {

using namespace stoa::master::testing;
using std::chrono::milliseconds;

TEST(MasterTurnsCount, EachBoundCountsTheTurnsThatReachedItAndTheLongestIsKept) {
  metrics::Registry r;
  Master::Turns t;
  using Seen = Master::Turns::Seen;
  EXPECT_EQ(t.record(milliseconds(70)), Seen::usual) << "nothing is counted before the metrics are set up";
  t.count = &r.counter("turns", "");
  t.longest_ms = &r.gauge("longest", "");
  t.over_10ms = &r.counter("10", "");
  t.over_50ms = &r.counter("50", "");
  t.over_100ms = &r.counter("100", "");
  EXPECT_EQ(t.record(std::chrono::microseconds(300)), Seen::usual);
  EXPECT_EQ(r.value("longest"), 0.3);
  EXPECT_EQ(t.record(milliseconds(10)), Seen::usual) << "the longest so far, but under 50 ms: nothing to log";
  EXPECT_EQ(t.record(milliseconds(50)), Seen::longest) << "the longest so far and 50 ms";
  EXPECT_EQ(t.record(milliseconds(49)), Seen::usual);
  EXPECT_EQ(t.record(milliseconds(120)), Seen::longest);
  EXPECT_EQ(t.record(milliseconds(100)), Seen::slow) << "over 50 ms, not longer than the longest";
  EXPECT_EQ(r.value("turns"), 6.0);
  EXPECT_EQ(r.value("10"), 5.0);
  EXPECT_EQ(r.value("50"), 3.0);
  EXPECT_EQ(r.value("100"), 2.0);
  EXPECT_EQ(r.value("longest"), 120.0);
}

class MasterTurns : public MasterFixture {};

// A slow turn's log line names a scheduler Call's type: an ACCEPT of many
// offers and a DECLINE are both "a stoa.scheduler.Call".
TEST_F(MasterTurns, ASlowTurnsMessageNamesTheCallType) {
  start({});
  Call call;
  call.set_type(Call::ACCEPT);
  caf::message m = caf::make_message(call);
  EXPECT_EQ(Master::describe_turn_message(sys_, m.content()), "stoa.scheduler.Call ACCEPT");
  caf::message other = caf::make_message(std::string("x"), int32_t{1});
  const std::string d = Master::describe_turn_message(sys_, other.content());
  EXPECT_EQ(d.find("ACCEPT"), std::string::npos) << d;
  EXPECT_NE(d.find(", "), std::string::npos) << d;
}

// A message type CAF has no name for (the master's messages to itself)
// is named by its C++ type, not "???".
struct UnnamedTurnPayload {
  int value = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, UnnamedTurnPayload& x) {
  return f(x.value);
}

TEST_F(MasterTurns, AMessageOfATypeWithoutPortableNameIsNamedByItsCppType) {
  start({});
  caf::message m = caf::make_message(std::string("x"), UnnamedTurnPayload{});
  const std::string d = Master::describe_turn_message(sys_, m.content());
  EXPECT_NE(d.find("UnnamedTurnPayload"), std::string::npos) << d;
  EXPECT_EQ(d.find("???"), std::string::npos) << d;
}

TEST_F(MasterTurns, EveryMessageTheMasterTakesIsTimed) {
  start({});
  const double before = metric("master/turns");
  EXPECT_GT(before, 0.0) << "the master's start and the metrics view are messages too";
  auto inbox = std::make_shared<Inbox>();
  add_slave(peer(inbox), inbox);
  const double after = metric("master/turns");
  EXPECT_GE(after, before + 2) << "at least the registration and this metrics view";
  EXPECT_GT(metric("master/turn_longest_ms"), 0.0);
  EXPECT_GE(metric("master/turns_over_10ms"), metric("master/turns_over_50ms"));
}

}  // namespace
}  // namespace stoa::master
