#include "slave/docker_containerizer.hpp"

#include <ctime>
#include <memory>
#include <set>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/safety.hpp"
#include "common/logging.hpp"
#include "slave/docker.hpp"
#include "slave/posix_containerizer.hpp"

namespace stoa::slave {

namespace {

using run_atom = caf::atom_constant<caf::atom("dk_run")>;
using remove_atom = caf::atom_constant<caf::atom("dk_remove")>;

using EnginePtr = std::shared_ptr<docker::Engine>;

// Checks the engine and makes sure `image` is there (pulled when missing or
// when `force`). "" when ready, else the task's failure message.
std::string prepare_image(docker::Engine& engine, const std::string& image, bool force) {
  if (image.empty()) {
    return "The task's DockerInfo has no image";
  }
  if (Try<docker::Version> v = engine.version(); v.is_error()) {
    return "Docker is not available: " + v.error();
  }
  if (!force) {
    Try<bool> present = engine.has_image(image);
    if (present.is_error()) {
      return "Cannot inspect image '" + image + "': " + present.error();
    }
    if (*present) {
      return "";
    }
  }
  LOG_INFO << "Pulling image '" << image << "'" << (force ? " (force_pull_image)" : "");
  if (std::optional<Error> error = engine.pull(image)) {
    return "Failed to pull image '" + image + "': " + error->message;
  }
  return "";
}

// Kills the container (ignoring one already stopped or gone), logging why
// it could not. Blocking.
void kill_now(docker::Engine& engine, const std::string& name) {
  if (std::optional<Error> error = engine.kill(name)) {
    Try<docker::ContainerState> state = engine.inspect(name);
    if (state.is_some() && !state->running) {
      return;  // it had exited: nothing to kill
    }
    if (state.is_error() && state.error().find("No such container") != std::string::npos) {
      return;  // never created (the executor died first), or removed
    }
    LOG_WARNING << "Cannot kill Docker container " << name << ": " << error->message;
  }
}

ResourceStatistics to_statistics(const docker::ContainerStats& s, const Resources& resources) {
  ResourceStatistics r;
  r.timestamp = static_cast<double>(::time(nullptr));
  r.cpus_user_time_secs = s.cpus_user_time_secs;
  r.cpus_system_time_secs = s.cpus_system_time_secs;
  if (double cpus = resources.scalar("cpus"); cpus > 0) {
    r.cpus_limit = cpus;
  }
  r.cpus_nr_periods = s.cpus_nr_periods;
  r.cpus_nr_throttled = s.cpus_nr_throttled;
  r.cpus_throttled_time_secs = s.cpus_throttled_time_secs;
  r.mem_total_bytes = s.mem_total_bytes;
  r.mem_rss_bytes = s.mem_rss_bytes;
  r.mem_cache_bytes = s.mem_cache_bytes;
  if (s.mem_limit_bytes > 0) {
    r.mem_limit_bytes = s.mem_limit_bytes;
  }
  return r;
}

// Runs `work` on a thread of its own (a detached actor) and hands its
// result to `done` on the owner's thread; `failed` if the worker died.
template <class T, class Self, class Work, class Done>
void off_thread(Self* self, Work work, Done done, T failed = T{}) {
  Try<caf::actor> spawned = spawn_with_thread(self->system(), ThreadActor::detached, [&] {
    return self->template spawn<caf::detached>([work = std::move(work)](caf::event_based_actor* w) mutable {
      return caf::behavior{[w, work = std::move(work)](run_atom) mutable -> T {
        T result = work();
        w->quit();
        return result;
      }};
    });
  });
  if (spawned.is_error()) {
    LOG_WARNING << "Cannot run a Docker operation: " << spawned.error();
    done(failed);
    return;
  }
  caf::actor worker = *spawned;
  self->request(worker, caf::infinite, run_atom::value)
      .then([done](T& result) mutable { done(std::move(result)); },
            [done, failed](caf::error&) mutable { done(failed); });
}

struct DockerContainer {
  std::string name;
  Resources resources;
  bool checkpoint = false;
  bool launching = true;
  bool destroy_requested = false;
};

// Removes each container it is told of (remove_atom, name) once
// --docker_remove_delay has passed (the removal itself in a worker).
// Removals still pending when the slave stops are done by the orphan sweep
// of its next start, or by hand.
caf::behavior janitor_actor(caf::event_based_actor* self, EnginePtr engine, std::chrono::nanoseconds delay) {
  return {
      [self, delay](remove_atom, const std::string& name) {
        self->delayed_send(self, delay, remove_atom::value, name, true);
      },
      [self, engine](remove_atom, const std::string& name, bool) {
        off_thread<std::string>(
            self,
            [engine, name] {
              std::optional<Error> error = engine->remove(name);
              return error ? error->message : std::string();
            },
            [name](std::string error) {
              if (!error.empty()) {
                LOG_WARNING << "Cannot remove Docker container " << name << ": " << error;
              } else {
                LOG_INFO << "Removed Docker container " << name;
              }
            });
      },
  };
}

class DockerContainerizerState {
 public:
  DockerContainerizerState() = default;
  containerizer_actor::stateful_pointer<DockerContainerizerState> self = nullptr;
  DockerContainerizerOptions options;
  EnginePtr engine;
  containerizer_actor executors;  // the POSIX containerizer running stoa-docker-executor
  caf::actor janitor;             // removes exited containers after --docker_remove_delay
  std::unordered_map<std::string, DockerContainer> containers;
  static inline const char* name = "docker containerizer";

