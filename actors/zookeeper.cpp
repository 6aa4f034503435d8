#include "actors/zookeeper.hpp"

#include <zookeeper/zookeeper.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <utility>

#include <caf/all.hpp>

namespace stoa::zookeeper {

// ---------------------------------------------------------------------------
// URLs.

std::string Url::connect_string() const {
  std::string out;
  for (const std::string& s : servers) {
    out += (out.empty() ? "" : ",") + s;
  }
  return out;
}

std::string Url::text() const { return "zk://" + connect_string() + path; }

namespace {

constexpr std::string_view ZK_SCHEME = "zk://";
constexpr std::string_view FILE_SCHEME = "file://";

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n";
  size_t b = s.find_first_not_of(space);
  if (b == std::string_view::npos) {
    return {};
  }
  size_t e = s.find_last_not_of(space);
  return s.substr(b, e - b + 1);
}

Try<Url> parse_zk_url(std::string_view text) {
  const std::string quoted = "'" + std::string(text) + "'";
  if (text.substr(0, ZK_SCHEME.size()) != ZK_SCHEME) {
    return Error("ZooKeeper URL " + quoted + " does not start with zk:// or file://");
  }
  std::string_view rest = text.substr(ZK_SCHEME.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return Error("ZooKeeper URL " + quoted + " has no path (zk://host:port/path)");
  }
  std::string_view hosts = rest.substr(0, slash);
  std::string_view path = rest.substr(slash);
  if (hosts.find('@') != std::string_view::npos) {
    return Error("ZooKeeper URL " + quoted + " has credentials (user:password@), which are not supported");
  }
  Url url;
  size_t start = 0;
  while (true) {
    size_t comma = hosts.find(',', start);
    std::string_view server = hosts.substr(start, comma == std::string_view::npos ? comma : comma - start);
    size_t colon = server.rfind(':');
    if (server.empty()) {
      return Error("ZooKeeper URL " + quoted + " has an empty server");
    }
    if (colon == std::string_view::npos || colon == 0) {
      return Error("ZooKeeper URL " + quoted + ": server '" + std::string(server) + "' is not host:port");
    }
    std::string_view port_text = server.substr(colon + 1);
    int port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
      return Error("ZooKeeper URL " + quoted + ": server '" + std::string(server) + "' has port '" +
                   std::string(port_text) + "', not a number in 1..65535");
    }
    url.servers.emplace_back(server);
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  if (path.size() > 1) {
    if (path.back() == '/') {
      return Error("ZooKeeper URL " + quoted + ": path '" + std::string(path) + "' ends with '/'");
    }
    size_t at = 1;
    while (at <= path.size()) {
      size_t next = path.find('/', at);
      std::string_view part = path.substr(at, next == std::string_view::npos ? next : next - at);
      if (part.empty() || part == "." || part == "..") {
        return Error("ZooKeeper URL " + quoted + ": path '" + std::string(path) +
                     "' has an empty, '.' or '..' component");
      }
      if (next == std::string_view::npos) {
        break;
      }
      at = next + 1;
    }
  }
  url.path = std::string(path);
  return url;
}

}  // namespace

Try<Url> parse_url(std::string_view text) {
  if (text.substr(0, FILE_SCHEME.size()) != FILE_SCHEME) {
    return parse_zk_url(text);
  }
  std::string file(text.substr(FILE_SCHEME.size()));
  if (file.empty() || file[0] != '/') {
    return Error("'" + std::string(text) + "' does not name an absolute file (file:///path)");
  }
  std::ifstream in(file);
  if (!in) {
    return Error("cannot read '" + file + "' (from '" + std::string(text) + "')");
  }
  std::stringstream content;
  content << in.rdbuf();
  std::string inner(trim(content.str()));
  if (inner.substr(0, FILE_SCHEME.size()) == FILE_SCHEME) {
    return Error("'" + file + "' holds another file:// URL; it must hold a zk:// URL");
  }
  Try<Url> url = parse_zk_url(inner);
  if (url.is_error()) {
    return Error(url.error() + " (read from '" + file + "')");
  }
  return url;
}

// ---------------------------------------------------------------------------
// Errors.

