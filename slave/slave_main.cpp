// stoa-slave: runs tasks on this node for the master.

#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>

#include <caf/all.hpp>

#include "actors/daemon.hpp"
#include "actors/master_detector.hpp"
#include "common/attributes.hpp"
#include "common/logging.hpp"
#include "slave/isolator.hpp"
#include "slave/paths.hpp"
#include "slave/slave.hpp"
#include "slave/work_dir_lock.hpp"

namespace {

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
  using namespace stoa;
  const daemon::Program program{"stoa-slave"};
  slave::SlaveFlags flags;
  if (std::optional<int> done = daemon::load_flags(program, flags, argc, argv)) {
    return *done;
  }
  if (!flags.master) {
    return daemon::fail(program, "Missing required flag '--master' (e.g. --master=127.0.0.1:5050)");
  }
  // The flags' own checks already refused malformed values; these repeat
  // the parsing to get the values.
  const bool detect = detector::is_detected(*flags.master);
  Try<Upid> master = detect ? Try<Upid>(Upid{}) : parse_master_address(*flags.master);
  if (master.is_error()) {
    return daemon::fail(program,
                        "Invalid value '" + *flags.master + "' for flag '--master': " + master.error());
  }
  Try<Resources> resources = slave::detect_resources(flags.resources, flags.work_dir);
  if (resources.is_error()) {
    return daemon::fail(program, resources.error());
  }
  std::vector<Attribute> attributes;
  if (flags.attributes) {
    auto parsed = parse_attributes(*flags.attributes);
    if (parsed.is_error()) {
      return daemon::fail(program, "Invalid value '" + *flags.attributes +
                                       "' for flag '--attributes': " + parsed.error());
    }
    attributes = *parsed;
  }
  // cgroups/* isolation: root, and the v1 controllers where
  // --cgroups_hierarchy says (docs/isolation.md).
  slave::IsolatorOptions isolator_options;
  isolator_options.cgroups_hierarchy = flags.cgroups_hierarchy;
  if (Try<std::vector<std::string>> names = slave::parse_isolation(flags.isolation); names.is_some()) {
    if (std::optional<Error> error = slave::check_controllers(*names, isolator_options)) {
      return daemon::fail(program, "Cannot use --isolation=" + flags.isolation + ": " + error->message);
    }
  }
  // The executor API on a Unix socket too (--http_executor_domain_sockets):
  // an absolute path, since executors run in their sandboxes; checked before
  // anything is made.
  std::string domain_socket;
  if (flags.http_executor_domain_sockets) {
    std::error_code ec;
    domain_socket = flags.domain_socket_location
                        ? *flags.domain_socket_location
                        : std::filesystem::absolute(std::filesystem::path(flags.work_dir) / "agent.sock", ec).string();
    if (ec || domain_socket.size() >= sizeof(sockaddr_un::sun_path)) {
      return daemon::fail(program, "Cannot use --http_executor_domain_sockets: the socket's path '" + domain_socket +
                                       "' must have fewer than " + std::to_string(sizeof(sockaddr_un::sun_path)) +
                                       " bytes (set --domain_socket_location)");
    }
  }
  // The work_dir: created, ours alone (locked for the life of this process,
  // before anything in it is read or written) and writable.
  Try<bool> made = slave::mkdirs(flags.work_dir);
  if (made.is_error()) {
    return daemon::fail(program, "Invalid value '" + flags.work_dir + "' for flag '--work_dir': " + made.error());
  }
  Try<std::unique_ptr<slave::WorkDirLock>> lock = slave::WorkDirLock::acquire(flags.work_dir);
  if (lock.is_error()) {
    return daemon::fail(program, "Cannot use --work_dir=" + flags.work_dir + ": " + lock.error());
  }
  if (std::optional<Error> unwritable = slave::check_writable(flags.work_dir)) {
    return daemon::fail(program, "Cannot use --work_dir=" + flags.work_dir + ": " + unwritable->message);
  }
  const std::string launcher_dir = flags.launcher_dir ? *flags.launcher_dir : self_dir();
  std::string executor = launcher_dir + "/stoa-executor";
  if (::access(executor.c_str(), X_OK) != 0) {
    return daemon::fail(program,
                        "cannot find an executable stoa-executor at " + executor + " (set --launcher_dir)");
  }
  // --containerizers with docker: its executor must be there too (the
  // engine itself may come later: docs/docker.md).
  std::string docker_executor = launcher_dir + "/stoa-docker-executor";
  if (Try<std::vector<std::string>> kinds = slave::parse_containerizers(flags.containerizers);
      kinds.is_some() && std::count(kinds->begin(), kinds->end(), "docker") != 0 &&
      ::access(docker_executor.c_str(), X_OK) != 0) {
    return daemon::fail(program, "cannot find an executable stoa-docker-executor at " + docker_executor +
                                     " (needed by --containerizers=" + flags.containerizers + "; set --launcher_dir)");
  }

