// The slave actor's message table, master detection and (re-)registration,
// the master ping timeout and the HTTP views. Executors are in
// slave_executors.cpp, status updates in slave_status_updates.cpp.

#include "slave/slave.hpp"

#include <algorithm>
#include <csignal>
#include <unistd.h>

#include <caf/all.hpp>
#include <picojson.h>

#include "actors/addresses.hpp"
#include "actors/actor_route.hpp"
#include "actors/files.hpp"
#include "actors/atoms.hpp"
#include "actors/http.hpp"
#include "actors/messages.hpp"
#include "actors/router.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/uuid.hpp"
#include "common/version.hpp"
#include "slave/checkpoint.hpp"
#include "slave/paths.hpp"
#include "slave/docker_containerizer.hpp"
#include "slave/posix_containerizer.hpp"
#include "slave/executor_http.hpp"
#include "slave/executor_pool.hpp"
#include "slave/slave_actor.hpp"
#include "slave/slave_metrics.hpp"
#include "slave/state_json.hpp"

namespace stoa::slave {

using namespace stoa::internal;

namespace {

// How long register_slave_routes waits for the slave's services.
constexpr auto SERVICES_TIMEOUT = std::chrono::seconds(10);
// Below the HTTP route's own timeout, so the route gets our answer.
constexpr auto USAGE_TIMEOUT = std::chrono::seconds(9);

}  // namespace

// --- senders ----------------------------------------------------------------

void Slave::drop_message(const char* what, const char* rule) {
  metrics->inc("slave/dropped_messages");
  const caf::strong_actor_ptr& sender = self->current_sender();
  LOG_WARNING << "Dropping " << what << " from "
              << (sender ? caf::to_string(sender->address()) : std::string("an anonymous sender")) << ": "
              << rule;
}

bool Slave::from_self(const char* what) {
  if (self->current_sender() == self->ctrl()) {
    return true;
  }
  drop_message(what, "only the slave itself may send it");
  return false;
}

bool Slave::from_this_process(const char* what) {
  const caf::strong_actor_ptr& sender = self->current_sender();
  if (sender && sender->node() == self->node()) {
    return true;
  }
  drop_message(what, "only actors of this process may send it");
  return false;
}

bool Slave::from_master() {
  if (self->current_sender() && master && self->current_sender()->address() == master.address()) {
    return true;
  }
  drop_message("a master message", "only the detected master may send it");
  return false;
}

// --- registration -------------------------------------------------------------

std::optional<Error> Slave::start_detector() {
  if (opts.detector) {
    detector = opts.detector;
    return std::nullopt;
  }
  detector::Options d;
  d.master = opts.detect;
  d.subscriber = caf::actor_cast<caf::actor>(self);
  d.session_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(opts.flags.zk_session_timeout);
  Try<caf::actor> spawned = detector::spawn_detector(self->system(), std::move(d));
  if (spawned.is_error()) {
    return Error("Invalid --master: " + spawned.error());
  }
  detector = *spawned;
  // It ends when the slave does (it monitors its subscriber).
  return std::nullopt;
}

void Slave::forget_master() {
  if (master) {
    self->demonitor(master);
  }
  master = caf::actor{};
  records.registered = false;
  resolving = false;
  ++connection_generation;  // stale resolutions and retries are ignored
  ++ping_generation;        // so is the old master's ping timeout
}

void Slave::on_leader(const detector::Leader& leader) {
  if (leader.pid.empty()) {
    if (leader_known) {
      LOG_WARNING << "No leading master now (was " << opts.master.str() << "); waiting for one";
    }
    leader_known = false;
    forget_master();
    return;
  }
  Try<Upid> upid = parse_upid(leader.pid);
  if (upid.is_error()) {
    LOG_WARNING << "Ignoring the detected leader '" << leader.pid << "': " << upid.error();
    leader_known = false;
    forget_master();
    return;
  }
  if (leader_known && *upid == opts.master) {
    return;  // the same leader (another contender came or went)
  }
  LOG_INFO << "The leading master is now " << leader.pid << " (" << leader.znode << ")";
  forget_master();
  leader_known = true;
  opts.master = *upid;
  warn_if_loopback();
  backoff = opts.flags.registration_backoff_factor;
  if (registered_before) {
    // A failover: every slave of the cluster learns of the new leader at
    // once. As Mesos' agent, wait a random part of the backoff factor first,
    // so that their re-registrations arrive spread out instead of as one
    // burst whose retries the new leader must read through (#17).
    schedule_retry();
    return;
  }
  detect_master();
}

void Slave::warn_if_loopback() const {
  // As Mesos, on each new master: a loopback-bound (or -advertised) agent
  // cannot be reached by a master on another host.
  for (const std::string& own : {opts.flags.ip, opts.upid.host}) {
    if (std::optional<std::string> warning = addresses::loopback_agent_warning(own, opts.master.host)) {
      LOG_WARNING << *warning << " (bound to " << opts.flags.ip << ", advertised as " << opts.upid.host
                  << "; master " << opts.master.str() << ")";
      return;
    }
  }
}

void Slave::detect_master() {
  if (resolving || (following() && !leader_known)) {
    return;
  }
  resolving = true;
  uint64_t gen = ++connection_generation;
  self->request(router, RESOLVE_TIMEOUT, resolve_atom_v, opts.master.str())
      .then(
          [this, gen](const caf::actor& m) {
            if (gen != connection_generation) {
              return;
            }
            resolving = false;
            master = m;
            self->monitor(master);
            // As Mesos' agent: retry n waits a random part of the factor
            // times 2^n, so the first retry waits up to twice the factor
            // (waiting up to the factor itself made a 50k-slave failover's
            // flood of retries twice as dense; #17).
            backoff = 2 * opts.flags.registration_backoff_factor;
            LOG_INFO << "Detected master " << opts.master.str();
            send_registration();
          },
          [this, gen](caf::error& e) {
            if (gen != connection_generation) {
              return;
            }
            resolving = false;
            LOG_WARNING << "Cannot reach master " << opts.master.str() << ": " << self->system().render(e)
                        << "; retrying";
            schedule_retry();
          });
}

void Slave::schedule_retry() {
  if (backoff.count() == 0) {
    backoff = opts.flags.registration_backoff_factor;
  }
  std::uniform_int_distribution<int64_t> d(0, std::max<int64_t>(1, backoff.count()));
  auto wait = std::chrono::nanoseconds(d(rng));
  backoff = std::min<std::chrono::nanoseconds>(backoff * 2, MAX_REGISTRATION_BACKOFF);
  self->delayed_send(self, wait, retry_atom_v, connection_generation);
}

void Slave::on_retry(uint64_t gen) {
  if (gen != connection_generation || records.registered) {
    return;
  }
  if (!master) {
    detect_master();
  } else {
    send_registration();
  }
}

void Slave::send_registration() {
  if (!master || recovering) {
    return;  // recovery ends with a registration (maybe_finish_recovery)
  }
  if (records.slave_id.empty()) {
    RegisterSlaveMessage m;
    *m.mutable_slave() = records.info;
    m.set_version(STOA_VERSION);
    m.set_pid(opts.upid.str());
    m.set_batched_acknowledgements(true);
    self->send(master, m);
  } else {
    ReregisterSlaveMessage m;
    *m.mutable_slave() = records.info;
    m.mutable_slave()->mutable_id()->set_value(records.slave_id);
    m.set_version(STOA_VERSION);
    m.set_pid(opts.upid.str());
    m.set_batched_acknowledgements(true);
    for (auto& [fid, f] : records.frameworks) {
      *m.add_frameworks() = f.info;
      for (auto& [eid, e] : f.executors) {
        for (auto& [tid, t] : e.tasks) {
          *m.add_tasks() = t;
        }
        for (auto& [tid, ti] : e.queued) {
          *m.add_tasks() = make_task(ti, fid, records.slave_id, TASK_STAGING);
        }
      }
    }
    self->send(master, m);
  }
  schedule_retry();
}

void Slave::on_registered(const std::string& id, bool reregistered, const MasterSlaveConnection& connection) {
  if (!records.slave_id.empty() && id != records.slave_id) {
    kill_all_and_quit("Registered with a different id " + id + " than " + records.slave_id);
    return;
  }
  bool first = !records.registered;
  bool new_id = records.slave_id.empty();
  records.registered = true;
  registered_before = true;
  records.slave_id = id;
  records.info.mutable_id()->set_value(id);
  if (new_id) {
    // Who this slave is, for a restarted one (Mesos writes it always).
    checkpoint_failed("the slave info", checkpoint_slave_info(opts.flags.work_dir, records.info));
    gc_old_slaves();
  }
  if (connection.has_total_ping_timeout_seconds() && connection.total_ping_timeout_seconds() > 0 &&
      connection.total_ping_timeout_seconds() < 1e6) {
    master_ping_timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(connection.total_ping_timeout_seconds()));
  }
  if (first) {
    LOG_INFO << (reregistered ? "Re-registered" : "Registered") << " with master " << opts.master.str()
             << " as " << id << " (master ping timeout "
             << std::chrono::duration_cast<std::chrono::milliseconds>(master_ping_timeout).count() << " ms)";
    arm_ping_timeout();  // from now, not from the first ping
  }
  start_usage_reports();
  // Resume status updates held while disconnected.
  for (const auto& key : updates.streams()) {
    if (const StatusUpdate* u = updates.head(key)) {
      forward(*u);
    }
  }
}

