#include "master/allocator/allocator.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

namespace stoa::allocator {

// A refusal filter: keeps resources contained in `refused` away from one
// framework on one slave while active.
struct Allocator::Filter {
  Framework* framework = nullptr;
  Resources refused;
  TimePoint expires;
  uint64_t through_cycle = 0;  // Active at least through this allocate() call.

  bool expired(TimePoint now, uint64_t cycle) const { return now >= expires && cycle > through_cycle; }
};

struct Allocator::Slave {
  struct Held {
    std::string framework_id;
    std::string role;  // "" while the framework is unknown.
    Resources resources;
  };

  // The (framework, role) entry, else a recycled empty one, else a new one.
  // Entries whose resources are empty are free slots: kept so that the
  // offer/decline churn reuses their string capacity instead of allocating.
  Held& slot(const std::string& framework_id, const std::string& role) {
    Held* free = nullptr;
    for (Held& h : held) {
      if (h.framework_id == framework_id && h.role == role) {
        return h;
      }
      if (free == nullptr && h.resources.empty()) {
        free = &h;
      }
    }
    if (free != nullptr) {
      free->framework_id = framework_id;
      free->role = role;
      return *free;
    }
    held.push_back(Held{framework_id, role, Resources()});
    return held.back();
  }

  std::string id;
  Resources total;
  Resources available;
  bool active = true;
  size_t list_index = 0;  // Position in slave_list_.
  std::vector<Held> held;
  // Bumped on every change of `available`.
  uint64_t version = 0;
  // The last pass found nothing to offer here at (eligibility epoch,
  // version); while both are unchanged the slave is skipped.
  uint64_t blocked_epoch = 0;
  uint64_t blocked_version = 0;
  // Refusal filters on this slave, sorted by framework pointer: the hot
  // path finds a framework's filters with one binary search in a small,
  // cache-local vector.
  std::vector<Filter> filters;
};

struct Allocator::Framework {
  std::string id;
  std::vector<std::string> roles;
  std::set<std::string> suppressed;
  bool active = true;
  size_t filter_count = 0;  // Filters of this framework over all slaves.
};

struct Allocator::Role {
  std::string name;
  std::unique_ptr<Sorter> frameworks;
  std::set<std::string> framework_ids;
  size_t active_frameworks = 0;  // Active and not suppressed in this role.
  // Aggregates over slaves are scalar quantities only: ranges and sets
  // (ports) from different slaves cannot be summed meaningfully.
  Resources allocated;           // Scalars held by its frameworks, roles as on the slaves.
  Resources reserved;            // Scalars reserved for it on registered slaves.
  uint64_t synced_version = 0;   // total_version_ last pushed to `frameworks`.
};

// Quota headroom: unreserved scalars needed for unmet guarantees (`required`)
// versus unreserved scalars still free in the cluster (`available`).
struct Allocator::Headroom {
  Resources required;
  Resources available;

  // How much of `name` may go to anyone without eating into guarantees.
  int64_t surplus(const std::string& name) const {
    int64_t need = required.scalar_units(name);
    if (need == 0) {
      return std::numeric_limits<int64_t>::max();
    }
    return std::max<int64_t>(0, available.scalar_units(name) - need);
  }

  // The scalars of `r` limited to the surplus, per name.
  Resources limit(const Resources& r) const {
    if (required.empty()) {
      return r;
    }
    Resources out;
    for (const ResourceEntry& e : r) {
      ResourceEntry copy = e;
      copy.units = std::min(e.units, surplus(e.name));
      out.add(copy);
    }
    return out;
  }
};

// Orders a slave's filters by framework (heterogeneous: filter or framework).
struct Allocator::FilterOrder {
  static const Framework* key(const Filter& f) { return f.framework; }
  static const Framework* key(const Framework* f) { return f; }
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return std::less<const Framework*>()(key(a), key(b));
  }
};

