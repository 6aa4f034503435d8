#pragma once
// stoa-http-executor's sockets (slave/http_executor_main.cpp): a
// non-blocking HTTP connection to the slave, and the pooled phase of an
// executor started ahead by the slave's warm pool (docs/executor-pool.md),
// which waits on `POST /stoa/executor/pool` for the container it adopts.
// Links neither CAF nor protobuf, as the rest of the executor.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/try.hpp"
#include "slave/http_executor.hpp"

namespace stoa::http_executor {

// The slave is on this machine: a connect that takes this long will not end.
inline constexpr auto CONNECT_TIMEOUT = std::chrono::seconds(2);

// One non-blocking connection to the slave carrying HTTP requests.
struct Connection {
  int fd = -1;
  bool connecting = false;
  std::string out;  // bytes not yet written
  ResponseParser response;
  TimePoint deadline{};  // of the connect, or of the answer awaited

  bool open() const { return fd >= 0; }
  void close();
  // Starts a connect to the slave. Error: the socket call's, naming the endpoint.
  std::optional<Error> connect(const ExecutorConfig& c);
  // After POLLOUT (or an error) on a connecting socket.
  std::optional<Error> finish_connect(const ExecutorConfig& c);
  // Finishes a connect under way (after POLLOUT), then writes what waits.
  std::optional<Error> advance(const ExecutorConfig& c);
  std::optional<Error> flush();
  // Reads what is there into `buf`: its size, 0 at EOF, nullopt when
  // nothing is there yet.
  Try<std::optional<size_t>> read(char* buf, size_t size);
  short events() const;
};

// The `message` of a JSON error body, else the body itself (shortened).
std::string error_message(const std::string& body);

// What the pool stream brought: the connection (now the subscription),
// the UPDATE connection opened while waiting (so that TASK_STARTING, sent
// as the task launches, does not wait for a connect; reopened when the
// slave closes it as idle), the decoder with any partial record, and the
// records after ADOPTED.
struct AdoptionStream {
  Connection sub;
  Connection upd;
  RecordIoDecoder decoder;
  Adoption adoption;
  std::vector<std::string> rest;
};

// Opens `POST /stoa/executor/pool` {token, pid} to the slave at `endpoint`
// (only its agent_* fields are used) and waits, as long as it takes, for
// the slave's ADOPTED event. An exit code instead: 0 when the slave shut
// the pooled executor down or closed the stream (it went away), 1 when it
// refused the token, sent something else than events, or could not be
// reached.
std::variant<int, AdoptionStream> wait_for_adoption(const ExecutorConfig& endpoint, const std::string& token);

// The zygote (docs/executor-pool.md): started once by a slave whose pool
// holds stoa-http-executor, with the pool's environment (but no token, and
// slave::ZYGOTE_VARIABLE=1) and
// one end of a socketpair as its stdin. It reads one pool token per line
// there and forks a pooled executor for each — clone(CLONE_PARENT), so that
// the slave is the new process's parent, reaps it and is told of its exit —
// answering "<pid>\n" (or "-<errno>\n") on the same socket. Forking this
// small, single-threaded, already started process costs a fraction of an
// exec (no loading, no linking, no glibc start-up, whose CPU probing traps
// to the hypervisor here). Returns in the forked child, with its token,
// once it is a pooled executor (its own session, stdin/stdout on
// /dev/null, STOA_POOL_TOKEN set); returns nullopt in the zygote when the
// slave closes its end.
std::optional<std::string> serve_as_zygote();

// Takes the adopted container: the sandbox first (whatever fails next is
// logged in its stderr), the container id over the placeholder, the
// environment a cold launch gives (slave/pool_adoption.hpp).
std::optional<Error> adopt_container(const Adoption& a);

}  // namespace stoa::http_executor
