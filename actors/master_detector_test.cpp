// The master detector and contender (actors/master_detector.hpp): the
// MasterInfo JSON and --master values without a server, then detection and
// contention against real ZooKeeper servers (tests/zookeeper_fixture.hpp).
#include "actors/master_detector.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "proto/stoa.pb.h"
#include "tests/cluster.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::detector {
namespace {

namespace zk = stoa::zookeeper;
using tests::Clock;
using tests::Deadline;
using tests::deadline_in;

constexpr auto EVENT_TIMEOUT = std::chrono::seconds(20);

MasterInfo info_for(const std::string& id, const std::string& ip, int port) {
  MasterInfo info;
  info.set_id(id);
  info.set_ip(0);
  info.set_port(port);
  info.set_pid("master@" + ip + ":" + std::to_string(port));
  info.set_hostname("host-" + id);
  info.set_version("1.2.3");
  info.set_address_ip(ip);
  return info;
}

Options options(std::string master, caf::actor subscriber,
                std::chrono::milliseconds session = std::chrono::seconds(10),
                std::optional<std::string> contend_with = std::nullopt) {
  Options o;
  o.master = std::move(master);
  o.subscriber = std::move(subscriber);
  o.session_timeout = session;
  o.contend_with = std::move(contend_with);
  return o;
}

// ---------------------------------------------------------------------------
// Without a server.

TEST(MasterInfoJson, WritesMesosFieldsWithTheIpInNetworkOrder) {
  std::string json = master_info_json(info_for("m1", "10.0.0.1", 5050));
  EXPECT_NE(json.find("\"ip\":16777226"), std::string::npos) << json;
  EXPECT_NE(json.find("\"pid\":\"master@10.0.0.1:5050\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"address\":{\"hostname\":\"host-m1\",\"ip\":\"10.0.0.1\",\"port\":5050}"), std::string::npos)
      << json;
  Try<MasterInfo> back = parse_master_info_json(json);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->id(), "m1");
  EXPECT_EQ(back->ip(), 16777226u);
  EXPECT_EQ(back->port(), 5050u);
  EXPECT_EQ(back->pid(), "master@10.0.0.1:5050");
  EXPECT_EQ(back->hostname(), "host-m1");
  EXPECT_EQ(back->version(), "1.2.3");
  EXPECT_EQ(back->address_ip(), "10.0.0.1");
}

TEST(MasterInfoJson, ReadsWhatMesosWrites) {
  Try<MasterInfo> info = parse_master_info_json(
      R"({"id":"6d2ad7f1","ip":16777226,"port":5050,"pid":"master@10.0.0.1:5050",)"
      R"("hostname":"m1.example.com","version":"1.11.0",)"
      R"("address":{"hostname":"m1.example.com","ip":"10.0.0.1","port":5050},)"
      R"("capabilities":[{"type":"AGENT_UPDATE"}]})");
  ASSERT_TRUE(info) << info.error();
  EXPECT_EQ(info->id(), "6d2ad7f1");
  EXPECT_EQ(info->pid(), "master@10.0.0.1:5050");
  EXPECT_EQ(info->hostname(), "m1.example.com");
  EXPECT_EQ(info->address_ip(), "10.0.0.1");
  // Only a pid: the rest follows from it.
  Try<MasterInfo> bare = parse_master_info_json(R"({"pid":"master@10.0.0.2:5051"})");
  ASSERT_TRUE(bare) << bare.error();
  EXPECT_EQ(bare->port(), 5051u);
  EXPECT_EQ(bare->address_ip(), "10.0.0.2");
  EXPECT_EQ(bare->ip(), 33554442u);
}

TEST(MasterInfoJson, RefusesBadDataNamingTheFault) {
  struct Case {
    std::string text;
    std::string fault;
  };
  for (const Case& c : std::vector<Case>{
           {"master@10.0.0.1:5050", "not JSON"},
           {"[1,2]", "not a JSON object"},
           {R"({"id":"m"})", "no \"pid\""},
           {R"({"pid":5})", "\"pid\" is not a string"},
           {R"({"pid":"nowhere"})", "nowhere"},
           {R"({"pid":"master@h:1","port":70000})", "\"port\""},
           {R"({"pid":"master@h:1","ip":-1})", "\"ip\""},
           {R"({"pid":"master@h:1","hostname":[]})", "\"hostname\""},
       }) {
    Try<MasterInfo> info = parse_master_info_json(c.text);
    ASSERT_TRUE(info.is_error()) << c.text << " was accepted";
    EXPECT_NE(info.error().find(c.fault), std::string::npos) << c.text << ": " << info.error();
  }
}

