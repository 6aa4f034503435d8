#include "master/allocator/allocator.hpp"

#include <algorithm>
#include <cmath>

#include "common/roles.hpp"
#include "master/allocator/allocator_records.hpp"

namespace stoa::allocator {

namespace {

bool has_reservations(const Resources& r) {
  for (const ResourceEntry& e : r) {
    if (e.role != "*") {
      return true;
    }
  }
  return false;
}

}  // namespace

Allocator::Allocator(Options opts, std::unique_ptr<Sorter> role_sorter)
    : options_(std::move(opts)),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()),
      roles_(options_.policy, std::move(role_sorter), rng_),
      min_allocatable_(options_.min_allocatable) {}

Allocator::~Allocator() = default;

Try<std::unique_ptr<Allocator>> Allocator::create(Options opts) {
  uint64_t seed = opts.seed != 0 ? opts.seed : std::random_device{}();
  opts.seed = seed;
  Try<std::unique_ptr<Sorter>> sorter = make_sorter(opts.policy, seed);
  if (!sorter) {
    return Error(sorter.error());
  }
  if (!std::isfinite(opts.default_refuse_seconds) || opts.default_refuse_seconds < 0) {
    return Error("Invalid default refuse_seconds: must be finite and >= 0");
  }
  if (std::optional<Error> error = MinAllocatable::validate(opts.min_allocatable)) {
    return *error;
  }
  std::unique_ptr<Allocator> allocator(new Allocator(std::move(opts), std::move(*sorter)));
  if (allocator->options_.roles) {
    for (const std::string& role : *allocator->options_.roles) {
      if (std::optional<Error> error = allocator->validate_role(role)) {
        return *error;
      }
    }
  }
  if (std::optional<Error> error = allocator->update_weights(allocator->options_.weights)) {
    return *error;
  }
  return allocator;
}

std::optional<Error> Allocator::validate_role(const std::string& role) const {
  if (std::optional<std::string> why = check_role_name(role)) {
    return Error(*why);
  }
  if (role != "*" && options_.roles && options_.roles->count(role) == 0) {
    return Error("Unknown role '" + role + "': not in the --roles whitelist");
  }
  return std::nullopt;
}

// --- Roles -------------------------------------------------------------------

void Allocator::maybe_remove_role(const std::string& name) { roles_.maybe_remove(name, quotas_.contains(name)); }

void Allocator::refresh_activity(Framework& f, const std::string& role) {
  roles_.set_active(role, f.id, f.active && f.suppressed.count(role) == 0);
}

std::string Allocator::role_for(const Framework& f, const ResourceEntry& e) const {
  if (e.role != "*" && std::find(f.roles.begin(), f.roles.end(), e.role) != f.roles.end()) {
    return e.role;
  }
  return f.roles.front();
}

std::map<std::string, Resources> Allocator::split_by_role(const Framework& f, const Resources& r) const {
  std::map<std::string, Resources> out;
  for (const ResourceEntry& e : r) {
    out[role_for(f, e)].add(e);
  }
  return out;
}

// --- Accounting --------------------------------------------------------------

void Allocator::track(Slave& s, Framework* f, const std::string& framework_id, const std::string& role,
                      const Resources& r) {
  if (r.empty()) {
    return;
  }
  s.slot(framework_id, role).resources += r;
  s.available -= r;
  ++s.version;
  if (f == nullptr || role.empty()) {
    unknown_holds_[framework_id].insert(&s);
    return;
  }
  roles_.allocated(roles_.ensure(role), framework_id, r);
}

// --- Frameworks --------------------------------------------------------------

