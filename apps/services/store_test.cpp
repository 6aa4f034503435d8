#include "apps/services/store.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "actors/zookeeper.hpp"
#include "tests/cluster.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::services {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto STORE_TEST_WAIT = std::chrono::seconds(30);
using KeyValues = std::map<std::string, std::string>;

// Asks the store and waits for its answer (a value or the error's text).
class StoreTest : public ::testing::Test {
 protected:
  caf::expected<KeyValues> load(const caf::actor& store) {
    caf::expected<KeyValues> out{caf::make_error(caf::sec::request_timeout)};
    caf::scoped_actor self{sys_};
    self->request(store, STORE_TEST_WAIT, store_load_atom_v)
        .receive([&](KeyValues& v) { out = std::move(v); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
  template <class... Ts>
  std::optional<std::string> ask(const caf::actor& store, Ts... xs) {
    std::optional<std::string> error = "no answer";
    caf::scoped_actor self{sys_};
    self->request(store, STORE_TEST_WAIT, xs...)
        .receive(
            [&](bool ok) { error = ok ? std::nullopt : std::optional<std::string>("false"); },
            [&](caf::error& e) {
              const caf::message& c = e.context();
              error = !c.empty() && c.match_element<std::string>(0) ? c.get_as<std::string>(0) : sys_.render(e);
            });
    return error;
  }
  std::optional<std::string> put(const caf::actor& s, const std::string& k, const std::string& v) {
    return ask(s, store_put_atom_v, k, v);
  }
  void stop(const caf::actor& store) {
    caf::scoped_actor self{sys_};
    self->send_exit(store, caf::exit_reason::user_shutdown);
    self->wait_for(store);
  }

  // The same scenario for both back ends.
  void put_load_delete(const caf::actor& store) {
    const KeyValues initial = {{"framework-id", "fw-1"},
                               {"apps/prod", "{\"id\":\"/prod\"}"},
                               {"apps/prod/web", "{\"id\":\"/prod/web\"}"},
                               {"app-versions/prod/web/1000", "v1"},
                               {"app-versions/prod/web/2000", "v2"},
                               {"app-versions/prod/web2/3000", "w"},
                               {"instances/a b%c.é", ""}};
    for (const auto& [k, v] : initial) {
      ASSERT_EQ(put(store, k, v), std::nullopt) << k;
    }
    caf::expected<KeyValues> all = load(store);
    ASSERT_TRUE(all) << sys_.render(all.error());
    EXPECT_EQ(*all, initial);
    // Overwrite, delete, delete an absent key.
    ASSERT_EQ(put(store, "framework-id", "fw-2"), std::nullopt);
    ASSERT_EQ(ask(store, store_delete_atom_v, std::string("apps/prod")), std::nullopt);
    ASSERT_EQ(ask(store, store_delete_atom_v, std::string("apps/absent/x")), std::nullopt);
    // A prefix takes whole components: web2 stays.
    ASSERT_EQ(ask(store, store_delete_prefix_atom_v, std::string("app-versions/prod/web/")), std::nullopt);
    ASSERT_EQ(ask(store, store_delete_prefix_atom_v, std::string("no/such/prefix")), std::nullopt);
    all = load(store);
    ASSERT_TRUE(all) << sys_.render(all.error());
    EXPECT_EQ(*all, (KeyValues{{"framework-id", "fw-2"},
                               {"apps/prod/web", "{\"id\":\"/prod/web\"}"},
                               {"app-versions/prod/web2/3000", "w"},
                               {"instances/a b%c.é", ""}}));
    // A key and the keys below it go together.
    ASSERT_EQ(put(store, "apps/prod", "again"), std::nullopt);
    ASSERT_EQ(ask(store, store_delete_prefix_atom_v, std::string("apps/prod")), std::nullopt);
    all = load(store);
    ASSERT_TRUE(all);
    EXPECT_FALSE(all->contains("apps/prod"));
    EXPECT_FALSE(all->contains("apps/prod/web"));
    EXPECT_EQ(all->size(), 3u);
    // Everything.
    ASSERT_EQ(ask(store, store_delete_prefix_atom_v, std::string()), std::nullopt);
    all = load(store);
    ASSERT_TRUE(all);
    EXPECT_TRUE(all->empty()) << all->begin()->first;
  }

  // Requests sent without waiting are carried out in the order received.
  void keeps_the_order_of_requests(const caf::actor& store) {
    caf::scoped_actor self{sys_};
    constexpr int PUTS = 40;
    for (int i = 0; i < PUTS; ++i) {
      self->send(store, store_put_atom_v, std::string("apps/k"), std::to_string(i));
      if (i == PUTS / 2) {
        self->send(store, store_delete_prefix_atom_v, std::string("apps"));
      }
    }
    self->send(store, store_put_atom_v, std::string("apps/other/x"), std::string("y"));
    self->send(store, store_delete_atom_v, std::string("apps/other/x"));
    int answers = 0;
    bool all_true = true;
    self->receive_for(answers, PUTS + 3)([&](bool ok) { all_true = all_true && ok; });
    EXPECT_TRUE(all_true);
    caf::expected<KeyValues> all = load(store);
    ASSERT_TRUE(all) << sys_.render(all.error());
    EXPECT_EQ(*all, (KeyValues{{"apps/k", std::to_string(PUTS - 1)}}));
  }

  void rejects_bad_keys_and_values(const caf::actor& store) {
    for (const std::string key : {"", "/apps/x", "apps/x/", "apps//x", "apps/./x", "../x", "apps/.."}) {
      std::optional<std::string> e = put(store, key, "v");
      ASSERT_TRUE(e) << "accepted '" << key << "'";
      EXPECT_NE(e->find("'" + key + "'"), std::string::npos) << *e;
      EXPECT_TRUE(ask(store, store_delete_atom_v, key)) << key;
    }
    EXPECT_TRUE(ask(store, store_delete_prefix_atom_v, std::string("a//b")));
    std::optional<std::string> e = put(store, "apps/big", std::string(MAX_STORE_VALUE_BYTES + 1, 'x'));
    ASSERT_TRUE(e);
    EXPECT_NE(e->find("apps/big"), std::string::npos) << *e;
    EXPECT_NE(e->find(std::to_string(MAX_STORE_VALUE_BYTES + 1)), std::string::npos) << *e;
    // The largest value a store takes fits (ZooKeeper's default jute.maxbuffer included).
    ASSERT_EQ(put(store, "apps/largest", std::string(MAX_STORE_VALUE_BYTES, 'y')), std::nullopt);
    caf::expected<KeyValues> all = load(store);
    ASSERT_TRUE(all) << sys_.render(all.error());
    EXPECT_EQ(*all, (KeyValues{{"apps/largest", std::string(MAX_STORE_VALUE_BYTES, 'y')}}));
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
};

class FileStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("stoa-store-test-" + tests::unique_marker());
  }
  void TearDown() override { fs::remove_all(dir_); }
  caf::actor spawn() {
    Try<caf::actor> store = spawn_file_store(sys_, (dir_ / "state").string());
    EXPECT_TRUE(store) << store.error();
    return store ? *store : caf::actor();
  }
  fs::path dir_;
};

TEST_F(FileStoreTest, PutLoadDeleteAndDeletePrefix) {
  caf::actor store = spawn();
  ASSERT_TRUE(store);
  put_load_delete(store);
}

TEST_F(FileStoreTest, KeepsTheOrderOfRequests) {
  caf::actor store = spawn();
  ASSERT_TRUE(store);
  keeps_the_order_of_requests(store);
}

TEST_F(FileStoreTest, RejectsBadKeysAndTooLargeValues) {
  caf::actor store = spawn();
  ASSERT_TRUE(store);
  rejects_bad_keys_and_values(store);
}

TEST_F(FileStoreTest, TheLayoutOnDisk) {
  caf::actor store = spawn();
  ASSERT_EQ(put(store, "apps/prod/web", "app"), std::nullopt);
  ASSERT_EQ(put(store, "apps/prod", "group-like"), std::nullopt);
  ASSERT_EQ(put(store, "instances/a.b c", "i"), std::nullopt);
  std::ifstream in(dir_ / "state/apps/prod/web.v");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "app");
  EXPECT_TRUE(fs::is_regular_file(dir_ / "state/apps/prod.v"));
  EXPECT_TRUE(fs::is_regular_file(dir_ / "state/instances/a%2Eb%20c.v"));
  // Deleting the last key of a directory removes the empty directory.
  ASSERT_EQ(ask(store, store_delete_atom_v, std::string("instances/a.b c")), std::nullopt);
  EXPECT_FALSE(fs::exists(dir_ / "state/instances"));
}

TEST_F(FileStoreTest, SurvivesARespawn) {
  caf::actor store = spawn();
  ASSERT_EQ(put(store, "framework-id", "fw-1"), std::nullopt);
  ASSERT_EQ(put(store, "apps/web", "{}"), std::nullopt);
  stop(store);
  caf::actor again = spawn();
  caf::expected<KeyValues> all = load(again);
  ASSERT_TRUE(all) << sys_.render(all.error());
  EXPECT_EQ(*all, (KeyValues{{"framework-id", "fw-1"}, {"apps/web", "{}"}}));
}

TEST_F(FileStoreTest, ATemporaryFileLeftBehindIsIgnored) {
  caf::actor store = spawn();
  ASSERT_EQ(put(store, "apps/web", "good"), std::nullopt);
  stop(store);
  // A crash between writing the temporary file and renaming it.
  {
    std::ofstream(dir_ / "state/apps/web.v.tmp") << "half of a new val";
    std::ofstream(dir_ / "state/apps/other.v.tmp") << "{\"id\":";
    std::ofstream(dir_ / "state/apps/stray.txt") << "not ours";
  }
  caf::actor again = spawn();
  caf::expected<KeyValues> all = load(again);
  ASSERT_TRUE(all) << sys_.render(all.error());
  EXPECT_EQ(*all, (KeyValues{{"apps/web", "good"}}));
  // The next write of the key replaces the leftover.
  ASSERT_EQ(put(again, "apps/web", "better"), std::nullopt);
  EXPECT_FALSE(fs::exists(dir_ / "state/apps/web.v.tmp"));
  all = load(again);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->at("apps/web"), "better");
}

