#pragma once
// TCP connections that read their socket in chunks and write at the end of
// the multiplexer's turn (#17, docs/benchmarks.md "Fewer system calls per
// message").
//
// CAF 0.17's streams read with one recv() per size their broker asks for:
// BASP asks for exactly a message's 32-byte header, then exactly its
// payload, so each remote message cost two system calls, and each readable
// event one more that found the socket empty. These connections recv() up
// to 64 KiB into the multiplexer thread's scratch buffer and hand the
// broker the sizes it asks for from there; a read that returned less than
// asked for means the socket was empty, so the event ends without the extra
// recv() (epoll is level-triggered: data that arrived since fires again).
// Bytes still unread when an event ends (the broker stopped reading midway)
// move into the connection's own spill buffer; a connection holds no buffer
// otherwise, so 50,000 idle connections cost nothing extra.
//
// Writes are deferred to the end of the multiplexer's turn: CAF's stream
// registered every flush for "writable" (an epoll_ctl), wrote when epoll
// said so, then unregistered (another epoll_ctl): two system calls and a
// loop turn per write, the most frequent system call left in a slave. A
// flushed connection is now only listed; when the loop has run everything
// due (actors, socket events) it sends each listed connection's bytes at
// once, still one send() for all that its brokers wrote in the turn. What
// the socket does not take, and connections whose broker asked to hear of
// every write (`ack_writes`), go CAF's way.
//
// `load_middleman(cfg)` loads CAF's middleman with a multiplexer whose every
// TCP scribe (connected or accepted, BASP and HTTP) reads and writes this
// way; `BufferedScribe` is that scribe, for doormen that make their own.

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/io/network/default_multiplexer.hpp>
#include <caf/io/network/stream.hpp>
#include <caf/io/scribe.hpp>

namespace stoa {

class ChunkedMultiplexer;

// The read side of a connection (CAF's stream policy interface).
class ChunkedTcpPolicy {
 public:
  using native_socket = caf::io::network::native_socket;
  using rw_state = caf::io::network::rw_state;

  // The size of one recv() into the thread's scratch buffer.
  static constexpr size_t kChunk = 64 * 1024;

  ChunkedTcpPolicy() = default;
  ChunkedTcpPolicy(const ChunkedTcpPolicy&) = delete;
  ChunkedTcpPolicy& operator=(const ChunkedTcpPolicy&) = delete;
  ~ChunkedTcpPolicy();

  rw_state read_some(size_t& result, native_socket fd, void* buf, size_t len);
  static rw_state write_some(size_t& result, native_socket fd, const void* buf, size_t len);
  static bool try_accept(native_socket& result, native_socket fd);
  // Keeps CAF's read loop going past its read limit while bytes are held.
  bool must_read_more(native_socket, size_t) const { return buffered() > 0; }

  // Bytes read from the socket and not handed to the broker yet.
  size_t buffered() const;
  // At the start of a readable event.
  void begin_event() { socket_empty_ = false; }
  // At its end: bytes still unread (the broker stopped midway) move from the
  // thread's scratch buffer into this connection's spill buffer, so that no
  // connection holds the scratch buffer between events (a connection may be
  // destroyed on another thread, or its bytes wait for a resume).
  void end_event() { spill(); }

  // For tests: the system calls this connection made to read.
  uint64_t recv_calls() const { return recv_calls_; }

 private:
  // Moves this connection's bytes out of the thread's scratch buffer.
  void spill();

