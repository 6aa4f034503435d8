// Re-registration after a failover, in-process: a master whose registry
// (a store the test holds) lists one slave. Retries the slave sends while
// the master recovers are dropped (the first one waits and is answered);
// a retry that crosses the answer gets no second answer, a later one does.
// Many stashed messages are handled in slices, in order, with requests
// answered between the slices.

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <picojson.h>

#include <memory>
#include <optional>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "common/resources.hpp"
#include "master/master.hpp"
#include "master/master_actor.hpp"
#include "registrar/parts.hpp"
#include "registrar/storage.hpp"
#include "tests/poll.hpp"

// Names in their own namespace: CI compiles test files of one binary as
// one unit (unity build).
namespace stoa::master::master_reregistration_test {
namespace {

using namespace std::chrono_literals;
using release_atom = caf::atom_constant<caf::atom("t_release")>;
using held_atom = caf::atom_constant<caf::atom("t_held")>;

const std::string SLAVE_ID = "earlier-master-S7";

// A store holding a registry with one admitted slave whose stores are
// answered only after (release_atom): until then the master recovers.
struct HeldStore {
  std::vector<caf::response_promise> stores;
  uint64_t version = 1;
  bool released = false;
};

caf::behavior held_store(caf::stateful_actor<HeldStore>* self, registry::Registry reg) {
  return {
      [reg](registrar::fetch_atom) { return registrar::Stored{registrar::split_registry(reg), 1}; },
      [self](registrar::store_atom, std::vector<std::string>&, uint64_t) -> caf::result<uint64_t> {
        if (self->state.released) {
          return ++self->state.version;
        }
        self->state.stores.push_back(self->make_response_promise());
        return self->state.stores.back();
      },
      [self](registrar::storage_stats_atom) { return registrar::StorageStats{}; },
      [self](held_atom) { return self->state.stores.size(); },
      [self](release_atom) {
        self->state.released = true;
        for (caf::response_promise& p : self->state.stores) {
          p.deliver(++self->state.version);
        }
        self->state.stores.clear();
      },
  };
}

// Slave 7 is SLAVE_ID.
SlaveInfo slave_info(int i = 7) {
  SlaveInfo info;
  info.set_hostname("h" + std::to_string(i));
  info.mutable_id()->set_value("earlier-master-S" + std::to_string(i));
  Resources::parse("cpus:2;mem:1024")->to_proto(info.mutable_resources());
  return info;
}

class MasterReregistrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto rt = Runtime::start(RuntimeOptions{});
    ASSERT_TRUE(rt.is_some()) << rt.error();
    rt_ = std::move(*rt);
    registry::Registry reg;
    if (registry_slaves() == 1) {
      *reg.mutable_slaves()->add_slaves() = slave_info();
    }
    for (int i = 0; registry_slaves() > 1 && i < registry_slaves(); ++i) {
      *reg.mutable_slaves()->add_slaves() = slave_info(i);
    }
    store_ = rt_->system().spawn(held_store, reg);
    MasterOptions opts;
    const char* argv[] = {"stoa-master", "--allocation_interval=50ms"};
    ASSERT_FALSE(opts.flags.load(2, argv, {}));
    opts.upid = rt_->upid("master");
    opts.hostname = "localhost";
    opts.registry_storage = std::make_shared<registrar::Storage>(
        registrar::Storage{caf::actor_cast<registrar::storage_actor>(store_), "the test's store", "nothing"});
    Try<caf::actor> m = spawn_master(rt_->system(), opts);
    ASSERT_TRUE(m.is_some()) << m.error();
    master_ = *m;
  }

  virtual int registry_slaves() const { return 1; }

  void TearDown() override {
    if (master_) {
      caf::scoped_actor self{rt_->system()};
      self->send_exit(master_, caf::exit_reason::user_shutdown);
    }
    rt_->shutdown();
  }

