#include "apps/lb/lb.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/safety.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"

namespace stoa::lb {

namespace {

// How long a `haproxy -c` of one candidate may take.
constexpr auto LB_VALIDATE_TIMEOUT = std::chrono::seconds(60);
// Beyond the reload wait HAProxy's actor may take itself (validation, the
// rate limit, starting a worker).
constexpr auto LB_APPLY_SLACK = std::chrono::seconds(120);

// The apps of a cleanup run (config cleanup: marathon-lb validates each app
// alone and keeps the ones whose configuration HAProxy accepts).
struct LbCleanup {
  SnapshotPtr snapshot;
  std::vector<App> apps;  // with the health filled in
  std::string first_error;
  size_t next = 0;
  std::vector<std::string> dropped;  // app ids
  std::vector<size_t> dropped_index;
  std::string empty_config;  // the configuration without any app
};

struct BalancerState {
  caf::event_based_actor* self = nullptr;
  LbFlags flags;
  Templates templates;
  RenderOptions render_opts;
  caf::actor haproxy;
  static inline const char* name = "lb_balancer";

  // The last value the registry gave for each task's health (by task id),
  // for snapshots that leave healthCheckResults out.
  std::map<std::string, bool> health_cache;
  std::set<std::string> warnings_logged;

  // Applies are sent as snapshots arrive, without waiting for the previous
  // one: the HAProxy actor merges them (the newest wins) and skips the
  // reload of a text a newer one made needless, so a change that arrives
  // during a reload is not queued behind it here. A cleanup run or a forced
  // reload is exclusive: snapshots arriving meanwhile wait (newest kept).
  size_t in_flight = 0;    // applies sent, not answered
  bool exclusive = false;  // a cleanup run or a forced reload runs
  SnapshotPtr pending;     // the newest snapshot that arrived during one
  bool pending_reapply = false;
  SnapshotPtr current;     // the snapshot the applied configuration came from
  HaproxyConfig applied;   // the last configuration HAProxy accepted
  bool have_applied = false;

  // Status.
  uint64_t snapshots = 0;
  uint64_t applies = 0;
  uint64_t reloads = 0;
  uint64_t invalid = 0;
  uint64_t generation = 0;
  std::string last_error;
  std::string registry_down;
  std::vector<std::string> dropped_apps;
  std::map<std::string, std::vector<std::string>> backends;

  BalancerState() = default;

  bool one_shot() const { return !flags.sse && !flags.poll_loop && flags.command.has_value(); }

  std::chrono::milliseconds apply_timeout() const {
    if (flags.max_reload_retries == 0) {
      return std::chrono::hours(24 * 365);
    }
    return flags.reload_interval * (flags.max_reload_retries + 1) + LB_APPLY_SLACK;
  }

  void on_snapshot(SnapshotPtr snapshot) {
    if (!snapshot) {
      return;
    }
    ++snapshots;
    registry_down.clear();
    if (exclusive) {
      pending = std::move(snapshot);
      return;
    }
    apply_snapshot(std::move(snapshot));
  }

  void on_registry_down(const std::string& why) {
    if (registry_down != why) {
      LOG_ERROR << "No registry answered (" << why << "); HAProxy keeps its configuration";
    }
    registry_down = why;
  }

  void on_reapply() {
    if (exclusive || in_flight > 0) {
      pending_reapply = true;
      return;
    }
    if (!have_applied) {
      LOG_INFO << "SIGUSR1: nothing applied yet";
      return;
    }
    LOG_INFO << "SIGUSR1: re-validating and re-applying the current configuration";
    exclusive = true;
    ++applies;
    self->request(haproxy, apply_timeout(), lb_reload_atom::value, applied)
        .then(
            [this](const ApplyResult& r) {
              record(r);
              if (!r.valid) {
                LOG_ERROR << "SIGUSR1: the current configuration no longer validates: " << r.error;
              } else if (r.reloaded) {
                LOG_INFO << "SIGUSR1: HAProxy reloaded (generation " << r.generation << ")";
              }
              finish();
            },
            [this](const caf::error& e) { on_haproxy_error("forced reload", e); });
  }

