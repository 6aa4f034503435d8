// stoa-docker-executor: Mesos' mesos-docker-executor (docs/docker.md). The
// slave's docker containerizer starts one per Docker task, as it starts
// stoa-executor for a command task (the same STOA_* environment), plus
// STOA_DOCKER (the CLI), STOA_DOCKER_SOCKET, STOA_DOCKER_STOP_TIMEOUT,
// STOA_CONTAINER_ID, STOA_CONTAINER_NAME ("mesos-<container id>"),
// STOA_MAPPED_DIRECTORY (--sandbox_directory) and STOA_WORK_DIR.
//
// For its one task it creates the container (`docker create` with
// docker_create_args(), slave/docker_task.hpp), starts it, copies its
// stdout/stderr to the sandbox's `stdout`/`stderr` files, reports
// TASK_STARTING, TASK_RUNNING (with container_status: the container's IP
// and port mappings, our pid) and, once the container exits, TASK_FINISHED
// (status 0), TASK_FAILED ("Container exited with status N"; the engine's
// OOM kill is REASON_CONTAINER_LIMITATION_MEMORY) or TASK_KILLED (stopped
// by us). A container that cannot be created or started is TASK_FAILED
// with REASON_CONTAINER_LAUNCH_FAILED and the engine's (or CLI's) message;
// what was created is left to the slave, which removes it after
// --docker_remove_delay.
//
// Killing is `docker stop` with the kill policy's grace period (the kill
// request's, else the task's, else STOA_DOCKER_STOP_TIMEOUT), announced by
// TASK_KILLING to frameworks that asked for it. A kill before the container
// started stops it from starting: TASK_KILLED. Losing the slave without
// checkpointing kills the container and ends the executor (as the command
// executor kills its task); with checkpointing the container keeps running
// while the SDK waits for the slave to come back.
//
// What it shares with stoa-executor (updates until acknowledged, the kill
// grace period, TASK_KILLING, health verdicts) is slave/task_executor.hpp.
//
// A task's health_check runs through the SDK's checker against the
// container (HealthCheckTarget): COMMAND checks inside it through the
// engine's exec API, HTTP and TCP checks to 127.0.0.1 in its network
// namespace (the host's for --net=host). docs/health-checks.md.
// Every engine call blocks, so each runs in a detached actor of its own;
// results come back to the executor actor as messages (unhandled()).

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "common/flags.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"
#include "common/task_state.hpp"
#include "framework/health_checker.hpp"
#include "slave/docker.hpp"
#include "slave/docker_task.hpp"
#include "slave/task_executor.hpp"

namespace {

using namespace stoa;
namespace docker = stoa::slave::docker;

// Results of the executor's workers, sent to the executor actor itself.
// (launched, bool started, std::string error, int pid, std::string ip, std::string network_mode)
using dk_launched_atom = caf::atom_constant<caf::atom("dkx_launch")>;
// (exited, bool ok, int exit_code, bool oom_killed, int64_t memory_limit, std::string error)
using dk_exited_atom = caf::atom_constant<caf::atom("dkx_exit")>;
// (stopped, std::string error)
using dk_stopped_atom = caf::atom_constant<caf::atom("dkx_stop")>;
// (logs, std::string error): the log follower ended.
using dk_logs_atom = caf::atom_constant<caf::atom("dkx_logs")>;
// Starts a worker's work.
using dk_work_atom = caf::atom_constant<caf::atom("dkx_work")>;

// Once the container has exited, its last output may still be on its way
// to the sandbox: the terminal update waits for the log follower this long
// at most.
constexpr auto LOG_DRAIN_TIMEOUT = std::chrono::seconds(2);
// A wait on the container that fails (the engine restarted, the connection
// dropped) is retried this often, this long apart, before the task is
// failed.
constexpr int MAX_WAIT_ATTEMPTS = 5;
constexpr auto WAIT_RETRY_DELAY = std::chrono::seconds(1);
// An exit by SIGKILL without OOMKilled is inspected again this often, this
// far apart, in case dockerd records the OOM kill after the exit.
constexpr int OOM_RECHECK_ATTEMPTS = 10;
constexpr auto OOM_RECHECK_DELAY = std::chrono::milliseconds(100);
// A stop that fails is retried as a SIGKILL this often, this long apart.
constexpr int MAX_STOP_ATTEMPTS = 3;
constexpr auto STOP_RETRY_DELAY = std::chrono::seconds(2);
// What a health check's failing exec output adds to its message, at most.
constexpr size_t MAX_CHECK_OUTPUT = 200;

// The docker executor's own settings (the slave's docker flags).
struct DockerExecutorOptions {
  std::string docker = "docker";                  // STOA_DOCKER
  std::string socket = "/var/run/docker.sock";    // STOA_DOCKER_SOCKET
  std::chrono::nanoseconds stop_timeout{0};       // STOA_DOCKER_STOP_TIMEOUT
  std::string container_id;                       // STOA_CONTAINER_ID
  std::string container_name;                     // STOA_CONTAINER_NAME, else mesos-<container id>
  std::string mapped_directory = "/mnt/mesos/sandbox";  // STOA_MAPPED_DIRECTORY
  std::string work_dir;                           // STOA_WORK_DIR
  std::string slave_id;                           // STOA_SLAVE_ID (else the registration's)

