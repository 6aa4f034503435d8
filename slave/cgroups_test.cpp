// The cgroups v1 helpers and the cgroups/disk isolators on real children.
// Tests that need root and the v1 controllers skip with the reason.

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "slave/cgroups.hpp"
#include "slave/isolator.hpp"
#include "actors/launcher.hpp"
#include "tests/cgroups_skip.hpp"
#include "tests/poll.hpp"

namespace stoa::slave {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace stoa::tests;

const std::string& HIERARCHY = CGROUPS_HIERARCHY;

void reap(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
}

// A cgroups root of its own, removed (with whatever is in it) at the end.
class Cgroups : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.cgroups_root = "stoa_unit_" + std::to_string(::getpid()) + "_" +
                            ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    for (const char* c : {"cpu", "cpuacct", "memory", "pids", "freezer"}) {
      std::string root = cgroups::path(HIERARCHY, c, options_.cgroups_root);
      for (const std::string& child : cgroups::children(root)) {
        if (std::string(c) == "freezer") {
          cgroups::kill_all(root + "/" + child);
        }
        cgroups::remove(root + "/" + child);
      }
      cgroups::remove(root);
    }
  }
  std::string dir(const std::string& controller, const std::string& cid = "") const {
    return cgroups::path(HIERARCHY, controller, options_.cgroups_root, cid);
  }
  IsolatorOptions options_;
};

TEST(CgroupsHelpers, AMissingControllerNamesItAndTheHierarchy) {
  std::optional<Error> error = cgroups::check_mounted("/nonexistent", "memory");
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("the cgroups v1 'memory' controller is not mounted at /nonexistent/memory "
                                "(--cgroups_hierarchy=/nonexistent)"),
            std::string::npos)
      << error->message;
  if (fs::exists(HIERARCHY + "/unified/cgroup.controllers")) {
    std::optional<Error> v2 = cgroups::check_mounted(HIERARCHY + "/unified", "cpu");
    ASSERT_TRUE(v2);
    EXPECT_NE(v2->message.find("cgroups v2 is not supported"), std::string::npos) << v2->message;
  }
}

TEST(CgroupsHelpers, ReadingAMissingFileIsAnErrorNamingIt) {
  Try<uint64_t> n = cgroups::read_number("/nonexistent/cg", "memory.limit_in_bytes");
  ASSERT_TRUE(n.is_error());
  EXPECT_NE(n.error().find("/nonexistent/cg/memory.limit_in_bytes"), std::string::npos) << n.error();
  EXPECT_FALSE(cgroups::remove("/nonexistent/cg"));   // already gone: fine
  EXPECT_FALSE(cgroups::kill_all("/nonexistent/cg"));  // likewise
  EXPECT_TRUE(cgroups::children("/nonexistent/cg").empty());
}

TEST_F(Cgroups, TheFreezerKillsEveryProcessThenTheCgroupGoes) {
  STOA_REQUIRE_CGROUPS();
  const std::string d = dir("freezer", "c1");
  ASSERT_FALSE(cgroups::create(d));
  LaunchSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"};
  spec.cgroups = {d};
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_some()) << pid.error();
  // The child joined before it exec'd, so its children are in it too.
  ASSERT_TRUE(poll_until([&] { return cgroups::processes(d)->size() == 3; }, deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_EQ(cgroups::processes(d)->front(), *pid);
  EXPECT_FALSE(cgroups::kill_all(d));
  EXPECT_TRUE(cgroups::processes(d)->empty());
  reap(*pid);
  EXPECT_FALSE(cgroups::remove(d));
  EXPECT_FALSE(fs::exists(d));
  EXPECT_EQ(cgroups::children(dir("freezer")), std::vector<std::string>{});
}

TEST_F(Cgroups, JoiningACgroupThatIsNotThereFailsTheLaunchNamingIt) {
  STOA_REQUIRE_CGROUPS();
  LaunchSpec spec;
  spec.argv = {"/bin/true"};
  spec.cgroups = {dir("freezer", "missing")};
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_error());
  EXPECT_NE(pid.error().find("cannot join cgroup " + dir("freezer", "missing")), std::string::npos) << pid.error();
}

