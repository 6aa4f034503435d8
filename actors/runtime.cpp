#include "actors/runtime.hpp"

#include <charconv>

#include <picojson.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <poll.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "actors/addresses.hpp"
#include "actors/atoms.hpp"
#include "actors/buffered_tcp.hpp"
#include "actors/io_thread_scheduler.hpp"
#include "actors/messages.hpp"
#include "actors/router.hpp"
#include "actors/safety.hpp"
#include "common/logging.hpp"

namespace stoa {

namespace {

constexpr const char* RUNTIME_OWNER = "the runtime";

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
  std::_Exit(EXIT_COMPONENT_FAILED);
}

// GET /__stoa__/processes: how peers learn the actor port (docs/wire-format.md).
http::Route discovery_route(const caf::actor& router, uint16_t actor_port) {
  http::Route discovery;
  discovery.path = PROCESSES_PATH;
  discovery.help =
      "Lists the named actors (processes) of this OS process and the port of its actor "
      "transport; peers use it to resolve UPIDs.";
  discovery.handler = [router, actor_port](caf::io::broker* self, const http::Request&, http::Responder respond) {
    self->request(router, ROUTER_STEP_TIMEOUT, list_atom_v)
        .then(
            [respond, actor_port](const std::vector<std::string>& ids) {
              picojson::array list;
              for (const auto& id : ids) {
                list.emplace_back(id);
              }
              picojson::object o;
              o["actor_port"] = picojson::value(static_cast<int64_t>(actor_port));
              o["processes"] = picojson::value(list);
              respond(http::json_response(picojson::value(o)));
            },
            [respond](caf::error& e) { respond(http::error_response(503, caf::to_string(e))); });
  };
  return discovery;
}

}  // namespace

Try<size_t> parse_worker_threads(const std::string& text) {
  size_t n = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc() || ptr != end || n < 1 || n > MAX_WORKER_THREADS) {
    return Error("expected a whole number of threads from 1 to " + std::to_string(MAX_WORKER_THREADS));
  }
  return n;
}

Try<bool> parse_actors_on_io_thread(const std::string& text) {
  if (text == "1" || text == "true" || text == "yes") {
    return true;
  }
  if (text == "0" || text == "false" || text == "no") {
    return false;
  }
  return Error("expected 1, true, yes, 0, false or no");
}

Try<std::unique_ptr<Runtime>> Runtime::start(RuntimeOptions opts) {
  std::unique_ptr<Runtime> rt(new Runtime());
  rt->opts_ = opts;
  // Blocking (DNS) for 0.0.0.0: start() runs on main's thread.
  rt->advertised_ip_ = addresses::advertised_ip(opts.ip, opts.advertise_ip);
  declare_system_metrics(rt->metrics_);
  rt->cfg_ = std::make_unique<caf::actor_system_config>();
  caf::actor_system_config& cfg = *rt->cfg_;
  add_message_types(cfg);
  load_middleman(cfg);  // TCP connections that read in chunks
  // Network-bound processes: the sharing scheduler cuts remote RTT (cookbook §7).
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("middleman.workers", static_cast<size_t>(0));
  // Detect hung (not only dead) peers. A fixed backstop, not the ping
  // timeouts: a peer a ping timeout declares lost first has its connection
  // reset at once (disconnect_node; docs/architecture.md says why).
  cfg.set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(1)});
  cfg.set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(15)});
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  // LIBPROCESS_NUM_WORKER_THREADS, Mesos' knob, overrides the component's
  // choice (docs/benchmarks.md, "Fewer wake-ups in the slave").
  if (const char* env = std::getenv("LIBPROCESS_NUM_WORKER_THREADS"); env != nullptr) {
    Try<size_t> n = parse_worker_threads(env);
    if (n.is_error()) {
      return Error("Invalid value '" + std::string(env) + "' for LIBPROCESS_NUM_WORKER_THREADS: " + n.error());
    }
    opts.max_threads = *n;
    opts.actors_on_io_thread = false;
  }
  if (const char* env = std::getenv("STOA_ACTORS_ON_IO_THREAD"); env != nullptr) {
    Try<bool> on = parse_actors_on_io_thread(env);
    if (on.is_error()) {
      return Error("Invalid value '" + std::string(env) + "' for STOA_ACTORS_ON_IO_THREAD: " + on.error());
    }
    opts.actors_on_io_thread = *on;
  }
  if (opts.actors_on_io_thread) {
    use_io_thread_scheduler(cfg);
  } else if (opts.max_threads > 0) {
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
  rt->supervisor_ = spawn_supervisor(
      sys,
      opts.on_component_failure ? opts.on_component_failure
                                : std::function<void(const std::string&)>(default_component_failure),
      rt->stops_);

  if (!opts.serve) {
    rt->router_ = spawn_router(sys, rt->advertised_ip_, uint16_t{0});
    rt->supervise("router", rt->router_);
    return rt;
  }
  http::ServerOptions hopts;
  hopts.host = opts.ip;
  hopts.port = opts.port;
  hopts.max_body_bytes = opts.max_body_bytes;
  hopts.max_connections = opts.max_http_connections;
  hopts.idle_timeout = opts.http_idle_timeout;
  hopts.metrics = &rt->metrics_;
  hopts.unix_socket = opts.http_unix_socket;
  hopts.starting = opts.routes_follow_start;
  // The HTTP server is spawned first: the router must know the public port.
  caf::expected<http::Server> server = http::spawn_server(sys, hopts, {});
  if (!server) {
    std::string msg = "cannot serve HTTP on " + opts.ip + ":" + std::to_string(opts.port) + ": " +
                      sys.render(server.error());
    rt->shutdown();  // stops the supervisor before the system goes
    return Error(msg);
  }
  rt->http_ = *server;
  rt->port_ = server->port;
  rt->advertised_port_ = opts.advertise_port != 0 ? opts.advertise_port : rt->port_;
  rt->router_ = spawn_router(sys, rt->advertised_ip_, rt->advertised_port_);
  rt->supervise("HTTP server", rt->http_.actor);
  rt->supervise("router", rt->router_);
  caf::expected<guard::GuardedPort> actor_port =
      guard::publish_guarded(sys, rt->router_, opts.actor_port, opts.ip, opts.actor_limits);
  if (!actor_port) {
    std::string msg = "cannot open the actor port on " + opts.ip + ":" + std::to_string(opts.actor_port) +
                      ": " + sys.render(actor_port.error());
    rt->shutdown();
    return Error(msg);
  }
  rt->actor_port_guard_ = *actor_port;
  rt->actor_port_ = actor_port->port();
  rt->serve_route(discovery_route(rt->router_, rt->actor_port_), RUNTIME_OWNER);

  rt->metrics_actor_ = spawn_metrics_actor(sys, rt->metrics_, opts.metrics_collector_timeout);
  rt->supervise("metrics", rt->metrics_actor_);
  for (http::Route& r : metrics_routes(rt->metrics_actor_, opts.metrics_collector_timeout)) {
    rt->serve_route(std::move(r), RUNTIME_OWNER);
  }
  return rt;
}