  // The error names the variable and its value.
  static Try<DockerExecutorOptions> from_environment() {
    auto env = [](const char* name) {
      const char* v = std::getenv(name);
      return std::string(v != nullptr ? v : "");
    };
    DockerExecutorOptions o;
    if (std::string v = env("STOA_DOCKER"); !v.empty()) {
      o.docker = v;
    }
    if (std::string v = env("STOA_DOCKER_SOCKET"); !v.empty()) {
      o.socket = v;
    }
    if (std::string v = env("STOA_DOCKER_STOP_TIMEOUT"); !v.empty()) {
      Try<Duration> d = parse_duration(v);
      if (d.is_error()) {
        return Error("invalid STOA_DOCKER_STOP_TIMEOUT '" + v + "': " + d.error());
      }
      if (*d > MAX_FLAG_DURATION) {
        return Error("invalid STOA_DOCKER_STOP_TIMEOUT '" + v + "': must be at most " +
                     format_duration(MAX_FLAG_DURATION));
      }
      o.stop_timeout = *d;
    }
    o.container_id = env("STOA_CONTAINER_ID");
    if (o.container_id.empty()) {
      return Error("missing environment variable STOA_CONTAINER_ID (the executor is started by stoa-slave)");
    }
    o.container_name = env("STOA_CONTAINER_NAME");
    if (o.container_name.empty()) {
      o.container_name = docker::container_name(o.container_id);
    }
    if (std::string v = env("STOA_MAPPED_DIRECTORY"); !v.empty()) {
      if (v[0] != '/') {
        return Error("invalid STOA_MAPPED_DIRECTORY '" + v + "': must be an absolute path");
      }
      o.mapped_directory = v;
    }
    o.work_dir = env("STOA_WORK_DIR");
    if (o.work_dir.empty()) {
      return Error("missing environment variable STOA_WORK_DIR (the executor is started by stoa-slave)");
    }
    o.slave_id = env("STOA_SLAVE_ID");
    return o;
  }
};

// Runs `work` on a thread of its own (a detached actor that exits after
// it). `work` reports to whom it likes with caf::anon_send.
void run_detached(caf::actor_system& sys, std::function<void()> work) {
  caf::actor worker = sys.spawn<caf::detached>([work = std::move(work)](caf::event_based_actor* self) {
    return caf::behavior{[self, work](dk_work_atom) {
      work();
      self->quit();
    }};
  });
  caf::anon_send(worker, dk_work_atom::value);
}

// The CLI's multi-line messages ("unknown flag: --x\nSee 'docker create
// --help'.") as one line, for a status message.
std::string one_line(const std::string& text) {
  std::vector<std::string> lines;
  for (const std::string& line : split(text, '\n')) {
    if (!trim(line).empty()) {
      lines.emplace_back(trim(line));
    }
  }
  return join(lines, " ");
}

std::string megabytes(int64_t bytes) { return std::to_string(bytes / (1024 * 1024)) + "MB"; }

// The environment of a COMMAND health check's exec: the command's
// variables as "NAME=VALUE" (the engine adds them to the container's).
std::vector<std::string> exec_env(const CommandInfo& command) {
  std::vector<std::string> env;
  for (const auto& v : command.environment().variables()) {
    env.push_back(v.name() + "=" + v.value());
  }
  return env;
}

class DockerExecutor : public slave::TaskExecutor {
 public:
  DockerExecutor(caf::actor_system& sys, DockerExecutorOptions options, std::shared_ptr<std::atomic<bool>> failed)
      : TaskExecutor(sys, std::move(failed), options.stop_timeout),
        options_(std::move(options)),
        engine_(std::make_shared<docker::Engine>(options_.docker, options_.socket)) {}

