#pragma once
// Internal to the sorters: scalar quantities as small fixed-point vectors
// indexed by resource name, and weighted dominant shares over a pool.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/resources.hpp"

namespace stoa::allocator {

class Shares {
 public:
  // Replaces the pool. Returns true if any total changed.
  bool set_total(const Resources& total);

  // alloc += sign * scalars(r). Grows `alloc` as new names appear.
  void add(std::vector<int64_t>& alloc, const Resources& r, int sign);

  // max over names of alloc / total (names with total 0 are skipped).
  double dominant(const std::vector<int64_t>& alloc) const;

  // The quantities as unreserved scalars.
  Resources to_resources(const std::vector<int64_t>& alloc) const;

 private:
  size_t index(std::string_view name);

  std::vector<std::string> names_;
  std::vector<int64_t> total_;
  std::vector<double> inverse_;  // 1 / total, or 0 when total is 0.
};

}  // namespace stoa::allocator
