#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "slave/isolator.hpp"
#include "tests/poll.hpp"
#include "actors/launcher.hpp"

namespace stoa::slave {
namespace {

// A child in a session of its own running `command`; killed and reaped at
// the end of the test.
class Child {
 public:
  explicit Child(const std::string& command) {
    LaunchSpec spec;
    spec.argv = {"/bin/sh", "-c", command};
    Try<pid_t> launched = launch(spec);
    EXPECT_TRUE(launched.is_some()) << launched.error();
    pid = launched.is_some() ? *launched : -1;
  }
  ~Child() {
    if (pid > 0) {
      signal_process_group(pid, SIGKILL);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
  pid_t pid;
};

TEST(PosixCpuIsolator, BusyChildsCpuTimeGrowsAndItsCpusAreTheLimit) {
  std::unique_ptr<Isolator> cpu = create_posix_cpu_isolator({});
  Resources resources = *Resources::parse("cpus:1.5;mem:32");
  ASSERT_FALSE(cpu->prepare("c1", ContainerSpec{"", resources}));
  Child busy("while :; do :; done");
  ASSERT_GT(busy.pid, 0);
  ASSERT_FALSE(cpu->isolate("c1", busy.pid));
  ResourceStatistics first;
  ASSERT_FALSE(cpu->usage("c1", busy.pid, resources, &first));
  ASSERT_TRUE(first.cpus_user_time_secs && first.cpus_system_time_secs);
  EXPECT_EQ(first.cpus_limit, 1.5);
  EXPECT_EQ(first.processes, 1);
  EXPECT_FALSE(first.mem_rss_bytes);  // posix/mem's field
  // Polled with a deadline: the busy loop accrues CPU time at about 1 s/s.
  double total = 0;
  double before = *first.cpus_user_time_secs + *first.cpus_system_time_secs;
  tests::poll_until(
      [&] {
        ResourceStatistics later;
        EXPECT_FALSE(cpu->usage("c1", busy.pid, resources, &later));
        total = later.cpus_user_time_secs.value_or(0) + later.cpus_system_time_secs.value_or(0);
        return total >= before + 0.05;
      },
      tests::deadline_in(std::chrono::seconds(10)), std::chrono::milliseconds(10));
  EXPECT_GE(total, *first.cpus_user_time_secs + *first.cpus_system_time_secs + 0.05);
  EXPECT_FALSE(cpu->cleanup("c1"));
}

TEST(PosixCpuIsolator, NoProcessIsAnError) {
  std::unique_ptr<Isolator> cpu = create_posix_cpu_isolator({});
  ResourceStatistics stats;
  std::optional<Error> error = cpu->usage("c1", -1, Resources(), &stats);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("pid -1"), std::string::npos) << error->message;
}

}  // namespace
}  // namespace stoa::slave
