// The slave following a detected leader (SlaveOptions::detect / ::detector):
// in virtual time with a detector double and two fake masters, then with a
// real detector against a real ZooKeeper server whose json.info_ nodes the
// test writes itself.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include <memory>
#include <mutex>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/atoms.hpp"
#include "actors/master_detector.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "actors/zookeeper.hpp"
#include "common/metrics.hpp"
#include "slave/slave.hpp"
#include "slave/slave_actor.hpp"
#include "tests/cluster.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::slave {
// Named so that this file's helpers stay apart from other test files'
// when CI compiles the test files of one binary as one unit (unity build).
namespace slave_detection_test {
namespace {

using namespace std::chrono_literals;
using namespace stoa::internal;
using detector::Leader;

// What a fake master received from the slave, by type (thread-safe: the
// ZooKeeper test runs on CAF's threads).
struct Inbox {
  std::mutex mu;
  std::vector<caf::message> messages;

  template <class T>
  std::vector<T> all() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<T> out;
    for (const caf::message& m : messages) {
      if (m.match_elements<T>()) {
        out.push_back(m.get_as<T>(0));
      }
    }
    return out;
  }
  template <class T>
  size_t count() {
    return all<T>().size();
  }
};

// A master: what the test hands it goes to the slave (from the master);
// whatever the slave sends it is recorded.
caf::behavior fake_master(caf::event_based_actor* self, std::shared_ptr<Inbox> inbox,
                          std::shared_ptr<caf::actor> slave) {
  self->set_default_handler([inbox](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
    std::lock_guard<std::mutex> lock(inbox->mu);
    inbox->messages.push_back(x.move_content_to_message());
    return caf::message{};
  });
  return {
      [self, slave](SlaveRegisteredMessage& m) { self->send(*slave, m); },
      [self, slave](SlaveReregisteredMessage& m) { self->send(*slave, m); },
      [self, slave](RunTaskMessage& m) { self->send(*slave, m); },
  };
}

// Resolves the two masters' pids.
caf::behavior fake_router(caf::event_based_actor*, std::map<std::string, caf::actor> masters) {
  return {
      [masters](resolve_atom, const std::string& pid) -> caf::result<caf::actor> {
        auto it = masters.find(pid);
        if (it == masters.end()) {
          return caf::make_error(caf::sec::runtime_error, "no such actor " + pid);
        }
        return it->second;
      },
  };
}

// Forwards the test's leader reports to the slave, as its detector.
caf::behavior fake_detector(caf::event_based_actor* self, std::shared_ptr<caf::actor> slave) {
  return {[self, slave](detector::leader_atom a, const Leader& l) { self->send(*slave, a, l); }};
}

caf::behavior null_containerizer(caf::event_based_actor* self) {
  return {
      [](launch_atom, const ContainerConfig&) { return LaunchResult{1000, ""}; },
      [self](wait_atom, const std::string&) { return self->make_response_promise(); },
      [](destroy_atom, const std::string&) {},
      [](usage_atom, const std::vector<std::string>&) { return ContainerUsages{}; },
  };
}

const std::string PID_A = "master@127.0.0.1:5050";
const std::string PID_B = "master@127.0.0.1:5060";

// A work dir of its own (the slave writes its checkpoint there), removed at the end.
struct TempWorkDir {
  TempWorkDir() {
    char tmpl[] = "/tmp/stoa-slave-test-XXXXXX";
    path = ::mkdtemp(tmpl) != nullptr ? tmpl : "/tmp/stoa-slave-test-unusable";
  }
  ~TempWorkDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string path;
};

SlaveOptions slave_options(const caf::actor& containerizer, metrics::Registry* metrics) {
  SlaveOptions opts;
  static TempWorkDir work_dir;
  const std::string work_dir_flag = "--work_dir=" + work_dir.path;
  const char* argv[] = {"stoa-slave", "--master=zk://127.0.0.1:2181/mesos", work_dir_flag.c_str()};
  EXPECT_FALSE(opts.flags.load(3, argv, {}));
  opts.upid = Upid{"slave(1)", "127.0.0.1", 5051};
  opts.hostname = "node1";
  opts.resources = *Resources::parse("cpus:2;mem:1024");
  opts.executor_path = "/nonexistent/stoa-executor";
  opts.containerizer = caf::actor_cast<containerizer_actor>(containerizer);
  opts.metrics = metrics;
  return opts;
}

RunTaskMessage run_task(const std::string& tid) {
  RunTaskMessage m;
  m.mutable_framework_id()->set_value("F1");
  m.mutable_framework()->mutable_id()->set_value("F1");
  m.mutable_framework()->set_name("test");
  m.mutable_framework()->set_user("root");
  m.set_pid("scheduler@127.0.0.1:1");
  TaskInfo* t = m.mutable_task();
  t->set_name(tid);
  t->mutable_task_id()->set_value(tid);
  t->mutable_slave_id()->set_value("S1");
  Resources::parse("cpus:1;mem:128")->to_proto(t->mutable_resources());
  t->mutable_command()->set_value("true");
  return m;
}

SlaveRegisteredMessage registered(const std::string& id) {
  SlaveRegisteredMessage m;
  m.mutable_slave_id()->set_value(id);
  return m;
}

class SlaveDetection : public ::testing::Test {
 protected:
  SlaveDetection() : sys(init(cfg)), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    a = sys.spawn(fake_master, to_a, slave_handle);
    b = sys.spawn(fake_master, to_b, slave_handle);
    containerizer = sys.spawn(null_containerizer);
    detector = sys.spawn(fake_detector, slave_handle);
    caf::actor router = sys.spawn(fake_router, std::map<std::string, caf::actor>{{PID_A, a}, {PID_B, b}});
    SlaveOptions opts = slave_options(containerizer, &metrics);
    opts.detector = detector;
    *slave_handle = spawn_slave(sys, router, opts);
    sched.run();
  }
  ~SlaveDetection() override {
    stop_actor(sys, *slave_handle);
    for (const caf::actor& x : {a, b, containerizer, detector}) {
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
    }
    sched.run();
  }
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    add_message_types(c);
    c.set("scheduler.policy", caf::atom("testing"));
    c.set("logger.inline-output", true);
    return c;
  }
  void advance(caf::timespan d) {
    sched.advance_time(d);
    sched.run();
  }
  void lead(const std::string& pid, const std::string& znode = "json.info_0000000001") {
    Leader l;
    l.pid = pid;
    l.znode = pid.empty() ? "" : znode;
    l.contenders = pid.empty() ? 0 : 1;
    caf::anon_send(detector, detector::leader_atom_v, l);
    sched.run();
  }
  template <class T>
  void tell(const caf::actor& master, const T& m) {
    caf::anon_send(master, m);
    sched.run();
  }
  double dropped() { return metrics.value("slave/dropped_messages").value_or(0); }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  metrics::Registry metrics;
  std::shared_ptr<Inbox> to_a = std::make_shared<Inbox>();
  std::shared_ptr<Inbox> to_b = std::make_shared<Inbox>();
  std::shared_ptr<caf::actor> slave_handle = std::make_shared<caf::actor>();
  caf::actor a, b, containerizer, detector;
};

