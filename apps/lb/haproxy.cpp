// The HAProxy supervisor (haproxy.hpp). The actor keeps the applied text,
// merges applies that arrive while a reload runs or within
// min_reload_interval (last wins), and runs every blocking step — writing and
// validating files, starting the master, waiting for a new worker, running
// --command — in a detached job that replies through a message. A detached
// reaper per master polls waitpid, reports the master's exit (→ restart with
// backoff from the last valid config) and, when this actor goes down, stops
// HAProxy (SIGUSR1, then SIGTERM, then SIGKILL) and reaps it.
#include "apps/lb/haproxy.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <utility>

#include <caf/all.hpp>

#include "actors/launcher.hpp"
#include "actors/safety.hpp"
#include "apps/lb/haproxy_internal.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"

namespace stoa::lb {
namespace {

using haproxy_job_atom = caf::atom_constant<caf::atom("lbh_job")>;
constexpr haproxy_job_atom haproxy_job_atom_v{};
using haproxy_tick_atom = caf::atom_constant<caf::atom("lbh_tick")>;
constexpr haproxy_tick_atom haproxy_tick_atom_v{};
using haproxy_restart_atom = caf::atom_constant<caf::atom("lbh_restrt")>;
constexpr haproxy_restart_atom haproxy_restart_atom_v{};
using haproxy_reap_atom = caf::atom_constant<caf::atom("lbh_reap")>;
constexpr haproxy_reap_atom haproxy_reap_atom_v{};
using haproxy_signal_atom = caf::atom_constant<caf::atom("lbh_signal")>;
constexpr haproxy_signal_atom haproxy_signal_atom_v{};
using haproxy_exited_atom = caf::atom_constant<caf::atom("lbh_exited")>;
constexpr haproxy_exited_atom haproxy_exited_atom_v{};

// How often the reaper polls waitpid; how long HAProxy may take to stop
// after SIGUSR1 (soft stop), then after SIGTERM, before the next signal.
constexpr auto HAPROXY_REAP_POLL = std::chrono::milliseconds(50);
constexpr auto HAPROXY_SOFT_STOP_GRACE = std::chrono::milliseconds(5000);
constexpr auto HAPROXY_SOFT_STOP_REPEAT = std::chrono::milliseconds(250);
constexpr auto HAPROXY_TERM_GRACE = std::chrono::seconds(5);
// Restart backoff after the master exits: doubles up to the maximum.
constexpr auto HAPROXY_RESTART_BACKOFF_MIN = std::chrono::milliseconds(200);
constexpr auto HAPROXY_RESTART_BACKOFF_MAX = std::chrono::seconds(10);
// How much of HAProxy's log an error quotes.
constexpr size_t HAPROXY_LOG_TAIL = 2048;

}  // namespace
}  // namespace stoa::lb

namespace stoa::lb::haproxy_detail {
// What a job reports: `value` > 0 a pid, <= 0 a failure described by `error`.
struct JobResult {
  int value = 0;
  std::string error;
  std::vector<int> workers;
};
}  // namespace stoa::lb::haproxy_detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::lb::haproxy_detail::JobResult)