  std::vector<char> spill_;
  size_t spill_pos_ = 0;
  // This connection's bytes in the thread's scratch buffer, while it owns it.
  size_t chunk_pos_ = 0;
  size_t chunk_end_ = 0;
  bool socket_empty_ = false;
  uint64_t recv_calls_ = 0;
};

// CAF's stream with that policy.
class ChunkedStream : public caf::io::network::stream {
 public:
  ChunkedStream(caf::io::network::default_multiplexer& mpx, caf::io::network::native_socket fd);
  void handle_event(caf::io::network::operation op) override;
  void removed_from_loop(caf::io::network::operation op) override;
  // Starts or resumes reading for `mgr` (CAF's activate, remembered).
  void read_for(caf::io::network::stream_manager* mgr);
  // Whether a reader is registered (CAF resets it once it leaves the loop).
  bool reading() const { return reading_; }
  // Whether CAF's write path holds bytes (waiting for "writable").
  bool writing() const { return state_.writing; }
  bool acks_writes() const { return state_.ack_writes; }
  const ChunkedTcpPolicy& policy() const { return policy_; }

 private:
  ChunkedTcpPolicy policy_;
  bool reading_ = false;
};

// CAF's TCP scribe over a ChunkedStream.
class BufferedScribe : public caf::io::scribe {
 public:
  BufferedScribe(caf::io::network::default_multiplexer& mpx, caf::io::network::native_socket fd);

  void configure_read(caf::io::receive_policy::config config) override;
  void ack_writes(bool enable) override;
  std::vector<char>& wr_buf() override;
  std::vector<char>& rd_buf() override;
  void graceful_shutdown() override;
  void flush() override;
  std::string addr() const override;
  uint16_t port() const override;
  void add_to_loop() override;
  void remove_from_loop() override;

  // The deferred write (ChunkedMultiplexer, at the end of its turn): sends
  // what the brokers wrote; what the socket does not take goes CAF's way.
  void write_now();

  // A deferred write larger than this goes CAF's way at once.
  static constexpr size_t kWholeWriteLimit = 1 << 20;

 protected:
  void launch();

  bool launched_ = false;
  bool halted_ = false;  // the broker took it out of the loop (halt, tokens)
  bool write_listed_ = false;  // listed for the end of the multiplexer's turn
  ChunkedMultiplexer* deferring_ = nullptr;  // null: CAF's writes only
  ChunkedStream stream_;
};

// CAF's default multiplexer whose TCP scribes are BufferedScribes, and
// which sends their deferred writes at the end of each turn of its loop.
class ChunkedMultiplexer : public caf::io::network::default_multiplexer {
 public:
  explicit ChunkedMultiplexer(caf::actor_system* sys) : default_multiplexer(sys) {}
  caf::io::scribe_ptr new_scribe(caf::io::network::native_socket fd) override;

  // CAF's loop (while any socket is registered: run what is due, then wait
  // in epoll), each turn ended by the deferred writes.
  void run() override;
  void run_once() override;
  bool try_run_once() override;

  // Lists `s` for the end of this turn (on the multiplexer's thread).
  void defer_write(BufferedScribe* s);
  void write_deferred();

  // For tests: writes sent at the end of a turn.
  uint64_t deferred_writes() const { return deferred_writes_.load(std::memory_order_relaxed); }

 private:
  std::vector<caf::intrusive_ptr<BufferedScribe>> listed_;
  std::vector<caf::intrusive_ptr<BufferedScribe>> sending_;
  std::atomic<uint64_t> deferred_writes_{0};
};

// cfg.load<caf::io::middleman>() with the ChunkedMultiplexer.
void load_middleman(caf::actor_system_config& cfg);

// Takes `h` out of the loop for reading (CAF's passivate), and makes sure it
// hears of it. CAF queues registrations and applies them after the turn's
// socket events; an "add" and a "delete" of one socket queued in the same
// turn cancel out, and removed_from_loop() is then never called. The handler
// keeps the reference to its manager (doorman or scribe) that it took for
// the loop: a cycle, so neither is ever freed and the socket stays open. It
// happens when a servant starts and stops within one turn, e.g. a broker
// whose init and exit message ran in one resume (an HTTP server stopped at
// once: `Runtime.WorkerThreadsFromTheEnvironment…` leaked its doorman under
// load). Here, a handler whose read registration never reached epoll hears
// removed_from_loop() at once.
void stop_reading(caf::io::network::event_handler& h);

}  // namespace stoa
