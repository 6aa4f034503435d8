#pragma once
// The allocator core: hierarchical DRF over roles and frameworks with
// weights, static reservations, quota guarantees, refusal filters,
// suppress/revive and minimum allocatable resources (Mesos'
// `HierarchicalAllocatorProcess`, see docs/allocator.md).
//
// A plain synchronous class: no actors, no timers, no clock reads. Time is
// passed in (`now`). The master's allocator actor owns one Allocator, calls
// allocate() every allocation interval and on events (batching bursts), and
// turns the returned Allocations into offers.
//
// Accounting invariant, per slave: total == available + sum of allocations
// (an allocation is an outstanding offer or resources used by tasks; the
// allocator does not distinguish). Resources returned by allocate() count as
// allocated to (framework, role) until recover_resources() returns them.
//
// Thread safety: none; one owner (the allocator actor) calls everything.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/resources.hpp"
#include "common/try.hpp"
#include "master/allocator/min_allocatable.hpp"
#include "master/allocator/offer_filters.hpp"
#include "master/allocator/quota_headroom.hpp"
#include "master/allocator/role_tree.hpp"
#include "master/allocator/sorter.hpp"

namespace stoa::allocator {

// Clock, TimePoint and MAX_REFUSE_SECONDS come from offer_filters.hpp.

// One offer to make: `resources` of `slave_id` to `framework_id` in `role`.
struct Allocation {
  std::string framework_id;
  std::string role;
  std::string slave_id;
  Resources resources;
};

// default_min_allocatable() comes from min_allocatable.hpp.

struct Options {
  // Sorter policy for both levels: "drf" | "random" (see sorter.hpp).
  std::string policy = "drf";
  // A (slave, role) is offered only if the offerable resources contain
  // (as scalar quantities, summed over roles) at least one of these. An
  // empty vector means any non-empty resources are offerable.
  std::vector<Resources> min_allocatable = default_min_allocatable();
  // Role -> weight (finite, > 0; default 1).
  std::map<std::string, double> weights;
  // Role whitelist (Mesos --roles); nullopt = any valid role name.
  std::optional<std::set<std::string>> roles;
  // Used when recover_resources() is given a negative or NaN refuse_seconds.
  double default_refuse_seconds = 5.0;
  // The master's --allocation_interval: a filter lasts at least this long
  // (and in any case through the next allocate() call; MESOS-4302).
  std::chrono::nanoseconds allocation_interval = std::chrono::seconds(1);
  // Seed for the slave shuffle and the random sorter; 0 = nondeterministic.
  uint64_t seed = 0;
  // Skip a slave in the fair-share stage when the previous pass found
  // nothing to offer on it and neither its free resources nor anything that
  // could make a framework eligible (new/activated/revived framework, an
  // expired filter, quota change) has changed since. Exact: with "drf" it
  // changes no result (tested against a run with it off); with "random" it
  // only saves random draws on slaves where no framework was eligible. It
  // cuts the cost of passes in which most offers stay declined. Disabled
  // while any quota is set.
  bool skip_unchanged_slaves = true;
};

// Per-role introspection for /master/roles and /metrics.
struct RoleInfo {
  std::string name;
  double weight = 1.0;
  std::vector<std::string> frameworks;  // Subscribed, sorted.
  Resources allocated;                  // Offered + used scalars (roles as on the slaves).
  Resources reserved;                   // Reserved scalars on registered slaves.
  std::optional<Resources> quota;       // Guarantee, if set.
  double share = 0.0;                   // Weighted dominant share in the role sorter.
};

struct Stats {
  size_t slaves = 0;
  size_t active_slaves = 0;
  size_t frameworks = 0;
  size_t active_frameworks = 0;
  size_t filters = 0;                 // Refusal filters currently held.
  uint64_t allocation_runs = 0;       // allocate() calls so far.
  uint64_t offers_made = 0;           // Allocations returned so far.
  uint64_t offers_filtered = 0;       // (framework, slave) candidates skipped by a filter.
  uint64_t slaves_skipped = 0;        // Slaves skipped as unchanged (skip_unchanged_slaves).
  Resources total;                    // Scalars of all registered slaves.
  Resources allocated;                // Scalars: total - available.
};

class Allocator {
 public:
  // Unknown policy, a weight that is not finite and > 0, a bad role name in
  // weights/roles, or an invalid default_refuse_seconds -> Error.
  static Try<std::unique_ptr<Allocator>> create(Options opts);

  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  // --- Frameworks -----------------------------------------------------------

