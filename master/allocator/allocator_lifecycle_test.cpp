// Allocator: recovering resources, slaves and frameworks coming and going,
// and which offers are eligible at all.

#include "master/allocator/allocator_test_fixture.hpp"

namespace stoa::allocator::test {
namespace {

// --- Recovery ----------------------------------------------------------------

TEST_F(AllocatorTest, RescindedOfferIsOfferedAgain) {
  // Offer timeout: the master rescinds and recovers without a filter.
  add_framework("f");
  a->add_slave("s1", R("cpus:2;mem:1024;ports:[31000-32000]"), {});
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_TRUE(cycle().empty());  // Outstanding: counts as allocated.
  decline(offers, std::nullopt);
  EXPECT_EQ(0u, a->filters("f"));
  std::vector<Allocation> again = cycle();
  ASSERT_EQ(1u, again.size());
  EXPECT_EQ(offers[0].resources, again[0].resources);
}

TEST_F(AllocatorTest, UnusedResourcesAfterPartialLaunchAreReoffered) {
  add_framework("f");
  a->add_slave("s1", R("cpus:4;mem:1024;ports:[31000-31009]"), {});
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  // Launch a task using cpus:1;mem:256;ports:[31005-31005]; return the rest.
  Resources task = R("cpus:1;mem:256;ports:[31005-31005]");
  a->recover_resources("f", "s1", offers[0].resources - task, std::nullopt, now);
  std::vector<Allocation> again = cycle();
  ASSERT_EQ(1u, again.size());
  EXPECT_EQ(R("cpus:3;mem:768;ports:[31000-31004, 31006-31009]"), again[0].resources);
  EXPECT_EQ(R("cpus:4;mem:1024;ports:[31000-31009]"), held_by("f"));
  // The task ends: its resources come back too.
  a->recover_resources("f", "s1", task, std::nullopt, now);
  EXPECT_EQ(task, *a->available("s1"));
}

TEST_F(AllocatorTest, RecoveringMoreThanHeldKeepsTheInvariant) {
  add_framework("f");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  std::vector<Allocation> offers = cycle();
  a->recover_resources("f", "s1", R("cpus:100;mem:1024;gpus:3"), std::nullopt, now);
  EXPECT_EQ(R("cpus:2;mem:1024"), *a->available("s1"));
  a->recover_resources("nobody", "s1", R("cpus:1"), 5.0, now);
  a->recover_resources("f", "unknown-slave", R("cpus:1"), 5.0, now);
  EXPECT_EQ(0u, a->stats().filters);
}

TEST_F(AllocatorTest, RemovedSlaveIsNeverOfferedAgain) {
  add_framework("f1");
  add_framework("f2");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  a->add_slave("s2", R("cpus:2;mem:1024"), {});
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(2u, offers.size());
  decline(offers, 1000.0);
  a->remove_slave("s1");
  a->recover_resources("f1", "s1", R("cpus:2;mem:1024"), std::nullopt, now);  // Late: no-op.
  for (int i = 0; i < 10; ++i) {
    a->revive("f1", {});
    a->revive("f2", {});
    offers = cycle();
    for (const Allocation& o : offers) {
      EXPECT_NE("s1", o.slave_id);
    }
    EXPECT_EQ(1u, offers.size());
    decline(offers, std::nullopt);
  }
  EXPECT_EQ(R("cpus:2;mem:1024"), a->stats().total);
  EXPECT_FALSE(a->available("s1").has_value());
}

TEST_F(AllocatorTest, RemovedFrameworkReturnsEverything) {
  add_framework("f1");
  add_framework("f2");
  a->add_slave("s1", R("cpus:2;mem:1024"), {{"f1", R("cpus:1;mem:512")}});
  a->deactivate_framework("f2");
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  a->remove_framework("f1");
  EXPECT_FALSE(a->has_framework("f1"));
  EXPECT_EQ(R("cpus:2;mem:1024"), *a->available("s1"));
  a->activate_framework("f2");
  offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ("f2", offers[0].framework_id);
  EXPECT_EQ(R("cpus:2;mem:1024"), offers[0].resources);
}

TEST_F(AllocatorTest, SlaveUsedByFrameworkAddedLater) {
  // Master failover: slaves re-register before frameworks do.
  a->add_slave("s1", R("cpus:4;mem:1024"), {{"late", R("cpus:3;mem:512")}});
  add_framework("other");
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ(R("cpus:1;mem:512"), offers[0].resources);
  ASSERT_FALSE(a->add_framework("late", {"*"}, {}, true).has_value());
  EXPECT_EQ(R("cpus:3;mem:512"), held_by("late"));
  std::vector<RoleInfo> roles = a->roles();
  ASSERT_EQ(1u, roles.size());
  EXPECT_DOUBLE_EQ(4.0, roles[0].allocated.scalar("cpus"));
  a->remove_framework("late");
  EXPECT_EQ(R("cpus:3;mem:512"), *a->available("s1"));
}

TEST_F(AllocatorTest, FrameworkUsedOnKnownSlave) {
  a->add_slave("s1", R("cpus:4;mem:1024"), {});
  ASSERT_FALSE(a->add_framework("f", {"*"}, {{"s1", R("cpus:1;mem:100")}, {"gone", R("cpus:1")}}, true)
                   .has_value());
  EXPECT_EQ(R("cpus:3;mem:924"), *a->available("s1"));
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ(R("cpus:3;mem:924"), offers[0].resources);
}

// --- Eligibility -------------------------------------------------------------

TEST_F(AllocatorTest, MinAllocatableResources) {
  add_framework("f");
  a->add_slave("tiny", R("cpus:0.005;mem:16;ports:[1-100]"), {});
  a->add_slave("cpu_only", R("cpus:0.01"), {});
  a->add_slave("mem_only", R("mem:32"), {});
  std::vector<Allocation> offers = cycle();
  std::set<std::string> slaves;
  for (const Allocation& o : offers) {
    slaves.insert(o.slave_id);
  }
  EXPECT_EQ((std::set<std::string>{"cpu_only", "mem_only"}), slaves);

  Options o;
  o.min_allocatable = {};
  make(o);
  add_framework("f");
  a->add_slave("tiny", R("cpus:0.005;mem:16;ports:[1-100]"), {});
  EXPECT_EQ(1u, cycle().size());

  o.min_allocatable = {R("cpus:1;mem:512")};
  make(o);
  add_framework("f");
  a->add_slave("small", R("cpus:1;mem:256"), {});
  a->add_slave("big", R("cpus:1;mem:512"), {});
  offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ("big", offers[0].slave_id);
}

TEST_F(AllocatorTest, InactiveSlavesAndFrameworksGetNothing) {
  add_framework("f");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  a->deactivate_slave("s1");
  EXPECT_TRUE(cycle().empty());
  a->activate_slave("s1");
  a->deactivate_framework("f");
  EXPECT_TRUE(cycle().empty());
  a->activate_framework("f");
  EXPECT_EQ(1u, cycle().size());
  Stats stats = a->stats();
  EXPECT_EQ(1u, stats.slaves);
  EXPECT_EQ(1u, stats.active_frameworks);
  EXPECT_EQ(R("cpus:2;mem:1024"), stats.allocated);
}

// counters() (gauged after every pass, issue #17) is stats() without the
// walk over the slaves: the same counters, nothing summed.
TEST_F(AllocatorTest, CountersAreTheCountersOfStats) {
  add_framework("f");
  add_framework("g");
  for (int i = 0; i < 4; ++i) {
    a->add_slave("s" + std::to_string(i), R("cpus:2;mem:1024"), {});
  }
  std::vector<Allocation> offers = cycle();
  ASSERT_FALSE(offers.empty());
  a->recover_resources(offers[0].framework_id, offers[0].slave_id, offers[0].resources, 60.0, now);  // a filter
  cycle();
  Stats full = a->stats();
  Stats counted = a->counters();
  EXPECT_EQ(full.slaves, counted.slaves);
  EXPECT_EQ(full.frameworks, counted.frameworks);
  EXPECT_EQ(full.filters, counted.filters);
  EXPECT_EQ(full.allocation_runs, counted.allocation_runs);
  EXPECT_EQ(full.offers_made, counted.offers_made);
  EXPECT_EQ(full.offers_filtered, counted.offers_filtered);
  EXPECT_EQ(full.slaves_skipped, counted.slaves_skipped);
  EXPECT_EQ(2u, counted.allocation_runs);
  EXPECT_GE(counted.filters, 1u);
  EXPECT_TRUE(counted.total.empty());
}

TEST_F(AllocatorTest, RandomPolicyOffersEverythingExactlyOnce) {
  Options o;
  o.policy = "random";
  make(o);
  for (int k = 0; k < 5; ++k) {
    add_framework("f" + std::to_string(k), {"r" + std::to_string(k % 2)});
  }
  for (int i = 0; i < 50; ++i) {
    a->add_slave("s" + std::to_string(i), R("cpus:1;mem:128"), {});
  }
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(50u, offers.size());
  std::set<std::string> slaves;
  for (const Allocation& offer : offers) {
    slaves.insert(offer.slave_id);
  }
  EXPECT_EQ(50u, slaves.size());
  EXPECT_TRUE(cycle().empty());
}

}  // namespace
}  // namespace stoa::allocator::test
