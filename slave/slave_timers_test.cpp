// Every timer of the slave, driven by virtual time (slave_test_fixture.hpp).

#include "slave/slave_test_fixture.hpp"

#include <picojson.h>

namespace stoa::slave {
namespace {

using namespace std::chrono_literals;
using namespace stoa::internal;

TEST_F(SlaveTimers, RegistrationRetriesBackOffUpToAMinuteAndStopOnceRegistered) {
  ASSERT_EQ(to_master->count<RegisterSlaveMessage>(), 1u);  // at once
  // Each retry comes after a random wait of at most the backoff, which,
  // as Mesos' agent's, is --registration_backoff_factor (1 s) times 2^n for
  // retry n (the first: 2 s) up to 60 s.
  caf::timespan bound = 2s;
  caf::timespan longest{0};
  caf::timespan first{0};
  for (size_t i = 0; i < 10; ++i) {
    caf::timespan wait = next_retry();
    if (i == 0) {
      first = wait;
    }
    EXPECT_LE(wait, bound) << "retry " << i;
    longest = std::max(longest, wait);
    advance(wait);
    EXPECT_EQ(to_master->count<RegisterSlaveMessage>(), i + 2);
    bound = std::min<caf::timespan>(bound * 2, MAX_REGISTRATION_BACKOFF);
  }
  EXPECT_GT(longest, caf::timespan(2s));  // the backoff grew
  // (With the seed the fixture gives, the first retry waits more than the
  // factor itself, which the old bound of one factor never allowed.)
  EXPECT_GT(first, caf::timespan(1s)) << "seed " << RNG_SEED;
  register_slave();
  size_t sent = to_master->count<RegisterSlaveMessage>();
  advance(10min);
  EXPECT_EQ(to_master->count<RegisterSlaveMessage>(), sent);
  EXPECT_EQ(to_master->count<ReregisterSlaveMessage>(), 0u);
}

TEST_F(SlaveTimers, NoPingForSeventyFiveSecondsMakesTheSlaveReregister) {
  register_slave();
  ping();
  EXPECT_EQ(to_master->count<PongSlaveMessage>(), 1u);
  advance(74s);
  ping();  // a ping restarts the wait
  advance(74s);
  EXPECT_EQ(to_master->count<ReregisterSlaveMessage>(), 0u);
  advance(1s);  // 75 s since the last ping: the master is taken for lost
  advance(MAX_REGISTRATION_BACKOFF);  // the first attempt comes within 1 s
  ASSERT_GE(to_master->count<ReregisterSlaveMessage>(), 1u);
  EXPECT_EQ(to_master->all<ReregisterSlaveMessage>()[0].slave().id().value(), "S1");
}

TEST_F(SlaveTimers, ThePingTimeoutIsTheOneTheMasterGave) {
  SlaveRegisteredMessage m;
  m.mutable_slave_id()->set_value("S1");
  m.mutable_connection()->set_total_ping_timeout_seconds(4);  // e.g. 2 s x 2
  tell_master(m);
  // No ping at all: the wait starts at the registration.
  advance(3900ms);
  EXPECT_EQ(to_master->count<ReregisterSlaveMessage>(), 0u);
  advance(100ms);
  advance(MAX_REGISTRATION_BACKOFF);
  ASSERT_GE(to_master->count<ReregisterSlaveMessage>(), 1u);
  // Pings restart it, with the master's value.
  size_t sent = to_master->count<ReregisterSlaveMessage>();
  SlaveReregisteredMessage again;
  again.mutable_slave_id()->set_value("S1");
  again.mutable_connection()->set_total_ping_timeout_seconds(4);
  tell_master(again);
  ping();
  advance(3s);
  ping();
  advance(3s);
  EXPECT_EQ(to_master->count<ReregisterSlaveMessage>(), sent);
}

TEST_F(SlaveTimers, ExecutorThatDoesNotRegisterInAMinuteIsKilledAndItsTaskFails) {
  register_slave();
  run_task("t1");
  ASSERT_EQ(containers->launched.size(), 1u);
  const ContainerConfig& c = containers->launched[0];
  EXPECT_EQ(c.executor_id, "t1");
  EXPECT_EQ(c.env.at("STOA_CONTAINER_ID"), c.container_id);
  advance(59s);
  EXPECT_TRUE(containers->destroyed.empty());
  EXPECT_TRUE(updates_to_master().empty());
  advance(1s);  // --executor_registration_timeout (1 min)
  EXPECT_EQ(containers->destroyed, std::vector<std::string>{c.container_id});
  std::vector<StatusUpdate> updates = updates_to_master();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].status().state(), TASK_FAILED);
  EXPECT_EQ(updates[0].status().reason(), TaskStatus::REASON_EXECUTOR_REGISTRATION_TIMEOUT);
  EXPECT_EQ(updates[0].status().task_id().value(), "t1");
  // The killed executor's exit reaches the master too.
  caf::anon_send(containerizer, reaped_atom_v, c.container_id, int32_t{9});
  sched.run();
  ASSERT_EQ(to_master->count<ExitedExecutorMessage>(), 1u);
  EXPECT_EQ(to_master->all<ExitedExecutorMessage>()[0].status(), 9);
}

