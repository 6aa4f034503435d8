#pragma once
// The slave actor's state class (internal to slave/): the records
// (slave_state.hpp), the handles it talks to, and one `on_<message>` member
// per message. `slave_actor()` in slave.cpp wires the message table; the
// members live by concept:
//   slave.cpp                 the message table, master detection and
//                             (re-)registration, the master ping timeout,
//                             HTTP views;
//   slave_executors.cpp       executor lifecycle: run task -> launch ->
//                             executor registration (timeout) -> kill /
//                             shutdown (grace period, hard kill) -> exit;
//   slave_executor_api.cpp    the v1 executor HTTP API (executor_http.hpp);
//   slave_status_updates.cpp  status updates: from executors or the slave
//                             itself to the master, retries, acknowledgements.
// Every member runs inside the slave actor.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <vector>
#include <string>
#include <tuple>

#include <caf/actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/result.hpp>

#include "actors/master_detector.hpp"
#include "actors/http.hpp"
#include "actors/messages.hpp"
#include "proto/executor.pb.h"
#include "proto/messages.pb.h"
#include "slave/containerizer.hpp"
#include "slave/slave.hpp"
#include "common/metrics.hpp"
#include "slave/slave_state.hpp"
#include "slave/status_update_manager.hpp"
#include "slave/usage_report.hpp"

namespace stoa::slave {

class ExecutorZygote;  // slave/executor_zygote.hpp
class PidWatcher;      // slave/pid_watcher.hpp

// Timer messages of the slave (sent only to itself).
using ping_timeout_atom = caf::atom_constant<caf::atom("ping_tmo")>;
using registration_timeout_atom = caf::atom_constant<caf::atom("exreg_tmo")>;
using recovery_timeout_atom = caf::atom_constant<caf::atom("recov_tmo")>;
// The executor pool (slave_pool.cpp): a pooled executor started (or not),
// one exited, the refill timer after a failed start.
using pool_started_atom = caf::atom_constant<caf::atom("pl_start")>;
using pool_exited_atom = caf::atom_constant<caf::atom("pl_exit")>;
using pool_refill_atom = caf::atom_constant<caf::atom("pl_refill")>;
// After a pooled executor failed to start or exited unadopted, the next
// start waits this long, doubling up to the maximum until one is ready (a
// missing or broken stoa-executor must not spin).
constexpr auto POOL_RESTART_DELAY = std::chrono::seconds(1);
constexpr auto POOL_MAX_RESTART_DELAY = std::chrono::seconds(60);
// --usage_report_interval: sample the executors and report to the master.
using usage_tick_atom = caf::atom_constant<caf::atom("sl_usetick")>;
// The status-update retry timer (one for all streams: UpdateRetries).
using update_retry_atom = caf::atom_constant<caf::atom("sl_updretr")>;
// (services_atom) -> (files actor, gc actor): for the HTTP routes (local only).
using services_atom = caf::atom_constant<caf::atom("sl_servcs")>;
// (routes_served_atom): register_slave_routes has added every route; the
// executor pool starts then (local only). A pooled stoa-http-executor
// POSTs to /stoa/executor/pool at once and exits on a 404: started while
// main's thread was still adding the routes, one did (seen under load).
using routes_served_atom = caf::atom_constant<caf::atom("sl_routes")>;

constexpr auto MAX_REGISTRATION_BACKOFF = std::chrono::seconds(60);
// Without a ping from the master for this long, the slave takes the master
// for lost and re-registers (a one-way partition). The master tells its own
// (--slave_ping_timeout x --max_slave_ping_timeouts) at registration; this
// is the default until it has (Mesos: 15 s x 5).
constexpr auto DEFAULT_MASTER_PING_TIMEOUT = std::chrono::seconds(75);

// True while process `pid` runs (not a zombie) and its environment holds
// STOA_CONTAINER_ID=`container_id` (so a reused pid is not taken for it).
bool container_process_alive(pid_t pid, const std::string& container_id);

// A pooled executor (--executor_pool_size): started, then ready once it has
// said so (ExecutorPoolReadyMessage).
struct PooledExecutor {
  pid_t pid = -1;            // -1 until its start is reported (pool_started_atom)
  uint64_t started_ticks = 0;  // its process_start_ticks, with its start
  caf::actor handle;         // once ready
  pid_t claimed = -1;        // the pid its ready call named
  // Set when it leaves the pool (adopted, or killed): its watch stops.
  std::shared_ptr<std::atomic<bool>> stop = std::make_shared<std::atomic<bool>>(false);
  // Adoptable: ready, and its start reported with the pid it named. A
  // zygote's fork can be ready (over HTTP) before the thread that asked for
  // it reports its start; adopted then, that late report would find no
  // entry and take it for a pool killed meanwhile.
  bool adoptable() const { return handle && pid > 0 && claimed == pid; }
};

// A pooled executor taken for a launch: who, and what to tell it once the
// containerizer has prepared the container.
struct PoolAdoption {
  caf::actor handle;
  pid_t pid = -1;
  bool http = false;  // a stoa-http-executor: its handle is its stream's connection actor
  internal::AdoptExecutorMessage message;
};

class Slave {
 public:
  // User-declared so CAF default-constructs the state (an aggregate would be
  // built from the actor pointer in C++20).
  Slave() = default;

