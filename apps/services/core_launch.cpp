// The framework side of the services core: subscription, offers and the
// launch queue (with backoff), task status updates, timeouts and
// reconciliation. Facts: marathon.md §2-§4.

#include <algorithm>
#include <cmath>
#include <utility>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "apps/services/core_internal.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"

namespace stoa::services {

namespace {

// A KILL not followed by a terminal update is sent again after this.
constexpr Timestamp CORE_KILL_RETRY_MS = 10'000;

bool core_limit_worthy(TaskState s) {
  return s == TASK_FAILED || s == TASK_ERROR || s == TASK_DROPPED || s == TASK_GONE || s == TASK_FINISHED;
}

// Terminal for the services core: the master's terminal states, plus
// TASK_UNKNOWN (reconciliation: the master has never heard of it).
bool core_gone(TaskState s) { return is_terminal_state(s) || s == TASK_UNKNOWN; }

std::string core_master_address(const MasterInfo& m) {
  std::string host = m.has_hostname() && !m.hostname().empty() ? m.hostname() : m.address_ip();
  if (host.empty()) {
    uint32_t ip = m.ip();
    host = std::to_string(ip & 0xff) + "." + std::to_string((ip >> 8) & 0xff) + "." +
           std::to_string((ip >> 16) & 0xff) + "." + std::to_string((ip >> 24) & 0xff);
  }
  return host + ":" + std::to_string(m.port());
}

}  // namespace

// ---------------------------------------------------------------------------
// Subscription.

void CoreState::start_driver() {
  SchedulerOptions so;
  so.master = options.master;
  so.zk_session_timeout = options.zk_session_timeout;
  so.framework_info = framework_info_;
  if (framework_id_) {
    FrameworkID id;
    id.set_value(*framework_id_);
    so.framework_id = id;
  }
  driver_ = spawn_scheduler_driver(*runtime, std::move(so), caf::actor_cast<caf::actor>(self));
  self->monitor(driver_);
  calls_ = std::make_unique<SchedulerDriver>(self, driver_);
}

void CoreState::on_event(scheduler::Event& e) {
  if (!leading_ || !calls_ || self->current_sender() != driver_.address()) {
    return;
  }
  switch (e.type()) {
    case scheduler::Event::SUBSCRIBED:
      on_subscribed(e.subscribed());
      return;
    case scheduler::Event::OFFERS:
      on_offers(std::vector<Offer>(e.offers().offers().begin(), e.offers().offers().end()));
      return;
    case scheduler::Event::UPDATE:
      on_update(e.update().status());
      return;
    case scheduler::Event::ERROR:
      LOG_ERROR << "The master refused the framework: " << e.error().message();
      return;
    default:
      return;
  }
}

void CoreState::on_subscribed(const scheduler::Event::Subscribed& s) {
  bool had_id = framework_id_.has_value();
  const std::string& id = s.framework_id().value();
  master_address_ = s.has_master_info() ? core_master_address(s.master_info()) : std::string();
  subscribed_ = true;
  suppressed_ = false;
  wanted_before_ = false;
  LOG_INFO << "Subscribed as framework " << id << " to " << master_address_;
  if (!framework_id_ || *framework_id_ != id) {
    framework_id_ = id;
    persist({StoreOp{StoreOp::PUT, "framework-id", id}});
  }
  publish_scheduler_registered(had_id);
  reconcile_explicitly();
  if (!reconcile_timer_armed_) {
    reconcile_timer_armed_ = true;
    self->delayed_send(self, options.reconciliation_initial_delay, core_reconcile_atom_v);
  }
  update_offer_interest();
}

void CoreState::on_disconnected() {
  if (!subscribed_) {
    return;
  }
  subscribed_ = false;
  LOG_WARNING << "Disconnected from the master " << master_address_;
  publish_scheduler_disconnected();
}

void CoreState::reconcile_explicitly() {
  std::vector<TaskStatus> statuses;
  for (const auto& [id, i] : instances_) {
    TaskStatus s;
    s.mutable_task_id()->set_value(id);
    s.set_state(TASK_STAGING);
    if (!i.slave_id.empty()) {
      s.mutable_slave_id()->set_value(i.slave_id);
    }
    statuses.push_back(std::move(s));
  }
  if (!statuses.empty()) {
    LOG_INFO << "Reconciling " << statuses.size() << " tasks";
    calls_->reconcile(statuses);
  }
}

void CoreState::on_reconcile_timer() {
  if (subscribed_ && calls_) {
    calls_->reconcile({});  // implicit: the master reports every task of ours
  }
  self->delayed_send(self, options.reconciliation_interval, core_reconcile_atom_v);
}

// ---------------------------------------------------------------------------
// The launch queue.

bool CoreState::inactive_unreachable(const Instance& i, const App& app) const {
  if (i.state != "TASK_UNREACHABLE" || app.unreachable_strategy.disabled) {
    return false;
  }
  auto it = unreachable_since_.find(i.task_id);
  Timestamp since = it == unreachable_since_.end() ? 0 : it->second;
  return now_ms() - since >= static_cast<Timestamp>(app.unreachable_strategy.inactive_after_seconds) * 1000;
}

Instance& CoreState::add_instance(Instance i) {
  std::string id = i.task_id;
  erase_instance(id);  // a replaced instance may have had another app
  std::string app_id = i.app_id;
  Instance& slot = instances_[id] = std::move(i);
  instances_by_app_[app_id][id] = &slot;
  return slot;
}

void CoreState::erase_instance(const std::string& task_id) {
  auto it = instances_.find(task_id);
  if (it == instances_.end()) {
    return;
  }
  auto by_app = instances_by_app_.find(it->second.app_id);
  if (by_app != instances_by_app_.end()) {
    by_app->second.erase(task_id);
    if (by_app->second.empty()) {
      instances_by_app_.erase(by_app);
    }
  }
  instances_.erase(it);
}

std::vector<Instance*> CoreState::instances_of(const std::string& app_id) {
  std::vector<Instance*> out;
  auto by_app = instances_by_app_.find(app_id);
  if (by_app != instances_by_app_.end()) {
    out.reserve(by_app->second.size());
    for (const auto& [id, i] : by_app->second) {
      out.push_back(i);
    }
  }
  return out;
}

std::vector<const Instance*> CoreState::instances_of(const std::string& app_id) const {
  std::vector<const Instance*> out;
  auto by_app = instances_by_app_.find(app_id);
  if (by_app != instances_by_app_.end()) {
    out.reserve(by_app->second.size());
    for (const auto& [id, i] : by_app->second) {
      out.push_back(i);
    }
  }
  return out;
}

std::vector<const Instance*> CoreState::counted_instances(const std::string& app_id) const {
  std::vector<const Instance*> out;
  const App* a = app(app_id);
  for (const Instance* i : instances_of(app_id)) {
    if (i->active() && i->goal == Goal::RUNNING && (a == nullptr || !inactive_unreachable(*i, *a))) {
      out.push_back(i);
    }
  }
  return out;
}

int CoreState::wanted_launches(const std::string& app_id) const {
  const App* a = app(app_id);
  if (a == nullptr) {
    return 0;
  }
  auto b = backoffs_.find(app_id);
  if (b != backoffs_.end() && b->second.config == a->last_config_change_at && b->second.until > now_ms()) {
    return 0;
  }
  const Deployment* d = nullptr;
  const DeploymentAction* action = current_action(app_id, &d);
  if (action == nullptr) {
    // An app whose step in a running deployment has not come yet waits for it.
    for (const Deployment* running : deployments()) {
      for (size_t k = running->current_step == 0 ? 0 : running->current_step - 1; k < running->steps.size(); ++k) {
        for (const DeploymentAction& x : running->steps[k]) {
          if (x.app == app_id) {
            return 0;
          }
        }
      }
    }
  } else if (action->action == "RestartApplication") {
    return restart_launch_budget(*a);
  }
  return std::max(0, a->instances - static_cast<int>(counted_instances(app_id).size()));
}

void CoreState::update_offer_interest() {
  if (!subscribed_ || !calls_) {
    return;
  }
  bool wanted = false;
  for (const auto& [id, a] : apps_) {
    if (wanted_launches(id) > 0) {
      wanted = true;
      break;
    }
  }
  if (wanted && !wanted_before_) {
    // Something got queued: clear the filters of earlier declines (and any suppression).
    calls_->revive();
    suppressed_ = false;
  } else if (!wanted && !suppressed_) {
    calls_->suppress();
    suppressed_ = true;
  }
  wanted_before_ = wanted;
}

void CoreState::on_offers(const std::vector<Offer>& offers) {
  Timestamp now = now_ms();
  std::vector<std::pair<std::string, int>> wants;
  for (const auto& [id, a] : apps_) {
    int n = wanted_launches(id);
    if (n > 0) {
      wants.emplace_back(id, n);
    }
  }
  // Slaves our tasks run on that sent no offer since we loaded: their hostname at least.
  for (const auto& [id, i] : instances_) {
    if (!i.slave_id.empty() && slave_fields_.count(i.slave_id) == 0) {
      slave_fields_[i.slave_id] = SlaveFields{{"hostname", i.host}, {"@hostname", i.host}};
    }
  }
  for (const Offer& offer : offers) {
    slave_fields_[offer.slave_id().value()] = offer_fields(offer);
  }
  for (const Offer& offer : offers) {
    OfferSpace space(offer);
    std::vector<TaskInfo> tasks;
    std::vector<std::string> launched;
    for (auto& [app_id, remaining] : wants) {
      if (remaining <= 0) {
        continue;  // placed on earlier offers of this batch
      }
      const App& a = apps_.at(app_id);
      QueueEntry& stats = queue_stats_[app_id];
      stats.app_id = app_id;
      if (stats.since == 0) {
        stats.since = now;
      }
      bool used = false;
      Reject last = Reject::NONE;
      while (remaining > 0) {
        std::vector<const Instance*> placed;
        for (const Instance* i : std::as_const(*this).instances_of(app_id)) {
          if (i->active() && i->app_version >= a.last_config_change_at) {
            placed.push_back(i);
          }
        }
        if (!constraints_met(a, offer, placed, slave_fields_)) {
          last = Reject::UNFULFILLED_CONSTRAINT;
          break;
        }
        PlaceOptions po;
        po.framework_name = options.framework_name;
        po.role = options.role;
        po.task_id = new_task_id(app_id);
        po.port_seed = port_rng_();
        auto result = place(a, space, po);
        if (auto* reject = std::get_if<Reject>(&result)) {
          last = *reject;
          break;
        }
        Placement& p = std::get<Placement>(result);
        Instance i;
        i.task_id = p.task.task_id().value();
        i.app_id = app_id;
        i.app_version = a.version;
        i.slave_id = offer.slave_id().value();
        i.host = offer.hostname();
        i.host_ports = p.host_ports;
        i.service_ports = p.service_ports;
        i.state = "TASK_STAGING";
        i.staged_at = now;
        for (const HealthCheck& hc : a.health_checks) {
          if (hc.marathon_level()) {
            i.health.emplace_back();
          }
        }
        launched.push_back(i.task_id);
        add_instance(std::move(i));
        tasks.push_back(std::move(p.task));
        --remaining;
        used = true;
      }
      ++stats.processed_offers;
      if (!used) {
        ++stats.unused_offers;
        ++stats.last_rejects[reject_name(last)];
      }
    }
    if (tasks.empty()) {
      bool anything_wanted = std::any_of(wants.begin(), wants.end(), [](const auto& w) { return w.second > 0; });
      Filters filters;
      filters.set_refuse_seconds(anything_wanted
                                     ? CORE_SHORT_REFUSE_SECONDS
                                     : std::chrono::duration<double>(options.decline_offer_duration).count());
      calls_->decline(offer.id(), filters);
      continue;
    }
    // A task id is in the store before its LAUNCH goes out.
    std::vector<StoreOp> ops;
    for (const std::string& id : launched) {
      ops.push_back(put_instance(instances_.at(id)));
    }
    OfferID offer_id = offer.id();
    persist(std::move(ops), [this, offer_id, tasks = std::move(tasks), launched](std::optional<std::string> error) {
      if (error) {
        on_launch_not_stored(launched, *error);
        if (calls_) {
          calls_->decline(offer_id);
        }
        update_offer_interest();
        return;
      }
      if (!calls_) {
        return;
      }
      // Only what still should run: the app may have been deleted or scaled
      // down, or the task killed, while the write was in flight.
      // Those are forgotten at once: the master never heard of them.
      std::vector<TaskInfo> still;
      std::vector<StoreOp> forget;
      for (const TaskInfo& t : tasks) {
        const std::string& id = t.task_id().value();
        auto it = instances_.find(id);
        if (it == instances_.end()) {
          continue;  // already forgotten (a wiping kill)
        }
        if (it->second.goal != Goal::RUNNING || app(it->second.app_id) == nullptr) {
          LOG_INFO << "Not launching " << id << ": no longer wanted";
          erase_instance(id);
          kill_sent_.erase(id);
          unreachable_since_.erase(id);
          forget_task(id);
          forget.push_back(StoreOp{StoreOp::DELETE, instance_key(id), {}});
          continue;
        }
        publish_status(it->second);
        publish_instance_changed(it->second);
        still.push_back(t);
      }
      persist(std::move(forget));
      if (still.empty()) {
        calls_->decline(offer_id);
      } else {
        LOG_INFO << "Launching " << still.size() << " tasks on offer " << offer_id.value();
        calls_->launch({offer_id}, still);
      }
      if (still.size() < tasks.size()) {
        advance_deployments();
        update_offer_interest();
      }
    });
  }
  update_offer_interest();
}

// ---------------------------------------------------------------------------
// Status updates.

void CoreState::on_update(const TaskStatus& status) {
  const std::string& id = status.task_id().value();
  std::string state = TaskState_Name(status.state());
  auto it = instances_.find(id);
  if (it == instances_.end()) {
    if (!core_gone(status.state())) {
      // The master runs a task of ours we do not know (reconciliation): end it.
      LOG_WARNING << "Killing unknown task " << id << " (" << state << ")";
      calls_->kill(status.task_id(), status.has_slave_id() ? std::optional<SlaveID>(status.slave_id()) : std::nullopt);
    } else {
      publish_unknown_terminated(id, state);
    }
    return;
  }
  Instance& i = it->second;
  const std::string app_id = i.app_id;  // `i` is gone after a terminal update
  bool changed = i.state != state;
  i.state = state;
  i.message = status.message();
  if (i.slave_id.empty() && status.has_slave_id()) {
    i.slave_id = status.slave_id().value();
  }
  if (status.state() == TASK_RUNNING && !i.started_at) {
    i.started_at = now_ms();
  }
  if (status.state() == TASK_UNREACHABLE) {
    unreachable_since_.emplace(id, now_ms());
  } else {
    unreachable_since_.erase(id);
  }
  if (status.has_healthy()) {
    on_mesos_health(i, status.healthy());
  }
  if (changed) {
    publish_status(i);
    publish_instance_changed(i);
  }
  if (core_gone(status.state())) {
    on_terminal(i, status.state());
  } else if (changed) {
    persist({put_instance(i)});
  }
  advance_deployments(app_id);  // only this app's deployments can have moved
  update_offer_interest();
}

void CoreState::record_failure(const Instance& i) {
  TaskFailure f;
  f.app_id = i.app_id;
  f.task_id = i.task_id;
  f.state = i.state;
  f.message = i.message;
  f.host = i.host;
  f.slave_id = i.slave_id;
  f.timestamp = now_ms();
  f.version = i.app_version;
  persist({put_failure(f)});
  failures_[i.app_id] = std::move(f);
}

void CoreState::on_launch_not_stored(const std::vector<std::string>& launched, const std::string& error) {
  Timestamp now = now_ms();
  std::set<std::string> apps;
  for (const std::string& id : launched) {
    auto it = instances_.find(id);
    if (it == instances_.end()) {
      continue;
    }
    std::string app_id = it->second.app_id;
    if (apps.insert(app_id).second) {
      // Visible as the app's last task failure (embed=app.lastTaskFailure).
      TaskFailure f;
      f.app_id = app_id;
      f.task_id = id;
      f.state = "TASK_ERROR";
      f.message = "Launch not stored: " + error;
      f.host = it->second.host;
      f.slave_id = it->second.slave_id;
      f.timestamp = now;
      f.version = it->second.app_version;
      failures_[app_id] = std::move(f);
    }
    erase_instance(id);
    forget_task(id);
    // Some writes of the batch may have been carried out.
    persist({StoreOp{StoreOp::DELETE, instance_key(id), {}}});
  }
  for (const std::string& app_id : apps) {
    Timestamp& logged = launch_error_logged_[app_id];
    if (logged == 0 || now - logged >= CORE_LAUNCH_ERROR_LOG_MS) {
      logged = now;
      LOG_ERROR << "Not launching tasks of " << app_id << ": storing them failed: " << error
                << " (retrying after the app's launch delay; logged once a minute)";
    }
    if (const App* a = app(app_id)) {
      note_backoff(*a);  // the queue entry shows the delay; the next try waits for it
    }
  }
}

void CoreState::note_backoff(const App& a) {
  Backoff& b = backoffs_[a.id];
  if (b.config != a.last_config_change_at) {
    b = Backoff{a.last_config_change_at, 0, 0};
  }
  b.delay_seconds = b.delay_seconds == 0 ? a.backoff_seconds
                                         : std::min(b.delay_seconds * a.backoff_factor, a.max_launch_delay_seconds);
  b.delay_seconds = std::min(b.delay_seconds, a.max_launch_delay_seconds);
  // Stored numbers may be anything: keep the arithmetic in range.
  if (!std::isfinite(b.delay_seconds) || b.delay_seconds > CORE_MAX_DELAY_SECONDS) {
    b.delay_seconds = std::isnan(b.delay_seconds) ? 0 : CORE_MAX_DELAY_SECONDS;
  }
  b.delay_seconds = std::max(b.delay_seconds, 0.0);
  b.until = now_ms() + static_cast<Timestamp>(std::llround(b.delay_seconds * 1000));
  LOG_INFO << "Delaying the launches of " << a.id << " by " << b.delay_seconds << " s";
  persist({put_delay(a.id, b)});
}

void CoreState::on_terminal(Instance& i, TaskState state) {
  std::string id = i.task_id;
  std::string app_id = i.app_id;
  if (i.goal == Goal::RUNNING || state == TASK_FAILED || state == TASK_ERROR) {
    record_failure(i);
  }
  if (core_limit_worthy(state) && i.goal == Goal::RUNNING) {
    if (const App* a = app(app_id)) {
      note_backoff(*a);
    }
  }
  erase_instance(id);
  unreachable_since_.erase(id);
  kill_sent_.erase(id);
  forget_task(id);
  persist({StoreOp{StoreOp::DELETE, instance_key(id), {}}});
}

void CoreState::kill_task(Instance& i, bool decommission) {
  if (decommission && i.goal != Goal::DECOMMISSIONED) {
    i.goal = Goal::DECOMMISSIONED;
    persist({put_instance(i)});
    publish_instance_changed(i);
  }
  Timestamp now = now_ms();
  auto sent = kill_sent_.find(i.task_id);
  if (sent != kill_sent_.end() && now - sent->second < CORE_KILL_RETRY_MS) {
    return;
  }
  kill_sent_[i.task_id] = now;
  if (!calls_) {
    return;
  }
  TaskID task_id;
  task_id.set_value(i.task_id);
  std::optional<SlaveID> slave_id;
  if (!i.slave_id.empty()) {
    slave_id.emplace();
    slave_id->set_value(i.slave_id);
  }
  LOG_INFO << "Killing task " << i.task_id << (decommission ? " (decommissioned)" : "");
  calls_->kill(task_id, slave_id);
}

void CoreState::kill(const std::vector<std::string>& task_ids, bool wipe, std::function<void()> done) {
  if (!leading_) {
    LOG_WARNING << "Not killing " << task_ids.size() << " tasks: this instance does not lead";
    done();
    return;
  }
  std::vector<StoreOp> ops;
  for (const std::string& id : task_ids) {
    auto it = instances_.find(id);
    if (it == instances_.end()) {
      continue;
    }
    kill_sent_.erase(id);
    kill_task(it->second, false);
    if (wipe) {
      erase_instance(id);
      kill_sent_.erase(id);
      unreachable_since_.erase(id);
      forget_task(id);
      ops.push_back(StoreOp{StoreOp::DELETE, instance_key(id), {}});
    }
  }
  persist(std::move(ops));
  update_offer_interest();
  done();
}

void CoreState::check_timeouts() {
  Timestamp now = now_ms();
  auto launch_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(options.task_launch_timeout).count();
  std::vector<std::string> expunge;
  for (auto& [id, i] : instances_) {
    if (!i.active()) {
      continue;
    }
    const App* a = app(i.app_id);
    if (a == nullptr || i.goal == Goal::DECOMMISSIONED) {
      // An app removed (also across a failover), or a kill not yet confirmed.
      kill_task(i, true);
      continue;
    }
    if ((i.state == "TASK_STAGING" || i.state == "TASK_STARTING") && now - i.staged_at > launch_timeout) {
      LOG_WARNING << "Task " << id << " stayed " << i.state << " longer than the launch timeout";
      kill_task(i, false);
      continue;
    }
    if (i.state == "TASK_UNREACHABLE" && !a->unreachable_strategy.disabled) {
      auto since = unreachable_since_.find(id);
      if (since != unreachable_since_.end() &&
          now - since->second >= static_cast<Timestamp>(a->unreachable_strategy.expunge_after_seconds) * 1000 &&
          now - since->second >= static_cast<Timestamp>(a->unreachable_strategy.inactive_after_seconds) * 1000) {
        expunge.push_back(id);
      }
    }
  }
  for (const std::string& id : expunge) {
    LOG_INFO << "Expunging unreachable task " << id;
    kill_task(instances_.at(id), true);
    // Marathon publishes an expunged instance as killed: subscribers that
    // re-read the apps on status updates (marathon-lb, stoa-lb) drop it now.
    Instance gone = instances_.at(id);
    gone.state = "TASK_KILLED";
    publish_status(gone);
    publish_instance_changed(gone);
    erase_instance(id);
    unreachable_since_.erase(id);
    forget_task(id);
    persist({StoreOp{StoreOp::DELETE, instance_key(id), {}}});
  }
}

}  // namespace stoa::services
