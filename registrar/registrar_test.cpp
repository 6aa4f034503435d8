// The registrar actor (registrar/registrar.hpp) over the in-memory store and
// over test stores that misbehave: recovery, answers, batching, the
// compare-and-swap, timeouts and corrupt data.
#include "registrar/registrar.hpp"

#include <algorithm>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "registrar/parts.hpp"

namespace stoa::registrar {
// Named so that this file's helpers stay apart from other test files'
// when CI compiles the test files of one binary as one unit (unity build).
namespace registrar_test {
namespace {

using registry::Operation;
using registry::Registry;

constexpr auto ANSWER_TIMEOUT = std::chrono::seconds(30);

MasterInfo leader(const std::string& id) {
  MasterInfo m;
  m.set_id(id);
  m.set_ip(0x0100007f);
  m.set_port(5050);
  return m;
}

Operation admit(const std::string& id) {
  Operation op;
  SlaveInfo* s = op.mutable_admit_slave()->mutable_info();
  s->set_hostname("host-" + id);
  s->mutable_id()->set_value(id);
  return op;
}

Operation framework_removed(const std::string& id) {
  Operation op;
  op.mutable_mark_framework_removed()->mutable_framework_id()->set_value(id);
  op.mutable_mark_framework_removed()->mutable_timestamp()->set_nanoseconds(42);
  return op;
}

class RegistrarTest : public ::testing::Test {
 protected:
  // A pending request timeout keeps its actor alive until it fires (CAF
  // 0.17), and the actor system waits for every actor: stop them.
  void TearDown() override {
    for (const caf::actor& a : spawned_) {
      self_->send_exit(a, caf::exit_reason::user_shutdown);
    }
    spawned_.clear();  // the actor system waits for detached actors to be destroyed
  }
  caf::actor spawn(Storage storage, Options options = Options{}) {
    spawned_.push_back(spawn_registrar(sys_, std::move(storage), std::move(options)));
    return spawned_.back();
  }

  std::vector<caf::actor> spawned_;
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};

