// Slave durability on the master's side (issue #9), with fake slaves and
// schedulers under virtual time: the ping timeout a slave is told,
// unreachable slaves and partition-aware frameworks, removed frameworks
// that never come back (through a partition or a new leader), the
// reconciliation of a known slave, kills kept while a slave is away,
// reconciliation answers, and messages from removed or unreachable slaves.

#include "master/master_fixture.hpp"

namespace stoa::master {
namespace {

using namespace stoa::master::testing;

using Fw = Peer;

class MasterPartition : public MasterFixture {
 protected:
  // Starts a master whose slaves are marked unreachable 2-3 s after they
  // stop answering pings, and registers one slave.
  void start_with_slave(std::vector<const char*> flags = {}) {
    flags.push_back("--slave_ping_timeout=1secs");
    flags.push_back("--max_slave_ping_timeouts=2");
    start(flags);
    slave_inbox_ = std::make_shared<Inbox>();
    slave_ = peer(slave_inbox_);
    slave_id_ = add_slave(slave_, slave_inbox_);
  }

  // A framework subscribed and running task `tid` (cpus:1;mem:64) on the slave.
  Fw framework_with_task(const std::string& tid, bool partition_aware, double failover_timeout = 0,
                         bool checkpoint = false) {
    Fw f;
    f.inbox = std::make_shared<Inbox>();
    f.actor = peer(f.inbox);
    f.id = subscribe(f.actor, f.inbox, failover_timeout, partition_aware, checkpoint);
    advance(1s);
    const Offer* offer = last_offer(f.inbox);
    EXPECT_NE(offer, nullptr);
    if (offer != nullptr) {
      launch_on_last_offer(f.actor, master_, f.id, *offer, tid);
      sched_.run();
    }
    return f;
  }

  // What the slave reports for `tid` (as launched), in `state`.
  Task reported(const std::string& tid, TaskState state = TASK_RUNNING) {
    for (const RunTaskMessage& run : slave_inbox_->runs) {
      if (run.task().task_id().value() == tid) {
        return reported_task(run, state);
      }
    }
    ADD_FAILURE() << "task " << tid << " was never launched";
    return Task();
  }

  FrameworkInfo info_of(const Fw& f, bool partition_aware) {
    FrameworkInfo info;
    info.set_name("timers");
    info.set_user("nobody");
    info.mutable_id()->set_value(f.id);
    if (partition_aware) {
      info.add_capabilities()->set_type(FrameworkInfo::Capability::PARTITION_AWARE);
    }
    return info;
  }

  void make_slave_unreachable() {
    slave_inbox_->pong = false;
    advance(4s);
    ASSERT_EQ(metric("master/slave_unreachable_completed"), 1.0);
    slave_inbox_->pong = true;
  }

  void reconcile(const Fw& f, const std::vector<std::pair<std::string, std::string>>& tasks) {
    Call call;
    call.set_type(Call::RECONCILE);
    call.mutable_framework_id()->set_value(f.id);
    call.mutable_reconcile();
    for (const auto& [tid, sid] : tasks) {
      auto* t = call.mutable_reconcile()->add_tasks();
      t->mutable_task_id()->set_value(tid);
      if (!sid.empty()) {
        t->mutable_slave_id()->set_value(sid);
      }
    }
    caf::send_as(f.actor, master_, call);
    sched_.run();
  }

  void kill(const Fw& f, const std::string& tid, const std::string& sid = "") {
    Call call;
    call.set_type(Call::KILL);
    call.mutable_framework_id()->set_value(f.id);
    call.mutable_kill()->mutable_task_id()->set_value(tid);
    if (!sid.empty()) {
      call.mutable_kill()->mutable_slave_id()->set_value(sid);
    }
    caf::send_as(f.actor, master_, call);
    sched_.run();
  }

  void teardown(const Fw& f) {
    caf::send_as(f.actor, master_, teardown_call(f.id));
    sched_.run();
  }

  // The framework's entry in /master/frameworks (null when not active).
  std::optional<picojson::value> framework_view(const std::string& fid) {
    picojson::value fws = view("frameworks");
    for (const picojson::value& f : fws.get("frameworks").get<picojson::array>()) {
      if (f.get("id").to_str() == fid) {
        return f;
      }
    }
    return std::nullopt;
  }

