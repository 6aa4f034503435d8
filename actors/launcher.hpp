#pragma once
// The POSIX launcher: starts a command in its own session and process group,
// and signals or probes that group. Used by the slave (to start stoa-executor),
// by the command executor (to start the task) and by the SDK's health checker
// (COMMAND checks); in actors/, as libprocess' subprocess is in libprocess, so
// that frameworks link it without the slave. Plain POSIX, no CAF, never
// throws; every call is synchronous and returns in bounded time (launch()
// waits only until the child has exec'd or failed to).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/try.hpp"

namespace stoa {

struct LaunchSpec {
  // The program and its arguments. REQUIRES: non-empty. If argv[0] has no '/'
  // it is looked up in PATH (the child's PATH when `env` sets one, else ours,
  // else "/usr/local/bin:/usr/bin:/bin"), like execvp.
  std::vector<std::string> argv;
  // Added to the inherited environment (replacing same-named variables), or
  // the whole environment when `inherit_env` is false.
  std::map<std::string, std::string> env;
  bool inherit_env = true;
  // The child chdir()s here before exec. Empty = stay in our directory. A
  // missing directory is a launch error.
  std::string working_dir;
  // Opened by the parent before clone with O_WRONLY|O_CREAT|O_APPEND, mode
  // 0644 (relative paths are relative to *our* directory, not working_dir).
  // Empty = the child inherits our stdout/stderr. Both may name one file.
  std::string stdout_path;
  std::string stderr_path;
  // A descriptor of ours the child gets as its stdin (dup2'd; ours stays
  // open), e.g. one end of a socketpair. -1 = inherit our stdin.
  int stdin_fd = -1;
  // setsid(): the child leads a new session and process group whose id is its
  // pid, so signal_process_group(pid, ...) reaches all its descendants that
  // stay in the group.
  bool new_session = true;
  // With new_session false: put the child in a process group of its own
  // (setpgid) while it stays in our session, so whoever kills our session
  // (kill_session) takes it down too. The command executor runs tasks so.
  bool new_process_group = false;
  // cgroup directories the child joins (writes its pid to <dir>/cgroup.procs)
  // first thing after fork, before it execs: nothing it starts escapes them.
  std::vector<std::string> cgroups;
  // Run as this user (--switch_user): looked up in the parent (getpwnam_r,
  // getgrouplist); the child calls setgroups, setgid, setuid before chdir and
  // exec. Empty = stay who we are. Errors: the user does not exist, or we
  // are not root and it is not us.
  std::string user;
};

// The ids a user runs with (LaunchSpec::user).
struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string home;
};

// getpwnam_r + getgrouplist. Error: "user 'x' does not exist" or the
// lookup's errno text.
Try<UserIds> lookup_user_uncached(const std::string& user);
// lookup_user_uncached through a process-wide UserCache (actors/user_cache.hpp):
// an answer is reused for up to USER_CACHE_LIFETIME while /etc/passwd and
// /etc/group are unchanged.
Try<UserIds> lookup_user(const std::string& user);
inline constexpr std::chrono::seconds USER_CACHE_LIFETIME{10};

// Starts `spec` with clone(CLONE_VM | CLONE_VFORK) + exec (vfork semantics, as
// posix_spawn: no copy of our page tables; the calling thread waits until the
// child has exec'd or failed). In the child: signal dispositions and mask
// reset to defaults, every fd above 2 closed (so tasks never hold our sockets),
// stdin inherited unless stdin_fd is set. Returns the child's pid once it has exec'd; the caller owns
// the child and must reap it (waitpid).
// Errors (the child, if any, is already reaped): empty argv; program not found
// or not executable; working_dir missing; stdout/stderr not openable; fork
// failure; a cgroup not joinable; a user that does not exist or that we may
// not become. The message names the program, path or user and the errno
// text, e.g. "Failed to execute 'nosuch': No such file or directory". A CLOEXEC pipe
// carries a failure in the child (chdir, exec) back to us.
Try<pid_t> launch(const LaunchSpec& spec);

// The argv `sh -c value` would exec, when `value` is a simple command that
// needs no shell: words separated by single spaces, made only of letters,
// digits and `_-./,:+@%=`, no `=` in the first word (an assignment), and a
// first word that is neither a shell keyword nor a builtin that has no
// program of its own (cd, exit, export, exec, set, ...). Such a command
// means the same to sh (no expansion, quoting, redirection or globbing
// applies, and sh execs a lone simple command), so the command executors
// exec it directly and saves starting sh; nullopt otherwise (sh -c runs
// it). The caller falls back to `sh -c` when the program cannot be exec'd,
// so not-found and not-executable keep sh's exit codes (127, 126).
std::optional<std::vector<std::string>> shell_free_argv(const std::string& value);

// A command as Mesos' CommandInfo holds it, without protobuf (both command
// executors start their task from it).
struct CommandLine {
  bool shell = true;
  std::string value;
  std::vector<std::string> arguments;
};

// The argv a command runs as (Mesos): with shell, {"/bin/sh", "-c", value};
// otherwise value is the program and arguments the whole argv (its argv[0]
// replaced by the program), or just {value} without arguments.
std::vector<std::string> command_argv(const CommandLine& command);

