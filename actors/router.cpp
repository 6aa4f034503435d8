#include "actors/router.hpp"

#include <dirent.h>
#include <picojson.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstdlib>
#include <set>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/network/native_socket.hpp>

#include "actors/atoms.hpp"
#include "actors/http_client.hpp"
#include "actors/safety.hpp"
#include "actors/upid.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"

namespace stoa {

namespace {

// Runs in the multiplexer's thread (the only one where CAF closes its
// sockets, so no descriptor seen here is reused meanwhile): resets every
// socket of this process connected to `addr:port`. The multiplexer's next
// read sees the end of the stream, CAF closes the socket, and SO_LINGER 0
// makes that close a reset that discards the unsent queue.
int abort_connections_to(const std::string& addr, uint16_t port) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return -1;
  }
  int aborted = 0;
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long fd = std::strtol(entry->d_name, &end, 10);
    struct stat st{};
    if (end == entry->d_name || *end != '\0' || fd == ::dirfd(dir) || ::fstat(static_cast<int>(fd), &st) != 0 ||
        !S_ISSOCK(st.st_mode)) {
      continue;
    }
    auto peer_addr = caf::io::network::remote_addr_of_fd(static_cast<int>(fd));
    auto peer_port = caf::io::network::remote_port_of_fd(static_cast<int>(fd));
    if (!peer_addr || !peer_port || *peer_addr != addr || *peer_port != port) {
      continue;
    }
    linger abort_on_close{1, 0};
    ::setsockopt(static_cast<int>(fd), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
    ::shutdown(static_cast<int>(fd), SHUT_RDWR);
    ++aborted;
  }
  ::closedir(dir);
  return aborted;
}

// Asks the BASP broker where the direct connection to `node` goes, then
// resets it (disconnect_node). Not hidden: Runtime::shutdown() waits for it,
// so nothing is posted into a multiplexer that is gone.
caf::behavior disconnector_actor(caf::event_based_actor* self, caf::node_id node, std::string why) {
  auto basp = self->system().middleman().named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  self->request(basp, ROUTER_STEP_TIMEOUT, caf::get_atom::value, node)
      .then(
          [self, why](const caf::node_id& peer, const std::string& addr, uint16_t port) {
            if (addr.empty() || port == 0) {
              LOG_INFO << "No connection to close to " << caf::to_string(peer) << " (" << why << ")";
              self->quit();
              return;
            }
            std::string peer_text = caf::to_string(peer);
            self->system().middleman().backend().post([addr, port, peer_text, why] {
              int aborted = abort_connections_to(addr, port);
              LOG_WARNING << "Reset the connection to " << addr << ":" << port << " (" << peer_text << "; " << why
                          << "): " << aborted << " socket(s); what was queued for it is dropped";
            });
            self->quit();
          },
          [self, why](caf::error& e) {
            LOG_WARNING << "Cannot close the connection (" << why << "): " << self->system().render(e);
            self->quit();
          });
  return {[](disconnect_atom) {}};
}

class Router {
 public:
  Router() = default;  // CAF default-constructs the state; the behavior sets `self`

  caf::stateful_actor<Router>* self = nullptr;
  std::unordered_map<std::string, caf::actor> local;   // id -> actor
  std::unordered_map<std::string, caf::actor> remote;  // upid string -> actor
  std::unordered_map<std::string, std::vector<caf::response_promise>> pending;
  std::string ip;
  uint16_t port = 0;
  static inline const char* name = "router";

  caf::result<void> on_register(const std::string& id, const caf::actor& who) {
    auto sender = self->current_sender();
    if (!sender || sender->node() != self->node()) {
      return caf::make_error(caf::sec::invalid_argument, "only local actors may register");
    }
    self->monitor(who);
    local[id] = who;
    return caf::unit;
  }

  void on_unregister(const std::string& id) {
    auto sender = self->current_sender();
    if (sender && sender->node() == self->node()) {
      local.erase(id);
    }
  }

  caf::result<caf::actor> on_lookup(const std::string& id) {
    auto it = local.find(id);
    if (it == local.end()) {
      return caf::make_error(caf::sec::remote_lookup_failed, "no process '" + id + "'");
    }
    return it->second;
  }

