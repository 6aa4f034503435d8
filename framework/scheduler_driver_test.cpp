// The scheduler driver against a fake master actor in the same process: the
// fake master is registered as "master" in a Runtime (resolving its own UPID
// is local), forwards every Call to a probe (a scoped_actor the test reads),
// and sends every Event it gets from the test to the actor that subscribed.

#include <pthread.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "actors/master_detector.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/zookeeper.hpp"
#include "framework/scheduler.hpp"
#include "tests/cluster.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa {
// Named so that this file's helpers stay apart from other test files'
// when CI compiles the test files of one binary as one unit (unity build).
namespace scheduler_driver_test {
namespace {

using namespace std::chrono_literals;
using scheduler::Call;
using scheduler::Event;

constexpr auto WAIT = std::chrono::seconds(10);  // generous: the machine is shared

caf::behavior fake_master(caf::event_based_actor* self, caf::actor probe) {
  auto subscriber = std::make_shared<caf::actor>();
  return {
      [self, probe, subscriber](Call& call) {
        if (call.type() == Call::SUBSCRIBE) {
          *subscriber = caf::actor_cast<caf::actor>(self->current_sender());
        }
        self->send(probe, std::move(call));
      },
      [self, probe](scheduler::Calls& calls) { self->send(probe, std::move(calls)); },
      [self, subscriber](Event& e) {
        if (*subscriber) {
          self->send(*subscriber, std::move(e));
        }
      },
      [self, subscriber](scheduler::Events& e) {
        if (*subscriber) {
          self->send(*subscriber, std::move(e));
        }
      },
  };
}

Event subscribed_event(const std::string& id) {
  Event e;
  e.set_type(Event::SUBSCRIBED);
  e.mutable_subscribed()->mutable_framework_id()->set_value(id);
  MasterInfo* mi = e.mutable_subscribed()->mutable_master_info();
  mi->set_id("master-1");
  mi->set_ip(0);
  mi->set_port(0);
  return e;
}

Event update_event(const std::string& task, TaskState state, const std::string& uuid) {
  Event e;
  e.set_type(Event::UPDATE);
  TaskStatus* s = e.mutable_update()->mutable_status();
  s->mutable_task_id()->set_value(task);
  s->mutable_slave_id()->set_value("slave-1");
  s->set_state(state);
  if (!uuid.empty()) {
    s->set_uuid(uuid);
  }
  return e;
}

Event offers_event(const std::string& offer_id) {
  Event e;
  e.set_type(Event::OFFERS);
  Offer* o = e.mutable_offers()->add_offers();
  o->mutable_id()->set_value(offer_id);
  o->mutable_framework_id()->set_value("fw-1");
  o->mutable_slave_id()->set_value("slave-1");
  o->set_hostname("localhost");
  return e;
}

Call decline_call(const std::string& offer_id) {
  Call c;
  c.set_type(Call::DECLINE);
  c.mutable_decline()->add_offer_ids()->set_value(offer_id);
  return c;
}

class SchedulerDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The fake peer shares this process; a test kills it on purpose, which
    // must not end the test binary as a dead component would end a daemon.
    RuntimeOptions ropts;
    ropts.on_component_failure = [](const std::string&) {};
    Try<std::unique_ptr<Runtime>> rt = Runtime::start(ropts);
    ASSERT_TRUE(rt) << rt.error();
    runtime_ = std::move(rt).get();
    probe_.emplace(runtime_->system());
    sink_.emplace(runtime_->system());
  }

  void TearDown() override {
    // scoped_actors count as running actors: drop them before the runtime.
    probe_.reset();
    sink_.reset();
    driver_ = caf::actor{};
    master_ = caf::actor{};
    runtime_.reset();
  }

  caf::actor start_master() {
    master_ = runtime_->system().spawn(fake_master, caf::actor_cast<caf::actor>((*probe_)->address()));
    runtime_->register_actor("master", master_);
    return master_;
  }

  SchedulerOptions options() {
    SchedulerOptions o;
    o.master = runtime_->upid("master").address();
    o.framework_info.set_name("test-framework");
    o.subscribe_backoff = 50ms;
    o.subscribe_backoff_max = 100ms;
    o.resolve_backoff = 20ms;
    o.resolve_backoff_max = 100ms;
    return o;
  }