  std::string on_status() const {
    picojson::object o;
    o["snapshots"] = picojson::value(static_cast<double>(snapshots));
    o["applies"] = picojson::value(static_cast<double>(applies));
    o["reloads"] = picojson::value(static_cast<double>(reloads));
    o["invalid"] = picojson::value(static_cast<double>(invalid));
    o["generation"] = picojson::value(static_cast<double>(generation));
    o["busy"] = picojson::value(exclusive || in_flight > 0);
    o["last_error"] = picojson::value(last_error);
    o["registry_down"] = picojson::value(registry_down);
    picojson::array dropped;
    for (const std::string& d : dropped_apps) {
      dropped.emplace_back(d);
    }
    o["dropped_apps"] = picojson::value(dropped);
    if (current) {
      picojson::object snap;
      snap["sequence"] = picojson::value(static_cast<double>(current->sequence));
      snap["url"] = picojson::value(current->url);
      snap["apps"] = picojson::value(static_cast<double>(current->apps.size()));
      o["snapshot"] = picojson::value(snap);
    }
    picojson::object b;
    for (const auto& [backend, servers] : backends) {
      picojson::array list;
      for (const std::string& s : servers) {
        list.emplace_back(s);
      }
      b[backend] = picojson::value(list);
    }
    o["backends"] = picojson::value(b);
    return json_serialize(picojson::value(o));
  }

  // The apps of `snapshot` with each task's health known: the registry's
  // value when it gave one (remembered), else the remembered one, else false.
  std::vector<App> with_health(const Snapshot& snapshot) {
    std::vector<App> apps = snapshot.apps;
    std::map<std::string, bool> seen;
    for (App& app : apps) {
      for (Task& task : app.tasks) {
        if (task.healthy) {
          seen[task.id] = *task.healthy;
          continue;
        }
        auto it = health_cache.find(task.id);
        bool value = it != health_cache.end() && it->second;
        task.healthy = value;
        seen[task.id] = value;
      }
    }
    // Tasks gone from the registry are forgotten.
    health_cache = std::move(seen);
    return apps;
  }

  void log_warnings(const std::vector<std::string>& warnings) {
    for (const std::string& w : warnings) {
      if (warnings_logged.insert(w).second) {
        LOG_WARNING << w;
      }
    }
  }

  void apply_snapshot(SnapshotPtr snapshot) {
    ++in_flight;
    std::vector<App> apps = with_health(*snapshot);
    Rendered rendered = render(apps, templates, render_opts);
    log_warnings(rendered.warnings);
    HaproxyConfig config{rendered.config, rendered.domain2backend_map, rendered.app2backend_map};
    auto backends_rendered = std::make_shared<std::map<std::string, std::vector<std::string>>>(
        std::move(rendered.backends));
    auto health_filled = std::make_shared<std::vector<App>>(std::move(apps));
    send_apply(config, true, [this, snapshot, health_filled, config, backends_rendered](const ApplyResult& r) {
      on_applied(snapshot, std::move(*health_filled), config, std::move(*backends_rendered), r);
    });
  }

  // `counted`: one of the applies in flight (a snapshot's), not a cleanup's.
  template <class F>
  void send_apply(const HaproxyConfig& config, bool counted, F on_result) {
    ++applies;
    self->request(haproxy, apply_timeout(), lb_apply_atom::value, config)
        .then(std::move(on_result), [this, counted](const caf::error& e) {
          if (counted) {
            --in_flight;
          }
          on_haproxy_error("apply", e);
        });
  }

  void record(const ApplyResult& r) {
    generation = r.generation;
    if (r.reloaded) {
      ++reloads;
    }
    if (!r.valid) {
      ++invalid;
      last_error = r.error;
    } else {
      last_error.clear();
    }
  }