  // Adds a framework subscribed to `roles` (deduplicated). `used` is what it
  // already holds per slave (failover/re-registration); used resources on
  // unknown slaves are ignored (add_slave() brings them). Used resources
  // reserved for one of its roles count toward that role, the rest toward
  // roles[0]. Errors (nothing changes): empty or duplicate id, no roles, an
  // invalid role name, a role outside the whitelist.
  std::optional<Error> add_framework(const std::string& id, const std::vector<std::string>& roles,
                                     const std::map<std::string, Resources>& used, bool active);
  // Returns everything the framework holds to the slaves' free pools and
  // forgets its filters. Later recover_resources() calls for it are no-ops.
  void remove_framework(const std::string& id);
  // An inactive framework keeps its allocation but gets no offers.
  void activate_framework(const std::string& id);
  void deactivate_framework(const std::string& id);

  // --- Slaves ---------------------------------------------------------------

  // Adds (or replaces) a slave. `used` (framework -> resources) is taken out
  // of the free pool at once; it is attributed to the framework's roles when
  // the framework is (or later gets) added.
  void add_slave(const std::string& id, const Resources& total,
                 const std::map<std::string, Resources>& used);
  // The slave's resources leave the cluster; it is never offered again.
  void remove_slave(const std::string& id);
  // An inactive slave keeps its accounting but is not offered.
  void activate_slave(const std::string& id);
  void deactivate_slave(const std::string& id);

  // --- Offers ---------------------------------------------------------------

  // Returns `r` (or the part of it that the framework holds on the slave) to
  // the slave's free pool. With refuse_seconds (decline/accept filters) a
  // filter keeps resources contained in `r` away from that framework on that
  // slave until now + max(refuse_seconds, allocation_interval), and in any
  // case through the next allocate(). refuse_seconds: NaN or < 0 -> the
  // default; 0 -> no filter; above MAX_REFUSE_SECONDS -> clamped. nullopt
  // (rescind, task end) -> no filter. Unknown slave -> no-op.
  void recover_resources(const std::string& framework_id, const std::string& slave_id, const Resources& r,
                         std::optional<double> refuse_seconds, TimePoint now);
  // Stops offers to the framework in `roles` (empty = all its roles).
  void suppress(const std::string& framework_id, const std::vector<std::string>& roles);
  // Undoes suppress for `roles` (empty = all) and clears all of the
  // framework's filters. The caller should trigger an allocation.
  void revive(const std::string& framework_id, const std::vector<std::string>& roles);

  // --- Weights and quota ----------------------------------------------------

  // Sets weights (merged into the current ones). Any invalid entry (bad or
  // non-whitelisted role, weight not finite and > 0) -> Error, no change.
  std::optional<Error> update_weights(const std::map<std::string, double>& w);
  // Sets the role's guarantee: offers go to unmet guarantees first, and
  // unreserved resources needed for unmet guarantees are held back from
  // other roles. Errors (no change): role "*", bad or non-whitelisted role,
  // non-scalar or reserved resources, or all guarantees together exceeding
  // the cluster's total (per scalar).
  std::optional<Error> set_quota(const std::string& role, const Resources& guarantee);
  void remove_quota(const std::string& role);

  // --- Allocation -----------------------------------------------------------

  // One allocation pass over the active slaves (shuffled): quota stage, then
  // fair-share stage. Each (slave, role) goes whole to the first eligible
  // framework in sorter order (coarse-grained: one framework per slave per
  // role per pass). Returns the offers to make; they count as allocated.
  std::vector<Allocation> allocate(TimePoint now);

  // --- Introspection --------------------------------------------------------