void Slave::on_master_down() {
  LOG_WARNING << "Lost the master " << opts.master.str() << "; re-registering";
  master = caf::actor{};
  records.registered = false;
  backoff = opts.flags.registration_backoff_factor;
  ++connection_generation;
  schedule_retry();
}

void Slave::on_ping() {
  self->send(master, PongSlaveMessage{});
  arm_ping_timeout();
}

void Slave::arm_ping_timeout() {
  self->delayed_send(self, master_ping_timeout, ping_timeout_atom::value, ++ping_generation);
}

// The master counts this slave unreachable by now and has closed its end
// (master/slaves.cpp). Our end may still hold messages that TCP retransmits
// at a backed-off interval: close it too (the router forgets its cached
// proxies first), so the re-registration goes over a fresh connection and
// nothing stale arrives seconds later (Mesos' slave re-detects the master).
void Slave::on_ping_timeout(uint64_t gen) {
  if (gen == ping_generation && master) {
    LOG_WARNING << "No ping from the master for "
                << std::chrono::duration_cast<std::chrono::milliseconds>(master_ping_timeout).count()
                << " ms; closing the connection to it and re-registering";
    if (master.node() != self->node()) {
      self->request(router, RESOLVE_TIMEOUT, disconnect_atom_v, master, std::string("no ping from the master"))
          .then([](bool) {},
                [this](caf::error& e) {
                  LOG_WARNING << "Cannot close the connection to the master: " << self->system().render(e);
                });
    }
    self->demonitor(master);
    on_master_down();
  }
}

