#include "master/allocator/shares.hpp"

#include <algorithm>
#include <cstring>

namespace stoa::allocator {

namespace {

// Names are a few bytes; most mismatches differ in length or first byte.
inline bool same(const std::string& a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || (a[0] == b[0] && std::memcmp(a.data(), b.data(), a.size()) == 0));
}

}  // namespace

size_t Shares::index(std::string_view name) {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (same(names_[i], name)) {
      return i;
    }
  }
  names_.emplace_back(name);
  total_.push_back(0);
  inverse_.push_back(0.0);
  return names_.size() - 1;
}

bool Shares::set_total(const Resources& total) {
  std::vector<int64_t> next(total_.size(), 0);
  for (const ResourceEntry& e : total) {
    if (e.type != ResourceType::SCALAR) {
      continue;
    }
    size_t i = index(e.name);
    next.resize(names_.size(), 0);
    next[i] += e.units;
  }
  next.resize(names_.size(), 0);
  if (next == total_) {
    return false;
  }
  total_ = std::move(next);
  for (size_t i = 0; i < total_.size(); ++i) {
    inverse_[i] = total_[i] > 0 ? 1.0 / static_cast<double>(total_[i]) : 0.0;
  }
  return true;
}

void Shares::add(std::vector<int64_t>& alloc, const Resources& r, int sign) {
  for (const ResourceEntry& e : r) {
    if (e.type != ResourceType::SCALAR) {
      continue;
    }
    size_t i = index(e.name);
    if (alloc.size() <= i) {
      alloc.resize(i + 1, 0);
    }
    alloc[i] = std::max<int64_t>(0, alloc[i] + sign * e.units);
  }
}

double Shares::dominant(const std::vector<int64_t>& alloc) const {
  double share = 0.0;
  size_t n = std::min(alloc.size(), inverse_.size());
  for (size_t i = 0; i < n; ++i) {
    share = std::max(share, static_cast<double>(alloc[i]) * inverse_[i]);
  }
  return share;
}

Resources Shares::to_resources(const std::vector<int64_t>& alloc) const {
  Resources out;
  for (size_t i = 0; i < alloc.size() && i < names_.size(); ++i) {
    ResourceEntry e;
    e.name = names_[i];
    e.units = alloc[i];
    out.add(e);
  }
  return out;
}

}  // namespace stoa::allocator
