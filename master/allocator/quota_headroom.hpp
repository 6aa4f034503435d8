#pragma once
// Quota (Mesos <= 1.8 guarantees, no limits): the guarantees per role, what
// a role has consumed of its guarantee, and the per-pass headroom that keeps
// unreserved resources needed for unmet guarantees away from other roles
// (docs/allocator.md, "Quota"). Plain value classes with no clock and no
// knowledge of slaves or sorters.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/resources.hpp"
#include "common/try.hpp"

namespace stoa::allocator {

// What `role` has consumed of its guarantee: its reservations on registered
// slaves (`reserved`, allocated or not) plus the unreserved part of what its
// frameworks hold (`allocated`), as unreserved scalar quantities.
Resources quota_consumed(const Resources& reserved, const Resources& allocated);

// `r` limited per name to the quantities in `limit` (names absent from
// `limit` are dropped).
Resources shrink_to(const Resources& r, const Resources& limit);

// The guarantees, per role.
class Quotas {
 public:
  // Why `guarantee` cannot become `role`'s guarantee in a cluster whose
  // scalars are `total`, or nullopt: role "*", an empty guarantee,
  // non-scalar or reserved resources, or all guarantees together (this one
  // replacing the role's current one) above `total` for some scalar. The
  // role name itself is the caller's to check (check_role_name()).
  std::optional<Error> validate(const std::string& role, const Resources& guarantee,
                                const Resources& total) const;

  // Sets (or replaces) the role's guarantee. REQUIRES: validate() passed.
  void set(const std::string& role, const Resources& guarantee) { guarantees_[role] = guarantee; }
  // Returns whether the role had a guarantee.
  bool remove(const std::string& role) { return guarantees_.erase(role) != 0; }
  bool contains(const std::string& role) const { return guarantees_.count(role) != 0; }
  bool empty() const { return guarantees_.empty(); }
  const std::map<std::string, Resources>& all() const { return guarantees_; }

 private:
  std::map<std::string, Resources> guarantees_;
};

// One allocation pass's quota headroom: the unreserved scalars still needed
// for unmet guarantees (`required`, summed over roles) versus the
// unreserved scalars still free in the cluster (`available`). Only the
// surplus (available - required, per name) may go to allocations that do
// not count toward an unmet guarantee.
class QuotaHeadroom {
 public:
  // `available`: the unreserved free scalars of all slaves at pass start.
  explicit QuotaHeadroom(Resources available = Resources()) : available_(std::move(available)) {}

  // Records the role's unmet guarantee, guarantee - consumed (see
  // quota_consumed()), if not empty. Call once per quota role.
  void require(const std::string& role, const Resources& guarantee, const Resources& consumed);

  // Unmet guarantees per role (entries stay, possibly empty, once met).
  const std::map<std::string, Resources>& unmet() const { return unmet_; }
  // Whether anything is held back for guarantees.
  bool limited() const { return !required_.empty(); }
  const Resources& required() const { return required_; }
  const Resources& available() const { return available_; }

  // How many units of scalar `name` may go to anyone without eating into
  // the unmet guarantees (max int64 when nothing of it is required).
  int64_t surplus(const std::string& name) const;
  // The scalars of `r` limited per name to the surplus.
  Resources limit(const Resources& r) const;

  // The part of `unreserved_scalars` (free on one slave) that would go
  // toward the role's unmet guarantee.
  Resources guaranteed_part(const std::string& role, const Resources& unreserved_scalars) const;
  // Records a quota-stage offer to `role`: `guaranteed` toward its unmet
  // guarantee, `extra` out of the surplus.
  void take_guaranteed(const std::string& role, const Resources& guaranteed,
                       const Resources& extra);
  // Records an offer whose unreserved part is `unreserved` (fair stage).
  void take(const Resources& unreserved) { available_.subtract_scalars(unreserved); }

 private:
  std::map<std::string, Resources> unmet_;
  Resources required_;
  Resources available_;
};

}  // namespace stoa::allocator
