// stoa-lb: a marathon-lb-compatible load balancer (docs/lb.md).
//
// Wiring, in order: flags (marathon-lb's command line + env) -> logging ->
// the Runtime (no HTTP server: stoa-lb serves through HAProxy's stats
// frontend) -> our Lua scripts in the run dir -> the HAProxy actor, given at
// once the configuration of an empty registry so the stats page answers ->
// the balancer -> the registry client -> the signal watcher (SIGHUP: a new
// snapshot; SIGUSR1: re-validate and reload). SIGINT/SIGTERM stop everything
// in order; the HAProxy actor stops HAProxy on its way out.
//
// --dry fetches one snapshot, prints the configuration it renders and exits
// without touching HAProxy.

#include <unistd.h>

#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include <caf/all.hpp>

#include "actors/daemon.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "apps/lb/flags.hpp"
#include "apps/lb/lb.hpp"
#include "apps/lb/lua.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"

extern char** environ;

namespace {

// Bad flags exit with argparse's status.
constexpr int LB_BAD_FLAGS_STATUS = 2;
// How often the signal watcher looks up from sigtimedwait (to see its exit).
constexpr auto LB_SIGNAL_POLL = std::chrono::milliseconds(200);
// How long the first apply (an empty registry) may take.
constexpr auto LB_FIRST_APPLY_TIMEOUT = std::chrono::seconds(60);

using lb_signal_tick_atom = caf::atom_constant<caf::atom("lb_sigtick")>;

std::map<std::string, std::string> lb_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry = *e;
    size_t eq = entry.find('=');
    if (eq != std::string::npos) {
      env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
  }
  return env;
}

sigset_t lb_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

// A detached actor that waits for SIGHUP and SIGUSR1 (blocked in every
// thread) and turns them into messages: HUP -> the client refreshes, USR1 ->
// the balancer re-applies. It looks up every LB_SIGNAL_POLL to notice its exit.
caf::behavior lb_signal_watcher(caf::event_based_actor* self, caf::actor client, caf::actor balancer) {
  stoa::set_safe_handlers(self, "lb_signals");
  self->send(self, lb_signal_tick_atom::value);
  return {
      [self, client, balancer](lb_signal_tick_atom) {
        sigset_t set = lb_signals();
        timespec wait{0, static_cast<long>(std::chrono::nanoseconds(LB_SIGNAL_POLL).count())};
        int signo = sigtimedwait(&set, nullptr, &wait);
        if (signo == SIGHUP) {
          LOG_INFO << "Received SIGHUP: reading the registry again";
          self->send(client, stoa::lb::lb_refresh_atom::value);
        } else if (signo == SIGUSR1) {
          LOG_INFO << "Received SIGUSR1: re-validating and reloading HAProxy";
          self->send(balancer, stoa::lb::lb_reapply_atom::value);
        }
        self->send(self, lb_signal_tick_atom::value);
      },
  };
}

std::string lb_log_level(const std::string& level) {
  if (level == "DEBUG") {
    return "INFO";
  }
  if (level == "CRITICAL") {
    return "ERROR";
  }
  return level;
}

int lb_fail(const std::string& message, int status = 1) {
  std::cerr << "stoa-lb: " << message << std::endl;
  return status;
}

