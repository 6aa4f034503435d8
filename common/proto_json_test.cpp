#include "common/proto_json.hpp"

#include <cmath>
#include <limits>

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "proto/executor.pb.h"

namespace stoa {
namespace {

using google::protobuf::util::MessageDifferencer;

// A LAUNCH event with a field of every kind the executor API carries.
executor::Event launch_event() {
  executor::Event ev;
  ev.set_type(executor::Event::LAUNCH);
  TaskInfo& t = *ev.mutable_launch()->mutable_task();
  t.set_name("web \"1\"\n\x01ü");
  t.mutable_task_id()->set_value("t-1");
  t.mutable_slave_id()->set_value("S0");
  Resource& cpus = *t.add_resources();
  cpus.set_name("cpus");
  cpus.set_type(Value::SCALAR);
  cpus.mutable_scalar()->set_value(0.1);
  Resource& ports = *t.add_resources();
  ports.set_name("ports");
  ports.set_type(Value::RANGES);
  Value::Range& r = *ports.mutable_ranges()->add_range();
  r.set_begin(31000);
  r.set_end(18446744073709551615ull);  // beyond a double's exact integers
  t.mutable_command()->set_value("echo hi");
  Environment::Variable& var = *t.mutable_command()->mutable_environment()->add_variables();
  var.set_name("A");
  var.set_value("b");
  t.set_data(std::string("\0\xff\x10 bytes", 9));
  Label& l = *t.mutable_labels()->add_labels();
  l.set_key("k");
  HealthCheck& hc = *t.mutable_health_check();
  hc.mutable_http()->set_port(8080);
  hc.mutable_http()->add_statuses(200);
  hc.mutable_http()->add_statuses(204);
  hc.set_interval_seconds(2.5);
  t.mutable_kill_policy()->mutable_grace_period()->set_nanoseconds(-9007199254740993);  // -(2^53 + 1)
  return ev;
}

executor::Call update_call() {
  executor::Call c;
  c.set_type(executor::Call::UPDATE);
  c.mutable_framework_id()->set_value("F1");
  c.mutable_executor_id()->set_value("e1");
  TaskStatus& s = *c.mutable_update()->mutable_status();
  s.mutable_task_id()->set_value("t-1");
  s.set_state(TASK_RUNNING);
  s.set_source(TaskStatus::SOURCE_EXECUTOR);
  s.set_uuid(std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\xff", 16));
  s.set_timestamp(1764840000.123456);
  s.set_healthy(false);
  return c;
}

std::string util_json(const google::protobuf::Message& m, bool proto_names) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = proto_names;
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &out, opts).ok());
  return out;
}

template <class M>
M parsed(const std::string& json) {
  M m;
  Try<bool> ok = proto_from_json(json, &m);
  EXPECT_TRUE(ok) << ok.error() << " in " << json;
  return m;
}

TEST(ProtoJson, WhatItWritesReadsBackTheSameAndProtobufAgrees) {
  const executor::Event ev = launch_event();
  const executor::Call call = update_call();
  for (const google::protobuf::Message* m : std::initializer_list<const google::protobuf::Message*>{&ev, &call}) {
    const std::string ours = proto_to_json(*m);
    std::unique_ptr<google::protobuf::Message> back(m->New());
    Try<bool> ok = proto_from_json(ours, back.get());
    ASSERT_TRUE(ok) << ok.error();
    EXPECT_TRUE(MessageDifferencer::Equals(*m, *back)) << ours;
    // protobuf's own parser reads ours as the same message...
    std::unique_ptr<google::protobuf::Message> theirs(m->New());
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ours, theirs.get()).ok()) << ours;
    EXPECT_TRUE(MessageDifferencer::Equals(*m, *theirs)) << ours;
    // ...and we read what protobuf writes, with proto or JSON field names.
    for (bool proto_names : {true, false}) {
      std::unique_ptr<google::protobuf::Message> from_util(m->New());
      ok = proto_from_json(util_json(*m, proto_names), from_util.get());
      ASSERT_TRUE(ok) << ok.error();
      EXPECT_TRUE(MessageDifferencer::Equals(*m, *from_util)) << util_json(*m, proto_names);
    }
  }
}

