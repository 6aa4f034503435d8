// The executor SDK against a fake slave actor in the same process: the fake
// slave is registered as "slave(1)" in a Runtime, forwards everything the
// executor sends it to a probe (a scoped_actor the test reads), and passes
// the slave-to-executor messages the test sends it on to the executor that
// registered. A test Executor reports its callbacks to a second scoped_actor
// as strings.

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "framework/executor.hpp"

namespace stoa {
namespace {

using namespace std::chrono_literals;
using namespace internal;

constexpr auto WAIT = std::chrono::seconds(10);  // generous: the machine is shared

caf::behavior fake_slave(caf::event_based_actor* self, caf::actor probe) {
  auto executor = std::make_shared<caf::actor>();
  auto to_executor = [self, executor](auto& m) {
    if (*executor) {
      self->send(*executor, std::move(m));
    }
  };
  return {
      // From the executor: to the probe.
      [self, probe, executor](RegisterExecutorMessage& m) {
        *executor = caf::actor_cast<caf::actor>(self->current_sender());
        self->send(probe, std::move(m));
      },
      [self, probe, executor](ReregisterExecutorMessage& m) {
        *executor = caf::actor_cast<caf::actor>(self->current_sender());
        self->send(probe, std::move(m));
      },
      [self, probe, executor](ExecutorPoolReadyMessage& m) {
        *executor = caf::actor_cast<caf::actor>(self->current_sender());
        self->send(probe, std::move(m));
      },
      [self, probe](StatusUpdateMessage& m) { self->send(probe, std::move(m)); },
      [self, probe](ExecutorToFrameworkMessage& m) { self->send(probe, std::move(m)); },
      // From the test: to the executor.
      [to_executor](ExecutorRegisteredMessage& m) { to_executor(m); },
      [to_executor](AdoptExecutorMessage& m) { to_executor(m); },
      [to_executor](ExecutorReregisteredMessage& m) { to_executor(m); },
      [to_executor](RunTaskMessage& m) { to_executor(m); },
      [to_executor](KillTaskMessage& m) { to_executor(m); },
      [to_executor](ShutdownExecutorMessage& m) { to_executor(m); },
      [to_executor](StatusUpdateAcknowledgementMessage& m) { to_executor(m); },
      [to_executor](FrameworkToExecutorMessage& m) { to_executor(m); },
  };
}

// Reports every callback to `events` as a string; answers some of them.
class TestExecutor : public Executor {
 public:
  TestExecutor(caf::actor events, bool stop_on_shutdown) : events_(std::move(events)), stop_(stop_on_shutdown) {}

  void registered(ExecutorDriver& d, const ExecutorInfo& ei, const FrameworkInfo& fi, const SlaveInfo&) override {
    // A cancelled timer must not fire; the other one must.
    uint64_t cancelled = d.after(1ms, [this] { report("cancelled timer fired"); });
    d.cancel(cancelled);
    d.after(20ms, [this] { report("timer"); });
    report("registered:" + d.slave_id()->value() + ":" + ei.executor_id().value() + ":" + fi.name());
  }
  void launch_task(ExecutorDriver& d, const TaskInfo& task) override {
    report("launch:" + task.task_id().value());
    TaskStatus s;
    *s.mutable_task_id() = task.task_id();
    s.set_state(TASK_RUNNING);
    d.send_status_update(s);
  }
  void kill_task(ExecutorDriver&, const TaskID& id, const std::optional<KillPolicy>& policy) override {
    report("kill:" + id.value() + ":" +
           (policy ? std::to_string(policy->grace_period().nanoseconds()) : std::string("none")));
  }
  void framework_message(ExecutorDriver& d, const std::string& data) override {
    report("message:" + data);
    d.send_framework_message("pong:" + data);
  }
  void reregistered(ExecutorDriver& d, const SlaveInfo& info) override {
    report("reregistered:" + d.slave_id()->value() + ":" + info.hostname());
  }
  void shutdown(ExecutorDriver& d) override {
    report(d.connected() ? "shutdown" : "shutdown:disconnected");
    if (stop_) {
      d.stop();
    }
  }
  void error(ExecutorDriver&, const std::string& message) override { report("error:" + message); }
  void disconnected(ExecutorDriver& d) override {
    report(d.reconnecting() ? "disconnected:reconnecting" : "disconnected");
  }
  void acknowledged(ExecutorDriver& d, const TaskID& id, const std::string&) override {
    report("ack:" + id.value() + ":" + std::to_string(d.unacknowledged()));
  }
  // "finish:<task>" sends that task's TASK_FINISHED; anything else is reported.
  void unhandled(ExecutorDriver& d, caf::message& msg) override {
    if (!msg.match_elements<std::string>()) {
      return;
    }
    const std::string& text = msg.get_as<std::string>(0);
    if (text.rfind("finish:", 0) == 0) {
      TaskStatus s;
      s.mutable_task_id()->set_value(text.substr(7));
      s.set_state(TASK_FINISHED);
      d.send_status_update(s);
      report("sent:" + text);
      return;
    }
    report("unhandled:" + text);
  }

