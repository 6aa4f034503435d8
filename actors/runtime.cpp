#include "actors/runtime.hpp"

#include <picojson.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <unordered_map>

#include "actors/atoms.hpp"
#include "actors/http_client.hpp"
#include "actors/messages.hpp"
#include "actors/safety.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"

namespace stoa {

namespace {

constexpr auto STEP_TIMEOUT = std::chrono::seconds(5);
constexpr const char* PROCESSES_PATH = "/__stoa__/processes";

struct router_state {
  router_state() = default;  // never built from the actor pointer (C++20 aggregates)
  std::unordered_map<std::string, caf::actor> local;   // id -> actor
  std::unordered_map<std::string, caf::actor> remote;  // upid string -> actor
  std::unordered_map<std::string, std::vector<caf::response_promise>> pending;
  std::string ip;
  uint16_t port = 0;
  static inline const char* name = "router";
};

using router_actor = caf::stateful_actor<router_state>;

void finish_resolve(router_actor* self, const std::string& key, caf::expected<caf::actor> result) {
  auto it = self->state.pending.find(key);
  if (it == self->state.pending.end()) {
    return;
  }
  std::vector<caf::response_promise> waiting = std::move(it->second);
  self->state.pending.erase(it);
  for (auto& rp : waiting) {
    if (result) {
      rp.deliver(*result);
    } else {
      rp.deliver(result.error());
    }
  }
}

void lookup_remote(router_actor* self, const Upid& upid, uint16_t actor_port) {
  std::string key = upid.str();
  auto mm = self->system().middleman().actor_handle();
  self->request(mm, STEP_TIMEOUT, caf::connect_atom::value, upid.host, actor_port)
      .then(
          [self, upid, key](const caf::node_id&, caf::strong_actor_ptr& ptr,
                            const std::set<std::string>&) {
            if (!ptr) {
              finish_resolve(self, key, caf::make_error(caf::sec::no_actor_published_at_port, key));
              return;
            }
            auto remote_router = caf::actor_cast<caf::actor>(ptr);
            self->request(remote_router, STEP_TIMEOUT, lookup_atom_v, upid.id)
                .then(
                    [self, key](const caf::actor& a) {
                      if (!a) {
                        finish_resolve(self, key,
                                       caf::make_error(caf::sec::remote_lookup_failed, key));
                        return;
                      }
                      self->monitor(a);
                      self->state.remote[key] = a;
                      finish_resolve(self, key, a);
                    },
                    [self, key](caf::error& e) { finish_resolve(self, key, std::move(e)); });
          },
          [self, key](caf::error& e) { finish_resolve(self, key, std::move(e)); });
}

// Answers from the cache, joins a resolve of the same UPID under way, or
// starts one with `start`; the promise is delivered by finish_resolve().
template <class Start>
caf::result<caf::actor> cached_or_start(router_actor* self, const std::string& key, Start start) {
  if (auto it = self->state.remote.find(key); it != self->state.remote.end()) {
    return it->second;
  }
  auto rp = self->make_response_promise();
  auto& waiting = self->state.pending[key];
  waiting.push_back(rp);
  if (waiting.size() == 1) {
    start();
  }
  return rp;
}

void discover(router_actor* self, const Upid& target, const std::string& key);

using supervise_atom = caf::atom_constant<caf::atom("supervise")>;

// Watches the process' components: one that terminates for any reason but a
// clean shutdown (normal, user_shutdown) is a failure of the whole process.
// Runtime::shutdown() stops the supervisor first, so an orderly stop is
// never taken for a failure.
struct SupervisorState {
  SupervisorState() = default;
  std::map<caf::actor_addr, std::string> names;
  std::function<void(const std::string&)> on_failure;
  static inline const char* name = "supervisor";
};

caf::behavior supervisor_behavior(caf::stateful_actor<SupervisorState>* self,
                                  std::function<void(const std::string&)> on_failure) {
  set_safe_handlers(self, "supervisor");
  self->state.on_failure = std::move(on_failure);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto it = self->state.names.find(dm.source);
    if (it == self->state.names.end()) {
      return;
    }
    std::string name = it->second;
    self->state.names.erase(it);
    if (dm.reason == caf::exit_reason::normal || dm.reason == caf::exit_reason::user_shutdown ||
        dm.reason == caf::error{}) {
      return;
    }
    self->state.on_failure("component '" + name + "' terminated: " + self->system().render(dm.reason));
  });
  return {
      [self](supervise_atom, const std::string& name, const caf::actor& who) {
        if (!who || self->current_sender() == nullptr ||
            self->current_sender()->node() != self->node()) {
          return;
        }
        self->monitor(who);
        self->state.names[who.address()] = name;
      },
  };
}

