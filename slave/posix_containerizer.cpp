#include "slave/posix_containerizer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <csignal>
#include <deque>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/safety.hpp"
#include "common/logging.hpp"
#include "common/uuid.hpp"
#include "slave/cleaner.hpp"
#include "actors/launcher.hpp"
#include "slave/paths.hpp"
#include "slave/pid_watcher.hpp"
#include "slave/reaper.hpp"

namespace stoa::slave {

namespace posix_containerizer_detail {

// What a usage worker measures.
struct ContainerUsageTarget {
  std::string container_id;
  pid_t pid = -1;
  Resources resources;
};
using ContainerUsageTargets = std::vector<ContainerUsageTarget>;

}  // namespace posix_containerizer_detail

}  // namespace stoa::slave

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::slave::posix_containerizer_detail::ContainerUsageTargets)

namespace stoa::slave {

using posix_containerizer_detail::ContainerUsageTarget;
using posix_containerizer_detail::ContainerUsageTargets;

namespace {

// The containerizer tells a launch worker it has recorded the launch (the
// container is its to kill from now on).
using release_atom = caf::atom_constant<caf::atom("release")>;
// The watcher: start or stop polling a container; its poll timer; what it
// (what it finds goes through the LimitationBook).
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using unwatch_atom = caf::atom_constant<caf::atom("unwatch")>;
using poll_atom = caf::atom_constant<caf::atom("poll")>;

// Containers whose leftovers the cleaner was asked to kill lately: redone
// synchronously when the containerizer stops, since the cleaner's queue is
// dropped.
constexpr size_t MAX_RECENT_CLEANUPS = 256;

void reap_now(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// --- launch worker: one per cold launch, detached (fork/exec and mkdir block) ---

class LaunchWorkerState {
 public:
  LaunchWorkerState() = default;
  caf::stateful_actor<LaunchWorkerState>* self = nullptr;
  Isolators isolators;
  std::string container_id;
  pid_t pid = -1;  // the started container, until the containerizer has recorded it
  static inline const char* name = "launch worker";

  LaunchResult on_launch(const ContainerConfig& config) {
    container_id = config.container_id;
    LaunchResult result = launch_container(config, isolators);
    pid = result.pid;
    return result;
  }

  // The containerizer stopped before it recorded the launch: nobody else
  // will kill this container.
  void on_owner_down() {
    if (pid > 0) {
      clean_container_now(pid, container_id, isolators);
      reap_now(pid);
    }
    self->quit();
  }
};

caf::behavior launch_worker_actor(caf::stateful_actor<LaunchWorkerState>* self, Isolators isolators,
                                  caf::actor owner) {
  self->state.self = self;
  self->state.isolators = std::move(isolators);
  self->monitor(owner);
  self->set_down_handler([self](caf::down_msg&) { self->state.on_owner_down(); });
  return {
      [self](launch_atom, const ContainerConfig& config) -> LaunchResult {
        return self->state.on_launch(config);
      },
      [self](release_atom) { self->quit(); },
  };
}

// --- usage worker: one per request, detached (/proc walks block) ----------

caf::behavior usage_worker(caf::event_based_actor* self, Isolators isolators) {
  return {
      [self, isolators](usage_atom, const ContainerUsageTargets& targets) -> ContainerUsages {
        SessionUsageSnapshot one_walk;  // every container's session from one walk of /proc
        ContainerUsages usages;
        for (const ContainerUsageTarget& target : targets) {
          ResourceStatistics stats;
          stats.timestamp = now_seconds();
          for (const auto& isolator : isolators) {
            if (std::optional<Error> error =
                    isolator->usage(target.container_id, target.pid, target.resources, &stats)) {
              LOG_WARNING << "Cannot sample " << isolator->name() << " of container " << target.container_id
                          << ": " << error->message;
            }
          }
          usages[target.container_id] = stats;
        }
        self->quit();
        return usages;
      },
  };
}

// --- watcher: polls the isolators' limitation(), detached (reads cgroups, walks sandboxes) ---

// What the watcher found, read by the containerizer when it reaps the
// container (a typed actor takes no message but its interface's, hence a
// shared book). The watcher writes before it kills, so the containerizer,
// which learns of the exit only after the kill, always finds the entry.
struct LimitationBook {
  std::mutex mutex;
  std::map<std::string, ContainerLimitation> limitations;  // by container id

  std::optional<ContainerLimitation> take(const std::string& cid) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = limitations.find(cid);
    if (it == limitations.end()) {
      return std::nullopt;
    }
    ContainerLimitation limitation = std::move(it->second);
    limitations.erase(it);
    return limitation;
  }
};

caf::behavior watcher_actor(caf::event_based_actor* self, Isolators isolators,
                            std::shared_ptr<LimitationBook> book, std::chrono::milliseconds interval) {
  auto watched = std::make_shared<std::map<std::string, pid_t>>();
  self->set_exit_handler([self](caf::exit_msg& msg) { self->quit(msg.reason); });
  self->delayed_send(self, interval, poll_atom::value);
  return {
      [watched](watch_atom, const std::string& cid, int32_t pid) { (*watched)[cid] = static_cast<pid_t>(pid); },
      [watched](unwatch_atom, const std::string& cid) { watched->erase(cid); },
      [self, watched, isolators, book, interval](poll_atom) {
        for (auto it = watched->begin(); it != watched->end();) {
          std::optional<ContainerLimitation> limitation;
          for (const auto& isolator : isolators) {
            if (isolator->watches() && (limitation = isolator->limitation(it->first))) {
              break;
            }
          }
          if (!limitation) {
            ++it;
            continue;
          }
          LOG_INFO << "Container " << it->first << " reached a limit; destroying it: " << limitation->message;
          {
            std::lock_guard<std::mutex> lock(book->mutex);
            book->limitations.emplace(it->first, *limitation);
          }
          // The freezer when there is one, else the session and the walk.
          if (!kill_through_isolators(it->first, isolators)) {
            signal_process_group(it->second, SIGKILL);
            kill_container_leftovers(it->second, it->first, SIGKILL);
          }
          it = watched->erase(it);
        }
        self->delayed_send(self, interval, poll_atom::value);
      },
  };
}

bool has_watching_isolator(const Isolators& isolators) {
  for (const auto& isolator : isolators) {
    if (isolator->watches()) {
      return true;
    }
  }
  return false;
}

// --- the containerizer ------------------------------------------------------

struct Container {
  pid_t pid = -1;  // -1 while launching
  uint64_t started_ticks = 0;  // when that process started (0: unknown)
  Resources resources;
  bool checkpoint = false;  // survives our stop (a restarted slave adopts it)
  bool destroy_requested = false;  // while launching: kill it once it runs
  std::optional<int32_t> status;   // once its first process has exited
  std::vector<caf::typed_response_promise<int32_t>> waiters;
};

class PosixContainerizerState {
 public:
  PosixContainerizerState() = default;
  containerizer_actor::stateful_pointer<PosixContainerizerState> self = nullptr;
  Isolators isolators;
  caf::actor cleaner;
  caf::actor watcher;   // none when no isolator watches
  std::shared_ptr<LimitationBook> book = std::make_shared<LimitationBook>();
  caf::actor listener;  // told of limitations (the slave)
  std::unordered_map<std::string, Container> containers;
  std::deque<std::pair<pid_t, std::string>> recent_cleanups;
  // Set when the containerizer stops: waiters of containers that outlive it
  // (checkpointed ones) stop waiting.
  std::shared_ptr<std::atomic<bool>> stopping = std::make_shared<std::atomic<bool>>(false);
  // Held so the process's one watcher of exits (the containers' waiters
  // use it) is not stopped and started again between containers; null when
  // its thread could not start (each waiter then tries on its own).
  std::shared_ptr<PidWatcher> pid_watcher;
  static inline const char* name = "posix containerizer";