TEST(MasterDetector, KnowsWhichMastersAreDetected) {
  EXPECT_TRUE(is_detected("zk://h:2181/mesos"));
  EXPECT_TRUE(is_detected("file:///etc/stoa/master"));
  EXPECT_FALSE(is_detected("127.0.0.1:5050"));
  EXPECT_FALSE(is_detected("master@127.0.0.1:5050"));
}

class DetectorTest : public ::testing::Test {
 protected:
  // Receives until a leader report satisfying `want` (returned), a loss
  // when `until_lost`, or the deadline; every report and loss is kept in
  // leaders_ / losses_.
  std::optional<Leader> await_leader(caf::scoped_actor& self, const std::function<bool(const Leader&)>& want,
                                     Deadline deadline = deadline_in(EVENT_TIMEOUT), bool until_lost = false) {
    while (Clock::now() < deadline) {
      std::optional<Leader> got;
      bool lost = false;
      bool timed_out = false;
      self->receive([&](leader_atom, const Leader& l) { leaders_.push_back(l), got = l; },
                    [&](lost_atom, const std::string& why) { losses_.push_back(why), lost = true; },
                    caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())) >>
                        [&] { timed_out = true; });
      if (got && want(*got)) {
        return got;
      }
      if (timed_out || (lost && until_lost)) {
        break;
      }
    }
    return std::nullopt;
  }

  // Receives until a loss is reported (returned) or the deadline.
  std::optional<std::string> await_lost(caf::scoped_actor& self, Deadline deadline = deadline_in(EVENT_TIMEOUT)) {
    size_t before = losses_.size();
    await_leader(self, [&](const Leader&) { return false; }, deadline, true);
    return losses_.size() > before ? std::optional(losses_[before]) : std::nullopt;
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  std::vector<Leader> leaders_;
  std::vector<std::string> losses_;
};

TEST_F(DetectorTest, FixedMasterIsReportedOnce) {
  caf::scoped_actor self{sys_};
  Try<caf::actor> d = spawn_detector(sys_, options("10.0.0.1:5050", self));
  ASSERT_TRUE(d) << d.error();
  auto first = await_leader(self, [](const Leader&) { return true; });
  ASSERT_TRUE(first);
  EXPECT_EQ(first->pid, "master@10.0.0.1:5050");
  EXPECT_EQ(first->contenders, 1);
  EXPECT_TRUE(first->znode.empty());
  EXPECT_FALSE(first->self);
  // Nothing more comes.
  EXPECT_FALSE(await_leader(self, [](const Leader&) { return true; }, deadline_in(std::chrono::milliseconds(300))));
  EXPECT_EQ(leaders_.size(), 1u);
  caf::anon_send_exit(*d, caf::exit_reason::user_shutdown);
}

TEST_F(DetectorTest, RefusesBadMastersNamingTheValue) {
  caf::scoped_actor self{sys_};
  for (std::string bad : {"zk://h:2181", "zk://h/mesos", "zk://h:99999/mesos", "no-port",
                                 "file:///nonexistent/stoa-master-file"}) {
    Try<caf::actor> d = spawn_detector(sys_, options(bad, self));
    ASSERT_TRUE(d.is_error()) << bad << " was accepted";
    std::optional<std::string> checked = check_master(bad);
    ASSERT_TRUE(checked) << bad;
    EXPECT_EQ(*checked, d.error());
    EXPECT_NE(d.error().find(bad), std::string::npos) << d.error();
  }
  EXPECT_FALSE(check_master("zk://h:2181/mesos"));
  EXPECT_FALSE(check_master("master@10.0.0.1:5050"));
  Try<caf::actor> contend = spawn_detector(sys_, options("10.0.0.1:5050", self, std::chrono::seconds(10), "{}"));
  ASSERT_TRUE(contend.is_error());
  EXPECT_NE(contend.error().find("10.0.0.1:5050"), std::string::npos) << contend.error();
  Try<caf::actor> nobody = spawn_detector(sys_, options("10.0.0.1:5050", caf::actor()));
  ASSERT_TRUE(nobody.is_error());
}

// ---------------------------------------------------------------------------
// Against real ZooKeeper.