TEST(ProtoJson, WritesProtobufsMappingWithProtoFieldNames) {
  const std::string json = proto_to_json(update_call());
  EXPECT_EQ(json,
            R"({"executor_id":{"value":"e1"},"framework_id":{"value":"F1"},"type":"UPDATE","update":{"status":{)"
            R"("task_id":{"value":"t-1"},"state":"TASK_RUNNING","timestamp":1764840000.123456,"healthy":false,)"
            R"("source":"SOURCE_EXECUTOR","uuid":"AAECAwQFBgcICQoLDA0O/w=="}}})")
      << "(fields in number order, as protobuf writes them)";
  const std::string launch = proto_to_json(launch_event());
  EXPECT_NE(launch.find(R"("end":"18446744073709551615")"), std::string::npos) << launch;  // 64-bit: strings
  EXPECT_NE(launch.find(R"("nanoseconds":"-9007199254740993")"), std::string::npos) << launch;
  EXPECT_NE(launch.find(R"("statuses":[200,204])"), std::string::npos) << launch;
  EXPECT_NE(launch.find(R"("name":"web \"1\"\n\u0001ü")"), std::string::npos) << launch;
  EXPECT_EQ(proto_to_json(executor::Event()), "{}");
}

TEST(ProtoJson, NonFiniteNumbersAreStrings) {
  Value::Scalar v;
  v.set_value(std::numeric_limits<double>::infinity());
  EXPECT_EQ(proto_to_json(v), R"({"value":"Infinity"})");
  EXPECT_EQ(parsed<Value::Scalar>(proto_to_json(v)).value(), std::numeric_limits<double>::infinity());
  v.set_value(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(proto_to_json(v), R"({"value":"-Infinity"})");
  v.set_value(std::nan(""));
  EXPECT_EQ(proto_to_json(v), R"({"value":"NaN"})");
  EXPECT_TRUE(std::isnan(parsed<Value::Scalar>(R"({"value":"NaN"})").value()));
}

TEST(ProtoJson, ReadsWhatProtobufsParserAccepts) {
  // JSON names, integers as strings, enums by number, URL-safe base64 without
  // padding, null as unset, unknown keys ignored.
  const auto c = parsed<executor::Call>(
      R"({"type":2,"frameworkId":{"value":"F"},"executor_id":{"value":"e","extra":1},"unknown":[1,{"x":2}],)"
      R"("message":null,"update":{"status":{"taskId":{"value":"t"},"state":"TASK_FAILED","uuid":"AAECAwQFBgcICQoLDA0O_w",)"
      R"("timestamp":"12.5","healthy":true}}})");
  EXPECT_EQ(c.type(), executor::Call::UPDATE);
  EXPECT_EQ(c.framework_id().value(), "F");
  EXPECT_EQ(c.executor_id().value(), "e");
  EXPECT_FALSE(c.has_message());
  EXPECT_EQ(c.update().status().state(), TASK_FAILED);
  EXPECT_EQ(c.update().status().uuid().size(), 16u);
  EXPECT_EQ(static_cast<unsigned char>(c.update().status().uuid()[15]), 0xffu);
  EXPECT_EQ(c.update().status().timestamp(), 12.5);
  EXPECT_TRUE(c.update().status().healthy());
  const auto r = parsed<Value::Range>(R"({"begin":"18446744073709551615","end":31000})");
  EXPECT_EQ(r.begin(), 18446744073709551615ull);
  EXPECT_EQ(r.end(), 31000u);
  EXPECT_EQ(parsed<Value::Range>(R"({"begin":3.0,"end":1e3})").end(), 1000u);  // integral numbers
}

TEST(ProtoJson, BadValuesAreErrorsNamingTheFieldAndTheValue) {
  struct Case {
    std::string json;
    std::string says;
  };
  const std::vector<Case> cases = {
      {R"({"type":"UPDATE","update":{"status":{"state":"TASK_BOGUS"}}})", "'update.status.state' must be one of"},
      {R"({"type":"UPDATE","update":{"status":{"state":"TASK_BOGUS"}}})", "not \"TASK_BOGUS\""},
      {R"({"type":42})", "'type' must be one of UNKNOWN, SUBSCRIBE"},
      {R"({"type":true})", "'type' must be one of"},
      {R"({"framework_id":"F"})", "'framework_id' must be an object, not \"F\""},
      {R"({"framework_id":{"value":7}})", "'framework_id.value' must be a string, not 7"},
      {R"({"update":{"status":{"uuid":"a!b="}}})", "'update.status.uuid' must be base64: invalid base64 character '!'"},
      {R"({"update":{"status":{"healthy":"yes"}}})", "'update.status.healthy' must be true or false"},
      {R"({"update":{"status":{"timestamp":"soon"}}})", "'update.status.timestamp' must be a number, not \"soon\""},
      {R"({"subscribe":{"unacknowledged_tasks":{}}})", "'subscribe.unacknowledged_tasks' must be an array"},
      {R"({"subscribe":{"unacknowledged_tasks":[null]}})", "'subscribe.unacknowledged_tasks[0]' must be a value"},
      {R"({"subscribe":{"unacknowledged_tasks":[{"name":"a"},{"name":1}]}})",
       "'subscribe.unacknowledged_tasks[1].name' must be a string"},
      {R"([1])", "'the body' must be an object, not [1]"},
      {R"({"type":)", "unexpected end of JSON"},
  };
  for (const Case& c : cases) {
    executor::Call call;
    Try<bool> ok = proto_from_json(c.json, &call);
    ASSERT_TRUE(ok.is_error()) << c.json;
    EXPECT_NE(ok.error().find(c.says), std::string::npos) << c.json << " -> " << ok.error();
  }
  const std::vector<Case> ranges = {
      {R"({"begin":-1,"end":1})", "'begin' must be an unsigned 64-bit integer, not -1"},
      {R"({"begin":1.5,"end":1})", "not 1.5"},
      {R"({"begin":"18446744073709551616","end":1})", "'begin' must be an unsigned 64-bit integer"},
      {R"({"begin":"12x","end":1})", "not \"12x\""},
      {R"({"begin":18446744073709551616,"end":1})", "'begin' must be an unsigned 64-bit integer"},
  };
  for (const Case& c : ranges) {
    Value::Range r;
    Try<bool> ok = proto_from_json(c.json, &r);
    ASSERT_TRUE(ok.is_error()) << c.json;
    EXPECT_NE(ok.error().find(c.says), std::string::npos) << c.json << " -> " << ok.error();
  }
  HealthCheck::HTTPCheckInfo http;
  Try<bool> ok = proto_from_json(R"({"port":4294967296})", &http);
  ASSERT_TRUE(ok.is_error());
  EXPECT_NE(ok.error().find("'port' must be an unsigned 32-bit integer, not 4294967296"), std::string::npos)
      << ok.error();
}

}  // namespace
}  // namespace stoa