std::string zookeeper_error_name(int code) {
  static const std::map<int, std::string> names = {
      {ZOK, "ZOK"},
      {ZSYSTEMERROR, "ZSYSTEMERROR"},
      {ZRUNTIMEINCONSISTENCY, "ZRUNTIMEINCONSISTENCY"},
      {ZDATAINCONSISTENCY, "ZDATAINCONSISTENCY"},
      {ZCONNECTIONLOSS, "ZCONNECTIONLOSS"},
      {ZMARSHALLINGERROR, "ZMARSHALLINGERROR"},
      {ZUNIMPLEMENTED, "ZUNIMPLEMENTED"},
      {ZOPERATIONTIMEOUT, "ZOPERATIONTIMEOUT"},
      {ZBADARGUMENTS, "ZBADARGUMENTS"},
      {ZINVALIDSTATE, "ZINVALIDSTATE"},
      {ZAPIERROR, "ZAPIERROR"},
      {ZNONODE, "ZNONODE"},
      {ZNOAUTH, "ZNOAUTH"},
      {ZBADVERSION, "ZBADVERSION"},
      {ZNOCHILDRENFOREPHEMERALS, "ZNOCHILDRENFOREPHEMERALS"},
      {ZNODEEXISTS, "ZNODEEXISTS"},
      {ZNOTEMPTY, "ZNOTEMPTY"},
      {ZSESSIONEXPIRED, "ZSESSIONEXPIRED"},
      {ZINVALIDCALLBACK, "ZINVALIDCALLBACK"},
      {ZINVALIDACL, "ZINVALIDACL"},
      {ZAUTHFAILED, "ZAUTHFAILED"},
      {ZCLOSING, "ZCLOSING"},
      {ZNOTHING, "ZNOTHING"},
      {ZSESSIONMOVED, "ZSESSIONMOVED"},
  };
  auto it = names.find(code);
  return it != names.end() ? it->second : "error " + std::to_string(code);
}

int zookeeper_error_code(const caf::error& e) {
  const caf::message& context = e.context();
  if (context.size() == 2 && context.match_element<std::string>(0) && context.match_element<int>(1)) {
    return context.get_as<int>(1);
  }
  return ZOK;
}

namespace {

caf::error make_zk_error(const std::string& op, const std::string& path, int rc) {
  const char* text = zerror(rc);
  return caf::make_error(caf::sec::runtime_error,
                         "ZooKeeper " + op + " " + path + ": " + (text != nullptr ? text : "?") + " (" +
                             zookeeper_error_name(rc) + ")",
                         rc);
}

// ---------------------------------------------------------------------------
// The actor.

// Private messages from the C client's threads to the actor.
using done_atom = caf::atom_constant<caf::atom("zk_done")>;    // (done, id, rc, value, children, version)
using event_atom = caf::atom_constant<caf::atom("zk_event")>;  // (event, id, type, state)
// The actor's own timer: (expiry, disconnection number), a session timeout
// after a disconnection.
using expiry_atom = caf::atom_constant<caf::atom("zk_expiry")>;

// What a completion or watcher needs to reach the actor: owned by the actor's
// state and freed only once the C client can no longer call with it (after
// the completion ran, after a one-shot watch fired, or after
// zookeeper_close()). A callback copies what it needs before posting.
struct Route {
  caf::weak_actor_ptr client;
  uint64_t id;
};

void post(const void* data, caf::message msg) {
  const auto* route = static_cast<const Route*>(data);
  if (caf::strong_actor_ptr strong = route->client.lock()) {
    caf::anon_send(caf::actor_cast<caf::actor>(strong), std::move(msg));
  }
}

void post_done(const void* data, int rc, std::string value, std::vector<std::string> children,
               int version = -1) {
  uint64_t id = static_cast<const Route*>(data)->id;
  post(data, caf::make_message(done_atom::value, id, rc, std::move(value), std::move(children), version));
}

void on_string_done(int rc, const char* value, const void* data) {
  post_done(data, rc, value != nullptr ? value : "", {});
}

void on_data_done(int rc, const char* value, int len, const struct Stat* stat, const void* data) {
  post_done(data, rc, value != nullptr && len > 0 ? std::string(value, static_cast<size_t>(len)) : "", {},
            stat != nullptr ? stat->version : -1);
}

void on_set_done(int rc, const struct Stat* stat, const void* data) {
  post_done(data, rc, "", {}, stat != nullptr ? stat->version : -1);
}

void on_strings_done(int rc, const struct String_vector* strings, const struct Stat*, const void* data) {
  std::vector<std::string> children;
  if (rc == ZOK && strings != nullptr) {
    for (int32_t i = 0; i < strings->count; ++i) {
      children.emplace_back(strings->data[i]);
    }
  }
  post_done(data, rc, "", std::move(children));
}

void on_void_done(int rc, const void* data) { post_done(data, rc, "", {}); }

void on_stat_done(int rc, const struct Stat*, const void* data) { post_done(data, rc, "", {}); }

void on_watch(zhandle_t*, int type, int state, const char*, void* ctx) {
  uint64_t id = static_cast<const Route*>(ctx)->id;
  post(ctx, caf::make_message(event_atom::value, id, type, state));
}

enum class Op { create, get, get_version, set, children, remove, exists };

const char* op_name(Op op) {
  switch (op) {
    case Op::create: return "create";
    case Op::get: return "get";
    case Op::get_version: return "get";
    case Op::set: return "set";
    case Op::children: return "get_children";
    case Op::remove: return "delete";
    case Op::exists: return "exists";
  }
  return "?";
}

struct Pending {
  Op op;
  std::string path;
  caf::response_promise promise;
  uint64_t watch_id = 0;  // the watch this get_children sets, if any
};

struct Watch {
  std::string path;
  caf::actor watcher;
  bool lost = false;  // told WATCH_SESSION_LOST; the route stays until close
};

constexpr uint64_t SESSION_ROUTE = 0;

struct ClientState {
  zhandle_t* zh = nullptr;
  std::string init_error;  // why there is no handle: refused by zookeeper_init, or expired locally
  std::chrono::milliseconds session_timeout{0};
  bool connected = false;
  uint64_t disconnections = 0;  // numbers the expiry timers; a stale one is ignored
  caf::actor subscriber;
  uint64_t next_id = SESSION_ROUTE + 1;
  std::map<uint64_t, std::unique_ptr<Route>> routes;
  std::map<uint64_t, Pending> pending;
  std::map<uint64_t, Watch> watches;