namespace stoa::lb {
namespace {

using haproxy_detail::JobResult;

bool haproxy_same_config(const HaproxyConfig& a, const HaproxyConfig& b) {
  return a.config == b.config && a.domain2backend_map == b.domain2backend_map &&
         a.app2backend_map == b.app2backend_map;
}

std::string haproxy_log_tail(const HaproxyOptions& options) {
  std::string tail = haproxy_detail::file_tail(haproxy_detail::master_log_path(options), HAPROXY_LOG_TAIL);
  while (!tail.empty() && tail.back() == '\n') {
    tail.pop_back();
  }
  return tail.empty() ? "" : "; HAProxy's log ends with: " + tail;
}

// One blocking step, run once in a detached actor, replied to the requester.
caf::behavior haproxy_job(caf::event_based_actor* self, std::function<JobResult()> work) {
  return {
      [self, work](haproxy_job_atom) {
        JobResult result = work();
        self->quit();
        return result;
      },
  };
}

// Polls waitpid(master) and reports its exit to `owner`; stops HAProxy
// (soft, then hard) once `owner` is down, and stays until it has reaped it.
caf::behavior haproxy_reaper(caf::event_based_actor* self, caf::actor owner, pid_t pid) {
  self->monitor(owner);
  self->set_down_handler([self, pid](caf::down_msg&) {
    LOG_INFO << "Stopping HAProxy master " << pid << " (SIGUSR1)";
    ::kill(pid, SIGUSR1);
    // A master still starting up may miss it: repeated until the grace ends.
    for (auto at = HAPROXY_SOFT_STOP_REPEAT; at < HAPROXY_SOFT_STOP_GRACE; at += HAPROXY_SOFT_STOP_REPEAT) {
      self->delayed_send(self, at, haproxy_signal_atom_v, SIGUSR1);
    }
    self->delayed_send(self, HAPROXY_SOFT_STOP_GRACE, haproxy_signal_atom_v, SIGTERM);
  });
  self->send(self, haproxy_reap_atom_v);
  return {
      [self, owner, pid](haproxy_reap_atom) {
        if (self->current_sender() != self->ctrl()) {
          return;
        }
        int status = 0;
        const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
        if (reaped == pid || (reaped < 0 && errno == ECHILD)) {
          self->send(owner, haproxy_exited_atom_v, static_cast<int>(pid), status);
          self->quit();
          return;
        }
        self->delayed_send(self, HAPROXY_REAP_POLL, haproxy_reap_atom_v);
      },
      [self, pid](haproxy_signal_atom, int sig) {
        if (self->current_sender() != self->ctrl()) {
          return;
        }
        if (sig != SIGUSR1) {
          LOG_WARNING << "HAProxy master " << pid << " still runs: sending signal " << sig;
        }
        ::kill(pid, sig);
        if (sig == SIGTERM) {
          self->delayed_send(self, HAPROXY_TERM_GRACE, haproxy_signal_atom_v, SIGKILL);
        }
      },
  };
}

// Starts the master and, before replying, its reaper (so a master started
// while the owner goes down is still stopped and reaped).
caf::behavior haproxy_start_job(caf::event_based_actor* self, caf::actor owner, HaproxyOptions options) {
  return {
      [self, owner, options](haproxy_job_atom) {
        JobResult result;
        if (int stale = haproxy_detail::stop_stale_master(options); stale != 0) {
          LOG_WARNING << "Stopped HAProxy master " << stale << " left behind by an earlier run";
        }
        Try<pid_t> pid = haproxy_detail::start_master(options);
        if (pid.is_error()) {
          result.error = "cannot start HAProxy: " + pid.error();
        } else if (Try<caf::actor> reaper = spawn_with_thread(
                       self->system(), ThreadActor::detached,
                       [&] { return self->spawn<caf::detached>(haproxy_reaper, owner, pid.get()); });
                   reaper.is_error()) {
          // Unwatched it would outlive us: it goes, and the start failed.
          ::kill(pid.get(), SIGKILL);
          while (::waitpid(pid.get(), nullptr, 0) < 0 && errno == EINTR) {
          }
          result.error = "cannot watch HAProxy: " + reaper.error();
        } else {
          result.value = pid.get();
        }
        self->quit();
        return result;
      },
  };
}

// Sends SIGUSR2 (when `signal`) and waits for a new worker, re-sending each
// `interval` up to `retries` times (0 = forever).
JobResult haproxy_wait_worker(const HaproxyOptions& options, pid_t master, bool signal) {
  const std::string socket = haproxy_detail::master_socket_path(options);
  const std::chrono::milliseconds interval = options.reload_interval;
  const int retries = signal ? options.max_reload_retries : std::max(1, options.max_reload_retries);
  if (signal) {
    haproxy_detail::save_server_state(options);
  }
  // A first start counts any worker (one may exist before we look).
  const std::vector<int> before = signal ? haproxy_worker_pids(master) : std::vector<int>{};
  const std::set<int> known(before.begin(), before.end());
  std::optional<haproxy_detail::MasterProcInfo> info =
      signal ? haproxy_detail::query_master(socket, std::chrono::milliseconds(500)) : std::nullopt;
  const int failed_before = info ? info->failed_reloads : -1;
  JobResult result;
  for (int attempt = 1;; ++attempt) {
    if (signal) {
      ::kill(master, SIGUSR2);
    }
    result.value = haproxy_detail::wait_for_new_worker(master, known, socket, failed_before, interval);
    if (result.value > 0) {
      result.workers = haproxy_worker_pids(master);
      return result;
    }
    if (result.value == -1) {
      result.error = "the HAProxy master " + std::to_string(master) + " exited";
      return result;
    }
    if (result.value == -2) {
      result.error = "HAProxy failed to reload";
      return result;
    }
    if (retries > 0 && attempt >= retries) {
      result.error = "no new HAProxy worker after " + std::to_string(attempt) + " x " +
                     std::to_string(interval.count()) + " ms";
      return result;
    }
    signal = true;
  }
}

// --command: runs the command, then waits for a new `haproxy` pid.
JobResult haproxy_run_command(const HaproxyOptions& options) {
  const std::string name = options.binary.substr(options.binary.rfind('/') + 1);
  const std::set<int> before = haproxy_detail::pids_named(name);
  JobResult result;
  for (int attempt = 1;; ++attempt) {
    result.error = haproxy_detail::run_shell(*options.command, options.config_path + ".command.out");
    if (!result.error.empty()) {
      result.error = "reload command '" + *options.command + "' failed: " + result.error;
      return result;
    }
    const auto deadline = std::chrono::steady_clock::now() + options.reload_interval;
    do {
      for (int pid : haproxy_detail::pids_named(name)) {
        if (before.count(pid) == 0) {
          result.value = pid;
          result.workers.push_back(pid);
          return result;
        }
      }
      ::usleep(10'000);
    } while (std::chrono::steady_clock::now() < deadline);
    if (options.max_reload_retries > 0 && attempt >= options.max_reload_retries) {
      result.error = "no new '" + name + "' process after the reload command (" + std::to_string(attempt) + " tries)";
      return result;
    }
  }
}

enum class HaproxyFlightKind { apply, restart };

struct HaproxyState {
  HaproxyState() = default;

  caf::stateful_actor<HaproxyState>* self = nullptr;
  HaproxyOptions options;

  std::optional<HaproxyConfig> applied;  // the text swapped in last
  bool applied_unloaded = false;         // ... but superseded before HAProxy loaded it
  std::optional<HaproxyConfig> pending;  // merged applies, last wins
  bool pending_force = false;            // one of them is a forced reload (SIGUSR1)
  std::vector<caf::response_promise> pending_replies;

  bool busy = false;  // a flight (install → reload → wait) runs
  HaproxyFlightKind flight_kind = HaproxyFlightKind::apply;
  HaproxyConfig flight_config;
  bool flight_force = false;    // reload even though the text is unchanged
  bool flight_changed = false;  // the flight's text differs from the applied one
  std::vector<caf::response_promise> flight_replies;
  bool tick_armed = false;
  // When the running flight started, and the previous one (the rate limit
  // of a flight that ends without a reload goes back to it).
  std::chrono::steady_clock::time_point last_flight_at{};
  std::chrono::steady_clock::time_point previous_flight_at{};
  uint64_t superseded = 0;  // flights whose reload a newer text made needless

  int master_pid = 0;
  std::vector<int> workers;
  uint64_t generation = 0;
  uint64_t restarts = 0;
  std::string last_error;
  bool restart_armed = false;
  std::chrono::milliseconds restart_backoff = HAPROXY_RESTART_BACKOFF_MIN;

  template <typename Then>
  void run_job(std::function<JobResult()> work, Then then) {
    request_job(job_or_failure(spawn_with_thread(self->system(), ThreadActor::detached, [&] {
                  return self->spawn<caf::detached>(haproxy_job, std::move(work));
                })),
                std::move(then));
  }

  // The job, or when its thread cannot start (EAGAIN) a thread-less actor
  // that answers the job's request with that error, so that the job's
  // continuation runs as for any failed job, later, never from here.
  caf::actor job_or_failure(Try<caf::actor> spawned) {
    if (!spawned.is_error()) {
      return *spawned;
    }
    return self->spawn([error = spawned.error()](caf::event_based_actor* f) -> caf::behavior {
      return {[f, error](haproxy_job_atom) {
        JobResult r;
        r.error = "HAProxy job: " + error;
        f->quit();
        return r;
      }};
    });
  }

  template <typename Then>
  void request_job(const caf::actor& job, Then then) {
    self->request(job, caf::infinite, haproxy_job_atom_v)
        .then([then](JobResult& r) mutable { then(std::move(r)); },
              [then](const caf::error& e) mutable {
                JobResult r;
                r.error = "HAProxy job failed: " + caf::to_string(e);
                then(std::move(r));
              });
  }

  caf::typed_response_promise<ApplyResult> on_apply(HaproxyConfig& config, bool force) {
    auto reply = self->make_response_promise<ApplyResult>();
    if (!force && !busy && !pending && !applied_unloaded && applied && haproxy_same_config(*applied, config)) {
      reply.deliver(ApplyResult{false, true, false, "", generation});
      return reply;
    }
    pending = std::move(config);
    pending_force = pending_force || force;
    pending_replies.push_back(reply);
    maybe_start_flight();
    return reply;
  }

  void on_tick() {
    tick_armed = false;
    maybe_start_flight();
  }

  void maybe_start_flight() {
    if (busy || !pending) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto due = last_flight_at + options.min_reload_interval;
    if (now < due) {
      if (!tick_armed) {
        tick_armed = true;
        self->delayed_send(self, due - now, haproxy_tick_atom_v);
      }
      return;
    }
    busy = true;
    flight_kind = HaproxyFlightKind::apply;
    flight_config = std::move(*pending);
    pending.reset();
    // A text on disk that HAProxy never loaded (its reload was superseded
    // by a text that then failed validation) is reloaded like a forced one.
    flight_force = pending_force || applied_unloaded;
    pending_force = false;
    flight_replies = std::move(pending_replies);
    pending_replies.clear();
    flight_changed = !applied || !haproxy_same_config(*applied, flight_config);
    if (!flight_changed && !flight_force) {
      finish_flight(ApplyResult{false, true, false, "", generation});
      return;
    }
    previous_flight_at = last_flight_at;
    last_flight_at = now;
    if (!flight_changed) {
      // A forced reload of the applied text: validate what is on disk, reload.
      run_job([options = options] {
        if (options.skip_validation) {
          return JobResult{1, "", {}};
        }
        std::string message = haproxy_detail::check_config(options.binary, options.config_path);
        return JobResult{message.empty() ? 1 : 0, message.empty() ? "" : "invalid HAProxy configuration: " + message,
                         {}};
      }, [this](JobResult r) { on_installed(std::move(r)); });
      return;
    }
    run_job([options = options, next = flight_config, previous = applied.value_or(HaproxyConfig{})] {
      haproxy_detail::InstallOutcome outcome = haproxy_detail::install_config(options, next, previous);
      return JobResult{outcome.valid ? 1 : 0, outcome.error, {}};
    }, [this](JobResult r) { on_installed(std::move(r)); });
  }

  void on_installed(JobResult r) {
    if (r.value <= 0) {
      LOG_WARNING << "HAProxy configuration rejected, keeping the previous one: " << r.error;
      last_error = r.error;
      if (applied_unloaded && !pending) {
        pending = applied;  // load what is on disk (see applied_unloaded)
      }
      finish_flight(ApplyResult{flight_changed, false, false, r.error, generation});
      return;
    }
    applied = flight_config;
    if (pending && !flight_force && !haproxy_same_config(*pending, flight_config)) {
      // A newer text arrived while this one was validated: it is on disk
      // now, but only the newer one will run. One reload instead of two; the
      // replies of this flight wait for the next one.
      ++superseded;
      applied_unloaded = true;
      LOG_INFO << "A newer HAProxy configuration arrived during validation: reloading with that one only";
      pending_replies.insert(pending_replies.begin(), std::make_move_iterator(flight_replies.begin()),
                             std::make_move_iterator(flight_replies.end()));
      flight_replies.clear();
      last_flight_at = previous_flight_at;
      busy = false;
      maybe_start_flight();
      return;
    }
    if (options.command) {
      run_job([options = options] { return haproxy_run_command(options); },
              [this](JobResult w) { on_worker_ready(std::move(w)); });
    } else if (master_pid == 0) {
      start_master();
    } else {
      run_job([options = options, master = master_pid] { return haproxy_wait_worker(options, master, true); },
              [this](JobResult w) { on_worker_ready(std::move(w)); });
    }
  }

  void start_master() {
    caf::actor job = job_or_failure(spawn_with_thread(self->system(), ThreadActor::detached, [this] {
      return self->spawn<caf::detached>(haproxy_start_job, caf::actor_cast<caf::actor>(self), options);
    }));
    request_job(job, [this](JobResult r) { on_master_started(std::move(r)); });
  }

  void on_master_started(JobResult r) {
    if (r.value <= 0) {
      on_worker_ready(std::move(r));
      schedule_restart();  // no process, so no exit will be reported
      return;
    }
    master_pid = r.value;
    LOG_INFO << "Started HAProxy master " << master_pid << " with " << options.config_path;
    run_job([options = options, master = master_pid] { return haproxy_wait_worker(options, master, false); },
            [this](JobResult w) { on_worker_ready(std::move(w)); });
  }

  void on_worker_ready(JobResult r) {
    if (r.value <= 0) {
      std::string error = r.error + (options.command ? "" : haproxy_log_tail(options));
      LOG_WARNING << "HAProxy did not take the new configuration: " << error;
      last_error = error;
      finish_flight(
          ApplyResult{flight_kind == HaproxyFlightKind::apply && flight_changed, true, false, error, generation});
      return;
    }
    workers = std::move(r.workers);
    applied_unloaded = false;
    last_error.clear();
    restart_backoff = HAPROXY_RESTART_BACKOFF_MIN;
    if (flight_kind == HaproxyFlightKind::restart) {
      ++restarts;
      LOG_INFO << "HAProxy restarted (master " << master_pid << ", worker " << r.value << ")";
    } else {
      ++generation;
      LOG_INFO << "HAProxy runs generation " << generation << " (worker " << r.value << ")";
    }
    finish_flight(ApplyResult{flight_kind == HaproxyFlightKind::apply && flight_changed, true, true, "", generation});
  }

  void finish_flight(const ApplyResult& result) {
    for (auto& reply : flight_replies) {
      reply.deliver(result);
    }
    flight_replies.clear();
    busy = false;
    maybe_start_flight();
  }

  void on_master_exited(int pid, int status) {
    if (pid != master_pid) {
      return;
    }
    master_pid = 0;
    workers.clear();
    last_error = "the HAProxy master " + std::to_string(pid) + " exited: " +
                 describe_wait_status(status, "HAProxy") + haproxy_log_tail(options);
    LOG_WARNING << last_error << "; restarting in " << restart_backoff.count() << " ms";
    schedule_restart();
  }

  void schedule_restart() {
    if (restart_armed || options.command) {
      return;
    }
    restart_armed = true;
    self->delayed_send(self, restart_backoff, haproxy_restart_atom_v);
    restart_backoff = std::min<std::chrono::milliseconds>(restart_backoff * 2, HAPROXY_RESTART_BACKOFF_MAX);
  }

  void on_restart_timer() {
    restart_armed = false;
    if (master_pid != 0 || !applied) {
      return;
    }
    if (busy) {
      schedule_restart();
      return;
    }
    busy = true;
    flight_kind = HaproxyFlightKind::restart;
    start_master();
  }

  caf::typed_response_promise<ApplyResult> on_validate(const std::string& config) {
    auto reply = self->make_response_promise<ApplyResult>();
    run_job([options = options, config] {
      const std::string path = options.config_path + ".validate";
      Try<bool> written = haproxy_detail::write_file_atomically(path, config);
      if (written.is_error()) {
        return JobResult{0, written.error(), {}};
      }
      std::string message = haproxy_detail::check_config(options.binary, path);
      ::unlink(path.c_str());
      return JobResult{message.empty() ? 1 : 0, message, {}};
    }, [this, reply](JobResult r) mutable {
      reply.deliver(ApplyResult{false, r.value > 0, false,
                                r.value > 0 ? "" : "invalid HAProxy configuration: " + r.error, generation});
    });
    return reply;
  }

  std::string on_status() const {
    picojson::object o;
    o["mode"] = picojson::value(options.command ? "command" : "supervised");
    o["config_path"] = picojson::value(options.config_path);
    o["master_pid"] = json_number(master_pid);
    picojson::array pids;
    for (int pid : workers) {
      pids.emplace_back(json_number(pid));
    }
    o["workers"] = picojson::value(pids);
    o["generation"] = json_number(static_cast<double>(generation));
    o["restarts"] = json_number(static_cast<double>(restarts));
    o["reloading"] = picojson::value(busy);
    o["pending"] = picojson::value(pending.has_value());
    o["superseded"] = json_number(static_cast<double>(superseded));
    o["last_error"] = picojson::value(last_error);
    return json_serialize(picojson::value(o));
  }
};

caf::behavior haproxy_actor(caf::stateful_actor<HaproxyState>* self, HaproxyOptions options) {
  set_safe_handlers(self, "lb-haproxy");
  HaproxyState& st = self->state;
  st.self = self;
  st.options = std::move(options);
  return {
      [self](lb_apply_atom, HaproxyConfig& config) { return self->state.on_apply(config, false); },
      [self](lb_reload_atom, HaproxyConfig& config) { return self->state.on_apply(config, true); },
      [self](lb_validate_atom, const std::string& config) { return self->state.on_validate(config); },
      [self](lb_status_atom) { return self->state.on_status(); },
      [self](haproxy_tick_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.on_tick();
        }
      },
      [self](haproxy_restart_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.on_restart_timer();
        }
      },
      [self](haproxy_exited_atom, int pid, int status) { self->state.on_master_exited(pid, status); },
  };
}

}  // namespace

caf::actor spawn_haproxy(caf::actor_system& sys, HaproxyOptions options) {
  return sys.spawn(haproxy_actor, std::move(options));
}

}  // namespace stoa::lb
