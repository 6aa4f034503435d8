#pragma once
// The blocking pieces of the HAProxy supervisor (haproxy.hpp), plain POSIX,
// no CAF: writing and swapping the files, `haproxy -c`, starting the master,
// finding its workers, asking its CLI. Each call is synchronous; the actor
// (haproxy.cpp) runs them in detached workers only (docs/architecture.md:
// fork/exec, waitpid and /proc walks never run on a CAF worker thread).

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "apps/lb/haproxy.hpp"
#include "common/try.hpp"

namespace stoa::lb::haproxy_detail {

// The map files live beside the config (marathon-lb's /etc/haproxy layout).
std::string domain_map_path(const std::string& config_path);
std::string app_map_path(const std::string& config_path);

// Writes `text` to `<path>.tmp`, fsyncs it and renames it onto `path`, then
// fsyncs the directory. Error names the path and the errno text.
Try<bool> write_file_atomically(const std::string& path, const std::string& text);

// Runs `<binary> -c -f <config_path>` and waits for it. Returns "" when
// valid, else HAProxy's own output (its [ALERT] lines) with the exit status.
std::string check_config(const std::string& binary, const std::string& config_path);

// What an install did.
struct InstallOutcome {
  bool valid = true;
  std::string error;  // HAProxy's message when invalid, or a file error
};

// Writes `next` (config + maps) beside `options.config_path`, validates the
// config (unless skip_validation) with the new maps in place, and when valid
// archives the previous config (`<config>.1` newest … `<config>.<n>`) and
// renames the new one onto config_path. When invalid, puts `previous`'s maps
// back and leaves the config untouched.
InstallOutcome install_config(const HaproxyOptions& options, const HaproxyConfig& next,
                              const HaproxyConfig& previous);

// Starts `<binary> -W -f <config> -p <run_dir>/haproxy.pid -S <run_dir>/master.sock`
// in the foreground (our child, own session), output to <run_dir>/haproxy.log.
// Returns the master's pid; the caller reaps it.
Try<pid_t> start_master(const HaproxyOptions& options);

// A master left behind by an earlier run (its stoa-lb was killed with
// SIGKILL): when <run_dir>/haproxy.pid names a live process started with our
// -f config and -S socket, sends it SIGTERM (it would otherwise go on
// serving its old configuration beside ours, since HAProxy binds with
// SO_REUSEPORT). Returns its pid, 0 when there was none.
int stop_stale_master(const HaproxyOptions& options);

std::string master_socket_path(const HaproxyOptions& options);
std::string master_log_path(const HaproxyOptions& options);

// The last `max_bytes` of a file ("" when unreadable): HAProxy's log in errors.
std::string file_tail(const std::string& path, size_t max_bytes);

// Sends one command to an HAProxy CLI socket (the master's or a stats
// socket) and returns the whole answer; nullopt when it does not answer.
std::optional<std::string> cli_command(const std::string& socket_path, const std::string& command,
                                       std::chrono::milliseconds timeout);

// The stats socket our templates declare (`stats socket <run_dir>/socket
// ... level admin`) and the file `server-state-file <run_dir>/server-state`
// names. Before a reload the servers' state (health, maintenance, weights)
// is saved there, so that a config with `load-server-state-from-file
// global` starts the new worker with it (marathon-lb does the same).
// Returns false (and writes nothing) when the socket does not answer.
std::string stats_socket_path(const HaproxyOptions& options);
std::string server_state_path(const HaproxyOptions& options);
bool save_server_state(const HaproxyOptions& options);

// The master CLI's `show proc`, parsed. nullopt when the socket does not
// answer (the master is re-executing itself, or gone).
struct MasterProcInfo {
  int reloads = 0;
  int failed_reloads = 0;
  std::vector<int> workers;  // as listed, newest first
};
std::optional<MasterProcInfo> query_master(const std::string& socket_path,
                                           std::chrono::milliseconds timeout);

// Pids of live (non-zombie) processes whose executable name (/proc/<pid>/comm)
// is `name`: `pidof haproxy`, as marathon-lb detects an external HAProxy.
std::set<int> pids_named(const std::string& name);

// Waits up to `timeout` for a worker of `master_pid` that is not in `known`.
// Returns its pid, 0 on timeout, -1 when the master is gone, -2 when the
// master reports a failed reload beyond `failed_before` (see query_master).
int wait_for_new_worker(pid_t master_pid, const std::set<int>& known, const std::string& socket_path,
                        int failed_before, std::chrono::milliseconds timeout);

// Runs `/bin/sh -c <command>` and waits. "" on exit status 0, else a
// description with the command's output.
std::string run_shell(const std::string& command, const std::string& output_path);

}  // namespace stoa::lb::haproxy_detail