class ZooKeeperDetectorTest : public DetectorTest {
 protected:
  void SetUp() override {
    STOA_REQUIRE_ZOOKEEPER();
    Try<tests::ZooKeeperServer*> server = tests::shared_zookeeper_server();
    ASSERT_TRUE(server) << server.error();
    connect_ = (*server)->connect_string();
    // A fresh path per test, two levels deep so contenders create parents.
    url_ = "zk://" + connect_ + "/" + tests::unique_marker() + "/mesos";
  }

  void TearDown() override {
    for (auto& a : spawned_) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
  }

  caf::actor contender(caf::scoped_actor& self, const std::string& id, int port,
                       std::chrono::milliseconds session = std::chrono::seconds(10)) {
    return spawn(options(url_, self, session, master_info_json(info_for(id, "127.0.0.1", port))));
  }

  caf::actor spawn(Options opts) {
    Try<caf::actor> d = spawn_detector(sys_, std::move(opts));
    EXPECT_TRUE(d) << d.error();
    if (!d) {
      return caf::actor();
    }
    spawned_.push_back(*d);
    return *d;
  }

  // A raw client for reading and writing nodes behind the detectors' backs.
  template <class T, class... Ts>
  caf::expected<T> ask(const caf::actor& client, Ts&&... xs) {
    caf::expected<T> out{caf::make_error(caf::sec::runtime_error, "no answer")};
    caf::scoped_actor self{sys_};
    self->request(client, std::chrono::seconds(15), std::forward<Ts>(xs)...)
        .receive([&](T& v) { out = std::move(v); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  std::string path() const { return url_.substr(url_.find('/', 5)); }

  std::string connect_;
  std::string url_;
  std::vector<caf::actor> spawned_;
};

static auto pid_is(const std::string& pid) {
  return [pid](const Leader& l) { return l.pid == pid; };
}

TEST_F(ZooKeeperDetectorTest, FirstContenderLeadsAndTheNextFollowsOnItsExit) {
  caf::scoped_actor s1{sys_};
  caf::scoped_actor s2{sys_};
  caf::scoped_actor sd{sys_};
  caf::actor c1 = contender(s1, "m1", 5050);
  auto l1 = await_leader(s1, [](const Leader& l) { return l.self; });
  ASSERT_TRUE(l1);
  EXPECT_EQ(l1->pid, "master@127.0.0.1:5050");
  EXPECT_EQ(l1->id, "m1");
  EXPECT_EQ(l1->hostname, "host-m1");
  EXPECT_EQ(l1->version, "1.2.3");
  EXPECT_EQ(l1->contenders, 1);
  EXPECT_EQ(l1->znode.rfind(NODE_PREFIX, 0), 0u) << l1->znode;

  contender(s2, "m2", 5051);
  auto l2 = await_leader(s2, [](const Leader& l) { return l.contenders == 2; });
  ASSERT_TRUE(l2);
  EXPECT_EQ(l2->pid, "master@127.0.0.1:5050");
  EXPECT_FALSE(l2->self);
  EXPECT_EQ(l2->znode, l1->znode);

  spawn(options(url_, sd));
  auto seen = await_leader(sd, [](const Leader&) { return true; });
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->pid, "master@127.0.0.1:5050");
  EXPECT_FALSE(seen->self);

  // The leader goes (its session is closed): the second leads, and the
  // detector follows, well within a session timeout.
  caf::anon_send_exit(c1, caf::exit_reason::user_shutdown);
  auto now_self = await_leader(s2, [](const Leader& l) { return l.self; }, deadline_in(std::chrono::seconds(5)));
  ASSERT_TRUE(now_self);
  EXPECT_EQ(now_self->pid, "master@127.0.0.1:5051");
  EXPECT_EQ(now_self->contenders, 1);
  EXPECT_TRUE(await_leader(sd, pid_is("master@127.0.0.1:5051"), deadline_in(std::chrono::seconds(5))));
  EXPECT_TRUE(losses_.empty());
}

TEST_F(ZooKeeperDetectorTest, ContenderWhoseNodeIsDeletedLosesOnce) {
  caf::scoped_actor s1{sys_};
  caf::actor c1 = contender(s1, "m1", 5050);
  auto l1 = await_leader(s1, [](const Leader& l) { return l.self; });
  ASSERT_TRUE(l1);
  caf::actor raw = zk::spawn_client(sys_, {connect_, std::chrono::seconds(10), caf::actor()});
  auto deleted = ask<bool>(raw, zk::delete_atom_v, path() + "/" + l1->znode);
  ASSERT_TRUE(deleted) << sys_.render(deleted.error());
  auto why = await_lost(s1);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find(l1->znode), std::string::npos) << *why;
  // Once only, and no leader report after it.
  size_t reports = leaders_.size();
  EXPECT_FALSE(await_lost(s1, deadline_in(std::chrono::milliseconds(300))));
  EXPECT_EQ(leaders_.size(), reports);
  ask<bool>(raw, zk::close_atom_v);
}

TEST_F(ZooKeeperDetectorTest, GarbageNodesAreSkipped) {
  caf::actor raw = zk::spawn_client(sys_, {connect_, std::chrono::seconds(10), caf::actor()});
  std::string p = path();
  ASSERT_TRUE(ask<std::string>(raw, zk::create_atom_v, p.substr(0, p.rfind('/')), std::string(), zk::PERSISTENT));
  ASSERT_TRUE(ask<std::string>(raw, zk::create_atom_v, p, std::string(), zk::PERSISTENT));
  // Lower sequence numbers than any contender: not JSON, and JSON with no pid.
  ASSERT_TRUE(ask<std::string>(raw, zk::create_atom_v, p + "/" + NODE_PREFIX, std::string("garbage"),
                               zk::EPHEMERAL | zk::SEQUENTIAL));
  ASSERT_TRUE(ask<std::string>(raw, zk::create_atom_v, p + "/" + NODE_PREFIX, std::string("{\"id\":\"x\"}"),
                               zk::EPHEMERAL | zk::SEQUENTIAL));
  // Not contenders at all.
  ASSERT_TRUE(ask<std::string>(raw, zk::create_atom_v, p + "/log_replicas", std::string(), zk::PERSISTENT));
  caf::scoped_actor s1{sys_};
  contender(s1, "m1", 5050);
  auto l1 = await_leader(s1, [](const Leader& l) { return !l.pid.empty(); });
  ASSERT_TRUE(l1);
  EXPECT_TRUE(l1->self);
  EXPECT_EQ(l1->contenders, 3);
  ask<bool>(raw, zk::close_atom_v);
}

TEST_F(ZooKeeperDetectorTest, DetectorWaitsForThePathAndFollowsAFileUrl) {
  char tmpl[] = "/tmp/stoa-master-file-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(tmpl) << "  " << url_ << "\n";
  caf::scoped_actor sd{sys_};
  spawn(options(std::string("file://") + tmpl, sd));
  // Nobody has made the path yet: no leader.
  auto none = await_leader(sd, [](const Leader&) { return true; });
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->pid.empty());
  EXPECT_EQ(none->contenders, 0);
  caf::scoped_actor s1{sys_};
  contender(s1, "m1", 5050);
  EXPECT_TRUE(await_leader(sd, pid_is("master@127.0.0.1:5050")));
  std::remove(tmpl);
}