 private:
  void report(std::string what) { caf::anon_send(events_, std::move(what)); }
  caf::actor events_;
  bool stop_;
};

class ExecutorDriverTest : public ::testing::Test {
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
    events_.emplace(runtime_->system());
    slave_ = runtime_->system().spawn(fake_slave, caf::actor_cast<caf::actor>((*probe_)->address()));
    runtime_->register_actor("slave(1)", slave_);
  }

  void TearDown() override {
    if (executor_) {
      stop_actor(runtime_->system(), executor_);
    }
    // scoped_actors count as running actors: drop them before the runtime.
    probe_.reset();
    events_.reset();
    executor_ = caf::actor{};
    slave_ = caf::actor{};
    runtime_.reset();
  }

  ExecutorOptions options() {
    ExecutorOptions o;
    o.slave_pid = runtime_->upid("slave(1)").str();
    o.framework_id.set_value("fw-1");
    o.executor_id.set_value("exec-1");
    o.directory = "/tmp";
    o.registration_retry = 50ms;
    o.status_update_retry = 100ms;
    return o;
  }

  void start(ExecutorOptions o, bool stop_on_shutdown = true) {
    executor_ = spawn_executor(
        *runtime_, std::move(o),
        std::make_unique<TestExecutor>(caf::actor_cast<caf::actor>((*events_)->address()), stop_on_shutdown));
  }

  // The next message of type T the fake slave got from the executor (others
  // are skipped), or nullopt.
  template <class T>
  std::optional<T> next(caf::timespan timeout = WAIT) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::optional<T> got;
    while (!got && std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      (*probe_)->receive([&](T& m) { got = std::move(m); }, [](RegisterExecutorMessage&) {},
                         [](ReregisterExecutorMessage&) {}, [](StatusUpdateMessage&) {},
                         [](ExecutorToFrameworkMessage&) {}, [](ExecutorPoolReadyMessage&) {},
                         caf::after(std::max(left, std::chrono::milliseconds(1))) >> [] {});
    }
    return got;
  }

