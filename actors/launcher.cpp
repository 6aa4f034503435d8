#include "actors/launcher.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <memory>
#include <optional>
#include <string_view>

#include "common/strings.hpp"

extern char** environ;

namespace stoa {
namespace {

constexpr const char* DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin";

// What the child reports through the CLOEXEC pipe when it cannot exec.
enum class ChildStage : int { setsid = 1, redirect = 2, chdir = 3, exec = 4, cgroup = 5, user = 6 };
struct ChildFailure {
  ChildStage stage;
  int err;
  int index;  // ChildStage::cgroup: which of LaunchSpec::cgroups
};

// RAII for a file descriptor owned by the parent.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_;
};

// execvp's lookup, done in the parent so the child only makes system calls.
Try<std::string> resolve_program(const std::string& program, const std::string& path_env) {
  if (program.find('/') != std::string::npos) {
    return program;
  }
  bool found_not_executable = false;
  for (const std::string& dir : split(path_env.empty() ? DEFAULT_PATH : path_env, ':')) {
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::access(candidate.c_str(), X_OK) == 0) {
        return candidate;
      }
      found_not_executable = true;
    }
  }
  if (found_not_executable) {
    return Error("Failed to execute '" + program + "': " + errno_text(EACCES));
  }
  return Error("Program '" + program + "' not found in PATH (" + errno_text(ENOENT) + ")");
}

Try<int> open_output(const std::string& path, const char* what) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Error(std::string("Failed to open ") + what + " file '" + path + "': " + errno_text(errno));
  }
  return fd;
}

// The exit status of a child that failed before exec (as a shell's "cannot run").
constexpr int CHILD_FAILED = 127;

// Child side, between clone and exec: system calls only (run_child).
// Reports the failure and returns the child's exit status (127): the child
// ends by returning from run_child (clone's trampoline makes the exit system
// call), never by a noreturn call — under ASan such a call on the child's
// own stack is reported ("ignoring requested __asan_handle_no_return").
int fail_in_child(int pipe_fd, ChildStage stage, int err, int index = 0) {
  ChildFailure failure{stage, err, index};
  ssize_t ignored = ::write(pipe_fd, &failure, sizeof(failure));
  (void)ignored;
  return CHILD_FAILED;
}

// 0, or fail_in_child()'s status.
int redirect_in_child(int fd, int target, int pipe_fd) {
  if (fd < 0) {
    return 0;
  }
  if (fd == target) {
    if (::fcntl(fd, F_SETFD, 0) != 0) {
      return fail_in_child(pipe_fd, ChildStage::redirect, errno);
    }
    return 0;
  }
  while (::dup2(fd, target) < 0) {
    if (errno != EINTR) {
      return fail_in_child(pipe_fd, ChildStage::redirect, errno);
    }
  }
  return 0;
}

// Writes our pid to each cgroup.procs file (async-signal-safe: no malloc);
// 0, or fail_in_child()'s status.
int join_cgroups_in_child(const std::vector<const char*>& procs_files, int pipe_fd) {
  char digits[24];
  int n = 0;
  for (pid_t pid = ::getpid(); pid > 0 && n < 23; pid /= 10) {
    digits[n++] = static_cast<char>('0' + pid % 10);
  }
  char text[24];
  for (int i = 0; i < n; ++i) {
    text[i] = digits[n - 1 - i];
  }
  for (size_t i = 0; i < procs_files.size(); ++i) {
    int fd = ::open(procs_files[i], O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, text, static_cast<size_t>(n)) != n) {
      int err = errno;
      if (fd >= 0) {
        ::close(fd);
      }
      return fail_in_child(pipe_fd, ChildStage::cgroup, err, static_cast<int>(i));
    }
    ::close(fd);
  }
  return 0;
}

void mark_fds_cloexec_in_child() {
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) {
    return;
  }
  struct rlimit limit {};
  rlim_t max = 65536;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < max) {
    max = limit.rlim_cur;
  }
  for (rlim_t fd = 3; fd < max; ++fd) {
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  }
}

// What the child needs, built by the parent before clone. The child shares
// the parent's memory (CLONE_VM) and only reads this.
struct ChildContext {
  const std::vector<const char*>* procs_files;
  int report_fd;
  bool new_session;
  bool new_group;
  int child_in;
  int child_out;
  int child_err;
  const UserIds* user;  // nullptr: stay who we are
  const char* working_dir;  // nullptr: stay here
  const char* exec_path;
  char* const* argv;
  char* const* envp;
};

