#include "master/allocator/sorter.hpp"
#include "master/allocator/test_resources.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace stoa::allocator {
namespace {


std::unique_ptr<Sorter> make(const std::string& policy, uint64_t seed = 7) {
  Try<std::unique_ptr<Sorter>> s = make_sorter(policy, seed);
  EXPECT_TRUE(s.is_some());
  return std::move(s.get());
}

TEST(SorterTest, UnknownPolicyIsAnError) {
  Try<std::unique_ptr<Sorter>> s = make_sorter("fifo");
  ASSERT_TRUE(s.is_error());
  EXPECT_NE(s.error().find("fifo"), std::string::npos);
  EXPECT_NE(s.error().find("drf"), std::string::npos);
  EXPECT_EQ((std::vector<std::string>{"drf", "random"}), sorter_policies());
  EXPECT_EQ((std::vector<std::string>{"drf", "random"}), sorter_names());
}

// Every line of the sorter table builds a sorter that keeps the Sorter
// contract: a new policy gets these checks by its table line alone.
TEST(SorterTest, EveryTableEntryBuildsAWorkingSorter) {
  const std::vector<SorterPolicy>& table = sorter_table();
  ASSERT_FALSE(table.empty());
  std::vector<std::string> names;
  for (const SorterPolicy& policy : table) {
    SCOPED_TRACE(std::string(policy.name));
    names.emplace_back(policy.name);
    EXPECT_FALSE(policy.description.empty());
    EXPECT_EQ(std::string(policy.description), sorter_description(policy.name));
    EXPECT_NE(std::string::npos, sorter_help().find(std::string(policy.name) + ": "));

    Try<std::unique_ptr<Sorter>> built = make_sorter(policy.name, 11);
    ASSERT_TRUE(built.is_some()) << built.error();
    Sorter& s = **built;
    s.set_total(R("cpus:10;mem:100"));
    for (const char* client : {"a", "b", "c", "d"}) {
      s.add_client(client);
    }
    EXPECT_EQ(4u, s.count());
    EXPECT_TRUE(s.contains("c"));
    s.update_weight("b", 2.0);
    s.allocated("a", R("cpus:5;mem:10"));
    s.allocated("a", R("cpus:1"));
    s.unallocated("a", R("cpus:2"));
    EXPECT_EQ(R("cpus:4;mem:10"), s.allocation("a"));
    EXPECT_DOUBLE_EQ(0.4, s.share("a"));
    s.allocated("b", R("cpus:4"));
    EXPECT_DOUBLE_EQ(0.2, s.share("b"));  // 0.4 divided by weight 2.

    // sort() and visit() see the active clients, each once.
    s.deactivate("c");
    EXPECT_FALSE(s.is_active("c"));
    std::vector<std::string> sorted = s.sort();
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ((std::vector<std::string>{"a", "b", "d"}), sorted);
    std::vector<std::string> visited;
    s.visit([&](const std::string& client) {
      visited.push_back(client);
      return visited.size() < 2;  // Stops after the second client.
    });
    EXPECT_EQ(2u, visited.size());
    EXPECT_NE(visited[0], visited[1]);
    s.activate("c");
    s.remove_client("a");
    EXPECT_FALSE(s.contains("a"));
    EXPECT_EQ(Resources(), s.allocation("a"));
    sorted = s.sort();
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ((std::vector<std::string>{"b", "c", "d"}), sorted);
  }
  // The names are unique and sorter_names() lists exactly the table.
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names.end(), std::adjacent_find(names.begin(), names.end()));
  EXPECT_EQ(names, sorter_names());
  EXPECT_EQ("", sorter_description("fifo"));
}

TEST(DrfSorterTest, OrdersByDominantShare) {
  auto s = make("drf");
  s->set_total(R("cpus:100;mem:1000"));
  s->add_client("a");
  s->add_client("b");
  s->add_client("c");
  s->allocated("a", R("cpus:10;mem:50"));   // dominant: cpus 0.10
  s->allocated("b", R("cpus:1;mem:300"));   // dominant: mem 0.30
  s->allocated("c", R("cpus:20;mem:100"));  // dominant: cpus 0.20
  EXPECT_EQ((std::vector<std::string>{"a", "c", "b"}), s->sort());
  EXPECT_DOUBLE_EQ(0.3, s->share("b"));
  // b gives back memory: share 0.05 (cpus 0.01, mem 0.05).
  s->unallocated("b", R("mem:250"));
  EXPECT_EQ((std::vector<std::string>{"b", "a", "c"}), s->sort());
  EXPECT_EQ(R("cpus:1;mem:50"), s->allocation("b"));
}