void Slave::on_shutdown(const ShutdownMessage& m) {
  // The master is done with this slave id: a restart registers afresh
  // (Mesos removes meta/slaves/latest too).
  checkpoint_failed("the removal of meta/slaves/latest",
                    checkpoint::remove_all(latest_slave_meta_path(opts.flags.work_dir)));
  kill_all_and_quit("Master asked this slave to shut down: " + m.message());
}

void Slave::kill_all_and_quit(const std::string& why) {
  LOG_WARNING << why << "; killing every executor and exiting";
  kill_pool();
  self->request(containerizer, std::chrono::seconds(30), destroy_all_atom::value)
      .then([this](bool) { self->quit(); },
            [this](caf::error& e) {
              LOG_ERROR << "Cannot kill every executor: " << self->system().render(e);
              self->quit();
            });
}

void Slave::refresh_gauges() {
  for (const auto& [name, value] : slave_gauges(records, opts.resources, now_seconds())) {
    metrics->set(name, value);
  }
  metrics->set("slave/executor_pool_ready",
               static_cast<double>(std::count_if(pool.begin(), pool.end(),
                                                 [](const auto& p) { return p.second.adoptable(); })));
}

void Slave::on_down(const caf::down_msg& dm) {
  if (master && dm.source == master.address()) {
    on_master_down();
    return;
  }
  if (Executor* e = records.executor_by_handle(dm.source)) {
    records.set_handle(*e, caf::actor{});  // the containerizer reports the exit status
  }
}

// --- HTTP views -----------------------------------------------------------------

