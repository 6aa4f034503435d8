// stoa-http-executor's state machine (CommandExecutor,
// slave/http_executor_machine.cpp) driven by events, task exits, connection
// news and a hand-moved clock; the task's processes are a fake.
#include <sys/wait.h>

#include <csignal>

#include <gtest/gtest.h>

#include "common/base64.hpp"
#include "common/json.hpp"
#include "slave/http_executor.hpp"

// Named after the file: a unity build batches test files.
namespace http_executor_machine_test {
namespace {

using namespace stoa;
using namespace stoa::http_executor;
using std::chrono::milliseconds;
using std::chrono::seconds;

class FakeProcesses : public TaskProcesses {
 public:
  Try<pid_t> launch(const LaunchSpec& spec) override {
    launches.push_back(spec);
    if (failures > 0) {
      --failures;
      return Error("Failed to execute '" + spec.argv[0] + "': No such file or directory");
    }
    return next_pid++;
  }
  void signal_group(pid_t pgid, int sig) override { signals.emplace_back(pgid, sig); }

  std::vector<LaunchSpec> launches;
  std::vector<std::pair<pid_t, int>> signals;
  int failures = 0;  // how many launches fail
  pid_t next_pid = 100;
};

constexpr const char* LAUNCH_SLEEP =
    R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t1"},"command":{"value":"sleep 10",
        "environment":{"variables":[{"name":"FOO","value":"bar"}]}}}}})";

Event event(const std::string& json) {
  Try<Event> e = parse_event(json);
  EXPECT_TRUE(e.is_some()) << e.error();
  return e.is_some() ? *e : Event{};
}

ExecutorConfig config(bool checkpoint) {
  ExecutorConfig c;
  c.agent_endpoint = "127.0.0.1:5051";
  c.id = {"F1", "E1"};
  c.sandbox = "/sandbox";
  c.checkpoint = checkpoint;
  c.recovery_timeout = seconds(60);
  c.subscription_backoff_max = seconds(2);
  c.shutdown_grace_period = seconds(5);
  return c;
}

