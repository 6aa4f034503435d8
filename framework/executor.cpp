// The executor side of the SDK: one actor that resolves the slave, registers,
// turns the slave's messages into Executor callbacks and keeps status updates
// until they are acknowledged (see framework/executor.hpp for the contract).

#include "framework/executor.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <set>
#include <string_view>
#include <utility>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "common/flags.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"

namespace stoa {

CommandLine command_line(const CommandInfo& command) {
  return CommandLine{command.shell(), command.value(), {command.arguments().begin(), command.arguments().end()}};
}

std::vector<std::string> command_argv(const CommandInfo& command) { return command_argv(command_line(command)); }

namespace {

using executor_timer_atom = caf::atom_constant<caf::atom("exec_tmr")>;
constexpr executor_timer_atom executor_timer_atom_v{};
using resend_atom = caf::atom_constant<caf::atom("resend")>;
constexpr resend_atom resend_atom_v{};
// The executor's own timers while its slave is lost, each tagged with the
// loss it belongs to: re-send ReregisterExecutorMessage; give up waiting.
using rereg_retry_atom = caf::atom_constant<caf::atom("exec_rrtmr")>;
constexpr rereg_retry_atom rereg_retry_atom_v{};
using recovery_timer_atom = caf::atom_constant<caf::atom("exec_rctmr")>;
constexpr recovery_timer_atom recovery_timer_atom_v{};
// The executor did not stop within `shutdown_grace` of a given-up recovery.
using grace_timer_atom = caf::atom_constant<caf::atom("exec_grace")>;
constexpr grace_timer_atom grace_timer_atom_v{};

// A resolve after a loss backs off from the first to the second.
constexpr auto RESOLVE_BACKOFF_MIN = std::chrono::milliseconds(50);
constexpr auto RESOLVE_BACKOFF_MAX = std::chrono::milliseconds(1000);

using namespace internal;

std::string getenv_or(const char* name, const char* def = "") {
  const char* v = std::getenv(name);
  return v != nullptr ? v : def;
}

// The first of `names` set to a non-empty value: (name, value).
std::optional<std::pair<std::string, std::string>> first_set(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    std::string value = getenv_or(name);
    if (!value.empty()) {
      return std::pair{std::string(name), value};
    }
  }
  return std::nullopt;
}

// Reads the duration in the first of `names` that is set into `*out` (left
// alone when none is). The error names the variable and its value.
std::optional<Error> read_duration(std::initializer_list<const char*> names, bool allow_zero,
                                   std::chrono::milliseconds* out) {
  std::optional<std::pair<std::string, std::string>> var = first_set(names);
  if (!var) {
    return std::nullopt;
  }
  auto& [name, text] = *var;
  Try<std::chrono::nanoseconds> d = parse_duration(text);
  std::string why;
  if (d.is_error()) {
    why = d.error();
  } else if (d->count() < 0 || (d->count() == 0 && !allow_zero)) {
    why = allow_zero ? "must not be negative" : "must be positive";
  } else if (*d > MAX_FLAG_DURATION) {
    why = "must be at most " + format_duration(MAX_FLAG_DURATION);
  }
  if (!why.empty()) {
    return Error("invalid " + name + " '" + text + "': " + why);
  }
  *out = std::chrono::ceil<std::chrono::milliseconds>(*d);
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------
// ExecutorOptions

Try<uint16_t> ExecutorOptions::slave_actor_port_from_environment() {
  std::string actor_port = getenv_or("STOA_SLAVE_ACTOR_PORT", "0");
  char* end = nullptr;
  unsigned long port = std::strtoul(actor_port.c_str(), &end, 10);
  if (actor_port.empty() || *end != '\0' || port > 65535) {
    return Error("invalid STOA_SLAVE_ACTOR_PORT '" + actor_port + "'");
  }
  return static_cast<uint16_t>(port);
}

Try<ExecutorOptions> ExecutorOptions::from_environment() {
  ExecutorOptions o;
  o.slave_pid = getenv_or("STOA_SLAVE_PID");
  o.framework_id.set_value(getenv_or("STOA_FRAMEWORK_ID"));
  o.executor_id.set_value(getenv_or("STOA_EXECUTOR_ID"));
  o.directory = getenv_or("STOA_DIRECTORY");
  o.ip = getenv_or("STOA_EXECUTOR_IP", "127.0.0.1");
  std::optional<Error> error = read_duration({"STOA_EXECUTOR_REGISTRATION_TIMEOUT"}, false, &o.registration_timeout);
  if (!error) {
    error = read_duration({"STOA_RECOVERY_TIMEOUT", "MESOS_RECOVERY_TIMEOUT"}, false, &o.recovery_timeout);
  }
  if (!error) {
    error = read_duration({"STOA_EXECUTOR_SHUTDOWN_GRACE_PERIOD"}, true, &o.shutdown_grace);
  }
  if (error) {
    return *error;
  }
  if (auto var = first_set({"STOA_CHECKPOINT", "MESOS_CHECKPOINT"})) {
    auto& [name, text] = *var;
    if (text == "1" || text == "true") {
      o.checkpoint = true;
    } else if (text == "0" || text == "false") {
      o.checkpoint = false;
    } else {
      return Error("invalid " + name + " '" + text + "': expected 1, true, 0 or false");
    }
  }
  Try<uint16_t> port = slave_actor_port_from_environment();
  if (port.is_error()) {
    return Error(port.error());
  }
  o.slave_actor_port = *port;
  for (auto [name, value] : {std::pair{"STOA_SLAVE_PID", &o.slave_pid},
                             std::pair{"STOA_FRAMEWORK_ID", o.framework_id.mutable_value()},
                             std::pair{"STOA_EXECUTOR_ID", o.executor_id.mutable_value()},
                             std::pair{"STOA_DIRECTORY", &o.directory}}) {
    if (value->empty()) {
      return Error(std::string("missing environment variable ") + name +
                   " (the executor is started by stoa-slave)");
    }
  }
  return o;
}

// ---------------------------------------------------------------------------
// The executor actor.

struct executor_state {
  static inline const char* name = "executor";
  using Phase = ExecutorDriver::Phase;

  caf::event_based_actor* self = nullptr;
  caf::actor router;
  std::shared_ptr<Executor> executor;
  std::unique_ptr<ExecutorDriver> driver;
  caf::actor slave;  // set once resolved (monitored)
  int attempts = 0;
  // A pooled executor's (spawn_pooled_executor): its token, and what takes
  // the container once the slave sends it.
  std::string pool_token;
  AdoptContainer adopt;

  const ExecutorOptions& options() const { return driver->options_; }
  Phase phase() const { return driver->phase_; }

  void fail(const std::string& message) {
    LOG_ERROR << message;
    executor->error(*driver, message);
    self->quit();
  }

  // A pooled executor leaves before adoption: nobody counts on it, so no
  // callback (the process exits 0).
  void leave_pool(const std::string& why) {
    LOG_WARNING << "Pooled executor exiting: " << why;
    self->quit();
  }

  void start_pooled(std::string token, AdoptContainer adopt_container) {
    driver->phase_ = Phase::pooled;
    pool_token = std::move(token);
    adopt = std::move(adopt_container);
  }

  bool from_slave() const {
    return slave && self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(slave);
  }

  // Resolving the slave and registering with it are retried (a busy slave
  // may not accept the connection at once) until `registration_timeout`
  // after start; only then does the executor give up. After a loss the
  // deadline is `recovery_timeout` after it.
  caf::timestamp deadline;
  std::chrono::milliseconds resolve_backoff = RESOLVE_BACKOFF_MIN;

  // Counts the losses of a slave; the timers of an earlier loss are stale.
  uint64_t loss = 0;
  // The slave last lost: the router may still answer a resolve with it for
  // a moment (its cache learns of the death on its own).
  caf::actor_addr lost_slave;
  // The uuids in the last ReregisterExecutorMessage sent.
  std::vector<std::string> reregister_uuids;

  bool past_deadline() const { return caf::make_timestamp() >= deadline; }

  void resolve() {
    if (phase() == Phase::abandoned) {
      return;
    }
    auto on_slave = [this](const caf::actor& s) {
      if (phase() == Phase::abandoned) {
        return;
      }
      if (!s) {
        retry_resolve("the slave's process has no actor " + options().slave_pid);
        return;
      }
      if (s.address() == lost_slave) {
        retry_resolve("the process still names the slave that was lost");
        return;
      }
      LOG_INFO << "Resolved slave " << options().slave_pid;
      slave = s;
      self->monitor(slave);
      if (phase() == Phase::pooled) {
        ExecutorPoolReadyMessage ready;
        ready.set_token(pool_token);
        ready.set_pid(static_cast<int32_t>(::getpid()));
        self->send(slave, ready);
        LOG_INFO << "Pooled executor ready for slave " << options().slave_pid;
        return;
      }
      if (phase() == Phase::reconnecting) {
        send_reregistration(loss);
        return;
      }
      // Updates sent before the slave was known go out now, in order.
      for (const StatusUpdate& u : driver->unacked_) {
        send_update(u);
      }
      send_registration();
    };
    auto on_error = [this](const caf::error& e) { retry_resolve(self->system().render(e)); };
    auto timeout = phase() == Phase::pooled
                       ? caf::timespan{RESOLVE_TIMEOUT}
                       : std::min<caf::timespan>(RESOLVE_TIMEOUT, std::max<caf::timespan>(
                                                                      deadline - caf::make_timestamp(),
                                                                      std::chrono::milliseconds(100)));
    // A restarted slave has a new actor port: only the first resolve uses
    // the one the slave passed.
    if (options().slave_actor_port != 0 && loss == 0) {
      self->request(router, timeout, resolve_atom_v, options().slave_pid, options().slave_actor_port)
          .then(on_slave, on_error);
    } else {
      self->request(router, timeout, resolve_atom_v, options().slave_pid).then(on_slave, on_error);
    }
  }

  void retry_resolve(const std::string& why) {
    if (phase() == Phase::abandoned) {
      return;
    }
    if (phase() == Phase::pooled) {
      leave_pool("cannot reach the slave " + options().slave_pid + ": " + why);
      return;
    }
    if (phase() == Phase::registering && past_deadline()) {
      fail("Cannot reach the slave " + options().slave_pid + " within the registration timeout (" +
           std::to_string(options().registration_timeout.count()) + " ms): " + why);
      return;
    }
    LOG_WARNING << "Cannot reach the slave " << options().slave_pid << " yet (" << why << "); retrying in "
                << resolve_backoff.count() << " ms";
    self->delayed_send(self, resolve_backoff, resolve_atom_v);
    resolve_backoff = std::min(resolve_backoff * 2, RESOLVE_BACKOFF_MAX);
  }

  void send_registration() {
    if (phase() != Phase::registering || !slave) {
      return;
    }
    if (past_deadline()) {
      fail("The slave did not answer the registration within the registration timeout (" +
           std::to_string(options().registration_timeout.count()) + " ms); exiting");
      return;
    }
    ++attempts;
    RegisterExecutorMessage m;
    *m.mutable_framework_id() = options().framework_id;
    *m.mutable_executor_id() = options().executor_id;
    self->send(slave, m);
    self->delayed_send(self, options().registration_retry, retry_atom_v);
  }

  // Sends ReregisterExecutorMessage for the loss `of_loss` unless the slave
  // has answered (or been lost again) since, and schedules the next try.
  void send_reregistration(uint64_t of_loss) {
    if (of_loss != loss || phase() != Phase::reconnecting || !slave) {
      return;
    }
    ReregisterExecutorMessage m;
    *m.mutable_executor_id() = options().executor_id;
    *m.mutable_framework_id() = options().framework_id;
    for (const TaskInfo& t : driver->tasks_) {
      *m.add_tasks() = t;
    }
    reregister_uuids.clear();
    for (const StatusUpdate& u : driver->unacked_) {
      *m.add_updates() = u;
      reregister_uuids.push_back(u.uuid());
    }
    LOG_INFO << "Re-registering with the slave " << options().slave_pid << " (" << m.tasks_size() << " tasks, "
             << m.updates_size() << " unacknowledged updates)";
    self->send(slave, m);
    self->delayed_send(self, options().registration_retry, rereg_retry_atom_v, loss);
  }

  void send_update(const StatusUpdate& u) {
    if (!slave || phase() == Phase::reconnecting || phase() == Phase::abandoned) {
      return;  // sent once the slave is resolved, or in the re-registration
    }
    StatusUpdateMessage m;
    *m.mutable_update() = u;
    self->send(slave, m);
  }

  void on_resend(const std::string& uuid) {
    auto& unacked = driver->unacked_;
    auto it = std::find_if(unacked.begin(), unacked.end(), [&](const StatusUpdate& u) { return u.uuid() == uuid; });
    if (it == unacked.end()) {
      return;  // acknowledged meanwhile
    }
    if (slave && (phase() == Phase::registering || phase() == Phase::connected)) {
      LOG_WARNING << "Re-sending the unacknowledged " << TaskState_Name(it->status().state()) << " update of task "
                  << it->status().task_id().value();
      send_update(*it);
    }
    self->delayed_send(self, options().status_update_retry, resend_atom_v, uuid);
  }

  void on_registered(ExecutorRegisteredMessage& m, bool at_adoption = false) {
    if (phase() != Phase::registering) {
      return;  // an answer to a retried registration
    }
    LOG_INFO << "Registered with slave " << m.slave_id().value() << (at_adoption ? " at adoption" : "");
    driver->phase_ = Phase::connected;
    driver->slave_id_ = m.slave_id();
    executor->registered(*driver, m.executor_info(), m.framework_info(), m.slave_info());
  }

  void on_reregistered(ExecutorReregisteredMessage& m) {
    if (phase() != Phase::reconnecting || !slave) {
      return;  // an answer to a retried re-registration
    }
    LOG_INFO << "Re-registered with slave " << m.slave_id().value();
    driver->phase_ = Phase::connected;
    driver->slave_id_ = m.slave_id();
    // Updates the last ReregisterExecutorMessage did not carry go now.
    for (const StatusUpdate& u : driver->unacked_) {
      if (std::find(reregister_uuids.begin(), reregister_uuids.end(), u.uuid()) == reregister_uuids.end()) {
        send_update(u);
      }
    }
    executor->reregistered(*driver, m.slave_info());
  }

  // Task `id` leaves the remembered tasks.
  void forget_task(const std::string& id) {
    auto& tasks = driver->tasks_;
    tasks.erase(std::remove_if(tasks.begin(), tasks.end(), [&](const TaskInfo& t) { return t.task_id().value() == id; }),
                tasks.end());
  }

  // The slave hands this pooled executor a container: it takes it (`adopt`)
  // and is registered by the same message when it carries the registration.
  void on_adopt(AdoptExecutorMessage& m) {
    if (phase() != Phase::pooled || !from_slave()) {
      LOG_WARNING << "Ignoring an adoption that does not come from the slave or comes twice";
      return;
    }
    Try<ExecutorOptions> adopted = adopt(m);
    if (adopted.is_error()) {
      fail("Cannot adopt container " + m.container_id() + ": " + adopted.error());
      return;
    }
    driver->options_ = std::move(*adopted);
    driver->phase_ = Phase::registering;
    deadline = caf::make_timestamp() + options().registration_timeout;
    if (!m.has_registered()) {
      send_registration();
      return;
    }
    on_registered(*m.mutable_registered(), true);
    for (RunTaskMessage& run : *m.mutable_run_tasks()) {
      on_run_task(run);
    }
  }

  void on_run_task(RunTaskMessage& m) {
    if (phase() == Phase::pooled) {
      return;  // a pooled executor has no tasks before adoption
    }
    forget_task(m.task().task_id().value());
    driver->tasks_.push_back(m.task());
    executor->launch_task(*driver, m.task());
  }

  void on_ack(StatusUpdateAcknowledgementMessage& m) {
    auto& unacked = driver->unacked_;
    auto it =
        std::find_if(unacked.begin(), unacked.end(), [&](const StatusUpdate& u) { return u.uuid() == m.uuid(); });
    if (it == unacked.end()) {
      return;  // a duplicate acknowledgement
    }
    if (is_terminal_state(it->status().state())) {
      // The slave knows the task is over: it is no longer re-registered.
      forget_task(it->status().task_id().value());
    }
    unacked.erase(it);
    executor->acknowledged(*driver, m.task_id(), m.uuid());
  }

  void on_shutdown() {
    if (phase() == Phase::pooled) {
      if (from_slave()) {
        leave_pool("the slave does not take this pooled executor (an earlier slave started it)");
      }
      return;
    }
    if (phase() == Phase::reconnecting) {
      LOG_WARNING << "The restarted slave " << options().slave_pid << " will not take this executor back";
      abandon();
    }
    executor->shutdown(*driver);
  }

  // The monitored slave is gone.
  void on_slave_down(const caf::error& reason) {
    LOG_WARNING << "Lost the slave " << options().slave_pid << ": " << self->system().render(reason);
    Phase was = phase();
    if (was == Phase::abandoned) {
      slave = caf::actor{};
      return;
    }
    if (was == Phase::pooled) {
      leave_pool("lost the slave before adoption");
      return;
    }
    if (!options().checkpoint || was == Phase::registering) {
      executor->disconnected(*driver);
      self->quit();
      return;
    }
    // Checkpointing: wait for the slave to come back (Mesos' agent recovery).
    ++loss;
    lost_slave = slave.address();
    slave = caf::actor{};
    driver->phase_ = Phase::reconnecting;
    resolve_backoff = RESOLVE_BACKOFF_MIN;
    deadline = caf::make_timestamp() + options().recovery_timeout;
    self->delayed_send(self, options().recovery_timeout, recovery_timer_atom_v, loss);
    LOG_INFO << "The framework checkpoints: waiting up to " << options().recovery_timeout.count()
             << " ms for the slave to come back";
    if (was == Phase::connected) {
      executor->disconnected(*driver);
    }
    resolve();
  }

  void on_recovery_timeout(uint64_t of_loss) {
    if (of_loss != loss || phase() != Phase::reconnecting) {
      return;  // re-registered, or lost again since
    }
    LOG_ERROR << "The slave " << options().slave_pid << " did not come back within the recovery timeout ("
              << options().recovery_timeout.count() << " ms); shutting down";
    abandon();
    executor->shutdown(*driver);
  }

  // Gives up the re-registration for good; the actor exits `shutdown_grace`
  // later unless the executor stops it first.
  void abandon() {
    driver->phase_ = Phase::abandoned;
    self->delayed_send(self, options().shutdown_grace, grace_timer_atom_v);
  }

  void on_grace_over() {
    LOG_WARNING << "The executor did not stop within " << options().shutdown_grace.count()
                << " ms of its shutdown; exiting";
    self->quit();
  }

  void on_timer(uint64_t id) { driver->timers_.fire(id); }
};

// ---------------------------------------------------------------------------
// ExecutorDriver

std::string ExecutorDriver::send_status_update(TaskStatus status) {
  auto* st = &static_cast<caf::stateful_actor<executor_state>*>(self_)->state;
  if (status.uuid().empty()) {
    status.set_uuid(random_uuid_bytes());
  }
  if (!status.has_source()) {
    status.set_source(TaskStatus::SOURCE_EXECUTOR);
  }
  double now = now_seconds();
  status.set_timestamp(now);
  *status.mutable_executor_id() = options_.executor_id;
  if (slave_id_) {
    *status.mutable_slave_id() = *slave_id_;
  }
  internal::StatusUpdate u;
  *u.mutable_framework_id() = options_.framework_id;
  *u.mutable_executor_id() = options_.executor_id;
  if (slave_id_) {
    *u.mutable_slave_id() = *slave_id_;
  }
  u.set_timestamp(now);
  u.set_uuid(status.uuid());
  *u.mutable_status() = std::move(status);
  unacked_.push_back(u);
  st->send_update(u);
  self_->delayed_send(self_, options_.status_update_retry, resend_atom_v, u.uuid());
  return u.uuid();
}

void ExecutorDriver::send_framework_message(const std::string& data) {
  auto* st = &static_cast<caf::stateful_actor<executor_state>*>(self_)->state;
  if (!st->slave) {
    LOG_WARNING << "Dropping a framework message: the slave is not resolved yet";
    return;
  }
  if (phase_ == Phase::reconnecting || phase_ == Phase::abandoned) {
    LOG_WARNING << "Dropping a framework message: the slave was lost";
    return;
  }
  internal::ExecutorToFrameworkMessage m;
  if (slave_id_) {
    *m.mutable_slave_id() = *slave_id_;
  } else {
    m.mutable_slave_id();  // the slave fills it in
  }
  *m.mutable_framework_id() = options_.framework_id;
  *m.mutable_executor_id() = options_.executor_id;
  m.set_data(data);
  self_->send(st->slave, m);
}

void ExecutorDriver::stop() { self_->quit(); }

uint64_t ExecutorDriver::after(std::chrono::nanoseconds delay, std::function<void()> fn) {
  uint64_t id = timers_.add(std::move(fn));
  self_->delayed_send(self_, std::max(delay, std::chrono::nanoseconds(0)), executor_timer_atom_v, id);
  return id;
}

void ExecutorDriver::cancel(uint64_t timer_id) { timers_.cancel(timer_id); }

caf::actor ExecutorDriver::self() const { return caf::actor_cast<caf::actor>(self_); }

namespace {

using executor_actor = caf::stateful_actor<executor_state>;

caf::behavior executor_actor_fn(executor_actor* self, caf::actor router, ExecutorOptions options,
                                std::shared_ptr<Executor> executor, std::string pool_token, AdoptContainer adopt) {
  set_safe_handlers(self, "executor");
  auto& st = self->state;
  st.self = self;
  st.router = std::move(router);
  st.executor = std::move(executor);
  st.driver = std::make_unique<ExecutorDriver>(self, std::move(options));
  if (adopt) {
    st.start_pooled(std::move(pool_token), std::move(adopt));
  }
  self->set_default_handler([](caf::scheduled_actor* s, caf::message_view& x) -> caf::result<caf::message> {
    auto& state = static_cast<executor_actor*>(s)->state;
    caf::message msg = x.move_content_to_message();
    state.executor->unhandled(*state.driver, msg);
    if (s->current_message_id().is_request()) {
      return caf::sec::unexpected_message;
    }
    return caf::message{};
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.slave && dm.source == st.slave.address()) {
      st.on_slave_down(dm.reason);
    }
  });
  st.deadline = caf::make_timestamp() + st.options().registration_timeout;
  st.resolve();
  return {
      [self](ExecutorRegisteredMessage& m) { self->state.on_registered(m); },
      [self](AdoptExecutorMessage& m) { self->state.on_adopt(m); },
      [self](ExecutorReregisteredMessage& m) { self->state.on_reregistered(m); },
      [self](RunTaskMessage& m) { self->state.on_run_task(m); },
      [self](KillTaskMessage& m) {
        std::optional<KillPolicy> policy;
        if (m.has_kill_policy()) {
          policy = m.kill_policy();
        }
        self->state.executor->kill_task(*self->state.driver, m.task_id(), policy);
      },
      [self](ShutdownExecutorMessage&) { self->state.on_shutdown(); },
      [self](StatusUpdateAcknowledgementMessage& m) { self->state.on_ack(m); },
      [self](FrameworkToExecutorMessage& m) { self->state.executor->framework_message(*self->state.driver, m.data()); },
      [self](retry_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.send_registration();
        }
      },
      [self](resolve_atom) {
        if (self->current_sender() == self->ctrl() && !self->state.slave) {
          self->state.resolve();
        }
      },
      [self](resend_atom, const std::string& uuid) { self->state.on_resend(uuid); },
      [self](executor_timer_atom, uint64_t id) { self->state.on_timer(id); },
      [self](rereg_retry_atom, uint64_t loss) {
        if (self->current_sender() == self->ctrl()) {
          self->state.send_reregistration(loss);
        }
      },
      [self](recovery_timer_atom, uint64_t loss) {
        if (self->current_sender() == self->ctrl()) {
          self->state.on_recovery_timeout(loss);
        }
      },
      [self](grace_timer_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.on_grace_over();
        }
      },
  };
}

}  // namespace

caf::actor spawn_executor(Runtime& runtime, ExecutorOptions options, std::unique_ptr<Executor> executor) {
  return runtime.system().spawn(executor_actor_fn, runtime.router(), std::move(options),
                                std::shared_ptr<Executor>(std::move(executor)), std::string(), AdoptContainer());
}

caf::actor spawn_pooled_executor(Runtime& runtime, PooledExecutorOptions pooled, AdoptContainer adopt,
                                 std::unique_ptr<Executor> executor) {
  ExecutorOptions options;
  options.slave_pid = std::move(pooled.slave_pid);
  options.slave_actor_port = pooled.slave_actor_port;
  return runtime.system().spawn(executor_actor_fn, runtime.router(), std::move(options),
                                std::shared_ptr<Executor>(std::move(executor)), std::move(pooled.token),
                                std::move(adopt));
}

caf::error await_executor(Runtime& runtime, const caf::actor& actor) {
  caf::scoped_actor self{runtime.system()};
  self->monitor(actor);
  bool done = false;
  caf::error reason;
  while (!done) {
    self->receive([&](caf::down_msg& dm) {
      if (dm.source == actor.address()) {
        done = true;
        reason = std::move(dm.reason);
      }
    });
  }
  return reason;
}

}  // namespace stoa
