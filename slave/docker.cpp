// The Docker engine client (slave/docker.hpp): the engine's HTTP API through
// slave/docker_http.hpp, and the docker CLI for `create`.
#include "slave/docker.hpp"

#include <fcntl.h>
#include <picojson.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "actors/launcher.hpp"
#include "common/strings.hpp"
#include "slave/docker_http.hpp"

namespace stoa::slave::docker {

namespace {

using namespace transport;  // NOLINT: this file is the transport's one user

// exec() keeps at most this much of the command's output.
constexpr size_t EXEC_OUTPUT_LIMIT = 64 * 1024;
// How often exec() asks whether the finished command has its exit code yet.
constexpr auto EXEC_INSPECT_TICK = std::chrono::milliseconds(10);

// How long exec() may take to find and kill a command that outlived its
// timeout (or was cancelled), and to see it gone.
constexpr auto EXEC_KILL_TIMEOUT = std::chrono::seconds(5);

std::string millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// "/<kind>/<name><suffix>" for a container or image (whose names may hold
// '/', ':' and '@', as the engine's routes allow).
Try<std::string> object_path(const std::string& kind, const std::string& name,
                             const std::string& suffix) {
  if (name.empty()) {
    return Error(std::string(kind == "images" ? "empty image name" : "empty container name"));
  }
  return "/" + kind + "/" + url_encode(name, kind == "images" ? "/:@" : "") + suffix;
}

// ---------------------------------------------------------------------------
// JSON.

Try<picojson::object> parse_object(const Try<Answer>& a, const std::string& what) {
  if (a.is_error()) {
    return Error(a.error());
  }
  picojson::value v;
  std::string err = picojson::parse(v, a->body);
  if (err.empty() && !v.is<picojson::object>()) {
    err = "not a JSON object";
  }
  if (!err.empty()) {
    return Error("Cannot parse the Docker engine's " + what + ": " + err);
  }
  return v.get<picojson::object>();
}

const picojson::object& object_at(const picojson::object& o, const std::string& key) {
  static const picojson::object empty;
  auto it = o.find(key);
  return it != o.end() && it->second.is<picojson::object>() ? it->second.get<picojson::object>()
                                                            : empty;
}

std::string string_at(const picojson::object& o, const std::string& key) {
  auto it = o.find(key);
  return it != o.end() && it->second.is<std::string>() ? it->second.get<std::string>() : "";
}

int64_t int_at(const picojson::object& o, const std::string& key) {
  auto it = o.find(key);
  if (it != o.end() && it->second.is<int64_t>()) {
    return it->second.get<int64_t>();
  }
  return it != o.end() && it->second.is<double>() ? static_cast<int64_t>(it->second.get<double>())
                                                  : 0;
}

uint64_t uint_at(const picojson::object& o, const std::string& key) {
  return static_cast<uint64_t>(std::max<int64_t>(0, int_at(o, key)));
}

bool bool_at(const picojson::object& o, const std::string& key) {
  auto it = o.find(key);
  return it != o.end() && it->second.is<bool>() && it->second.get<bool>();
}

std::map<std::string, std::string> labels_at(const picojson::object& o, const std::string& key) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : object_at(o, key)) {
    out[k] = v.is<std::string>() ? v.get<std::string>() : v.to_str();
  }
  return out;
}

std::string strip_slash(const std::string& name) {
  return name.rfind('/', 0) == 0 ? name.substr(1) : name;
}

// GET /version (unversioned) and the negotiation.
Try<Version> fetch_version(const std::string& socket, std::chrono::milliseconds timeout) {
  Try<picojson::object> o = parse_object(
      call(socket, std::string("/version"), "GET", bounded(timeout)), "answer to GET /version");
  if (o.is_error()) {
    return Error(o.error());
  }
  Version v{string_at(*o, "Version"), string_at(*o, "ApiVersion"), ""};
  Try<std::string> negotiated = negotiate_api_version(v.api_version);
  if (negotiated.is_error()) {
    return Error(negotiated.error() + " (engine at unix://" + socket + ")");
  }
  v.negotiated = *negotiated;
  return v;
}