  // The master's /metrics (it answers 503 until it leads: polled). The
  // deadlines are generous: with 12k slaves just re-registered, a sanitized
  // master can take seconds to get to the request.
  picojson::value metrics() {
    caf::scoped_actor self{rt_->system()};
    picojson::value v;
    int status = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 30s;
         status != 200 && std::chrono::steady_clock::now() < deadline;) {
      self->request(master_, 30s, state_atom_v, std::string("metrics"), std::map<std::string, std::string>{})
          .receive(
              [&](int s, std::string& body) {
                status = s;
                if (s == 200) {
                  EXPECT_TRUE(picojson::parse(v, body).empty());
                }
              },
              [&](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    }
    EXPECT_EQ(status, 200) << "the master did not lead";
    return v;
  }

  double metric(const std::string& name) {
    picojson::value m = metrics();
    return m.contains(name) ? m.get(name).get<double>() : 0.0;
  }

  internal::ReregisterSlaveMessage reregistration(int i = 7) {
    internal::ReregisterSlaveMessage m;
    *m.mutable_slave() = slave_info(i);
    m.set_pid("slave(" + std::to_string(i) + ")@127.0.0.1:7");
    return m;
  }

  // Waits until the master has asked its (held) store to record it as the
  // leader: it recovers from then until the test releases the store.
  void wait_until_recovering(caf::scoped_actor& self) {
    size_t held = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 5s;
         held == 0 && std::chrono::steady_clock::now() < deadline;) {
      self->request(store_, 5s, held_atom::value).receive([&](size_t n) { held = n; }, [](caf::error&) {});
    }
    ASSERT_EQ(held, 1u) << "the master did not store its leadership";
  }

  // Waits until the master has taken everything from its mailbox.
  void wait_until_idle() {
    auto* master_actor = dynamic_cast<caf::scheduled_actor*>(caf::actor_cast<caf::abstract_actor*>(master_));
    ASSERT_NE(master_actor, nullptr);
    ASSERT_TRUE(tests::poll_until([&] { return master_actor->mailbox().blocked(); }, tests::deadline_in(5s)))
        << "the recovering master never emptied its mailbox";
  }

  // SlaveReregisteredMessages already in the mailbox (pings are skipped).
  int replies_waiting(caf::scoped_actor& slave) {
    int n = 0;
    bool more = true;
    while (more) {
      more = false;
      slave->receive([&](internal::SlaveReregisteredMessage&) { ++n, more = true; },
                     [&](internal::PingSlaveMessage&) { more = true; }, caf::after(0s) >> [] {});
    }
    return n;
  }

  std::unique_ptr<Runtime> rt_;
  caf::actor store_;
  caf::actor master_;
};

TEST_F(MasterReregistrationTest, RetriesWhileRecoveringAreDroppedAndTheFirstIsAnswered) {
  caf::scoped_actor slave{rt_->system()};
  // The master is recovering: its store of the new leader is held. The
  // slave tries three times with the same message.
  size_t held = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       held == 0 && std::chrono::steady_clock::now() < deadline;) {
    slave->request(store_, 5s, held_atom::value).receive([&](size_t n) { held = n; }, [](caf::error&) {});
  }
  ASSERT_EQ(held, 1u) << "the master did not store its leadership";
  for (int i = 0; i < 3; ++i) {
    slave->send(master_, reregistration());
  }
  // Release the store only once the master has taken all three from its
  // mailbox (it waits for new messages): the registrar's answer has high
  // priority and would otherwise overtake retries still in the mailbox, which
  // the leading master then handles as crossing retries instead.
  auto* master_actor = dynamic_cast<caf::scheduled_actor*>(caf::actor_cast<caf::abstract_actor*>(master_));
  ASSERT_NE(master_actor, nullptr);
  ASSERT_TRUE(tests::poll_until([&] { return master_actor->mailbox().blocked(); }, tests::deadline_in(5s)))
      << "the recovering master never emptied its mailbox";
  slave->send(store_, release_atom::value);
  // metrics() answers once the master leads; the held message is handled
  // before it (it waited in the mailbox ahead of the metrics request).
  double handled = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       handled < 1 && std::chrono::steady_clock::now() < deadline;) {
    handled = metric("master/slave_reregistrations");
  }
  ASSERT_EQ(handled, 1.0);
  EXPECT_EQ(metric("master/messages_reregister_slave"), 1.0) << "the two retries reached the handler";
  EXPECT_EQ(metric("master/duplicate_reregistrations"), 2.0);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
  EXPECT_EQ(replies_waiting(slave), 1) << "the slave is answered once";
}

