// The election of stoa-services instances (leadership.hpp): a contender in
// ZooKeeper over the masters' detector (actors/master_detector.hpp), whose
// node under <zk path>/leader holds a MasterInfo with pid
// "marathon@host:port".
//
//   standby   another instance leads, or none yet: the view names the leader.
//   elected   this instance's node is the lowest: the core was told
//             (elected_atom). Losing the lead (another node is lowest, no
//             leader, the candidacy lost) tells the core (deposed_atom) and
//             ends the election with an error: a deposed instance exits and
//             comes back as a standby (Marathon's CrashStrategy).
// A standby whose candidacy is lost (its session expired) contends again.

#include <arpa/inet.h>

#include <caf/all.hpp>

#include "actors/master_detector.hpp"
#include "actors/messages.hpp"
#include "actors/upid.hpp"
#include "actors/zookeeper.hpp"
#include "apps/services/core.hpp"
#include "apps/services/leadership.hpp"
#include "common/logging.hpp"

namespace stoa::services {

namespace {

// The version the election's MasterInfo carries (what `version` readers see).
constexpr const char* ELECTION_NODE_VERSION = "stoa-services";

struct ElectionState {
  caf::event_based_actor* self = nullptr;
  ElectionOptions options;
  caf::actor detector;
  bool elected = false;
  static inline const char* name = "services_election";

  // The detector stops with the election. Here, not in an attach_functor:
  // CAF 0.17 destroys a stateful actor's state (on_exit) before it runs the
  // functors, so one that read `state.detector` used a destroyed handle —
  // "pure virtual method called" when that was the detector's last
  // reference (stoa_services_tests under ASan on a loaded machine).
  ~ElectionState() {
    if (detector) {
      caf::anon_send_exit(detector, caf::exit_reason::user_shutdown);
    }
  }

  void set_view(bool is_elected, std::string leader) {
    if (options.view) {
      options.view->set(LeaderView{is_elected, std::move(leader)});
    }
  }

  void lead_at_once() {
    elected = true;
    set_view(true, options.self);
    LOG_INFO << "Leading without an election (" << (options.zk ? "--disable_ha" : "no --zk") << ")";
    if (options.core) {
      self->send(options.core, elected_atom_v);
    }
  }

  // The node this instance contends with.
  std::string contender_json() const {
    MasterInfo info;
    Try<Upid> upid = parse_upid("marathon@" + options.self);
    std::string host = upid ? upid->host : options.self;
    uint32_t port = upid ? upid->port : 0;
    info.set_id("marathon-" + options.self);
    info.set_ip(0);
    info.set_port(port);
    info.set_pid("marathon@" + options.self);
    info.set_hostname(host);
    info.set_version(ELECTION_NODE_VERSION);
    in_addr a{};
    if (inet_pton(AF_INET, host.c_str(), &a) == 1) {
      info.set_address_ip(host);
    }
    return detector::master_info_json(info);
  }

  std::optional<std::string> contend() {
    detector::Options o;
    o.master = *options.zk;  // <zk path>/leader (spawn_election)
    o.subscriber = caf::actor_cast<caf::actor>(self);
    o.session_timeout = options.session_timeout;
    o.contend_with = contender_json();
    Try<caf::actor> d = detector::spawn_detector(self->system(), std::move(o));
    if (d.is_error()) {
      return d.error();
    }
    detector = *d;
    self->monitor(detector);
    LOG_INFO << "Contending for leadership of stoa-services as marathon@" << options.self << " at " << *options.zk;
    return std::nullopt;
  }

  bool from_detector() const {
    return self->current_sender() == caf::actor_cast<caf::strong_actor_ptr>(detector);
  }

  // "host:port" of the leading node: its hostname and its pid's port.
  static std::string address_of(const detector::Leader& l) {
    Try<Upid> upid = parse_upid(l.pid);
    if (upid.is_error()) {
      return "";
    }
    std::string host = l.hostname.empty() ? upid->host : l.hostname;
    return host + ":" + std::to_string(upid->port);
  }