// Raises the soft descriptor limit to the hard one, and warns when the
// connection limits cannot be reached before descriptors run out (then the
// accept guard sheds connections instead of --max_connections).
void check_descriptor_limit(const RuntimeOptions& opts) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    return;
  }
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      lim = raised;
    }
  }
  size_t needed = opts.max_http_connections + opts.actor_limits.max_connections + 256;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    LOG_WARNING << "The descriptor limit (" << lim.rlim_cur << ") is below what the connection limits need ("
                << needed << " with --max_connections=" << opts.max_http_connections
                << "): beyond it new connections are closed at once; raise `ulimit -n` or lower "
                   "--max_connections";
  }
}

void default_component_failure(const std::string& what) {
  LOG_ERROR << "Exiting: " << what;
  std::cerr << "FATAL: " << what << "; exiting" << std::endl;
  std::fflush(nullptr);
  std::_Exit(70);
}

caf::behavior router_behavior(router_actor* self, std::string ip, uint16_t port) {
  set_safe_handlers(self, "router");
  self->state.ip = std::move(ip);
  self->state.port = port;
  self->set_down_handler([self](caf::down_msg& dm) {
    for (auto* table : {&self->state.local, &self->state.remote}) {
      for (auto it = table->begin(); it != table->end();) {
        if (it->second.address() == dm.source) {
          it = table->erase(it);
        } else {
          ++it;
        }
      }
    }
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!exit_from_this_process(self, msg)) {
      LOG_WARNING << "The router ignored an exit message from "
                  << (msg.source ? caf::to_string(msg.source) : std::string("an anonymous sender"));
      return;
    }
    // Take every named actor of this process down with us (clean shutdown).
    for (auto& [id, a] : self->state.local) {
      self->send_exit(a, msg.reason);
    }
    self->state.local.clear();
    self->state.remote.clear();
    for (auto& [key, waiting] : self->state.pending) {
      for (auto& rp : waiting) {
        rp.deliver(caf::make_error(caf::sec::request_receiver_down, key));
      }
    }
    self->state.pending.clear();
    self->quit(msg.reason);
  });
  return {
      [self](register_atom, const std::string& id, const caf::actor& who) -> caf::result<void> {
        auto sender = self->current_sender();
        if (!sender || sender->node() != self->node()) {
          return caf::make_error(caf::sec::invalid_argument, "only local actors may register");
        }
        self->monitor(who);
        self->state.local[id] = who;
        return caf::unit;
      },
      [self](unregister_atom, const std::string& id) {
        auto sender = self->current_sender();
        if (sender && sender->node() == self->node()) {
          self->state.local.erase(id);
        }
      },
      [self](lookup_atom, const std::string& id) -> caf::result<caf::actor> {
        auto it = self->state.local.find(id);
        if (it == self->state.local.end()) {
          return caf::make_error(caf::sec::remote_lookup_failed, "no process '" + id + "'");
        }
        return it->second;
      },
      [self](list_atom) -> std::vector<std::string> {
        std::vector<std::string> ids;
        for (auto& [id, a] : self->state.local) {
          ids.push_back(id);
        }
        return ids;
      },
      [self](resolve_atom, const std::string& text,
             uint16_t actor_port) -> caf::result<caf::actor> {
        Try<Upid> upid = parse_upid(text);
        if (upid.is_error()) {
          return caf::make_error(caf::sec::invalid_argument, upid.error());
        }
        Upid target = *upid;
        return cached_or_start(self, target.str(), [self, target, actor_port] {
          lookup_remote(self, target, actor_port);
        });
      },
      [self](resolve_atom, const std::string& text) -> caf::result<caf::actor> {
        Try<Upid> upid = parse_upid(text);
        if (upid.is_error()) {
          return caf::make_error(caf::sec::invalid_argument, upid.error());
        }
        if (upid->port == self->state.port &&
            (upid->host == self->state.ip || upid->host == "localhost")) {
          auto it = self->state.local.find(upid->id);
          if (it == self->state.local.end()) {
            return caf::make_error(caf::sec::remote_lookup_failed, "no process '" + text + "'");
          }
          return it->second;
        }
        std::string key = upid->str();
        Upid target = *upid;
        return cached_or_start(self, key, [self, target, key] { discover(self, target, key); });
      },
  };
}

