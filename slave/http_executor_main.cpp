// stoa-http-executor: the command executor that speaks Mesos' v1 executor
// HTTP API (JSON over `POST /api/v1/executor` on the slave's HTTP port) and
// links nothing but libc and libstdc++: the CAF executor (stoa-executor,
// slave/executor_main.cpp) spends most of its start in the dynamic linker
// binding CAF's, protobuf's and glog's symbols, and one executor starts per
// command task. It does what stoa-executor does for a task without health
// check: TASK_STARTING, the command in its own process group in the sandbox
// (a simple command exec'd without sh, shell_free_argv), TASK_RUNNING, a
// terminal update with the exit status; SIGTERM to the group on a kill,
// SIGKILL after the grace period; exit once the slave has acknowledged the
// terminal update (or 10 s after it was sent).
//
// The environment (MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID, ...) is read
// by config_from_environment() (slave/http_executor.hpp); a missing or bad
// variable is named on stderr and the exit code is 1.
//
// Two other ways to start (docs/executor-pool.md; slave/http_executor_io.hpp):
// with STOA_POOL_TOKEN, as a pooled executor that waits on
// POST /stoa/executor/pool for the container it adopts and then carries on
// as above with that stream as its subscription; with
// STOA_EXECUTOR_ZYGOTE=1, as the slave's executor zygote, which forks such
// pooled executors on request (each child returns from serve_as_zygote()
// and goes the pooled way).
//
// Two connections to the slave: SUBSCRIBE on the first, whose 200 response
// is then the endless RecordIO stream of events; UPDATE calls, one at a
// time, on a second keep-alive one (reconnected when it breaks; an update
// that got no 202 is sent again). Everything runs on one thread in one
// poll() loop over both sockets, the task's pidfd and the earliest timer of
// the state machine (CommandExecutor, slave/http_executor_machine.cpp),
// which decides everything and is tested without sockets. Sockets are
// non-blocking with a write buffer each, so nothing but poll() ever waits;
// a connect gets CONNECT_TIMEOUT, an UPDATE its answer within
// UPDATE_RESPONSE_TIMEOUT, else the connection counts as broken.
//
// When the event stream ends: a framework that does not checkpoint loses
// the task (SIGKILL to its group, exit 1). One that checkpoints
// (MESOS_CHECKPOINT=1) keeps it running and re-subscribes after a random
// wait of at most MESOS_SUBSCRIPTION_BACKOFF_MAX, again and again until
// MESOS_RECOVERY_TIMEOUT has passed (then the task is killed, exit 1); the
// re-SUBSCRIBE carries the task and every unacknowledged update, which the
// slave deduplicates by uuid. The first subscription is retried so for
// FIRST_SUBSCRIBE_TIMEOUT only. A SUBSCRIBE answered 503 or 404 (a slave
// not ready yet) is such a failed attempt; another status but 200 ends it.
//
// The task is watched through a pidfd (Linux >= 5.3; on older kernels
// waitpid(WNOHANG) every 100 ms) and reaped with waitpid. No threads, no
// signal handlers: SIGPIPE is avoided with MSG_NOSIGNAL.

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <variant>

#include "actors/launcher.hpp"
#include "common/strings.hpp"
#include "common/json.hpp"
#include "common/uuid.hpp"
#include "slave/http_executor.hpp"
#include "slave/http_executor_io.hpp"
#include "slave/pool_adoption.hpp"

namespace stoa {

// actors/launcher.hpp's lookup_user, in place of actors/user_lookup.cpp's
// (not linked here): this executor never switches users — the slave starts
// it as the task's user (--switch_user) and the task inherits that user, as
// under Mesos' command executor — so a launch never asks; and without
// getpwnam_r and getgrouplist the binary links statically (-static-pie,
// slave/CMakeLists.txt) without glibc's NSS, which a static binary could
// reach only through the NSS modules of the glibc it was built with.
Try<UserIds> lookup_user(const std::string& user) {
  return Error("stoa-http-executor does not switch users (the slave starts it as the task's user); cannot run as '" +
               user + "'");
}

}  // namespace stoa

