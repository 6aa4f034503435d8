#include "common/io.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace stoa {
namespace {

std::string read_file(int fd) {
  std::string out(256, '\0');
  ssize_t n = ::pread(fd, out.data(), out.size(), 0);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

class Io : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/stoa-io-test-XXXXXX";
    fd_ = ::mkstemp(path);
    ASSERT_GE(fd_, 0);
    ::unlink(path);
  }
  void TearDown() override { ::close(fd_); }
  int fd_ = -1;
};

TEST_F(Io, WriteAllAppendsAtTheFilePosition) {
  ASSERT_TRUE(write_all(fd_, "hello "));
  ASSERT_TRUE(write_all(fd_, "world"));
  ASSERT_TRUE(write_all(fd_, ""));
  EXPECT_EQ(read_file(fd_), "hello world");
}

TEST_F(Io, PwriteAllWritesAtTheOffsetAndLeavesThePosition) {
  ASSERT_TRUE(write_all(fd_, "abcdef"));
  ASSERT_TRUE(pwrite_all(fd_, "XY", 2));
  EXPECT_EQ(read_file(fd_), "abXYef");
  EXPECT_EQ(::lseek(fd_, 0, SEEK_CUR), 6);
}

TEST_F(Io, WriteAllFailsWithErrnoOnABadDescriptor) {
  errno = 0;
  EXPECT_FALSE(write_all(-1, "x"));
  EXPECT_EQ(errno, EBADF);
  errno = 0;
  EXPECT_FALSE(pwrite_all(-1, "x", 0));
  EXPECT_EQ(errno, EBADF);
}

TEST(IoPipe, WriteAllDeliversMoreThanOnePipeBufferWhenTheReaderDrains) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const std::string big(1 << 20, 'z');  // beyond the 64 KiB pipe buffer: short writes
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    ::_exit(write_all(fds[1], big) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string got;
  char buf[65536];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) != 0;) {
    if (n < 0 && errno == EINTR) {
      continue;
    }
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(got, big);
}

// send_all: every byte to a socket whose reader drains it; a peer that is
// gone is EPIPE, not a SIGPIPE that would end this process.
TEST(IoSocket, SendAllDeliversAndAGonePeerIsAnErrorNotASignal) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  const std::string data(300 * 1024, 'x');
  std::string got;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(sv[1], buf, sizeof(buf))) > 0) {
      got.append(buf, static_cast<size_t>(n));
    }
  });
  EXPECT_TRUE(send_all(sv[0], data));
  ::shutdown(sv[0], SHUT_WR);
  reader.join();
  EXPECT_EQ(got, data);
  ::close(sv[1]);
  errno = 0;
  EXPECT_FALSE(send_all(sv[0], "late"));
  EXPECT_EQ(errno, EPIPE);
  ::close(sv[0]);
}

}  // namespace
}  // namespace stoa
