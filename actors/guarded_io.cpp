#include "actors/guarded_io.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>
#include <string_view>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/abstract_broker.hpp>
#include <caf/io/basp/header.hpp>
#include <caf/io/basp_broker.hpp>
#include <caf/io/doorman.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/acceptor_impl.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/native_socket.hpp>

#include "actors/buffered_tcp.hpp"
#include "common/logging.hpp"

namespace stoa::guard {

namespace net = caf::io::network;
using Clock = std::chrono::steady_clock;

namespace {

using sweep_atom = caf::atom_constant<caf::atom("g_sweep")>;

// One descriptor held in reserve per process: when accept() fails because
// the process is out of descriptors, it is released for just long enough to
// accept the waiting connection and close it, so the listening socket stops
// being readable and the event loop does not spin.
std::mutex reserve_mu;
int reserve_fd = -1;

void ensure_reserve() {
  std::lock_guard<std::mutex> lock(reserve_mu);
  if (reserve_fd < 0) {
    reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
}

// Logs at most once per `every` for one kind of event; counts the rest.
class RateLimitedLog {
 public:
  bool should_log(std::chrono::seconds every = std::chrono::seconds(5)) {
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    if (now - last_ < every) {
      ++suppressed_;
      return false;
    }
    last_ = now;
    return true;
  }
  uint64_t take_suppressed() {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t n = suppressed_;
    suppressed_ = 0;
    return n;
  }

 private:
  std::mutex mu_;
  Clock::time_point last_{};
  uint64_t suppressed_ = 0;
};

std::string peer_of(net::native_socket fd) {
  auto addr = net::remote_addr_of_fd(fd);
  auto port = net::remote_port_of_fd(fd);
  if (!addr || !port) {
    return "an unknown peer";
  }
  return *addr + ":" + std::to_string(*port);
}

}  // namespace

class BaspGuardScribe;

// What a doorman and its scribes share; outlives both (shared_ptr).
class PortGuard {
 public:
  std::string name;  // "actor port 127.0.0.1:40123"
  Limits limits;
  uint16_t port = 0;
  net::default_multiplexer* mpx = nullptr;
  caf::actor sweeper;

  std::atomic<size_t> open{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused_full{0};
  std::atomic<uint64_t> refused_fds{0};
  std::atomic<uint64_t> oversized{0};
  std::atomic<uint64_t> handshake_timeouts{0};

  RateLimitedLog full_log;
  RateLimitedLog fd_log;

  // The listening side, so accepting can pause when shedding cannot help
  // (another thread took the freed descriptor, or the whole system is out of
  // them): a readable listener with nothing accepted would spin the loop.
  // Touched on the multiplexer's thread only, and under `mu`.
  net::acceptor* acceptor = nullptr;
  net::acceptor_manager* manager = nullptr;
  bool paused = false;

  void pause_accepting(const char* why) {
    std::lock_guard<std::mutex> lock(mu);
    if (acceptor != nullptr && !paused) {
      stop_reading(*acceptor);  // (activate() adds again only without a reader)
      paused = true;
      LOG_ERROR << "Not accepting on " << name << " for a moment: " << why;
    }
  }

  void resume_accepting() {
    std::lock_guard<std::mutex> lock(mu);
    if (acceptor != nullptr && manager != nullptr && paused) {
      paused = false;
      acceptor->activate(manager);
    }
  }

  // Connections whose handshake is not complete yet. Holding the scribe
  // keeps its descriptor open (CAF closes it in the destructor), so a
  // shutdown() by the sweeper can never hit a reused descriptor.
  std::mutex mu;
  std::vector<caf::intrusive_ptr<BaspGuardScribe>> pending;

  // Runs in the multiplexer's thread (posted by the sweeper actor).
  void sweep();

  // accept() failed with EMFILE/ENFILE on `listen_fd`: frees the reserved
  // descriptor, accepts and closes the waiting connection, re-reserves.
  // False when that did not work (the listener would stay readable).
  bool shed_one(net::native_socket listen_fd, int err) {
    refused_fds++;
    bool shed = false;
    {
      std::lock_guard<std::mutex> lock(reserve_mu);
      if (reserve_fd >= 0) {
        ::close(reserve_fd);
        reserve_fd = -1;
      }
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        ::close(fd);
        shed = true;
      }
      reserve_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (fd_log.should_log()) {
      LOG_ERROR << "Out of file descriptors on " << name << " (" << std::strerror(err)
                << "): closed a new connection at once (" << fd_log.take_suppressed()
                << " more since the last message); raise the limit (ulimit -n) or lower "
                   "--max_connections";
    }
    return shed;
  }
};

// accept() that never leaves a pending connection behind (see shed_one).
struct GuardedAcceptPolicy {
  explicit GuardedAcceptPolicy(PortGuard* g) : guard(g) {}
  PortGuard* guard;