  // How many messages of type T the fake slave gets within `window` (a
  // check that something does NOT happen).
  template <class T>
  int count(caf::timespan window) {
    auto deadline = std::chrono::steady_clock::now() + window;
    int n = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      (*probe_)->receive([&](T&) { ++n; }, [](RegisterExecutorMessage&) {}, [](ReregisterExecutorMessage&) {},
                         [](StatusUpdateMessage&) {}, [](ExecutorToFrameworkMessage&) {},
                         [](ExecutorPoolReadyMessage&) {}, caf::after(std::max(left, std::chrono::milliseconds(1))) >> [] {});
    }
    return n;
  }

  // Waits for the executor callback report `what`; returns every report seen
  // before it (so a test can check what did not happen).
  std::vector<std::string> wait_event(const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + WAIT;
    std::vector<std::string> seen;
    bool found = false;
    while (!found && std::chrono::steady_clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      (*events_)->receive(
          [&](std::string& s) {
            if (s == what) {
              found = true;
            } else {
              seen.push_back(std::move(s));
            }
          },
          caf::after(std::max(left, std::chrono::milliseconds(1))) >> [] {});
    }
    EXPECT_TRUE(found) << "no '" << what << "' callback";
    return seen;
  }

  bool wait_down(const caf::actor& who) {
    caf::scoped_actor self{runtime_->system()};
    self->monitor(who);
    bool down = false;
    self->receive([&](caf::down_msg&) { down = true; }, caf::after(WAIT) >> [] {});
    return down;
  }

  void to_executor(caf::message m) { caf::anon_send(slave_, std::move(m)); }

  // The slave's answer to a registration: slave "slave-1".
  static ExecutorRegisteredMessage registered_message() {
    ExecutorRegisteredMessage m;
    m.mutable_executor_info()->mutable_executor_id()->set_value("exec-1");
    m.mutable_executor_info()->mutable_framework_id()->set_value("fw-1");
    m.mutable_framework_id()->set_value("fw-1");
    m.mutable_framework_info()->set_name("test-framework");
    m.mutable_framework_info()->set_user("nobody");
    m.mutable_slave_id()->set_value("slave-1");
    m.mutable_slave_info()->set_hostname("localhost");
    return m;
  }

  // Spawns a pooled executor (token "token-1") whose adoption reports
  // "adopt:<container id>" and then takes options() or fails with `error`.
  void start_pooled(std::string error = "") {
    PooledExecutorOptions p;
    p.slave_pid = runtime_->upid("slave(1)").str();
    p.slave_actor_port = runtime_->actor_port();
    p.token = "token-1";
    caf::actor events = caf::actor_cast<caf::actor>((*events_)->address());
    executor_ = spawn_pooled_executor(
        *runtime_, std::move(p),
        [events, error, o = options()](const AdoptExecutorMessage& m) -> Try<ExecutorOptions> {
          caf::anon_send(events, "adopt:" + m.container_id());
          if (!error.empty()) {
            return Error(error);
          }
          return o;
        },
        std::make_unique<TestExecutor>(events, true));
  }

  static AdoptExecutorMessage adoption() {
    AdoptExecutorMessage m;
    m.set_token("token-1");
    m.set_container_id("container-1");
    m.set_directory("/tmp");
    m.mutable_environment();
    return m;
  }

  // Registers the executor as slave "slave-1" after it has asked once.
  void register_executor() {
    ASSERT_TRUE(next<RegisterExecutorMessage>()) << "no registration";
    caf::anon_send(slave_, registered_message());
    wait_event("registered:slave-1:exec-1:test-framework");
  }

  RunTaskMessage run_task(const std::string& id) {
    RunTaskMessage m;
    m.mutable_framework_id()->set_value("fw-1");
    m.mutable_framework()->set_name("test-framework");
    m.mutable_framework()->set_user("nobody");
    m.mutable_task()->set_name(id);
    m.mutable_task()->mutable_task_id()->set_value(id);
    m.mutable_task()->mutable_slave_id()->set_value("slave-1");
    return m;
  }

  StatusUpdateAcknowledgementMessage ack(const StatusUpdate& u) {
    StatusUpdateAcknowledgementMessage m;
    m.mutable_slave_id()->set_value("slave-1");
    *m.mutable_framework_id() = u.framework_id();
    *m.mutable_task_id() = u.status().task_id();
    m.set_uuid(u.uuid());
    return m;
  }

  // The next update of `task` in `state` the fake slave got (re-sent
  // updates of other tasks are skipped).
  std::optional<StatusUpdate> next_update(const std::string& task, TaskState state) {
    auto deadline = std::chrono::steady_clock::now() + WAIT;
    while (std::chrono::steady_clock::now() < deadline) {
      std::optional<StatusUpdateMessage> m = next<StatusUpdateMessage>(deadline - std::chrono::steady_clock::now());
      if (m && m->update().status().task_id().value() == task && m->update().status().state() == state) {
        return m->update();
      }
    }
    return std::nullopt;
  }

  // Runs `task` and acknowledges its TASK_RUNNING.
  void run_and_ack(const std::string& task) {
    to_executor(caf::make_message(run_task(task)));
    std::optional<StatusUpdate> running = next_update(task, TASK_RUNNING);
    ASSERT_TRUE(running) << "no TASK_RUNNING for " << task;
    to_executor(caf::make_message(ack(*running)));
    wait_event("ack:" + task + ":0");
  }

  // The (restarted) slave takes the executor back as "slave-1" on `host`.
  void reregister_executor(const std::string& host) {
    ExecutorReregisteredMessage m;
    m.mutable_slave_id()->set_value("slave-1");
    m.mutable_slave_info()->set_hostname(host);
    to_executor(caf::make_message(m));
    wait_event("reregistered:slave-1:" + host);
  }

  // A second fake slave under the same UPID in this process.
  void replace_slave() {
    slave_ = runtime_->system().spawn(fake_slave, caf::actor_cast<caf::actor>((*probe_)->address()));
    runtime_->register_actor("slave(1)", slave_);
  }

  std::unique_ptr<Runtime> runtime_;
  std::optional<caf::scoped_actor> probe_;
  std::optional<caf::scoped_actor> events_;
  caf::actor slave_;
  caf::actor executor_;
};

