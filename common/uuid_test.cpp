#include "common/uuid.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <regex>
#include <set>

#include <gtest/gtest.h>

namespace stoa {
namespace {

TEST(Uuid, Version4TextForm) {
  std::string u = random_uuid();
  EXPECT_TRUE(std::regex_match(u, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << u;
  EXPECT_EQ(random_uuid_bytes().size(), 16u);
}

TEST(Uuid, NoRepeatsInManyDraws) {
  std::set<std::string> seen;
  for (int i = 0; i < 100000; ++i) {
    ASSERT_TRUE(seen.insert(random_uuid_bytes()).second) << "repeat after " << i << " draws";
  }
}

// Two processes drawing at the same moment (the same parent state) get
// different ids: nothing seeded is inherited.
TEST(Uuid, ForkedProcessesDrawDifferentIds) {
  (void)random_uuid();  // any per-process state initialised before the fork
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::string u = random_uuid();
    (void)!::write(fds[1], u.data(), u.size());
    ::_exit(0);
  }
  std::string mine = random_uuid();
  char buf[64] = {};
  ssize_t n = ::read(fds[0], buf, sizeof(buf));
  ::waitpid(child, nullptr, 0);
  ::close(fds[0]);
  ::close(fds[1]);
  ASSERT_EQ(n, 36);
  EXPECT_NE(std::string(buf, 36), mine);
}

}  // namespace
}  // namespace stoa