  caf::result<LaunchResult> on_launch(ContainerConfig config) {
    const std::string cid = config.container_id;
    if (!config.docker) {
      return LaunchResult{-1, "The docker containerizer runs only containers of type DOCKER"};
    }
    if (containers.count(cid) != 0) {
      return LaunchResult{-1, "Cannot launch the executor: container " + cid + " already exists"};
    }
    DockerContainer& c = containers[cid];
    c.name = docker::container_name(cid);
    c.resources = config.resources;
    c.checkpoint = config.checkpoint;
    auto rp = self->make_response_promise<LaunchResult>();
    std::string image = config.docker_image;
    bool force = config.force_pull_image;
    off_thread<std::string>(
        self, [engine = engine, image, force] { return prepare_image(*engine, image, force); },
        [this, cid, rp, config = std::move(config)](std::string error) mutable {
          auto it = containers.find(cid);
          if (it == containers.end()) {
            rp.deliver(LaunchResult{-1, "Cannot launch the executor: the containerizer stopped"});
            return;
          }
          if (!error.empty()) {
            containers.erase(it);
            rp.deliver(LaunchResult{-1, error});
            return;
          }
          if (it->second.destroy_requested) {
            containers.erase(it);
            rp.deliver(LaunchResult{-1, "Cannot launch the executor: destroyed while its image was prepared"});
            return;
          }
          self->request(executors, caf::infinite, launch_atom::value, std::move(config))
              .then(
                  [this, cid, rp](const LaunchResult& result) mutable {
                    auto c = containers.find(cid);
                    if (result.pid <= 0) {
                      if (c != containers.end()) {
                        containers.erase(c);
                      }
                    } else if (c != containers.end()) {
                      c->second.launching = false;
                    }
                    rp.deliver(result);
                  },
                  [this, cid, rp](caf::error& e) mutable {
                    containers.erase(cid);
                    rp.deliver(LaunchResult{-1, "Cannot launch the executor: " + self->system().render(e)});
                  });
        },
        std::string("Docker is not available: the worker checking the engine died"));
    return rp;
  }