TEST_F(FileStoreTest, ADirectoryThatCannotBeUsedIsAnError) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  Try<caf::actor> store = spawn_file_store(sys_, (dir_ / "file").string());
  ASSERT_TRUE(store.is_error());
  EXPECT_NE(store.error().find((dir_ / "file").string()), std::string::npos) << store.error();
  store = spawn_file_store(sys_, (dir_ / "file/below").string());
  ASSERT_TRUE(store.is_error());
  EXPECT_NE(store.error().find("file/below"), std::string::npos) << store.error();
}

TEST(StoreKeys, CheckKey) {
  EXPECT_EQ(check_key("apps/prod/web"), std::nullopt);
  EXPECT_EQ(check_key("framework-id"), std::nullopt);
  EXPECT_EQ(check_key("instances/web.1f2e-3"), std::nullopt);
  for (const char* bad : {"", "/a", "a/", "a//b", ".", "a/../b"}) {
    EXPECT_TRUE(check_key(bad)) << bad;
  }
  EXPECT_TRUE(check_key("apps/" + std::string(100, '%')));  // 300 bytes encoded
}

class ZkStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    if (auto missing = tests::zookeeper_missing()) {
      GTEST_SKIP() << *missing;
    }
    Try<tests::ZooKeeperServer*> server = tests::shared_zookeeper_server();
    ASSERT_TRUE(server) << server.error();
    server_ = *server;
    url_ = "zk://" + server_->connect_string() + "/" + tests::unique_marker() + "/marathon";
  }
  caf::actor spawn() {
    Try<caf::actor> store = spawn_zk_store(sys_, url_, 10s);
    EXPECT_TRUE(store) << store.error();
    return store ? *store : caf::actor();
  }
  tests::ZooKeeperServer* server_ = nullptr;
  std::string url_;
};