// Step 1 of a resolve: ask the peer's HTTP port for its actor port.
void discover(router_actor* self, const Upid& target, const std::string& key) {
  http::ClientRequest req;
  req.host = target.host;
  req.port = target.port;
  req.path = PROCESSES_PATH;
  req.timeout = STEP_TIMEOUT;
  http::fetch(
      self, req,
      [self, target, key](http::Response r) {
        // A peer's answer is untrusted input like any other.
        Try<picojson::value> parsed = json_parse(r.body);
        picojson::value v = parsed.is_some() ? *parsed : picojson::value();
        if (r.status != 200 || parsed.is_error() || !v.is<picojson::object>() ||
            !v.get("actor_port").is<int64_t>() || v.get("actor_port").get<int64_t>() <= 0 ||
            v.get("actor_port").get<int64_t>() > 65535) {
          finish_resolve(self, key,
                         caf::make_error(caf::sec::cannot_connect_to_node,
                                         target.address() + " is not a Stoa process (HTTP " +
                                             std::to_string(r.status) + ")"));
          return;
        }
        auto actor_port = static_cast<uint16_t>(v.get("actor_port").get<int64_t>());
        lookup_remote(self, target, actor_port);
      },
      [self, key](caf::error e) { finish_resolve(self, key, std::move(e)); });
}

}  // namespace

Try<std::unique_ptr<Runtime>> Runtime::start(RuntimeOptions opts) {
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->opts_ = opts;
  rt->cfg_ = std::make_unique<caf::actor_system_config>();
  caf::actor_system_config& cfg = *rt->cfg_;
  add_message_types(cfg);
  cfg.load<caf::io::middleman>();
  // Network-bound processes: the sharing scheduler cuts remote RTT (cookbook §7).
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("middleman.workers", static_cast<size_t>(0));
  // Detect hung (not only dead) peers.
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(1)});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(15)});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  if (opts.max_threads > 0) {
    cfg.set("scheduler.max-threads", opts.max_threads);
  }
  if (!opts.caf_options.empty()) {
    std::vector<std::string> args = opts.caf_options;
    std::vector<char*> argv;
    std::string prog = "stoa";
    argv.push_back(prog.data());
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    if (auto err = cfg.parse(static_cast<int>(argv.size()), argv.data())) {
      return Error("invalid actor runtime option: " + caf::to_string(err));
    }
  }
  if (opts.serve) {
    check_descriptor_limit(opts);
  }
  rt->sys_ = std::make_unique<caf::actor_system>(cfg);
  caf::actor_system& sys = *rt->sys_;
  rt->supervisor_ = sys.spawn<caf::hidden>(
      supervisor_behavior, opts.on_component_failure ? opts.on_component_failure
                                                     : std::function<void(const std::string&)>(
                                                           default_component_failure));

  if (!opts.serve) {
    rt->router_ = sys.spawn(router_behavior, opts.ip, uint16_t{0});
    rt->supervise("router", rt->router_);
    return rt;
  }
  http::ServerOptions hopts;
  hopts.host = opts.ip;
  hopts.port = opts.port;
  hopts.max_body_bytes = opts.max_body_bytes;
  hopts.max_connections = opts.max_http_connections;
  hopts.idle_timeout = opts.http_idle_timeout;
  // The router is spawned first so the discovery route can name it; it
  // learns the public port right after the HTTP server has bound.
  caf::expected<http::Server> server = http::spawn_server(sys, hopts, {});
  if (!server) {
    std::string msg = "cannot serve HTTP on " + opts.ip + ":" + std::to_string(opts.port) + ": " +
                      sys.render(server.error());
    rt->shutdown();  // stops the supervisor before the system goes
    return Error(msg);
  }
  rt->http_ = *server;
  rt->port_ = server->port;
  rt->router_ = sys.spawn(router_behavior, opts.ip, rt->port_);
  rt->supervise("HTTP server", rt->http_.actor);
  rt->supervise("router", rt->router_);
  caf::expected<guard::GuardedPort> actor_port =
      guard::publish_guarded(sys, rt->router_, opts.actor_port, opts.ip, opts.actor_limits);
  if (!actor_port) {
    std::string msg = "cannot open the actor port on " + opts.ip + ":" +
                      std::to_string(opts.actor_port) + ": " + sys.render(actor_port.error());
    rt->shutdown();
    return Error(msg);
  }
  rt->actor_port_guard_ = *actor_port;
  rt->actor_port_ = actor_port->port();

  caf::actor r = rt->router_;
  uint16_t ap = rt->actor_port_;
  http::Route discovery;
  discovery.path = PROCESSES_PATH;
  discovery.help =
      "Lists the named actors (processes) of this OS process and the port of its actor "
      "transport; peers use it to resolve UPIDs.";
  discovery.handler = [r, ap](caf::io::broker* self, const http::Request&,
                              http::Responder respond) {
    self->request(r, STEP_TIMEOUT, list_atom_v)
        .then(
            [respond, ap](const std::vector<std::string>& ids) {
              picojson::array list;
              for (const auto& id : ids) {
                list.emplace_back(id);
              }
              picojson::object o;
              o["actor_port"] = picojson::value(static_cast<int64_t>(ap));
              o["processes"] = picojson::value(list);
              respond(http::json_response(picojson::value(o)));
            },
            [respond](caf::error& e) { respond(http::error_response(503, caf::to_string(e))); });
  };
  rt->add_route(std::move(discovery));
  return rt;
}

