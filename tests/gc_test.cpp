// Garbage collection on a real cluster: with --gc_delay=2secs, 1,000 short
// tasks (200 in a sanitized build; the example framework, many in flight)
// leave no sandbox and no meta run dir behind once the delay has passed,
// while a long-running task's sandbox stays untouched; /slave(1)/gc and the gc metrics report it.

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "tests/cluster.hpp"
#include "tests/poll.hpp"

namespace stoa::tests {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// 1,000 as the issue asks; 200 in a sanitized build, where each ASan executor
// start costs ~0.2 s of CPU (the 1,000 took 206 s of CI's budget there) and
// 200 take the same code paths.
constexpr int TASKS = SANITIZED_BUILD ? 200 : 1000;

// Every run directory below `root` (".../executors/<eid>/runs/<cid>", the
// `latest` links excluded). A walk that meets a directory the collector
// removes under it fails and is made again: the partial list it had could
// hold one run that is not the sleeper's and look like the end state (seen
// under ASan).
std::vector<std::string> run_dirs(const std::string& root) {
  for (int attempt = 1;; ++attempt) {
    std::vector<std::string> out;
    std::error_code ec;
    if (!fs::exists(root, ec)) {
      return out;
    }
    auto it = fs::recursive_directory_iterator(root, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& p = it->path();
      if (p.parent_path().filename() == "runs" && p.filename() != "latest" && !it->is_symlink(ec) && !ec) {
        out.push_back(p.string());
      }
    }
    if (!ec || attempt == 100) {
      return out;
    }
  }
}

TEST(ClusterGc, AThousandTasksLeaveNoSandboxBehindAndARunningTaskKeepsItsOwn) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute", "stoa-example-framework");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  Try<Process*> slave = cluster.start_slave("cpus:4;mem:4096;disk:1000;ports:[31000-32000]",
                                            {"--gc_delay=2secs", "--disk_watch_interval=1secs"});
  ASSERT_TRUE(slave) << slave.error();
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  const std::string work_dir = cluster.slave_work_dir(0);
  const int sport = cluster.slave_port(0);

  // The long-running task, and its sandbox.
  Try<Process*> sleeper = cluster.start("stoa-execute", "sleeper",
                                        {"--master=" + cluster.master_address(), "--name=sleeper",
                                         "--command=echo sleeping; sleep 600", "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(sleeper) << sleeper.error();
  std::string sleeper_dir;
  ASSERT_TRUE(poll_until([&] {
    std::vector<std::string> runs = run_dirs(work_dir + "/slaves");
    if (runs.size() == 1 && fs::exists(runs[0] + "/stdout")) {
      sleeper_dir = runs[0];
      return true;
    }
    return false;
  }, deadline_in(DEFAULT_TIMEOUT))) << "the long-running task's sandbox did not appear";

  Try<Process*> framework = cluster.start("stoa-example-framework", "framework",
                                          {"--master=" + cluster.master_address(), "--tasks=" + std::to_string(TASKS),
                                           "--command=true", "--task_resources=cpus:0.1;mem:16"});
  ASSERT_TRUE(framework) << framework.error();
  // ~20 s here; several times that under the sanitizers.
  std::optional<int> code = (*framework)->wait_exit(deadline_in(300s));
  ASSERT_TRUE(code) << "the framework did not finish its " << TASKS << " tasks";
  EXPECT_EQ(*code, 0) << (*framework)->describe_exit();

  // Two seconds after each executor was archived its sandbox goes: only the
  // sleeper's run is left, and no meta run dir at all.
  std::vector<std::string> left;
  bool clean = poll_until([&] {
    left = run_dirs(work_dir + "/slaves");
    return left.size() == 1 && run_dirs(work_dir + "/meta").empty();
  }, deadline_in(30s));
  EXPECT_TRUE(clean) << left.size() << " run dirs left, e.g. " << (left.empty() ? "" : left[0]);
  ASSERT_FALSE(left.empty());
  EXPECT_EQ(left[0], sleeper_dir);
  EXPECT_NE(read_file(sleeper_dir + "/stdout").find("sleeping"), std::string::npos);
  EXPECT_TRUE((*sleeper)->running()) << "the long-running task's client ended";

  Try<picojson::value> metrics = http_get_json("127.0.0.1", sport, "/metrics/snapshot");
  ASSERT_TRUE(metrics) << metrics.error();
  EXPECT_GE(json_number(json_at(*metrics, "gc/path_removals_succeeded")), TASKS);
  EXPECT_EQ(json_number(json_at(*metrics, "gc/path_removals_failed")), 0);
  Try<picojson::value> gc = http_get_json("127.0.0.1", sport, "/slave(1)/gc");
  ASSERT_TRUE(gc) << gc.error();
  EXPECT_EQ(json_number(json_at(*gc, "gc_delay_secs")), 2);
  for (const picojson::value& e : json_array(json_at(*gc, "scheduled"))) {
    EXPECT_EQ(json_string(json_at(e, "path")).find(sleeper_dir), std::string::npos);
  }
}

}  // namespace
}  // namespace stoa::tests
