#include "framework/tools.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace stoa {
namespace {

Offer offer_on(const std::string& slave, const std::string& allocated_role) {
  Offer offer;
  offer.mutable_id()->set_value("o-1");
  offer.mutable_slave_id()->set_value(slave);
  Resources::parse("cpus:2;mem:256")->to_proto(offer.mutable_resources());
  if (!allocated_role.empty()) {
    for (Resource& r : *offer.mutable_resources()) {
      r.mutable_allocation_info()->set_role(allocated_role);
    }
  }
  return offer;
}

TEST(FrameworkToolsTest, RefuseSetsTheSeconds) {
  EXPECT_DOUBLE_EQ(3600, refuse(3600).refuse_seconds());
  EXPECT_DOUBLE_EQ(0, refuse(0).refuse_seconds());
  EXPECT_TRUE(refuse(0).has_refuse_seconds());
}

TEST(FrameworkToolsTest, ShellTaskRunsTheCommandOnTheOffersSlave) {
  Resources wanted = *Resources::parse("cpus:0.5;mem:32");
  TaskInfo task = shell_task(offer_on("s-7", ""), "web", "web-1", wanted, "echo hi");
  EXPECT_EQ("web", task.name());
  EXPECT_EQ("web-1", task.task_id().value());
  EXPECT_EQ("s-7", task.slave_id().value());
  EXPECT_TRUE(task.command().shell());
  EXPECT_EQ("echo hi", task.command().value());
  Try<Resources> got = Resources::from_proto(task.resources());
  ASSERT_FALSE(got.is_error()) << got.error();
  EXPECT_EQ(wanted, *got);
  for (const Resource& r : task.resources()) {
    EXPECT_FALSE(r.has_allocation_info()) << r.name();
  }
}

TEST(FrameworkToolsTest, ShellTaskCarriesTheOffersAllocationInfo) {
  TaskInfo task = shell_task(offer_on("s-1", "web"), "t", "t-1", *Resources::parse("cpus:1;mem:8"), "true");
  ASSERT_EQ(2, task.resources_size());
  for (const Resource& r : task.resources()) {
    ASSERT_TRUE(r.has_allocation_info()) << r.name();
    EXPECT_EQ("web", r.allocation_info().role()) << r.name();
  }
}

TEST(FrameworkToolsTest, SayWritesOneLine) {
  std::ostringstream out;
  say("first", out);
  say("second", out);
  EXPECT_EQ("first\nsecond\n", out.str());
}

}  // namespace
}  // namespace stoa