  // Every role with a framework, reservation, allocation, quota or weight.
  std::vector<RoleInfo> roles() const;
  std::map<std::string, double> weights() const { return roles_.weights(); }
  std::map<std::string, Resources> quotas() const;
  // Every figure; O(slaves + frameworks) (it sums the slaves' available).
  Stats stats() const;
  // Only the O(1) counters of stats(): filters, allocation_runs,
  // offers_made, offers_filtered, slaves_skipped, slaves and frameworks
  // (the rest left 0). What the allocator actor gauges after every pass.
  Stats counters() const;
  const Options& options() const { return options_; }
  bool has_slave(const std::string& id) const { return slaves_.count(id) != 0; }
  bool has_framework(const std::string& id) const { return frameworks_.count(id) != 0; }
  // Free resources of a slave; nullopt if unknown.
  std::optional<Resources> available(const std::string& slave_id) const;
  // Everything the framework holds, per slave.
  std::map<std::string, Resources> allocation(const std::string& framework_id) const;
  // Number of filters the framework holds.
  size_t filters(const std::string& framework_id) const;

  // Checks the accounting invariants (per slave total == available + held;
  // role allocations == what slaves say they hold; filter and activity
  // counters). Returns the first violation. O(slaves + frameworks); for
  // tests and debugging.
  std::optional<Error> check_invariants() const;

 private:
  struct Slave;
  struct Framework;
  using Role = RoleTree::Role;

  explicit Allocator(Options opts, std::unique_ptr<Sorter> role_sorter);

  // The role tree's maybe_remove(), keeping roles with quota.
  void maybe_remove_role(const std::string& name);
  // Takes `r` out of the slave's free pool and records it as held by
  // (framework, role); role "" means the framework is not known yet. Updates
  // the role's accounting and both sorters when the role is known.
  void track(Slave& s, Framework* f, const std::string& framework_id, const std::string& role,
             const Resources& r);
  // Records `r` (already taken out of s.available) as held by (f, role) and
  // updates the role's accounting and both sorters. The allocate() path.
  void hold(Slave& s, Framework& f, Role& role, const Resources& r);
  // Splits `r` by the framework role it counts toward.
  std::map<std::string, Resources> split_by_role(const Framework& f, const Resources& r) const;
  // Makes the framework's sorter state in `role` match active && !suppressed.
  void refresh_activity(Framework& f, const std::string& role);
  void stage_quota(TimePoint now, QuotaHeadroom& headroom, std::vector<Allocation>& out);
  void stage_fair(TimePoint now, QuotaHeadroom* headroom, std::vector<Allocation>& out);
  std::string role_for(const Framework& f, const ResourceEntry& e) const;
  bool is_filtered(Framework& f, Slave& s, const Resources& offer, TimePoint now);
  bool allocatable(const Resources& r) const { return min_allocatable_(r); }
  // check_role_name() plus the --roles whitelist ("*" is always allowed).
  std::optional<Error> validate_role(const std::string& role) const;

  Options options_;
  // Declared before roles_, which draws framework sorter seeds from it.
  std::mt19937_64 rng_;
  RoleTree roles_;
  OfferFilters filters_;
  Quotas quotas_;
  std::unordered_map<std::string, std::unique_ptr<Slave>> slaves_;
  std::unordered_map<std::string, std::unique_ptr<Framework>> frameworks_;
  std::vector<Slave*> slave_list_;  // Registration order (deterministic shuffles).
  // Slaves holding resources of frameworks not added yet (from add_slave()).
  std::unordered_map<std::string, std::unordered_set<Slave*>> unknown_holds_;
  uint64_t cycle_ = 0;              // allocate() calls so far.
  uint64_t offers_made_ = 0;
  uint64_t offers_filtered_ = 0;
  uint64_t slaves_skipped_ = 0;
  // Bumped by every event that can make a framework newly eligible for a
  // slave whose free resources did not change (see skip_unchanged_slaves).
  uint64_t eligibility_epoch_ = 1;
  MinAllocatable min_allocatable_;  // From options_.min_allocatable.
  std::vector<Slave*> candidates_;  // Scratch for allocate().
};

}  // namespace stoa::allocator
