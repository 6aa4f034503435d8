// Every timer of the master and its allocator, driven by virtual time:
// CAF's test_coordinator runs the actors on this thread and
// advance_time() fires delayed messages, so minutes of cluster time pass
// in milliseconds (cookbook §6; caf/test/dsl.hpp is not usable under gtest).

#include "master/master_fixture.hpp"

namespace stoa::master {
namespace {

using namespace stoa::master::testing;

class MasterTimers : public MasterFixture {
 protected:
  // Ping timer messages waiting in the clock for the master.
  size_t pending_pings() {
    using Clock = caf::detail::simple_actor_clock;
    size_t n = 0;
    for (const auto& [due, event] : sched_.clock().schedule()) {
      if (event->subtype != Clock::actor_msg_type) {
        continue;
      }
      const auto& m = static_cast<const Clock::actor_msg&>(*event);
      if (m.receiver == caf::actor_cast<caf::strong_actor_ptr>(master_) &&
          m.content->content().match_element<ping_timer_atom>(0)) {
        ++n;
      }
    }
    return n;
  }
};

TEST_F(MasterTimers, SlaveThatStopsAnsweringPingsIsRemovedAfterMaxTimeouts) {
  start({"--slave_ping_timeout=15secs", "--max_slave_ping_timeouts=3"});
  auto inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(inbox);
  add_slave(slave, inbox);
  advance(60s);  // answered pings keep it
  EXPECT_EQ(inbox->pings, 4);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
  inbox->pong = false;
  // The ping sent at 75 s goes unanswered: misses are counted at 90, 105
  // and 120 s, and the third removes the slave.
  advance(59s);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
  EXPECT_EQ(inbox->pings, 7);
  advance(2s);
  EXPECT_EQ(metric("master/slaves_active"), 0.0);
  EXPECT_EQ(metric("master/slave_removals/reason_unhealthy"), 1.0);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

// Every slave is pinged each --slave_ping_timeout from its own (re-)registration,
// through one timer for all of them: registering many slaves adds one
// ping message to the clock, not one per slave (#17).
TEST_F(MasterTimers, SlavesArePingedOnTheirOwnScheduleThroughOneTimer) {
  start({"--slave_ping_timeout=15secs", "--max_slave_ping_timeouts=3"});
  constexpr int EARLY = 30;
  std::vector<std::shared_ptr<Inbox>> early;
  for (int i = 0; i < EARLY; ++i) {
    early.push_back(std::make_shared<Inbox>());
    add_slave(peer(early.back()), early.back());
  }
  EXPECT_EQ(pending_pings(), 1u);
  advance(5s);
  auto late = std::make_shared<Inbox>();
  add_slave(peer(late), late);
  EXPECT_EQ(pending_pings(), 1u);
  advance(10100ms);  // 15.1 s: the early slaves' first ping, not yet the late one's
  for (const auto& inbox : early) {
    EXPECT_EQ(inbox->pings, 1);
  }
  EXPECT_EQ(late->pings, 0);
  advance(5s);  // 20.1 s: the late slave's first ping
  EXPECT_EQ(late->pings, 1);
  advance(45s);  // 65.1 s: pings at 15, 30, 45, 60 and at 20, 35, 50, 65 s
  for (const auto& inbox : early) {
    EXPECT_EQ(inbox->pings, 4);
  }
  EXPECT_EQ(late->pings, 4);
  EXPECT_EQ(metric("master/slaves_active"), EARLY + 1.0);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterTimers, DisconnectedSlaveIsRemovedAfterTheReregisterTimeout) {
  start({"--slave_reregister_timeout=10mins", "--slave_ping_timeout=1hrs"});
  auto inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(inbox);
  add_slave(slave, inbox);
  caf::anon_send_exit(slave, caf::exit_reason::kill);
  sched_.run();
  EXPECT_EQ(metric("master/slaves_inactive"), 1.0);
  advance(9min + 59s, 10s);
  EXPECT_EQ(metric("master/slaves_inactive"), 1.0);
  advance(2s);
  EXPECT_EQ(metric("master/slaves_inactive"), 0.0);
  EXPECT_EQ(metric("master/slave_removals/reason_unregistered"), 1.0);
}

TEST_F(MasterTimers, DisconnectedFrameworkIsRemovedAfterItsFailoverTimeout) {
  start({});
  auto inbox = std::make_shared<Inbox>();
  caf::actor fw = peer(inbox);
  std::string fid = subscribe(fw, inbox, 120);
  caf::anon_send_exit(fw, caf::exit_reason::kill);
  sched_.run();
  EXPECT_EQ(metric("master/frameworks_disconnected"), 1.0);
  advance(119s, 1s);
  EXPECT_EQ(view("frameworks").get("frameworks").get<picojson::array>().size(), 1u);
  advance(2s);
  picojson::value fws = view("frameworks");
  EXPECT_TRUE(fws.get("frameworks").get<picojson::array>().empty());
  ASSERT_EQ(fws.get("completed_frameworks").get<picojson::array>().size(), 1u);
  EXPECT_EQ(fws.get("completed_frameworks").get<picojson::array>()[0].get("id").to_str(), fid);
}


TEST_F(MasterTimers, AFailedOverFrameworkKeepsItsTasksAndTheOldInstanceIsTold) {
  start({"--slave_ping_timeout=1hrs"});
  auto s_inbox = std::make_shared<Inbox>();
  add_slave(peer(s_inbox), s_inbox);
  auto old_inbox = std::make_shared<Inbox>();
  caf::actor old_fw = peer(old_inbox);
  std::string fid = subscribe(old_fw, old_inbox, 120);
  advance(2s);
  const Offer* offer = last_offer(old_inbox);
  ASSERT_NE(offer, nullptr);
  launch_on_last_offer(old_fw, master_, fid, *offer, "t1");
  sched_.run();

  // A second instance takes over while the first is still connected.
  auto new_inbox = std::make_shared<Inbox>();
  caf::actor new_fw = peer(new_inbox);
  resubscribe(sys_, new_fw, master_, fid, 120, true);
  sched_.run();
  const Event* error = last_event(old_inbox, Event::ERROR);
  ASSERT_NE(error, nullptr) << "the old instance was not told";
  EXPECT_EQ(error->error().message(), "Framework failed over");
  const Event* subscribed = last_event(new_inbox, Event::SUBSCRIBED);
  ASSERT_NE(subscribed, nullptr);
  EXPECT_EQ(subscribed->subscribed().framework_id().value(), fid);
  // Its task stays; the old instance's calls are dropped.
  caf::anon_send_exit(old_fw, caf::exit_reason::kill);
  advance(10min, 10s);
  picojson::value fws = view("frameworks");
  ASSERT_EQ(fws.get("frameworks").get<picojson::array>().size(), 1u);
  const picojson::value& f = fws.get("frameworks").get<picojson::array>()[0];
  EXPECT_TRUE(f.get("connected").get<bool>());
  ASSERT_EQ(f.get("tasks").get<picojson::array>().size(), 1u);
  EXPECT_EQ(f.get("tasks").get<picojson::array>()[0].get("id").to_str(), "t1");
}

TEST_F(MasterTimers, AFrameworkGoneLongerThanItsFailoverTimeoutIsRemovedForGood) {
  start({"--slave_ping_timeout=1hrs"});
  auto s_inbox = std::make_shared<Inbox>();
  add_slave(peer(s_inbox), s_inbox);
  auto inbox = std::make_shared<Inbox>();
  caf::actor fw = peer(inbox);
  std::string fid = subscribe(fw, inbox, 60);
  advance(2s);
  const Offer* offer = last_offer(inbox);
  ASSERT_NE(offer, nullptr);
  launch_on_last_offer(fw, master_, fid, *offer, "t1");
  sched_.run();
  caf::anon_send_exit(fw, caf::exit_reason::kill);
  advance(61s, 1s);
  picojson::value fws = view("frameworks");
  EXPECT_TRUE(fws.get("frameworks").get<picojson::array>().empty());
  ASSERT_EQ(fws.get("completed_frameworks").get<picojson::array>().size(), 1u);
  const picojson::value& done = fws.get("completed_frameworks").get<picojson::array>()[0];
  ASSERT_EQ(done.get("completed_tasks").get<picojson::array>().size(), 1u);
  EXPECT_EQ(done.get("completed_tasks").get<picojson::array>()[0].get("state").to_str(), "TASK_KILLED");
  EXPECT_EQ(metric("master/cpus_used"), 0.0);
  // A later instance with that id is refused.
  auto late_inbox = std::make_shared<Inbox>();
  caf::actor late = peer(late_inbox);
  resubscribe(sys_, late, master_, fid, 60, true);
  sched_.run();
  const Event* error = last_event(late_inbox, Event::ERROR);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->error().message(), "Framework has been removed");
  EXPECT_EQ(last_event(late_inbox, Event::SUBSCRIBED), nullptr);
}

TEST_F(MasterTimers, OfferIsRescindedAfterTheOfferTimeout) {
  start({"--offer_timeout=30secs", "--slave_ping_timeout=1hrs"});
  auto s_inbox = std::make_shared<Inbox>();
  auto f_inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(s_inbox);
  caf::actor fw = peer(f_inbox);
  add_slave(slave, s_inbox);
  subscribe(fw, f_inbox);
  advance(10ms, 1ms);  // the event-triggered pass
  ASSERT_EQ(offers_of(f_inbox), 1u);
  advance(29s);
  EXPECT_EQ(metric("master/outstanding_offers"), 1.0);
  advance(2s);
  bool rescinded = false;
  for (const Event& e : f_inbox->events) {
    rescinded |= e.type() == Event::RESCIND;
  }
  EXPECT_TRUE(rescinded);
  EXPECT_EQ(metric("master/offers_timed_out"), 1.0);
  // The resources come back and are offered again.
  EXPECT_GE(offers_of(f_inbox), 2u);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
  EXPECT_GT(metric("master/accounting_checks"), 0.0);
}

TEST_F(MasterTimers, DeclineFilterHoldsForRefuseSecondsThenExpires) {
  start({"--allocation_interval=1secs", "--slave_ping_timeout=1hrs"});
  auto s_inbox = std::make_shared<Inbox>();
  auto f_inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(s_inbox);
  caf::actor fw = peer(f_inbox);
  add_slave(slave, s_inbox);
  std::string fid = subscribe(fw, f_inbox);
  advance(10ms, 1ms);
  const Offer* offer = last_offer(f_inbox);
  ASSERT_NE(offer, nullptr);
  Call decline;
  decline.set_type(Call::DECLINE);
  decline.mutable_framework_id()->set_value(fid);
  *decline.mutable_decline()->add_offer_ids() = offer->id();
  decline.mutable_decline()->mutable_filters()->set_refuse_seconds(60);
  caf::send_as(fw, master_, decline);
  sched_.run();
  size_t before = offers_of(f_inbox);
  advance(59s);  // 59 periodic passes: the filter holds
  EXPECT_EQ(offers_of(f_inbox), before);
  EXPECT_EQ(metric("master/outstanding_offers"), 0.0);
  advance(2s);  // expired: the next pass offers again
  EXPECT_EQ(offers_of(f_inbox), before + 1);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterTimers, AllocationRunsEveryIntervalAndSoonAfterEvents) {
  start({"--allocation_interval=5secs", "--slave_ping_timeout=1hrs"});
  double runs = metric("allocator/mesos/allocation_runs");
  advance(20s, 1s);
  EXPECT_EQ(metric("allocator/mesos/allocation_runs") - runs, 4.0);
  // An event (a slave registering) triggers a pass within 2 ms, not 5 s.
  auto s_inbox = std::make_shared<Inbox>();
  auto f_inbox = std::make_shared<Inbox>();
  subscribe(peer(f_inbox), f_inbox);
  advance(10ms, 1ms);
  add_slave(peer(s_inbox), s_inbox);
  EXPECT_EQ(offers_of(f_inbox), 0u);
  advance(3ms, 1ms);
  EXPECT_EQ(offers_of(f_inbox), 1u);
}

}  // namespace
}  // namespace stoa::master