  bool try_accept(net::native_socket& result, net::native_socket fd) {
    result = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (result >= 0) {
      return true;
    }
    int err = errno;
    result = net::invalid_native_socket;
    if (err == EMFILE) {
      if (!guard->shed_one(fd, err)) {
        guard->pause_accepting("out of file descriptors and none could be freed");
      }
      return true;
    }
    if (err == ENFILE || err == ENOBUFS || err == ENOMEM) {
      // System-wide: freeing one of ours does not help. Pause; the sweeper
      // resumes accepting within a second.
      guard->refused_fds++;
      guard->pause_accepting(std::strerror(err));
      return true;
    }
    // EAGAIN, EINTR, ECONNABORTED, EPROTO...: nothing to accept now.
    return true;
  }
};

// A BASP connection on the actor port: refuses oversized reads and tracks
// whether the first message (the peer's handshake) has arrived.
class BaspGuardScribe : public BufferedScribe {
 public:
  BaspGuardScribe(net::default_multiplexer& mx, net::native_socket fd, std::shared_ptr<PortGuard> g)
      : BufferedScribe(mx, fd), guard_(std::move(g)), accepted_at_(Clock::now()) {
    guard_->open++;
  }
  ~BaspGuardScribe() override { guard_->open--; }

  void configure_read(caf::io::receive_policy::config config) override {
    if (!closing_ && config.second > guard_->limits.max_message_bytes) {
      guard_->oversized++;
      LOG_WARNING << "Closing the connection from " << peer() << " on " << guard_->name
                  << ": it announced a message of " << config.second << " bytes, above the limit of "
                  << guard_->limits.max_message_bytes << " (--max_message_bytes)";
      close_now();
    } else if (!closing_ && !handshake_done_ && config.second > MAX_HANDSHAKE_BYTES) {
      // Nobody has proven to speak BASP yet: no large buffer for them.
      guard_->oversized++;
      LOG_WARNING << "Closing the connection from " << peer() << " on " << guard_->name
                  << ": its handshake announced " << config.second << " bytes (at most "
                  << MAX_HANDSHAKE_BYTES << " before the handshake)";
      close_now();
    }
    if (closing_) {
      // Read nothing big: the next read sees the end of the stream.
      BufferedScribe::configure_read(caf::io::receive_policy::at_most(64));
      return;
    }
    BufferedScribe::configure_read(config);
  }

  bool consume(caf::execution_unit* ctx, const void* buf, size_t size) override {
    if (closing_) {
      return true;  // the socket is shut down: nothing more reaches the broker
    }
    if (!inspect(static_cast<const unsigned char*>(buf), size)) {
      close_now();
      return true;  // withheld from the BASP broker
    }
    return BufferedScribe::consume(ctx, buf, size);
  }

  bool handshake_done() const { return handshake_done_; }
  bool closing() const { return closing_; }
  Clock::time_point accepted_at() const { return accepted_at_; }