TEST_F(MasterReregistrationTest, ARetryCrossingTheAnswerIsNotAnsweredAgainALaterOneIs) {
  caf::scoped_actor slave{rt_->system()};
  slave->send(store_, release_atom::value);
  ASSERT_EQ(metric("master/slaves_active"), 0.0);
  auto answered_at = std::chrono::steady_clock::now();
  slave->send(master_, reregistration());
  slave->send(master_, reregistration());  // crosses the answer
  double duplicates = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       duplicates < 1 && std::chrono::steady_clock::now() < deadline;) {
    duplicates = metric("master/duplicate_reregistrations");
  }
  ASSERT_EQ(duplicates, 1.0);
  EXPECT_EQ(replies_waiting(slave), 1) << "the crossing retry was answered again";
  // The slave, not answered, tries again with its backoff: answered once a
  // second has passed since the answer.
  int later = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       later == 0 && std::chrono::steady_clock::now() < deadline;) {
    slave->send(master_, reregistration());
    slave->receive([&](internal::SlaveReregisteredMessage&) { ++later; }, [](internal::PingSlaveMessage&) {},
                   caf::after(200ms) >> [] {});
  }
  EXPECT_EQ(later, 1) << "a retry after the interval is answered";
  EXPECT_GE(std::chrono::steady_clock::now() - answered_at, 1s);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
}

class MasterReplayTest : public MasterReregistrationTest {
 protected:
  // Stashed while recovering: thirty slices and a part (~1 s of replay, so
  // that a request sent back to back lands inside it even on a loaded
  // machine; ten slices were too short for that under two busy loops).
  static constexpr int STASHED = static_cast<int>(30 * REPLAY_SLICE + REPLAY_SLICE / 2);
  // Sent once the store is released, ahead of the metrics requests: during
  // the replay, or after it. Hundreds: CAF serves 3 normal messages between
  // two urgent ones, so without the master's yields (REPLAY_YIELD_EVERY) the
  // first request would wait for the whole stash (as it did with 300).
  static constexpr int LATER = 300;
  int registry_slaves() const override { return STASHED + LATER; }
};

TEST_F(MasterReplayTest, TheStashIsHandledInSlicesInOrderWithRequestsAnsweredBetween) {
  caf::scoped_actor slave{rt_->system()};
  wait_until_recovering(slave);
  for (int i = 0; i < STASHED; ++i) {
    slave->send(master_, reregistration(i));
  }
  wait_until_idle();
  slave->send(store_, release_atom::value);
  for (int i = STASHED; i < STASHED + LATER; ++i) {
    slave->send(master_, reregistration(i));
  }
  // Metrics requests, back to back: 503 until the master leads, then
  // answered between two slices of the replay, from the state as it is.
  std::vector<std::string> answered;
  double reregistered_then = -1;
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       reregistered_then < 0 && std::chrono::steady_clock::now() < deadline;) {
    slave->request(master_, 10s, state_atom_v, std::string("metrics"), std::map<std::string, std::string>{})
        .receive(
            [&](int status, std::string& body) {
              if (status != 200) {
                return;
              }
              picojson::value v;
              ASSERT_TRUE(picojson::parse(v, body).empty());
              reregistered_then = v.get("master/slave_reregistrations").get<double>();
            },
            [&](caf::error& e) { FAIL() << caf::to_string(e); });
  }
  ASSERT_GE(reregistered_then, 0.0) << "the master never answered 200";
  // (The first slice may hold other stashed messages than these.)
  EXPECT_GT(reregistered_then, 0.0) << "answered before the first slice";
  EXPECT_LT(reregistered_then, static_cast<double>(STASHED)) << "the request waited for the whole stash";
  // Every slave answered once, in the order the messages were sent: the
  // ones sent during the replay after every stashed one.
  bool more = true;
  while (more && answered.size() < static_cast<size_t>(STASHED + LATER)) {
    slave->receive([&](internal::SlaveReregisteredMessage& m) { answered.push_back(m.slave_id().value()); },
                   [](internal::PingSlaveMessage&) {}, caf::after(5s) >> [&] { more = false; });
  }
  ASSERT_EQ(answered.size(), static_cast<size_t>(STASHED + LATER));
  for (int i = 0; i < STASHED + LATER; ++i) {
    ASSERT_EQ(answered[static_cast<size_t>(i)], slave_info(i).id().value()) << "answer " << i;
  }
  EXPECT_EQ(metric("master/slave_reregistrations"), static_cast<double>(STASHED + LATER));
  EXPECT_EQ(metric("master/slaves_active"), static_cast<double>(STASHED + LATER));
}

}  // namespace
}  // namespace stoa::master::master_reregistration_test
