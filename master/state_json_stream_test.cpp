// The streamed writers (state_json_stream.cpp) against the picojson trees
// (state_json.cpp), byte for byte, on a state that uses every kind of field
// the writers take a fast path for.
#include "master/state_json.hpp"
#include "common/json.hpp"
#include "master/state_json_writer.hpp"
#include "master/state_serving.hpp"

#include <gtest/gtest.h>

namespace stoa::master {
namespace {

Resources parsed_resources(const char* text) { return *Resources::parse(text); }

Task rich_task(const std::string& fid, const std::string& sid, int n) {
  Task t;
  std::string id = "task-" + std::to_string(n);
  t.set_name(n % 7 == 0 ? "caf\u00e9 \"quoted\" \\ back\tslash\x01\x1f" : "web-" + std::to_string(n));
  t.mutable_task_id()->set_value(n % 11 == 0 ? id + "\n" : id);
  t.mutable_framework_id()->set_value(fid);
  t.mutable_slave_id()->set_value(sid);
  if (n % 3 == 0) {
    t.mutable_executor_id()->set_value("exec-" + std::to_string(n));
  }
  t.set_state(n % 5 == 0 ? TASK_FINISHED : (n % 5 == 1 ? TASK_STAGING : TASK_RUNNING));
  const char* shapes[] = {"cpus:0.1;mem:32", "cpus:0.25;mem:64;ports:[31000-31001, 31005]",
                          "cpus(web):1;mem(web):128;disks:{a,b}", "cpus:0.1;mem:32;gpus:1"};
  parsed_resources(shapes[n % 4]).to_proto(t.mutable_resources());
  if (n % 13 == 0) {
    // Invalid: renders as the empty resources, as task_resources() does.
    Resource* bad = t.add_resources();
    bad->set_name("cpus");
    bad->set_type(Value::SCALAR);
    bad->mutable_scalar()->set_value(-1);
  }
  if (n % 4 == 2) {
    t.mutable_resources(0)->mutable_allocation_info()->set_role("web");
    t.set_role("web");
  }
  if (n % 2 == 0) {
    Label* l = t.mutable_labels()->add_labels();
    l->set_key("HAPROXY_0_VHOST");
    l->set_value("app.example.com\u2603\x02");
    t.mutable_labels()->add_labels()->set_key("no-value");
  }
  if (n % 6 == 0) {
    t.set_user("u\u00fcser");
  }
  if (n % 9 == 0) {
    t.mutable_container()->set_type(ContainerInfo::DOCKER);
    t.mutable_container()->mutable_docker()->set_image("nginx:1.25");
  }
  TaskState states[] = {TASK_STAGING, TASK_STARTING, TASK_RUNNING, TASK_FAILED};
  for (int i = 0; i < 1 + n % 4; ++i) {
    TaskStatus* st = t.add_statuses();
    st->mutable_task_id()->set_value(id);
    st->set_state(states[i]);
    st->set_timestamp(1.7e9 + n + i * 0.125);
    if (i % 2 == 1) {
      st->set_source(TaskStatus::SOURCE_EXECUTOR);
      st->set_healthy(n % 2 == 0);
    }
    if (i == 3) {
      st->set_reason(TaskStatus::REASON_COMMAND_EXECUTOR_FAILED);
      st->set_message("exit 1\r\n\"x\"");
      st->mutable_container_status()->mutable_container_id()->set_value("c-" + std::to_string(n));
    }
    if (i == 2 && n % 5 == 3) {
      st->mutable_container_id()->set_value("only-id");
      st->set_message("");
    }
  }
  return t;
}

MasterState rich_state() {
  MasterState s;
  s.info.set_id("M");
  s.info.set_port(5050);
  s.info.set_pid("master@127.0.0.1:5050");
  s.info.set_hostname("m\u00e9");
  s.cluster = "c\x03";
  s.flags["work_dir"] = "/tmp/\"w\"";
  for (int i = 0; i < 5; ++i) {
    SlaveRecord sl;
    sl.id = "M-S" + std::to_string(i);
    sl.info.set_hostname(i == 4 ? "h\u00f6st\x7f" : "host-" + std::to_string(i));
    sl.info.set_port(5051 + i);
    Attribute* a = sl.info.add_attributes();
    a->set_name("rack");
    a->set_type(Value::TEXT);
    a->mutable_text()->set_value("r" + std::to_string(i % 2));
    sl.pid = "slave(" + std::to_string(i) + ")@127.0.0.1:5051";
    sl.total = parsed_resources(i % 2 == 0 ? "cpus:8;mem:4096;ports:[31000-32000];cpus(web):2;disks:{a,b,c}"
                                           : "cpus:4;mem:1024;gpus:2");
    sl.active = i != 3;
    sl.registered_time = 100 + i;
    sl.reregistered_time = i == 2 ? 150.5 : 0;
    s.slaves.emplace(sl.id, sl);
    s.tally.slaves_active += sl.active ? 1 : 0;
  }
  // A slave's record of tasks that do not exist: counted nowhere.
  s.slaves.edit("M-S1").tasks.insert({"M-none", "x"});
  s.slaves.edit("M-S1").tasks.insert({"M-0", "missing"});
  for (int fi = 0; fi < 2; ++fi) {
    FrameworkRecord f;
    f.id = "M-" + std::to_string(fi);
    f.info.set_name("fw\u00e9-" + std::to_string(fi));
    f.info.set_user("root");
    f.roles = {fi == 0 ? "*" : "web"};
    f.pid = "scheduler-" + std::to_string(fi) + "@127.0.0.1:4000";
    f.registered_time = 90;
    f.reregistered_time = fi == 1 ? 95 : 90;
    for (int n = fi; n < 120; n += 2) {
      std::string sid = "M-S" + std::to_string(n % 6);  // M-S5 does not exist
      Task t = rich_task(f.id, sid, n);
      if (n % 10 == 8) {
        f.unreachable_tasks.insert_or_assign(t.task_id().value(), t);
      } else if (n > 90) {
        f.completed_tasks.push_back(t);
      } else {
        if (s.slaves.count(sid) > 0) {
          s.slaves.edit(sid).tasks.insert({f.id, t.task_id().value()});
        }
        f.tasks.insert_or_assign(t.task_id().value(), t);
      }
    }
    s.frameworks.emplace(f.id, f);
  }
  OfferRecord o;
  o.resources = parsed_resources("cpus:2;mem:512;ports:[31500-31600]");
  o.offer.mutable_id()->set_value("M-O0");
  o.offer.mutable_framework_id()->set_value("M-0");
  o.offer.mutable_slave_id()->set_value("M-S0");
  o.offer.set_hostname("host-0");
  o.offer.mutable_allocation_info()->set_role("*");
  o.resources.to_proto(o.offer.mutable_resources());
  s.offers.emplace("M-O0", o);
  s.slaves.at("M-S0").offers.insert("M-O0");
  s.frameworks.at("M-0").offers.insert("M-O0");
  FrameworkRecord gone = s.frameworks.at("M-1");
  gone.id = "M-2";
  gone.active = false;
  gone.connected = false;
  s.completed_frameworks.push_back(gone);
  return s;
}

TEST(StateJsonStream, EveryFieldKindIsTheTreesBytes) {
  MasterState s = rich_state();
  std::string streamed;
  write_state(s, &streamed);
  std::string tree = json_serialize(state_json(s));
  ASSERT_EQ(streamed.size(), tree.size());
  EXPECT_EQ(streamed, tree);
  // The fixture really has what the fast paths skip or escape.
  EXPECT_NE(tree.find("\\u0001"), std::string::npos);
  EXPECT_NE(tree.find("\\r\\n"), std::string::npos);
  EXPECT_NE(tree.find("\u2603"), std::string::npos);
  EXPECT_NE(tree.find("\"ports\":\"[31000-31001, 31005-31005]\""), std::string::npos);
  EXPECT_NE(tree.find("\"reason\":\"REASON_COMMAND_EXECUTOR_FAILED\""), std::string::npos);
  EXPECT_NE(tree.find("\"healthy\":false"), std::string::npos);
  EXPECT_NE(tree.find("\"disks\":\"{a,b}\""), std::string::npos);
  EXPECT_NE(tree.find("\"container_status\""), std::string::npos);

  for (const std::map<std::string, std::string>& query :
       {std::map<std::string, std::string>{}, {{"framework_id", "M-1"}}, {{"framework_id", "M-2"}}}) {
    std::string frameworks;
    write_frameworks(s, query, &frameworks);
    EXPECT_EQ(frameworks, json_serialize(frameworks_json(s, query)));
  }
}

// Appending to a non-empty string keeps what was there; an empty state
// renders as the tree does.
TEST(StateJsonStream, AppendsAfterWhatTheStringHolds) {
  MasterState empty;
  std::string out = "prefix:";
  write_state(empty, &out);
  EXPECT_EQ(out, "prefix:" + json_serialize(state_json(empty)));
}

// rich_state() with `tasks` more running tasks in framework M-0.
MasterState many_task_state(int tasks) {
  MasterState s = rich_state();
  FrameworkRecord& f = s.frameworks.at("M-0");
  for (int n = 0; n < tasks; ++n) {
    std::string sid = "M-S" + std::to_string(n % 6);
    Task t = rich_task(f.id, sid, 1000 + n);
    t.mutable_task_id()->set_value("bulk-" + std::to_string(n));
    t.set_state(TASK_RUNNING);
    if (s.slaves.count(sid) > 0) {
      s.slaves.edit(sid).tasks.insert({f.id, t.task_id().value()});
    }
    f.tasks.insert_or_assign(t.task_id().value(), t);
  }
  return s;
}

// The pipe of a render child, recorded instead of written.
class RecordedPipe final : public BodyPipe {
 public:
  void expect(size_t bytes) override { expected = bytes; }
  void write(std::string_view bytes) override { parts.emplace_back(bytes); }
  size_t expected = 0;
  std::vector<std::string> parts;
};

// Through a pipe, write_state hands the body over in parts as it renders,
// keeps only the tail in its string, and the parts and the tail are the
// tree's bytes; write_frameworks too. Through a forked child, the same.
TEST(StateJsonStream, ThroughAPipeInPartsTheBytesAreTheTrees) {
  using state_json_detail::JsonBuffer;
  MasterState s = many_task_state(12000);
  std::string tree = json_serialize(state_json(s));
  ASSERT_GT(tree.size(), 4 * JsonBuffer::PIPE_CHUNK);

  RecordedPipe pipe;
  std::string tail;
  {
    ScopedBodyPipe scoped(&pipe);
    write_state(s, &tail);
  }
  EXPECT_EQ(current_body_pipe(), nullptr);
  EXPECT_GE(pipe.parts.size(), 4u);
  EXPECT_GE(pipe.expected, tree.size() / 2);
  EXPECT_LE(tail.capacity(), 2 * JsonBuffer::PIPE_CHUNK);
  std::string joined;
  for (const std::string& part : pipe.parts) {
    EXPECT_LE(part.size(), JsonBuffer::PIPE_CHUNK);
    joined += part;
  }
  joined += tail;
  ASSERT_EQ(joined.size(), tree.size());
  EXPECT_TRUE(joined == tree);

  RecordedPipe frameworks_pipe;
  std::string frameworks_tail;
  {
    ScopedBodyPipe scoped(&frameworks_pipe);
    write_frameworks(s, {}, &frameworks_tail);
  }
  std::string frameworks;
  for (const std::string& part : frameworks_pipe.parts) {
    frameworks += part;
  }
  EXPECT_GE(frameworks_pipe.parts.size(), 3u);
  EXPECT_TRUE(frameworks + frameworks_tail == json_serialize(frameworks_json(s, {})));

  Try<ForkedRender> child = fork_render([&s](std::string* body) {
    write_state(s, body);
    return 200;
  });
  ASSERT_TRUE(child.is_some()) << child.error();
  Try<RenderedView> view = collect_render(*child, std::chrono::seconds(60));
  ASSERT_TRUE(view.is_some()) << view.error();
  EXPECT_EQ(view->status, 200);
  ASSERT_EQ(view->body.size(), tree.size());
  EXPECT_TRUE(view->body == tree);
}

}  // namespace
}  // namespace stoa::master
