#pragma once
// Sorter: orders the clients of one level of the allocation hierarchy (the
// roles, or the frameworks of one role) for the allocator (Mesos'
// `Sorter`). Plain synchronous class, owned and driven by one Allocator.
//
// A client has an allocation (scalar quantities only: ranges and sets do not
// take part in fairness), a weight (> 0, default 1) and an active flag.
// Inactive clients keep their allocation but are never visited.
//
// Policies:
//   "drf"    - ascending weighted dominant share, then ascending number of
//              allocations received (equal shares take turns), then name.
//   "random" - a random permutation, weighted by client weight.
// A new policy is one `<name>_sorter.{hpp,cpp}`, one line in the sorter
// table (sorter_table() in sorter.cpp) and its tests in sorter_test.cpp;
// `--allocator_policy` accepts exactly the names in that table.

#include <cstdint>
#include <memory>
#include <type_traits>
#include <string>
#include <string_view>
#include <vector>

#include "common/resources.hpp"
#include "common/try.hpp"

namespace stoa::allocator {

// A non-owning reference to a `bool(const std::string& client)` callable,
// for Sorter::visit(): unlike std::function it never allocates, which
// matters when the allocator visits sorters once per slave per pass.
// REQUIRES: the callable outlives the call it is passed to.
class ClientVisitor {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, ClientVisitor>>>
  ClientVisitor(F&& f)  // NOLINT: implicit by design, like std::function.
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* object, const std::string& client) -> bool {
          return (*static_cast<std::remove_reference_t<F>*>(object))(client);
        }) {}

  bool operator()(const std::string& client) const { return call_(object_, client); }

 private:
  void* object_;
  bool (*call_)(void*, const std::string&);
};

class Sorter {
 public:
  virtual ~Sorter() = default;

  // Adds an active client with weight 1 and no allocation.
  // REQUIRES: !contains(client).
  virtual void add_client(const std::string& client) = 0;
  // Removes the client and forgets its allocation. No-op if unknown.
  virtual void remove_client(const std::string& client) = 0;
  virtual bool contains(const std::string& client) const = 0;
  // Number of clients (active or not).
  virtual size_t count() const = 0;

  // An inactive client is skipped by sort()/visit(). No-op if unknown.
  virtual void activate(const std::string& client) = 0;
  virtual void deactivate(const std::string& client) = 0;
  virtual bool is_active(const std::string& client) const = 0;

  // REQUIRES: weight is finite and > 0. Unknown clients remember nothing.
  virtual void update_weight(const std::string& client, double weight) = 0;

  // The pool shares are computed against (scalars only, roles ignored).
  virtual void set_total(const Resources& total) = 0;

  // Adds / removes scalar quantities to / from the client's allocation.
  // allocated() also counts one allocation for the DRF tie-break.
  // No-op if the client is unknown.
  virtual void allocated(const std::string& client, const Resources& r) = 0;
  virtual void unallocated(const std::string& client, const Resources& r) = 0;

  // The client's allocated scalar quantities (role "*"); empty if unknown.
  virtual Resources allocation(const std::string& client) const = 0;
  // Weighted dominant share: max over scalars of allocated / total, divided
  // by the weight. 0 if unknown.
  virtual double share(const std::string& client) const = 0;

  // Active clients in policy order.
  virtual std::vector<std::string> sort() = 0;
  // Calls `visit` on active clients in policy order until it returns false.
  // `visit` must not modify this sorter (it may modify other sorters).
  // Cost: proportional to the clients visited (plus a rebuild after
  // set_total()/update_weight()), never a full sort per call.
  virtual void visit(ClientVisitor visit) = 0;
};

// One line of the sorter table: a policy name as given to
// --allocator_policy, a one-line description (for flag help), and the
// factory (`seed` feeds policies that draw random numbers).
struct SorterPolicy {
  std::string_view name;
  std::string_view description;
  std::unique_ptr<Sorter> (*make)(uint64_t seed);
};

// The sorter table, sorted by name. The only list of policies: make_sorter(),
// sorter_names() and the master's --allocator_policy check all read it.
const std::vector<SorterPolicy>& sorter_table();

// Builds the sorter for `policy` (a name in sorter_table()); `seed` feeds the
// random policy. Unknown policy -> Error naming it and listing the known ones.
Try<std::unique_ptr<Sorter>> make_sorter(std::string_view policy, uint64_t seed = 0);

// The policy names of sorter_table(), sorted (for the master's flag check:
// only_supported(sorter_names())).
std::vector<std::string> sorter_names();

// The table's description of `policy`; "" if unknown.
std::string sorter_description(std::string_view policy);

// "drf: <description>; random: <description>" (for --allocator_policy help).
std::string sorter_help();

// Same as sorter_names() (the earlier name, kept for source compatibility).
std::vector<std::string> sorter_policies();

}  // namespace stoa::allocator