caf::result<int, std::string> Slave::on_state_request(const std::string& endpoint) {
  if (endpoint == "state") {
    return {200, json_serialize(state_json(records, opts))};
  }
  if (endpoint == "health") {
    return {200, std::string()};
  }
  if (endpoint == "metrics") {
    refresh_gauges();
    return {200, metrics->json()};
  }
  if (endpoint == "flags") {
    return {200, json_serialize(flags_json(opts.flags))};
  }
  if (endpoint != "monitor") {
    return {404, std::string("{\"message\":\"Unknown endpoint\"}")};
  }
  // Sampling reads /proc: the containerizer does it off this thread.
  std::vector<std::string> running;
  for (const auto& [fid, f] : records.frameworks) {
    for (const auto& [eid, e] : f.executors) {
      if (e.phase != Executor::Phase::TERMINATED && e.pid > 0) {
        running.push_back(e.container_id);
      }
    }
  }
  auto rp = self->make_response_promise<int, std::string>();
  self->request(containerizer, USAGE_TIMEOUT, usage_atom::value, std::move(running))
      .then(
          [this, rp](const ContainerUsages& usages) mutable {
            try {
              rp.deliver(200, json_serialize(monitor_json(records, usages)));
            } catch (const std::exception& e) {
              LOG_ERROR << "Cannot render /monitor/statistics: " << e.what();
              rp.deliver(500, std::string("{\"message\":\"Cannot render this view\"}"));
            }
          },
          [this, rp](caf::error& e) mutable {
            LOG_WARNING << "Cannot sample the containers' usage: " << self->system().render(e);
            rp.deliver(500, std::string("{\"message\":\"Cannot sample the containers' usage\"}"));
          });
  return rp;
}

// --- the message table ------------------------------------------------------------

namespace {

// The containerizer the slave spawns itself (no double injected): the POSIX
// one with the --isolation isolators, stopped when the slave stops.
std::optional<Error> start_own_containerizer(caf::stateful_actor<Slave>* self) {
  const SlaveFlags& flags = self->state.opts.flags;
  IsolatorOptions options{flags.cgroups_hierarchy, flags.cgroups_root, flags.cgroups_enable_cfs,
                          flags.cgroups_pids_limit, flags.enforce_container_disk_quota,
                          flags.container_disk_watch_interval};
  Try<Isolators> isolators = create_isolators(flags.isolation, options);
  if (isolators.is_error()) {
    return Error("Invalid --isolation: " + isolators.error());
  }
  ContainerizerOptions copts;
  copts.listener = caf::actor_cast<caf::actor>(self);
  if (self->state.opts.recovered && flags.recover == "reconnect") {
    copts.recovered = recovered_containers(*self->state.opts.recovered, flags.work_dir);
  }
  // --containerizers (validated by the flags): the Mesos one, the docker
  // one, or both under a composing one (docker_containerizer.hpp).
  const bool use_mesos = self->state.runs_mesos;
  const bool use_docker = self->state.runs_docker;
  DockerContainerizerOptions dopts;
  dopts.docker = flags.docker;
  dopts.socket = flags.docker_socket;
  dopts.work_dir = flags.work_dir;
  dopts.kill_orphans = flags.docker_kill_orphans;
  dopts.remove_delay = flags.docker_remove_delay;
  for (const RecoveredContainer& rc : copts.recovered) {
    dopts.known.push_back(rc.container_id);
  }
  containerizer_actor c;
  if (use_mesos && use_docker) {
    auto shared_isolators = std::make_shared<Isolators>(std::move(*isolators));
    c = spawn_composing_containerizer(
        self->system(),
        [&sys = self->system(), shared_isolators, copts](caf::actor listener) {
          ContainerizerOptions o = copts;
          o.listener = std::move(listener);
          return spawn_posix_containerizer(sys, std::move(*shared_isolators), std::move(o));
        },
        [&sys = self->system(), dopts](caf::actor) { return spawn_docker_containerizer(sys, dopts); },
        caf::actor_cast<caf::actor>(self));
  } else if (use_docker) {
    c = spawn_docker_containerizer(self->system(), std::move(dopts));
  } else {
    c = spawn_posix_containerizer(self->system(), std::move(*isolators), std::move(copts));
  }
  self->state.containerizer = c;
  // If it dies, the slave stops (its exit handler).
  self->link_to(c);
  // However the slave ends, its containerizer ends too, killing every
  // container (a linked actor outlives a normal exit).
  self->attach_functor([c](const caf::error&) { caf::anon_send_exit(c, caf::exit_reason::user_shutdown); });
  return std::nullopt;
}

}  // namespace

