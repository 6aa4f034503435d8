// The harness's blocking HTTP client and its JSON helpers.
#include "tests/cluster.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "common/strings.hpp"
#include "tests/cluster_internal.hpp"

namespace stoa::tests {

// ---------------------------------------------------------------------------
// HTTP.

namespace {

using internal::errno_text;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

int millis_until(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

Try<int> connect_to(const std::string& host, int port, Deadline deadline) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0) {
    return Error("resolve " + host + ": " + gai_strerror(rc));
  }
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return Error(std::string("socket: ") + errno_text(errno));
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  ::freeaddrinfo(res);
  if (rc != 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    return Error("connect " + host + ":" + std::to_string(port) + ": " + errno_text(err));
  }
  if (rc != 0) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, millis_until(deadline)) != 1) {
      ::close(fd);
      return Error("connect " + host + ":" + std::to_string(port) + ": timed out");
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(fd);
      return Error("connect " + host + ":" + std::to_string(port) + ": " + errno_text(err));
    }
  }
  return fd;
}


// Parses what has arrived; returns the response once complete. `closed`: the
// peer has closed, so a body without length ends here.
std::optional<Try<HttpResponse>> parse_response(const std::string& data, bool closed) {
  size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    if (closed) {
      return Try<HttpResponse>(Error("connection closed before a complete response header (got " +
                                     std::to_string(data.size()) + " bytes)"));
    }
    return std::nullopt;
  }
  HttpResponse r;
  std::istringstream head(data.substr(0, head_end));
  std::string status_line;
  std::getline(head, status_line);
  std::istringstream sl(status_line);
  std::string version;
  if (!(sl >> version >> r.status) || version.rfind("HTTP/1.", 0) != 0) {
    return Try<HttpResponse>(Error("bad status line: " + status_line));
  }
  std::string line;
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    r.headers[lower(line.substr(0, colon))] = std::string(trim(std::string_view(line).substr(colon + 1), " \t"));
  }
  std::string rest = data.substr(head_end + 4);
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    size_t length = std::stoul(it->second);
    if (rest.size() < length) {
      if (closed) {
        return Try<HttpResponse>(Error("connection closed inside the body"));
      }
      return std::nullopt;
    }
    r.body = rest.substr(0, length);
    return Try<HttpResponse>(std::move(r));
  }
  if (auto it = r.headers.find("transfer-encoding"); it != r.headers.end() && lower(it->second) == "chunked") {
    std::string body;
    size_t pos = 0;
    while (true) {
      size_t eol = rest.find("\r\n", pos);
      if (eol == std::string::npos) {
        break;
      }
      size_t size = std::stoul(rest.substr(pos, eol - pos), nullptr, 16);
      if (size == 0) {
        r.body = body;
        return Try<HttpResponse>(std::move(r));
      }
      if (rest.size() < eol + 2 + size + 2) {
        break;
      }
      body += rest.substr(eol + 2, size);
      pos = eol + 2 + size + 2;
    }
    if (closed) {
      return Try<HttpResponse>(Error("connection closed inside a chunked body"));
    }
    return std::nullopt;
  }
  if (closed) {
    r.body = rest;
    return Try<HttpResponse>(std::move(r));
  }
  return std::nullopt;
}

// Whether `data` may now hold a whole response: its head has arrived and, when
// it announces a length, that much body too; a chunked body once its last
// chunk is there. Keeps reading a large body linear instead of re-parsing
// everything after every read.
bool worth_parsing(const std::string& data) {
  size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return false;
  }
  std::string head = lower(data.substr(0, head_end));
  if (size_t at = head.find("\r\ncontent-length:"); at != std::string::npos) {
    size_t length = 0;
    std::istringstream(head.substr(at + 17)) >> length;
    return data.size() >= head_end + 4 + length;
  }
  if (head.find("\r\ntransfer-encoding:") != std::string::npos && head.find("chunked") != std::string::npos) {
    return data.size() >= 5 && data.compare(data.size() - 5, 5, "0\r\n\r\n") == 0;
  }
  return false;  // the body ends when the server closes
}

}  // namespace

Try<HttpResponse> http_raw(const std::string& host, int port, const std::string& request, Deadline deadline) {
  Try<int> fd = connect_to(host, port, deadline);
  if (fd.is_error()) {
    return Error(fd.error());
  }
  Socket sock(*fd);
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(sock.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{sock.fd(), POLLOUT, 0};
      if (::poll(&p, 1, millis_until(deadline)) != 1) {
        return Error("send to " + host + ":" + std::to_string(port) + ": timed out");
      }
      continue;
    }
    if (n < 0) {
      // The server may answer and close before reading everything (e.g. 400): read what it said.
      break;
    }
    sent += static_cast<size_t>(n);
  }
  std::string data;
  char buf[16384];
  while (true) {
    pollfd p{sock.fd(), POLLIN, 0};
    int ready = ::poll(&p, 1, millis_until(deadline));
    if (ready == 0) {
      return Error("no complete response from " + host + ":" + std::to_string(port) + " before the deadline (got " +
                   std::to_string(data.size()) + " bytes)");
    }
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    ssize_t n = ::recv(sock.fd(), buf, sizeof(buf), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    bool closed = n <= 0;
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
    }
    if (!closed && !worth_parsing(data)) {
      continue;  // parsing again now would only copy what arrived so far
    }
    if (auto r = parse_response(data, closed)) {
      return std::move(*r);
    }
  }
}

Try<HttpResponse> http_get(const std::string& host, int port, const std::string& path, Deadline deadline) {
  return http_raw(host, port,
                  "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                      "\r\nConnection: close\r\n\r\n",
                  deadline);
}

Try<picojson::value> http_get_json(const std::string& host, int port, const std::string& path, Deadline deadline) {
  Try<HttpResponse> r = http_get(host, port, path, deadline);
  if (r.is_error()) {
    return Error("GET " + path + ": " + r.error());
  }
  if (r->status != 200) {
    return Error("GET " + path + ": status " + std::to_string(r->status) + ": " + r->body);
  }
  picojson::value v;
  std::string err = picojson::parse(v, r->body);
  if (!err.empty()) {
    return Error("GET " + path + ": bad JSON: " + err);
  }
  return v;
}

const picojson::value& json_at(const picojson::value& v, const std::string& key) {
  static const picojson::value null_value;
  if (!v.is<picojson::object>()) {
    return null_value;
  }
  const auto& obj = v.get<picojson::object>();
  auto it = obj.find(key);
  return it == obj.end() ? null_value : it->second;
}

const picojson::array& json_array(const picojson::value& v) {
  static const picojson::array empty;
  return v.is<picojson::array>() ? v.get<picojson::array>() : empty;
}

std::string json_string(const picojson::value& v) { return v.is<std::string>() ? v.get<std::string>() : ""; }

double json_number(const picojson::value& v) {
  if (v.is<double>()) {
    return v.get<double>();
  }
  return 0;
}

}  // namespace stoa::tests
