// Host name -> IPv4 for the registry client (marathon_resolve.hpp).

#include "apps/lb/marathon_resolve.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <set>

#include <caf/all.hpp>

#include "common/logging.hpp"

namespace stoa::lb {

HostCache::HostCache(size_t capacity, HostClock::duration retry_unresolved)
    : capacity_(capacity == 0 ? 1 : capacity), retry_unresolved_(retry_unresolved) {}

std::optional<std::string> HostCache::get(const std::string& name, HostClock::time_point now) {
  auto it = index_.find(name);
  if (it == index_.end()) {
    return std::nullopt;
  }
  if (it->second->ip.empty() && now - it->second->at >= retry_unresolved_) {
    order_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  order_.splice(order_.begin(), order_, it->second);
  return it->second->ip;
}

void HostCache::put(const std::string& name, const std::string& ip, HostClock::time_point now) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    it->second->ip = ip;
    it->second->at = now;
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  order_.push_front(Entry{name, ip, now});
  index_[name] = order_.begin();
  while (index_.size() > capacity_) {
    index_.erase(order_.back().name);
    order_.pop_back();
  }
}

bool is_ipv4_literal(const std::string& host) {
  in_addr addr{};
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

std::string resolve_ipv4_blocking(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    LOG_WARNING << "Could not resolve ip for host '" << name << "': " << gai_strerror(rc);
    return "";
  }
  char buf[INET_ADDRSTRLEN] = {0};
  const auto* sin = reinterpret_cast<const sockaddr_in*>(res->ai_addr);
  ::inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
  ::freeaddrinfo(res);
  return std::string(buf);
}

namespace {

caf::behavior mr_resolver(caf::event_based_actor* self) {
  return {
      [self](lb_resolve_atom, const std::vector<std::string>& names) {
        self->quit();
        std::vector<std::string> out;
        out.reserve(names.size());
        for (const std::string& name : names) {
          out.push_back(resolve_ipv4_blocking(name));
        }
        return out;
      },
  };
}

}  // namespace

caf::actor spawn_host_resolver(caf::actor_system& sys) {
  return sys.spawn<caf::detached>(mr_resolver);
}

std::vector<std::string> hosts_to_resolve(const std::vector<App>& apps, HostCache& cache) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const App& app : apps) {
    if (app.mode == NetworkingMode::Container) {
      continue;
    }
    for (const Task& task : app.tasks) {
      if (task.host.empty() || is_ipv4_literal(task.host) || seen.count(task.host) > 0) {
        continue;
      }
      seen.insert(task.host);
      if (!cache.get(task.host)) {
        out.push_back(task.host);
      }
    }
  }
  return out;
}

std::vector<std::string> assign_task_ips(std::vector<App>& apps, HostCache& cache,
                                         const std::map<std::string, std::string>& fresh) {
  for (const auto& [name, ip] : fresh) {
    cache.put(name, ip);
  }
  std::set<std::string> unresolved;
  for (App& app : apps) {
    for (Task& task : app.tasks) {
      if (app.mode == NetworkingMode::Container) {
        task.ip = task.ip_addresses.empty() ? "" : task.ip_addresses.front();
        continue;
      }
      if (task.host.empty()) {
        task.ip.clear();
      } else if (is_ipv4_literal(task.host)) {
        task.ip = task.host;
      } else if (auto it = fresh.find(task.host); it != fresh.end() && !it->second.empty()) {
        task.ip = it->second;
      } else if (std::optional<std::string> ip = cache.get(task.host); ip && !ip->empty()) {
        task.ip = *ip;
      } else {
        task.ip.clear();
        unresolved.insert(task.host);
      }
    }
  }
  return {unresolved.begin(), unresolved.end()};
}

}  // namespace stoa::lb
