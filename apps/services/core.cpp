// The services core actor: its behavior, CoreCall dispatch and the reads of
// the Core interface (core.hpp). The flows live in core_state.cpp,
// core_launch.cpp, core_deploy.cpp, core_health.cpp and core_events.cpp.

#include <algorithm>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "apps/services/core_internal.hpp"
#include "common/logging.hpp"

namespace stoa::services {

// ---------------------------------------------------------------------------
// Reads.

const App* CoreState::app(const std::string& id) const {
  auto it = apps_.find(id);
  return it == apps_.end() ? nullptr : &it->second;
}

std::vector<const Instance*> CoreState::tasks_of(const std::string& app_id) const {
  std::vector<const Instance*> out;
  for (const Instance* i : instances_of(app_id)) {
    if (i->active() && !i->slave_id.empty()) {
      out.push_back(i);
    }
  }
  return out;
}

std::vector<const Deployment*> CoreState::deployments() const {
  std::vector<const Deployment*> out;
  for (const std::string& id : deployment_order_) {
    auto it = deployments_.find(id);
    if (it != deployments_.end()) {
      out.push_back(&it->second);
    }
  }
  return out;
}

std::vector<const Deployment*> CoreState::deployments_of(const std::string& app_id) const {
  std::vector<const Deployment*> out;
  for (const Deployment* d : deployments()) {
    if (std::find(d->affected_apps.begin(), d->affected_apps.end(), app_id) != d->affected_apps.end()) {
      out.push_back(d);
    }
  }
  return out;
}

std::optional<TaskFailure> CoreState::last_task_failure(const std::string& app_id) const {
  auto it = failures_.find(app_id);
  if (it == failures_.end()) {
    return std::nullopt;
  }
  return it->second;
}

std::vector<Timestamp> CoreState::versions(const std::string& app_id) const {
  std::vector<Timestamp> out;
  auto it = versions_.find(app_id);
  if (it != versions_.end()) {
    for (auto v = it->second.rbegin(); v != it->second.rend(); ++v) {
      out.push_back(v->first);
    }
  }
  return out;
}

void CoreState::app_version(const std::string& app_id, Timestamp version,
                            std::function<void(std::optional<App>)> done) {
  // Every version is loaded with the rest of the store and kept in memory.
  auto it = versions_.find(app_id);
  if (it == versions_.end()) {
    done(std::nullopt);
    return;
  }
  auto v = it->second.find(version);
  done(v == it->second.end() ? std::nullopt : std::optional<App>(v->second));
}

std::vector<QueueEntry> CoreState::queue() const {
  std::vector<QueueEntry> out;
  Timestamp now = now_ms();
  for (const auto& [id, app] : apps_) {
    int count = static_cast<int>(app.instances) - static_cast<int>(counted_instances(id).size());
    if (const DeploymentAction* a = current_action(id); a != nullptr && a->action == "RestartApplication") {
      count = std::max(count, restart_launch_budget(app));
    }
    auto b = backoffs_.find(id);
    bool delayed = b != backoffs_.end() && b->second.config == app.last_config_change_at && b->second.until > now;
    if (count <= 0 && !delayed) {
      continue;
    }
    QueueEntry e;
    auto s = queue_stats_.find(id);
    if (s != queue_stats_.end()) {
      e = s->second;
    }
    e.app_id = id;
    e.count = std::max(count, 0);
    if (e.since == 0) {
      e.since = now;
    }
    e.delay_until = delayed ? b->second.until : 0;
    out.push_back(std::move(e));
  }
  return out;
}

std::set<int> CoreState::taken_service_ports(const std::string& except) const {
  std::set<int> out;
  for (const auto& [id, app] : apps_) {
    if (id == except) {
      continue;
    }
    for (int p : app.service_ports()) {
      if (p != 0) {
        out.insert(p);
      }
    }
  }
  return out;
}

std::optional<ApiError> CoreState::not_leading() const {
  if (leading_) {
    return std::nullopt;
  }
  return api_error(503, "This stoa-services instance is not the leader (or is still loading its state); "
                        "send writes to the leader");
}

bool CoreState::reset_delay(const std::string& app_id) {
  auto a = apps_.find(app_id);
  if (a == apps_.end() || !leading_) {
    return false;
  }
  bool had = backoffs_.erase(app_id) > 0;
  if (had) {
    persist({StoreOp{StoreOp::DELETE, delay_key(app_id), {}}});
  }
  bool queued = wanted_launches(app_id) > 0;
  if (had) {
    update_offer_interest();
  }
  return had || queued;
}

void CoreState::abdicate() {
  if (!leading_) {
    LOG_WARNING << "Not abdicating: this instance does not lead";
    return;
  }
  LOG_INFO << "Abdicating leadership in " << CORE_ABDICATE_DELAY.count() << " ms";
  self->delayed_send(self, CORE_ABDICATE_DELAY, core_abdicate_atom_v);
}

Timestamp CoreState::next_version() {
  last_version_ = std::max(now_ms(), last_version_ + 1);
  return last_version_;
}

// ---------------------------------------------------------------------------
// The actor.

void CoreState::on_core_call(CoreCall& call) {
  auto rp = self->make_response_promise<http::Response>();
  auto replied = std::make_shared<bool>(false);
  call(*this, [rp, replied](http::Response r) mutable {
    if (*replied) {
      return;
    }
    *replied = true;
    rp.deliver(std::move(r));
  });
}

void CoreState::on_elected() {
  if (leading_) {
    return;
  }
  LOG_INFO << "Elected: loading the state";
  load();
}

void CoreState::on_deposed(const std::string& why) {
  LOG_ERROR << "Lost leadership (" << why << "): exiting";
  flush_writes();  // the store carries out what it has received
  if (driver_) {
    // Keep the framework registered for the next leader (failover).
    self->send(driver_, stop_atom_v, true);
  }
  self->quit(caf::make_error(caf::sec::runtime_error, "deposed: " + why));
}

void CoreState::on_driver_down(const caf::down_msg& msg) {
  if (driver_ && msg.source == driver_.address()) {
    LOG_ERROR << "The scheduler driver exited (" << caf::to_string(msg.reason) << "): exiting";
    self->quit(caf::make_error(caf::sec::runtime_error, "scheduler driver exited"));
  }
}

void CoreState::on_tick() {
  if (leading_) {
    check_timeouts();
    advance_deployments();
    run_probes();
    run_readiness();
    update_offer_interest();
  }
  self->delayed_send(self, CORE_TICK_INTERVAL, core_tick_atom_v);
}

namespace {

caf::behavior core_behavior(core_actor* self, Runtime* runtime, CoreOptions options, FrameworkInfo info) {
  set_safe_handlers(self, "services-core");
  CoreState& st = self->state;
  st.self = self;
  st.runtime = runtime;
  st.options = std::move(options);
  st.framework_info_ = std::move(info);
  self->set_down_handler([self](caf::down_msg& msg) { self->state.on_driver_down(msg); });
  self->delayed_send(self, CORE_TICK_INTERVAL, core_tick_atom_v);
  return {
      [self](core_call_atom, CoreCall& call) { self->state.on_core_call(call); },
      [self](elected_atom) { self->state.on_elected(); },
      [self](deposed_atom, const std::string& why) { self->state.on_deposed(why); },
      [self](scheduler::Event& e) { self->state.on_event(e); },
      [self](scheduler_disconnected_atom) { self->state.on_disconnected(); },
      [self](core_tick_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.on_tick();
        }
      },
      [self](core_reconcile_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.on_reconcile_timer();
        }
      },
      [self](core_flush_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.flush_scheduled_ = false;
          self->state.flush_writes();
        }
      },
      [self](core_abdicate_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.on_deposed("abdicated");
        }
      },
  };
}

}  // namespace

caf::actor spawn_core(Runtime& runtime, CoreOptions options) {
  FrameworkInfo info;
  info.set_name(options.framework_name);
  info.set_role(options.role);
  info.set_hostname(options.hostname);
  info.set_failover_timeout(std::chrono::duration<double>(options.failover_timeout).count());
  info.set_checkpoint(true);
  if (!options.webui_url.empty()) {
    info.set_webui_url(options.webui_url);
  }
  info.add_capabilities()->set_type(FrameworkInfo::Capability::PARTITION_AWARE);
  // As Marathon: a task being killed reports TASK_KILLING first, so a load
  // balancer (stoa-lb, marathon-lb) takes it out of its pool while it still
  // drains within its kill grace period.
  info.add_capabilities()->set_type(FrameworkInfo::Capability::TASK_KILLING_STATE);
  // Blocking lookups (user, hostname): here in the caller, never in the actor.
  fill_in_user_and_hostname(info);
  return runtime.system().spawn(core_behavior, &runtime, std::move(options), std::move(info));
}

}  // namespace stoa::services
