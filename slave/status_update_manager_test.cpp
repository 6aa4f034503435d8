#include "slave/status_update_manager.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

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

// A stream remembers its queued updates' uuids and the last RECENT_UUIDS
// before them, not every uuid of a task that repeats TASK_RUNNING for months.
TEST(StatusUpdateManager, AStreamRemembersItsQueuedAndItsLastUuidsOnly) {
  StatusUpdateManager m;
  const size_t n = StatusUpdateManager::RECENT_UUIDS;
  bool matched = false;
  for (size_t i = 0; i < 3 * n; ++i) {  // each acknowledged at once
    ASSERT_TRUE(m.update(make("t", TASK_RUNNING, "r" + std::to_string(i))));
    m.acknowledge("F", "t", "r" + std::to_string(i), &matched);
    ASSERT_TRUE(matched);
  }
  // The last RECENT_UUIDS are duplicates still; the one before them is
  // forgotten (a retry that old cannot come).
  EXPECT_TRUE(m.remembers({"F", "t"}, "r" + std::to_string(2 * n)));
  EXPECT_FALSE(m.remembers({"F", "t"}, "r" + std::to_string(2 * n - 1)));
  EXPECT_FALSE(m.remembers({"F", "other"}, "r" + std::to_string(2 * n)));
  EXPECT_FALSE(m.update(make("t", TASK_RUNNING, "r" + std::to_string(3 * n - 1))));
  EXPECT_FALSE(m.update(make("t", TASK_RUNNING, "r" + std::to_string(2 * n))));
  EXPECT_EQ(m.pending({"F", "t"}), 0u);
  EXPECT_TRUE(m.update(make("t", TASK_RUNNING, "r" + std::to_string(2 * n - 1))));
  m.acknowledge("F", "t", "r" + std::to_string(2 * n - 1), &matched);
  ASSERT_TRUE(matched);

  // Queued updates are never forgotten, however many wait (a master away).
  ASSERT_TRUE(m.update(make("t", TASK_RUNNING, "q0")));
  for (size_t i = 1; i < 3 * n; ++i) {
    ASSERT_FALSE(m.update(make("t", TASK_RUNNING, "q" + std::to_string(i))));
  }
  EXPECT_EQ(m.pending({"F", "t"}), 3 * n);
  for (size_t i = 0; i < 3 * n; ++i) {
    EXPECT_FALSE(m.update(make("t", TASK_RUNNING, "q" + std::to_string(i)))) << "q" << i << " queued again";
  }
  EXPECT_EQ(m.pending({"F", "t"}), 3 * n);
}

TEST(SlotQueue, FifoAcrossTheWrapAndGrowthAndPoppedSlotsComeBack) {
  SlotQueue<std::string> q;
  std::deque<std::string> model;
  size_t next = 0;
  // Pushes and pops in uneven runs, so that the queue wraps around its
  // array and grows while wrapped; checked against a deque throughout.
  for (size_t round = 0; round < 40; ++round) {
    for (size_t i = 0; i < round % 7 + 1; ++i) {
      std::string& slot = q.push();
      slot = "v" + std::to_string(next);
      model.push_back("v" + std::to_string(next++));
    }
    for (size_t i = 0; i < round % 5 && !model.empty(); ++i) {
      ASSERT_EQ(q.front(), model.front());
      q.pop();
      model.pop_front();
    }
    ASSERT_EQ(q.size(), model.size());
    for (size_t i = 0; i < model.size(); ++i) {
      ASSERT_EQ(q[i], model[i]) << "round " << round << ", element " << i;
    }
    std::vector<std::string> seen;
    q.any_slot([&](size_t s) {
      seen.push_back(q.slot(s));
      return false;
    });
    ASSERT_EQ(seen, std::vector<std::string>(model.begin(), model.end()));
  }
  // A popped element stays in its slot until a push takes the slot again.
  SlotQueue<std::string> one;
  one.push() = "first";
  one.pop();
  EXPECT_TRUE(one.empty());
  EXPECT_EQ(one.push(), "first");
}

TEST(StatusUpdateManager, AnUpdateInAReusedSlotKeepsNothingOfTheOneBefore) {
  // A stream's next update is copied into the slot its acknowledged head
  // left: a field the new one lacks must not survive from the old one.
  StatusUpdateManager m;
  internal::StatusUpdate first = make("t", TASK_RUNNING, "u1");
  first.mutable_status()->set_message("healthy again");
  first.mutable_status()->set_healthy(true);
  first.mutable_executor_id()->set_value("e");
  ASSERT_TRUE(m.update(first));
  bool matched = false;
  m.acknowledge("F", "t", "u1", &matched);
  ASSERT_TRUE(matched);
  const internal::StatusUpdate second = make("t", TASK_FINISHED, "u2");
  ASSERT_TRUE(m.update(second));
  const internal::StatusUpdate* head = m.head({"F", "t"});
  ASSERT_NE(head, nullptr);
  EXPECT_EQ(head->SerializeAsString(), second.SerializeAsString());
  EXPECT_FALSE(head->status().has_message());
  EXPECT_FALSE(head->has_executor_id());
}

