#include "common/flags.hpp"

#include <gtest/gtest.h>

namespace stoa {
namespace {

struct TestFlags : FlagsBase {
  TestFlags() {
    add(&port, "port", "Port.", 5050);
    add(&work_dir, "work_dir", "Work dir.", "/tmp/x");
    add(&hostname_lookup, "hostname_lookup", "Lookup.", true);
    add(&interval, "allocation_interval", "Interval.", std::chrono::seconds(1));
    add(&ratio, "ratio", "Ratio.", 0.5);
    add(&zk, "zk", "ZooKeeper URL.");
    check("zk", [](const std::string&) -> std::optional<std::string> { return "not supported yet"; });
    add(&registry, "registry", "Registry.", "in_memory");
    check("registry", only_supported({"in_memory"}));
  }
  int port;
  std::string work_dir;
  bool hostname_lookup;
  Duration interval;
  double ratio;
  std::optional<std::string> zk;
  std::string registry;
};

std::optional<Error> load(TestFlags& f, std::vector<const char*> args,
                          std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "prog");
  return f.load(static_cast<int>(args.size()), args.data(), env);
}

TEST(Flags, DefaultsAndValues) {
  TestFlags f;
  ASSERT_FALSE(load(f, {}));
  EXPECT_EQ(f.port, 5050);
  EXPECT_EQ(f.values().at("allocation_interval"), "1secs");
  EXPECT_EQ(f.values().at("hostname_lookup"), "true");
}

TEST(Flags, CommandLineBooleansAndDurations) {
  TestFlags f;
  ASSERT_FALSE(load(f, {"--port=0", "--no-hostname_lookup", "--allocation_interval=250ms", "--ratio=2"}));
  EXPECT_EQ(f.port, 0);
  EXPECT_FALSE(f.hostname_lookup);
  EXPECT_EQ(f.interval, std::chrono::milliseconds(250));
  EXPECT_EQ(f.values().at("allocation_interval"), "250ms");
  EXPECT_DOUBLE_EQ(f.ratio, 2.0);
}

TEST(Flags, EnvironmentStoaWinsOverMesosAndArgvWinsOverBoth) {
  TestFlags f;
  ASSERT_FALSE(load(f, {}, {{"MESOS_PORT", "1"}, {"STOA_PORT", "2"}, {"MESOS_WORK_DIR", "/w"}}));
  EXPECT_EQ(f.port, 2);
  EXPECT_EQ(f.work_dir, "/w");
  TestFlags g;
  ASSERT_FALSE(load(g, {"--port=3"}, {{"STOA_PORT", "2"}}));
  EXPECT_EQ(g.port, 3);
}

struct FrameworkFlags : FlagsBase {
  FrameworkFlags() {
    add(&ip, "ip", "IP.", "127.0.0.1");
    check("ip", ipv4_address());
    add_framework_address_flags("ip", &port, &address);
  }
  std::string ip;
  int port = 0;
  AddressFlags address;
};

TEST(Flags, AFrameworkReadsMesosLibprocessVariablesBelowItsOwnFlags) {
  FrameworkFlags f;
  std::vector<const char*> none = {"prog"};
  ASSERT_FALSE(f.load(1, none.data(),
                      {{"LIBPROCESS_IP", "10.0.0.5"},
                       {"LIBPROCESS_PORT", "9090"},
                       {"LIBPROCESS_ADVERTISE_IP", "203.0.113.7"},
                       {"LIBPROCESS_ADVERTISE_PORT", "19090"}}));
  EXPECT_EQ(f.ip, "10.0.0.5");
  EXPECT_EQ(f.port, 9090);
  EXPECT_EQ(f.address.advertise_ip, "203.0.113.7");
  EXPECT_EQ(f.address.advertise_port, "19090");
  EXPECT_EQ(effective_actor_port(f.port, f.address), 19090);
  // STOA_ and the command line win over LIBPROCESS_.
  FrameworkFlags g;
  std::vector<const char*> args = {"prog", "--port=7070"};
  ASSERT_FALSE(g.load(2, args.data(), {{"LIBPROCESS_IP", "10.0.0.5"}, {"STOA_IP", "10.0.0.6"}, {"LIBPROCESS_PORT", "9090"}}));
  EXPECT_EQ(g.ip, "10.0.0.6");
  EXPECT_EQ(g.port, 7070);
  // A bad LIBPROCESS_ value is refused, naming the variable, the flag and the value.
  FrameworkFlags h;
  std::optional<Error> e = h.load(1, none.data(), {{"LIBPROCESS_PORT", "70000"}});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("LIBPROCESS_PORT"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("'70000'"), std::string::npos) << e->message;
  EXPECT_NE(FrameworkFlags().usage("prog").find("Also read from LIBPROCESS_ADVERTISE_PORT"), std::string::npos);
}

TEST(Flags, ErrorsNameTheFlagAndValue) {
  {
    TestFlags f;
    auto e = load(f, {"--port=abc"});
    ASSERT_TRUE(e);
    EXPECT_NE(e->message.find("--port"), std::string::npos);
    EXPECT_NE(e->message.find("abc"), std::string::npos);
  }
  {
    TestFlags f;
    auto e = load(f, {"--nonexistent=1"});
    ASSERT_TRUE(e);
    EXPECT_NE(e->message.find("nonexistent"), std::string::npos);
  }
  {
    TestFlags f;
    auto e = load(f, {"--allocation_interval=5parsecs"});
    ASSERT_TRUE(e);
    EXPECT_NE(e->message.find("5parsecs"), std::string::npos);
  }
  {
    TestFlags f;
    auto e = load(f, {"--port"});
    ASSERT_TRUE(e);
  }
  {
    TestFlags f;
    auto e = load(f, {}, {{"MESOS_PORT", "x"}});
    ASSERT_TRUE(e);
    EXPECT_NE(e->message.find("MESOS_PORT"), std::string::npos);
  }
}

TEST(Flags, UnsupportedValuesAreRejected) {
  {
    TestFlags f;
    auto e = load(f, {"--zk=zk://127.0.0.1:2181/stoa"});
    ASSERT_TRUE(e);
    EXPECT_NE(e->message.find("not supported yet"), std::string::npos);
  }
  {
    TestFlags f;
    EXPECT_FALSE(load(f, {"--registry=in_memory"}));
    TestFlags g;
    auto e = load(g, {"--registry=replicated_log"});
    ASSERT_TRUE(e);
    EXPECT_NE(e->message.find("replicated_log"), std::string::npos);
  }
}

TEST(Flags, UsageListsEveryFlag) {
  TestFlags f;
  std::string u = f.usage("stoa-test");
  for (const char* n : {"--port", "--work_dir", "--[no-]hostname_lookup", "--[no-]help"}) {
    EXPECT_NE(u.find(n), std::string::npos) << n;
  }
}

TEST(Duration, ParseAndFormat) {
  EXPECT_EQ(*parse_duration("10secs"), std::chrono::seconds(10));
  EXPECT_EQ(*parse_duration("1.5secs"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*parse_duration("2mins"), std::chrono::minutes(2));
  EXPECT_TRUE(parse_duration("-1secs").is_error());
  EXPECT_TRUE(parse_duration("secs").is_error());
  EXPECT_EQ(format_duration(std::chrono::minutes(10)), "10mins");
  EXPECT_EQ(format_duration(std::chrono::milliseconds(1500)), "1500ms");
}

TEST(Duration, RejectsNegativeNonFiniteAndOverflowingValues) {
  for (const char* bad : {"-1secs", "-0.5ms", "nansecs", "infsecs", "1e3secs", "99999999999999weeks",
                          "9223372036854775808ns", "1.5.2secs", ".secs", "", "10", "10 secs", "10parsecs"}) {
    Try<Duration> d = parse_duration(bad);
    EXPECT_TRUE(d.is_error()) << bad << " parsed as " << (d ? format_duration(*d) : "");
    if (d.is_error()) {
      EXPECT_NE(d.error().find("'" + std::string(bad) + "'"), std::string::npos) << d.error();
    }
  }
  Try<Duration> huge = parse_duration("99999999999999weeks");
  ASSERT_TRUE(huge.is_error());
  EXPECT_NE(huge.error().find("too large"), std::string::npos) << huge.error();
  // The largest value that fits is fine.
  EXPECT_EQ(*parse_duration("9223372036854ms"), std::chrono::milliseconds(9223372036854LL));
  EXPECT_EQ(*parse_duration("0secs"), Duration(0));
}

TEST(Duration, FormatIsExactAndParsesBack) {
  for (int64_t ns : {0LL, 1LL, 999LL, 1000LL, 1500000LL, 1234567891LL, 1000000000000001LL, 31536000000000001LL,
                     9223372036854775807LL}) {
    std::string text = format_duration(Duration(ns));
    Try<Duration> back = parse_duration(text);
    ASSERT_TRUE(back.is_some()) << ns << " -> " << text << ": " << back.error();
    EXPECT_EQ(back->count(), ns) << text;
  }
  EXPECT_EQ(format_duration(Duration(1234567891)), "1234567891ns");
}

struct BoundedFlags : FlagsBase {
  BoundedFlags() {
    add(&timeout, "timeout", "Timeout.", std::chrono::seconds(15));
    check("timeout", positive_duration());
    add(&grace, "grace", "Grace period.", std::chrono::seconds(5));
    add(&count, "count", "Count.", 5);
    check("count", at_least(1));
    add(&keep, "keep", "Kept.", 50);
    check("keep", at_least(0));
    add(&port, "port", "Port.", 5050);
    check("port", within(0, 65535));
    add(&dir, "dir", "Dir.", "/tmp");
    check("dir", non_empty());
    add(&ip, "ip", "IP.", "127.0.0.1");
    check("ip", ipv4_address());
    add(&ratio, "ratio", "Ratio.", 0.5);
    add(&after, "after", "An optional duration.");
    check("after", duration_text());
  }
  std::optional<std::string> after;
  Duration timeout;
  Duration grace;
  int count;
  int keep;
  int port;
  std::string dir;
  std::string ip;
  double ratio;
};

// Loads `args` and expects an error whose message names `flag` and quotes `value`.
void expect_flag_error(std::vector<const char*> args, const std::string& flag, const std::string& value,
                       std::map<std::string, std::string> env = {}) {
  BoundedFlags f;
  args.insert(args.begin(), "prog");
  std::optional<Error> e = f.load(static_cast<int>(args.size()), args.data(), env);
  ASSERT_TRUE(e) << "accepted: " << (args.size() > 1 ? args.back() : "") << " " << flag;
  EXPECT_NE(e->message.find("--" + flag), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("'" + value + "'"), std::string::npos) << e->message;
}

TEST(Flags, BadValuesAreRejectedNamingTheFlagAndTheValueAsGiven) {
  expect_flag_error({"--after=soon"}, "after", "soon");
  expect_flag_error({"--after=5"}, "after", "5");
  expect_flag_error({"--timeout=0secs"}, "timeout", "0secs");
  expect_flag_error({"--timeout=0.1ns"}, "timeout", "0.1ns");
  expect_flag_error({"--timeout=-1secs"}, "timeout", "-1secs");
  expect_flag_error({"--timeout=nansecs"}, "timeout", "nansecs");
  expect_flag_error({"--timeout=99999999999999weeks"}, "timeout", "99999999999999weeks");
  expect_flag_error({"--grace=1000weeks"}, "grace", "1000weeks");  // beyond MAX_FLAG_DURATION
  expect_flag_error({"--count=0"}, "count", "0");
  expect_flag_error({"--count=-3"}, "count", "-3");
  expect_flag_error({"--keep=-1"}, "keep", "-1");
  expect_flag_error({"--port=70000"}, "port", "70000");
  expect_flag_error({"--port=-1"}, "port", "-1");
  expect_flag_error({"--port=99999999999999999999"}, "port", "99999999999999999999");
  expect_flag_error({"--port= 5"}, "port", " 5");
  expect_flag_error({"--port=5x"}, "port", "5x");
  expect_flag_error({"--port=0x10"}, "port", "0x10");
  expect_flag_error({"--count=1e3"}, "count", "1e3");
  expect_flag_error({"--dir="}, "dir", "");
  expect_flag_error({"--ip=localhost"}, "ip", "localhost");
  expect_flag_error({"--ip=300.1.1.1"}, "ip", "300.1.1.1");
  expect_flag_error({"--ip="}, "ip", "");
  expect_flag_error({"--ratio=nan"}, "ratio", "nan");
  expect_flag_error({"--ratio=inf"}, "ratio", "inf");
  expect_flag_error({"--ratio=1e400"}, "ratio", "1e400");
  expect_flag_error({"--ratio=0x10"}, "ratio", "0x10");
  // From the environment: the message also names the variable.
  BoundedFlags f;
  std::vector<const char*> args = {"prog"};
  std::optional<Error> e = f.load(1, args.data(), {{"STOA_TIMEOUT", "0ms"}});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("STOA_TIMEOUT"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("'0ms'"), std::string::npos) << e->message;
}

TEST(Flags, GoodValuesWithinTheBoundsAreAccepted) {
  BoundedFlags f;
  std::vector<const char*> args = {"prog",     "--timeout=1ns", "--grace=0secs", "--count=1",   "--keep=0",
                                   "--port=0", "--dir=/x",      "--ip=0.0.0.0",  "--ratio=-2.5", "--after=0secs"};
  std::optional<Error> e = f.load(static_cast<int>(args.size()), args.data(), {});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(f.after, "0secs");
  EXPECT_EQ(f.timeout, Duration(1));
  EXPECT_EQ(f.grace, Duration(0));
  EXPECT_EQ(f.port, 0);
  BoundedFlags g;
  std::vector<const char*> max = {"prog", "--grace=365days", "--port=65535"};
  e = g.load(static_cast<int>(max.size()), max.data(), {});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(g.grace, MAX_FLAG_DURATION);
}

TEST(Flags, AFlagGivenTwiceOnTheCommandLineIsAnError) {
  for (std::vector<const char*> args : std::vector<std::vector<const char*>>{
           {"prog", "--port=1", "--port=2"}, {"prog", "--ratio=1", "--ratio=1"}}) {
    BoundedFlags f;
    std::optional<Error> e = f.load(static_cast<int>(args.size()), args.data(), {});
    ASSERT_TRUE(e) << args[1];
    EXPECT_NE(e->message.find("twice"), std::string::npos) << e->message;
  }
  TestFlags t;
  auto e = load(t, {"--hostname_lookup", "--no-hostname_lookup"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("hostname_lookup"), std::string::npos) << e->message;
  // The environment and the command line may both give a flag: argv wins.
  BoundedFlags g;
  std::vector<const char*> args = {"prog", "--port=2"};
  ASSERT_FALSE(g.load(2, args.data(), {{"STOA_PORT", "1"}, {"MESOS_PORT", "3"}}));
  EXPECT_EQ(g.port, 2);
}

struct CrossFlags : FlagsBase {
  CrossFlags() {
    add(&low, "low", "Low.", 1);
    add(&high, "high", "High.", 2);
  }
  std::optional<Error> validate() const override {
    if (low > high) {
      return Error("Flag '--low' (" + std::to_string(low) + ") must not exceed '--high'");
    }
    return std::nullopt;
  }
  int low;
  int high;
};

TEST(Flags, ValidateRunsAfterLoading) {
  CrossFlags f;
  std::vector<const char*> args = {"prog", "--low=5"};
  std::optional<Error> e = f.load(2, args.data(), {});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("--low"), std::string::npos);
  CrossFlags g;
  std::vector<const char*> ok = {"prog", "--low=2"};
  EXPECT_FALSE(g.load(2, ok.data(), {}));
}

}  // namespace
}  // namespace stoa