caf::behavior slave_actor(caf::stateful_actor<Slave>* self, caf::actor router, SlaveOptions opts) {
  Slave& s = self->state;
  s.self = self;
  s.router = std::move(router);
  s.opts = std::move(opts);
  if (s.opts.rng_seed) {
    s.rng.seed(*s.opts.rng_seed);
  }
  {
    Try<std::vector<std::string>> kinds = parse_containerizers(s.opts.flags.containerizers);
    s.runs_mesos = kinds.is_error() || std::count(kinds->begin(), kinds->end(), "mesos") != 0;
    s.runs_docker = kinds.is_some() && std::count(kinds->begin(), kinds->end(), "docker") != 0;
  }
  s.records.start_time = now_seconds();
  if (s.opts.metrics != nullptr) {
    s.metrics = s.opts.metrics;
  } else {
    s.own_metrics = std::make_shared<metrics::Registry>();
    s.metrics = s.own_metrics.get();
  }
  declare_slave_metrics(*s.metrics);
  set_safe_handlers(self, "slave");
  s.records.info = make_slave_info(s.opts);
  if (s.opts.containerizer) {
    s.containerizer = s.opts.containerizer;
  } else if (std::optional<Error> error = start_own_containerizer(self)) {
    LOG_ERROR << "Cannot start the slave: " << error->message;
    self->quit(caf::sec::invalid_argument);
    return {};
  }
  s.start_sandbox_services();
  s.user = current_user_name();
  if (Try<std::vector<std::string>> names = parse_isolation(s.opts.flags.isolation); names.is_some()) {
    s.isolation = *names;
  }
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!exit_from_this_process(self, msg)) {
      LOG_WARNING << "The slave ignored an exit message from "
                  << (msg.source ? caf::to_string(msg.source) : std::string("an anonymous sender"))
                  << ": only actors of this process may stop it";
      return;
    }
    if (self->state.containerizer && msg.source == self->state.containerizer.address()) {
      LOG_ERROR << "The containerizer died (" << self->system().render(msg.reason) << "); stopping the slave";
    }
    self->state.kill_all();
    self->state.kill_pool();
    self->quit(msg.reason);
  });
  if (s.opts.recovered) {
    s.recover(std::move(*s.opts.recovered));
    s.opts.recovered.reset();
  }
  // The pool fills once the HTTP routes are served (routes_served_atom).
  if (s.opts.detector || !s.opts.detect.empty()) {
    if (std::optional<Error> error = s.start_detector()) {
      LOG_ERROR << "Cannot start the slave: " << error->message;
      self->quit(caf::sec::invalid_argument);
      return {};
    }
  } else {
    s.warn_if_loopback();
    s.detect_master();
  }
  return {
      // From the master.
      [self](SlaveRegisteredMessage& m) {
        if (self->state.from_master()) {
          self->state.on_registered(m.slave_id().value(), false, m.connection());
        }
      },
      [self](SlaveReregisteredMessage& m) {
        if (self->state.from_master()) {
          self->state.on_registered(m.slave_id().value(), true, m.connection());
        }
      },
      [self](RunTaskMessage& m) {
        if (self->state.from_master()) {
          self->state.on_run_task(m);
        }
      },
      [self](KillTaskMessage& m) {
        if (self->state.from_master()) {
          self->state.on_kill_task(m);
        }
      },
      [self](StatusUpdateAcknowledgementMessage& m) {
        if (self->state.from_master()) {
          self->state.on_acknowledgement(m);
        }
      },
      [self](StatusUpdateAcknowledgementsMessage& m) {
        if (self->state.from_master()) {
          self->state.on_acknowledgements(m);
        }
      },
      [self](ShutdownFrameworkMessage& m) {
        if (self->state.from_master()) {
          self->state.on_shutdown_framework(m);
        }
      },
      [self](FrameworkToExecutorMessage& m) {
        if (self->state.from_master()) {
          self->state.on_framework_message(m);
        }
      },
      [self](PingSlaveMessage&) {
        if (self->state.from_master()) {
          self->state.on_ping();
        }
      },
      [self](ShutdownMessage& m) {
        if (self->state.from_master()) {
          self->state.on_shutdown(m);
        }
      },
      // From the master detector.
      [self](detector::leader_atom, const detector::Leader& leader) {
        Slave& s = self->state;
        if (!s.following() || self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(s.detector)) {
          s.drop_message("a leader report", "only the slave's master detector may send it");
          return;
        }
        s.on_leader(leader);
      },
      // From executors.
      [self](RegisterExecutorMessage& m) { self->state.on_register_executor(m); },
      [self](ReregisterExecutorMessage& m) { self->state.on_reregister_executor(m); },
      [self](StatusUpdateMessage& m) { self->state.on_executor_update(m); },
      [self](ExecutorToFrameworkMessage& m) { self->state.on_executor_message(m); },
      // From the v1 executor API's route (executor_http.cpp).
      [self](executor_api_atom, const std::string& call, bool json) -> http::Response {
        if (!self->state.from_this_process("an executor API call")) {
          return http::error_response(403, "not accepted from a remote actor");
        }
        return self->state.on_executor_call(call, json);
      },
      [self](executor_pool_atom, const std::string& token, int32_t pid) -> http::Response {
        if (!self->state.from_this_process("a pooled executor's subscription")) {
          return http::error_response(403, "not accepted from a remote actor");
        }
        return self->state.on_pool_subscribe(token, pid);
      },
      // From pooled executors (slave_pool.cpp) and their watchers.
      [self](ExecutorPoolReadyMessage& m) { self->state.on_pool_ready(m); },
      [self](pool_started_atom, const std::string& token, int32_t pid, uint64_t started_ticks,
             const std::string& error) {
        if (self->state.from_this_process("a pooled executor's start")) {
          self->state.on_pool_started(token, pid, started_ticks, error);
        }
      },
      [self](pool_exited_atom, const std::string& token) {
        if (self->state.from_this_process("a pooled executor's exit")) {
          self->state.on_pool_exited(token);
        }
      },
      [self](routes_served_atom) {
        if (self->state.from_this_process("the routes' readiness") && !self->state.routes_served) {
          self->state.routes_served = true;
          self->state.fill_pool();
        }
      },
      [self](pool_refill_atom) {
        if (self->state.from_self("a pool refill")) {
          self->state.pool_refill_pending = false;
          self->state.fill_pool();
        }
      },
      // Timers.
      [self](retry_atom, uint64_t gen) {
        if (self->state.from_self("a registration retry")) {
          self->state.on_retry(gen);
        }
      },
      [self](ping_timeout_atom, uint64_t gen) {
        if (self->state.from_self("a ping timeout")) {
          self->state.on_ping_timeout(gen);
        }
      },
      [self](registration_timeout_atom, const std::string& cid) {
        if (self->state.from_self("an executor registration timeout")) {
          self->state.on_registration_timeout(cid);
        }
      },
      [self](usage_tick_atom) {
        if (self->state.from_self("a usage report tick")) {
          self->state.on_usage_tick();
        }
      },
      [self](recovery_timeout_atom) {
        if (self->state.from_self("a recovery timeout")) {
          self->state.on_recovery_timeout();
        }
      },
      [self](kill_atom, const std::string& cid) {
        if (self->state.from_self("an executor kill")) {
          self->state.on_hard_kill(cid);
        }
      },
      // From the containerizer, before the container's exit status.
      [self](limitation_atom, const std::string& cid, const ContainerLimitation& limitation) {
        // From the containerizer, or from one under a composing one (which
        // sends it to us directly): an actor of this process.
        if (self->state.from_this_process("a container limitation")) {
          self->state.limitations[cid] = limitation;
        }
      },
      [self](update_retry_atom, int64_t deadline) {
        if (self->state.from_self("a status update retry")) {
          self->state.on_update_retry(deadline);
        }
      },
      // The HTTP routes' services (register_slave_routes).
      [self](services_atom) -> caf::result<caf::actor, caf::actor> {
        if (!self->state.from_this_process("a services request")) {
          return caf::sec::request_receiver_down;
        }
        return {self->state.files, self->state.gc};
      },
      // A metrics scrape (Runtime::add_metrics_collector).
      [self](metrics_atom) -> bool {
        if (!self->state.from_this_process("a metrics request")) {
          return false;
        }
        self->state.refresh_gauges();
        return true;
      },
      // HTTP views.
      [self](state_atom, const std::string& endpoint,
             const std::map<std::string, std::string>&) -> caf::result<int, std::string> {
        if (!self->state.from_this_process("a state request")) {
          return {403, std::string("{\"message\":\"not accepted from a remote actor\"}")};
        }
        try {
          return self->state.on_state_request(endpoint);
        } catch (const std::exception& e) {
          LOG_ERROR << "Cannot render /" << endpoint << ": " << e.what();
          return {500, std::string("{\"message\":\"Cannot render this view\"}")};
        }
      },
  };
}