  std::shared_ptr<Inbox> slave_inbox_;
  caf::actor slave_;
  std::string slave_id_;
};

TEST_F(MasterPartition, SlavesAreToldTheirPingTimeoutWhenTheyRegisterAndReregister) {
  start({"--slave_ping_timeout=3secs", "--max_slave_ping_timeouts=4"});
  auto inbox = std::make_shared<Inbox>();
  caf::actor slave = peer(inbox);
  std::string id = add_slave(slave, inbox);
  ASSERT_EQ(inbox->connections.size(), 1u);
  EXPECT_DOUBLE_EQ(inbox->connections[0].total_ping_timeout_seconds(), 12.0);
  // A restarted slave (a new actor) re-registers with its id.
  auto again = std::make_shared<Inbox>();
  reregister(peer(again), id, {}, {});
  ASSERT_EQ(again->connections.size(), 1u);
  EXPECT_DOUBLE_EQ(again->connections[0].total_ping_timeout_seconds(), 12.0);
}

TEST_F(MasterPartition, PartitionAwareTasksBecomeUnreachableAndComeBackOthersAreLostAndShutDown) {
  start_with_slave();
  Fw aware = framework_with_task("t1", true);
  Fw plain = framework_with_task("t2", false);
  ASSERT_EQ(slave_inbox_->runs.size(), 2u);
  EXPECT_EQ(metric("master/cpus_used"), 2.0);
  make_slave_unreachable();

  std::vector<TaskStatus> u1 = updates_for(aware.inbox, "t1");
  ASSERT_EQ(u1.size(), 1u);
  EXPECT_EQ(u1[0].state(), TASK_UNREACHABLE);
  EXPECT_EQ(u1[0].reason(), TaskStatus::REASON_SLAVE_REMOVED);
  EXPECT_EQ(u1[0].source(), TaskStatus::SOURCE_MASTER);
  std::vector<TaskStatus> u2 = updates_for(plain.inbox, "t2");
  ASSERT_EQ(u2.size(), 1u);
  EXPECT_EQ(u2[0].state(), TASK_LOST);
  EXPECT_EQ(metric("master/cpus_used"), 0.0);
  std::optional<picojson::value> f1 = framework_view(aware.id);
  ASSERT_TRUE(f1);
  EXPECT_TRUE(f1->get("tasks").get<picojson::array>().empty());
  ASSERT_EQ(f1->get("unreachable_tasks").get<picojson::array>().size(), 1u);
  EXPECT_EQ(f1->get("unreachable_tasks").get<picojson::array>()[0].get("state").to_str(), "TASK_UNREACHABLE");

  // The slave comes back with both tasks still running.
  reregister(slave_, slave_id_, {reported("t1"), reported("t2")}, {info_of(aware, true), info_of(plain, false)});
  u1 = updates_for(aware.inbox, "t1");
  ASSERT_EQ(u1.size(), 2u);
  EXPECT_EQ(u1[1].state(), TASK_RUNNING);
  EXPECT_EQ(u1[1].reason(), TaskStatus::REASON_SLAVE_REREGISTERED);
  EXPECT_EQ(u1[1].source(), TaskStatus::SOURCE_MASTER);
  EXPECT_EQ(slave_inbox_->shutdown_frameworks, std::vector<std::string>{plain.id});
  EXPECT_EQ(updates_for(plain.inbox, "t2").size(), 1u);
  f1 = framework_view(aware.id);
  ASSERT_TRUE(f1);
  ASSERT_EQ(f1->get("tasks").get<picojson::array>().size(), 1u);
  EXPECT_TRUE(f1->get("unreachable_tasks").get<picojson::array>().empty());
  std::optional<picojson::value> f2 = framework_view(plain.id);
  ASSERT_TRUE(f2);
  EXPECT_TRUE(f2->get("tasks").get<picojson::array>().empty());
  EXPECT_EQ(metric("master/cpus_used"), 1.0);
  advance(2s);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterPartition, ATornDownFrameworkIsShutDownOnASlaveThatComesBack) {
  start_with_slave();
  Fw aware = framework_with_task("t1", true);
  make_slave_unreachable();
  teardown(aware);
  ASSERT_FALSE(framework_view(aware.id));
  reregister(slave_, slave_id_, {reported("t1")}, {info_of(aware, true)});
  EXPECT_EQ(slave_inbox_->shutdown_frameworks, std::vector<std::string>{aware.id});
  EXPECT_FALSE(framework_view(aware.id));
  EXPECT_EQ(metric("master/cpus_used"), 0.0);
  EXPECT_EQ(metric("master/frameworks_inactive"), 0.0);
  advance(2s);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterPartition, ANewLeaderNeverRevivesARemovedFramework) {
  start_with_slave({"--slave_reregister_timeout=10mins"});
  Fw gone = framework_with_task("t1", false, 60);
  teardown(gone);
  EXPECT_EQ(slave_inbox_->shutdown_frameworks, std::vector<std::string>{gone.id});
  Task t1 = reported("t1");
  stop_master();

  start({"--slave_reregister_timeout=10mins"});
  // Before the slave is back, its task gets no reconciliation answer.
  auto late = std::make_shared<Inbox>();
  Fw other{peer(late), late, ""};
  other.id = subscribe(other.actor, other.inbox);
  reconcile(other, {{"x", slave_id_}});
  EXPECT_TRUE(updates_for(other.inbox, "x").empty());
  // The slave still runs the removed framework's task.
  slave_inbox_->shutdown_frameworks.clear();
  reregister(slave_, slave_id_, {t1}, {info_of(gone, false)});
  EXPECT_EQ(slave_inbox_->shutdown_frameworks, std::vector<std::string>{gone.id});
  EXPECT_FALSE(framework_view(gone.id));
  EXPECT_EQ(metric("master/cpus_used"), 0.0);
  // Nor may it subscribe again.
  auto inbox = std::make_shared<Inbox>();
  caf::actor fw = peer(inbox);
  resubscribe(sys_, fw, master_, gone.id, 60, true);
  sched_.run();
  const Event* error = last_event(inbox, Event::ERROR);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->error().message(), "Framework has been removed");
}

// A new leader is handed the registry's SlaveInfos encoded (parsing 50,000
// of them held its recovery up; #17) and shows a recovered slave from it.
TEST_F(MasterPartition, ANewLeaderShowsARecoveredSlaveFromItsEncodedSlaveInfo) {
  start_with_slave({"--slave_reregister_timeout=10mins"});
  stop_master();
  start({"--slave_reregister_timeout=10mins"});
  picojson::value state = view("state");
  const picojson::array& recovered = state.get("recovered_slaves").get<picojson::array>();
  ASSERT_EQ(recovered.size(), 1u);
  EXPECT_EQ(recovered[0].get("id").to_str(), slave_id_);
  EXPECT_EQ(recovered[0].get("hostname").to_str(), "host1");
  EXPECT_EQ(recovered[0].get("resources").get("cpus").get<double>(), 4.0);
  EXPECT_EQ(metric("master/recovered_slaves"), 1.0);
  reregister(slave_, slave_id_, {}, {});
  EXPECT_EQ(metric("master/recovered_slaves"), 0.0);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
}

// The registrar answers the new leader from a scan and parses the registry
// only afterwards: a SlaveInfo that does not parse (here: no hostname, a
// required field) then ends the leadership, once the master has handled
// what waited for its recovery.
TEST_F(MasterPartition, ANewLeaderWhoseRegistryDoesNotParseStopsLeading) {
  storage_proxy();  // the store
  registry::Registry stored;
  SlaveInfo* good = stored.mutable_slaves()->add_slaves();
  good->set_hostname("host-S1");
  good->mutable_id()->set_value("S1");
  std::vector<std::string> parts = registrar::split_registry(stored);
  SlaveInfo broken;
  broken.mutable_id()->set_value("S2");
  const std::string info = broken.SerializePartialAsString();
  const std::string list = "\x0a" + std::string(1, static_cast<char>(info.size())) + info;
  parts[1 + registrar::bucket_of("S2")] += "\x12" + std::string(1, static_cast<char>(list.size())) + list;
  auto written = self_->request(real_storage_.actor, caf::infinite, registrar::store_atom_v, parts, uint64_t{0});
  sched_.run();
  written.receive([](uint64_t) {}, [](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });

  start({});
  EXPECT_EQ(metrics_.value("master/registrar_failures"), 1.0);
  EXPECT_EQ(metrics_.value("master/elected"), 0.0);
}

TEST_F(MasterPartition, AFrameworkRemovedByItsFailoverTimeoutStaysRemovedAfterAFailover) {
  start({"--slave_ping_timeout=1hrs"});
  auto inbox = std::make_shared<Inbox>();
  caf::actor fw = peer(inbox);
  std::string fid = subscribe(fw, inbox, 10);
  caf::anon_send_exit(fw, caf::exit_reason::kill);
  advance(11s, 1s);
  ASSERT_FALSE(framework_view(fid));
  stop_master();
  start({"--slave_ping_timeout=1hrs"});
  auto late = std::make_shared<Inbox>();
  resubscribe(sys_, peer(late), master_, fid, 10, true);
  sched_.run();
  const Event* error = last_event(late, Event::ERROR);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->error().message(), "Framework has been removed");
  EXPECT_FALSE(framework_view(fid));
}

