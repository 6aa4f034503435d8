// A slave restarted on a checkpoint (slave_recovery.cpp), under virtual
// time (slave_test_fixture.hpp): which executors it adopts, kills or waits
// for, when it re-registers with the master, and which updates follow.
// (The same with real processes: tests/slave_recovery_test.cpp.)

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

#include "actors/launcher.hpp"
#include "slave/slave_test_fixture.hpp"
#include "tests/poll.hpp"

namespace stoa::slave {
namespace {

using namespace std::chrono_literals;
using namespace stoa::internal;

// The container of the recovered executor. Its id names this test process:
// ctest runs the tests of this file side by side, and recovery of an
// UNSTARTED run kills every younger process that names the container, which
// would be another test's executor if the ids were the same (CI saw it).
const std::string& cid() {
  static const std::string id = "c1-" + std::to_string(::getpid());
  return id;
}

// A live process standing for the executor of container cid(): it holds
// STOA_CONTAINER_ID=<cid> in its environment, as a real executor does.
struct ExecutorProcess {
  ExecutorProcess() {
    LaunchSpec spec;
    spec.argv = {"sleep", "1000"};
    spec.env = {{"STOA_CONTAINER_ID", cid()}};
    Try<pid_t> p = launch(spec);
    EXPECT_TRUE(p) << p.error();
    pid = p.is_some() ? *p : -1;
    // Until the child has exec'd: before that its environment is ours, and
    // the slave would not know it for the container's executor.
    EXPECT_TRUE(pid > 0 && tests::poll_until([this] { return environ_has(pid, "STOA_CONTAINER_ID=" + cid()); },
                                             tests::deadline_in(10s)))
        << "the executor process never exec'd";
  }
  static bool environ_has(pid_t pid, const std::string& entry) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.find(std::string(1, '\0') + entry + std::string(1, '\0')) != std::string::npos ||
           text.rfind(entry + std::string(1, '\0'), 0) == 0;
  }
  ~ExecutorProcess() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  pid_t pid = -1;
};

// UNSTARTED: the slave died after the fork, before the pid's checkpoint.
enum class Run { REGISTERED, UNREGISTERED, DEAD, UNSTARTED };

StatusUpdate update(TaskState state, const std::string& uuid) {
  StatusUpdate u;
  u.mutable_framework_id()->set_value("F1");
  u.mutable_executor_id()->set_value("t1");
  u.mutable_slave_id()->set_value("S1");
  u.mutable_status()->mutable_task_id()->set_value("t1");
  u.mutable_status()->set_state(state);
  u.set_timestamp(1);
  u.set_uuid(uuid);
  return u;
}

// Slave S1 ran task t1 of framework F1 (which checkpoints) in container cid():
// TASK_STARTING (acknowledged) and TASK_RUNNING (not yet) were sent.
SlaveCheckpoint checkpoint(pid_t executor_pid, Run run) {
  SlaveCheckpoint cp;
  cp.slave_id = "S1";
  cp.info.set_hostname("node1");
  cp.info.mutable_id()->set_value("S1");
  FrameworkCheckpoint& f = cp.frameworks["F1"];
  f.info.mutable_id()->set_value("F1");
  f.info.set_name("test");
  f.info.set_user("root");
  f.info.set_checkpoint(true);
  f.pid = "scheduler@127.0.0.1:1";
  ExecutorCheckpoint& e = f.executors["t1"];
  e.info.mutable_executor_id()->set_value("t1");
  e.info.mutable_framework_id()->set_value("F1");
  e.latest_run = cid();
  RunCheckpoint& r = e.runs[cid()];
  r.container_id = cid();
  // Our own pid is alive but is no executor of cid() (its environment says so).
  r.forked_pid = run == Run::DEAD ? ::getpid() : executor_pid;
  if (run == Run::UNSTARTED) {
    r.forked_pid.reset();
  }
  r.registered = run != Run::UNREGISTERED;
  TaskCheckpoint& t = r.tasks["t1"];
  t.task.set_name("t1");
  t.task.mutable_task_id()->set_value("t1");
  t.task.mutable_framework_id()->set_value("F1");
  t.task.mutable_slave_id()->set_value("S1");
  t.task.set_state(TASK_STAGING);
  Resources::parse("cpus:1;mem:128")->to_proto(t.task.mutable_resources());
  t.updates = {update(TASK_STARTING, "u1"), update(TASK_RUNNING, "u2")};
  t.acks = {"u1"};
  return cp;
}

// The executor process exists before the slave (a base constructed first).
struct WithExecutorProcess {
  ExecutorProcess process;
};

template <Run R>
class Recovered : public WithExecutorProcess, public SlaveTimers {
 protected:
  Recovered() : SlaveTimers(checkpoint(process.pid, R)) {}

