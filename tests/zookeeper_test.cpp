// The ZooKeeper client actor (actors/zookeeper.hpp) against real servers
// (tests/zookeeper_fixture.hpp): one shared standalone server, a private one
// for the session tests (they stop it), and a 3-server ensemble.
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "actors/zookeeper.hpp"
#include "tests/cluster.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::tests {
namespace {

namespace zk = stoa::zookeeper;

// Long enough for a connect plus a request on a loaded machine.
constexpr auto REQUEST_TIMEOUT = std::chrono::seconds(15);
constexpr auto EVENT_TIMEOUT = std::chrono::seconds(20);

template <class T, class... Ts>
caf::expected<T> ask(caf::actor_system& sys, const caf::actor& client, Ts&&... xs) {
  caf::expected<T> out{caf::make_error(caf::sec::runtime_error, "no answer")};
  caf::scoped_actor self{sys};
  self->request(client, REQUEST_TIMEOUT, std::forward<Ts>(xs)...)
      .receive([&](T& v) { out = std::move(v); }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

// Receives session events on `self` until `wanted` arrives (true) or the
// deadline passes (false); `seen` collects every event received.
bool await_session_event(caf::scoped_actor& self, const std::string& wanted, std::vector<std::string>& seen) {
  Deadline deadline = deadline_in(EVENT_TIMEOUT);
  while (Clock::now() < deadline) {
    bool timed_out = false;
    self->receive([&](zk::session_atom, const std::string& event) { seen.push_back(event); },
                  caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())) >>
                      [&] { timed_out = true; });
    if (!seen.empty() && seen.back() == wanted) {
      return true;
    }
    if (timed_out) {
      return false;
    }
  }
  return false;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    out += (out.empty() ? "" : ", ") + s;
  }
  return out;
}

class ZooKeeperClient : public ::testing::Test {
 protected:
  void SetUp() override {
    STOA_REQUIRE_ZOOKEEPER();
    Try<ZooKeeperServer*> server = shared_zookeeper_server();
    ASSERT_TRUE(server) << server.error();
    server_ = *server;
    // A fresh persistent parent per test, so tests do not see each other.
    client_ = connect();
    caf::expected<std::string> root = ask<std::string>(sys_, client_, zk::create_atom_v,
                                                       "/" + unique_marker(), std::string(), zk::PERSISTENT);
    ASSERT_TRUE(root) << sys_.render(root.error());
    root_ = *root;
  }

  void TearDown() override {
    if (client_) {
      ask<bool>(sys_, client_, zk::close_atom_v);
    }
  }

