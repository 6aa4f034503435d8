// stoa-bench-vcpu-stalls [--threads=N] [--seconds=S] [--stall_ms=M]: how
// often this machine stops a busy thread for a long while, and whether the
// thread's own CPU clock counts the stop as its work (#17,
// docs/benchmarks.md "A turn's CPU on this VM").
//
// Each thread repeats a fixed unit of work (~30 us) and reads, around each
// unit, the monotonic clock and its own CPU clock
// (CLOCK_THREAD_CPUTIME_ID, what the master's turn timing reads). A unit
// that took at least --stall_ms of wall time was stopped: by the guest's
// scheduler (another thread of this machine ran; the thread's CPU clock
// stands still) or by the hypervisor (its virtual CPU did not run; a guest
// that is not told of steal time counts the stop on the thread's CPU clock
// as if it had worked). The steal column of /proc/stat says how much the
// hypervisor reported over the run.
//
// Prints a table: units, stalls, of them counted as the thread's CPU, the
// longest, and the reported steal.

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/flags.hpp"

namespace {

using namespace stoa;

struct StallFlags : FlagsBase {
  StallFlags() {
    add(&threads, "threads", "Busy threads (0: one per online CPU, so that every virtual CPU is busy).", 0);
    check("threads", within(0, 1024));
    add(&seconds, "seconds", "How long each thread works.", 20);
    check("seconds", within(1, 3600));
    add(&stall_ms, "stall_ms", "A unit this long in wall time (ms) counts as a stall.", 20);
    check("stall_ms", within(1, 10000));
  }
  int threads;
  int seconds;
  int stall_ms;
};

double now_ms(clockid_t clock) {
  timespec t{};
  ::clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

struct ThreadResult {
  uint64_t units = 0;
  uint64_t stalls = 0;         // >= stall_ms of wall time
  uint64_t stalls_as_cpu = 0;  // of them, >= stall_ms on the thread's CPU clock too
  double longest_wall_ms = 0;
  double longest_cpu_ms = 0;  // the CPU clock's reading over the longest unit
  double median_unit_us = 0;
};

ThreadResult work(int seconds, double stall_ms) {
  ThreadResult r;
  volatile uint64_t x = 1;
  std::vector<float> sample;  // unit times, every 1024th, for the median
  const double start = now_ms(CLOCK_MONOTONIC);
  while (now_ms(CLOCK_MONOTONIC) - start < seconds * 1e3) {
    const double w0 = now_ms(CLOCK_MONOTONIC);
    const double c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
    for (int i = 0; i < 20000; ++i) {
      x = x + static_cast<uint64_t>(i) * x + 1;
    }
    const double w = now_ms(CLOCK_MONOTONIC) - w0;
    const double c = now_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
    if (r.units++ % 1024 == 0) {
      sample.push_back(static_cast<float>(w * 1e3));
    }
    if (w >= stall_ms) {
      ++r.stalls;
      r.stalls_as_cpu += c >= stall_ms ? 1 : 0;
    }
    if (w > r.longest_wall_ms) {
      r.longest_wall_ms = w;
      r.longest_cpu_ms = c;
    }
  }
  if (!sample.empty()) {
    std::nth_element(sample.begin(), sample.begin() + static_cast<long>(sample.size() / 2), sample.end());
    r.median_unit_us = sample[sample.size() / 2];
  }
  return r;
}

// The steal column of /proc/stat's "cpu" line, in clock ticks (-1: unread).
long long steal_ticks() {
  std::ifstream in("/proc/stat");
  std::string line;
  if (!std::getline(in, line) || line.rfind("cpu ", 0) != 0) {
    return -1;
  }
  std::istringstream fields(line.substr(4));
  long long v = 0;
  for (int i = 0; i < 8; ++i) {  // user nice system idle iowait irq softirq steal
    if (!(fields >> v)) {
      return -1;
    }
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  StallFlags flags;
  if (auto e = flags.load(argc, argv)) {
    std::cerr << e->message << "\n";
    return 1;
  }
  if (flags.help) {
    std::cout << flags.usage("stoa-bench-vcpu-stalls");
    return 0;
  }
  int n = flags.threads > 0 ? flags.threads : static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  const long long steal0 = steal_ticks();
  std::vector<ThreadResult> results(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] { results[static_cast<size_t>(i)] = work(flags.seconds, flags.stall_ms); });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  const long long steal1 = steal_ticks();
  std::printf("\n== %d busy threads for %d s on %ld online CPUs; a stall: a unit of >= %d ms of wall time ==\n", n,
              flags.seconds, ::sysconf(_SC_NPROCESSORS_ONLN), flags.stall_ms);
  std::printf("  %-8s %12s %10s %8s %14s %14s %14s\n", "thread", "units", "unit p50", "stalls", "on its CPU",
              "longest (ms)", "its CPU (ms)");
  ThreadResult all;
  for (int i = 0; i < n; ++i) {
    const ThreadResult& r = results[static_cast<size_t>(i)];
    std::printf("  %-8d %12llu %8.1fus %8llu %14llu %14.1f %14.1f\n", i, static_cast<unsigned long long>(r.units),
                r.median_unit_us, static_cast<unsigned long long>(r.stalls),
                static_cast<unsigned long long>(r.stalls_as_cpu), r.longest_wall_ms, r.longest_cpu_ms);
    all.units += r.units;
    all.stalls += r.stalls;
    all.stalls_as_cpu += r.stalls_as_cpu;
    if (r.longest_wall_ms > all.longest_wall_ms) {
      all.longest_wall_ms = r.longest_wall_ms;
      all.longest_cpu_ms = r.longest_cpu_ms;
    }
  }
  std::printf("  %-8s %12llu %10s %8llu %14llu %14.1f %14.1f\n", "all", static_cast<unsigned long long>(all.units), "",
              static_cast<unsigned long long>(all.stalls), static_cast<unsigned long long>(all.stalls_as_cpu),
              all.longest_wall_ms, all.longest_cpu_ms);
  if (steal0 >= 0 && steal1 >= 0) {
    std::printf("  steal reported by /proc/stat over the run: %.2f s\n",
                static_cast<double>(steal1 - steal0) / static_cast<double>(::sysconf(_SC_CLK_TCK)));
  } else {
    std::printf("  steal reported by /proc/stat: unreadable\n");
  }
  return 0;
}
