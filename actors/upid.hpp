#pragma once
// A UPID names an actor on the network the way libprocess does:
// `id@ip:port`, e.g. `master@127.0.0.1:5050` or `slave(1)@10.0.0.2:5051`.
// The port is the process's public (HTTP) port; actors/runtime.hpp maps it to
// the actor transport.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/try.hpp"

namespace stoa {

struct Upid {
  std::string id;
  std::string host;
  uint16_t port = 0;

  // "id@host:port"; an IPv6 host is bracketed ("master@[::1]:5050") so the
  // text parses back to the same UPID.
  std::string str() const { return id + "@" + address(); }
  std::string address() const {
    bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  bool operator==(const Upid&) const = default;
};

// Parses "id@host:port". Errors (naming the input): missing '@', empty id,
// empty host, missing/non-numeric/out-of-range port, whitespace.
Try<Upid> parse_upid(std::string_view text);

// Parses a master address as given to --master: "host:port",
// "master@host:port" or "http://host:port". The id defaults to "master".
Try<Upid> parse_master_address(std::string_view text);

}  // namespace stoa