  caf::stateful_actor<Slave>* self = nullptr;
  caf::actor router;
  containerizer_actor containerizer;
  // Why the containerizer destroyed a container (an isolator's limit), told
  // before its exit status; on_reaped fails its tasks with it.
  std::map<std::string, ContainerLimitation> limitations;  // by container id
  SlaveOptions opts;
  // Which containerizers --containerizers names (validated by the flags;
  // read once at start).
  bool runs_mesos = true;
  bool runs_docker = false;
  SlaveState records;
  StatusUpdateManager updates;
  // When each forwarded head is re-sent, and the one timer armed for the
  // earliest (its deadline; none armed when empty).
  UpdateRetries retries;
  std::optional<UpdateRetries::TimePoint> retry_timer;
  // The process registry (SlaveOptions::metrics) or our own.
  std::shared_ptr<metrics::Registry> own_metrics;
  metrics::Registry* metrics = nullptr;

  caf::actor master;
  // The files service (sandboxes, /slave/log) and the garbage collector
  // (slave_sandboxes.cpp), spawned with the slave and stopped with it.
  caf::actor files;
  caf::actor gc;
  // Following a detected leader (SlaveOptions::detect or ::detector): the
  // detector whose reports count, and whether a leader is known now.
  caf::actor detector;
  bool leader_known = false;
  // Registered with some master since this process started: a new leader
  // is then met after a random wait (Slave::on_leader).
  bool registered_before = false;
  bool resolving = false;
  std::chrono::nanoseconds backoff{0};
  uint64_t connection_generation = 0;
  uint64_t ping_generation = 0;
  std::chrono::nanoseconds master_ping_timeout = DEFAULT_MASTER_PING_TIMEOUT;
  // Recovering from a checkpoint (slave_recovery.cpp): executors are
  // re-registering; the slave registers with the master once they are done.
  bool recovering = false;
  // Usage reports (usage_report.cpp): the previous samples, and whether one
  // is being taken.
  UsageRates usage_rates;
  bool usage_ticking = false;
  bool usage_sampling = false;
  std::mt19937_64 rng{std::random_device{}()};
  // The executor pool (slave_pool.cpp), by token; empty when
  // --executor_pool_size is 0.
  std::map<std::string, PooledExecutor> pool;
  // Forks the pool's stoa-http-executors (--http_command_executor): made at
  // the first refill, stopped with the pool.
  std::shared_ptr<ExecutorZygote> zygote;
  // Starts the pooled executors one at a time (a detached actor: a start
  // blocks on the zygote or on an exec); made at the first refill.
  caf::actor pool_starter;
  // Watches the pooled executors' exits (the process's one; held from the
  // first pooled start on).
  std::shared_ptr<PidWatcher> pid_watcher;
  std::vector<std::string> isolation;  // the --isolation names
  std::string user;                    // the user this slave (and its pool) runs as
  bool pool_refill_pending = false;
  bool routes_served = false;  // routes_served_atom came: the pool may fill
  std::chrono::seconds pool_backoff = POOL_RESTART_DELAY;
  static inline const char* name = "slave";

  // --- senders (slave.cpp) ------------------------------------------------
  // Logs and counts a message the slave refuses because of its sender.
  void drop_message(const char* what, const char* rule);
  // Timers are accepted only from the slave itself.
  bool from_self(const char* what);
  // HTTP routes are actors of this process.
  bool from_this_process(const char* what);
  // Why a task with (or without) a DOCKER ContainerInfo cannot run here:
  // its containerizer is not in --containerizers.
  std::optional<std::string> containerizer_refusal(bool docker) const;
  // Messages only the master may send are dropped from anyone else.
  bool from_master();