// --dry: one snapshot through the client, rendered and printed.
int lb_dry_run(stoa::Runtime& rt, const stoa::lb::LbFlags& flags, const stoa::lb::Templates& templates) {
  using namespace stoa::lb;
  caf::actor_system& sys = rt.system();
  MarathonOptions mopts = marathon_options(flags);
  mopts.sse = false;
  caf::scoped_actor listener{sys};
  caf::actor client = spawn_marathon_client(sys, mopts, caf::actor_cast<caf::actor>(listener));
  const auto timeout = mopts.request_timeout * static_cast<int>(mopts.urls.size() + 1);
  int status = 1;
  listener->receive(
      [&](lb_snapshot_atom, const SnapshotPtr& snapshot) {
        std::vector<App> apps = snapshot->apps;
        for (App& app : apps) {
          for (Task& task : app.tasks) {
            task.healthy = task.healthy.value_or(false);
          }
        }
        Rendered rendered = render(apps, templates, render_options(flags));
        for (const std::string& w : rendered.warnings) {
          LOG_WARNING << w;
        }
        std::cout << rendered.config << std::flush;
        status = 0;
      },
      [&](lb_registry_down_atom, const std::string& why) { status = lb_fail("no registry answered: " + why); },
      caf::after(timeout) >> [&] { status = lb_fail("no snapshot within the request timeout"); });
  stoa::stop_actor(sys, client);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace stoa;
  using namespace stoa::lb;
  std::map<std::string, std::string> env = lb_environment();
  Try<LbFlags> parsed = parse_lb_flags(argc, argv, env);
  if (parsed.is_error()) {
    std::cerr << "stoa-lb: " << parsed.error() << "\n\nSee stoa-lb --help for the options.\n";
    return LB_BAD_FLAGS_STATUS;
  }
  LbFlags flags = *parsed;
  if (flags.help) {
    std::cout << lb_usage("stoa-lb");
    return 0;
  }
  if (flags.longhelp) {
    std::cout << lb_longhelp();
    return 0;
  }
  if (flags.marathon_auth_credential_file && !flags.auth_credentials) {
    std::ifstream in(*flags.marathon_auth_credential_file);
    std::stringstream text;
    text << in.rdbuf();
    std::string credentials = std::string(trim(text.str()));
    if (!in || credentials.find(':') == std::string::npos) {
      std::cerr << "stoa-lb: --marathon-auth-credential-file: '" << *flags.marathon_auth_credential_file
                << "' does not hold user:password\n";
      return LB_BAD_FLAGS_STATUS;
    }
    flags.auth_credentials = credentials;
  }
  Try<Templates> templates = Templates::load(flags.templates_dir, env);
  if (templates.is_error()) {
    return lb_fail("templates: " + templates.error());
  }
  logging::Options log_options{"stoa-lb", flags.log_dir, lb_log_level(flags.log_level), false, 100};
  if (std::optional<std::string> error = logging::initialize(argv[0], log_options)) {
    return lb_fail(*error);
  }

  // The command line, without the registry password.
  std::string command_line;
  for (int i = 1; i < argc; ++i) {
    std::string word = argv[i];
    if (i > 1 && std::string(argv[i - 1]) == "--auth-credentials") {
      word = "***";
    } else if (word.rfind("--auth-credentials=", 0) == 0) {
      word = "--auth-credentials=***";
    }
    command_line += (i > 1 ? " " : "") + word;
  }
  LOG_INFO << "Flags at startup: " << command_line;
  // A closed stderr (a log pipe gone) must not kill stoa-lb and orphan HAProxy.
  std::signal(SIGPIPE, SIG_IGN);
  daemon::block_stop_signals();
  sigset_t reload_signals = lb_signals();
  pthread_sigmask(SIG_BLOCK, &reload_signals, nullptr);
  RuntimeOptions runtime_options;
  runtime_options.serve = false;
  // A failed component ends the process with 70 after an orderly shutdown,
  // so the HAProxy actor still stops the HAProxy it supervises.
  runtime_options.on_component_failure = [](const std::string& what) {
    LOG_ERROR << "Component " << what << " failed: stopping stoa-lb";
  };
  Try<std::unique_ptr<Runtime>> runtime = Runtime::start(runtime_options);
  if (runtime.is_error()) {
    return lb_fail(runtime.error());
  }
  Runtime& rt = **runtime;
  if (flags.dry) {
    int status = lb_dry_run(rt, flags, *templates);
    rt.shutdown();
    return status;
  }
  caf::actor_system& sys = rt.system();

  const std::string run_dir = lb_run_dir(flags);
  if (std::optional<Error> error = write_lua_scripts(run_dir)) {
    return lb_fail("cannot write the Lua scripts into " + run_dir + ": " + error->message);
  }
  caf::actor haproxy = spawn_haproxy(sys, haproxy_options(flags));
  rt.register_actor("lb_haproxy", haproxy);
  if (!flags.command) {
    // The stats page answers before the registry does.
    Rendered empty = render({}, *templates, render_options(flags));
    HaproxyConfig config{empty.config, empty.domain2backend_map, empty.app2backend_map};
    std::optional<std::string> failed;
    caf::scoped_actor self{sys};
    self->request(haproxy, LB_FIRST_APPLY_TIMEOUT, lb_apply_atom::value, config)
        .receive(
            [&](const ApplyResult& r) {
              if (!r.valid) {
                failed = "HAProxy refuses the configuration of an empty registry: " + r.error;
              }
            },
            [&](const caf::error& e) { failed = "HAProxy did not start: " + sys.render(e); });
    if (failed) {
      LOG_ERROR << *failed;
      rt.shutdown();
      return lb_fail(*failed);
    }
    LOG_INFO << "HAProxy runs with " << flags.haproxy_config << "; stats on http://"
             << (flags.bind_address == "*" ? "0.0.0.0" : flags.bind_address) << ":" << flags.stats_port
             << "/haproxy?stats";
  }
  MarathonOptions mopts = marathon_options(flags);
  if (!flags.sse && !flags.poll_loop && !flags.command) {
    // marathon-lb's one run assumes an HAProxy run by someone else; ours
    // would stop with us, so keep polling instead.
    LOG_INFO << "No sse/poll mode and no --command: polling every " << flags.poll_interval.count() / 1000
             << " s (one run needs an HAProxy run by someone else)";
  }
  caf::actor balancer = spawn_balancer(sys, flags, *templates, haproxy);
  rt.register_actor("lb_balancer", balancer);
  caf::actor client = spawn_marathon_client(sys, mopts, balancer);
  rt.register_actor("lb_client", client);
  rt.register_actor("lb_signals", sys.spawn<caf::detached>(lb_signal_watcher, client, balancer));
  LOG_INFO << "stoa-lb following " << join(flags.marathon, ", ") << " (" << (flags.sse ? "sse" : "poll")
           << " mode), groups " << join(flags.groups, ",");
  int status = rt.wait();
  rt.shutdown();
  return status;
}
