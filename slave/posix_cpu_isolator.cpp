// posix/cpu: measures a container's CPU time (every live process of its
// session, from /proc/<pid>/stat) and reports its cpus as the limit. Like
// Mesos' posix/cpu it enforces nothing: only usage() is its own.

#include "slave/isolator.hpp"
#include "actors/launcher.hpp"

namespace stoa::slave {

namespace {

class PosixCpuIsolator : public Isolator {
 public:
  std::string name() const override { return "posix/cpu"; }

  std::optional<Error> usage(const std::string&, pid_t pid, const Resources& resources,
                             ResourceStatistics* stats) override {
    if (pid <= 1) {
      return Error("posix/cpu: no process to measure (pid " + std::to_string(pid) + ")");
    }
    Usage u = session_usage(pid);
    stats->cpus_user_time_secs = u.cpus_user_time_secs;
    stats->cpus_system_time_secs = u.cpus_system_time_secs;
    stats->cpus_limit = resources.scalar("cpus");
    stats->processes = u.processes;
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<Isolator> create_posix_cpu_isolator(const IsolatorOptions&) {
  return std::make_unique<PosixCpuIsolator>();
}

}  // namespace stoa::slave