namespace {

using namespace stoa;
using namespace stoa::http_executor;

// An UPDATE not answered within this is sent again on a new connection.
constexpr auto UPDATE_RESPONSE_TIMEOUT = std::chrono::seconds(10);
// After a failed UPDATE connection, wait this long before the next one.
constexpr auto UPDATE_RETRY_DELAY = std::chrono::milliseconds(200);
// Without pidfd: how often waitpid(WNOHANG) looks at the task.
constexpr auto REAP_POLL_INTERVAL = std::chrono::milliseconds(100);

class RealProcesses : public TaskProcesses {
 public:
  Try<pid_t> launch(const LaunchSpec& spec) override {
    if (before_launch) {
      before_launch();
    }
    return stoa::launch(spec);
  }
  void signal_group(pid_t pgid, int sig) override { signal_process_group(pgid, sig); }
  // Runs before each launch (the loop's send_updates_now).
  std::function<void()> before_launch;
};

int pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return static_cast<int>(fd);
  }
#endif
  (void)pid;
  return -1;
}

class Loop {
 public:
  Loop(const ExecutorConfig& config, CommandExecutor& exec) : config_(config), exec_(exec) {}

  // The task's launch blocks this thread until the task has exec'd (about
  // a millisecond): the update just made, TASK_STARTING, goes out first, so
  // that the slave has it, and its 202 may be back, by the time the task
  // runs (only then may TASK_RUNNING follow). Anything that cannot go at
  // once (a connect still under way) is left to the loop.
  void send_updates_now() {
    const TimePoint now = Clock::now();
    if (upd_.open() && upd_.connecting) {
      pollfd p{upd_.fd, POLLOUT, 0};
      if (::poll(&p, 1, 0) != 1) {
        return;
      }
      if (std::optional<Error> e = upd_.finish_connect(config_)) {
        return update_broken(e->message, now);
      }
    }
    start_update(now);
    if (upd_.open() && !upd_.connecting) {
      if (std::optional<Error> e = upd_.flush()) {
        update_broken(e->message, now);
      }
    }
  }

  // A pooled executor's adoption stream (wait_for_adoption) becomes the
  // subscription, with the records that came after ADOPTED; the UPDATE
  // connection opens beside it, as start_subscription() does.
  void take_adopted_stream(Connection sub, Connection upd, RecordIoDecoder decoder,
                           const std::vector<std::string>& rest) {
    const TimePoint now = Clock::now();
    sub_ = std::move(sub);
    upd_ = std::move(upd);
    decoder_ = std::move(decoder);
    exec_.begin_adopted_subscription();
    if (!upd_.open() && upd_.connect(config_)) {
      upd_.close();
    }
    if (dispatch(rest, now) && sub_.open() && sub_.response.complete()) {
      subscription_broken("the slave ended the event stream", now);
    }
  }

  int run() {
    while (!exec_.exit_code()) {
      TimePoint now = Clock::now();
      exec_.on_timer(now);
      check_deadlines(now);
      start_subscription(now);
      start_update(now);
      if (exec_.exit_code()) {
        break;
      }
      watch_task();
      poll_once(now);
    }
    sub_.close();
    upd_.close();
    if (pidfd_ >= 0) {
      ::close(pidfd_);
    }
    return *exec_.exit_code();
  }

 private:
  void check_deadlines(TimePoint now) {
    if (sub_.open() && sub_.connecting && now >= sub_.deadline) {
      sub_.close();
      exec_.subscription_lost("connect to " + config_.agent_endpoint + " timed out", now);
    }
    if (upd_.open() && update_busy_ && now >= upd_.deadline) {
      update_broken("no answer within " + format_duration(UPDATE_RESPONSE_TIMEOUT), now);
    }
  }

