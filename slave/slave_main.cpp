// stoa-slave: runs tasks on this node for the master.

#include <arpa/inet.h>
#include <netdb.h>
#include <unistd.h>

#include <climits>
#include <csignal>
#include <iostream>

#include <caf/all.hpp>

#include "actors/runtime.hpp"
#include "common/attributes.hpp"
#include "common/logging.hpp"
#include "slave/paths.hpp"
#include "slave/slave.hpp"
#include "slave/work_dir_lock.hpp"

namespace {

std::string lookup_hostname(const std::string& ip) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1) {
    return ip;
  }
  char host[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&sa), sizeof(sa), host, sizeof(host), nullptr, 0,
                  NI_NAMEREQD) == 0) {
    return host;
  }
  return ip;
}

std::string self_dir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) {
    return ".";
  }
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
  stoa::slave::SlaveFlags flags;
  if (auto err = flags.load(argc, argv)) {
    std::cerr << "stoa-slave: " << err->message << "\n\nSee --help for the flags.\n";
    return 1;
  }
  if (flags.help) {
    std::cout << flags.usage("stoa-slave");
    return 0;
  }
  if (!flags.master) {
    std::cerr << "stoa-slave: Missing required flag '--master' (e.g. --master=127.0.0.1:5050)\n";
    return 1;
  }
  // The flags' own checks already refused malformed values; these repeat
  // the parsing to get the values.
  stoa::Try<stoa::Upid> master = stoa::parse_master_address(*flags.master);
  if (master.is_error()) {
    std::cerr << "stoa-slave: Invalid value '" << *flags.master << "' for flag '--master': " << master.error()
              << "\n";
    return 1;
  }
  stoa::Try<stoa::Resources> resources = stoa::slave::detect_resources(flags.resources, flags.work_dir);
  if (resources.is_error()) {
    std::cerr << "stoa-slave: " << resources.error() << "\n";
    return 1;
  }
  std::vector<stoa::Attribute> attributes;
  if (flags.attributes) {
    auto parsed = stoa::parse_attributes(*flags.attributes);
    if (parsed.is_error()) {
      std::cerr << "stoa-slave: Invalid value '" << *flags.attributes << "' for flag '--attributes': "
                << parsed.error() << "\n";
      return 1;
    }
    attributes = *parsed;
  }
  // The work_dir: created, ours alone (locked for the life of this process,
  // before anything in it is read or written) and writable.
  stoa::Try<bool> made = stoa::slave::mkdirs(flags.work_dir);
  if (made.is_error()) {
    std::cerr << "stoa-slave: Invalid value '" << flags.work_dir << "' for flag '--work_dir': " << made.error()
              << "\n";
    return 1;
  }
  stoa::Try<std::unique_ptr<stoa::slave::WorkDirLock>> lock = stoa::slave::WorkDirLock::acquire(flags.work_dir);
  if (lock.is_error()) {
    std::cerr << "stoa-slave: Cannot use --work_dir=" << flags.work_dir << ": " << lock.error() << "\n";
    return 1;
  }
  if (std::optional<stoa::Error> unwritable = stoa::slave::check_writable(flags.work_dir)) {
    std::cerr << "stoa-slave: Cannot use --work_dir=" << flags.work_dir << ": " << unwritable->message << "\n";
    return 1;
  }
  std::string executor = (flags.launcher_dir ? *flags.launcher_dir : self_dir()) + "/stoa-executor";
  if (::access(executor.c_str(), X_OK) != 0) {
    std::cerr << "stoa-slave: cannot find an executable stoa-executor at " << executor
              << " (set --launcher_dir)\n";
    return 1;
  }

  stoa::logging::Options logging{"stoa-slave", flags.log_dir, flags.logging.logging_level, flags.logging.quiet,
                                 flags.logging.max_log_size};
  if (auto err = stoa::logging::initialize(argv[0], logging)) {
    std::cerr << "stoa-slave: " << *err << "\n";
    return 1;
  }
  LOG_INFO << "Flags at startup: " << flags.startup_line();
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  stoa::RuntimeOptions ropts;
  ropts.ip = flags.ip;
  ropts.port = static_cast<uint16_t>(flags.port);
  stoa::set_network_limits(&ropts, flags.limits);
  auto runtime = stoa::Runtime::start(ropts);
  if (runtime.is_error()) {
    std::cerr << "stoa-slave: " << runtime.error() << "\n";
    return 1;
  }
  stoa::Runtime& rt = **runtime;
  stoa::slave::SlaveOptions sopts;
  sopts.flags = flags;
  sopts.upid = rt.upid("slave(1)");
  sopts.master = *master;
  sopts.hostname = flags.hostname ? *flags.hostname
                                  : (flags.hostname_lookup ? lookup_hostname(flags.ip) : flags.ip);
  sopts.resources = *resources;
  sopts.attributes = attributes;
  sopts.executor_path = executor;
  sopts.actor_port = rt.actor_port();
  caf::actor slave = stoa::slave::spawn_slave(rt.system(), rt.router(), sopts);
  rt.register_actor("slave(1)", slave);
  stoa::slave::register_slave_routes(rt, slave, "slave(1)");
  LOG_INFO << "Stoa slave listening on http://" << rt.ip() << ":" << rt.port() << " (pid "
           << sopts.upid.str() << ", actor port " << rt.actor_port() << ") with "
           << resources->to_string();

  int sig = 0;
  sigwait(&signals, &sig);
  LOG_INFO << "Received signal " << sig << "; shutting down";
  rt.shutdown();
  return 0;
}
