#pragma once
// Refusal filters (Mesos' `OfferFilter`): after a framework declines (or
// accepts part of) an offer with refuse_seconds, offers to that framework on
// that slave whose resources are contained in the refused ones are skipped
// until the filter expires. Plain synchronous class, owned and driven by one
// Allocator; no clock reads (time is passed in).
//
// Layout, chosen for the allocation hot path: the filters of one slave live
// in a small vector (the slave's slot) sorted by owner (the framework), so
// "is this framework filtered on this slave?" is one binary search in a
// cache-local vector, and nothing at all for an owner without filters.
//
// Invariants (check()): each slot is sorted by owner; each owner's count()
// equals its filters over all slots; count() equals all filters.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/resources.hpp"
#include "common/try.hpp"

namespace stoa::allocator {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

// Longest filter: refuse_seconds above this are clamped (Mesos: 365 days).
constexpr double MAX_REFUSE_SECONDS = 365.0 * 24 * 3600;

class OfferFilters {
 public:
  // The filters of one framework: embedded in the allocator's framework
  // record, which must remove_owner() before it is destroyed. Filters are
  // keyed by the owner's address.
  class Owner {
   public:
    Owner() = default;
    Owner(const Owner&) = delete;
    Owner& operator=(const Owner&) = delete;
    // Filters of this owner over all slots.
    size_t count() const { return count_; }

   private:
    friend class OfferFilters;
    size_t count_ = 0;
  };

  // One slave's filters. Slots are recycled after remove_slot().
  using Slot = uint32_t;

  // How long a filter from recover_resources(refuse_seconds) lasts, or
  // nullopt if it makes none: nullopt (rescind, task end) or 0 -> none; NaN
  // or < 0 -> `default_refuse_seconds`; clamped to MAX_REFUSE_SECONDS; and
  // at least `allocation_interval` (Mesos, MESOS-4302).
  // REQUIRES: default_refuse_seconds is finite and >= 0.
  static std::optional<Clock::duration> duration(std::optional<double> refuse_seconds,
                                                 double default_refuse_seconds,
                                                 std::chrono::nanoseconds allocation_interval);

  // A new slot without filters.
  Slot add_slot();
  // Drops the slot's filters and frees it. REQUIRES: `slot` is in use.
  void remove_slot(Slot slot);

  // Adds a filter keeping offers contained in `refused` away from `owner` on
  // `slot`. It is active until `expires` and in any case through allocate()
  // call number `through_cycle`: it expires at (now, cycle) once
  // now >= expires && cycle > through_cycle.
  void add(Slot slot, Owner& owner, Resources refused, TimePoint expires, uint64_t through_cycle);

  // Whether an active filter of `owner` on `slot` contains `offer`. Drops
  // the owner's filters on the slot that have expired at (now, cycle).
  bool filtered(Slot slot, Owner& owner, const Resources& offer, TimePoint now, uint64_t cycle) {
    if (owner.count_ == 0 || slots_[slot].empty()) {
      return false;
    }
    return filtered_slow(slots_[slot], owner, offer, now, cycle);
  }

  // Drops all of the owner's filters.
  void remove_owner(Owner& owner);

  // Drops every filter that has expired at (now, cycle), if the earliest
  // expiry has passed (otherwise costs nothing). Returns how many it dropped.
  size_t sweep(TimePoint now, uint64_t cycle);

  // All filters held.
  size_t count() const { return count_; }
  // Filters on one slot.
  size_t count(Slot slot) const { return slots_[slot].size(); }

  // Checks the invariants above, given every live owner and the name to
  // report it by (its framework id); returns the first violation.
  // O(filters); for tests and debugging.
  std::optional<Error> check(const std::map<const Owner*, std::string>& owners) const;

 private:
  struct Filter {
    Owner* owner = nullptr;
    Resources refused;
    TimePoint expires;
    uint64_t through_cycle = 0;  // Active at least through this allocate() call.

    bool expired(TimePoint now, uint64_t cycle) const {
      return now >= expires && cycle > through_cycle;
    }
  };

  // Orders a slot's filters by owner (heterogeneous: filter or owner).
  struct ByOwner {
    static const Owner* key(const Filter& f) { return f.owner; }
    static const Owner* key(const Owner* o) { return o; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return std::less<const Owner*>()(key(a), key(b));
    }
  };

  bool filtered_slow(std::vector<Filter>& filters, Owner& owner, const Resources& offer,
                     TimePoint now, uint64_t cycle);

  std::vector<std::vector<Filter>> slots_;
  std::vector<Slot> free_slots_;
  size_t count_ = 0;
  std::optional<TimePoint> next_expiry_;  // Earliest expiry to sweep at.
};

}  // namespace stoa::allocator