// The child, between clone and exec, on its own stack while the parent
// thread waits (CLONE_VFORK): system calls only. No malloc, nothing that
// takes a lock, and credentials changed by raw system calls: glibc's
// setuid() & co. would make every thread of the *parent* change its
// credentials (they share our memory, so glibc believes it runs there).
int run_child(void* arg) {
  const ChildContext& c = *static_cast<const ChildContext*>(arg);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) {
      ::sigaction(sig, &dfl, nullptr);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, _NSIG / 8);

  if (int failed = join_cgroups_in_child(*c.procs_files, c.report_fd)) {
    return failed;
  }
  if (c.new_session && ::setsid() < 0) {
    return fail_in_child(c.report_fd, ChildStage::setsid, errno);
  }
  if (c.new_group && ::setpgid(0, 0) < 0) {
    return fail_in_child(c.report_fd, ChildStage::setsid, errno);
  }
  if (int failed = redirect_in_child(c.child_in, STDIN_FILENO, c.report_fd)) {
    return failed;
  }
  if (int failed = redirect_in_child(c.child_out, STDOUT_FILENO, c.report_fd)) {
    return failed;
  }
  if (int failed = redirect_in_child(c.child_err, STDERR_FILENO, c.report_fd)) {
    return failed;
  }
  if (c.user != nullptr &&
      (::syscall(SYS_setgroups, c.user->groups.size(), c.user->groups.data()) != 0 ||
       ::syscall(SYS_setgid, c.user->gid) != 0 || ::syscall(SYS_setuid, c.user->uid) != 0)) {
    return fail_in_child(c.report_fd, ChildStage::user, errno);
  }
  if (c.working_dir != nullptr && ::chdir(c.working_dir) != 0) {
    return fail_in_child(c.report_fd, ChildStage::chdir, errno);
  }
  mark_fds_cloexec_in_child();
  ::execve(c.exec_path, c.argv, c.envp);
  return fail_in_child(c.report_fd, ChildStage::exec, errno);
}

// The child's stack: enough for run_child's frames (no allocation there).
constexpr size_t CHILD_STACK_BYTES = 64 * 1024;