  void on_leader(const detector::Leader& l) {
    if (!from_detector()) {
      return;
    }
    std::string leader = l.pid.empty() ? "" : address_of(l);
    if (elected) {
      if (!l.self) {
        depose(l.pid.empty() ? "no instance leads any more" : "marathon@" + leader + " leads now");
      }
      return;
    }
    if (l.self) {
      elected = true;
      set_view(true, options.self);
      LOG_INFO << "Elected as the leading stoa-services (" << l.znode << ", " << l.contenders << " contending)";
      if (options.core) {
        self->send(options.core, elected_atom_v);
      }
      return;
    }
    set_view(false, leader);
    if (leader.empty()) {
      LOG_INFO << "No stoa-services instance leads";
    } else {
      LOG_INFO << "stoa-services " << leader << " leads (" << l.znode << "); this instance stands by";
    }
  }

  void on_lost(const std::string& why) {
    if (!from_detector()) {
      return;
    }
    if (elected) {
      depose("candidacy lost: " + why);
      return;
    }
    LOG_WARNING << "Candidacy lost while standing by (" << why << "); contending again";
    self->demonitor(detector);
    caf::anon_send_exit(detector, caf::exit_reason::user_shutdown);
    detector = caf::actor();
    set_view(false, "");
    if (std::optional<std::string> e = contend()) {
      self->quit(caf::make_error(caf::sec::runtime_error, "Cannot contend in ZooKeeper again: " + *e));
    }
  }

  void depose(const std::string& why) {
    LOG_ERROR << "Lost the leadership of stoa-services (" << why << ")";
    elected = false;
    set_view(false, "");
    if (options.core) {
      self->send(options.core, deposed_atom_v, why);
    }
    self->quit(caf::make_error(caf::sec::runtime_error, "Lost leadership: " + why));
  }
};

using election_actor = caf::stateful_actor<ElectionState>;

caf::behavior election(election_actor* self, ElectionOptions options) {
  ElectionState& st = self->state;
  st.self = self;
  st.options = std::move(options);
  st.set_view(false, "");
  self->set_default_handler(caf::print_and_drop);
  self->set_down_handler([self](caf::down_msg& dm) {
    ElectionState& s = self->state;
    if (dm.source != caf::actor_cast<caf::actor_addr>(s.detector) || !dm.reason) {
      return;  // an old detector, or one that ended in order (after reporting lost)
    }
    if (s.elected) {
      s.depose("the ZooKeeper detector failed: " + self->system().render(dm.reason));
      return;
    }
    self->quit(dm.reason);
  });
  if (!st.options.zk || st.options.disable_ha) {
    st.lead_at_once();
  } else if (std::optional<std::string> e = st.contend()) {
    self->quit(caf::make_error(caf::sec::runtime_error, "Cannot contend in ZooKeeper: " + *e));
    return {};
  }
  return {
      [self](detector::leader_atom, const detector::Leader& l) { self->state.on_leader(l); },
      [self](detector::lost_atom, const std::string& why) { self->state.on_lost(why); },
  };
}

}  // namespace

Try<caf::actor> spawn_election(caf::actor_system& sys, ElectionOptions options) {
  if (options.zk && !options.disable_ha) {
    Try<zookeeper::Url> url = zookeeper::parse_url(*options.zk);
    if (url.is_error()) {
      return Error("Cannot elect a leader: " + url.error());
    }
    zookeeper::Url leader = *url;
    leader.path = (url->path == "/" ? "" : url->path) + "/leader";
    options.zk = leader.text();
  }
  if (options.self.empty()) {
    return Error("Cannot elect a leader: this instance's host:port is unknown");
  }
  return sys.spawn(election, std::move(options));
}

}  // namespace stoa::services
