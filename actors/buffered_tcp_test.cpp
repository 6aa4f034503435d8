#include "actors/buffered_tcp.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/guarded_io.hpp"
#include "actors/http_test_support.hpp"

namespace stoa {
namespace {

using rw_state = caf::io::network::rw_state;

// A connected pair; end [0] is non-blocking, as CAF's sockets are.
struct Pair {
  Pair() {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    ::fcntl(fd[0], F_SETFL, ::fcntl(fd[0], F_GETFL) | O_NONBLOCK);
  }
  ~Pair() {
    for (int f : fd) {
      if (f >= 0) {
        ::close(f);
      }
    }
  }
  void send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::write(fd[1], bytes.data() + off, bytes.size() - off);
      ASSERT_GT(n, 0);
      off += static_cast<size_t>(n);
    }
  }
  int fd[2] = {-1, -1};
};

// Reads exactly `n` bytes the way CAF's stream does: read_some until the
// threshold is collected. False if the event ended first.
bool read_exactly(ChunkedTcpPolicy& p, int fd, size_t n, std::string* out) {
  out->assign(n, '\0');
  size_t collected = 0;
  while (collected < n) {
    size_t got = 0;
    if (p.read_some(got, fd, out->data() + collected, n - collected) != rw_state::success || got == 0) {
      return false;
    }
    collected += got;
  }
  return true;
}

std::string pattern(size_t n, size_t seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>((seed * 131 + i * 7) % 251);
  }
  return s;
}

TEST(ChunkedTcpPolicy, ManyFramesCostOneRecvAndAShortReadEndsTheEventWithoutAnother) {
  Pair pair;
  std::string all;
  for (size_t i = 0; i < 200; ++i) {
    all += pattern(32, i) + pattern(100, i + 1000);  // a BASP-like header and payload
  }
  pair.send(all);  // 26,400 bytes: less than one chunk
  ChunkedTcpPolicy p;
  p.begin_event();
  for (size_t i = 0; i < 200; ++i) {
    std::string header;
    std::string payload;
    ASSERT_TRUE(read_exactly(p, pair.fd[0], 32, &header)) << i;
    ASSERT_TRUE(read_exactly(p, pair.fd[0], 100, &payload)) << i;
    ASSERT_EQ(header, pattern(32, i));
    ASSERT_EQ(payload, pattern(100, i + 1000));
  }
  EXPECT_EQ(p.recv_calls(), 1u);  // CAF's own policy: 400, and one more for EAGAIN
  EXPECT_EQ(p.buffered(), 0u);
  EXPECT_FALSE(p.must_read_more(pair.fd[0], 1));
  // The recv returned less than a chunk: the socket was empty, so the event
  // ends without asking it again.
  size_t got = 7;
  char c = 0;
  EXPECT_EQ(p.read_some(got, pair.fd[0], &c, 1), rw_state::success);
  EXPECT_EQ(got, 0u);
  EXPECT_EQ(p.recv_calls(), 1u);
  // The next event asks the socket (empty: nothing, no error)...
  p.begin_event();
  EXPECT_EQ(p.read_some(got, pair.fd[0], &c, 1), rw_state::success);
  EXPECT_EQ(got, 0u);
  EXPECT_EQ(p.recv_calls(), 2u);
  // ...and sees the peer's close as a failure, as CAF's policy does.
  ::close(pair.fd[1]);
  pair.fd[1] = -1;
  p.begin_event();
  EXPECT_EQ(p.read_some(got, pair.fd[0], &c, 1), rw_state::failure);
}

TEST(ChunkedTcpPolicy, AnotherConnectionsReadMovesTheHeldBytesIntoTheirOwnBuffer) {
  Pair a;
  Pair b;
  a.send(pattern(1000, 1));
  b.send(pattern(1000, 2));
  ChunkedTcpPolicy pa;
  ChunkedTcpPolicy pb;
  std::string x;
  pa.begin_event();
  ASSERT_TRUE(read_exactly(pa, a.fd[0], 10, &x));
  EXPECT_EQ(pa.buffered(), 990u);
  pb.begin_event();
  ASSERT_TRUE(read_exactly(pb, b.fd[0], 10, &x));  // takes the thread's scratch buffer
  EXPECT_EQ(pa.buffered(), 990u);                   // kept, in a's spill
  EXPECT_EQ(pb.buffered(), 990u);
  EXPECT_TRUE(pa.must_read_more(a.fd[0], 1));
  std::string rest_a;
  pa.begin_event();
  ASSERT_TRUE(read_exactly(pa, a.fd[0], 990, &rest_a));
  EXPECT_EQ(rest_a, pattern(1000, 1).substr(10));
  std::string rest_b;
  ASSERT_TRUE(read_exactly(pb, b.fd[0], 990, &rest_b));
  EXPECT_EQ(rest_b, pattern(1000, 2).substr(10));
  EXPECT_EQ(pa.buffered(), 0u);
  EXPECT_EQ(pb.buffered(), 0u);
  EXPECT_EQ(pa.recv_calls(), 1u);
  EXPECT_EQ(pb.recv_calls(), 1u);
}

