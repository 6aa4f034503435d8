#include "master/allocator/allocator.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace stoa::allocator {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

Resources R(std::string_view text) {
  Try<Resources> r = Resources::parse(text);
  EXPECT_TRUE(r.is_some()) << text;
  return r ? *r : Resources();
}

class AllocatorTest : public ::testing::Test {
 protected:
  void make(Options options = Options()) {
    if (options.seed == 0) {
      options.seed = 12345;
    }
    Try<std::unique_ptr<Allocator>> created = Allocator::create(std::move(options));
    ASSERT_TRUE(created.is_some()) << created.error();
    a = std::move(created.get());
  }

  void SetUp() override { make(); }

  void TearDown() override {
    if (a) {
      std::optional<Error> error = a->check_invariants();
      EXPECT_FALSE(error.has_value()) << error->message;
    }
  }

  // One allocation pass `step` after the previous one.
  std::vector<Allocation> cycle(std::chrono::nanoseconds step = seconds(1)) {
    now += std::chrono::duration_cast<Clock::duration>(step);
    std::vector<Allocation> out = a->allocate(now);
    std::optional<Error> error = a->check_invariants();
    EXPECT_FALSE(error.has_value()) << error->message;
    return out;
  }

  void add_framework(const std::string& id, std::vector<std::string> roles = {"*"}) {
    ASSERT_FALSE(a->add_framework(id, roles, {}, true).has_value());
  }

  void decline(const std::vector<Allocation>& offers, std::optional<double> refuse) {
    for (const Allocation& o : offers) {
      a->recover_resources(o.framework_id, o.slave_id, o.resources, refuse, now);
    }
  }

  static std::map<std::string, int> count_by_framework(const std::vector<Allocation>& offers) {
    std::map<std::string, int> out;
    for (const Allocation& o : offers) {
      ++out[o.framework_id];
    }
    return out;
  }

  Resources held_by(const std::string& framework) const {
    Resources out;
    for (const auto& [slave, r] : a->allocation(framework)) {
      out += r;
    }
    return out;
  }

  // 2000 random operations on `a` (and the same ones on `shadow`, whose
  // offers must then equal a's at every pass), checking invariants.
  void random_operations(uint32_t seed, Allocator* shadow = nullptr);

  std::unique_ptr<Allocator> a;
  TimePoint now = TimePoint{} + std::chrono::hours(1);
};

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

// --- DRF ---------------------------------------------------------------------

TEST_F(AllocatorTest, DrfOrderWithThreeFrameworks) {
  add_framework("fa");
  add_framework("fb");
  add_framework("fc");
  // fa already runs 3 cpus worth on "big".
  a->add_slave("big", R("cpus:3;mem:300"), {{"fa", R("cpus:3;mem:300")}});
  for (int i = 0; i < 9; ++i) {
    a->add_slave("s" + std::to_string(i), R("cpus:1;mem:100"), {});
  }
  std::vector<Allocation> offers = cycle();
  std::vector<std::string> order;
  for (const Allocation& o : offers) {
    order.push_back(o.framework_id);
    EXPECT_EQ(R("cpus:1;mem:100"), o.resources);
  }
  // fb and fc alternate until they catch up with fa's share of 3; then all
  // three are equal and fa (fewest allocations received) goes first.
  EXPECT_EQ((std::vector<std::string>{"fb", "fc", "fb", "fc", "fb", "fc", "fa", "fb", "fc"}), order);
  EXPECT_EQ(R("cpus:4;mem:400"), held_by("fa"));
  EXPECT_EQ(R("cpus:4;mem:400"), held_by("fb"));
  EXPECT_EQ(R("cpus:4;mem:400"), held_by("fc"));
}

TEST_F(AllocatorTest, DrfUsesTheDominantResource) {
  add_framework("cpu_user");
  add_framework("mem_user");
  // Cluster: cpus 20, mem 1000. cpu_user: cpus 0.10, mem 0.001 -> 0.10.
  // mem_user: cpus 0.05, mem 0.30 -> 0.30. Comparing cpus alone would pick
  // mem_user; DRF picks cpu_user.
  a->add_slave("used", R("cpus:3;mem:301"), {{"cpu_user", R("cpus:2;mem:1")}, {"mem_user", R("cpus:1;mem:300")}});
  a->add_slave("free", R("cpus:17;mem:699"), {});
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ("free", offers[0].slave_id);
  EXPECT_EQ("cpu_user", offers[0].framework_id);
}

