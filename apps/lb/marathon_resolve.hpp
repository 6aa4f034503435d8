#pragma once
// Backend addresses for the registry client (marathon.cpp): a task's host
// name becomes an IPv4 address as marathon-lb's socket.gethostbyname does,
// through an LRU cache of --lru-cache-capacity names. Lookups (getaddrinfo,
// which may block) run in detached actors, never on the client's thread.
// IPv4 literals need no lookup. Names that do not resolve are not cached, so
// the next snapshot tries them again.

#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "apps/lb/model.hpp"

namespace stoa::lb {

// (lb_resolve_atom, std::vector<std::string> names) -> std::vector<std::string>
// (the IPv4 address of each name in order, "" when it does not resolve).
using lb_resolve_atom = caf::atom_constant<caf::atom("lb_resolve")>;

// How long one batch of lookups may take before its names count as unresolved.
constexpr auto RESOLVE_TIMEOUT = std::chrono::seconds(15);
// At most this many lookups run at once for one snapshot.
constexpr size_t MAX_RESOLVER_WORKERS = 4;

// Least-recently-used map of host name -> IPv4 text. Not thread-safe: owned
// by one actor.
class HostCache {
 public:
  explicit HostCache(size_t capacity);
  // The cached address (and marks it used), or nullopt.
  std::optional<std::string> get(const std::string& name);
  // Inserts or refreshes; drops the least recently used beyond capacity.
  void put(const std::string& name, const std::string& ip);
  size_t size() const { return index_.size(); }

 private:
  size_t capacity_;
  std::list<std::pair<std::string, std::string>> order_;  // most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> index_;
};

bool is_ipv4_literal(const std::string& host);

// Blocking getaddrinfo(AF_INET). "" when `name` does not resolve.
// REQUIRES: called off the scheduler's workers (a detached actor).
std::string resolve_ipv4_blocking(const std::string& name);

// A detached actor that answers one lb_resolve_atom request, then quits.
caf::actor spawn_host_resolver(caf::actor_system& sys);

// The host names of `apps` that need a lookup: tasks outside container mode
// with a non-empty host that is neither an IPv4 literal nor in `cache`;
// distinct, in first-seen order.
std::vector<std::string> hosts_to_resolve(const std::vector<App>& apps, HostCache& cache);

// Sets Task::ip of every task: container mode: ip_addresses[0] (or "");
// otherwise the host itself when it is an IPv4 literal, else the address
// from `fresh` (just looked up; non-empty ones are cached) or `cache`.
// Returns the names that did not resolve (for the log).
std::vector<std::string> assign_task_ips(std::vector<App>& apps, HostCache& cache,
                                         const std::map<std::string, std::string>& fresh);

}  // namespace stoa::lb
