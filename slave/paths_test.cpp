#include "slave/paths.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace stoa::slave {
namespace {

namespace fs = std::filesystem;

class PathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "stoa-paths-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string dir_;
};

TEST(Paths, MesosSandboxAndMetaLayout) {
  EXPECT_EQ(sandbox_path("/w", "S1", "F1", "E1", "C1"), "/w/slaves/S1/frameworks/F1/executors/E1/runs/C1");
  EXPECT_EQ(sandbox_path("/w/", "S1", "F1", "E1", "C1"), "/w/slaves/S1/frameworks/F1/executors/E1/runs/C1");
  EXPECT_EQ(latest_run_path("/w", "S1", "F1", "E1"), "/w/slaves/S1/frameworks/F1/executors/E1/runs/latest");
  EXPECT_EQ(virtual_sandbox_path("F1", "E1"), "/frameworks/F1/executors/E1/runs/latest");
  EXPECT_EQ(slave_meta_path("/w", "S1"), "/w/meta/slaves/S1");
  EXPECT_EQ(latest_slave_meta_path("/w"), "/w/meta/slaves/latest");
  EXPECT_EQ(slave_info_path("/w", "S1"), "/w/meta/slaves/S1/slave.info");
  EXPECT_EQ(framework_meta_path("/w", "S1", "F1"), "/w/meta/slaves/S1/frameworks/F1");
  EXPECT_EQ(executor_meta_path("/w", "S1", "F1", "E1"), "/w/meta/slaves/S1/frameworks/F1/executors/E1");
  EXPECT_EQ(forked_pid_path("/w", "S1", "F1", "E1", "C1"),
            "/w/meta/slaves/S1/frameworks/F1/executors/E1/runs/C1/pids/forked.pid");
  EXPECT_EQ(task_meta_path("/w", "S1", "F1", "E1", "C1", "T1"),
            "/w/meta/slaves/S1/frameworks/F1/executors/E1/runs/C1/tasks/T1");
}

TEST(Paths, CheckpointFilesOfMesosLayout) {
  const std::string run = "/w/meta/slaves/S1/frameworks/F1/executors/E1/runs/C1";
  EXPECT_EQ(framework_info_path("/w", "S1", "F1"), "/w/meta/slaves/S1/frameworks/F1/framework.info");
  EXPECT_EQ(framework_pid_path("/w/", "S1", "F1"), "/w/meta/slaves/S1/frameworks/F1/framework.pid");
  EXPECT_EQ(executor_info_path("/w", "S1", "F1", "E1"),
            "/w/meta/slaves/S1/frameworks/F1/executors/E1/executor.info");
  EXPECT_EQ(latest_run_meta_path("/w", "S1", "F1", "E1"), "/w/meta/slaves/S1/frameworks/F1/executors/E1/runs/latest");
  EXPECT_EQ(run_meta_path("/w", "S1", "F1", "E1", "C1"), run);
  EXPECT_EQ(libprocess_pid_path("/w", "S1", "F1", "E1", "C1"), run + "/pids/libprocess.pid");
  EXPECT_EQ(executor_sentinel_path("/w", "S1", "F1", "E1", "C1"), run + "/executor.sentinel");
  EXPECT_EQ(task_info_path("/w", "S1", "F1", "E1", "C1", "T1"), run + "/tasks/T1/task.info");
  EXPECT_EQ(task_updates_path("/w", "S1", "F1", "E1", "C1", "T1"), run + "/tasks/T1/task.updates");
  // Relative work dirs stay relative.
  EXPECT_EQ(framework_info_path("w", "S1", "F1"), "w/meta/slaves/S1/frameworks/F1/framework.info");
}

TEST(Paths, IdsMustBeSinglePathComponents) {
  EXPECT_FALSE(validate_path_id("Task id", "task-1.a_b"));
  const std::string bad_ids[] = {"", ".", "..", "a/b", "/abs", "latest", std::string("a\0b", 3)};
  for (const std::string& bad : bad_ids) {
    std::optional<Error> error = validate_path_id("Task id", bad);
    ASSERT_TRUE(error) << bad;
    EXPECT_NE(error->message.find("Task id"), std::string::npos) << error->message;
  }
}