namespace stoa {
namespace {
TEST(Flags, CopiesReadTheirOwnFields) {
  TestFlags* f = new TestFlags;
  std::vector<const char*> args = {"prog", "--port=7"};
  ASSERT_FALSE(f->load(2, args.data(), {}));
  TestFlags copy = *f;
  delete f;
  copy.port = 9;
  EXPECT_EQ(copy.values().at("port"), "9");
}
}  // namespace
}  // namespace stoa

namespace stoa {
namespace {

// A struct that opts in to Marathon's style.
struct MarathonStyleFlags : FlagsBase {
  MarathonStyleFlags() {
    set_style(FlagStyle{true, {"STOA_", "MARATHON_"}});
    add(&master, "master", "Master.", "");
    add(&http_port, "http_port", "Port.", 8080);
    add(&disable_ha, "disable_ha", "No HA.", false);
    add(&zk, "zk", "ZooKeeper URL.");
  }
  std::string master;
  int http_port;
  bool disable_ha;
  std::optional<std::string> zk;
};

std::optional<Error> load_style(FlagsBase& f, std::vector<const char*> args,
                                std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "prog");
  return f.load(static_cast<int>(args.size()), args.data(), env);
}

TEST(FlagStyle, SpaceSeparatedValuesWhenOptedIn) {
  MarathonStyleFlags f;
  std::optional<Error> e =
      load_style(f, {"--master", "zk://h:2181/mesos", "--zk", "zk://h:2181/marathon", "--http_port=9090"});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(f.master, "zk://h:2181/mesos");
  EXPECT_EQ(f.zk, "zk://h:2181/marathon");
  EXPECT_EQ(f.http_port, 9090);
  EXPECT_FALSE(f.disable_ha);
}

TEST(FlagStyle, ABooleanNeverTakesTheNextWord) {
  MarathonStyleFlags f;
  ASSERT_FALSE(load_style(f, {"--disable_ha", "--master", "m:5050"}));
  EXPECT_TRUE(f.disable_ha);
  EXPECT_EQ(f.master, "m:5050");
  MarathonStyleFlags g;
  std::optional<Error> e = load_style(g, {"--disable_ha", "true"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("'true'"), std::string::npos) << e->message;
  EXPECT_TRUE(g.disable_ha);
}

TEST(FlagStyle, AFlagIsNeverTakenAsAValue) {
  MarathonStyleFlags f;
  std::optional<Error> e = load_style(f, {"--master", "--zk", "zk://h:1/x"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("'--master' needs a value"), std::string::npos) << e->message;
  MarathonStyleFlags g;
  e = load_style(g, {"--http_port"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("'--http_port' needs a value"), std::string::npos) << e->message;
  // A bad value given as the next word is named as given.
  MarathonStyleFlags h;
  e = load_style(h, {"--http_port", "80x"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("Invalid value '80x' for flag '--http_port'"), std::string::npos) << e->message;
  // Twice, in either style.
  MarathonStyleFlags k;
  e = load_style(k, {"--http_port", "1", "--http_port=2"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("twice"), std::string::npos) << e->message;
}

TEST(FlagStyle, EnvironmentPrefixesOfTheStyleLaterWins) {
  MarathonStyleFlags f;
  ASSERT_FALSE(load_style(f, {}, {{"MARATHON_HTTP_PORT", "1"}, {"STOA_HTTP_PORT", "2"}, {"MESOS_MASTER", "no"},
                                  {"MARATHON_MASTER", "m:5050"}, {"MARATHON_DISABLE_HA", "true"}}));
  EXPECT_EQ(f.http_port, 1);
  EXPECT_EQ(f.master, "m:5050");  // MESOS_ is not a prefix of this struct
  EXPECT_TRUE(f.disable_ha);
  MarathonStyleFlags g;
  ASSERT_FALSE(load_style(g, {"--http_port", "3"}, {{"MARATHON_HTTP_PORT", "1"}}));
  EXPECT_EQ(g.http_port, 3);
  MarathonStyleFlags h;
  std::optional<Error> e = load_style(h, {}, {{"MARATHON_HTTP_PORT", "x"}});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("MARATHON_HTTP_PORT"), std::string::npos) << e->message;
  EXPECT_NE(h.usage("p").find("MARATHON_<NAME> or STOA_<NAME>"), std::string::npos) << h.usage("p");
  EXPECT_NE(h.usage("p").find("--http_port VALUE"), std::string::npos);
}

TEST(FlagStyle, StructsThatDoNotOptInKeepTheirBehaviour) {
  struct Plain : FlagsBase {
    Plain() {
      add(&master, "master", "Master.", "");
      add(&quiet, "quiet", "Quiet.", false);
    }
    std::string master;
    bool quiet;
  };
  Plain f;
  std::optional<Error> e = load_style(f, {"--master", "zk://x"});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "Flag '--master' needs a value (--master=VALUE)");
  Plain g;
  e = load_style(g, {"--master=zk://x", "zk://y"});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "Unexpected argument 'zk://y' (flags are --name=value)");
  Plain h;
  ASSERT_FALSE(load_style(h, {}, {{"MARATHON_MASTER", "a"}, {"MESOS_MASTER", "b"}}));
  EXPECT_EQ(h.master, "b");
  EXPECT_NE(h.usage("p").find("STOA_<NAME> or MESOS_<NAME> in the environment (the command\nline wins)"),
            std::string::npos)
      << h.usage("p");
  EXPECT_NE(h.usage("p").find("--master=VALUE"), std::string::npos);
}

}  // namespace
}  // namespace stoa

namespace stoa {
namespace {

struct BareNumberFlags : FlagsBase {
  BareNumberFlags() {
    add(&failover, "failover_timeout", "Failover.", std::chrono::hours(24 * 7), std::chrono::seconds(1));
    add(&interval, "interval", "Interval.", std::chrono::minutes(10), std::chrono::milliseconds(1));
  }
  Duration failover;
  Duration interval;
};

TEST(Flags, ADurationFlagMayTakeABareNumberInItsUnit) {
  BareNumberFlags f;
  std::vector<const char*> args = {"prog", "--failover_timeout=3600", "--interval=1.5"};
  ASSERT_FALSE(f.load(3, args.data(), {}));
  EXPECT_EQ(f.failover, std::chrono::hours(1));
  EXPECT_EQ(f.interval, std::chrono::microseconds(1500));
  BareNumberFlags g;
  args = {"prog", "--failover_timeout=2days", "--interval=5secs"};
  ASSERT_FALSE(g.load(3, args.data(), {}));
  EXPECT_EQ(g.failover, std::chrono::hours(48));
  EXPECT_EQ(g.values().at("failover_timeout"), "2days");
  for (const char* bad : {"--failover_timeout=1.2.3", "--failover_timeout=99999999999999999999",
                          "--failover_timeout=31536001", "--failover_timeout=-1", "--failover_timeout=5parsecs"}) {
    BareNumberFlags h;
    args = {"prog", bad};
    std::optional<Error> e = h.load(2, args.data(), {});
    ASSERT_TRUE(e) << bad;
    EXPECT_NE(e->message.find(std::string(bad).substr(19)), std::string::npos) << e->message;
  }
}

}  // namespace
}  // namespace stoa
