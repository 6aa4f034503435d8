#include "master/allocator_actor.hpp"

#include <caf/all.hpp>

#include "actors/safety.hpp"
#include "common/logging.hpp"
#include "common/metrics.hpp"

namespace stoa::allocator {

namespace {

std::string error_text(const std::optional<Error>& e) {
  return e ? (e->message.empty() ? std::string("error") : e->message) : std::string();
}

struct AllocatorState {
  AllocatorState() = default;  // CAF default-constructs the state

  allocator_actor::stateful_pointer<AllocatorState> self = nullptr;
  std::unique_ptr<Allocator> core;
  caf::actor master;
  ActorOptions opts;
  bool pass_pending = false;
  static inline const char* name = "allocator";

  TimePoint now() const { return self->clock().now(); }

  // A pass `event_delay` from now, unless one is already due.
  void schedule_pass() {
    if (!pass_pending) {
      pass_pending = true;
      self->delayed_send(self, opts.event_delay, AllocationTick{false});
    }
  }

  void count(const char* name, double by = 1) {
    if (opts.metrics != nullptr) {
      opts.metrics->inc(name, by);
    }
  }

  void on_tick(const AllocationTick& tick) {
    if (self->current_sender() != self->ctrl()) {
      count("allocator/dropped_messages");
      LOG_WARNING << "Dropping an allocation tick that the allocator did not send itself";
      return;
    }
    if (tick.periodic) {
      self->delayed_send(self, core->options().allocation_interval, AllocationTick{true});
    } else {
      pass_pending = false;
    }
    auto start = std::chrono::steady_clock::now();
    Allocations out = core->allocate(now());
    auto took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
    if (opts.metrics != nullptr) {
      Stats st = core->counters();  // not stats(): that sums every slave's resources
      opts.metrics->set("allocator/mesos/allocation_runs", static_cast<double>(st.allocation_runs));
      opts.metrics->set("allocator/mesos/allocation_run_ms", took.count());
      opts.metrics->set("allocator/mesos/offers_made", static_cast<double>(st.offers_made));
      opts.metrics->set("allocator/mesos/offer_filters/active", static_cast<double>(st.filters));
    }
    if (opts.check_invariants) {
      if (std::optional<Error> e = core->check_invariants()) {
        LOG_ERROR << "Allocator invariant violated: " << e->message;
        count("master/invariant_violations");
      }
    }
    // Sent even when empty: the master uses the message as the sign that a
    // pass completed (invariant checks, tests).
    // A typed actor may not send() to an untyped one; enqueue with
    // ourselves as the sender, which the master checks.
    master->enqueue(caf::actor_cast<caf::strong_actor_ptr>(self), caf::make_message_id(),
                    caf::make_message(offers_atom_v, std::move(out)), self->context());
  }

  View view(const GetView& req) const {
    View v;
    v.roles = core->roles();
    v.weights = core->weights();
    v.quotas = core->quotas();
    v.stats = core->stats();
    for (const std::string& id : req.slaves) {
      if (std::optional<Resources> r = core->available(id)) {
        v.available.emplace(id, std::move(*r));
      }
    }
    if (req.check) {
      if (std::optional<Error> e = core->check_invariants()) {
        v.invariant_error = e->message;
      }
    }
    return v;
  }
};

using state_pointer = allocator_actor::stateful_pointer<AllocatorState>;

allocator_actor::behavior_type allocator_behavior(state_pointer self, std::shared_ptr<std::unique_ptr<Allocator>> core,
                                                  caf::actor master, ActorOptions opts) {
  AllocatorState& s = self->state;
  s.self = self;
  s.core = std::move(*core);
  s.master = std::move(master);
  s.opts = opts;
  set_safe_handlers(self, "allocator");
  self->send(self, AllocationTick{true});
  return {
      [self](const AddFramework& m) {
        if (std::optional<Error> e = self->state.core->add_framework(m.id, m.roles, m.used, m.active)) {
          // The master validates roles first; reaching this is a bug there.
          LOG_ERROR << "Allocator refused framework " << m.id << ": " << e->message;
          self->state.count("allocator/refused_updates");
        }
        self->state.schedule_pass();
      },
      [self](const RemoveFramework& m) {
        self->state.core->remove_framework(m.id);
        self->state.schedule_pass();
      },
      [self](const ActivateFramework& m) {
        self->state.core->activate_framework(m.id);
        self->state.schedule_pass();
      },
      [self](const DeactivateFramework& m) { self->state.core->deactivate_framework(m.id); },
      [self](const AddSlave& m) {
        self->state.core->add_slave(m.id, m.total, m.used);
        self->state.schedule_pass();
      },
      [self](const RemoveSlave& m) { self->state.core->remove_slave(m.id); },
      [self](const ActivateSlave& m) {
        self->state.core->activate_slave(m.id);
        self->state.schedule_pass();
      },
      [self](const DeactivateSlave& m) { self->state.core->deactivate_slave(m.id); },
      [self](const RecoverResources& m) {
        self->state.core->recover_resources(m.framework_id, m.slave_id, m.resources, m.refuse_seconds,
                                            self->state.now());
        self->state.schedule_pass();
      },
      [self](const SuppressOffers& m) { self->state.core->suppress(m.framework_id, m.roles); },
      [self](const ReviveOffers& m) {
        self->state.core->revive(m.framework_id, m.roles);
        self->state.schedule_pass();
      },
      [self](const UpdateWeights& m) -> std::string {
        std::string err = error_text(self->state.core->update_weights(m.weights));
        if (err.empty()) {
          self->state.schedule_pass();
        }
        return err;
      },
      [self](const SetQuota& m) -> std::string {
        std::string err = error_text(self->state.core->set_quota(m.role, m.guarantee));
        if (err.empty()) {
          self->state.schedule_pass();
        }
        return err;
      },
      [self](const RemoveQuota& m) -> std::string {
        if (!self->state.core->quotas().count(m.role)) {
          return "No quota is set for role '" + m.role + "'";
        }
        self->state.core->remove_quota(m.role);
        self->state.schedule_pass();
        return {};
      },
      [self](const GetView& m) -> View { return self->state.view(m); },
      [self](const AllocationTick& t) { self->state.on_tick(t); },
  };
}

}  // namespace

allocator_actor spawn_allocator(caf::actor_system& sys, std::unique_ptr<Allocator> core, caf::actor master,
                                ActorOptions opts) {
  auto holder = std::make_shared<std::unique_ptr<Allocator>>(std::move(core));
  // Detached: a pass is long CPU work. On a worker of the shared pool it
  // would also hold up whatever got queued behind it on that worker (the
  // master, woken by the pass' own offers, first of all) until another
  // worker stole it; on its own thread it delays nothing.
  if (opts.detached) {
    return sys.spawn<caf::detached>(allocator_behavior, holder, std::move(master), opts);
  }
  return sys.spawn(allocator_behavior, holder, std::move(master), opts);
}

void declare_allocator_metrics(metrics::Registry& r) {
  r.gauge("allocator/mesos/allocation_runs", "Allocation passes run so far");
  r.gauge("allocator/mesos/allocation_run_ms", "Duration of the latest allocation pass in milliseconds");
  r.gauge("allocator/mesos/offers_made", "Offers (slave, framework, role) made by the allocator so far");
  r.gauge("allocator/mesos/offer_filters/active", "Refusal filters currently held");
  r.counter("allocator/dropped_messages", "Timer messages to the allocator not sent by itself");
  r.counter("allocator/refused_updates", "Updates the allocator refused (a master bug when non-zero)");
}

}  // namespace stoa::allocator
