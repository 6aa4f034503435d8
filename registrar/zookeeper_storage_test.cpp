// The ZooKeeper store (registrar/zookeeper_storage.cpp) and the client's
// compare-and-swap requests against a real server
// (tests/zookeeper_fixture.hpp): round trip, 50,000 slaves, two registrars on
// one path, a server restart, corrupt nodes and leftover chunks.
#include <zookeeper/zookeeper.h>

#include <iostream>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "actors/zookeeper.hpp"
#include "registrar/parts.hpp"
#include "registrar/registrar.hpp"
#include "tests/cluster.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::registrar {
// Named so that this file's helpers stay apart from other test files'
// when CI compiles the test files of one binary as one unit (unity build).
namespace zookeeper_storage_test {
namespace {

namespace zk = stoa::zookeeper;
using registry::Operation;
using registry::Registry;
using tests::Clock;

constexpr auto ANSWER_TIMEOUT = std::chrono::seconds(60);

// A slave as a real one registers: 5 resources, 6 attributes (~350 bytes).
SlaveInfo slave_info(const std::string& id) {
  SlaveInfo s;
  s.set_hostname("slave-" + id + ".rack-17.datacenter.example.com");
  s.set_port(5051);
  s.mutable_id()->set_value(id);
  for (const auto& [name, value] : std::vector<std::pair<std::string, double>>{
           {"cpus", 32}, {"mem", 257000}, {"disk", 1800000}, {"gpus", 4}}) {
    Resource* r = s.add_resources();
    r->set_name(name);
    r->set_type(Value::SCALAR);
    r->mutable_scalar()->set_value(value);
  }
  Resource* ports = s.add_resources();
  ports->set_name("ports");
  ports->set_type(Value::RANGES);
  Value::Range* range = ports->mutable_ranges()->add_range();
  range->set_begin(31000);
  range->set_end(32000);
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"rack", "rack-17"},
           {"zone", "eu-west-1b"},
           {"os", "debian-12"},
           {"kernel", "6.1.0-13-amd64"},
           {"instance_type", "m5d.8xlarge-local-nvme"},
           {"owner", "team-platform-batch-" + id}}) {
    Attribute* a = s.add_attributes();
    a->set_name(name);
    a->set_type(Value::TEXT);
    a->mutable_text()->set_value(value);
  }
  return s;
}

Operation admit(const std::string& id) {
  Operation op;
  *op.mutable_admit_slave()->mutable_info() = slave_info(id);
  return op;
}

