#pragma once
// A client of the Docker engine (docs/docker.md): what the docker
// containerizer (slave side) and stoa-docker-executor ask of dockerd.
//
// Two channels, each where it is the better tool:
// * the engine's HTTP API on its unix socket (--docker_socket), for every
//   operation after creation: start, inspect, wait, logs, stop, kill, remove,
//   list, stats, pull, exec, version. One connection per call, no process
//   forked, JSON answers and the engine's own error messages. The API version
//   is negotiated once (GET /version): the engine's ApiVersion capped at
//   MAX_API_VERSION; an engine older than MIN_API_VERSION is refused with a
//   message naming both versions.
// * the docker CLI (--docker) for `docker create` only, because
//   DockerInfo.parameters are `docker create/run` options by definition
//   (`--key=value`, Mesos semantics): the CLI parses them exactly as users
//   expect, for any engine version the CLI supports.
//
// Plain POSIX and blocking: call it from detached actors or worker threads,
// never from a scheduler thread. Every call is bounded by the engine's
// `timeout`, except wait() and follow_logs(), which last as long as the
// container and return within 100 ms of `*cancel` becoming true.
// Thread-safe (no state but the negotiated version, fixed after version()).
// Copies share the negotiated version.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/try.hpp"

namespace stoa::slave::docker {

// "1.41" = Docker 20.10, what Debian 12 ships; newer engines speak it too.
constexpr const char* MAX_API_VERSION = "1.41";
// "1.25" = Docker 1.13: JSON filters on /containers/json, /containers/{id}/wait.
constexpr const char* MIN_API_VERSION = "1.25";

// Containers the docker containerizer starts are named NAME_PREFIX + the
// Mesos container id (so recovery and orphan cleanup find them).
constexpr const char* NAME_PREFIX = "mesos-";

struct Version {
  std::string version;       // the engine's, e.g. "20.10.24+dfsg1"
  std::string api_version;   // what the engine speaks, e.g. "1.41"
  std::string negotiated;    // what we use: min(api_version, MAX_API_VERSION)
};

struct ContainerState {
  std::string id;            // full container id
  std::string name;          // without the leading '/'
  std::string image;         // Config.Image
  std::string status;        // State.Status: created, running, exited, ...
  bool running = false;
  int pid = 0;               // State.Pid (0 unless running)
  int exit_code = 0;         // State.ExitCode
  bool oom_killed = false;   // State.OOMKilled
  std::string error;         // State.Error
  std::string ip_address;    // the first non-empty IPAddress of its networks; "" with --net=host/none
  std::string network_mode;  // HostConfig.NetworkMode
  int64_t memory_limit = 0;  // HostConfig.Memory (bytes, 0 = none)
  int64_t cpu_shares = 0;    // HostConfig.CpuShares
  std::map<std::string, std::string> labels;  // Config.Labels
};

struct ContainerSummary {
  std::string id;
  std::string name;          // without the leading '/'
  std::string state;         // "running", "exited", ...
  std::map<std::string, std::string> labels;
};

struct ContainerStats {
  double cpus_user_time_secs = 0;
  double cpus_system_time_secs = 0;
  uint64_t cpus_nr_periods = 0;
  uint64_t cpus_nr_throttled = 0;
  double cpus_throttled_time_secs = 0;
  uint64_t mem_total_bytes = 0;   // memory_stats.usage
  uint64_t mem_rss_bytes = 0;     // memory_stats.stats.rss (cgroups v1) or .anon (v2)
  uint64_t mem_cache_bytes = 0;   // .cache or .file
  uint64_t mem_limit_bytes = 0;   // memory_stats.limit
};

struct ExecResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, interleaved, at most 64 KiB
};

class Engine {
 public:
  // `docker` is the CLI (a name looked up in PATH, or a path); `socket` the
  // engine's unix socket path (a "unix://" prefix is accepted and dropped).
  Engine(std::string docker, std::string socket,
         std::chrono::milliseconds timeout = std::chrono::seconds(30));

  const std::string& socket() const { return socket_; }
  const std::string& docker() const { return docker_; }

  // GET /version and negotiation. Errors name the socket: "Cannot reach the
  // Docker engine at unix:///x.sock: connect: No such file or directory".
  Try<Version> version();