// The warm pool (#17): the adoption is the registration. The pooled executor
// says it is ready; the AdoptExecutorMessage carrying the registration's
// answer and the task gets registered() and launch_task() at once, and the
// executor never sends RegisterExecutorMessage.
TEST_F(ExecutorDriverTest, PooledExecutorIsRegisteredByItsAdoption) {
  start_pooled();
  std::optional<ExecutorPoolReadyMessage> ready = next<ExecutorPoolReadyMessage>();
  ASSERT_TRUE(ready) << "the pooled executor did not say it is ready";
  EXPECT_EQ(ready->token(), "token-1");
  EXPECT_EQ(ready->pid(), static_cast<int32_t>(::getpid()));
  AdoptExecutorMessage m = adoption();
  *m.mutable_registered() = registered_message();
  *m.add_run_tasks() = run_task("t1");
  to_executor(caf::make_message(m));
  wait_event("adopt:container-1");
  wait_event("registered:slave-1:exec-1:test-framework");
  wait_event("launch:t1");
  // Everything the executor sent the slave, up to the task's TASK_RUNNING.
  int registrations = 0;
  std::optional<StatusUpdate> running;
  auto deadline = std::chrono::steady_clock::now() + WAIT;
  while (!running && std::chrono::steady_clock::now() < deadline) {
    (*probe_)->receive([&](RegisterExecutorMessage&) { ++registrations; },
                       [&](StatusUpdateMessage& u) {
                         if (u.update().status().state() == TASK_RUNNING) {
                           running = u.update();
                         }
                       },
                       caf::after(std::chrono::milliseconds(100)) >> [] {});
  }
  ASSERT_TRUE(running) << "no TASK_RUNNING for t1";
  EXPECT_EQ(running->slave_id().value(), "slave-1");
  EXPECT_EQ(running->executor_id().value(), "exec-1");
  to_executor(caf::make_message(ack(*running)));
  wait_event("ack:t1:0");
  // 300 ms is many registration retry periods (50 ms).
  EXPECT_EQ(registrations + count<RegisterExecutorMessage>(300ms), 0) << "the adopted executor registered again";
}

// An adoption without the registration (the slave's launch was killed
// meanwhile) leaves the executor to register as a cold one does.
TEST_F(ExecutorDriverTest, PooledExecutorAdoptedWithoutRegistrationRegisters) {
  start_pooled();
  ASSERT_TRUE(next<ExecutorPoolReadyMessage>());
  to_executor(caf::make_message(adoption()));
  wait_event("adopt:container-1");
  register_executor();
  run_and_ack("t1");
}