  // Shuts the socket down: CAF's next read sees the end of the stream and
  // closes the connection through its usual path (the BASP broker cleans up).
  void close_now() {
    if (!closing_) {
      closing_ = true;
      ::shutdown(stream_.fd(), SHUT_RDWR);
    }
  }

  std::string peer() const { return peer_of(stream_.fd()); }

 private:
  // The largest read a peer may ask for before its handshake is complete
  // (a client handshake is well under 1 KiB).
  static constexpr uint32_t MAX_HANDSHAKE_BYTES = 64 * 1024;

  // BASP 0.17 message types (caf/io/basp/message_type.hpp).
  static constexpr uint8_t CLIENT_HANDSHAKE = 0x01;
  static constexpr uint8_t DIRECT_MESSAGE = 0x02;
  static constexpr uint8_t ROUTED_MESSAGE = 0x03;

  // Follows the BASP stream (the broker reads exactly a 32-byte header, then
  // exactly its payload) and returns false for what must not reach the
  // broker:
  // - a first message that is not a client handshake;
  // - a direct or routed message whose content is a lone exit_msg or
  //   down_msg. CAF delivers those over the network like any message and an
  //   exit with reason `kill` cannot be trapped: any peer could stop or kill
  //   a master, or fake a slave's death. Stoa never sends either across
  //   processes (remote deaths arrive as BASP down notifications).
  bool inspect(const unsigned char* p, size_t n) {
    if (expect_header_) {
      if (n != caf::io::basp::header_size) {
        return true;  // not at a header boundary: CAF's own checks apply
      }
      type_ = p[0];
      payload_ = (static_cast<uint32_t>(p[4]) << 24) | (static_cast<uint32_t>(p[5]) << 16) |
                 (static_cast<uint32_t>(p[6]) << 8) | static_cast<uint32_t>(p[7]);
      if (!handshake_done_ && !first_seen_) {
        first_seen_ = true;
        if (type_ != CLIENT_HANDSHAKE) {
          LOG_WARNING << "Closing the connection from " << peer() << " on " << guard_->name
                      << ": its first message (type " << static_cast<int>(type_)
                      << ") is not a handshake";
          return false;
        }
      }
      if (payload_ == 0) {
        handshake_done_ = true;  // a complete message (the handshake, or any later one)
      } else {
        expect_header_ = false;
      }
      return true;
    }
    expect_header_ = true;
    if (n != payload_) {
      return true;
    }
    handshake_done_ = true;
    if (type_ == DIRECT_MESSAGE || type_ == ROUTED_MESSAGE) {
      if (const char* what = system_message_in(p, n)) {
        LOG_WARNING << "Closing the connection from " << peer() << " on " << guard_->name << ": it sent an "
                    << what << " message, which only actors of this process may send";
        return false;
      }
    }
    return true;
  }

  // The serialized content of a message starts with its type signature,
  // "@<>+" and the element types ("@<>+@exit" for a lone exit_msg), as a
  // length-prefixed string; it follows the forwarding stack (and, for a
  // routed message, the two node ids) near the start of the payload.
  static const char* system_message_in(const unsigned char* p, size_t n) {
    static const std::string exit_sig = std::string("\x09@<>+@exit", 10);
    static const std::string down_sig = std::string("\x09@<>+@down", 10);
    std::string_view head(reinterpret_cast<const char*>(p), std::min<size_t>(n, 256));
    for (size_t at = head.find("@<>+@"); at != std::string_view::npos; at = head.find("@<>+@", at + 1)) {
      if (at == 0) {
        continue;
      }
      // The length byte (9) bounds the signature to the lone element.
      std::string_view sig = head.substr(at - 1, 10);
      if (sig == exit_sig) {
        return "exit";
      }
      if (sig == down_sig) {
        return "down";
      }
    }
    return nullptr;
  }

