// stoa-http-executor's state machine (CommandExecutor in
// slave/http_executor.hpp): what the CAF command executor
// (slave/executor_main.cpp, slave/task_executor.cpp) does, fed by the event
// loop of slave/http_executor_main.cpp.
#include "slave/http_executor.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <csignal>

#include "common/base64.hpp"
#include "common/uuid.hpp"

namespace stoa::http_executor {

namespace {

bool is_terminal(const std::string& state) {
  return state == "TASK_FINISHED" || state == "TASK_FAILED" || state == "TASK_KILLED";
}

}  // namespace

CommandExecutor::CommandExecutor(ExecutorConfig config, TaskProcesses& processes, Logger log,
                                 RandomWait random_wait, TimePoint now)
    : config_(std::move(config)),
      processes_(processes),
      log_(std::move(log)),
      random_wait_(std::move(random_wait)),
      subscribe_at_(now),
      give_up_at_(now + FIRST_SUBSCRIBE_TIMEOUT) {}

bool CommandExecutor::subscribe_due(TimePoint now) const {
  return !exit_code_ && conn_ == Conn::WAITING && now >= subscribe_at_;
}

std::string CommandExecutor::begin_subscribe() {
  conn_ = Conn::SUBSCRIBING;
  std::vector<picojson::value> tasks;
  // task_ stays until its terminal update is acknowledged (we exit then).
  if (task_) {
    tasks.push_back(task_->json);
  }
  std::vector<StatusUpdateRecord> updates;
  for (Pending& p : updates_) {
    p.in_subscribe = true;
    updates.push_back(p.update);
  }
  return subscribe_call(config_.id, tasks, updates);
}

void CommandExecutor::begin_adopted_subscription() { conn_ = Conn::SUBSCRIBING; }

void CommandExecutor::subscription_lost(const std::string& why, TimePoint now) {
  if (exit_code_) {
    return;
  }
  const bool was_subscribed = conn_ == Conn::SUBSCRIBED;
  conn_ = Conn::WAITING;
  for (Pending& p : updates_) {
    p.in_subscribe = false;
  }
  // The acknowledgement timeout runs only while a slave can acknowledge;
  // SUBSCRIBED arms it again.
  ack_deadline_.reset();
  if (!ever_subscribed_) {
    log_("Subscribing to the slave at " + config_.agent_endpoint + " failed: " + why);
  } else if (was_subscribed) {
    if (!config_.checkpoint) {
      abort(1, "Lost the slave (" + why + "); the framework does not checkpoint, so the task goes too");
      return;
    }
    give_up_at_ = now + config_.recovery_timeout;
    log_("Lost the slave (" + why + "); the framework checkpoints, so " +
         (pid_ > 0 ? std::string("the task keeps running") : std::string("its state is kept")) +
         " while re-subscribing for up to " + format_duration(config_.recovery_timeout));
  } else {
    log_("Re-subscribing failed: " + why);
  }
  retry_or_give_up(now);
}

void CommandExecutor::retry_or_give_up(TimePoint now) {
  if (now >= give_up_at_) {
    abort(1, ever_subscribed_ ? "No slave within the recovery timeout (" +
                                    format_duration(config_.recovery_timeout) + "); giving up"
                              : "Could not subscribe to the slave at " + config_.agent_endpoint + " within " +
                                    format_duration(FIRST_SUBSCRIBE_TIMEOUT) + "; giving up");
    return;
  }
  const Duration wait = random_wait_(config_.subscription_backoff_max);
  subscribe_at_ = std::min(now + std::chrono::duration_cast<Clock::duration>(wait), give_up_at_);
}

void CommandExecutor::subscription_refused(int status, const std::string& message, TimePoint now) {
  if (status == 503 || status == 404) {
    subscription_lost("the slave answered " + std::to_string(status) +
                          (message.empty() ? std::string() : " (" + message + ")") + ", not ready yet",
                      now);
    return;
  }
  abort(1, "The slave refused the subscription with status " + std::to_string(status) +
               (message.empty() ? std::string() : ": " + message));
}

void CommandExecutor::on_event(const Event& e, TimePoint now) {
  if (exit_code_) {
    return;
  }
  switch (e.type) {
    case Event::Type::SUBSCRIBED:
      on_subscribed(e, now);
      break;
    case Event::Type::LAUNCH:
      on_launch(*e.task, now);
      break;
    case Event::Type::KILL:
      on_kill(e, now);
      break;
    case Event::Type::ACKNOWLEDGED:
      on_acknowledged(e.uuid);
      break;
    case Event::Type::MESSAGE:
      log_("Received a framework message of " + std::to_string(e.data_size) + " bytes");
      break;
    case Event::Type::SHUTDOWN:
      on_shutdown(now);
      break;
    case Event::Type::ERROR:
      abort(1, "The slave sent an error: " + e.message);
      break;
    case Event::Type::HEARTBEAT:
      break;
    case Event::Type::ADOPTED:  // the pooled phase's (http_executor_main.cpp), never again
    case Event::Type::UNKNOWN:
      log_("Ignoring an event of unknown type '" + e.type_name + "'");
      break;
  }
}

void CommandExecutor::on_subscribed(const Event& e, TimePoint now) {
  const bool first = !ever_subscribed_;
  conn_ = Conn::SUBSCRIBED;
  ever_subscribed_ = true;
  task_killing_state_ = e.task_killing_state;
  // The SUBSCRIBE carried these: the slave has them now (it re-sends the
  // acknowledgements it owes), so they are not sent again.
  size_t carried = 0;
  for (Pending& p : updates_) {
    if (p.in_subscribe) {
      p.delivery = Delivery::SENT;
      p.in_subscribe = false;
      ++carried;
    }
  }
  if (first) {
    log_("Subscribed to the slave at " + config_.agent_endpoint +
         (e.container_id.empty() ? std::string() : " (container " + e.container_id + ")"));
  } else {
    log_("Re-subscribed to the slave; " +
         (pid_ > 0 ? std::string("the task is still running")
                   : task_ ? std::string("the task is over") : std::string("no task yet")) +
         ", " + std::to_string(carried) + " unacknowledged update(s) handed over");
  }
  if (terminal_made() && !updates_.empty()) {
    ack_deadline_ = now + TERMINAL_ACK_TIMEOUT;
  }
}

void CommandExecutor::on_launch(const TaskSpec& task, TimePoint now) {
  log_("Received task " + task.task_id);
  if (task_) {
    log_("Ignoring a second task " + task.task_id + " (this executor runs " + task_->task_id + ")");
    return;
  }
  task_ = task;
  if (task.has_health_check) {
    send("TASK_FAILED", "stoa-http-executor runs no health checks; the slave uses stoa-executor for them",
         "REASON_COMMAND_EXECUTOR_FAILED", now);
    return;
  }
  if (!task.command) {
    send("TASK_FAILED", "Task " + task.task_id + " has no command", "REASON_COMMAND_EXECUTOR_FAILED", now);
    return;
  }
  start_task(now);
}

void CommandExecutor::start_task(TimePoint now) {
  send("TASK_STARTING", "", std::nullopt, now);
  const CommandSpec& cmd = *task_->command;
  Try<pid_t> launched =
      launch_command_task(cmd, command_task_spec(cmd, config_.sandbox, task_->task_id, cmd.environment),
                          [this](const LaunchSpec& spec) { return processes_.launch(spec); });
  if (launched.is_error()) {
    send("TASK_FAILED", "Failed to launch the command: " + launched.error(), "REASON_COMMAND_EXECUTOR_FAILED", now);
    return;
  }
  pid_ = *launched;
  log_("Started task " + task_->task_id + " (pid " + std::to_string(pid_) + "): " + cmd.value);
  send("TASK_RUNNING", "", std::nullopt, now);
}

void CommandExecutor::on_kill(const Event& e, TimePoint now) {
  if (!task_) {
    log_("Ignoring a kill of task " + e.task_id + ": no task was launched");
    return;
  }
  if (e.task_id != task_->task_id) {
    log_("Ignoring a kill of task " + e.task_id + ": this executor runs " + task_->task_id);
    return;
  }
  kill(e.kill_grace ? *e.kill_grace : task_->kill_grace.value_or(DEFAULT_KILL_GRACE), now);
}

// SIGTERM to the task's group now, SIGKILL after `grace`; the task's exit
// (task_exited) then makes TASK_KILLED. Once only.
void CommandExecutor::kill(Duration grace, TimePoint now) {
  if (killing_) {
    return;
  }
  if (pid_ <= 0) {
    log_("Task " + task_->task_id + " is not running; nothing to kill");
    return;
  }
  killing_ = true;
  if (task_killing_state_) {
    send("TASK_KILLING", "", std::nullopt, now);
  }
  log_("Sending SIGTERM to the process group of task " + task_->task_id + "; SIGKILL in " + format_duration(grace));
  processes_.signal_group(pid_, SIGTERM);
  sigkill_at_ = now + std::chrono::duration_cast<Clock::duration>(grace);
}

void CommandExecutor::on_shutdown(TimePoint now) {
  if (pid_ <= 0) {
    log_(task_ ? "Shutting down: the task is over; exiting" : "Shutting down: no task; exiting");
    finish(0);
    return;
  }
  // The slave destroys the container shutdown_grace_period after asking: the
  // SIGKILL comes a second before that, so that TASK_KILLED still goes out.
  const Duration limit = std::max<Duration>(Duration::zero(), config_.shutdown_grace_period - std::chrono::seconds(1));
  const Duration grace = std::min(task_->kill_grace.value_or(DEFAULT_KILL_GRACE), limit);
  log_("Shutting down: killing task " + task_->task_id);
  if (killing_) {
    if (sigkill_at_) {
      sigkill_at_ = std::min(*sigkill_at_, now + std::chrono::duration_cast<Clock::duration>(grace));
    }
    return;
  }
  kill(grace, now);
}

void CommandExecutor::on_acknowledged(const std::string& uuid) {
  auto it = std::find_if(updates_.begin(), updates_.end(), [&](const Pending& p) { return p.update.uuid == uuid; });
  if (it == updates_.end()) {
    log_("Ignoring an acknowledgement of unknown update " + base64_encode(uuid));
    return;
  }
  const std::string state = it->update.state;
  updates_.erase(it);
  if (terminal_made() && uuid == terminal_uuid_) {
    log_("The slave acknowledged the terminal update (" + state + "); exiting");
    finish(0);
  }
}

void CommandExecutor::task_exited(int status, TimePoint now) {
  if (pid_ <= 0) {
    return;
  }
  // Whatever the command left behind in its group goes too.
  processes_.signal_group(pid_, SIGKILL);
  pid_ = -1;
  sigkill_at_.reset();
  const std::string why = describe_wait_status(status);
  log_("Task " + task_->task_id + " ended: " + why);
  if (killing_) {
    send("TASK_KILLED", why, std::nullopt, now);
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    send("TASK_FINISHED", why, std::nullopt, now);
  } else {
    send("TASK_FAILED", why, std::nullopt, now);
  }
}

void CommandExecutor::send(const std::string& state, const std::string& message, std::optional<std::string> reason,
                           TimePoint now) {
  if (!task_ || terminal_made()) {
    return;
  }
  Pending p;
  p.update.task_id = task_->task_id;
  p.update.state = state;
  p.update.message = message;
  p.update.reason = std::move(reason);
  p.update.uuid = random_uuid_bytes();
  p.update.timestamp = now_seconds();
  log_("Sending " + state + " for task " + task_->task_id + (message.empty() ? "" : ": " + message));
  if (is_terminal(state)) {
    terminal_uuid_ = p.update.uuid;
    if (conn_ == Conn::SUBSCRIBED) {
      ack_deadline_ = now + TERMINAL_ACK_TIMEOUT;
    }
  }
  updates_.push_back(std::move(p));
}

void CommandExecutor::on_timer(TimePoint now) {
  if (exit_code_) {
    return;
  }
  if (sigkill_at_ && now >= *sigkill_at_) {
    sigkill_at_.reset();
    if (pid_ > 0) {
      log_("Grace period over: sending SIGKILL to the process group of task " + task_->task_id);
      processes_.signal_group(pid_, SIGKILL);
    }
  }
  if (ack_deadline_ && now >= *ack_deadline_) {
    ack_deadline_.reset();
    if (conn_ == Conn::SUBSCRIBED) {
      log_("The slave did not acknowledge the terminal update within " + format_duration(TERMINAL_ACK_TIMEOUT) +
           "; exiting");
      finish(0);
      return;
    }
  }
  // Only retries stop at the deadline: an attempt under way (connected, the
  // slave busy) may still succeed, and a slave that never answers kills us
  // at its registration timeout anyway.
  if (conn_ == Conn::WAITING && now >= give_up_at_) {
    retry_or_give_up(now);
  }
}

std::optional<TimePoint> CommandExecutor::next_deadline() const {
  if (exit_code_) {
    return std::nullopt;
  }
  std::optional<TimePoint> next;
  auto consider = [&next](std::optional<TimePoint> t) {
    if (t && (!next || *t < *next)) {
      next = t;
    }
  };
  consider(sigkill_at_);
  consider(ack_deadline_);
  if (conn_ == Conn::WAITING) {
    consider(subscribe_at_);  // never after give_up_at_
  }
  return next;
}

std::optional<StatusUpdateRecord> CommandExecutor::next_update() {
  if (exit_code_ || conn_ != Conn::SUBSCRIBED) {
    return std::nullopt;
  }
  for (const Pending& p : updates_) {
    if (p.delivery == Delivery::IN_FLIGHT) {
      return std::nullopt;
    }
  }
  for (Pending& p : updates_) {
    if (p.delivery == Delivery::UNSENT) {
      p.delivery = Delivery::IN_FLIGHT;
      return p.update;
    }
  }
  return std::nullopt;
}

void CommandExecutor::update_accepted() {
  for (Pending& p : updates_) {
    if (p.delivery == Delivery::IN_FLIGHT) {
      p.delivery = Delivery::SENT;
    }
  }
}

void CommandExecutor::update_rejected(int status, const std::string& body) {
  for (Pending& p : updates_) {
    if (p.delivery == Delivery::IN_FLIGHT) {
      log_("The slave answered the " + p.update.state + " update of task " + p.update.task_id + " with status " +
           std::to_string(status) + (body.empty() ? std::string() : ": " + body) +
           "; it goes again with the next subscription");
      p.delivery = Delivery::SENT;
    }
  }
}

void CommandExecutor::update_failed() {
  for (Pending& p : updates_) {
    if (p.delivery == Delivery::IN_FLIGHT) {
      p.delivery = Delivery::UNSENT;
    }
  }
}

void CommandExecutor::abort(int code, const std::string& why) {
  log_(why);
  if (pid_ > 0) {
    log_("Killing the process group of task " + task_->task_id);
    processes_.signal_group(pid_, SIGKILL);
  }
  finish(code);
}

void CommandExecutor::finish(int code) {
  if (!exit_code_) {
    exit_code_ = code;
  }
}

}  // namespace stoa::http_executor
