#pragma once
// The allocator actor: owns one `Allocator` (the synchronous core, which
// stays the unit of tests and benchmarks) and speaks Mesos' allocator
// vocabulary as typed messages, so an allocation pass runs beside the
// master instead of inside it (a 50k-slave pass takes ~100 ms; inside the
// master it delayed every other message by that much).
//
// Protocol (all local: these types are never serialized, so no remote peer
// can send them):
//   master -> allocator   AddFramework, RemoveFramework, ActivateFramework,
//                         DeactivateFramework, AddSlave, RemoveSlave,
//                         ActivateSlave, DeactivateSlave, RecoverResources,
//                         SuppressOffers, ReviveOffers   (one-way)
//                         UpdateWeights, SetQuota, RemoveQuota -> std::string
//                         (empty = applied, else the error; nothing changed)
//                         GetView -> View                 (introspection)
//   allocator -> master   (offers_atom, Allocations)     after each pass
//
// Passes run every `allocation_interval` and `event_delay` after an event
// that adds or frees resources (bursts coalesce into one pass). Time is the
// actor clock's, so tests drive filters and intervals with virtual time.
//
// Accounting across the boundary: messages between the two actors are
// delivered in order, so an offer for a framework or slave the master has
// already removed comes back as a RecoverResources the allocator treats as
// a no-op (remove_framework/remove_slave already returned everything). The
// exact cross-check (master's tasks + offers per slave == the allocator's
// held resources) runs in the master on a View taken while no update was in
// flight (see Master::check_accounting).

#include <chrono>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/typed_actor.hpp>
#include <caf/replies_to.hpp>

#include "actors/atoms.hpp"
#include "master/allocator/allocator.hpp"

namespace stoa::metrics {
class Registry;
}

namespace stoa::allocator {

struct AddFramework {
  std::string id;
  std::vector<std::string> roles;
  std::map<std::string, Resources> used;  // slave id -> resources
  bool active = true;
};
struct RemoveFramework {
  std::string id;
};
struct ActivateFramework {
  std::string id;
};
struct DeactivateFramework {
  std::string id;
};
struct AddSlave {
  std::string id;
  Resources total;
  std::map<std::string, Resources> used;  // framework id -> resources
};
struct RemoveSlave {
  std::string id;
};
struct ActivateSlave {
  std::string id;
};
struct DeactivateSlave {
  std::string id;
};
struct RecoverResources {
  std::string framework_id;
  std::string slave_id;
  Resources resources;
  std::optional<double> refuse_seconds;  // nullopt: no filter
};
struct SuppressOffers {
  std::string framework_id;
  std::vector<std::string> roles;
};
struct ReviveOffers {
  std::string framework_id;
  std::vector<std::string> roles;
};
struct UpdateWeights {
  std::map<std::string, double> weights;
};
struct SetQuota {
  std::string role;
  Resources guarantee;
};
struct RemoveQuota {
  std::string role;
};
struct GetView {
  // Fill View::available for these slaves and run check_invariants()
  // (O(slaves + frameworks): for the invariant check).
  std::vector<std::string> slaves;
  bool check = false;
};

// What /master/roles, /weights, /quota and the invariant check read.
struct View {
  std::vector<RoleInfo> roles;
  std::map<std::string, double> weights;
  std::map<std::string, Resources> quotas;
  Stats stats;
  std::map<std::string, Resources> available;  // slave id -> free resources
  std::optional<std::string> invariant_error;  // Allocator::check_invariants()
};

using Allocations = std::vector<Allocation>;

// The allocator's own timer: (periodic) passes and event-triggered ones.
struct AllocationTick {
  bool periodic = false;
};

using allocator_actor = caf::typed_actor<
    caf::reacts_to<AddFramework>, caf::reacts_to<RemoveFramework>, caf::reacts_to<ActivateFramework>,
    caf::reacts_to<DeactivateFramework>, caf::reacts_to<AddSlave>, caf::reacts_to<RemoveSlave>,
    caf::reacts_to<ActivateSlave>, caf::reacts_to<DeactivateSlave>, caf::reacts_to<RecoverResources>,
    caf::reacts_to<SuppressOffers>, caf::reacts_to<ReviveOffers>,
    caf::replies_to<UpdateWeights>::with<std::string>, caf::replies_to<SetQuota>::with<std::string>,
    caf::replies_to<RemoveQuota>::with<std::string>, caf::replies_to<GetView>::with<View>,
    caf::reacts_to<AllocationTick>>;

struct ActorOptions {
  // A pass runs this long after an event that adds or frees resources.
  std::chrono::milliseconds event_delay{2};
  // Check Allocator::check_invariants() after every pass (tests).
  bool check_invariants = false;
  // On its own thread (production); tests on CAF's test_coordinator need it
  // scheduled like every other actor.
  bool detached = true;
  // Where allocator/* metrics and master/invariant_violations go (may be null).
  metrics::Registry* metrics = nullptr;
  // Owns `metrics` when the caller made it for itself (a master without a
  // process registry): the actor keeps it alive, since a detached allocator
  // may finish a pass after its master is gone.
  std::shared_ptr<metrics::Registry> metrics_owner;
};

// Spawns the actor owning `core`; offers go to `master` as
// (offers_atom, Allocations). The first pass runs at once, then every
// core->options().allocation_interval.
allocator_actor spawn_allocator(caf::actor_system& sys, std::unique_ptr<Allocator> core,
                                caf::actor master, ActorOptions opts);

// Declares the allocator's metrics in `registry` (Mesos' names).
void declare_allocator_metrics(metrics::Registry& registry);

}  // namespace stoa::allocator

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::AddFramework)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::RemoveFramework)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::ActivateFramework)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::DeactivateFramework)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::AddSlave)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::RemoveSlave)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::ActivateSlave)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::DeactivateSlave)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::RecoverResources)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::SuppressOffers)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::ReviveOffers)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::UpdateWeights)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::SetQuota)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::RemoveQuota)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::GetView)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::View)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::Allocations)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::allocator::AllocationTick)