void set_addresses(RuntimeOptions* opts, int http_port, const AddressFlags& flags) {
  opts->actor_port = static_cast<uint16_t>(effective_actor_port(http_port, flags));
  opts->advertise_ip = flags.advertise_ip;
  opts->advertise_port = static_cast<uint16_t>(effective_advertise_port(flags));
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
  self->request(router_, ROUTER_STEP_TIMEOUT, register_atom_v, id, actor)
      .receive([] {},
               [&](caf::error& e) { LOG_ERROR << "Failed to register '" << id << "': " << sys_->render(e); });
}

std::optional<Error> Runtime::add_route(http::Route route) { return serve_route(std::move(route), "a component"); }

void Runtime::routes_complete() {
  if (http_.actor) {
    http::routes_complete(http_);
  }
}

std::optional<Error> Runtime::replace_runtime_route(http::Route route) {
  return serve_route(std::move(route), "a component", true);
}

std::optional<Error> Runtime::serve_route(http::Route route, const std::string& owner, bool replace_runtime) {
  if (!http_.actor) {
    return std::nullopt;
  }
  std::optional<Error> conflict;
  {
    std::lock_guard<std::mutex> lock(routes_mu_);
    if (replace_runtime) {
      auto it = routes_.find(std::make_pair(route.path, route.prefix));
      if (it == routes_.end() || it->second != RUNTIME_OWNER) {
        return Error("HTTP route '" + route.path + "' is not one the runtime serves; nothing replaced");
      }
      it->second = owner;
      LOG_INFO << "HTTP route '" << route.path << "' of the runtime is replaced by " << owner;
    }
    auto [it, added] = routes_.emplace(std::make_pair(route.path, route.prefix), owner);
    if (!added && !replace_runtime) {
      conflict = Error("HTTP route '" + route.path + "' is already served by " + it->second +
                       "; the later registration (by " + owner + ") replaces it");
      it->second = owner;
    }
  }
  if (conflict) {
    LOG_ERROR << conflict->message;
  }
  http::add_route(http_, std::move(route));
  return conflict;
}

void Runtime::add_metrics_collector(const caf::actor& collector) {
  if (metrics_actor_ && collector) {
    caf::scoped_actor self{*sys_};
    self->send(metrics_actor_, collector_atom_v, collector);
  }
}

StopEvent Runtime::wait_for_stop() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &signals, &old);
  int sfd = ::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    LOG_ERROR << "signalfd failed (" << std::strerror(errno) << "): waiting for a component's stop only";
  }
  std::optional<StopEvent> event;
  while (!(event = stops_->take())) {
    pollfd fds[2] = {{stops_->fd(), POLLIN, 0}, {sfd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      LOG_ERROR << "poll failed: " << std::strerror(errno);
      break;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      if (::read(sfd, &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
        event = StopEvent{};
        event->cause = StopEvent::Cause::SIGNAL;
        event->signal = static_cast<int>(info.ssi_signo);
        break;
      }
    }
    if (fds[0].revents & POLLIN) {
      stops_->clear();  // then take() the events that made it readable
    }
  }
  if (sfd >= 0) {
    ::close(sfd);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (!event) {
    event = StopEvent{};
    event->cause = StopEvent::Cause::COMPONENT_FAILED;
    event->component = "runtime";
    event->reason = "cannot wait for a stop";
  }
  return *event;
}

int Runtime::wait() {
  StopEvent event = wait_for_stop();
  switch (event.cause) {
    case StopEvent::Cause::SIGNAL:
      LOG_INFO << "Received signal " << event.signal << "; shutting down";
      break;
    case StopEvent::Cause::COMPONENT_STOPPED:
      LOG_INFO << "Component '" << event.component << "' stopped; shutting down";
      break;
    case StopEvent::Cause::COMPONENT_FAILED:
      LOG_ERROR << "Component '" << event.component << "' failed (" << event.reason << "); shutting down";
      break;
  }
  return event.exit_status();
}

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
  if (metrics_actor_) {
    stop_actor(*sys_, metrics_actor_);
  }
  if (router_) {
    stop_actor(*sys_, router_);
  }
  http_ = http::Server{};
  metrics_actor_ = caf::actor{};
  router_ = caf::actor{};
  sys_->await_all_actors_done();
  sys_.reset();
  cfg_.reset();
}

}  // namespace stoa