  // --- registration (slave.cpp) -------------------------------------------
  bool following() const { return static_cast<bool>(detector); }
  // Spawns the detector for SlaveOptions::detect (or takes the double).
  std::optional<Error> start_detector();
  // A report of the detector: a new leader is resolved and registered with.
  void on_leader(const detector::Leader& leader);
  // Logs Mesos' "Agent bound to loopback interface!" warning when this
  // slave is on loopback and opts.master is not.
  void warn_if_loopback() const;
  // Stops talking to the current master (a new leader, or none).
  void forget_master();
  // Resolves opts.master and registers with it.
  void detect_master();
  void schedule_retry();
  void on_retry(uint64_t gen);
  void send_registration();
  void on_registered(const std::string& id, bool reregistered, const internal::MasterSlaveConnection& connection);
  void on_master_down();
  void on_ping();
  // (Re)starts the wait for the master's next ping (master_ping_timeout).
  void arm_ping_timeout();
  void on_ping_timeout(uint64_t gen);
  void on_shutdown(const internal::ShutdownMessage& m);
  void on_down(const caf::down_msg& dm);
  // Sets the gauges derived from the records (a metrics scrape).
  void refresh_gauges();

  // --- executors (slave_executors.cpp) ------------------------------------
  void on_run_task(internal::RunTaskMessage& m);
  // `adoption`: the pooled executor that takes the container (told so here;
  // its message is moved out).
  void on_launched(const std::string& framework_id, const std::string& executor_id,
                   const std::string& container_id, const LaunchResult& result,
                   std::optional<PoolAdoption>& adoption);
  void on_register_executor(internal::RegisterExecutorMessage& m);
  // Tells an executor the slave will not take it (ShutdownExecutorMessage).
  void refuse_executor(const caf::actor& to, const ExecutorID& executor_id, const FrameworkID& framework_id);
  // Executor `e` (re-)registered as `handle`: it runs (checkpointed, if its framework checkpoints).
  void executor_registered(Executor& e, const caf::actor& handle);
  // What a registered executor `e` of `f` is told: the registration's answer.
  internal::ExecutorRegisteredMessage registration_answer(const Executor& e, const Framework& f) const;
  // `e`'s queued tasks, now staging, as the RunTaskMessages sent once it registered.
  std::vector<internal::RunTaskMessage> start_queued(Executor& e, const Framework& f);
  void on_registration_timeout(const std::string& container_id);
  void on_kill_task(internal::KillTaskMessage& m);
  void on_shutdown_framework(internal::ShutdownFrameworkMessage& m);
  void shutdown_executor(Executor& e);
  void on_hard_kill(const std::string& container_id);
  void on_reaped(const std::string& container_id, int status);
  void on_framework_message(internal::FrameworkToExecutorMessage& m);
  void on_executor_message(internal::ExecutorToFrameworkMessage& m);
  // The task's terminal update is acknowledged: archive it, and the executor
  // when it has exited and nothing is left.
  void complete_task(const std::string& framework_id, const std::string& task_id);
  void maybe_archive(Framework& f, const std::string& executor_id);
  // A framework the master removed leaves once its last executor is gone.
  void maybe_archive_framework(const std::string& framework_id);
  // Destroys every executor's container but those of frameworks that
  // checkpoint (the slave is stopping; a restarted slave recovers them).
  void kill_all();
  // Destroys every container, then stops the slave (and ends the process).
  void kill_all_and_quit(const std::string& why);

  // --- the executor pool (slave_pool.cpp) ------------------------------------
  // Starts pooled executors until --executor_pool_size are ready or starting.
  void fill_pool();
  // fill_pool() after pool_backoff (doubled for the next time).
  void schedule_pool_refill();
  void on_pool_started(const std::string& token, int32_t pid, uint64_t started_ticks, const std::string& error);
  // Tells this actor (pool_exited_atom) once `p` exits while in the pool.
  void watch_pooled(const std::string& token, const PooledExecutor& p);
  void on_pool_ready(internal::ExecutorPoolReadyMessage& m);
  void on_pool_exited(const std::string& token);
  // A pooled stoa-http-executor opened its stream (POST /stoa/executor/pool):
  // its connection actor, which says it is ready once the stream is open, or
  // an error response for a token this slave did not start.
  http::Response on_pool_subscribe(const std::string& token, int32_t pid);
  // The executor the pool holds: stoa-http-executor under
  // --http_command_executor, else stoa-executor.
  const std::string& pool_executor_path() const;
  // A ready pooled executor for `config` (which gets its pooled_pid), or
  // nullopt: a cold launch. Counts the adoption or the cold start.
  std::optional<PoolAdoption> take_pooled(ContainerConfig& config);
  // The launch of an adopting container failed: the pooled process goes.
  void discard_pooled(pid_t pid);
  // Kills every pooled executor not adopted (the slave stops).
  void kill_pool();

