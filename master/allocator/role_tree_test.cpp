#include "master/allocator/role_tree.hpp"
#include "master/allocator/test_resources.hpp"

#include <gtest/gtest.h>

namespace stoa::allocator {
namespace {


class RoleTreeTest : public ::testing::Test {
 protected:
  RoleTreeTest() : rng(42), tree("drf", std::move(make_sorter("drf").get()), rng) {}

  void TearDown() override {
    std::optional<Error> error = tree.check();
    EXPECT_FALSE(error.has_value()) << error->message;
  }

  std::mt19937_64 rng;
  RoleTree tree;
};

TEST_F(RoleTreeTest, NewRoleIsInactiveAndGetsItsWeight) {
  tree.set_weight("web", 2.0);
  tree.add_total(R("cpus:10"));
  RoleTree::Role& web = tree.ensure("web");
  EXPECT_EQ("web", web.name);
  EXPECT_EQ(&web, &tree.ensure("web"));  // Once.
  EXPECT_TRUE(tree.sorter().contains("web"));
  EXPECT_FALSE(tree.sorter().is_active("web"));
  EXPECT_EQ(2.0, tree.weight("web"));
  EXPECT_EQ(1.0, tree.weight("db"));  // Never set.
  tree.add_framework("web", "f1");
  tree.allocated(web, "f1", R("cpus:4"));
  tree.sync_totals();
  EXPECT_DOUBLE_EQ(0.2, tree.share("web"));  // 4/10 divided by weight 2.
  tree.set_weight("web", 4.0);               // Applies to the existing role.
  EXPECT_DOUBLE_EQ(0.1, tree.share("web"));
}

TEST_F(RoleTreeTest, RoleIsActiveWhileAnyOfItsFrameworksIs) {
  tree.add_framework("web", "a");
  tree.add_framework("web", "b");
  RoleTree::Role& web = tree.at("web");
  EXPECT_EQ(2u, web.framework_ids.size());
  EXPECT_FALSE(tree.sorter().is_active("web"));
  tree.set_active("web", "a", true);
  tree.set_active("web", "a", true);  // Idempotent.
  EXPECT_EQ(1u, web.active_frameworks);
  EXPECT_TRUE(tree.sorter().is_active("web"));
  tree.set_active("web", "b", true);
  tree.set_active("web", "a", false);
  EXPECT_TRUE(tree.sorter().is_active("web"));
  EXPECT_EQ((std::vector<std::string>{"b"}), web.frameworks->sort());
  tree.remove_framework("web", "b");  // Removing the last active one.
  EXPECT_EQ(0u, web.active_frameworks);
  EXPECT_FALSE(tree.sorter().is_active("web"));
  EXPECT_EQ(1u, web.framework_ids.size());
  tree.set_active("db", "x", true);  // Unknown role: no-op.
  EXPECT_EQ(nullptr, tree.find("db"));
}

TEST_F(RoleTreeTest, AccountingFeedsTheRoleAndBothSorters) {
  tree.add_total(R("cpus:10;mem:100"));
  tree.add_framework("web", "f");
  RoleTree::Role& web = tree.at("web");
  tree.allocated(web, "f", R("cpus(web):2;cpus:1;mem:10"));
  EXPECT_EQ(R("cpus(web):2;cpus:1;mem:10"), web.allocated);  // Roles as on the slaves.
  EXPECT_EQ(R("cpus:3;mem:10"), web.frameworks->allocation("f"));
  EXPECT_EQ(R("cpus:3;mem:10"), tree.sorter().allocation("web"));
  tree.unallocated("web", "f", R("cpus(web):2"));
  EXPECT_EQ(R("cpus:1;mem:10"), web.allocated);
  EXPECT_EQ(R("cpus:1;mem:10"), tree.sorter().allocation("web"));
  tree.unallocated("nobody", "f", R("cpus:1"));  // Unknown role: no-op.
  EXPECT_EQ(R("cpus:1;mem:10"), web.frameworks->allocation("f"));
}

TEST_F(RoleTreeTest, RoleStaysWhileAFrameworkAllocationReservationOrPinKeepsIt) {
  tree.add_framework("web", "f");
  tree.maybe_remove("web", false);
  ASSERT_NE(nullptr, tree.find("web"));  // A framework.
  tree.allocated(tree.at("web"), "f", R("cpus:1"));
  tree.remove_framework("web", "f");
  tree.maybe_remove("web", false);
  ASSERT_NE(nullptr, tree.find("web"));  // An allocation.
  tree.unallocated("web", "f", R("cpus:1"));
  tree.add_reserved("web", R("cpus(web):2"));
  tree.maybe_remove("web", false);
  ASSERT_NE(nullptr, tree.find("web"));  // A reservation.
  tree.remove_reserved("web", R("cpus(web):2"));
  tree.maybe_remove("web", true);
  ASSERT_NE(nullptr, tree.find("web"));  // Pinned by the caller (quota).
  tree.maybe_remove("web", false);
  EXPECT_EQ(nullptr, tree.find("web"));
  EXPECT_FALSE(tree.sorter().contains("web"));
  EXPECT_TRUE(tree.all().empty());
  tree.maybe_remove("web", false);  // Unknown: no-op.
}

TEST_F(RoleTreeTest, TotalsReachTheSortersAtSyncExceptForNewRoles) {
  tree.add_total(R("cpus:10"));
  tree.add_framework("web", "f");
  tree.allocated(tree.at("web"), "f", R("cpus:5"));
  tree.sync_totals();
  EXPECT_DOUBLE_EQ(0.5, tree.share("web"));
  tree.add_total(R("cpus:10"));
  EXPECT_EQ(R("cpus:20"), tree.total());
  EXPECT_DOUBLE_EQ(0.5, tree.share("web"));  // Not pushed yet.
  tree.sync_totals();
  EXPECT_DOUBLE_EQ(0.25, tree.share("web"));
  EXPECT_DOUBLE_EQ(0.25, tree.at("web").frameworks->share("f"));
  // A role created now starts from the current total without a sync.
  tree.add_framework("db", "g");
  tree.allocated(tree.at("db"), "g", R("cpus:2"));
  EXPECT_DOUBLE_EQ(0.1, tree.at("db").frameworks->share("g"));
  tree.remove_total(R("cpus:10"));
  tree.sync_totals();
  EXPECT_DOUBLE_EQ(0.2, tree.at("db").frameworks->share("g"));
}

TEST_F(RoleTreeTest, FrameworkSortersAreSeededFromTheSharedGenerator) {
  std::mt19937_64 other(42);
  uint64_t first = other();
  tree.ensure("web");
  // ensure() drew one number for the new role's framework sorter.
  EXPECT_EQ(other(), rng());
  EXPECT_NE(0u, first);
}

TEST_F(RoleTreeTest, CheckFindsACorruptedActiveCount) {
  tree.add_framework("web", "f");
  tree.set_active("web", "f", true);
  ASSERT_FALSE(tree.check());
  tree.at("web").active_frameworks = 2;
  std::optional<Error> error = tree.check();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(std::string::npos, error->message.find("web"));
  tree.at("web").active_frameworks = 1;
  tree.at("web").allocated = R("cpus:1");  // Not in the sorters.
  EXPECT_TRUE(tree.check().has_value());
  tree.at("web").allocated = Resources();
}

}  // namespace
}  // namespace stoa::allocator
