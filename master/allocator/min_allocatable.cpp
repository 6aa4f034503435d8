#include "master/allocator/min_allocatable.hpp"

#include <algorithm>

namespace stoa::allocator {

std::vector<Resources> default_min_allocatable() {
  return {Resources::scalar_resource("cpus", 0.01), Resources::scalar_resource("mem", 32)};
}

std::optional<Error> MinAllocatable::validate(const std::vector<Resources>& minimums) {
  for (const Resources& min : minimums) {
    if (min.empty() || !min.non_scalars().empty()) {
      return Error("Invalid min_allocatable '" + min.to_string() + "': must be non-empty scalars");
    }
  }
  return std::nullopt;
}

MinAllocatable::MinAllocatable(std::vector<Resources> minimums) : minimums_(std::move(minimums)) {
  single_ = minimums_.size() <= MAX_SINGLE &&
            std::all_of(minimums_.begin(), minimums_.end(),
                        [](const Resources& min) { return min.size() == 1; });
}

bool MinAllocatable::covers_single(const Resources& r) const {
  int64_t sums[MAX_SINGLE] = {0};
  const size_t n = minimums_.size();
  for (const ResourceEntry& e : r) {
    if (e.type != ResourceType::SCALAR) {
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      const ResourceEntry& min = *minimums_[i].begin();
      if (e.name.size() == min.name.size() && e.name[0] == min.name[0] && e.name == min.name) {
        sums[i] += e.units;
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (sums[i] >= minimums_[i].begin()->units) {
      return true;
    }
  }
  return false;
}

bool MinAllocatable::covers_any(const Resources& r) const {
  for (const Resources& min : minimums_) {
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

}  // namespace stoa::allocator
