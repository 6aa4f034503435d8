// The composing containerizer (docker_containerizer.hpp): one handle for the
// slave over the Mesos and the docker containerizers.

#include <memory>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/safety.hpp"
#include "common/logging.hpp"
#include "slave/docker_containerizer.hpp"

namespace stoa::slave {

namespace {

class ComposingState {
 public:
  ComposingState() = default;
  containerizer_actor::stateful_pointer<ComposingState> self = nullptr;
  containerizer_actor mesos;
  containerizer_actor docker;
  // Which child has each container (true = docker), from its launch or
  // adoption until its wait is answered.
  std::unordered_map<std::string, bool> owners;
  static inline const char* name = "composing containerizer";

  containerizer_actor child(bool is_docker) const { return is_docker ? docker : mesos; }

  const containerizer_actor* owner(const std::string& cid) const {
    auto it = owners.find(cid);
    if (it == owners.end()) {
      return nullptr;
    }
    return it->second ? &docker : &mesos;
  }

  caf::result<LaunchResult> on_launch(ContainerConfig config) {
    const std::string cid = config.container_id;
    if (owners.count(cid) != 0) {
      return LaunchResult{-1, "Cannot launch the executor: container " + cid + " already exists"};
    }
    const bool is_docker = config.docker;
    owners[cid] = is_docker;
    auto rp = self->make_response_promise<LaunchResult>();
    self->request(child(is_docker), caf::infinite, launch_atom::value, std::move(config))
        .then(
            [this, cid, rp](const LaunchResult& result) mutable {
              if (result.pid <= 0) {
                owners.erase(cid);
              }
              rp.deliver(result);
            },
            [this, cid, rp](caf::error& e) mutable {
              owners.erase(cid);
              rp.deliver(LaunchResult{-1, "Cannot launch the executor: " + self->system().render(e)});
            });
    return rp;
  }

  caf::result<int32_t> on_wait(const std::string& cid) {
    const containerizer_actor* target = owner(cid);
    if (target == nullptr) {
      return int32_t{-1};
    }
    auto rp = self->make_response_promise<int32_t>();
    self->request(*target, caf::infinite, wait_atom::value, cid)
        .then(
            [this, cid, rp](int32_t status) mutable {
              owners.erase(cid);
              rp.deliver(status);
            },
            [this, cid, rp](caf::error& e) mutable {
              owners.erase(cid);
              rp.deliver(std::move(e));
            });
    return rp;
  }

  void on_destroy(const std::string& cid) {
    if (const containerizer_actor* target = owner(cid)) {
      self->send(*target, destroy_atom::value, cid);
    }
  }

  caf::result<ContainerUsages> on_usage(const std::vector<std::string>& ids) {
    std::vector<std::string> of_mesos;
    std::vector<std::string> of_docker;
    for (const std::string& cid : ids) {
      auto it = owners.find(cid);
      if (it != owners.end()) {
        (it->second ? of_docker : of_mesos).push_back(cid);
      }
    }
    auto rp = self->make_response_promise<ContainerUsages>();
    auto merged = std::make_shared<ContainerUsages>();
    auto pending = std::make_shared<int>(2);
    auto collect = [rp, merged, pending](ContainerUsages usages) mutable {
      merged->merge(usages);
      if (--*pending == 0) {
        rp.deliver(std::move(*merged));
      }
    };
    for (auto& [target, list] : {std::pair{mesos, of_mesos}, std::pair{docker, of_docker}}) {
      if (list.empty()) {
        collect(ContainerUsages{});
        continue;
      }
      self->request(target, caf::infinite, usage_atom::value, list)
          .then([collect](ContainerUsages& u) mutable { collect(std::move(u)); },
                [collect](caf::error&) mutable { collect(ContainerUsages{}); });
    }
    return rp;
  }

  caf::result<bool> on_adopt(const AdoptConfig& config) {
    const std::string cid = config.container_id;
    if (owners.count(cid) != 0) {
      return false;
    }
    owners[cid] = config.docker;
    auto rp = self->make_response_promise<bool>();
    self->request(child(config.docker), caf::infinite, adopt_atom::value, config)
        .then(
            [this, cid, rp](bool adopted) mutable {
              if (!adopted) {
                owners.erase(cid);
              }
              rp.deliver(adopted);
            },
            [this, cid, rp](caf::error& e) mutable {
              owners.erase(cid);
              rp.deliver(std::move(e));
            });
    return rp;
  }

  caf::result<bool> on_destroy_all() {
    auto rp = self->make_response_promise<bool>();
    auto pending = std::make_shared<int>(2);
    auto all_ok = std::make_shared<bool>(true);
    for (const containerizer_actor& target : {mesos, docker}) {
      self->request(target, caf::infinite, destroy_all_atom::value)
          .then(
              [rp, pending, all_ok](bool ok) mutable {
                *all_ok = *all_ok && ok;
                if (--*pending == 0) {
                  rp.deliver(*all_ok);
                }
              },
              [rp, pending](caf::error&) mutable {
                if (--*pending == 0) {
                  rp.deliver(false);
                }
              });
    }
    return rp;
  }
};

containerizer_actor::behavior_type composing_actor(containerizer_actor::stateful_pointer<ComposingState> self,
                                                   ContainerizerFactory make_mesos, ContainerizerFactory make_docker,
                                                   caf::actor listener) {
  ComposingState& s = self->state;
  s.self = self;
  set_safe_handlers(self, "composing containerizer");
  // Limitations go straight to the listener (the slave): sent before the
  // child answers the wait, they are in the slave's mailbox before the
  // answer this actor relays.
  s.mesos = make_mesos(listener);
  s.docker = make_docker(listener);
  // If either dies, so does this one (and the slave, which is linked to it).
  self->link_to(s.mesos);
  self->link_to(s.docker);
  self->attach_functor([mesos = s.mesos, docker = s.docker](const caf::error&) {
    caf::anon_send_exit(mesos, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(docker, caf::exit_reason::user_shutdown);
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.source == self->state.mesos.address() || msg.source == self->state.docker.address()) {
      LOG_ERROR << "A containerizer died (" << self->system().render(msg.reason) << ")";
    }
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
      [self](adopt_atom, const AdoptConfig& config) -> caf::result<bool> { return self->state.on_adopt(config); },
      [self](destroy_all_atom) -> caf::result<bool> { return self->state.on_destroy_all(); },
  };
}

}  // namespace

containerizer_actor spawn_composing_containerizer(caf::actor_system& sys, ContainerizerFactory make_mesos,
                                                  ContainerizerFactory make_docker, caf::actor listener) {
  return sys.spawn(composing_actor, std::move(make_mesos), std::move(make_docker), std::move(listener));
}

}  // namespace stoa::slave
