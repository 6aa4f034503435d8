// Allocator: long random operation sequences (invariants, and the
// skip-unchanged-slaves optimisation changing no offer).

#include <random>

#include "master/allocator/allocator_test_fixture.hpp"

namespace stoa::allocator::test {

void AllocatorTest::random_operations(uint32_t seed, Allocator* shadow) {
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  // Applies one operation to `a` and, if given, to `shadow`.
  auto both = [&](auto&& op) {
    op(*a);
    if (shadow != nullptr) {
      op(*shadow);
    }
  };
  const char* shapes[] = {"cpus:4;mem:1024;ports:[31000-31100]", "cpus:2;mem:512;cpus(web):1",
                          "cpus(db):2;mem(db):256;disk:100"};
  std::vector<Allocation> outstanding;
  both([&](Allocator& x) { x.add_slave("s0", R(shapes[0]), {}); });
  for (int step = 0; step < 2000; ++step) {
    std::string slave = "s" + std::to_string(pick(12));
    std::string fw = "f" + std::to_string(pick(6));
    switch (pick(12)) {
      case 0: {
        Resources total = R(shapes[pick(3)]);
        both([&](Allocator& x) { x.add_slave(slave, total, {}); });
        break;
      }
      case 1:
        both([&](Allocator& x) { x.remove_slave(slave); });
        break;
      case 2: {
        std::vector<std::string> roles = {pick(2) ? "web" : "db"};
        if (pick(2)) {
          roles.push_back("*");
        }
        bool active = pick(4) != 0;
        both([&](Allocator& x) { x.add_framework(fw, roles, {}, active); });
        break;
      }
      case 3:
        both([&](Allocator& x) { x.remove_framework(fw); });
        break;
      case 4:
        if (pick(2)) {
          both([&](Allocator& x) { x.suppress(fw, {}); });
        } else {
          both([&](Allocator& x) { x.revive(fw, {}); });
        }
        break;
      case 5:
        if (pick(2)) {
          both([&](Allocator& x) { x.activate_framework(fw); });
        } else {
          both([&](Allocator& x) { x.deactivate_framework(fw); });
        }
        break;
      case 6:
        if (pick(2)) {
          both([&](Allocator& x) { x.activate_slave(slave); });
        } else {
          both([&](Allocator& x) { x.deactivate_slave(slave); });
        }
        break;
      case 7:
        if (pick(3) == 0) {
          both([&](Allocator& x) { x.set_quota("db", R("cpus:1")); });
        } else {
          both([&](Allocator& x) { x.remove_quota("db"); });
        }
        break;
      default: {
        std::chrono::nanoseconds step_time = milliseconds(100 * pick(30));
        std::vector<Allocation> offers = cycle(step_time);
        if (shadow != nullptr) {
          std::vector<Allocation> expected = shadow->allocate(now);
          ASSERT_EQ(expected.size(), offers.size()) << "step " << step;
          for (size_t i = 0; i < offers.size(); ++i) {
            ASSERT_EQ(expected[i].framework_id, offers[i].framework_id) << "step " << step;
            ASSERT_EQ(expected[i].slave_id, offers[i].slave_id) << "step " << step;
            ASSERT_EQ(expected[i].resources, offers[i].resources) << "step " << step;
          }
        }
        outstanding.insert(outstanding.end(), offers.begin(), offers.end());
        // Answer some outstanding offers: decline all, or launch part.
        for (size_t i = 0; i < outstanding.size();) {
          if (pick(3) == 0) {
            ++i;
            continue;
          }
          const Allocation& o = outstanding[i];
          Resources back = pick(2) ? o.resources : o.resources.unreserved().scalars();
          std::optional<double> refuse;
          if (pick(2)) {
            refuse = 0.5 * pick(8);
          }
          both([&](Allocator& x) { x.recover_resources(o.framework_id, o.slave_id, back, refuse, now); });
          outstanding[i] = outstanding.back();
          outstanding.pop_back();
        }
        break;
      }
    }
    std::optional<Error> error = a->check_invariants();
    ASSERT_FALSE(error.has_value()) << "step " << step << ": " << error->message;
  }
}

namespace {

// A long random sequence of operations keeps every accounting invariant,
// for both policies and several seeds.
TEST_F(AllocatorTest, RandomOperationsKeepInvariants) {
  for (const char* policy : {"drf", "random"}) {
    for (uint32_t seed : {99u, 7u, 2024u}) {
      SCOPED_TRACE(std::string(policy) + " seed " + std::to_string(seed));
      Options o;
      o.policy = policy;
      o.seed = seed;
      make(o);
      random_operations(seed);
      if (HasFatalFailure()) {
        return;
      }
    }
  }
}

// Skipping unchanged slaves is an optimisation only: the same operations
// give the same offers with it off.
TEST_F(AllocatorTest, SkippingUnchangedSlavesChangesNoOffer) {
  for (uint32_t seed : {5u, 11u, 4242u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Options o;
    o.seed = seed;
    make(o);
    Options plain = o;
    plain.skip_unchanged_slaves = false;
    std::unique_ptr<Allocator> shadow = std::move(Allocator::create(plain).get());
    random_operations(seed, shadow.get());
    if (HasFatalFailure()) {
      return;
    }
    EXPECT_GT(a->stats().slaves_skipped, 0u);
    EXPECT_EQ(0u, shadow->stats().slaves_skipped);
  }
}

}  // namespace
}  // namespace stoa::allocator::test
