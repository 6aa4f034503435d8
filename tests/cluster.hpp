#pragma once
// The multi-process test harness: real Stoa binaries on loopback with
// OS-picked ports, one temp directory per test, a tiny blocking HTTP client
// and polling with deadlines (never sleeps as synchronisation).
//
// Binaries come from $STOA_BIN_DIR, else from STOA_DEFAULT_BIN_DIR (the
// build's bin/ folder, a compile definition). A test whose binaries are
// missing skips itself with STOA_REQUIRE_BINARIES(...).
//
// Threading: everything here is blocking and meant for the GoogleTest thread.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <picojson.h>

#include "common/try.hpp"

#include "tests/poll.hpp"

namespace stoa::tests {

// Clock, Deadline, DEFAULT_TIMEOUT, deadline_in, poll_until: tests/poll.hpp.

// ---------------------------------------------------------------------------
// Binaries.

// A loopback port nothing listens on right now (bound, then released),
// taken in 25000-30999 when that is below the kernel's ephemeral range
// (ip_local_port_range): a port the kernel hands out to bind(0) or connect()
// could go to any process between this call and the bind it is for (seen
// once: HAProxy's stats port "already in use" in a sanitized run).
int free_loopback_port();

// Loopback ports held for as long as this object lives, for servers that
// bind with SO_REUSEPORT (HAProxy) or SO_REUSEADDR (Java's server sockets:
// ZooKeeper). Each port stays bound here with SO_REUSEADDR and SO_REUSEPORT
// and never listens: no bind to port 0 and no outgoing connection, in this
// process or another, is given it, no second take() returns it, and
// free_loopback_port()'s probe fails on it, while the server binds it
// beside this socket and gets all its connections — and binds it again
// after a restart. A port released between pick and bind
// (free_loopback_port) can be handed out twice: seen as two HAProxy
// frontends of one test on one port, each answering half the requests, and
// as a ZooKeeper server exiting at start, its port in use.
// A server that sets neither option cannot bind a held port.
class HeldPorts {
 public:
  HeldPorts() = default;
  HeldPorts(const HeldPorts&) = delete;
  HeldPorts& operator=(const HeldPorts&) = delete;
  ~HeldPorts();

  // A new held port; 0, and a test failure naming the reason, when no
  // socket could be bound.
  int take();

