#include "master/allocator/offer_filters.hpp"
#include "master/allocator/test_resources.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace stoa::allocator {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;


const TimePoint T0 = TimePoint{} + std::chrono::hours(1);

std::optional<Clock::duration> duration(std::optional<double> refuse, double fallback = 5.0,
                                        nanoseconds interval = seconds(1)) {
  return OfferFilters::duration(refuse, fallback, interval);
}

TEST(OfferFiltersTest, DurationFollowsMesosRefuseSecondsRules) {
  EXPECT_EQ(std::nullopt, duration(std::nullopt));  // Rescind, task end.
  EXPECT_EQ(std::nullopt, duration(0.0));
  EXPECT_EQ(Clock::duration(seconds(10)), duration(10.0));
  EXPECT_EQ(Clock::duration(seconds(5)), duration(-1.0));          // The default.
  EXPECT_EQ(Clock::duration(seconds(5)), duration(std::nan("")));  // The default.
  EXPECT_EQ(std::nullopt, duration(-1.0, 0.0));                    // A default of 0: none.
  // At least one allocation interval (MESOS-4302), clamped to 365 days.
  EXPECT_EQ(Clock::duration(seconds(1)), duration(0.001));
  EXPECT_EQ(Clock::duration(milliseconds(1500)), duration(0.001, 5.0, milliseconds(1500)));
  auto year = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(MAX_REFUSE_SECONDS));
  EXPECT_EQ(year, duration(1e12));
  EXPECT_EQ(year, duration(std::numeric_limits<double>::infinity()));
}

TEST(OfferFiltersTest, FilterExpiresExactlyAtItsDeadlineButNotBeforeTheNextCycle) {
  OfferFilters filters;
  OfferFilters::Owner owner;
  OfferFilters::Slot slot = filters.add_slot();
  const Resources refused = R("cpus:2;mem:100");
  filters.add(slot, owner, refused, T0 + seconds(5), /*through_cycle=*/1);
  EXPECT_EQ(1u, owner.count());

  // One nanosecond before the deadline: active.
  EXPECT_TRUE(filters.filtered(slot, owner, refused, T0 + seconds(5) - nanoseconds(1), 2));
  // At the deadline, but still in the cycle it must last through: active.
  EXPECT_TRUE(filters.filtered(slot, owner, refused, T0 + seconds(5), 1));
  EXPECT_EQ(1u, filters.count());
  // At the deadline in a later cycle: expired, and dropped on the way.
  EXPECT_FALSE(filters.filtered(slot, owner, refused, T0 + seconds(5), 2));
  EXPECT_EQ(0u, owner.count());
  EXPECT_EQ(0u, filters.count());
  EXPECT_FALSE(filters.check({{&owner, "owner"}}));
}

TEST(OfferFiltersTest, FilterCoversOnlySubsetsOfTheRefusedResources) {
  OfferFilters filters;
  OfferFilters::Owner owner;
  OfferFilters::Slot slot = filters.add_slot();
  filters.add(slot, owner, R("cpus:2;mem:100;ports:[31000-31010]"), T0 + seconds(5), 1);
  EXPECT_TRUE(filters.filtered(slot, owner, R("cpus:2;mem:100"), T0, 2));
  EXPECT_TRUE(filters.filtered(slot, owner, R("cpus:1;ports:[31005-31006]"), T0, 2));
  EXPECT_FALSE(filters.filtered(slot, owner, R("cpus:3"), T0, 2));          // More than refused.
  EXPECT_FALSE(filters.filtered(slot, owner, R("cpus:1;disk:10"), T0, 2));  // Something else.
  EXPECT_FALSE(filters.filtered(slot, owner, R("ports:[32000-32000]"), T0, 2));
}

TEST(OfferFiltersTest, FiltersApplyToTheirOwnerOnTheirSlotOnly) {
  OfferFilters filters;
  OfferFilters::Owner a;
  OfferFilters::Owner b;
  OfferFilters::Slot s1 = filters.add_slot();
  OfferFilters::Slot s2 = filters.add_slot();
  filters.add(s1, a, R("cpus:1"), T0 + seconds(5), 1);
  filters.add(s2, b, R("cpus:1"), T0 + seconds(5), 1);
  EXPECT_TRUE(filters.filtered(s1, a, R("cpus:1"), T0, 2));
  EXPECT_FALSE(filters.filtered(s2, a, R("cpus:1"), T0, 2));
  EXPECT_FALSE(filters.filtered(s1, b, R("cpus:1"), T0, 2));
  EXPECT_TRUE(filters.filtered(s2, b, R("cpus:1"), T0, 2));
  // Two filters of one owner on one slot: either may match.
  filters.add(s1, a, R("mem:64"), T0 + seconds(1), 1);
  EXPECT_TRUE(filters.filtered(s1, a, R("mem:10"), T0, 2));
  EXPECT_EQ(2u, a.count());
  EXPECT_EQ(2u, filters.count(s1));
  EXPECT_FALSE(filters.check({{&a, "a"}, {&b, "b"}}));
}