TEST_F(SlaveTimers, StatusUpdateIsResentWithDoublingBackoffUntilAcknowledged) {
  register_slave();
  run_task("t1");
  advance(1min);  // the executor never registers: TASK_FAILED from the slave
  ASSERT_EQ(updates_to_master().size(), 1u);
  const std::string uuid = updates_to_master()[0].uuid();
  // 10 s, doubling, at most 10 min.
  const caf::timespan intervals[] = {10s, 20s, 40s, 80s, 160s, 320s, 600s, 600s};
  size_t sent = 1;
  for (caf::timespan interval : intervals) {
    advance_with_pings(interval - 1s);
    EXPECT_EQ(updates_to_master().size(), sent) << "too early at interval " << interval.count();
    advance_with_pings(1s);
    ASSERT_EQ(updates_to_master().size(), ++sent) << "no resend after " << interval.count();
    EXPECT_EQ(updates_to_master().back().uuid(), uuid);
  }
  StatusUpdateAcknowledgementMessage ack;
  ack.mutable_slave_id()->set_value("S1");
  ack.mutable_framework_id()->set_value("F1");
  ack.mutable_task_id()->set_value("t1");
  ack.set_uuid(uuid);
  tell_master(ack);
  advance(STATUS_UPDATE_RETRY_INTERVAL_MAX * 2);
  EXPECT_EQ(updates_to_master().size(), sent);
}

TEST_F(SlaveTimers, EachStreamIsResentOnItsOwnScheduleWithOneTimerForAll) {
  register_slave();
  run_task("t1");
  advance_with_pings(3s);
  run_task("t2");
  advance_with_pings(57s);  // t1's executor never registers: its TASK_FAILED
  ASSERT_EQ(updates_to_master().size(), 1u);
  advance_with_pings(3s);  // and t2's, 3 s later
  ASSERT_EQ(updates_to_master().size(), 2u);
  auto sent_for = [this](const std::string& tid) {
    size_t n = 0;
    for (const StatusUpdate& u : updates_to_master()) {
      n += u.status().task_id().value() == tid ? 1 : 0;
    }
    return n;
  };
  advance_with_pings(7s - 1ms);  // t1's first retry is due 10 s after it was sent
  EXPECT_EQ(sent_for("t1"), 1u);
  advance_with_pings(1ms);
  EXPECT_EQ(sent_for("t1"), 2u);
  EXPECT_EQ(sent_for("t2"), 1u);
  advance_with_pings(3s);  // t2's, 3 s later
  EXPECT_EQ(sent_for("t2"), 2u);
  // t1 acknowledged: only t2 goes on, 20 s after its first retry.
  StatusUpdateAcknowledgementMessage ack;
  ack.mutable_slave_id()->set_value("S1");
  ack.mutable_framework_id()->set_value("F1");
  ack.mutable_task_id()->set_value("t1");
  ack.set_uuid(updates_to_master()[0].uuid());
  tell_master(ack);
  advance_with_pings(20s - 1ms);
  EXPECT_EQ(sent_for("t2"), 2u);
  advance_with_pings(1ms);
  EXPECT_EQ(sent_for("t2"), 3u);
  size_t sent = 3;
  for (caf::timespan interval : {caf::timespan(40s), caf::timespan(80s), caf::timespan(160s)}) {
    advance_with_pings(interval - 1s);
    EXPECT_EQ(sent_for("t2"), sent) << "too early at interval " << interval.count();
    advance_with_pings(1s);
    EXPECT_EQ(sent_for("t2"), ++sent) << "no resend after " << interval.count();
  }
  EXPECT_EQ(sent_for("t1"), 2u);
}

