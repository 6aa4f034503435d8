// stoa-executor: the command executor. The slave starts one per command task
// (environment STOA_SLAVE_PID, STOA_FRAMEWORK_ID, STOA_EXECUTOR_ID,
// STOA_DIRECTORY, STOA_EXECUTOR_IP); it registers with the slave, runs the
// task's command in its own process group in the sandbox, reports
// TASK_STARTING / TASK_RUNNING / a terminal state with the exit status, and
// kills the whole group (SIGTERM, then SIGKILL after the grace period) when
// asked to.

#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "common/logging.hpp"
#include "common/uuid.hpp"
#include "slave/launcher.hpp"
#include "slave/reaper.hpp"

namespace {

using namespace stoa;
using namespace stoa::internal;

constexpr auto REGISTRATION_RETRY = std::chrono::seconds(1);
constexpr int MAX_REGISTRATION_ATTEMPTS = 60;
constexpr auto DEFAULT_KILL_GRACE = std::chrono::seconds(3);
// After the terminal update the executor waits this long for the slave's
// acknowledgement before exiting anyway.
constexpr auto TERMINAL_ACK_TIMEOUT = std::chrono::seconds(10);

struct Env {
  std::string slave_pid, framework_id, executor_id, directory, ip;
  uint16_t slave_actor_port = 0;  // 0: discover over HTTP
};

class Executor {
 public:
  Executor() = default;
  caf::event_based_actor* self = nullptr;
  caf::actor router;
  Env env;
  caf::actor slave;
  std::string slave_id;
  FrameworkInfo framework;
  bool registered = false;
  int attempts = 0;
  std::optional<TaskInfo> task;
  pid_t pid = -1;
  bool killing = false;
  bool terminal_sent = false;
  std::map<std::string, StatusUpdate> unacked;
  static inline const char* name = "executor";

  void resolve() {
    auto on_slave = [this](const caf::actor& s) {
      LOG_INFO << "Resolved slave " << env.slave_pid;
      slave = s;
      self->monitor(slave);
      send_registration();
    };
    auto on_error = [this](caf::error& e) {
      LOG_ERROR << "Cannot reach the slave " << env.slave_pid << ": " << self->system().render(e);
      self->quit();
    };
    if (env.slave_actor_port != 0) {
      self->request(router, RESOLVE_TIMEOUT, resolve_atom_v, env.slave_pid, env.slave_actor_port)
          .then(on_slave, on_error);
    } else {
      self->request(router, RESOLVE_TIMEOUT, resolve_atom_v, env.slave_pid).then(on_slave, on_error);
    }
  }

  void send_registration() {
    if (registered) {
      return;
    }
    if (++attempts > MAX_REGISTRATION_ATTEMPTS) {
      LOG_ERROR << "The slave did not answer the registration; exiting";
      self->quit();
      return;
    }
    RegisterExecutorMessage m;
    m.mutable_framework_id()->set_value(env.framework_id);
    m.mutable_executor_id()->set_value(env.executor_id);
    self->send(slave, m);
    self->delayed_send(self, REGISTRATION_RETRY, retry_atom_v);
  }

  void send_status(TaskState state, const std::string& message, TaskStatus::Reason reason,
                   bool has_reason) {
    if (!task || terminal_sent) {
      return;
    }
    std::string uuid = random_uuid_bytes();
    StatusUpdate u;
    u.mutable_framework_id()->set_value(env.framework_id);
    u.mutable_executor_id()->set_value(env.executor_id);
    u.mutable_slave_id()->set_value(slave_id);
    TaskStatus* s = u.mutable_status();
    *s->mutable_task_id() = task->task_id();
    s->set_state(state);
    if (!message.empty()) {
      s->set_message(message);
    }
    if (has_reason) {
      s->set_reason(reason);
    }
    s->set_source(TaskStatus::SOURCE_EXECUTOR);
    s->set_timestamp(now_seconds());
    s->mutable_executor_id()->set_value(env.executor_id);
    s->set_uuid(uuid);
    u.set_timestamp(now_seconds());
    u.set_uuid(uuid);
    unacked[uuid] = u;
    StatusUpdateMessage m;
    *m.mutable_update() = u;
    self->send(slave, m);
    if (state == TASK_FINISHED || state == TASK_FAILED || state == TASK_KILLED ||
        state == TASK_ERROR || state == TASK_LOST) {
      terminal_sent = true;
      self->delayed_send(self, TERMINAL_ACK_TIMEOUT, stop_atom_v);
    }
  }