// One readable event of `p` on `pair` that hands out `n` bytes.
std::string read_event(ChunkedTcpPolicy& p, const Pair& pair, size_t n) {
  std::string out;
  p.begin_event();
  EXPECT_TRUE(read_exactly(p, pair.fd[0], n, &out));
  p.end_event();
  return out;
}

TEST(ChunkedTcpPolicy, BytesLeftAtTheEndOfAnEventWaitInTheConnectionsOwnBuffer) {
  Pair a;
  Pair b;
  Pair c;
  a.send(pattern(500, 4));
  b.send(pattern(50, 5));
  c.send(pattern(10, 6));
  {
    ChunkedTcpPolicy held;
    EXPECT_EQ(read_event(held, a, 100), pattern(500, 4).substr(0, 100));
    EXPECT_EQ(held.buffered(), 400u);  // unread at the event's end: out of the scratch buffer
    ChunkedTcpPolicy other;            // another connection finds the scratch buffer free
    EXPECT_EQ(read_event(other, b, 50), pattern(50, 5));
    EXPECT_EQ(read_event(held, a, 400), pattern(500, 4).substr(100));
    EXPECT_EQ(held.recv_calls(), 1u);
  }  // destroyed holding nothing in the scratch buffer
  ChunkedTcpPolicy after;
  EXPECT_EQ(read_event(after, c, 10), pattern(10, 6));
}

TEST(ChunkedTcpPolicy, AReadOfAChunkOrMoreGoesStraightIntoTheCallersBuffer) {
  Pair pair;
  const std::string big = pattern(100 * 1024, 3);
  std::thread writer([&] { pair.send(big); });
  ChunkedTcpPolicy p;
  std::string got(big.size(), '\0');
  size_t collected = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (collected < big.size() && std::chrono::steady_clock::now() < deadline) {
    p.begin_event();
    size_t n = 0;
    ASSERT_EQ(p.read_some(n, pair.fd[0], got.data() + collected, big.size() - collected), rw_state::success);
    collected += n;
    if (n == 0) {
      std::this_thread::yield();
    }
  }
  writer.join();
  EXPECT_EQ(collected, big.size());
  EXPECT_EQ(got, big);
  EXPECT_EQ(p.buffered(), 0u);  // nothing went through the scratch buffer
}

// --- through CAF ---------------------------------------------------------

using next_atom = caf::atom_constant<caf::atom("bt_next")>;
using paused_atom = caf::atom_constant<caf::atom("bt_paused")>;

struct TokenState {
  caf::io::connection_handle conn;
  caf::actor test;
};

// Listens on loopback and reads 4-byte records, one per activity token.
caf::behavior token_reader(caf::stateful_actor<TokenState, caf::io::broker>* self, caf::actor test) {
  self->state.test = std::move(test);
  auto doorman = self->add_tcp_doorman(0, "127.0.0.1");
  if (!doorman) {
    self->send(self->state.test, uint16_t{0});
  } else {
    self->send(self->state.test, doorman->second);
  }
  return {
      [self](const caf::io::new_connection_msg& m) {
        self->state.conn = m.handle;
        self->configure_read(m.handle, caf::io::receive_policy::exactly(4));
        self->trigger(m.handle, 1);
      },
      [self](const caf::io::new_data_msg& m) {
        self->send(self->state.test, std::string(m.buf.begin(), m.buf.end()));
      },
      [self](const caf::io::connection_passivated_msg&) { self->send(self->state.test, paused_atom::value); },
      [self](next_atom) { self->trigger(self->state.conn, 1); },
      [](const caf::io::connection_closed_msg&) {},
  };
}

