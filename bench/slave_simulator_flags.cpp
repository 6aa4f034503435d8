// The flags of stoa-slave-simulator and the options they give
// (slave_simulator.hpp).

#include "actors/upid.hpp"
#include "actors/master_detector.hpp"
#include "bench/slave_simulator.hpp"

namespace stoa::bench {

std::optional<std::string> check_master(const std::string& master) {
  return detector::check_master(master);
}

SimulatorFlags::SimulatorFlags() {
  add(&master, "master",
      "The master: host:port, master@host:port, zk://host:port[,host:port]/path or file:///path "
      "(required).");
  check("master", check_master);
  add(&slaves, "slaves", "Simulated slaves in this process, named slave(1)..slave(N).", 100);
  check("slaves", within(1, 1000000));
  add(&ip, "ip", "IP address to listen on (HTTP and actor traffic).", "127.0.0.1");
  check("ip", ipv4_address());
  add(&port, "port", "HTTP port (0 = the OS picks one).", 0);
  check("port", within(0, 65535));
  add_network_limits(&limits);
  add_logging_flags(&logging);
  add(&log_dir, "log_dir", "Directory for log files (logs go to stderr when unset).");
  check("log_dir", non_empty());
  add(&hostname, "hostname", "Slave i announces hostname <hostname>-<i>.", "sim");
  check("hostname", no_whitespace());
  add(&resources, "resources", "Each simulated slave's resources.", DEFAULT_SIMULATED_RESOURCES);
  check("resources", [](const std::string& v) -> std::optional<std::string> {
    Try<Resources> r = Resources::parse(v);
    if (r.is_error()) {
      return r.error();
    }
    if (r->empty()) {
      return "no resources";
    }
    return std::nullopt;
  });
  add(&task_duration, "task_duration",
      "A launched task reports TASK_FINISHED this long after TASK_RUNNING (unset: it runs until "
      "killed).");
  check("task_duration", duration_text());
  add(&registration_backoff_factor, "registration_backoff_factor",
      "The first registration retry waits a random time of at most this; it doubles up to 1mins.",
      std::chrono::seconds(1));
  check("registration_backoff_factor", positive_duration());
  add(&reregister_spread, "reregister_spread",
      "With a new leader, each slave waits a random time of at most this before re-registering (0 "
      "= at once; unset: --registration_backoff_factor, as stoa-slave after a failover).");
  check("reregister_spread", duration_text());
  add(&nice, "nice",
      "Adds this to the process's nice value before its threads start (0-19): on a bench machine "
      "the simulated slaves stand for other machines, and need not take the master's cores.",
      0);
  check("nice", within(0, 19));
  add(&zk_session_timeout, "zk_session_timeout", "The detector's ZooKeeper session timeout.",
      std::chrono::seconds(10));
  check("zk_session_timeout", positive_duration());
  add(&repeat_running_updates, "repeat_running_updates",
      "A running task sends a new TASK_RUNNING as soon as its last update is acknowledged (a flood "
      "of status updates for stoa-bench-scale --mode=updates).",
      false);
  add(&batched_acknowledgements, "batched_acknowledgements",
      "Registers taking a master's batched acknowledgements and answers each batch with the updates "
      "it releases in one message, as stoa-slave does (false: Mesos' one message per update).",
      true);
}

Try<SimulatorOptions> simulator_options(const SimulatorFlags& flags) {
  if (!flags.master) {
    return Error("Missing required flag '--master' (e.g. --master=127.0.0.1:5050)");
  }
  if (auto why = check_master(*flags.master)) {
    return Error("Invalid value '" + *flags.master + "' for flag '--master': " + *why);
  }
  SimulatorOptions o;
  o.master = *flags.master;
  o.slaves = static_cast<size_t>(flags.slaves);
  o.hostname = flags.hostname;
  Try<Resources> r = Resources::parse(flags.resources);
  if (r.is_error()) {
    return Error("Invalid value '" + flags.resources + "' for flag '--resources': " + r.error());
  }
  o.resources = *r;
  if (flags.task_duration) {
    Try<Duration> d = parse_duration(*flags.task_duration);
    if (d.is_error()) {
      return Error("Invalid value '" + *flags.task_duration +
                   "' for flag '--task_duration': " + d.error());
    }
    o.task_duration = *d;
  }
  o.registration_backoff = flags.registration_backoff_factor;
  o.reregister_spread = flags.registration_backoff_factor;
  if (flags.reregister_spread) {
    Try<Duration> d = parse_duration(*flags.reregister_spread);
    if (d.is_error()) {
      return Error("Invalid value '" + *flags.reregister_spread + "' for flag '--reregister_spread': " + d.error());
    }
    o.reregister_spread = *d;
  }
  o.zk_session_timeout = flags.zk_session_timeout;
  o.repeat_running_updates = flags.repeat_running_updates;
  o.batched_acknowledgements = flags.batched_acknowledgements;
  return o;
}

}  // namespace stoa::bench
