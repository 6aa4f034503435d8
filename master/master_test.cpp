// The master actor in-process, driven by scoped actors standing in for a
// slave and a framework: registration, subscription, offers, validation
// and bad messages from the network.

#include "master/allocator_actor.hpp"
#include "master/master.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <picojson.h>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "common/resources.hpp"
#include "master/live_master_fixture.hpp"

namespace stoa::master {
namespace {

using namespace std::chrono_literals;
using stoa::scheduler::Call;
using stoa::scheduler::Event;

class MasterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("STOA_CHECK_INVARIANTS", "1", 1);
    auto rt = Runtime::start(RuntimeOptions{});
    ASSERT_TRUE(rt.is_some()) << rt.error();
    rt_ = std::move(*rt);
    ASSERT_NO_FATAL_FAILURE(testing::start_leading_master(*rt_, &master_));
  }

  void TearDown() override {
    // Every scenario keeps the accounting invariants (checked after each allocation run).
    if (master_) {
      EXPECT_EQ(get("metrics").get("master/invariant_violations").get<double>(), 0.0);
    }
    rt_->shutdown();
  }

  picojson::value get(const std::string& endpoint) {
    caf::scoped_actor self{rt_->system()};
    picojson::value v;
    self->request(master_, 5s, state_atom_v, endpoint, std::map<std::string, std::string>{})
        .receive(
            [&](int status, std::string& body) {
              EXPECT_EQ(status, 200);
              EXPECT_TRUE(picojson::parse(v, body).empty());
            },
            [&](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    return v;
  }

  internal::RegisterSlaveMessage registration(const std::string& resources) {
    internal::RegisterSlaveMessage m;
    m.mutable_slave()->set_hostname("h1");
    Resources::parse(resources)->to_proto(m.mutable_slave()->mutable_resources());
    m.set_pid("slave(1)@127.0.0.1:1");
    return m;
  }

  // Waits for a message of type T, skipping others; fails after a deadline.
  template <class T>
  std::optional<T> expect(caf::scoped_actor& self) {
    std::optional<T> out;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!out && std::chrono::steady_clock::now() < deadline) {
      self->receive([&](T& m) { out = m; }, [](internal::PingSlaveMessage&) {},
                    [](Event&) {}, [](internal::RunTaskMessage&) {},
                    caf::after(5s) >> [] {});
    }
    return out;
  }

  std::optional<Event> expect_event(caf::scoped_actor& self, Event::Type type) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<Event> e;
      self->receive([&](Event& ev) { e = ev; }, caf::after(5s) >> [] {});
      if (e && e->type() == type) {
        return e;
      }
    }
    return std::nullopt;
  }

  std::unique_ptr<Runtime> rt_;
  caf::actor master_;
};

TEST_F(MasterTest, InvalidSlaveRegistrationIsRefusedWithTheReason) {
  caf::scoped_actor slave{rt_->system()};
  internal::RegisterSlaveMessage bad = registration("cpus:1");
  bad.mutable_slave()->mutable_resources(0)->mutable_scalar()->set_value(-4);
  slave->send(master_, bad);
  auto shutdown = expect<internal::ShutdownMessage>(slave);
  ASSERT_TRUE(shutdown);
  EXPECT_NE(shutdown->message().find("Invalid registration"), std::string::npos);
  EXPECT_TRUE(get("state").get("slaves").get<picojson::array>().empty());
}

TEST_F(MasterTest, RetriedRegistrationGetsTheSameId) {
  caf::scoped_actor slave{rt_->system()};
  slave->send(master_, registration("cpus:2;mem:1024"));
  auto first = expect<internal::SlaveRegisteredMessage>(slave);
  ASSERT_TRUE(first);
  slave->send(master_, registration("cpus:2;mem:1024"));
  auto second = expect<internal::SlaveRegisteredMessage>(slave);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->slave_id().value(), second->slave_id().value());
  EXPECT_EQ(get("state").get("slaves").get<picojson::array>().size(), 1u);
}

TEST_F(MasterTest, AnonymousAndUnknownMessagesChangeNothing) {
  internal::StatusUpdateMessage update;
  update.mutable_update()->mutable_framework_id()->set_value("nope");
  update.mutable_update()->mutable_status()->mutable_task_id()->set_value("t");
  update.mutable_update()->mutable_status()->set_state(TASK_FINISHED);
  update.mutable_update()->set_timestamp(1);
  caf::anon_send(master_, update);
  caf::anon_send(master_, internal::PongSlaveMessage{});
  internal::ExitedExecutorMessage exited;
  exited.mutable_slave_id()->set_value("S");
  exited.mutable_framework_id()->set_value("F");
  exited.mutable_executor_id()->set_value("E");
  exited.set_status(1);
  caf::anon_send(master_, exited);
  caf::anon_send(master_, std::string("garbage"));
  picojson::value metrics = get("metrics");
  EXPECT_GE(metrics.get("master/invalid_status_updates").get<double>(), 1.0);
  EXPECT_GE(metrics.get("master/dropped_messages").get<double>(), 1.0);
}