Operation framework_removed(const std::string& id) {
  Operation op;
  op.mutable_mark_framework_removed()->mutable_framework_id()->set_value(id);
  op.mutable_mark_framework_removed()->mutable_timestamp()->set_nanoseconds(42);
  return op;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class ZooKeeperStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    STOA_REQUIRE_ZOOKEEPER();
    Try<tests::ZooKeeperServer*> server = tests::shared_zookeeper_server();
    ASSERT_TRUE(server) << server.error();
    connect_ = (*server)->connect_string();
    path_ = "/" + tests::unique_marker() + "/mesos";
  }
  // A pending request timeout keeps its actor alive until it fires (CAF
  // 0.17), and the actor system waits for every actor: stop them.
  void TearDown() override {
    for (const caf::actor& a : spawned_) {
      self_->send_exit(a, caf::exit_reason::user_shutdown);
    }
    spawned_.clear();  // the actor system waits for detached actors to be destroyed
    if (client_) {
      self_->send_exit(client_, caf::exit_reason::user_shutdown);
      client_ = nullptr;
    }
  }
  caf::actor spawn(Storage storage) {
    spawned_.push_back(spawn_registrar(sys_, std::move(storage), Options{}));
    return spawned_.back();
  }

  Storage storage() {
    Try<Storage> s = spawn_zookeeper_storage(sys_, ZooKeeperStorageOptions{connect_, path_});
    EXPECT_TRUE(s) << s.error();
    return *s;
  }
  static MasterInfo leader(const std::string& id) {
    MasterInfo m;
    m.set_id(id);
    m.set_ip(1);
    m.set_port(5050);
    return m;
  }
  caf::expected<Registry> recover(const caf::actor& r, const std::string& id) {
    caf::expected<Registry> out{caf::make_error(caf::sec::runtime_error, "no answer")};
    self_->request(r, ANSWER_TIMEOUT, recover_atom_v, leader(id))
        .receive([&](ScannedRegistry& scan) { out = recovered_registry(scan); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
  caf::expected<bool> apply(const caf::actor& r, const Operation& op) {
    caf::expected<bool> out{caf::make_error(caf::sec::runtime_error, "no answer")};
    self_->request(r, ANSWER_TIMEOUT, apply_atom_v, op)
        .receive([&](bool b) { out = b; }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
  StorageStats stats(const Storage& s) {
    StorageStats out;
    self_->request(s.actor, ANSWER_TIMEOUT, storage_stats_atom_v)
        .receive([&](StorageStats& st) { out = st; }, [&](caf::error&) {});
    return out;
  }
  // A plain client for poking at the nodes.
  caf::actor client() {
    if (!client_) {
      client_ = zk::spawn_client(sys_, zk::ClientOptions{connect_, std::chrono::seconds(10), {}});
    }
    return client_;
  }
  template <class T, class... Ts>
  caf::expected<T> ask(Ts&&... xs) {
    caf::expected<T> out{caf::make_error(caf::sec::runtime_error, "no answer")};
    self_->request(client(), ANSWER_TIMEOUT, std::forward<Ts>(xs)...)
        .receive([&](T& v) { out = std::move(v); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
  std::vector<std::string> chunks() {
    caf::expected<std::vector<std::string>> c = ask<std::vector<std::string>>(zk::children_atom_v, path_ + "/registry");
    return c ? *c : std::vector<std::string>{};
  }
  std::string recover_error() {
    caf::actor r = spawn(storage());
    caf::expected<Registry> reg = recover(r, "m9");
    return reg ? "(no error)" : error_text(reg.error());
  }

  std::string connect_;
  std::string path_;
  caf::actor client_;
  std::vector<caf::actor> spawned_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
};

TEST_F(ZooKeeperStorageTest, ClientSetIsACompareAndSwap) {
  ASSERT_TRUE(ask<std::string>(zk::create_atom_v, "/" + tests::unique_marker(), std::string("a"), zk::PERSISTENT));
  std::string node = "/" + tests::unique_marker();
  ASSERT_TRUE(ask<std::string>(zk::create_atom_v, node, std::string("v0"), zk::PERSISTENT));
  caf::expected<int> v1 = ask<int>(zk::set_atom_v, node, std::string("v1"), 0);
  ASSERT_TRUE(v1) << sys_.render(v1.error());
  EXPECT_EQ(*v1, 1);
  caf::expected<int> stale = ask<int>(zk::set_atom_v, node, std::string("v2"), 0);
  ASSERT_FALSE(stale);
  EXPECT_EQ(zk::zookeeper_error_code(stale.error()), ZBADVERSION);
  EXPECT_NE(error_text(stale.error()).find("ZooKeeper set " + node), std::string::npos);
  std::string data;
  int version = -1;
  self_->request(client(), ANSWER_TIMEOUT, zk::get_version_atom_v, node)
      .receive([&](std::string& d, int v) { data = d, version = v; }, [&](caf::error& e) { FAIL() << sys_.render(e); });
  EXPECT_EQ(data, "v1");
  EXPECT_EQ(version, 1);
  EXPECT_EQ(ask<int>(zk::set_atom_v, node, std::string("any"), -1), caf::expected<int>(2));
}

TEST_F(ZooKeeperStorageTest, ARegistryRoundTrips) {
  caf::actor first = spawn(storage());
  caf::expected<Registry> empty = recover(first, "m1");
  ASSERT_TRUE(empty) << error_text(empty.error());
  EXPECT_EQ(empty->slaves().slaves_size(), 0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(apply(first, admit("S" + std::to_string(i))), caf::expected<bool>(true));
  }
  Operation gone;
  gone.mutable_mark_slave_gone()->mutable_slave_id()->set_value("S3");
  gone.mutable_mark_slave_gone()->mutable_timestamp()->set_nanoseconds(1);
  ASSERT_EQ(apply(first, gone), caf::expected<bool>(true));
  ASSERT_EQ(apply(first, framework_removed("F1")), caf::expected<bool>(true));

  caf::expected<Registry> back = recover(spawn(storage()), "m2");
  ASSERT_TRUE(back) << error_text(back.error());
  EXPECT_EQ(back->slaves().slaves_size(), 19);
  EXPECT_EQ(back->gone().slaves_size(), 1);
  ASSERT_EQ(back->removed_frameworks().frameworks_size(), 1);
  EXPECT_EQ(back->removed_frameworks().frameworks(0).id().value(), "F1");
  EXPECT_EQ(back->master().id(), "m2");
}

// The store's session starts with the recovery. When the first server it
// tries is down, its first request meets a connection loss (the C client
// then tries the next server): the recovery reads again, and succeeds.
TEST_F(ZooKeeperStorageTest, ARecoveryWhoseFirstServerIsDownReadsAgain) {
  int dead = tests::free_loopback_port();  // bound, then closed: nothing listens
  ASSERT_GT(dead, 0);
  zoo_deterministic_conn_order(1);  // the servers in the order given
  struct Restore {
    ~Restore() { zoo_deterministic_conn_order(0); }
  } restore;
  Try<Storage> s = spawn_zookeeper_storage(
      sys_, ZooKeeperStorageOptions{"127.0.0.1:" + std::to_string(dead) + "," + connect_, path_});
  ASSERT_TRUE(s) << s.error();
  caf::expected<Registry> r = recover(spawn(*s), "m1");
  ASSERT_TRUE(r) << error_text(r.error());
  EXPECT_EQ(r->master().id(), "m1");
}

TEST_F(ZooKeeperStorageTest, FiftyThousandSlavesAndThenASmallWrite) {
  constexpr int N = 50000;
  Storage first_storage = storage();
  caf::actor first = spawn(first_storage);
  ASSERT_TRUE(recover(first, "m1"));
  auto start = Clock::now();
  std::vector<decltype(self_->request(first, ANSWER_TIMEOUT, apply_atom_v, Operation()))> pending;
  for (int i = 0; i < N; ++i) {
    pending.push_back(self_->request(first, ANSWER_TIMEOUT, apply_atom_v, admit("S" + std::to_string(i))));
  }
  int admitted = 0;
  for (auto& p : pending) {
    p.receive([&](bool b) { admitted += b ? 1 : 0; }, [&](caf::error& e) { ADD_FAILURE() << error_text(e); });
  }
  double admit_s = seconds_since(start);
  ASSERT_EQ(admitted, N);
  StorageStats st = stats(first_storage);
  std::cout << "[ registrar ] " << N << " admits in " << admit_s << " s (" << N / admit_s << "/s), "
            << st.stores << " stores, " << st.bytes_written / 1e6 << " MB in " << st.parts_written << " chunks\n";

  Storage second_storage = storage();
  caf::actor second = spawn(second_storage);
  start = Clock::now();
  ScannedRegistry scan;
  self_->request(second, ANSWER_TIMEOUT, recover_atom_v, leader("m2"))
      .receive([&](ScannedRegistry& s) { scan = std::move(s); }, [&](caf::error& e) { ADD_FAILURE() << error_text(e); });
  double recover_s = seconds_since(start);  // the new leader's wait
  start = Clock::now();
  caf::expected<bool> loaded{caf::make_error(caf::sec::runtime_error, "no answer")};
  self_->request(second, ANSWER_TIMEOUT, loaded_atom_v)
      .receive([&](bool b) { loaded = b; }, [&](caf::error& e) { loaded = std::move(e); });
  double loaded_s = seconds_since(start);  // the registrar's parse after it answered
  ASSERT_EQ(loaded, caf::expected<bool>(true));
  caf::expected<Registry> reg = recovered_registry(scan);
  ASSERT_TRUE(reg) << error_text(reg.error());
  ASSERT_EQ(reg->slaves().slaves_size(), N);
  size_t bytes = reg->ByteSizeLong();
  EXPECT_GT(bytes, 15u * 1000 * 1000) << "the test means a registry well over ZooKeeper's 1 MB node limit";
  std::cout << "[ registrar ] recovered " << N << " slaves (" << bytes / 1e6 << " MB): answered in " << recover_s
            << " s, parsed by the registrar " << loaded_s << " s later\n";
  // Recording the new leader rewrites part 0 alone (the master), not the
  // 50,000 slaves' buckets: one chunk, a few hundred bytes...
  StorageStats recorded = stats(second_storage);
  EXPECT_EQ(recorded.stores, 1u);
  EXPECT_EQ(recorded.parts_written, 1u) << "recording the leader writes the master's part only";
  EXPECT_LT(recorded.bytes_written, 1000u) << "recording the leader writes the master's part only";
  // ...and is still the fence: the deposed registrar's next write loses.
  caf::expected<bool> deposed = apply(first, admit("S-deposed"));
  ASSERT_FALSE(deposed);
  EXPECT_NE(error_text(deposed.error()).find("compare-and-swap lost"), std::string::npos)
      << error_text(deposed.error());

  StorageStats before = stats(second_storage);
  start = Clock::now();
  ASSERT_EQ(apply(second, admit("S-new")), caf::expected<bool>(true));
  std::cout << "[ registrar ] one admit into " << N << " slaves: " << seconds_since(start) * 1000 << " ms\n";
  StorageStats after = stats(second_storage);
  EXPECT_EQ(after.stores, before.stores + 1);
  EXPECT_EQ(after.parts_written - before.parts_written, 1u) << "one admit writes one chunk";
  EXPECT_LT(after.bytes_written - before.bytes_written, 300u * 1000) << "one admit writes one bucket";
}

TEST_F(ZooKeeperStorageTest, TheSecondRecoverWinsAndTheFirstStopsAtItsNextWrite) {
  caf::actor first = spawn(storage());
  ASSERT_TRUE(recover(first, "m1"));
  ASSERT_EQ(apply(first, admit("S1")), caf::expected<bool>(true));
  caf::actor second = spawn(storage());
  caf::expected<Registry> reg = recover(second, "m2");
  ASSERT_TRUE(reg) << error_text(reg.error());
  EXPECT_EQ(reg->slaves().slaves_size(), 1);
  caf::expected<bool> lost = apply(first, admit("S2"));
  ASSERT_FALSE(lost);
  EXPECT_NE(error_text(lost.error()).find("compare-and-swap lost: " + path_ + "/registry is no longer at version"),
            std::string::npos) << error_text(lost.error());
  EXPECT_EQ(error_text(apply(first, admit("S3")).error()), error_text(lost.error()));
  EXPECT_EQ(apply(second, admit("S2")), caf::expected<bool>(true));
  caf::expected<Registry> third = recover(spawn(storage()), "m3");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->slaves().slaves_size(), 2);
}

TEST_F(ZooKeeperStorageTest, LeftoverChunksAreCollectedAfterRecovery) {
  caf::actor first = spawn(storage());
  ASSERT_TRUE(recover(first, "m1"));
  ASSERT_EQ(apply(first, admit("S1")), caf::expected<bool>(true));
  std::vector<std::string> live = chunks();
  // A writer whose commit failed left a chunk behind.
  caf::expected<std::string> stray = ask<std::string>(zk::create_atom_v, path_ + "/registry/chunk-",
                                                       std::string("orphan"), zk::SEQUENTIAL);
  ASSERT_TRUE(stray);
  caf::actor second = spawn(storage());
  ASSERT_TRUE(recover(second, "m2"));
  std::string name = stray->substr(stray->rfind('/') + 1);
  EXPECT_TRUE(tests::poll_until(
      [&] {
        std::vector<std::string> now = chunks();
        return std::find(now.begin(), now.end(), name) == now.end();
      },
      tests::deadline_in(tests::DEFAULT_TIMEOUT)))
      << name << " was not deleted";
  std::vector<std::string> now = chunks();
  EXPECT_EQ(now.size(), live.size()) << "the recover rewrote only the master's part";
}

TEST_F(ZooKeeperStorageTest, CorruptNodesAreErrorsNamingTheWayOut) {
  caf::actor first = spawn(storage());
  ASSERT_TRUE(recover(first, "m1"));
  ASSERT_EQ(apply(first, admit("S1")), caf::expected<bool>(true));
  const std::string root = path_ + "/registry";
  std::string manifest;
  self_->request(client(), ANSWER_TIMEOUT, zk::get_version_atom_v, root)
      .receive([&](std::string& d, int) { manifest = d; }, [&](caf::error& e) { FAIL() << sys_.render(e); });
  registry::Manifest m;
  ASSERT_TRUE(m.ParseFromString(manifest));
  std::string chunk = m.parts(1 + bucket_of("S1")).chunks(0).name();

  // A chunk whose bytes changed.
  ASSERT_TRUE(ask<int>(zk::set_atom_v, root + "/" + chunk, std::string("tampered"), -1));
  std::string e = recover_error();
  EXPECT_NE(e.find("the ZooKeeper registry " + root + " is corrupt: chunk " + root + "/" + chunk + " holds 8 bytes"),
            std::string::npos) << e;
  EXPECT_NE(e.find("delete " + root + " and its children to start with an empty registry"), std::string::npos) << e;

  // A missing chunk.
  ASSERT_TRUE(ask<bool>(zk::delete_atom_v, root + "/" + chunk));
  e = recover_error();
  EXPECT_NE(e.find("chunk " + root + "/" + chunk + ", listed by its manifest (version "), std::string::npos) << e;
  EXPECT_NE(e.find("is missing"), std::string::npos) << e;

  // A manifest that is not one.
  ASSERT_TRUE(ask<int>(zk::set_atom_v, root, std::string("garbage"), -1));
  e = recover_error();
  EXPECT_NE(e.find("is corrupt: its manifest (7 bytes, version "), std::string::npos) << e;
  EXPECT_NE(e.find(") is not a registry manifest"), std::string::npos) << e;
}

TEST(ZooKeeperStorageRestart, TheRegistrySurvivesAServerRestart) {
  STOA_REQUIRE_ZOOKEEPER();
  Try<std::unique_ptr<tests::ZooKeeperServer>> server = tests::ZooKeeperServer::start();
  ASSERT_TRUE(server) << server.error();
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  Options o;
  o.backend = "zookeeper";
  o.zk_connect = (*server)->connect_string();
  o.zk_path = "/mesos";
  auto recover = [&](const caf::actor& r) {
    caf::expected<Registry> out{caf::make_error(caf::sec::runtime_error, "no answer")};
    MasterInfo m;
    m.set_id("m");
    m.set_ip(1);
    m.set_port(5050);
    self->request(r, ANSWER_TIMEOUT, recover_atom_v, m)
        .receive([&](ScannedRegistry& scan) { out = recovered_registry(scan); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  };
  Try<caf::actor> first = spawn_registrar(sys, o);
  ASSERT_TRUE(first) << first.error();
  ASSERT_TRUE(recover(*first));
  for (int i = 0; i < 10; ++i) {
    bool ok = false;
    self->request(*first, ANSWER_TIMEOUT, apply_atom_v, admit("S" + std::to_string(i)))
        .receive([&](bool b) { ok = b; }, [&](caf::error& e) { ADD_FAILURE() << error_text(e); });
    ASSERT_TRUE(ok);
  }
  self->send_exit(*first, caf::exit_reason::user_shutdown);
  (*server)->stop();
  std::optional<Error> restarted = (*server)->restart();
  ASSERT_FALSE(restarted) << restarted->message;
  Try<caf::actor> second = spawn_registrar(sys, o);
  ASSERT_TRUE(second) << second.error();
  caf::expected<Registry> reg = recover(*second);
  self->send_exit(*second, caf::exit_reason::user_shutdown);
  ASSERT_TRUE(reg) << error_text(reg.error());
  EXPECT_EQ(reg->slaves().slaves_size(), 10);
}

}  // namespace
}  // namespace zookeeper_storage_test
}  // namespace stoa::registrar