// Reads both pipes until both end or `deadline` passes (false then).
bool read_pipes(int out_fd, int err_fd, std::string& out, std::string& err,
                Clock::time_point deadline) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* into[2] = {&out, &err};
  char buf[4096];
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (Clock::now() >= deadline) {
      return false;
    }
    if (::poll(fds, 2, poll_ms(deadline)) <= 0) {
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      ssize_t n = fds[i].fd >= 0 && fds[i].revents != 0 ? ::read(fds[i].fd, buf, sizeof(buf)) : -2;
      if (n > 0) {
        into[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN)) {
        fds[i].fd = -1;  // the caller closes it
      }
    }
  }
  return true;
}

}  // namespace

Try<int> compare_api_versions(const std::string& a, const std::string& b) {
  std::vector<long> parts[2];
  const std::string* versions[2] = {&a, &b};
  for (int i = 0; i < 2; ++i) {
    for (const std::string& p : split(*versions[i], '.')) {
      if (p.empty() || p.size() > 9 || p.find_first_not_of("0123456789") != std::string::npos) {
        return Error("'" + *versions[i] + "' is not an API version (numbers separated by dots)");
      }
      parts[i].push_back(std::stol(p));
    }
  }
  for (size_t i = 0; i < std::max(parts[0].size(), parts[1].size()); ++i) {
    long x = i < parts[0].size() ? parts[0][i] : 0;
    long y = i < parts[1].size() ? parts[1][i] : 0;
    if (x != y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

Try<std::string> negotiate_api_version(const std::string& engine_api) {
  Try<int> vs_min = compare_api_versions(engine_api, MIN_API_VERSION);
  if (vs_min.is_error()) {
    return Error("The Docker engine's API version: " + vs_min.error());
  }
  if (*vs_min < 0) {
    return Error("The Docker engine speaks API " + engine_api + ", older than " + MIN_API_VERSION +
                 ", the oldest Stoa supports");
  }
  return *compare_api_versions(engine_api, MAX_API_VERSION) > 0 ? std::string(MAX_API_VERSION)
                                                                : engine_api;
}

std::string container_name(const std::string& container_id) { return NAME_PREFIX + container_id; }

struct Engine::ApiState {
  std::mutex mutex;
  std::string negotiated;
};

Engine::Engine(std::string docker, std::string socket, std::chrono::milliseconds timeout)
    : docker_(std::move(docker)),
      socket_(std::move(socket)),
      timeout_(timeout),
      api_(std::make_shared<ApiState>()) {
  if (socket_.rfind("unix://", 0) == 0) {
    socket_ = socket_.substr(7);
  }
}

Try<Version> Engine::version() {
  Try<Version> v = fetch_version(socket_, timeout_);
  if (v.is_some()) {
    std::lock_guard<std::mutex> lock(api_->mutex);
    api_->negotiated = v->negotiated;
  }
  return v;
}

Try<std::string> Engine::api_path(const Try<std::string>& rest) {
  if (rest.is_error()) {
    return rest;
  }
  // Held while negotiating, so that concurrent first calls negotiate once.
  std::lock_guard<std::mutex> lock(api_->mutex);
  if (api_->negotiated.empty()) {
    Try<Version> v = fetch_version(socket_, timeout_);
    if (v.is_error()) {
      return Error(v.error());
    }
    api_->negotiated = v->negotiated;
  }
  return "/v" + api_->negotiated + *rest;
}

Try<std::string> Engine::create(const std::vector<std::string>& args) {
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  bool piped = ::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0;
  int pipe_errno = errno;
  Fd out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
  if (!piped) {
    return Error("docker create: pipe: " + errno_text(pipe_errno));
  }
  LaunchSpec spec;
  spec.argv = {docker_, "-H", "unix://" + socket_, "create"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  // The launcher opens these before it forks: our pipes' write ends.
  spec.stdout_path = "/proc/self/fd/" + std::to_string(out_w.get());
  spec.stderr_path = "/proc/self/fd/" + std::to_string(err_w.get());
  const auto deadline = Clock::now() + timeout_;
  Try<pid_t> pid = launch(spec);
  out_w.reset();
  err_w.reset();
  if (pid.is_error()) {
    return Error("Cannot run the docker CLI '" + docker_ + "': " + pid.error());
  }
  std::string stdout_text;
  std::string stderr_text;
  bool finished = read_pipes(out_r.get(), err_r.get(), stdout_text, stderr_text, deadline);
  if (!finished) {
    signal_process_group(*pid, SIGKILL);
    ::kill(*pid, SIGKILL);
  }
  int status = 0;
  pid_t reaped = 0;
  do {
    reaped = ::waitpid(*pid, &status, 0);
  } while (reaped < 0 && errno == EINTR);
  if (!finished) {
    return Error("docker create timed out after " + millis(timeout_) + " (killed)");
  }
  std::string id;
  for (const std::string& line : split(stdout_text, '\n')) {
    id = trim(line).empty() ? id : std::string(trim(line));
  }
  // Not reaped here (ECHILD: someone else did): an id on stdout tells success.
  bool ok = reaped == *pid ? WIFEXITED(status) && WEXITSTATUS(status) == 0 : !id.empty();
  if (!ok) {
    std::string why(trim(stderr_text));
    return Error(!why.empty() ? why : describe_wait_status(status, "docker create"));
  }
  if (id.empty()) {
    return Error("docker create printed no container id");
  }
  return id;
}

std::optional<Error> Engine::start(const std::string& container) {
  // 204, or 304: already started.
  return outcome(call(socket_, api_path(object_path("containers", container, "/start")), "POST",
                      bounded(timeout_)));
}

Try<ContainerState> Engine::inspect(const std::string& container) {
  Try<picojson::object> o =
      parse_object(call(socket_, api_path(object_path("containers", container, "/json")), "GET",
                        bounded(timeout_)),
                   "inspection of container '" + container + "'");
  if (o.is_error()) {
    return Error(o.error());
  }
  ContainerState s;
  s.id = string_at(*o, "Id");
  s.name = strip_slash(string_at(*o, "Name"));
  const picojson::object& config = object_at(*o, "Config");
  s.image = string_at(config, "Image");
  s.labels = labels_at(config, "Labels");
  const picojson::object& state = object_at(*o, "State");
  s.status = string_at(state, "Status");
  s.running = bool_at(state, "Running");
  s.pid = static_cast<int>(int_at(state, "Pid"));
  s.exit_code = static_cast<int>(int_at(state, "ExitCode"));
  s.oom_killed = bool_at(state, "OOMKilled");
  s.error = string_at(state, "Error");
  const picojson::object& host = object_at(*o, "HostConfig");
  s.network_mode = string_at(host, "NetworkMode");
  s.memory_limit = int_at(host, "Memory");
  s.cpu_shares = int_at(host, "CpuShares");
  const picojson::object& net = object_at(*o, "NetworkSettings");
  s.ip_address = string_at(net, "IPAddress");
  for (const auto& [network, settings] : object_at(net, "Networks")) {
    if (s.ip_address.empty() && settings.is<picojson::object>()) {
      s.ip_address = string_at(settings.get<picojson::object>(), "IPAddress");
    }
  }
  return s;
}

Try<int> Engine::wait(const std::string& container, const std::atomic<bool>* cancel) {
  const std::string what = "answer to waiting for container '" + container + "'";
  Try<picojson::object> o =
      parse_object(call(socket_, api_path(object_path("containers", container, "/wait")), "POST",
                        unbounded(timeout_, cancel)),
                   what);
  if (o.is_error()) {
    return Error(o.error());
  }
  std::string error = string_at(object_at(*o, "Error"), "Message");
  if (!error.empty()) {
    return Error("Waiting for container '" + container + "': " + error);
  }
  if (o->find("StatusCode") == o->end()) {
    return Error("Cannot parse the Docker engine's " + what + ": no StatusCode");
  }
  return static_cast<int>(int_at(*o, "StatusCode"));
}

std::optional<Error> Engine::follow_logs(const std::string& container, int stdout_fd, int stderr_fd,
                                         const std::atomic<bool>* cancel) {
  // Bytes copied (or, catching up, still to skip) per stream: 1 and 2.
  uint64_t copied[3] = {0, 0, 0};
  auto copy = [&](int stream, std::string_view data) {
    copied[stream] += data.size();
    return write_all(stream == 2 ? stderr_fd : stdout_fd, data);
  };
  auto logs = [&](const std::string& query, const Demuxer::Out& out) {
    auto demux = std::make_shared<Demuxer>(out);
    Sink sink = [demux](std::string_view data) { return demux->feed(data); };
    return outcome(call(socket_, api_path(object_path("containers", container, "/logs?" + query)),
                        "GET", unbounded(timeout_, cancel), "", sink));
  };
  if (auto e = logs("follow=1&stdout=1&stderr=1", copy)) {
    return e;
  }
  // Docker 20.10 may end a live follow, as the container stops, before it
  // has read the last lines from its log file (a final line without a
  // newline is lost so). Read the log once more and copy what it missed.
  return logs("stdout=1&stderr=1", [&](int stream, std::string_view data) -> std::optional<Error> {
    size_t skip = static_cast<size_t>(std::min<uint64_t>(copied[stream], data.size()));
    copied[stream] -= skip;
    return write_all(stream == 2 ? stderr_fd : stdout_fd, data.substr(skip));
  });
}

std::optional<Error> Engine::stop(const std::string& container, std::chrono::seconds grace) {
  if (grace.count() < 0) {
    return Error("negative grace period to stop container '" + container +
                 "': " + std::to_string(grace.count()) + " s");
  }
  // 204, or 304: already stopped. The engine answers once the grace is over.
  Try<std::string> path =
      api_path(object_path("containers", container, "/stop?t=" + std::to_string(grace.count())));
  return outcome(call(socket_, path, "POST", bounded(timeout_ + grace)));
}

std::optional<Error> Engine::kill(const std::string& container, int signal) {
  if (signal <= 0 || signal >= 65) {
    return Error("not a signal number: " + std::to_string(signal));
  }
  Try<std::string> path =
      api_path(object_path("containers", container, "/kill?signal=" + std::to_string(signal)));
  return outcome(call(socket_, path, "POST", bounded(timeout_), "", {}, 409, "is not running"));
}

std::optional<Error> Engine::remove(const std::string& container) {
  Try<std::string> path = api_path(object_path("containers", container, "?v=1&force=1"));
  return outcome(call(socket_, path, "DELETE", bounded(timeout_), "", {}, 404));
}

Try<std::vector<ContainerSummary>> Engine::list(const std::string& name_prefix) {
  std::string rest = "/containers/json?all=1";
  if (!name_prefix.empty()) {
    // The engine's name filter is a regular expression found anywhere in the
    // name: escape it, then keep only real prefixes below.
    std::string escaped;
    for (char c : name_prefix) {
      escaped +=
          std::string_view(R"(\^$.|?*+()[]{})").find(c) != std::string_view::npos ? "\\" : "";
      escaped += c;
    }
    picojson::object filters{{"name", picojson::value(picojson::array{picojson::value(escaped)})}};
    rest += "&filters=" + url_encode(picojson::value(filters).serialize());
  }
  Try<Answer> a = call(socket_, api_path(rest), "GET", bounded(timeout_));
  if (a.is_error()) {
    return Error(a.error());
  }
  picojson::value v;
  std::string err = picojson::parse(v, a->body);
  if (!err.empty() || !v.is<picojson::array>()) {
    return Error("Cannot parse the Docker engine's list of containers: " +
                 (err.empty() ? "not a JSON array" : err));
  }
  std::vector<ContainerSummary> out;
  for (const picojson::value& item : v.get<picojson::array>()) {
    if (!item.is<picojson::object>()) {
      continue;
    }
    const picojson::object& o = item.get<picojson::object>();
    ContainerSummary c{string_at(o, "Id"), "", string_at(o, "State"), labels_at(o, "Labels")};
    auto names = o.find("Names");
    if (names != o.end() && names->second.is<picojson::array>()) {
      // A linked container is also listed as "/other/alias": take its own name.
      for (const picojson::value& n : names->second.get<picojson::array>()) {
        std::string name = n.is<std::string>() ? strip_slash(n.get<std::string>()) : "";
        if (c.name.empty() && !name.empty() && name.find('/') == std::string::npos) {
          c.name = name;
        }
      }
    }
    if (c.name.rfind(name_prefix, 0) == 0) {
      out.push_back(std::move(c));
    }
  }
  return out;
}

Try<ContainerStats> Engine::stats(const std::string& container) {
  Try<std::string> path = api_path(object_path("containers", container, "/stats?stream=false"));
  if (path.is_some()) {
    // From API 1.41 on, one-shot skips the engine's second sample (a second).
    Try<int> vs = compare_api_versions(path->substr(2, path->find('/', 1) - 2), "1.41");
    *path += vs.is_some() && *vs >= 0 ? "&one-shot=true" : "";
  }
  Try<picojson::object> o = parse_object(call(socket_, path, "GET", bounded(timeout_)),
                                         "statistics of container '" + container + "'");
  if (o.is_error()) {
    return Error(o.error());
  }
  auto secs = [](uint64_t ns) { return static_cast<double>(ns) / 1e9; };
  ContainerStats s;
  const picojson::object& cpu = object_at(*o, "cpu_stats");
  s.cpus_user_time_secs = secs(uint_at(object_at(cpu, "cpu_usage"), "usage_in_usermode"));
  s.cpus_system_time_secs = secs(uint_at(object_at(cpu, "cpu_usage"), "usage_in_kernelmode"));
  const picojson::object& throttling = object_at(cpu, "throttling_data");
  s.cpus_nr_periods = uint_at(throttling, "periods");
  s.cpus_nr_throttled = uint_at(throttling, "throttled_periods");
  s.cpus_throttled_time_secs = secs(uint_at(throttling, "throttled_time"));
  const picojson::object& mem = object_at(*o, "memory_stats");
  s.mem_total_bytes = uint_at(mem, "usage");
  s.mem_limit_bytes = uint_at(mem, "limit");
  const picojson::object& detail = object_at(mem, "stats");  // cgroups v1 names, else v2 names
  s.mem_rss_bytes = uint_at(detail, detail.count("rss") != 0 ? "rss" : "anon");
  s.mem_cache_bytes = uint_at(detail, detail.count("cache") != 0 ? "cache" : "file");
  return s;
}

Try<bool> Engine::has_image(const std::string& image) {
  Try<Answer> a = call(socket_, api_path(object_path("images", image, "/json")), "GET",
                       bounded(timeout_), "", {}, 404);
  if (a.is_error()) {
    return Error(a.error());
  }
  return a->status != 404;
}

std::optional<Error> Engine::pull(const std::string& image) {
  // "host:5000/x:tag": the tag follows the last ':' after the last '/'
  // (default "latest"); a digest ("x@sha256:...") goes as it is.
  const bool digest = image.find('@') != std::string::npos;
  size_t colon = image.rfind(':');
  bool tagged = !digest && colon != std::string::npos &&
                (image.rfind('/') == std::string::npos || colon > image.rfind('/'));
  std::string repo = tagged ? image.substr(0, colon) : image;
  std::string tag = digest ? "" : tagged ? image.substr(colon + 1) : "latest";
  if (repo.empty() || (!digest && tag.empty())) {
    return Error("not an image name: '" + image + "'");
  }
  std::string rest =
      "/images/create?fromImage=" + url_encode(repo) + (digest ? "" : "&tag=" + url_encode(tag));
  // The engine answers 200 at once, then progress and failures as JSON
  // objects, one a line.
  std::string line;
  std::optional<std::string> failure;
  auto scan = [&] {
    picojson::value v;
    if (!failure && picojson::parse(v, line).empty() && v.is<picojson::object>()) {
      const picojson::object& o = v.get<picojson::object>();
      std::string error = string_at(object_at(o, "errorDetail"), "message");
      error = error.empty() ? string_at(o, "error") : error;
      failure = error.empty() ? failure : error;
    }
    line.clear();
  };
  Sink sink = [&](std::string_view data) -> std::optional<Error> {
    for (char c : data) {
      if (c == '\n') {
        scan();
      } else if (line.size() < 1024 * 1024) {
        line += c;
      }
    }
    return std::nullopt;
  };
  if (auto e = outcome(call(socket_, api_path(rest), "POST", bounded(timeout_), "", sink))) {
    return e;
  }
  scan();
  return failure ? std::optional<Error>(Error(*failure)) : std::nullopt;
}

namespace {

// The processes below `root` (as the host sees them), from the parent pids
// in /proc/<pid>/stat; `root` excluded.
std::vector<pid_t> descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // "<pid> (<comm>) <state> <ppid> ...": comm may hold spaces and ')'.
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + close + 1, " %c %ld", &state, &ppid) == 2) {
      children.emplace(static_cast<pid_t>(ppid), static_cast<pid_t>(std::stol(name)));
    }
  }
  std::vector<pid_t> out;
  std::vector<pid_t> unvisited = {root};
  while (!unvisited.empty()) {
    pid_t parent = unvisited.back();
    unvisited.pop_back();
    auto [begin, end] = children.equal_range(parent);
    for (auto it = begin; it != end; ++it) {
      out.push_back(it->second);
      unvisited.push_back(it->second);
    }
  }
  return out;
}

// Kills `pidfd`'s process and everything it started: all stopped first (so
// that none forks away meanwhile), then SIGKILLed.
std::optional<Error> kill_tree(int pidfd, pid_t pid) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, SIGSTOP, nullptr, 0) != 0) {
    return errno == ESRCH ? std::nullopt : std::optional<Error>(Error("SIGSTOP: " + errno_text(errno)));
  }
  std::vector<pid_t> tree;
  for (int round = 0; round < 3; ++round) {
    tree = descendants(pid);
    for (pid_t child : tree) {
      ::kill(child, SIGSTOP);
    }
  }
  for (pid_t child : descendants(pid)) {
    ::kill(child, SIGKILL);
  }
  for (pid_t child : tree) {
    ::kill(child, SIGKILL);
  }
  if (::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0) != 0 && errno != ESRCH) {
    return Error("SIGKILL: " + errno_text(errno));
  }
  return std::nullopt;
}

}  // namespace