void set_network_limits(RuntimeOptions* opts, const NetworkLimitFlags& flags) {
  // Rounded up: a positive flag below 1 ms must not become 0 (which would
  // close every connection at once).
  auto ms = [](Duration d) {
    return std::max(std::chrono::ceil<std::chrono::milliseconds>(d), std::chrono::milliseconds(1));
  };
  opts->max_http_connections = static_cast<size_t>(flags.max_connections);
  opts->http_idle_timeout = ms(flags.http_idle_timeout);
  opts->actor_limits.max_connections = static_cast<size_t>(flags.max_connections);
  opts->actor_limits.handshake_timeout = ms(flags.handshake_timeout);
  opts->actor_limits.max_message_bytes = static_cast<uint32_t>(flags.max_message_bytes);
}

Runtime::~Runtime() { shutdown(); }

caf::actor_system& Runtime::system() { return *sys_; }

void Runtime::supervise(const std::string& name, const caf::actor& actor) {
  if (supervisor_ && actor) {
    caf::scoped_actor self{*sys_};
    self->send(supervisor_, supervise_atom::value, name, actor);
  }
}

void Runtime::register_actor(const std::string& id, const caf::actor& actor) {
  supervise(id, actor);
  caf::scoped_actor self{*sys_};
  self->request(router_, STEP_TIMEOUT, register_atom_v, id, actor)
      .receive([] {},
               [&](caf::error& e) {
                 LOG_ERROR << "Failed to register '" << id << "': " << sys_->render(e);
               });
}

void Runtime::add_route(http::Route route) { http::add_route(http_, std::move(route)); }

void Runtime::shutdown() {
  if (stopped_ || !sys_) {
    return;
  }
  stopped_ = true;
  // First the supervisor: what follows is an orderly stop, not a failure.
  if (supervisor_) {
    stop_actor(*sys_, supervisor_);
    supervisor_ = caf::actor{};
  }
  guard::stop(actor_port_guard_);
  if (http_.actor) {
    stop_actor(*sys_, http_.actor);
  }
  if (router_) {
    stop_actor(*sys_, router_);
  }
  http_ = http::Server{};
  router_ = caf::actor{};
  sys_->await_all_actors_done();
  sys_.reset();
  cfg_.reset();
}

}  // namespace stoa