class HttpExecutorMachine : public ::testing::Test {
 protected:
  void start(bool checkpoint = false) {
    exec_ = std::make_unique<CommandExecutor>(
        config(checkpoint), procs_, [this](const std::string& line) { log_.push_back(line); },
        [this](Duration max) {
          waits_.push_back(max);
          return max / 2;
        },
        now_);
  }
  // Starts, subscribes (with `caps` as the framework's capabilities).
  void subscribe(bool checkpoint = false, bool killing_state = false) {
    start(checkpoint);
    ASSERT_TRUE(exec_->subscribe_due(now_));
    exec_->begin_subscribe();
    exec_->on_event(subscribed(killing_state), now_);
    ASSERT_TRUE(exec_->subscribed());
  }
  static Event subscribed(bool killing_state) {
    return event(std::string(R"({"type":"SUBSCRIBED","subscribed":{"framework_info":{"capabilities":[)") +
                 (killing_state ? R"({"type":"TASK_KILLING_STATE"})" : "") +
                 R"(]},"container_id":{"value":"c1"}}})");
  }
  void on(const std::string& json) { exec_->on_event(event(json), now_); }
  void advance(Duration d) {
    now_ += std::chrono::duration_cast<Clock::duration>(d);
    exec_->on_timer(now_);
  }
  // POSTs every pending update (each answered 202) and returns them.
  std::vector<StatusUpdateRecord> deliver() {
    std::vector<StatusUpdateRecord> out;
    while (std::optional<StatusUpdateRecord> u = exec_->next_update()) {
      out.push_back(*u);
      exec_->update_accepted();
    }
    return out;
  }
  static std::vector<std::string> states(const std::vector<StatusUpdateRecord>& updates) {
    std::vector<std::string> s;
    for (const auto& u : updates) {
      s.push_back(u.state);
    }
    return s;
  }
  void acknowledge(const StatusUpdateRecord& u) {
    on(R"({"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":")" + u.task_id + R"("},"uuid":")" +
       base64_encode(u.uuid) + "\"}}");
  }
  bool logged(const std::string& part) const {
    for (const std::string& line : log_) {
      if (line.find(part) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  FakeProcesses procs_;
  TimePoint now_ = TimePoint(std::chrono::hours(1));
  std::vector<std::string> log_;
  std::vector<Duration> waits_;
  std::unique_ptr<CommandExecutor> exec_;
};

TEST_F(HttpExecutorMachine, LaunchRunsTheTaskAndReportsStartingThenRunning) {
  subscribe();
  on(LAUNCH_SLEEP);
  ASSERT_EQ(procs_.launches.size(), 1u);
  const LaunchSpec& spec = procs_.launches[0];
  // A simple command is exec'd without sh, with sh's PWD.
  EXPECT_EQ(spec.argv, (std::vector<std::string>{"sleep", "10"}));
  EXPECT_EQ(spec.env.at("PWD"), "/sandbox");
  EXPECT_EQ(spec.env.at("MESOS_SANDBOX"), "/sandbox");
  EXPECT_EQ(spec.env.at("STOA_SANDBOX"), "/sandbox");
  EXPECT_EQ(spec.env.at("MESOS_TASK_ID"), "t1");
  EXPECT_EQ(spec.env.at("FOO"), "bar");
  EXPECT_TRUE(spec.inherit_env);
  EXPECT_FALSE(spec.new_session);
  EXPECT_TRUE(spec.new_process_group);
  EXPECT_EQ(spec.working_dir, "/sandbox");
  EXPECT_EQ(spec.stdout_path, "/sandbox/stdout");
  EXPECT_EQ(spec.stderr_path, "/sandbox/stderr");
  EXPECT_EQ(exec_->task_pid(), 100);
  // One UPDATE at a time: the second waits for the first's answer.
  std::optional<StatusUpdateRecord> first = exec_->next_update();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->state, "TASK_STARTING");
  EXPECT_EQ(first->task_id, "t1");
  EXPECT_EQ(first->uuid.size(), 16u);
  EXPECT_FALSE(exec_->next_update());
  exec_->update_accepted();
  EXPECT_EQ(states(deliver()), (std::vector<std::string>{"TASK_RUNNING"}));
  EXPECT_EQ(exec_->unacknowledged(), 2u);
  EXPECT_FALSE(exec_->exit_code());
}

TEST_F(HttpExecutorMachine, FallsBackToShAndMirrorsTheArgvRules) {
  subscribe();
  procs_.failures = 1;  // `nosuch` cannot be exec'd: sh reports it, with its exit code
  on(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t1"},"command":{"value":"nosuch arg"}}}})");
  ASSERT_EQ(procs_.launches.size(), 2u);
  EXPECT_EQ(procs_.launches[1].argv, (std::vector<std::string>{"/bin/sh", "-c", "nosuch arg"}));
  EXPECT_EQ(procs_.launches[1].env.count("PWD"), 0u);
  EXPECT_EQ(states(deliver()), (std::vector<std::string>{"TASK_STARTING", "TASK_RUNNING"}));

  procs_ = FakeProcesses();
  subscribe();
  on(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t1"},"command":{"value":"echo $HOME > x"}}}})");
  ASSERT_EQ(procs_.launches.size(), 1u);
  EXPECT_EQ(procs_.launches[0].argv, (std::vector<std::string>{"/bin/sh", "-c", "echo $HOME > x"}));

  procs_ = FakeProcesses();
  subscribe();
  on(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t1"},
        "command":{"value":"/bin/echo","shell":false,"arguments":["x","a b"]}}}})");
  EXPECT_EQ(procs_.launches.at(0).argv, (std::vector<std::string>{"/bin/echo", "a b"}));
  procs_ = FakeProcesses();
  subscribe();
  on(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t1"},"command":{"value":"/bin/true","shell":false}}}})");
  EXPECT_EQ(procs_.launches.at(0).argv, (std::vector<std::string>{"/bin/true"}));
}

TEST_F(HttpExecutorMachine, ALaunchFailureFailsTheTask) {
  subscribe();
  procs_.failures = 2;
  on(LAUNCH_SLEEP);
  std::vector<StatusUpdateRecord> u = deliver();
  ASSERT_EQ(states(u), (std::vector<std::string>{"TASK_STARTING", "TASK_FAILED"}));
  EXPECT_EQ(u[1].message, "Failed to launch the command: Failed to execute '/bin/sh': No such file or directory");
  EXPECT_EQ(u[1].reason, "REASON_COMMAND_EXECUTOR_FAILED");
  acknowledge(u[0]);
  EXPECT_FALSE(exec_->exit_code());
  acknowledge(u[1]);
  EXPECT_EQ(exec_->exit_code(), 0);
}

