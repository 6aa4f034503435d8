// Readiness checks (marathon.md §1, §3-§4): while a deployment step runs for
// an app with readinessChecks, each new running task of the step is asked
// GET <path> on its host and the host port named portName, every
// intervalSeconds, until the status is one of httpStatusCodesForReady. A
// deployment counts a new task only when it is healthy AND ready. Results
// are kept on the deployment (GET /v2/deployments shows them) and in memory
// only: a new leader checks again.

#include <algorithm>

#include <caf/all.hpp>

#include "actors/http_client.hpp"
#include "apps/services/core_internal.hpp"
#include "common/logging.hpp"

namespace stoa::services {

namespace {

// The host port of the port named `name`, if the task has one.
std::optional<int> core_readiness_port(const Instance& i, const App& app, const std::string& name) {
  std::vector<std::string> names = app.port_names();
  for (size_t k = 0; k < names.size() && k < i.host_ports.size(); ++k) {
    if (names[k] == name) {
      return i.host_ports[k];
    }
  }
  return std::nullopt;
}

// Whether a deployment's readiness applies to `i`: a task of the app's
// current config launched for this deployment (tasks that ran before it
// are not checked again).
bool core_readiness_applies(const Instance& i, const App& app, const Deployment& d) {
  return i.app_version >= app.last_config_change_at && i.staged_at >= d.version;
}

}  // namespace

bool CoreState::ready(const Instance& i, const App& app) const {
  if (app.readiness_checks.empty()) {
    return true;
  }
  const Deployment* d = nullptr;
  if (current_action(app.id, &d) == nullptr || d == nullptr || !core_readiness_applies(i, app, *d)) {
    return true;
  }
  for (size_t index = 0; index < app.readiness_checks.size(); ++index) {
    auto slot = readiness_.find({i.task_id, index});
    if (slot == readiness_.end() || !slot->second.ready) {
      return false;
    }
  }
  return true;
}

void CoreState::run_readiness() {
  Timestamp now = now_ms();
  for (auto& [task_id, i] : instances_) {
    if (!i.running() || i.goal != Goal::RUNNING) {
      continue;
    }
    const App* a = app(i.app_id);
    if (a == nullptr || a->readiness_checks.empty()) {
      continue;
    }
    const Deployment* d = nullptr;
    const DeploymentAction* action = current_action(i.app_id, &d);
    if (action == nullptr || d == nullptr || action->action == "StopApplication" ||
        !core_readiness_applies(i, *a, *d)) {
      continue;
    }
    for (size_t index = 0; index < a->readiness_checks.size(); ++index) {
      const ReadinessCheck& rc = a->readiness_checks[index];
      ReadinessSlot& slot = readiness_[{task_id, index}];
      if (slot.ready || slot.in_flight || now < slot.next_at) {
        continue;
      }
      slot.next_at = now + static_cast<Timestamp>(rc.interval_seconds) * 1000;
      std::optional<int> port = core_readiness_port(i, *a, rc.port_name);
      std::string id = task_id;
      if (!port) {
        LOG_WARNING << "Task " << task_id << " has no port named '" << rc.port_name << "' for readiness check '"
                    << rc.name << "'";
        on_readiness(id, index, false, std::nullopt);
        continue;
      }
      slot.in_flight = true;
      if (rc.protocol == "HTTPS") {
        // probe.hpp speaks HTTPS; it tells 200..399 from the rest, not the exact status.
        HealthCheck hc;
        hc.protocol = "HTTPS";
        hc.path = rc.path;
        hc.timeout_seconds = rc.timeout_seconds;
        probe(self, hc, i.host, *port,
              [this, id, index](ProbeResult r) { on_readiness(id, index, r.healthy, std::nullopt); });
        continue;
      }
      http::ClientRequest req;
      req.host = i.host;
      req.port = static_cast<uint16_t>(*port);
      req.path = rc.path;
      req.timeout = std::chrono::seconds(std::max(rc.timeout_seconds, 1));
      std::vector<int> codes = rc.http_status_codes_for_ready;
      bool keep = rc.preserve_last_response;
      http::fetch(
          self, req,
          [this, id, index, codes, keep](http::Response r) {
            bool ok = std::find(codes.begin(), codes.end(), r.status) != codes.end();
            std::optional<ReadinessResponse> response;
            if (keep) {
              response = ReadinessResponse{r.status, r.content_type, r.body};
            }
            on_readiness(id, index, ok, std::move(response));
          },
          [this, id, index](const caf::error&) { on_readiness(id, index, false, std::nullopt); });
    }
  }
}

void CoreState::on_readiness(const std::string& task_id, size_t index, bool is_ready,
                             std::optional<ReadinessResponse> response) {
  auto slot = readiness_.find({task_id, index});
  if (slot == readiness_.end()) {
    return;  // the task is gone
  }
  slot->second.in_flight = false;
  auto it = instances_.find(task_id);
  if (it == instances_.end()) {
    readiness_.erase(slot);
    return;
  }
  const App* a = app(it->second.app_id);
  if (a == nullptr || index >= a->readiness_checks.size()) {
    return;
  }
  slot->second.ready = slot->second.ready || is_ready;
  const ReadinessCheck& rc = a->readiness_checks[index];
  Deployment* d = nullptr;
  {
    const Deployment* cd = nullptr;
    if (current_action(a->id, &cd) != nullptr && cd != nullptr) {
      d = &deployments_.at(cd->id);
    }
  }
  if (d != nullptr) {
    ReadinessCheckResult result{rc.name, task_id, a->id, is_ready, std::move(response)};
    auto existing = std::find_if(d->readiness.begin(), d->readiness.end(), [&](const ReadinessCheckResult& r) {
      return r.task_id == task_id && r.name == rc.name;
    });
    if (existing != d->readiness.end()) {
      *existing = std::move(result);
    } else {
      d->readiness.push_back(std::move(result));
    }
  }
  if (is_ready) {
    LOG_INFO << "Task " << task_id << " is ready (" << rc.name << ")";
    advance_deployments();
    update_offer_interest();
  }
}

void CoreState::forget_task(const std::string& task_id) {
  for (auto p = probes_.begin(); p != probes_.end();) {
    p = p->first.first == task_id ? probes_.erase(p) : std::next(p);
  }
  for (auto r = readiness_.begin(); r != readiness_.end();) {
    r = r->first.first == task_id ? readiness_.erase(r) : std::next(r);
  }
  health_published_.erase(task_id);
  for (auto& [id, d] : deployments_) {
    d.readiness.erase(std::remove_if(d.readiness.begin(), d.readiness.end(),
                                     [&task_id](const ReadinessCheckResult& r) { return r.task_id == task_id; }),
                      d.readiness.end());
  }
}

}  // namespace stoa::services
