// The ZooKeeper back end of the store (store.hpp): one znode per key under
// <zk path>/state, over its own client session (actors/zookeeper.hpp).
// Requests are carried out one at a time, in the order received: each is a
// chain of asynchronous ZooKeeper calls, and the next starts when it ends.
#include <zookeeper/zookeeper.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include <caf/all.hpp>

#include "actors/zookeeper.hpp"
#include "apps/services/store.hpp"
#include "apps/services/store_layout.hpp"
#include "common/logging.hpp"

namespace stoa::services {

namespace {

namespace zk = stoa::zookeeper;
namespace layout = store_layout;

// How long one ZooKeeper call may take (the client itself fails calls with
// ZCONNECTIONLOSS when it cannot reach a server within the session timeout).
constexpr auto ZK_STORE_CALL_TIMEOUT = std::chrono::seconds(30);

using ZkDone = std::function<void(std::optional<std::string> error)>;

struct ZkStoreState {
  caf::event_based_actor* self = nullptr;
  caf::actor client;
  std::string root;  // <zk path>/state
  std::string expired;  // why the session is gone ("" = alive)
  std::set<std::string> known_nodes;  // containers known to exist
  std::deque<std::function<void()>> queue;
  bool busy = false;
  static inline const char* name = "services_zk_store";

  // Runs `op` once the requests before it are done; `op` calls next() when it is.
  void enqueue(std::function<void()> op) {
    queue.push_back(std::move(op));
    if (!busy) {
      next();
    }
  }
  void next() {
    if (queue.empty()) {
      busy = false;
      return;
    }
    busy = true;
    std::function<void()> op = std::move(queue.front());
    queue.pop_front();
    op();
  }

  std::string node_of(const std::string& key) const {
    return root + "/" + layout::encoded_path(key) + std::string(layout::VALUE_SUFFIX);
  }
  std::string container_of(const std::string& key) const { return root + "/" + layout::encoded_path(key); }

  static bool is(const caf::error& e, int code) { return zk::zookeeper_error_code(e) == code; }

  // Creates every missing node of `nodes` in turn (ZNODEEXISTS is fine).
  void ensure(std::shared_ptr<std::vector<std::string>> nodes, size_t i, ZkDone done) {
    while (i < nodes->size() && known_nodes.contains((*nodes)[i])) {
      ++i;
    }
    if (i == nodes->size()) {
      done(std::nullopt);
      return;
    }
    std::string node = (*nodes)[i];
    self->request(client, ZK_STORE_CALL_TIMEOUT, zk::create_atom_v, node, std::string(), zk::PERSISTENT)
        .then(
            [this, nodes, i, node, done](const std::string&) {
              known_nodes.insert(node);
              ensure(nodes, i + 1, done);
            },
            [this, nodes, i, node, done](caf::error& e) {
              if (is(e, ZNODEEXISTS)) {
                known_nodes.insert(node);
                ensure(nodes, i + 1, done);
              } else {
                done(layout::error_text(e));
              }
            });
  }

  // The containers a key's node needs, outermost first.
  std::shared_ptr<std::vector<std::string>> parents_of(const std::string& node) const {
    auto out = std::make_shared<std::vector<std::string>>();
    for (size_t slash = node.find('/', 1); slash != std::string::npos; slash = node.find('/', slash + 1)) {
      out->push_back(node.substr(0, slash));
    }
    return out;
  }

  void put(const std::string& key, const std::string& value, caf::response_promise rp) {
    std::string node = node_of(key);
    auto finish = [this, rp, key](std::optional<std::string> error) mutable {
      if (error) {
        rp.deliver(layout::store_error("store put '" + key + "' in ZooKeeper: " + *error));
      } else {
        rp.deliver(true);
      }
      next();
    };
    self->request(client, ZK_STORE_CALL_TIMEOUT, zk::set_atom_v, node, value, -1)
        .then([finish](int) mutable { finish(std::nullopt); },
              [this, node, value, finish](caf::error& e) mutable {
                if (!is(e, ZNONODE)) {
                  finish(layout::error_text(e));
                  return;
                }
                ensure(parents_of(node), 0, [this, node, value, finish](std::optional<std::string> error) mutable {
                  if (error) {
                    finish(error);
                    return;
                  }
                  create_value(node, value, finish);
                });
              });
  }

  void create_value(const std::string& node, const std::string& value, ZkDone finish) {
    self->request(client, ZK_STORE_CALL_TIMEOUT, zk::create_atom_v, node, value, zk::PERSISTENT)
        .then([finish](const std::string&) { finish(std::nullopt); },
              [this, node, value, finish](caf::error& e) {
                if (!is(e, ZNODEEXISTS)) {
                  finish(layout::error_text(e));
                  return;
                }
                self->request(client, ZK_STORE_CALL_TIMEOUT, zk::set_atom_v, node, value, -1)
                    .then([finish](int) { finish(std::nullopt); },
                          [finish](caf::error& e2) { finish(layout::error_text(e2)); });
              });
  }