namespace {

// `r` limited per name to `limit` (names absent from `limit` are dropped).
Resources shrink_to(const Resources& r, const Resources& limit) {
  Resources out;
  for (const ResourceEntry& e : r) {
    ResourceEntry copy = e;
    copy.units = std::min(e.units, limit.scalar_units(e.name));
    out.add(copy);
  }
  return out;
}

bool has_reservations(const Resources& r) {
  for (const ResourceEntry& e : r) {
    if (e.role != "*") {
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<Resources> default_min_allocatable() {
  return {Resources::scalar_resource("cpus", 0.01), Resources::scalar_resource("mem", 32)};
}

Allocator::Allocator(Options opts, std::unique_ptr<Sorter> role_sorter)
    : options_(std::move(opts)),
      role_sorter_(std::move(role_sorter)),
      weights_(options_.weights),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()) {
  single_minimums_ = options_.min_allocatable.size() <= 8 &&
                     std::all_of(options_.min_allocatable.begin(), options_.min_allocatable.end(),
                                 [](const Resources& min) { return min.size() == 1; });
}

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
  for (const Resources& min : opts.min_allocatable) {
    if (min.empty() || !min.non_scalars().empty()) {
      return Error("Invalid min_allocatable '" + min.to_string() + "': must be non-empty scalars");
    }
  }
  std::unique_ptr<Allocator> allocator(new Allocator(std::move(opts), std::move(*sorter)));
  if (allocator->options_.roles) {
    for (const std::string& role : *allocator->options_.roles) {
      if (std::optional<Error> error = allocator->validate_role(role)) {
        return *error;
      }
    }
  }
  std::map<std::string, double> weights;
  weights.swap(allocator->weights_);
  if (std::optional<Error> error = allocator->update_weights(weights)) {
    return *error;
  }
  return allocator;
}

std::optional<Error> Allocator::validate_role(const std::string& role) const {
  if (role.empty()) {
    return Error("Invalid role '': empty");
  }
  if (role == "." || role == ".." || role.front() == '-') {
    return Error("Invalid role '" + role + "'");
  }
  for (char c : role) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)) ||
        c == '/' || c == '\\' || c == '(' || c == ')' || c == ';' || c == ':' || c == ',') {
      return Error("Invalid role '" + role + "': contains '" + std::string(1, c) + "'");
    }
  }
  if (role != "*" && options_.roles && options_.roles->count(role) == 0) {
    return Error("Unknown role '" + role + "': not in the --roles whitelist");
  }
  return std::nullopt;
}

// --- Roles -------------------------------------------------------------------

Allocator::Role& Allocator::ensure_role(const std::string& name) {
  auto it = roles_.find(name);
  if (it != roles_.end()) {
    return *it->second;
  }
  auto role = std::make_unique<Role>();
  role->name = name;
  // make_sorter() cannot fail here: the policy was validated by create().
  role->frameworks = std::move(make_sorter(options_.policy, rng_()).get());
  role->frameworks->set_total(total_);
  role->synced_version = total_version_;
  role_sorter_->add_client(name);
  role_sorter_->deactivate(name);
  auto weight = weights_.find(name);
  if (weight != weights_.end()) {
    role_sorter_->update_weight(name, weight->second);
  }
  Role& ref = *role;
  roles_.emplace(name, std::move(role));
  return ref;
}

void Allocator::maybe_remove_role(const std::string& name) {
  auto it = roles_.find(name);
  if (it == roles_.end()) {
    return;
  }
  const Role& role = *it->second;
  if (role.framework_ids.empty() && role.allocated.empty() && role.reserved.empty() &&
      quotas_.count(name) == 0) {
    role_sorter_->remove_client(name);
    roles_.erase(it);
  }
}

void Allocator::refresh_activity(Framework& f, const std::string& role_name) {
  auto it = roles_.find(role_name);
  if (it == roles_.end()) {
    return;
  }
  Role& role = *it->second;
  bool want = f.active && f.suppressed.count(role_name) == 0;
  bool have = role.frameworks->is_active(f.id);
  if (want == have) {
    return;
  }
  if (want) {
    role.frameworks->activate(f.id);
    if (role.active_frameworks++ == 0) {
      role_sorter_->activate(role_name);
    }
  } else {
    role.frameworks->deactivate(f.id);
    if (--role.active_frameworks == 0) {
      role_sorter_->deactivate(role_name);
    }
  }
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
  Role& R = ensure_role(role);
  R.allocated.add_scalars(r);
  R.frameworks->allocated(framework_id, r);
  role_sorter_->allocated(role, r);
}

