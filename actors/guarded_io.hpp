#pragma once
// Guarded listening sockets for the HTTP port and the actor (BASP) port.
//
// CAF 0.17's doorman and BASP broker trust the network:
// - a BASP header may claim a 4 GiB payload, and the broker allocates it
//   before any handshake (RSS grows by the claimed size, or bad_alloc aborts);
// - a peer that connects and never completes the handshake is kept forever
//   (the connection timeout only watches established peers);
// - at the descriptor limit accept() fails with EMFILE, the listening socket
//   stays readable, and the event loop spins a core at 100 % without a word.
//
// Our own doorman sits in front of both ports (docs/hardening.md):
// - accept() that fails with EMFILE/ENFILE frees a reserved descriptor,
//   accepts and closes the connection, re-reserves, and logs (rate-limited):
//   the loop never spins;
// - at most `max_connections` connections are open on the port; the newest
//   beyond that is closed at once with a log line;
// - on the actor port every connection gets a BaspGuard scribe that refuses
//   (closes the connection before allocating) any read larger than
//   `max_message_bytes`, and a connection whose first BASP message (the
//   handshake) is not complete within `handshake_timeout` is closed.
// Closing is done by shutting the socket down: CAF then sees an ordinary
// end of stream and cleans up through its own path.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/fwd.hpp>

namespace stoa::guard {

// Defaults of the named limits (flags in the programs that expose them).
constexpr size_t DEFAULT_MAX_CONNECTIONS = 4096;
constexpr auto DEFAULT_HANDSHAKE_TIMEOUT = std::chrono::seconds(10);
constexpr uint32_t DEFAULT_MAX_MESSAGE_BYTES = 64u << 20;  // 64 MiB

struct Limits {
  size_t max_connections = DEFAULT_MAX_CONNECTIONS;
  std::chrono::milliseconds handshake_timeout = DEFAULT_HANDSHAKE_TIMEOUT;  // actor port only
  uint32_t max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES;                    // actor port only
};

// Counters of one guarded port; read them with stats().
struct Stats {
  size_t open = 0;              // connections open now
  uint64_t accepted = 0;        // connections handed to the broker
  uint64_t refused_full = 0;    // closed at once: max_connections reached
  uint64_t refused_fds = 0;     // accepted and closed: out of descriptors
  uint64_t oversized = 0;       // closed: a message above max_message_bytes
  uint64_t handshake_timeouts = 0;  // closed: no handshake in time
};

class PortGuard;

// A guarded listening port. Keep it as long as the port is open.
class GuardedPort {
 public:
  GuardedPort() = default;
  explicit GuardedPort(std::shared_ptr<PortGuard> g) : guard_(std::move(g)) {}
  Stats stats() const;
  uint16_t port() const;
  explicit operator bool() const { return guard_ != nullptr; }

  std::shared_ptr<PortGuard> guard_;
};

// Publishes `whom` on the actor port `ip:port` (0 = the OS picks) through the
// middleman's BASP broker, behind the guard. Blocks the caller briefly (not
// for use inside an actor). Also starts the guard's handshake sweeper, which
// stop() ends.
caf::expected<GuardedPort> publish_guarded(caf::actor_system& sys, const caf::actor& whom,
                                           uint16_t port, const std::string& ip, Limits limits);

// Opens a guarded HTTP listening socket for `broker` (call inside the broker,
// in place of add_tcp_doorman). Its scribes are CAF's own; the broker counts
// and limits connections itself (it knows when they close), so only the
// accept() guard applies here. Returns the bound port.
caf::expected<uint16_t> add_guarded_doorman(caf::io::abstract_broker* broker, uint16_t port,
                                            const std::string& ip, const std::string& name);

// The same for a Unix domain socket at `path` (for processes on this host:
// the slave's executors, MESOS_DOMAIN_SOCKET). A socket left at `path` by a
// process that is gone is replaced; a socket another process listens on, any
// other file there and a path of 108 bytes or more are errors. The socket is
// made connectable by every user (executors run as their tasks' users) and
// removed when `broker` exits.
caf::expected<void> add_guarded_unix_doorman(caf::io::abstract_broker* broker, const std::string& path,
                                             const std::string& name);

// Ends the sweeper of a published port (idempotent). The port itself closes
// with the middleman.
void stop(GuardedPort& port);

}  // namespace stoa::guard
