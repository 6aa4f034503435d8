#include "apps/services/leadership.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "actors/zookeeper.hpp"
#include "apps/services/core.hpp"
#include "tests/cluster.hpp"
#include "tests/poll.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::services {
namespace {

using namespace std::chrono_literals;

constexpr auto ELECTION_TEST_WAIT = std::chrono::seconds(20);

// One contender and a stand-in core that records what it is told.
struct Contender {
  explicit Contender(caf::actor_system& sys) : core(sys), view(std::make_shared<Leadership>()) {}
  caf::scoped_actor core;
  std::shared_ptr<Leadership> view;
  caf::actor election;

  // "elected", "deposed: <why>" or "" (nothing within `wait`).
  std::string next_told(std::chrono::milliseconds wait) {
    std::string told;
    core->receive([&](elected_atom) { told = "elected"; },
                  [&](deposed_atom, const std::string& why) { told = "deposed: " + why; },
                  caf::after(wait) >> [] {});
    return told;
  }
};

class ElectionTest : public ::testing::Test {
 protected:
  std::optional<std::string> start(Contender& c, std::optional<std::string> zk, const std::string& self,
                                   bool disable_ha = false) {
    ElectionOptions o;
    o.zk = std::move(zk);
    o.disable_ha = disable_ha;
    o.self = self;
    o.session_timeout = 4s;
    o.core = caf::actor_cast<caf::actor>(c.core);
    o.view = c.view;
    Try<caf::actor> e = spawn_election(sys_, std::move(o));
    if (e.is_error()) {
      return e.error();
    }
    c.election = *e;
    return std::nullopt;
  }
  void stop(const caf::actor& a) {
    caf::scoped_actor self{sys_};
    self->send_exit(a, caf::exit_reason::user_shutdown);
    self->wait_for(a);
  }
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
};

TEST_F(ElectionTest, WithoutZooKeeperOrWithDisableHaTheInstanceLeadsAtOnce) {
  Contender alone(sys_);
  ASSERT_EQ(start(alone, std::nullopt, "10.0.0.1:8080"), std::nullopt);
  EXPECT_EQ(alone.next_told(ELECTION_TEST_WAIT), "elected");
  EXPECT_TRUE(alone.view->get().elected);
  EXPECT_EQ(alone.view->get().leader, "10.0.0.1:8080");
  Contender no_ha(sys_);
  ASSERT_EQ(start(no_ha, "zk://127.0.0.1:1/marathon", "10.0.0.2:8080", true), std::nullopt);
  EXPECT_EQ(no_ha.next_told(ELECTION_TEST_WAIT), "elected");
  EXPECT_EQ(no_ha.view->get().leader, "10.0.0.2:8080");
  stop(alone.election);
  stop(no_ha.election);
}

TEST_F(ElectionTest, BadOptionsAreErrors) {
  Contender c(sys_);
  std::optional<std::string> e = start(c, "zk://nohostport/marathon", "h:1");
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("zk://nohostport/marathon"), std::string::npos) << *e;
  EXPECT_TRUE(start(c, std::nullopt, ""));
}