  // The waiter and the log follower give up within 100 ms once the
  // executor is gone, so that the process can exit.
  ~DockerExecutor() override { stopping_->store(true); }

  void disconnected(ExecutorDriver& d) override {
    if (d.reconnecting()) {
      LOG_WARNING << "Lost the slave; the framework checkpoints, so container " << options_.container_name
                  << " keeps running until the slave comes back";
      return;
    }
    LOG_WARNING << "Lost the slave; killing container " << options_.container_name << " and exiting";
    abort_start_->store(true);
    if (task_active()) {
      // The process waits for this worker before it exits.
      run_detached(sys_, [engine = engine_, name = options_.container_name] {
        if (std::optional<Error> e = engine->kill(name)) {
          LOG_WARNING << "Cannot kill container " << name << ": " << e->message;
        }
      });
    }
  }

 protected:
  void start_task(ExecutorDriver& d) override {
    const TaskInfo& t = *task_;
    slave::DockerTaskOptions o;
    o.container_name = options_.container_name;
    o.container_id = options_.container_id;
    o.sandbox = d.options().directory;
    o.mapped_directory = options_.mapped_directory;
    o.work_dir = options_.work_dir;
    o.slave_id = !options_.slave_id.empty() || !d.slave_id() ? options_.slave_id : d.slave_id()->value();
    Try<std::vector<std::string>> args = slave::docker_create_args(t, o);
    if (args.is_error()) {
      phase_ = Phase::exited;
      send_status(d, TASK_FAILED, "Failed to launch container: " + args.error(),
                  TaskStatus::REASON_CONTAINER_LAUNCH_FAILED);
      return;
    }
    send_status(d, TASK_STARTING);
    phase_ = Phase::launching;
    LOG_INFO << "Creating container " << options_.container_name << " from image " << t.container().docker().image();
    run_detached(sys_, [engine = engine_, args = *args, name = options_.container_name, abort = abort_start_,
                        self = d.self()] {
      auto failed = [&](const std::string& why) {
        caf::anon_send(self, dk_launched_atom::value, false, "Failed to launch container: " + one_line(why), 0,
                       std::string(), std::string());
      };
      Try<std::string> id = engine->create(args);
      if (id.is_error()) {
        return failed(id.error());
      }
      if (abort->load()) {
        // Killed while it was being created: it never starts, and goes.
        std::string error;
        if (std::optional<Error> e = engine->remove(name)) {
          error = "cannot remove the container: " + e->message;
        }
        caf::anon_send(self, dk_launched_atom::value, false, error, 0, std::string(), std::string());
        return;
      }
      if (std::optional<Error> e = engine->start(name)) {
        return failed(e->message);
      }
      Try<docker::ContainerState> state = engine->inspect(name);
      if (state.is_error()) {
        engine->kill(name);  // we could not watch it: it must not run unseen
        return failed("cannot inspect it after its start: " + state.error());
      }
      caf::anon_send(self, dk_launched_atom::value, true, std::string(), state->pid, state->ip_address,
                     state->network_mode);
    });
  }

  void stop_task(ExecutorDriver& d, std::chrono::nanoseconds grace) override {
    kill_grace_ = grace;
    if (phase_ == Phase::launching) {
      // Not started yet: the launch worker will not start it (or, if it
      // already has, on_launched() stops it).
      LOG_INFO << "Killing task " << task_->task_id().value() << " while container " << options_.container_name
               << " is being created";
      abort_start_->store(true);
      return;
    }
    announce_killing(d);
    killed_->store(true);
    stop_container(d);
  }

  bool task_active() const override { return phase_ == Phase::launching || phase_ == Phase::running; }
  bool task_running() const override { return phase_ == Phase::running; }
  std::string task_state_text() const override {
    return "container " + options_.container_name + (phase_ == Phase::running ? " is still running" : " is not running");
  }