  std::vector<std::string> on_list() const {
    std::vector<std::string> ids;
    for (const auto& [id, a] : local) {
      ids.push_back(id);
    }
    return ids;
  }

  caf::result<caf::actor> on_resolve(const std::string& text) {
    Try<Upid> upid = parse_upid(text);
    if (upid.is_error()) {
      return caf::make_error(caf::sec::invalid_argument, upid.error());
    }
    if (port != 0 && upid->port == port && (upid->host == ip || upid->host == "localhost")) {
      auto it = local.find(upid->id);
      if (it == local.end()) {
        return caf::make_error(caf::sec::remote_lookup_failed, "no process '" + text + "'");
      }
      return it->second;
    }
    Upid target = *upid;
    return cached_or_start(target.str(), [this, target] { discover(target); });
  }

  caf::result<caf::actor> on_resolve_at(const std::string& text, uint16_t actor_port) {
    Try<Upid> upid = parse_upid(text);
    if (upid.is_error()) {
      return caf::make_error(caf::sec::invalid_argument, upid.error());
    }
    Upid target = *upid;
    return cached_or_start(target.str(), [this, target, actor_port] { lookup_remote(target, actor_port); });
  }

  caf::result<bool> on_disconnect(const caf::actor& peer, const std::string& why) {
    auto sender = self->current_sender();
    if (!sender || sender->node() != self->node()) {
      return caf::make_error(caf::sec::invalid_argument, "only local actors may close connections");
    }
    if (!peer || peer.node() == self->node()) {
      return false;
    }
    // A resolve after this one must not answer with a proxy of the closing
    // connection: forget every actor of that process now.
    for (auto it = remote.begin(); it != remote.end();) {
      if (it->second.node() == peer.node()) {
        it = remote.erase(it);
      } else {
        ++it;
      }
    }
    disconnect_node(self->system(), peer.node(), why);
    return true;
  }

  void on_down(const caf::down_msg& dm) {
    for (auto* table : {&local, &remote}) {
      for (auto it = table->begin(); it != table->end();) {
        if (it->second.address() == dm.source) {
          it = table->erase(it);
        } else {
          ++it;
        }
      }
    }
  }

  void on_exit(const caf::exit_msg& msg) {
    if (!exit_from_this_process(self, msg)) {
      LOG_WARNING << "The router ignored an exit message from "
                  << (msg.source ? caf::to_string(msg.source) : std::string("an anonymous sender"));
      return;
    }
    // Take every named actor of this process down with us (clean shutdown).
    for (auto& [id, a] : local) {
      self->send_exit(a, msg.reason);
    }
    local.clear();
    remote.clear();
    for (auto& [key, waiting] : pending) {
      for (auto& rp : waiting) {
        rp.deliver(caf::make_error(caf::sec::request_receiver_down, key));
      }
    }
    pending.clear();
    self->quit(msg.reason);
  }

 private:
  // Answers from the cache, joins a resolve of the same UPID under way, or
  // starts one with `start`; the promise is delivered by finish_resolve().
  template <class Start>
  caf::result<caf::actor> cached_or_start(const std::string& key, Start start) {
    if (auto it = remote.find(key); it != remote.end()) {
      return it->second;
    }
    auto rp = self->make_response_promise();
    auto& waiting = pending[key];
    waiting.push_back(rp);
    if (waiting.size() == 1) {
      start();
    }
    return rp;
  }

  void finish_resolve(const std::string& key, caf::expected<caf::actor> result) {
    auto it = pending.find(key);
    if (it == pending.end()) {
      return;
    }
    std::vector<caf::response_promise> waiting = std::move(it->second);
    pending.erase(it);
    for (auto& rp : waiting) {
      if (result) {
        rp.deliver(*result);
      } else {
        rp.deliver(result.error());
      }
    }
  }