  caf::result<LaunchResult> on_launch(ContainerConfig config) {
    const std::string cid = config.container_id;
    if (containers.count(cid) != 0) {
      return LaunchResult{-1, "Cannot launch the executor: container " + cid + " already exists"};
    }
    containers[cid].resources = config.resources;
    containers[cid].checkpoint = config.checkpoint;
    if (config.pooled_pid > 0) {
      // A pooled executor runs already (--executor_pool_size): what is left
      // (the sandbox's few directories and symlink, the isolators' prepare
      // and isolate, no fork or exec) is done here, without a thread of its
      // own and the two messages to and from it (#17: ~0.4-0.8 ms of a
      // launch on this machine).
      LaunchResult result = launch_container(config, isolators);
      on_launched(cid, result);
      return result;
    }
    Try<caf::actor> spawned = spawn_with_thread(self->system(), ThreadActor::detached, [this] {
      return self->spawn<caf::detached>(launch_worker_actor, isolators, caf::actor_cast<caf::actor>(self));
    });
    if (spawned.is_error()) {
      LaunchResult result{-1, "Cannot launch the executor: " + spawned.error()};
      on_launched(cid, result);
      return result;
    }
    caf::actor worker = *spawned;
    auto rp = self->make_response_promise<LaunchResult>();
    self->request(worker, caf::infinite, launch_atom::value, std::move(config))
        .then(
            [this, cid, worker, rp](const LaunchResult& result) mutable {
              on_launched(cid, result);
              caf::anon_send(worker, release_atom::value);
              rp.deliver(result);
            },
            [this, cid, rp](caf::error& error) mutable {
              LaunchResult result{-1, "Cannot launch the executor: " + self->system().render(error)};
              on_launched(cid, result);
              rp.deliver(result);
            });
    return rp;
  }

