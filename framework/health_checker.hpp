#pragma once
// Health checks next to a task (Mesos' checks library, src/checks/), part of
// the executor SDK so that any executor can use them (docs/health-checks.md).
//
// Three layers, each usable on its own:
// - HealthPolicy: the state machine (grace period, first success, counted
//   failures, the kill verdict). Pure, no clock of its own: callers pass
//   the time.
// - probe_command / probe_http / probe_tcp: one check, blocking, bounded by
//   its timeout. Call them only from a detached actor (or a plain thread).
// - spawn_health_checker(): an actor that runs the probes on schedule (each
//   on a thread of its own, so the checker never blocks) and tells
//   `notify` what the policy decides.
//
// Where a check runs is a HealthCheckTarget: by default here (COMMAND
// launched by this process, HTTP/TCP to 127.0.0.1 in our network
// namespace); an executor whose task lives in a container of its own (e.g.
// stoa-docker-executor) gives a command runner and the pid whose network
// namespace the HTTP/TCP probes connect from.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <sys/types.h>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "proto/stoa.pb.h"

namespace stoa {

// The checker tells its `notify` actor
//   (health_status_atom, bool healthy, bool kill, uint32_t consecutive_failures, std::string message)
// for every verdict that needs a status update (see HealthPolicy). After a
// verdict with kill == true the checker has exited.
using health_status_atom = caf::atom_constant<caf::atom("hc_status")>;
constexpr health_status_atom health_status_atom_v{};
// The checker's timer (sent to itself only): run the next check.
using health_tick_atom = caf::atom_constant<caf::atom("hc_tick")>;
constexpr health_tick_atom health_tick_atom_v{};
// (health_probe_atom) -> (bool healthy, std::string why): asks a probe actor
// to run one check. `why` explains a failure ("" when healthy).
using health_probe_atom = caf::atom_constant<caf::atom("hc_probe")>;
constexpr health_probe_atom health_probe_atom_v{};

// What the policy wants reported after one check.
struct HealthVerdict {
  bool healthy = false;
  // consecutive_failures reached: the executor must kill the task.
  bool kill = false;
  uint32_t consecutive_failures = 0;
  // "" for a success; else the failure, with its count, e.g. "Health check
  // failed 2 times consecutively: connection refused".
  std::string message;
};

// Mesos' health semantics. `start` is when checking began (the grace
// period counts from there).
// - A failure while no check has succeeded yet and no later than
//   grace_period_seconds after `start` is ignored (no verdict).
// - Every other failure is counted and reported (healthy=false; Mesos
//   sends an update on each counted failure, with the running count); the
//   one that makes consecutive_failures in a row also says kill.
// - A success is reported (healthy=true) when it is the first one or ends a
//   run of counted failures; it resets the count. Other successes are
//   silent.
class HealthPolicy {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  HealthPolicy(const HealthCheck& check, time_point start);

  std::optional<HealthVerdict> on_success();
  std::optional<HealthVerdict> on_failure(time_point now, const std::string& why);

  uint32_t consecutive_failures() const { return failures_; }
  bool succeeded_once() const { return succeeded_; }