void Allocator::untrack_role_accounting(const std::string& framework_id, const std::string& role,
                                        const Resources& r) {
  auto it = roles_.find(role);
  if (it == roles_.end()) {
    return;
  }
  Role& R = *it->second;
  R.allocated.subtract_scalars(r);
  R.frameworks->unallocated(framework_id, r);
  role_sorter_->unallocated(role, r);
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
    Role& R = ensure_role(role);
    R.framework_ids.insert(id);
    R.frameworks->add_client(id);
    R.frameworks->deactivate(id);
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

void Allocator::erase_filters(Framework& f) {
  if (f.filter_count == 0) {
    return;
  }
  for (Slave* s : slave_list_) {
    auto [begin, end] = std::equal_range(s->filters.begin(), s->filters.end(), &f, FilterOrder());
    filter_count_ -= static_cast<size_t>(end - begin);
    s->filters.erase(begin, end);
  }
  f.filter_count = 0;
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
        untrack_role_accounting(id, h->role, h->resources);
        s->available += h->resources;
        ++s->version;
        h = s->held.erase(h);
      } else {
        ++h;
      }
    }
  }
  erase_filters(f);
  f.active = false;
  for (const std::string& role : f.roles) {
    refresh_activity(f, role);
    Role& R = *roles_.at(role);
    R.frameworks->remove_client(id);
    R.framework_ids.erase(id);
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
  slave_list_.push_back(&s);
  slaves_.emplace(id, std::move(owned));

  total_ += total.scalars();
  ++total_version_;
  for (const std::string& role : total.roles()) {
    if (role != "*") {
      ensure_role(role).reserved += total.reserved(role).scalars();
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
      untrack_role_accounting(h.framework_id, h.role, h.resources);
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
  for (const Filter& filter : s.filters) {
    --filter.framework->filter_count;
    --filter_count_;
  }
  s.filters.clear();
  std::vector<std::string> reserved_roles;
  for (const std::string& role : s.total.roles()) {
    if (role != "*" && roles_.count(role) != 0) {
      roles_.at(role)->reserved -= s.total.reserved(role).scalars();
      reserved_roles.push_back(role);
    }
  }
  total_ -= s.total.scalars();
  ++total_version_;

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
      untrack_role_accounting(framework_id, h.role, part);
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

  if (!refuse_seconds || f == nullptr || r.empty()) {
    return;
  }
  double seconds = *refuse_seconds;
  if (std::isnan(seconds) || seconds < 0) {
    seconds = options_.default_refuse_seconds;
  }
  if (seconds == 0) {
    return;
  }
  seconds = std::min(seconds, MAX_REFUSE_SECONDS);
  auto duration = std::max(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)),
                           std::chrono::duration_cast<Clock::duration>(options_.allocation_interval));
  Filter filter{f, r, now + duration, cycle_ + 1};
  if (!next_filter_expiry_ || filter.expires < *next_filter_expiry_) {
    next_filter_expiry_ = filter.expires;
  }
  auto pos = std::upper_bound(s.filters.begin(), s.filters.end(), f, FilterOrder());
  s.filters.insert(pos, std::move(filter));
  ++f->filter_count;
  ++filter_count_;
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
  erase_filters(f);
}

bool Allocator::is_filtered(Framework& f, Slave& s, const Resources& offer, TimePoint now) {
  if (f.filter_count == 0 || s.filters.empty()) {
    return false;
  }
  auto [begin, end] = std::equal_range(s.filters.begin(), s.filters.end(), &f, FilterOrder());
  bool filtered = false;
  for (auto it = begin; it != end;) {
    if (it->expired(now, cycle_)) {
      it = s.filters.erase(it);
      --end;
      --f.filter_count;
      --filter_count_;
      continue;
    }
    filtered = filtered || it->refused.contains(offer);
    ++it;
  }
  return filtered;
}

void Allocator::sweep_filters(TimePoint now) {
  if (!next_filter_expiry_ || now < *next_filter_expiry_) {
    return;
  }
  next_filter_expiry_.reset();
  for (Slave* s : slave_list_) {
    auto expired = [&](const Filter& filter) {
      if (filter.expired(now, cycle_)) {
        --filter.framework->filter_count;
        --filter_count_;
        ++eligibility_epoch_;
        return true;
      }
      if (!next_filter_expiry_ || filter.expires < *next_filter_expiry_) {
        next_filter_expiry_ = filter.expires;
      }
      return false;
    };
    s->filters.erase(std::remove_if(s->filters.begin(), s->filters.end(), expired), s->filters.end());
  }
}

