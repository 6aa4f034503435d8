#pragma once
// The pure parts of stoa-http-executor (slave/http_executor_main.cpp), the
// command executor that speaks Mesos' v1 executor HTTP API (JSON) to the
// slave's `POST /api/v1/executor` and links nothing but libc and libstdc++:
//   * RecordIoDecoder: the event stream's framing,
//   * ResponseParser: HTTP/1.1 responses (head, then a Content-Length,
//     chunked or read-until-close body),
//   * the Calls it sends (JSON builders) and the Events it reads (parsers),
//     in protobuf's JSON conventions,
//   * ExecutorConfig: the environment the slave gives it,
//   * CommandExecutor (slave/http_executor_machine.cpp): the executor itself as a state machine fed events,
//     task exits, connection news and the time, whose outputs are the calls
//     to send, the signals and launches done through an injected
//     TaskProcesses, and an exit code. No sockets, no clock of its own.
// Nothing here links CAF, protobuf or glog, and nothing throws.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <picojson.h>

#include "actors/launcher.hpp"
#include "common/flags.hpp"
#include "common/try.hpp"

namespace stoa::http_executor {

// --- RecordIO (Mesos' framing: "<decimal length>\n<that many bytes>"). ---

// The longest record accepted: the slave's events are small (a TaskInfo),
// and a corrupt length must not make us buffer gigabytes.
inline constexpr size_t MAX_RECORD_SIZE = 16 * 1024 * 1024;

std::string recordio_encode(std::string_view record);

class RecordIoDecoder {
 public:
  // Appends `data` (any split of the stream) and returns the records it
  // completed, in order. An error (a length that is not decimal digits, an
  // empty one, or one above MAX_RECORD_SIZE; the message names it) is final:
  // every later call returns it again.
  Try<std::vector<std::string>> feed(std::string_view data);
  // Bytes of an incomplete record (or length) held.
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
  // The length of the record being read, once its line is complete.
  std::optional<size_t> length_;
  std::optional<std::string> error_;
};

// --- HTTP/1.1 responses. ---

// The longest response head accepted.
inline constexpr size_t MAX_RESPONSE_HEAD = 64 * 1024;

struct ResponseHead {
  int status = 0;
  std::string reason;
  // Header names lower-cased; a repeated header keeps the last value.
  std::map<std::string, std::string> headers;
  enum class Body { LENGTH, CHUNKED, UNTIL_CLOSE };
  Body body = Body::UNTIL_CLOSE;
  size_t content_length = 0;
  // The connection may carry another request after this response.
  bool keep_alive = true;
};

// One response at a time: feed() bytes as they come; the body's bytes
// (chunked framing removed) collect in body() until taken. After
// complete(), reset() for the next response on a keep-alive connection.
class ResponseParser {
 public:
  // Consumes bytes of `data` up to the end of the response and returns how
  // many (the rest belongs to the next response). Errors: a malformed status
  // line, header, Content-Length or chunk size, or a head longer than
  // MAX_RESPONSE_HEAD; the message quotes the offending text.
  Try<size_t> feed(std::string_view data);
  // The peer closed the connection: completes a read-until-close body;
  // an error when the response is cut short.
  std::optional<Error> finish();

  bool head_done() const { return state_ > State::HEAD; }
  // REQUIRES: head_done().
  const ResponseHead& head() const { return head_; }
  bool complete() const { return state_ == State::DONE; }
  std::string& body() { return body_; }
  void reset();

 private:
  enum class State { HEAD, LENGTH_BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, TRAILERS, UNTIL_CLOSE, DONE };
  // The head's lines are complete: sets head_ and the body's state.
  std::optional<Error> parse_head();

