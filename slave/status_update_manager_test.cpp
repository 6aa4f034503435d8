#include "slave/status_update_manager.hpp"

#include <gtest/gtest.h>

namespace stoa::slave {
namespace {

internal::StatusUpdate make(const std::string& task, TaskState state, const std::string& uuid) {
  internal::StatusUpdate u;
  u.mutable_framework_id()->set_value("F");
  u.mutable_status()->mutable_task_id()->set_value(task);
  u.mutable_status()->set_state(state);
  u.set_timestamp(1);
  u.set_uuid(uuid);
  return u;
}

TEST(StatusUpdateManager, OneInFlightAndFifo) {
  StatusUpdateManager m;
  EXPECT_TRUE(m.update(make("t", TASK_RUNNING, "u1")));
  EXPECT_FALSE(m.update(make("t", TASK_FINISHED, "u2")));  // queued
  EXPECT_EQ(m.head({"F", "t"})->uuid(), "u1");
  bool matched = false;
  auto next = m.acknowledge("F", "t", "u1", &matched);
  EXPECT_TRUE(matched);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->uuid(), "u2");
  EXPECT_FALSE(m.done({"F", "t"}));
  next = m.acknowledge("F", "t", "u2", &matched);
  EXPECT_TRUE(matched);
  EXPECT_FALSE(next);
  EXPECT_TRUE(m.done({"F", "t"}));  // terminal acknowledged: stream closed
}

TEST(StatusUpdateManager, DuplicatesAndWrongAcksAreIgnored) {
  StatusUpdateManager m;
  EXPECT_TRUE(m.update(make("t", TASK_RUNNING, "u1")));
  EXPECT_FALSE(m.update(make("t", TASK_RUNNING, "u1")));
  EXPECT_EQ(m.pending({"F", "t"}), 1u);
  bool matched = true;
  EXPECT_FALSE(m.acknowledge("F", "t", "other", &matched));
  EXPECT_FALSE(matched);
  EXPECT_EQ(m.head({"F", "t"})->uuid(), "u1");
  EXPECT_FALSE(m.acknowledge("F", "unknown", "u1", &matched));
  EXPECT_FALSE(matched);
}

TEST(StatusUpdateManager, StreamsAreIndependentAndRemovable) {
  StatusUpdateManager m;
  EXPECT_TRUE(m.update(make("a", TASK_RUNNING, "1")));
  EXPECT_TRUE(m.update(make("b", TASK_RUNNING, "2")));
  EXPECT_EQ(m.streams().size(), 2u);
  m.remove_framework("F");
  EXPECT_TRUE(m.streams().empty());
}

}  // namespace
}  // namespace stoa::slave
