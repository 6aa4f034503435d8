// The executor side of the SDK: one actor that resolves the slave, registers,
// turns the slave's messages into Executor callbacks and keeps status updates
// until they are acknowledged (see framework/executor.hpp for the contract).

#include "framework/executor.hpp"

#include <algorithm>
#include <cstdlib>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "common/flags.hpp"
#include "common/logging.hpp"
#include "common/uuid.hpp"

namespace stoa {

namespace {

using executor_timer_atom = caf::atom_constant<caf::atom("exec_tmr")>;
constexpr executor_timer_atom executor_timer_atom_v{};
using resend_atom = caf::atom_constant<caf::atom("resend")>;
constexpr resend_atom resend_atom_v{};

using namespace internal;

std::string getenv_or(const char* name, const char* def = "") {
  const char* v = std::getenv(name);
  return v != nullptr ? v : def;
}

}  // namespace

// ---------------------------------------------------------------------------
// ExecutorOptions

Try<ExecutorOptions> ExecutorOptions::from_environment() {
  ExecutorOptions o;
  o.slave_pid = getenv_or("STOA_SLAVE_PID");
  o.framework_id.set_value(getenv_or("STOA_FRAMEWORK_ID"));
  o.executor_id.set_value(getenv_or("STOA_EXECUTOR_ID"));
  o.directory = getenv_or("STOA_DIRECTORY");
  o.ip = getenv_or("STOA_EXECUTOR_IP", "127.0.0.1");
  std::string timeout = getenv_or("STOA_EXECUTOR_REGISTRATION_TIMEOUT", "");
  if (!timeout.empty()) {
    Try<std::chrono::nanoseconds> d = parse_duration(timeout);
    if (d.is_error() || d->count() <= 0) {
      return Error("invalid STOA_EXECUTOR_REGISTRATION_TIMEOUT '" + timeout + "'" +
                   (d.is_error() ? ": " + d.error() : std::string(": must be positive")));
    }
    o.registration_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  std::string actor_port = getenv_or("STOA_SLAVE_ACTOR_PORT", "0");
  char* end = nullptr;
  unsigned long port = std::strtoul(actor_port.c_str(), &end, 10);
  if (actor_port.empty() || *end != '\0' || port > 65535) {
    return Error("invalid STOA_SLAVE_ACTOR_PORT '" + actor_port + "'");
  }
  o.slave_actor_port = static_cast<uint16_t>(port);
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

  caf::event_based_actor* self = nullptr;
  caf::actor router;
  std::shared_ptr<Executor> executor;
  std::unique_ptr<ExecutorDriver> driver;
  caf::actor slave;  // set once resolved (monitored)
  int attempts = 0;

  const ExecutorOptions& options() const { return driver->options_; }

  void fail(const std::string& message) {
    LOG_ERROR << message;
    executor->error(*driver, message);
    self->quit();
  }

  // Resolving the slave and registering with it are retried (a busy slave
  // may not accept the connection at once) until `registration_timeout`
  // after start; only then does the executor give up.
  caf::timestamp deadline;
  std::chrono::milliseconds resolve_backoff = std::chrono::milliseconds(50);

  bool past_deadline() const { return caf::make_timestamp() >= deadline; }

  void resolve() {
    auto on_slave = [this](const caf::actor& s) {
      if (!s) {
        retry_resolve("the slave's process has no actor " + options().slave_pid);
        return;
      }
      LOG_INFO << "Resolved slave " << options().slave_pid;
      slave = s;
      self->monitor(slave);
      // Updates sent before the slave was known go out now, in order.
      for (const StatusUpdate& u : driver->unacked_) {
        send_update(u);
      }
      send_registration();
    };
    auto on_error = [this](const caf::error& e) { retry_resolve(self->system().render(e)); };
    auto timeout = std::min<caf::timespan>(RESOLVE_TIMEOUT, std::max<caf::timespan>(
        deadline - caf::make_timestamp(), std::chrono::milliseconds(100)));
    if (options().slave_actor_port != 0) {
      self->request(router, timeout, resolve_atom_v, options().slave_pid, options().slave_actor_port)
          .then(on_slave, on_error);
    } else {
      self->request(router, timeout, resolve_atom_v, options().slave_pid).then(on_slave, on_error);
    }
  }

  void retry_resolve(const std::string& why) {
    if (past_deadline()) {
      fail("Cannot reach the slave " + options().slave_pid + " within the registration timeout (" +
           std::to_string(options().registration_timeout.count()) + " ms): " + why);
      return;
    }
    LOG_WARNING << "Cannot reach the slave " << options().slave_pid << " yet (" << why << "); retrying in "
                << resolve_backoff.count() << " ms";
    self->delayed_send(self, resolve_backoff, resolve_atom_v);
    resolve_backoff = std::min(resolve_backoff * 2, std::chrono::milliseconds(1000));
  }

  void send_registration() {
    if (driver->registered() || !slave) {
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

  void send_update(const StatusUpdate& u) {
    if (!slave) {
      return;  // sent once the slave is resolved
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
    if (slave) {
      LOG_WARNING << "Re-sending the unacknowledged " << TaskState_Name(it->status().state()) << " update of task "
                  << it->status().task_id().value();
      send_update(*it);
    }
    self->delayed_send(self, options().status_update_retry, resend_atom_v, uuid);
  }

  void on_registered(ExecutorRegisteredMessage& m) {
    if (driver->registered()) {
      return;  // an answer to a retried registration
    }
    LOG_INFO << "Registered with slave " << m.slave_id().value();
    driver->slave_id_ = m.slave_id();
    executor->registered(*driver, m.executor_info(), m.framework_info(), m.slave_info());
  }

  void on_ack(StatusUpdateAcknowledgementMessage& m) {
    auto& unacked = driver->unacked_;
    auto it =
        std::find_if(unacked.begin(), unacked.end(), [&](const StatusUpdate& u) { return u.uuid() == m.uuid(); });
    if (it == unacked.end()) {
      return;  // a duplicate acknowledgement
    }
    unacked.erase(it);
    executor->acknowledged(*driver, m.task_id(), m.uuid());
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
                                std::shared_ptr<Executor> executor) {
  set_safe_handlers(self, "executor");
  auto& st = self->state;
  st.self = self;
  st.router = std::move(router);
  st.executor = std::move(executor);
  st.driver = std::make_unique<ExecutorDriver>(self, std::move(options));
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
      LOG_WARNING << "Lost the slave " << st.options().slave_pid << ": " << self->system().render(dm.reason);
      st.executor->disconnected(*st.driver);
      self->quit();
    }
  });
  st.deadline = caf::make_timestamp() + st.options().registration_timeout;
  st.resolve();
  return {
      [self](ExecutorRegisteredMessage& m) { self->state.on_registered(m); },
      [self](RunTaskMessage& m) { self->state.executor->launch_task(*self->state.driver, m.task()); },
      [self](KillTaskMessage& m) {
        std::optional<KillPolicy> policy;
        if (m.has_kill_policy()) {
          policy = m.kill_policy();
        }
        self->state.executor->kill_task(*self->state.driver, m.task_id(), policy);
      },
      [self](ShutdownExecutorMessage&) { self->state.executor->shutdown(*self->state.driver); },
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
  };
}

}  // namespace

caf::actor spawn_executor(Runtime& runtime, ExecutorOptions options, std::unique_ptr<Executor> executor) {
  return runtime.system().spawn(executor_actor_fn, runtime.router(), std::move(options),
                                std::shared_ptr<Executor>(std::move(executor)));
}

void await_executor(Runtime& runtime, const caf::actor& actor) {
  caf::scoped_actor self{runtime.system()};
  self->monitor(actor);
  bool done = false;
  while (!done) {
    self->receive([&](caf::down_msg& dm) { done = dm.source == actor.address(); });
  }
}

}  // namespace stoa
