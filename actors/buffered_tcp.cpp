#include "actors/buffered_tcp.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/network/native_socket.hpp>
#include <caf/make_counted.hpp>
#include <caf/policy/tcp.hpp>

namespace stoa {

namespace net = caf::io::network;

namespace {

// The multiplexer thread's scratch buffer, and which connection's unread
// bytes it holds: during one readable event only (ChunkedStream hands what
// is left to the connection's spill buffer when the event ends). Reads
// happen on that thread only; a read that finds another connection's bytes
// there all the same moves them into that one's spill buffer first.
struct Scratch {
  std::unique_ptr<char[]> bytes;
  ChunkedTcpPolicy* owner = nullptr;
};

thread_local Scratch scratch;

char* scratch_bytes() {
  if (!scratch.bytes) {
    scratch.bytes.reset(new char[ChunkedTcpPolicy::kChunk]);
  }
  return scratch.bytes.get();
}

}  // namespace

ChunkedTcpPolicy::~ChunkedTcpPolicy() {
  if (scratch.owner == this) {
    scratch.owner = nullptr;
  }
}

size_t ChunkedTcpPolicy::buffered() const {
  return (spill_.size() - spill_pos_) + (scratch.owner == this ? chunk_end_ - chunk_pos_ : 0);
}

void ChunkedTcpPolicy::spill() {
  if (scratch.owner != this) {
    return;
  }
  scratch.owner = nullptr;
  if (chunk_pos_ < chunk_end_) {
    spill_.erase(spill_.begin(), spill_.begin() + static_cast<std::ptrdiff_t>(spill_pos_));
    spill_pos_ = 0;
    spill_.insert(spill_.end(), scratch.bytes.get() + chunk_pos_, scratch.bytes.get() + chunk_end_);
  }
  chunk_pos_ = chunk_end_ = 0;
}

ChunkedTcpPolicy::rw_state ChunkedTcpPolicy::read_some(size_t& result, native_socket fd, void* buf, size_t len) {
  result = 0;
  char* out = static_cast<char*>(buf);
  // Bytes held from before come first, in order: the spill, then the chunk.
  if (spill_pos_ < spill_.size()) {
    size_t n = std::min(len, spill_.size() - spill_pos_);
    std::memcpy(out, spill_.data() + spill_pos_, n);
    spill_pos_ += n;
    if (spill_pos_ == spill_.size()) {
      spill_.clear();
      spill_pos_ = 0;
    }
    result = n;
    return rw_state::success;
  }
  if (scratch.owner == this && chunk_pos_ < chunk_end_) {
    size_t n = std::min(len, chunk_end_ - chunk_pos_);
    std::memcpy(out, scratch.bytes.get() + chunk_pos_, n);
    chunk_pos_ += n;
    result = n;
    return rw_state::success;
  }
  if (socket_empty_) {
    return rw_state::success;  // nothing read: this event is over
  }
  // Nothing held: read the socket, straight into the caller's buffer when it
  // asks for a chunk or more (a large payload), else a chunk into scratch.
  const bool direct = len >= kChunk;
  char* into = out;
  size_t want = len;
  if (!direct) {
    if (scratch.owner != nullptr && scratch.owner != this) {
      scratch.owner->spill();
    }
    into = scratch_bytes();
    want = kChunk;
  }
  ++recv_calls_;
  ssize_t got = ::recv(fd, into, want, 0);
  if (got == 0) {
    return rw_state::failure;  // the peer closed the connection
  }
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return rw_state::success;
    }
    return rw_state::failure;
  }
  socket_empty_ = static_cast<size_t>(got) < want;
  if (direct) {
    result = static_cast<size_t>(got);
    return rw_state::success;
  }
  scratch.owner = this;
  chunk_pos_ = 0;
  chunk_end_ = static_cast<size_t>(got);
  size_t n = std::min(len, chunk_end_);
  std::memcpy(out, into, n);
  chunk_pos_ = n;
  result = n;
  return rw_state::success;
}

ChunkedTcpPolicy::rw_state ChunkedTcpPolicy::write_some(size_t& result, native_socket fd, const void* buf,
                                                        size_t len) {
  return caf::policy::tcp::write_some(result, fd, buf, len);
}

bool ChunkedTcpPolicy::try_accept(native_socket& result, native_socket fd) {
  return caf::policy::tcp::try_accept(result, fd);
}

ChunkedStream::ChunkedStream(net::default_multiplexer& mpx, net::native_socket fd) : net::stream(mpx, fd) {}

void ChunkedStream::handle_event(net::operation op) {
  if (op != net::operation::read) {
    handle_event_impl(op, policy_);
    return;
  }
  policy_.begin_event();
  handle_event_impl(op, policy_);
  policy_.end_event();
}

void ChunkedStream::removed_from_loop(net::operation op) {
  if (op == net::operation::read) {
    reading_ = false;
  }
  net::stream::removed_from_loop(op);
}

void ChunkedStream::read_for(net::stream_manager* mgr) {
  activate(mgr);
  reading_ = true;
}

BufferedScribe::BufferedScribe(net::default_multiplexer& mpx, net::native_socket fd)
    : caf::io::scribe(net::conn_hdl_from_socket(fd)),
      deferring_(dynamic_cast<ChunkedMultiplexer*>(&mpx)),
      stream_(mpx, fd) {}