int connect_loopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// An actor system with the chunked middleman and one broker made by `fn`
// (fn(broker, test)), which listens on loopback and sends the test its port.
struct BrokerUnderTest {
  template <class F>
  explicit BrokerUnderTest(F fn) : sys(init(cfg)), self(sys) {
    broker = sys.middleman().spawn_broker(fn, caf::actor(self));
    self->receive([&](uint16_t p) { port = p; }, caf::after(std::chrono::seconds(10)) >> [] {});
  }
  ~BrokerUnderTest() { self->send_exit(broker, caf::exit_reason::user_shutdown); }
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    load_middleman(c);
    c.set("logger.console-verbosity", caf::atom("quiet"));
    return c;
  }
  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::actor broker;
  uint16_t port = 0;
};

TEST(BufferedScribe, ABrokerThatPausesAConnectionGetsTheBytesReadAheadWhenItResumes) {
  BrokerUnderTest t(token_reader);
  ASSERT_NE(t.port, 0);
  caf::scoped_actor& self = t.self;
  const caf::actor& reader = t.broker;
  int fd = connect_loopback(t.port);
  ASSERT_GE(fd, 0);
  // One write: the connection's first recv takes all three records.
  ASSERT_EQ(::write(fd, "AAAABBBBCCCC", 12), 12);
  auto expect_record = [&](const std::string& want) {
    std::string got;
    bool paused = false;
    for (int i = 0; i < 2; ++i) {
      self->receive([&](const std::string& r) { got = r; }, [&](paused_atom) { paused = true; },
                    caf::after(std::chrono::seconds(10)) >> [] {});
    }
    EXPECT_EQ(got, want);
    EXPECT_TRUE(paused) << "the broker's one token should have run out after " << want;
  };
  expect_record("AAAA");
  // Nothing more arrives on the socket: the next records come from what
  // was read ahead, when the broker hands out another token.
  self->send(reader, next_atom::value);
  expect_record("BBBB");
  self->send(reader, next_atom::value);
  expect_record("CCCC");
  ::close(fd);
}

// Remote messages of every size, a chunk's boundary falling anywhere in
// them, arrive whole and in order between two actor systems.
using blob_atom = caf::atom_constant<caf::atom("bt_blob")>;

TEST(BufferedScribe, RemoteMessagesOfAnySizeArriveWholeAndInOrder) {
  auto make_cfg = [](caf::actor_system_config& c) -> caf::actor_system_config& {
    load_middleman(c);
    c.set("logger.console-verbosity", caf::atom("quiet"));
    c.set("middleman.workers", static_cast<size_t>(0));
    return c;
  };
  caf::actor_system_config cfg_a;
  caf::actor_system_config cfg_b;
  caf::actor_system a(make_cfg(cfg_a));
  caf::actor_system b(make_cfg(cfg_b));
  caf::scoped_actor test(a);
  // Checks each blob against its sequence number; answers the count at the end.
  caf::actor sink = a.spawn([]() -> caf::behavior {
    auto next = std::make_shared<size_t>(0);
    auto bad = std::make_shared<size_t>(0);
    return {
        [=](blob_atom, size_t seq, const std::string& blob) {
          if (seq != *next || blob != pattern(blob.size(), seq)) {
            ++*bad;
          }
          *next = seq + 1;
        },
        [=](caf::get_atom) { return std::make_tuple(*next, *bad); },
    };
  });
  auto port = a.middleman().publish(sink, 0, "127.0.0.1");
  ASSERT_TRUE(port) << a.render(port.error());
  auto remote = b.middleman().remote_actor("127.0.0.1", *port);
  ASSERT_TRUE(remote) << b.render(remote.error());
  caf::scoped_actor sender(b);
  std::mt19937 rng(17);
  std::uniform_int_distribution<size_t> small(0, 300);
  std::uniform_int_distribution<size_t> large(60 * 1024, 200 * 1024);
  const size_t count = 3000;
  for (size_t i = 0; i < count; ++i) {
    size_t n = i % 50 == 0 ? large(rng) : small(rng);
    sender->send(*remote, blob_atom::value, i, pattern(n, i));
  }
  // Ask through the same connection: the answer comes after every blob.
  size_t received = 0;
  size_t bad = 1;
  sender->request(*remote, std::chrono::seconds(60), caf::get_atom::value)
      .receive([&](size_t n, size_t b_) { received = n; bad = b_; },
               [&](caf::error& e) { ADD_FAILURE() << b.render(e); });
  EXPECT_EQ(received, count);
  EXPECT_EQ(bad, 0u);
  // The sender's writes went out at the ends of its multiplexer's turns.
  EXPECT_GT(dynamic_cast<ChunkedMultiplexer&>(b.middleman().backend()).deferred_writes(), 0u);
  anon_send_exit(sink, caf::exit_reason::user_shutdown);
}

