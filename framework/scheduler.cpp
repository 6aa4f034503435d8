// The class API over the scheduler driver: an adapter actor that turns Events
// into Scheduler callbacks, and SchedulerDriver, which turns calls into Call
// messages to the driver actor.

#include "framework/scheduler.hpp"

#include <pthread.h>
#include <signal.h>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "common/logging.hpp"

namespace stoa {

namespace {

using scheduler_timer_atom = caf::atom_constant<caf::atom("sched_tmr")>;
constexpr scheduler_timer_atom scheduler_timer_atom_v{};

// How often await_scheduler() looks for pending signals.
constexpr auto SIGNAL_POLL_INTERVAL = std::chrono::milliseconds(50);

using scheduler::Call;
using scheduler::Event;

}  // namespace

// ---------------------------------------------------------------------------
// SchedulerDriver: each method sends one Call to the driver actor.

void SchedulerDriver::send(Call call) { self_->send(driver_, std::move(call)); }

void SchedulerDriver::launch(const std::vector<OfferID>& offer_ids, const std::vector<TaskInfo>& tasks,
                             const Filters& filters) {
  Offer::Operation op;
  op.set_type(Offer::Operation::LAUNCH);
  for (const TaskInfo& t : tasks) {
    *op.mutable_launch()->add_task_infos() = t;
  }
  accept(offer_ids, {op}, filters);
}

void SchedulerDriver::accept(const std::vector<OfferID>& offer_ids, const std::vector<Offer::Operation>& operations,
                             const Filters& filters) {
  Call call;
  call.set_type(Call::ACCEPT);
  Call::Accept* a = call.mutable_accept();
  for (const OfferID& id : offer_ids) {
    *a->add_offer_ids() = id;
  }
  for (const Offer::Operation& op : operations) {
    *a->add_operations() = op;
  }
  *a->mutable_filters() = filters;
  send(std::move(call));
}

void SchedulerDriver::decline(const OfferID& offer_id, const Filters& filters) {
  Call call;
  call.set_type(Call::DECLINE);
  *call.mutable_decline()->add_offer_ids() = offer_id;
  *call.mutable_decline()->mutable_filters() = filters;
  send(std::move(call));
}

void SchedulerDriver::kill(const TaskID& task_id, const std::optional<SlaveID>& slave_id) {
  Call call;
  call.set_type(Call::KILL);
  *call.mutable_kill()->mutable_task_id() = task_id;
  if (slave_id) {
    *call.mutable_kill()->mutable_slave_id() = *slave_id;
  }
  send(std::move(call));
}

void SchedulerDriver::acknowledge(const SlaveID& slave_id, const TaskID& task_id, const std::string& uuid) {
  Call call;
  call.set_type(Call::ACKNOWLEDGE);
  *call.mutable_acknowledge()->mutable_slave_id() = slave_id;
  *call.mutable_acknowledge()->mutable_task_id() = task_id;
  call.mutable_acknowledge()->set_uuid(uuid);
  send(std::move(call));
}

void SchedulerDriver::reconcile(const std::vector<TaskStatus>& statuses) {
  Call call;
  call.set_type(Call::RECONCILE);
  Call::Reconcile* r = call.mutable_reconcile();
  for (const TaskStatus& s : statuses) {
    Call::Reconcile::Task* t = r->add_tasks();
    *t->mutable_task_id() = s.task_id();
    if (s.has_slave_id()) {
      *t->mutable_slave_id() = s.slave_id();
    }
  }
  send(std::move(call));
}

void SchedulerDriver::revive() {
  Call call;
  call.set_type(Call::REVIVE);
  call.mutable_revive();
  send(std::move(call));
}

void SchedulerDriver::suppress() {
  Call call;
  call.set_type(Call::SUPPRESS);
  call.mutable_suppress();
  send(std::move(call));
}

void SchedulerDriver::teardown() {
  Call call;
  call.set_type(Call::TEARDOWN);
  send(std::move(call));
}

void SchedulerDriver::send_message(const SlaveID& slave_id, const ExecutorID& executor_id, const std::string& data) {
  Call call;
  call.set_type(Call::MESSAGE);
  *call.mutable_message()->mutable_slave_id() = slave_id;
  *call.mutable_message()->mutable_executor_id() = executor_id;
  call.mutable_message()->set_data(data);
  send(std::move(call));
}

void SchedulerDriver::stop(bool failover) { self_->send(driver_, stop_atom_v, failover); }

uint64_t SchedulerDriver::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  uint64_t id = timers_.add(std::move(fn));
  self_->delayed_send(self_, delay, scheduler_timer_atom_v, id);
  return id;
}