  static inline const char* name = "zookeeper_client";

  // zookeeper_close() joins the C client's threads: after it, no callback
  // can use a Route, so the routes may go. An actor killed without
  // close_atom closes here; its pending requests get no answer.
  void close() {
    if (zh != nullptr) {
      zookeeper_close(zh);
      zh = nullptr;
    }
  }
  ~ClientState() { close(); }
};

using client_actor = caf::stateful_actor<ClientState>;

const void* new_route(client_actor* self, uint64_t id) {
  auto route = std::make_unique<Route>(Route{caf::weak_actor_ptr{self->ctrl()}, id});
  const void* raw = route.get();
  self->state.routes.emplace(id, std::move(route));
  return raw;
}

// Issues one asynchronous call; `call(route)` returns the C client's rc.
// `*request_id`, when given, is set to the id of a call the C client took.
template <class Call>
caf::response_promise issue(client_actor* self, Op op, const std::string& path, Call call,
                            uint64_t* request_id = nullptr) {
  auto& st = self->state;
  caf::response_promise promise = self->make_response_promise();
  if (st.zh == nullptr) {
    promise.deliver(caf::make_error(caf::sec::runtime_error, "ZooKeeper " + std::string(op_name(op)) + " " +
                                                                 path + ": " + st.init_error));
    return promise;
  }
  uint64_t id = st.next_id++;
  int rc = call(new_route(self, id));
  if (rc != ZOK) {
    st.routes.erase(id);  // the C client did not keep it
    promise.deliver(make_zk_error(op_name(op), path, rc));
    return promise;
  }
  st.pending.emplace(id, Pending{op, path, promise});
  if (request_id != nullptr) {
    *request_id = id;
  }
  return promise;
}

void on_done(client_actor* self, uint64_t id, int rc, std::string value, std::vector<std::string> children,
             int version) {
  auto& st = self->state;
  st.routes.erase(id);
  auto it = st.pending.find(id);
  if (it == st.pending.end()) {
    return;
  }
  Pending p = std::move(it->second);
  st.pending.erase(it);
  if (rc != ZOK && p.watch_id != 0) {
    // The C client sets a child watch only when the read succeeds.
    st.watches.erase(p.watch_id);
    st.routes.erase(p.watch_id);
  }
  if (p.op == Op::exists && (rc == ZOK || rc == ZNONODE)) {
    p.promise.deliver(rc == ZOK);
  } else if (rc != ZOK) {
    p.promise.deliver(make_zk_error(op_name(p.op), p.path, rc));
  } else if (p.op == Op::children) {
    p.promise.deliver(std::move(children));
  } else if (p.op == Op::remove) {
    p.promise.deliver(true);
  } else if (p.op == Op::get_version) {
    p.promise.deliver(std::move(value), version);
  } else if (p.op == Op::set) {
    p.promise.deliver(version);
  } else {
    p.promise.deliver(std::move(value));
  }
}

void tell_subscriber(client_actor* self, const std::string& event) {
  if (self->state.subscriber) {
    self->send(self->state.subscriber, session_atom::value, event);
  }
}

void lose_watches(client_actor* self) {
  for (auto& [id, w] : self->state.watches) {
    if (!w.lost) {
      w.lost = true;
      self->send(w.watcher, watch_atom::value, w.path, WATCH_SESSION_LOST);
    }
  }
}

void close_session(client_actor* self);

void on_session_event(client_actor* self, int state) {
  auto& st = self->state;
  if (state == ZOO_CONNECTED_STATE) {
    st.connected = true;
    tell_subscriber(self, SESSION_CONNECTED);
  } else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE) {
    if (st.connected) {
      st.connected = false;
      // The C client reports an expiry only once it reaches a server again;
      // a leader cut off from ZooKeeper must not wait for that (Mesos'
      // Group expires the session itself after the session timeout too).
      self->delayed_send(self, st.session_timeout, expiry_atom::value, ++st.disconnections);
    }
    tell_subscriber(self, SESSION_DISCONNECTED);
  } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
    st.connected = false;
    lose_watches(self);
    tell_subscriber(self, state == ZOO_EXPIRED_SESSION_STATE ? SESSION_EXPIRED : SESSION_AUTH_FAILED);
  }
}