  caf::actor sink_handle() { return caf::actor_cast<caf::actor>((*sink_)->address()); }

  void start_driver(SchedulerOptions o) { driver_ = spawn_scheduler_driver(*runtime_, std::move(o), sink_handle()); }

  // The next Call of `type` the master gets (others are skipped), or nullopt.
  std::optional<Call> next_call(Call::Type type, caf::timespan timeout = WAIT) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<Call> got;
    while (!got && std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      (*probe_)->receive(
          [&](Call& c) {
            if (c.type() == type) {
              got = std::move(c);
            }
          },
          caf::after(std::max(left, std::chrono::milliseconds(1))) >> [] {});
    }
    return got;
  }

  // The next Call the master gets that is not a SUBSCRIBE retry.
  std::optional<Call> next_non_subscribe_call() {
    auto deadline = std::chrono::steady_clock::now() + WAIT;
    std::optional<Call> got;
    while (!got && std::chrono::steady_clock::now() < deadline) {
      (*probe_)->receive(
          [&](Call& c) {
            if (c.type() != Call::SUBSCRIBE) {
              got = std::move(c);
            }
          },
          caf::after(std::chrono::milliseconds(100)) >> [] {});
    }
    return got;
  }

  // The next Event the sink gets, or nullopt (a disconnect sets `disconnected`).
  std::optional<Event> next_event(caf::timespan timeout = WAIT) {
    std::optional<Event> got;
    (*sink_)->receive([&](Event& e) { got = std::move(e); },
                      [&](scheduler_disconnected_atom) { disconnected_ = true; },
                      caf::after(timeout) >> [] {});
    return got;
  }

  std::optional<Event> next_event_of(Event::Type type) {
    auto deadline = std::chrono::steady_clock::now() + WAIT;
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<Event> e = next_event(100ms);
      if (e && e->type() == type) {
        return e;
      }
    }
    return std::nullopt;
  }

  bool wait_disconnected() {
    auto deadline = std::chrono::steady_clock::now() + WAIT;
    while (!disconnected_ && std::chrono::steady_clock::now() < deadline) {
      next_event(100ms);
    }
    return disconnected_;
  }

  // Subscribes the driver as `fw-1` through the current fake master.
  void subscribe() {
    std::optional<Call> sub = next_call(Call::SUBSCRIBE);
    ASSERT_TRUE(sub) << "no SUBSCRIBE";
    master_send(subscribed_event("fw-1"));
    std::optional<Event> e = next_event_of(Event::SUBSCRIBED);
    ASSERT_TRUE(e) << "the sink got no SUBSCRIBED";
    EXPECT_EQ(e->subscribed().framework_id().value(), "fw-1");
  }

  void master_send(Event e) { caf::anon_send(master_, std::move(e)); }

  bool wait_down(const caf::actor& who, caf::scoped_actor& self) {
    self->monitor(who);
    bool down = false;
    self->receive([&](caf::down_msg& dm) { down = dm.source == who.address(); }, caf::after(WAIT) >> [] {});
    return down;
  }

  std::unique_ptr<Runtime> runtime_;
  std::optional<caf::scoped_actor> probe_;  // what the fake master receives
  std::optional<caf::scoped_actor> sink_;   // the framework's actor
  caf::actor master_;
  caf::actor driver_;
  bool disconnected_ = false;
};

TEST_F(SchedulerDriverTest, SubscribeIsRetriedUntilSubscribed) {
  start_master();
  start_driver(options());
  for (int i = 0; i < 3; ++i) {
    std::optional<Call> sub = next_call(Call::SUBSCRIBE);
    ASSERT_TRUE(sub) << "SUBSCRIBE #" << i;
    EXPECT_FALSE(sub->has_framework_id());
    EXPECT_FALSE(sub->subscribe().force());
    EXPECT_EQ(sub->subscribe().framework_info().name(), "test-framework");
    EXPECT_FALSE(sub->subscribe().framework_info().user().empty());
    EXPECT_EQ(sub->subscribe().pid().rfind("scheduler-", 0), 0U) << sub->subscribe().pid();
    EXPECT_NE(sub->subscribe().pid().find("@127.0.0.1:" + std::to_string(runtime_->port())), std::string::npos)
        << sub->subscribe().pid();
  }
  master_send(subscribed_event("fw-1"));
  std::optional<Event> e = next_event_of(Event::SUBSCRIBED);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->subscribed().framework_id().value(), "fw-1");
  // No more retries: several (capped) backoff periods pass without a SUBSCRIBE.
  EXPECT_FALSE(next_call(Call::SUBSCRIBE, 500ms)) << "SUBSCRIBE re-sent after SUBSCRIBED";
}