  caf::expected<Registry> recover(const caf::actor& r, const std::string& id = "m1") {
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
  std::string text(const caf::expected<bool>& r) { return r ? "(no error)" : error_text(r.error()); }
};

TEST_F(RegistrarTest, RecoverRecordsTheLeaderAndStoresIt) {
  Storage storage = spawn_in_memory_storage(sys_);
  caf::actor r = spawn(storage);
  caf::expected<Registry> reg = recover(r, "m1");
  ASSERT_TRUE(reg) << error_text(reg.error());
  EXPECT_EQ(reg->master().id(), "m1");
  EXPECT_EQ(reg->slaves().slaves_size(), 0);
  EXPECT_EQ(stats(storage).stores, 1u);
  caf::expected<Registry> again = recover(r, "m1");
  ASSERT_FALSE(again);
  EXPECT_NE(error_text(again.error()).find("recover was already requested"), std::string::npos);
  // The registrar goes on.
  EXPECT_EQ(apply(r, admit("S1")), caf::expected<bool>(true));
}

TEST_F(RegistrarTest, ApplyBeforeRecoverIsAnError) {
  caf::actor r = spawn(spawn_in_memory_storage(sys_));
  caf::expected<bool> early = apply(r, admit("S1"));
  EXPECT_NE(text(early).find("AdmitSlave before recovery"), std::string::npos) << text(early);
}

TEST_F(RegistrarTest, AppliesOperationsAndANewRegistrarRecoversThem) {
  Storage storage = spawn_in_memory_storage(sys_);
  caf::actor first = spawn(storage);
  ASSERT_TRUE(recover(first, "m1"));
  EXPECT_EQ(apply(first, admit("S1")), caf::expected<bool>(true));
  EXPECT_EQ(apply(first, admit("S2")), caf::expected<bool>(true));
  EXPECT_EQ(apply(first, admit("S1")), caf::expected<bool>(false));
  uint64_t stores = stats(storage).stores;
  EXPECT_EQ(apply(first, admit("S2")), caf::expected<bool>(false));
  EXPECT_EQ(stats(storage).stores, stores) << "an operation that changes nothing is not stored";
  // A malformed operation fails alone.
  EXPECT_NE(text(apply(first, admit(""))).find("invalid operation: AdmitSlave"), std::string::npos);
  EXPECT_EQ(apply(first, admit("S3")), caf::expected<bool>(true));
  EXPECT_EQ(apply(first, framework_removed("F1")), caf::expected<bool>(true));

  caf::actor second = spawn(storage);
  caf::expected<Registry> reg = recover(second, "m2");
  ASSERT_TRUE(reg) << error_text(reg.error());
  EXPECT_EQ(reg->master().id(), "m2");
  EXPECT_EQ(reg->slaves().slaves_size(), 3);
  ASSERT_EQ(reg->removed_frameworks().frameworks_size(), 1);
  EXPECT_EQ(reg->removed_frameworks().frameworks(0).id().value(), "F1");
}

TEST_F(RegistrarTest, BatchesOperationsWhileAStoreIsInFlight) {
  Storage storage = spawn_in_memory_storage(sys_);
  caf::actor r = spawn(storage);
  ASSERT_TRUE(recover(r));
  constexpr int N = 1000;
  std::vector<decltype(self_->request(r, ANSWER_TIMEOUT, apply_atom_v, Operation()))> pending;
  for (int i = 0; i < N; ++i) {
    pending.push_back(self_->request(r, ANSWER_TIMEOUT, apply_atom_v, admit("S" + std::to_string(i % (N / 2)))));
  }
  int admitted = 0;
  int refused = 0;
  for (auto& p : pending) {
    p.receive([&](bool b) { (b ? admitted : refused)++; },
              [&](caf::error& e) { ADD_FAILURE() << error_text(e); });
  }
  // Each id was sent twice: the first admits it, the second finds it admitted.
  EXPECT_EQ(admitted, N / 2);
  EXPECT_EQ(refused, N / 2);
  StorageStats st = stats(storage);
  EXPECT_GE(st.stores, 2u);
  EXPECT_LT(st.stores, 1u + N / 10) << "1,000 operations should need far fewer stores";
  caf::expected<Registry> reg = recover(spawn(storage), "m2");
  ASSERT_TRUE(reg);
  EXPECT_EQ(reg->slaves().slaves_size(), N / 2);
}

TEST_F(RegistrarTest, OperationsSentWhileRecoveringWaitForIt) {
  Storage storage = spawn_in_memory_storage(sys_);
  caf::actor r = spawn(storage);
  auto rec = self_->request(r, ANSWER_TIMEOUT, recover_atom_v, leader("m1"));
  auto op = self_->request(r, ANSWER_TIMEOUT, apply_atom_v, admit("S1"));
  bool recovered = false;
  rec.receive([&](ScannedRegistry&) { recovered = true; }, [&](caf::error& e) { ADD_FAILURE() << error_text(e); });
  op.receive([&](bool b) { EXPECT_TRUE(b); }, [&](caf::error& e) { ADD_FAILURE() << error_text(e); });
  EXPECT_TRUE(recovered);
}

TEST_F(RegistrarTest, ALostCompareAndSwapFailsEveryLaterRequest) {
  Storage storage = spawn_in_memory_storage(sys_);
  caf::actor first = spawn(storage);
  caf::actor second = spawn(storage);
  ASSERT_TRUE(recover(first, "m1"));
  ASSERT_TRUE(apply(first, admit("S1")));
  ASSERT_TRUE(recover(second, "m2"));  // the second master takes over
  std::string lost = text(apply(first, admit("S2")));
  EXPECT_NE(lost.find("compare-and-swap lost"), std::string::npos) << lost;
  EXPECT_NE(lost.find("storing the registry in the in-memory registry failed"), std::string::npos) << lost;
  EXPECT_EQ(text(apply(first, admit("S3"))), lost);
  EXPECT_EQ(apply(second, admit("S2")), caf::expected<bool>(true));
}

// A store that answers fetches with `stored` and never answers a store (or
// never answers anything, with `mute`).
struct StuckState {
  std::vector<caf::typed_response_promise<uint64_t>> stores;
  std::vector<caf::typed_response_promise<Stored>> fetches;
};

storage_actor::behavior_type stuck_storage(storage_actor::stateful_pointer<StuckState> self, Stored stored,
                                           bool mute) {
  return {
      [self, stored, mute](fetch_atom) -> caf::result<Stored> {
        if (!mute) {
          return stored;
        }
        self->state.fetches.push_back(self->make_response_promise<Stored>());
        return self->state.fetches.back();
      },
      [self](store_atom, std::vector<std::string>&, uint64_t) -> caf::result<uint64_t> {
        self->state.stores.push_back(self->make_response_promise<uint64_t>());
        return self->state.stores.back();
      },
      [](storage_stats_atom) { return StorageStats{}; },
  };
}

Options timeouts(int fetch_ms, int store_ms) {
  Options o;
  o.fetch_timeout = std::chrono::milliseconds(fetch_ms);
  o.store_timeout = std::chrono::milliseconds(store_ms);
  return o;
}

TEST_F(RegistrarTest, AStoreThatTimesOutFailsTheRegistrar) {
  Storage storage{sys_.spawn(stuck_storage, Stored{}, false), "a stuck store", "nothing"};
  caf::actor r = spawn(storage, timeouts(5000, 200));
  caf::expected<Registry> reg = recover(r);
  ASSERT_FALSE(reg);
  std::string e = error_text(reg.error());
  EXPECT_NE(e.find("storing the registry in a stuck store timed out after 200ms (--registry_store_timeout)"),
            std::string::npos) << e;
  EXPECT_EQ(text(apply(r, admit("S1"))), e);
}

TEST_F(RegistrarTest, AFetchThatTimesOutFailsTheRegistrar) {
  Storage storage{sys_.spawn(stuck_storage, Stored{}, true), "a mute store", "nothing"};
  caf::actor r = spawn(storage, timeouts(200, 5000));
  caf::expected<Registry> reg = recover(r);
  ASSERT_FALSE(reg);
  EXPECT_NE(error_text(reg.error()).find("fetching the registry from a mute store timed out after 200ms "
                                         "(--registry_fetch_timeout)"),
            std::string::npos)
      << error_text(reg.error());
}

TEST_F(RegistrarTest, ACorruptRegistryIsAnErrorNamingTheWayOut) {
  Stored garbage{{"\x0a\xff\xff\xff", "not a registry"}, 7};
  Storage storage{sys_.spawn(stuck_storage, garbage, false), "the test store", "wipe the test store"};
  caf::actor r = spawn(storage);
  caf::expected<Registry> reg = recover(r);
  ASSERT_FALSE(reg);
  std::string e = error_text(reg.error());
  for (const char* want : {"(18 bytes) does not parse as a Registry", "read from the test store (version 7)",
                           "the registry is corrupt", "wipe the test store to start with an empty registry"}) {
    EXPECT_NE(e.find(want), std::string::npos) << want << " not in: " << e;
  }
}

// The new leader is answered from a scan (the admitted slaves' SlaveInfos
// left encoded); the registrar parses the whole registry afterwards, and a
// SlaveInfo that does not parse then fails it: `loaded` and every operation
// get the error, so the new leader stops leading.
TEST_F(RegistrarTest, ASlaveInfoThatDoesNotParseFailsTheRegistrarAfterItAnswered) {
  Storage storage = spawn_in_memory_storage(sys_);
  Registry stored;
  SlaveInfo* good = stored.mutable_slaves()->add_slaves();
  good->set_hostname("host-S1");
  good->mutable_id()->set_value("S1");
  std::vector<std::string> parts = split_registry(stored);
  SlaveInfo broken;  // no hostname: a required field
  broken.mutable_id()->set_value("S2");
  std::string info = broken.SerializePartialAsString();
  std::string list = "\x0a" + std::string(1, static_cast<char>(info.size())) + info;
  parts[1 + bucket_of("S2")] += "\x12" + std::string(1, static_cast<char>(list.size())) + list;
  caf::expected<uint64_t> written{caf::make_error(caf::sec::runtime_error, "no answer")};
  self_->request(storage.actor, ANSWER_TIMEOUT, store_atom_v, parts, uint64_t{0})
      .receive([&](uint64_t v) { written = v; }, [&](caf::error& e) { written = std::move(e); });
  ASSERT_TRUE(written) << error_text(written.error());

  caf::actor r = spawn(storage);
  std::vector<std::string> ids;
  self_->request(r, ANSWER_TIMEOUT, recover_atom_v, leader("m1"))
      .receive([&](ScannedRegistry& scan) { ids = scan.slave_ids; },
               [&](caf::error& e) { ADD_FAILURE() << error_text(e); });
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"S1", "S2"}));
  caf::expected<bool> loaded{caf::make_error(caf::sec::runtime_error, "no answer")};
  self_->request(r, ANSWER_TIMEOUT, loaded_atom_v)
      .receive([&](bool b) { loaded = b; }, [&](caf::error& e) { loaded = std::move(e); });
  ASSERT_FALSE(loaded);
  EXPECT_NE(text(loaded).find("the registry is corrupt"), std::string::npos) << text(loaded);
  caf::expected<bool> op = apply(r, admit("S3"));
  ASSERT_FALSE(op);
  EXPECT_NE(text(op).find("the registry is corrupt"), std::string::npos) << text(op);
}

