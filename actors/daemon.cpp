#include "actors/daemon.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <iostream>

#include <caf/all.hpp>

#include "actors/addresses.hpp"
#include "actors/atoms.hpp"
#include "actors/zookeeper.hpp"

namespace stoa::daemon {

void block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

std::optional<int> load_flags(const Program& program, FlagsBase& flags, int argc, char** argv) {
  if (std::optional<Error> error = flags.load(argc, argv)) {
    return bad_flags(program, flags, error->message);
  }
  if (flags.help) {
    std::cout << flags.usage(program.name);
    if (program.flag_errors == FlagErrors::PRINT_USAGE) {
      std::cout << std::endl;
    }
    return 0;
  }
  return std::nullopt;
}

int fail(const Program& program, const std::string& message, int status) {
  std::cerr << program.name << ": " << message << std::endl;
  return status;
}

int bad_flags(const Program& program, const FlagsBase& flags, const std::string& message) {
  std::cerr << program.name << ": " << message << "\n\n";
  if (program.flag_errors == FlagErrors::PRINT_USAGE) {
    std::cerr << flags.usage(program.name) << std::endl;
  } else {
    std::cerr << "See --help for the flags.\n";
  }
  return program.bad_flags_status;
}

std::string announced_hostname(const std::optional<std::string>& hostname, bool lookup, const std::string& ip) {
  if (hostname) {
    return *hostname;
  }
  if (!lookup) {
    return ip;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1) {
    return ip;
  }
  char host[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&sa), sizeof(sa), host, sizeof(host), nullptr, 0, NI_NAMEREQD) ==
      0) {
    return host;
  }
  return ip;
}

std::string local_hostname() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) {
    return "";
  }
  return host;
}

void warn_loopback_master(const Runtime& rt, const std::optional<std::string>& zk) {
  if (!zk || !(addresses::is_loopback_ip(rt.ip()) || addresses::is_loopback_ip(rt.advertised_ip()))) {
    return;
  }
  Try<zookeeper::Url> url = zookeeper::parse_url(*zk);
  if (url.is_error()) {
    return;  // the flag's check reports it
  }
  for (const std::string& server : url->servers) {
    std::string host = server.substr(0, server.rfind(':'));
    if (addresses::loopback_agent_warning(rt.advertised_ip(), host) ||
        addresses::loopback_agent_warning(rt.ip(), host)) {
      LOG_WARNING << "Master bound to loopback interface! Cannot communicate with remote masters or agents "
                     "(ZooKeeper server "
                  << server << " is not on loopback). You might want to set '--ip' flag to a routable IP address.";
      return;
    }
  }
}

int run_daemon(const Program& program, const char* argv0, const FlagsBase& flags, const DaemonOptions& options,
               const StartComponent& start) {
  if (std::optional<std::string> error = logging::initialize(argv0, options.logging)) {
    return fail(program, *error);
  }
  LOG_INFO << "Flags at startup: " << flags.startup_line();
  block_stop_signals();
  RuntimeOptions runtime_options = options.runtime;
  runtime_options.routes_follow_start = true;
  Try<std::unique_ptr<Runtime>> runtime = Runtime::start(runtime_options);
  if (runtime.is_error()) {
    return fail(program, runtime.error());
  }
  Runtime& rt = **runtime;
  if (std::optional<Error> error = start(rt)) {
    return fail(program, error->message);
  }
  rt.routes_complete();  // (again, for a component that did not say so itself)
  int status = rt.wait();
  rt.shutdown();
  return status;
}

int run_tool(const Program& program, const RuntimeOptions& options, const std::string& component,
             const SpawnActor& spawn, const std::function<int()>& exit_status) {
  Try<std::unique_ptr<Runtime>> runtime = Runtime::start(options);
  if (runtime.is_error()) {
    return fail(program, runtime.error());
  }
  Runtime& rt = **runtime;
  caf::actor actor = spawn(rt);
  rt.supervise(component, actor);
  for (;;) {
    StopEvent event = rt.wait_for_stop();
    if (event.cause == StopEvent::Cause::SIGNAL) {
      LOG_INFO << "Received signal " << event.signal;
      caf::anon_send(actor, signal_atom_v, event.signal);
      continue;
    }
    if (event.cause == StopEvent::Cause::COMPONENT_FAILED) {
      actor = caf::actor{};
      rt.shutdown();
      return EXIT_COMPONENT_FAILED;
    }
    if (event.component == component) {
      break;
    }
  }
  actor = caf::actor{};
  rt.shutdown();
  return exit_status();
}

}  // namespace stoa::daemon
