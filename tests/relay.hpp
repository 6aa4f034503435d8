#pragma once
// A TCP relay for tests: listens on `listen_ip:listen_port` (0: OS-picked)
// and relays every connection it accepts to `target_ip:target_port`, both
// ways, on its own threads, until either side closes or the relay is
// destroyed. tests/addresses_test.cpp uses it as a plain forwarder (an
// advertised address that is not the bound one);
// tests/partition_connection_test.cpp also cuts and heals it to model a
// partition of a real link.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/poll.hpp"

namespace stoa::tests {

class Relay {
 public:
  Relay(const std::string& listen_ip, int listen_port, std::string target_ip = "127.0.0.1", int target_port = 0);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  int port() const { return port_; }  // 0 when it could not listen
  // Where connections accepted from now on go (for a target that starts
  // after the relay, on the relay's advertised port).
  void set_target_port(int port) { target_port_ = port; }

  // Nothing is relayed or accepted from now on (connections wait in the
  // backlog as behind a dead link); nothing is closed.
  void cut();
  // Relaying resumes; the target->client way of connections that lived
  // through the cut only after `stall` (a real link's backed-off
  // retransmission). Connections accepted after the cut flow at once.
  void heal(Clock::duration stall);
  // Bytes relayed target->client over connections that lived through a cut.
  uint64_t stale_bytes() const { return stale_bytes_; }

 private:
  struct Ways {
    bool to_target = false;  // client -> target
    bool to_client = false;  // target -> client
  };

  Ways open_ways(uint64_t born);
  bool cut_now();
  uint64_t epoch_now();
  void accept_loop();
  void pump(int client, int target, uint64_t born);

  std::string target_ip_;
  std::atomic<int> target_port_;
  std::atomic<uint64_t> stale_bytes_{0};
  int listen_fd_ = -1;
  int port_ = 0;
  int stop_[2] = {-1, -1};
  std::thread acceptor_;
  std::mutex mu_;
  bool cut_ = false;
  uint64_t epoch_ = 0;  // bumped by each cut()
  Clock::time_point stalled_until_{};
  std::vector<std::thread> pumps_;
};

}  // namespace stoa::tests
