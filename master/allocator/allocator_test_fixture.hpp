#pragma once
// The fixture shared by the Allocator's tests (allocator_*_test.cpp): an
// allocator with a fixed seed, a virtual clock advanced by cycle(), and
// invariant checks after every pass and at the end of each test. One class
// with external linkage: GoogleTest requires every test of the suite
// "AllocatorTest" to use the same fixture type across files.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "master/allocator/allocator.hpp"

namespace stoa::allocator::test {

using std::chrono::milliseconds;
using std::chrono::seconds;

inline Resources R(std::string_view text) {
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

}  // namespace stoa::allocator::test