std::optional<Error> Engine::kill_exec(const std::string& exec) {
  const Bounds bounds = bounded(std::min<std::chrono::milliseconds>(timeout_, EXEC_KILL_TIMEOUT));
  auto state = [&]() -> Try<std::pair<bool, pid_t>> {
    Try<picojson::object> o =
        parse_object(call(socket_, exec + "/json", "GET", bounds), "inspection of exec " + exec);
    if (o.is_error()) {
      return Error(o.error());
    }
    return std::make_pair(bool_at(*o, "Running"), static_cast<pid_t>(int_at(*o, "Pid")));
  };
  Try<std::pair<bool, pid_t>> before = state();
  if (before.is_error()) {
    return Error(before.error());
  }
  if (!before->first || before->second <= 0) {
    return std::nullopt;  // over already
  }
  const pid_t pid = before->second;
  // The handle pins the process: once the exec is seen running after it was
  // taken, it is the exec's process and not a later one with its pid.
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.get() < 0) {
    return errno == ESRCH ? std::nullopt
                          : std::optional<Error>(Error("pidfd_open " + std::to_string(pid) + ": " +
                                                       errno_text(errno) + " (is the engine in another pid namespace?)"));
  }
  for (bool killed = false;;) {
    Try<std::pair<bool, pid_t>> now = state();
    if (now.is_error()) {
      return Error(now.error());
    }
    if (!now->first || now->second != pid) {
      return std::nullopt;
    }
    if (!killed) {
      if (auto e = kill_tree(pidfd.get(), pid)) {
        return Error("pid " + std::to_string(pid) + ": " + e->message);
      }
      killed = true;
    }
    if (Clock::now() >= bounds.deadline) {
      return Error("pid " + std::to_string(pid) + " still runs after SIGKILL");
    }
    pollfd none{-1, 0, 0};
    ::poll(&none, 0, static_cast<int>(EXEC_INSPECT_TICK.count()));
  }
}

