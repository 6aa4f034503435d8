// The slave's warm pool of command executors (--executor_pool_size,
// docs/executor-pool.md): pooled stoa-executor processes (stoa-http-executor
// under --http_command_executor) are started ahead
// (by one detached actor, the pool's starter, one after the other; the
// process's PidWatcher then watches each for its exit without reaping it),
// say they are ready, and each adopts one
// eligible launch (slave_executors.cpp); replacements start once the
// framework has acknowledged a task's TASK_RUNNING (its launch is over) or
// an executor exits (fill_pool tops the pool up to
// --executor_pool_size, counting those still starting), so a replacement's
// start does not compete with the launch that took the pooled one.
//
// Reaping: an unadopted pooled executor that exits is reaped here; once
// adopted it belongs to the containerizer, whose waiter reaps it. The
// pool's watch never reaps (PidWatcher), so the two cannot race.

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/launcher.hpp"
#include "actors/safety.hpp"
#include "common/flags.hpp"
#include "common/logging.hpp"
#include "common/uuid.hpp"
#include "slave/executor_http.hpp"
#include "slave/executor_pool.hpp"
#include "slave/executor_zygote.hpp"
#include "slave/pid_watcher.hpp"
#include "slave/reaper.hpp"
#include "slave/slave_actor.hpp"

