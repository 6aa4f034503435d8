#pragma once
// What every Stoa program's main shares: flags and --help, logging, the
// "Flags at startup" line, SIGINT/SIGTERM, the Runtime, waiting for the
// process to stop and the orderly shutdown. Each main keeps only what is its
// own (its flags' checks, its component).
//
// A daemon (stoa-master, stoa-slave) runs until SIGINT/SIGTERM or until its
// component stops on its own (quits with exit_reason::normal), then shuts
// down and exits 0; a failed component exits 70 (Runtime::wait). A tool
// (stoa-execute, the example framework) runs one actor until it stops,
// forwarding each SIGINT/SIGTERM to it, and exits with the tool's status.
//
//   int main(int argc, char** argv) {
//     const daemon::Program program{"stoa-master"};
//     master::MasterFlags flags;
//     if (std::optional<int> done = daemon::load_flags(program, flags, argc, argv)) {
//       return *done;
//     }
//     return daemon::run_daemon(program, argv[0], flags, daemon::daemon_options(program, flags),
//                               [&](Runtime& rt) -> std::optional<Error> { ...spawn, register... });
//   }

#include <functional>
#include <optional>
#include <string>

#include <caf/actor.hpp>

#include "actors/runtime.hpp"
#include "common/flags.hpp"
#include "common/logging.hpp"
#include "common/try.hpp"

namespace stoa::daemon {

// How a program answers a bad flag.
enum class FlagErrors {
  SEE_HELP,     // "<name>: <error>\n\nSee --help for the flags.\n" (daemons)
  PRINT_USAGE,  // "<name>: <error>\n\n<usage>\n" (tools)
};

struct Program {
  std::string name;  // "stoa-master": prefixes every error message
  FlagErrors flag_errors = FlagErrors::SEE_HELP;
  int bad_flags_status = 1;
};

// Blocks SIGINT and SIGTERM in the calling thread and in every thread it
// starts later (CAF's threads inherit the mask), so that they reach
// Runtime::wait() instead of killing the process. Call first in main.
void block_stop_signals();

// Loads `flags` from argv and the environment. Returns the status main
// should exit with when it is done: after --help (the usage on stdout, 0) or
// a bad flag (as `program.flag_errors` says, `program.bad_flags_status`);
// nullopt to go on.
std::optional<int> load_flags(const Program& program, FlagsBase& flags, int argc, char** argv);

// Prints "<name>: <message>" on stderr and returns `status`.
int fail(const Program& program, const std::string& message, int status = 1);

// A bad flag found by main's own checks: printed as load_flags() does;
// returns `program.bad_flags_status`.
int bad_flags(const Program& program, const FlagsBase& flags, const std::string& message);

// The host name a daemon announces: `hostname` when given, else (when
// `lookup`) the name `ip` resolves to (reverse DNS), else `ip`. Blocking:
// call it in main, never from an actor.
std::string announced_hostname(const std::optional<std::string>& hostname, bool lookup, const std::string& ip);

// This host's name (gethostname), or "" when it cannot be had. Call it in
// main, never from an actor.
std::string local_hostname();

// Logs a warning when the master's bound or advertised IP is a loopback
// address while `zk` (--zk; a zk:// URL or a file:// holding one) names a
// server that is not: remote masters and slaves could not reach it. As
// Mesos' agent warning ("... bound to loopback interface! ..."). Blocking
// (reads a file:// URL): call it in main.
void warn_loopback_master(const Runtime& rt, const std::optional<std::string>& zk);

struct DaemonOptions {
  logging::Options logging;
  RuntimeOptions runtime;
};

// The options of a daemon whose flags have the common members `log_dir`,
// `logging` (LoggingFlags), `ip`, `port` and `limits` (NetworkLimitFlags),
// and, when it has one, `address` (AddressFlags: --actor_port,
// --advertise_ip, --advertise_port).
template <class Flags>
DaemonOptions daemon_options(const Program& program, const Flags& flags) {
  DaemonOptions o;
  o.logging = logging::Options{program.name, flags.log_dir, flags.logging.logging_level, flags.logging.quiet,
                               flags.logging.max_log_size};
  o.runtime.ip = flags.ip;
  o.runtime.port = static_cast<uint16_t>(flags.port);
  set_network_limits(&o.runtime, flags.limits);
  if constexpr (requires { flags.address; }) {
    set_addresses(&o.runtime, flags.port, flags.address);
  }
  return o;
}

// Spawns, registers and supervises the daemon's component(s) and its
// routes; an Error is printed as "<name>: <message>" and the daemon exits 1.
using StartComponent = std::function<std::optional<Error>(Runtime&)>;

// The rest of a daemon's life: initialises logging and logs "Flags at
// startup", blocks SIGINT/SIGTERM, starts the Runtime, calls `start`, waits
// (Runtime::wait), shuts down. Returns the exit status: 1 when logging, the
// Runtime or `start` failed (printed), else what Runtime::wait() returned.
int run_daemon(const Program& program, const char* argv0, const FlagsBase& flags, const DaemonOptions& options,
               const StartComponent& start);

// Spawns a tool's actor (e.g. a scheduler).
using SpawnActor = std::function<caf::actor(Runtime&)>;

// Starts the Runtime (an error is printed as "<name>: <error>" and the tool
// exits 1), spawns its actor with `spawn` and supervises it as `component`,
// sends it `(signal_atom, signo)` for each SIGINT/SIGTERM (logged "Received
// signal N"), and once it has stopped shuts down and returns
// `exit_status()`, the tool's own status; 70 when the actor failed.
// REQUIRES: block_stop_signals() was called.
int run_tool(const Program& program, const RuntimeOptions& options, const std::string& component,
             const SpawnActor& spawn, const std::function<int()>& exit_status);

}  // namespace stoa::daemon