TEST_F(MasterPartition, ARecoveredFrameworkThatNeverSubscribesIsRemoved) {
  start_with_slave();
  Fw fw = framework_with_task("t1", false, 60);
  Task t1 = reported("t1");
  stop_master();
  start({"--slave_reregister_timeout=5mins", "--slave_ping_timeout=1hrs"});
  reregister(slave_, slave_id_, {t1}, {info_of(fw, false)});
  std::optional<picojson::value> recovered = framework_view(fw.id);
  ASSERT_TRUE(recovered);
  EXPECT_FALSE(recovered->get("active").get<bool>());
  EXPECT_EQ(metric("master/cpus_used"), 1.0);
  // max(failover_timeout 60 s, --slave_reregister_timeout 5 min)
  advance(4min + 59s, 10s);
  EXPECT_TRUE(framework_view(fw.id));
  advance(2s);
  EXPECT_FALSE(framework_view(fw.id));
  EXPECT_EQ(slave_inbox_->shutdown_frameworks, std::vector<std::string>{fw.id});
  EXPECT_EQ(metric("master/cpus_used"), 0.0);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterPartition, AKnownSlaveThatNoLongerReportsItsTasksHasThemDropped) {
  start_with_slave();
  Fw aware = framework_with_task("t1", true);
  Fw plain = framework_with_task("t2", false);
  Fw removed = framework_with_task("t3", false);
  teardown(removed);
  // The slave restarted (a new actor, same id) and lost t1 and t2; it
  // still runs the removed framework's t3.
  auto inbox = std::make_shared<Inbox>();
  caf::actor restarted = peer(inbox);
  reregister(restarted, slave_id_, {reported("t3")}, {info_of(removed, false)});
  std::vector<TaskStatus> u1 = updates_for(aware.inbox, "t1");
  ASSERT_EQ(u1.size(), 1u);
  EXPECT_EQ(u1[0].state(), TASK_DROPPED);
  EXPECT_EQ(u1[0].reason(), TaskStatus::REASON_TASK_UNKNOWN);
  std::vector<TaskStatus> u2 = updates_for(plain.inbox, "t2");
  ASSERT_EQ(u2.size(), 1u);
  EXPECT_EQ(u2[0].state(), TASK_LOST);
  EXPECT_EQ(u2[0].source(), TaskStatus::SOURCE_MASTER);
  EXPECT_EQ(inbox->shutdown_frameworks, std::vector<std::string>{removed.id});
  EXPECT_EQ(metric("master/cpus_used"), 0.0);
  advance(2s);
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
}