std::optional<Error> Allocator::add_framework(const std::string& id, const std::vector<std::string>& roles,
                                              const std::map<std::string, Resources>& used, bool active) {
  if (id.empty()) {
    return Error("Invalid framework id: empty");
  }
  if (frameworks_.count(id) != 0) {
    return Error("Framework '" + id + "' is already added");
  }
  if (roles.empty()) {
    return Error("Framework '" + id + "' has no roles");
  }
  for (const std::string& role : roles) {
    if (std::optional<Error> error = validate_role(role)) {
      return error;
    }
  }
  auto owned = std::make_unique<Framework>();
  Framework& f = *owned;
  f.id = id;
  f.active = active;
  for (const std::string& role : roles) {
    if (std::find(f.roles.begin(), f.roles.end(), role) == f.roles.end()) {
      f.roles.push_back(role);
    }
  }
  frameworks_.emplace(id, std::move(owned));

  ++eligibility_epoch_;
  for (const std::string& role : f.roles) {
    roles_.add_framework(role, id);
    refresh_activity(f, role);
  }

  // What add_slave() recorded before the framework was known.
  std::unordered_set<Slave*> pending;
  auto unknown = unknown_holds_.find(id);
  if (unknown != unknown_holds_.end()) {
    pending = std::move(unknown->second);
    unknown_holds_.erase(unknown);
  }
  for (Slave* s : pending) {
    Resources held;
    for (auto it = s->held.begin(); it != s->held.end();) {
      if (it->framework_id == id && it->role.empty()) {
        held += it->resources;
        s->available += it->resources;
        ++s->version;
        it = s->held.erase(it);
      } else {
        ++it;
      }
    }
    // The framework's own report wins over the slave's.
    if (used.count(s->id) == 0) {
      for (const auto& [role, part] : split_by_role(f, held)) {
        track(*s, &f, id, role, part);
      }
    }
  }
  for (const auto& [slave_id, resources] : used) {
    auto it = slaves_.find(slave_id);
    if (it == slaves_.end()) {
      continue;
    }
    Slave& s = *it->second;
    // A re-added framework replaces any earlier record on this slave.
    for (auto h = s.held.begin(); h != s.held.end();) {
      if (h->framework_id == id) {
        s.available += h->resources;
        ++s.version;
        h = s.held.erase(h);
      } else {
        ++h;
      }
    }
    for (const auto& [role, part] : split_by_role(f, resources)) {
      track(s, &f, id, role, part);
    }
  }
  return std::nullopt;
}

void Allocator::remove_framework(const std::string& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) {
    // Resources recorded by add_slave() for a framework never added.
    auto unknown = unknown_holds_.find(id);
    if (unknown != unknown_holds_.end()) {
      for (Slave* s : unknown->second) {
        for (auto h = s->held.begin(); h != s->held.end();) {
          if (h->framework_id == id) {
            s->available += h->resources;
            ++s->version;
            h = s->held.erase(h);
          } else {
            ++h;
          }
        }
      }
      unknown_holds_.erase(unknown);
    }
    return;
  }
  Framework& f = *it->second;
  for (Slave* s : slave_list_) {
    for (auto h = s->held.begin(); h != s->held.end();) {
      if (h->framework_id == id) {
        roles_.unallocated(h->role, id, h->resources);
        s->available += h->resources;
        ++s->version;
        h = s->held.erase(h);
      } else {
        ++h;
      }
    }
  }
  filters_.remove_owner(f.filters);
  f.active = false;
  for (const std::string& role : f.roles) {
    roles_.remove_framework(role, id);
  }
  std::vector<std::string> roles = f.roles;
  frameworks_.erase(it);
  for (const std::string& role : roles) {
    maybe_remove_role(role);
  }
}

void Allocator::activate_framework(const std::string& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) {
    return;
  }
  it->second->active = true;
  ++eligibility_epoch_;
  for (const std::string& role : it->second->roles) {
    refresh_activity(*it->second, role);
  }
}

void Allocator::deactivate_framework(const std::string& id) {
  auto it = frameworks_.find(id);
  if (it == frameworks_.end()) {
    return;
  }
  it->second->active = false;
  for (const std::string& role : it->second->roles) {
    refresh_activity(*it->second, role);
  }
}

// --- Slaves ------------------------------------------------------------------

void Allocator::add_slave(const std::string& id, const Resources& total,
                          const std::map<std::string, Resources>& used) {
  if (slaves_.count(id) != 0) {
    remove_slave(id);
  }
  auto owned = std::make_unique<Slave>();
  Slave& s = *owned;
  s.id = id;
  s.total = total;
  s.available = total;
  ++s.version;
  s.list_index = slave_list_.size();
  s.filter_slot = filters_.add_slot();
  slave_list_.push_back(&s);
  slaves_.emplace(id, std::move(owned));

  roles_.add_total(total.scalars());
  for (const std::string& role : total.roles()) {
    if (role != "*") {
      roles_.add_reserved(role, total.reserved(role).scalars());
    }
  }
  for (const auto& [framework_id, resources] : used) {
    auto f = frameworks_.find(framework_id);
    if (f == frameworks_.end()) {
      track(s, nullptr, framework_id, "", resources);
      continue;
    }
    for (const auto& [role, part] : split_by_role(*f->second, resources)) {
      track(s, f->second.get(), framework_id, role, part);
    }
  }
}