void SchedulerDriver::cancel(uint64_t timer_id) { timers_.cancel(timer_id); }

// ---------------------------------------------------------------------------
// The adapter actor.

struct scheduler_adapter_state {
  static inline const char* name = "scheduler";

  std::shared_ptr<Scheduler> scheduler;
  std::unique_ptr<SchedulerDriver> driver;

  void on_event(Event& e) {
    Scheduler& s = *scheduler;
    SchedulerDriver& d = *driver;
    switch (e.type()) {
      case Event::SUBSCRIBED:
        d.framework_id_ = e.subscribed().framework_id();
        s.subscribed(d, e.subscribed().framework_id(), e.subscribed().master_info());
        return;
      case Event::OFFERS:
        s.offers(d, std::vector<Offer>(e.offers().offers().begin(), e.offers().offers().end()));
        return;
      case Event::RESCIND:
        s.rescind(d, e.rescind().offer_id());
        return;
      case Event::UPDATE:
        s.update(d, e.update().status());
        return;
      case Event::MESSAGE:
        s.message(d, e.message().slave_id(), e.message().executor_id(), e.message().data());
        return;
      case Event::FAILURE: {
        const Event::Failure& f = e.failure();
        s.failure(d, f.has_slave_id() ? std::optional<SlaveID>(f.slave_id()) : std::nullopt,
                  f.has_executor_id() ? std::optional<ExecutorID>(f.executor_id()) : std::nullopt,
                  f.has_status() ? std::optional<int>(f.status()) : std::nullopt);
        return;
      }
      case Event::ERROR:
        s.error(d, e.error().message());
        return;
      default:
        return;
    }
  }

  void on_timer(uint64_t id) { driver->timers_.fire(id); }
};

namespace {

using adapter_actor = caf::stateful_actor<scheduler_adapter_state>;

caf::behavior scheduler_adapter(adapter_actor* self, Runtime* runtime, SchedulerOptions options,
                                std::shared_ptr<Scheduler> scheduler) {
  set_safe_handlers(self, "scheduler");
  auto& st = self->state;
  st.scheduler = std::move(scheduler);
  caf::actor driver = spawn_scheduler_driver(*runtime, std::move(options), caf::actor_cast<caf::actor>(self));
  self->monitor(driver);
  st.driver = std::make_unique<SchedulerDriver>(self, driver);
  self->set_down_handler([self](caf::down_msg& dm) {
    if (dm.source == self->state.driver->driver().address()) {
      self->state.scheduler->stopped();
      self->quit();
    }
  });
  st.scheduler->started(*st.driver);
  return {
      [self](Event& e) { self->state.on_event(e); },
      [self](scheduler_disconnected_atom) { self->state.scheduler->disconnected(*self->state.driver); },
      [self](scheduler_signal_atom, int signo) { self->state.scheduler->signaled(*self->state.driver, signo); },
      [self](scheduler_timer_atom, uint64_t id) { self->state.on_timer(id); },
      [self](stop_atom) { self->state.driver->stop(); },
      [self](stop_atom, bool failover) { self->state.driver->stop(failover); },
  };
}

}  // namespace

caf::actor spawn_scheduler(Runtime& runtime, SchedulerOptions options, std::unique_ptr<Scheduler> scheduler) {
  // Here, in the caller: the adapter spawns the driver from a CAF worker thread.
  fill_in_user_and_hostname(options.framework_info);
  return runtime.system().spawn(scheduler_adapter, &runtime, std::move(options),
                                std::shared_ptr<Scheduler>(std::move(scheduler)));
}

// ---------------------------------------------------------------------------
// Waiting in main.

void block_termination_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void await_scheduler(Runtime& runtime, const caf::actor& actor, bool forward_signals) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (forward_signals) {
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  caf::scoped_actor self{runtime.system()};
  self->monitor(actor);
  bool done = false;
  while (!done) {
    if (forward_signals) {
      self->receive([&](caf::down_msg& dm) { done = done || dm.source == actor.address(); },
                    caf::after(SIGNAL_POLL_INTERVAL) >> [] {});
      timespec zero{0, 0};
      int signo = 0;
      while (!done && (signo = sigtimedwait(&set, nullptr, &zero)) > 0) {
        LOG_INFO << "Received signal " << signo;
        self->send(actor, scheduler_signal_atom_v, signo);
      }
    } else {
      self->receive([&](caf::down_msg& dm) { done = done || dm.source == actor.address(); });
    }
  }
}

}  // namespace stoa
