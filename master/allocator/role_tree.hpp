#pragma once
// The role level of the allocator's two-level hierarchy: the roles, their
// weights, the role sorter (one client per role) and per role a framework
// sorter, the role's subscribed frameworks and its accounting (allocated and
// reserved scalars). Plain synchronous class, owned and driven by one
// Allocator; it knows nothing about slaves, filters or quota (a role with
// quota is kept alive by the caller via maybe_remove(name, pinned)).
//
// Invariants (check()): the role sorter has exactly the roles; a role is
// active there iff some framework is active in it; each framework sorter has
// exactly the role's frameworks, `active_frameworks` of them active; the
// sorters' allocations equal the roles' allocated scalars.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>

#include "common/resources.hpp"
#include "common/try.hpp"
#include "master/allocator/sorter.hpp"

namespace stoa::allocator {

class RoleTree {
 public:
  struct Role {
    std::string name;
    std::unique_ptr<Sorter> frameworks;
    std::set<std::string> framework_ids;
    size_t active_frameworks = 0;  // Active in `frameworks`.
    // Aggregates over slaves are scalar quantities only: ranges and sets
    // (ports) from different slaves cannot be summed meaningfully.
    Resources allocated;          // Scalars held by its frameworks, roles as on the slaves.
    Resources reserved;           // Scalars reserved for it on registered slaves.
    uint64_t synced_version = 0;  // Total version last pushed to `frameworks`.
  };
  using RoleMap = std::unordered_map<std::string, std::unique_ptr<Role>>;

  // `role_sorter` orders the roles; each role's framework sorter is
  // make_sorter(policy, rng()), drawn when the role is created.
  // REQUIRES: `policy` is in the sorter table; `rng` outlives this tree.
  RoleTree(std::string policy, std::unique_ptr<Sorter> role_sorter, std::mt19937_64& rng);

  // --- Roles ------------------------------------------------------------------

  // The role, created (inactive, with its weight) if new.
  Role& ensure(const std::string& name);
  // nullptr if unknown.
  Role* find(const std::string& name);
  const Role* find(const std::string& name) const;
  // REQUIRES: the role exists.
  Role& at(const std::string& name) { return *roles_.at(name); }
  const RoleMap& all() const { return roles_; }
  // Removes the role if nothing keeps it: no framework, no allocation, no
  // reservation and not `pinned` (the caller's reason, e.g. quota).
  void maybe_remove(const std::string& name, bool pinned);

  // --- Frameworks in a role ---------------------------------------------------

  // Adds the framework to the role (created if new), inactive.
  // REQUIRES: the framework is not in the role yet.
  void add_framework(const std::string& role, const std::string& framework_id);
  // Removes the framework (and its allocation in the role's sorters) from
  // the role. The role itself stays (see maybe_remove()). No-op if unknown.
  void remove_framework(const std::string& role, const std::string& framework_id);
  // Makes the framework active or not in the role's sorter; the role is
  // active in the role sorter while any of its frameworks is. No-op if the
  // role is unknown. REQUIRES: the framework is in the role.
  void set_active(const std::string& role, const std::string& framework_id, bool active);

  // --- Accounting -------------------------------------------------------------

  // Adds `r` to what the framework holds in the role (role accounting and
  // both sorters).
  void allocated(Role& role, const std::string& framework_id, const Resources& r);
  // Undoes allocated(). No-op if the role is unknown.
  void unallocated(const std::string& role, const std::string& framework_id, const Resources& r);
  // Reservations for the role on registered slaves (scalars).
  void add_reserved(const std::string& role, const Resources& r) { ensure(role).reserved += r; }
  // No-op if the role is unknown.
  void remove_reserved(const std::string& role, const Resources& r);

  // --- Cluster total and weights ----------------------------------------------

  // The pool shares are computed against (sum of the slaves' scalars).
  // Pushed to the sorters lazily, by sync_totals().
  void add_total(const Resources& scalars);
  void remove_total(const Resources& scalars);
  const Resources& total() const { return total_; }
  // Pushes a changed total to every sorter (once per change, not per call).
  void sync_totals();

  // REQUIRES: weight is finite and > 0 (the caller validates).
  void set_weight(const std::string& role, double weight);
  // 1 if never set.
  double weight(const std::string& role) const;
  const std::map<std::string, double>& weights() const { return weights_; }

  // The role sorter (roles in policy order; visit() in the fair stage).
  Sorter& sorter() { return *role_sorter_; }
  // The role's weighted share in the role sorter; 0 if unknown.
  double share(const std::string& role) const { return role_sorter_->share(role); }

  // Checks the invariants above; returns the first violation. For tests.
  std::optional<Error> check() const;

 private:
  std::string policy_;
  std::unique_ptr<Sorter> role_sorter_;
  std::mt19937_64& rng_;
  RoleMap roles_;
  std::map<std::string, double> weights_;
  Resources total_;
  uint64_t total_version_ = 0;   // Bumped when total_ changes.
  uint64_t synced_version_ = 0;  // total_version_ last pushed to the role sorter.
};

}  // namespace stoa::allocator