bool Allocator::allocatable(const Resources& r) const {
  if (r.empty()) {
    return false;
  }
  if (options_.min_allocatable.empty()) {
    return true;
  }
  // Common case: every minimum is a single quantity ({cpus:0.01} or
  // {mem:32}); one pass over `r` sums the matching scalars.
  if (single_minimums_) {
    int64_t sums[8] = {0};
    const size_t n = options_.min_allocatable.size();
    for (const ResourceEntry& e : r) {
      if (e.type != ResourceType::SCALAR) {
        continue;
      }
      for (size_t i = 0; i < n; ++i) {
        const ResourceEntry& min = *options_.min_allocatable[i].begin();
        if (e.name.size() == min.name.size() && e.name[0] == min.name[0] && e.name == min.name) {
          sums[i] += e.units;
        }
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (sums[i] >= options_.min_allocatable[i].begin()->units) {
        return true;
      }
    }
    return false;
  }
  for (const Resources& min : options_.min_allocatable) {
    bool ok = true;
    for (const ResourceEntry& e : min) {
      if (r.scalar_units(e.name) < e.units) {
        ok = false;
        break;
      }
    }
    if (ok) {
      return true;
    }
  }
  return false;
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
    weights_[role] = weight;
    if (roles_.count(role) != 0) {
      role_sorter_->update_weight(role, weight);
    }
  }
  return std::nullopt;
}

std::optional<Error> Allocator::set_quota(const std::string& role, const Resources& guarantee) {
  if (std::optional<Error> error = validate_role(role)) {
    return error;
  }
  if (role == "*") {
    return Error("Invalid quota: role '*' cannot have quota");
  }
  if (guarantee.empty()) {
    return Error("Invalid quota for role '" + role + "': empty guarantee (use DELETE to remove quota)");
  }
  for (const ResourceEntry& e : guarantee) {
    if (e.type != ResourceType::SCALAR) {
      return Error("Invalid quota for role '" + role + "': '" + e.name + "' is not a scalar");
    }
    if (e.role != "*") {
      return Error("Invalid quota for role '" + role + "': '" + e.name + "(" + e.role +
                   ")' is reserved; quota takes unreserved quantities");
    }
  }
  Resources sum = guarantee;
  for (const auto& [other, q] : quotas_) {
    if (other != role) {
      sum += q;
    }
  }
  for (const ResourceEntry& e : sum) {
    int64_t have = total_.scalar_units(e.name);
    if (e.units > have) {
      return Error("Invalid quota for role '" + role + "': total quota for '" + e.name + "' would be " +
                   Resources::scalar_resource(e.name, e.scalar()).to_string() + " but the cluster has " +
                   std::to_string(fixed_to_scalar(have)));
    }
  }
  quotas_[role] = guarantee;
  ensure_role(role);
  ++eligibility_epoch_;
  return std::nullopt;
}

void Allocator::remove_quota(const std::string& role) {
  if (quotas_.erase(role) != 0) {
    ++eligibility_epoch_;
    maybe_remove_role(role);
  }
}

// --- Allocation --------------------------------------------------------------

void Allocator::sync_totals() {
  if (synced_version_ != total_version_) {
    role_sorter_->set_total(total_);
    synced_version_ = total_version_;
  }
  for (auto& [name, role] : roles_) {
    if (role->synced_version != total_version_) {
      role->frameworks->set_total(total_);
      role->synced_version = total_version_;
    }
  }
}

std::vector<Allocation> Allocator::allocate(TimePoint now) {
  ++cycle_;
  sweep_filters(now);
  sync_totals();

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
    Headroom headroom;
    for (const auto& [slave_id, s] : slaves_) {
      headroom.available += s->available.unreserved().scalars();
    }
    stage_quota(now, headroom, out);
    stage_fair(now, &headroom, out);
  }
  offers_made_ += out.size();
  return out;
}

