// Bound versus advertised addresses (actors/addresses.hpp).
#include "actors/addresses.hpp"

#include <gtest/gtest.h>

#include "actors/master_detector.hpp"
#include "proto/stoa.pb.h"

namespace stoa::addresses {
namespace {

TEST(Addresses, LoopbackAndAny) {
  EXPECT_TRUE(is_loopback_ip("127.0.0.1"));
  EXPECT_TRUE(is_loopback_ip("127.0.0.3"));
  EXPECT_TRUE(is_loopback_ip("::1"));
  EXPECT_FALSE(is_loopback_ip("10.0.0.1"));
  EXPECT_FALSE(is_loopback_ip("0.0.0.0"));
  EXPECT_FALSE(is_loopback_ip("localhost"));  // not an IP
  EXPECT_TRUE(is_any_ip("0.0.0.0"));
  EXPECT_TRUE(is_any_ip("::"));
  EXPECT_FALSE(is_any_ip("127.0.0.1"));
  EXPECT_EQ(host_is_loopback("localhost"), std::optional<bool>(true));
  EXPECT_EQ(host_is_loopback("127.1.2.3"), std::optional<bool>(true));
  EXPECT_EQ(host_is_loopback("192.168.1.1"), std::optional<bool>(false));
  EXPECT_EQ(host_is_loopback("master.example"), std::nullopt);  // would need DNS
}

TEST(Addresses, AdvertisedIpIsNeverTheAnyAddress) {
  EXPECT_EQ(advertised_ip("10.0.0.5", std::nullopt), "10.0.0.5");
  EXPECT_EQ(advertised_ip("10.0.0.5", std::string("203.0.113.9")), "203.0.113.9");
  EXPECT_EQ(advertised_ip("0.0.0.0", std::string("203.0.113.9")), "203.0.113.9");
  std::string routable = advertised_ip("0.0.0.0", std::nullopt);
  EXPECT_EQ(routable, routable_ipv4());
  EXPECT_NE(routable, "0.0.0.0");
  EXPECT_FALSE(routable.empty());
  EXPECT_FALSE(is_any_ip(routable));
}

TEST(Addresses, LoopbackAgentWarning) {
  std::optional<std::string> w = loopback_agent_warning("127.0.0.1", "10.0.0.1");
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(*w,
            "Agent bound to loopback interface! Cannot communicate with remote master(s). You might want to set "
            "'--ip' flag to a routable IP address.");
  EXPECT_FALSE(loopback_agent_warning("127.0.0.1", "127.0.0.2"));   // both on loopback
  EXPECT_FALSE(loopback_agent_warning("127.0.0.1", "localhost"));
  EXPECT_FALSE(loopback_agent_warning("10.0.0.2", "10.0.0.1"));     // routable agent
  EXPECT_FALSE(loopback_agent_warning("127.0.0.1", "master.example"));  // unknown without DNS: no guess
}

TEST(Addresses, MasterInfoJsonCarriesTheActorPort) {
  MasterInfo info;
  info.set_id("m1");
  info.set_ip(0);
  info.set_port(5050);
  info.set_pid("master@10.0.0.1:5050");
  info.set_address_ip("10.0.0.1");
  info.set_actor_port(15050);
  std::string json = detector::master_info_json(info);
  EXPECT_NE(json.find("\"actor_port\":15050"), std::string::npos) << json;
  Try<MasterInfo> back = detector::parse_master_info_json(json);
  ASSERT_TRUE(back.is_some()) << back.error();
  EXPECT_EQ(back->actor_port(), 15050U);
  // Mesos' own JSON (no actor_port) still parses, without one.
  Try<MasterInfo> mesos = detector::parse_master_info_json(R"({"id":"m2","pid":"master@10.0.0.2:5050","port":5050})");
  ASSERT_TRUE(mesos.is_some()) << mesos.error();
  EXPECT_FALSE(mesos->has_actor_port());
  Try<MasterInfo> bad = detector::parse_master_info_json(R"({"pid":"master@10.0.0.2:5050","actor_port":70000})");
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("actor_port"), std::string::npos) << bad.error();
}

}  // namespace
}  // namespace stoa::addresses