  std::string http_executor = launcher_dir + "/stoa-http-executor";
  if (flags.http_command_executor && ::access(http_executor.c_str(), X_OK) != 0) {
    return daemon::fail(program, "cannot find an executable stoa-http-executor at " + http_executor +
                                     " (needed by --http_command_executor; set --launcher_dir)");
  }

  // The slave's actors run on CAF's I/O thread: they hand each task between
  // them (slave, containerizer, executor connections, files, HTTP routes)
  // and do little CPU work each, and nearly every message crosses between
  // the network and an actor. On a scheduler thread of their own each
  // crossing woke the other thread: four threads woke each other ~50 times
  // per task, one ~26 times (futex) — a sixth of the slave's CPU per
  // launch in context switches (#17; docs/benchmarks.md, "Fewer wake-ups in
  // the slave", "One thread for the slave's actors"). What blocks runs on
  // threads of its own (the cleaner, the pool's starter, the files and
  // usage workers; exits are watched by one thread, slave/pid_watcher.hpp).
  // LIBPROCESS_NUM_WORKER_THREADS gives scheduler threads instead.
  daemon::DaemonOptions options = daemon::daemon_options(program, flags);
  options.runtime.actors_on_io_thread = true;
  options.runtime.http_unix_socket = domain_socket;
  return daemon::run_daemon(
      program, argv[0], flags, options, [&](Runtime& rt) -> std::optional<Error> {
        slave::SlaveOptions sopts;
        sopts.flags = flags;
        sopts.upid = rt.upid("slave(1)");
        sopts.master = *master;
        if (detect) {
          sopts.detect = *flags.master;
        }
        // Blocking (reverse DNS), on main's thread.
        sopts.hostname = daemon::announced_hostname(flags.hostname, flags.hostname_lookup, rt.advertised_ip());
        sopts.resources = *resources;
        sopts.attributes = attributes;
        sopts.executor_path = executor;
        sopts.docker_executor_path = docker_executor;
        sopts.http_executor_path = http_executor;
        sopts.domain_socket = domain_socket;
        sopts.actor_port = rt.actor_port();
        sopts.metrics = &rt.metrics();
        // What an earlier run of this slave left (docs/checkpoints.md).
        Try<std::optional<slave::SlaveCheckpoint>> checkpoint = slave::read_slave_state(flags.work_dir, flags.strict);
        if (checkpoint.is_error()) {
          return Error("Cannot recover the slave: " + checkpoint.error());
        }
        if (*checkpoint && flags.recover == "reconnect") {
          if (std::optional<Error> incompatible =
                  slave::check_recoverable(**checkpoint, slave::make_slave_info(sopts), flags.work_dir)) {
            return Error("Cannot recover the slave: " + incompatible->message);
          }
        }
        sopts.recovered = std::move(*checkpoint);
        caf::actor slave = slave::spawn_slave(rt.system(), rt.router(), sopts);
        rt.register_actor("slave(1)", slave);
        rt.add_metrics_collector(slave);
        slave::register_slave_routes(rt, slave, "slave(1)");
        rt.routes_complete();  // before saying so: an unknown path is 404 from now on
        LOG_INFO << "Stoa slave listening on http://" << rt.ip() << ":" << rt.port() << " (pid " << sopts.upid.str()
                 << ", actor port " << rt.actor_port() << ") with " << resources->to_string();
        return std::nullopt;
      });
}
