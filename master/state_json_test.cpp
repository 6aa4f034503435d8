#include "master/state_json.hpp"
#include "master/operator_json.hpp"
#include "common/json.hpp"

#include <ctime>

#include <gtest/gtest.h>

namespace stoa::master {
namespace {

Resources res(const char* text) { return *Resources::parse(text); }

MasterState sample_state() {
  MasterState s;
  s.info.set_id("M");
  s.info.set_ip(0);
  s.info.set_port(5050);
  s.info.set_pid("master@127.0.0.1:5050");
  s.info.set_hostname("m1");
  s.start_time = 100;
  s.flags["allocation_interval"] = "1secs";

  SlaveRecord sl;
  sl.id = "M-S0";
  sl.info.set_hostname("a1");
  sl.info.set_port(5051);
  Attribute* a = sl.info.add_attributes();
  a->set_name("rack");
  a->set_type(Value::TEXT);
  a->mutable_text()->set_value("r1");
  sl.pid = "slave(1)@127.0.0.1:5051";
  sl.total = res("cpus:4;mem:1024;ports:[31000-32000];cpus(web):1");
  sl.tasks.insert({"M-0000", "t1"});
  sl.offers.insert("M-O0");
  s.slaves.emplace(sl.id, sl);
  s.tally.slaves_active += sl.active ? 1 : 0;

  FrameworkRecord f;
  f.id = "M-0000";
  f.info.set_name("fw");
  f.info.set_user("root");
  f.pid = "scheduler-x@127.0.0.1:4000";
  f.roles = {"*"};
  Task t;
  t.set_name("t1");
  t.mutable_task_id()->set_value("t1");
  t.mutable_framework_id()->set_value("M-0000");
  t.mutable_slave_id()->set_value("M-S0");
  t.set_state(TASK_RUNNING);
  res("cpus:1;mem:128").to_proto(t.mutable_resources());
  TaskStatus* st = t.add_statuses();
  st->mutable_task_id()->set_value("t1");
  st->set_state(TASK_RUNNING);
  st->set_timestamp(101);
  f.tasks.insert_or_assign("t1", t);
  Task done = t;
  done.mutable_task_id()->set_value("t0");
  done.set_state(TASK_FINISHED);
  f.completed_tasks.push_back(done);
  f.offers.insert("M-O0");
  s.frameworks.emplace(f.id, f);

  OfferRecord o;
  o.resources = res("cpus:2;mem:512");
  o.offer.mutable_id()->set_value("M-O0");
  o.offer.mutable_framework_id()->set_value("M-0000");
  o.offer.mutable_slave_id()->set_value("M-S0");
  o.offer.set_hostname("a1");
  o.offer.mutable_allocation_info()->set_role("*");
  o.resources.to_proto(o.offer.mutable_resources());
  s.offers.emplace("M-O0", o);
  return s;
}

void expect_keys(const picojson::value& v, std::initializer_list<const char*> keys) {
  ASSERT_TRUE(v.is<picojson::object>());
  for (const char* k : keys) {
    EXPECT_TRUE(v.contains(k)) << "missing key " << k << " in " << v.serialize();
  }
}

TEST(StateJson, TopLevelHasMesosKeys) {
  picojson::value v = state_json(sample_state());
  expect_keys(v, {"version", "build_date", "build_time", "build_user", "start_time", "id", "pid",
                  "hostname", "activated_slaves", "deactivated_slaves", "leader", "leader_info",
                  "flags", "slaves", "recovered_slaves", "frameworks", "completed_frameworks",
                  "orphan_tasks", "unregistered_frameworks"});
  EXPECT_EQ(v.get("pid").get<std::string>(), "master@127.0.0.1:5050");
  EXPECT_EQ(v.get("activated_slaves").get<double>(), 1.0);
  EXPECT_EQ(v.get("flags").get("allocation_interval").get<std::string>(), "1secs");
  // The real build time: after 2020, not in the future, and build_date says the same.
  double built = v.get("build_time").get<double>();
  EXPECT_GT(built, 1.6e9);
  EXPECT_LE(built, static_cast<double>(std::time(nullptr)));
  EXPECT_EQ(v.get("build_date").get<std::string>().size(), 19u) << v.get("build_date").get<std::string>();
}

TEST(StateJson, SlaveShapeWithResourceAccounting) {
  picojson::value v = state_json(sample_state());
  const picojson::value& slave = v.get("slaves").get<picojson::array>().at(0);
  expect_keys(slave, {"id", "hostname", "port", "attributes", "pid", "registered_time", "resources",
                      "used_resources", "offered_resources", "reserved_resources",
                      "unreserved_resources", "active", "deactivated", "version", "capabilities"});
  EXPECT_EQ(slave.get("resources").get("cpus").get<double>(), 5.0);
  EXPECT_EQ(slave.get("resources").get("ports").get<std::string>(), "[31000-32000]");
  EXPECT_EQ(slave.get("used_resources").get("cpus").get<double>(), 1.0);
  EXPECT_EQ(slave.get("offered_resources").get("mem").get<double>(), 512.0);
  EXPECT_EQ(slave.get("reserved_resources").get("web").get("cpus").get<double>(), 1.0);
  EXPECT_EQ(slave.get("unreserved_resources").get("cpus").get<double>(), 4.0);
  EXPECT_EQ(slave.get("attributes").get("rack").get<std::string>(), "r1");
  EXPECT_TRUE(slave.get("active").get<bool>());
}

TEST(StateJson, FrameworkTasksAndOffers) {
  picojson::value v = state_json(sample_state());
  const picojson::value& f = v.get("frameworks").get<picojson::array>().at(0);
  expect_keys(f, {"id", "name", "pid", "used_resources", "offered_resources", "capabilities",
                  "hostname", "webui_url", "active", "connected", "recovered", "user",
                  "failover_timeout", "checkpoint", "registered_time", "unregistered_time",
                  "resources", "roles", "tasks", "unreachable_tasks", "completed_tasks", "offers",
                  "executors"});
  const picojson::value& task = f.get("tasks").get<picojson::array>().at(0);
  expect_keys(task, {"id", "name", "framework_id", "executor_id", "slave_id", "state", "resources",
                     "role", "statuses"});
  EXPECT_EQ(task.get("state").get<std::string>(), "TASK_RUNNING");
  EXPECT_EQ(task.get("statuses").get<picojson::array>().at(0).get("timestamp").get<double>(), 101.0);
  EXPECT_EQ(f.get("completed_tasks").get<picojson::array>().at(0).get("state").get<std::string>(),
            "TASK_FINISHED");
  const picojson::value& offer = f.get("offers").get<picojson::array>().at(0);
  expect_keys(offer, {"id", "framework_id", "allocation_info", "slave_id", "resources"});
  EXPECT_EQ(f.get("resources").get("cpus").get<double>(), 3.0);  // used + offered
}

TEST(StateJson, SummaryCountsTasksByState) {
  picojson::value v = state_summary_json(sample_state());
  const picojson::value& slave = v.get("slaves").get<picojson::array>().at(0);
  EXPECT_EQ(slave.get("TASK_RUNNING").get<double>(), 1.0);
  const picojson::value& f = v.get("frameworks").get<picojson::array>().at(0);
  EXPECT_EQ(f.get("TASK_FINISHED").get<double>(), 1.0);
  EXPECT_EQ(f.get("slave_ids").get<picojson::array>().size(), 1u);
}

TEST(StateJson, TasksEndpointPagingAndErrors) {
  MasterState s = sample_state();
  std::string err;
  picojson::value all = tasks_json(s, {}, &err);
  ASSERT_TRUE(err.empty());
  EXPECT_EQ(all.get("tasks").get<picojson::array>().size(), 2u);
  picojson::value one = tasks_json(s, {{"limit", "1"}}, &err);
  EXPECT_EQ(one.get("tasks").get<picojson::array>().size(), 1u);
  picojson::value by_id = tasks_json(s, {{"task_id", "t0"}}, &err);
  EXPECT_EQ(by_id.get("tasks").get<picojson::array>().size(), 1u);
  tasks_json(s, {{"limit", "abc"}}, &err);
  EXPECT_NE(err.find("abc"), std::string::npos);
  err.clear();
  tasks_json(s, {{"order", "sideways"}}, &err);
  EXPECT_NE(err.find("sideways"), std::string::npos);
}

TEST(StateJson, SlavesAndFrameworksFilters) {
  MasterState s = sample_state();
  EXPECT_EQ(slaves_json(s, {{"slave_id", "nope"}}).get("slaves").get<picojson::array>().size(), 0u);
  EXPECT_EQ(slaves_json(s, {{"slave_id", "M-S0"}}).get("slaves").get<picojson::array>().size(), 1u);
  EXPECT_EQ(frameworks_json(s, {}).get("frameworks").get<picojson::array>().size(), 1u);
}

// The fields Mesos' tools read beside the plain accounting (issue #12).
TEST(StateJson, SlaveAllocatedSplitAndFullResources) {
  MasterState s = sample_state();
  // A task on the web reservation too: allocated splits into reserved and not.
  Task& t1 = s.frameworks.at("M-0000").tasks.edit("t1");
  t1.clear_resources();
  res("cpus:1;mem:128;cpus(web):0.5;ports:[31000-31001]").to_proto(t1.mutable_resources());
  const picojson::value state_slave = state_json(s).get("slaves").get<picojson::array>().at(0);
  EXPECT_EQ(state_slave.get("unreserved_resources_allocated").get("cpus").get<double>(), 1.0);
  EXPECT_EQ(state_slave.get("unreserved_resources_allocated").get("mem").get<double>(), 128.0);
  EXPECT_EQ(state_slave.get("reserved_resources_allocated").get("web").get("cpus").get<double>(), 0.5);
  EXPECT_FALSE(state_slave.contains("resources_full")) << "the *_full arrays are /master/slaves' only";

  const picojson::value slave = slaves_json(s, {}).get("slaves").get<picojson::array>().at(0);
  expect_keys(slave, {"reserved_resources_allocated", "unreserved_resources_allocated", "resources_full",
                      "used_resources_full", "offered_resources_full", "reserved_resources_full",
                      "unreserved_resources_full"});
  bool saw_ports = false;
  for (const picojson::value& r : slave.get("unreserved_resources_full").get<picojson::array>()) {
    EXPECT_EQ(r.get("role").get<std::string>(), "*");
    const std::string& name = r.get("name").get<std::string>();
    if (name == "cpus") {
      EXPECT_EQ(r.get("type").get<std::string>(), "SCALAR");
      EXPECT_EQ(r.get("scalar").get("value").get<double>(), 4.0);
    }
    if (name == "ports") {
      saw_ports = true;
      EXPECT_EQ(r.get("type").get<std::string>(), "RANGES");
      const picojson::value& range = r.get("ranges").get("range").get<picojson::array>().at(0);
      EXPECT_EQ(range.get("begin").get<double>(), 31000.0);
      EXPECT_EQ(range.get("end").get<double>(), 32000.0);
    }
  }
  EXPECT_TRUE(saw_ports) << slave.serialize();
  const picojson::value& web = slave.get("reserved_resources_full").get("web");
  ASSERT_EQ(web.get<picojson::array>().size(), 1u) << slave.serialize();
  EXPECT_EQ(web.get<picojson::array>()[0].get("role").get<std::string>(), "web");
  EXPECT_EQ(web.get<picojson::array>()[0].get("scalar").get("value").get<double>(), 1.0);
}

TEST(StateJson, TaskStatusesCarryReasonMessageAndSourceWhenSet) {
  MasterState s = sample_state();
  Task& t1 = s.frameworks.at("M-0000").tasks.edit("t1");
  TaskStatus* failed = t1.add_statuses();
  failed->mutable_task_id()->set_value("t1");
  failed->set_state(TASK_FAILED);
  failed->set_timestamp(102);
  failed->set_reason(TaskStatus::REASON_COMMAND_EXECUTOR_FAILED);
  failed->set_message("Command exited with status 3");
  failed->set_source(TaskStatus::SOURCE_EXECUTOR);
  std::string error;
  for (const picojson::value& v : {state_json(s), tasks_json(s, {}, &error)}) {
    const picojson::value* task = nullptr;
    const picojson::value& list = v.contains("tasks") ? v.get("tasks")
                                                       : v.get("frameworks").get<picojson::array>()[0].get("tasks");
    for (const picojson::value& t : list.get<picojson::array>()) {
      task = t.get("id").get<std::string>() == "t1" ? &t : task;
    }
    ASSERT_NE(task, nullptr) << v.serialize();
    const picojson::array& statuses = task->get("statuses").get<picojson::array>();
    ASSERT_EQ(statuses.size(), 2u);
    EXPECT_FALSE(statuses[0].contains("reason"));
    EXPECT_FALSE(statuses[0].contains("message"));
    EXPECT_FALSE(statuses[0].contains("source"));
    EXPECT_EQ(statuses[1].get("state").get<std::string>(), "TASK_FAILED");
    EXPECT_EQ(statuses[1].get("timestamp").get<double>(), 102.0);
    EXPECT_EQ(statuses[1].get("reason").get<std::string>(), "REASON_COMMAND_EXECUTOR_FAILED");
    EXPECT_EQ(statuses[1].get("message").get<std::string>(), "Command exited with status 3");
    EXPECT_EQ(statuses[1].get("source").get<std::string>(), "SOURCE_EXECUTOR");
  }
}

TEST(StateJson, QuotaEntriesHaveAnEmptyLimit) {
  picojson::value v = quota_json({{"web", res("cpus:2")}});
  const picojson::value& info = v.get("infos").get<picojson::array>().at(0);
  EXPECT_EQ(info.get("guarantee").get("cpus").get<double>(), 2.0);
  ASSERT_TRUE(info.contains("limit"));
  EXPECT_TRUE(info.get("limit").is<picojson::object>());
  EXPECT_TRUE(info.get("limit").get<picojson::object>().empty());
}

// The streamed writers (what the master serves since #17) write the bytes
// of the picojson trees, on a state using every optional field of a task.
TEST(StateJson, StreamedWritersMatchTheTreesByteForByte) {
  MasterState s = sample_state();
  FrameworkRecord& f = s.frameworks.at("M-0000");
  Task rich = f.tasks.at("t1");
  rich.mutable_task_id()->set_value("t2");
  rich.set_user("alice \"quoted\"\n");
  rich.set_role("web");
  rich.mutable_executor_id()->set_value("e1");
  Label* label = rich.mutable_labels()->add_labels();
  label->set_key("k");
  label->set_value("v\u00e9");
  rich.mutable_labels()->add_labels()->set_key("no-value");
  rich.mutable_container()->set_type(ContainerInfo::DOCKER);
  rich.mutable_container()->mutable_docker()->set_image("nginx");
  TaskStatus* st = rich.add_statuses();
  st->mutable_task_id()->set_value("t2");
  st->set_state(TASK_FAILED);
  st->set_timestamp(102.25);
  st->set_reason(TaskStatus::REASON_COMMAND_EXECUTOR_FAILED);
  st->set_message("exit 1");
  st->set_source(TaskStatus::SOURCE_EXECUTOR);
  st->set_healthy(false);
  st->mutable_container_status()->mutable_container_id()->set_value("c1");
  f.tasks.insert_or_assign("t2", rich);
  rich.mutable_task_id()->set_value("t3");
  f.unreachable_tasks.insert_or_assign("t3", rich);
  f.info.mutable_labels()->add_labels()->set_key("team");
  FrameworkRecord gone = f;
  gone.id = "M-0001";
  gone.active = false;
  s.completed_frameworks.push_back(gone);
  s.cluster = "c1";

  std::string streamed;
  write_state(s, &streamed);
  EXPECT_EQ(streamed, json_serialize(state_json(s)));

  for (const std::map<std::string, std::string>& query :
       {std::map<std::string, std::string>{}, {{"framework_id", "M-0001"}}, {{"framework_id", "none"}}}) {
    std::string frameworks;
    write_frameworks(s, query, &frameworks);
    EXPECT_EQ(frameworks, json_serialize(frameworks_json(s, query)));
  }
}

// The gauges' fast sum gives the scalars of the full parse, terminal tasks
// and reservations included.
TEST(StateJson, UsedScalarsAreTheScalarsOfUsedResources) {
  MasterState s = sample_state();
  FrameworkRecord& f = s.frameworks.at("M-0000");
  SlaveRecord& slave = s.slaves.edit("M-S0");
  for (int i = 2; i < 40; ++i) {
    Task t = f.tasks.at("t1");
    std::string id = "t" + std::to_string(i);
    t.mutable_task_id()->set_value(id);
    t.clear_resources();
    res(i % 3 == 0 ? "cpus(web):0.3;mem:10.5;disk:1" : "cpus:0.1;mem:33;gpus:1").to_proto(t.mutable_resources());
    if (i % 5 == 0) {
      t.set_state(TASK_FINISHED);
    }
    f.tasks.insert_or_assign(id, t);
    slave.tasks.insert({"M-0000", id});
  }
  Resources full = used_resources(s, slave);
  Resources fast = used_scalars(s, slave);
  for (const char* name : {"cpus", "mem", "disk", "gpus", "ports"}) {
    EXPECT_EQ(fast.scalar(name), full.scalar(name)) << name;
  }
  EXPECT_GT(fast.scalar("cpus"), 1.0);
}

}  // namespace
}  // namespace stoa::master