void Allocator::remove_slave(const std::string& id) {
  auto it = slaves_.find(id);
  if (it == slaves_.end()) {
    return;
  }
  Slave& s = *it->second;
  for (const Slave::Held& h : s.held) {
    auto f = frameworks_.find(h.framework_id);
    if (!h.role.empty() && f != frameworks_.end()) {
      roles_.unallocated(h.role, h.framework_id, h.resources);
    } else {
      auto unknown = unknown_holds_.find(h.framework_id);
      if (unknown != unknown_holds_.end()) {
        unknown->second.erase(&s);
        if (unknown->second.empty()) {
          unknown_holds_.erase(unknown);
        }
      }
    }
  }
  filters_.remove_slot(s.filter_slot);
  std::vector<std::string> reserved_roles;
  for (const std::string& role : s.total.roles()) {
    if (role != "*" && roles_.find(role) != nullptr) {
      roles_.remove_reserved(role, s.total.reserved(role).scalars());
      reserved_roles.push_back(role);
    }
  }
  roles_.remove_total(s.total.scalars());

  Slave* last = slave_list_.back();
  slave_list_[s.list_index] = last;
  last->list_index = s.list_index;
  slave_list_.pop_back();
  std::vector<std::string> held_roles;
  for (const Slave::Held& h : s.held) {
    held_roles.push_back(h.role);
  }
  slaves_.erase(it);
  for (const std::string& role : reserved_roles) {
    maybe_remove_role(role);
  }
  for (const std::string& role : held_roles) {
    maybe_remove_role(role);
  }
}

void Allocator::activate_slave(const std::string& id) {
  auto it = slaves_.find(id);
  if (it != slaves_.end()) {
    it->second->active = true;
  }
}

void Allocator::deactivate_slave(const std::string& id) {
  auto it = slaves_.find(id);
  if (it != slaves_.end()) {
    it->second->active = false;
  }
}

// --- Offers ------------------------------------------------------------------

void Allocator::recover_resources(const std::string& framework_id, const std::string& slave_id,
                                  const Resources& r, std::optional<double> refuse_seconds, TimePoint now) {
  auto sit = slaves_.find(slave_id);
  if (sit == slaves_.end()) {
    return;
  }
  Slave& s = *sit->second;
  auto fit = frameworks_.find(framework_id);
  Framework* f = fit == frameworks_.end() ? nullptr : fit->second.get();

  auto holds = [&](const Slave::Held& h) { return !h.resources.empty() && h.framework_id == framework_id; };
  size_t matching = static_cast<size_t>(std::count_if(s.held.begin(), s.held.end(), holds));
  bool emptied = false;
  std::vector<std::string> emptied_roles;
  // Moves `part` (a piece of `h`) back to the slave's free pool.
  auto release = [&](Slave::Held& h, Resources part) {
    if (part.empty()) {
      return;
    }
    h.resources -= part;  // No-op (and cheap) when `part` was moved out of h.
    if (!h.role.empty() && f != nullptr) {
      roles_.unallocated(h.role, framework_id, part);
    }
    s.available += std::move(part);
    ++s.version;
    if (h.resources.empty()) {
      emptied = true;
      emptied_roles.push_back(h.role);
    }
  };
  if (matching == 1) {
    // Common case (decline, rescind): one hold, often returned whole.
    Slave::Held& h = *std::find_if(s.held.begin(), s.held.end(), holds);
    release(h, r.contains(h.resources) ? std::move(h.resources) : h.resources - (h.resources - r));
  } else if (matching > 1) {
    Resources remaining = r;
    for (Slave::Held& h : s.held) {
      if (!holds(h) || remaining.empty()) {
        continue;
      }
      // part = held ∩ remaining.
      Resources part = h.resources - (h.resources - remaining);
      remaining -= part;
      release(h, std::move(part));
    }
  }
  if (emptied) {
    // Emptied entries stay as free slots (see Slave::slot()).
    bool still_holds = std::any_of(s.held.begin(), s.held.end(), holds);
    if (!still_holds && f == nullptr) {
      auto unknown = unknown_holds_.find(framework_id);
      if (unknown != unknown_holds_.end()) {
        unknown->second.erase(&s);
        if (unknown->second.empty()) {
          unknown_holds_.erase(unknown);
        }
      }
    }
    for (const std::string& role : emptied_roles) {
      maybe_remove_role(role);
    }
  }
  // Guard the invariant against a caller recovering more than was held.
  if (!s.total.contains(s.available)) {
    s.available = s.available - (s.available - s.total);
    ++s.version;
  }

  if (f == nullptr || r.empty()) {
    return;
  }
  std::optional<Clock::duration> duration =
      OfferFilters::duration(refuse_seconds, options_.default_refuse_seconds, options_.allocation_interval);
  if (duration) {
    filters_.add(s.filter_slot, f->filters, r, now + *duration, cycle_ + 1);
  }
}

