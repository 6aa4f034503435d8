#include "actors/master_detector.hpp"

#include <arpa/inet.h>
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/upid.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"
#include "proto/stoa.pb.h"

namespace stoa::detector {

namespace zk = stoa::zookeeper;

namespace {

// The detector's own timer: (retry, generation) starts a new round after a
// failed one; (respawn, generation) starts a new session after an expiry.
using retry_atom = caf::atom_constant<caf::atom("det_retry")>;
using respawn_atom = caf::atom_constant<caf::atom("det_respwn")>;

constexpr auto FIRST_BACKOFF = std::chrono::milliseconds(50);
constexpr auto MAX_BACKOFF = std::chrono::milliseconds(1000);
// A request the client neither answers nor fails within this long is given
// up and retried (the client fails requests on connection loss itself; this
// only guards against a lost answer).
constexpr auto REQUEST_SLACK = std::chrono::seconds(10);

// ---------------------------------------------------------------------------
// MasterInfo <-> JSON.

// "10.0.0.1" as Mesos' MasterInfo.ip: the in_addr's s_addr (network byte
// order) read as a uint32 on the host.
std::optional<uint32_t> ipv4_as_mesos_ip(const std::string& text) {
  in_addr addr{};
  if (::inet_pton(AF_INET, text.c_str(), &addr) != 1) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(addr.s_addr);
}

std::string mesos_ip_as_ipv4(uint32_t ip) {
  in_addr addr{};
  addr.s_addr = ip;
  char buf[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr, buf, sizeof(buf));
  return buf;
}

const picojson::value* member(const picojson::object& o, const std::string& key) {
  auto it = o.find(key);
  return it != o.end() ? &it->second : nullptr;
}

// A string member, absent = nullopt; another type = Error.
Try<std::optional<std::string>> string_member(const picojson::object& o, const std::string& key) {
  const picojson::value* v = member(o, key);
  if (v == nullptr || v->is<picojson::null>()) {
    return std::optional<std::string>();
  }
  if (!v->is<std::string>()) {
    return Error("\"" + key + "\" is not a string");
  }
  return std::optional<std::string>(v->get<std::string>());
}

// An unsigned integer member below `limit`, absent = nullopt.
Try<std::optional<uint64_t>> uint_member(const picojson::object& o, const std::string& key, uint64_t limit) {
  const picojson::value* v = member(o, key);
  if (v == nullptr || v->is<picojson::null>()) {
    return std::optional<uint64_t>();
  }
  if (!v->is<int64_t>() || v->get<int64_t>() < 0 || static_cast<uint64_t>(v->get<int64_t>()) >= limit) {
    return Error("\"" + key + "\" is not an integer in [0, " + std::to_string(limit) + ")");
  }
  return std::optional<uint64_t>(static_cast<uint64_t>(v->get<int64_t>()));
}

// ---------------------------------------------------------------------------
// --master values.

// The text of a `file://` master: the file's content, trimmed.
Try<std::string> read_master_file(const std::string& master) {
  std::string path = master.substr(std::string_view("file://").size());
  std::ifstream in(path);
  if (!in) {
    return Error("cannot read master file '" + path + "' (from --master='" + master + "')");
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string content(trim(text.str()));
  if (content.empty()) {
    return Error("master file '" + path + "' (from --master='" + master + "') is empty");
  }
  if (content.rfind("file://", 0) == 0) {
    return Error("master file '" + path + "' names another file ('" + content + "')");
  }
  return content;
}

// ---------------------------------------------------------------------------
// The ZooKeeper detector / contender.

// A `json.info_<digits>` child, by sequence number.
struct Candidate {
  uint64_t seq = 0;
  std::string name;
};

struct State {
  Options opts;
  zk::Url url;
  // The live client; shared with the exit hook that closes it.
  std::shared_ptr<caf::actor> client = std::make_shared<caf::actor>();
  // Bumped with every new client and every retry: older answers are stale.
  uint64_t generation = 0;
  std::chrono::milliseconds backoff = FIRST_BACKOFF;
  bool round_running = false;  // a listing (and its get) is in flight
  bool round_again = false;    // a watch fired meanwhile
  bool reported = false;
  Leader last;
  // Contender only: our node's name once created; `lost` once it is over.
  std::string own_node;
  bool lost = false;
  static inline const char* name = "master_detector";
};

using detector_actor = caf::stateful_actor<State>;

std::string child_path(const State& st, const std::string& name) {
  return st.url.path == "/" ? "/" + name : st.url.path + "/" + name;
}

std::chrono::milliseconds request_timeout(const State& st) {
  return st.opts.session_timeout + REQUEST_SLACK;
}

void report(detector_actor* self, Leader leader) {
  auto& st = self->state;
  if (st.lost || (st.reported && leader == st.last)) {
    return;
  }
  st.reported = true;
  st.last = leader;
  self->send(st.opts.subscriber, leader_atom_v, std::move(leader));
}

// The candidacy is over: say so once, end the session (our node goes with
// it) and stop.
void lose(detector_actor* self, const std::string& why) {
  auto& st = self->state;
  if (st.lost) {
    return;
  }
  LOG_WARNING << "Lost the candidacy under " << st.url.text() << ": " << why;
  st.lost = true;
  self->send(st.opts.subscriber, lost_atom_v, why);
  self->quit();
}

void start_session(detector_actor* self);
void start_round(detector_actor* self);

// Tries again after the current backoff (doubling it, up to MAX_BACKOFF).
void retry_later(detector_actor* self) {
  auto& st = self->state;
  st.round_running = false;
  st.round_again = false;
  self->delayed_send(self, st.backoff, retry_atom::value, st.generation);
  st.backoff = std::min(st.backoff * 2, MAX_BACKOFF);
}

void end_round(detector_actor* self) {
  auto& st = self->state;
  st.round_running = false;
  if (st.round_again) {
    st.round_again = false;
    start_round(self);
  }
}

// Reads the data of candidates[i] and later ones until one holds a
// MasterInfo; reports it (or no leader when none does).
void read_leader(detector_actor* self, std::shared_ptr<std::vector<Candidate>> candidates, size_t i) {
  auto& st = self->state;
  auto& all = *candidates;
  if (i == all.size()) {
    Leader none;
    none.contenders = static_cast<int>(all.size());
    report(self, std::move(none));
    end_round(self);
    return;
  }
  uint64_t gen = st.generation;
  self->request(*st.client, request_timeout(st), zk::get_atom_v, child_path(st, all[i].name))
      .then(
          [self, gen, candidates, i](const std::string& data) {
            auto& st = self->state;
            if (gen != st.generation) {
              return;
            }
            const std::string& name = (*candidates)[i].name;
            Try<MasterInfo> info = parse_master_info_json(data);
            if (info.is_error()) {
              LOG_WARNING << "Skipping contender " << child_path(st, name) << ": " << info.error();
              read_leader(self, candidates, i + 1);
              return;
            }
            Leader leader;
            leader.pid = info->pid();
            leader.id = info->id();
            leader.hostname = info->hostname();
            leader.version = info->version();
            leader.znode = name;
            leader.self = !st.own_node.empty() && name == st.own_node;
            leader.contenders = static_cast<int>(candidates->size());
            report(self, std::move(leader));
            end_round(self);
          },
          [self, gen](const caf::error& e) {
            auto& st = self->state;
            if (gen != st.generation) {
              return;
            }
            if (zk::zookeeper_error_code(e) == ZNONODE) {
              // The node went between the listing and the get: its watch
              // has fired or is about to; list again now.
              st.round_running = false;
              start_round(self);
              return;
            }
            retry_later(self);
          });
}

void on_children(detector_actor* self, const std::vector<std::string>& children) {
  auto& st = self->state;
  auto candidates = std::make_shared<std::vector<Candidate>>();
  for (const std::string& name : children) {
    if (name.rfind(NODE_PREFIX, 0) != 0) {
      continue;  // log_replicas and other members
    }
    std::string digits = name.substr(NODE_PREFIX.size());
    if (digits.empty() || digits.size() > 19 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    candidates->push_back({std::stoull(digits), name});
  }
  std::sort(candidates->begin(), candidates->end(),
            [](const Candidate& a, const Candidate& b) { return a.seq < b.seq; });
  if (!st.own_node.empty() &&
      std::none_of(candidates->begin(), candidates->end(),
                   [&](const Candidate& c) { return c.name == st.own_node; })) {
    lose(self, "our node " + child_path(st, st.own_node) + " is gone");
    return;
  }
  read_leader(self, std::move(candidates), 0);
}

// One round: list the children (watching them), then read the leader.
void start_round(detector_actor* self) {
  auto& st = self->state;
  if (st.lost || !*st.client) {
    return;  // over, or between sessions (the next one starts a round)
  }
  if (st.round_running) {
    st.round_again = true;
    return;
  }
  st.round_running = true;
  uint64_t gen = st.generation;
  self->request(*st.client, request_timeout(st), zk::children_atom_v, st.url.path, caf::actor(self))
      .then(
          [self, gen](const std::vector<std::string>& children) {
            if (gen != self->state.generation) {
              return;
            }
            self->state.backoff = FIRST_BACKOFF;
            on_children(self, children);
          },
          [self, gen](const caf::error& e) {
            auto& st = self->state;
            if (gen != st.generation) {
              return;
            }
            if (zk::zookeeper_error_code(e) == ZNONODE) {
              report(self, Leader{});  // nobody has contended under this path yet
            }
            retry_later(self);
          });
}

// Contender: our ephemeral sequential node, then the first round.
void create_own_node(detector_actor* self) {
  auto& st = self->state;
  uint64_t gen = st.generation;
  self->request(*st.client, request_timeout(st), zk::create_atom_v, child_path(st, NODE_PREFIX),
                *st.opts.contend_with, zk::EPHEMERAL | zk::SEQUENTIAL)
      .then(
          [self, gen](const std::string& created) {
            auto& st = self->state;
            if (gen != st.generation) {
              return;
            }
            st.own_node = created.substr(created.rfind('/') + 1);
            LOG_INFO << "Contending for leadership as " << created;
            start_round(self);
          },
          [self, gen](const caf::error& e) {
            if (gen != self->state.generation) {
              return;
            }
            // The outcome of a failed create is unknown (it may have been
            // applied): give the candidacy up; ending the session removes
            // the node if it was made.
            lose(self, "creating our node failed: " + self->system().render(e));
          });
}

// Contender: creates the path's components, persistent, one by one (an
// existing one is fine), then our node.
void create_parents(detector_actor* self, size_t depth) {
  auto& st = self->state;
  std::vector<std::string> parts;
  for (const std::string& p : split(st.url.path, '/')) {
    if (!p.empty()) {
      parts.push_back(p);
    }
  }
  if (depth >= parts.size()) {
    create_own_node(self);
    return;
  }
  std::string path;
  for (size_t i = 0; i <= depth; ++i) {
    path += "/" + parts[i];
  }
  uint64_t gen = st.generation;
  self->request(*st.client, request_timeout(st), zk::create_atom_v, path, std::string(), zk::PERSISTENT)
      .then(
          [self, gen, depth](const std::string&) {
            if (gen == self->state.generation) {
              create_parents(self, depth + 1);
            }
          },
          [self, gen, depth](const caf::error& e) {
            auto& st = self->state;
            if (gen != st.generation) {
              return;
            }
            if (zk::zookeeper_error_code(e) == ZNODEEXISTS) {
              create_parents(self, depth + 1);
              return;
            }
            LOG_WARNING << "Creating " << st.url.text() << " failed, retrying: " << self->system().render(e);
            retry_later(self);
          });
}

void close_client(State& st) {
  if (*st.client) {
    caf::anon_send(*st.client, zk::close_atom_v);
    *st.client = caf::actor();
  }
}

void start_session(detector_actor* self) {
  auto& st = self->state;
  close_client(st);
  ++st.generation;
  st.round_running = false;
  st.round_again = false;
  *st.client = zk::spawn_client(self->system(), {st.url.connect_string(), st.opts.session_timeout, self});
  if (st.opts.contend_with) {
    create_parents(self, 0);
  } else {
    start_round(self);
  }
}

caf::behavior zookeeper_detector(detector_actor* self, Options opts, zk::Url url) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.url = std::move(url);
  self->monitor(st.opts.subscriber);
  self->set_down_handler([self](const caf::down_msg& msg) {
    if (msg.source == self->state.opts.subscriber.address()) {
      self->quit();
    }
  });
  self->attach_functor([client = st.client] {
    if (*client) {
      caf::anon_send(*client, zk::close_atom_v);
    }
  });
  start_session(self);
  return {
      [self](zk::session_atom, const std::string& event) {
        auto& st = self->state;
        if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(*st.client)) {
          return;  // an old session's last words
        }
        if (event != zk::SESSION_EXPIRED && event != zk::SESSION_AUTH_FAILED) {
          return;  // while disconnected the last leader stays the leader
        }
        if (st.opts.contend_with) {
          lose(self, "ZooKeeper session " + event);
          return;
        }
        LOG_WARNING << "ZooKeeper session " << event << " while detecting under " << st.url.text()
                    << "; starting a new one";
        report(self, Leader{});
        close_client(st);
        ++st.generation;
        self->delayed_send(self, st.backoff, respawn_atom::value, st.generation);
        st.backoff = std::min(st.backoff * 2, MAX_BACKOFF);
      },
      [self](zk::watch_atom, const std::string&, const std::string& event) {
        if (event != zk::WATCH_SESSION_LOST) {
          start_round(self);
        }
      },
      [self](retry_atom, uint64_t gen) {
        auto& st = self->state;
        if (gen != st.generation) {
          return;
        }
        if (st.opts.contend_with && st.own_node.empty()) {
          create_parents(self, 0);
        } else {
          start_round(self);
        }
      },
      [self](respawn_atom, uint64_t gen) {
        if (gen == self->state.generation) {
          start_session(self);
        }
      },
  };
}

// A fixed master: one report, then nothing until the subscriber goes.
caf::behavior fixed_detector(caf::event_based_actor* self, caf::actor subscriber, Leader leader) {
  self->monitor(subscriber);
  self->set_down_handler([self](const caf::down_msg&) { self->quit(); });
  self->send(subscriber, leader_atom_v, std::move(leader));
  return {[](retry_atom, uint64_t) {}};
}

}  // namespace

bool is_detected(std::string_view master) {
  return master.rfind("zk://", 0) == 0 || master.rfind("file://", 0) == 0;
}

namespace {

// What a --master value names: a ZooKeeper URL or a fixed master.
struct Resolved {
  std::optional<zk::Url> url;
  Upid fixed;
};

Try<Resolved> resolve(const std::string& given) {
  std::string master = given;
  if (master.rfind("file://", 0) == 0) {
    Try<std::string> content = read_master_file(master);
    if (content.is_error()) {
      return Error(content.error());
    }
    master = *content;
  }
  Resolved r;
  if (master.rfind("zk://", 0) == 0) {
    Try<zk::Url> url = zk::parse_url(master);
    if (url.is_error()) {
      return Error("invalid --master '" + given + "': " + url.error());
    }
    r.url = std::move(*url);
    return r;
  }
  Try<Upid> upid = parse_master_address(master);
  if (upid.is_error()) {
    return Error(master == given ? upid.error() : upid.error() + " (read from '" + given + "')");
  }
  r.fixed = std::move(*upid);
  return r;
}

}  // namespace

std::optional<std::string> check_master(std::string_view master) {
  Try<Resolved> r = resolve(std::string(master));
  if (r.is_error()) {
    return r.error();
  }
  return std::nullopt;
}

Try<caf::actor> spawn_detector(caf::actor_system& sys, Options options) {
  if (!options.subscriber) {
    return Error("master detector for '" + options.master + "': no subscriber");
  }
  Try<Resolved> resolved = resolve(options.master);
  if (resolved.is_error()) {
    return Error(resolved.error());
  }
  if (resolved->url) {
    zk::Url url = std::move(*resolved->url);
    if (options.session_timeout <= std::chrono::milliseconds(0)) {
      return Error("invalid ZooKeeper session timeout " + std::to_string(options.session_timeout.count()) +
                   "ms for '" + options.master + "': must be positive");
    }
    return sys.spawn(zookeeper_detector, std::move(options), std::move(url));
  }
  if (options.contend_with) {
    return Error("cannot contend for leadership through '" + options.master + "': contending needs a zk:// URL");
  }
  const Upid* upid = &resolved->fixed;
  Leader leader;
  leader.pid = upid->str();
  leader.hostname = upid->host;
  leader.contenders = 1;
  return sys.spawn(fixed_detector, std::move(options.subscriber), std::move(leader));
}

std::string master_info_json(const MasterInfo& info) {
  picojson::object o;
  o["id"] = picojson::value(info.id());
  uint32_t ip = info.ip();
  if (ip == 0 && info.has_address_ip()) {
    ip = ipv4_as_mesos_ip(info.address_ip()).value_or(0);
  }
  o["ip"] = picojson::value(static_cast<int64_t>(ip));
  o["port"] = picojson::value(static_cast<int64_t>(info.port()));
  if (info.has_pid()) {
    o["pid"] = picojson::value(info.pid());
  }
  if (info.has_hostname()) {
    o["hostname"] = picojson::value(info.hostname());
  }
  if (info.has_version()) {
    o["version"] = picojson::value(info.version());
  }
  picojson::object address;
  address["ip"] = picojson::value(info.has_address_ip() ? info.address_ip() : mesos_ip_as_ipv4(ip));
  if (info.has_hostname()) {
    address["hostname"] = picojson::value(info.hostname());
  }
  address["port"] = picojson::value(static_cast<int64_t>(info.port()));
  o["address"] = picojson::value(std::move(address));
  if (info.has_actor_port()) {
    o["actor_port"] = picojson::value(static_cast<int64_t>(info.actor_port()));
  }
  return json_serialize(picojson::value(std::move(o)));
}

Try<MasterInfo> parse_master_info_json(std::string_view text) {
  Try<picojson::value> parsed = json_parse(text);
  if (parsed.is_error()) {
    return Error("MasterInfo is not JSON: " + parsed.error());
  }
  if (!parsed->is<picojson::object>()) {
    return Error("MasterInfo is not a JSON object");
  }
  const picojson::object& o = parsed->get<picojson::object>();
  Try<std::optional<std::string>> pid = string_member(o, "pid");
  if (pid.is_error()) {
    return Error("MasterInfo: " + pid.error());
  }
  if (!*pid) {
    return Error("MasterInfo has no \"pid\"");
  }
  Try<Upid> upid = parse_upid(**pid);
  if (upid.is_error()) {
    return Error("MasterInfo \"pid\": " + upid.error());
  }
  MasterInfo info;
  info.set_pid(**pid);
  for (const char* key : {"id", "hostname", "version"}) {
    Try<std::optional<std::string>> v = string_member(o, key);
    if (v.is_error()) {
      return Error("MasterInfo: " + v.error());
    }
    if (std::string(key) == "id") {
      info.set_id(v->value_or(""));
    } else if (*v) {
      std::string(key) == "hostname" ? info.set_hostname(**v) : info.set_version(**v);
    }
  }
  Try<std::optional<uint64_t>> ip = uint_member(o, "ip", uint64_t(1) << 32);
  Try<std::optional<uint64_t>> port = uint_member(o, "port", 65536);
  Try<std::optional<uint64_t>> actor_port = uint_member(o, "actor_port", 65536);
  if (ip.is_error() || port.is_error() || actor_port.is_error()) {
    return Error("MasterInfo: " + (ip.is_error() ? ip.error() : port.is_error() ? port.error() : actor_port.error()));
  }
  if (*actor_port) {
    info.set_actor_port(static_cast<uint32_t>(**actor_port));
  }
  info.set_port(static_cast<uint32_t>(port->value_or(upid->port)));
  std::string address_ip;
  if (const picojson::value* address = member(o, "address"); address != nullptr && address->is<picojson::object>()) {
    Try<std::optional<std::string>> a = string_member(address->get<picojson::object>(), "ip");
    if (a.is_some() && *a) {
      address_ip = **a;
    }
  }
  if (*ip) {
    info.set_ip(static_cast<uint32_t>(**ip));
  } else {
    info.set_ip(ipv4_as_mesos_ip(address_ip.empty() ? upid->host : address_ip).value_or(0));
  }
  info.set_address_ip(!address_ip.empty() ? address_ip : *ip ? mesos_ip_as_ipv4(info.ip()) : upid->host);
  return info;
}

}  // namespace stoa::detector
