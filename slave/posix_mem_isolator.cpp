// posix/mem: measures a container's resident memory (every live process of
// its session, from /proc/<pid>/stat) and reports its mem as the limit. Like
// Mesos' posix/mem it enforces nothing: only usage() is its own.

#include "slave/isolator.hpp"
#include "actors/launcher.hpp"

namespace stoa::slave {

namespace {

class PosixMemIsolator : public Isolator {
 public:
  std::string name() const override { return "posix/mem"; }

  std::optional<Error> usage(const std::string&, pid_t pid, const Resources& resources,
                             ResourceStatistics* stats) override {
    if (pid <= 1) {
      return Error("posix/mem: no process to measure (pid " + std::to_string(pid) + ")");
    }
    Usage u = session_usage(pid);
    stats->mem_rss_bytes = u.mem_rss_bytes;
    stats->mem_limit_bytes = static_cast<uint64_t>(resources.scalar("mem") * 1024 * 1024);
    stats->processes = u.processes;
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<Isolator> create_posix_mem_isolator(const IsolatorOptions&) {
  return std::make_unique<PosixMemIsolator>();
}

}  // namespace stoa::slave