  void start_subscription(TimePoint now) {
    if (sub_.open() || !exec_.subscribe_due(now)) {
      return;
    }
    const std::string body = exec_.begin_subscribe();
    decoder_ = RecordIoDecoder();
    if (std::optional<Error> e = sub_.connect(config_)) {
      exec_.subscription_lost(e->message, now);
      return;
    }
    sub_.out = http_post_call(config_.agent_endpoint, body);
    sub_.deadline = now + CONNECT_TIMEOUT;
    // The UPDATE connection opens beside the subscription, so that the
    // first update (TASK_STARTING, sent as the task launches) does not wait
    // for a connect and the slave's accept. A failure here is retried by
    // start_update() when an update needs the connection.
    if (!upd_.open() && upd_.connect(config_)) {
      upd_.close();
    }
  }

  void start_update(TimePoint now) {
    if (update_busy_ || now < update_retry_at_) {
      return;
    }
    std::optional<StatusUpdateRecord> u = exec_.next_update();
    if (!u) {
      return;
    }
    if (!upd_.open()) {
      if (std::optional<Error> e = upd_.connect(config_)) {
        log_to_stderr("UPDATE connection failed: " + e->message);
        exec_.update_failed();
        update_retry_at_ = now + UPDATE_RETRY_DELAY;
        return;
      }
    }
    update_busy_ = true;
    upd_.response.reset();
    upd_.out += http_post_call(config_.agent_endpoint, update_call(config_.id, *u));
    upd_.deadline = now + UPDATE_RESPONSE_TIMEOUT;
  }

  void update_broken(const std::string& why, TimePoint now) {
    upd_.close();
    if (update_busy_) {
      log_to_stderr("UPDATE connection broke (" + why + "); the update goes again");
      update_busy_ = false;
      exec_.update_failed();
      update_retry_at_ = now + UPDATE_RETRY_DELAY;
    }
  }

  void watch_task() {
    const pid_t pid = exec_.task_pid();
    if (pid > 0 && pid != watched_) {
      watched_ = pid;
      if (pidfd_ >= 0) {
        ::close(pidfd_);
      }
      pidfd_ = pidfd_open(pid);
    }
  }

