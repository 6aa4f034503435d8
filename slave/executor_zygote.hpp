#pragma once
// The slave's side of stoa-http-executor's zygote (docs/executor-pool.md):
// with --http_command_executor the warm pool's executors are forked by one
// stoa-http-executor started for that (serve_as_zygote in
// slave/http_executor_io.hpp) instead of each being exec'd: a fork of that
// small process costs ~0.2 ms of CPU where an exec costs ~0.85 ms on this
// project's VMs (docs/benchmarks.md, session 24). The zygote forks with
// CLONE_PARENT, so every pooled executor is this process's child, reaped
// and recovered exactly as an exec'd one.

#include <sys/types.h>

#include <mutex>
#include <optional>
#include <string>

#include "actors/launcher.hpp"
#include "common/try.hpp"

namespace stoa::slave {

class ExecutorZygote {
 public:
  // `spec` starts the zygote (the pool's LaunchSpec without a token, with
  // STOA_EXECUTOR_ZYGOTE=1); its stdin is set here.
  explicit ExecutorZygote(LaunchSpec spec) : spec_(std::move(spec)) {}
  ~ExecutorZygote() { stop(); }
  ExecutorZygote(const ExecutorZygote&) = delete;
  ExecutorZygote& operator=(const ExecutorZygote&) = delete;

  // A pooled executor for `token`, forked by the zygote: a child of this
  // process, which must reap it. Starts the zygote first when none runs (or
  // the last one died: it is reaped and started again). Errors: the zygote
  // cannot start, or did not answer within a few seconds (it is then
  // killed), or could not fork (its errno). Thread-safe.
  Try<pid_t> fork_pooled(const std::string& token);
  // The zygote's pid, or -1.
  pid_t pid();
  // Kills (SIGKILL) and reaps the zygote, if any. Its pooled executors stay.
  void stop();

 private:
  std::optional<Error> start_locked();
  void stop_locked();

  std::mutex mu_;
  LaunchSpec spec_;
  pid_t pid_ = -1;
  int fd_ = -1;  // our end of its stdin socketpair
  std::string buffer_;  // a partial answer
};

}  // namespace stoa::slave
