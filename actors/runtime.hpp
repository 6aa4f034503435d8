#pragma once
// One Runtime per OS process (our libprocess "process manager").
//
// It owns the actor_system, an HTTP server on the public port (`--ip`,
// `--port`; what users browse and what UPIDs name) and the process router: a
// string-keyed directory of this process's named actors ("master",
// "slave(1)", "scheduler-<uuid>") published on an internal actor port bound
// to the same IP. A peer resolves `id@ip:port` by asking that HTTP port for
// the actor port (GET /__stoa__/processes), connecting the CAF middleman to
// it, and looking the id up in the remote router (docs/wire-format.md).
//
// From inside an actor:
//   self->request(runtime_router, RESOLVE_TIMEOUT, resolve_atom_v, "master@127.0.0.1:5050")
//       .then([](caf::actor master) {...}, [](caf::error& e) {...});
// When the peer's actor port is already known (the slave tells its
// executors), `(resolve_atom, upid, uint16_t actor_port)` skips the HTTP
// discovery step.
// Results are cached and monitored; a dead peer leaves the cache.
//
// A daemon's main (see actors/daemon.hpp) starts the Runtime, spawns and
// registers its component, then blocks in wait() until SIGINT/SIGTERM, the
// component's own orderly stop (it quits with exit_reason::normal) or a
// component failure, and calls shutdown().
//
// Every serving process answers GET /metrics (Prometheus text) and
// GET /metrics/snapshot (JSON) from metrics(), its one registry; actors whose
// gauges derive from their state register as collectors
// (actors/metrics_endpoint.hpp).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "actors/guarded_io.hpp"
#include "actors/http.hpp"
#include "actors/metrics_endpoint.hpp"
#include "actors/supervisor.hpp"
#include "actors/upid.hpp"
#include "common/flags.hpp"
#include "common/metrics.hpp"
#include "common/try.hpp"

namespace stoa {

constexpr auto RESOLVE_TIMEOUT = std::chrono::seconds(10);

struct RuntimeOptions {
  std::string ip = "127.0.0.1";  // bind address of both ports; 0.0.0.0 = every interface
  uint16_t port = 0;             // public HTTP port; 0 = OS picks
  uint16_t actor_port = 0;       // internal actor port; 0 = OS picks
  // What this process' UPIDs name (docs/multi-host.md): the IP (unset:
  // `ip`, or addresses::routable_ipv4() when `ip` is 0.0.0.0 — never
  // 0.0.0.0) and the HTTP port (0: the bound one). The ports are still bound
  // on `ip`; the actor port is announced as bound.
  std::optional<std::string> advertise_ip;
  uint16_t advertise_port = 0;
  // Extra CAF options ("--scheduler.max-threads=4" style) for tuning.
  std::vector<std::string> caf_options;
  size_t max_body_bytes = 8 << 20;
  // Limits of the public ports (docs/hardening.md): open HTTP connections
  // (the newest beyond it is closed), idle HTTP keep-alive connections, and
  // on the actor port open connections, the handshake deadline and the
  // largest message a peer may announce.
  size_t max_http_connections = http::DEFAULT_MAX_CONNECTIONS;
  std::chrono::milliseconds http_idle_timeout = http::DEFAULT_IDLE_TIMEOUT;
  // When set, the HTTP routes are served on a Unix domain socket at this path
  // too (http::ServerOptions::unix_socket; the slave's, for its executors).
  std::string http_unix_socket;
  guard::Limits actor_limits;
  // Called (from an actor thread) when a component actor of this process
  // (the router, the HTTP server, the metrics actor, every actor given to
  // register_actor or supervise) terminates for any reason but an orderly
  // stop (exit_reason::normal or user_shutdown). The default logs the
  // component and the reason and exits the process with status 70
  // (EXIT_COMPONENT_FAILED), so a service manager restarts it rather than
  // leaving it half-alive. When it returns, wait() returns 70.
  std::function<void(const std::string& what)> on_component_failure;
  // A process that only connects out (the command executor) needs neither
  // an HTTP server nor a published actor port: starting without them is
  // cheaper. Its actors are then not resolvable by others.
  bool serve = true;
  // Scheduler threads (0 = CAF's default: one per core, at least 4). The
  // environment's LIBPROCESS_NUM_WORKER_THREADS, when set, wins.
  size_t max_threads = 0;
  // Run the actors on CAF's I/O thread instead (actors/io_thread_scheduler.hpp;
  // max_threads is then unused). The environment's STOA_ACTORS_ON_IO_THREAD
  // (1/true or 0/false), when set, wins; else LIBPROCESS_NUM_WORKER_THREADS,
  // when set, gives scheduler threads.
  bool actors_on_io_thread = false;
  // How long a scrape of /metrics waits for each metrics collector.
  std::chrono::milliseconds metrics_collector_timeout = DEFAULT_METRICS_COLLECTOR_TIMEOUT;
  // The HTTP server answers a path it does not know 503, not 404, until
  // routes_complete() (http::ServerOptions::starting): run_daemon sets it and
  // ends it once the component's start function has added its routes.
  bool routes_follow_start = false;
};

// Copies --actor_port (given or derived from --port), --advertise_ip and
// --advertise_port into `opts`; `http_port` is --port.
void set_addresses(RuntimeOptions* opts, int http_port, const AddressFlags& flags);

// Copies the --max_connections / --http_idle_timeout / --handshake_timeout /
// --max_message_bytes flags into `opts`.
void set_network_limits(RuntimeOptions* opts, const NetworkLimitFlags& flags);

// A value of LIBPROCESS_NUM_WORKER_THREADS: a whole number from 1 to
// MAX_WORKER_THREADS (the error says what was expected).
constexpr size_t MAX_WORKER_THREADS = 1024;
Try<size_t> parse_worker_threads(const std::string& text);
// A value of STOA_ACTORS_ON_IO_THREAD: 1/true/yes or 0/false/no.
Try<bool> parse_actors_on_io_thread(const std::string& text);

class Runtime {
 public:
  // Starts the actor system, the router and the HTTP server. Errors name
  // what failed (e.g. "cannot bind 127.0.0.1:5050: address in use").
  static Try<std::unique_ptr<Runtime>> start(RuntimeOptions opts);