  caf::result<int32_t> on_wait(const std::string& cid) {
    auto rp = self->make_response_promise<int32_t>();
    self->request(executors, caf::infinite, wait_atom::value, cid)
        .then(
            [this, cid, rp](int32_t status) mutable {
              after_exit(cid);
              rp.deliver(status);
            },
            [this, cid, rp](caf::error& e) mutable {
              after_exit(cid);
              rp.deliver(std::move(e));
            });
    return rp;
  }

  // The executor has exited: its container must not outlive it, and goes
  // after --docker_remove_delay.
  void after_exit(const std::string& cid) {
    auto it = containers.find(cid);
    if (it == containers.end()) {
      return;
    }
    std::string name = it->second.name;
    containers.erase(it);
    kill_in_worker(name);
    caf::anon_send(janitor, remove_atom::value, name);
  }

  void kill_in_worker(const std::string& name) {
    off_thread<bool>(
        self,
        [engine = engine, name] {
          kill_now(*engine, name);
          return true;
        },
        [](bool) {});
  }

  void on_destroy(const std::string& cid) {
    auto it = containers.find(cid);
    if (it == containers.end()) {
      return;
    }
    if (it->second.launching) {
      it->second.destroy_requested = true;
    }
    self->send(executors, destroy_atom::value, cid);
    kill_in_worker(it->second.name);
  }

  caf::result<ContainerUsages> on_usage(const std::vector<std::string>& ids) {
    std::vector<std::pair<std::string, DockerContainer>> targets;
    for (const std::string& cid : ids) {
      auto it = containers.find(cid);
      if (it != containers.end() && !it->second.launching) {
        targets.emplace_back(cid, it->second);
      }
    }
    if (targets.empty()) {
      return ContainerUsages{};
    }
    auto rp = self->make_response_promise<ContainerUsages>();
    off_thread<ContainerUsages>(
        self,
        [engine = engine, targets] {
          ContainerUsages usages;
          for (const auto& [cid, c] : targets) {
            Try<docker::ContainerStats> stats = engine->stats(c.name);
            if (stats.is_some()) {
              usages[cid] = to_statistics(*stats, c.resources);
            }
          }
          return usages;
        },
        [rp](ContainerUsages usages) mutable { rp.deliver(std::move(usages)); });
    return rp;
  }

