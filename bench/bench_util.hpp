#pragma once
// Small figures the benchmarks share: elapsed seconds, a process's resident
// set and a percentile. Header-only: benches link different libraries.

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace stoa::bench {

// Seconds from `t` to now, fractional.
inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// VmRSS of `pid` in KiB (0 when unreadable).
inline double rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stod(line.substr(6));
    }
  }
  return 0;
}

// The value at rank floor(p * n) of the sorted samples (the largest for
// p = 1); 0 without samples. (launch_bench.cpp rounds p * (n - 1) instead,
// for figures already recorded that way.)
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace stoa::bench
