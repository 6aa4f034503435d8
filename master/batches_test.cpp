// Batched status updates at the master (master/batches.cpp), with fake
// slaves and schedulers under virtual time: events for a scheduler that asked
// go out together and keep their order, a Calls batch's acknowledgements go
// to each slave that asked in one message (and alone to one that did not),
// a call other than an acknowledgement keeps its place, a slave's batch of
// updates is handled update by update, and a scheduler that did not ask
// gets one message per event.

#include "master/master_actor.hpp"
#include "master/master_fixture.hpp"

namespace stoa::master {
namespace {

using namespace stoa::master::testing;

class MasterBatches : public MasterFixture {
 protected:
  // A master with slave `a` (takes batched acknowledgements), slave `b`
  // (does not) and scheduler `fw` (batched events unless told otherwise).
  void start_cluster(bool batched_events = true) {
    start({});
    a_ = slave_peer(true);
    b_ = slave_peer(false);
    fw_ = scheduler_peer(0, batched_events);
    advance(2s);  // an allocation pass offers both slaves
  }

  Peer slave_peer(bool batched_acknowledgements) {
    Peer p;
    p.inbox = std::make_shared<Inbox>();
    p.actor = peer(p.inbox);
    p.id = add_slave(p.actor, p.inbox, "cpus:4;mem:1024", batched_acknowledgements);
    return p;
  }

  Peer scheduler_peer(double failover_timeout, bool batched_events) {
    Peer p;
    p.inbox = std::make_shared<Inbox>();
    p.actor = peer(p.inbox);
    p.id = subscribe(p.actor, p.inbox, failover_timeout, false, false, batched_events);
    return p;
  }

  const Offer* offer_of(const std::string& slave_id) {
    for (auto e = fw_.inbox->events.rbegin(); e != fw_.inbox->events.rend(); ++e) {
      if (e->type() == Event::OFFERS) {
        for (const Offer& o : e->offers().offers()) {
          if (o.slave_id().value() == slave_id) {
            return &o;
          }
        }
      }
    }
    return nullptr;
  }

  // Launches `tids` (cpus:0.5;mem:32 each) on the offer of `slave`.
  void launch(const Peer& slave, const std::vector<std::string>& tids) {
    const Offer* offer = offer_of(slave.id);
    ASSERT_NE(offer, nullptr) << "no offer of " << slave.id;
    Call accept;
    accept.set_type(Call::ACCEPT);
    accept.mutable_framework_id()->set_value(fw_.id);
    *accept.mutable_accept()->add_offer_ids() = offer->id();
    Offer::Operation* op = accept.mutable_accept()->add_operations();
    op->set_type(Offer::Operation::LAUNCH);
    for (const std::string& tid : tids) {
      TaskInfo* t = op->mutable_launch()->add_task_infos();
      t->set_name(tid);
      t->mutable_task_id()->set_value(tid);
      *t->mutable_slave_id() = offer->slave_id();
      t->mutable_command()->set_value("sleep 1000");
      Resources::parse("cpus:0.5;mem:32")->to_proto(t->mutable_resources());
    }
    caf::send_as(fw_.actor, master_, accept);
    sched_.run();
  }

  // t1, t2 on slave a and t3 on slave b.
  void launch_three() {
    launch(a_, {"t1", "t2"});
    launch(b_, {"t3"});
    ASSERT_EQ(a_.inbox->runs.size(), 2u);
    ASSERT_EQ(b_.inbox->runs.size(), 1u);
  }

  // The task ids of the UPDATE events the scheduler got from index `from` on.
  std::vector<std::string> updates_since(size_t from) {
    std::vector<std::string> out;
    for (size_t i = from; i < fw_.inbox->events.size(); ++i) {
      if (fw_.inbox->events[i].type() == Event::UPDATE) {
        out.push_back(fw_.inbox->events[i].update().status().task_id().value());
      }
    }
    return out;
  }

  static std::vector<std::string> task_ids(const std::vector<StatusUpdateAcknowledgementMessage>& acks) {
    std::vector<std::string> out;
    for (const auto& a : acks) {
      out.push_back(a.task_id().value());
    }
    return out;
  }

