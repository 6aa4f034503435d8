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

// --advertise_ip, --advertise_port and --actor_port (docs/multi-host.md).
std::optional<Error> load_args(MasterFlags& flags, std::vector<const char*> args) {
  args.insert(args.begin(), "stoa-master");
  return flags.load(static_cast<int>(args.size()), args.data(), {});
}

TEST(MasterFlagsTest, ActorPortDefaultsToTheHttpPortPlusTheOffset) {
  MasterFlags defaults;
  ASSERT_FALSE(load_args(defaults, {}));
  EXPECT_EQ(defaults.port, 5050);
  EXPECT_EQ(effective_actor_port(defaults.port, defaults.address), 15050);
  EXPECT_EQ(effective_advertise_port(defaults.address), 0);
  EXPECT_FALSE(defaults.address.advertise_ip.has_value());
  MasterFlags picked;
  ASSERT_FALSE(load_args(picked, {"--port=0"}));
  EXPECT_EQ(effective_actor_port(picked.port, picked.address), 0);  // OS-picked, as the HTTP port
  MasterFlags high;
  ASSERT_FALSE(load_args(high, {"--port=40000"}));
  EXPECT_EQ(effective_actor_port(high.port, high.address), 0);  // would land in the ephemeral range
  EXPECT_EQ(default_actor_port(22767), 32767);
  EXPECT_EQ(default_actor_port(22768), 0);
  MasterFlags given;
  std::optional<Error> e = load_args(
      given, {"--ip=0.0.0.0", "--port=5050", "--actor_port=6060", "--advertise_ip=10.1.2.3", "--advertise_port=8050"});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(effective_actor_port(given.port, given.address), 6060);
  EXPECT_EQ(effective_advertise_port(given.address), 8050);
  EXPECT_EQ(*given.address.advertise_ip, "10.1.2.3");
  MasterFlags zero;
  ASSERT_FALSE(load_args(zero, {"--actor_port=0"}));
  EXPECT_EQ(effective_actor_port(zero.port, zero.address), 0);
}

TEST(MasterFlagsTest, BadAddressFlagsAreRefusedNamingTheValue) {
  struct Case {
    std::vector<const char*> args;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {{"--actor_port=70000"}, "Invalid value '70000' for flag '--actor_port': must be a port number within 0..65535"},
           {{"--actor_port=-1"}, "Invalid value '-1' for flag '--actor_port'"},
           {{"--actor_port=x"}, "Invalid value 'x' for flag '--actor_port'"},
           {{"--actor_port="}, "Invalid value '' for flag '--actor_port'"},
           {{"--advertise_port=0"}, "Invalid value '0' for flag '--advertise_port': must be a port number within 1..65535"},
           {{"--advertise_port=65536"}, "Invalid value '65536' for flag '--advertise_port'"},
           {{"--advertise_ip=master.example"}, "Invalid value 'master.example' for flag '--advertise_ip': not an IPv4 address"},
           {{"--advertise_ip=10.0.0.300"}, "Invalid value '10.0.0.300' for flag '--advertise_ip'"},
           {{"--advertise_ip=0.0.0.0"}, "Invalid value '0.0.0.0' for flag '--advertise_ip': must be an address others can reach"},
           {{"--ip=0.0.0.0.0"}, "Invalid value '0.0.0.0.0' for flag '--ip'"},
           {{"--port=6000", "--actor_port=6000"}, "Flag '--actor_port=6000' is the same port as '--port=6000'"},
           {{"--port=6000", "--actor_port=16000", "--port=7000"}, "--port"},
       }) {
    MasterFlags flags;
    std::optional<Error> e = load_args(flags, c.args);
    ASSERT_TRUE(e.has_value()) << c.args[0] << " was accepted";
    EXPECT_NE(e->message.find(c.expected), std::string::npos) << e->message;
  }
}

}  // namespace
}  // namespace stoa::master