TEST_F(SchedulerDriverTest, SubscribesOnceTheMasterAppears) {
  start_driver(options());
  // Nothing answers yet: the driver keeps resolving with backoff.
  EXPECT_FALSE(next_call(Call::SUBSCRIBE, 200ms));
  start_master();
  subscribe();
}

TEST_F(SchedulerDriverTest, CallsCarryTheFrameworkId) {
  start_master();
  start_driver(options());
  subscribe();
  (*sink_)->send(driver_, decline_call("offer-1"));
  std::optional<Call> c = next_non_subscribe_call();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type(), Call::DECLINE);
  EXPECT_EQ(c->framework_id().value(), "fw-1");
  EXPECT_EQ(c->decline().offer_ids(0).value(), "offer-1");
}

TEST_F(SchedulerDriverTest, OnlyUpdatesWithUuidAreAcknowledged) {
  start_master();
  start_driver(options());
  subscribe();
  master_send(update_event("t-no-uuid", TASK_RUNNING, ""));
  master_send(update_event("t-uuid", TASK_FINISHED, "0123456789abcdef"));
  std::optional<Event> first = next_event_of(Event::UPDATE);
  std::optional<Event> second = next_event_of(Event::UPDATE);
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->update().status().task_id().value(), "t-no-uuid");
  EXPECT_EQ(second->update().status().task_id().value(), "t-uuid");
  // Had the first update been acknowledged, its ACK would come first.
  std::optional<Call> ack = next_non_subscribe_call();
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->type(), Call::ACKNOWLEDGE);
  EXPECT_EQ(ack->framework_id().value(), "fw-1");
  EXPECT_EQ(ack->acknowledge().task_id().value(), "t-uuid");
  EXPECT_EQ(ack->acknowledge().slave_id().value(), "slave-1");
  EXPECT_EQ(ack->acknowledge().uuid(), "0123456789abcdef");
}

TEST_F(SchedulerDriverTest, SubscribeAsksForBatchedEventsUnlessTurnedOff) {
  start_master();
  start_driver(options());
  std::optional<Call> sub = next_call(Call::SUBSCRIBE);
  ASSERT_TRUE(sub);
  EXPECT_TRUE(sub->subscribe().batched_events());
  caf::anon_send_exit(driver_, caf::exit_reason::user_shutdown);
  SchedulerOptions o = options();
  o.batched_events = false;
  start_driver(o);
  std::optional<Call> unbatched;
  // (A retry of the first driver's SUBSCRIBE may still be on its way.)
  for (int i = 0; i < 10 && (!unbatched || unbatched->subscribe().batched_events()); ++i) {
    unbatched = next_call(Call::SUBSCRIBE);
  }
  ASSERT_TRUE(unbatched);
  EXPECT_FALSE(unbatched->subscribe().batched_events());
}