  void poll_once(TimePoint now) {
    pollfd fds[3];
    int n = 0;
    int sub_i = -1;
    int upd_i = -1;
    int pid_i = -1;
    if (sub_.open()) {
      sub_i = n;
      fds[n++] = pollfd{sub_.fd, sub_.events(), 0};
    }
    if (upd_.open()) {
      upd_i = n;
      fds[n++] = pollfd{upd_.fd, upd_.events(), 0};
    }
    if (watched_ > 0 && pidfd_ >= 0) {
      pid_i = n;
      fds[n++] = pollfd{pidfd_, POLLIN, 0};
    }
    std::optional<TimePoint> wake = exec_.next_deadline();
    auto consider = [&wake](TimePoint t) {
      if (!wake || t < *wake) {
        wake = t;
      }
    };
    if (sub_.open() && sub_.connecting) {
      consider(sub_.deadline);
    }
    if (update_busy_) {
      consider(upd_.deadline);
    } else if (update_retry_at_ > now) {
      consider(update_retry_at_);
    }
    if (watched_ > 0 && pidfd_ < 0) {
      consider(now + REAP_POLL_INTERVAL);
    }
    int timeout = -1;
    if (wake) {
      // Rounded up, so that the loop does not spin until the deadline.
      const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*wake - now).count();
      timeout = static_cast<int>(std::clamp<long long>(ms, 0, 60 * 60 * 1000));
    }
    if (::poll(fds, static_cast<nfds_t>(n), timeout) < 0) {
      if (errno != EINTR) {
        log_to_stderr("poll: " + errno_text(errno));  // ENOMEM: try again
      }
      return;
    }
    now = Clock::now();
    if (watched_ > 0 && (pid_i < 0 ? pidfd_ < 0 : fds[pid_i].revents != 0)) {
      reap(now);
    }
    if (sub_i >= 0 && fds[sub_i].revents != 0 && !exec_.exit_code()) {
      on_subscription_io(fds[sub_i].revents, now);
    }
    if (upd_i >= 0 && fds[upd_i].revents != 0 && !exec_.exit_code()) {
      on_update_io(fds[upd_i].revents, now);
    }
  }

  void reap(TimePoint now) {
    int status = 0;
    const pid_t r = ::waitpid(watched_, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) {
      return;
    }
    if (r < 0) {
      // Not our child any more (cannot happen: nobody else reaps it).
      log_to_stderr("waitpid(" + std::to_string(watched_) + "): " + errno_text(errno));
      status = W_EXITCODE(255, 0);
    }
    if (pidfd_ >= 0) {
      ::close(pidfd_);
      pidfd_ = -1;
    }
    watched_ = -1;
    exec_.task_exited(status, now);
  }

  void subscription_broken(const std::string& why, TimePoint now) {
    sub_.close();
    exec_.subscription_lost(why, now);
  }

  void on_subscription_io(short revents, TimePoint now) {
    if (std::optional<Error> e = sub_.advance(config_)) {
      return subscription_broken(e->message, now);
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      return;
    }
    // A bounded number of reads, so that a busy stream cannot starve the
    // task's exit or the timers.
    for (int i = 0; i < 16 && sub_.open() && !exec_.exit_code(); ++i) {
      Try<std::optional<size_t>> got = sub_.read(buf_, sizeof(buf_));
      if (got.is_error()) {
        return subscription_broken(got.error(), now);
      }
      if (!*got) {
        return;  // nothing more for now
      }
      if (**got == 0) {
        return subscription_ended(now);
      }
      std::string_view data(buf_, **got);
      Try<size_t> used = sub_.response.feed(data);
      if (used.is_error()) {
        return subscription_broken("bad response to SUBSCRIBE: " + used.error(), now);
      }
      if (!sub_.response.head_done()) {
        continue;
      }
      if (sub_.response.head().status != 200) {
        if (sub_.response.complete()) {
          return subscription_refused(now);
        }
        continue;  // the error body comes
      }
      if (!consume_events(now) || !sub_.open()) {
        return;
      }
      if (sub_.response.complete()) {
        return subscription_broken("the slave ended the event stream", now);
      }
    }
  }

  // The events in the body so far; false when the stream was dropped.
  bool consume_events(TimePoint now) {
    Try<std::vector<std::string>> records = decoder_.feed(sub_.response.body());
    sub_.response.body().clear();
    if (records.is_error()) {
      subscription_broken("bad event stream: " + records.error(), now);
      return false;
    }
    return dispatch(*records, now);
  }

  // Each record to the executor, in order; false when the stream was dropped.
  bool dispatch(const std::vector<std::string>& records, TimePoint now) {
    for (const std::string& record : records) {
      Try<Event> event = parse_event(record);
      if (event.is_error()) {
        // As Mesos' executor library: an event we cannot decode ends the
        // stream (and a checkpointing executor subscribes again).
        subscription_broken(event.error(), now);
        return false;
      }
      exec_.on_event(*event, now);
      if (exec_.exit_code()) {
        return false;
      }
    }
    return true;
  }

  void subscription_ended(TimePoint now) {
    std::optional<Error> e = sub_.response.finish();
    if (sub_.response.head_done() && sub_.response.head().status != 200 && !e) {
      return subscription_refused(now);
    }
    subscription_broken(e ? e->message : "the slave closed the event stream", now);
  }

  void subscription_refused(TimePoint now) {
    const int status = sub_.response.head().status;
    const std::string message = error_message(sub_.response.body());
    sub_.close();
    exec_.subscription_refused(status, message, now);
  }

  void on_update_io(short revents, TimePoint now) {
    if (std::optional<Error> e = upd_.advance(config_)) {
      return update_broken(e->message, now);
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
      return;
    }
    for (int i = 0; i < 16 && upd_.open(); ++i) {
      Try<std::optional<size_t>> got = upd_.read(buf_, sizeof(buf_));
      if (got.is_error()) {
        return update_broken(got.error(), now);
      }
      if (!*got) {
        return;
      }
      if (**got == 0) {
        if (update_busy_ && !upd_.response.finish() && upd_.response.complete()) {
          update_answered();
        }
        return update_broken("the slave closed the connection", now);
      }
      if (!update_busy_) {
        return update_broken("unexpected bytes from the slave", now);  // nothing was asked
      }
      Try<size_t> used = upd_.response.feed(std::string_view(buf_, **got));
      if (used.is_error()) {
        return update_broken("bad response to UPDATE: " + used.error(), now);
      }
      if (upd_.response.complete()) {
        const bool keep = upd_.response.head().keep_alive;
        update_answered();
        if (!keep) {
          upd_.close();
        }
        return;
      }
    }
  }

  void update_answered() {
    const int status = upd_.response.head().status;
    update_busy_ = false;
    if (status == 202) {
      exec_.update_accepted();
    } else {
      exec_.update_rejected(status, error_message(upd_.response.body()));
    }
    upd_.response.reset();
  }

  const ExecutorConfig& config_;
  CommandExecutor& exec_;
  Connection sub_;
  Connection upd_;
  RecordIoDecoder decoder_;
  bool update_busy_ = false;
  TimePoint update_retry_at_{};
  pid_t watched_ = -1;
  int pidfd_ = -1;
  char buf_[64 * 1024];
};

}  // namespace