// Batched status updates (docs/architecture.md): the slave says at
// registration that it takes acknowledgements in one message, and answers
// such a message with the updates it releases in one message.
TEST_F(SlaveTimers, AcknowledgementsInOneMessageReleaseTheNextUpdatesInOneMessage) {
  ASSERT_EQ(to_master->count<RegisterSlaveMessage>(), 1u);
  EXPECT_TRUE(to_master->all<RegisterSlaveMessage>()[0].batched_acknowledgements());
  register_slave();
  for (const std::string tid : {"t1", "t2", "t3"}) {
    run_task(tid);
    register_executor(tid);
  }
  // t1 and t2: RUNNING then FINISHED; t3: RUNNING only.
  for (const std::string tid : {"t1", "t2"}) {
    executor_update(tid, TASK_RUNNING, tid + "-running");
    executor_update(tid, TASK_FINISHED, tid + "-finished");
  }
  executor_update("t3", TASK_RUNNING, "t3-running");
  ASSERT_EQ(updates_to_master().size(), 3u) << "one update in flight per task";
  auto ack = [](const std::string& tid, const std::string& uuid) {
    StatusUpdateAcknowledgementMessage a;
    a.mutable_slave_id()->set_value("S1");
    a.mutable_framework_id()->set_value("F1");
    a.mutable_task_id()->set_value(tid);
    a.set_uuid(uuid);
    return a;
  };
  StatusUpdateAcknowledgementsMessage acks;
  *acks.add_acknowledgements() = ack("t1", "t1-running");
  *acks.add_acknowledgements() = ack("t2", "t2-running");
  *acks.add_acknowledgements() = ack("t2", "not-the-head");  // ignored
  tell_master(acks);
  EXPECT_EQ(updates_to_master().size(), 3u) << "the released updates came alone";
  ASSERT_EQ(to_master->count<StatusUpdatesMessage>(), 1u);
  StatusUpdatesMessage batch = to_master->all<StatusUpdatesMessage>()[0];
  ASSERT_EQ(batch.updates_size(), 2);
  EXPECT_EQ(batch.updates(0).update().uuid(), "t1-finished");
  EXPECT_EQ(batch.updates(0).update().latest_state(), TASK_FINISHED);
  EXPECT_EQ(batch.updates(0).pid(), "slave(1)@127.0.0.1:5051");
  EXPECT_EQ(batch.updates(1).update().uuid(), "t2-finished");

  // Released by a batch, they are retried like any other update (with
  // t3's, unacknowledged, all sent at the same virtual time).
  advance_with_pings(10s);
  EXPECT_EQ(updates_to_master().size(), 6u);
  // A batch that releases one update sends it alone; one that releases
  // none sends nothing.
  executor_update("t3", TASK_FINISHED, "t3-finished");
  StatusUpdateAcknowledgementsMessage one;
  *one.add_acknowledgements() = ack("t3", "t3-running");
  tell_master(one);
  ASSERT_EQ(updates_to_master().size(), 7u);
  EXPECT_EQ(updates_to_master().back().uuid(), "t3-finished");
  StatusUpdateAcknowledgementsMessage none;
  *none.add_acknowledgements() = ack("t1", "t1-finished");
  tell_master(none);
  EXPECT_EQ(updates_to_master().size(), 7u);
  EXPECT_EQ(to_master->count<StatusUpdatesMessage>(), 1u);
}