  State state_ = State::HEAD;
  ResponseHead head_;
  std::vector<std::string> head_lines_;
  size_t head_size_ = 0;
  std::string line_;  // an incomplete head, chunk-size or trailer line
  size_t remaining_ = 0;
  std::string body_;
};

// `POST /api/v1/executor` with `body` (JSON) to `host` ("ip:port").
std::string http_post_call(const std::string& host, std::string_view body);
// `POST /stoa/executor/pool` {"token", "pid"} to `host`: a pooled
// executor's request for its adoption stream.
std::string http_post_pool(const std::string& host, const std::string& token, pid_t pid);

// --- Calls and events (Mesos' executor.proto in protobuf's JSON form). ---

struct Identity {
  std::string framework_id;
  std::string executor_id;
};

// One status update the executor made (TaskStatus + StatusUpdate fields).
struct StatusUpdateRecord {
  std::string task_id;
  std::string state;  // "TASK_RUNNING"
  std::string message;
  std::optional<std::string> reason;  // "REASON_COMMAND_EXECUTOR_FAILED"
  std::optional<bool> healthy;
  std::string uuid;  // 16 raw bytes (base64 on the wire)
  double timestamp = 0;
};

// The TaskStatus object of `u`.
picojson::value task_status_json(const Identity& id, const StatusUpdateRecord& u);
// {"type":"UPDATE",...}.
std::string update_call(const Identity& id, const StatusUpdateRecord& u);
// {"type":"SUBSCRIBE",...} with the TaskInfos (as received) and the updates
// (as StatusUpdate objects) not yet acknowledged.
std::string subscribe_call(const Identity& id, const std::vector<picojson::value>& unacknowledged_tasks,
                           const std::vector<StatusUpdateRecord>& unacknowledged_updates);

// The command (shell, value, arguments: actors/launcher.hpp) and the rest
// of a LAUNCH's CommandInfo.
struct CommandSpec : CommandLine {
  std::vector<std::pair<std::string, std::string>> environment;
  std::string user;
};

struct TaskSpec {
  std::string task_id;
  std::string name;
  std::optional<CommandSpec> command;
  std::optional<std::chrono::nanoseconds> kill_grace;  // kill_policy.grace_period
  bool has_health_check = false;
  picojson::value json;  // the TaskInfo as received, for re-subscriptions
};

// Stoa's ADOPTED event (a pooled executor's stream only,
// docs/executor-pool.md): the container the executor takes.
struct Adoption {
  std::string token;
  std::string container_id;
  std::string directory;
  std::vector<std::pair<std::string, std::string>> environment;
};

struct Event {
  enum class Type { SUBSCRIBED, LAUNCH, KILL, ACKNOWLEDGED, MESSAGE, SHUTDOWN, ERROR, HEARTBEAT, ADOPTED, UNKNOWN };
  Type type = Type::UNKNOWN;
  std::string type_name;  // as received
  // SUBSCRIBED: the framework asked for TASK_KILLING updates; the container.
  bool task_killing_state = false;
  std::string container_id;
  // LAUNCH.
  std::optional<TaskSpec> task;
  // KILL and ACKNOWLEDGED.
  std::string task_id;
  std::optional<std::chrono::nanoseconds> kill_grace;  // KILL's kill_policy
  std::string uuid;  // ACKNOWLEDGED, raw bytes
  size_t data_size = 0;  // MESSAGE, decoded
  std::string message;  // ERROR
  std::optional<Adoption> adoption;  // ADOPTED
};

// One Event object. Unknown fields are ignored, so is an unknown type
// (Type::UNKNOWN); int64 fields may be JSON numbers or strings; optional
// fields may be absent. Errors name the field and the value: "Event is not
// valid JSON: ...", "KILL event: kill.task_id.value is missing".
Try<Event> parse_event(std::string_view json);
// The TaskInfo object `task` (error prefix: `where`).
Try<TaskSpec> parse_task_info(const picojson::value& task, const std::string& where);

// --- The environment. ---

struct ExecutorConfig {
  std::string agent_host;  // "ip" as given (IPv6 without brackets)
  uint16_t agent_port = 0;
  std::string agent_endpoint;  // "ip:port", the Host header
  // MESOS_DOMAIN_SOCKET: the slave's Unix socket, connected to instead of
  // agent_host:agent_port when set (--http_executor_domain_sockets).
  std::string domain_socket;
  Identity id;
  std::string sandbox;
  bool checkpoint = false;
  Duration recovery_timeout = std::chrono::minutes(15);
  Duration subscription_backoff_max = std::chrono::seconds(2);
  Duration shutdown_grace_period = std::chrono::seconds(5);
  std::string slave_id;
  std::string container_id;
};

// Reads MESOS_AGENT_ENDPOINT, MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID,
// MESOS_DIRECTORY (else MESOS_SANDBOX), MESOS_CHECKPOINT (required, 0 or 1),
// MESOS_RECOVERY_TIMEOUT (required when checkpointing),
// MESOS_SUBSCRIPTION_BACKOFF_MAX, MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD,
// MESOS_SLAVE_ID, STOA_CONTAINER_ID through `getenv`. The error names the
// variable and its value.
Try<ExecutorConfig> config_from_environment(const std::function<const char*(const char*)>& getenv);
// MESOS_AGENT_ENDPOINT alone into c's agent_host, agent_port and
// agent_endpoint, and MESOS_DOMAIN_SOCKET (optional: an absolute path under
// 108 bytes) into c's domain_socket (a pooled executor knows nothing else
// before adoption).
std::optional<Error> agent_endpoint_from_environment(const std::function<const char*(const char*)>& getenv,
                                                    ExecutorConfig* c);

// --- The executor. ---

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// The grace period of a kill without kill policy (the CAF command
// executor's).
inline constexpr auto DEFAULT_KILL_GRACE = std::chrono::seconds(3);
// How long the terminal update may wait for its acknowledgement.
inline constexpr auto TERMINAL_ACK_TIMEOUT = std::chrono::seconds(10);
// How long the first subscription may be retried (the slave's registration
// timeout kills us anyway).
inline constexpr auto FIRST_SUBSCRIBE_TIMEOUT = std::chrono::seconds(5);

// The task's processes, behind an interface so that tests need none.
class TaskProcesses {
 public:
  virtual ~TaskProcesses() = default;
  virtual Try<pid_t> launch(const LaunchSpec& spec) = 0;
  virtual void signal_group(pid_t pgid, int sig) = 0;
};

class CommandExecutor {
 public:
  using Logger = std::function<void(const std::string&)>;
  // A random wait in [0, max] before a subscription attempt.
  using RandomWait = std::function<Duration(Duration max)>;