  // `docker -H unix://<socket> create <args>` (args end with the image and
  // the command). Returns the new container's id; the error carries the
  // CLI's stderr (e.g. "Conflict. The container name ... is already in use").
  Try<std::string> create(const std::vector<std::string>& args);

  std::optional<Error> start(const std::string& container);
  Try<ContainerState> inspect(const std::string& container);
  // Blocks until the container exits: its exit code. nullopt-like error
  // "cancelled" once *cancel is true.
  Try<int> wait(const std::string& container, const std::atomic<bool>* cancel = nullptr);
  // Copies the container's stdout/stderr (from its start, following) to the
  // given descriptors until it exits, the stream ends or *cancel is true.
  // (Once the follow ends, the log is read once more for what Docker's
  // follow may have missed: its last lines.)
  std::optional<Error> follow_logs(const std::string& container, int stdout_fd, int stderr_fd,
                                   const std::atomic<bool>* cancel = nullptr);
  // POST /containers/{}/stop?t=<grace seconds>: SIGTERM, then SIGKILL after
  // the grace. A container already stopped is no error.
  std::optional<Error> stop(const std::string& container, std::chrono::seconds grace);
  // POST /containers/{}/kill?signal=<n>. A container that is not running
  // (the engine's 409 "is not running") is no error: it is already dead.
  std::optional<Error> kill(const std::string& container, int signal = 9);
  // DELETE /containers/{}?v=1&force=1. A container already gone is no error.
  std::optional<Error> remove(const std::string& container);
  // Every container (running or not) whose name starts with `name_prefix`.
  Try<std::vector<ContainerSummary>> list(const std::string& name_prefix);
  Try<ContainerStats> stats(const std::string& container);
  // True when the image is present locally (GET /images/{}/json).
  Try<bool> has_image(const std::string& image);
  // POST /images/create; the error is the engine's message (offline:
  // "Get \"https://registry-1.docker.io/v2/\": dial tcp: ...").
  std::optional<Error> pull(const std::string& image);
  // Runs argv inside the running container (POST /containers/{}/exec, then
  // /exec/{}/start, then /exec/{}/json for the exit code) with `env`
  // ("NAME=VALUE" each, the exec's Env: added to the container's), bounded
  // by `timeout` (then an error "timed out after ...") and ended within
  // 100 ms of *cancel becoming true (error "cancelled"). The engine
  // lets a command whose caller gave up run on: exec() kills it, and what it
  // started, itself (the exec's Pid, which needs the engine's pid namespace),
  // and waits for the engine to see it gone (the error says when it cannot).
  Try<ExecResult> exec(const std::string& container, const std::vector<std::string>& argv,
                       std::chrono::milliseconds timeout, const std::atomic<bool>* cancel = nullptr,
                       const std::vector<std::string>& env = {});

 private:
  std::string docker_;
  std::string socket_;
  std::chrono::milliseconds timeout_;
  // The negotiated version ("" until a negotiation succeeded) and the mutex
  // that makes the lazy negotiation thread-safe (docker.cpp).
  struct ApiState;
  std::shared_ptr<ApiState> api_;

  // "/v<negotiated><rest>" (or the error of `rest`): negotiates first (GET
  // /version) when no negotiation succeeded yet; a failed one is retried by
  // the next call.
  Try<std::string> api_path(const Try<std::string>& rest);
  // Kills the command of the exec at "/v<version>/exec/<id>" if it still
  // runs, with what it started, and waits until the engine sees it end.
  std::optional<Error> kill_exec(const std::string& exec);
};

// Compares two API versions numerically, part by part ("1.9" < "1.25",
// "1.41" == "1.41.0"): negative, zero or positive. Error names a version
// that is not dot-separated numbers.
Try<int> compare_api_versions(const std::string& a, const std::string& b);

// What we speak with an engine that speaks `engine_api`: min(engine_api,
// MAX_API_VERSION). Error when it is older than MIN_API_VERSION, naming both
// ("The Docker engine speaks API 1.24, older than 1.25, the oldest Stoa
// supports"), or when it is not a version.
Try<std::string> negotiate_api_version(const std::string& engine_api);

// The container name of a Mesos container id: NAME_PREFIX + id.
std::string container_name(const std::string& container_id);

}  // namespace stoa::slave::docker