  // --- checkpoints and recovery (slave_recovery.cpp) ------------------------
  // True when framework `framework_id` is known and checkpoints.
  bool checkpointing(const std::string& framework_id) const;
  // Logs and counts a failed checkpoint write (the slave goes on: only a
  // later recovery is affected).
  void checkpoint_failed(const std::string& what, const std::optional<Error>& error);
  // Removes what a restarted slave would read of executor `executor_id` of
  // `f` (nothing left to recover: it never ran, or is done and acknowledged).
  void forget_executor_checkpoint(const Framework& f, const std::string& executor_id);
  // Appends a record to the stream of task `task_id` of `e`, if its framework checkpoints.
  void checkpoint_update(const Executor& e, const std::string& task_id, const internal::StatusUpdateRecord& record);
  // Takes back what the checkpoint names (--recover=reconnect) or kills it
  // (--recover=cleanup).
  void recover(SlaveCheckpoint checkpoint);
  void recover_executor(Framework& f, const ExecutorCheckpoint& executor);
  // Asks the containerizer for the exit of container `cid` (-> on_reaped).
  void watch_container(const std::string& cid);
  size_t recovering_executors() const;
  void on_reregister_executor(internal::ReregisterExecutorMessage& m);
  void on_recovery_timeout();
  // Once no executor is left RECOVERING: registers with the master.
  void maybe_finish_recovery();

  // --- the v1 executor HTTP API (slave_executor_api.cpp) -------------------
  // A checked executor::Call in binary form; `json`: the events' encoding.
  http::Response on_executor_call(const std::string& call, bool json);
  http::Response subscribe_executor(Framework& f, Executor& e, const executor::Call& call, bool json);

  // --- status updates (slave_status_updates.cpp) --------------------------
  // An update the slave itself generates (the executor could not).
  void slave_update(const std::string& framework_id, const std::string& executor_id, const TaskID& task_id,
                    TaskState state, TaskStatus::Reason reason, const std::string& message);
  void on_executor_update(internal::StatusUpdateMessage& m);
  // An executor's update, acknowledged to `from` once the slave has it.
  void executor_update(internal::StatusUpdateMessage& m, const caf::actor& from);
  // True when `u` is for a task of its executor that is complete (archived).
  bool archived_update(const internal::StatusUpdate& u);
  // Records the task's new state and queues the update for the master.
  void handle_update(internal::StatusUpdate& u);
  void forward(const internal::StatusUpdate& u);
  // A retry timer armed for `deadline` (ns since the clock's epoch) fired:
  // re-sends the heads that are due, re-arms.
  void on_update_retry(int64_t deadline);
  // Arms the retry timer for the earliest deadline unless armed sooner.
  void arm_update_retry();
  void on_acknowledgement(internal::StatusUpdateAcknowledgementMessage& m);
  // A batch of acknowledgements (the master sends them to a slave that said
  // batched_acknowledgements): the updates they release go to the master
  // as one StatusUpdatesMessage, collected in `update_batch` by forward().
  void on_acknowledgements(internal::StatusUpdateAcknowledgementsMessage& m);
  std::optional<internal::StatusUpdatesMessage> update_batch;

  // --- sandboxes: files and garbage collection (slave_sandboxes.cpp) --------
  void start_sandbox_services();
  // Attaches the sandbox under its real path and /frameworks/<fid>/executors/<eid>/runs/latest.
  void attach_sandbox(const Executor& e);
  // Serves `real` under `virtual_path` in /files; a refusal is logged.
  void attach_file(const std::string& real, const std::string& virtual_path);
  // A launch reuses the framework's and executor's dirs: no longer garbage.
  void unschedule_for_launch(const std::string& framework_id, const std::string& executor_id);
  std::string framework_path(const std::string& framework_id) const;
  // Schedules `path` after --gc_delay; once removed, detaches it (and
  // `virtual_path` if it still shows it).
  void gc_path(const std::string& path, const std::string& virtual_path = "");
  // An archived executor: its run's sandbox and meta, its executor dirs.
  void gc_executor(const Executor& e);
  // A framework removed from this slave: its sandbox and meta dirs.
  void gc_framework(const std::string& framework_id);
  // Dirs of earlier slave ids under work_dir/slaves and work_dir/meta/slaves.
  void gc_old_slaves();
  // After recovery: attaches what was recovered, schedules what was skipped.
  void gc_recovered(const SlaveCheckpoint& cp);

  // --- usage reports (usage_report.cpp) -------------------------------------
  // Starts the --usage_report_interval timer (none when it is 0) at the
  // first registration; it runs until the slave stops.
  void start_usage_reports();
  // Samples the running executors and sends the master a SlaveUsageMessage
  // (only while registered; one sample at a time).
  void on_usage_tick();

  // --- HTTP views (slave.cpp; rendering in state_json.cpp) ----------------
  // Answers at once, or (monitor) once the containerizer has sampled usage.
  caf::result<int, std::string> on_state_request(const std::string& endpoint);
};

caf::behavior slave_actor(caf::stateful_actor<Slave>* self, caf::actor router, SlaveOptions opts);

}  // namespace stoa::slave
