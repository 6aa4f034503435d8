// Allocator: creation and bad input (errors name the value, nothing changes).

#include "master/allocator/allocator_test_fixture.hpp"

#include <cmath>
#include <limits>

namespace stoa::allocator::test {
namespace {

// --- Creation and bad input --------------------------------------------------

TEST_F(AllocatorTest, CreateRejectsUnknownPolicyAndBadWeights) {
  Options unknown;
  unknown.policy = "lottery";
  Try<std::unique_ptr<Allocator>> bad = Allocator::create(unknown);
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("lottery"), std::string::npos);

  for (double w : {-1.0, 0.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    Options o;
    o.weights["web"] = w;
    EXPECT_TRUE(Allocator::create(o).is_error()) << w;
  }
  Options random;
  random.policy = "random";
  random.weights["web"] = 2;
  EXPECT_TRUE(Allocator::create(random).is_some());
}

TEST_F(AllocatorTest, UnknownRoleIsRejectedWithNoChange) {
  Options o;
  o.roles = std::set<std::string>{"web", "db"};
  make(o);
  std::optional<Error> error = a->add_framework("f1", {"web", "batch"}, {}, true);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("batch"), std::string::npos);
  EXPECT_FALSE(a->has_framework("f1"));
  EXPECT_TRUE(a->roles().empty());
  // "*" is always allowed; whitelisted roles work.
  EXPECT_FALSE(a->add_framework("f2", {"web", "*"}, {}, true).has_value());
  EXPECT_TRUE(a->update_weights({{"batch", 2.0}}).has_value());
  EXPECT_TRUE(a->set_quota("batch", R("cpus:1")).has_value());
  EXPECT_TRUE(a->quotas().empty());
}

TEST_F(AllocatorTest, BadFrameworksAreRejected) {
  EXPECT_TRUE(a->add_framework("", {"*"}, {}, true).has_value());
  EXPECT_TRUE(a->add_framework("f", {}, {}, true).has_value());
  EXPECT_TRUE(a->add_framework("f", {"a/b"}, {}, true).has_value());
  EXPECT_TRUE(a->add_framework("f", {""}, {}, true).has_value());
  add_framework("f");
  EXPECT_TRUE(a->add_framework("f", {"*"}, {}, true).has_value());
}

TEST_F(AllocatorTest, BadWeightsAreRejectedWithNoChange) {
  ASSERT_FALSE(a->update_weights({{"web", 2.0}}).has_value());
  for (double w : {-1.0, 0.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    std::optional<Error> error = a->update_weights({{"db", 3.0}, {"web", w}});
    ASSERT_TRUE(error.has_value()) << w;
    EXPECT_NE(error->message.find("web"), std::string::npos);
  }
  EXPECT_TRUE(a->update_weights({{"bad role", 1.0}}).has_value());
  EXPECT_EQ((std::map<std::string, double>{{"web", 2.0}}), a->weights());
}

TEST_F(AllocatorTest, BadQuotaIsRejectedWithNoChange) {
  a->add_slave("s1", R("cpus:4;mem:1024;ports:[1-10]"), {});
  ASSERT_FALSE(a->set_quota("web", R("cpus:2")).has_value());
  const std::map<std::string, Resources> before = a->quotas();

  // Above the cluster, alone or together with the other guarantees.
  std::optional<Error> above = a->set_quota("db", R("cpus:5"));
  ASSERT_TRUE(above.has_value());
  EXPECT_NE(above->message.find("cpus"), std::string::npos);
  EXPECT_TRUE(a->set_quota("db", R("cpus:2.5")).has_value());
  EXPECT_TRUE(a->set_quota("db", R("gpus:1")).has_value());
  // Not scalars, reserved, "*", empty, bad role.
  EXPECT_TRUE(a->set_quota("db", R("ports:[1-2]")).has_value());
  EXPECT_TRUE(a->set_quota("db", R("cpus(db):1")).has_value());
  EXPECT_TRUE(a->set_quota("*", R("cpus:1")).has_value());
  EXPECT_TRUE(a->set_quota("db", Resources()).has_value());
  EXPECT_TRUE(a->set_quota("a b", R("cpus:1")).has_value());
  // Negative and NaN quantities never become Resources: the parse fails
  // and names the token, which is what the HTTP layer returns with a 400.
  Try<Resources> negative = Resources::parse("cpus:-1");
  ASSERT_TRUE(negative.is_error());
  EXPECT_NE(negative.error().find("cpus:-1"), std::string::npos);
  EXPECT_TRUE(Resources::parse("cpus:nan").is_error());
  EXPECT_EQ(before, a->quotas());
  // Replacing one's own quota is checked without double counting it.
  EXPECT_FALSE(a->set_quota("web", R("cpus:4")).has_value());
}

}  // namespace
}  // namespace stoa::allocator::test