// A failed adoption is the executor's error (the process exits 1); a pooled
// executor the slave refuses leaves quietly (no callback: nobody waits for
// it).
TEST_F(ExecutorDriverTest, PooledExecutorFailingItsAdoptionErrsAndARefusedOneLeavesQuietly) {
  start_pooled("no sandbox");
  ASSERT_TRUE(next<ExecutorPoolReadyMessage>());
  AdoptExecutorMessage m = adoption();
  *m.mutable_registered() = registered_message();
  to_executor(caf::make_message(m));
  wait_event("adopt:container-1");
  wait_event("error:Cannot adopt container container-1: no sandbox");
  EXPECT_TRUE(wait_down(executor_));

  start_pooled();
  ASSERT_TRUE(next<ExecutorPoolReadyMessage>());
  to_executor(caf::make_message(ShutdownExecutorMessage{}));
  EXPECT_TRUE(wait_down(executor_));
  std::vector<std::string> seen;
  for (bool more = true; more;) {
    (*events_)->receive([&](std::string& s) { seen.push_back(std::move(s)); },
                        caf::after(std::chrono::milliseconds(0)) >> [&] { more = false; });
  }
  EXPECT_TRUE(seen.empty()) << "a refused pooled executor called back: " << seen.front();
}

TEST_F(ExecutorDriverTest, RetriesRegistrationUntilRegistered) {
  start(options());
  for (int i = 0; i < 3; ++i) {
    std::optional<RegisterExecutorMessage> r = next<RegisterExecutorMessage>();
    ASSERT_TRUE(r) << "registration attempt " << i + 1 << " missing";
    EXPECT_EQ(r->framework_id().value(), "fw-1");
    EXPECT_EQ(r->executor_id().value(), "exec-1");
  }
  register_executor();
  // Timers run inside the executor; a cancelled one never fires.
  std::vector<std::string> before = wait_event("timer");
  EXPECT_TRUE(std::find(before.begin(), before.end(), "cancelled timer fired") == before.end());
  // Registered: the retries stop (at most one was in flight). 300ms is many
  // retry periods.
  EXPECT_LE(count<RegisterExecutorMessage>(300ms), 1);
}

TEST_F(ExecutorDriverTest, ResolvesWithTheActorPort) {
  ExecutorOptions o = options();
  o.slave_actor_port = runtime_->actor_port();
  start(o);
  register_executor();
}

TEST_F(ExecutorDriverTest, GivesUpRegisteringAfterTheRegistrationTimeout) {
  ExecutorOptions o = options();
  o.registration_retry = 20ms;
  o.registration_timeout = 300ms;
  start(o);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(next<RegisterExecutorMessage>());
  }
  std::vector<std::string> seen;
  auto deadline = std::chrono::steady_clock::now() + WAIT;
  bool error = false;
  while (!error && std::chrono::steady_clock::now() < deadline) {
    (*events_)->receive(
        [&](std::string& s) { error = s.rfind("error:The slave did not answer the registration", 0) == 0; },
        caf::after(WAIT) >> [] {});
  }
  EXPECT_TRUE(error);
  EXPECT_TRUE(wait_down(executor_));
}

TEST_F(ExecutorDriverTest, UnreachableSlaveIsAnErrorAfterTheRegistrationTimeout) {
  ExecutorOptions o = options();
  o.slave_pid = runtime_->upid("nobody").str();
  o.registration_timeout = 500ms;
  auto started = std::chrono::steady_clock::now();
  start(o);
  auto deadline = started + WAIT;
  bool error = false;
  while (!error && std::chrono::steady_clock::now() < deadline) {
    (*events_)->receive([&](std::string& s) { error = s.rfind("error:Cannot reach the slave", 0) == 0; },
                        caf::after(WAIT) >> [] {});
  }
  EXPECT_TRUE(error);
  // It kept trying until the timeout rather than giving up at the first failure.
  EXPECT_GE(std::chrono::steady_clock::now() - started, 450ms);
  EXPECT_TRUE(wait_down(executor_));
}