 private:
  std::chrono::nanoseconds grace_;
  uint32_t max_failures_;
  time_point start_;
  bool succeeded_ = false;
  bool reported_healthy_ = false;
  uint32_t failures_ = 0;
};

// Where one check runs. The default (no runner, pid 0) is this process:
// COMMAND checks are launched by probe_command(), HTTP and TCP checks
// connect to 127.0.0.1 in our own network namespace.
struct HealthCheckTarget {
  // Runs a COMMAND check in place of probe_command(): nullopt when healthy,
  // else why it failed. Called on the probe's thread (blocking is fine); it
  // should give up at `timeout` and soon after `*cancel` becomes true.
  using CommandRunner = std::function<std::optional<std::string>(
      const CommandInfo& command, std::chrono::nanoseconds timeout, const std::atomic<bool>* cancel)>;
  CommandRunner run_command;
  // When not 0: HTTP and TCP checks connect to 127.0.0.1 inside the network
  // namespace of this process (/proc/<pid>/ns/net), e.g. a container's
  // first process. Entering it needs CAP_SYS_ADMIN (root); without it, or
  // when the process is gone, the check fails saying why.
  pid_t network_namespace_pid = 0;
};

// The check's durations as nanoseconds (validation bounds them: see
// master/validation.hpp, validate_health_check). Negative or non-finite
// values become 0.
std::chrono::nanoseconds health_seconds(double seconds);

// One COMMAND check: runs `command` (shell: /bin/sh -c value; else value is
// the program, looked up in PATH, and arguments its argv) in `sandbox`, in a
// process group of its own, with our environment plus MESOS_SANDBOX,
// STOA_SANDBOX and the command's environment. stdin is /dev/null; stdout and
// stderr are ours. Healthy when it exits 0. When it runs past `timeout` (or
// `cancel` becomes true) its whole process group is SIGKILLed and reaped,
// and the check fails. Returns nullopt when healthy, else why it failed.
std::optional<std::string> probe_command(const CommandInfo& command, const std::string& sandbox,
                                         std::chrono::nanoseconds timeout,
                                         const std::atomic<bool>* cancel = nullptr);

// One HTTP check: GET <path> from 127.0.0.1:<port> (HTTP/1.1, Connection:
// close), reading only the status line. Healthy when the status is one of
// `statuses`, or 200..399 when that is empty. Scheme "https" is not
// supported (the check fails saying so; the master rejects it at launch).
// With `network_namespace_pid` (see HealthCheckTarget), 127.0.0.1 is that
// process' loopback: only the socket is made there (the calling thread
// enters the namespace for the socket() call and returns to its own).
std::optional<std::string> probe_http(const HealthCheck::HTTPCheckInfo& http, std::chrono::nanoseconds timeout,
                                      const std::atomic<bool>* cancel = nullptr, pid_t network_namespace_pid = 0);

// One TCP check: healthy when a connection to 127.0.0.1:<port> is
// established within `timeout` (inside the network namespace of
// `network_namespace_pid` when not 0, as probe_http).
std::optional<std::string> probe_tcp(uint32_t port, std::chrono::nanoseconds timeout,
                                     const std::atomic<bool>* cancel = nullptr, pid_t network_namespace_pid = 0);

// The probe `check.type()` asks for, with check.timeout_seconds, run where
// `target` says.
std::optional<std::string> run_health_check(const HealthCheck& check, const std::string& sandbox,
                                            const std::atomic<bool>* cancel = nullptr,
                                            const HealthCheckTarget& target = {});

// Makes the actor that runs one check: it must answer one
// (health_probe_atom) with (bool healthy, std::string why). Tests pass a
// scripted one; the default runs run_health_check() on the checker's target
// on a thread of its own (a failed check when no thread can start, as at a
// container's pids limit), which the checker cancels (through the flag)
// when it exits.
using HealthProbeSpawner = std::function<caf::actor(caf::actor_system&, std::shared_ptr<std::atomic<bool>> cancel)>;

// A checker that starts checking delay_seconds from now, runs one check at
// a time, and schedules the next one interval_seconds after the previous
// one ended (Mesos). A probe that has not answered timeout_seconds + 1 s
// after it was asked counts as a failure ("timed out"); the probe itself
// gives up at timeout_seconds, so its own message usually wins. Verdicts go
// to `notify` (see health_status_atom). Exits after a kill verdict, when
// `notify` exits, or on an exit message (the executor sends one when the
// task ends). The default probes run the checks on `target` (a given
// `spawner` ignores it). REQUIRES: `check` passed validate_health_check().
caf::actor spawn_health_checker(caf::actor_system& sys, HealthCheck check, std::string sandbox,
                                caf::actor notify, HealthProbeSpawner spawner = nullptr,
                                HealthCheckTarget target = {});

}  // namespace stoa