// How a command executor starts its task: in its own process group inside
// the executor's session (whoever kills that session, as the slave does when
// the executor dies, takes the task down too), in `sandbox` with the
// sandbox's stdout and stderr, and MESOS_SANDBOX, STOA_SANDBOX,
// MESOS_TASK_ID and `env` added to the inherited environment.
LaunchSpec command_task_spec(const CommandLine& command, const std::string& sandbox, const std::string& task_id,
                             const std::vector<std::pair<std::string, std::string>>& env);

// Launches `spec` (command_task_spec of `command`) with `start`: a simple
// shell command is exec'd without sh (shell_free_argv; with PWD, which sh
// would set), and anything that cannot be exec'd so is left to sh, for sh's
// errors and exit codes.
Try<pid_t> launch_command_task(const CommandLine& command, const LaunchSpec& spec,
                               const std::function<Try<pid_t>(const LaunchSpec&)>& start);

// Sends `sig` to every process in group `pgid` (kill(-pgid, sig)). ESRCH (no
// such group) is fine. Does nothing when pgid <= 1, so a bad pid can never
// turn into kill(0) or kill(-1).
void signal_process_group(pid_t pgid, int sig);

// True while a live process of group `pgid` exists. kill(-pgid, 0) decides
// when the group is gone; when it still answers, /proc is consulted so that
// zombies do not count (an orphaned zombie may never be reaped: on some
// machines pid 1 does not reap, so a killer should prefer to be a
// PR_SET_CHILD_SUBREAPER and reap). False when pgid <= 1.
bool process_group_alive(pid_t pgid);

// True while process `pid` exists and is not a zombie (/proc/<pid>/stat).
bool process_running(pid_t pid);

// True when the environment of process `pid` holds `entry` exactly
// ("STOA_CONTAINER_ID=<id>"); false when it is gone or unreadable.
bool environment_has(pid_t pid, const std::string& entry);

// Sends `sig` to every process whose session id is `sid` (read from
// /proc/<pid>/stat), i.e. everything a session leader started that did not
// start a session of its own. Returns how many were signalled.
int kill_session(pid_t sid, int sig);

// Sends `sig` to every process whose environment holds `entry` exactly
// ("STOA_CONTAINER_ID=<id>"): the slave's way to find everything a
// container started, whatever sessions or groups it made. Returns how many
// were signalled.
int kill_processes_with_env(const std::string& entry, int sig);

// One /proc walk: signals every process whose environment holds
// STOA_CONTAINER_ID=`container_id`, and every member of session `sid` that
// does not name another container (so a pid reused by a newer executor is
// spared). Returns how many were signalled.
int kill_container_leftovers(pid_t sid, const std::string& container_id, int sig);

// A container whose leftovers kill_containers_leftovers() looks for: its
// first process's session id, its id, and that process's start time
// (process_start_ticks; 0 = unknown). Everything the container started began
// at or after that time.
struct LeftoverQuery {
  pid_t sid = -1;
  std::string container_id;
  unsigned long long started_ticks = 0;
};

// kill_container_leftovers for several containers in ONE /proc walk that
// reads the stat of every process but the environment only of processes
// started at or after the earliest query's start time, or in one of the
// sessions (a process older than every container cannot be theirs). A
// process that names container C is killed only when it started at or after
// C's start. Returns how many were signalled.
int kill_containers_leftovers(const std::vector<LeftoverQuery>& queries, int sig);

// When process `pid` started, in clock ticks after boot (/proc/<pid>/stat
// field 22); 0 when it is gone or unreadable.
unsigned long long process_start_ticks(pid_t pid);

// Resource usage of every live process in session `sid` (the posix/cpu and
// posix/mem isolators' view of a container): CPU times in seconds and
// resident memory in bytes, read from /proc/<pid>/stat.
struct Usage {
  double cpus_user_time_secs = 0;
  double cpus_system_time_secs = 0;
  uint64_t mem_rss_bytes = 0;
  int processes = 0;
};
Usage session_usage(pid_t sid);

// While one lives on a thread, session_usage() there answers from a single
// walk of /proc, taken at its first call, instead of walking per call: a
// usage report asks for every container's session once per isolator (two
// walks per container with posix/cpu and posix/mem). Nest-safe; one thread.
class SessionUsageSnapshot {
 public:
  SessionUsageSnapshot();
  ~SessionUsageSnapshot();
  SessionUsageSnapshot(const SessionUsageSnapshot&) = delete;
  SessionUsageSnapshot& operator=(const SessionUsageSnapshot&) = delete;

 private:
  friend Usage session_usage(pid_t sid);
  std::optional<std::map<pid_t, Usage>> sessions_;  // every session's, once walked
  SessionUsageSnapshot* outer_;
};

// Mesos wording for a waitpid() status: "Command exited with status 3",
// "Command terminated with signal Killed", "Command stopped with signal
// Stopped (signal)", otherwise "Command has unknown wait status 4991".
std::string describe_wait_status(int status, const std::string& subject = "Command");

}  // namespace stoa