// A slave too busy to answer at once (its actor not there yet, as under load)
// is retried: the executor registers once it appears, within the timeout.
TEST_F(ExecutorDriverTest, RetriesResolvingTheSlaveUntilItAppears) {
  ExecutorOptions o = options();
  o.slave_pid = runtime_->upid("slave(2)").str();
  o.registration_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(WAIT);
  start(o);
  // Let at least one resolve attempt fail first.
  (*events_)->receive([](std::string&) {}, caf::after(300ms) >> [] {});
  caf::actor late = runtime_->system().spawn(fake_slave, caf::actor_cast<caf::actor>((*probe_)->address()));
  runtime_->register_actor("slave(2)", late);
  EXPECT_TRUE(next<RegisterExecutorMessage>());
  caf::anon_send_exit(late, caf::exit_reason::user_shutdown);
}

TEST_F(ExecutorDriverTest, RunTaskAndStatusUpdatesResentUntilAcknowledged) {
  start(options());
  register_executor();
  to_executor(caf::make_message(run_task("t1")));
  wait_event("launch:t1");
  std::optional<StatusUpdateMessage> first = next<StatusUpdateMessage>();
  ASSERT_TRUE(first);
  const StatusUpdate& u = first->update();
  EXPECT_EQ(u.uuid().size(), 16u);
  EXPECT_EQ(u.status().uuid(), u.uuid());
  EXPECT_EQ(u.framework_id().value(), "fw-1");
  EXPECT_EQ(u.executor_id().value(), "exec-1");
  EXPECT_EQ(u.slave_id().value(), "slave-1");
  EXPECT_GT(u.timestamp(), 0);
  EXPECT_EQ(u.status().task_id().value(), "t1");
  EXPECT_EQ(u.status().state(), TASK_RUNNING);
  EXPECT_EQ(u.status().source(), TaskStatus::SOURCE_EXECUTOR);
  EXPECT_EQ(u.status().executor_id().value(), "exec-1");
  EXPECT_GT(u.status().timestamp(), 0);

  // Not acknowledged: the same update comes again.
  std::optional<StatusUpdateMessage> again = next<StatusUpdateMessage>();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->update().uuid(), u.uuid());
  EXPECT_EQ(again->update().status().state(), TASK_RUNNING);

  to_executor(caf::make_message(ack(u)));
  wait_event("ack:t1:0");
  // A duplicate acknowledgement is ignored (no second callback) and nothing
  // is re-sent any more: 500ms is five retry periods.
  to_executor(caf::make_message(ack(u)));
  EXPECT_LE(count<StatusUpdateMessage>(500ms), 1);  // one may have been in flight with the ack
  bool duplicate = false;
  (*events_)->receive([&](std::string& s) { duplicate = s.rfind("ack:", 0) == 0; }, caf::after(1ms) >> [] {});
  EXPECT_FALSE(duplicate);
}

TEST_F(ExecutorDriverTest, KillFrameworkMessageAndShutdown) {
  start(options());
  register_executor();

  KillTaskMessage kill;
  kill.mutable_framework_id()->set_value("fw-1");
  kill.mutable_task_id()->set_value("t1");
  to_executor(caf::make_message(kill));
  wait_event("kill:t1:none");
  kill.mutable_kill_policy()->mutable_grace_period()->set_nanoseconds(1000000000);
  to_executor(caf::make_message(kill));
  wait_event("kill:t1:1000000000");

  FrameworkToExecutorMessage fm;
  fm.mutable_slave_id()->set_value("slave-1");
  fm.mutable_framework_id()->set_value("fw-1");
  fm.mutable_executor_id()->set_value("exec-1");
  fm.set_data("ping");
  to_executor(caf::make_message(fm));
  wait_event("message:ping");
  std::optional<ExecutorToFrameworkMessage> reply = next<ExecutorToFrameworkMessage>();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->data(), "pong:ping");
  EXPECT_EQ(reply->framework_id().value(), "fw-1");
  EXPECT_EQ(reply->executor_id().value(), "exec-1");
  EXPECT_EQ(reply->slave_id().value(), "slave-1");

  // Anything else sent to the executor actor reaches unhandled().
  caf::anon_send(executor_, std::string("hello"));
  wait_event("unhandled:hello");

  ShutdownExecutorMessage sm;
  sm.mutable_executor_id()->set_value("exec-1");
  to_executor(caf::make_message(sm));
  wait_event("shutdown");
  EXPECT_TRUE(wait_down(executor_));  // the test executor stops on shutdown
}