  // Shuts down (see shutdown()).
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  caf::actor_system& system();
  const caf::actor& router() const { return router_; }
  // The bound address and ports.
  const std::string& ip() const { return opts_.ip; }
  uint16_t port() const { return port_; }
  uint16_t actor_port() const { return actor_port_; }
  // What others use to reach this process (RuntimeOptions::advertise_ip);
  // UPIDs name these.
  const std::string& advertised_ip() const { return advertised_ip_; }
  uint16_t advertised_port() const { return advertised_port_; }
  Upid upid(const std::string& id) const { return Upid{id, advertised_ip_, advertised_port_}; }

  // Names `actor` `id` in this process, so `id@ip:port` resolves to it. The
  // router monitors it and forgets it when it exits. Call from a non-actor
  // thread (main, tests): it blocks until the router has it.
  void register_actor(const std::string& id, const caf::actor& actor);

  // Serves `route` on the HTTP port (ignored by a process that does not
  // serve). Every path is registered once: when `route.path` (with the same
  // `prefix` flag) is already served, by the runtime itself (/metrics,
  // /metrics/snapshot, /__stoa__/processes) or by an earlier call, the
  // conflict is logged as an error and returned as an Error naming the
  // path, and the new route replaces the old one (the HTTP server's rule).
  // Returns once the server serves it (a request that arrives later finds
  // it), except when called on the multiplexer's thread (an actor there
  // cannot wait for the server, which runs on that thread): then soon after.
  std::optional<Error> add_route(http::Route route);
  // Serves `route` in place of one the runtime itself serves, on purpose
  // (stoa-services' Marathon /metrics): logged at INFO. Returns an Error
  // naming the path, and serves nothing, when the runtime serves no such
  // route (then add_route() is what the caller wants).
  std::optional<Error> replace_runtime_route(http::Route route);
  // Every route of the component is up (RuntimeOptions::routes_follow_start):
  // an unknown path is 404 from now on. Returns as add_route() does.
  void routes_complete();

  // Supervises `actor` under `name` without naming it in the router:
  // exit_reason::normal is the component's own stop (wait() returns 0),
  // user_shutdown an orderly stop by another actor (nothing happens), any
  // other reason a failure (see RuntimeOptions::on_component_failure).
  // register_actor() supervises too.
  void supervise(const std::string& name, const caf::actor& actor);

  // Blocks the calling thread (main; never an actor) until SIGINT or
  // SIGTERM arrives, a supervised component stops on its own, or one fails
  // (with an on_component_failure that returns). Logs why ("Received signal
  // 15; shutting down") and returns the exit status: 0, or 70 for a
  // failure. Does not shut down: call shutdown() next.
  // REQUIRES: SIGINT and SIGTERM are blocked in every thread of the process
  // (block them in main before start(); daemon::block_stop_signals()), or a
  // signal kills the process instead; not called after shutdown().
  int wait();
  // The same, returning the event itself. SIGINT/SIGTERM are blocked in the
  // calling thread while it waits (its mask is restored after). Events that
  // happened before the call are returned first, in order.
  StopEvent wait_for_stop();

  // This process' metrics registry: declare metrics up front, update them
  // through their handles. Lives as long as the Runtime.
  metrics::Registry& metrics() { return metrics_; }

  // On every scrape of /metrics or /metrics/snapshot, `collector` gets a
  // request `(metrics_atom)` and should refresh its gauges in metrics() and
  // reply `true`; the scrape waits for it at most
  // RuntimeOptions::metrics_collector_timeout (then counts it in
  // system/metrics_collector_timeouts and renders anyway). A collector that
  // exits is dropped. Ignored by a process that does not serve. Call from a
  // non-actor thread (main, tests), like register_actor().
  void add_metrics_collector(const caf::actor& collector);

  // Counters of the guarded actor port.
  guard::Stats actor_port_stats() const { return actor_port_guard_.stats(); }

  // Exits the HTTP server, the metrics actor, the router and every
  // registered actor (with user_shutdown), then waits for all actors of
  // this process to finish. Idempotent.
  void shutdown();

 private:
  Runtime() = default;
  std::optional<Error> serve_route(http::Route route, const std::string& owner, bool replace_runtime = false);

  RuntimeOptions opts_;
  // Declared before the actor system: actors hold references to it.
  metrics::Registry metrics_;
  std::shared_ptr<StopChannel> stops_ = std::make_shared<StopChannel>();
  std::mutex routes_mu_;
  std::map<std::pair<std::string, bool>, std::string> routes_;  // (path, prefix) -> who registered it
  std::unique_ptr<caf::actor_system_config> cfg_;
  std::unique_ptr<caf::actor_system> sys_;
  caf::actor router_;
  caf::actor supervisor_;
  caf::actor metrics_actor_;
  guard::GuardedPort actor_port_guard_;
  http::Server http_;
  uint16_t port_ = 0;
  uint16_t actor_port_ = 0;
  std::string advertised_ip_;
  uint16_t advertised_port_ = 0;
  bool stopped_ = false;
};

}  // namespace stoa