TEST_F(HttpExecutorMachine, RefusesHealthChecks) {
  subscribe();
  on(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t1"},"command":{"value":"true"},
        "health_check":{"type":"COMMAND"}}}})");
  EXPECT_TRUE(procs_.launches.empty());
  std::vector<StatusUpdateRecord> u = deliver();
  ASSERT_EQ(states(u), (std::vector<std::string>{"TASK_FAILED"}));
  EXPECT_EQ(u[0].message, "stoa-http-executor runs no health checks; the slave uses stoa-executor for them");
  EXPECT_EQ(u[0].reason, "REASON_COMMAND_EXECUTOR_FAILED");
}

TEST_F(HttpExecutorMachine, ReportsTheExitAndExitsOnTheAcknowledgement) {
  subscribe();
  on(LAUNCH_SLEEP);
  deliver();
  exec_->task_exited(W_EXITCODE(3, 0), now_);
  EXPECT_EQ(procs_.signals, (std::vector<std::pair<pid_t, int>>{{100, SIGKILL}}));  // leftovers
  EXPECT_EQ(exec_->task_pid(), -1);
  std::vector<StatusUpdateRecord> u = deliver();
  ASSERT_EQ(states(u), (std::vector<std::string>{"TASK_FAILED"}));
  EXPECT_EQ(u[0].message, "Command exited with status 3");
  EXPECT_FALSE(u[0].reason);
  acknowledge(u[0]);
  EXPECT_EQ(exec_->exit_code(), 0);
}

TEST_F(HttpExecutorMachine, FinishesOnStatusZeroAndIgnoresASecondLaunch) {
  subscribe();
  on(LAUNCH_SLEEP);
  on(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t2"},"command":{"value":"true"}}}})");
  EXPECT_EQ(procs_.launches.size(), 1u);
  EXPECT_TRUE(logged("Ignoring a second task t2"));
  exec_->task_exited(W_EXITCODE(0, 0), now_);
  EXPECT_EQ(states(deliver()), (std::vector<std::string>{"TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"}));
}

TEST_F(HttpExecutorMachine, KillSendsSigtermThenSigkillAfterTheGrace) {
  subscribe(false, /*killing_state=*/true);
  on(LAUNCH_SLEEP);
  deliver();
  on(R"({"type":"KILL","kill":{"task_id":{"value":"t1"},"kill_policy":{"grace_period":{"nanoseconds":"2000000000"}}}})");
  EXPECT_EQ(procs_.signals, (std::vector<std::pair<pid_t, int>>{{100, SIGTERM}}));
  EXPECT_EQ(states(deliver()), (std::vector<std::string>{"TASK_KILLING"}));
  EXPECT_EQ(exec_->next_deadline(), now_ + seconds(2));
  // A second kill does nothing more.
  on(R"({"type":"KILL","kill":{"task_id":{"value":"t1"}}})");
  advance(milliseconds(1999));
  EXPECT_EQ(procs_.signals.size(), 1u);
  advance(milliseconds(1));
  EXPECT_EQ(procs_.signals, (std::vector<std::pair<pid_t, int>>{{100, SIGTERM}, {100, SIGKILL}}));
  exec_->task_exited(W_EXITCODE(0, SIGKILL), now_);
  std::vector<StatusUpdateRecord> u = deliver();
  ASSERT_EQ(states(u), (std::vector<std::string>{"TASK_KILLED"}));
  EXPECT_EQ(u[0].message, "Command terminated with signal Killed");
  acknowledge(u[0]);
  EXPECT_EQ(exec_->exit_code(), 0);
}

