// The LevelDB store (registrar/leveldb_storage.cpp) in a temporary work
// directory: durability across registrars, writes of changed parts only,
// the lock against a second opener and corrupt keys.
#include <stdlib.h>

#include <filesystem>

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <leveldb/db.h>

#include "registrar/parts.hpp"
#include "registrar/registrar.hpp"

namespace stoa::registrar {
namespace {

using registry::Operation;
using registry::Registry;

constexpr auto ANSWER_TIMEOUT = std::chrono::seconds(30);

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

class LevelDbStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "stoa-registrar-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    work_dir_ = tmpl;
  }
  void TearDown() override {
    for (const caf::actor& a : spawned_) {
      self_->send_exit(a, caf::exit_reason::user_shutdown);
    }
    spawned_.clear();  // the actor system waits for detached actors to be destroyed
    std::error_code ignored;
    std::filesystem::remove_all(work_dir_, ignored);
  }
  Options options() {
    Options o;
    o.backend = "leveldb";
    o.work_dir = work_dir_;
    return o;
  }
  std::string dir() const { return work_dir_ + "/registry"; }

  caf::expected<Registry> recover(const caf::actor& r, const std::string& id) {
    MasterInfo m;
    m.set_id(id);
    m.set_ip(1);
    m.set_port(5050);
    caf::expected<Registry> out{caf::make_error(caf::sec::runtime_error, "no answer")};
    self_->request(r, ANSWER_TIMEOUT, recover_atom_v, m)
        .receive([&](ScannedRegistry& scan) { out = recovered_registry(scan); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
  caf::expected<bool> apply(const caf::actor& r, const Operation& op) {
    caf::expected<bool> out{caf::make_error(caf::sec::runtime_error, "no answer")};
    self_->request(r, ANSWER_TIMEOUT, apply_atom_v, op)
        .receive([&](bool b) { out = b; }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
  struct Started {
    caf::actor registrar;
    Storage storage;
  };
  // A registrar over the store in dir(); Error when it cannot be opened.
  Try<Started> start() {
    Try<Storage> storage = spawn_leveldb_storage(sys_, dir());
    if (storage.is_error()) {
      return Error(storage.error());
    }
    spawned_.push_back(spawn_registrar(sys_, *storage, Options{}));
    return Started{spawned_.back(), *storage};
  }
  // Stops both and waits until the store is gone: an actor's state (here the
  // open LevelDB) is destroyed before its monitors hear of its end.
  void stop(const Started& s) {
    self_->monitor(s.storage.actor);
    self_->send_exit(s.registrar, caf::exit_reason::user_shutdown);
    self_->receive([](const caf::down_msg&) {});
  }
  // Writes `key` = `value` straight into the closed store.
  void poke(const std::string& key, const std::string* value) {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir(), &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    if (value != nullptr) {
      ASSERT_TRUE(db->Put(leveldb::WriteOptions(), key, *value).ok());
    } else {
      ASSERT_TRUE(db->Delete(leveldb::WriteOptions(), key).ok());
    }
  }
  std::string recover_error() {
    Try<Started> r = start();
    if (r.is_error()) {
      return r.error();
    }
    caf::expected<Registry> reg = recover(r->registrar, "m9");
    std::string e = reg ? "(no error)" : error_text(reg.error());
    stop(*r);
    return e;
  }

  std::string work_dir_;
  std::vector<caf::actor> spawned_;  // stopped at the end (TearDown)
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
};

TEST_F(LevelDbStorageTest, TheRegistrySurvivesTheRegistrar) {
  Try<Started> first = start();
  ASSERT_TRUE(first) << first.error();
  ASSERT_TRUE(recover(first->registrar, "m1"));
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(apply(first->registrar, admit("S" + std::to_string(i))), caf::expected<bool>(true));
  }
  ASSERT_EQ(apply(first->registrar, framework_removed("F1")), caf::expected<bool>(true));
  stop(*first);
  Try<Started> second = start();
  ASSERT_TRUE(second) << second.error();
  caf::expected<Registry> reg = recover(second->registrar, "m2");
  ASSERT_TRUE(reg) << error_text(reg.error());
  EXPECT_EQ(reg->slaves().slaves_size(), 100);
  EXPECT_EQ(reg->master().id(), "m2");
  ASSERT_EQ(reg->removed_frameworks().frameworks_size(), 1);
  EXPECT_EQ(reg->removed_frameworks().frameworks(0).id().value(), "F1");
  EXPECT_EQ(apply(second->registrar, admit("S5")), caf::expected<bool>(false));
  EXPECT_EQ(apply(second->registrar, framework_removed("F1")), caf::expected<bool>(false));
}

TEST_F(LevelDbStorageTest, WritesOnlyThePartsThatChanged) {
  Try<Storage> storage = spawn_leveldb_storage(sys_, dir());
  ASSERT_TRUE(storage) << storage.error();
  caf::actor r = spawn_registrar(sys_, *storage, Options{});
  spawned_.push_back(r);
  ASSERT_TRUE(recover(r, "m1"));
  auto stats = [&] {
    StorageStats out;
    self_->request(storage->actor, ANSWER_TIMEOUT, storage_stats_atom_v)
        .receive([&](StorageStats& s) { out = s; }, [&](caf::error&) {});
    return out;
  };
  StorageStats before = stats();
  EXPECT_EQ(before.parts_written, 1u + REGISTRY_BUCKETS);  // the first store writes them all
  ASSERT_EQ(apply(r, admit("S1")), caf::expected<bool>(true));
  StorageStats after = stats();
  EXPECT_EQ(after.stores, before.stores + 1);
  EXPECT_EQ(after.parts_written, before.parts_written + 1);
}

TEST_F(LevelDbStorageTest, ASecondOpenerIsRefusedClearly) {
  Try<caf::actor> first = spawn_registrar(sys_, options());
  ASSERT_TRUE(first) << first.error();
  spawned_.push_back(*first);
  Try<caf::actor> second = spawn_registrar(sys_, options());
  ASSERT_TRUE(second.is_error());
  EXPECT_NE(second.error().find("cannot open the LevelDB registry " + dir() + ": another process holds it"),
            std::string::npos) << second.error();
}

TEST_F(LevelDbStorageTest, CorruptKeysAreErrorsNamingTheWayOut) {
  Try<Started> first = start();
  ASSERT_TRUE(first) << first.error();
  ASSERT_TRUE(recover(first->registrar, "m1"));
  ASSERT_TRUE(apply(first->registrar, admit("S1")));
  stop(*first);

  const std::string garbage_version = "seven";
  poke("registry/version", &garbage_version);
  std::string e = recover_error();
  EXPECT_NE(e.find("the LevelDB registry " + dir() + " is corrupt: key 'registry/version' holds 'seven', not a number"),
            std::string::npos) << e;
  EXPECT_NE(e.find("move " + dir() + " aside"), std::string::npos) << e;

  const std::string two = "2";
  poke("registry/version", &two);
  poke("registry/part/3", nullptr);
  e = recover_error();
  EXPECT_NE(e.find("key 'registry/part/3' is missing"), std::string::npos) << e;

  const std::string junk = "\xff\xff\xff\xff";
  poke("registry/part/3", &junk);
  e = recover_error();
  EXPECT_NE(e.find("does not parse as a Registry"), std::string::npos) << e;
  EXPECT_NE(e.find("read from the LevelDB store " + dir()), std::string::npos) << e;
}

}  // namespace
}  // namespace stoa::registrar