TEST_F(SchedulerDriverTest, ABatchOfEventsIsDeliveredOneByOneAndItsAcknowledgementsGoBackTogether) {
  start_master();
  start_driver(options());
  subscribe();
  scheduler::Events batch;
  *batch.add_events() = update_event("t1", TASK_RUNNING, "uuid-of-t1-0000");
  *batch.add_events() = offers_event("offer-1");
  *batch.add_events() = update_event("t2", TASK_FINISHED, "uuid-of-t2-0000");
  *batch.add_events() = update_event("t3", TASK_RUNNING, "");  // no uuid: not acknowledged
  caf::anon_send(master_, batch);
  std::vector<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    std::optional<Event> e = next_event();
    ASSERT_TRUE(e) << "event #" << i;
    seen.push_back(e->type() == Event::UPDATE ? e->update().status().task_id().value()
                                              : e->offers().offers(0).id().value());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"t1", "offer-1", "t2", "t3"}));
  std::optional<scheduler::Calls> acks;
  auto deadline = std::chrono::steady_clock::now() + WAIT;
  while (!acks && std::chrono::steady_clock::now() < deadline) {
    (*probe_)->receive([&](scheduler::Calls& c) { acks = std::move(c); },
                       [&](Call& c) {
                         if (c.type() != Call::SUBSCRIBE) {  // (a retry sent before SUBSCRIBED)
                           ADD_FAILURE() << "a lone " << Call::Type_Name(c.type()) << " call";
                         }
                       },
                       caf::after(100ms) >> [] {});
  }
  ASSERT_TRUE(acks) << "no Calls";
  ASSERT_EQ(acks->calls_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(acks->calls(i).type(), Call::ACKNOWLEDGE);
    EXPECT_EQ(acks->calls(i).framework_id().value(), "fw-1");
  }
  EXPECT_EQ(acks->calls(0).acknowledge().task_id().value(), "t1");
  EXPECT_EQ(acks->calls(0).acknowledge().uuid(), "uuid-of-t1-0000");
  EXPECT_EQ(acks->calls(1).acknowledge().task_id().value(), "t2");

  // A batch with one acknowledgement answers with that call alone.
  scheduler::Events one;
  *one.add_events() = offers_event("offer-2");
  *one.add_events() = update_event("t4", TASK_RUNNING, "uuid-of-t4-0000");
  caf::anon_send(master_, one);
  std::optional<Call> ack = next_non_subscribe_call();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->type(), Call::ACKNOWLEDGE);
  EXPECT_EQ(ack->acknowledge().task_id().value(), "t4");
}

TEST_F(SchedulerDriverTest, ABatchFromOthersThanTheMasterIsIgnored) {
  start_master();
  start_driver(options());
  subscribe();
  scheduler::Events forged;
  *forged.add_events() = update_event("forged", TASK_FAILED, "0123456789abcdef");
  *forged.add_events() = update_event("forged-2", TASK_FAILED, "0123456789abcdeg");
  (*probe_)->send(driver_, forged);
  master_send(update_event("real", TASK_RUNNING, ""));
  std::optional<Event> e = next_event_of(Event::UPDATE);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->update().status().task_id().value(), "real");
  // Nothing was acknowledged for the forged updates.
  bool acknowledged = false;
  auto until = std::chrono::steady_clock::now() + 300ms;
  while (std::chrono::steady_clock::now() < until) {
    (*probe_)->receive([&](Call& c) { acknowledged |= c.type() == Call::ACKNOWLEDGE; },
                       [&](scheduler::Calls&) { acknowledged = true; }, caf::after(50ms) >> [] {});
  }
  EXPECT_FALSE(acknowledged);
}

TEST_F(SchedulerDriverTest, EventsFromOthersThanTheMasterAreIgnored) {
  start_master();
  start_driver(options());
  subscribe();
  (*probe_)->send(driver_, update_event("forged", TASK_FAILED, "0123456789abcdef"));
  master_send(update_event("real", TASK_RUNNING, ""));
  std::optional<Event> e = next_event_of(Event::UPDATE);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->update().status().task_id().value(), "real");
}

TEST_F(SchedulerDriverTest, NoImplicitAcknowledgementsWhenDisabled) {
  start_master();
  SchedulerOptions o = options();
  o.implicit_acknowledgements = false;
  start_driver(o);
  subscribe();
  master_send(update_event("t-uuid", TASK_FINISHED, "0123456789abcdef"));
  ASSERT_TRUE(next_event_of(Event::UPDATE));
  (*sink_)->send(driver_, decline_call("barrier"));
  std::optional<Call> c = next_non_subscribe_call();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type(), Call::DECLINE);
}

