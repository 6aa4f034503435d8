// A big ACCEPT is launched over several turns (offers.cpp, launch_slice;
// issue #17): every task once and in order, other messages handled between
// the turns, and a task accepted but not launched yet behaves as Mesos'
// pending task (a kill ends it before its launch, reconciliation answers
// TASK_STAGING, a teardown launches no more of it).

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "master/master_actor.hpp"
#include "master/master_fixture.hpp"

namespace stoa::master::testing {
namespace {

// More tasks than several turns launch: the first turn launches at most
// LAUNCHES_PER_TURN of them.
const size_t TASKS = 4 * LAUNCHES_PER_TURN + 10;

class MasterLaunchTest : public MasterFixture {
 protected:
  void SetUp() override {
    start({});
    slave_inbox_ = std::make_shared<Inbox>();
    slave_ = peer(slave_inbox_);
    slave_id_ = add_slave(slave_, slave_inbox_, "cpus:10000;mem:100000");
    fw_inbox_ = std::make_shared<Inbox>();
    fw_ = peer(fw_inbox_);
    fid_ = subscribe(fw_, fw_inbox_);
    advance(1s);
    ASSERT_NE(last_offer(fw_inbox_), nullptr);
    offer_ = *last_offer(fw_inbox_);
  }

  static std::string task_id(size_t i) { return "t" + std::to_string(i); }

  // An ACCEPT of the slave's offer launching TASKS tasks t0, t1, ... (sent,
  // not yet handled).
  void send_big_accept() {
    const Offer* offer = &offer_;
    Call accept;
    accept.set_type(Call::ACCEPT);
    accept.mutable_framework_id()->set_value(fid_);
    *accept.mutable_accept()->add_offer_ids() = offer->id();
    Offer::Operation* op = accept.mutable_accept()->add_operations();
    op->set_type(Offer::Operation::LAUNCH);
    for (size_t i = 0; i < TASKS; ++i) {
      TaskInfo* t = op->mutable_launch()->add_task_infos();
      t->set_name(task_id(i));
      t->mutable_task_id()->set_value(task_id(i));
      *t->mutable_slave_id() = offer->slave_id();
      t->mutable_command()->set_value("sleep 1000");
      Resources::parse("cpus:1;mem:1")->to_proto(t->mutable_resources());
    }
    caf::send_as(fw_, master_, accept);
  }

  // The master takes one message: the ACCEPT sent last, which launches its
  // first turn's tasks and sends the master the next slice (high priority).
  void master_takes_one_message() {
    auto* job = dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(master_));
    auto it = std::find(sched_.jobs.begin(), sched_.jobs.end(), job);
    ASSERT_NE(it, sched_.jobs.end());
    std::rotate(sched_.jobs.begin(), it, it + 1);
    sched_.run_once();
  }

  // Sends `c` between the ACCEPT's turns. CAF's test coordinator resumes an
  // actor for one message at a time, and each resume starts a DRR round
  // with the high-priority queue, so a normal message would wait for the
  // last slice there; under the real scheduler a round takes the next slice
  // and then up to three normal messages. So the framework's call goes at
  // high priority, behind the next slice.
  void send_between_turns(const Call& c) {
    master_takes_one_message();
    caf::send_as<caf::message_priority::high>(fw_, master_, c);
    sched_.run();
  }

  Call call(Call::Type type) {
    Call c;
    c.set_type(type);
    c.mutable_framework_id()->set_value(fid_);
    return c;
  }

  // The updates the framework received for `tid`, in order.
  std::vector<TaskStatus> updates_of(const std::string& tid) {
    std::vector<TaskStatus> out;
    for (const Event& e : fw_inbox_->events) {
      if (e.type() == Event::UPDATE && e.update().status().task_id().value() == tid) {
        out.push_back(e.update().status());
      }
    }
    return out;
  }

  std::vector<std::string> launched() {
    std::vector<std::string> ids;
    for (const RunTaskMessage& r : slave_inbox_->runs) {
      ids.push_back(r.task().task_id().value());
    }
    return ids;
  }

  std::shared_ptr<Inbox> slave_inbox_;
  caf::actor slave_;
  std::string slave_id_;
  std::shared_ptr<Inbox> fw_inbox_;
  caf::actor fw_;
  std::string fid_;
  Offer offer_;  // of the slave, made in SetUp
};

// The ACCEPT and a reconciliation of its last task, sent together: the
// reconciliation is answered between the ACCEPT's turns (TASK_STAGING, the
// task not launched yet), and every task is launched once, in order.
TEST_F(MasterLaunchTest, ABigAcceptLaunchesInTurnsWithOtherMessagesBetween) {
  send_big_accept();
  Call reconcile = call(Call::RECONCILE);
  reconcile.mutable_reconcile()->add_tasks()->mutable_task_id()->set_value(task_id(TASKS - 1));
  send_between_turns(reconcile);

  std::vector<TaskStatus> last = updates_of(task_id(TASKS - 1));
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].state(), TASK_STAGING);
  EXPECT_EQ(last[0].reason(), TaskStatus::REASON_RECONCILIATION);
  EXPECT_EQ(last[0].message(), "Reconciliation: task is pending");

  std::vector<std::string> ids = launched();
  ASSERT_EQ(ids.size(), TASKS);
  for (size_t i = 0; i < TASKS; ++i) {
    EXPECT_EQ(ids[i], task_id(i));
  }
  // Once launched, the same task reconciles from the master's record.
  caf::send_as(fw_, master_, reconcile);
  sched_.run();
  last = updates_of(task_id(TASKS - 1));
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[1].state(), TASK_STAGING);
  EXPECT_EQ(last[1].message(), "Reconciliation: latest task state");

  advance(2s);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
  EXPECT_GT(metric("master/accounting_checks"), 0.0);
  EXPECT_EQ(metric("master/tasks_staging"), static_cast<double>(TASKS));
}