TEST_F(AllocatorTest, RoleWeightsSplitTheCluster) {
  ASSERT_FALSE(a->update_weights({{"gold", 2.0}}).has_value());
  add_framework("f_gold", {"gold"});
  add_framework("f_silver", {"silver"});
  for (int i = 0; i < 30; ++i) {
    a->add_slave("s" + std::to_string(i), R("cpus:1;mem:100"), {});
  }
  std::map<std::string, int> counts = count_by_framework(cycle());
  EXPECT_EQ(20, counts["f_gold"]);
  EXPECT_EQ(10, counts["f_silver"]);

  // Weights change at run time: with silver at 4 the next pass flips.
  EXPECT_TRUE(cycle(seconds(0)).empty());
  for (const std::string fw : {"f_gold", "f_silver"}) {
    for (const auto& [slave, r] : a->allocation(fw)) {
      a->recover_resources(fw, slave, r, std::nullopt, now);
    }
  }
  ASSERT_FALSE(a->update_weights({{"silver", 4.0}}).has_value());
  counts = count_by_framework(cycle());
  EXPECT_EQ(10, counts["f_gold"]);
  EXPECT_EQ(20, counts["f_silver"]);
  std::vector<RoleInfo> roles = a->roles();
  ASSERT_EQ(2u, roles.size());
  EXPECT_EQ("gold", roles[0].name);
  EXPECT_DOUBLE_EQ(2.0, roles[0].weight);
  EXPECT_EQ(std::vector<std::string>{"f_gold"}, roles[0].frameworks);
  EXPECT_DOUBLE_EQ(10.0, roles[0].allocated.scalar("cpus"));
  EXPECT_DOUBLE_EQ(4.0, roles[1].weight);
}

