#include "master/allocator/quota_headroom.hpp"
#include "master/allocator/test_resources.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace stoa::allocator {
namespace {


int64_t units(double value) { return Resources::scalar_resource("x", value).scalar_units("x"); }

TEST(QuotaHeadroomTest, ConsumedIsReservationsPlusUnreservedAllocation) {
  // The role's reservations count whether allocated or not; the reserved
  // part of its allocation is not counted twice.
  EXPECT_EQ(R("cpus:3;mem:10"), quota_consumed(R("cpus(db):2"), R("cpus:1;cpus(db):1;mem:10")));
  EXPECT_EQ(R("cpus:2;mem:64"),
            quota_consumed(R("cpus(db):2;mem(db):64;ports(db):[1-2]"), Resources()));
  EXPECT_EQ(R("disk:5"), quota_consumed(Resources(), R("disk:5;ports:[1-3]")));
}

TEST(QuotaHeadroomTest, ValidateRejectsEachBadGuaranteeNamingIt) {
  Quotas quotas;
  const Resources total = R("cpus:4;mem:1024");
  EXPECT_FALSE(quotas.validate("web", R("cpus:4"), total));
  quotas.set("web", R("cpus:2"));
  EXPECT_NE(std::string::npos, quotas.validate("*", R("cpus:1"), total)->message.find("'*'"));
  EXPECT_TRUE(quotas.validate("db", Resources(), total).has_value());
  EXPECT_NE(std::string::npos,
            quotas.validate("db", R("ports:[1-2]"), total)->message.find("ports"));
  EXPECT_NE(std::string::npos,
            quotas.validate("db", R("cpus(db):1"), total)->message.find("cpus(db)"));
  // Together with web's 2 cpus, 2.5 more is above the cluster's 4.
  std::optional<Error> above = quotas.validate("db", R("cpus:2.5"), total);
  ASSERT_TRUE(above.has_value());
  EXPECT_NE(std::string::npos, above->message.find("cpus"));
  EXPECT_FALSE(quotas.validate("db", R("cpus:2"), total));
  EXPECT_TRUE(quotas.validate("db", R("gpus:1"), total).has_value());
  // Replacing web's own guarantee does not count the old one.
  EXPECT_FALSE(quotas.validate("web", R("cpus:4"), total));
  EXPECT_TRUE(quotas.contains("web"));
  EXPECT_TRUE(quotas.remove("web"));
  EXPECT_FALSE(quotas.remove("web"));
  EXPECT_TRUE(quotas.empty());
}

TEST(QuotaHeadroomTest, HeadroomWithSeveralRoles) {
  QuotaHeadroom headroom(R("cpus:10;mem:1000"));
  headroom.require("db", R("cpus:4"), R("cpus:1"));           // Unmet cpus:3.
  headroom.require("web", R("cpus:2;mem:100"), Resources());  // Unmet cpus:2;mem:100.
  headroom.require("met", R("cpus:1"), R("cpus:1;mem:50"));   // Met: nothing required.
  EXPECT_EQ(2u, headroom.unmet().size());
  EXPECT_EQ(0u, headroom.unmet().count("met"));
  EXPECT_TRUE(headroom.limited());
  EXPECT_EQ(R("cpus:5;mem:100"), headroom.required());
  EXPECT_EQ(units(5), headroom.surplus("cpus"));
  EXPECT_EQ(units(900), headroom.surplus("mem"));
  EXPECT_EQ(std::numeric_limits<int64_t>::max(), headroom.surplus("disk"));
  EXPECT_EQ(R("cpus:5;mem:50;disk:7"), headroom.limit(R("cpus:8;mem:50;disk:7")));

  // A slave with cpus:4 free: db's part is its unmet 3; web's is 2.
  EXPECT_EQ(R("cpus:3"), headroom.guaranteed_part("db", R("cpus:4;mem:10")));
  EXPECT_EQ(R("cpus:2;mem:10"), headroom.guaranteed_part("web", R("cpus:4;mem:10")));
  EXPECT_TRUE(headroom.guaranteed_part("other", R("cpus:4")).empty());

  // db is offered its 3 plus 1 of surplus.
  headroom.take_guaranteed("db", R("cpus:3"), R("cpus:1"));
  EXPECT_TRUE(headroom.unmet().at("db").empty());
  EXPECT_EQ(R("cpus:2;mem:100"), headroom.required());
  EXPECT_EQ(R("cpus:6;mem:1000"), headroom.available());
  EXPECT_EQ(units(4), headroom.surplus("cpus"));
  // A fair-stage offer of 4 unreserved cpus leaves no cpus surplus.
  headroom.take(R("cpus:4"));
  EXPECT_EQ(0, headroom.surplus("cpus"));
  EXPECT_EQ(0, headroom.limit(R("cpus:1;mem:5")).scalar_units("cpus"));
  EXPECT_EQ(units(5), headroom.limit(R("cpus:1;mem:5")).scalar_units("mem"));
  // web's guarantee is met by its own offer: nothing is held back any more.
  headroom.take_guaranteed("web", R("cpus:2;mem:100"), Resources());
  EXPECT_FALSE(headroom.limited());
  EXPECT_EQ(R("cpus:1"), headroom.limit(R("cpus:1")));
}

TEST(QuotaHeadroomTest, SurplusIsNeverNegative) {
  QuotaHeadroom headroom(R("cpus:1"));
  headroom.require("db", R("cpus:3"), Resources());
  EXPECT_EQ(0, headroom.surplus("cpus"));
  EXPECT_EQ(0, headroom.limit(R("cpus:1")).scalar_units("cpus"));
}

TEST(QuotaHeadroomTest, NoGuaranteesLimitNothing) {
  QuotaHeadroom headroom(R("cpus:1"));
  EXPECT_FALSE(headroom.limited());
  EXPECT_TRUE(headroom.unmet().empty());
  EXPECT_EQ(R("cpus:100;ports:[1-5]"), headroom.limit(R("cpus:100;ports:[1-5]")));
}

TEST(QuotaHeadroomTest, ShrinkToLimitsPerNameAndDropsOthers) {
  EXPECT_EQ(R("cpus:2;mem:5"), shrink_to(R("cpus:4;mem:5;disk:9"), R("cpus:2;mem:10")));
  EXPECT_EQ(0, shrink_to(R("disk:9"), R("cpus:1")).scalar_units("disk"));
}

}  // namespace
}  // namespace stoa::allocator