int main() {
  std::optional<std::string> pool_token;
  if (const char* zygote = std::getenv(slave::ZYGOTE_VARIABLE); zygote != nullptr && std::string(zygote) == "1") {
    pool_token = serve_as_zygote();
    if (!pool_token) {
      return 0;  // the zygote: its slave went
    }
  } else if (const char* token = std::getenv(slave::POOL_TOKEN_VARIABLE); token != nullptr && *token != '\0') {
    pool_token = token;
  }
  std::optional<AdoptionStream> adopted;
  if (pool_token) {
    const std::string& token = *pool_token;
    ExecutorConfig endpoint;
    if (std::optional<Error> e = agent_endpoint_from_environment([](const char* n) { return std::getenv(n); },
                                                                 &endpoint)) {
      log_to_stderr("stoa-http-executor (pooled): " + e->message);
      return 1;
    }
    std::variant<int, AdoptionStream> got = wait_for_adoption(endpoint, token);
    if (const int* code = std::get_if<int>(&got)) {
      return *code;
    }
    adopted = std::move(std::get<AdoptionStream>(got));
    if (std::optional<Error> e = adopt_container(adopted->adoption)) {
      log_to_stderr("stoa-http-executor: cannot adopt container " + adopted->adoption.container_id + ": " +
                    e->message);
      return 1;
    }
    log_to_stderr("Adopted container " + adopted->adoption.container_id + " in " + adopted->adoption.directory);
  }
  Try<ExecutorConfig> config = config_from_environment([](const char* name) { return std::getenv(name); });
  if (config.is_error()) {
    log_to_stderr("stoa-http-executor: " + config.error());
    return 1;
  }
  log_to_stderr("stoa-http-executor starting: executor " + config->id.executor_id + " of framework " +
                config->id.framework_id + ", container " + config->container_id + ", slave " +
                config->agent_endpoint + (config->domain_socket.empty() ? "" : " over " + config->domain_socket) +
                (config->checkpoint ? " (checkpointing)" : ""));
  RealProcesses processes;
  // Seeded at the first retry only: most executors never need it.
  std::optional<std::mt19937_64> rng;
  auto random_wait = [&rng](Duration max) {
    if (!rng) {
      const std::string seed = random_uuid_bytes();
      std::seed_seq seq(seed.begin(), seed.end());
      rng.emplace(seq);
    }
    std::uniform_int_distribution<Duration::rep> pick(0, std::max<Duration::rep>(0, max.count()));
    return Duration(pick(*rng));
  };
  CommandExecutor exec(*config, processes, log_to_stderr, random_wait, Clock::now());
  Loop loop(*config, exec);
  processes.before_launch = [&loop] { loop.send_updates_now(); };
  if (adopted) {
    loop.take_adopted_stream(std::move(adopted->sub), std::move(adopted->upd), std::move(adopted->decoder),
                             adopted->rest);
  }
  return loop.run();
}