  void on_message(ExecutorDriver& d, caf::message& msg) override {
    if (msg.match_elements<dk_launched_atom, bool, std::string, int, std::string, std::string>()) {
      on_launched(d, msg.get_as<bool>(1), msg.get_as<std::string>(2), msg.get_as<int>(3),
                  msg.get_as<std::string>(4), msg.get_as<std::string>(5));
    } else if (msg.match_elements<dk_exited_atom, bool, int, bool, int64_t, std::string>()) {
      on_exited(d, msg.get_as<bool>(1), msg.get_as<int>(2), msg.get_as<bool>(3), msg.get_as<int64_t>(4),
                msg.get_as<std::string>(5));
    } else if (msg.match_elements<dk_stopped_atom, std::string>()) {
      on_stopped(d, msg.get_as<std::string>(1));
    } else if (msg.match_elements<dk_logs_atom, std::string>()) {
      on_logs_done(d, msg.get_as<std::string>(1));
    }
  }

 private:
  // idle: no task yet; launching: created/started by a worker; running: the
  // container started (its waiter runs); exited: the task is over.
  enum class Phase { idle, launching, running, exited };

  // The launch worker's result.
  void on_launched(ExecutorDriver& d, bool started, const std::string& error, int pid, const std::string& ip,
                   const std::string& network_mode) {
    if (!started) {
      phase_ = Phase::exited;
      if (!error.empty()) {
        LOG_ERROR << error;
      }
      if (killing_) {
        // Nothing runs, as the kill asked.
        send_status(d, TASK_KILLED, "Killed before the container started" + (error.empty() ? "" : " (" + error + ")"),
                    TaskStatus::REASON_TASK_KILLED_DURING_LAUNCH);
      } else {
        send_status(d, TASK_FAILED, error, TaskStatus::REASON_CONTAINER_LAUNCH_FAILED);
      }
      return;
    }
    phase_ = Phase::running;
    container_pid_ = pid;
    host_network_ = network_mode == "host";
    LOG_INFO << "Started container " << options_.container_name << " (pid " << pid << ", network "
             << network_mode << (ip.empty() ? "" : ", ip " + ip) << ")";
    follow_logs(d);
    wait_for_exit(d);
    if (killing_) {
      // Killed while it was starting: it does not get to be reported running.
      stop_container(d);
      return;
    }
    TaskStatus running = make_status(TASK_RUNNING);
    *running.mutable_container_status() = container_status(d, ip);
    send(d, std::move(running));
    start_health_checker(d, " against container " + options_.container_name, health_target());
  }

  // What TASK_RUNNING tells of the container (Mesos' docker executor): our
  // pid, and one network with the container's IP (the slave's, on the
  // host's network) and the task's port mappings.
  ContainerStatus container_status(ExecutorDriver& d, const std::string& container_ip) const {
    ContainerStatus cs;
    cs.mutable_container_id()->set_value(options_.container_id);
    cs.set_executor_pid(static_cast<uint32_t>(::getpid()));
    NetworkInfo* net = cs.add_network_infos();
    const std::string ip = host_network_ ? d.options().ip : container_ip;
    if (!ip.empty()) {
      NetworkInfo::IPAddress* address = net->add_ip_addresses();
      address->set_protocol(ip.find(':') != std::string::npos ? NetworkInfo::IPAddress::IPv6
                                                              : NetworkInfo::IPAddress::IPv4);
      address->set_ip_address(ip);
    }
    const ContainerInfo& container = task_->container();
    const auto network = container.docker().network();
    if (network == ContainerInfo::DockerInfo::USER && container.network_infos_size() > 0) {
      net->set_name(container.network_infos(0).name());
    }
    if (network == ContainerInfo::DockerInfo::BRIDGE || network == ContainerInfo::DockerInfo::USER) {
      for (const auto& m : container.docker().port_mappings()) {
        NetworkInfo::PortMapping* pm = net->add_port_mappings();
        pm->set_host_port(m.host_port());
        pm->set_container_port(m.container_port());
        pm->set_protocol(m.has_protocol() ? m.protocol() : "tcp");
      }
    }
    return cs;
  }

