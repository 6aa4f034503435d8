// Loading and persisting the core's state through the store actor
// (store.hpp has the key layout).

#include <caf/all.hpp>

#include "apps/services/core_internal.hpp"
#include "apps/services/store.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"

namespace stoa::services {

namespace {

std::string core_strip_slash(const std::string& id) { return id.size() > 1 && id[0] == '/' ? id.substr(1) : id; }

bool core_starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

std::string CoreState::app_key(const std::string& app_id) { return "apps/" + core_strip_slash(app_id); }

std::string CoreState::app_versions_prefix(const std::string& app_id) {
  return "app-versions/" + core_strip_slash(app_id) + "/";
}

std::string CoreState::app_version_key(const std::string& app_id, Timestamp version) {
  return app_versions_prefix(app_id) + std::to_string(version);
}

std::string CoreState::instance_key(const std::string& task_id) { return "instances/" + task_id; }

std::string CoreState::deployment_key(const std::string& id) { return "deployments/" + id; }

StoreOp CoreState::put_instance(const Instance& i) const {
  return StoreOp{StoreOp::PUT, instance_key(i.task_id), json_serialize(instance_to_store(i))};
}

StoreOp CoreState::put_deployment(const Deployment& d) const {
  return StoreOp{StoreOp::PUT, deployment_key(d.id), json_serialize(deployment_to_store(d))};
}

std::string CoreState::failure_key(const std::string& app_id) { return "task-failures/" + core_strip_slash(app_id); }

std::string CoreState::delay_key(const std::string& app_id) { return "launch-delays/" + core_strip_slash(app_id); }

StoreOp CoreState::put_failure(const TaskFailure& f) const {
  picojson::object o;
  o["appId"] = picojson::value(f.app_id);
  o["taskId"] = picojson::value(f.task_id);
  o["state"] = picojson::value(f.state);
  o["message"] = picojson::value(f.message);
  o["host"] = picojson::value(f.host);
  o["slaveId"] = picojson::value(f.slave_id);
  o["timestamp"] = picojson::value(static_cast<int64_t>(f.timestamp));
  o["version"] = picojson::value(static_cast<int64_t>(f.version));
  return StoreOp{StoreOp::PUT, failure_key(f.app_id), json_serialize(picojson::value(std::move(o)))};
}

StoreOp CoreState::put_delay(const std::string& app_id, const Backoff& b) const {
  picojson::object o;
  o["appId"] = picojson::value(app_id);
  o["config"] = picojson::value(static_cast<int64_t>(b.config));
  o["delaySeconds"] = picojson::value(b.delay_seconds);
  o["until"] = picojson::value(static_cast<int64_t>(b.until));
  return StoreOp{StoreOp::PUT, delay_key(app_id), json_serialize(picojson::value(std::move(o)))};
}

namespace {

// A field of a stored failure or delay; nullopt (and `error` set) when missing or of another type.
template <typename T>
std::optional<T> core_stored_field(const picojson::value& v, const char* name, std::string& error) {
  if (!v.is<picojson::object>() || !v.contains(name) || !v.get(name).is<T>()) {
    error = std::string("field '") + name + "' is missing or has the wrong type";
    return std::nullopt;
  }
  return v.get(name).get<T>();
}

Try<TaskFailure> core_failure_from_store(const picojson::value& v) {
  std::string error;
  TaskFailure f;
  auto app_id = core_stored_field<std::string>(v, "appId", error);
  auto task_id = core_stored_field<std::string>(v, "taskId", error);
  auto state = core_stored_field<std::string>(v, "state", error);
  auto message = core_stored_field<std::string>(v, "message", error);
  auto host = core_stored_field<std::string>(v, "host", error);
  auto slave_id = core_stored_field<std::string>(v, "slaveId", error);
  auto timestamp = core_stored_field<int64_t>(v, "timestamp", error);
  auto version = core_stored_field<int64_t>(v, "version", error);
  if (!error.empty()) {
    return Error(error);
  }
  f.app_id = *app_id;
  f.task_id = *task_id;
  f.state = *state;
  f.message = *message;
  f.host = *host;
  f.slave_id = *slave_id;
  f.timestamp = *timestamp;
  f.version = *version;
  return f;
}

Try<std::pair<std::string, Backoff>> core_delay_from_store(const picojson::value& v) {
  std::string error;
  auto app_id = core_stored_field<std::string>(v, "appId", error);
  auto config = core_stored_field<int64_t>(v, "config", error);
  auto delay = core_stored_field<double>(v, "delaySeconds", error);
  auto until = core_stored_field<int64_t>(v, "until", error);
  if (!error.empty()) {
    return Error(error);
  }
  return std::make_pair(*app_id, Backoff{*config, *delay, *until});
}

}  // namespace

// ---------------------------------------------------------------------------
// Loading (on election).

void CoreState::load() {
  if (!options.store) {
    on_load_failed(caf::make_error(caf::sec::invalid_argument, "no store"));
    return;
  }
  self->request(options.store, CORE_STORE_TIMEOUT, store_load_atom_v)
      .then([this](std::map<std::string, std::string>& entries) { on_loaded(entries); },
            [this](const caf::error& e) { on_load_failed(e); });
}

void CoreState::on_load_failed(const caf::error& e) {
  LOG_ERROR << "Cannot lead: loading the state failed: " << caf::to_string(e);
  self->quit(caf::make_error(caf::sec::runtime_error, "cannot load the state: " + caf::to_string(e)));
}

void CoreState::on_loaded(std::map<std::string, std::string>& entries) {
  size_t skipped = 0;
  auto parse = [&skipped](const std::string& key, const std::string& value) -> std::optional<picojson::value> {
    Try<picojson::value> v = json_parse(value);
    if (v.is_error()) {
      LOG_ERROR << "Skipping corrupt store entry '" << key << "': " << v.error();
      ++skipped;
      return std::nullopt;
    }
    return std::move(v).get();
  };
  for (const auto& [key, value] : entries) {
    if (key == "framework-id") {
      if (!value.empty()) {
        framework_id_ = value;
      }
    } else if (core_starts_with(key, "apps/")) {
      if (auto v = parse(key, value)) {
        Try<App> a = app_from_store(*v);
        if (a.is_error()) {
          LOG_ERROR << "Skipping corrupt app '" << key << "': " << a.error();
          ++skipped;
          continue;
        }
        last_version_ = std::max(last_version_, a->version);
        apps_[a->id] = std::move(a).get();
      }
    } else if (core_starts_with(key, "app-versions/")) {
      if (auto v = parse(key, value)) {
        Try<App> a = app_from_store(*v);
        if (a.is_error()) {
          LOG_ERROR << "Skipping corrupt app version '" << key << "': " << a.error();
          ++skipped;
          continue;
        }
        versions_[a->id][a->version] = std::move(a).get();
      }
    } else if (core_starts_with(key, "deployments/")) {
      if (auto v = parse(key, value)) {
        Try<Deployment> d = deployment_from_store(*v);
        if (d.is_error()) {
          LOG_ERROR << "Skipping corrupt deployment '" << key << "': " << d.error();
          ++skipped;
          continue;
        }
        deployment_order_.push_back(d->id);
        deployments_[d->id] = std::move(d).get();
      }
    } else if (core_starts_with(key, "task-failures/")) {
      if (auto v = parse(key, value)) {
        Try<TaskFailure> f = core_failure_from_store(*v);
        if (f.is_error()) {
          LOG_ERROR << "Skipping corrupt task failure '" << key << "': " << f.error();
          ++skipped;
          continue;
        }
        failures_[f->app_id] = std::move(f).get();
      }
    } else if (core_starts_with(key, "launch-delays/")) {
      if (auto v = parse(key, value)) {
        Try<std::pair<std::string, Backoff>> b = core_delay_from_store(*v);
        if (b.is_error()) {
          LOG_ERROR << "Skipping corrupt launch delay '" << key << "': " << b.error();
          ++skipped;
          continue;
        }
        backoffs_[b->first] = b->second;
      }
    } else if (core_starts_with(key, "instances/")) {
      if (auto v = parse(key, value)) {
        Try<Instance> i = instance_from_store(*v);
        if (i.is_error()) {
          LOG_ERROR << "Skipping corrupt instance '" << key << "': " << i.error();
          ++skipped;
          continue;
        }
        add_instance(std::move(i).get());
      }
    }
  }
  // Deployments resume in the order they were made.
  std::sort(deployment_order_.begin(), deployment_order_.end(), [this](const std::string& a, const std::string& b) {
    return deployments_[a].version < deployments_[b].version;
  });
  // Every current app is a version too.
  for (const auto& [id, app] : apps_) {
    versions_[id].emplace(app.version, app);
  }
  // Health results are not stored: size them for the current checks.
  for (auto& [id, i] : instances_) {
    if (const App* a = app(i.app_id)) {
      size_t n = 0;
      for (const HealthCheck& hc : a->health_checks) {
        n += hc.marathon_level() ? 1 : 0;
      }
      i.health.resize(n);
    }
  }
  LOG_INFO << "Loaded " << apps_.size() << " apps, " << instances_.size() << " tasks, " << deployments_.size()
           << " deployments" << (framework_id_ ? ", framework " + *framework_id_ : std::string()) << " ("
           << skipped << " entries skipped)";
  leading_ = true;
  start_driver();
  advance_deployments();
}

// ---------------------------------------------------------------------------
// Writing.

namespace {

struct CorePersistJob {
  size_t outstanding = 0;
  bool finished = false;
  std::function<void(std::optional<std::string>)> done;

