#include "tests/relay.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace stoa::tests {

Relay::Relay(const std::string& listen_ip, int listen_port, std::string target_ip, int target_port)
    : target_ip_(std::move(target_ip)), target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(listen_port));
  ::inet_pton(AF_INET, listen_ip.c_str(), &a.sin_addr);
  socklen_t len = sizeof(a);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 || ::pipe2(stop_, O_CLOEXEC) != 0) {
    return;
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

Relay::~Relay() {
  if (stop_[1] >= 0) {
    ::close(stop_[1]);  // wakes every thread (POLLHUP on the read end)
  }
  if (acceptor_.joinable()) {
    acceptor_.join();
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (std::thread& t : pumps_) {
    t.join();
  }
  for (int fd : {stop_[0], listen_fd_}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

void Relay::cut() {
  std::lock_guard<std::mutex> lock(mu_);
  ++epoch_;
  cut_ = true;
}

void Relay::heal(Clock::duration stall) {
  std::lock_guard<std::mutex> lock(mu_);
  stalled_until_ = Clock::now() + stall;
  cut_ = false;
}

Relay::Ways Relay::open_ways(uint64_t born) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cut_) {
    return {};
  }
  return {true, born == epoch_ || Clock::now() >= stalled_until_};
}

bool Relay::cut_now() {
  std::lock_guard<std::mutex> lock(mu_);
  return cut_;
}

uint64_t Relay::epoch_now() {
  std::lock_guard<std::mutex> lock(mu_);
  return epoch_;
}

void Relay::accept_loop() {
  for (;;) {
    // While cut, connections wait in the backlog as behind a dead link.
    bool accepting = !cut_now();
    pollfd fds[2] = {{stop_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    if (::poll(fds, accepting ? 2 : 1, 20) < 0 || fds[0].revents != 0) {
      return;
    }
    if (!accepting || fds[1].revents == 0) {
      continue;
    }
    int in = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (in < 0) {
      continue;
    }
    int out = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(target_port_.load()));
    ::inet_pton(AF_INET, target_ip_.c_str(), &a.sin_addr);
    if (::connect(out, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(in);
      ::close(out);
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t born = epoch_;
    pumps_.emplace_back([this, in, out, born] { pump(in, out, born); });
  }
}

// Relays the open ways of one connection until either side closes or the
// relay stops; a closed way hides its end's close too, as a dead link does.
void Relay::pump(int client, int target, uint64_t born) {
  char buf[16384];
  for (bool done = false; !done;) {
    Ways ways = open_ways(born);
    pollfd fds[3] = {{stop_[0], POLLIN, 0},
                     {client, static_cast<short>(ways.to_target ? POLLIN : 0), 0},
                     {target, static_cast<short>(ways.to_client ? POLLIN : 0), 0}};
    // A way that is closed must not report its end's hang-up either.
    nfds_t n = 1;
    if (ways.to_target) {
      n = 2;
      if (ways.to_client) {
        n = 3;
      }
    }
    if (::poll(fds, n, 20) < 0 || fds[0].revents != 0) {
      break;
    }
    for (int i = 1; i < static_cast<int>(n) && !done; ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      int from = i == 1 ? client : target;
      int to = i == 1 ? target : client;
      ssize_t got = ::read(from, buf, sizeof(buf));
      done = got <= 0;
      if (!done && i == 2 && born != epoch_now()) {
        stale_bytes_ += static_cast<uint64_t>(got);
      }
      for (ssize_t off = 0; !done && off < got;) {
        ssize_t w = ::send(to, buf + off, static_cast<size_t>(got - off), MSG_NOSIGNAL);
        done = w <= 0;
        off += w > 0 ? w : 0;
      }
    }
  }
  ::close(client);
  ::close(target);
}

}  // namespace stoa::tests