// Reads the child's failure report; 0 bytes means exec succeeded.
Try<bool> read_child_failure(int fd, ChildFailure* failure) {
  std::size_t got = 0;
  auto* out = reinterpret_cast<char*>(failure);
  while (got < sizeof(*failure)) {
    ssize_t n = ::read(fd, out + got, sizeof(*failure) - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return Error("Failed to read the launch status pipe: " + errno_text(errno));
    }
    if (n == 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  return got == sizeof(*failure);
}

void reap(pid_t pid) {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Try<pid_t> launch(const LaunchSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Error("Failed to launch: empty command");
  }
  const std::string& program = spec.argv[0];

  // Everything the child needs is built here, before clone.
  std::vector<std::string> env_strings;
  std::map<std::string, std::string> env;
  if (spec.inherit_env && environ != nullptr) {
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry(*e);
      std::size_t eq = entry.find('=');
      if (eq != std::string::npos) {
        env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
      }
    }
  }
  for (const auto& [name, value] : spec.env) {
    env[name] = value;
  }
  for (const auto& [name, value] : env) {
    env_strings.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) {
    envp.push_back(s.data());
  }
  envp.push_back(nullptr);

  std::string path_env;
  if (auto it = env.find("PATH"); it != env.end()) {
    path_env = it->second;
  } else if (const char* ours = std::getenv("PATH")) {
    path_env = ours;
  }
  Try<std::string> resolved = resolve_program(program, path_env);
  if (resolved.is_error()) {
    return Error(resolved.error());
  }

  std::vector<std::string> argv_strings = spec.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);

  Fd out_fd;
  Fd err_fd;
  if (!spec.stdout_path.empty()) {
    Try<int> fd = open_output(spec.stdout_path, "stdout");
    if (fd.is_error()) {
      return Error(fd.error());
    }
    out_fd.reset(*fd);
  }
  if (!spec.stderr_path.empty()) {
    if (spec.stderr_path == spec.stdout_path) {
      // One open file description keeps the two streams' writes interleaved in order.
    } else {
      Try<int> fd = open_output(spec.stderr_path, "stderr");
      if (fd.is_error()) {
        return Error(fd.error());
      }
      err_fd.reset(*fd);
    }
  }
  const int child_in = spec.stdin_fd;
  const int child_out = out_fd.get();
  const int child_err = spec.stderr_path.empty() ? -1 : (err_fd.get() >= 0 ? err_fd.get() : out_fd.get());

  std::optional<UserIds> user;
  if (!spec.user.empty()) {
    Try<UserIds> ids = lookup_user(spec.user);
    if (ids.is_error()) {
      return Error("Failed to launch '" + program + "' as user '" + spec.user + "': " + ids.error());
    }
    if (::geteuid() != 0 && ids->uid != ::geteuid()) {
      return Error("Failed to launch '" + program + "' as user '" + spec.user + "' (uid " +
                   std::to_string(ids->uid) + "): switching users needs root, and this process runs as uid " +
                   std::to_string(::geteuid()));
    }
    if (ids->uid != ::geteuid() || ::geteuid() == 0) {
      user = std::move(*ids);
    }
  }
  std::vector<std::string> procs_strings;
  for (const std::string& dir : spec.cgroups) {
    procs_strings.push_back(dir + "/cgroup.procs");
  }
  std::vector<const char*> procs_files;
  for (const std::string& f : procs_strings) {
    procs_files.push_back(f.c_str());
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error("Failed to launch '" + program + "': pipe: " + errno_text(errno));
  }
  Fd pipe_read(pipe_fds[0]);
  Fd pipe_write(pipe_fds[1]);

  const char* exec_path = resolved->c_str();
  const char* working_dir = spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();
  const bool new_session = spec.new_session;
  const bool new_group = !spec.new_session && spec.new_process_group;
  const int report_fd = pipe_write.get();

  // Block every signal across fork so the child never runs one of our handlers
  // before it has reset them.
  sigset_t all;
  sigset_t old_mask;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old_mask);

  ChildContext context{&procs_files, report_fd, new_session, new_group,   child_in,    child_out,
                       child_err,    user ? &*user : nullptr,  working_dir, exec_path,  argv.data(), envp.data()};
  // vfork semantics (posix_spawn's way): the child borrows our memory until
  // it execs, so starting it costs no copy of this (multi-threaded,
  // possibly large) process' page tables; this thread waits meanwhile.
  std::unique_ptr<char[]> stack(new char[CHILD_STACK_BYTES]);
  void* stack_top = stack.get() + CHILD_STACK_BYTES;
  pid_t pid = ::clone(run_child, stack_top, CLONE_VM | CLONE_VFORK | SIGCHLD, &context);
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (pid < 0) {
    return Error("Failed to launch '" + program + "': clone: " + errno_text(fork_errno));
  }

  pipe_write.reset();
  ChildFailure failure{};
  Try<bool> failed = read_child_failure(pipe_read.get(), &failure);
  if (failed.is_error()) {
    // We cannot tell whether exec happened; do not leave a half-started child behind.
    ::kill(pid, SIGKILL);
    reap(pid);
    return Error("Failed to launch '" + program + "': " + failed.error());
  }
  if (!*failed) {
    return pid;
  }
  reap(pid);
  switch (failure.stage) {
    case ChildStage::setsid:
      return Error("Failed to launch '" + program + "': setsid: " + errno_text(failure.err));
    case ChildStage::redirect:
      return Error("Failed to launch '" + program + "': redirecting output: " + errno_text(failure.err));
    case ChildStage::chdir:
      return Error("Failed to launch '" + program + "': cannot change to working directory '" +
                   spec.working_dir + "': " + errno_text(failure.err));
    case ChildStage::cgroup:
      return Error("Failed to launch '" + program + "': cannot join cgroup " +
                   spec.cgroups.at(static_cast<size_t>(failure.index)) + ": " + errno_text(failure.err));
    case ChildStage::user:
      return Error("Failed to launch '" + program + "': cannot switch to user '" + spec.user +
                   "': " + errno_text(failure.err));
    case ChildStage::exec:
      break;
  }
  return Error("Failed to execute '" + program + "': " + errno_text(failure.err));
}

void signal_process_group(pid_t pgid, int sig) {
  if (pgid <= 1) {
    return;
  }
  ::kill(-pgid, sig);  // ESRCH: the group is already gone.
}

namespace {

struct ProcStat {
  pid_t pid = 0;
  char state = 0;
  long pgrp = 0;
  long session = 0;
  unsigned long long utime = 0;  // clock ticks
  unsigned long long stime = 0;
  unsigned long long starttime = 0;  // clock ticks after boot
  long long rss_pages = 0;
};

// Reads all of `path` (a /proc file) into `out` with plain read(2)s: no
// streams, since a walk reads one or two files of every process.
bool read_proc_file(const char* path, std::string* out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ::close(fd);
      return n == 0;
    }
    out->append(buf, static_cast<size_t>(n));
  }
}

