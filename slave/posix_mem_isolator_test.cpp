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

TEST(PosixMemIsolator, ChildHasResidentMemoryAndItsMemIsTheLimit) {
  std::unique_ptr<Isolator> mem = create_posix_mem_isolator({});
  Resources resources = *Resources::parse("cpus:1;mem:64");
  ASSERT_FALSE(mem->prepare("c1", ContainerSpec{"", resources}));
  LaunchSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 100 & wait"};  // the shell and its sleep, one session
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_some()) << pid.error();
  ASSERT_FALSE(mem->isolate("c1", *pid));
  // Sampled until the freshly exec'd shell has pages resident (at the very
  // start /proc may still show 0), within a deadline.
  ResourceStatistics stats;
  std::optional<Error> error;
  tests::poll_until(
      [&] {
        stats = ResourceStatistics{};
        error = mem->usage("c1", *pid, resources, &stats);
        return error || (stats.mem_rss_bytes && *stats.mem_rss_bytes > 100u * 1024);
      },
      tests::deadline_in(std::chrono::seconds(10)), std::chrono::milliseconds(5));
  signal_process_group(*pid, SIGKILL);
  int status = 0;
  ::waitpid(*pid, &status, 0);
  ASSERT_FALSE(error) << error->message;
  ASSERT_TRUE(stats.mem_rss_bytes);
  EXPECT_GT(*stats.mem_rss_bytes, 100u * 1024);  // a shell has well over 100 KiB resident
  EXPECT_EQ(stats.mem_limit_bytes, 64u * 1024 * 1024);
  ASSERT_TRUE(stats.processes);
  EXPECT_GE(*stats.processes, 1);
  EXPECT_FALSE(stats.cpus_user_time_secs);  // posix/cpu's field
  EXPECT_FALSE(mem->cleanup("c1"));
}

TEST(PosixMemIsolator, NoProcessIsAnError) {
  std::unique_ptr<Isolator> mem = create_posix_mem_isolator({});
  ResourceStatistics stats;
  std::optional<Error> error = mem->usage("c1", 0, Resources(), &stats);
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("posix/mem"), std::string::npos) << error->message;
}

}  // namespace
}  // namespace stoa::slave