TEST_F(Cgroups, CpuSharesAndCfsQuotaFollowTheCpus) {
  STOA_REQUIRE_CGROUPS();
  options_.cgroups_enable_cfs = true;
  std::unique_ptr<Isolator> cpu = create_cgroups_cpu_isolator(options_);
  ASSERT_FALSE(cpu->prepare("c1", ContainerSpec{"", *Resources::parse("cpus:0.5")}));
  EXPECT_EQ(*cgroups::read_number(dir("cpu", "c1"), "cpu.shares"), 512U);
  EXPECT_EQ(*cgroups::read_number(dir("cpu", "c1"), "cpu.cfs_period_us"), 100000U);
  EXPECT_EQ(*cgroups::read_number(dir("cpu", "c1"), "cpu.cfs_quota_us"), 50000U);
  ASSERT_FALSE(cpu->update("c1", *Resources::parse("cpus:0.001")));
  EXPECT_EQ(*cgroups::read_number(dir("cpu", "c1"), "cpu.shares"), 2U);        // the minimum
  EXPECT_EQ(*cgroups::read_number(dir("cpu", "c1"), "cpu.cfs_quota_us"), 1000U);  // the minimum
  ResourceStatistics stats;
  ASSERT_FALSE(cpu->usage("c1", -1, *Resources::parse("cpus:0.001"), &stats));
  EXPECT_EQ(stats.cpus_user_time_secs, 0.0);
  EXPECT_EQ(stats.cpus_nr_throttled, 0U);
  EXPECT_FALSE(cpu->cleanup("c1"));
  EXPECT_FALSE(fs::exists(dir("cpu", "c1")));
  EXPECT_FALSE(cpu->cleanup("c1"));  // already gone
}

TEST_F(Cgroups, MemoryLimitReachedIsAMemoryLimitationWithUsageAndLimit) {
  STOA_REQUIRE_CGROUPS();
  std::unique_ptr<Isolator> freezer = create_cgroups_freezer_isolator(options_);
  std::unique_ptr<Isolator> mem = create_cgroups_mem_isolator(options_);
  ContainerSpec spec{"", *Resources::parse("mem:16")};
  ASSERT_FALSE(freezer->prepare("c1", spec));
  ASSERT_FALSE(mem->prepare("c1", spec));
  EXPECT_EQ(*cgroups::read_number(dir("memory", "c1"), "memory.limit_in_bytes"), 32U << 20);  // at least 32 MB
  EXPECT_EQ(*cgroups::read_number(dir("memory", "c1"), "memory.soft_limit_in_bytes"), 32U << 20);
  EXPECT_EQ(cgroups::read_stat(dir("memory", "c1"), "memory.oom_control")->at("oom_kill_disable"), 1U);
  EXPECT_FALSE(mem->limitation("c1"));
  LaunchSpec hog;
  // One process growing a string in user space: its page fault at the limit
  // waits in the OOM state (the killer is disabled). Not memory the kernel
  // fills for it: a charge at the limit inside a system call fails that call
  // instead (a pipe write with ENOMEM; dd's read of a 200 MB block from
  // /dev/zero came back short at 32 MB, once in a sanitized run), and the
  // hog could end before the cgroup ever reports under_oom.
  hog.argv = {"awk", "BEGIN { s = \"x\"; while (1) s = s s }"};
  hog.cgroups = freezer->cgroups("c1");
  for (const std::string& d : mem->cgroups("c1")) {
    hog.cgroups.push_back(d);
  }
  Try<pid_t> pid = launch(hog);
  ASSERT_TRUE(pid.is_some()) << pid.error();
  std::optional<ContainerLimitation> limitation;
  EXPECT_TRUE(poll_until([&] { return (limitation = mem->limitation("c1")).has_value(); }, deadline_in(30s)))
      << "the hog never reached its limit";
  ResourceStatistics stats;
  EXPECT_FALSE(mem->usage("c1", *pid, spec.resources, &stats));
  EXPECT_TRUE(freezer->kill("c1"));
  reap(*pid);
  ASSERT_TRUE(limitation);
  EXPECT_EQ(limitation->reason, TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY);
  EXPECT_NE(limitation->message.find("Memory limit exceeded: Requested: 32MB Maximum Used: 3"), std::string::npos)
      << limitation->message;
  EXPECT_EQ(stats.mem_limit_bytes, 32U << 20);
  EXPECT_GT(*stats.mem_total_bytes, 30U << 20);
  EXPECT_FALSE(mem->cleanup("c1"));
  EXPECT_FALSE(freezer->cleanup("c1"));
  EXPECT_FALSE(fs::exists(dir("memory", "c1")));
  EXPECT_FALSE(fs::exists(dir("freezer", "c1")));
}