TEST_F(SchedulerDriverTest, LaunchBeforeSubscribedComesBackLost) {
  start_master();
  start_driver(options());
  ASSERT_TRUE(next_call(Call::SUBSCRIBE));
  Call accept;
  accept.set_type(Call::ACCEPT);
  accept.mutable_accept()->add_offer_ids()->set_value("offer-1");
  Offer::Operation* op = accept.mutable_accept()->add_operations();
  op->set_type(Offer::Operation::LAUNCH);
  TaskInfo* t = op->mutable_launch()->add_task_infos();
  t->set_name("t");
  t->mutable_task_id()->set_value("t-1");
  t->mutable_slave_id()->set_value("slave-1");
  (*sink_)->send(driver_, accept);
  std::optional<Event> lost = next_event_of(Event::UPDATE);
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->update().status().task_id().value(), "t-1");
  EXPECT_EQ(lost->update().status().state(), TASK_LOST);
  EXPECT_FALSE(lost->update().status().has_uuid());
  // The ACCEPT never reached the master: after subscribing, the first call is the barrier.
  master_send(subscribed_event("fw-1"));
  ASSERT_TRUE(next_event_of(Event::SUBSCRIBED));
  (*sink_)->send(driver_, decline_call("barrier"));
  std::optional<Call> c = next_non_subscribe_call();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type(), Call::DECLINE);
}

TEST_F(SchedulerDriverTest, ResubscribesWithTheFrameworkIdAfterMasterFailover) {
  start_master();
  start_driver(options());
  std::optional<Call> first = next_call(Call::SUBSCRIBE);
  ASSERT_TRUE(first);
  const std::string pid = first->subscribe().pid();
  master_send(subscribed_event("fw-1"));
  ASSERT_TRUE(next_event_of(Event::SUBSCRIBED));

  caf::anon_send_exit(master_, caf::exit_reason::kill);
  ASSERT_TRUE(wait_disconnected()) << "the sink was not told the master is gone";
  start_master();
  std::optional<Call> again = next_call(Call::SUBSCRIBE);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->framework_id().value(), "fw-1");
  EXPECT_EQ(again->subscribe().framework_info().id().value(), "fw-1");
  EXPECT_FALSE(again->subscribe().force());
  EXPECT_EQ(again->subscribe().pid(), pid);
  master_send(subscribed_event("fw-1"));
  ASSERT_TRUE(next_event_of(Event::SUBSCRIBED));
  // Calls now go to the new master.
  (*sink_)->send(driver_, decline_call("offer-2"));
  std::optional<Call> c = next_non_subscribe_call();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type(), Call::DECLINE);
  EXPECT_EQ(c->framework_id().value(), "fw-1");
}

TEST_F(SchedulerDriverTest, FailoverSchedulerSubscribesWithForce) {
  start_master();
  SchedulerOptions o = options();
  FrameworkID id;
  id.set_value("fw-old");
  o.framework_id = id;
  start_driver(o);
  std::optional<Call> sub = next_call(Call::SUBSCRIBE);
  ASSERT_TRUE(sub);
  EXPECT_EQ(sub->framework_id().value(), "fw-old");
  EXPECT_TRUE(sub->subscribe().force());
}

TEST_F(SchedulerDriverTest, ErrorEventIsDeliveredAndStopsTheDriver) {
  start_master();
  start_driver(options());
  subscribe();
  caf::scoped_actor watcher{runtime_->system()};
  watcher->monitor(driver_);
  Event e;
  e.set_type(Event::ERROR);
  e.mutable_error()->set_message("Framework has been removed");
  master_send(e);
  std::optional<Event> got = next_event_of(Event::ERROR);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error().message(), "Framework has been removed");
  bool down = false;
  watcher->receive([&](caf::down_msg&) { down = true; }, caf::after(WAIT) >> [] {});
  EXPECT_TRUE(down);
}

TEST_F(SchedulerDriverTest, StopTearsDownAndExits) {
  start_master();
  start_driver(options());
  subscribe();
  caf::scoped_actor watcher{runtime_->system()};
  watcher->monitor(driver_);
  (*sink_)->send(driver_, stop_atom_v);
  std::optional<Call> c = next_non_subscribe_call();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type(), Call::TEARDOWN);
  EXPECT_EQ(c->framework_id().value(), "fw-1");
  bool down = false;
  watcher->receive([&](caf::down_msg&) { down = true; }, caf::after(WAIT) >> [] {});
  EXPECT_TRUE(down);
}