void Allocator::suppress(const std::string& framework_id, const std::vector<std::string>& roles) {
  auto it = frameworks_.find(framework_id);
  if (it == frameworks_.end()) {
    return;
  }
  Framework& f = *it->second;
  for (const std::string& role : roles.empty() ? f.roles : roles) {
    if (std::find(f.roles.begin(), f.roles.end(), role) != f.roles.end()) {
      f.suppressed.insert(role);
      refresh_activity(f, role);
    }
  }
}

void Allocator::revive(const std::string& framework_id, const std::vector<std::string>& roles) {
  auto it = frameworks_.find(framework_id);
  if (it == frameworks_.end()) {
    return;
  }
  Framework& f = *it->second;
  ++eligibility_epoch_;
  for (const std::string& role : roles.empty() ? f.roles : roles) {
    if (f.suppressed.erase(role) != 0) {
      refresh_activity(f, role);
    }
  }
  filters_.remove_owner(f.filters);
}

bool Allocator::is_filtered(Framework& f, Slave& s, const Resources& offer, TimePoint now) {
  return filters_.filtered(s.filter_slot, f.filters, offer, now, cycle_);
}

// --- Weights and quota -------------------------------------------------------

std::optional<Error> Allocator::update_weights(const std::map<std::string, double>& w) {
  for (const auto& [role, weight] : w) {
    if (std::optional<Error> error = validate_role(role)) {
      return error;
    }
    if (!std::isfinite(weight) || weight <= 0) {
      return Error("Invalid weight for role '" + role + "': must be a finite number > 0");
    }
  }
  for (const auto& [role, weight] : w) {
    roles_.set_weight(role, weight);
  }
  return std::nullopt;
}

std::optional<Error> Allocator::set_quota(const std::string& role, const Resources& guarantee) {
  if (std::optional<Error> error = validate_role(role)) {
    return error;
  }
  if (std::optional<Error> error = quotas_.validate(role, guarantee, roles_.total())) {
    return error;
  }
  quotas_.set(role, guarantee);
  roles_.ensure(role);
  ++eligibility_epoch_;
  return std::nullopt;
}

void Allocator::remove_quota(const std::string& role) {
  if (quotas_.remove(role)) {
    ++eligibility_epoch_;
    maybe_remove_role(role);
  }
}

// --- Allocation --------------------------------------------------------------

std::vector<Allocation> Allocator::allocate(TimePoint now) {
  ++cycle_;
  // An expired filter can make a framework eligible on an unchanged slave.
  eligibility_epoch_ += filters_.sweep(now, cycle_);
  roles_.sync_totals();
  if (frameworks_.empty()) {
    // Nobody to offer to: skip the walk over every slave (a master whose
    // 50,000 slaves re-register after a failover, before any framework
    // is back, spent ~19 % of its CPU here; docs/benchmarks.md).
    return {};
  }

  candidates_.clear();
  for (Slave* s : slave_list_) {
    if (s->active && !s->available.empty()) {
      candidates_.push_back(s);
    }
  }
  std::shuffle(candidates_.begin(), candidates_.end(), rng_);

  std::vector<Allocation> out;
  out.reserve(candidates_.size());
  if (quotas_.empty()) {
    stage_fair(now, nullptr, out);
  } else {
    Resources free;
    for (const auto& [slave_id, s] : slaves_) {
      free += s->available.unreserved().scalars();
    }
    QuotaHeadroom headroom(std::move(free));
    stage_quota(now, headroom, out);
    stage_fair(now, &headroom, out);
  }
  offers_made_ += out.size();
  return out;
}