void Allocator::stage_quota(TimePoint now, Headroom& headroom, std::vector<Allocation>& out) {
  // Unsatisfied guarantee per quota role: guarantee - (reservations +
  // unreserved allocation).
  std::map<std::string, Resources> unsatisfied;
  for (const auto& [name, guarantee] : quotas_) {
    Resources consumed;
    auto it = roles_.find(name);
    if (it != roles_.end()) {
      consumed = it->second->reserved.scalars().flatten() + it->second->allocated.unreserved().scalars();
    }
    Resources need = guarantee - consumed;
    if (!need.empty()) {
      unsatisfied[name] = need;
      headroom.required += need;
    }
  }
  if (unsatisfied.empty()) {
    return;
  }

  std::vector<std::pair<double, std::string>> order;
  for (Slave* s : candidates_) {
    // Quota roles in role-sorter (share) order.
    order.clear();
    for (const auto& [name, need] : unsatisfied) {
      if (!need.empty() && roles_.at(name)->active_frameworks > 0) {
        order.emplace_back(role_sorter_->share(name), name);
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
      Role& R = *roles_.at(name);
      Resources& need = unsatisfied[name];
      Resources unreserved = s->available.unreserved();
      Resources unreserved_scalars = unreserved.scalars();
      Resources guaranteed = shrink_to(unreserved_scalars, need);
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
      need -= guaranteed;
      headroom.required -= guaranteed;
      headroom.available -= guaranteed + extra;
      s->available -= offer;
      ++s->version;
      hold(*s, *chosen, R, offer);
      out.push_back(Allocation{chosen->id, name, s->id, std::move(offer)});
    }
  }
}

void Allocator::stage_fair(TimePoint now, Headroom* headroom, std::vector<Allocation>& out) {
  const bool limited = headroom != nullptr && !headroom->required.empty();
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
      role_sorter_->visit([&](const std::string& role_name) {
        Role& R = *roles_.at(role_name);
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
        headroom->available.subtract_scalars(offer.unreserved());
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
  role.allocated.add_scalars(r);
  role.frameworks->allocated(f.id, r);
  role_sorter_->allocated(role.name, r);
}

// --- Introspection -----------------------------------------------------------

std::vector<RoleInfo> Allocator::roles() const {
  std::set<std::string> names;
  for (const auto& [name, role] : roles_) {
    names.insert(name);
  }
  for (const auto& [name, weight] : weights_) {
    names.insert(name);
  }
  for (const auto& [name, quota] : quotas_) {
    names.insert(name);
  }
  std::vector<RoleInfo> out;
  for (const std::string& name : names) {
    RoleInfo info;
    info.name = name;
    auto weight = weights_.find(name);
    info.weight = weight == weights_.end() ? 1.0 : weight->second;
    auto role = roles_.find(name);
    if (role != roles_.end()) {
      info.frameworks.assign(role->second->framework_ids.begin(), role->second->framework_ids.end());
      info.allocated = role->second->allocated;
      info.reserved = role->second->reserved;
      info.share = role_sorter_->share(name);
    }
    auto quota = quotas_.find(name);
    if (quota != quotas_.end()) {
      info.quota = quota->second;
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::map<std::string, Resources> Allocator::quotas() const { return quotas_; }

Stats Allocator::stats() const {
  Stats stats;
  stats.slaves = slaves_.size();
  Resources available;
  for (const auto& [id, s] : slaves_) {
    stats.active_slaves += s->active ? 1 : 0;
    available += s->available;
  }
  stats.frameworks = frameworks_.size();
  for (const auto& [id, f] : frameworks_) {
    stats.active_frameworks += f->active ? 1 : 0;
  }
  stats.filters = filter_count_;
  stats.allocation_runs = cycle_;
  stats.offers_made = offers_made_;
  stats.offers_filtered = offers_filtered_;
  stats.slaves_skipped = slaves_skipped_;
  stats.total = total_;
  stats.allocated = total_ - available.scalars();
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
  return it->second->filter_count;
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
  for (const auto& [name, role] : roles_) {
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
    if ((active > 0) != role_sorter_->is_active(name)) {
      return Error("role " + name + ": role sorter activity mismatch");
    }
  }
  for (const auto& [name, resources] : by_role) {
    if (roles_.count(name) == 0) {
      return Error("role " + name + " holds resources but is not tracked");
    }
  }
  size_t filters = 0;
  std::map<const Framework*, size_t> per_framework;
  for (const Slave* s : slave_list_) {
    filters += s->filters.size();
    for (size_t i = 0; i < s->filters.size(); ++i) {
      ++per_framework[s->filters[i].framework];
      if (i > 0 && FilterOrder()(s->filters[i].framework, s->filters[i - 1].framework)) {
        return Error("slave " + s->id + ": filters out of order");
      }
    }
  }
  for (const auto& [id, f] : frameworks_) {
    size_t expected = per_framework.count(f.get()) != 0 ? per_framework.at(f.get()) : 0;
    if (f->filter_count != expected) {
      return Error("framework " + id + ": filter count mismatch");
    }
    per_framework.erase(f.get());
  }
  if (!per_framework.empty()) {
    return Error("filter of an unknown framework");
  }
  if (filters != filter_count_) {
    return Error("filter count " + std::to_string(filter_count_) + " != " + std::to_string(filters));
  }
  return std::nullopt;
}

}  // namespace stoa::allocator