namespace stoa::slave {

using namespace stoa::internal;

namespace slave_pool_detail {

using pool_start_atom = caf::atom_constant<caf::atom("pl_go")>;

// Starts pooled executors, one per (pool_start_atom, token): forked by
// `zygote` when there is one, exec'd from the pool's spec otherwise (or
// when the zygote fails), and tells the slave the pid or the error.
caf::behavior pool_starter(caf::event_based_actor* self, caf::actor slave, PoolSpecInputs in,
                           std::shared_ptr<ExecutorZygote> zygote) {
  set_safe_handlers(self, "executor pool starter");
  return {
      [self, slave, in, zygote](pool_start_atom, const std::string& token) {
        Try<pid_t> pid = Error("no zygote");
        if (zygote) {
          pid = zygote->fork_pooled(token);
          if (pid.is_error()) {
            LOG_WARNING << "Starting pooled executor " << token << " without the zygote: " << pid.error();
          }
        }
        if (pid.is_error()) {
          PoolSpecInputs mine = in;
          mine.token = token;
          pid = launch(pooled_executor_spec(mine));
        }
        if (pid.is_error()) {
          self->send(slave, pool_started_atom::value, token, int32_t{-1}, uint64_t{0}, pid.error());
        } else {
          // Its start time read here, off the slave's thread (a launch
          // that adopts it needs it; #17).
          uint64_t ticks = process_start_ticks(*pid);
          self->send(slave, pool_started_atom::value, token, static_cast<int32_t>(*pid), ticks, std::string());
        }
      },
  };
}

void reap_now(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace slave_pool_detail

void Slave::schedule_pool_refill() {
  if (pool_refill_pending) {
    return;
  }
  pool_refill_pending = true;
  self->delayed_send(self, pool_backoff, pool_refill_atom::value);
  pool_backoff = std::min(pool_backoff * 2, POOL_MAX_RESTART_DELAY);
}

void Slave::fill_pool() {
  if (!runs_mesos || !routes_served) {
    // Only the Mesos containerizer's command executors come from the pool,
    // and only once the executors' routes are served (routes_served_atom).
    return;
  }
  const size_t size = static_cast<size_t>(std::max(0, opts.flags.executor_pool_size));
  if (pool.size() >= size) {
    return;
  }
  if (!pool_starter) {
    PoolSpecInputs in;
    in.executor_path = pool_executor_path();
    in.slave_pid = opts.upid.str();
    in.slave_actor_port = opts.actor_port;
    in.ip = opts.upid.host;
    in.work_dir = opts.flags.work_dir;
    if (opts.flags.http_command_executor) {
      in.agent_endpoint = opts.upid.host + ":" + std::to_string(opts.upid.port);
      in.domain_socket = opts.domain_socket;
    }
    if (opts.flags.http_command_executor && !zygote) {
      // stoa-http-executor: one started as the zygote forks the others.
      LaunchSpec zygote_spec = pooled_executor_spec(in);
      zygote_spec.env.erase(POOL_TOKEN_VARIABLE);
      zygote_spec.env[ZYGOTE_VARIABLE] = "1";
      zygote = std::make_shared<ExecutorZygote>(std::move(zygote_spec));
    }
    Try<caf::actor> spawned = spawn_with_thread(self->system(), ThreadActor::detached, [&] {
      return self->spawn<caf::detached + caf::linked>(slave_pool_detail::pool_starter,
                                                     caf::actor_cast<caf::actor>(self), in, zygote);
    });
    if (spawned.is_error()) {
      LOG_WARNING << "Cannot start the executor pool: " << spawned.error() << "; retrying in "
                  << format_duration(pool_backoff);
      schedule_pool_refill();
      return;
    }
    pool_starter = *spawned;
  }
  while (pool.size() < size) {
    std::string token = random_uuid();
    pool[token];
    self->send(pool_starter, slave_pool_detail::pool_start_atom::value, token);
  }
}

void Slave::on_pool_started(const std::string& token, int32_t pid, uint64_t started_ticks,
                            const std::string& error) {
  auto it = pool.find(token);
  if (it == pool.end()) {
    // The pool was killed meanwhile. (Not adopted: adoption waits for this
    // report, PooledExecutor::adoptable.)
    if (pid > 0) {
      signal_process_group(pid, SIGKILL);
      slave_pool_detail::reap_now(pid);
    }
    return;
  }
  if (pid <= 0) {
    LOG_WARNING << "Cannot start a pooled executor: " << error << "; retrying in " << format_duration(pool_backoff);
    pool.erase(it);
    schedule_pool_refill();
    return;
  }
  PooledExecutor& p = it->second;
  p.pid = pid;
  p.started_ticks = started_ticks;
  LOG_INFO << "Started pooled executor " << token << " (pid " << pid << ")";
  watch_pooled(token, p);
  if (p.handle && p.claimed != pid) {
    LOG_WARNING << "Pooled executor " << token << " started as pid " << pid << " but pid " << p.claimed
                << " said it was ready with its token; it is killed and replaced";
    p.stop->store(true);
    discard_pooled(pid);
    pool.erase(it);
    schedule_pool_refill();
  }
}

void Slave::watch_pooled(const std::string& token, const PooledExecutor& p) {
  if (!pid_watcher) {
    Try<std::shared_ptr<PidWatcher>> watcher = PidWatcher::shared();
    if (watcher.is_error()) {
      // Its exit before adoption goes unseen until an adoption fails (its
      // stream closed); the pool's size counts it meanwhile.
      LOG_WARNING << "Cannot watch pooled executor " << token << " (pid " << p.pid << "): " << watcher.error();
      return;
    }
    pid_watcher = std::move(*watcher);
  }
  caf::actor_addr slave = self->address();
  pid_watcher->watch(p.pid, p.stop, [slave, token](bool exited) {
    if (!exited) {
      return;  // it left the pool
    }
    if (caf::actor a = caf::actor_cast<caf::actor>(slave)) {
      caf::send_as(a, a, pool_exited_atom::value, token);  // from the slave itself: a local sender
    }
  });
}

void Slave::on_pool_ready(ExecutorPoolReadyMessage& m) {
  caf::actor from = caf::actor_cast<caf::actor>(self->current_sender());
  if (!from) {
    return;
  }
  auto it = pool.find(m.token());
  // (Its start may not have been reported yet: the token, a fresh uuid only
  // it was given, is what counts.)
  if (it == pool.end() || (it->second.pid > 0 && it->second.pid != m.pid()) || it->second.handle) {
    LOG_INFO << "Refusing pooled executor " << m.token() << " (pid " << m.pid() << "): not one this slave started";
    self->send(from, ShutdownExecutorMessage{});
    return;
  }
  it->second.handle = from;
  it->second.claimed = m.pid();
  pool_backoff = POOL_RESTART_DELAY;
  LOG_INFO << "Pooled executor " << m.token() << " (pid " << m.pid() << ") is ready";
}

void Slave::on_pool_exited(const std::string& token) {
  auto it = pool.find(token);
  if (it == pool.end()) {
    return;  // adopted meanwhile: the containerizer reaps it
  }
  LOG_WARNING << "Pooled executor " << token << " (pid " << it->second.pid << ") exited before adoption";
  slave_pool_detail::reap_now(it->second.pid);
  pool.erase(it);
  schedule_pool_refill();
}

const std::string& Slave::pool_executor_path() const {
  return opts.flags.http_command_executor ? opts.http_executor_path : opts.executor_path;
}

http::Response Slave::on_pool_subscribe(const std::string& token, int32_t pid) {
  auto it = pool.find(token);
  if (it == pool.end() || (it->second.pid > 0 && it->second.pid != pid) || it->second.handle) {
    LOG_INFO << "Refusing pooled executor " << token << " (pid " << pid << "): not one this slave started";
    return http::error_response(403, "Pooled executor '" + token + "' (pid " + std::to_string(pid) +
                                         ") is not one this slave started, or it is ready already");
  }
  http::Response r;
  r.content_type = JSON_TYPE;
  r.stream_producer = spawn_pooled_executor_connection(self->system(), caf::actor_cast<caf::actor>(self), token, pid);
  return r;
}

std::optional<PoolAdoption> Slave::take_pooled(ContainerConfig& config) {
  if (opts.flags.executor_pool_size <= 0) {
    return std::nullopt;
  }
  std::optional<std::string> refusal = pool_refusal(config, isolation, user);
  if (!refusal && (config.argv.empty() || config.argv[0] != pool_executor_path())) {
    // --http_command_executor: a task with a health check runs stoa-executor.
    refusal = "it runs " + (config.argv.empty() ? std::string("nothing") : config.argv[0]) + ", the pool holds " +
              pool_executor_path();
  }
  if (refusal) {
    LOG_INFO << "Starting executor " << config.executor_id << " afresh, not from the pool: " << *refusal;
    metrics->inc("slave/executor_pool_cold_starts");
    return std::nullopt;
  }
  auto it = std::find_if(pool.begin(), pool.end(), [](const auto& p) { return p.second.adoptable(); });
  if (it == pool.end()) {
    metrics->inc("slave/executor_pool_cold_starts");
    return std::nullopt;
  }
  PoolAdoption adoption;
  adoption.handle = it->second.handle;
  adoption.pid = it->second.pid;
  adoption.http = opts.flags.http_command_executor;
  it->second.stop->store(true);
  AdoptExecutorMessage& m = adoption.message;
  m.set_token(it->first);
  m.set_container_id(config.container_id);
  m.set_directory(config.directory);
  for (const auto& [name, value] : config.env) {
    Environment::Variable* v = m.mutable_environment()->add_variables();
    v->set_name(name);
    v->set_value(value);
  }
  config.pooled_pid = adoption.pid;
  config.pooled_started_ticks = it->second.started_ticks;
  pool.erase(it);
  metrics->inc("slave/executor_pool_adopted");
  return adoption;
}

void Slave::discard_pooled(pid_t pid) {
  signal_process_group(pid, SIGKILL);
  caf::actor waiter = spawn_waiter(self->system(), pid);
  self->request(waiter, caf::infinite, reaped_atom_v).then([](int32_t) {}, [](caf::error&) {});
}

void Slave::kill_pool() {
  if (pool_starter) {
    // Linked, but a slave that stops normally would not take it along.
    self->send_exit(pool_starter, caf::exit_reason::user_shutdown);
    pool_starter = nullptr;
  }
  if (zygote) {
    zygote->stop();
  }
  for (auto& [token, p] : pool) {
    p.stop->store(true);
    if (p.pid > 0) {
      signal_process_group(p.pid, SIGKILL);
      slave_pool_detail::reap_now(p.pid);
    }
  }
  pool.clear();
}

}  // namespace stoa::slave
