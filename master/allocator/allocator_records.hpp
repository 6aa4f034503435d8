#pragma once
// The Allocator's private records of slaves and frameworks, shared by the
// files that implement Allocator (allocator.cpp: events and allocation
// passes; allocator_introspection.cpp: views and invariant checks). Not part
// of the allocator's interface: include allocator.hpp instead.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "master/allocator/allocator.hpp"

namespace stoa::allocator {

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
  // This slave's refusal filters in filters_.
  OfferFilters::Slot filter_slot = 0;
};

struct Allocator::Framework {
  std::string id;
  std::vector<std::string> roles;
  std::set<std::string> suppressed;
  bool active = true;
  OfferFilters::Owner filters;  // Its refusal filters in filters_.
};

}  // namespace stoa::allocator