  std::shared_ptr<PortGuard> guard_;
  Clock::time_point accepted_at_;
  bool expect_header_ = true;
  bool first_seen_ = false;
  uint8_t type_ = 0;
  uint32_t payload_ = 0;
  bool handshake_done_ = false;
  bool closing_ = false;
};

void PortGuard::sweep() {
  ensure_reserve();
  resume_accepting();
  auto now = Clock::now();
  std::vector<caf::intrusive_ptr<BaspGuardScribe>> expired;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto keep = pending.begin();
    for (auto& s : pending) {
      if (s->handshake_done() || s->closing() || s->detached()) {
        continue;  // done, going or gone (closed by CAF): forget it
      }
      if (now - s->accepted_at() >= limits.handshake_timeout) {
        expired.push_back(s);
        continue;
      }
      *keep++ = s;
    }
    pending.erase(keep, pending.end());
  }
  for (auto& s : expired) {
    handshake_timeouts++;
    LOG_WARNING << "Closing the connection from " << s->peer() << " on " << name
                << ": no complete handshake within " << limits.handshake_timeout.count()
                << " ms (--handshake_timeout)";
    s->close_now();
  }
}

// The doorman of a guarded port: CAF's doorman with our accept policy,
// connection limit and (on the actor port) guarded scribes.
class GuardedDoorman : public caf::io::doorman {
 public:
  GuardedDoorman(net::default_multiplexer& mx, net::native_socket fd, std::shared_ptr<PortGuard> g,
                 bool basp)
      : caf::io::doorman(net::accept_hdl_from_socket(fd)),
        acceptor_(mx, fd, g.get()),
        guard_(std::move(g)),
        basp_(basp) {
    std::lock_guard<std::mutex> lock(guard_->mu);
    guard_->acceptor = &acceptor_;
    guard_->manager = this;
  }

  ~GuardedDoorman() override {
    std::lock_guard<std::mutex> lock(guard_->mu);
    guard_->acceptor = nullptr;
    guard_->manager = nullptr;
  }

  bool new_connection() override {
    net::native_socket fd = acceptor_.accepted_socket();
    if (detached()) {
      ::close(fd);  // the broker is gone: nobody would own it
      return false;
    }
    auto& dm = acceptor_.backend();
    if (!basp_) {
      guard_->accepted++;
      auto sptr = dm.new_scribe(fd);
      auto hdl = sptr->hdl();
      parent()->add_scribe(std::move(sptr));
      return caf::io::doorman::new_connection(&dm, hdl);
    }
    if (guard_->open.load() >= guard_->limits.max_connections) {
      guard_->refused_full++;
      if (guard_->full_log.should_log()) {
        LOG_WARNING << "Closing a new connection from " << peer_of(fd) << " on " << guard_->name << ": "
                    << guard_->limits.max_connections << " connections are open (--max_connections; "
                    << guard_->full_log.take_suppressed() << " more closed since the last message)";
      }
      ::close(fd);
      return true;
    }
    guard_->accepted++;
    auto sptr = caf::make_counted<BaspGuardScribe>(dm, fd, guard_);
    {
      std::lock_guard<std::mutex> lock(guard_->mu);
      guard_->pending.push_back(sptr);
    }
    auto hdl = sptr->hdl();
    parent()->add_scribe(std::move(sptr));
    return caf::io::doorman::new_connection(&dm, hdl);
  }

  void graceful_shutdown() override {
    acceptor_.graceful_shutdown();
    detach(&acceptor_.backend(), false);
  }

  void launch() override { acceptor_.start(this); }

  std::string addr() const override {
    auto x = net::local_addr_of_fd(acceptor_.fd());
    return x ? *x : std::string();
  }

  uint16_t port() const override {
    auto x = net::local_port_of_fd(acceptor_.fd());
    return x ? *x : 0;
  }

  void add_to_loop() override { acceptor_.activate(this); }

  void remove_from_loop() override { stop_reading(acceptor_); }