// The statuses of task `tid` of F1 in the slave's /slave/state (empty if
// it is not there).
picojson::array task_statuses(const std::string& state, const std::string& tid) {
  picojson::value v;
  if (!picojson::parse(v, state).empty() || !v.is<picojson::object>()) {
    ADD_FAILURE() << "not JSON: " << state;
    return {};
  }
  for (const picojson::value& f : v.get("frameworks").get<picojson::array>()) {
    for (const picojson::value& e : f.get("executors").get<picojson::array>()) {
      for (const picojson::value& t : e.get("tasks").get<picojson::array>()) {
        if (t.get("id").to_str() == tid) {
          return t.get("statuses").get<picojson::array>();
        }
      }
    }
  }
  return {};
}

// A health-checked task repeats TASK_RUNNING every few seconds for as long as
// it runs: the slave keeps one status per state run, as the master does, and
// still records an executor's retry of a recent update once.
TEST_F(SlaveTimers, ARepeatedStateReplacesTheTasksLastStatusAndARetryIsRecordedOnce) {
  register_slave();
  run_task("t1");
  register_executor("t1");
  executor_update("t1", TASK_STARTING, "s", 1);
  for (int i = 0; i < 200; ++i) {
    executor_update("t1", TASK_RUNNING, "r" + std::to_string(i), 2 + i);
  }
  picojson::array statuses = task_statuses(slave_state(), "t1");
  ASSERT_EQ(statuses.size(), 2u) << slave_state();
  EXPECT_EQ(statuses[0].get("state").to_str(), "TASK_STARTING");
  EXPECT_EQ(statuses[1].get("state").to_str(), "TASK_RUNNING");
  EXPECT_EQ(statuses[1].get("timestamp").get<double>(), 201) << "the last TASK_RUNNING is kept";

  // A retry of a queued update, and one of an acknowledged one, change
  // nothing: the kept status stays the newest.
  StatusUpdateAcknowledgementMessage ack;
  ack.mutable_slave_id()->set_value("S1");
  ack.mutable_framework_id()->set_value("F1");
  ack.mutable_task_id()->set_value("t1");
  for (const std::string uuid : {"s", "r0", "r1"}) {
    ack.set_uuid(uuid);
    tell_master(ack);
  }
  size_t forwarded = updates_to_master().size();
  executor_update("t1", TASK_RUNNING, "r0", 500);    // acknowledged
  executor_update("t1", TASK_RUNNING, "r150", 501);  // queued
  statuses = task_statuses(slave_state(), "t1");
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[1].get("timestamp").get<double>(), 201);
  EXPECT_EQ(updates_to_master().size(), forwarded) << "a retry went to the master";

  // Another state adds a status; the task's last state is kept whatever
  // came before it.
  executor_update("t1", TASK_FINISHED, "f", 300);
  statuses = task_statuses(slave_state(), "t1");
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_EQ(statuses[2].get("state").to_str(), "TASK_FINISHED");
}