// Disconnected for a whole session timeout: the server has expired the
// session by now (or will as soon as it can), so give it up here.
void on_local_expiry(client_actor* self, uint64_t disconnection) {
  auto& st = self->state;
  if (st.connected || disconnection != st.disconnections || st.zh == nullptr) {
    return;
  }
  lose_watches(self);
  close_session(self);
  st.init_error = "session expired: disconnected for longer than the session timeout (" +
                  std::to_string(st.session_timeout.count()) + "ms)";
  tell_subscriber(self, SESSION_EXPIRED);
}

void on_event(client_actor* self, uint64_t id, int type, int state) {
  auto& st = self->state;
  if (id == SESSION_ROUTE) {
    if (type == ZOO_SESSION_EVENT) {
      on_session_event(self, state);
    }
    return;
  }
  auto it = st.watches.find(id);
  if (it == st.watches.end() || type == ZOO_SESSION_EVENT || type == ZOO_NOTWATCHING_EVENT) {
    return;  // session changes reach every watch; the subscriber hears them
  }
  // A node or child event ends a one-shot watch: the C client forgets it.
  if (!it->second.lost) {
    self->send(it->second.watcher, watch_atom::value, it->second.path,
               type == ZOO_DELETED_EVENT ? WATCH_DELETED : WATCH_CHANGED);
  }
  st.watches.erase(it);
  st.routes.erase(id);
}

void close_session(client_actor* self) {
  auto& st = self->state;
  st.close();
  for (auto& [id, p] : st.pending) {
    p.promise.deliver(make_zk_error(op_name(p.op), p.path, ZCLOSING));
  }
  st.pending.clear();
  st.watches.clear();
  st.routes.clear();
}