 private:
  net::acceptor_impl<GuardedAcceptPolicy> acceptor_;
  std::shared_ptr<PortGuard> guard_;
  bool basp_;
};

namespace {

// Posts a sweep of the guard into the multiplexer's thread every ~1/4 of
// the handshake timeout (at least every 50 ms, at most every second).
caf::behavior sweeper_fn(caf::event_based_actor* self, std::weak_ptr<PortGuard> weak,
                         std::chrono::milliseconds period) {
  self->delayed_send(self, period, sweep_atom::value);
  return {
      [self, weak, period](sweep_atom) {
        if (self->current_sender() != self->ctrl()) {
          return;
        }
        auto guard = weak.lock();
        if (!guard) {
          self->quit();
          return;
        }
        guard->mpx->post([weak] {
          if (auto g = weak.lock()) {
            g->sweep();
          }
        });
        self->delayed_send(self, period, sweep_atom::value);
      },
  };
}

// Every ~1/4 of the handshake timeout (at least every 50 ms, at most every
// second): closes stale handshakes and resumes a paused accept.
caf::actor spawn_sweeper(caf::actor_system& sys, const std::shared_ptr<PortGuard>& guard) {
  auto period = std::clamp<std::chrono::milliseconds>(guard->limits.handshake_timeout / 4,
                                                      std::chrono::milliseconds(50),
                                                      std::chrono::milliseconds(1000));
  // Not hidden: Runtime::shutdown() waits for it, so nothing is posted into
  // a multiplexer that is gone.
  return sys.spawn(sweeper_fn, std::weak_ptr<PortGuard>(guard), period);
}

}  // namespace

Stats GuardedPort::stats() const {
  Stats s;
  if (!guard_) {
    return s;
  }
  s.open = guard_->open.load();
  s.accepted = guard_->accepted.load();
  s.refused_full = guard_->refused_full.load();
  s.refused_fds = guard_->refused_fds.load();
  s.oversized = guard_->oversized.load();
  s.handshake_timeouts = guard_->handshake_timeouts.load();
  return s;
}

uint16_t GuardedPort::port() const { return guard_ ? guard_->port : 0; }

namespace {

// A listening socket on ip:port (0 = any) and its guard, named
// "<what> ip:port" — the common start of both kinds of guarded port.
caf::expected<std::pair<net::native_socket, std::shared_ptr<PortGuard>>> open_guarded(
    caf::io::network::multiplexer& backend, uint16_t port, const std::string& ip, const std::string& what,
    Limits limits) {
  ensure_reserve();
  auto* mpx = dynamic_cast<net::default_multiplexer*>(&backend);
  if (mpx == nullptr) {
    return caf::make_error(caf::sec::runtime_error, "the middleman has no default multiplexer");
  }
  auto fd = net::new_tcp_acceptor_impl(port, ip.empty() ? nullptr : ip.c_str(), true);
  if (!fd) {
    return std::move(fd.error());
  }
  auto guard = std::make_shared<PortGuard>();
  guard->limits = limits;
  guard->mpx = mpx;
  auto bound = net::local_port_of_fd(*fd);
  guard->port = bound ? *bound : 0;
  guard->name = what + " " + ip + ":" + std::to_string(guard->port);
  return std::make_pair(*fd, std::move(guard));
}

}  // namespace

caf::expected<GuardedPort> publish_guarded(caf::actor_system& sys, const caf::actor& whom, uint16_t port,
                                           const std::string& ip, Limits limits) {
  auto& mm = sys.middleman();
  auto opened = open_guarded(mm.backend(), port, ip, "actor port", limits);
  if (!opened) {
    return std::move(opened.error());
  }
  auto& [fd, guard] = *opened;
  caf::io::doorman_ptr doorman = caf::make_counted<GuardedDoorman>(*guard->mpx, fd, guard, true);
  auto basp = mm.named_broker<caf::io::basp_broker>(caf::atom("BASP"));
  std::set<std::string> sigs;
  caf::anon_send(basp, caf::publish_atom::value, std::move(doorman), guard->port,
                 caf::actor_cast<caf::strong_actor_ptr>(whom), std::move(sigs));
  guard->sweeper = spawn_sweeper(sys, guard);
  return GuardedPort{guard};
}

namespace {

// Hands the listening socket `fd` to `broker` behind `guard`, with the
// guard's sweeper, which stops with the broker; `unlink_path` (a Unix
// socket's, or empty) is removed then too.
void add_http_doorman(caf::io::abstract_broker* broker, net::native_socket fd, const std::shared_ptr<PortGuard>& guard,
                      std::string unlink_path) {
  broker->add_doorman(caf::make_counted<GuardedDoorman>(*guard->mpx, fd, guard, false));
  caf::actor sweeper = spawn_sweeper(broker->system(), guard);
  broker->attach_functor([sweeper, unlink_path = std::move(unlink_path)](const caf::error&) {
    caf::anon_send_exit(sweeper, caf::exit_reason::user_shutdown);
    if (!unlink_path.empty()) {
      ::unlink(unlink_path.c_str());
    }
  });
}

}  // namespace

caf::expected<uint16_t> add_guarded_doorman(caf::io::abstract_broker* broker, uint16_t port,
                                            const std::string& ip, const std::string& name) {
  auto opened = open_guarded(broker->backend(), port, ip, name, Limits{});
  if (!opened) {
    return std::move(opened.error());
  }
  auto& [fd, guard] = *opened;
  add_http_doorman(broker, fd, guard, "");
  return guard->port;
}

caf::expected<void> add_guarded_unix_doorman(caf::io::abstract_broker* broker, const std::string& path,
                                             const std::string& name) {
  auto fail = [&](const std::string& why) {
    return caf::make_error(caf::sec::cannot_open_port, name + " " + path + ": " + why);
  };
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return fail("a Unix socket's path must have 1 to " + std::to_string(sizeof(addr.sun_path) - 1) + " bytes, not " +
                std::to_string(path.size()));
  }
  auto* mpx = dynamic_cast<net::default_multiplexer*>(&broker->backend());
  if (mpx == nullptr) {
    return caf::make_error(caf::sec::runtime_error, "the middleman has no default multiplexer");
  }
  ensure_reserve();
  std::memcpy(addr.sun_path, path.data(), path.size());
  addr.sun_family = AF_UNIX;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail("the path exists and is not a socket");
    }
    // Another process' live socket is not taken over; a dead one's is.
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    if (probe >= 0) {
      ::close(probe);
    }
    if (live) {
      return fail("another process listens on it");
    }
    if (::unlink(path.c_str()) != 0) {
      return fail("cannot remove the socket left there: " + std::string(std::strerror(errno)));
    }
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return fail(std::string("socket: ") + std::strerror(errno));
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::chmod(path.c_str(), 0666) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    std::string why = std::strerror(errno);
    ::close(fd);
    ::unlink(path.c_str());
    return fail(why);
  }
  auto guard = std::make_shared<PortGuard>();
  guard->mpx = mpx;
  guard->name = name + " " + path;
  add_http_doorman(broker, fd, guard, path);
  return caf::unit;
}

void stop(GuardedPort& port) {
  if (!port.guard_) {
    return;
  }
  if (port.guard_->sweeper) {
    caf::anon_send_exit(port.guard_->sweeper, caf::exit_reason::user_shutdown);
    port.guard_->sweeper = caf::actor{};
  }
  // The pending scribes hold the guard (and their descriptors): let go.
  std::vector<caf::intrusive_ptr<BaspGuardScribe>> pending;
  {
    std::lock_guard<std::mutex> lock(port.guard_->mu);
    pending.swap(port.guard_->pending);
  }
}

}  // namespace stoa::guard