  void on_run_task(RunTaskMessage& m) {
    LOG_INFO << "Received task " << m.task().task_id().value();
    if (task) {
      LOG_WARNING << "Ignoring a second task " << m.task().task_id().value();
      return;
    }
    task = m.task();
    framework = m.framework();
    if (killing) {
      send_status(TASK_KILLED, "Killed before it started", TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH, true);
      return;
    }
    send_status(TASK_STARTING, "", {}, false);
    const CommandInfo& cmd = task->command();
    slave::LaunchSpec spec;
    if (cmd.shell()) {
      spec.argv = {"/bin/sh", "-c", cmd.value()};
    } else {
      spec.argv.push_back(cmd.value());
      for (const std::string& a : cmd.arguments()) {
        spec.argv.push_back(a);
      }
      if (cmd.arguments_size() > 0 && !cmd.value().empty()) {
        // Mesos: value is the program, arguments are the whole argv.
        spec.argv.assign(cmd.arguments().begin(), cmd.arguments().end());
        spec.argv[0] = cmd.value();
      }
    }
    spec.working_dir = env.directory;
    spec.stdout_path = env.directory + "/stdout";
    spec.stderr_path = env.directory + "/stderr";
    spec.env["MESOS_SANDBOX"] = env.directory;
    spec.env["STOA_SANDBOX"] = env.directory;
    spec.env["MESOS_TASK_ID"] = task->task_id().value();
    for (const auto& v : cmd.environment().variables()) {
      spec.env[v.name()] = v.value();
    }
    LOG_INFO << "Launching";
    Try<pid_t> launched = slave::launch(spec);
    if (launched.is_error()) {
      send_status(TASK_FAILED, "Failed to launch the command: " + launched.error(),
                  TaskStatus::REASON_COMMAND_EXECUTOR_FAILED, true);
      return;
    }
    pid = *launched;
    LOG_INFO << "Started task " << task->task_id().value() << " (pid " << pid << "): "
             << cmd.value();
    slave::spawn_reaper(self->system(), pid, caf::actor_cast<caf::actor>(self), "task");
    send_status(TASK_RUNNING, "", {}, false);
  }

  void kill_task(std::chrono::nanoseconds grace) {
    if (killing) {
      return;
    }
    killing = true;
    if (pid <= 0) {
      if (!task) {
        self->quit();  // nothing to kill
      }
      return;
    }
    for (const auto& c : framework.capabilities()) {
      if (c.type() == FrameworkInfo::Capability::TASK_KILLING_STATE) {
        send_status(TASK_KILLING, "", {}, false);
      }
    }
    LOG_INFO << "Sending SIGTERM to the process group of task " << task->task_id().value();
    slave::signal_process_group(pid, SIGTERM);
    self->delayed_send(self, grace, kill_atom_v);
  }

  void on_kill(KillTaskMessage& m) {
    std::chrono::nanoseconds grace = DEFAULT_KILL_GRACE;
    if (m.has_kill_policy() && m.kill_policy().has_grace_period()) {
      grace = std::chrono::nanoseconds(std::max<int64_t>(0, m.kill_policy().grace_period().nanoseconds()));
    } else if (task && task->has_kill_policy() && task->kill_policy().has_grace_period()) {
      grace = std::chrono::nanoseconds(
          std::max<int64_t>(0, task->kill_policy().grace_period().nanoseconds()));
    }
    kill_task(grace);
  }

  void on_reaped(int status) {
    // Whatever the command left behind in its group goes too.
    slave::signal_process_group(pid, SIGKILL);
    std::string why = slave::describe_wait_status(status);
    if (killing) {
      send_status(TASK_KILLED, why, {}, false);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      send_status(TASK_FINISHED, why, {}, false);
    } else {
      send_status(TASK_FAILED, why, {}, false);
    }
    pid = -1;
  }