 private:
  std::vector<int> fds_;
};

// $STOA_BIN_DIR or the build's bin/ folder.
std::string bin_dir();
// "<bin_dir>/<name>", or `name` itself when it holds a '/'.
std::string binary_path(const std::string& name);
// A skip message naming the binaries in `names` that are not executable files,
// or nullopt when all are there.
std::optional<std::string> missing_binaries(std::initializer_list<std::string> names);

// Skips the current test (from its body or SetUp) when a binary is missing.
#define STOA_REQUIRE_BINARIES(...)                                                      \
  do {                                                                                  \
    if (auto stoa_missing_ = ::stoa::tests::missing_binaries({__VA_ARGS__})) {          \
      GTEST_SKIP() << *stoa_missing_;                                                   \
    }                                                                                   \
  } while (0)

// ---------------------------------------------------------------------------
// Files.

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor unless
// the current test failed or $STOA_KEEP_TEST_DIRS is set (then its path is
// printed).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);
// The last `lines` lines of the file at `path` ("" when unreadable).
std::string tail_of_file(const std::string& path, size_t lines);
// Regular files named `name` anywhere under `root`.
std::vector<std::string> find_files_named(const std::string& root, const std::string& name);

// ---------------------------------------------------------------------------
// Processes.

// A running binary. stdout and stderr go to one log file. The child leads its
// own process group. The destructor SIGKILLs that group and reaps the child.
class Process {
 public:
  // Starts binary_path(binary) with `args` (argv[1..]). `env` is added to
  // ours. Error names the binary and the reason.
  static Try<std::unique_ptr<Process>> start(const std::string& binary, const std::vector<std::string>& args,
                                             const std::string& log_path,
                                             const std::map<std::string, std::string>& env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  const std::string& log_path() const { return log_path_; }
  std::string log() const { return read_file(log_path_); }
  // The log's lines that match `re` (regex_search), in order.
  std::vector<std::string> lines_matching(const std::regex& re) const;

  // Waits for the first log line matching `re` and returns its submatches
  // ([0] is the whole match). nullopt at the deadline, or as soon as the
  // process has exited without having logged such a line.
  std::optional<std::vector<std::string>> wait_for_line(const std::regex& re, Deadline deadline);

  // Sends `sig` to the process itself (not its group).
  void kill(int sig);
  // True until the process has exited (reaps it when it has).
  bool running();
  // Waits for exit and returns the exit code (128 + signal when killed by a
  // signal); nullopt at the deadline.
  std::optional<int> wait_exit(Deadline deadline);
  // How the process ended ("exit code 1", "signal 9"), or "running".
  std::string describe_exit() const;

 private:
  Process(std::string name, pid_t pid, std::string log_path)
      : name_(std::move(name)), pid_(pid), log_path_(std::move(log_path)) {}
  bool try_reap();

  std::string name_;
  pid_t pid_;
  std::string log_path_;
  std::optional<int> status_;  // waitpid status once reaped
};

// The parent of `pid` (/proc/<pid>/stat), or 0 when it is gone.
pid_t parent_of(pid_t pid);
// Processes whose /proc/<pid>/cmdline or environ contains `marker`, zombies
// excluded (they hold no resources and have neither).
std::vector<pid_t> processes_with_marker(const std::string& marker);
// Processes whose working directory is `dir` or below it.
std::vector<pid_t> processes_under(const std::string& dir);
// User + system CPU seconds `pid` has used so far (/proc/<pid>/stat); 0
// when it cannot be read.
double cpu_seconds(pid_t pid);
// "marker-<hex>" unique to this call.
std::string unique_marker();
// `text` with every regex metacharacter escaped (ECMAScript grammar).
std::string regex_escape(const std::string& text);

// ---------------------------------------------------------------------------
// HTTP.

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Sends `request` bytes as-is to host:port and reads one response (by
// Content-Length, chunked, or until the server closes). Error on connect,
// timeout or an unparseable response.
Try<HttpResponse> http_raw(const std::string& host, int port, const std::string& request,
                           Deadline deadline = deadline_in(DEFAULT_TIMEOUT));
// GET `path` with `Connection: close`.
Try<HttpResponse> http_get(const std::string& host, int port, const std::string& path,
                           Deadline deadline = deadline_in(DEFAULT_TIMEOUT));
// GET + parse JSON; Error unless the status is 200 and the body is JSON.
Try<picojson::value> http_get_json(const std::string& host, int port, const std::string& path,
                                   Deadline deadline = deadline_in(DEFAULT_TIMEOUT));

// picojson helpers: missing keys or wrong types give a null / empty value.
const picojson::value& json_at(const picojson::value& v, const std::string& key);
const picojson::array& json_array(const picojson::value& v);
std::string json_string(const picojson::value& v);
double json_number(const picojson::value& v);

// ---------------------------------------------------------------------------
// Checks every cluster must pass (cluster_checks.cpp).

// The number of slaves in a /master/state body whose "active" is true. Error
// naming the slave when one has no boolean "active" field, or when "slaves"
// is not an array: a missing field is a broken view, never "active".
Try<size_t> count_active_slaves(const picojson::value& state);

// "master/invariant_violations" of a /metrics/snapshot body. Error when the
// counter is missing or not a number (the master declares it up front).
Try<double> invariant_violations(const picojson::value& metrics);

// The lines of `master`'s log that report a broken accounting invariant
// (the master logs each violation at ERROR level, STOA_CHECK_INVARIANTS=1).
// Read from the log, so it works for a master that was killed too.
std::vector<std::string> invariant_violations_logged(const Process& master);

// The operator paths a snapshot holds.
const std::vector<std::string>& snapshot_paths();

// `body` (the JSON of `path`, one of snapshot_paths()) without what changes
// on its own while nothing happens: timestamps and uptimes, and everything
// that depends on the offers in flight (offers, offered resources, a role's
// allocation and share, a quota's consumption, a framework's used + offered
// total). What an operator set (weights, quota guarantees, roles, flags) and
// what the master admitted (slaves and their totals, frameworks, tasks and
// their statuses, used resources) stays.
picojson::value without_volatile_fields(const std::string& path, picojson::value body);

// {"<path>": body without volatile fields} for every snapshot path, fetched
// from the master at 127.0.0.1:port. Two snapshots are equal when bad input
// changed nothing an operator or a client can observe.
Try<picojson::value> master_snapshot(int port, Deadline deadline = deadline_in(DEFAULT_TIMEOUT));

// "" when the snapshots are equal, else each path that differs with both
// bodies.
std::string snapshot_difference(const picojson::value& before, const picojson::value& after);

// ---------------------------------------------------------------------------
// A cluster: one master and any number of slaves, each in its own work dir
// under one TempDir, plus helpers to run clients against it.
//
// Every master it starts, restarted ones included, runs with
// STOA_CHECK_INVARIANTS=1. The destructor fails the test when the running
// master's "master/invariant_violations" is missing or not 0, or when any
// master's log (killed ones included) reports a violation; then it prints the
// tail of every log when the current test has failed, stops every process it
// started, and SIGKILLs anything left running inside the temp dir (executors
// and tasks of killed slaves).
class Cluster {
 public:
  Cluster();
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const std::string& dir() const { return dir_.path(); }
  int master_port() const { return master_port_; }
  std::string master_address() const { return "127.0.0.1:" + std::to_string(master_port_); }

  // Starts stoa-master and waits for its "listening on" line.
  Try<Process*> start_master(const std::vector<std::string>& extra_args = {});
  // Starts stoa-slave against the master and waits for its "listening on"
  // line. Its work dir is "<dir>/slave<N>".
  Try<Process*> start_slave(const std::string& resources = "cpus:2;mem:1024;disk:1000;ports:[31000-32000]",
                            const std::vector<std::string>& extra_args = {});
  // Starts any binary with `args` (the caller adds --master=...), logging to
  // "<dir>/<label>.log".
  Try<Process*> start(const std::string& binary, const std::string& label, const std::vector<std::string>& args);

  // GET /master/state.
  Try<picojson::value> state();
  // Starts the master and `slaves` slaves with default resources and waits
  // until all are active; the error says which step failed.
  Try<bool> start_with_slaves(size_t slaves);
  // Waits until /master/state lists `count` active slaves. A slave without
  // an "active" field fails the test at once (see count_active_slaves).
  bool wait_for_active_slaves(size_t count, Deadline deadline);

  // Starts slave `index` again (after it was killed) with the same flags,
  // port and work dir, plus `extra_args` (replacing flags of the same name), logging to "<dir>/<label>.log";
  // waits for its "listening on" line. It becomes slave(index).
  Try<Process*> restart_slave(size_t index, const std::string& label,
                              const std::vector<std::string>& extra_args = {});

  // The HTTP port a slave logged, and its work dir.
  int slave_port(size_t index) const { return slave_ports_.at(index); }
  const std::string& slave_work_dir(size_t index) const { return slave_work_dirs_.at(index); }
  Process* slave(size_t index) const { return slaves_.at(index); }
  Process* master() const { return master_; }
  // Every master started so far, in order (restarted ones included).
  const std::vector<Process*>& masters() const { return masters_; }

  // Prints the last `lines` lines of every log to stderr.
  void print_logs(size_t lines = 40) const;

  // Like start(), with `env` added to the child's environment.
  Try<Process*> start(const std::string& binary, const std::string& label, const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env);
  // Like start_master(), with `env` added to the master's environment.
  Try<Process*> start_master_with_env(const std::map<std::string, std::string>& env,
                                      const std::vector<std::string>& extra_args = {});
  // Starts another stoa-master on master_port() with the same work dir (after
  // the previous one was killed), logging to "<dir>/<label>.log", and waits
  // for its "listening on" line. It becomes master(); master_address() and
  // the slaves' --master stay valid.
  Try<Process*> restart_master(const std::string& label, const std::vector<std::string>& extra_args = {});

 private:
  // Whether `p`, which did not come up, has exited because its HTTP port
  // was taken.
  static bool port_was_taken(Process& p);
  // Starts stoa-master with `args` and `env` plus STOA_CHECK_INVARIANTS=1,
  // logging to "<dir>/<label>.log", and waits for its "listening on" line;
  // returns it with its port. `what` names it in errors.
  Try<std::pair<Process*, int>> start_checked_master(const std::string& label, const std::vector<std::string>& args,
                                                     const std::map<std::string, std::string>& env,
                                                     const std::string& what);
  // Fails the current test when a master broke an accounting invariant.
  void expect_invariants_held();

  TempDir dir_;
  std::vector<std::unique_ptr<Process>> processes_;
  Process* master_ = nullptr;
  std::vector<Process*> masters_;
  int master_port_ = 0;
  std::vector<Process*> slaves_;
  std::vector<int> slave_ports_;
  std::vector<std::string> slave_work_dirs_;
  std::vector<std::vector<std::string>> slave_args_;
};

// The regex both servers log once ready; group 1 is the port.
const std::regex& listening_line();

}  // namespace stoa::tests
