// The Docker engine transport (slave/docker_http.hpp).
#include "slave/docker_http.hpp"

#include <fcntl.h>
#include <http_parser.h>
#include <picojson.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "common/strings.hpp"

namespace stoa::slave::docker::transport {

std::string url_encode(std::string_view text, std::string_view keep) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || std::string_view("-._~").find(c) != std::string_view::npos ||
        keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += {'%', hex[c >> 4], hex[c & 15]};
    }
  }
  return out;
}

void Fd::reset() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = -1;
}

// Writes all of `data` to `fd`, EINTR- and EAGAIN-safe; a negative fd
// discards.
std::optional<Error> write_all(int fd, std::string_view data) {
  while (fd >= 0 && !data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(CANCEL_TICK.count()));
    } else if (errno != EINTR) {
      return Error("write to fd " + std::to_string(fd) + ": " + errno_text(errno));
    }
  }
  return std::nullopt;
}

namespace {

// One answer being parsed (http_parser's `data`).
struct Exchange {
  const Sink* sink = nullptr;
  Answer answer;
  bool streaming = false;
  bool complete = false;
  std::optional<Error> sink_error;
};

const http_parser_settings& parser_settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s{};
    http_parser_settings_init(&s);
    s.on_headers_complete = [](http_parser* p) {
      auto* x = static_cast<Exchange*>(p->data);
      x->answer.status = static_cast<int>(p->status_code);
      x->streaming = *x->sink && x->answer.status < 400;
      return 0;
    };
    s.on_body = [](http_parser* p, const char* at, size_t len) {
      auto* x = static_cast<Exchange*>(p->data);
      if (!x->streaming) {
        x->answer.body.append(at, len);
        return 0;
      }
      x->sink_error = (*x->sink)(std::string_view(at, len));
      return x->sink_error ? 1 : 0;
    };
    s.on_message_complete = [](http_parser* p) {
      auto* x = static_cast<Exchange*>(p->data);
      x->complete = x->answer.status >= 200;
      return 0;
    };
    return s;
  }();
  return settings;
}

}  // namespace

Bounds bounded(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  return Bounds{deadline, deadline, nullptr};
}

Bounds unbounded(std::chrono::milliseconds timeout, const std::atomic<bool>* cancel) {
  return Bounds{Clock::now() + timeout, std::nullopt, cancel};
}

int poll_ms(Clock::time_point until) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 1000));
}

namespace {

// A connected, non-blocking socket; the connect itself ends by `deadline`.
Try<int> connect_to(const std::string& socket, Clock::time_point deadline) {
  const std::string where = "Cannot reach the Docker engine at unix://" + socket + ": ";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.empty() || socket.size() >= sizeof(addr.sun_path)) {
    return Error(where + "a socket path has 1 to " + std::to_string(sizeof(addr.sun_path) - 1) +
                 " bytes");
  }
  std::memcpy(addr.sun_path, socket.data(), socket.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error(where + "socket: " + errno_text(errno));
  }
  // A unix connect blocks only while the listener's backlog is full, for at
  // most the send timeout.
  auto left = std::max<long long>(
      1000, std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count());
  timeval tv{static_cast<time_t>(left / 1000000), static_cast<suseconds_t>(left % 1000000)};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int rc = 0;
  do {
    rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR && Clock::now() < deadline);
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    return Error(where + "connect: " + errno_text(err));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

}  // namespace

