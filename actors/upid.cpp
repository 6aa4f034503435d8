#include "actors/upid.hpp"

#include <cctype>

namespace stoa {

namespace {

// `text` with bytes outside printable ASCII as \xNN, for error messages.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 256)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out.push_back(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  return out;
}

// Host names and IP literals: letters, digits, '.', '-', '_' (and ':' inside
// an IPv6 literal). Anything else is refused, so every parser of addresses
// agrees on what one is.
bool valid_host(std::string_view host, bool ipv6) {
  for (char c : host) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || (ipv6 && c == ':')) {
      continue;
    }
    return false;
  }
  return true;
}

Try<uint16_t> parse_port(std::string_view text, std::string_view input) {
  if (text.empty() || text.size() > 5) {
    return Error("invalid port '" + printable(text) + "' in '" + printable(input) + "'");
  }
  uint32_t v = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return Error("invalid port '" + printable(text) + "' in '" + printable(input) + "'");
    }
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) {
    return Error("port " + std::string(text) + " out of range in '" + std::string(input) + "'");
  }
  return static_cast<uint16_t>(v);
}

Try<Upid> parse_host_port(std::string id, std::string_view rest, std::string_view input) {
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    return Error("missing ':port' in '" + printable(input) + "'");
  }
  std::string_view host = rest.substr(0, colon);
  bool ipv6 = false;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    ipv6 = true;
  }
  if (host.empty()) {
    return Error("empty host in '" + printable(input) + "'");
  }
  if (!valid_host(host, ipv6)) {
    return Error("invalid host '" + printable(host) + "' in '" + printable(input) + "'");
  }
  Try<uint16_t> port = parse_port(rest.substr(colon + 1), input);
  if (port.is_error()) {
    return Error(port.error());
  }
  return Upid{std::move(id), std::string(host), *port};
}

}  // namespace

Try<Upid> parse_upid(std::string_view text) {
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      return Error("invalid UPID '" + printable(text) + "': contains whitespace");
    }
  }
  size_t at = text.find('@');
  if (at == std::string_view::npos) {
    return Error("invalid UPID '" + printable(text) + "': missing '@' (expected id@ip:port)");
  }
  if (at == 0) {
    return Error("invalid UPID '" + printable(text) + "': empty id");
  }
  Try<Upid> r = parse_host_port(std::string(text.substr(0, at)), text.substr(at + 1), text);
  if (r.is_error()) {
    return Error("invalid UPID: " + r.error());
  }
  return r;
}

Try<Upid> parse_master_address(std::string_view text) {
  std::string_view t = text;
  if (t.rfind("http://", 0) == 0) {
    t.remove_prefix(7);
    while (!t.empty() && t.back() == '/') {
      t.remove_suffix(1);
    }
  }
  if (t.find('@') != std::string_view::npos) {
    return parse_upid(t);
  }
  if (t.rfind("zk://", 0) == 0) {
    return Error("invalid master address '" + std::string(text) +
                 "': ZooKeeper detection is not supported yet; give host:port");
  }
  Try<Upid> r = parse_host_port("master", t, text);
  if (r.is_error()) {
    return Error("invalid master address: " + r.error());
  }
  return r;
}

}  // namespace stoa