TEST_F(MasterPartition, KillsWhileTheSlaveIsAwayAreSentWhenItReturnsUnlessTheTaskEnded) {
  start_with_slave();
  Fw aware = framework_with_task("t1", true);
  auto second = [&] {
    advance(6s);  // the first launch's refusal filter expires
    const Offer* offer = last_offer(aware.inbox);
    ASSERT_NE(offer, nullptr);
    launch_on_last_offer(aware.actor, master_, aware.id, *offer, "t2");
    sched_.run();
  };
  second();
  ASSERT_EQ(slave_inbox_->runs.size(), 2u);
  make_slave_unreachable();
  kill(aware, "t1");
  kill(aware, "t2");
  EXPECT_TRUE(slave_inbox_->kills.empty());
  // t2 finished while the slave was away.
  reregister(slave_, slave_id_, {reported("t1"), reported("t2", TASK_FINISHED)}, {info_of(aware, true)});
  ASSERT_EQ(slave_inbox_->kills.size(), 1u);
  EXPECT_EQ(slave_inbox_->kills[0].task_id().value(), "t1");
  EXPECT_EQ(slave_inbox_->kills[0].framework_id().value(), aware.id);

  // A kill of a task the master does not hold gets the reconciliation answer.
  kill(aware, "nope", slave_id_);
  std::vector<TaskStatus> u = updates_for(aware.inbox, "nope");
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].state(), TASK_GONE);
  EXPECT_EQ(u[0].reason(), TaskStatus::REASON_RECONCILIATION);
  kill(aware, "nowhere");
  u = updates_for(aware.inbox, "nowhere");
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].state(), TASK_UNKNOWN);
}