TEST(StatusUpdateManager, UuidsOfEveryLengthAreToldApartByAllTheirBytes) {
  // Kept inline up to 16 bytes (zero-padded), longer ones apart: a uuid
  // and its prefix, or one padded with zeros, are different updates.
  const std::string valid("0123456789abcdef");
  const std::string longer = valid + "g";
  const std::string long_other = valid + "h";
  const std::string with_zero("ab\0", 3);
  const std::vector<std::string> uuids = {valid, longer, long_other, "ab", with_zero, std::string(40, 'x'), "a"};
  StatusUpdateManager m;
  ASSERT_TRUE(m.update(make("t", TASK_RUNNING, "head")));
  for (const std::string& u : uuids) {
    EXPECT_FALSE(m.remembers({"F", "t"}, u)) << u.size() << " bytes remembered before";
    EXPECT_FALSE(m.update(make("t", TASK_RUNNING, u)));  // queued behind the head
    EXPECT_TRUE(m.remembers({"F", "t"}, u)) << u.size() << " bytes";
  }
  EXPECT_EQ(m.pending({"F", "t"}), 1 + uuids.size()) << "a uuid was taken for another";
  for (const std::string& u : uuids) {
    EXPECT_FALSE(m.update(make("t", TASK_RUNNING, u))) << u.size() << " bytes";
  }
  EXPECT_EQ(m.pending({"F", "t"}), 1 + uuids.size()) << "a duplicate was queued";
  EXPECT_FALSE(m.remembers({"F", "t"}, std::string(40, 'y')));
  EXPECT_FALSE(m.remembers({"F", "t"}, valid.substr(0, 15)));
}

TEST(StatusUpdateManager, StreamsAreIndependentAndRemovable) {
  StatusUpdateManager m;
  EXPECT_TRUE(m.update(make("a", TASK_RUNNING, "1")));
  EXPECT_TRUE(m.update(make("b", TASK_RUNNING, "2")));
  EXPECT_EQ(m.streams().size(), 2u);
  m.remove_framework("F");
  EXPECT_TRUE(m.streams().empty());
}

TEST(UpdateRetries, DueInDeadlineOrderOnlyOnceTheirWaitEnds) {
  using namespace std::chrono_literals;
  UpdateRetries r;
  const UpdateRetries::TimePoint t0{};
  r.sent({"F", "b"}, "ub", t0 + 1s, 10s);
  r.sent({"F", "a"}, "ua", t0, 10s);
  ASSERT_TRUE(r.next());
  EXPECT_EQ(*r.next(), t0 + 10s);
  EXPECT_TRUE(r.take_due(t0 + 10s - 1ns).empty());
  std::vector<UpdateRetries::Due> due = r.take_due(t0 + 11s);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].key.second, "a");
  EXPECT_EQ(due[0].uuid, "ua");
  EXPECT_EQ(due[0].interval, UpdateRetries::Interval(10s));
  EXPECT_EQ(due[1].key.second, "b");
  EXPECT_EQ(r.size(), 0u);
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.take_due(t0 + 1h).empty());  // taken once
}

TEST(UpdateRetries, AnAcknowledgementOrANewHeadReplacesTheStreamsDeadline) {
  using namespace std::chrono_literals;
  UpdateRetries r;
  const UpdateRetries::TimePoint t0{};
  r.sent({"F", "a"}, "u1", t0, 10s);
  r.sent({"F", "b"}, "u2", t0, 10s);
  r.acknowledged({"F", "a"});
  r.acknowledged({"F", "unknown"});  // nothing to drop
  r.sent({"F", "b"}, "u3", t0 + 5s, 10s);  // b's next head: one entry per stream
  EXPECT_EQ(r.size(), 1u);
  EXPECT_EQ(*r.next(), t0 + 15s);
  EXPECT_TRUE(r.take_due(t0 + 14s).empty());
  std::vector<UpdateRetries::Due> due = r.take_due(t0 + 15s);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].uuid, "u3");
}

TEST(UpdateRetries, TheBackoffDoublesUpToTenMinutes) {
  using namespace std::chrono_literals;
  UpdateRetries::Interval i = STATUS_UPDATE_RETRY_INTERVAL_MIN;
  std::vector<int64_t> seconds;
  for (int n = 0; n < 8; ++n) {
    seconds.push_back(std::chrono::duration_cast<std::chrono::seconds>(i).count());
    i = UpdateRetries::backoff(i);
  }
  EXPECT_EQ(seconds, (std::vector<int64_t>{10, 20, 40, 80, 160, 320, 600, 600}));
}

}  // namespace
}  // namespace stoa::slave