  // Step 1 of a resolve: ask the peer's HTTP port for its actor port.
  void discover(const Upid& target) {
    http::ClientRequest req;
    req.host = target.host;
    req.port = target.port;
    req.path = PROCESSES_PATH;
    req.timeout = ROUTER_STEP_TIMEOUT;
    std::string key = target.str();
    http::fetch(
        self, req, [this, target](http::Response r) { on_discovered(target, r); },
        [this, key](caf::error e) { finish_resolve(key, std::move(e)); });
  }

  void on_discovered(const Upid& target, const http::Response& r) {
    // A peer's answer is untrusted input like any other.
    Try<picojson::value> parsed = json_parse(r.body);
    picojson::value v = parsed.is_some() ? *parsed : picojson::value();
    if (r.status != 200 || parsed.is_error() || !v.is<picojson::object>() || !v.get("actor_port").is<int64_t>() ||
        v.get("actor_port").get<int64_t>() <= 0 || v.get("actor_port").get<int64_t>() > 65535) {
      finish_resolve(target.str(), caf::make_error(caf::sec::cannot_connect_to_node,
                                                   target.address() + " is not a Stoa process (HTTP " +
                                                       std::to_string(r.status) + ")"));
      return;
    }
    lookup_remote(target, static_cast<uint16_t>(v.get("actor_port").get<int64_t>()));
  }

  // Steps 2 and 3: connect the middleman to the actor port, then look the id
  // up in the remote router.
  void lookup_remote(const Upid& upid, uint16_t actor_port) {
    std::string key = upid.str();
    auto mm = self->system().middleman().actor_handle();
    self->request(mm, ROUTER_STEP_TIMEOUT, caf::connect_atom::value, upid.host, actor_port)
        .then(
            [this, upid](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
              on_connected(upid, ptr);
            },
            [this, key](caf::error& e) { finish_resolve(key, std::move(e)); });
  }

  void on_connected(const Upid& upid, const caf::strong_actor_ptr& ptr) {
    std::string key = upid.str();
    if (!ptr) {
      finish_resolve(key, caf::make_error(caf::sec::no_actor_published_at_port, key));
      return;
    }
    auto remote_router = caf::actor_cast<caf::actor>(ptr);
    self->request(remote_router, ROUTER_STEP_TIMEOUT, lookup_atom_v, upid.id)
        .then([this, key](const caf::actor& a) { on_found(key, a); },
              [this, key](caf::error& e) { finish_resolve(key, std::move(e)); });
  }

  void on_found(const std::string& key, const caf::actor& a) {
    if (!a) {
      finish_resolve(key, caf::make_error(caf::sec::remote_lookup_failed, key));
      return;
    }
    self->monitor(a);
    remote[key] = a;
    finish_resolve(key, a);
  }
};

caf::behavior router_actor(caf::stateful_actor<Router>* self, std::string ip, uint16_t port) {
  set_safe_handlers(self, "router");
  Router& st = self->state;
  st.self = self;
  st.ip = std::move(ip);
  st.port = port;
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  self->set_exit_handler([self](caf::exit_msg& msg) { self->state.on_exit(msg); });
  return {
      [self](register_atom, const std::string& id, const caf::actor& who) -> caf::result<void> {
        return self->state.on_register(id, who);
      },
      [self](unregister_atom, const std::string& id) { self->state.on_unregister(id); },
      [self](lookup_atom, const std::string& id) { return self->state.on_lookup(id); },
      [self](list_atom) { return self->state.on_list(); },
      [self](resolve_atom, const std::string& upid, uint16_t actor_port) {
        return self->state.on_resolve_at(upid, actor_port);
      },
      [self](resolve_atom, const std::string& upid) { return self->state.on_resolve(upid); },
      [self](disconnect_atom, const caf::actor& peer, const std::string& why) {
        return self->state.on_disconnect(peer, why);
      },
  };
}

}  // namespace

void disconnect_node(caf::actor_system& sys, const caf::node_id& node, std::string why) {
  if (!node || node == sys.node()) {
    return;
  }
  sys.spawn(disconnector_actor, node, std::move(why));
}

caf::actor spawn_router(caf::actor_system& sys, std::string ip, uint16_t port) {
  return sys.spawn(router_actor, std::move(ip), port);
}

}  // namespace stoa
