#include "master/allocator/role_tree.hpp"

namespace stoa::allocator {

RoleTree::RoleTree(std::string policy, std::unique_ptr<Sorter> role_sorter, std::mt19937_64& rng)
    : policy_(std::move(policy)), role_sorter_(std::move(role_sorter)), rng_(rng) {}

RoleTree::Role& RoleTree::ensure(const std::string& name) {
  auto it = roles_.find(name);
  if (it != roles_.end()) {
    return *it->second;
  }
  auto role = std::make_unique<Role>();
  role->name = name;
  // make_sorter() cannot fail here: the policy was validated by the owner.
  role->frameworks = std::move(make_sorter(policy_, rng_()).get());
  role->frameworks->set_total(total_);
  role->synced_version = total_version_;
  role_sorter_->add_client(name);
  role_sorter_->deactivate(name);
  auto weight = weights_.find(name);
  if (weight != weights_.end()) {
    role_sorter_->update_weight(name, weight->second);
  }
  Role& ref = *role;
  roles_.emplace(name, std::move(role));
  return ref;
}

RoleTree::Role* RoleTree::find(const std::string& name) {
  auto it = roles_.find(name);
  return it == roles_.end() ? nullptr : it->second.get();
}

const RoleTree::Role* RoleTree::find(const std::string& name) const {
  auto it = roles_.find(name);
  return it == roles_.end() ? nullptr : it->second.get();
}

void RoleTree::maybe_remove(const std::string& name, bool pinned) {
  auto it = roles_.find(name);
  if (it == roles_.end()) {
    return;
  }
  const Role& role = *it->second;
  if (role.framework_ids.empty() && role.allocated.empty() && role.reserved.empty() && !pinned) {
    role_sorter_->remove_client(name);
    roles_.erase(it);
  }
}

void RoleTree::add_framework(const std::string& role, const std::string& framework_id) {
  Role& R = ensure(role);
  R.framework_ids.insert(framework_id);
  R.frameworks->add_client(framework_id);
  R.frameworks->deactivate(framework_id);
}

void RoleTree::remove_framework(const std::string& role, const std::string& framework_id) {
  Role* R = find(role);
  if (R == nullptr || R->framework_ids.count(framework_id) == 0) {
    return;
  }
  set_active(role, framework_id, false);
  R->frameworks->remove_client(framework_id);
  R->framework_ids.erase(framework_id);
}

void RoleTree::set_active(const std::string& role, const std::string& framework_id, bool active) {
  Role* R = find(role);
  if (R == nullptr) {
    return;
  }
  bool have = R->frameworks->is_active(framework_id);
  if (active == have) {
    return;
  }
  if (active) {
    R->frameworks->activate(framework_id);
    if (R->active_frameworks++ == 0) {
      role_sorter_->activate(role);
    }
  } else {
    R->frameworks->deactivate(framework_id);
    if (--R->active_frameworks == 0) {
      role_sorter_->deactivate(role);
    }
  }
}

void RoleTree::allocated(Role& role, const std::string& framework_id, const Resources& r) {
  role.allocated.add_scalars(r);
  role.frameworks->allocated(framework_id, r);
  role_sorter_->allocated(role.name, r);
}

void RoleTree::unallocated(const std::string& role, const std::string& framework_id,
                           const Resources& r) {
  Role* R = find(role);
  if (R == nullptr) {
    return;
  }
  R->allocated.subtract_scalars(r);
  R->frameworks->unallocated(framework_id, r);
  role_sorter_->unallocated(role, r);
}

void RoleTree::remove_reserved(const std::string& role, const Resources& r) {
  if (Role* R = find(role)) {
    R->reserved -= r;
  }
}

void RoleTree::add_total(const Resources& scalars) {
  total_ += scalars;
  ++total_version_;
}

void RoleTree::remove_total(const Resources& scalars) {
  total_ -= scalars;
  ++total_version_;
}

void RoleTree::sync_totals() {
  if (synced_version_ != total_version_) {
    role_sorter_->set_total(total_);
    synced_version_ = total_version_;
  }
  for (auto& [name, role] : roles_) {
    if (role->synced_version != total_version_) {
      role->frameworks->set_total(total_);
      role->synced_version = total_version_;
    }
  }
}

void RoleTree::set_weight(const std::string& role, double weight) {
  weights_[role] = weight;
  if (roles_.count(role) != 0) {
    role_sorter_->update_weight(role, weight);
  }
}

double RoleTree::weight(const std::string& role) const {
  auto it = weights_.find(role);
  return it == weights_.end() ? 1.0 : it->second;
}

std::optional<Error> RoleTree::check() const {
  if (role_sorter_->count() != roles_.size()) {
    return Error("role sorter has " + std::to_string(role_sorter_->count()) + " roles, the tree " +
                 std::to_string(roles_.size()));
  }
  for (const auto& [name, role] : roles_) {
    if (!role_sorter_->contains(name)) {
      return Error("role " + name + ": not in the role sorter");
    }
    if ((role->active_frameworks > 0) != role_sorter_->is_active(name)) {
      return Error("role " + name + ": role sorter activity mismatch");
    }
    if (role->frameworks->count() != role->framework_ids.size()) {
      return Error("role " + name + ": framework sorter size mismatch");
    }
    size_t active = 0;
    for (const std::string& id : role->framework_ids) {
      if (!role->frameworks->contains(id)) {
        return Error("role " + name + ": framework " + id + " not in its sorter");
      }
      active += role->frameworks->is_active(id) ? 1 : 0;
    }
    if (active != role->active_frameworks) {
      return Error("role " + name + ": " + std::to_string(role->active_frameworks) +
                   " active frameworks counted, " + std::to_string(active) +
                   " active in the sorter");
    }
    if (!(role_sorter_->allocation(name) == role->allocated.flatten())) {
      return Error("role " + name + ": role sorter allocation " +
                   role_sorter_->allocation(name).to_string() + " != allocated " +
                   role->allocated.to_string());
    }
  }
  return std::nullopt;
}

}  // namespace stoa::allocator