TEST_F(MasterPartition, AKillWhileTheSlaveIsDisconnectedIsSentWhenItReregisters) {
  start({"--slave_ping_timeout=1hrs"});
  slave_inbox_ = std::make_shared<Inbox>();
  slave_ = peer(slave_inbox_);
  slave_id_ = add_slave(slave_, slave_inbox_);
  Fw fw = framework_with_task("t1", false, 0, true);  // checkpointing: t1 survives the disconnection
  caf::anon_send_exit(slave_, caf::exit_reason::kill);
  sched_.run();
  EXPECT_EQ(metric("master/slaves_inactive"), 1.0);
  kill(fw, "t1");
  EXPECT_TRUE(updates_for(fw.inbox, "t1").empty());
  // The slave restarts (a new actor) and re-registers with t1 still running.
  auto inbox = std::make_shared<Inbox>();
  caf::actor restarted = peer(inbox);
  reregister(restarted, slave_id_, {reported("t1")}, {info_of(fw, false)});
  ASSERT_EQ(inbox->kills.size(), 1u);
  EXPECT_EQ(inbox->kills[0].task_id().value(), "t1");
  EXPECT_TRUE(updates_for(fw.inbox, "t1").empty()) << "t1 is still known: it is not dropped";
  // Sent once: a later re-registration does not send it again.
  auto again = std::make_shared<Inbox>();
  reregister(peer(again), slave_id_, {reported("t1")}, {info_of(fw, false)});
  EXPECT_TRUE(again->kills.empty());
}

TEST_F(MasterPartition, ReconciliationAnswersAsMesos) {
  start_with_slave();
  Fw aware = framework_with_task("t1", true);
  Fw plain = framework_with_task("t2", false);
  auto last_state = [](const Fw& f, const std::string& tid) {
    std::vector<TaskStatus> u = updates_for(f.inbox, tid);
    EXPECT_FALSE(u.empty()) << tid;
    if (!u.empty()) {
      EXPECT_EQ(u.back().reason(), TaskStatus::REASON_RECONCILIATION) << tid;
      EXPECT_EQ(u.back().source(), TaskStatus::SOURCE_MASTER) << tid;
    }
    return u.empty() ? TASK_STAGING : u.back().state();
  };
  reconcile(aware, {{"t1", slave_id_}, {"gone", slave_id_}, {"nowhere", "no-such-slave"}, {"noslave", ""}});
  EXPECT_EQ(last_state(aware, "t1"), TASK_STAGING);  // launched, no update from the slave yet
  EXPECT_EQ(last_state(aware, "gone"), TASK_GONE);
  EXPECT_EQ(last_state(aware, "nowhere"), TASK_UNKNOWN);
  EXPECT_EQ(last_state(aware, "noslave"), TASK_UNKNOWN);
  reconcile(plain, {{"gone", slave_id_}, {"nowhere", "no-such-slave"}, {"noslave", ""}});
  EXPECT_EQ(last_state(plain, "gone"), TASK_LOST);
  EXPECT_EQ(last_state(plain, "nowhere"), TASK_LOST);
  EXPECT_EQ(last_state(plain, "noslave"), TASK_LOST);

  make_slave_unreachable();
  reconcile(aware, {{"t1", ""}, {"other", slave_id_}});
  EXPECT_EQ(last_state(aware, "t1"), TASK_UNREACHABLE);
  EXPECT_EQ(last_state(aware, "other"), TASK_UNREACHABLE);
  reconcile(plain, {{"other", slave_id_}});
  EXPECT_EQ(last_state(plain, "other"), TASK_LOST);
  // Implicit: the unreachable task too.
  size_t before = updates_for(aware.inbox, "t1").size();
  reconcile(aware, {});
  ASSERT_EQ(updates_for(aware.inbox, "t1").size(), before + 1);
  EXPECT_EQ(last_state(aware, "t1"), TASK_UNREACHABLE);
}