TEST_F(HttpExecutorMachine, KillGraceComesFromTheTaskElseThreeSeconds) {
  subscribe();  // no TASK_KILLING_STATE: no TASK_KILLING
  on(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t1"},"command":{"value":"sleep 10"},
        "kill_policy":{"grace_period":{"nanoseconds":500000000}}}}})");
  deliver();
  on(R"({"type":"KILL","kill":{"task_id":{"value":"t1"}}})");
  EXPECT_FALSE(exec_->next_update());
  EXPECT_EQ(exec_->next_deadline(), now_ + milliseconds(500));

  procs_ = FakeProcesses();
  subscribe();
  on(LAUNCH_SLEEP);
  on(R"({"type":"KILL","kill":{"task_id":{"value":"t1"}}})");
  EXPECT_EQ(exec_->next_deadline(), now_ + seconds(3));
}

TEST_F(HttpExecutorMachine, IgnoresKillsOfOtherTasksAndBeforeTheLaunch) {
  subscribe();
  on(R"({"type":"KILL","kill":{"task_id":{"value":"t1"}}})");
  EXPECT_TRUE(logged("Ignoring a kill of task t1: no task was launched"));
  on(LAUNCH_SLEEP);
  EXPECT_EQ(procs_.launches.size(), 1u);
  on(R"({"type":"KILL","kill":{"task_id":{"value":"other"}}})");
  EXPECT_TRUE(logged("Ignoring a kill of task other: this executor runs t1"));
  EXPECT_TRUE(procs_.signals.empty());
  EXPECT_FALSE(exec_->exit_code());
}

TEST_F(HttpExecutorMachine, ShutdownWithoutTaskExitsAtOnce) {
  subscribe();
  on(R"({"type":"SHUTDOWN"})");
  EXPECT_EQ(exec_->exit_code(), 0);
}

TEST_F(HttpExecutorMachine, ShutdownKillsTheTaskAndExitsAfterTheAcknowledgement) {
  subscribe();
  on(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t1"},"command":{"value":"sleep 10"},
        "kill_policy":{"grace_period":{"nanoseconds":60000000000}}}}})");
  deliver();
  on(R"({"type":"SHUTDOWN"})");
  EXPECT_EQ(procs_.signals, (std::vector<std::pair<pid_t, int>>{{100, SIGTERM}}));
  // The slave destroys the container 5 s after asking: SIGKILL 1 s before.
  EXPECT_EQ(exec_->next_deadline(), now_ + seconds(4));
  exec_->task_exited(W_EXITCODE(0, SIGTERM), now_);
  std::vector<StatusUpdateRecord> u = deliver();
  ASSERT_EQ(states(u), (std::vector<std::string>{"TASK_KILLED"}));
  EXPECT_FALSE(exec_->exit_code());
  acknowledge(u[0]);
  EXPECT_EQ(exec_->exit_code(), 0);
}

TEST_F(HttpExecutorMachine, ExitsWhenTheTerminalUpdateIsNotAcknowledged) {
  subscribe();
  on(LAUNCH_SLEEP);
  exec_->task_exited(W_EXITCODE(0, 0), now_);
  deliver();
  on(R"({"type":"ACKNOWLEDGED","acknowledged":{"uuid":"AAAAAAAAAAAAAAAAAAAAAA=="}})");
  EXPECT_TRUE(logged("Ignoring an acknowledgement of unknown update"));
  advance(seconds(9));
  EXPECT_FALSE(exec_->exit_code());
  advance(seconds(1));
  EXPECT_EQ(exec_->exit_code(), 0);
  EXPECT_TRUE(logged("did not acknowledge the terminal update"));
}

TEST_F(HttpExecutorMachine, AnUpdateWithoutAnswerGoesAgain) {
  subscribe();
  on(LAUNCH_SLEEP);
  std::optional<StatusUpdateRecord> starting = exec_->next_update();
  exec_->update_failed();
  std::optional<StatusUpdateRecord> again = exec_->next_update();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->uuid, starting->uuid);
  exec_->update_rejected(400, "bad update");
  EXPECT_TRUE(logged("with status 400: bad update"));
  // Rejected: not sent again on its own (the next SUBSCRIBE carries it).
  EXPECT_EQ(states(deliver()), (std::vector<std::string>{"TASK_RUNNING"}));
}