TEST_F(AllocatorTest, FairnessOverManyCycles) {
  const int K = 7;
  const int N = 100;
  for (int k = 0; k < K; ++k) {
    add_framework("f" + std::to_string(k));
  }
  for (int i = 0; i < N; ++i) {
    a->add_slave("s" + std::to_string(i), R("cpus:2;mem:512"), {});
  }
  std::map<std::string, int> cumulative;
  for (int round = 1; round <= 40; ++round) {
    std::vector<Allocation> offers = cycle();
    ASSERT_EQ(static_cast<size_t>(N), offers.size());
    std::map<std::string, int> counts = count_by_framework(offers);
    ASSERT_EQ(static_cast<size_t>(K), counts.size());
    for (const auto& [fw, n] : counts) {
      EXPECT_TRUE(n == N / K || n == N / K + 1) << fw << " got " << n;
      cumulative[fw] += n;
    }
    int lo = N * round;
    int hi = 0;
    for (const auto& [fw, n] : cumulative) {
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    EXPECT_LE(hi - lo, 1) << "round " << round;
    // Rescind everything (no filter) before the next pass.
    decline(offers, std::nullopt);
  }
}

TEST_F(AllocatorTest, CoarseGrainedOneFrameworkPerSlavePerCycle) {
  add_framework("f1");
  add_framework("f2");
  a->add_slave("s1", R("cpus:8;mem:8192"), {});
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ(R("cpus:8;mem:8192"), offers[0].resources);
  EXPECT_TRUE(cycle().empty());
  // The holder releases half; the other framework gets it next pass.
  a->recover_resources(offers[0].framework_id, "s1", R("cpus:4;mem:4096"), std::nullopt, now);
  std::vector<Allocation> next = cycle();
  ASSERT_EQ(1u, next.size());
  EXPECT_NE(offers[0].framework_id, next[0].framework_id);
  EXPECT_EQ(R("cpus:4;mem:4096"), next[0].resources);
}

// --- Reservations ------------------------------------------------------------

TEST_F(AllocatorTest, ReservedResourcesOnlyGoToTheirRole) {
  add_framework("f_db", {"db"});
  a->add_slave("s1", R("cpus:1;mem:100;cpus(web):2;mem(web):200"), {});
  a->add_slave("s2", R("cpus(web):4;mem(web):400"), {});
  std::vector<Allocation> offers = cycle();
  ASSERT_EQ(1u, offers.size());
  EXPECT_EQ("s1", offers[0].slave_id);
  EXPECT_EQ(R("cpus:1;mem:100"), offers[0].resources);
  // Declined without a filter, the reservations still never reach db.
  for (int i = 0; i < 5; ++i) {
    decline(offers, std::nullopt);
    offers = cycle();
    ASSERT_EQ(1u, offers.size());
    EXPECT_EQ(R("cpus:1;mem:100"), offers[0].resources);
  }
  decline(offers, std::nullopt);

  add_framework("f_web", {"web"});
  offers = cycle();
  Resources to_web;
  Resources to_db;
  for (const Allocation& o : offers) {
    (o.framework_id == "f_web" ? to_web : to_db) += o.resources;
    EXPECT_EQ(o.framework_id == "f_web" ? "web" : "db", o.role);
  }
  EXPECT_TRUE(to_db.reserved("web").empty());
  EXPECT_EQ(R("cpus(web):6;mem(web):600"), to_web.reserved("web"));
  EXPECT_EQ(R("cpus:1;mem:100;cpus(web):6;mem(web):600"), to_web + to_db);
  std::vector<RoleInfo> roles = a->roles();
  ASSERT_EQ(2u, roles.size());
  EXPECT_EQ("web", roles[1].name);
  EXPECT_EQ(R("cpus(web):6;mem(web):600"), roles[1].reserved);
}

TEST_F(AllocatorTest, MultiRoleFrameworkGetsReservationsInTheirRole) {
  add_framework("f", {"batch", "web"});
  a->add_slave("s1", R("cpus:1;mem:100;cpus(web):2;mem(web):200"), {});
  std::vector<Allocation> offers = cycle();
  Resources web;
  for (const Allocation& o : offers) {
    if (o.role == "web") {
      web += o.resources;
    }
  }
  EXPECT_EQ(R("cpus(web):2;mem(web):200"), web.reserved("web"));
  EXPECT_EQ(R("cpus:1;mem:100;cpus(web):2;mem(web):200"), held_by("f"));
}

// --- Quota -------------------------------------------------------------------

TEST_F(AllocatorTest, QuotaGuaranteeHonouredWithGreedyRole) {
  for (int i = 0; i < 10; ++i) {
    a->add_slave("s" + std::to_string(i), R("cpus:1;mem:128"), {});
  }
  ASSERT_FALSE(a->set_quota("q", R("cpus:4")).has_value());
  add_framework("greedy", {"g"});

  // No framework in "q" yet: its 4 cpus are held back from the greedy role,
  // however often it asks (mem has no quota and is offered).
  for (int i = 0; i < 5; ++i) {
    std::vector<Allocation> offers = cycle();
    Resources offered;
    for (const Allocation& o : offers) {
      offered += o.resources;
    }
    EXPECT_EQ(R("cpus:6;mem:1280"), offered);
    decline(offers, std::nullopt);
  }
  cycle();
  EXPECT_DOUBLE_EQ(6.0, held_by("greedy").scalar("cpus"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(cycle().empty());
  }

  // The quota role's framework arrives and gets its guarantee.
  add_framework("fq", {"q"});
  cycle();
  EXPECT_DOUBLE_EQ(4.0, held_by("fq").scalar("cpus"));
  EXPECT_DOUBLE_EQ(6.0, held_by("greedy").scalar("cpus"));
  std::vector<RoleInfo> roles = a->roles();
  ASSERT_EQ(2u, roles.size());
  ASSERT_TRUE(roles[1].quota.has_value());
  EXPECT_EQ(R("cpus:4"), *roles[1].quota);
}

TEST_F(AllocatorTest, QuotaStageServesGuaranteesBeforeFairShare) {
  for (int i = 0; i < 10; ++i) {
    a->add_slave("s" + std::to_string(i), R("cpus:1;mem:128"), {});
  }
  // The greedy role is far below the quota role in DRF order, yet the quota
  // role still gets its guarantee in the same pass.
  ASSERT_FALSE(a->update_weights({{"g", 100.0}}).has_value());
  add_framework("greedy", {"g"});
  add_framework("fq", {"q"});
  ASSERT_FALSE(a->set_quota("q", R("cpus:3")).has_value());
  cycle();
  EXPECT_GE(held_by("fq").scalar("cpus"), 3.0);
  EXPECT_DOUBLE_EQ(10.0, held_by("fq").scalar("cpus") + held_by("greedy").scalar("cpus"));

  // Removing the quota releases the hold-back.
  a->remove_quota("q");
  EXPECT_TRUE(a->quotas().empty());
}

TEST_F(AllocatorTest, QuotaCountsReservationsAsConsumed) {
  a->add_slave("r", R("cpus(q):2;mem(q):256"), {});
  for (int i = 0; i < 4; ++i) {
    a->add_slave("s" + std::to_string(i), R("cpus:1;mem:128"), {});
  }
  ASSERT_FALSE(a->set_quota("q", R("cpus:3")).has_value());
  add_framework("greedy", {"g"});
  cycle();
  // 2 of the 3 guaranteed cpus are the reservation: only 1 is held back.
  EXPECT_DOUBLE_EQ(3.0, held_by("greedy").scalar("cpus"));
}

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

}  // namespace
}  // namespace stoa::allocator
