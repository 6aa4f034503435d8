#pragma once
// The master's own CPU per turn (STOA_TURN_CPU=1: "turns ≥ 50 ms of the
// master's CPU", "most CPU in one turn"), read with few system calls.
//
// The thread's CPU clock (CLOCK_THREAD_CPUTIME_ID) is a system call, not a
// vDSO read: ~0.5 µs on this project's VMs. Read before and after every
// message it was a fifth of the master's CPU per status update in
// `stoa-bench-scale --mode=updates` (docs/benchmarks.md, session 32). Here:
// - a turn's CPU is at most its wall time, so a turn shorter than
//   `measured` of wall time counts its wall time and reads nothing;
// - a longer turn reads the clock once, at its end, and counts what the
//   thread spent since the last reading; that reading is taken at a turn's
//   start only when the last one is older than `rebase`, so the count is at
//   most `rebase` above the turn's own CPU (the thread's other work between
//   that reading and the turn) and never below it.
// Busy, back-to-back turns read the clock about once per `rebase`.

#include <chrono>
#include <optional>

namespace stoa::master {

template <class ReadCpu>
class TurnCpu {
 public:
  using Clock = std::chrono::steady_clock;
  using ns = std::chrono::nanoseconds;

  static constexpr ns kMeasured = std::chrono::milliseconds(1);
  static constexpr ns kRebase = std::chrono::microseconds(250);

  explicit TurnCpu(ReadCpu read) : read_(std::move(read)) {}

  // At a turn's start (`now`: its wall-clock start).
  void begin(Clock::time_point now) {
    if (!base_wall_ || now - *base_wall_ > kRebase) {
      base_cpu_ = read_();
      base_wall_ = now;
    }
  }

  // At its end: the turn's CPU, an upper bound within `kRebase` (or its wall
  // time when it took less than `kMeasured`).
  ns end(Clock::time_point start, Clock::time_point now) {
    const ns took = now - start;
    if (took < kMeasured) {
      return took;
    }
    const ns cpu = read_();
    const ns spent = cpu - base_cpu_;
    base_cpu_ = cpu;
    base_wall_ = now;
    return spent;
  }

 private:
  ReadCpu read_;
  ns base_cpu_{0};
  std::optional<Clock::time_point> base_wall_;
};

}  // namespace stoa::master
