// Allocator's read-only views (/master/roles, /metrics, tests) and its
// invariant checks. The events and allocation passes are in allocator.cpp.

#include <map>

#include "master/allocator/allocator.hpp"
#include "master/allocator/allocator_records.hpp"

namespace stoa::allocator {

// --- Introspection -----------------------------------------------------------

std::vector<RoleInfo> Allocator::roles() const {
  std::set<std::string> names;
  for (const auto& [name, role] : roles_.all()) {
    names.insert(name);
  }
  for (const auto& [name, weight] : roles_.weights()) {
    names.insert(name);
  }
  for (const auto& [name, quota] : quotas_.all()) {
    names.insert(name);
  }
  std::vector<RoleInfo> out;
  for (const std::string& name : names) {
    RoleInfo info;
    info.name = name;
    info.weight = roles_.weight(name);
    if (const Role* role = roles_.find(name)) {
      info.frameworks.assign(role->framework_ids.begin(), role->framework_ids.end());
      info.allocated = role->allocated;
      info.reserved = role->reserved;
      info.share = roles_.share(name);
    }
    auto quota = quotas_.all().find(name);
    if (quota != quotas_.all().end()) {
      info.quota = quota->second;
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::map<std::string, Resources> Allocator::quotas() const { return quotas_.all(); }

Stats Allocator::counters() const {
  Stats stats;
  stats.slaves = slaves_.size();
  stats.frameworks = frameworks_.size();
  stats.filters = filters_.count();
  stats.allocation_runs = cycle_;
  stats.offers_made = offers_made_;
  stats.offers_filtered = offers_filtered_;
  stats.slaves_skipped = slaves_skipped_;
  return stats;
}

Stats Allocator::stats() const {
  Stats stats = counters();
  Resources available;
  for (const auto& [id, s] : slaves_) {
    stats.active_slaves += s->active ? 1 : 0;
    available += s->available;
  }
  for (const auto& [id, f] : frameworks_) {
    stats.active_frameworks += f->active ? 1 : 0;
  }
  stats.total = roles_.total();
  stats.allocated = roles_.total() - available.scalars();
  return stats;
}

std::optional<Resources> Allocator::available(const std::string& slave_id) const {
  auto it = slaves_.find(slave_id);
  if (it == slaves_.end()) {
    return std::nullopt;
  }
  return it->second->available;
}

std::map<std::string, Resources> Allocator::allocation(const std::string& framework_id) const {
  std::map<std::string, Resources> out;
  for (const Slave* s : slave_list_) {
    for (const Slave::Held& h : s->held) {
      if (h.framework_id == framework_id && !h.resources.empty()) {
        out[s->id] += h.resources;
      }
    }
  }
  return out;
}

size_t Allocator::filters(const std::string& framework_id) const {
  auto it = frameworks_.find(framework_id);
  if (it == frameworks_.end()) {
    return 0;
  }
  return it->second->filters.count();
}

std::optional<Error> Allocator::check_invariants() const {
  std::map<std::string, Resources> by_role;
  for (const Slave* s : slave_list_) {
    Resources sum = s->available;
    for (const Slave::Held& h : s->held) {
      if (h.resources.empty()) {
        continue;  // A free slot.
      }
      sum += h.resources;
      if (!h.role.empty()) {
        by_role[h.role] += h.resources.scalars();
        if (frameworks_.count(h.framework_id) == 0) {
          return Error("slave " + s->id + ": role-attributed hold of unknown framework " + h.framework_id);
        }
      }
    }
    if (!(sum == s->total)) {
      return Error("slave " + s->id + ": total " + s->total.to_string() + " != available + held " +
                   sum.to_string());
    }
    // `+` merges ranges and sets, so also count items: a port held twice
    // (or held and available) would otherwise go unnoticed.
    auto items = [](const Resources& r) {
      uint64_t n = 0;
      for (const ResourceEntry& e : r) {
        for (const Range& range : e.ranges) {
          n += range.end - range.begin + 1;
        }
        n += e.set.size();
      }
      return n;
    };
    uint64_t counted = items(s->available);
    for (const Slave::Held& h : s->held) {
      counted += items(h.resources);
    }
    if (counted != items(s->total)) {
      return Error("slave " + s->id + ": non-scalar items are held twice");
    }
  }
  if (slave_list_.size() != slaves_.size()) {
    return Error("slave list size mismatch");
  }
  for (const auto& [name, role] : roles_.all()) {
    Resources expected = by_role.count(name) != 0 ? by_role.at(name) : Resources();
    if (!(role->allocated == expected)) {
      return Error("role " + name + ": allocated " + role->allocated.to_string() + " != held " +
                   expected.to_string());
    }
    size_t active = 0;
    for (const std::string& id : role->framework_ids) {
      const Framework& f = *frameworks_.at(id);
      active += f.active && f.suppressed.count(name) == 0 ? 1 : 0;
    }
    if (active != role->active_frameworks) {
      return Error("role " + name + ": active framework count mismatch");
    }
  }
  if (std::optional<Error> error = roles_.check()) {
    return error;
  }
  for (const auto& [name, resources] : by_role) {
    if (roles_.find(name) == nullptr) {
      return Error("role " + name + " holds resources but is not tracked");
    }
  }
  std::map<const OfferFilters::Owner*, std::string> owners;
  for (const auto& [id, f] : frameworks_) {
    owners.emplace(&f->filters, id);
  }
  if (std::optional<Error> error = filters_.check(owners)) {
    return error;
  }
  return std::nullopt;
}

}  // namespace stoa::allocator