// /proc/<name>/stat of one process; nullopt when it is gone or unreadable.
std::optional<ProcStat> read_proc_stat(const char* name) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%s/stat", name);
  thread_local std::string line;
  if (!read_proc_file(path, &line)) {
    return std::nullopt;
  }
  // "<pid> (<comm>) <state> <ppid> <pgrp> <session> ..."; comm may hold spaces and ')'.
  std::size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) {
    return std::nullopt;
  }
  ProcStat ps;
  const char* p = line.c_str() + close + 2;
  ps.state = *p++;
  // Fields 4.. (ppid onwards) are numbers separated by single spaces.
  unsigned long long fields[21] = {};  // fields 4..24
  for (unsigned long long& field : fields) {
    char* end = nullptr;
    field = static_cast<unsigned long long>(std::strtoll(p, &end, 10));
    if (end == p) {
      return std::nullopt;
    }
    p = end;
  }
  ps.pgrp = static_cast<long>(fields[1]);        // field 5
  ps.session = static_cast<long>(fields[2]);     // field 6
  ps.utime = fields[10];                          // field 14
  ps.stime = fields[11];                          // field 15
  ps.starttime = fields[18];                      // field 22
  ps.rss_pages = static_cast<long long>(fields[20]);  // field 24
  ps.pid = static_cast<pid_t>(std::atol(name));
  return ps;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  char name[24];
  std::snprintf(name, sizeof(name), "%d", static_cast<int>(pid));
  return read_proc_stat(name);
}

bool live(const ProcStat& ps) { return ps.state != 'Z' && ps.state != 'X'; }

// Calls `fn` for every process in /proc until it returns false. Processes
// that exit meanwhile are skipped.
template <class Fn>
void for_each_process(Fn fn) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return;
  }
  while (struct dirent* entry = ::readdir(proc)) {
    const char* name = entry->d_name;
    if (name[0] < '0' || name[0] > '9') {
      continue;
    }
    std::optional<ProcStat> ps = read_proc_stat(name);
    if (ps && !fn(*ps)) {
      break;
    }
  }
  ::closedir(proc);
}

