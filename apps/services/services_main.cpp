// stoa-services: Marathon-compatible long-running services on Stoa
// (docs/services.md, operations in docs/services-operations.md).
//
// Wiring, in order: flags -> the Runtime (HTTP on --http_address:--http_port)
// -> the store (ZooKeeper under --zk, or files under --work_dir/state) -> the
// event stream (SSE, and HTTP callbacks with --event_subscriber) -> the core
// -> the REST, event and UI routes -> the election, which tells the core
// when it leads. The core and the election are supervised: a failure of
// either (a deposed leader exits on purpose) ends the process with 70, and a
// service manager brings it back as a standby.

#include <chrono>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "actors/daemon.hpp"
#include "apps/services/core.hpp"
#include "apps/services/events.hpp"
#include "apps/services/flags.hpp"
#include "apps/services/leadership.hpp"
#include "apps/services/rest.hpp"
#include "apps/services/store.hpp"
#include "apps/services/ui_routes.hpp"
#include "common/logging.hpp"

namespace {

std::chrono::milliseconds services_ms(stoa::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

// Holds the components that are not named in the router: linked to each,
// it takes them down when the Runtime stops it (and fails with any of them).
using services_keep_atom = caf::atom_constant<caf::atom("svc_keep")>;

caf::behavior services_root(caf::event_based_actor* self, std::vector<caf::actor> parts) {
  for (const caf::actor& part : parts) {
    self->link_to(part);
  }
  // The behavior holds the handles: nothing else keeps the parts alive.
  return {[parts](services_keep_atom) { return parts.size(); }};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stoa;
  const daemon::Program program{"stoa-services"};
  services::ServicesFlags flags;
  if (std::optional<int> done = daemon::load_flags(program, flags, argc, argv)) {
    return *done;
  }
  daemon::DaemonOptions options;
  options.logging = logging::Options{program.name, flags.log_dir, flags.logging.logging_level, flags.logging.quiet,
                                     flags.logging.max_log_size};
  options.runtime.ip = flags.effective_http_address();
  options.runtime.port = static_cast<uint16_t>(flags.http_port);
  set_network_limits(&options.runtime, flags.limits);
  return daemon::run_daemon(program, argv[0], flags, options, [&](Runtime& rt) -> std::optional<Error> {
    caf::actor_system& sys = rt.system();
    const std::string host = flags.effective_hostname();
    const std::string self = host + ":" + std::to_string(rt.port());

    Try<caf::actor> store = flags.zk ? services::spawn_zk_store(sys, *flags.zk, services_ms(flags.zk_session_timeout))
                                     : services::spawn_file_store(sys, flags.work_dir + "/state");
    if (store.is_error()) {
      return Error("Cannot open the state store: " + store.error());
    }

    auto leadership = std::make_shared<services::Leadership>();
    services::EventBusOptions event_options;
    event_options.callback_urls = flags.callback_urls();
    event_options.max_outstanding = static_cast<size_t>(flags.event_stream_max_outstanding_messages);
    services::EventStream events =
        services::spawn_event_stream(sys, event_options, [leadership]() -> std::optional<std::string> {
          services::LeaderView view = leadership->get();
          if (view.elected || view.leader.empty()) {
            return std::nullopt;
          }
          return view.leader;
        });

    services::CoreOptions core_options;
    core_options.master = flags.master;
    core_options.zk_session_timeout = services_ms(flags.zk_session_timeout);
    core_options.framework_name = flags.framework_name;
    core_options.role = flags.mesos_role;
    core_options.failover_timeout = services_ms(flags.failover_timeout);
    core_options.hostname = host;
    core_options.webui_url = flags.webui_url.empty() ? "http://" + self : flags.webui_url;
    core_options.local_port_min = flags.local_port_min;
    core_options.local_port_max = flags.local_port_max;
    core_options.reconciliation_initial_delay = services_ms(flags.reconciliation_initial_delay);
    core_options.reconciliation_interval = services_ms(flags.reconciliation_interval);
    core_options.task_launch_timeout = services_ms(flags.task_launch_timeout);
    core_options.decline_offer_duration = services_ms(flags.decline_offer_duration);
    core_options.max_running_deployments = flags.max_running_deployments;
    core_options.store = *store;
    core_options.events = events.bus;
    caf::actor core = services::spawn_core(rt, core_options);

    services::RestOptions rest_options;
    rest_options.core = core;
    rest_options.leadership = leadership;
    rest_options.self = self;
    rest_options.flags = flags.values();
    rest_options.zk = flags.zk.value_or("");
    rest_options.proxy_timeout = services_ms(flags.leader_proxy_read_timeout);
    rest_options.metrics = &rt.metrics();
    std::vector<http::Route> routes = services::rest_routes(rest_options);
    routes.push_back(events.route);
    for (http::Route& route : services::ui_routes()) {
      routes.push_back(std::move(route));
    }
    for (http::Route& route : routes) {
      // Marathon's /metrics (JSON) replaces the runtime's Prometheus one on purpose.
      const bool marathon_metrics = route.path == "/metrics" && !route.prefix;
      if (std::optional<Error> conflict = marathon_metrics ? rt.replace_runtime_route(std::move(route))
                                                           : rt.add_route(std::move(route))) {
        return conflict;
      }
    }

    services::ElectionOptions election_options;
    election_options.zk = flags.zk;
    election_options.disable_ha = flags.disable_ha;
    election_options.self = self;
    election_options.session_timeout = services_ms(flags.zk_session_timeout);
    election_options.core = core;
    election_options.view = leadership;
    Try<caf::actor> election = services::spawn_election(sys, election_options);
    if (election.is_error()) {
      caf::anon_send_exit(core, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(*store, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(events.hub, caf::exit_reason::user_shutdown);
      return Error(election.error());
    }
    rt.supervise("services core", core);
    rt.supervise("services election", *election);
    rt.supervise("services store", *store);
    // Named, so the Runtime's shutdown stops it and, through the links, the rest.
    rt.register_actor("services", sys.spawn(services_root, std::vector<caf::actor>{core, *election, *store, events.hub}));
    rt.routes_complete();  // before saying so: an unknown path is 404 from now on
    LOG_INFO << "stoa-services listening on http://" << rt.ip() << ":" << rt.port() << " as " << self << " ("
             << (flags.zk ? "state and election in " + *flags.zk : "state in " + flags.work_dir + "/state") << ")";
    return std::nullopt;
  });
}