TEST_F(SchedulerDriverTest, BadMasterAddressIsReportedAsError) {
  SchedulerOptions o = options();
  o.master = "no port here";
  start_driver(o);
  std::optional<Event> e = next_event_of(Event::ERROR);
  ASSERT_TRUE(e);
  EXPECT_NE(e->error().message().find("no port here"), std::string::npos) << e->error().message();
}

// ---------------------------------------------------------------------------
// Following the leader a master detector reports.

// Forwards the test's leader reports to the driver, as its detector.
caf::behavior fake_detector(caf::event_based_actor* self, std::shared_ptr<caf::actor> driver) {
  return {[self, driver](detector::leader_atom a, const detector::Leader& l) { self->send(*driver, a, l); }};
}

class SchedulerDriverLeaderTest : public SchedulerDriverTest {
 protected:
  void SetUp() override {
    SchedulerDriverTest::SetUp();
    probe2_.emplace(runtime_->system());
    standby_ = runtime_->system().spawn(fake_master, caf::actor_cast<caf::actor>((*probe2_)->address()));
    runtime_->register_actor("standby", standby_);
  }
  void TearDown() override {
    for (const caf::actor& a : {standby_, detector_}) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    probe2_.reset();
    standby_ = detector_ = caf::actor{};
    SchedulerDriverTest::TearDown();
  }
  void lead(const std::string& pid) {
    detector::Leader l;
    l.pid = pid;
    l.contenders = pid.empty() ? 0 : 1;
    caf::anon_send(detector_, detector::leader_atom_v, l);
  }
  // The next Call of `type` the standby master gets.
  std::optional<Call> next_standby_call(Call::Type type, caf::timespan timeout = WAIT) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<Call> got;
    while (!got && std::chrono::steady_clock::now() < deadline) {
      (*probe2_)->receive(
          [&](Call& c) {
            if (c.type() == type) {
              got = std::move(c);
            }
          },
          caf::after(std::chrono::milliseconds(100)) >> [] {});
    }
    return got;
  }

  std::optional<caf::scoped_actor> probe2_;  // what the standby master receives
  caf::actor standby_;
  caf::actor detector_;
};

TEST_F(SchedulerDriverLeaderTest, FollowsTheDetectedLeaderAndResubscribesToTheNext) {
  start_master();
  auto target = std::make_shared<caf::actor>();
  detector_ = runtime_->system().spawn(fake_detector, target);
  SchedulerOptions o = options();
  o.master = "zk://127.0.0.1:2181/unused";
  o.detector = detector_;
  start_driver(o);
  *target = driver_;
  EXPECT_FALSE(next_call(Call::SUBSCRIBE, 200ms)) << "subscribed with no leader";
  lead(runtime_->upid("master").str());
  subscribe();

  lead(runtime_->upid("standby").str());
  ASSERT_TRUE(wait_disconnected()) << "the sink was not told the leader changed";
  std::optional<Call> again = next_standby_call(Call::SUBSCRIBE);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->framework_id().value(), "fw-1");
  EXPECT_EQ(again->subscribe().framework_info().id().value(), "fw-1");
  caf::anon_send(standby_, subscribed_event("fw-1"));
  ASSERT_TRUE(next_event_of(Event::SUBSCRIBED));
  // The old leader still believes it leads: its events are void.
  master_send(offers_event("o-old"));
  caf::anon_send(standby_, offers_event("o-new"));
  std::optional<Event> offers = next_event_of(Event::OFFERS);
  ASSERT_TRUE(offers);
  EXPECT_EQ(offers->offers().offers(0).id().value(), "o-new");
  EXPECT_FALSE(next_event(300ms)) << "an event from the old leader reached the sink";
  // Calls go to the new leader.
  (*sink_)->send(driver_, decline_call("o-new"));
  std::optional<Call> c = next_standby_call(Call::DECLINE);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->framework_id().value(), "fw-1");
  // A leader report from anyone but the detector is ignored.
  detector::Leader fake;
  fake.pid = runtime_->upid("master").str();
  caf::anon_send(driver_, detector::leader_atom_v, fake);
  EXPECT_FALSE(next_call(Call::SUBSCRIBE, 300ms));
}