TEST_F(SlaveDetection, WithoutALeaderTheSlaveWaits) {
  advance(10min);
  EXPECT_EQ(to_a->count<RegisterSlaveMessage>() + to_b->count<RegisterSlaveMessage>(), 0u);
}

TEST_F(SlaveDetection, RegistersWithTheLeaderAtOnceAndWithTheNextAfterARandomWait) {
  lead(PID_A);
  ASSERT_EQ(to_a->count<RegisterSlaveMessage>(), 1u);
  tell(a, registered("S1"));
  // The same leader again (another contender came): nothing to do.
  lead(PID_A, "json.info_0000000001");
  advance(10min);
  EXPECT_EQ(to_a->count<RegisterSlaveMessage>(), 1u);
  EXPECT_EQ(to_a->count<ReregisterSlaveMessage>(), 0u);

  // A failover: the slave, registered before, waits a random part of
  // --registration_backoff_factor (1 s) before it re-registers, as Mesos'
  // agent does, so that a cluster's slaves do not all come at once.
  lead(PID_B, "json.info_0000000002");  // no time passes
  EXPECT_EQ(to_b->count<ReregisterSlaveMessage>(), 0u);
  advance(1s);
  ASSERT_GE(to_b->count<ReregisterSlaveMessage>(), 1u);
  EXPECT_EQ(to_b->all<ReregisterSlaveMessage>()[0].slave().id().value(), "S1");
  EXPECT_EQ(to_b->count<RegisterSlaveMessage>(), 0u);
  // Until B answers, the re-registration is retried with B only.
  advance(2min);
  EXPECT_GT(to_b->count<ReregisterSlaveMessage>(), 1u);
  EXPECT_EQ(to_a->count<ReregisterSlaveMessage>(), 0u);
}

TEST_F(SlaveDetection, MessagesFromAMasterThatNoLongerLeadsAreDropped) {
  lead(PID_A);
  tell(a, registered("S1"));
  lead(PID_B, "json.info_0000000002");
  advance(1s);  // the random wait before re-registering
  SlaveReregisteredMessage rereg;
  rereg.mutable_slave_id()->set_value("S1");
  tell(b, rereg);
  double before = dropped();
  tell(a, run_task("from-a"));  // the old leader: split brain
  EXPECT_EQ(dropped(), before + 1);
  tell(b, run_task("from-b"));
  EXPECT_EQ(dropped(), before + 1);
  // Only B's task was taken: the slave reports it to B when re-registering.
  lead("");
  tell(b, run_task("after-b"));  // no leader: nobody's messages count
  EXPECT_EQ(dropped(), before + 2);
  lead(PID_B, "json.info_0000000003");
  advance(1s);
  std::vector<ReregisterSlaveMessage> rs = to_b->all<ReregisterSlaveMessage>();
  ASSERT_GE(rs.size(), 2u);
  ASSERT_EQ(rs.back().tasks_size(), 1);
  EXPECT_EQ(rs.back().tasks(0).task_id().value(), "from-b");
}