// Writes 1 MiB to each new connection and closes it at once.
caf::behavior write_and_close(caf::io::broker* self, caf::actor test) {
  auto doorman = self->add_tcp_doorman(0, "127.0.0.1");
  self->send(test, doorman ? doorman->second : uint16_t{0});
  return {
      [self](const caf::io::new_connection_msg& m) {
        const std::string body = pattern(1 << 20, 9);
        self->wr_buf(m.handle).assign(body.begin(), body.end());
        self->flush(m.handle);
        self->close(m.handle);
      },
      [](const caf::io::connection_closed_msg&) {},
  };
}

TEST(BufferedScribe, WhatABrokerWroteBeforeClosingArrivesWholeBeforeTheEnd) {
  BrokerUnderTest t(write_and_close);
  ASSERT_NE(t.port, 0);
  for (int round = 0; round < 3; ++round) {
    int fd = connect_loopback(t.port);
    ASSERT_GE(fd, 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string got;
    char buf[65536];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n <= 0) {
        EXPECT_EQ(n, 0) << "not an orderly end: " << std::strerror(errno);
        break;
      }
      got.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    EXPECT_EQ(got.size(), size_t{1} << 20);
    EXPECT_TRUE(got == pattern(1 << 20, 9));
  }
}

// Whether this process holds a TCP socket on local port `local` (connected
// to port `peer`, when that is not 0).
bool holds_socket(uint16_t local, uint16_t peer) {
  for (int fd = 0; fd < 4096; ++fd) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET ||
        ntohs(a.sin_port) != local) {
      continue;
    }
    sockaddr_in b{};
    len = sizeof(b);
    if (peer == 0 || (::getpeername(fd, reinterpret_cast<sockaddr*>(&b), &len) == 0 && ntohs(b.sin_port) == peer)) {
      return true;
    }
  }
  return false;
}

// Opens a guarded port and quits in the same turn of the loop: the
// doorman's "add" and "delete" cancel out in CAF's queue (stop_reading).
caf::behavior open_and_quit(caf::io::broker* self, caf::actor test) {
  auto port = guard::add_guarded_doorman(self, 0, "127.0.0.1", "test port");
  self->send(test, port ? *port : uint16_t{0});
  self->quit();
  return {};
}

TEST(StopReading, APortOpenedAndClosedInOneTurnIsClosed) {
  BrokerUnderTest t(open_and_quit);
  ASSERT_NE(t.port, 0);
  // Without stop_reading the doorman and its socket are never freed.
  EXPECT_TRUE(http_test::eventually([&] { return !holds_socket(t.port, 0); })) << "port " << t.port << " is still open";
}

// Starts reading each new connection and closes it in the same turn.
caf::behavior read_and_close(caf::io::broker* self, caf::actor test) {
  auto doorman = self->add_tcp_doorman(0, "127.0.0.1");
  self->send(test, doorman ? doorman->second : uint16_t{0});
  return {
      [self, test](const caf::io::new_connection_msg& m) {
        self->configure_read(m.handle, caf::io::receive_policy::at_most(1024));
        self->close(m.handle);
        self->send(test, caf::ok_atom::value);
      },
      [](const caf::io::connection_closed_msg&) {},
  };
}

TEST(StopReading, AConnectionReadAndClosedInOneTurnIsClosed) {
  BrokerUnderTest t(read_and_close);
  ASSERT_NE(t.port, 0);
  int fd = connect_loopback(t.port);
  ASSERT_GE(fd, 0);
  sockaddr_in me{};
  socklen_t len = sizeof(me);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &len), 0);
  bool closed = false;
  t.self->receive([&](caf::ok_atom) { closed = true; }, caf::after(std::chrono::seconds(10)) >> [] {});
  ASSERT_TRUE(closed);
  EXPECT_TRUE(http_test::eventually([&] { return !holds_socket(t.port, ntohs(me.sin_port)); }))
      << "the broker's end of the connection is still open";
  ::close(fd);
}

}  // namespace
}  // namespace stoa