SlaveInfo make_slave_info(const SlaveOptions& opts) {
  SlaveInfo info;
  info.set_hostname(opts.hostname);
  info.set_port(opts.upid.port);
  opts.resources.to_proto(info.mutable_resources());
  for (const Attribute& a : opts.attributes) {
    *info.add_attributes() = a;
  }
  return info;
}

std::optional<Error> check_recoverable(const SlaveCheckpoint& checkpoint, const SlaveInfo& info,
                                       const std::string& work_dir) {
  SlaveInfo old = checkpoint.info;
  old.clear_id();
  std::string what;
  if (old.hostname() != info.hostname()) {
    what = "hostname '" + old.hostname() + "' became '" + info.hostname() + "'";
  } else if (old.port() != info.port()) {
    what = "port " + std::to_string(old.port()) + " became " + std::to_string(info.port());
  } else {
    Try<Resources> before = Resources::from_proto(old.resources());
    Try<Resources> now = Resources::from_proto(info.resources());
    if (before.is_error() || now.is_error() || !(*before == *now)) {
      what = "resources '" + (before.is_some() ? before->to_string() : before.error()) + "' became '" +
             (now.is_some() ? now->to_string() : now.error()) + "'";
    } else if (old.attributes_size() != info.attributes_size()) {
      what = "the attributes changed";
    } else {
      for (int i = 0; i < old.attributes_size(); ++i) {
        if (old.attributes(i).SerializeAsString() != info.attributes(i).SerializeAsString()) {
          what = "attribute '" + old.attributes(i).name() + "' changed";
          break;
        }
      }
    }
  }
  if (what.empty()) {
    return std::nullopt;
  }
  return Error("Incompatible slave info detected for slave " + checkpoint.slave_id + ": " + what +
               ". To start this slave afresh (its running tasks are then lost), remove " +
               latest_slave_meta_path(work_dir) + " (or start it with the old flags)");
}

