// RenderedMap's index (KeyIndex) against a plain std::map, through every
// way a record comes and goes.

#include "master/master_state.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace stoa::master {
namespace {

using Map = RenderedMap<int, NoneTouched>;

// Every key of the model is found with its value, and none other is.
void expect_same(const Map& m, const std::map<std::string, int>& model, const std::vector<std::string>& keys) {
  ASSERT_EQ(m.size(), model.size());
  for (const std::string& k : keys) {
    auto it = m.find(k);
    auto want = model.find(k);
    if (want == model.end()) {
      ASSERT_TRUE(it == m.end()) << k << " found after it went";
      ASSERT_EQ(m.count(k), 0u) << k;
      ASSERT_THROW(m.at(k), std::out_of_range) << k;
    } else {
      ASSERT_TRUE(it != m.end()) << k << " not found";
      ASSERT_EQ(it->first, k);
      ASSERT_EQ(it->second, want->second) << k;
      ASSERT_EQ(m.count(k), 1u) << k;
      ASSERT_EQ(m.at(k), want->second) << k;
    }
  }
  auto it = m.begin();
  for (const auto& [k, v] : model) {  // the order is still the keys'
    ASSERT_EQ(it->first, k);
    ++it;
  }
}

TEST(RenderedMapIndex, FindsWhatTheMapHoldsThroughInsertsErasesCopiesAndMoves) {
  std::mt19937 rng(17);
  std::vector<std::string> keys;
  for (int i = 0; i < 600; ++i) {
    // Ids that share long prefixes (slave ids do), short ones, an empty one.
    keys.push_back(i % 3 == 0 ? "3fc886d0-daeb-43ff-acf4-4cea1bbfa4eb-S" + std::to_string(i)
                              : (i % 3 == 1 ? "scale-" + std::to_string(i) : std::string(i % 7, 'k')));
  }
  Map m;
  std::map<std::string, int> model;
  for (int step = 0; step < 20000; ++step) {
    const std::string& k = keys[rng() % keys.size()];
    switch (rng() % 6) {
      case 0:
      case 1:
        m.insert_or_assign(k, step);
        model[k] = step;
        break;
      case 2:
        if (m.emplace(k, step).second) {
          model.emplace(k, step);
        }
        break;
      case 3:
        ASSERT_EQ(m.erase(k), model.erase(k)) << k;
        break;
      case 4:
        if (auto it = m.find(k); it != m.end()) {
          ASSERT_EQ(m.extract(it), model.at(k));
          model.erase(k);
        }
        break;
      case 5:
        if (auto it = m.find(k); it != m.end()) {
          m.edit(it) = -step;
          model[k] = -step;
        }
        break;
    }
    if (step % 2000 == 0) {
      expect_same(m, model, keys);
    }
  }
  expect_same(m, model, keys);

  // A copy indexes its own nodes: changing it leaves the original alone.
  Map copy = m;
  expect_same(copy, model, keys);
  std::map<std::string, int> copied_model = model;
  for (const auto& [k, v] : model) {
    copy.erase(k);
    copied_model.erase(k);
    if (copied_model.size() < model.size() / 2) {
      break;
    }
  }
  expect_same(copy, copied_model, keys);
  expect_same(m, model, keys);
  copy = m;
  expect_same(copy, model, keys);

  // A move keeps the nodes and their index; the moved-from map is empty.
  Map moved = std::move(copy);
  expect_same(moved, model, keys);
  expect_same(copy, {}, keys);  // NOLINT(bugprone-use-after-move): it must be usable
  copy.insert_or_assign("again", 1);
  expect_same(copy, {{"again", 1}}, keys);
  Map assigned;
  assigned = std::move(moved);
  expect_same(assigned, model, keys);

  assigned.clear();
  expect_same(assigned, {}, keys);
  assigned.insert_or_assign(keys[0], 5);
  expect_same(assigned, {{keys[0], 5}}, keys);
}

}  // namespace
}  // namespace stoa::master