// Timers are the master's own messages and offers come from its allocator
// actor only: from anyone else they are dropped and counted (a forged
// allocation would offer resources nobody accounts for).
TEST_F(MasterTest, TimerAndOfferMessagesFromOtherActorsAreDroppedAndCounted) {
  // Every metric is declared up front: present before anything happened.
  auto number = [](const picojson::value& m, const char* key) {
    EXPECT_TRUE(m.get(key).is<double>()) << key << " missing";
    return m.get(key).is<double>() ? m.get(key).get<double>() : -1.0;
  };
  double dropped_before = number(get("metrics"), "master/dropped_messages");
  EXPECT_EQ(number(get("metrics"), "master/offers_sent"), 0.0);
  caf::scoped_actor stranger{rt_->system()};
  constexpr int N = 200;
  allocator::Allocation forged;
  forged.framework_id = "F1";
  forged.slave_id = "S1";
  forged.role = "*";
  forged.resources = *Resources::parse("cpus:1;mem:64");
  for (int i = 0; i < N; ++i) {
    stranger->send(master_, offers_atom_v, allocator::Allocations{forged});
  }
  stranger->send(master_, ping_timer_atom_v);
  stranger->send(master_, reregister_timer_atom_v, std::string("S1"), uint64_t{0});
  stranger->send(master_, failover_timer_atom_v, std::string("F1"), uint64_t{0});
  stranger->send(master_, offer_timer_atom_v, std::string("O1"));
  picojson::value metrics = get("metrics");
  EXPECT_EQ(number(metrics, "master/dropped_messages") - dropped_before, N + 4.0);
  EXPECT_EQ(number(metrics, "master/offers_sent"), 0.0);
  EXPECT_EQ(number(metrics, "master/outstanding_offers"), 0.0);
}

TEST_F(MasterTest, SubscribeOfferAndValidateLaunches) {
  caf::scoped_actor slave{rt_->system()};
  slave->send(master_, registration("cpus:2;mem:1024"));
  auto registered = expect<internal::SlaveRegisteredMessage>(slave);
  ASSERT_TRUE(registered);

  caf::scoped_actor fw{rt_->system()};
  Call bad;
  bad.set_type(Call::SUBSCRIBE);
  bad.mutable_subscribe()->mutable_framework_info()->set_user("u");
  bad.mutable_subscribe()->mutable_framework_info()->set_name("");
  fw->send(master_, bad);
  auto error = expect_event(fw, Event::ERROR);
  ASSERT_TRUE(error);
  EXPECT_NE(error->error().message().find("name"), std::string::npos);

  Call sub = bad;
  sub.mutable_subscribe()->mutable_framework_info()->set_name("test");
  fw->send(master_, sub);
  auto subscribed = expect_event(fw, Event::SUBSCRIBED);
  ASSERT_TRUE(subscribed);
  FrameworkID fid = subscribed->subscribed().framework_id();
  auto offers = expect_event(fw, Event::OFFERS);
  ASSERT_TRUE(offers);
  ASSERT_EQ(offers->offers().offers_size(), 1);
  const Offer& offer = offers->offers().offers(0);

  // An unknown offer drops every task of the ACCEPT.
  auto launch = [&](const std::string& offer_id, const std::string& task_id,
                    const std::string& resources) {
    Call accept;
    accept.set_type(Call::ACCEPT);
    *accept.mutable_framework_id() = fid;
    accept.mutable_accept()->add_offer_ids()->set_value(offer_id);
    Offer::Operation* op = accept.mutable_accept()->add_operations();
    op->set_type(Offer::Operation::LAUNCH);
    TaskInfo* t = op->mutable_launch()->add_task_infos();
    t->set_name(task_id);
    t->mutable_task_id()->set_value(task_id);
    *t->mutable_slave_id() = offer.slave_id();
    t->mutable_command()->set_value("true");
    Resources::parse(resources)->to_proto(t->mutable_resources());
    fw->send(master_, accept);
  };
  launch("no-such-offer", "t0", "cpus:0.1");
  auto lost = expect_event(fw, Event::UPDATE);
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->update().status().state(), TASK_LOST);
  EXPECT_EQ(lost->update().status().reason(), TaskStatus::REASON_INVALID_OFFERS);

  // An over-sized task gets TASK_ERROR naming the resources; nothing reaches the slave.
  launch(offer.id().value(), "t1", "cpus:1000");
  auto too_big = expect_event(fw, Event::UPDATE);
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->update().status().state(), TASK_ERROR);
  EXPECT_NE(too_big->update().status().message().find("cpus:1000"), std::string::npos);

  // The resources come back and a valid task reaches the slave.
  auto again = expect_event(fw, Event::OFFERS);
  ASSERT_TRUE(again);
  const Offer& o2 = again->offers().offers(0);
  Call accept;
  accept.set_type(Call::ACCEPT);
  *accept.mutable_framework_id() = fid;
  *accept.mutable_accept()->add_offer_ids() = o2.id();
  Offer::Operation* op = accept.mutable_accept()->add_operations();
  op->set_type(Offer::Operation::LAUNCH);
  TaskInfo* t = op->mutable_launch()->add_task_infos();
  t->set_name("ok");
  t->mutable_task_id()->set_value("ok");
  *t->mutable_slave_id() = o2.slave_id();
  t->mutable_command()->set_value("true");
  Resources::parse("cpus:0.5;mem:64")->to_proto(t->mutable_resources());
  fw->send(master_, accept);
  auto run = expect<internal::RunTaskMessage>(slave);
  ASSERT_TRUE(run);
  EXPECT_EQ(run->task().task_id().value(), "ok");
  picojson::value state = get("state");
  const picojson::value& task = state.get("frameworks").get<picojson::array>()[0].get("tasks").get<picojson::array>()[0];
  EXPECT_EQ(task.get("state").get<std::string>(), "TASK_STAGING");
  EXPECT_EQ(state.get("slaves").get<picojson::array>()[0].get("used_resources").get("cpus").get<double>(), 0.5);
}

}  // namespace
}  // namespace stoa::master