  void on_launched(const std::string& cid, const LaunchResult& result) {
    auto it = containers.find(cid);
    if (result.pid <= 0) {
      containers.erase(it);
      return;
    }
    it->second.pid = result.pid;
    it->second.started_ticks = result.started_ticks;
    watch(cid, result.pid);
    if (it->second.destroy_requested) {
      signal_process_group(result.pid, SIGKILL);
      kill_container(cleaner, cid, isolators);
    }
  }


  void watch(const std::string& cid, pid_t pid) {
    if (watcher) {
      caf::anon_send(watcher, watch_atom::value, cid, static_cast<int32_t>(pid));
    }
    caf::actor waiter = spawn_waiter(self->system(), pid, stopping);
    self->request(waiter, caf::infinite, reaped_atom_v)
        .then([this, cid](int32_t status) { on_reaped(cid, status); },
              [this, cid](caf::error& error) {
                if (!stopping->load()) {
                  LOG_ERROR << "Lost the waiter of container " << cid << ": " << self->system().render(error);
                  on_reaped(cid, -1);
                }
              });
  }

  bool on_adopt(const AdoptConfig& config) {
    if (containers.count(config.container_id) != 0 || config.pid <= 1) {
      LOG_WARNING << "Cannot adopt container " << config.container_id << " (pid " << config.pid
                  << "): " << (config.pid <= 1 ? "invalid pid" : "it exists already");
      return false;
    }
    Container& c = containers[config.container_id];
    c.pid = config.pid;
    c.started_ticks = process_start_ticks(config.pid);
    c.resources = config.resources;
    c.checkpoint = true;
    watch(config.container_id, config.pid);
    LOG_INFO << "Adopted container " << config.container_id << " (pid " << config.pid << ")";
    return true;
  }

  caf::result<int32_t> on_wait(const std::string& cid) {
    auto it = containers.find(cid);
    if (it == containers.end()) {
      return int32_t{-1};
    }
    if (it->second.status) {
      int32_t status = *it->second.status;
      containers.erase(it);
      return status;
    }
    auto rp = self->make_response_promise<int32_t>();
    it->second.waiters.push_back(rp);
    return rp;
  }

  void on_destroy(const std::string& cid) {
    auto it = containers.find(cid);
    if (it == containers.end() || it->second.status) {
      return;
    }
    if (it->second.pid <= 0) {
      it->second.destroy_requested = true;
      return;
    }
    // The group at once; the rest through the freezer (the cleaner's
    // thread), or, without one, once the first process has exited
    // (on_reaped).
    signal_process_group(it->second.pid, SIGKILL);
    kill_container(cleaner, cid, isolators);
  }

  void on_reaped(const std::string& cid, int32_t status) {
    auto it = containers.find(cid);
    if (it == containers.end()) {
      return;
    }
    pid_t pid = it->second.pid;
    // Anything left of its session (the task's process group included) goes
    // too: the group at once, the /proc walks in the cleaner's thread.
    signal_process_group(pid, SIGKILL);
    clean_container(cleaner, pid, cid, isolators, it->second.started_ticks);
    recent_cleanups.emplace_back(pid, cid);
    if (recent_cleanups.size() > MAX_RECENT_CLEANUPS) {
      recent_cleanups.pop_front();
    }
    it->second.status = status;
    if (watcher) {
      caf::anon_send(watcher, unwatch_atom::value, cid);
    }
    // Before any wait is answered: the slave fails the tasks with it.
    if (std::optional<ContainerLimitation> limitation = book->take(cid); limitation && listener) {
      caf::send_as(caf::actor_cast<caf::actor>(self), listener, limitation_atom::value, cid, *limitation);
    }
    if (!it->second.waiters.empty()) {
      for (auto& rp : it->second.waiters) {
        rp.deliver(status);
      }
      containers.erase(it);
    }
  }

