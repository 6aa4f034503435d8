#include "actors/upid.hpp"

#include <gtest/gtest.h>

namespace stoa {
namespace {

TEST(Upid, ParsesAndFormats) {
  Try<Upid> u = parse_upid("slave(1)@10.0.0.2:5051");
  ASSERT_TRUE(u.is_some()) << u.error();
  EXPECT_EQ(u->id, "slave(1)");
  EXPECT_EQ(u->host, "10.0.0.2");
  EXPECT_EQ(u->port, 5051);
  EXPECT_EQ(u->str(), "slave(1)@10.0.0.2:5051");
  EXPECT_EQ(parse_upid("scheduler-1f0e@h:1")->id, "scheduler-1f0e");
}

TEST(Upid, BadTextNamesTheInput) {
  for (const char* bad : {"master127.0.0.1:5050", "@127.0.0.1:5050", "master@:5050",
                          "master@127.0.0.1", "master@127.0.0.1:", "master@127.0.0.1:abc",
                          "master@127.0.0.1:70000", "master@1.2.3.4:-1", "mas ter@h:1"}) {
    Try<Upid> u = parse_upid(bad);
    ASSERT_TRUE(u.is_error()) << bad;
    EXPECT_NE(u.error().find(bad), std::string::npos) << u.error();
  }
}

TEST(Upid, MasterAddressForms) {
  EXPECT_EQ(parse_master_address("127.0.0.1:5050")->str(), "master@127.0.0.1:5050");
  EXPECT_EQ(parse_master_address("http://127.0.0.1:5050/")->str(), "master@127.0.0.1:5050");
  EXPECT_EQ(parse_master_address("master@127.0.0.1:5050")->str(), "master@127.0.0.1:5050");
  EXPECT_TRUE(parse_master_address("127.0.0.1").is_error());
  Try<Upid> zk = parse_master_address("zk://127.0.0.1:2181/mesos");
  ASSERT_TRUE(zk.is_error());
  EXPECT_NE(zk.error().find("not supported yet"), std::string::npos);
}

// Found by the UPID fuzzer: a host with white space or control bytes was
// accepted by parse_master_address() though parse_upid() refuses it.
TEST(Upid, BothParsersRefuseHostsWithWhitespaceOrControlBytes) {
  std::string nul_host("127.0.0.\0 \x08:65530", 17);
  for (const std::string& bad : {nul_host, std::string("a b:5050"), std::string("host/x:5050"),
                                 std::string("http://h\tx:5050"), std::string("m@h\x01st:1")}) {
    Try<Upid> u = parse_master_address(bad);
    EXPECT_TRUE(u.is_error()) << "accepted " << u->str();
    if (u.is_error()) {
      for (char c : u.error()) {
        EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "unprintable byte in the error: " << u.error();
      }
    }
  }
  // Every address either parser accepts reads back the same through parse_upid.
  for (const std::string& good : {std::string("127.0.0.1:5050"), std::string("master@10.0.0.1:5050"),
                                  std::string("host-1.example_x:1"), std::string("[::1]:5050")}) {
    Try<Upid> u = parse_master_address(good);
    ASSERT_TRUE(u.is_some()) << good << ": " << u.error();
    Try<Upid> back = parse_upid(u->str());
    ASSERT_TRUE(back.is_some()) << u->str() << ": " << back.error();
    EXPECT_EQ(back->str(), u->str());
    EXPECT_EQ(back->host, u->host);
  }
  EXPECT_EQ(parse_upid("master@[::1]:5050")->str(), "master@[::1]:5050");
}

}  // namespace
}  // namespace stoa
