#pragma once
// Backend addresses for the registry client (marathon.cpp): a task's host
// name becomes an IPv4 address as marathon-lb's socket.gethostbyname does,
// through an LRU cache of --lru-cache-capacity names. Lookups (getaddrinfo,
// which may block) run in detached actors, never on the client's thread.
// IPv4 literals need no lookup. A name that does not resolve is remembered
// for UNRESOLVED_RETRY_AFTER (its tasks are skipped), then looked up again.
// (marathon-lb retries it on every refresh, blocking; we would rather not
// hold every snapshot up by a DNS timeout.)

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

using HostClock = std::chrono::steady_clock;

// A name that did not resolve is looked up again only after this long, so a
// dead name does not hold up every snapshot by a DNS timeout.
constexpr auto UNRESOLVED_RETRY_AFTER = std::chrono::seconds(30);

// Least-recently-used map of host name -> IPv4 text, including names that did
// not resolve (""), which expire after `retry_unresolved`. Not thread-safe:
// owned by one actor.
class HostCache {
 public:
  explicit HostCache(size_t capacity,
                     HostClock::duration retry_unresolved = UNRESOLVED_RETRY_AFTER);
  // The cached address, "" for a name that did not resolve less than
  // `retry_unresolved` ago, nullopt when unknown (or that has expired).
  // Marks the entry used.
  std::optional<std::string> get(const std::string& name,
                                 HostClock::time_point now = HostClock::now());
  // Records a lookup's answer ("" = no address). Drops the least recently
  // used entries beyond capacity.
  void put(const std::string& name, const std::string& ip,
           HostClock::time_point now = HostClock::now());
  size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::string name;
    std::string ip;
    HostClock::time_point at;
  };
  size_t capacity_;
  HostClock::duration retry_unresolved_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
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
// from `fresh` (just looked up; every answer is cached) or `cache`.
// Returns the names that did not resolve (for the log).
std::vector<std::string> assign_task_ips(std::vector<App>& apps, HostCache& cache,
                                         const std::map<std::string, std::string>& fresh);

}  // namespace stoa::lb
