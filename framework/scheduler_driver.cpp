// The scheduler driver actor: master resolution, (re)subscription with
// backoff, implicit acknowledgements, framework_id stamping (see
// framework/scheduler.hpp for the contract).

#include <pwd.h>
#include <unistd.h>

#include <algorithm>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/master_detector.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "actors/send_batch.hpp"
#include "actors/upid.hpp"
#include "common/logging.hpp"
#include "common/uuid.hpp"
#include "framework/scheduler.hpp"

namespace stoa {

namespace {

using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;
constexpr reconnect_atom reconnect_atom_v{};
using abort_atom = caf::atom_constant<caf::atom("abort")>;
constexpr abort_atom abort_atom_v{};

using scheduler::Call;
using scheduler::Event;

struct driver_state {
  static inline const char* name = "scheduler-driver";

  SchedulerOptions options;
  caf::actor router;
  caf::actor sink;
  std::string pid;          // our UPID, "scheduler-<uuid>@ip:port"
  std::string id;           // "scheduler-<uuid>"
  std::string master_upid;  // "master@host:port"

  caf::actor master;  // set while resolved (monitored)
  // Following a detected leader: the detector whose reports count (empty
  // for a fixed master), and whether a leader is known (master_upid).
  caf::actor detector;
  bool following = false;
  bool leader_known = false;
  std::optional<FrameworkID> framework_id;
  bool force = false;       // the next SUBSCRIBE carries force=true
  bool subscribed = false;  // SUBSCRIBED received from the current master
  // Bumped whenever pending retry/reconnect timers must be ignored.
  uint64_t generation = 0;
  std::chrono::milliseconds subscribe_backoff{0};
  std::chrono::milliseconds resolve_backoff{0};
  // While an Events batch is handled: its implicit acknowledgements, sent
  // after it in one Calls message.
  std::optional<scheduler::Calls> ack_batch;
};

using driver_actor = caf::stateful_actor<driver_state>;

std::chrono::milliseconds doubled(std::chrono::milliseconds d, std::chrono::milliseconds cap) {
  return std::min(d * 2, cap);
}

std::string event_type_name(const Event& e) { return Event::Type_Name(e.type()); }

void schedule_reconnect(driver_actor* self);

void send_subscribe(driver_actor* self) {
  auto& st = self->state;
  Call call;
  call.set_type(Call::SUBSCRIBE);
  Call::Subscribe* sub = call.mutable_subscribe();
  *sub->mutable_framework_info() = st.options.framework_info;
  if (st.framework_id) {
    *call.mutable_framework_id() = *st.framework_id;
    *sub->mutable_framework_info()->mutable_id() = *st.framework_id;
  }
  sub->set_force(st.force);
  sub->set_pid(st.pid);
  sub->set_batched_events(st.options.batched_events);
  LOG_INFO << "Subscribing to " << st.master_upid
           << (st.framework_id ? " as framework " + st.framework_id->value() : std::string())
           << (st.force ? " (failover)" : "");
  self->send(st.master, std::move(call));
}

void on_master_resolved(driver_actor* self, caf::actor master) {
  auto& st = self->state;
  if (!master) {
    schedule_reconnect(self);
    return;
  }
  st.master = std::move(master);
  self->monitor(st.master);
  st.subscribe_backoff = st.options.subscribe_backoff;
  send_subscribe(self);
  self->delayed_send(self, st.subscribe_backoff, retry_atom_v, st.generation);
}

void resolve_master(driver_actor* self) {
  auto& st = self->state;
  if (st.following && !st.leader_known) {
    return;  // waiting for a leader
  }
  uint64_t gen = st.generation;
  self->request(st.router, RESOLVE_TIMEOUT, resolve_atom_v, st.master_upid)
      .then(
          [self, gen](const caf::actor& master) {
            if (gen != self->state.generation || self->state.master) {
              return;
            }
            on_master_resolved(self, master);
          },
          [self, gen](const caf::error& e) {
            if (gen != self->state.generation) {
              return;
            }
            LOG_WARNING << "Cannot reach master " << self->state.master_upid << ": " << self->system().render(e)
                        << "; retrying in " << self->state.resolve_backoff.count() << "ms";
            schedule_reconnect(self);
          });
}

// Resolves the master again after the current resolve backoff (which then doubles).
void schedule_reconnect(driver_actor* self) {
  auto& st = self->state;
  self->delayed_send(self, st.resolve_backoff, reconnect_atom_v, st.generation);
  st.resolve_backoff = doubled(st.resolve_backoff, st.options.resolve_backoff_max);
}

void on_subscribe_retry(driver_actor* self, uint64_t gen) {
  auto& st = self->state;
  if (gen != st.generation || st.subscribed || !st.master) {
    return;
  }
  send_subscribe(self);
  st.subscribe_backoff = doubled(st.subscribe_backoff, st.options.subscribe_backoff_max);
  self->delayed_send(self, st.subscribe_backoff, retry_atom_v, st.generation);
}

void on_master_down(driver_actor* self, const caf::down_msg& dm) {
  auto& st = self->state;
  LOG_WARNING << "Lost master " << st.master_upid << ": " << self->system().render(dm.reason);
  bool was_subscribed = st.subscribed;
  st.master = caf::actor{};
  st.subscribed = false;
  ++st.generation;
  if (was_subscribed) {
    self->send(st.sink, scheduler_disconnected_atom_v);
  }
  // Not at once: the router may still hold the dead master for a moment.
  schedule_reconnect(self);
}

// Stops talking to the current master: a new leader, or none.
void forget_master(driver_actor* self) {
  auto& st = self->state;
  if (st.master) {
    self->demonitor(st.master);
  }
  bool was_subscribed = st.subscribed;
  st.master = caf::actor{};
  st.subscribed = false;
  ++st.generation;  // pending resolutions and retries are void
  if (was_subscribed) {
    self->send(st.sink, scheduler_disconnected_atom_v);
  }
}

void on_leader(driver_actor* self, const detector::Leader& leader) {
  auto& st = self->state;
  if (leader.pid.empty()) {
    if (st.leader_known) {
      LOG_WARNING << "No leading master now (was " << st.master_upid << "); waiting for one";
      forget_master(self);
    }
    st.leader_known = false;
    return;
  }
  Try<Upid> upid = parse_upid(leader.pid);
  if (upid.is_error()) {
    LOG_WARNING << "Ignoring the detected leader '" << leader.pid << "': " << upid.error();
    return;
  }
  if (st.leader_known && upid->str() == st.master_upid) {
    return;  // the same leader (another contender came or went)
  }
  LOG_INFO << "The leading master is now " << leader.pid;
  forget_master(self);
  st.leader_known = true;
  st.master_upid = upid->str();
  st.resolve_backoff = st.options.resolve_backoff;
  resolve_master(self);
}

// Starts following the leader (once our own name resolves).
void start_detection(driver_actor* self) {
  auto& st = self->state;
  if (st.options.detector) {
    st.detector = st.options.detector;
    return;
  }
  detector::Options d;
  d.master = st.options.master;
  d.subscriber = caf::actor_cast<caf::actor>(self);
  d.session_timeout = st.options.zk_session_timeout;
  Try<caf::actor> spawned = detector::spawn_detector(self->system(), std::move(d));
  if (spawned.is_error()) {
    self->send(self, abort_atom_v, spawned.error());  // it names the value
    return;
  }
  st.detector = *spawned;  // it exits when we do (it monitors us)
}

// Tasks launched while not subscribed come back as TASK_LOST (Mesos driver).
void lose_tasks(driver_actor* self, const Call& call) {
  for (const Offer::Operation& op : call.accept().operations()) {
    if (op.type() != Offer::Operation::LAUNCH) {
      continue;
    }
    for (const TaskInfo& task : op.launch().task_infos()) {
      Event e;
      e.set_type(Event::UPDATE);
      TaskStatus* s = e.mutable_update()->mutable_status();
      *s->mutable_task_id() = task.task_id();
      *s->mutable_slave_id() = task.slave_id();
      s->set_state(TASK_LOST);
      s->set_source(TaskStatus::SOURCE_MASTER);
      s->set_reason(TaskStatus::REASON_MASTER_DISCONNECTED);
      s->set_message("Master disconnected");
      s->set_timestamp(now_seconds());
      self->send(self->state.sink, std::move(e));
    }
  }
}

void on_call(driver_actor* self, Call& call) {
  auto& st = self->state;
  if (call.type() == Call::SUBSCRIBE) {
    LOG_WARNING << "Ignoring SUBSCRIBE from the scheduler: the driver subscribes on its own";
    return;
  }
  if (!st.subscribed) {
    LOG_WARNING << "Dropping " << Call::Type_Name(call.type()) << " call: not subscribed to a master";
    if (call.type() == Call::ACCEPT) {
      lose_tasks(self, call);
    }
    return;
  }
  *call.mutable_framework_id() = *st.framework_id;
  self->send(st.master, std::move(call));
}

void acknowledge(driver_actor* self, const TaskStatus& status) {
  auto& st = self->state;
  if (!st.options.implicit_acknowledgements || !status.has_uuid() || status.uuid().empty()) {
    return;
  }
  if (!status.has_slave_id()) {
    LOG_WARNING << "Cannot acknowledge the update for task " << status.task_id().value() << ": no slave_id";
    return;
  }
  // Built where it goes: in the batch, or in a message of its own.
  Call single;
  Call& ack = st.ack_batch ? *st.ack_batch->add_calls() : single;
  ack.set_type(Call::ACKNOWLEDGE);
  *ack.mutable_framework_id() = *st.framework_id;
  Call::Acknowledge* a = ack.mutable_acknowledge();
  *a->mutable_slave_id() = status.slave_id();
  *a->mutable_task_id() = status.task_id();
  a->set_uuid(status.uuid());
  if (!st.ack_batch) {
    self->send(st.master, std::move(single));
  }
}

// Whether the message being handled, `e` or a batch of events (null),
// comes from the current master: only it speaks for the cluster (not a
// master we lost). Logs what is ignored.
bool from_current_master(driver_actor* self, const Event* e) {
  auto& st = self->state;
  if (st.master && caf::actor_cast<caf::actor_addr>(self->current_sender()) == st.master.address()) {
    return true;
  }
  LOG_WARNING << "Ignoring " << (e != nullptr ? event_type_name(*e) + " event" : std::string("a batch of events"))
              << " from "
              << (self->current_sender() ? caf::to_string(self->current_sender()->address()) : "an anonymous sender")
              << ": not the current master";
  return false;
}

// An event from the current master (REQUIRES: from_current_master).
void handle_event(driver_actor* self, Event& e) {
  auto& st = self->state;
  switch (e.type()) {
    case Event::SUBSCRIBED: {
      const FrameworkID& id = e.subscribed().framework_id();
      if (st.subscribed && st.framework_id && st.framework_id->value() == id.value()) {
        return;  // an answer to a retried SUBSCRIBE
      }
      LOG_INFO << "Subscribed to " << st.master_upid << " as framework " << id.value();
      st.framework_id = id;
      st.subscribed = true;
      st.force = false;
      ++st.generation;  // cancels the subscribe retries
      st.resolve_backoff = st.options.resolve_backoff;
      self->send(st.sink, std::move(e));
      return;
    }
    case Event::ERROR: {
      LOG_ERROR << "Master reported an error: " << e.error().message();
      self->send(st.sink, std::move(e));
      self->quit();
      return;
    }
    case Event::HEARTBEAT:
      return;
    case Event::UPDATE: {
      if (!st.subscribed) {
        break;
      }
      // Acknowledged before the event goes on (unchanged) to the scheduler:
      // the driver does not wait for the scheduler either way, and the
      // status need not be copied (#17).
      acknowledge(self, e.update().status());
      self->send(st.sink, std::move(e));
      return;
    }
    case Event::OFFERS:
    case Event::RESCIND:
    case Event::MESSAGE:
    case Event::FAILURE:
      if (!st.subscribed) {
        break;
      }
      self->send(st.sink, std::move(e));
      return;
    default:
      LOG_WARNING << "Ignoring event of unknown type " << static_cast<int>(e.type());
      return;
  }
  LOG_WARNING << "Ignoring " << event_type_name(e) << " event: not subscribed";
}

void on_event(driver_actor* self, Event& e) {
  if (from_current_master(self, &e)) {
    handle_event(self, e);
  }
}

// A batch from the master (we subscribed with batched_events): each event
// as if it came alone; the acknowledgements go back together, after it.
void on_events(driver_actor* self, scheduler::Events& events) {
  auto& st = self->state;
  if (!from_current_master(self, nullptr)) {
    return;
  }
  st.ack_batch.emplace();
  take_recycled(*st.ack_batch);
  for (Event& e : *events.mutable_events()) {
    handle_event(self, e);
  }
  scheduler::Calls acks = std::move(*st.ack_batch);
  st.ack_batch.reset();
  if (st.master) {
    send_batch(self, st.master, acks, acks.mutable_calls());
  }
  recycle(events);
}

void stop_driver(driver_actor* self, bool failover) {
  auto& st = self->state;
  if (!failover && st.subscribed) {
    Call call;
    call.set_type(Call::TEARDOWN);
    *call.mutable_framework_id() = *st.framework_id;
    self->send(st.master, std::move(call));
  }
  LOG_INFO << "Scheduler driver stopping" << (failover ? " (failover)" : "");
  self->quit();
}

caf::behavior scheduler_driver(driver_actor* self, SchedulerOptions options, caf::actor router, caf::actor sink,
                               std::string id, std::string pid) {
  set_safe_handlers(self, "scheduler-driver");
  auto& st = self->state;
  st.options = std::move(options);
  st.router = std::move(router);
  st.sink = std::move(sink);
  st.id = std::move(id);
  st.pid = std::move(pid);
  st.subscribe_backoff = st.options.subscribe_backoff;
  st.resolve_backoff = st.options.resolve_backoff;
  st.framework_id = st.options.framework_id;
  st.force = st.options.framework_id.has_value();

  FrameworkInfo& info = st.options.framework_info;
  info.clear_id();
  // The user and hostname were filled in by spawn_scheduler_driver(), in the
  // caller: their lookups block and this runs on a CAF worker thread.

  std::optional<std::string> problem;
  st.following = st.options.detector || detector::is_detected(st.options.master);
  if (st.following) {
    if (!st.options.detector) {
      if (std::optional<std::string> bad = detector::check_master(st.options.master)) {
        problem = *bad;  // it names the value
      }
    }
  } else {
    Try<Upid> master = parse_master_address(st.options.master);
    if (master.is_error()) {
      problem = "Invalid master address '" + st.options.master + "': " + master.error();
    } else {
      st.master_upid = master->str();
    }
  }
  if (info.name().empty()) {
    problem = "FrameworkInfo.name must be set";
  }

  self->monitor(st.sink);
  self->set_down_handler([self](caf::down_msg& dm) {
    if (self->state.master && dm.source == self->state.master.address()) {
      on_master_down(self, dm);
    } else if (dm.source == self->state.sink.address()) {
      LOG_INFO << "Scheduler driver stopping: its scheduler exited";
      self->quit();
    }
  });

  if (problem) {
    self->send(self, abort_atom_v, *problem);
  } else {
    // Name ourselves first, so the pid we send the master resolves.
    auto next = [self] {
      if (self->state.following) {
        start_detection(self);
      } else {
        resolve_master(self);
      }
    };
    self->request(st.router, RESOLVE_TIMEOUT, register_atom_v, st.id, caf::actor_cast<caf::actor>(self))
        .then([next] { next(); },
              [self, next](const caf::error& e) {
                LOG_WARNING << "Cannot register " << self->state.id << ": " << self->system().render(e);
                next();
              });
  }

  return {
      [self](Call& call) { on_call(self, call); },
      [self](Event& e) { on_event(self, e); },
      [self](scheduler::Events& e) { on_events(self, e); },
      [self](retry_atom, uint64_t gen) { on_subscribe_retry(self, gen); },
      [self](detector::leader_atom, const detector::Leader& leader) {
        auto& st = self->state;
        if (!st.detector || self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(st.detector)) {
          LOG_WARNING << "Ignoring a leader report from "
                      << (self->current_sender() ? caf::to_string(self->current_sender()->address())
                                                 : std::string("an anonymous sender"))
                      << ": not the driver's master detector";
          return;
        }
        on_leader(self, leader);
      },
      [self](reconnect_atom, uint64_t gen) {
        if (gen == self->state.generation && !self->state.master) {
          resolve_master(self);
        }
      },
      [self](stop_atom) { stop_driver(self, false); },
      [self](stop_atom, bool failover) { stop_driver(self, failover); },
      [self](abort_atom, const std::string& message) {
        LOG_ERROR << message;
        Event e;
        e.set_type(Event::ERROR);
        e.mutable_error()->set_message(message);
        self->send(self->state.sink, std::move(e));
        self->quit();
      },
  };
}

}  // namespace

std::string current_user() {
  if (struct passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_name != nullptr) {
    return pw->pw_name;
  }
  if (const char* user = ::getenv("USER"); user != nullptr && *user != '\0') {
    return user;
  }
  return "root";
}

void fill_in_user_and_hostname(FrameworkInfo& info) {
  if (info.user().empty()) {
    info.set_user(current_user());
  }
  if (info.hostname().empty()) {
    char host[256] = {0};
    if (::gethostname(host, sizeof(host) - 1) == 0) {
      info.set_hostname(host);
    }
  }
}

caf::actor spawn_scheduler_driver(Runtime& runtime, SchedulerOptions options, caf::actor sink) {
  fill_in_user_and_hostname(options.framework_info);
  std::string id = "scheduler-" + random_uuid();
  std::string pid = runtime.upid(id).str();
  return runtime.system().spawn(scheduler_driver, std::move(options), runtime.router(), std::move(sink),
                                std::move(id), std::move(pid));
}

}  // namespace stoa