  void on_applied(SnapshotPtr snapshot, std::vector<App> apps, const HaproxyConfig& config,
                  std::map<std::string, std::vector<std::string>> rendered_backends, const ApplyResult& r) {
    --in_flight;
    record(r);
    if (r.valid) {
      if (current && snapshot->sequence < current->sequence) {
        finish();
        return;
      }
      accept(std::move(snapshot), config, std::move(rendered_backends), {});
      if (r.changed) {
        LOG_INFO << "Applied registry snapshot #" << current->sequence << " from " << current->url << ": "
                 << current->apps.size() << " apps, " << backends.size() << " backends"
                 << (r.reloaded ? ", HAProxy reloaded (generation " + std::to_string(r.generation) + ")" : "");
      }
      finish();
      return;
    }
    LOG_ERROR << "HAProxy refuses the configuration of snapshot #" << snapshot->sequence << ": " << r.error;
    if (in_flight > 0) {
      return;  // a newer snapshot's apply follows; cleanup, if needed, runs on that one
    }
    if (flags.skip_config_cleanup || flags.skip_validation) {
      LOG_ERROR << "Keeping the previous configuration (--skip-config-cleanup)";
      finish();
      return;
    }
    exclusive = true;
    auto run = std::make_shared<LbCleanup>();
    run->snapshot = std::move(snapshot);
    run->apps = std::move(apps);
    run->first_error = r.error;
    run->empty_config = render_subset(run->apps, {}, templates, render_opts).config;
    LOG_WARNING << "Config cleanup: validating the " << run->apps.size() << " apps one at a time";
    validate_next(run);
  }

  // Config cleanup, one app per stage: an app whose own configuration fails
  // `haproxy -c` is left out.
  void validate_next(const std::shared_ptr<LbCleanup>& run) {
    while (run->next < run->apps.size()) {
      size_t i = run->next++;
      Rendered alone = render_subset(run->apps, {i}, templates, render_opts);
      if (alone.config == run->empty_config) {
        continue;  // not published: nothing to validate
      }
      self->request(haproxy, LB_VALIDATE_TIMEOUT, lb_validate_atom::value, alone.config)
          .then([this, run, i](const ApplyResult& r) { on_app_validated(run, i, r); },
                [this](const caf::error& e) { on_haproxy_error("validation", e); });
      return;
    }
    apply_cleaned(run);
  }

  void on_app_validated(const std::shared_ptr<LbCleanup>& run, size_t i, const ApplyResult& r) {
    if (!r.valid) {
      const std::string& id = run->apps[i].id;
      LOG_ERROR << "Config cleanup: leaving out app " << id << ": " << r.error;
      run->dropped.push_back(id);
      run->dropped_index.push_back(i);
    }
    validate_next(run);
  }

  void apply_cleaned(const std::shared_ptr<LbCleanup>& run) {
    // Every app but the dropped ones (apps that publish nothing render nothing).
    std::vector<size_t> keep;
    for (size_t i = 0; i < run->apps.size(); ++i) {
      if (std::find(run->dropped_index.begin(), run->dropped_index.end(), i) == run->dropped_index.end()) {
        keep.push_back(i);
      }
    }
    Rendered rendered = render_subset(run->apps, keep, templates, render_opts);
    HaproxyConfig config{rendered.config, rendered.domain2backend_map, rendered.app2backend_map};
    auto backends_rendered = std::make_shared<std::map<std::string, std::vector<std::string>>>(
        std::move(rendered.backends));
    send_apply(config, false, [this, run, config, backends_rendered](const ApplyResult& r) {
      record(r);
      if (!r.valid) {
        LOG_ERROR << "Config cleanup: the configuration without " << run->dropped.size()
                  << " app(s) is still refused (" << r.error << "); keeping the previous one";
      } else {
        LOG_WARNING << "Config cleanup: applied snapshot #" << run->snapshot->sequence << " without "
                    << run->dropped.size() << " app(s)";
        accept(run->snapshot, config, std::move(*backends_rendered), run->dropped);
      }
      finish();
    });
  }

  void accept(SnapshotPtr snapshot, const HaproxyConfig& config,
              std::map<std::string, std::vector<std::string>> rendered_backends, std::vector<std::string> dropped) {
    current = std::move(snapshot);
    applied = config;
    have_applied = true;
    backends = std::move(rendered_backends);
    dropped_apps = std::move(dropped);
  }

  void on_haproxy_error(const char* what, const caf::error& e) {
    last_error = std::string("HAProxy's actor did not answer the ") + what + ": " + self->system().render(e);
    LOG_ERROR << last_error;
    finish();
  }

