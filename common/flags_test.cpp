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