  void reregister_slave() {
    SlaveReregisteredMessage m;
    m.mutable_slave_id()->set_value("S1");
    tell_master(m);
  }
  void ack(const std::string& uuid) {
    StatusUpdateAcknowledgementMessage a;
    a.mutable_slave_id()->set_value("S1");
    a.mutable_framework_id()->set_value("F1");
    a.mutable_task_id()->set_value("t1");
    a.set_uuid(uuid);
    tell_master(a);
  }
  size_t registrations() {
    return to_master->count<RegisterSlaveMessage>() + to_master->count<ReregisterSlaveMessage>();
  }
};

using RecoveredRegistered = Recovered<Run::REGISTERED>;
using RecoveredUnregistered = Recovered<Run::UNREGISTERED>;
using RecoveredDead = Recovered<Run::DEAD>;
using RecoveredUnstarted = Recovered<Run::UNSTARTED>;

TEST_F(RecoveredRegistered, ExecutorThatDoesNotReregisterInTimeIsKilledAndItsTaskFails) {
  ASSERT_EQ(containers->adopted.size(), 1u);
  EXPECT_EQ(containers->adopted[0].container_id, cid());
  EXPECT_EQ(containers->adopted[0].pid, process.pid);
  EXPECT_EQ(registrations(), 0u) << "registered before its executors had a chance";
  advance(4900ms);
  EXPECT_TRUE(containers->destroyed.empty());
  advance(100ms);  // --executor_reregistration_timeout (5 s)
  EXPECT_EQ(containers->destroyed, std::vector<std::string>{cid()});
  ASSERT_EQ(to_master->count<ReregisterSlaveMessage>(), 1u);
  const ReregisterSlaveMessage m = to_master->all<ReregisterSlaveMessage>()[0];
  EXPECT_EQ(m.slave().id().value(), "S1");
  ASSERT_EQ(m.tasks_size(), 1);
  EXPECT_EQ(m.tasks(0).state(), TASK_RUNNING);
  reregister_slave();
  ASSERT_EQ(updates_to_master().size(), 1u);
  EXPECT_EQ(updates_to_master()[0].uuid(), "u2");  // the pending update, resent
  caf::anon_send(containerizer, reaped_atom_v, cid(), int32_t{9});
  sched.run();
  ack("u2");
  ASSERT_EQ(updates_to_master().size(), 2u);
  EXPECT_EQ(updates_to_master()[1].status().state(), TASK_FAILED);
  EXPECT_EQ(updates_to_master()[1].status().reason(), TaskStatus::REASON_EXECUTOR_TERMINATED);
}

TEST_F(RecoveredRegistered, ExecutorThatReregistersKeepsRunningAndItsUpdatesArriveOnce) {
  ASSERT_EQ(registrations(), 0u);
  ReregisterExecutorMessage r;
  r.mutable_executor_id()->set_value("t1");
  r.mutable_framework_id()->set_value("F1");
  r.add_tasks()->mutable_task_id()->set_value("t1");
  *r.add_updates() = update(TASK_RUNNING, "u2");   // the slave has it already
  *r.add_updates() = update(TASK_FINISHED, "u3");  // new
  caf::anon_send(executor, r);
  sched.run();
  EXPECT_EQ(to_executor->count<ExecutorReregisteredMessage>(), 1u);
  EXPECT_EQ(to_executor->count<StatusUpdateAcknowledgementMessage>(), 2u);
  EXPECT_EQ(to_master->count<ReregisterSlaveMessage>(), 1u) << "recovery is over once its executor is back";
  advance(10s);
  EXPECT_TRUE(containers->destroyed.empty());
  reregister_slave();
  ASSERT_EQ(updates_to_master().size(), 1u);
  EXPECT_EQ(updates_to_master()[0].uuid(), "u2");
  ack("u2");
  ASSERT_EQ(updates_to_master().size(), 2u);
  EXPECT_EQ(updates_to_master()[1].uuid(), "u3");
  EXPECT_EQ(updates_to_master()[1].status().state(), TASK_FINISHED);
  // A retried re-registration is answered again and changes nothing.
  caf::anon_send(executor, r);
  sched.run();
  EXPECT_EQ(to_executor->count<ExecutorReregisteredMessage>(), 2u);
  EXPECT_EQ(updates_to_master().size(), 2u);
}

TEST_F(RecoveredRegistered, AnExecutorTheSlaveDoesNotWaitForIsToldToShutDown) {
  ReregisterExecutorMessage r;
  r.mutable_executor_id()->set_value("other");
  r.mutable_framework_id()->set_value("F1");
  caf::anon_send(executor, r);
  sched.run();
  EXPECT_EQ(to_executor->count<ShutdownExecutorMessage>(), 1u);
  EXPECT_EQ(to_executor->count<ExecutorReregisteredMessage>(), 0u);
}

TEST_F(RecoveredUnregistered, ExecutorThatHadNotRegisteredIsKilledAtOnce) {
  ASSERT_EQ(containers->adopted.size(), 1u);
  EXPECT_EQ(containers->destroyed, std::vector<std::string>{cid()});
  EXPECT_EQ(to_master->count<ReregisterSlaveMessage>(), 1u) << "nothing to wait for";
}

// The slave died between the fork and the pid's checkpoint: the executor
// runs, but nothing names its pid. It is found by its environment and
// killed, and its task fails (chaos found such an executor still running).
TEST_F(RecoveredUnstarted, AnExecutorStartedButNeverCheckpointedIsKilledAndItsTaskFails) {
  EXPECT_TRUE(containers->adopted.empty());
  int status = 0;
  ASSERT_TRUE(tests::poll_until([&] { return ::waitpid(process.pid, &status, WNOHANG) == process.pid; },
                                tests::deadline_in(10s)))
      << "the executor process still runs";
  process.pid = -1;  // reaped
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_EQ(to_master->count<ReregisterSlaveMessage>(), 1u);
  reregister_slave();
  ack("u2");
  ASSERT_EQ(updates_to_master().size(), 2u);
  EXPECT_EQ(updates_to_master()[1].status().state(), TASK_FAILED);
  EXPECT_NE(updates_to_master()[1].status().message().find("had not started"), std::string::npos);
}

TEST_F(RecoveredDead, TasksOfAnExecutorThatDiedWhileTheSlaveWasDownFail) {
  EXPECT_TRUE(containers->adopted.empty());
  ASSERT_EQ(to_master->count<ReregisterSlaveMessage>(), 1u);
  reregister_slave();
  ASSERT_EQ(updates_to_master().size(), 1u);
  EXPECT_EQ(updates_to_master()[0].uuid(), "u2");
  ack("u2");
  ASSERT_EQ(updates_to_master().size(), 2u);
  EXPECT_EQ(updates_to_master()[1].status().state(), TASK_FAILED);
  EXPECT_EQ(updates_to_master()[1].status().reason(), TaskStatus::REASON_EXECUTOR_TERMINATED);
  EXPECT_NE(updates_to_master()[1].status().message().find("while the slave was down"), std::string::npos);
}

}  // namespace
}  // namespace stoa::slave