TEST_F(ExecutorDriverTest, SlaveDeathDisconnectsAndExits) {
  start(options());
  register_executor();
  caf::anon_send_exit(slave_, caf::exit_reason::kill);
  wait_event("disconnected");
  EXPECT_TRUE(wait_down(executor_));
}

TEST_F(ExecutorDriverTest, CheckpointingExecutorLosingItsSlaveBeforeRegisteringExits) {
  ExecutorOptions o = options();
  o.checkpoint = true;
  start(o);
  ASSERT_TRUE(next<RegisterExecutorMessage>());
  caf::anon_send_exit(slave_, caf::exit_reason::kill);
  wait_event("disconnected");  // not reconnecting: this slave never took the executor
  EXPECT_TRUE(wait_down(executor_));
}

// No slave comes back: shutdown() once `recovery_timeout` has passed, and the
// driver exits `shutdown_grace` later although the executor did not stop.
TEST_F(ExecutorDriverTest, GivesUpAndExitsAfterTheRecoveryTimeout) {
  ExecutorOptions o = options();
  o.checkpoint = true;
  o.recovery_timeout = 300ms;
  o.shutdown_grace = 200ms;
  start(o, /*stop_on_shutdown=*/false);
  register_executor();
  auto lost = std::chrono::steady_clock::now();
  caf::anon_send_exit(slave_, caf::exit_reason::kill);
  wait_event("disconnected:reconnecting");
  std::vector<std::string> before = wait_event("shutdown:disconnected");
  EXPECT_GE(std::chrono::steady_clock::now() - lost, o.recovery_timeout);
  EXPECT_TRUE(std::find(before.begin(), before.end(), "disconnected") == before.end());
  EXPECT_TRUE(wait_down(executor_));
  EXPECT_GE(std::chrono::steady_clock::now() - lost, o.recovery_timeout + o.shutdown_grace);
}

// A restarted slave that will not take the executor back answers the
// re-registration with ShutdownExecutorMessage: shutdown(), no more
// re-registrations, and the driver exits after the grace.
TEST_F(ExecutorDriverTest, RestartedSlaveRefusingTheExecutorShutsItDown) {
  ExecutorOptions o = options();
  o.checkpoint = true;
  o.shutdown_grace = 300ms;
  start(o, /*stop_on_shutdown=*/false);
  register_executor();
  caf::anon_send_exit(slave_, caf::exit_reason::kill);
  wait_event("disconnected:reconnecting");
  replace_slave();
  ASSERT_TRUE(next<ReregisterExecutorMessage>());
  ShutdownExecutorMessage sm;
  sm.mutable_executor_id()->set_value("exec-1");
  to_executor(caf::make_message(sm));
  wait_event("shutdown:disconnected");
  EXPECT_LE(count<ReregisterExecutorMessage>(200ms), 1);  // four retry periods; one may have been in flight
  EXPECT_TRUE(wait_down(executor_));
}

// The slave in a process of its own, restarted like a real one: the same
// HTTP port (so the same UPID) and a new actor port, which the executor must
// discover over HTTP.
class ExecutorReconnectTest : public ExecutorDriverTest {
 protected:
  void TearDown() override {
    if (executor_) {
      stop_actor(runtime_->system(), executor_);
      executor_ = caf::actor{};
    }
    slave_rt_.reset();
    ExecutorDriverTest::TearDown();
  }