TEST_F(ZkStoreTest, PutLoadDeleteAndDeletePrefix) {
  caf::actor store = spawn();
  ASSERT_TRUE(store);
  put_load_delete(store);
  stop(store);
}

TEST_F(ZkStoreTest, KeepsTheOrderOfRequests) {
  caf::actor store = spawn();
  ASSERT_TRUE(store);
  keeps_the_order_of_requests(store);
  stop(store);
}

TEST_F(ZkStoreTest, RejectsBadKeysAndTooLargeValues) {
  caf::actor store = spawn();
  ASSERT_TRUE(store);
  rejects_bad_keys_and_values(store);
  stop(store);
}

TEST_F(ZkStoreTest, SurvivesARespawnAndUsesTheDocumentedLayout) {
  caf::actor store = spawn();
  ASSERT_EQ(put(store, "framework-id", "fw-1"), std::nullopt);
  ASSERT_EQ(put(store, "apps/prod/web", "{}"), std::nullopt);
  stop(store);
  caf::actor again = spawn();
  caf::expected<KeyValues> all = load(again);
  ASSERT_TRUE(all) << sys_.render(all.error());
  EXPECT_EQ(*all, (KeyValues{{"framework-id", "fw-1"}, {"apps/prod/web", "{}"}}));
  stop(again);
  // Read with a client of our own.
  Try<zookeeper::Url> url = zookeeper::parse_url(url_);
  ASSERT_TRUE(url);
  caf::actor zk = zookeeper::spawn_client(sys_, {server_->connect_string(), 10s, caf::actor()});
  caf::scoped_actor self{sys_};
  std::string data = "unread";
  self->request(zk, STORE_TEST_WAIT, zookeeper::get_atom_v, url->path + "/state/apps/prod/web.v")
      .receive([&](std::string& d) { data = d; }, [&](caf::error& e) { data = sys_.render(e); });
  EXPECT_EQ(data, "{}");
  self->request(zk, STORE_TEST_WAIT, zookeeper::close_atom_v).receive([](bool) {}, [](caf::error&) {});
}

TEST_F(ZkStoreTest, AnUnreachableZooKeeperFailsRequestsWithAnError) {
  // Nothing listens on port 1: requests fail (ZCONNECTIONLOSS or an expired session), they do not hang.
  Try<caf::actor> store = spawn_zk_store(sys_, "zk://127.0.0.1:1/marathon", 1s);
  ASSERT_TRUE(store) << store.error();
  std::optional<std::string> e = put(*store, "apps/x", "v");
  ASSERT_TRUE(e);
  EXPECT_NE(e->find("apps/x"), std::string::npos) << *e;
  stop(*store);
  EXPECT_TRUE(spawn_zk_store(sys_, "zk://nohost/marathon", 1s).is_error());
}

}  // namespace
}  // namespace stoa::services