  Peer a_, b_, fw_;
};

using Names = std::vector<std::string>;

TEST_F(MasterBatches, UpdatesGoOutTogetherAndEachSlaveGetsItsAcknowledgementsTogether) {
  start_cluster();
  launch_three();
  size_t events = fw_.inbox->events.size();
  size_t batches = fw_.inbox->event_batches.size();
  double sent = metric("master/batches_sent");
  caf::send_as(a_.actor, master_, status_update(a_.id, fw_.id, "t1", TASK_RUNNING, "u1"));
  caf::send_as(a_.actor, master_, status_update(a_.id, fw_.id, "t2", TASK_RUNNING, "u2"));
  caf::send_as(b_.actor, master_, status_update(b_.id, fw_.id, "t3", TASK_RUNNING, "u3"));
  sched_.run();
  ASSERT_EQ(fw_.inbox->event_batches.size(), batches + 1) << "the three updates did not come in one batch";
  EXPECT_EQ(fw_.inbox->event_batches.back(), 3);
  EXPECT_EQ(updates_since(events), (Names{"t1", "t2", "t3"}));
  EXPECT_EQ(metric("master/batches_sent"), sent + 1);
  EXPECT_EQ(metric("master/batched_messages_sent"), 3.0);

  scheduler::Calls acks;
  *acks.add_calls() = acknowledge_call(fw_.id, a_.id, "t1", "u1");
  *acks.add_calls() = acknowledge_call(fw_.id, b_.id, "t3", "u3");
  *acks.add_calls() = acknowledge_call(fw_.id, a_.id, "t2", "u2");
  caf::send_as(fw_.actor, master_, acks);
  sched_.run();
  EXPECT_EQ(a_.inbox->ack_batches, std::vector<int>{2});
  EXPECT_EQ(task_ids(a_.inbox->acks), (Names{"t1", "t2"}));
  EXPECT_EQ(a_.inbox->acks[0].uuid(), "u1");
  EXPECT_EQ(a_.inbox->acks[0].framework_id().value(), fw_.id);
  EXPECT_EQ(a_.inbox->acks[0].slave_id().value(), a_.id);
  // Slave b did not ask for batches: its acknowledgement comes alone.
  EXPECT_TRUE(b_.inbox->ack_batches.empty());
  EXPECT_EQ(task_ids(b_.inbox->acks), (Names{"t3"}));
  EXPECT_EQ(metric("master/batches_received"), 1.0);
  EXPECT_EQ(metric("master/batched_messages_received"), 3.0);
  EXPECT_EQ(metric("master/valid_status_update_acknowledgements"), 3.0);
  EXPECT_EQ(metric("master/batches_sent"), sent + 2);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterBatches, ACallOtherThanAnAcknowledgementKeepsItsPlaceInABatch) {
  start_cluster();
  launch_three();
  caf::send_as(a_.actor, master_, status_update(a_.id, fw_.id, "t1", TASK_RUNNING, "u1"));
  caf::send_as(a_.actor, master_, status_update(a_.id, fw_.id, "t2", TASK_RUNNING, "u2"));
  sched_.run();
  scheduler::Calls calls;
  *calls.add_calls() = acknowledge_call(fw_.id, a_.id, "t1", "u1");
  Call kill;
  kill.set_type(Call::KILL);
  kill.mutable_framework_id()->set_value(fw_.id);
  kill.mutable_kill()->mutable_task_id()->set_value("t2");
  *calls.add_calls() = kill;
  *calls.add_calls() = acknowledge_call(fw_.id, a_.id, "t2", "u2");
  caf::send_as(fw_.actor, master_, calls);
  sched_.run();
  EXPECT_EQ(a_.inbox->order, (Names{"ack:t1", "kill:t2", "ack:t2"}));
  EXPECT_TRUE(a_.inbox->ack_batches.empty()) << "each run of acknowledgements held one";
}

TEST_F(MasterBatches, ASlavesBatchOfUpdatesIsHandledUpdateByUpdate) {
  start_cluster();
  launch_three();
  size_t events = fw_.inbox->events.size();
  StatusUpdatesMessage batch;
  *batch.add_updates() = status_update(a_.id, fw_.id, "t1", TASK_RUNNING, "u1");
  *batch.add_updates() = status_update(a_.id, fw_.id, "t2", TASK_FINISHED, "u2");
  caf::send_as(a_.actor, master_, batch);
  sched_.run();
  EXPECT_EQ(updates_since(events), (Names{"t1", "t2"}));
  EXPECT_EQ(fw_.inbox->event_batches.back(), 2);
  EXPECT_EQ(metric("master/valid_status_updates"), 2.0);
  EXPECT_EQ(metric("master/batches_received"), 1.0);
  EXPECT_EQ(metric("master/batched_messages_received"), 2.0);
  picojson::value tasks = view("tasks");
  std::map<std::string, std::string> states;
  for (const picojson::value& t : tasks.get("tasks").get<picojson::array>()) {
    states[t.get("id").to_str()] = t.get("state").to_str();
  }
  EXPECT_EQ(states["t1"], "TASK_RUNNING");
  EXPECT_EQ(states["t2"], "TASK_FINISHED");
  EXPECT_EQ(metric("master/cpus_used"), 1.0);  // t2's resources are released

  // A batch from what is not a registered slave changes nothing: each
  // update is refused as it would be alone.
  events = fw_.inbox->events.size();
  StatusUpdatesMessage forged;
  *forged.add_updates() = status_update(a_.id, fw_.id, "t1", TASK_FAILED, "f1");
  *forged.add_updates() = status_update(b_.id, fw_.id, "t3", TASK_FAILED, "f3");
  double invalid = metric("master/invalid_status_updates");
  caf::send_as(fw_.actor, master_, forged);
  sched_.run();
  EXPECT_EQ(metric("master/invalid_status_updates"), invalid + 2);
  EXPECT_TRUE(updates_since(events).empty());
  EXPECT_EQ(metric("master/cpus_used"), 1.0);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterBatches, ASchedulerThatDidNotAskGetsOneMessagePerEvent) {
  start_cluster(false);
  launch_three();
  size_t events = fw_.inbox->events.size();
  caf::send_as(a_.actor, master_, status_update(a_.id, fw_.id, "t1", TASK_RUNNING, "u1"));
  caf::send_as(a_.actor, master_, status_update(a_.id, fw_.id, "t2", TASK_RUNNING, "u2"));
  caf::send_as(b_.actor, master_, status_update(b_.id, fw_.id, "t3", TASK_RUNNING, "u3"));
  sched_.run();
  EXPECT_EQ(updates_since(events), (Names{"t1", "t2", "t3"}));
  EXPECT_TRUE(fw_.inbox->event_batches.empty());
  EXPECT_EQ(metric("master/batches_sent"), 0.0);
}

TEST_F(MasterBatches, ABatchHoldsAtMostEventBatchMaxEvents) {
  start_cluster();
  size_t batches = fw_.inbox->event_batches.size();
  // Updates of tasks the master does not know are still forwarded (the
  // scheduler acknowledges them and the slave forgets them).
  const int n = Master::EVENT_BATCH_MAX + 88;
  for (int i = 0; i < n; ++i) {
    caf::send_as(a_.actor, master_,
                 status_update(a_.id, fw_.id, "gone-" + std::to_string(i), TASK_FINISHED, "u" + std::to_string(i)));
  }
  sched_.run();
  ASSERT_EQ(fw_.inbox->event_batches.size(), batches + 2);
  EXPECT_EQ(fw_.inbox->event_batches[batches], Master::EVENT_BATCH_MAX);
  EXPECT_EQ(fw_.inbox->event_batches[batches + 1], 88);
  std::vector<std::string> ids = updates_since(0);
  ASSERT_EQ(ids.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(ids[i], "gone-" + std::to_string(i)) << "out of order at " << i;
  }
}

TEST_F(MasterBatches, AFailedOverSchedulerGetsWhatWasBatchedForItBeforeItsError) {
  start({});
  a_ = slave_peer(true);
  fw_ = scheduler_peer(60, true);
  advance(2s);
  launch(a_, {"t1", "t2"});
  size_t events = fw_.inbox->events.size();
  auto next_inbox = std::make_shared<Inbox>();
  caf::actor next = peer(next_inbox);
  caf::send_as(a_.actor, master_, status_update(a_.id, fw_.id, "t1", TASK_RUNNING, "u1"));
  caf::send_as(a_.actor, master_, status_update(a_.id, fw_.id, "t2", TASK_RUNNING, "u2"));
  resubscribe(sys_, next, master_, fw_.id, 60, true);
  sched_.run();
  ASSERT_GE(fw_.inbox->events.size(), events + 3);
  EXPECT_EQ(updates_since(events), (Names{"t1", "t2"}));
  EXPECT_EQ(fw_.inbox->events.back().type(), Event::ERROR);
  EXPECT_EQ(fw_.inbox->events.back().error().message(), "Framework failed over");
  ASSERT_FALSE(next_inbox->events.empty());
  EXPECT_EQ(next_inbox->events.front().type(), Event::SUBSCRIBED);
}

}  // namespace
}  // namespace stoa::master
