#pragma once
// Polling with a deadline, for tests that wait on something no message
// reports (a process dying, /proc figures growing). Header-only, so unit
// tests beside the code can use it without linking the cluster harness.

#include <chrono>
#include <functional>
#include <thread>

namespace stoa::tests {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// True in a test binary of a sanitized build (cmake/stoa.cmake): there a
// bound on how fast something reacts is not the point (every process runs
// several times slower), and big test sizes are cut to what finds memory
// errors. The normal build keeps the numbers.
#ifdef STOA_SANITIZED_BUILD
constexpr bool SANITIZED_BUILD = true;
#else
constexpr bool SANITIZED_BUILD = false;
#endif

// How long a single expectation may take before the test fails.
constexpr auto DEFAULT_TIMEOUT = std::chrono::seconds(10);
// How often poll_until re-checks.
constexpr auto POLL_INTERVAL = std::chrono::milliseconds(20);

inline Deadline deadline_in(Clock::duration d) { return Clock::now() + d; }

// Re-evaluates `done` every `interval` until it is true (returns true) or
// `deadline` passes (returns the last evaluation, made at or after it).
inline bool poll_until(const std::function<bool()>& done, Deadline deadline,
                       Clock::duration interval = POLL_INTERVAL) {
  while (!done()) {
    if (Clock::now() >= deadline) {
      return done();
    }
    std::this_thread::sleep_for(interval);
  }
  return true;
}

}  // namespace stoa::tests
