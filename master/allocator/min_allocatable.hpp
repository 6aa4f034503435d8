#pragma once
// Minimum allocatable resources (Mesos' --min_allocatable_resources): a
// (slave, role) is offered only if what it could offer contains, as scalar
// quantities summed over roles, at least one of the minimums. Plain value
// class; the allocator asks it once per candidate offer, so the common case
// (every minimum is a single scalar) is one pass over the offer.

#include <optional>
#include <vector>

#include "common/resources.hpp"
#include "common/try.hpp"

namespace stoa::allocator {

// {cpus:0.01} and {mem:32} (Mesos' --min_allocatable_resources default).
std::vector<Resources> default_min_allocatable();

class MinAllocatable {
 public:
  // Why `minimums` cannot be used, or nullopt: an entry that is empty or
  // not only scalars. An empty list is valid (any non-empty offer).
  static std::optional<Error> validate(const std::vector<Resources>& minimums);

  // REQUIRES: validate(minimums) passed.
  explicit MinAllocatable(std::vector<Resources> minimums);

  // Whether `r` may be offered: not empty, and (if there are minimums) at
  // least one minimum is contained in r's scalar quantities.
  bool operator()(const Resources& r) const {
    if (r.empty()) {
      return false;
    }
    if (minimums_.empty()) {
      return true;
    }
    return single_ ? covers_single(r) : covers_any(r);
  }

 private:
  // Most minimums supported by the one-pass check.
  static constexpr size_t MAX_SINGLE = 8;

  // Every minimum is one scalar ({cpus:0.01} or {mem:32}): one pass over
  // `r` sums the matching scalars.
  bool covers_single(const Resources& r) const;
  bool covers_any(const Resources& r) const;

  std::vector<Resources> minimums_;
  bool single_ = false;  // At most MAX_SINGLE minimums, each one scalar.
};

}  // namespace stoa::allocator