Try<Answer> http(const std::string& socket, const std::string& method, const std::string& path,
                 const std::string& body, const Bounds& bounds, const Sink& sink) {
  auto cancelled = [&] { return bounds.cancel != nullptr && bounds.cancel->load(); };
  const std::string what = method + " " + path;
  auto late = [&] {
    return Error("The Docker engine at unix://" + socket + " did not answer " + what + " in time");
  };
  if (cancelled()) {
    return Error("cancelled");
  }
  Try<int> connected = connect_to(socket, bounds.deadline);
  if (connected.is_error()) {
    return Error(connected.error());
  }
  Fd fd(*connected);
  std::string request = what + " HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n";
  if (!body.empty()) {
    request += "Content-Type: application/json\r\n";
  }
  if (!body.empty() || method == "POST") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  for (std::string_view pending = request; !pending.empty();) {
    ssize_t n = ::send(fd.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      pending.remove_prefix(static_cast<size_t>(n));
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Error("Cannot send " + what + " to the Docker engine at unix://" + socket + ": " +
                   errno_text(errno));
    } else if (Clock::now() >= bounds.deadline) {
      return late();
    } else {
      pollfd p{fd.get(), POLLOUT, 0};
      ::poll(&p, 1, poll_ms(bounds.deadline));
    }
  }

  Exchange x;
  x.sink = &sink;
  http_parser parser{};
  http_parser_init(&parser, HTTP_RESPONSE);
  parser.data = &x;
  char buf[64 * 1024];
  while (!x.complete) {
    if (cancelled()) {
      return Error("cancelled");
    }
    Clock::time_point until = Clock::now() + CANCEL_TICK;
    if (bounds.read_deadline) {
      if (Clock::now() >= *bounds.read_deadline) {
        return late();
      }
      until = std::min(until, *bounds.read_deadline);
    }
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, poll_ms(until)) <= 0) {
      continue;
    }
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Error("Reading the Docker engine's answer to " + what + ": " + errno_text(errno));
    }
    if (n < 0) {
      continue;
    }
    // n == 0 tells the parser the stream ended, which completes a body that
    // lasts until the connection closes (exec's output).
    http_parser_execute(&parser, &parser_settings(), buf, static_cast<size_t>(n));
    if (x.sink_error) {
      return *x.sink_error;
    }
    if (!x.complete && HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
      return Error("Malformed HTTP answer from the Docker engine to " + what + ": " +
                   http_errno_description(HTTP_PARSER_ERRNO(&parser)));
    }
    if (!x.complete && n == 0) {
      return Error("The Docker engine at unix://" + socket +
                   " closed the connection before answering " + what + " completely");
    }
  }
  return std::move(x.answer);
}

Error engine_error(const Answer& a) {
  std::string text(trim(a.body));
  picojson::value v;
  if (picojson::parse(v, text).empty() && v.is<picojson::object>() && v.contains("message") &&
      v.get("message").is<std::string>()) {
    text = v.get("message").get<std::string>();
  }
  return Error((text.empty() ? "empty answer" : text) + " (HTTP " + std::to_string(a.status) + ")");
}

Try<Answer> call(const std::string& socket, const Try<std::string>& path, const std::string& method,
                 const Bounds& bounds, const std::string& body, const Sink& sink, int tolerated,
                 const std::string& conflict) {
  if (path.is_error()) {
    return Error(path.error());
  }
  Try<Answer> a = http(socket, method, *path, body, bounds, sink);
  if (a.is_some() && a->status >= 400 &&
      (a->status != tolerated ||
       (tolerated == 409 && a->body.find(conflict) == std::string::npos))) {
    return engine_error(*a);
  }
  return a;
}

std::optional<Error> outcome(const Try<Answer>& a) {
  return a.is_error() ? std::optional<Error>(Error(a.error())) : std::nullopt;
}

std::optional<Error> Demuxer::feed(std::string_view data) {
  while (!data.empty() && !raw_) {
    if (remaining_ > 0) {
      size_t take = std::min<size_t>(data.size(), remaining_);
      remaining_ -= static_cast<uint32_t>(take);
      if (auto e = out_(stream_, data.substr(0, take))) {
        return e;
      }
      data.remove_prefix(take);
      continue;
    }
    size_t take = std::min(data.size(), sizeof(header_) - have_);
    std::memcpy(header_ + have_, data.data(), take);
    have_ += take;
    data.remove_prefix(take);
    if (have_ < sizeof(header_)) {
      return std::nullopt;
    }
    have_ = 0;
    const unsigned char* h = header_;
    if (h[0] > 2 || h[1] != 0 || h[2] != 0 || h[3] != 0) {
      if (!first_) {
        return Error("malformed frame header in the Docker engine's multiplexed stream");
      }
      raw_ = true;
      if (auto e = out_(1, std::string_view(reinterpret_cast<const char*>(h), sizeof(header_)))) {
        return e;
      }
      break;
    }
    first_ = false;
    stream_ = h[0] == 2 ? 2 : 1;
    remaining_ = (uint32_t{h[4]} << 24) | (uint32_t{h[5]} << 16) | (uint32_t{h[6]} << 8) | h[7];
  }
  return raw_ && !data.empty() ? out_(1, data) : std::nullopt;
}

}  // namespace stoa::slave::docker::transport