  // Health checks against the container: COMMAND through the engine's
  // exec, HTTP/TCP inside its network namespace (ours with --net=host).
  HealthCheckTarget health_target() const {
    HealthCheckTarget target;
    target.network_namespace_pid = host_network_ ? 0 : container_pid_;
    target.run_command = [engine = engine_, name = options_.container_name](
                             const CommandInfo& command, std::chrono::nanoseconds timeout,
                             const std::atomic<bool>* cancel) -> std::optional<std::string> {
      const std::string what = "Command health check '" + command.value() + "' in container " + name;
      Try<docker::ExecResult> r = engine->exec(name, command_argv(command),
                                               std::chrono::ceil<std::chrono::milliseconds>(timeout), cancel,
                                               exec_env(command));
      if (r.is_error()) {
        return what + ": " + r.error();
      }
      if (r->exit_code == 0) {
        return std::nullopt;
      }
      std::string output(trim(r->output));
      if (output.size() > MAX_CHECK_OUTPUT) {
        output = "..." + output.substr(output.size() - MAX_CHECK_OUTPUT);
      }
      return what + " exited with status " + std::to_string(r->exit_code) +
             (output.empty() ? "" : ": " + output);
    };
    return target;
  }

  // Copies the container's output to the sandbox files until it exits.
  void follow_logs(ExecutorDriver& d) {
    run_detached(sys_, [engine = engine_, name = options_.container_name, dir = d.options().directory,
                        cancel = stopping_, self = d.self()] {
      auto open_file = [&](const std::string& file) {
        return ::open((dir + "/" + file).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      };
      int out = open_file("stdout");
      int err = open_file("stderr");
      std::string error;
      if (out < 0 || err < 0) {
        error = "cannot open the sandbox's stdout/stderr in " + dir + ": " + std::strerror(errno);
      } else if (std::optional<Error> e = engine->follow_logs(name, out, err, cancel.get())) {
        error = e->message;
      }
      for (int fd : {out, err}) {
        if (fd >= 0) {
          ::close(fd);
        }
      }
      if (!cancel->load()) {
        caf::anon_send(self, dk_logs_atom::value, error);
      }
    });
  }

  void on_logs_done(ExecutorDriver& d, const std::string& error) {
    logs_done_ = true;
    if (!error.empty()) {
      LOG_WARNING << "Cannot copy the output of container " << options_.container_name << " to the sandbox: "
                  << error;
    }
    send_pending_terminal(d);
  }

  // Waits for the container to exit, then inspects it (exit code, OOM).
  void wait_for_exit(ExecutorDriver& d) {
    run_detached(sys_, [engine = engine_, name = options_.container_name, cancel = stopping_, killed = killed_,
                        self = d.self()] {
      Try<int> code = engine->wait(name, cancel.get());
      if (cancel->load()) {
        return;
      }
      if (code.is_error()) {
        caf::anon_send(self, dk_exited_atom::value, false, 0, false, int64_t{0}, code.error());
        return;
      }
      Try<docker::ContainerState> state = engine->inspect(name);
      // dockerd sets OOMKilled from containerd's OOM event, which may come
      // after the exit the wait returned on (seen under load: status 137,
      // OOMKilled false): a SIGKILL nobody asked for is looked at again for
      // up to OOM_RECHECK_ATTEMPTS x OOM_RECHECK_DELAY before it counts as
      // a plain exit.
      for (int i = 0; i < OOM_RECHECK_ATTEMPTS && *code == 128 + SIGKILL && state.is_some() &&
                      !state->oom_killed && !killed->load() && !cancel->load();
           ++i) {
        std::this_thread::sleep_for(OOM_RECHECK_DELAY);
        state = engine->inspect(name);
      }
      caf::anon_send(self, dk_exited_atom::value, true, *code, state.is_some() && state->oom_killed,
                     state.is_some() ? state->memory_limit : int64_t{0}, std::string());
    });
  }

  void on_exited(ExecutorDriver& d, bool ok, int code, bool oom_killed, int64_t memory_limit,
                 const std::string& error) {
    if (phase_ != Phase::running) {
      return;
    }
    if (!ok) {
      if (++wait_attempts_ < MAX_WAIT_ATTEMPTS) {
        LOG_WARNING << "Waiting for container " << options_.container_name << " failed (" << error
                    << "); waiting again";
        d.after(WAIT_RETRY_DELAY, [this, &d] { wait_for_exit(d); });
        return;
      }
      finish(d, make_status(killing_ ? TASK_KILLED : TASK_FAILED,
                            "Lost track of container " + options_.container_name + ": " + error));
      return;
    }
    wait_attempts_ = 0;
    const std::string exited = "Container exited with status " + std::to_string(code);
    LOG_INFO << exited;
    if (!killing_ && code != 0 && oom_killed) {
      finish(d, make_status(TASK_FAILED,
                            "Memory limit exceeded: Requested: " + (memory_limit > 0 ? megabytes(memory_limit) : "?") +
                                " (the kernel's OOM killer killed the container's process; " + exited + ")",
                            TaskStatus::REASON_CONTAINER_LIMITATION_MEMORY));
    } else {
      finish(d, ended_status(exited, code == 0 ? TASK_FINISHED : TASK_FAILED));
    }
  }

  // The task is over: its terminal update goes once the container's output
  // is in the sandbox (or LOG_DRAIN_TIMEOUT from now).
  void finish(ExecutorDriver& d, TaskStatus terminal) {
    phase_ = Phase::exited;
    stop_health_checker();
    pending_terminal_ = std::move(terminal);
    if (logs_done_) {
      send_pending_terminal(d);
    } else {
      d.after(LOG_DRAIN_TIMEOUT, [this, &d] { send_pending_terminal(d); });
    }
  }

  void send_pending_terminal(ExecutorDriver& d) {
    if (pending_terminal_) {
      TaskStatus s = std::move(*pending_terminal_);
      pending_terminal_.reset();
      send(d, std::move(s));
    }
  }

  // `docker stop` with kill_grace_ (SIGTERM, then SIGKILL); the waiter
  // reports the exit, which is TASK_KILLED since killing_ is set.
  void stop_container(ExecutorDriver& d) {
    const auto grace = std::chrono::ceil<std::chrono::seconds>(kill_grace_);
    LOG_INFO << "Stopping container " << options_.container_name << " (grace period " << grace.count() << " s)";
    run_detached(sys_, [engine = engine_, name = options_.container_name, grace, first = stop_attempts_ == 0,
                        self = d.self()] {
      std::optional<Error> e = first ? engine->stop(name, grace) : engine->kill(name);
      caf::anon_send(self, dk_stopped_atom::value, e ? e->message : std::string());
    });
    ++stop_attempts_;
  }

  void on_stopped(ExecutorDriver& d, const std::string& error) {
    if (error.empty() || phase_ != Phase::running) {
      return;  // the waiter reports the exit
    }
    if (stop_attempts_ < MAX_STOP_ATTEMPTS) {
      LOG_WARNING << "Cannot stop container " << options_.container_name << " (" << error
                  << "); killing it in " << STOP_RETRY_DELAY.count() << " s";
      d.after(STOP_RETRY_DELAY, [this, &d] {
        if (phase_ == Phase::running) {
          stop_container(d);
        }
      });
      return;
    }
    finish(d, make_status(TASK_FAILED, "Cannot stop container " + options_.container_name + ": " + error));
  }

  DockerExecutorOptions options_;
  std::shared_ptr<docker::Engine> engine_;
  // Set when the executor goes: the waiter and the log follower give up.
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  // A kill was asked for (stop_task): an exit by SIGKILL is then no mystery.
  std::shared_ptr<std::atomic<bool>> killed_ = std::make_shared<std::atomic<bool>>(false);
  // Set by a kill (or the slave's loss) while launching: do not start.
  std::shared_ptr<std::atomic<bool>> abort_start_ = std::make_shared<std::atomic<bool>>(false);
  Phase phase_ = Phase::idle;
  int container_pid_ = 0;
  bool host_network_ = false;
  std::chrono::nanoseconds kill_grace_{0};
  int stop_attempts_ = 0;
  int wait_attempts_ = 0;
  bool logs_done_ = false;
  std::optional<TaskStatus> pending_terminal_;
};

}  // namespace

int main() {
  Try<DockerExecutorOptions> docker_options = DockerExecutorOptions::from_environment();
  if (docker_options.is_error()) {
    std::cerr << "stoa-docker-executor: " << docker_options.error() << "\n";
    return 1;
  }
  return stoa::slave::run_task_executor("stoa-docker-executor", [&](caf::actor_system& sys, auto failed) {
    return std::make_unique<DockerExecutor>(sys, std::move(*docker_options), std::move(failed));
  });
}