  void settle(std::optional<std::string> error) {
    if (finished) {
      return;
    }
    if (error) {
      finished = true;
      done(std::move(error));
      return;
    }
    if (--outstanding == 0) {
      finished = true;
      done(std::nullopt);
    }
  }
};

}  // namespace

void CoreState::persist(std::vector<StoreOp> ops, std::function<void(std::optional<std::string>)> done) {
  // Queued fire-and-forget writes go first: nothing overtakes an earlier write.
  flush_writes();
  if (!options.store) {
    done(std::string("no store"));
    return;
  }
  if (ops.empty()) {
    done(std::nullopt);
    return;
  }
  // Every request at once: the store carries them out in the order
  // received, so writes of later calls never overtake these.
  auto job = std::make_shared<CorePersistJob>();
  job->outstanding = ops.size();
  job->done = std::move(done);
  for (const StoreOp& op : ops) {
    std::string key = op.key;
    auto on_ok = [job, key](bool ok) {
      job->settle(ok ? std::nullopt : std::optional<std::string>("the store refused '" + key + "'"));
    };
    auto on_error = [job, key](const caf::error& e) {
      job->settle("writing '" + key + "' failed: " + caf::to_string(e));
    };
    switch (op.kind) {
      case StoreOp::PUT:
        self->request(options.store, CORE_STORE_TIMEOUT, store_put_atom_v, op.key, op.value).then(on_ok, on_error);
        break;
      case StoreOp::DELETE:
        self->request(options.store, CORE_STORE_TIMEOUT, store_delete_atom_v, op.key).then(on_ok, on_error);
        break;
      case StoreOp::DELETE_PREFIX:
        self->request(options.store, CORE_STORE_TIMEOUT, store_delete_prefix_atom_v, op.key).then(on_ok, on_error);
        break;
    }
  }
}

void CoreState::persist(std::vector<StoreOp> ops) {
  for (StoreOp& op : ops) {
    if (op.kind == StoreOp::DELETE_PREFIX) {
      // A prefix covers other keys: keep it in order with everything queued.
      flush_writes();
      persist({std::move(op)}, [](std::optional<std::string> error) {
        if (error) {
          LOG_ERROR << "Persisting the services state failed: " << *error;
        }
      });
      continue;
    }
    std::string key = op.key;
    pending_writes_[key] = std::move(op);  // a newer write of a key replaces the queued one
  }
  if (!pending_writes_.empty() && !flush_scheduled_) {
    // Behind the messages already queued: a burst of updates becomes one batch.
    flush_scheduled_ = true;
    self->send(self, core_flush_atom_v);
  }
}

void CoreState::flush_writes() {
  if (pending_writes_.empty()) {
    return;
  }
  std::vector<StoreOp> ops;
  ops.reserve(pending_writes_.size());
  for (auto& [key, op] : pending_writes_) {
    ops.push_back(std::move(op));
  }
  pending_writes_.clear();
  size_t n = ops.size();
  persist(std::move(ops), [n](std::optional<std::string> error) {
    if (error) {
      LOG_ERROR << "Persisting the services state (" << n << " writes) failed: " << *error;
    }
  });
}

}  // namespace stoa::services