caf::behavior client(client_actor* self, ClientOptions options) {
  auto& st = self->state;
  st.subscriber = options.subscriber;
  st.session_timeout = options.session_timeout;
  // The C client would log every failed reconnect to stderr; the actor reports
  // what matters as session events and errors.
  zoo_set_debug_level(static_cast<ZooLogLevel>(0));
  const void* session_route = new_route(self, SESSION_ROUTE);
  int timeout_ms = static_cast<int>(options.session_timeout.count());
  errno = 0;
  st.zh = zookeeper_init(options.connect_string.c_str(), on_watch, timeout_ms, nullptr,
                         const_cast<void*>(session_route), 0);
  if (st.zh == nullptr) {
    st.init_error = "the ZooKeeper client refused connect string '" + options.connect_string +
                    "' (" + std::string(std::strerror(errno)) + ")";
    tell_subscriber(self, SESSION_EXPIRED);
  }
  return {
      [self](create_atom, const std::string& path, const std::string& data, int mode) {
        int flags = ((mode & EPHEMERAL) != 0 ? ZOO_EPHEMERAL : 0) | ((mode & SEQUENTIAL) != 0 ? ZOO_SEQUENCE : 0);
        return issue(self, Op::create, path, [&](const void* route) {
          return zoo_acreate(self->state.zh, path.c_str(), data.data(), static_cast<int>(data.size()),
                             &ZOO_OPEN_ACL_UNSAFE, flags, on_string_done, route);
        });
      },
      [self](get_atom, const std::string& path) {
        return issue(self, Op::get, path, [&](const void* route) {
          return zoo_aget(self->state.zh, path.c_str(), 0, on_data_done, route);
        });
      },
      [self](get_version_atom, const std::string& path) {
        return issue(self, Op::get_version, path, [&](const void* route) {
          return zoo_aget(self->state.zh, path.c_str(), 0, on_data_done, route);
        });
      },
      [self](set_atom, const std::string& path, const std::string& data, int version) {
        return issue(self, Op::set, path, [&](const void* route) {
          return zoo_aset(self->state.zh, path.c_str(), data.data(), static_cast<int>(data.size()), version,
                          on_set_done, route);
        });
      },
      [self](children_atom, const std::string& path) {
        return issue(self, Op::children, path, [&](const void* route) {
          return zoo_aget_children2(self->state.zh, path.c_str(), 0, on_strings_done, route);
        });
      },
      [self](children_atom, const std::string& path, const caf::actor& watcher) {
        auto& st = self->state;
        uint64_t watch_id = 0;
        uint64_t request_id = 0;
        auto call = [&](const void* route) {
          watch_id = st.next_id++;
          void* watch_route = const_cast<void*>(new_route(self, watch_id));
          int rc = zoo_awget_children2(st.zh, path.c_str(), on_watch, watch_route, on_strings_done, route);
          if (rc != ZOK) {
            st.routes.erase(watch_id);
          }
          return rc;
        };
        caf::response_promise promise = issue(self, Op::children, path, call, &request_id);
        // Its completion comes later, through the mailbox.
        if (auto it = st.pending.find(request_id); it != st.pending.end()) {
          st.watches.emplace(watch_id, Watch{path, watcher});
          it->second.watch_id = watch_id;
        }
        return promise;
      },
      [self](delete_atom, const std::string& path) {
        return issue(self, Op::remove, path, [&](const void* route) {
          return zoo_adelete(self->state.zh, path.c_str(), -1, on_void_done, route);
        });
      },
      [self](exists_atom, const std::string& path) {
        return issue(self, Op::exists, path, [&](const void* route) {
          return zoo_aexists(self->state.zh, path.c_str(), 0, on_stat_done, route);
        });
      },
      [self](session_id_atom) -> caf::result<int64_t, std::string> {
        const clientid_t* id = self->state.zh != nullptr ? zoo_client_id(self->state.zh) : nullptr;
        if (id == nullptr || id->client_id == 0) {
          return caf::make_error(caf::sec::runtime_error, "ZooKeeper session: not established yet");
        }
        return {id->client_id, std::string(id->passwd, sizeof(id->passwd))};
      },
      [self](close_atom) {
        close_session(self);
        self->quit();
        return true;
      },
      [self](done_atom, uint64_t id, int rc, std::string& value, std::vector<std::string>& children,
             int version) {
        on_done(self, id, rc, std::move(value), std::move(children), version);
      },
      [self](event_atom, uint64_t id, int type, int state) { on_event(self, id, type, state); },
      [self](expiry_atom, uint64_t disconnection) { on_local_expiry(self, disconnection); },
  };
}

}  // namespace

caf::actor spawn_client(caf::actor_system& sys, ClientOptions options) {
  return sys.spawn<caf::detached>(client, std::move(options));
}

}  // namespace stoa::zookeeper
