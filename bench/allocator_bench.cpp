// stoa-bench-allocator: Mesos' HierarchicalAllocator_BENCHMARK_Test.DeclineOffers
// workload against stoa::allocator::Allocator (no actors, no network).
//
// Every slave has cpus:24;mem:4096;disk:4096;ports:[31000-32000] and is
// partly used (cpus:16;mem:2014;disk:1024 + 16 single-port fragments) by
// framework (i % F). Each round declines every outstanding offer with an
// effectively infinite filter (INT_MAX seconds, clamped to 365 days), then
// runs one timed allocate(). All frameworks are in role "*".
//
// Usage: stoa-bench-allocator [--rounds=N] [--policy=drf|random]
//                             [--only=SLAVESxFRAMEWORKS] [--roles=R]
// Each configuration runs in a forked child so RSS deltas are not skewed by
// memory freed from the previous configuration.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "master/allocator/allocator.hpp"

using stoa::Range;
using stoa::Resources;
using stoa::Try;
using namespace stoa::allocator;

namespace {

struct Config {
  size_t slaves;
  size_t frameworks;
};

long rss_bytes() {
  long pages = 0;
  long resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) {
    return 0;
  }
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) {
    resident = 0;
  }
  std::fclose(f);
  return resident * sysconf(_SC_PAGESIZE);
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// CPU time of this thread: less sensitive than wall time to other
// processes competing for the machine's cores.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

int run(const Config& c, size_t rounds, const std::string& policy, size_t role_count) {
  Options options;
  options.policy = policy;
  options.seed = 42;
  Try<std::unique_ptr<Allocator>> created = Allocator::create(options);
  if (!created) {
    std::fprintf(stderr, "%s\n", created.error().c_str());
    return 1;
  }
  std::unique_ptr<Allocator> allocator = std::move(created.get());

  std::vector<std::string> frameworks;
  for (size_t i = 0; i < c.frameworks; ++i) {
    char id[64];
    std::snprintf(id, sizeof(id), "framework-%06zu", i);
    frameworks.emplace_back(id);
    std::string role = role_count <= 1 ? "*" : "role-" + std::to_string(i % role_count);
    if (std::optional<stoa::Error> error = allocator->add_framework(frameworks.back(), {role}, {}, true)) {
      std::fprintf(stderr, "%s\n", error->message.c_str());
      return 1;
    }
  }

  const Resources total = *Resources::parse("cpus:24;mem:4096;disk:4096;ports:[31000-32000]");
  std::vector<Range> fragments;
  for (uint64_t i = 0; i < 16; ++i) {
    uint64_t port = 31000 + i * 62 + 7;
    fragments.push_back(Range{port, port});
  }
  const Resources used =
      *Resources::parse("cpus:16;mem:2014;disk:1024") + Resources::ranges_resource("ports", fragments);

  std::vector<std::string> slaves;
  slaves.reserve(c.slaves);
  for (size_t i = 0; i < c.slaves; ++i) {
    char id[64];
    std::snprintf(id, sizeof(id), "slave-%08zu-S%zu", i, i);
    slaves.emplace_back(id);
  }

  long rss_before = rss_bytes();
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < c.slaves; ++i) {
    allocator->add_slave(slaves[i], total, {{frameworks[i % c.frameworks], used}});
  }
  double add_ms = ms_since(start);
  long rss_after = rss_bytes();

  TimePoint now = TimePoint{} + std::chrono::hours(1);
  std::vector<Allocation> offers;
  std::vector<double> cycle_ms;
  std::vector<double> cycle_cpu_ms;
  std::vector<size_t> offer_counts;
  double decline_ms_total = 0;
  for (size_t round = 0; round < rounds; ++round) {
    auto decline_start = std::chrono::steady_clock::now();
    for (const Allocation& o : offers) {
      allocator->recover_resources(o.framework_id, o.slave_id, o.resources, static_cast<double>(INT_MAX), now);
    }
    decline_ms_total += ms_since(decline_start);
    now += std::chrono::seconds(1);
    auto cycle_start = std::chrono::steady_clock::now();
    double cpu_start = cpu_ms();
    offers = allocator->allocate(now);
    cycle_cpu_ms.push_back(cpu_ms() - cpu_start);
    cycle_ms.push_back(ms_since(cycle_start));
    offer_counts.push_back(offers.size());
  }
  if (std::optional<stoa::Error> error = allocator->check_invariants()) {
    std::fprintf(stderr, "invariant violated: %s\n", error->message.c_str());
    return 1;
  }

  std::vector<double> sorted = cycle_ms;
  std::sort(sorted.begin(), sorted.end());
  double median = sorted[sorted.size() / 2];
  std::vector<double> sorted_cpu = cycle_cpu_ms;
  std::sort(sorted_cpu.begin(), sorted_cpu.end());
  double median_cpu = sorted_cpu[sorted_cpu.size() / 2];
  std::string per_round;
  for (size_t i = 0; i < cycle_ms.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%s%.1f/%zu", i == 0 ? "" : " ", cycle_ms[i], offer_counts[i]);
    per_round += buf;
  }
  std::printf("| %6zu x %-5zu | %9.1f | %8.2f | %8.1f | %8.1f | %8.1f | %8.1f | %7.1f | %s |\n", c.slaves,
              c.frameworks, add_ms, static_cast<double>(rss_after - rss_before) / 1024.0 / static_cast<double>(c.slaves),
              median, median_cpu, sorted.front(), sorted.back(),
              rounds > 1 ? decline_ms_total / static_cast<double>(rounds - 1) : 0.0, per_round.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  size_t rounds = 5;
  size_t roles = 1;
  std::string policy = "drf";
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--rounds=", 0) == 0) {
      rounds = std::max<size_t>(1, std::stoul(arg.substr(9)));
    } else if (arg.rfind("--policy=", 0) == 0) {
      policy = arg.substr(9);
    } else if (arg.rfind("--only=", 0) == 0) {
      only = arg.substr(7);
    } else if (arg.rfind("--roles=", 0) == 0) {
      roles = std::stoul(arg.substr(8));
    } else {
      std::fprintf(stderr, "usage: %s [--rounds=N] [--policy=drf|random] [--only=SxF] [--roles=R]\n", argv[0]);
      return 2;
    }
  }
  std::vector<Config> configs = {{1000, 100}, {5000, 500}, {10000, 1000}, {20000, 2000}, {50000, 1000}};
  std::printf("DeclineOffers: policy=%s, rounds=%zu, roles=%zu\n", policy.c_str(), rounds, roles);
  std::printf("| slaves x fw    | add slaves ms | KiB/slave | cycle median ms | median CPU ms | min ms | max ms | "
              "decline ms/round | per round: ms/offers |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const Config& c : configs) {
    if (!only.empty() && only != std::to_string(c.slaves) + "x" + std::to_string(c.frameworks)) {
      continue;
    }
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      _exit(run(c, rounds, policy, roles));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "configuration %zux%zu failed\n", c.slaves, c.frameworks);
      return 1;
    }
  }
  return 0;
}
