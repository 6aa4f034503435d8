#include "master/allocator/quota_headroom.hpp"

#include <algorithm>
#include <limits>

namespace stoa::allocator {

Resources quota_consumed(const Resources& reserved, const Resources& allocated) {
  return reserved.scalars().flatten() + allocated.unreserved().scalars();
}

Resources shrink_to(const Resources& r, const Resources& limit) {
  Resources out;
  for (const ResourceEntry& e : r) {
    ResourceEntry copy = e;
    copy.units = std::min(e.units, limit.scalar_units(e.name));
    out.add(copy);
  }
  return out;
}

std::optional<Error> Quotas::validate(const std::string& role, const Resources& guarantee,
                                      const Resources& total) const {
  if (role == "*") {
    return Error("Invalid quota: role '*' cannot have quota");
  }
  if (guarantee.empty()) {
    return Error("Invalid quota for role '" + role +
                 "': empty guarantee (use DELETE to remove quota)");
  }
  for (const ResourceEntry& e : guarantee) {
    if (e.type != ResourceType::SCALAR) {
      return Error("Invalid quota for role '" + role + "': '" + e.name + "' is not a scalar");
    }
    if (e.role != "*") {
      return Error("Invalid quota for role '" + role + "': '" + e.name + "(" + e.role +
                   ")' is reserved; quota takes unreserved quantities");
    }
  }
  Resources sum = guarantee;
  for (const auto& [other, q] : guarantees_) {
    if (other != role) {
      sum += q;
    }
  }
  for (const ResourceEntry& e : sum) {
    int64_t have = total.scalar_units(e.name);
    if (e.units > have) {
      return Error("Invalid quota for role '" + role + "': total quota for '" + e.name +
                   "' would be " + Resources::scalar_resource(e.name, e.scalar()).to_string() +
                   " but the cluster has " + std::to_string(fixed_to_scalar(have)));
    }
  }
  return std::nullopt;
}

void QuotaHeadroom::require(const std::string& role, const Resources& guarantee,
                            const Resources& consumed) {
  Resources need = guarantee - consumed;
  if (!need.empty()) {
    required_ += need;
    unmet_[role] = std::move(need);
  }
}

int64_t QuotaHeadroom::surplus(const std::string& name) const {
  int64_t need = required_.scalar_units(name);
  if (need == 0) {
    return std::numeric_limits<int64_t>::max();
  }
  return std::max<int64_t>(0, available_.scalar_units(name) - need);
}

Resources QuotaHeadroom::limit(const Resources& r) const {
  if (required_.empty()) {
    return r;
  }
  Resources out;
  for (const ResourceEntry& e : r) {
    ResourceEntry copy = e;
    copy.units = std::min(e.units, surplus(e.name));
    out.add(copy);
  }
  return out;
}

Resources QuotaHeadroom::guaranteed_part(const std::string& role,
                                         const Resources& unreserved_scalars) const {
  auto it = unmet_.find(role);
  if (it == unmet_.end()) {
    return Resources();
  }
  return shrink_to(unreserved_scalars, it->second);
}

void QuotaHeadroom::take_guaranteed(const std::string& role, const Resources& guaranteed,
                                    const Resources& extra) {
  auto it = unmet_.find(role);
  if (it != unmet_.end()) {
    it->second -= guaranteed;
  }
  required_ -= guaranteed;
  available_ -= guaranteed + extra;
}

}  // namespace stoa::allocator