void BufferedScribe::configure_read(caf::io::receive_policy::config config) {
  stream_.configure_read(config);
  if (!launched_) {
    launch();
  }
}

void BufferedScribe::ack_writes(bool enable) {
  stream_.ack_writes(enable);
}

std::vector<char>& BufferedScribe::wr_buf() {
  return stream_.wr_buf();
}

std::vector<char>& BufferedScribe::rd_buf() {
  return stream_.rd_buf();
}

void BufferedScribe::graceful_shutdown() {
  // What the broker wrote goes before the connection's end (FIN).
  if (write_listed_) {
    write_now();
  }
  stream_.graceful_shutdown();
  detach(&stream_.backend(), false);
}

void BufferedScribe::flush() {
  if (deferring_ == nullptr || stream_.writing() || stream_.acks_writes() ||
      std::this_thread::get_id() != deferring_->thread_id()) {
    stream_.flush(this);  // CAF's way (a no-op while its write is pending)
    return;
  }
  if (!write_listed_ && !stream_.wr_buf().empty()) {
    write_listed_ = true;
    deferring_->defer_write(this);
  }
}

void BufferedScribe::write_now() {
  write_listed_ = false;
  std::vector<char>& pending = stream_.wr_buf();
  if (pending.empty() || stream_.writing() || detached()) {
    return;  // nothing, CAF's write has it, or the broker dropped this connection
  }
  if (pending.size() > kWholeWriteLimit) {
    // More than a socket takes at once: a send() now would be partial and
    // leave the rest to be moved to the buffer's front (a memmove of up to
    // ~110 MB for a big /master/state) before CAF takes it over.
    stream_.flush(this);
    return;
  }
  ssize_t sent = ::send(stream_.fd(), pending.data(), pending.size(), MSG_NOSIGNAL);
  if (sent == static_cast<ssize_t>(pending.size())) {
    pending.clear();
    return;
  }
  if (sent > 0) {
    pending.erase(pending.begin(), pending.begin() + sent);
  }
  // The rest (or an error, which CAF's write meets and reports as the
  // connection's failure) when the socket is writable.
  stream_.flush(this);
}

std::string BufferedScribe::addr() const {
  auto x = net::remote_addr_of_fd(stream_.fd());
  return x ? *x : std::string();
}

uint16_t BufferedScribe::port() const {
  auto x = net::remote_port_of_fd(stream_.fd());
  return x ? *x : 0;
}

void BufferedScribe::launch() {
  launched_ = true;
  stream_.read_for(this);
}

void BufferedScribe::add_to_loop() {
  halted_ = false;
  stream_.read_for(this);
  // Bytes read ahead before the broker paused this connection (halt, or its
  // activity tokens ran out): the socket may never be readable again for
  // them, so they are handed over from the loop's next turn.
  if (stream_.policy().buffered() > 0) {
    caf::intrusive_ptr<BufferedScribe> self(this);
    stream_.backend().post([self] {
      caf::optional<size_t> tokens = self->activity_tokens();
      const bool wanted = !self->halted_ && !self->detached() && (!tokens || *tokens > 0);
      if (wanted && self->stream_.reading() && self->stream_.policy().buffered() > 0) {
        self->stream_.handle_event(net::operation::read);
      }
    });
  }
}

void BufferedScribe::remove_from_loop() {
  halted_ = true;
  stop_reading(stream_);
}

caf::io::scribe_ptr ChunkedMultiplexer::new_scribe(net::native_socket fd) {
  net::keepalive(fd, true);
  return caf::make_counted<BufferedScribe>(*this, fd);
}

void ChunkedMultiplexer::defer_write(BufferedScribe* s) {
  listed_.emplace_back(s);
}

void ChunkedMultiplexer::write_deferred() {
  if (listed_.empty()) {
    return;
  }
  while (!listed_.empty()) {
    sending_.swap(listed_);
    for (caf::intrusive_ptr<BufferedScribe>& s : sending_) {
      deferred_writes_.fetch_add(1, std::memory_order_relaxed);
      s->write_now();
    }
    sending_.clear();
  }
  // A write the socket did not take whole registered for "writable"
  // (CAF's flush); CAF applies such registrations only after its next
  // epoll_wait, which would then sleep on a socket nobody watches for
  // writing while the peer waits for the rest: apply them now.
  handle_internal_events();
}

void ChunkedMultiplexer::run() {
  while (num_socket_handlers() > 0) {
    write_deferred();
    poll_once(true);
  }
  write_deferred();
}

void ChunkedMultiplexer::run_once() {
  write_deferred();
  poll_once(true);
  write_deferred();
}

bool ChunkedMultiplexer::try_run_once() {
  write_deferred();
  bool ran = poll_once(false);
  write_deferred();
  return ran;
}

void stop_reading(net::event_handler& h) {
  // eventbf() is what epoll has (CAF updates it when it applies an event).
  const bool in_epoll = (h.eventbf() & net::input_mask) != 0;
  h.passivate();
  if (!in_epoll) {
    h.removed_from_loop(net::operation::read);
  }
}

void load_middleman(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman, ChunkedMultiplexer>();
}

}  // namespace stoa