  caf::result<bool> on_adopt(const AdoptConfig& config) {
    auto rp = self->make_response_promise<bool>();
    const std::string cid = config.container_id;
    Resources resources = config.resources;
    self->request(executors, caf::infinite, adopt_atom::value, config)
        .then(
            [this, cid, resources, rp](bool adopted) mutable {
              if (adopted) {
                DockerContainer& c = containers[cid];
                c.name = docker::container_name(cid);
                c.resources = resources;
                c.checkpoint = true;
                c.launching = false;
                LOG_INFO << "Adopted Docker container " << c.name;
              }
              rp.deliver(adopted);
            },
            [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
    return rp;
  }

  caf::result<bool> on_destroy_all() {
    auto rp = self->make_response_promise<bool>();
    std::vector<std::string> names;
    for (const auto& [cid, c] : containers) {
      names.push_back(c.name);
    }
    self->request(executors, caf::infinite, destroy_all_atom::value)
        .then(
            [this, names, rp](bool) mutable {
              off_thread<bool>(
                  self,
                  [engine = engine, names] {
                    for (const std::string& name : names) {
                      kill_now(*engine, name);
                    }
                    return true;
                  },
                  [rp](bool done) mutable { rp.deliver(done); });
            },
            [rp](caf::error& e) mutable { rp.deliver(std::move(e)); });
    return rp;
  }

  // Stopping: containers that do not survive us (not checkpointed) are
  // killed now, synchronously, as their executors are.
  void stop_now() {
    for (const auto& [cid, c] : containers) {
      if (!c.checkpoint) {
        kill_now(*engine, c.name);
      }
    }
    containers.clear();
  }

  // At start: the engine's state in the log, and orphans.
  void sweep_orphans() {
    std::set<std::string> known(options.known.begin(), options.known.end());
    off_thread<std::string>(
        self,
        [engine = engine, known, work_dir = options.work_dir, kill = options.kill_orphans]() -> std::string {
          Try<docker::Version> v = engine->version();
          if (v.is_error()) {
            LOG_WARNING << "Docker is not available (" << v.error()
                        << "); Docker tasks fail until the engine can be reached";
            return "";
          }
          LOG_INFO << "Docker engine " << v->version << " at " << engine->socket() << " (API " << v->negotiated
                   << ")";
          Try<std::vector<docker::ContainerSummary>> listed = engine->list(docker::NAME_PREFIX);
          if (listed.is_error()) {
            LOG_WARNING << "Cannot list Docker containers to find orphans: " << listed.error();
            return "";
          }
          for (const docker::ContainerSummary& c : *listed) {
            auto label = c.labels.find("stoa.work_dir");
            if (label == c.labels.end() || label->second != work_dir) {
              continue;  // another slave's, or not ours at all
            }
            std::string cid = c.name.substr(std::string(docker::NAME_PREFIX).size());
            if (known.count(cid) != 0) {
              continue;
            }
            if (!kill) {
              LOG_WARNING << "Orphan Docker container " << c.name << " (" << c.state
                          << ") left running: --docker_kill_orphans=false";
              continue;
            }
            LOG_INFO << "Killing and removing orphan Docker container " << c.name << " (" << c.state << ")";
            kill_now(*engine, c.name);
            if (std::optional<Error> error = engine->remove(c.name)) {
              LOG_WARNING << "Cannot remove orphan Docker container " << c.name << ": " << error->message;
            }
          }
          return "";
        },
        [](std::string) {});
  }
};

containerizer_actor::behavior_type docker_containerizer_actor(
    containerizer_actor::stateful_pointer<DockerContainerizerState> self, DockerContainerizerOptions options) {
  DockerContainerizerState& s = self->state;
  s.self = self;
  s.engine = std::make_shared<docker::Engine>(options.docker, options.socket);
  s.options = std::move(options);
  set_safe_handlers(self, "docker containerizer");
  // The executors are plain processes: no isolators (Docker confines the
  // task). Adoption tells it which ones a restarted slave takes back.
  s.executors = spawn_posix_containerizer(self->system(), Isolators{}, ContainerizerOptions{});
  s.janitor = self->spawn(janitor_actor, s.engine, s.options.remove_delay);
  self->link_to(s.executors);
  self->attach_functor([executors = s.executors, janitor = s.janitor](const caf::error&) {
    caf::anon_send_exit(executors, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(janitor, caf::exit_reason::user_shutdown);
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.source == self->state.executors.address()) {
      LOG_ERROR << "The Docker executors' containerizer died (" << self->system().render(msg.reason) << ")";
    }
    self->state.stop_now();
    self->quit(msg.reason);
  });
  s.sweep_orphans();
  return {
      [self](launch_atom, ContainerConfig& config) -> caf::result<LaunchResult> {
        return self->state.on_launch(std::move(config));
      },
      [self](wait_atom, const std::string& cid) -> caf::result<int32_t> { return self->state.on_wait(cid); },
      [self](destroy_atom, const std::string& cid) { self->state.on_destroy(cid); },
      [self](usage_atom, const std::vector<std::string>& ids) -> caf::result<ContainerUsages> {
        return self->state.on_usage(ids);
      },
      [self](adopt_atom, const AdoptConfig& config) -> caf::result<bool> { return self->state.on_adopt(config); },
      [self](destroy_all_atom) -> caf::result<bool> { return self->state.on_destroy_all(); },
  };
}

}  // namespace

containerizer_actor spawn_docker_containerizer(caf::actor_system& sys, DockerContainerizerOptions options) {
  return sys.spawn(docker_containerizer_actor, std::move(options));
}

}  // namespace stoa::slave