// Found by the chaos harness (#16): a task that finished while its slave
// was away (a master failover) was dropped when the slave
// re-registered with the new leader, so reconciliation answered TASK_LOST
// and the slave's FINISHED came after it: two terminal states for one task.
TEST_F(MasterPartition, ATaskThatEndedDuringAFailoverIsReconciledAsItsEnd) {
  start_with_slave({"--slave_reregister_timeout=10mins"});
  Fw fw = framework_with_task("t1", false, 60, true);
  Task t1 = reported("t1", TASK_FINISHED);  // its update not acknowledged yet
  stop_master();

  start({"--slave_reregister_timeout=10mins"});
  reregister(slave_, slave_id_, {t1}, {info_of(fw, false)});
  resubscribe(sys_, fw.actor, master_, fw.id, 60, true);
  sched_.run();
  reconcile(fw, {{"t1", slave_id_}});
  std::vector<TaskStatus> u = updates_for(fw.inbox, "t1");
  ASSERT_FALSE(u.empty());
  EXPECT_EQ(u.back().reason(), TaskStatus::REASON_RECONCILIATION);
  EXPECT_EQ(TaskState_Name(u.back().state()), "TASK_FINISHED");
  // The master's view agrees until the acknowledgement removes it, and the
  // ended task holds no resources.
  std::optional<picojson::value> view = framework_view(fw.id);
  ASSERT_TRUE(view.has_value());
  std::string state;
  for (const picojson::value& t : view->get("tasks").get<picojson::array>()) {
    if (t.get("id").to_str() == "t1") {
      state = t.get("state").to_str();
    }
  }
  EXPECT_EQ(state, "TASK_FINISHED") << view->serialize();
  EXPECT_EQ(metric("master/cpus_used"), 0.0);
}

// Found by the chaos harness (#16): after a stoa-services failover the new
// leader reconciled its health-checked tasks, the answers lacked `healthy`,
// and the app never counted as healthy again (executors report health only
// when it changes).
TEST_F(MasterPartition, ReconciliationCarriesTheLatestHealth) {
  start_with_slave();
  Fw fw = framework_with_task("t1", false);
  StatusUpdateMessage m;
  m.mutable_update()->mutable_framework_id()->set_value(fw.id);
  m.mutable_update()->mutable_slave_id()->set_value(slave_id_);
  m.mutable_update()->mutable_status()->mutable_task_id()->set_value("t1");
  m.mutable_update()->mutable_status()->mutable_slave_id()->set_value(slave_id_);
  m.mutable_update()->mutable_status()->set_state(TASK_RUNNING);
  m.mutable_update()->mutable_status()->set_healthy(true);
  m.mutable_update()->mutable_status()->set_uuid("health-1");
  m.mutable_update()->set_timestamp(1);
  m.mutable_update()->set_uuid("health-1");
  caf::send_as(slave_, master_, m);
  sched_.run();
  for (bool implicit : {false, true}) {
    size_t before = updates_for(fw.inbox, "t1").size();
    reconcile(fw, implicit ? std::vector<std::pair<std::string, std::string>>{}
                           : std::vector<std::pair<std::string, std::string>>{{"t1", slave_id_}});
    std::vector<TaskStatus> u = updates_for(fw.inbox, "t1");
    ASSERT_EQ(u.size(), before + 1) << (implicit ? "implicit" : "explicit");
    EXPECT_EQ(u.back().reason(), TaskStatus::REASON_RECONCILIATION);
    EXPECT_EQ(u.back().state(), TASK_RUNNING);
    ASSERT_TRUE(u.back().has_healthy()) << (implicit ? "implicit" : "explicit");
    EXPECT_TRUE(u.back().healthy());
  }
}

