#pragma once
// The transport under slave/docker.hpp's Engine: blocking HTTP/1.1 over the
// engine's unix socket, one connection per call ("Connection: close"),
// answers parsed with http_parser (chunked bodies and bodies that last until
// the connection closes), and Docker's multiplexed stream format. Internal
// to docker.cpp and its tests. Plain POSIX, blocking, never throws.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/try.hpp"

namespace stoa::slave::docker::transport {

using Clock = std::chrono::steady_clock;

// How often a call without a read deadline looks at its *cancel.
constexpr auto CANCEL_TICK = std::chrono::milliseconds(100);

// Milliseconds from now until `until`, clamped to [0, 1000], for poll().
int poll_ms(Clock::time_point until);

// Percent-encodes all but RFC 3986's unreserved characters and `keep`.
std::string url_encode(std::string_view text, std::string_view keep = "");

// Owns a file descriptor (-1: none).
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset();

 private:
  int fd_;
};

// Writes all of `data` to `fd`, EINTR- and EAGAIN-safe; a negative fd
// discards. Error names the fd and the errno text.
std::optional<Error> write_all(int fd, std::string_view data);

// Takes the body of an answer below 400 as it arrives; an error aborts the
// call with it.
using Sink = std::function<std::optional<Error>(std::string_view)>;

struct Answer {
  int status = 0;
  std::string body;  // the whole body, unless a sink took it
};

// What a call may take: connecting and sending end by `deadline`; reading
// ends by `read_deadline` (none: as long as the answer lasts) or with the
// error "cancelled" within CANCEL_TICK of *cancel becoming true.
struct Bounds {
  Clock::time_point deadline;
  std::optional<Clock::time_point> read_deadline;
  const std::atomic<bool>* cancel = nullptr;
};

// The whole call within `timeout`.
Bounds bounded(std::chrono::milliseconds timeout);
// Connecting and sending within `timeout`; the answer as long as it lasts.
Bounds unbounded(std::chrono::milliseconds timeout, const std::atomic<bool>* cancel);

// One request to the engine at unix socket `socket` and its answer, whatever
// its status. A non-empty `body` is sent as JSON. `sink` (may be empty)
// streams the body of an answer below 400. Errors name the socket
// ("Cannot reach the Docker engine at unix:///x.sock: connect: ..."), or the
// request when the engine is late, or say "cancelled".
Try<Answer> http(const std::string& socket, const std::string& method, const std::string& path,
                 const std::string& body, const Bounds& bounds, const Sink& sink = {});

// The error of an answer >= 400: the engine's {"message": ...} (or the
// body) and the status: "No such container: x (HTTP 404)".
Error engine_error(const Answer& a);

// http() at `path` (or its error), where an answer >= 400 is the engine's
// error unless its status is `tolerated` (then it is returned; a tolerated
// 409 only when its body holds `conflict`).
Try<Answer> call(const std::string& socket, const Try<std::string>& path, const std::string& method,
                 const Bounds& bounds, const std::string& body = "", const Sink& sink = {},
                 int tolerated = 0, const std::string& conflict = "");

// The error of `a`, if any.
std::optional<Error> outcome(const Try<Answer>& a);

// Docker's multiplexed stream (a non-TTY container's logs, an exec's
// output): frames of an 8-byte header (stream 0/1/2, three zero bytes, a
// big-endian uint32 length) and that many bytes. Bytes may come in any
// pieces: a frame or a header may span feeds. A stream whose first header is
// none (a TTY container's raw stream) goes to stream 1 as it is.
class Demuxer {
 public:
  // Gets each piece of a frame's payload: stream 1 (stdout, also for 0) or
  // 2 (stderr). An error stops the stream with it.
  using Out = std::function<std::optional<Error>(int stream, std::string_view)>;
  explicit Demuxer(Out out) : out_(std::move(out)) {}

  // Error: a malformed header after the first, or the error of `out`.
  std::optional<Error> feed(std::string_view data);

 private:
  Out out_;
  unsigned char header_[8] = {};
  size_t have_ = 0;
  uint32_t remaining_ = 0;
  int stream_ = 1;
  bool raw_ = false;
  bool first_ = true;
};

}  // namespace stoa::slave::docker::transport