TEST_F(SchedulerDriverLeaderTest, FollowsTheLeaderElectedInZooKeeper) {
  STOA_REQUIRE_ZOOKEEPER();
  Try<tests::ZooKeeperServer*> server = tests::shared_zookeeper_server();
  ASSERT_TRUE(server) << server.error();
  caf::actor_system& sys = runtime_->system();
  caf::actor zk = zookeeper::spawn_client(sys, {(*server)->connect_string(), 10s, caf::actor()});
  std::string path = "/" + tests::unique_marker();
  auto ask = [&](auto... xs) {
    caf::expected<std::string> out{caf::make_error(caf::sec::runtime_error, "no answer")};
    caf::scoped_actor self{sys};
    self->request(zk, WAIT, xs...).receive([&](std::string& v) { out = std::move(v); },
                                            [&](caf::error& e) { out = std::move(e); });
    return out;
  };
  auto contend = [&](const std::string& pid) {
    MasterInfo info;
    info.set_id(pid);
    info.set_ip(0);
    info.set_port(5050);
    info.set_pid(pid);
    return ask(zookeeper::create_atom_v, path + "/" + detector::NODE_PREFIX, detector::master_info_json(info),
               zookeeper::EPHEMERAL | zookeeper::SEQUENTIAL);
  };
  ASSERT_TRUE(ask(zookeeper::create_atom_v, path, std::string(), zookeeper::PERSISTENT));
  start_master();
  caf::expected<std::string> node = contend(runtime_->upid("master").str());
  ASSERT_TRUE(node) << sys.render(node.error());
  SchedulerOptions o = options();
  o.master = "zk://" + (*server)->connect_string() + path;
  start_driver(o);
  subscribe();
  ASSERT_TRUE(contend(runtime_->upid("standby").str()));
  // The leader's node goes: the driver re-subscribes to the standby.
  caf::scoped_actor self{sys};
  self->request(zk, WAIT, zookeeper::delete_atom_v, *node).receive([](bool) {}, [](caf::error&) {});
  ASSERT_TRUE(wait_disconnected());
  std::optional<Call> again = next_standby_call(Call::SUBSCRIBE, 5s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->framework_id().value(), "fw-1");
  self->request(zk, WAIT, zookeeper::close_atom_v).receive([](bool) {}, [](caf::error&) {});
}

TEST_F(SchedulerDriverTest, BadZooKeeperMasterIsReportedAsError) {
  SchedulerOptions o = options();
  o.master = "zk://127.0.0.1:2181";
  start_driver(o);
  std::optional<Event> e = next_event_of(Event::ERROR);
  ASSERT_TRUE(e);
  EXPECT_NE(e->error().message().find("zk://127.0.0.1:2181"), std::string::npos) << e->error().message();
}

// stoa-execute's --failover_timeout reaches the master in FrameworkInfo (in
// seconds); a bad value is refused naming it (exit 2).
TEST_F(SchedulerDriverTest, ExecuteSendsItsFailoverTimeout) {
  STOA_REQUIRE_BINARIES("stoa-execute");
  tests::TempDir dir;
  start_master();
  std::vector<std::string> args = {"--master=" + runtime_->upid("master").address(), "--name=t",
                                   "--command=true", "--failover_timeout=1mins"};
  Try<std::unique_ptr<tests::Process>> execute =
      tests::Process::start("stoa-execute", args, dir.path() + "/execute.log");
  ASSERT_TRUE(execute) << execute.error();
  std::optional<Call> sub = next_call(Call::SUBSCRIBE);
  ASSERT_TRUE(sub) << (*execute)->log();
  EXPECT_EQ(sub->subscribe().framework_info().failover_timeout(), 60.0);

  args.back() = "--failover_timeout=soon";
  Try<std::unique_ptr<tests::Process>> bad = tests::Process::start("stoa-execute", args, dir.path() + "/bad.log");
  ASSERT_TRUE(bad) << bad.error();
  std::optional<int> code = (*bad)->wait_exit(tests::deadline_in(WAIT));
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 2);
  EXPECT_NE((*bad)->log().find("'soon' for flag '--failover_timeout'"), std::string::npos) << (*bad)->log();
}

// ---------------------------------------------------------------------------
// The class API.