  caf::result<ContainerUsages> on_usage(const std::vector<std::string>& ids) {
    ContainerUsageTargets targets;
    for (const std::string& cid : ids) {
      auto it = containers.find(cid);
      if (it != containers.end() && it->second.pid > 0 && !it->second.status) {
        targets.push_back({cid, it->second.pid, it->second.resources});
      }
    }
    if (targets.empty()) {
      return ContainerUsages{};
    }
    Try<caf::actor> spawned = spawn_with_thread(self->system(), ThreadActor::detached,
                                                [this] { return self->spawn<caf::detached>(usage_worker, isolators); });
    if (spawned.is_error()) {
      return caf::make_error(caf::sec::runtime_error, "Cannot sample the containers' usage: " + spawned.error());
    }
    caf::actor worker = *spawned;
    auto rp = self->make_response_promise<ContainerUsages>();
    self->request(worker, caf::infinite, usage_atom::value, std::move(targets))
        .then([rp](ContainerUsages& usages) mutable { rp.deliver(std::move(usages)); },
              [rp](caf::error& error) mutable { rp.deliver(std::move(error)); });
    return rp;
  }

  // The containerizer is stopping (or told to kill everything): every
  // container, synchronously; checkpointed ones only with `checkpointed`.
  void destroy_all_now(bool checkpointed) {
    for (const auto& [pid, cid] : recent_cleanups) {
      kill_container_leftovers(pid, cid, SIGKILL);
    }
    recent_cleanups.clear();
    for (auto& [cid, c] : containers) {
      if (c.pid > 0 && !c.status && (checkpointed || !c.checkpoint)) {
        clean_container_now(c.pid, cid, isolators);
      } else if (c.pid <= 0 && !c.status) {
        c.destroy_requested = true;
      }
    }
  }
};

containerizer_actor::behavior_type posix_containerizer_actor(
    containerizer_actor::stateful_pointer<PosixContainerizerState> self, Isolators isolators,
    ContainerizerOptions options) {
  PosixContainerizerState& s = self->state;
  s.self = self;
  s.isolators = std::move(isolators);
  s.listener = options.listener;
  set_safe_handlers(self, "posix containerizer");
  s.cleaner = spawn_cleaner(self, s.isolators);
  if (Try<std::shared_ptr<PidWatcher>> w = PidWatcher::shared(); !w.is_error()) {
    s.pid_watcher = std::move(*w);
  }
  if (has_watching_isolator(s.isolators)) {
    s.watcher =
        self->spawn<caf::detached + caf::linked>(watcher_actor, s.isolators, s.book, options.watch_interval);
  }
  // However it ends, its cleaner and watcher end too (a linked actor
  // outlives a normal exit, and a detached one would hold up the actor
  // system).
  self->attach_functor([cleaner = s.cleaner, watcher = s.watcher](const caf::error&) {
    caf::anon_send_exit(cleaner, caf::exit_reason::user_shutdown);
    if (watcher) {
      caf::anon_send_exit(watcher, caf::exit_reason::user_shutdown);
    }
  });
  // Unlike named components it takes any exit: nothing outside the slave
  // holds its handle, and the slave stops it from an attached functor.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    PosixContainerizerState& st = self->state;
    if (st.cleaner && msg.source == st.cleaner.address()) {
      LOG_ERROR << "The container cleaner died (" << self->system().render(msg.reason)
                << "); cleaning up containers on the containerizer's thread from now on";
      st.cleaner = caf::actor{};
      return;
    }
    if (st.watcher && msg.source == st.watcher.address()) {
      LOG_ERROR << "The limitation watcher died (" << self->system().render(msg.reason)
                << "); limits are no longer watched";
      st.watcher = caf::actor{};
      return;
    }
    st.stopping->store(true);
    st.destroy_all_now(false);
    self->quit(msg.reason);
  });
  return {
      [self](launch_atom, ContainerConfig& config) -> caf::result<LaunchResult> {
        return self->state.on_launch(std::move(config));
      },
      [self](wait_atom, const std::string& cid) -> caf::result<int32_t> { return self->state.on_wait(cid); },
      [self](destroy_atom, const std::string& cid) { self->state.on_destroy(cid); },
      [self](usage_atom, const std::vector<std::string>& ids) -> caf::result<ContainerUsages> {
        return self->state.on_usage(ids);
      },
      [self](adopt_atom, const AdoptConfig& config) -> bool { return self->state.on_adopt(config); },
      [self](destroy_all_atom) -> bool {
        self->state.destroy_all_now(true);
        return true;
      },
  };
}

}  // namespace

containerizer_actor spawn_posix_containerizer(caf::actor_system& sys, Isolators isolators,
                                              ContainerizerOptions options) {
  for (const auto& isolator : isolators) {
    if (std::optional<Error> error = isolator->recover(options.recovered)) {
      LOG_WARNING << "Cannot recover " << isolator->name() << ": " << error->message;
    }
  }
  return sys.spawn(posix_containerizer_actor, std::move(isolators), std::move(options));
}