Try<ExecResult> Engine::exec(const std::string& container, const std::vector<std::string>& argv,
                             std::chrono::milliseconds timeout, const std::atomic<bool>* cancel,
                             const std::vector<std::string>& env) {
  if (argv.empty()) {
    return Error("exec in container '" + container + "': empty command");
  }
  for (const std::string& variable : env) {
    if (variable.find('=') == std::string::npos || variable[0] == '=') {
      return Error("exec in container '" + container + "': invalid environment variable '" + variable +
                   "' (want NAME=VALUE with a non-empty NAME)");
    }
  }
  Bounds bounds = bounded(timeout);
  bounds.cancel = cancel;
  std::string exec;  // "/v1.41/exec/<id>" once created
  auto failed = [&](const std::string& error) {
    std::string message = Clock::now() < bounds.deadline
                              ? error
                              : "exec in container '" + container + "' timed out after " + millis(timeout);
    if (!exec.empty()) {
      // The engine lets the command run on: it must not outlive its check.
      if (auto e = kill_exec(exec)) {
        message += "; cannot kill the command: " + e->message;
      }
    }
    return Error(message);
  };
  Try<std::string> path = api_path(object_path("containers", container, "/exec"));
  if (path.is_error()) {
    return Error(path.error());
  }
  picojson::object create{{"AttachStdout", picojson::value(true)},
                          {"AttachStderr", picojson::value(true)},
                          {"Cmd", picojson::value(picojson::array(argv.begin(), argv.end()))}};
  if (!env.empty()) {
    create["Env"] = picojson::value(picojson::array(env.begin(), env.end()));
  }
  Try<picojson::object> created =
      parse_object(call(socket_, path, "POST", bounds, picojson::value(create).serialize()),
                   "answer to creating an exec");
  if (created.is_error()) {
    return failed(created.error());
  }
  exec = path->substr(0, path->find('/', 1)) + "/exec/" + url_encode(string_at(*created, "Id"));
  // The answer to start is the command's multiplexed output, until it exits.
  ExecResult result;
  Demuxer demux([&](int, std::string_view data) -> std::optional<Error> {
    result.output.append(
        data.substr(0, std::min(EXEC_OUTPUT_LIMIT - result.output.size(), data.size())));
    return std::nullopt;
  });
  Sink sink = [&](std::string_view data) { return demux.feed(data); };
  picojson::object start{{"Detach", picojson::value(false)}, {"Tty", picojson::value(false)}};
  if (auto e = outcome(call(socket_, exec + "/start", "POST", bounds,
                            picojson::value(start).serialize(), sink))) {
    return failed(e->message);
  }
  // The engine records the exit code a moment after the output ends.
  while (true) {
    Try<picojson::object> o =
        parse_object(call(socket_, exec + "/json", "GET", bounds), "inspection of exec " + exec);
    if (o.is_error()) {
      return failed(o.error());
    }
    if (!bool_at(*o, "Running")) {
      result.exit_code = static_cast<int>(int_at(*o, "ExitCode"));
      return result;
    }
    pollfd none{-1, 0, 0};
    ::poll(&none, 0, static_cast<int>(EXEC_INSPECT_TICK.count()));
  }
}

}  // namespace stoa::slave::docker