TEST_F(ElectionTest, TheFirstLeadsTheSecondFollowsAndLeadsWhenTheFirstStops) {
  STOA_REQUIRE_ZOOKEEPER();
  Try<tests::ZooKeeperServer*> server = tests::shared_zookeeper_server();
  ASSERT_TRUE(server) << server.error();
  const std::string zk = "zk://" + (*server)->connect_string() + "/" + tests::unique_marker() + "/marathon";
  Contender first(sys_);
  ASSERT_EQ(start(first, zk, "127.0.0.1:18080"), std::nullopt);
  ASSERT_EQ(first.next_told(ELECTION_TEST_WAIT), "elected");
  EXPECT_TRUE(first.view->get().elected);
  EXPECT_EQ(first.view->get().leader, "127.0.0.1:18080");

  Contender second(sys_);
  ASSERT_EQ(start(second, zk, "localhost:18081"), std::nullopt);
  ASSERT_TRUE(tests::poll_until([&] { return second.view->get().leader == "127.0.0.1:18080"; },
                                tests::deadline_in(ELECTION_TEST_WAIT)))
      << second.view->get().leader;
  EXPECT_FALSE(second.view->get().elected);
  EXPECT_EQ(second.next_told(300ms), "") << "the standby was told something";

  // The node is where leadership.hpp says, holding the pid.
  Try<zookeeper::Url> url = zookeeper::parse_url(zk);
  ASSERT_TRUE(url);
  caf::actor client = zookeeper::spawn_client(sys_, {(*server)->connect_string(), 10s, caf::actor()});
  caf::scoped_actor self{sys_};
  std::vector<std::string> children;
  self->request(client, ELECTION_TEST_WAIT, zookeeper::children_atom_v, url->path + "/leader")
      .receive([&](std::vector<std::string>& c) { children = c; }, [](caf::error&) {});
  ASSERT_EQ(children.size(), 2u);
  std::sort(children.begin(), children.end());
  std::string data;
  self->request(client, ELECTION_TEST_WAIT, zookeeper::get_atom_v, url->path + "/leader/" + children[0])
      .receive([&](std::string& d) { data = d; }, [](caf::error&) {});
  EXPECT_NE(data.find("\"pid\":\"marathon@127.0.0.1:18080\""), std::string::npos) << data;
  self->request(client, ELECTION_TEST_WAIT, zookeeper::close_atom_v).receive([](bool) {}, [](caf::error&) {});

  // The leader stops: its session closes and the standby is elected.
  stop(first.election);
  ASSERT_EQ(second.next_told(ELECTION_TEST_WAIT), "elected");
  EXPECT_TRUE(second.view->get().elected);
  EXPECT_EQ(second.view->get().leader, "localhost:18081");
  stop(second.election);
}

TEST_F(ElectionTest, ALeaderWhoseNodeGoesIsDeposedAndStops) {
  STOA_REQUIRE_ZOOKEEPER();
  Try<tests::ZooKeeperServer*> server = tests::shared_zookeeper_server();
  ASSERT_TRUE(server) << server.error();
  const std::string zk = "zk://" + (*server)->connect_string() + "/" + tests::unique_marker() + "/marathon";
  Contender leader(sys_);
  ASSERT_EQ(start(leader, zk, "127.0.0.1:18082"), std::nullopt);
  ASSERT_EQ(leader.next_told(ELECTION_TEST_WAIT), "elected");
  Try<zookeeper::Url> url = zookeeper::parse_url(zk);
  ASSERT_TRUE(url);
  caf::actor client = zookeeper::spawn_client(sys_, {(*server)->connect_string(), 10s, caf::actor()});
  caf::scoped_actor self{sys_};
  std::vector<std::string> children;
  self->request(client, ELECTION_TEST_WAIT, zookeeper::children_atom_v, url->path + "/leader")
      .receive([&](std::vector<std::string>& c) { children = c; }, [](caf::error&) {});
  ASSERT_EQ(children.size(), 1u);
  self->monitor(leader.election);
  self->request(client, ELECTION_TEST_WAIT, zookeeper::delete_atom_v, url->path + "/leader/" + children[0])
      .receive([](bool) {}, [](caf::error&) {});
  std::string told = leader.next_told(ELECTION_TEST_WAIT);
  EXPECT_EQ(told.rfind("deposed: ", 0), 0u) << told;
  EXPECT_FALSE(leader.view->get().elected);
  bool down = false;
  caf::error reason;
  self->receive([&](caf::down_msg& dm) {
    down = true;
    reason = dm.reason;
  }, caf::after(ELECTION_TEST_WAIT) >> [] {});
  EXPECT_TRUE(down);
  EXPECT_TRUE(reason) << "a deposed election must fail, so the process exits";
  self->request(client, ELECTION_TEST_WAIT, zookeeper::close_atom_v).receive([](bool) {}, [](caf::error&) {});
}

}  // namespace
}  // namespace stoa::services