TEST(OfferFiltersTest, RemovingAnOwnerDropsAllItsFiltersAndNoOthers) {
  OfferFilters filters;
  OfferFilters::Owner gone;
  OfferFilters::Owner kept;
  std::vector<OfferFilters::Slot> slots;
  for (int i = 0; i < 3; ++i) {
    slots.push_back(filters.add_slot());
    filters.add(slots.back(), gone, R("cpus:1"), T0 + seconds(5), 1);
    filters.add(slots.back(), kept, R("cpus:1"), T0 + seconds(5), 1);
  }
  filters.remove_owner(gone);
  EXPECT_EQ(0u, gone.count());
  EXPECT_EQ(3u, kept.count());
  EXPECT_EQ(3u, filters.count());
  for (OfferFilters::Slot slot : slots) {
    EXPECT_FALSE(filters.filtered(slot, gone, R("cpus:1"), T0, 2));
    EXPECT_TRUE(filters.filtered(slot, kept, R("cpus:1"), T0, 2));
  }
  EXPECT_FALSE(filters.check({{&gone, "gone"}, {&kept, "kept"}}));
}

TEST(OfferFiltersTest, RemovingASlotDropsItsFiltersAndRecyclesIt) {
  OfferFilters filters;
  OfferFilters::Owner owner;
  OfferFilters::Slot s1 = filters.add_slot();
  OfferFilters::Slot s2 = filters.add_slot();
  filters.add(s1, owner, R("cpus:1"), T0 + seconds(5), 1);
  filters.add(s1, owner, R("mem:1"), T0 + seconds(5), 1);
  filters.add(s2, owner, R("cpus:1"), T0 + seconds(5), 1);
  filters.remove_slot(s1);
  EXPECT_EQ(1u, owner.count());
  EXPECT_EQ(1u, filters.count());
  OfferFilters::Slot again = filters.add_slot();
  EXPECT_EQ(s1, again);  // Recycled, and empty.
  EXPECT_EQ(0u, filters.count(again));
  EXPECT_FALSE(filters.filtered(again, owner, R("cpus:1"), T0, 2));
  EXPECT_FALSE(filters.check({{&owner, "owner"}}));
}

TEST(OfferFiltersTest, SweepDropsExpiredFiltersOnlyOnceTheEarliestDeadlinePassed) {
  OfferFilters filters;
  OfferFilters::Owner owner;
  OfferFilters::Slot slot = filters.add_slot();
  filters.add(slot, owner, R("cpus:1"), T0 + seconds(2), 1);
  filters.add(slot, owner, R("mem:1"), T0 + seconds(4), 1);
  filters.add(slot, owner, R("disk:1"), T0 + seconds(2), 7);  // Lasts through cycle 7.

  EXPECT_EQ(0u, filters.sweep(T0 + seconds(2) - nanoseconds(1), 5));
  EXPECT_EQ(3u, filters.count());
  // The first is expired, the third is held by its cycle, the second by time.
  EXPECT_EQ(1u, filters.sweep(T0 + seconds(2), 5));
  EXPECT_EQ(2u, owner.count());
  // The cycle-held filter is retried at the next sweep, and goes in cycle 8.
  EXPECT_EQ(0u, filters.sweep(T0 + seconds(3), 7));
  EXPECT_EQ(1u, filters.sweep(T0 + seconds(3), 8));
  EXPECT_EQ(1u, filters.sweep(T0 + seconds(4), 9));
  EXPECT_EQ(0u, filters.count());
  EXPECT_EQ(0u, owner.count());
  EXPECT_FALSE(filters.check({{&owner, "owner"}}));
}

TEST(OfferFiltersTest, CheckReportsFiltersOfOwnersItWasNotGiven) {
  OfferFilters filters;
  OfferFilters::Owner known;
  OfferFilters::Owner stray;
  OfferFilters::Slot slot = filters.add_slot();
  filters.add(slot, known, R("cpus:1"), T0 + seconds(5), 1);
  filters.add(slot, stray, R("cpus:1"), T0 + seconds(5), 1);
  std::optional<Error> error = filters.check({{&known, "known"}});
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(std::string::npos, error->message.find("unknown framework"));
  EXPECT_FALSE(filters.check({{&known, "known"}, {&stray, "stray"}}));
}

}  // namespace
}  // namespace stoa::allocator