TEST_F(Cgroups, PidsLimitAndCounts) {
  STOA_REQUIRE_CGROUPS();
  options_.cgroups_pids_limit = 7;
  std::unique_ptr<Isolator> pids = create_cgroups_pids_isolator(options_);
  ASSERT_FALSE(pids->prepare("c1", ContainerSpec{}));
  EXPECT_EQ(*cgroups::read(dir("pids", "c1"), "pids.max"), "7");
  LaunchSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 1000 & wait"};
  spec.cgroups = pids->cgroups("c1");
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_some()) << pid.error();
  ResourceStatistics stats;
  EXPECT_TRUE(poll_until([&] {
    pids->usage("c1", *pid, {}, &stats);
    return stats.processes == 2;
  }, deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_EQ(stats.threads, 2);
  signal_process_group(*pid, SIGKILL);
  reap(*pid);
  EXPECT_FALSE(pids->cleanup("c1"));
}

TEST_F(Cgroups, RecoveryDestroysOrphansAndKeepsKnownContainers) {
  STOA_REQUIRE_CGROUPS();
  std::unique_ptr<Isolator> freezer = create_cgroups_freezer_isolator(options_);
  ASSERT_FALSE(freezer->prepare("known", ContainerSpec{}));
  ASSERT_FALSE(freezer->prepare("orphan", ContainerSpec{}));
  LaunchSpec spec;
  spec.argv = {"/bin/sleep", "1000"};
  spec.cgroups = freezer->cgroups("orphan");
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_some()) << pid.error();
  ASSERT_FALSE(freezer->recover({RecoveredContainer{"known", "", {}}}));
  int status = 0;
  ASSERT_EQ(::waitpid(*pid, &status, 0), *pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_FALSE(fs::exists(dir("freezer", "orphan")));
  EXPECT_TRUE(fs::exists(dir("freezer", "known")));
}

TEST(DiskDu, MeasuresTheSandboxAndReportsTheQuotaOnlyWhenEnforced) {
  char tmpl[] = "/tmp/stoa-disk-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string sandbox = tmpl;
  {
    std::ofstream big(sandbox + "/big");
    big << std::string(3 << 20, 'x');
  }
  IsolatorOptions options;
  options.container_disk_watch_interval = std::chrono::milliseconds(0);
  std::unique_ptr<Isolator> lenient = create_disk_du_isolator(options);
  options.enforce_container_disk_quota = true;
  std::unique_ptr<Isolator> strict = create_disk_du_isolator(options);
  ContainerSpec spec{sandbox, *Resources::parse("disk:1")};
  ASSERT_FALSE(lenient->prepare("c1", spec));
  ASSERT_FALSE(strict->prepare("c1", spec));
  ResourceStatistics stats;
  ASSERT_FALSE(lenient->usage("c1", -1, spec.resources, &stats));
  EXPECT_GE(*stats.disk_used_bytes, 3U << 20);
  EXPECT_EQ(stats.disk_limit_bytes, 1U << 20);
  EXPECT_FALSE(lenient->limitation("c1"));
  std::optional<ContainerLimitation> limitation = strict->limitation("c1");
  ASSERT_TRUE(limitation);
  EXPECT_EQ(limitation->reason, TaskStatus::REASON_CONTAINER_LIMITATION_DISK);
  EXPECT_NE(limitation->message.find("exceeds quota (1MB)"), std::string::npos) << limitation->message;
  EXPECT_TRUE(strict->usage("unknown", -1, {}, &stats).has_value());
  EXPECT_FALSE(strict->cleanup("c1"));
  fs::remove_all(sandbox);
}

TEST(SwitchUser, AUserThatDoesNotExistIsNamed) {
  Try<UserIds> ids = lookup_user("stoa_no_such_user");
  ASSERT_TRUE(ids.is_error());
  EXPECT_EQ(ids.error(), "user 'stoa_no_such_user' does not exist");
  LaunchSpec spec;
  spec.argv = {"/bin/true"};
  spec.user = "stoa_no_such_user";
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_error());
  EXPECT_NE(pid.error().find("as user 'stoa_no_such_user': user 'stoa_no_such_user' does not exist"),
            std::string::npos)
      << pid.error();
}

TEST(SwitchUser, TheChildRunsAsTheUser) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to switch users";
  }
  char tmpl[] = "/tmp/stoa-user-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string out = std::string(tmpl) + "/out";
  LaunchSpec spec;
  spec.argv = {"/bin/sh", "-c", "id -u; id -g"};
  spec.user = "nobody";
  spec.stdout_path = out;
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_some()) << pid.error();
  reap(*pid);
  std::ifstream in(out);
  std::string uid;
  std::string gid;
  in >> uid >> gid;
  Try<UserIds> nobody = lookup_user("nobody");
  ASSERT_TRUE(nobody.is_some());
  EXPECT_EQ(uid, std::to_string(nobody->uid));
  EXPECT_EQ(gid, std::to_string(nobody->gid));
  fs::remove_all(tmpl);
}

}  // namespace
}  // namespace stoa::slave