TEST_F(SlaveTimers, ExecutorToldToShutDownIsKilledAfterTheGracePeriod) {
  register_slave();
  run_task("t1");
  ASSERT_EQ(containers->launched.size(), 1u);
  const std::string cid = containers->launched[0].container_id;
  register_executor("t1");
  ASSERT_EQ(to_executor->count<ExecutorRegisteredMessage>(), 1u);
  ASSERT_EQ(to_executor->count<RunTaskMessage>(), 1u);
  shutdown_framework("F1");
  EXPECT_EQ(to_executor->count<ShutdownExecutorMessage>(), 1u);
  advance(4s);
  EXPECT_TRUE(containers->destroyed.empty());
  advance(1s);  // --executor_shutdown_grace_period (5 s)
  EXPECT_EQ(containers->destroyed, std::vector<std::string>{cid});
  // A registered executor is not killed for its registration timeout.
  advance(2min);
  EXPECT_EQ(containers->destroyed.size(), 1u);
}

TEST_F(SlaveTimers, ExecutorThatExitsWithinTheGracePeriodIsNotKilled) {
  register_slave();
  run_task("t1");
  const std::string cid = containers->launched.at(0).container_id;
  register_executor("t1");
  shutdown_framework("F1");
  advance(2s);
  caf::anon_send(containerizer, reaped_atom_v, cid, int32_t{0});
  sched.run();
  advance(10s);
  EXPECT_TRUE(containers->destroyed.empty());
}


// An executor that registered and then disconnected (an HTTP executor
// closes its stream once its task's last update is acknowledged, then
// exits) gets the grace period too when its framework is shut down: killed
// at once, it died with a signal as it was exiting cleanly (seen under
// load: HttpExecutorPool.ManyLaunchesWhileTheZygoteRefillsAllFinish).
TEST_F(SlaveTimers, ADisconnectedExecutorGetsTheGracePeriodBeforeItIsKilled) {
  register_slave();
  run_task("t1");
  const std::string cid = containers->launched.at(0).container_id;
  register_executor("t1");
  ASSERT_EQ(to_executor->count<ExecutorRegisteredMessage>(), 1u);
  caf::anon_send_exit(executor, caf::exit_reason::user_shutdown);  // its connection goes
  sched.run();
  shutdown_framework("F1");
  EXPECT_TRUE(containers->destroyed.empty()) << "killed at once";
  advance(4s);
  EXPECT_TRUE(containers->destroyed.empty());
  advance(1s);  // --executor_shutdown_grace_period (5 s)
  EXPECT_EQ(containers->destroyed, std::vector<std::string>{cid});
}

TEST_F(SlaveTimers, ADisconnectedExecutorThatExitsWithinTheGracePeriodIsNotKilled) {
  register_slave();
  run_task("t1");
  const std::string cid = containers->launched.at(0).container_id;
  register_executor("t1");
  caf::anon_send_exit(executor, caf::exit_reason::user_shutdown);
  sched.run();
  shutdown_framework("F1");
  caf::anon_send(containerizer, reaped_atom_v, cid, int32_t{0});  // it exits, status 0
  sched.run();
  advance(10s);
  EXPECT_TRUE(containers->destroyed.empty());
}

// Not a timer, but the slave's explicit stop: told by the master to shut
// down, it destroys its containers and ends with an orderly exit (the
// runtime then ends the process with status 0; see RuntimeWait tests). It
// never signals its own process.
TEST_F(SlaveTimers, ShutdownFromTheMasterDestroysContainersAndStopsTheSlaveNormally) {
  register_slave();
  run_task("t1");
  ASSERT_EQ(containers->launched.size(), 1u);
  ShutdownMessage m;
  m.set_message("Invalid registration: test");
  tell_master(m);
  EXPECT_EQ(containers->destroyed, std::vector<std::string>{containers->launched[0].container_id});
  auto* actor = dynamic_cast<caf::monitorable_actor*>(caf::actor_cast<caf::abstract_actor*>(*slave_handle));
  ASSERT_NE(actor, nullptr);
  EXPECT_TRUE(actor->getf(caf::abstract_actor::is_terminated_flag)) << "the slave is still running";
  EXPECT_EQ(actor->fail_state(), caf::error{caf::exit_reason::normal});
}

}  // namespace
}  // namespace stoa::slave