  void on_ack(StatusUpdateAcknowledgementMessage& m) {
    unacked.erase(m.uuid());
    if (terminal_sent && unacked.empty()) {
      self->quit();
    }
  }
};

caf::behavior executor_behavior(caf::stateful_actor<Executor>* self, caf::actor router, Env env) {
  Executor& e = self->state;
  e.self = self;
  e.router = std::move(router);
  e.env = std::move(env);
  set_safe_handlers(self, "executor");
  self->set_down_handler([self](caf::down_msg& dm) {
    Executor& ex = self->state;
    if (ex.slave && dm.source == ex.slave.address()) {
      LOG_WARNING << "Lost the slave; killing the task and exiting";
      if (ex.pid > 0) {
        slave::signal_process_group(ex.pid, SIGKILL);
      }
      self->quit();
    }
  });
  e.resolve();
  return {
      [self](ExecutorRegisteredMessage& m) {
        LOG_INFO << "Registered with slave " << m.slave_id().value();
        self->state.registered = true;
        self->state.slave_id = m.slave_id().value();
      },
      [self](RunTaskMessage& m) { self->state.on_run_task(m); },
      [self](KillTaskMessage& m) { self->state.on_kill(m); },
      [self](ShutdownExecutorMessage&) {
        self->state.kill_task(DEFAULT_KILL_GRACE);
      },
      [self](StatusUpdateAcknowledgementMessage& m) { self->state.on_ack(m); },
      [self](FrameworkToExecutorMessage&) {},
      [self](retry_atom) { self->state.send_registration(); },
      [self](kill_atom) {
        if (self->state.pid > 0) {
          LOG_INFO << "Grace period over: sending SIGKILL";
          slave::signal_process_group(self->state.pid, SIGKILL);
        }
      },
      [self](reaped_atom, const std::string&, int status) { self->state.on_reaped(status); },
      [self](stop_atom) { self->quit(); },
  };
}

std::string getenv_or(const char* name, const char* def = "") {
  const char* v = std::getenv(name);
  return v != nullptr ? v : def;
}

}  // namespace

int main() {
  LOG_INFO << "stoa-executor starting";
  Env env;
  env.slave_pid = getenv_or("STOA_SLAVE_PID");
  env.framework_id = getenv_or("STOA_FRAMEWORK_ID");
  env.executor_id = getenv_or("STOA_EXECUTOR_ID");
  env.directory = getenv_or("STOA_DIRECTORY");
  env.ip = getenv_or("STOA_EXECUTOR_IP", "127.0.0.1");
  std::string actor_port = getenv_or("STOA_SLAVE_ACTOR_PORT", "0");
  char* end = nullptr;
  unsigned long port = std::strtoul(actor_port.c_str(), &end, 10);
  if (actor_port.empty() || *end != '\0' || port > 65535) {
    std::cerr << "stoa-executor: invalid STOA_SLAVE_ACTOR_PORT '" << actor_port << "'\n";
    return 1;
  }
  env.slave_actor_port = static_cast<uint16_t>(port);
  for (auto [name, value] : {std::pair{"STOA_SLAVE_PID", &env.slave_pid},
                             std::pair{"STOA_FRAMEWORK_ID", &env.framework_id},
                             std::pair{"STOA_EXECUTOR_ID", &env.executor_id},
                             std::pair{"STOA_DIRECTORY", &env.directory}}) {
    if (value->empty()) {
      std::cerr << "stoa-executor: missing environment variable " << name
                << " (the executor is started by stoa-slave)\n";
      return 1;
    }
  }
  // SIGTERM from the slave (shutdown grace) must not kill us before we
  // report; the default action is fine for SIGKILL only.
  stoa::RuntimeOptions ropts;
  ropts.ip = env.ip;
  ropts.port = 0;
  ropts.serve = false;   // the executor only connects out
  ropts.max_threads = 1;
  auto runtime = stoa::Runtime::start(ropts);
  if (runtime.is_error()) {
    std::cerr << "stoa-executor: " << runtime.error() << "\n";
    return 1;
  }
  stoa::Runtime& rt = **runtime;
  LOG_INFO << "Runtime started";
  caf::actor exec = rt.system().spawn(executor_behavior, rt.router(), env);
  {
    caf::scoped_actor waiter{rt.system()};
    waiter->monitor(exec);
    waiter->receive([](const caf::down_msg&) {});
  }
  rt.shutdown();
  return 0;
}
