// stoa-execute end to end: one command through master, slave and executor.

#include <gtest/gtest.h>

#include <regex>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

TEST(ClusterExecute, EchoHelloFinishesAndWritesSandboxStdout) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();

  Try<Process*> execute = cluster.start("stoa-execute", "execute",
                                        {"--master=" + cluster.master_address(), "--name=hello",
                                         "--command=echo hello", "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(execute) << execute.error();
  std::optional<int> code = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "stoa-execute did not exit";
  EXPECT_EQ(*code, 0) << (*execute)->describe_exit();

  // State transitions in order: TASK_RUNNING before TASK_FINISHED.
  std::vector<std::string> states = (*execute)->lines_matching(std::regex(R"(\bTASK_(RUNNING|FINISHED)\b)"));
  ASSERT_FALSE(states.empty()) << "no TASK_RUNNING / TASK_FINISHED lines";
  EXPECT_TRUE(std::regex_search(states.front(), std::regex(R"(\bTASK_RUNNING\b)"))) << states.front();
  EXPECT_TRUE(std::regex_search(states.back(), std::regex(R"(\bTASK_FINISHED\b)"))) << states.back();

  // The sandbox (<work_dir>/slaves/<sid>/frameworks/<fid>/executors/<eid>/runs/<cid>/stdout) holds the output.
  std::vector<std::string> stdouts = find_files_named(cluster.slave_work_dir(0) + "/slaves", "stdout");
  ASSERT_EQ(stdouts.size(), 1U) << "expected one sandbox stdout file";
  EXPECT_TRUE(std::regex_search(stdouts[0], std::regex(R"(/slaves/[^/]+/frameworks/[^/]+/executors/[^/]+/runs/[^/]+/stdout$)")))
      << stdouts[0];
  EXPECT_TRUE(std::regex_search(read_file(stdouts[0]), std::regex("(^|\n)hello\n")))
      << stdouts[0] << " holds:\n" << read_file(stdouts[0]);
}

}  // namespace
}  // namespace stoa::tests
