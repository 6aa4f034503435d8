#include "slave/slave_state.hpp"

#include <gtest/gtest.h>

#include <caf/all.hpp>

namespace stoa::slave {
namespace {

Executor executor(const std::string& fid, const std::string& eid, const std::string& cid) {
  Executor e;
  e.framework_id = fid;
  e.executor_id = eid;
  e.container_id = cid;
  TaskInfo ti;
  ti.set_name(eid);
  ti.mutable_task_id()->set_value(eid);
  ti.mutable_slave_id()->set_value("S1");
  e.queued[eid] = ti;
  return e;
}

TEST(SlaveState, IndexesFollowExecutorsAndTasks) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::actor handle = sys.spawn([] { return caf::behavior{[](int) {}}; });
  SlaveState s;
  Framework& f = s.frameworks["F1"];
  s.add_executor(f, executor("F1", "t1", "C1"));
  s.add_executor(f, executor("F1", "t2", "C2"));
  ASSERT_NE(s.executor_by_container("C2"), nullptr);
  EXPECT_EQ(s.executor_by_container("C2")->executor_id, "t2");
  EXPECT_EQ(s.executor_by_container("nope"), nullptr);
  ASSERT_NE(s.executor_of_task("F1", "t1"), nullptr);
  EXPECT_EQ(s.executor_of_task("F1", "t1")->container_id, "C1");
  EXPECT_EQ(s.executor_of_task("F2", "t1"), nullptr);
  EXPECT_EQ(s.find_task("F1", "t1"), nullptr);  // queued, not yet a Task

  Executor* e1 = s.executor_by_container("C1");
  e1->tasks["t1"] = make_task(e1->queued["t1"], "F1", "S1", TASK_STAGING);
  e1->queued.clear();
  ASSERT_NE(s.find_task("F1", "t1"), nullptr);
  EXPECT_EQ(s.find_task("F1", "t1")->state(), TASK_STAGING);

  EXPECT_EQ(s.executor_by_handle(handle.address()), nullptr);
  s.set_handle(*e1, handle);
  ASSERT_NE(s.executor_by_handle(handle.address()), nullptr);
  EXPECT_EQ(s.executor_by_handle(handle.address())->container_id, "C1");
  s.set_handle(*e1, caf::actor{});
  EXPECT_EQ(s.executor_by_handle(handle.address()), nullptr);
  s.set_handle(*e1, handle);

  s.forget_task(*e1, "t1");
  EXPECT_EQ(s.executor_of_task("F1", "t1"), nullptr);
  Executor gone = s.erase_executor(f, "t1");
  EXPECT_EQ(gone.container_id, "C1");
  EXPECT_EQ(s.executor_by_container("C1"), nullptr);
  EXPECT_EQ(s.executor_by_handle(handle.address()), nullptr);
  s.erase_executor(f, "t2");
  EXPECT_TRUE(s.containers.empty());
  EXPECT_TRUE(s.task_executors.empty());
  EXPECT_TRUE(s.executor_handles.empty());
  EXPECT_EQ(s.executors_running(), 0u);
  caf::anon_send_exit(handle, caf::exit_reason::kill);
}

TEST(SlaveState, RecordStatusReplacesARepeatedStateAndKeepsTheContainersAddress) {
  Task t;
  auto record = [&t](TaskState state, const std::string& uuid, const std::string& ip = "") {
    TaskStatus s;
    s.set_state(state);
    s.set_message("a message");
    if (!ip.empty()) {
      s.mutable_container_status()->add_network_infos()->add_ip_addresses()->set_ip_address(ip);
    }
    record_status(t, s, uuid);
  };
  auto ip_of = [](const TaskStatus& s) {
    return s.container_status().network_infos(0).ip_addresses(0).ip_address();
  };
  record(TASK_STARTING, "u1");
  record(TASK_RUNNING, "u2", "10.1.2.3");
  record(TASK_RUNNING, "u3");  // a health check's: no address
  EXPECT_EQ(t.state(), TASK_RUNNING);
  ASSERT_EQ(t.statuses_size(), 2);
  EXPECT_EQ(t.statuses(0).uuid(), "u1");
  EXPECT_FALSE(t.statuses(0).has_message());
  EXPECT_EQ(t.statuses(1).uuid(), "u3");
  ASSERT_TRUE(t.statuses(1).has_container_status());
  EXPECT_EQ(ip_of(t.statuses(1)), "10.1.2.3");
  record(TASK_RUNNING, "u4", "10.9.9.9");  // a new address wins
  EXPECT_EQ(ip_of(t.statuses(1)), "10.9.9.9");
  record(TASK_KILLING, "u5");
  record(TASK_RUNNING, "u6");  // not the last state: a status of its own
  EXPECT_EQ(t.state(), TASK_RUNNING);
  ASSERT_EQ(t.statuses_size(), 4);
  EXPECT_EQ(t.statuses(3).uuid(), "u6");
  EXPECT_FALSE(t.statuses(3).has_container_status());
}

}  // namespace
}  // namespace stoa::slave