TEST_F(MasterPartition, RemovedSlavesAreToldToShutDownUnreachableOnesAreIgnored) {
  start_with_slave();
  auto status_update = [&](const caf::actor& from, const std::string& sid) {
    StatusUpdateMessage m;
    m.mutable_update()->mutable_framework_id()->set_value("f");
    m.mutable_update()->mutable_slave_id()->set_value(sid);
    m.mutable_update()->mutable_status()->mutable_task_id()->set_value("t");
    m.mutable_update()->mutable_status()->set_state(TASK_RUNNING);
    m.mutable_update()->set_timestamp(1);
    m.mutable_update()->set_uuid("u");
    caf::send_as(from, master_, m);
    sched_.run();
  };
  // Unreachable: its update is dropped and counted; it re-registers itself.
  make_slave_unreachable();
  status_update(slave_, slave_id_);
  EXPECT_TRUE(slave_inbox_->shutdowns.empty());
  EXPECT_EQ(metric("master/messages_from_unreachable_slaves"), 1.0);
  reregister(slave_, slave_id_, {}, {});
  ASSERT_EQ(slave_inbox_->registered.size(), 2u);

  // Removed for good (it unregistered): told to shut down.
  UnregisterSlaveMessage bye;
  bye.mutable_slave_id()->set_value(slave_id_);
  caf::send_as(slave_, master_, bye);
  sched_.run();
  status_update(slave_, slave_id_);
  ASSERT_EQ(slave_inbox_->shutdowns.size(), 1u);
  EXPECT_NE(slave_inbox_->shutdowns[0].find(slave_id_), std::string::npos);
  reregister(slave_, slave_id_, {}, {});
  ASSERT_EQ(slave_inbox_->shutdowns.size(), 2u);
  EXPECT_NE(slave_inbox_->shutdowns[1].find("re-register after removal"), std::string::npos);
  EXPECT_EQ(slave_inbox_->registered.size(), 2u);
}

TEST_F(MasterPartition, ASlaveMarkedGoneIsToldToShutDownByTheNextLeader) {
  start_with_slave();
  stop_master();
  registry::Operation gone;
  gone.mutable_mark_slave_gone()->mutable_slave_id()->set_value(slave_id_);
  gone.mutable_mark_slave_gone()->mutable_timestamp()->set_nanoseconds(1);
  apply_to_registry(gone);
  start({});
  reregister(slave_, slave_id_, {}, {});
  ASSERT_EQ(slave_inbox_->shutdowns.size(), 1u);
  EXPECT_NE(slave_inbox_->shutdowns[0].find("re-register after removal"), std::string::npos);
  EXPECT_EQ(slave_inbox_->registered.size(), 1u);  // the first registration only
  EXPECT_EQ(metric("master/slaves_active"), 0.0);
}

TEST_F(MasterPartition, RemovalsForMissedPingsFollowTheRateLimit) {
  start({"--slave_ping_timeout=1secs", "--max_slave_ping_timeouts=2", "--slave_removal_rate_limit=1/1mins"});
  std::vector<std::shared_ptr<Inbox>> inboxes;
  for (int i = 0; i < 3; ++i) {
    inboxes.push_back(std::make_shared<Inbox>());
    add_slave(peer(inboxes.back()), inboxes.back());
  }
  for (auto& inbox : inboxes) {
    inbox->pong = false;
  }
  advance(4s);
  EXPECT_EQ(metric("master/slave_unreachable_scheduled"), 3.0);
  EXPECT_EQ(metric("master/slave_unreachable_completed"), 1.0);  // the first at once
  EXPECT_EQ(metric("master/slaves_active"), 2.0);
  // The third answers a ping while queued: it stays.
  inboxes[2]->pong = true;
  advance(2s);
  EXPECT_EQ(metric("master/slave_unreachable_canceled"), 1.0);
  advance(50s);
  EXPECT_EQ(metric("master/slave_unreachable_completed"), 1.0);
  advance(10s);  // a minute after the first removal (at ~3 s)
  EXPECT_EQ(metric("master/slave_unreachable_completed"), 2.0);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
  advance(2min);
  EXPECT_EQ(metric("master/slave_unreachable_completed"), 2.0);
  EXPECT_EQ(metric("master/slave_unreachable_scheduled"), 3.0);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
}