TEST_F(HttpExecutorMachine, WithoutCheckpointALostSlaveKillsTheTask) {
  subscribe(/*checkpoint=*/false);
  on(LAUNCH_SLEEP);
  exec_->subscription_lost("the slave closed the event stream", now_);
  EXPECT_EQ(procs_.signals, (std::vector<std::pair<pid_t, int>>{{100, SIGKILL}}));
  EXPECT_EQ(exec_->exit_code(), 1);
}

TEST_F(HttpExecutorMachine, WithCheckpointTheTaskOutlivesTheSlave) {
  subscribe(/*checkpoint=*/true);
  on(LAUNCH_SLEEP);
  std::vector<StatusUpdateRecord> sent = deliver();
  acknowledge(sent[0]);  // TASK_STARTING; TASK_RUNNING stays unacknowledged
  exec_->subscription_lost("the slave closed the event stream", now_);
  EXPECT_FALSE(exec_->exit_code());
  EXPECT_TRUE(procs_.signals.empty());
  EXPECT_FALSE(exec_->subscribed());
  EXPECT_EQ(waits_, (std::vector<Duration>{seconds(2)}));
  EXPECT_FALSE(exec_->subscribe_due(now_));
  EXPECT_EQ(exec_->next_deadline(), now_ + seconds(1));  // the random wait (the fake's: half the max)
  // The task ends meanwhile: its update waits for the slave.
  exec_->task_exited(W_EXITCODE(0, 0), now_);
  EXPECT_FALSE(exec_->next_update());
  advance(seconds(1));
  ASSERT_TRUE(exec_->subscribe_due(now_));
  const picojson::value call = *json_parse(exec_->begin_subscribe());
  const picojson::value& sub = call.get("subscribe");
  EXPECT_EQ(json_serialize(sub.get("unacknowledged_tasks").get(0).get("task_id")), R"({"value":"t1"})");
  const picojson::array& updates = sub.get("unacknowledged_updates").get<picojson::array>();
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].get("status").get("state").get<std::string>(), "TASK_RUNNING");
  EXPECT_EQ(updates[1].get("status").get("state").get<std::string>(), "TASK_FINISHED");
  EXPECT_EQ(updates[1].get("uuid").get<std::string>(), updates[1].get("status").get("uuid").get<std::string>());
  // A failed attempt waits again.
  exec_->subscription_lost("connect to 127.0.0.1:5051: Connection refused", now_);
  EXPECT_EQ(waits_.size(), 2u);
  advance(seconds(1));
  exec_->begin_subscribe();
  exec_->on_event(subscribed(false), now_);
  EXPECT_TRUE(exec_->subscribed());
  // The SUBSCRIBE carried them: nothing goes again as UPDATE.
  EXPECT_FALSE(exec_->next_update());
  EXPECT_EQ(exec_->next_deadline(), now_ + seconds(10));  // the terminal update's acknowledgement
  const std::string terminal = updates[1].get("uuid").get<std::string>();
  on(R"({"type":"ACKNOWLEDGED","acknowledged":{"uuid":")" + terminal + "\"}}");
  EXPECT_EQ(exec_->exit_code(), 0);
}

TEST_F(HttpExecutorMachine, WithCheckpointGivesUpAfterTheRecoveryTimeout) {
  subscribe(/*checkpoint=*/true);
  on(LAUNCH_SLEEP);
  exec_->subscription_lost("the slave closed the event stream", now_);
  for (int i = 0; i < 59; ++i) {
    advance(seconds(1));
    if (exec_->subscribe_due(now_)) {
      exec_->begin_subscribe();
      exec_->subscription_lost("connect to 127.0.0.1:5051: Connection refused", now_);
    }
    ASSERT_FALSE(exec_->exit_code()) << i;
  }
  advance(seconds(1));
  EXPECT_EQ(exec_->exit_code(), 1);
  EXPECT_EQ(procs_.signals, (std::vector<std::pair<pid_t, int>>{{100, SIGKILL}}));
  EXPECT_TRUE(logged("No slave within the recovery timeout (1mins)"));
}

