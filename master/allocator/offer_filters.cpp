#include "master/allocator/offer_filters.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

namespace stoa::allocator {

std::optional<Clock::duration> OfferFilters::duration(
    std::optional<double> refuse_seconds, double default_refuse_seconds,
    std::chrono::nanoseconds allocation_interval) {
  if (!refuse_seconds) {
    return std::nullopt;
  }
  double seconds = *refuse_seconds;
  if (std::isnan(seconds) || seconds < 0) {
    seconds = default_refuse_seconds;
  }
  if (seconds == 0) {
    return std::nullopt;
  }
  seconds = std::min(seconds, MAX_REFUSE_SECONDS);
  return std::max(
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds)),
      std::chrono::duration_cast<Clock::duration>(allocation_interval));
}

OfferFilters::Slot OfferFilters::add_slot() {
  if (!free_slots_.empty()) {
    Slot slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  return static_cast<Slot>(slots_.size() - 1);
}

void OfferFilters::remove_slot(Slot slot) {
  std::vector<Filter>& filters = slots_[slot];
  for (const Filter& filter : filters) {
    --filter.owner->count_;
    --count_;
  }
  filters.clear();
  filters.shrink_to_fit();
  free_slots_.push_back(slot);
}

void OfferFilters::add(Slot slot, Owner& owner, Resources refused, TimePoint expires,
                       uint64_t through_cycle) {
  if (!next_expiry_ || expires < *next_expiry_) {
    next_expiry_ = expires;
  }
  std::vector<Filter>& filters = slots_[slot];
  auto pos = std::upper_bound(filters.begin(), filters.end(), &owner, ByOwner());
  filters.insert(pos, Filter{&owner, std::move(refused), expires, through_cycle});
  ++owner.count_;
  ++count_;
}

bool OfferFilters::filtered_slow(std::vector<Filter>& filters, Owner& owner, const Resources& offer,
                                 TimePoint now, uint64_t cycle) {
  auto [begin, end] = std::equal_range(filters.begin(), filters.end(), &owner, ByOwner());
  bool filtered = false;
  for (auto it = begin; it != end;) {
    if (it->expired(now, cycle)) {
      it = filters.erase(it);
      --end;
      --owner.count_;
      --count_;
      continue;
    }
    filtered = filtered || it->refused.contains(offer);
    ++it;
  }
  return filtered;
}

void OfferFilters::remove_owner(Owner& owner) {
  if (owner.count_ == 0) {
    return;
  }
  for (std::vector<Filter>& filters : slots_) {
    auto [begin, end] = std::equal_range(filters.begin(), filters.end(), &owner, ByOwner());
    count_ -= static_cast<size_t>(end - begin);
    filters.erase(begin, end);
  }
  owner.count_ = 0;
}

size_t OfferFilters::sweep(TimePoint now, uint64_t cycle) {
  if (!next_expiry_ || now < *next_expiry_) {
    return 0;
  }
  next_expiry_.reset();
  size_t dropped = 0;
  for (std::vector<Filter>& filters : slots_) {
    auto expired = [&](const Filter& filter) {
      if (filter.expired(now, cycle)) {
        --filter.owner->count_;
        --count_;
        ++dropped;
        return true;
      }
      if (!next_expiry_ || filter.expires < *next_expiry_) {
        next_expiry_ = filter.expires;
      }
      return false;
    };
    filters.erase(std::remove_if(filters.begin(), filters.end(), expired), filters.end());
  }
  return dropped;
}

std::optional<Error> OfferFilters::check(const std::map<const Owner*, std::string>& owners) const {
  size_t total = 0;
  std::map<const Owner*, size_t> per_owner;
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    const std::vector<Filter>& filters = slots_[slot];
    total += filters.size();
    for (size_t i = 0; i < filters.size(); ++i) {
      ++per_owner[filters[i].owner];
      if (i > 0 && ByOwner()(filters[i], filters[i - 1])) {
        return Error("filter slot " + std::to_string(slot) + ": filters out of order");
      }
    }
  }
  for (const auto& [owner, name] : owners) {
    auto it = per_owner.find(owner);
    size_t expected = it == per_owner.end() ? 0 : it->second;
    if (owner->count_ != expected) {
      return Error("framework " + name + ": filter count " + std::to_string(owner->count_) +
                   " != " + std::to_string(expected) + " filters held");
    }
    if (it != per_owner.end()) {
      per_owner.erase(it);
    }
  }
  if (!per_owner.empty()) {
    return Error("filter of an unknown framework");
  }
  if (total != count_) {
    return Error("filter count " + std::to_string(count_) + " != " + std::to_string(total));
  }
  return std::nullopt;
}

}  // namespace stoa::allocator