  caf::actor connect(caf::actor subscriber = caf::actor()) {
    return zk::spawn_client(sys_, {server_->connect_string(), std::chrono::seconds(10), std::move(subscriber)});
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  ZooKeeperServer* server_ = nullptr;
  caf::actor client_;
  std::string root_;
};

TEST_F(ZooKeeperClient, EphemeralSequentialNodeIsListedWithItsData) {
  caf::expected<std::string> created = ask<std::string>(sys_, client_, zk::create_atom_v, root_ + "/json.info_",
                                                        std::string("{\"id\":\"m1\"}"),
                                                        zk::EPHEMERAL | zk::SEQUENTIAL);
  ASSERT_TRUE(created) << sys_.render(created.error());
  EXPECT_TRUE(std::regex_match(*created, std::regex(root_ + "/json\\.info_[0-9]{10}"))) << *created;

  auto children = ask<std::vector<std::string>>(sys_, client_, zk::children_atom_v, root_);
  ASSERT_TRUE(children) << sys_.render(children.error());
  EXPECT_EQ(*children, std::vector<std::string>{created->substr(root_.size() + 1)});

  auto data = ask<std::string>(sys_, client_, zk::get_atom_v, *created);
  ASSERT_TRUE(data) << sys_.render(data.error());
  EXPECT_EQ(*data, "{\"id\":\"m1\"}");

  auto exists = ask<bool>(sys_, client_, zk::exists_atom_v, *created);
  ASSERT_TRUE(exists) << sys_.render(exists.error());
  EXPECT_TRUE(*exists);
  auto deleted = ask<bool>(sys_, client_, zk::delete_atom_v, *created);
  ASSERT_TRUE(deleted) << sys_.render(deleted.error());
  auto gone = ask<bool>(sys_, client_, zk::exists_atom_v, *created);
  ASSERT_TRUE(gone) << sys_.render(gone.error());
  EXPECT_FALSE(*gone);
}

TEST_F(ZooKeeperClient, ChildWatchFiresWhenAnotherSessionCreatesAChild) {
  caf::scoped_actor watcher{sys_};
  auto before = ask<std::vector<std::string>>(sys_, client_, zk::children_atom_v, root_, caf::actor(watcher));
  ASSERT_TRUE(before) << sys_.render(before.error());
  EXPECT_TRUE(before->empty());

  caf::actor other = connect();
  auto created = ask<std::string>(sys_, other, zk::create_atom_v, root_ + "/member_", std::string("x"),
                                  zk::EPHEMERAL | zk::SEQUENTIAL);
  ASSERT_TRUE(created) << sys_.render(created.error());

  std::string path;
  std::string event;
  watcher->receive(
      [&](zk::watch_atom, const std::string& p, const std::string& e) {
        path = p;
        event = e;
      },
      caf::after(EVENT_TIMEOUT) >> [] {});
  EXPECT_EQ(path, root_);
  EXPECT_EQ(event, zk::WATCH_CHANGED);
  // One-shot: a second change is not reported.
  auto again = ask<std::string>(sys_, other, zk::create_atom_v, root_ + "/member_", std::string("y"),
                                zk::EPHEMERAL | zk::SEQUENTIAL);
  ASSERT_TRUE(again) << sys_.render(again.error());
  auto listed = ask<std::vector<std::string>>(sys_, client_, zk::children_atom_v, root_);
  ASSERT_TRUE(listed) << sys_.render(listed.error());
  EXPECT_EQ(listed->size(), 2u);
  bool second = false;
  watcher->receive([&](zk::watch_atom, const std::string&, const std::string&) { second = true; },
                   caf::after(std::chrono::milliseconds(0)) >> [] {});
  EXPECT_FALSE(second);
  ask<bool>(sys_, other, zk::close_atom_v);
}

TEST_F(ZooKeeperClient, EphemeralNodeGoesWhenItsSessionCloses) {
  caf::actor other = connect();
  auto created = ask<std::string>(sys_, other, zk::create_atom_v, root_ + "/ephemeral", std::string(),
                                  zk::EPHEMERAL);
  ASSERT_TRUE(created) << sys_.render(created.error());
  auto exists = ask<bool>(sys_, client_, zk::exists_atom_v, *created);
  ASSERT_TRUE(exists && *exists);

  auto closed = ask<bool>(sys_, other, zk::close_atom_v);
  ASSERT_TRUE(closed) << sys_.render(closed.error());
  bool gone = poll_until(
      [&] {
        auto e = ask<bool>(sys_, client_, zk::exists_atom_v, *created);
        return e && !*e;
      },
      deadline_in(DEFAULT_TIMEOUT));
  EXPECT_TRUE(gone) << *created << " outlived its session";
  // A closed client answers nothing more: its actor is gone.
  auto after = ask<bool>(sys_, other, zk::exists_atom_v, *created);
  EXPECT_FALSE(after);
}

TEST_F(ZooKeeperClient, ErrorsNameTheOperationThePathAndTheZooKeeperError) {
  const std::string orphan = root_ + "/no-such-parent/child";
  auto created = ask<std::string>(sys_, client_, zk::create_atom_v, orphan, std::string(), zk::PERSISTENT);
  ASSERT_FALSE(created);
  std::string text = sys_.render(created.error());
  EXPECT_NE(text.find("ZooKeeper create " + orphan), std::string::npos) << text;
  EXPECT_NE(text.find("ZNONODE"), std::string::npos) << text;
  EXPECT_EQ(zk::zookeeper_error_code(created.error()), ZNONODE);

  auto twice = ask<std::string>(sys_, client_, zk::create_atom_v, root_, std::string(), zk::PERSISTENT);
  ASSERT_FALSE(twice);
  EXPECT_EQ(zk::zookeeper_error_code(twice.error()), ZNODEEXISTS) << sys_.render(twice.error());

  auto data = ask<std::string>(sys_, client_, zk::get_atom_v, root_ + "/missing");
  ASSERT_FALSE(data);
  EXPECT_NE(sys_.render(data.error()).find("ZooKeeper get " + root_ + "/missing"), std::string::npos);

  caf::scoped_actor watcher{sys_};
  auto watched = ask<std::vector<std::string>>(sys_, client_, zk::children_atom_v, root_ + "/missing",
                                               caf::actor(watcher));
  ASSERT_FALSE(watched);
  EXPECT_EQ(zk::zookeeper_error_code(watched.error()), ZNONODE) << sys_.render(watched.error());
  EXPECT_NE(sys_.render(watched.error()).find("ZooKeeper get_children " + root_ + "/missing"), std::string::npos)
      << sys_.render(watched.error());

  auto bad = ask<std::string>(sys_, client_, zk::create_atom_v, std::string("relative"), std::string(),
                              zk::PERSISTENT);
  ASSERT_FALSE(bad);
  EXPECT_NE(sys_.render(bad.error()).find("relative"), std::string::npos) << sys_.render(bad.error());
}

// A server of its own: these tests stop it.
TEST(ZooKeeperSession, SubscriberHearsConnectedDisconnectedAndExpired) {
  STOA_REQUIRE_ZOOKEEPER();
  Try<std::unique_ptr<ZooKeeperServer>> server = ZooKeeperServer::start();
  ASSERT_TRUE(server) << server.error();
  std::cerr << "[ zookeeper ] standalone server served after " << (*server)->startup_time().count() << " ms\n";
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor subscriber{sys};
  caf::actor client = zk::spawn_client(
      sys, {(*server)->connect_string(), std::chrono::seconds(10), caf::actor(subscriber)});
  std::vector<std::string> seen;
  ASSERT_TRUE(await_session_event(subscriber, zk::SESSION_CONNECTED, seen)) << joined(seen);

  caf::scoped_actor watcher{sys};
  auto children = ask<std::vector<std::string>>(sys, client, zk::children_atom_v, std::string("/"),
                                                caf::actor(watcher));
  ASSERT_TRUE(children) << sys.render(children.error());

  (*server)->stop();
  ASSERT_TRUE(await_session_event(subscriber, zk::SESSION_DISCONNECTED, seen)) << joined(seen);
  auto during = ask<bool>(sys, client, zk::exists_atom_v, std::string("/"));
  EXPECT_FALSE(during) << "a request succeeded with the server down";
  ASSERT_FALSE((*server)->restart().has_value());
  ASSERT_TRUE(await_session_event(subscriber, zk::SESSION_CONNECTED, seen)) << joined(seen);

  // Expire the session the way ZooKeeper's own tests do: a second handle on
  // the same session closes it; the client is then told it expired.
  int64_t session_id = 0;
  std::string password;
  caf::scoped_actor asker{sys};
  asker->request(client, REQUEST_TIMEOUT, zk::session_id_atom_v)
      .receive(
          [&](int64_t id, std::string& pw) {
            session_id = id;
            password = pw;
          },
          [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
  ASSERT_NE(session_id, 0);
  ASSERT_EQ(password.size(), sizeof(clientid_t::passwd));
  clientid_t same{};
  same.client_id = session_id;
  std::copy(password.begin(), password.end(), same.passwd);
  zhandle_t* second = zookeeper_init((*server)->connect_string().c_str(), nullptr, 10000, &same, nullptr, 0);
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(poll_until([&] { return zoo_state(second) == ZOO_CONNECTED_STATE; }, deadline_in(EVENT_TIMEOUT)));
  zookeeper_close(second);
  ASSERT_TRUE(await_session_event(subscriber, zk::SESSION_EXPIRED, seen)) << joined(seen);
  std::string event;
  watcher->receive([&](zk::watch_atom, const std::string&, const std::string& e) { event = e; },
                   caf::after(EVENT_TIMEOUT) >> [] {});
  EXPECT_EQ(event, zk::WATCH_SESSION_LOST);
  auto after = ask<bool>(sys, client, zk::exists_atom_v, std::string("/"));
  EXPECT_FALSE(after) << "an expired session still answered";
  ask<bool>(sys, client, zk::close_atom_v);
}

// The C client would report the expiry only on reaching a server again; the
// actor gives the session up after a session timeout without one.
TEST(ZooKeeperSession, ExpiresLocallyWhenNoServerAnswersForASessionTimeout) {
  STOA_REQUIRE_ZOOKEEPER();
  Try<std::unique_ptr<ZooKeeperServer>> server = ZooKeeperServer::start();
  ASSERT_TRUE(server) << server.error();
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor subscriber{sys};
  constexpr auto SESSION_TIMEOUT = std::chrono::milliseconds(1000);
  caf::actor client =
      zk::spawn_client(sys, {(*server)->connect_string(), SESSION_TIMEOUT, caf::actor(subscriber)});
  std::vector<std::string> seen;
  ASSERT_TRUE(await_session_event(subscriber, zk::SESSION_CONNECTED, seen)) << joined(seen);
  caf::scoped_actor watcher{sys};
  auto children = ask<std::vector<std::string>>(sys, client, zk::children_atom_v, std::string("/"),
                                                caf::actor(watcher));
  ASSERT_TRUE(children) << sys.render(children.error());

  // The client loses the server after this point, and expires a session
  // timeout after it lost it. (Measured from here, not from when this thread
  // heard of the disconnection: that event may reach us late on a loaded
  // machine, which made the interval look short.)
  Clock::time_point stopped = Clock::now();
  (*server)->stop();
  ASSERT_TRUE(await_session_event(subscriber, zk::SESSION_DISCONNECTED, seen)) << joined(seen);
  ASSERT_TRUE(await_session_event(subscriber, zk::SESSION_EXPIRED, seen)) << joined(seen);
  EXPECT_GE(Clock::now() - stopped, SESSION_TIMEOUT);
  std::string event;
  watcher->receive([&](zk::watch_atom, const std::string&, const std::string& e) { event = e; },
                   caf::after(EVENT_TIMEOUT) >> [] {});
  EXPECT_EQ(event, zk::WATCH_SESSION_LOST);
  auto after = ask<bool>(sys, client, zk::exists_atom_v, std::string("/"));
  ASSERT_FALSE(after);
  EXPECT_NE(sys.render(after.error()).find("session expired"), std::string::npos) << sys.render(after.error());
  auto closed = ask<bool>(sys, client, zk::close_atom_v);
  EXPECT_TRUE(closed);
}

TEST(ZooKeeperSession, UnusableConnectStringIsReportedAsExpired) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor subscriber{sys};
  caf::actor client = zk::spawn_client(sys, {"", std::chrono::seconds(10), caf::actor(subscriber)});
  std::vector<std::string> seen;
  EXPECT_TRUE(await_session_event(subscriber, zk::SESSION_EXPIRED, seen)) << joined(seen);
  auto exists = ask<bool>(sys, client, zk::exists_atom_v, std::string("/"));
  ASSERT_FALSE(exists);
  EXPECT_NE(sys.render(exists.error()).find("refused connect string"), std::string::npos)
      << sys.render(exists.error());
  ask<bool>(sys, client, zk::close_atom_v);
}

TEST(ZooKeeperEnsembleTest, KeepsServingWithOneServerDown) {
  STOA_REQUIRE_ZOOKEEPER();
  Clock::time_point begin = Clock::now();
  Try<std::unique_ptr<ZooKeeperEnsemble>> ensemble = ZooKeeperEnsemble::start();
  ASSERT_TRUE(ensemble) << ensemble.error();
  std::cerr << "[ zookeeper ] 3-server ensemble served after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count() << " ms\n";
  int leader = -1;
  for (int i = 0; i < ZooKeeperEnsemble::SIZE; ++i) {
    if ((*ensemble)->mode(i) == "leader") {
      leader = i;
    }
  }
  ASSERT_GE(leader, 0) << "no server says it leads";

  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor client = zk::spawn_client(sys, {(*ensemble)->connect_string(), std::chrono::seconds(10), {}});
  auto created = ask<std::string>(sys, client, zk::create_atom_v, std::string("/stoa"), std::string("v1"),
                                  zk::PERSISTENT);
  ASSERT_TRUE(created) << sys.render(created.error());

  (*ensemble)->stop(leader);
  // The other two elect a leader and the client finds one of them. A read
  // proves little (a follower answers reads from its own copy until it
  // notices the leader is gone), so wait for a write; a write that lost its
  // connection may still have been applied, hence ZNODEEXISTS counts.
  std::string last_error;
  bool written = poll_until(
      [&] {
        auto more = ask<std::string>(sys, client, zk::create_atom_v, std::string("/stoa/after"), std::string(),
                                     zk::PERSISTENT);
        if (!more) {
          last_error = sys.render(more.error());
        }
        return more || zk::zookeeper_error_code(more.error()) == ZNODEEXISTS;
      },
      deadline_in(EVENT_TIMEOUT));
  EXPECT_TRUE(written) << "no write with server " << leader << " down: " << last_error;
  auto data = ask<std::string>(sys, client, zk::get_atom_v, std::string("/stoa"));
  ASSERT_TRUE(data) << sys.render(data.error());
  EXPECT_EQ(*data, "v1");

  ASSERT_FALSE((*ensemble)->start(leader).has_value());
  EXPECT_NE((*ensemble)->mode(leader), "");
  ask<bool>(sys, client, zk::close_atom_v);
}

}  // namespace
}  // namespace stoa::tests
