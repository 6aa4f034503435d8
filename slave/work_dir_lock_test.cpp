#include "slave/work_dir_lock.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace stoa::slave {
namespace {

namespace fs = std::filesystem;

class WorkDirLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "stoa-lock-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string dir_;
};

TEST_F(WorkDirLockTest, ASecondLockOnTheSameWorkDirFailsNamingThePathAndTheHolder) {
  Try<std::unique_ptr<WorkDirLock>> first = WorkDirLock::acquire(dir_);
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ((*first)->path(), dir_ + "/slave.lock");
  EXPECT_TRUE(fs::exists(dir_ + "/slave.lock"));

  // flock(2) locks belong to an open file description, so a second open in
  // this process conflicts just like another process would.
  Try<std::unique_ptr<WorkDirLock>> second = WorkDirLock::acquire(dir_);
  ASSERT_TRUE(second.is_error());
  EXPECT_NE(second.error().find(dir_), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("another slave is using it"), std::string::npos) << second.error();
  EXPECT_NE(second.error().find("pid " + std::to_string(::getpid())), std::string::npos) << second.error();
}

TEST_F(WorkDirLockTest, TheLockIsReleasedWithItsOwnerAndAStaleFileDoesNotMatter) {
  {
    Try<std::unique_ptr<WorkDirLock>> first = WorkDirLock::acquire(dir_);
    ASSERT_TRUE(first) << first.error();
  }
  // A lock file left behind (with junk in it) by a dead slave.
  std::ofstream(dir_ + "/slave.lock") << "not a pid at all, and long enough to be truncated\n";
  Try<std::unique_ptr<WorkDirLock>> again = WorkDirLock::acquire(dir_);
  ASSERT_TRUE(again) << again.error();
  std::ifstream in(dir_ + "/slave.lock");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, std::to_string(::getpid()) + "\n");
}

TEST_F(WorkDirLockTest, TheLockIsNotInheritedByExecutedChildren) {
  Try<std::unique_ptr<WorkDirLock>> lock = WorkDirLock::acquire(dir_);
  ASSERT_TRUE(lock) << lock.error();
  int flags = ::fcntl((*lock)->fd(), F_GETFD);
  ASSERT_GE(flags, 0);
  EXPECT_TRUE(flags & FD_CLOEXEC);
}

TEST_F(WorkDirLockTest, AnotherProcessHoldingTheLockIsNamedByPid) {
  int ready[2];
  int done[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(done), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Try<std::unique_ptr<WorkDirLock>> lock = WorkDirLock::acquire(dir_);
    char c = lock ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    (void)!::read(done[0], &c, 1);  // Holds the lock until the parent is done.
    ::_exit(lock ? 0 : 1);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  Try<std::unique_ptr<WorkDirLock>> mine = WorkDirLock::acquire(dir_);
  (void)!::write(done[1], "x", 1);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(mine.is_error());
  EXPECT_NE(mine.error().find("pid " + std::to_string(child)), std::string::npos) << mine.error();
  for (int fd : {ready[0], ready[1], done[0], done[1]}) {
    ::close(fd);
  }
  // The child is gone, so is its lock.
  Try<std::unique_ptr<WorkDirLock>> after = WorkDirLock::acquire(dir_);
  EXPECT_TRUE(after) << after.error();
}

TEST_F(WorkDirLockTest, UnusableWorkDirsAreErrorsNamingThePath) {
  std::ofstream(dir_ + "/file") << "x";
  // Fail for root too: a "directory" that is a regular file, one below a
  // regular file, and a /proc directory nobody may create files in.
  for (const std::string& bad : {dir_ + "/file", dir_ + "/file/sub", std::string("/proc/self"),
                                 dir_ + "/missing"}) {
    Try<std::unique_ptr<WorkDirLock>> lock = WorkDirLock::acquire(bad);
    ASSERT_TRUE(lock.is_error()) << bad;
    EXPECT_NE(lock.error().find(bad), std::string::npos) << lock.error();
    std::optional<Error> writable = check_writable(bad);
    ASSERT_TRUE(writable) << bad;
    EXPECT_NE(writable->message.find(bad), std::string::npos) << writable->message;
  }
}

TEST_F(WorkDirLockTest, AWritableDirPassesAndKeepsNoProbeFile) {
  EXPECT_FALSE(check_writable(dir_));
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace stoa::slave
