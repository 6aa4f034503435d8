#include "actors/user_cache.hpp"

#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

namespace stoa {
namespace {

using namespace std::chrono_literals;

struct UserCacheTest : ::testing::Test {
  UserCacheTest() {
    char tmpl[] = "/tmp/stoa-user-cache-XXXXXX";
    dir = ::mkdtemp(tmpl);
    file = dir + "/passwd";
    write("root:x:0:0\n");
  }
  ~UserCacheTest() override {
    ::unlink(file.c_str());
    ::rmdir(dir.c_str());
  }
  void write(const std::string& text) { std::ofstream(file, std::ios::trunc) << text; }

  UserCache cache() {
    return UserCache(
        [this](const std::string& user) -> Try<UserIds> {
          ++lookups;
          if (user == "ghost") {
            return Error("user 'ghost' does not exist");
          }
          UserIds ids;
          ids.uid = next_uid;
          ids.home = "/home/" + user;
          return ids;
        },
        {file}, 10s, [this] { return now; });
  }

  std::string dir;
  std::string file;
  int lookups = 0;
  uid_t next_uid = 1000;
  UserCache::Clock::time_point now{};
};

TEST_F(UserCacheTest, AnAnswerIsReusedWhileYoungAndItsFilesUnchanged) {
  UserCache c = cache();
  ASSERT_TRUE(c.get("alice"));
  next_uid = 2000;
  now += 9s;
  Try<UserIds> again = c.get("alice");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->uid, 1000u);
  EXPECT_EQ(again->home, "/home/alice");
  EXPECT_EQ(lookups, 1);
  ASSERT_TRUE(c.get("bob"));  // each user looked up once
  EXPECT_EQ(lookups, 2);
  now += 1s;  // alice's answer is 10 s old: asked again
  EXPECT_EQ(c.get("alice")->uid, 2000u);
  EXPECT_EQ(lookups, 3);
}

TEST_F(UserCacheTest, AChangedFileDropsEveryAnswer) {
  UserCache c = cache();
  ASSERT_TRUE(c.get("alice"));
  ASSERT_TRUE(c.get("bob"));
  next_uid = 3000;
  write("root:x:0:0\nalice:x:3000:3000\n");  // another size
  EXPECT_EQ(c.get("alice")->uid, 3000u);
  EXPECT_EQ(c.get("bob")->uid, 3000u);
  EXPECT_EQ(lookups, 4);
  ::unlink(file.c_str());  // gone counts as changed too
  next_uid = 4000;
  EXPECT_EQ(c.get("alice")->uid, 4000u);
  EXPECT_EQ(c.get("alice")->uid, 4000u);
  EXPECT_EQ(lookups, 5);
}

TEST_F(UserCacheTest, AFailedLookupIsNotKept) {
  UserCache c = cache();
  EXPECT_EQ(c.get("ghost").error(), "user 'ghost' does not exist");
  EXPECT_TRUE(c.get("ghost").is_error());
  EXPECT_EQ(lookups, 2);
}

TEST(UserLookup, TheCachedLookupAgreesWithTheSystem) {
  Try<UserIds> direct = lookup_user_uncached("root");
  ASSERT_TRUE(direct) << direct.error();
  for (int i = 0; i < 2; ++i) {
    Try<UserIds> cached = lookup_user("root");
    ASSERT_TRUE(cached) << cached.error();
    EXPECT_EQ(cached->uid, direct->uid);
    EXPECT_EQ(cached->gid, direct->gid);
    EXPECT_EQ(cached->groups, direct->groups);
    EXPECT_EQ(cached->home, direct->home);
  }
  EXPECT_NE(lookup_user("no-such-user-stoa").error().find("does not exist"), std::string::npos);
}

}  // namespace
}  // namespace stoa
