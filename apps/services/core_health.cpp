// Health of the core's tasks (marathon.md §3): Marathon-level probes (HTTP,
// HTTPS, TCP) run here against each task's host and port; Mesos-level
// checks arrive as TaskStatus.healthy.

#include <algorithm>

#include <caf/all.hpp>

#include "apps/services/core_internal.hpp"
#include "common/logging.hpp"

namespace stoa::services {

namespace {

// The index-th Marathon-level check of `app`, if any.
const HealthCheck* core_marathon_check(const App& app, size_t index) {
  size_t k = 0;
  for (const HealthCheck& hc : app.health_checks) {
    if (hc.marathon_level()) {
      if (k == index) {
        return &hc;
      }
      ++k;
    }
  }
  return nullptr;
}

}  // namespace

std::optional<int> CoreState::probe_port(const Instance& i, const HealthCheck& hc) const {
  if (hc.port) {
    return *hc.port;
  }
  size_t index = static_cast<size_t>(std::max(hc.port_index.value_or(0), 0));
  if (index < i.host_ports.size()) {
    return i.host_ports[index];
  }
  return std::nullopt;
}

void CoreState::run_probes() {
  Timestamp now = now_ms();
  for (auto& [task_id, i] : instances_) {
    if (!i.running() || i.goal != Goal::RUNNING) {
      continue;
    }
    const App* a = app(i.app_id);
    // Only instances of the app's current configuration are probed.
    if (a == nullptr || i.app_version < a->last_config_change_at) {
      continue;
    }
    for (size_t index = 0;; ++index) {
      const HealthCheck* hc = core_marathon_check(*a, index);
      if (hc == nullptr) {
        break;
      }
      ProbeSlot& slot = probes_[{task_id, index}];
      if (slot.in_flight) {
        continue;
      }
      Timestamp interval_ms = static_cast<Timestamp>(hc->interval_seconds) * 1000;
      if (slot.next_at == 0) {
        Timestamp first = std::min<Timestamp>(
            interval_ms, std::chrono::duration_cast<std::chrono::milliseconds>(CORE_FIRST_PROBE_MAX_DELAY).count());
        slot.next_at = i.started_at.value_or(now) + first;
      }
      if (now < slot.next_at) {
        continue;
      }
      std::optional<int> port = probe_port(i, *hc);
      slot.next_at = now + interval_ms;
      if (!port) {
        LOG_WARNING << "Task " << task_id << " has no port for health check " << index << " (portIndex "
                    << hc->port_index.value_or(0) << ", " << i.host_ports.size() << " host ports)";
        continue;
      }
      slot.in_flight = true;
      std::string id = task_id;
      probe(self, *hc, i.host, *port, [this, id, index](ProbeResult r) { on_probe(id, index, r); });
    }
  }
}

void CoreState::on_probe(const std::string& task_id, size_t index, const ProbeResult& r) {
  auto slot = probes_.find({task_id, index});
  if (slot != probes_.end()) {
    slot->second.in_flight = false;
  }
  auto it = instances_.find(task_id);
  if (it == instances_.end() || r.ignored) {
    return;
  }
  Instance& i = it->second;
  const App* a = app(i.app_id);
  const HealthCheck* hc = a == nullptr ? nullptr : core_marathon_check(*a, index);
  if (hc == nullptr) {
    return;
  }
  if (i.health.size() <= index) {
    i.health.resize(index + 1);
  }
  HealthResult& h = i.health[index];
  bool before = h.alive();
  Timestamp now = now_ms();
  if (r.healthy) {
    h.consecutive_failures = 0;
    h.last_success = now;
    if (!h.first_success) {
      h.first_success = now;
    }
  } else {
    Timestamp since = i.started_at.value_or(i.staged_at);
    if (!i.running() || (!h.first_success && now < since + static_cast<Timestamp>(hc->grace_period_seconds) * 1000)) {
      return;  // within the grace period: ignored
    }
    ++h.consecutive_failures;
    h.last_failure = now;
    h.last_failure_cause = r.cause;
    publish_failed_health_check(i, *hc);
  }
  if (h.alive() != before) {
    publish_health_changed(i, h.alive());
  }
  note_instance_health(i);
  if (!r.healthy && hc->max_consecutive_failures > 0 && h.consecutive_failures >= hc->max_consecutive_failures &&
      i.state != "TASK_UNREACHABLE") {
    LOG_INFO << "Task " << task_id << " failed " << h.consecutive_failures << " health checks (" << r.cause
             << "): killing it";
    publish_unhealthy_kill(i, "FailedHealthChecks");
    kill_task(i, false);
  }
  advance_deployments();
}

void CoreState::on_mesos_health(Instance& i, bool healthy) {
  std::optional<bool> before = i.mesos_healthy;
  i.mesos_healthy = healthy;
  if (before != healthy) {
    publish_health_changed(i, healthy);
  }
  note_instance_health(i);
}

}  // namespace stoa::services