  void remove_node(const std::string& node, ZkDone done) {
    self->request(client, ZK_STORE_CALL_TIMEOUT, zk::delete_atom_v, node)
        .then([done](bool) { done(std::nullopt); },
              [done](caf::error& e) {
                if (is(e, ZNONODE)) {
                  done(std::nullopt);
                } else {
                  done(layout::error_text(e));
                }
              });
  }

  // Deletes `node` and everything below it (depth first). `keep_self`
  // deletes only what is below.
  void remove_tree(const std::string& node, bool keep_self, ZkDone done) {
    self->request(client, ZK_STORE_CALL_TIMEOUT, zk::children_atom_v, node)
        .then(
            [this, node, keep_self, done](std::vector<std::string>& children) {
              auto list = std::make_shared<std::vector<std::string>>(std::move(children));
              remove_children(node, list, 0, [this, node, keep_self, done](std::optional<std::string> error) {
                if (error || keep_self) {
                  done(error);
                  return;
                }
                forget(node);
                remove_node(node, done);
              });
            },
            [done](caf::error& e) {
              if (is(e, ZNONODE)) {
                done(std::nullopt);
              } else {
                done(layout::error_text(e));
              }
            });
  }

  void remove_children(const std::string& node, std::shared_ptr<std::vector<std::string>> children, size_t i,
                       ZkDone done) {
    if (i == children->size()) {
      done(std::nullopt);
      return;
    }
    remove_tree(node + "/" + (*children)[i], false,
                [this, node, children, i, done](std::optional<std::string> error) {
                  if (error) {
                    done(error);
                    return;
                  }
                  remove_children(node, children, i + 1, done);
                });
  }

  // Forgets the containers at or below `node`.
  void forget(const std::string& node) {
    for (auto it = known_nodes.lower_bound(node); it != known_nodes.end();) {
      if (*it == node || it->rfind(node + "/", 0) == 0) {
        it = known_nodes.erase(it);
      } else if (it->rfind(node, 0) == 0) {
        ++it;  // e.g. node + "-x": a sibling sorting between
      } else {
        break;
      }
    }
  }

  struct Load {
    caf::response_promise rp;
    std::map<std::string, std::string> values;
    size_t pending = 0;
    std::optional<std::string> error;
  };

  void load(caf::response_promise rp) {
    auto l = std::make_shared<Load>();
    l->rp = std::move(rp);
    l->pending = 1;
    list(l, root, "");
  }

  void load_step_done(std::shared_ptr<Load> l) {
    if (--l->pending > 0) {
      return;
    }
    if (l->error) {
      l->rp.deliver(layout::store_error("store load from ZooKeeper " + root + ": " + *l->error));
    } else {
      l->rp.deliver(std::move(l->values));
    }
    next();
  }

  void list(std::shared_ptr<Load> l, const std::string& node, const std::string& key_prefix) {
    self->request(client, ZK_STORE_CALL_TIMEOUT, zk::children_atom_v, node)
        .then(
            [this, l, node, key_prefix](std::vector<std::string>& children) {
              if (l->error) {
                load_step_done(l);
                return;
              }
              known_nodes.insert(node);
              const std::string_view suffix = layout::VALUE_SUFFIX;
              for (const std::string& child : children) {
                size_t dot = child.find('.');
                bool value = dot != std::string::npos && dot + suffix.size() == child.size() &&
                             child.compare(dot, suffix.size(), suffix) == 0;
                std::optional<std::string> raw =
                    (dot == std::string::npos || value) ? layout::decode_component(child.substr(0, dot))
                                                        : std::nullopt;
                if (!raw || raw->empty() || *raw == "." || *raw == "..") {
                  LOG_WARNING << "The ZooKeeper store ignores " << node << "/" << child << " (not a stored key)";
                  continue;
                }
                std::string key = key_prefix.empty() ? *raw : key_prefix + "/" + *raw;
                ++l->pending;
                if (value) {
                  get(l, node + "/" + child, key);
                } else {
                  list(l, node + "/" + child, key);
                }
              }
              load_step_done(l);
            },
            [this, l](caf::error& e) {
              if (!is(e, ZNONODE) && !l->error) {
                l->error = layout::error_text(e);
              }
              load_step_done(l);
            });
  }

