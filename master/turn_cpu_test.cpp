#include "master/turn_cpu.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace stoa::master {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ns = std::chrono::nanoseconds;

// A thread CPU clock the test advances by hand, counting its reads.
struct FakeCpu {
  ns now{0};
  int reads = 0;
};

struct ReadFake {
  FakeCpu* cpu;
  ns operator()() const {
    cpu->reads++;
    return cpu->now;
  }
};

// A TurnCpu over a fake clock, at a wall time one second after the epoch.
class TurnCpuTest : public ::testing::Test {
 protected:
  FakeCpu cpu;
  TurnCpu<ReadFake> turns{ReadFake{&cpu}};
  Clock::time_point t = Clock::time_point{} + 1s;
};

TEST_F(TurnCpuTest, BackToBackShortTurnsReadTheClockAboutOncePerRebaseAndCountTheirWallTime) {
  // 10,000 turns of 10 µs each, back to back: 100 ms of work.
  for (int i = 0; i < 10000; ++i) {
    turns.begin(t);
    cpu.now += 10us;
    const Clock::time_point end = t + 10us;
    EXPECT_EQ(turns.end(t, end), 10us);
    t = end;
  }
  // Once at the start and once per 250 µs after: ~400, not 20,000.
  EXPECT_LE(cpu.reads, 100ms / TurnCpu<ReadFake>::kRebase + 2);
  EXPECT_GE(cpu.reads, 100ms / (2 * TurnCpu<ReadFake>::kRebase));
}

TEST_F(TurnCpuTest, ALongTurnCountsItsCpuWithinTheRebaseWindowAndNeverBelowIt) {
  // A short turn reads the base; then the thread does 200 µs of other work
  // (no turn of the master), then a turn of 30 ms of CPU in 80 ms of wall.
  turns.begin(t);
  t += 5us;
  cpu.now += 5us;
  turns.end(t - 5us, t);
  cpu.now += 200us;
  t += 200us;
  turns.begin(t);  // the base is 200 µs old: not read again
  const int reads_before = cpu.reads;
  cpu.now += 30ms;
  const ns counted = turns.end(t, t + 80ms);
  EXPECT_EQ(cpu.reads, reads_before + 1);
  EXPECT_GE(counted, 30ms);
  EXPECT_LE(counted, 30ms + TurnCpu<ReadFake>::kRebase);
  t += 80ms;

  // After an idle second the base is read again at the turn's start: exact.
  cpu.now += 3ms;  // a detached actor's work elsewhere on the thread
  t += 1s;
  turns.begin(t);
  cpu.now += 60ms;
  EXPECT_EQ(turns.end(t, t + 61ms), 60ms);
}

TEST_F(TurnCpuTest, ATurnThatWaitedForACoreCountsOnlyItsCpu) {
  turns.begin(t);
  cpu.now += 2ms;  // 2 ms of work in 120 ms of wall time (preempted)
  EXPECT_EQ(turns.end(t, t + 120ms), 2ms);
}

}  // namespace
}  // namespace stoa::master