void Allocator::stage_quota(TimePoint now, QuotaHeadroom& headroom, std::vector<Allocation>& out) {
  // Unmet guarantee per quota role: guarantee - (reservations + unreserved
  // allocation).
  for (const auto& [name, guarantee] : quotas_.all()) {
    const Role* role = roles_.find(name);
    headroom.require(name, guarantee, role == nullptr ? Resources() : quota_consumed(role->reserved, role->allocated));
  }
  if (headroom.unmet().empty()) {
    return;
  }

  std::vector<std::pair<double, std::string>> order;
  for (Slave* s : candidates_) {
    // Quota roles in role-sorter (share) order.
    order.clear();
    for (const auto& [name, need] : headroom.unmet()) {
      if (!need.empty() && roles_.at(name).active_frameworks > 0) {
        order.emplace_back(roles_.share(name), name);
      }
    }
    if (order.empty()) {
      return;
    }
    std::sort(order.begin(), order.end());
    for (const auto& [share, name] : order) {
      if (s->available.empty()) {
        break;
      }
      Role& R = roles_.at(name);
      Resources unreserved = s->available.unreserved();
      Resources unreserved_scalars = unreserved.scalars();
      Resources guaranteed = headroom.guaranteed_part(name, unreserved_scalars);
      Resources reserved = s->available.reserved(name);
      if (guaranteed.empty() && reserved.empty()) {
        continue;
      }
      Resources extra = headroom.limit(unreserved_scalars - guaranteed);
      Resources offer = guaranteed + extra + unreserved.non_scalars() + reserved;
      if (!allocatable(offer)) {
        continue;
      }
      Framework* chosen = nullptr;
      R.frameworks->visit([&](const std::string& framework_id) {
        Framework& f = *frameworks_.at(framework_id);
        if (is_filtered(f, *s, offer, now)) {
          ++offers_filtered_;
          return true;
        }
        chosen = &f;
        return false;
      });
      if (chosen == nullptr) {
        continue;
      }
      headroom.take_guaranteed(name, guaranteed, extra);
      s->available -= offer;
      ++s->version;
      hold(*s, *chosen, R, offer);
      out.push_back(Allocation{chosen->id, name, s->id, std::move(offer)});
    }
  }
}

void Allocator::stage_fair(TimePoint now, QuotaHeadroom* headroom, std::vector<Allocation>& out) {
  const bool limited = headroom != nullptr && headroom->limited();
  // Skipping slaves where nothing changed is exact only without quota
  // (headroom varies within a pass).
  const bool skip = options_.skip_unchanged_slaves && quotas_.empty();
  auto block = [&](Slave* s) {
    if (skip) {
      s->blocked_epoch = eligibility_epoch_;
      s->blocked_version = s->version;
    }
  };
  std::vector<const Role*> done;
  Resources scratch;
  for (Slave* s : candidates_) {
    if (skip && s->blocked_epoch == eligibility_epoch_ && s->blocked_version == s->version) {
      ++slaves_skipped_;
      continue;
    }
    if (!allocatable(s->available)) {
      block(s);
      continue;
    }
    done.clear();
    while (true) {
      Role* chosen_role = nullptr;
      Framework* chosen = nullptr;
      // Common case: everything free on the slave is offerable to the role,
      // so the offer is the slave's `available` itself (no copy until a
      // framework takes it).
      bool whole = false;
      roles_.sorter().visit([&](const std::string& role_name) {
        Role& R = roles_.at(role_name);
        if (!done.empty() && std::find(done.begin(), done.end(), &R) != done.end()) {
          return true;
        }
        whole = !limited && s->available.all_allocatable_to(role_name);
        if (!whole) {
          if (!limited) {
            scratch = s->available.allocatable_to(role_name);
          } else {
            Resources unreserved = s->available.unreserved();
            scratch = headroom->limit(unreserved.scalars()) + unreserved.non_scalars();
            if (role_name != "*") {
              scratch += s->available.reserved(role_name);
            }
          }
          if (!allocatable(scratch)) {
            return true;
          }
        }
        const Resources& offer = whole ? s->available : scratch;
        R.frameworks->visit([&](const std::string& framework_id) {
          Framework& f = *frameworks_.at(framework_id);
          if (is_filtered(f, *s, offer, now)) {
            ++offers_filtered_;
            return true;
          }
          chosen = &f;
          return false;
        });
        if (chosen == nullptr) {
          return true;
        }
        chosen_role = &R;
        return false;
      });
      if (chosen == nullptr) {
        if (done.empty()) {
          block(s);
        }
        break;
      }
      Resources offer;
      if (whole) {
        offer = std::move(s->available);
        s->available.clear();
        ++s->version;
      } else {
        offer = std::move(scratch);
        s->available -= offer;
        ++s->version;
      }
      if (headroom != nullptr) {
        headroom->take(offer.unreserved());
      }
      hold(*s, *chosen, *chosen_role, offer);
      out.push_back(Allocation{chosen->id, chosen_role->name, s->id, std::move(offer)});
      // Other roles can only still get their own reservations here.
      if (!has_reservations(s->available) || !allocatable(s->available)) {
        break;
      }
      done.push_back(chosen_role);
    }
  }
}

void Allocator::hold(Slave& s, Framework& f, Role& role, const Resources& r) {
  s.slot(f.id, role.name).resources += r;
  roles_.allocated(role, f.id, r);
}

}  // namespace stoa::allocator