// Reports each callback to `observer` as a string.
class RecordingScheduler : public Scheduler {
 public:
  explicit RecordingScheduler(caf::actor observer) : observer_(std::move(observer)) {}
  void subscribed(SchedulerDriver& d, const FrameworkID& id, const MasterInfo&) override {
    EXPECT_TRUE(d.framework_id());
    report("subscribed " + id.value());
  }
  void offers(SchedulerDriver& d, const std::vector<Offer>& offers) override {
    for (const Offer& o : offers) {
      TaskInfo t;
      t.set_name("t");
      t.mutable_task_id()->set_value("task-" + o.id().value());
      *t.mutable_slave_id() = o.slave_id();
      t.mutable_command()->set_value("true");
      d.launch({o.id()}, {t});
    }
  }
  void update(SchedulerDriver&, const TaskStatus& s) override {
    report("update " + s.task_id().value() + " " + TaskState_Name(s.state()));
  }
  void disconnected(SchedulerDriver&) override { report("disconnected"); }
  void stopped() override { report("stopped"); }

 private:
  void report(const std::string& what) { caf::anon_send(observer_, what); }
  caf::actor observer_;
};

std::optional<std::string> next_report(caf::scoped_actor& self) {
  std::optional<std::string> got;
  self->receive([&](const std::string& s) { got = s; }, caf::after(WAIT) >> [] {});
  return got;
}

TEST_F(SchedulerDriverTest, ClassApiDeliversCallbacksAndSendsCalls) {
  start_master();
  caf::scoped_actor observer{runtime_->system()};
  caf::actor adapter = spawn_scheduler(
      *runtime_, options(),
      std::make_unique<RecordingScheduler>(caf::actor_cast<caf::actor>(observer->address())));
  ASSERT_TRUE(next_call(Call::SUBSCRIBE));
  master_send(subscribed_event("fw-1"));
  EXPECT_EQ(next_report(observer), "subscribed fw-1");

  master_send(offers_event("offer-7"));
  std::optional<Call> accept = next_non_subscribe_call();
  ASSERT_TRUE(accept);
  ASSERT_EQ(accept->type(), Call::ACCEPT);
  EXPECT_EQ(accept->framework_id().value(), "fw-1");
  ASSERT_EQ(accept->accept().operations_size(), 1);
  EXPECT_EQ(accept->accept().operations(0).type(), Offer::Operation::LAUNCH);
  EXPECT_EQ(accept->accept().operations(0).launch().task_infos(0).task_id().value(), "task-offer-7");

  master_send(update_event("task-offer-7", TASK_FINISHED, "uuid-uuid-uuid-1"));
  EXPECT_EQ(next_report(observer), "update task-offer-7 TASK_FINISHED");
  std::optional<Call> ack = next_non_subscribe_call();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->type(), Call::ACKNOWLEDGE);

  caf::anon_send(adapter, stop_atom_v);
  std::optional<Call> teardown = next_non_subscribe_call();
  ASSERT_TRUE(teardown);
  EXPECT_EQ(teardown->type(), Call::TEARDOWN);
  EXPECT_EQ(next_report(observer), "stopped");
  EXPECT_TRUE(wait_down(adapter, observer));
}

TEST_F(SchedulerDriverTest, AwaitSchedulerForwardsSignals) {
  start_master();
  caf::scoped_actor observer{runtime_->system()};
  caf::actor adapter = spawn_scheduler(
      *runtime_, options(),
      std::make_unique<RecordingScheduler>(caf::actor_cast<caf::actor>(observer->address())));
  ASSERT_TRUE(next_call(Call::SUBSCRIBE));
  master_send(subscribed_event("fw-1"));
  EXPECT_EQ(next_report(observer), "subscribed fw-1");

  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
  ASSERT_EQ(pthread_kill(pthread_self(), SIGTERM), 0);  // pending until await_scheduler takes it
  // The default Scheduler::signaled stops the driver, so this returns.
  await_scheduler(*runtime_, adapter);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  std::optional<Call> teardown = next_non_subscribe_call();
  ASSERT_TRUE(teardown);
  EXPECT_EQ(teardown->type(), Call::TEARDOWN);
}

}  // namespace
}  // namespace scheduler_driver_test
}  // namespace stoa