TEST(DrfSorterTest, WeightsDivideShares) {
  auto s = make("drf");
  s->set_total(R("cpus:100"));
  s->add_client("heavy");
  s->add_client("light");
  s->update_weight("heavy", 3.0);
  s->allocated("heavy", R("cpus:30"));  // 0.30 / 3 = 0.10
  s->allocated("light", R("cpus:20"));  // 0.20
  EXPECT_EQ((std::vector<std::string>{"heavy", "light"}), s->sort());
  EXPECT_DOUBLE_EQ(0.1, s->share("heavy"));
  s->update_weight("heavy", 1.0);
  EXPECT_EQ((std::vector<std::string>{"light", "heavy"}), s->sort());
}

TEST(DrfSorterTest, EqualSharesTakeTurnsByAllocationCount) {
  auto s = make("drf");
  s->set_total(R("cpus:100"));
  s->add_client("x");
  s->add_client("y");
  // Same share, but x has received more allocations: y goes first.
  s->allocated("x", R("cpus:5"));
  s->allocated("x", R("cpus:5"));
  s->allocated("y", R("cpus:10"));
  EXPECT_EQ((std::vector<std::string>{"y", "x"}), s->sort());
}

TEST(DrfSorterTest, TotalChangesReorder) {
  auto s = make("drf");
  s->set_total(R("cpus:10;mem:100"));
  s->add_client("cpu_heavy");
  s->add_client("mem_heavy");
  s->allocated("cpu_heavy", R("cpus:5"));    // 0.5
  s->allocated("mem_heavy", R("mem:40"));    // 0.4
  EXPECT_EQ((std::vector<std::string>{"mem_heavy", "cpu_heavy"}), s->sort());
  s->set_total(R("cpus:100;mem:100"));       // cpu_heavy now 0.05
  EXPECT_EQ((std::vector<std::string>{"cpu_heavy", "mem_heavy"}), s->sort());
}

TEST(DrfSorterTest, InactiveClientsAreSkippedButKeepAllocation) {
  auto s = make("drf");
  s->set_total(R("cpus:10"));
  s->add_client("a");
  s->add_client("b");
  s->allocated("a", R("cpus:2"));
  s->deactivate("a");
  EXPECT_FALSE(s->is_active("a"));
  EXPECT_EQ((std::vector<std::string>{"b"}), s->sort());
  s->allocated("b", R("cpus:5"));
  s->activate("a");
  EXPECT_EQ((std::vector<std::string>{"a", "b"}), s->sort());
  EXPECT_EQ(R("cpus:2"), s->allocation("a"));
  s->remove_client("a");
  EXPECT_FALSE(s->contains("a"));
  EXPECT_EQ(1u, s->count());
  EXPECT_EQ((std::vector<std::string>{"b"}), s->sort());
}

TEST(DrfSorterTest, VisitStopsEarlyAndMatchesSort) {
  auto s = make("drf");
  s->set_total(R("cpus:100"));
  for (int i = 0; i < 10; ++i) {
    s->add_client("c" + std::to_string(i));
    s->allocated("c" + std::to_string(i), Resources::scalar_resource("cpus", 10 - i));
  }
  std::vector<std::string> seen;
  s->visit([&](const std::string& c) {
    seen.push_back(c);
    return seen.size() < 3;
  });
  std::vector<std::string> sorted = s->sort();
  ASSERT_EQ(10u, sorted.size());
  EXPECT_EQ(std::vector<std::string>(sorted.begin(), sorted.begin() + 3), seen);
  EXPECT_EQ("c9", sorted.front());
}

TEST(RandomSorterTest, VisitsEveryActiveClientOnceInVaryingOrder) {
  auto s = make("random", 42);
  s->set_total(R("cpus:10"));
  for (int i = 0; i < 8; ++i) {
    s->add_client("c" + std::to_string(i));
  }
  s->deactivate("c3");
  std::set<std::vector<std::string>> orders;
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> order = s->sort();
    ASSERT_EQ(7u, order.size());
    EXPECT_EQ(7u, std::set<std::string>(order.begin(), order.end()).size());
    EXPECT_EQ(0, std::count(order.begin(), order.end(), "c3"));
    orders.insert(order);
  }
  EXPECT_GT(orders.size(), 10u);
}

TEST(RandomSorterTest, WeightsBiasTheOrder) {
  auto s = make("random", 1);
  s->add_client("heavy");
  s->add_client("light");
  s->update_weight("heavy", 9.0);
  int heavy_first = 0;
  for (int i = 0; i < 2000; ++i) {
    if (s->sort().front() == "heavy") {
      ++heavy_first;
    }
  }
  // P(heavy first) = 9 / 10.
  EXPECT_GT(heavy_first, 1700);
  EXPECT_LT(heavy_first, 1900);
}

TEST(RandomSorterTest, TracksAllocationsForIntrospection) {
  auto s = make("random");
  s->set_total(R("cpus:10;mem:100"));
  s->add_client("a");
  s->allocated("a", R("cpus:1;mem:50"));
  EXPECT_DOUBLE_EQ(0.5, s->share("a"));
  s->unallocated("a", R("mem:50"));
  EXPECT_EQ(R("cpus:1"), s->allocation("a"));
}

}  // namespace
}  // namespace stoa::allocator