// The value of `name` ("STOA_CONTAINER_ID=") in the environment of `pid`.
std::optional<std::string> environment_value(pid_t pid, std::string_view name) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/environ", static_cast<int>(pid));
  thread_local std::string env;
  if (!read_proc_file(path, &env)) {
    return std::nullopt;
  }
  for (std::size_t pos = 0; pos < env.size();) {
    std::size_t end = env.find('\0', pos);
    if (end == std::string::npos) {
      end = env.size();
    }
    std::string_view var(env.data() + pos, end - pos);
    // Empty entries (NUL after NUL) are skipped: an executor adopted from
    // the slave's pool pads its rewritten STOA_CONTAINER_ID with NULs.
    if (!var.empty() && var.substr(0, name.size()) == name) {
      return std::string(var.substr(name.size()));
    }
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace

bool process_running(pid_t pid) {
  if (pid <= 0) {
    return false;
  }
  std::optional<ProcStat> ps = read_proc_stat(pid);
  return ps && live(*ps);
}

unsigned long long process_start_ticks(pid_t pid) {
  if (pid <= 0) {
    return 0;
  }
  std::optional<ProcStat> ps = read_proc_stat(pid);
  return ps ? ps->starttime : 0;
}

bool environment_has(pid_t pid, const std::string& entry) {
  std::size_t eq = entry.find('=');
  if (eq == std::string::npos) {
    return false;
  }
  std::optional<std::string> value = environment_value(pid, std::string_view(entry).substr(0, eq + 1));
  return value && *value == entry.substr(eq + 1);
}

int kill_containers_leftovers(const std::vector<LeftoverQuery>& queries, int sig) {
  static constexpr std::string_view key = "STOA_CONTAINER_ID=";
  if (queries.empty()) {
    return 0;
  }
  unsigned long long earliest = queries.front().started_ticks;
  for (const LeftoverQuery& q : queries) {
    earliest = std::min(earliest, q.started_ticks);
  }
  int count = 0;
  const pid_t self = ::getpid();
  for_each_process([&](const ProcStat& ps) {
    if (ps.pid == self) {
      return true;
    }
    bool in_some_session = false;
    for (const LeftoverQuery& q : queries) {
      in_some_session = in_some_session || (q.sid > 1 && ps.session == q.sid);
    }
    // A process older than every container cannot be one of theirs: its
    // environment is not read (the costly part of the walk).
    if (!in_some_session && ps.starttime < earliest) {
      return true;
    }
    std::optional<std::string> owner = environment_value(ps.pid, key);
    for (const LeftoverQuery& q : queries) {
      bool ours = owner && *owner == q.container_id && ps.starttime >= q.started_ticks;
      // A session member that names another container is not ours even if
      // the session id matches: the pid was reused by a newer executor.
      bool in_session = q.sid > 1 && ps.session == q.sid && !(owner && *owner != q.container_id);
      if (ours || in_session) {
        if (::kill(ps.pid, sig) == 0) {
          ++count;
        }
        break;
      }
    }
    return true;
  });
  return count;
}

int kill_container_leftovers(pid_t sid, const std::string& container_id, int sig) {
  return kill_containers_leftovers({LeftoverQuery{sid, container_id, 0}}, sig);
}

int kill_session(pid_t sid, int sig) {
  if (sid <= 1) {
    return 0;
  }
  int count = 0;
  for_each_process([&](const ProcStat& ps) {
    if (ps.session == sid && ::kill(ps.pid, sig) == 0) {
      ++count;
    }
    return true;
  });
  return count;
}

int kill_processes_with_env(const std::string& entry, int sig) {
  int count = 0;
  const pid_t self = ::getpid();
  for_each_process([&](const ProcStat& ps) {
    if (ps.pid != self && environment_has(ps.pid, entry) && ::kill(ps.pid, sig) == 0) {
      ++count;
    }
    return true;
  });
  return count;
}

namespace {

thread_local SessionUsageSnapshot* current_usage_snapshot = nullptr;

void add_usage(Usage& u, const ProcStat& ps) {
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  static const long page = ::sysconf(_SC_PAGESIZE);
  u.cpus_user_time_secs += static_cast<double>(ps.utime) / ticks;
  u.cpus_system_time_secs += static_cast<double>(ps.stime) / ticks;
  u.mem_rss_bytes += static_cast<uint64_t>(std::max<long long>(0, ps.rss_pages)) * page;
  ++u.processes;
}

}  // namespace

SessionUsageSnapshot::SessionUsageSnapshot() : outer_(current_usage_snapshot) { current_usage_snapshot = this; }

SessionUsageSnapshot::~SessionUsageSnapshot() { current_usage_snapshot = outer_; }

Usage session_usage(pid_t sid) {
  Usage u;
  if (sid <= 1) {
    return u;
  }
  if (SessionUsageSnapshot* snapshot = current_usage_snapshot) {
    if (!snapshot->sessions_) {
      std::map<pid_t, Usage>& all = snapshot->sessions_.emplace();
      for_each_process([&](const ProcStat& ps) {
        if (ps.session > 1 && live(ps)) {
          add_usage(all[static_cast<pid_t>(ps.session)], ps);
        }
        return true;
      });
    }
    auto it = snapshot->sessions_->find(sid);
    return it == snapshot->sessions_->end() ? u : it->second;
  }
  for_each_process([&](const ProcStat& ps) {
    if (ps.session == sid && live(ps)) {
      add_usage(u, ps);
    }
    return true;
  });
  return u;
}

bool process_group_alive(pid_t pgid) {
  if (pgid <= 1) {
    return false;
  }
  if (::kill(-pgid, 0) != 0 && errno == ESRCH) {
    return false;
  }
  // Something of the group exists; it is alive unless every member is a zombie.
  bool alive = false;
  for_each_process([&](const ProcStat& ps) {
    if (ps.pgrp == pgid && live(ps)) {
      alive = true;
      return false;
    }
    return true;
  });
  return alive;
}

std::string describe_wait_status(int status, const std::string& subject) {
  if (WIFEXITED(status)) {
    return subject + " exited with status " + std::to_string(WEXITSTATUS(status));
  }
  auto signal_name = [](int sig) -> std::string {
    const char* text = sigdescr_np(sig);
    return text != nullptr ? text : "Unknown signal " + std::to_string(sig);
  };
  if (WIFSIGNALED(status)) {
    return subject + " terminated with signal " + signal_name(WTERMSIG(status));
  }
  if (WIFSTOPPED(status)) {
    return subject + " stopped with signal " + signal_name(WSTOPSIG(status));
  }
  return subject + " has unknown wait status " + std::to_string(status);
}

}  // namespace stoa
