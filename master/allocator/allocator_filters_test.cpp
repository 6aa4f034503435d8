// Allocator: refusal filters, suppress and revive.

#include "master/allocator/allocator_test_fixture.hpp"

namespace stoa::allocator::test {
namespace {

// --- Filters -----------------------------------------------------------------

TEST_F(AllocatorTest, DeclineFilterLastsUntilExpiry) {
  add_framework("f");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  const TimePoint declined_at = now;
  decline(offers, 10.0);
  EXPECT_EQ(1u, a->filters("f"));
  while (now + seconds(1) < declined_at + seconds(10)) {
    EXPECT_TRUE(cycle().empty()) << "offered at +" << (now - declined_at).count();
  }
  std::vector<Allocation> again = cycle();  // now == declined_at + 10 s.
  ASSERT_EQ(1u, again.size());
  EXPECT_EQ(R("cpus:2;mem:1024"), again[0].resources);
  EXPECT_EQ(0u, a->filters("f"));
  EXPECT_EQ(0u, a->stats().filters);
}

TEST_F(AllocatorTest, ShortFilterLastsAtLeastOneCycle) {
  // refuse_seconds (0.1 s) shorter than the allocation interval (1 s).
  add_framework("f");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  decline(cycle(), 0.1);
  // An event-triggered pass right away and one after 0.5 s: still filtered.
  EXPECT_TRUE(cycle(milliseconds(0)).empty());
  EXPECT_TRUE(cycle(milliseconds(500)).empty());
  EXPECT_EQ(1u, cycle(milliseconds(500)).size());
}

TEST_F(AllocatorTest, TinyFilterWithZeroIntervalStillSkipsTheNextPass) {
  Options o;
  o.allocation_interval = std::chrono::nanoseconds(0);
  make(o);
  add_framework("f");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  decline(cycle(), 0.001);
  EXPECT_TRUE(cycle(seconds(5)).empty());  // Expired by time, pinned by cycle.
  EXPECT_EQ(1u, cycle(seconds(0)).size());
}

TEST_F(AllocatorTest, FilterRefuseSecondsEdgeCases) {
  add_framework("f");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  // 0: no filter at all.
  decline(cycle(), 0.0);
  EXPECT_EQ(0u, a->filters("f"));
  // Negative / NaN: the default (5 s).
  decline(cycle(), -1.0);
  EXPECT_TRUE(cycle(seconds(4)).empty());
  std::vector<Allocation> offers = cycle(seconds(1));
  ASSERT_EQ(1u, offers.size());
  decline(offers, std::nan(""));
  EXPECT_TRUE(cycle(seconds(4)).empty());
  offers = cycle(seconds(1));
  ASSERT_EQ(1u, offers.size());
  // Huge values are clamped, and revive clears them.
  decline(offers, 1e300);
  EXPECT_TRUE(cycle(std::chrono::hours(24 * 364)).empty());
  a->revive("f", {});
  EXPECT_EQ(1u, cycle().size());
}

TEST_F(AllocatorTest, FilterCoversOnlyTheRefusedResources) {
  add_framework("a");
  add_framework("b");
  a->add_slave("s1", R("cpus:4;mem:400"), {{"b", R("cpus:2;mem:200")}});
  a->deactivate_framework("b");
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ("a", offers[0].framework_id);
  decline(offers, 1000.0);
  EXPECT_TRUE(cycle().empty());
  // b's task ends: the slave now has more than a refused, so a sees it.
  a->recover_resources("b", "s1", R("cpus:2;mem:200"), std::nullopt, now);
  offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ("a", offers[0].framework_id);
  EXPECT_EQ(R("cpus:4;mem:400"), offers[0].resources);
}

TEST_F(AllocatorTest, FilteredResourcesGoToTheNextFramework) {
  add_framework("f1");
  add_framework("f2");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  std::string first = offers[0].framework_id;
  decline(offers, 1000.0);
  offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_NE(first, offers[0].framework_id);
  decline(offers, 1000.0);
  EXPECT_TRUE(cycle().empty());
  EXPECT_GE(a->stats().offers_filtered, 2u);
}

// --- Suppress / revive -------------------------------------------------------

TEST_F(AllocatorTest, SuppressStopsOffersAndReviveRestoresThem) {
  add_framework("f1");
  add_framework("f2");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  a->add_slave("s2", R("cpus:2;mem:1024"), {});
  a->suppress("f1", {});
  for (int i = 0; i < 3; ++i) {
    std::vector<Allocation> offers = cycle();
    ASSERT_EQ(2u, offers.size());
    EXPECT_EQ(2, count_by_framework(offers)["f2"]);
    decline(offers, 1000.0);
    offers = cycle();
    EXPECT_TRUE(offers.empty());  // f2 filtered, f1 suppressed.
    a->revive("f2", {});
  }
  a->revive("f1", {});
  std::vector<Allocation> offers = cycle();
  EXPECT_EQ(2u, offers.size());
  EXPECT_GE(count_by_framework(offers)["f1"], 1);
}

TEST_F(AllocatorTest, SuppressOneRoleOfAMultiRoleFramework) {
  add_framework("f", {"a", "b"});
  a->add_slave("s1", R("cpus(a):1;mem(a):100;cpus(b):1;mem(b):100"), {});
  a->suppress("f", {"a"});
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ("b", offers[0].role);
  EXPECT_EQ(R("cpus(b):1;mem(b):100"), offers[0].resources);
  a->revive("f", {"a"});
  offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ("a", offers[0].role);
}

TEST_F(AllocatorTest, ReviveClearsFilters) {
  add_framework("f");
  a->add_slave("s1", R("cpus:2;mem:1024"), {});
  decline(cycle(), 1000.0);
  EXPECT_TRUE(cycle().empty());
  a->revive("f", {});
  EXPECT_EQ(0u, a->filters("f"));
  EXPECT_EQ(1u, cycle(seconds(0)).size());
}

}  // namespace
}  // namespace stoa::allocator::test
