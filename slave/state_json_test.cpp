#include "slave/state_json.hpp"

#include <gtest/gtest.h>

namespace stoa::slave {
namespace {

const picojson::value& at(const picojson::value& v, const std::string& key) {
  return v.get<picojson::object>().at(key);
}
const picojson::array& arr(const picojson::value& v) { return v.get<picojson::array>(); }

TaskInfo task_info(const std::string& id) {
  TaskInfo ti;
  ti.set_name("task " + id);
  ti.mutable_task_id()->set_value(id);
  ti.mutable_slave_id()->set_value("S1");
  Resources::parse("cpus:0.5;mem:32")->to_proto(ti.mutable_resources());
  return ti;
}

// One framework with a running executor (one running task, one queued, one
// completed), and one completed framework.
SlaveState sample_state() {
  SlaveState s;
  s.slave_id = "S1";
  s.registered = true;
  s.start_time = 1234.5;
  s.info.set_hostname("node1");
  Framework& f = s.frameworks["F1"];
  f.info.mutable_id()->set_value("F1");
  f.info.set_name("web");
  f.info.set_user("alice");
  f.info.set_role("prod");
  Executor e;
  e.framework_id = "F1";
  e.executor_id = "t1";
  e.container_id = "C1";
  e.directory = "/w/slaves/S1/frameworks/F1/executors/t1/runs/C1";
  e.pid = 4242;
  e.phase = Executor::Phase::RUNNING;
  e.resources = *Resources::parse("cpus:0.5;mem:32");
  Task running = make_task(task_info("t1"), "F1", "S1", TASK_RUNNING);
  TaskStatus* st = running.add_statuses();
  st->mutable_task_id()->set_value("t1");
  st->set_state(TASK_RUNNING);
  st->set_timestamp(99.0);
  e.tasks["t1"] = running;
  e.queued["t2"] = task_info("t2");
  e.completed.push_back(make_task(task_info("t0"), "F1", "S1", TASK_FINISHED));
  s.add_executor(f, std::move(e));
  Framework done;
  done.info.mutable_id()->set_value("F0");
  done.info.set_name("batch");
  s.completed_frameworks.push_back(done);
  return s;
}

SlaveOptions sample_options() {
  SlaveOptions o;
  o.upid = Upid{"slave(1)", "10.0.0.1", 5051};
  o.master = Upid{"master", "10.0.0.2", 5050};
  o.resources = *Resources::parse("cpus:4;mem:4096;cpus(web):1");
  return o;
}

TEST(SlaveStateJson, StateHasTheSlaveItsFrameworksExecutorsAndTasks) {
  picojson::value v = state_json(sample_state(), sample_options());
  EXPECT_EQ(at(v, "id").get<std::string>(), "S1");
  EXPECT_EQ(at(v, "pid").get<std::string>(), "slave(1)@10.0.0.1:5051");
  EXPECT_EQ(at(v, "hostname").get<std::string>(), "node1");
  EXPECT_EQ(at(v, "port").get<double>(), 5051);
  EXPECT_EQ(at(v, "start_time").get<double>(), 1234.5);
  EXPECT_EQ(at(v, "master_hostname").get<std::string>(), "10.0.0.2");
  EXPECT_EQ(at(at(v, "resources"), "cpus").get<double>(), 5);
  EXPECT_EQ(at(at(v, "unreserved_resources"), "cpus").get<double>(), 4);
  EXPECT_TRUE(at(at(v, "reserved_resources"), "web").is<picojson::object>());
  EXPECT_TRUE(at(v, "flags").is<picojson::object>());
  ASSERT_EQ(arr(at(v, "frameworks")).size(), 1u);
  const picojson::value& f = arr(at(v, "frameworks"))[0];
  EXPECT_EQ(at(f, "id").get<std::string>(), "F1");
  EXPECT_EQ(at(f, "user").get<std::string>(), "alice");
  EXPECT_EQ(at(f, "role").get<std::string>(), "prod");
  ASSERT_EQ(arr(at(f, "executors")).size(), 1u);
  const picojson::value& e = arr(at(f, "executors"))[0];
  EXPECT_EQ(at(e, "id").get<std::string>(), "t1");
  EXPECT_EQ(at(e, "name").get<std::string>(), "Command Executor (Task: t1)");
  EXPECT_EQ(at(e, "container").get<std::string>(), "C1");
  EXPECT_EQ(at(e, "directory").get<std::string>(), "/w/slaves/S1/frameworks/F1/executors/t1/runs/C1");
  ASSERT_EQ(arr(at(e, "tasks")).size(), 1u);
  const picojson::value& t = arr(at(e, "tasks"))[0];
  EXPECT_EQ(at(t, "state").get<std::string>(), "TASK_RUNNING");
  EXPECT_EQ(at(t, "slave_id").get<std::string>(), "S1");
  EXPECT_EQ(at(at(t, "resources"), "mem").get<double>(), 32);
  ASSERT_EQ(arr(at(t, "statuses")).size(), 1u);
  EXPECT_EQ(at(arr(at(t, "statuses"))[0], "timestamp").get<double>(), 99.0);
  ASSERT_EQ(arr(at(e, "queued_tasks")).size(), 1u);
  EXPECT_EQ(at(arr(at(e, "queued_tasks"))[0], "state").get<std::string>(), "TASK_STAGING");
  EXPECT_EQ(at(arr(at(e, "queued_tasks"))[0], "id").get<std::string>(), "t2");
  ASSERT_EQ(arr(at(e, "completed_tasks")).size(), 1u);
  EXPECT_EQ(at(arr(at(e, "completed_tasks"))[0], "state").get<std::string>(), "TASK_FINISHED");
  ASSERT_EQ(arr(at(v, "completed_frameworks")).size(), 1u);
  EXPECT_EQ(at(arr(at(v, "completed_frameworks"))[0], "name").get<std::string>(), "batch");
}

TEST(SlaveStateJson, MonitorShowsWhatTheIsolatorsMeasuredForRunningExecutors) {
  SlaveState s = sample_state();
  ContainerUsages usages;
  ResourceStatistics& u = usages["C1"];
  u.timestamp = 10;
  u.cpus_user_time_secs = 1.25;
  u.cpus_system_time_secs = 0.5;
  u.cpus_limit = 0.5;
  u.processes = 3;
  usages["gone"].timestamp = 11;  // a container the slave no longer has
  picojson::value v = monitor_json(s, usages);
  ASSERT_EQ(arr(v).size(), 1u);
  const picojson::value& entry = arr(v)[0];
  EXPECT_EQ(at(entry, "executor_id").get<std::string>(), "t1");
  EXPECT_EQ(at(entry, "framework_id").get<std::string>(), "F1");
  EXPECT_EQ(at(entry, "executor_name").get<std::string>(), "Command Executor (Task: t1)");
  const picojson::value& stats = at(entry, "statistics");
  EXPECT_EQ(at(stats, "cpus_user_time_secs").get<double>(), 1.25);
  EXPECT_EQ(at(stats, "cpus_system_time_secs").get<double>(), 0.5);
  EXPECT_EQ(at(stats, "processes").get<int64_t>(), 3);
  EXPECT_EQ(at(stats, "timestamp").get<double>(), 10);
  // posix/mem was not asked for: no memory fields.
  EXPECT_EQ(stats.get<picojson::object>().count("mem_rss_bytes"), 0u);
  EXPECT_EQ(stats.get<picojson::object>().count("mem_limit_bytes"), 0u);

  usages["C1"].mem_rss_bytes = 5 << 20;
  usages["C1"].mem_limit_bytes = 32 << 20;
  picojson::value with_mem = monitor_json(s, usages);
  EXPECT_EQ(at(at(arr(with_mem)[0], "statistics"), "mem_rss_bytes").get<int64_t>(), 5 << 20);
  // A terminated executor is left out even when usage was sampled.
  s.frameworks["F1"].executors["t1"].phase = Executor::Phase::TERMINATED;
  EXPECT_TRUE(arr(monitor_json(s, usages)).empty());
}


TEST(SlaveStateJson, FlagsAreTheEffectiveValues) {
  SlaveFlags flags;
  const char* argv[] = {"stoa-slave", "--master=127.0.0.1:5050", "--isolation=posix/mem"};
  ASSERT_FALSE(flags.load(3, argv, {}));
  picojson::value v = flags_json(flags);
  EXPECT_EQ(at(at(v, "flags"), "isolation").get<std::string>(), "posix/mem");
  EXPECT_EQ(at(at(v, "flags"), "master").get<std::string>(), "127.0.0.1:5050");
}

}  // namespace
}  // namespace stoa::slave