TEST_F(RegistrarTest, LoadedAnswersTrueOnceTheRegistryIsParsed) {
  Storage storage = spawn_in_memory_storage(sys_);
  caf::actor r = spawn(storage);
  caf::expected<bool> early{caf::make_error(caf::sec::runtime_error, "no answer")};
  self_->request(r, ANSWER_TIMEOUT, loaded_atom_v)
      .receive([&](bool b) { early = b; }, [&](caf::error& e) { early = std::move(e); });
  ASSERT_FALSE(early);
  EXPECT_NE(text(early).find("must come first"), std::string::npos) << text(early);
  ASSERT_TRUE(recover(r, "m1"));
  EXPECT_EQ(apply(r, admit("S1")), caf::expected<bool>(true));
  caf::actor r2 = spawn(storage);
  caf::expected<Registry> reg = recover(r2, "m2");
  ASSERT_TRUE(reg) << error_text(reg.error());
  EXPECT_EQ(reg->slaves().slaves(0).hostname(), "host-S1");
  caf::expected<bool> loaded{caf::make_error(caf::sec::runtime_error, "no answer")};
  self_->request(r2, ANSWER_TIMEOUT, loaded_atom_v)
      .receive([&](bool b) { loaded = b; }, [&](caf::error& e) { loaded = std::move(e); });
  EXPECT_EQ(loaded, caf::expected<bool>(true));
  EXPECT_EQ(apply(r2, admit("S1")), caf::expected<bool>(false));  // known from the parsed registry
}

TEST_F(RegistrarTest, SpawnRefusesBadOptions) {
  Options o;
  o.backend = "replicated_log";
  Try<caf::actor> bad = spawn_registrar(sys_, o);
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("unknown registry backend 'replicated_log' (known: in_memory, leveldb, zookeeper)"),
            std::string::npos) << bad.error();
  o.backend = "leveldb";
  ASSERT_TRUE(spawn_registrar(sys_, o).is_error());
  o.backend = "zookeeper";
  ASSERT_TRUE(spawn_registrar(sys_, o).is_error());
  o.backend = "in_memory";
  Try<caf::actor> good = spawn_registrar(sys_, o);
  ASSERT_TRUE(good) << good.error();
  spawned_.push_back(*good);
  EXPECT_TRUE(recover(*good));
}

}  // namespace
}  // namespace registrar_test
}  // namespace stoa::registrar
