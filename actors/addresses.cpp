#include "actors/addresses.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace stoa::addresses {

namespace {

bool ipv4_in_loopback_net(const in_addr& a) { return (ntohl(a.s_addr) >> 24) == 127; }

// The first IPv4 address `name` resolves to that is (or, with
// `loopback_ok`, may be) a loopback address.
std::optional<std::string> resolve_ipv4(const std::string& name, bool loopback_ok) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  if (name.empty() || ::getaddrinfo(name.c_str(), nullptr, &hints, &result) != 0) {
    return std::nullopt;
  }
  std::optional<std::string> found;
  for (addrinfo* ai = result; ai != nullptr && !found; ai = ai->ai_next) {
    const in_addr& a = reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr;
    if (loopback_ok || !ipv4_in_loopback_net(a)) {
      char text[INET_ADDRSTRLEN];
      if (::inet_ntop(AF_INET, &a, text, sizeof(text)) != nullptr) {
        found = text;
      }
    }
  }
  ::freeaddrinfo(result);
  return found;
}

std::optional<std::string> first_interface_ipv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return std::nullopt;
  }
  std::optional<std::string> found;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_UP) == 0 ||
        (i->ifa_flags & IFF_LOOPBACK) != 0) {
      continue;
    }
    const in_addr& a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr;
    char text[INET_ADDRSTRLEN];
    if (!ipv4_in_loopback_net(a) && ::inet_ntop(AF_INET, &a, text, sizeof(text)) != nullptr) {
      found = text;
    }
  }
  ::freeifaddrs(list);
  return found;
}

std::string this_host_name() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) {
    return "";
  }
  return host;
}

}  // namespace

bool is_loopback_ip(const std::string& ip) {
  in_addr a{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) == 1) {
    return ipv4_in_loopback_net(a);
  }
  in6_addr a6{};
  return ::inet_pton(AF_INET6, ip.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

bool is_any_ip(const std::string& ip) {
  in_addr a{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) == 1) {
    return a.s_addr == htonl(INADDR_ANY);
  }
  in6_addr a6{};
  return ::inet_pton(AF_INET6, ip.c_str(), &a6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&a6);
}

std::optional<bool> host_is_loopback(const std::string& host) {
  if (host == "localhost") {
    return true;
  }
  in_addr a{};
  in6_addr a6{};
  if (::inet_pton(AF_INET, host.c_str(), &a) == 1 || ::inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    return is_loopback_ip(host);
  }
  return std::nullopt;
}

std::string routable_ipv4() {
  const std::string name = this_host_name();
  if (std::optional<std::string> ip = resolve_ipv4(name, false)) {
    return *ip;
  }
  if (std::optional<std::string> ip = first_interface_ipv4()) {
    return *ip;
  }
  if (std::optional<std::string> ip = resolve_ipv4(name, true)) {
    return *ip;
  }
  return "127.0.0.1";
}

std::string advertised_ip(const std::string& bind_ip, const std::optional<std::string>& advertise_ip) {
  if (advertise_ip) {
    return *advertise_ip;
  }
  if (!is_any_ip(bind_ip)) {
    return bind_ip;
  }
  return routable_ipv4();
}

std::optional<std::string> loopback_agent_warning(const std::string& own_ip, const std::string& peer_host) {
  if (!is_loopback_ip(own_ip)) {
    return std::nullopt;
  }
  std::optional<bool> peer_loopback = host_is_loopback(peer_host);
  if (!peer_loopback || *peer_loopback) {
    return std::nullopt;
  }
  return std::string(LOOPBACK_AGENT_WARNING);
}

}  // namespace stoa::addresses
