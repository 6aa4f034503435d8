#pragma once
// The registry's operations as pure functions (Mesos'
// src/master/registry_operations.cpp), one per Operation case:
//
//   AdmitSlave{info}        a new slave: admitted. false if its id is already
//                           known (admitted, unreachable or gone): the master
//                           never reuses a slave id.
//   UpdateSlave{info}       replaces an admitted slave's SlaveInfo. false if
//                           it is not admitted.
//   MarkSlaveUnreachable    admitted -> unreachable (with the timestamp).
//                           false if it is not admitted.
//   MarkSlaveReachable{info} unreachable (or unknown: its unreachable entry
//                           may have been pruned) -> admitted with `info`.
//                           false if already admitted (the normal case after
//                           a master failover) or gone.
//   RemoveSlave{id}         gone from the registry entirely (admitted or
//                           unreachable; e.g. the slave unregistered). false
//                           if it is neither.
//   MarkSlaveGone{id, t}    admitted or unreachable -> gone. false if it is
//                           already gone or unknown.
//   PruneUnreachable{ids}   drops these unreachable entries (the master's
//                           registry GC). false if none of them is there.
//   UpdateWeights{weights}  sets each role's weight. false if every one
//                           already had that weight.
//   UpdateQuota{quota}      sets the role's guarantee; an empty guarantee
//                           removes the role's quota. false if unchanged.
//   RemoveQuota{role}       removes the role's quota. false if it had none.
//   UpdateMaintenance{m}    replaces the maintenance schedule and the down
//                           machines with `m` (an empty `m` clears them).
//                           false if unchanged.
//   MarkFrameworkRemoved{id, t} records a removed framework (teardown or
//                           failover timeout). false if it is recorded
//                           already. Only the newest MAX_REMOVED_FRAMEWORKS
//                           are kept: the oldest entry goes first.
//
// true = the registry changed; false = the operation does not apply and the
// registry is untouched. An Error means the operation is malformed (no case
// set, a SlaveInfo without an id, an empty role, a weight that is not a
// positive finite number, a maintenance machine with neither hostname nor ip); it names the offending value, and the registry
// is untouched then too.

#include <string>
#include <unordered_set>

#include "common/try.hpp"
#include "proto/registry.pb.h"

namespace stoa::registrar {

// How many removed framework ids the registry keeps (Mesos keeps none: a
// new leader there forgets them). 10,000 ids take ~600 KB.
constexpr int MAX_REMOVED_FRAMEWORKS = 10000;

// The slave (and removed framework) ids a registry holds, so that admission
// checks are O(1).
// Invariant: equals SlaveIds::of(registry) for the registry it is kept with.
struct SlaveIds {
  std::unordered_set<std::string> admitted;
  std::unordered_set<std::string> unreachable;
  std::unordered_set<std::string> gone;
  std::unordered_set<std::string> removed_frameworks;

  static SlaveIds of(const registry::Registry& registry);
  bool operator==(const SlaveIds&) const = default;
};

// Applies `op` to `registry`, keeping `ids` (REQUIRES: ids == SlaveIds::of(registry)).
Try<bool> apply(registry::Registry& registry, SlaveIds& ids, const registry::Operation& op);

// The same, building the index first (O(size of the registry)).
Try<bool> apply(registry::Registry& registry, const registry::Operation& op);

// "AdmitSlave", "UpdateWeights", ... for logs and errors.
std::string operation_name(const registry::Operation& op);

}  // namespace stoa::registrar