// A private server, stopped for longer than the session timeout: the
// contender loses its candidacy, the detector reports no leader, and after
// the restart the detector finds the next leader.
TEST_F(ZooKeeperDetectorTest, SessionExpiryEndsCandidacyAndDetectorRecovers) {
  Try<std::unique_ptr<tests::ZooKeeperServer>> server = tests::ZooKeeperServer::start();
  ASSERT_TRUE(server) << server.error();
  url_ = "zk://" + (*server)->connect_string() + "/mesos";
  constexpr auto SESSION = std::chrono::milliseconds(1500);
  caf::scoped_actor s1{sys_};
  caf::scoped_actor sd{sys_};
  contender(s1, "m1", 5050, SESSION);
  ASSERT_TRUE(await_leader(s1, [](const Leader& l) { return l.self; }));
  spawn(options(url_, sd, SESSION));
  ASSERT_TRUE(await_leader(sd, pid_is("master@127.0.0.1:5050")));

  (*server)->stop();
  auto why = await_lost(s1);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("expired"), std::string::npos) << *why;
  EXPECT_TRUE(await_leader(sd, [](const Leader& l) { return l.pid.empty(); }));

  ASSERT_FALSE((*server)->restart());
  caf::scoped_actor s2{sys_};
  contender(s2, "m2", 5051, SESSION);
  EXPECT_TRUE(await_leader(s2, [](const Leader& l) { return l.self; }));
  EXPECT_TRUE(await_leader(sd, pid_is("master@127.0.0.1:5051")));
}

}  // namespace
}  // namespace stoa::detector
