// stoa-master: the leading master (standalone: in-memory registry, no ZooKeeper).

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <netdb.h>
#include <arpa/inet.h>
#include <caf/all.hpp>

#include "actors/runtime.hpp"
#include "common/logging.hpp"
#include "master/master.hpp"

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

}  // namespace

int main(int argc, char** argv) {
  stoa::master::MasterFlags flags;
  if (auto err = flags.load(argc, argv)) {
    std::cerr << "stoa-master: " << err->message << "\n\n" << "See --help for the flags.\n";
    return 1;
  }
  if (flags.help) {
    std::cout << flags.usage("stoa-master");
    return 0;
  }
  std::error_code ec;
  std::filesystem::create_directories(flags.work_dir, ec);
  if (ec) {
    std::cerr << "stoa-master: Flag '--work_dir=" << flags.work_dir << "': " << ec.message() << "\n";
    return 1;
  }
  stoa::logging::Options logging{"stoa-master", flags.log_dir, flags.logging.logging_level, flags.logging.quiet,
                                 flags.logging.max_log_size};
  if (auto err = stoa::logging::initialize(argv[0], logging)) {
    std::cerr << "stoa-master: " << *err << "\n";
    return 1;
  }
  LOG_INFO << "Flags at startup: " << flags.startup_line();
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by CAF's threads

  stoa::RuntimeOptions ropts;
  ropts.ip = flags.ip;
  ropts.port = static_cast<uint16_t>(flags.port);
  stoa::set_network_limits(&ropts, flags.limits);
  auto runtime = stoa::Runtime::start(ropts);
  if (runtime.is_error()) {
    std::cerr << "stoa-master: " << runtime.error() << "\n";
    return 1;
  }
  stoa::Runtime& rt = **runtime;
  stoa::master::MasterOptions mopts;
  mopts.flags = flags;
  mopts.upid = rt.upid("master");
  mopts.hostname = flags.hostname ? *flags.hostname
                                  : (flags.hostname_lookup ? lookup_hostname(flags.ip) : flags.ip);
  stoa::Try<caf::actor> master = stoa::master::spawn_master(rt.system(), mopts);
  if (master.is_error()) {
    std::cerr << "stoa-master: " << master.error() << "\n";
    return 1;
  }
  rt.register_actor("master", *master);
  stoa::master::register_master_routes(rt, *master);
  LOG_INFO << "Stoa master listening on http://" << rt.ip() << ":" << rt.port() << " (pid "
           << mopts.upid.str() << ", actor port " << rt.actor_port() << ")";

  int sig = 0;
  sigwait(&signals, &sig);
  LOG_INFO << "Received signal " << sig << "; shutting down";
  rt.shutdown();
  return 0;
}