std::vector<RecoveredContainer> recovered_containers(const SlaveCheckpoint& checkpoint,
                                                     const std::string& work_dir) {
  std::vector<RecoveredContainer> containers;
  for (const auto& [fid, f] : checkpoint.frameworks) {
    for (const auto& [eid, e] : f.executors) {
      auto run = e.runs.find(e.latest_run);
      if (run == e.runs.end()) {
        continue;
      }
      const RunCheckpoint& rc = run->second;
      const std::string& cid = rc.container_id;
      if (!rc.forked_pid || rc.completed || !process_running(*rc.forked_pid) ||
          !environment_has(*rc.forked_pid, "STOA_CONTAINER_ID=" + cid)) {
        continue;
      }
      Resources resources;
      for (const auto& [tid, tc] : rc.tasks) {
        if (Try<Resources> r = Resources::from_proto(tc.task.resources()); r.is_some() && !tc.completed()) {
          resources += *r;
        }
      }
      containers.push_back({cid, sandbox_path(work_dir, checkpoint.slave_id, fid, eid, cid), resources});
    }
  }
  return containers;
}

namespace {

// --switch_user: the sandbox and its output files belong to the user.
std::optional<Error> give_sandbox_to(const std::string& dir, const UserIds& ids) {
  for (const std::string& path : {dir, dir + "/stdout", dir + "/stderr"}) {
    if (path != dir) {
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        ::close(fd);
      }
    }
    if (::chown(path.c_str(), ids.uid, ids.gid) != 0) {
      return Error("cannot chown " + path + ": " + std::string(strerrordesc_np(errno)));
    }
  }
  return std::nullopt;
}

}  // namespace

LaunchResult launch_container(const ContainerConfig& config, const Isolators& isolators) {
  const std::string& cid = config.container_id;
  Try<std::string> dir =
      create_sandbox(config.work_dir, config.slave_id, config.framework_id, config.executor_id, cid);
  if (dir.is_error()) {
    return {-1, "Cannot create the sandbox: " + dir.error()};
  }
  if (!config.user.empty()) {
    Try<UserIds> ids = lookup_user(config.user);
    if (ids.is_error()) {
      return {-1, "Cannot launch the executor as user '" + config.user + "': " + ids.error()};
    }
    // Nothing to give when the user is the slave's own (the sandbox is
    // theirs already): two opens and three chowns per launch less (#17).
    if (::geteuid() == 0 && (ids->uid != ::geteuid() || ids->gid != ::getegid())) {
      if (std::optional<Error> error = give_sandbox_to(*dir, *ids)) {
        return {-1, "Cannot give the sandbox to user '" + config.user + "': " + error->message};
      }
    }
  }
  auto cleanup = [&] {
    for (const auto& isolator : isolators) {
      isolator->cleanup(cid);
    }
  };
  for (const auto& isolator : isolators) {
    if (std::optional<Error> error = isolator->prepare(cid, ContainerSpec{*dir, config.resources})) {
      cleanup();
      return {-1, "Cannot prepare " + isolator->name() + ": " + error->message};
    }
  }
  LaunchSpec spec;
  spec.argv = config.argv;
  spec.working_dir = *dir;
  spec.stdout_path = *dir + "/stdout";
  spec.stderr_path = *dir + "/stderr";
  spec.env = config.env;
  spec.user = config.user;
  for (const auto& isolator : isolators) {
    for (const std::string& cgroup : isolator->cgroups(cid)) {
      spec.cgroups.push_back(cgroup);
    }
  }
  // A pooled executor runs already (setsid'd as `spec` would be, same user,
  // no cgroups: pool_refusal); it enters the sandbox itself on adoption.
  Try<pid_t> pid = config.pooled_pid > 0 ? Try<pid_t>(static_cast<pid_t>(config.pooled_pid)) : launch(spec);
  if (pid.is_error()) {
    cleanup();
    return {-1, "Cannot launch the executor: " + pid.error()};
  }
  for (const auto& isolator : isolators) {
    if (std::optional<Error> error = isolator->isolate(cid, *pid)) {
      clean_container_now(*pid, cid, isolators);
      reap_now(*pid);
      return {-1, "Cannot isolate with " + isolator->name() + ": " + error->message};
    }
  }
  return {*pid, "", config.pooled_started_ticks > 0 ? config.pooled_started_ticks : process_start_ticks(*pid)};
}

}  // namespace stoa::slave
