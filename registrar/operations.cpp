#include "registrar/operations.hpp"

#include <cmath>

#include <google/protobuf/util/message_differencer.h>

namespace stoa::registrar {

using registry::Operation;
using registry::Registry;

namespace {

// Removes the first element of `list` whose id is `id` (order kept).
// Returns whether one was there.
template <class List, class IdOf>
bool erase_by_id(List* list, const std::string& id, IdOf id_of) {
  for (int i = 0; i < list->size(); ++i) {
    if (id_of(list->Get(i)) == id) {
      list->DeleteSubrange(i, 1);
      return true;
    }
  }
  return false;
}

bool erase_admitted(Registry& r, const std::string& id) {
  return erase_by_id(r.mutable_slaves()->mutable_slaves(), id,
                     [](const SlaveInfo& s) -> const std::string& { return s.id().value(); });
}

bool erase_unreachable(Registry& r, const std::string& id) {
  return erase_by_id(r.mutable_unreachable()->mutable_slaves(), id,
                     [](const registry::UnreachableSlave& s) -> const std::string& { return s.id().value(); });
}

std::optional<Error> check_slave_info(const std::string& op, const SlaveInfo& info) {
  if (!info.has_id() || info.id().value().empty()) {
    return Error(op + ": the SlaveInfo of host '" + info.hostname() + "' has no slave id");
  }
  return std::nullopt;
}

std::optional<Error> check_slave_id(const std::string& op, const SlaveID& id) {
  if (id.value().empty()) {
    return Error(op + ": the slave id is empty");
  }
  return std::nullopt;
}

std::optional<Error> check_role(const std::string& op, const std::string& role) {
  if (role.empty()) {
    return Error(op + ": the role is empty");
  }
  return std::nullopt;
}

Try<bool> admit(Registry& r, SlaveIds& ids, const registry::AdmitSlave& op) {
  if (auto e = check_slave_info("AdmitSlave", op.info())) {
    return *e;
  }
  const std::string& id = op.info().id().value();
  if (ids.admitted.count(id) != 0 || ids.unreachable.count(id) != 0 || ids.gone.count(id) != 0) {
    return false;
  }
  *r.mutable_slaves()->add_slaves() = op.info();
  ids.admitted.insert(id);
  return true;
}

Try<bool> update(Registry& r, SlaveIds& ids, const registry::UpdateSlave& op) {
  if (auto e = check_slave_info("UpdateSlave", op.info())) {
    return *e;
  }
  const std::string& id = op.info().id().value();
  if (ids.admitted.count(id) == 0) {
    return false;
  }
  for (SlaveInfo& s : *r.mutable_slaves()->mutable_slaves()) {
    if (s.id().value() == id) {
      s = op.info();
      break;
    }
  }
  return true;
}

Try<bool> mark_unreachable(Registry& r, SlaveIds& ids, const registry::MarkSlaveUnreachable& op) {
  if (auto e = check_slave_id("MarkSlaveUnreachable", op.slave_id())) {
    return *e;
  }
  const std::string& id = op.slave_id().value();
  if (ids.admitted.count(id) == 0) {
    return false;
  }
  erase_admitted(r, id);
  ids.admitted.erase(id);
  registry::UnreachableSlave* u = r.mutable_unreachable()->add_slaves();
  *u->mutable_id() = op.slave_id();
  *u->mutable_timestamp() = op.timestamp();
  ids.unreachable.insert(id);
  return true;
}

Try<bool> mark_reachable(Registry& r, SlaveIds& ids, const registry::MarkSlaveReachable& op) {
  if (auto e = check_slave_info("MarkSlaveReachable", op.info())) {
    return *e;
  }
  const std::string& id = op.info().id().value();
  if (ids.admitted.count(id) != 0 || ids.gone.count(id) != 0) {
    return false;
  }
  if (ids.unreachable.erase(id) != 0) {
    erase_unreachable(r, id);
  }
  *r.mutable_slaves()->add_slaves() = op.info();
  ids.admitted.insert(id);
  return true;
}

Try<bool> remove(Registry& r, SlaveIds& ids, const registry::RemoveSlave& op) {
  if (auto e = check_slave_id("RemoveSlave", op.slave_id())) {
    return *e;
  }
  const std::string& id = op.slave_id().value();
  if (ids.admitted.erase(id) != 0) {
    erase_admitted(r, id);
    return true;
  }
  if (ids.unreachable.erase(id) != 0) {
    erase_unreachable(r, id);
    return true;
  }
  return false;
}

Try<bool> mark_gone(Registry& r, SlaveIds& ids, const registry::MarkSlaveGone& op) {
  if (auto e = check_slave_id("MarkSlaveGone", op.slave_id())) {
    return *e;
  }
  const std::string& id = op.slave_id().value();
  if (ids.admitted.erase(id) != 0) {
    erase_admitted(r, id);
  } else if (ids.unreachable.erase(id) != 0) {
    erase_unreachable(r, id);
  } else {
    return false;
  }
  registry::GoneSlave* g = r.mutable_gone()->add_slaves();
  *g->mutable_id() = op.slave_id();
  *g->mutable_timestamp() = op.timestamp();
  ids.gone.insert(id);
  return true;
}

Try<bool> prune(Registry& r, SlaveIds& ids, const registry::PruneUnreachable& op) {
  bool changed = false;
  for (const SlaveID& sid : op.slave_ids()) {
    if (ids.unreachable.erase(sid.value()) != 0) {
      erase_unreachable(r, sid.value());
      changed = true;
    }
  }
  return changed;
}

Try<bool> update_weights(Registry& r, const registry::UpdateWeights& op) {
  for (const registry::Weight& w : op.weights()) {
    if (auto e = check_role("UpdateWeights", w.role())) {
      return *e;
    }
    if (!std::isfinite(w.weight()) || w.weight() <= 0) {
      return Error("UpdateWeights: role '" + w.role() + "' has weight " + std::to_string(w.weight()) +
                   ", not a positive finite number");
    }
  }
  bool changed = false;
  for (const registry::Weight& w : op.weights()) {
    registry::Weight* found = nullptr;
    for (registry::Weight& have : *r.mutable_weights()) {
      if (have.role() == w.role()) {
        found = &have;
        break;
      }
    }
    if (found == nullptr) {
      *r.add_weights() = w;
      changed = true;
    } else if (found->weight() != w.weight()) {
      found->set_weight(w.weight());
      changed = true;
    }
  }
  return changed;
}

Try<bool> update_maintenance(Registry& r, const registry::UpdateMaintenance& op) {
  const registry::Maintenance& m = op.maintenance();
  auto check = [](const registry::MachineID& id, const std::string& where) -> std::optional<Error> {
    if (id.hostname().empty() && id.ip().empty()) {
      return Error("UpdateMaintenance: " + where + " has neither hostname nor ip: '" + id.ShortDebugString() + "'");
    }
    return std::nullopt;
  };
  for (int w = 0; w < m.windows_size(); ++w) {
    for (int i = 0; i < m.windows(w).machine_ids_size(); ++i) {
      std::string where = "windows[" + std::to_string(w) + "].machine_ids[" + std::to_string(i) + "]";
      if (auto e = check(m.windows(w).machine_ids(i), where)) {
        return *e;
      }
    }
  }
  for (int i = 0; i < m.down_size(); ++i) {
    if (auto e = check(m.down(i), "down[" + std::to_string(i) + "]")) {
      return *e;
    }
  }
  const bool empty = m.windows_size() == 0 && m.down_size() == 0;
  if (empty) {
    if (!r.has_maintenance()) {
      return false;
    }
    r.clear_maintenance();
    return true;
  }
  if (r.has_maintenance() && r.maintenance().SerializeAsString() == m.SerializeAsString()) {
    return false;
  }
  *r.mutable_maintenance() = m;
  return true;
}

int find_quota(const Registry& r, const std::string& role) {
  for (int i = 0; i < r.quotas_size(); ++i) {
    if (r.quotas(i).role() == role) {
      return i;
    }
  }
  return -1;
}

Try<bool> remove_quota_of(Registry& r, const std::string& role) {
  int at = find_quota(r, role);
  if (at < 0) {
    return false;
  }
  r.mutable_quotas()->DeleteSubrange(at, 1);
  return true;
}

Try<bool> update_quota(Registry& r, const registry::UpdateQuota& op) {
  if (auto e = check_role("UpdateQuota", op.quota().role())) {
    return *e;
  }
  if (op.quota().guarantee_size() == 0) {
    return remove_quota_of(r, op.quota().role());
  }
  int at = find_quota(r, op.quota().role());
  if (at < 0) {
    *r.add_quotas() = op.quota();
    return true;
  }
  if (google::protobuf::util::MessageDifferencer::Equals(r.quotas(at), op.quota())) {
    return false;
  }
  *r.mutable_quotas(at) = op.quota();
  return true;
}

Try<bool> remove_quota(Registry& r, const registry::RemoveQuota& op) {
  if (auto e = check_role("RemoveQuota", op.role())) {
    return *e;
  }
  return remove_quota_of(r, op.role());
}

Try<bool> mark_framework_removed(Registry& r, SlaveIds& ids, const registry::MarkFrameworkRemoved& op) {
  const std::string& id = op.framework_id().value();
  if (id.empty()) {
    return Error("MarkFrameworkRemoved: the framework id is empty");
  }
  if (ids.removed_frameworks.count(id) != 0) {
    return false;
  }
  auto* list = r.mutable_removed_frameworks()->mutable_frameworks();
  registry::RemovedFramework* f = list->Add();
  *f->mutable_id() = op.framework_id();
  *f->mutable_timestamp() = op.timestamp();
  ids.removed_frameworks.insert(id);
  if (list->size() > MAX_REMOVED_FRAMEWORKS) {
    int drop = list->size() - MAX_REMOVED_FRAMEWORKS;
    for (int i = 0; i < drop; ++i) {
      ids.removed_frameworks.erase(list->Get(i).id().value());
    }
    list->DeleteSubrange(0, drop);
  }
  return true;
}

}  // namespace

SlaveIds SlaveIds::of(const Registry& registry) {
  SlaveIds ids;
  for (const SlaveInfo& s : registry.slaves().slaves()) {
    ids.admitted.insert(s.id().value());
  }
  for (const auto& s : registry.unreachable().slaves()) {
    ids.unreachable.insert(s.id().value());
  }
  for (const auto& s : registry.gone().slaves()) {
    ids.gone.insert(s.id().value());
  }
  for (const auto& f : registry.removed_frameworks().frameworks()) {
    ids.removed_frameworks.insert(f.id().value());
  }
  return ids;
}

Try<bool> apply(Registry& registry, SlaveIds& ids, const Operation& op) {
  switch (op.operation_case()) {
    case Operation::kAdmitSlave: return admit(registry, ids, op.admit_slave());
    case Operation::kUpdateSlave: return update(registry, ids, op.update_slave());
    case Operation::kMarkSlaveUnreachable: return mark_unreachable(registry, ids, op.mark_slave_unreachable());
    case Operation::kMarkSlaveReachable: return mark_reachable(registry, ids, op.mark_slave_reachable());
    case Operation::kRemoveSlave: return remove(registry, ids, op.remove_slave());
    case Operation::kMarkSlaveGone: return mark_gone(registry, ids, op.mark_slave_gone());
    case Operation::kPruneUnreachable: return prune(registry, ids, op.prune_unreachable());
    case Operation::kUpdateWeights: return update_weights(registry, op.update_weights());
    case Operation::kUpdateQuota: return update_quota(registry, op.update_quota());
    case Operation::kRemoveQuota: return remove_quota(registry, op.remove_quota());
    case Operation::kMarkFrameworkRemoved: return mark_framework_removed(registry, ids, op.mark_framework_removed());
    case Operation::kUpdateMaintenance: return update_maintenance(registry, op.update_maintenance());
    case Operation::OPERATION_NOT_SET: break;
  }
  return Error("registry operation with no case set: '" + op.ShortDebugString() + "'");
}

Try<bool> apply(Registry& registry, const Operation& op) {
  SlaveIds ids = SlaveIds::of(registry);
  return apply(registry, ids, op);
}

std::string operation_name(const Operation& op) {
  if (op.operation_case() == Operation::OPERATION_NOT_SET) {
    return "(no operation)";
  }
  const auto* field = Operation::descriptor()->FindFieldByNumber(op.operation_case());
  return field != nullptr ? field->message_type()->name() : "?";
}

}  // namespace stoa::registrar