  // `processes` must outlive the executor. The first subscription attempt
  // is due at `now`.
  CommandExecutor(ExecutorConfig config, TaskProcesses& processes, Logger log, RandomWait random_wait,
                  TimePoint now);

  // --- Inputs. ---
  // A subscription attempt may start (none running, no exit, its time has
  // come).
  bool subscribe_due(TimePoint now) const;
  // Starts one: the SUBSCRIBE call's body. The attempt ends with a
  // SUBSCRIBED event or with subscription_lost().
  std::string begin_subscribe();
  // The attempt failed or the stream ended (`why` for the log): retry or
  // give up by the rules (see http_executor_main.cpp's header).
  void subscription_lost(const std::string& why, TimePoint now);
  // A pooled executor's stream, on which the slave has just sent ADOPTED,
  // is the first subscription attempt: SUBSCRIBED comes on it, or it ends
  // and the executor subscribes by the rules. REQUIRES: nothing begun yet.
  void begin_adopted_subscription();
  // The slave answered SUBSCRIBE with another status than 200: exit 1 —
  // unless it is 503 (it could not answer yet, e.g. recovering) or 404 (a
  // restarted slave whose routes are not all up yet), which are an attempt
  // that failed (subscription_lost), as Mesos' executor library takes them.
  void subscription_refused(int status, const std::string& message, TimePoint now);
  void on_event(const Event& event, TimePoint now);
  // The task's process ended with waitpid status `status`.
  void task_exited(int status, TimePoint now);
  // Fires the timers due at `now` (SIGKILL after the grace period, the
  // terminal acknowledgement timeout, the end of retries: the first
  // subscription's FIRST_SUBSCRIBE_TIMEOUT, or the recovery timeout after a
  // loss; an attempt under way when it passes is not cut short).
  void on_timer(TimePoint now);

  // --- The update channel (UPDATE calls, one in flight). ---
  // The next update to POST, now in flight; only while subscribed.
  std::optional<StatusUpdateRecord> next_update();
  // The slave answered the update in flight with 202.
  void update_accepted();
  // It answered otherwise (logged): the update is not sent again on its own;
  // it stays unacknowledged, so the next SUBSCRIBE carries it.
  void update_rejected(int status, const std::string& body);
  // The update connection broke with an update in flight: it is sent again.
  void update_failed();

  // --- Outputs. ---
  std::optional<int> exit_code() const { return exit_code_; }
  std::optional<TimePoint> next_deadline() const;
  bool subscribed() const { return conn_ == Conn::SUBSCRIBED; }
  // The running task's pid (its process group), or -1.
  pid_t task_pid() const { return pid_; }
  size_t unacknowledged() const { return updates_.size(); }

 private:
  enum class Conn { WAITING, SUBSCRIBING, SUBSCRIBED };
  enum class Delivery { UNSENT, IN_FLIGHT, SENT };
  struct Pending {
    StatusUpdateRecord update;
    Delivery delivery = Delivery::UNSENT;
    bool in_subscribe = false;  // carried by the SUBSCRIBE in progress
  };

  void on_subscribed(const Event& e, TimePoint now);
  void on_launch(const TaskSpec& task, TimePoint now);
  void on_kill(const Event& e, TimePoint now);
  void on_acknowledged(const std::string& uuid);
  void on_shutdown(TimePoint now);
  void start_task(TimePoint now);
  void kill(Duration grace, TimePoint now);
  // A new update of the task (none after the terminal one), kept until
  // acknowledged.
  void send(const std::string& state, const std::string& message, std::optional<std::string> reason, TimePoint now);
  void retry_or_give_up(TimePoint now);
  // SIGKILL to a running task, then exit with `code`.
  void abort(int code, const std::string& why);
  void finish(int code);

  ExecutorConfig config_;
  TaskProcesses& processes_;
  Logger log_;
  RandomWait random_wait_;

  Conn conn_ = Conn::WAITING;
  bool ever_subscribed_ = false;
  TimePoint subscribe_at_;
  // Give up subscribing then: the first subscription's or, after a loss,
  // the recovery timeout's end.
  TimePoint give_up_at_;
  bool task_killing_state_ = false;

  std::optional<TaskSpec> task_;
  pid_t pid_ = -1;
  bool killing_ = false;
  std::optional<TimePoint> sigkill_at_;
  // The terminal update's uuid once it is made (uuids are 16 bytes: empty = none yet).
  std::string terminal_uuid_;
  bool terminal_made() const { return !terminal_uuid_.empty(); }
  std::optional<TimePoint> ack_deadline_;

  std::vector<Pending> updates_;  // unacknowledged, oldest first
  std::optional<int> exit_code_;
};

// --- Logging: one line to stderr, "2024-05-01T12:00:00.123456Z text". ---
void log_to_stderr(const std::string& line);

}  // namespace stoa::http_executor