TEST_F(PathsTest, MkdirsCreatesEveryLevelAndIsIdempotent) {
  std::string deep = dir_ + "/a/b/c";
  Try<bool> made = mkdirs(deep);
  ASSERT_TRUE(made) << made.error();
  EXPECT_TRUE(*made);
  EXPECT_TRUE(fs::is_directory(deep));
  made = mkdirs(deep);
  ASSERT_TRUE(made) << made.error();
  EXPECT_FALSE(*made);
  made = mkdirs(deep + "/");
  ASSERT_TRUE(made) << made.error();
}

TEST_F(PathsTest, MkdirsThroughAFileIsAnErrorNamingThePath) {
  std::ofstream(dir_ + "/file") << "x";
  Try<bool> made = mkdirs(dir_ + "/file/sub");
  ASSERT_TRUE(made.is_error());
  EXPECT_NE(made.error().find(dir_ + "/file"), std::string::npos) << made.error();
}

TEST_F(PathsTest, MkdirsReportsErrno) {
  // A component longer than NAME_MAX fails for every user, root included.
  std::string too_long = dir_ + "/" + std::string(300, 'x');
  Try<bool> made = mkdirs(too_long + "/sub");
  ASSERT_TRUE(made.is_error());
  EXPECT_NE(made.error().find(too_long), std::string::npos) << made.error();
  EXPECT_NE(made.error().find("File name too long"), std::string::npos) << made.error();
}

TEST_F(PathsTest, CreateSandboxMakesTheRunDirAndPointsLatestAtIt) {
  Try<std::string> first = create_sandbox(dir_, "S1", "F1", "E1", "C1");
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(*first, sandbox_path(dir_, "S1", "F1", "E1", "C1"));
  EXPECT_TRUE(fs::is_directory(*first));
  std::string latest = latest_run_path(dir_, "S1", "F1", "E1");
  EXPECT_EQ(fs::read_symlink(latest), "C1");
  EXPECT_EQ(fs::canonical(latest), fs::canonical(*first));

  Try<std::string> second = create_sandbox(dir_, "S1", "F1", "E1", "C2");
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(fs::read_symlink(latest), "C2");
  EXPECT_TRUE(fs::is_directory(*first)) << "the earlier run stays";
  // No temporary symlinks left behind.
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(latest).parent_path())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 3U);  // C1, C2, latest
}

// A new executor's sandbox below a framework seen before costs three mkdir
// calls (the executor, runs, the run), none failing; a framework directory
// removed since (GC) is made again.
TEST_F(PathsTest, DirectoryCacheMakesOnlyMissingComponents) {
  auto framework_path = [](const std::string& work_dir, const std::string& sid, const std::string& fid) {
    return fs::path(executor_path(work_dir, sid, fid, "E")).parent_path().parent_path().string();
  };
  DirectoryCache cache;
  DirectoryCache::Stats first;
  ASSERT_TRUE(cache.make(sandbox_path(dir_, "S1", "F1", "E1", "C1"), &first));
  EXPECT_TRUE(fs::is_directory(sandbox_path(dir_, "S1", "F1", "E1", "C1")));
  DirectoryCache::Stats second;
  Try<bool> made = cache.make(sandbox_path(dir_, "S1", "F1", "E2", "C2"), &second);
  ASSERT_TRUE(made) << made.error();
  EXPECT_TRUE(*made);
  EXPECT_EQ(second.mkdir_calls, 3);
  EXPECT_EQ(second.failed, 0);
  EXPECT_TRUE(fs::is_directory(sandbox_path(dir_, "S1", "F1", "E2", "C2")));

  fs::remove_all(framework_path(dir_, "S1", "F1"));
  Try<std::string> again = create_sandbox(dir_, "S1", "F1", "E3", "C3", &cache);
  ASSERT_TRUE(again) << again.error();
  EXPECT_TRUE(fs::is_directory(*again));
  DirectoryCache::Stats after;
  ASSERT_TRUE(cache.make(sandbox_path(dir_, "S1", "F1", "E4", "C4"), &after));
  EXPECT_EQ(after.mkdir_calls, 3);
  EXPECT_EQ(after.failed, 0);

  // A file where a remembered directory was is an error naming it.
  fs::remove_all(framework_path(dir_, "S1", "F1"));
  std::ofstream(framework_path(dir_, "S1", "F1")) << "x";
  Try<bool> blocked = cache.make(sandbox_path(dir_, "S1", "F1", "E5", "C5"));
  ASSERT_TRUE(blocked.is_error());
  EXPECT_NE(blocked.error().find(framework_path(dir_, "S1", "F1")), std::string::npos) << blocked.error();
}