  // Starts the slave's process (on the port of the previous one, if any)
  // with a fake slave named slave(1).
  void start_slave() {
    RuntimeOptions ropts;
    ropts.port = slave_port_;
    ropts.on_component_failure = [](const std::string&) {};
    Try<std::unique_ptr<Runtime>> rt = Runtime::start(ropts);
    ASSERT_TRUE(rt) << rt.error();
    slave_rt_ = std::move(rt).get();
    slave_port_ = slave_rt_->port();
    slave_ = slave_rt_->system().spawn(fake_slave, caf::actor_cast<caf::actor>((*probe_)->address()));
    slave_rt_->register_actor("slave(1)", slave_);
  }

  // The slave's process goes away, with every connection to it.
  void stop_slave() {
    slave_ = caf::actor{};
    slave_rt_.reset();
  }

  std::unique_ptr<Runtime> slave_rt_;
  uint16_t slave_port_ = 0;
};

TEST_F(ExecutorReconnectTest, ReregistersWithTheRestartedSlave) {
  start_slave();
  ExecutorOptions o = options();
  o.slave_pid = slave_rt_->upid("slave(1)").str();
  o.slave_actor_port = slave_rt_->actor_port();  // valid for the first slave only
  o.checkpoint = true;
  start(o);
  register_executor();
  run_and_ack("t1");
  run_and_ack("t2");
  caf::anon_send(executor_, std::string("finish:t1"));
  std::optional<StatusUpdate> finished = next_update("t1", TASK_FINISHED);  // not acknowledged
  ASSERT_TRUE(finished);

  stop_slave();
  wait_event("disconnected:reconnecting");
  caf::anon_send(executor_, std::string("finish:t2"));  // while the slave is away: kept
  wait_event("sent:finish:t2");
  uint16_t old_actor_port = o.slave_actor_port;
  start_slave();
  EXPECT_NE(slave_rt_->actor_port(), old_actor_port);
  std::optional<ReregisterExecutorMessage> r = next<ReregisterExecutorMessage>();
  ASSERT_TRUE(r) << "no re-registration";
  EXPECT_EQ(r->executor_id().value(), "exec-1");
  EXPECT_EQ(r->framework_id().value(), "fw-1");
  ASSERT_EQ(r->tasks_size(), 2);
  EXPECT_EQ(r->tasks(0).task_id().value(), "t1");
  EXPECT_EQ(r->tasks(1).task_id().value(), "t2");
  // Exactly the unacknowledged updates (not the acknowledged TASK_RUNNINGs),
  // oldest first.
  ASSERT_EQ(r->updates_size(), 2);
  EXPECT_EQ(r->updates(0).uuid(), finished->uuid());
  EXPECT_EQ(r->updates(0).status().state(), TASK_FINISHED);
  EXPECT_EQ(r->updates(1).status().task_id().value(), "t2");
  EXPECT_EQ(r->updates(1).status().state(), TASK_FINISHED);
  ASSERT_TRUE(next<ReregisterExecutorMessage>()) << "an unanswered re-registration is retried";

  reregister_executor("restarted");
  to_executor(caf::make_message(ack(r->updates(0))));
  wait_event("ack:t1:1");
  to_executor(caf::make_message(ack(r->updates(1))));
  wait_event("ack:t2:0");
  EXPECT_LE(count<ReregisterExecutorMessage>(300ms), 1);  // answered: no more retries

  // Lost again after re-registering: the same again. Both tasks are over
  // (their terminal updates acknowledged), so none is re-registered.
  stop_slave();
  wait_event("disconnected:reconnecting");
  start_slave();
  r = next<ReregisterExecutorMessage>();
  ASSERT_TRUE(r) << "no second re-registration";
  EXPECT_EQ(r->tasks_size(), 0);
  EXPECT_EQ(r->updates_size(), 0);
  reregister_executor("restarted-again");
}

}  // namespace
}  // namespace stoa