TEST_F(HttpExecutorMachine, TheFirstSubscriptionIsRetriedForFiveSeconds) {
  start();
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(exec_->subscribe_due(now_)) << i;
    exec_->begin_subscribe();
    exec_->subscription_lost("connect to 127.0.0.1:5051: Connection refused", now_);
    ASSERT_FALSE(exec_->exit_code());
    advance(seconds(1));
  }
  advance(seconds(1));
  EXPECT_EQ(exec_->exit_code(), 1);
  EXPECT_TRUE(logged("Could not subscribe to the slave at 127.0.0.1:5051 within 5secs"));
}

TEST_F(HttpExecutorMachine, ARefusedSubscriptionOrAnErrorEndsTheExecutor) {
  subscribe(true);
  on(LAUNCH_SLEEP);
  on(R"({"type":"ERROR","error":{"message":"Framework F1 is gone"}})");
  EXPECT_EQ(exec_->exit_code(), 1);
  EXPECT_TRUE(logged("The slave sent an error: Framework F1 is gone"));
  EXPECT_EQ(procs_.signals, (std::vector<std::pair<pid_t, int>>{{100, SIGKILL}}));

  procs_ = FakeProcesses();
  start();
  exec_->begin_subscribe();
  exec_->subscription_refused(400, "Executor E1 is unknown", now_);
  EXPECT_EQ(exec_->exit_code(), 1);
  EXPECT_TRUE(logged("refused the subscription with status 400: Executor E1 is unknown"));
}

// A 503 (a slave that cannot answer yet) or a 404 (a restarted slave whose
// routes are not all up) is a failed attempt, retried: the task of a
// checkpointing framework outlives a slave restart that answers so first.
TEST_F(HttpExecutorMachine, A503Or404FromARestartedSlaveIsRetriedNotARefusal) {
  subscribe(/*checkpoint=*/true);
  on(LAUNCH_SLEEP);
  exec_->subscription_lost("the slave closed the event stream", now_);
  for (int status : {404, 503}) {
    advance(seconds(1));
    ASSERT_TRUE(exec_->subscribe_due(now_));
    exec_->begin_subscribe();
    exec_->subscription_refused(status, "no route for '/api/v1/executor'", now_);
    EXPECT_FALSE(exec_->exit_code()) << status;
    EXPECT_TRUE(logged("Re-subscribing failed: the slave answered " + std::to_string(status) +
                       " (no route for '/api/v1/executor'), not ready yet"));
  }
  EXPECT_TRUE(procs_.signals.empty()) << "the task was killed";
  advance(seconds(1));
  ASSERT_TRUE(exec_->subscribe_due(now_));
  exec_->begin_subscribe();
  exec_->on_event(subscribed(true), now_);
  EXPECT_TRUE(exec_->subscribed());
  EXPECT_FALSE(exec_->exit_code());
}

// A pooled executor's adoption stream is its first subscription attempt:
// SUBSCRIBED and LAUNCH on it run the task as after a SUBSCRIBE; a stream
// that ends before SUBSCRIBED (the launch was killed meanwhile) makes the
// executor SUBSCRIBE by the rules, as a cold one would.
TEST_F(HttpExecutorMachine, AnAdoptedStreamIsTheFirstSubscription) {
  start();
  exec_->begin_adopted_subscription();
  EXPECT_FALSE(exec_->subscribe_due(now_)) << "a SUBSCRIBE while the adoption stream is open";
  exec_->on_event(subscribed(false), now_);
  ASSERT_TRUE(exec_->subscribed());
  on(LAUNCH_SLEEP);
  EXPECT_EQ(states(deliver()), (std::vector<std::string>{"TASK_STARTING", "TASK_RUNNING"}));

  start();
  exec_->begin_adopted_subscription();
  exec_->subscription_lost("the slave ended the event stream", now_);
  ASSERT_FALSE(exec_->exit_code());
  EXPECT_TRUE(logged("Subscribing to the slave at 127.0.0.1:5051 failed: the slave ended the event stream"));
  advance(seconds(2));
  ASSERT_TRUE(exec_->subscribe_due(now_));
  EXPECT_NE(exec_->begin_subscribe().find("\"type\":\"SUBSCRIBE\""), std::string::npos);
  exec_->subscription_refused(403, "Executor 'e1' of framework 'f1' is terminating: it cannot subscribe now", now_);
  EXPECT_EQ(exec_->exit_code(), 1);
}

}  // namespace
}  // namespace http_executor_machine_test