TEST_F(MasterLaunchTest, AnImplicitReconciliationBetweenTurnsNamesThePendingTasks) {
  send_big_accept();
  send_between_turns(call(Call::RECONCILE));
  // Every task is answered once: launched ones from their record, pending
  // ones as pending; all TASK_STAGING.
  size_t pending = 0;
  for (size_t i = 0; i < TASKS; ++i) {
    std::vector<TaskStatus> u = updates_of(task_id(i));
    ASSERT_EQ(u.size(), 1u) << task_id(i);
    EXPECT_EQ(u[0].state(), TASK_STAGING);
    pending += u[0].message() == "Reconciliation: task is pending" ? 1 : 0;
  }
  EXPECT_GT(pending, 0u);
  EXPECT_LT(pending, TASKS);
  EXPECT_EQ(launched().size(), TASKS);
}

// A kill of a task not launched yet: TASK_KILLED (killed during launch), it
// is never launched, the others are, and its resources go back (the
// accounting of master and allocator agrees afterwards).
TEST_F(MasterLaunchTest, AKillOfAPendingTaskEndsItBeforeItsLaunch) {
  send_big_accept();
  Call kill = call(Call::KILL);
  kill.mutable_kill()->mutable_task_id()->set_value(task_id(TASKS - 1));
  send_between_turns(kill);

  std::vector<TaskStatus> u = updates_of(task_id(TASKS - 1));
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].state(), TASK_KILLED);
  EXPECT_EQ(u[0].reason(), TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH);
  EXPECT_EQ(u[0].slave_id().value(), slave_id_);
  std::vector<std::string> ids = launched();
  EXPECT_EQ(ids.size(), TASKS - 1);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).count(task_id(TASKS - 1)), 0u);
  EXPECT_TRUE(slave_inbox_->kills.empty());  // nothing to kill on the slave

  advance(2s);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
  EXPECT_GT(metric("master/accounting_checks"), 0.0);
  EXPECT_EQ(metric("master/tasks_staging"), static_cast<double>(TASKS - 1));
  EXPECT_EQ(metric("master/tasks_killed"), 1.0);
}

// A teardown between the turns: the tasks launched so far are killed with
// the framework, the rest are never launched, and everything goes back.
TEST_F(MasterLaunchTest, ATeardownBetweenTurnsLaunchesNoMore) {
  send_big_accept();
  send_between_turns(call(Call::TEARDOWN));

  size_t runs = launched().size();
  EXPECT_GT(runs, 0u);
  EXPECT_LT(runs, TASKS);
  ASSERT_EQ(slave_inbox_->shutdown_frameworks.size(), 1u);
  EXPECT_EQ(slave_inbox_->shutdown_frameworks[0], fid_);
  advance(2s);
  EXPECT_EQ(launched().size(), runs);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
  EXPECT_GT(metric("master/accounting_checks"), 0.0);
  EXPECT_EQ(metric("master/tasks_staging"), 0.0);
  picojson::value s = view("state");
  EXPECT_EQ(s.get("frameworks").get<picojson::array>().size(), 0u);
}

// Two ACCEPTs in a row: the second's tasks launch after all of the first's,
// and a task id of the first, reused by the second, is refused as in use.
TEST_F(MasterLaunchTest, AcceptsLaunchInTheOrderTheyArrived) {
  // Two offers: a second slave.
  auto inbox2 = std::make_shared<Inbox>();
  caf::actor slave2 = peer(inbox2);
  std::string sid2 = add_slave(slave2, inbox2, "cpus:4;mem:1024");
  advance(1s);
  const Offer* second = nullptr;
  for (const Event& e : fw_inbox_->events) {
    if (e.type() == Event::OFFERS) {
      for (const Offer& o : e.offers().offers()) {
        if (o.slave_id().value() == sid2) {
          second = &o;
        }
      }
    }
  }
  ASSERT_NE(second, nullptr);
  Offer second_offer = *second;
  send_big_accept();
  Call accept = call(Call::ACCEPT);
  *accept.mutable_accept()->add_offer_ids() = second_offer.id();
  Offer::Operation* op = accept.mutable_accept()->add_operations();
  op->set_type(Offer::Operation::LAUNCH);
  for (const std::string& tid : {std::string("other"), task_id(TASKS - 1)}) {
    TaskInfo* t = op->mutable_launch()->add_task_infos();
    t->set_name(tid);
    t->mutable_task_id()->set_value(tid);
    t->mutable_slave_id()->set_value(sid2);
    t->mutable_command()->set_value("sleep 1000");
    Resources::parse("cpus:1;mem:1")->to_proto(t->mutable_resources());
  }
  send_between_turns(accept);

  EXPECT_EQ(launched().size(), TASKS);
  ASSERT_EQ(inbox2->runs.size(), 1u);
  EXPECT_EQ(inbox2->runs[0].task().task_id().value(), "other");
  std::vector<TaskStatus> u = updates_of(task_id(TASKS - 1));
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].state(), TASK_ERROR);
  EXPECT_NE(u[0].message().find("already in use"), std::string::npos) << u[0].message();
  advance(2s);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

}  // namespace
}  // namespace stoa::master::testing
