// The master's flags that have rules of their own: --slave_removal_rate_limit.
#include "master/master_flags.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace stoa::master {
namespace {

std::optional<Error> load(const std::string& flag) {
  MasterFlags flags;
  const char* argv[] = {"stoa-master", flag.c_str()};
  return flags.load(2, argv, {});
}

TEST(MasterFlagsTest, SlaveRemovalRateLimitTakesMesosSyntax) {
  Try<RateLimit> r = parse_rate_limit("1/20mins");
  ASSERT_TRUE(r.is_some()) << r.error();
  EXPECT_EQ(r->permits, 1);
  EXPECT_EQ(r->per, std::chrono::minutes(20));
  r = parse_rate_limit("5/1secs");
  ASSERT_TRUE(r.is_some()) << r.error();
  EXPECT_EQ(r->permits, 5);
  EXPECT_EQ(r->per, std::chrono::seconds(1));
  EXPECT_FALSE(load("--slave_removal_rate_limit=2/10mins"));
  MasterFlags unset;
  const char* argv[] = {"stoa-master"};
  ASSERT_FALSE(unset.load(1, argv, {}));
  EXPECT_FALSE(unset.slave_removal_rate_limit.has_value());
}

TEST(MasterFlagsTest, BadSlaveRemovalRateLimitsAreRefusedNamingTheValue) {
  for (const char* bad : {"", "1", "/20mins", "0/20mins", "-1/20mins", "x/20mins", "1/", "1/20", "1/0secs",
                          "1/-5secs", "1/soon", "99999999999/1secs", "1/20mins/3"}) {
    std::optional<Error> e = load(std::string("--slave_removal_rate_limit=") + bad);
    ASSERT_TRUE(e.has_value()) << "'" << bad << "' was accepted";
    EXPECT_NE(e->message.find("Invalid value '" + std::string(bad) + "' for flag '--slave_removal_rate_limit'"),
              std::string::npos)
        << e->message;
  }
}

TEST(MasterFlagsTest, WebuiDirMustBeADirectory) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("stoa-webui-flag-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "file.txt") << "x";
  MasterFlags flags;
  std::string good = "--webui_dir=" + dir.string();
  const char* argv[] = {"stoa-master", good.c_str(), "--webui_read_only"};
  ASSERT_FALSE(flags.load(3, argv, {}));
  EXPECT_EQ(flags.webui_dir, dir.string());
  EXPECT_TRUE(flags.webui_read_only);
  EXPECT_EQ(flags.values().at("webui_read_only"), "true");
  for (const std::string& bad : {(dir / "missing").string(), (dir / "file.txt").string(), std::string()}) {
    std::optional<Error> e = load("--webui_dir=" + bad);
    ASSERT_TRUE(e.has_value()) << "'" << bad << "' was accepted";
    EXPECT_NE(e->message.find("Invalid value '" + bad + "' for flag '--webui_dir'"), std::string::npos)
        << e->message;
  }
  MasterFlags unset;
  const char* none[] = {"stoa-master"};
  ASSERT_FALSE(unset.load(1, none, {}));
  EXPECT_FALSE(unset.webui_dir.has_value());
  EXPECT_FALSE(unset.webui_read_only);
  EXPECT_EQ(unset.values().at("webui_read_only"), "false");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace stoa::master