caf::actor spawn_slave(caf::actor_system& sys, const caf::actor& router, SlaveOptions opts) {
  return sys.spawn(slave_actor, router, std::move(opts));
}

void register_slave_routes(Runtime& runtime, const caf::actor& slave, const std::string& id) {
  runtime.add_route(actor_route(slave, "/" + id + "/state", "state",
                                "State of this slave: resources, attributes, frameworks, executors "
                                "and tasks."));
  runtime.add_route(actor_route(slave, "/" + id + "/state.json", "state", "Alias of /" + id + "/state."));
  runtime.add_route(actor_route(slave, "/" + id + "/flags", "flags", "The slave's effective flags."));
  runtime.add_route(executor_api_route(slave));
  runtime.add_route(executor_pool_route(slave));
  runtime.add_route(actor_route(slave, "/" + id + "/monitor/statistics", "monitor",
                                "Resource usage of each running executor's container (CPU times, "
                                "resident memory), as the posix/cpu and posix/mem isolators see it."));
  runtime.add_route(actor_route(slave, "/monitor/statistics", "monitor",
                                "Alias of /" + id + "/monitor/statistics."));
  runtime.add_route(actor_route(slave, "/" + id + "/health", "health",
                                "Answers 200 OK with an empty body when the slave actor answers "
                                "(503 when it does not)."));
  // Sandboxes (docs/sandboxes.md): /files/* and what the collector holds.
  caf::scoped_actor asker{runtime.system()};
  asker->request(slave, SERVICES_TIMEOUT, services_atom::value)
      .receive(
          [&](const caf::actor& files, const caf::actor& gc) {
            files::register_files_routes(runtime, files);
            runtime.add_route(actor_route(gc, "/" + id + "/gc", "gc",
                                          "Paths scheduled for garbage collection, with their removal "
                                          "times, and the current max age from the disk usage."));
          },
          [&](caf::error& e) { LOG_ERROR << "No /files routes: the slave did not answer: " << caf::to_string(e); });
  asker->send(slave, routes_served_atom::value);
}

}  // namespace stoa::slave