TEST_F(SlaveDetection, LeaderReportsFromAnyoneButItsDetectorAreDropped) {
  Leader l;
  l.pid = PID_A;
  double before = dropped();
  caf::anon_send(*slave_handle, detector::leader_atom_v, l);
  sched.run();
  advance(1min);
  EXPECT_EQ(dropped(), before + 1);
  EXPECT_EQ(to_a->count<RegisterSlaveMessage>(), 0u);
}

// ---------------------------------------------------------------------------
// A real detector against real ZooKeeper.

class SlaveZooKeeperDetection : public ::testing::Test {
 protected:
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    add_message_types(c);
    return c;
  }
  template <class T, class... Ts>
  caf::expected<T> ask(const caf::actor& client, Ts&&... xs) {
    caf::expected<T> out{caf::make_error(caf::sec::runtime_error, "no answer")};
    caf::scoped_actor self{sys};
    self->request(client, std::chrono::seconds(15), std::forward<Ts>(xs)...)
        .receive([&](T& v) { out = std::move(v); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
  std::string contend(const caf::actor& zk, const std::string& path, const std::string& pid) {
    MasterInfo info;
    info.set_id(pid);
    info.set_ip(0);
    info.set_port(5050);
    info.set_pid(pid);
    auto created = ask<std::string>(zk, zookeeper::create_atom_v, path + "/" + detector::NODE_PREFIX,
                                    detector::master_info_json(info), zookeeper::EPHEMERAL | zookeeper::SEQUENTIAL);
    EXPECT_TRUE(created) << sys.render(created.error());
    return created ? *created : "";
  }

  caf::actor_system_config cfg;
  caf::actor_system sys{init(cfg)};
};

TEST_F(SlaveZooKeeperDetection, FollowsTheLeaderWrittenInZooKeeper) {
  STOA_REQUIRE_ZOOKEEPER();
  Try<tests::ZooKeeperServer*> server = tests::shared_zookeeper_server();
  ASSERT_TRUE(server) << server.error();
  std::string path = "/" + tests::unique_marker();
  caf::actor zk = zookeeper::spawn_client(sys, {(*server)->connect_string(), 10s, caf::actor()});
  ASSERT_TRUE(ask<std::string>(zk, zookeeper::create_atom_v, path, std::string(), zookeeper::PERSISTENT));

  metrics::Registry metrics;
  auto slave = std::make_shared<caf::actor>();
  auto to_a = std::make_shared<Inbox>();
  auto to_b = std::make_shared<Inbox>();
  caf::actor a = sys.spawn(fake_master, to_a, slave);
  caf::actor b = sys.spawn(fake_master, to_b, slave);
  caf::actor containerizer = sys.spawn(null_containerizer);
  caf::actor router = sys.spawn(fake_router, std::map<std::string, caf::actor>{{PID_A, a}, {PID_B, b}});
  SlaveOptions opts = slave_options(containerizer, &metrics);
  opts.detect = "zk://" + (*server)->connect_string() + path;
  *slave = spawn_slave(sys, router, opts);

  std::string node_a = contend(zk, path, PID_A);
  ASSERT_TRUE(tests::poll_until([&] { return to_a->count<RegisterSlaveMessage>() > 0; },
                                tests::deadline_in(tests::DEFAULT_TIMEOUT)));
  caf::anon_send(a, registered("S1"));
  contend(zk, path, PID_B);  // a standby: nothing changes for the slave
  // A's node goes: B leads, and the slave re-registers with it well within
  // a session timeout.
  ASSERT_TRUE(ask<bool>(zk, zookeeper::delete_atom_v, node_a));
  ASSERT_TRUE(tests::poll_until([&] { return to_b->count<ReregisterSlaveMessage>() > 0; },
                                tests::deadline_in(std::chrono::seconds(5))));
  EXPECT_EQ(to_b->all<ReregisterSlaveMessage>()[0].slave().id().value(), "S1");
  EXPECT_EQ(to_b->count<RegisterSlaveMessage>(), 0u);

  stop_actor(sys, *slave);
  for (const caf::actor& x : {a, b, containerizer, router}) {
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  }
  ask<bool>(zk, zookeeper::close_atom_v);
}

}  // namespace
}  // namespace slave_detection_test
}  // namespace stoa::slave