TEST_F(MasterPartition, ASlaveThatReconnectsWhileQueuedForRemovalStays) {
  start({"--slave_ping_timeout=1secs", "--max_slave_ping_timeouts=2", "--slave_removal_rate_limit=1/1mins"});
  std::vector<std::shared_ptr<Inbox>> inboxes;
  std::vector<caf::actor> actors;
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    inboxes.push_back(std::make_shared<Inbox>());
    actors.push_back(peer(inboxes.back()));
    ids.push_back(add_slave(actors.back(), inboxes.back()));
  }
  for (auto& inbox : inboxes) {
    inbox->pong = false;
  }
  advance(4s);
  EXPECT_EQ(metric("master/slave_unreachable_scheduled"), 3.0);
  EXPECT_EQ(metric("master/slave_unreachable_completed"), 1.0);  // the first at once, two queued
  EXPECT_EQ(metric("master/slaves_active"), 2.0);
  // The third's connection breaks while it is queued, and it re-registers
  // on a new one: the re-registration cancels its removal.
  caf::anon_send_exit(actors[2], caf::exit_reason::user_shutdown);
  sched_.run();
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
  auto back = std::make_shared<Inbox>();
  reregister(peer(back), ids[2], {}, {});
  ASSERT_FALSE(back->registered.empty());
  EXPECT_EQ(back->registered.back(), ids[2]);
  EXPECT_EQ(metric("master/slave_unreachable_canceled"), 1.0);
  EXPECT_EQ(metric("master/slaves_active"), 2.0);
  // The second's turn comes a minute after the first removal; the third's
  // never does, and it keeps answering the pings it now gets.
  advance(70s);
  EXPECT_EQ(metric("master/slave_unreachable_completed"), 2.0);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
  const int pings = back->pings;
  advance(2min);
  EXPECT_EQ(metric("master/slave_unreachable_completed"), 2.0);
  EXPECT_EQ(metric("master/slaves_active"), 1.0);
  EXPECT_GT(back->pings, pings);
  picojson::value state = view("slaves");
  const picojson::array& slaves = state.get("slaves").get<picojson::array>();
  ASSERT_EQ(slaves.size(), 1u);
  EXPECT_EQ(slaves[0].get("id").to_str(), ids[2]);
}

TEST_F(MasterPartition, ARetriedOlderUpdateDoesNotBringATerminalTaskBack) {
  start_with_slave();
  Fw f = framework_with_task("t1", false);
  caf::send_as(slave_, master_, status_update(slave_id_, f.id, "t1", TASK_RUNNING, "u-run"));
  sched_.run();
  caf::send_as(slave_, master_, status_update(slave_id_, f.id, "t1", TASK_FINISHED, "u-fin"));
  sched_.run();
  // The slave re-sends the TASK_RUNNING whose acknowledgement a failover
  // lost, after the task ended: without a latest state (the slave no
  // longer holds the task). The task stays finished, and its resources,
  // released at TASK_FINISHED, are not counted again.
  caf::send_as(slave_, master_, status_update(slave_id_, f.id, "t1", TASK_RUNNING, "u-run"));
  sched_.run();
  advance(3s);  // allocation passes, each followed by the accounting check
  EXPECT_EQ(metric("master/invariant_violations"), 0.0);
  EXPECT_GT(metric("master/accounting_checks"), 0.0);
  picojson::value tasks = view("tasks");
  const picojson::array& list = tasks.get("tasks").get<picojson::array>();
  ASSERT_EQ(list.size(), 1u) << tasks.serialize();
  EXPECT_EQ(list[0].get("state").to_str(), "TASK_FINISHED");
}

}  // namespace
}  // namespace stoa::master