  // The end of an apply: the next queued work, or (one run with --command)
  // the end of the balancer.
  void finish() {
    exclusive = false;
    if (in_flight > 0) {
      return;  // the last answer continues
    }
    if (one_shot()) {
      if (current) {
        LOG_INFO << "One run done (no sse/poll mode): exiting";
        self->quit(caf::exit_reason::normal);
      } else {
        self->quit(caf::make_error(caf::sec::runtime_error, "one run failed: " + last_error));
      }
      return;
    }
    if (pending_reapply) {
      pending_reapply = false;
      on_reapply();
      return;
    }
    if (pending) {
      SnapshotPtr next = std::move(pending);
      pending = nullptr;
      apply_snapshot(std::move(next));
    }
  }
};

using balancer_actor = caf::stateful_actor<BalancerState>;

caf::behavior balancer(balancer_actor* self, LbFlags flags, Templates templates, caf::actor haproxy) {
  BalancerState& st = self->state;
  st.self = self;
  st.render_opts = render_options(flags);
  st.flags = std::move(flags);
  st.templates = std::move(templates);
  st.haproxy = std::move(haproxy);
  set_safe_handlers(self, BalancerState::name);
  return {
      [self](lb_snapshot_atom, SnapshotPtr snapshot) { self->state.on_snapshot(std::move(snapshot)); },
      [self](lb_registry_down_atom, const std::string& why) { self->state.on_registry_down(why); },
      [self](lb_reapply_atom) { self->state.on_reapply(); },
      [self](lb_status_atom) { return self->state.on_status(); },
  };
}

std::string lb_config_dir(const std::string& config_path) {
  size_t slash = config_path.find_last_of('/');
  if (slash == std::string::npos) {
    return ".";
  }
  if (slash == 0) {
    return "/";
  }
  return config_path.substr(0, slash);
}

}  // namespace

caf::actor spawn_balancer(caf::actor_system& sys, const LbFlags& flags, Templates templates, caf::actor haproxy) {
  return sys.spawn(balancer, flags, std::move(templates), std::move(haproxy));
}

std::string lb_run_dir(const LbFlags& flags) {
  if (!flags.run_dir.empty()) {
    return flags.run_dir;
  }
  std::string dir = lb_config_dir(flags.haproxy_config);
  return (dir == "/" ? "" : dir) + "/run";
}

RenderOptions render_options(const LbFlags& flags) {
  RenderOptions o;
  o.groups = flags.groups;
  o.strict_mode = flags.strict_mode;
  o.health_check = flags.health_check;
  o.dont_bind_http_https = flags.dont_bind_http_https;
  o.haproxy_map = flags.haproxy_map;
  o.group_https_by_vhost = flags.group_https_by_vhost;
  o.ssl_certs = flags.ssl_certs;
  o.stats_port = flags.stats_port;
  o.http_port = flags.http_port;
  o.https_port = flags.https_port;
  o.http_appid_port = flags.http_appid_port;
  o.bind_address = flags.bind_address;
  o.run_dir = lb_run_dir(flags);
  o.lua_dir = o.run_dir;
  o.config_dir = lb_config_dir(flags.haproxy_config);
  // A running stoa-lb names itself for /_mlb_signal/*; --dry prints a
  // configuration for no process in particular.
  o.lb_pid = flags.dry ? 0 : static_cast<int>(::getpid());
  return o;
}

HaproxyOptions haproxy_options(const LbFlags& flags) {
  HaproxyOptions o;
  o.binary = flags.haproxy_bin;
  o.config_path = flags.haproxy_config;
  o.run_dir = lb_run_dir(flags);
  o.command = flags.command;
  o.skip_validation = flags.skip_validation;
  o.archive_versions = flags.archive_versions;
  o.max_reload_retries = flags.max_reload_retries;
  o.reload_interval = flags.reload_interval;
  o.min_reload_interval = flags.min_reload_interval;
  return o;
}

MarathonOptions marathon_options(const LbFlags& flags) {
  MarathonOptions o;
  o.urls = flags.marathon;
  o.sse = flags.sse;
  o.poll_interval = flags.poll_interval;
  o.max_backoff = flags.max_backoff;
  if (o.initial_backoff > o.max_backoff) {
    o.initial_backoff = o.max_backoff;
  }
  o.basic_auth = flags.auth_credentials.value_or("");
  o.lru_cache_capacity = flags.lru_cache_capacity;
  o.parse.framework_name = flags.framework_name;
  o.parse.min_serv_port_ip_per_task = flags.min_serv_port_ip_per_task;
  o.parse.max_serv_port_ip_per_task = flags.max_serv_port_ip_per_task;
  return o;
}

}  // namespace stoa::lb