  void get(std::shared_ptr<Load> l, const std::string& node, const std::string& key) {
    self->request(client, ZK_STORE_CALL_TIMEOUT, zk::get_atom_v, node)
        .then(
            [this, l, key](std::string& data) {
              l->values[key] = std::move(data);
              load_step_done(l);
            },
            [this, l](caf::error& e) {
              if (!is(e, ZNONODE) && !l->error) {
                l->error = layout::error_text(e);
              }
              load_step_done(l);
            });
  }
};

using zk_store_actor = caf::stateful_actor<ZkStoreState>;

caf::behavior zk_store(zk_store_actor* self, std::string connect_string, std::string root,
                       std::chrono::milliseconds session_timeout) {
  ZkStoreState& st = self->state;
  st.self = self;
  st.root = std::move(root);
  st.client = zk::spawn_client(self->system(), {std::move(connect_string), session_timeout, self});
  self->attach_functor([client = st.client](const caf::error&) { caf::anon_send(client, zk::close_atom_v); });
  self->set_default_handler(caf::print_and_drop);
  // Fails the request at once when the session is gone, else queues `op`.
  auto run = [self](caf::response_promise rp, std::function<void(caf::response_promise)> op) {
    ZkStoreState& s = self->state;
    s.enqueue([self, rp, op]() mutable {
      ZkStoreState& s2 = self->state;
      if (!s2.expired.empty()) {
        rp.deliver(layout::store_error("the ZooKeeper store " + s2.root + " is unusable: " + s2.expired));
        s2.next();
        return;
      }
      op(rp);
    });
  };
  return {
      [self, run](store_load_atom) {
        caf::response_promise rp = self->make_response_promise();
        run(rp, [self](caf::response_promise p) { self->state.load(std::move(p)); });
        return rp;
      },
      [self, run](store_put_atom, const std::string& key, const std::string& value) {
        caf::response_promise rp = self->make_response_promise();
        if (std::optional<std::string> e = check_key(key)) {
          rp.deliver(layout::store_error("store put: " + *e));
          return rp;
        }
        if (std::optional<std::string> e = layout::check_value(key, value)) {
          rp.deliver(layout::store_error("store put: " + *e));
          return rp;
        }
        run(rp, [self, key, value](caf::response_promise p) { self->state.put(key, value, std::move(p)); });
        return rp;
      },
      [self, run](store_delete_atom, const std::string& key) {
        caf::response_promise rp = self->make_response_promise();
        if (std::optional<std::string> e = check_key(key)) {
          rp.deliver(layout::store_error("store delete: " + *e));
          return rp;
        }
        run(rp, [self, key](caf::response_promise p) {
          ZkStoreState& s = self->state;
          s.remove_node(s.node_of(key), [self, key, p](std::optional<std::string> error) mutable {
            if (error) {
              p.deliver(layout::store_error("store delete '" + key + "' in ZooKeeper: " + *error));
            } else {
              p.deliver(true);
            }
            self->state.next();
          });
        });
        return rp;
      },
      [self, run](store_delete_prefix_atom, const std::string& given) {
        caf::response_promise rp = self->make_response_promise();
        std::string prefix;
        if (std::optional<std::string> e = layout::normalize_prefix(given, &prefix)) {
          rp.deliver(layout::store_error("store delete_prefix: " + *e));
          return rp;
        }
        run(rp, [self, prefix](caf::response_promise p) {
          ZkStoreState& s = self->state;
          auto finish = [self, prefix, p](std::optional<std::string> error) mutable {
            if (error) {
              p.deliver(layout::store_error("store delete_prefix '" + prefix + "' in ZooKeeper: " + *error));
            } else {
              p.deliver(true);
            }
            self->state.next();
          };
          if (prefix.empty()) {
            s.remove_tree(s.root, true, finish);
            return;
          }
          s.remove_node(s.node_of(prefix), [self, prefix, finish](std::optional<std::string> error) mutable {
            if (error) {
              finish(error);
              return;
            }
            ZkStoreState& s2 = self->state;
            s2.remove_tree(s2.container_of(prefix), false, finish);
          });
        });
        return rp;
      },
      [self](zk::session_atom, const std::string& event) {
        ZkStoreState& s = self->state;
        if (event == zk::SESSION_EXPIRED || event == zk::SESSION_AUTH_FAILED) {
          s.expired = "its ZooKeeper session " + event;
          LOG_ERROR << "The ZooKeeper store " << s.root << " is unusable: " << s.expired;
        }
      },
  };
}

}  // namespace

Try<caf::actor> spawn_zk_store(caf::actor_system& sys, const std::string& zk_url,
                               std::chrono::milliseconds session_timeout) {
  Try<zk::Url> url = zk::parse_url(zk_url);
  if (url.is_error()) {
    return Error(url.error());
  }
  std::string root = (url->path == "/" ? "" : url->path) + "/state";
  return sys.spawn(zk_store, url->connect_string(), std::move(root), session_timeout);
}

}  // namespace stoa::services
