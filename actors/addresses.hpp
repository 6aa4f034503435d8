#pragma once
// The addresses a process binds and the ones it advertises to other hosts
// (docs/multi-host.md). A process binds --ip (0.0.0.0: every interface) and
// announces --advertise_ip, else --ip, else — for 0.0.0.0 — a routable
// address of this host; never 0.0.0.0.

#include <optional>
#include <string>

namespace stoa::addresses {

// True for an IPv4 address in 127.0.0.0/8 and for ::1.
bool is_loopback_ip(const std::string& ip);
// True for 0.0.0.0 (INADDR_ANY) and ::.
bool is_any_ip(const std::string& ip);

// Whether `host` (an IP literal or "localhost") is a loopback address;
// nullopt for any other name (no DNS lookup: callable from actors).
std::optional<bool> host_is_loopback(const std::string& host);

// A routable IPv4 address of this host, as Mesos picks one for a process
// bound to 0.0.0.0: the address this host's name resolves to when that is
// not a loopback address, else the first non-loopback IPv4 address of an
// interface that is up, else the name's (loopback) address, else
// 127.0.0.1. Blocking (DNS): call it in main, never from an actor.
std::string routable_ipv4();

// The IP a process bound to `bind_ip` advertises: `advertise_ip` when
// given, else `bind_ip` unless it is 0.0.0.0, else routable_ipv4().
// Blocking like routable_ipv4().
std::string advertised_ip(const std::string& bind_ip, const std::optional<std::string>& advertise_ip);

// Mesos' warning for an agent bound to loopback whose master is not.
constexpr const char* LOOPBACK_AGENT_WARNING =
    "Agent bound to loopback interface! Cannot communicate with remote master(s). You might want to set "
    "'--ip' flag to a routable IP address.";

// The warning to log when a process advertising `own_ip` talks to a peer at
// `peer_host`: Mesos' agent warning when `own_ip` is loopback and the peer
// is known not to be; nullopt otherwise (also for peer names that would
// need DNS).
std::optional<std::string> loopback_agent_warning(const std::string& own_ip, const std::string& peer_host);

}  // namespace stoa::addresses
