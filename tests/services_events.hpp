#pragma once
// A raw /v2/events (Server-Sent Events) subscriber for the stoa-services
// cluster tests (tests/services_test.cpp): it reads frames as they come,
// without blocking.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <picojson.h>

#include "tests/cluster.hpp"

namespace stoa::tests {

inline picojson::value svc_events_parse(const std::string& text) {
  picojson::value v;
  std::string err = picojson::parse(v, text);
  return err.empty() ? v : picojson::value();
}

// A raw /v2/events subscriber: reads frames as they come, without blocking.
class SvcEvents {
 public:
  bool connect(int port, const std::string& query = "") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return false;
    }
    std::string req = "GET /v2/events" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    if (::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
      return false;
    }
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    // Attached once the headers arrived.
    return poll_until([this] { read_some(); return headers_done_; }, deadline_in(DEFAULT_TIMEOUT));
  }
  ~SvcEvents() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  // Reads what arrived and returns every event seen so far, in order.
  const std::vector<std::pair<std::string, picojson::value>>& events() {
    read_some();
    return events_;
  }
  bool saw(const std::string& type) {
    const auto& all = events();
    return std::any_of(all.begin(), all.end(), [&](const auto& e) { return e.first == type; });
  }
  const std::string& status_line() const { return status_line_; }

 private:
  void read_some() {
    char buf[8192];
    while (true) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        break;
      }
      buffer_.append(buf, static_cast<size_t>(n));
    }
    if (!headers_done_) {
      size_t end = buffer_.find("\r\n\r\n");
      if (end == std::string::npos) {
        return;
      }
      status_line_ = buffer_.substr(0, buffer_.find("\r\n"));
      buffer_.erase(0, end + 4);
      headers_done_ = true;
    }
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) != std::string::npos) {
      std::string frame = buffer_.substr(0, end);
      buffer_.erase(0, end + 4);
      std::string type;
      std::string data;
      size_t pos = 0;
      while (pos <= frame.size()) {
        size_t nl = frame.find("\r\n", pos);
        std::string line = frame.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        if (line.rfind("event: ", 0) == 0) {
          type = line.substr(7);
        } else if (line.rfind("data: ", 0) == 0) {
          data = line.substr(6);
        }
        if (nl == std::string::npos) {
          break;
        }
        pos = nl + 2;
      }
      if (!type.empty()) {
        events_.emplace_back(type, svc_events_parse(data));
      }
    }
    // Heartbeats are bare "\r\n": drop leading ones.
    while (buffer_.rfind("\r\n", 0) == 0) {
      buffer_.erase(0, 2);
    }
  }

  int fd_ = -1;
  bool headers_done_ = false;
  std::string status_line_;
  std::string buffer_;
  std::vector<std::pair<std::string, picojson::value>> events_;
};

}  // namespace stoa::tests
