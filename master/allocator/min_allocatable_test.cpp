#include "master/allocator/min_allocatable.hpp"
#include "master/allocator/test_resources.hpp"

#include <gtest/gtest.h>

namespace stoa::allocator {
namespace {

TEST(MinAllocatableTest, DefaultsAreMesosCpusOrMem) {
  MinAllocatable offerable(default_min_allocatable());
  EXPECT_TRUE(offerable(R("cpus:0.01")));
  EXPECT_TRUE(offerable(R("mem:32")));
  EXPECT_TRUE(offerable(R("cpus:0.001;mem:32")));
  EXPECT_FALSE(offerable(R("cpus:0.009;mem:31")));
  EXPECT_FALSE(offerable(R("disk:1000;ports:[1-100]")));
  EXPECT_FALSE(offerable(Resources()));
  // Quantities are summed over roles.
  EXPECT_TRUE(offerable(R("cpus:0.005;cpus(web):0.005")));
}

TEST(MinAllocatableTest, AMinimumOfSeveralScalarsNeedsAllOfThem) {
  MinAllocatable offerable({R("cpus:1;mem:64"), R("gpus:1")});
  EXPECT_TRUE(offerable(R("cpus:1;mem:64")));
  EXPECT_TRUE(offerable(R("cpus(web):1;mem:64;disk:5")));
  EXPECT_FALSE(offerable(R("cpus:1;mem:63")));
  EXPECT_FALSE(offerable(R("cpus:4")));
  EXPECT_TRUE(offerable(R("gpus:1")));
}

TEST(MinAllocatableTest, ManySingleMinimumsAgreeWithTheGeneralRule) {
  // Nine single-scalar minimums exceed the one-pass check's limit.
  std::vector<Resources> nine;
  for (int i = 0; i < 9; ++i) {
    nine.push_back(Resources::scalar_resource("r" + std::to_string(i), 2));
  }
  MinAllocatable offerable(nine);
  EXPECT_TRUE(offerable(R("r8:2")));
  EXPECT_FALSE(offerable(R("r8:1;r0:1.5")));
  nine.pop_back();
  MinAllocatable eight(nine);
  EXPECT_TRUE(eight(R("r7:1;r7(web):1")));
  EXPECT_FALSE(eight(R("r7:1.9;r8:5")));
}

TEST(MinAllocatableTest, NoMinimumsMeansAnythingNonEmpty) {
  MinAllocatable offerable({});
  EXPECT_TRUE(offerable(R("ports:[1-1]")));
  EXPECT_FALSE(offerable(Resources()));
}

TEST(MinAllocatableTest, ValidateRejectsEmptyAndNonScalarMinimums) {
  EXPECT_FALSE(MinAllocatable::validate(default_min_allocatable()));
  EXPECT_FALSE(MinAllocatable::validate({}));
  std::optional<Error> ports = MinAllocatable::validate({R("cpus:1"), R("ports:[1-2]")});
  ASSERT_TRUE(ports.has_value());
  EXPECT_NE(std::string::npos, ports->message.find("ports"));
  EXPECT_TRUE(MinAllocatable::validate({Resources()}).has_value());
}

}  // namespace
}  // namespace stoa::allocator