TEST_F(PathsTest, CreateSandboxRejectsBadIdsAndUnwritableRoots) {
  Try<std::string> bad = create_sandbox(dir_, "S1", "../escape", "E1", "C1");
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("Framework id"), std::string::npos) << bad.error();
  EXPECT_FALSE(fs::exists(dir_ + "/slaves"));

  std::ofstream(dir_ + "/file") << "x";
  Try<std::string> blocked = create_sandbox(dir_ + "/file", "S1", "F1", "E1", "C1");
  ASSERT_TRUE(blocked.is_error());
  EXPECT_NE(blocked.error().find(dir_ + "/file"), std::string::npos) << blocked.error();
}

TEST_F(PathsTest, DetectResourcesHonoursTheFlag) {
  Try<Resources> r = detect_resources("cpus:4;mem:4096", dir_);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->scalar("cpus"), 4.0);
  EXPECT_EQ(r->scalar("mem"), 4096.0);
  EXPECT_GT(r->scalar("disk"), 0.0);  // Probed.
  ASSERT_EQ(r->ranges("ports").size(), 1U);
  EXPECT_EQ(r->ranges("ports")[0], (Range{31000, 32000}));

  r = detect_resources("cpus:2;mem:1024;disk:1000;ports:[5000-5001]", dir_);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(*r, *Resources::parse("cpus:2;mem:1024;disk:1000;ports:[5000-5001]"));

  // A reserved amount counts as given: nothing is probed for that name.
  r = detect_resources("cpus(web):1", dir_);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->scalar("cpus"), 1.0);
}

TEST_F(PathsTest, DetectResourcesProbesWhatTheFlagLeavesOut) {
  Try<Resources> r = detect_resources("", dir_ + "/not/yet/created");
  ASSERT_TRUE(r) << r.error();
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  EXPECT_EQ(r->scalar("cpus"), static_cast<double>(cpus > 0 ? cpus : 1));

  const double total_mb = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE) / (1024 * 1024);
  const double expected_mem = total_mb >= 2048 ? total_mb - 1024 : total_mb / 2;
  EXPECT_NEAR(r->scalar("mem"), expected_mem, 1.0);

  const double fs_mb = static_cast<double>(fs::space(dir_).capacity) / (1024 * 1024);
  const double expected_disk = fs_mb >= 10240 ? fs_mb - 5120 : fs_mb / 2;
  EXPECT_NEAR(r->scalar("disk"), expected_disk, 1.0);
  EXPECT_EQ(r->ranges("ports"), (std::vector<Range>{{31000, 32000}}));
}

TEST_F(PathsTest, DetectResourcesRejectsBadFlagText) {
  for (const std::string bad : {"cpus:-1", "cpus", "cpus:abc", "ports:[2-1]", "mem:1;mem:[1-2]", "gpus:1.5",
                                "ports:31000", "ports:{1,2}", "ports:[1-99999999999]", "ports:[1-10, 5-6]",
                                "cpus:nan", "mem:1e400", ":1"}) {
    Try<Resources> r = detect_resources(bad, dir_);
    ASSERT_TRUE(r.is_error()) << bad;
    EXPECT_NE(r.error().find("'" + bad + "'"), std::string::npos) << r.error();
  }
}

}  // namespace
}  // namespace stoa::slave
