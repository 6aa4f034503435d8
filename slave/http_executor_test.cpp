// stoa-http-executor's pure parts (slave/http_executor.hpp) and base64
// (common/base64.hpp): framing, HTTP responses, calls and events, the
// environment, and the executor's state machine driven without sockets,
// processes or a clock.
#include "slave/http_executor.hpp"
#include "slave/http_executor_io.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <map>

#include <gtest/gtest.h>

#include "common/base64.hpp"
#include "common/json.hpp"

// Named after the file: a unity build batches test files.
namespace http_executor_test {
namespace {

using namespace stoa;
using namespace stoa::http_executor;

// --- Base64. ---

TEST(Base64, EncodesTheRfcVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xfb\xff", 2)), "+/8=");
}

TEST(Base64, RoundTripsEveryLengthAndByte) {
  for (size_t n = 0; n <= 20; ++n) {
    for (int start = 0; start < 256; start += 37) {
      std::string bytes;
      for (size_t i = 0; i < n; ++i) {
        bytes += static_cast<char>((start + static_cast<int>(i) * 101) & 0xff);
      }
      const std::string text = base64_encode(bytes);
      EXPECT_EQ(text.size() % 4, 0u);
      Try<std::string> back = base64_decode(text);
      ASSERT_TRUE(back.is_some()) << text << ": " << back.error();
      EXPECT_EQ(*back, bytes) << text;
    }
  }
}

TEST(Base64, AcceptsMissingPadding) {
  EXPECT_EQ(*base64_decode("Zg"), "f");
  EXPECT_EQ(*base64_decode("Zm8"), "fo");
  EXPECT_EQ(*base64_decode(""), "");
}

TEST(Base64, RefusesBadInputNamingIt) {
  Try<std::string> bad = base64_decode("Zm9v!mFy");
  ASSERT_TRUE(bad.is_error());
  EXPECT_EQ(bad.error(), "invalid base64 character '!' at position 4");
  EXPECT_EQ(base64_decode("Zm9v\nYmFy").error(), "invalid base64 character byte 0x0a at position 4");
  EXPECT_EQ(base64_decode("Zm=vYmFy").error(), "base64 padding '=' at position 2 is not at the end");
  EXPECT_EQ(base64_decode("Z===").error(), "base64 padding '=' at position 1 is not at the end");
  EXPECT_EQ(base64_decode("Zm9vY").error(), "base64 text of 5 characters is truncated");
  EXPECT_EQ(base64_decode("Zg=").error(), "base64 text of 3 characters with padding is not a multiple of 4");
  EXPECT_EQ(base64_decode("Zm9=").is_some(), true);
  EXPECT_EQ(base64_decode("Zm9vZ===").error(), "base64 padding '=' at position 5 is not at the end");
}

// --- RecordIO. ---

TEST(HttpExecutorRecordIo, DecodesEverySplit) {
  const std::vector<std::string> records = {"{\"type\":\"HEARTBEAT\"}", "", "12\n34", std::string(300, 'x')};
  std::string stream;
  for (const std::string& r : records) {
    stream += recordio_encode(r);
  }
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    RecordIoDecoder d;
    std::vector<std::string> got;
    for (std::string_view part : {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
      Try<std::vector<std::string>> out = d.feed(part);
      ASSERT_TRUE(out.is_some()) << out.error();
      got.insert(got.end(), out->begin(), out->end());
    }
    EXPECT_EQ(got, records) << "cut at " << cut;
    EXPECT_EQ(d.buffered(), 0u);
  }
  RecordIoDecoder bytewise;
  std::vector<std::string> got;
  for (char c : stream) {
    Try<std::vector<std::string>> out = bytewise.feed(std::string_view(&c, 1));
    ASSERT_TRUE(out.is_some());
    got.insert(got.end(), out->begin(), out->end());
  }
  EXPECT_EQ(got, records);
}

TEST(HttpExecutorRecordIo, RefusesBadLengths) {
  RecordIoDecoder letters;
  Try<std::vector<std::string>> bad = letters.feed("12a\n");
  ASSERT_TRUE(bad.is_error());
  EXPECT_EQ(bad.error(), "RecordIO record length has 'a' after '12' (expected decimal digits)");
  // Final: even good input fails after that.
  EXPECT_TRUE(letters.feed("2\nab").is_error());

  RecordIoDecoder empty;
  EXPECT_EQ(empty.feed("\n").error(), "RecordIO record length is empty");

  RecordIoDecoder negative;
  EXPECT_TRUE(negative.feed("-1\n").is_error());

  RecordIoDecoder limit;
  EXPECT_TRUE(limit.feed(std::to_string(MAX_RECORD_SIZE) + "\n").is_some());
  RecordIoDecoder over;
  EXPECT_EQ(over.feed(std::to_string(MAX_RECORD_SIZE + 1) + "\n").error(),
            "RecordIO record length 16777217 is over the limit of 16777216 bytes");
  // An endless length fails as soon as it is too long, without its newline.
  RecordIoDecoder endless;
  Try<std::vector<std::string>> e = endless.feed("999999999999");
  ASSERT_TRUE(e.is_error());
  EXPECT_NE(e.error().find("is over the limit"), std::string::npos) << e.error();
}

// --- HTTP responses. ---

// Feeds `text` in two parts cut at `cut`; returns the parser.
ResponseParser parse_split(const std::string& text, size_t cut, size_t* used_total = nullptr) {
  ResponseParser p;
  size_t total = 0;
  for (std::string_view part : {std::string_view(text).substr(0, cut), std::string_view(text).substr(cut)}) {
    Try<size_t> used = p.feed(part);
    EXPECT_TRUE(used.is_some()) << used.error();
    total += used.is_some() ? *used : 0;
    if (p.complete()) {
      break;
    }
  }
  if (used_total != nullptr) {
    *used_total = total;
  }
  return p;
}

TEST(HttpExecutorHttp, ParsesAContentLengthResponseAtEverySplit) {
  const std::string text =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\ncontent-length: 17\r\n\r\n"
      "{\"message\":\"no\"}\n";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    ResponseParser p = parse_split(text, cut);
    ASSERT_TRUE(p.complete()) << cut;
    EXPECT_EQ(p.head().status, 400);
    EXPECT_EQ(p.head().reason, "Bad Request");
    EXPECT_EQ(p.head().headers.at("content-type"), "application/json");
    EXPECT_EQ(p.head().body, ResponseHead::Body::LENGTH);
    EXPECT_TRUE(p.head().keep_alive);
    EXPECT_EQ(p.body(), "{\"message\":\"no\"}\n");
  }
}

TEST(HttpExecutorHttp, ParsesAChunkedResponseAtEverySplit) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    ResponseParser p = parse_split(text, cut);
    ASSERT_TRUE(p.complete()) << cut;
    EXPECT_EQ(p.head().body, ResponseHead::Body::CHUNKED);
    EXPECT_EQ(p.body(), "hello, chunked!");
  }
}

TEST(HttpExecutorHttp, ReadsUntilCloseWithoutLength) {
  // The slave's event stream: 200, no Content-Length, Connection: close.
  ResponseParser p;
  ASSERT_TRUE(p.feed("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n3\nabc").is_some());
  ASSERT_TRUE(p.head_done());
  EXPECT_EQ(p.head().body, ResponseHead::Body::UNTIL_CLOSE);
  EXPECT_FALSE(p.head().keep_alive);
  EXPECT_FALSE(p.complete());
  EXPECT_EQ(p.body(), "3\nabc");
  p.body().clear();
  ASSERT_TRUE(p.feed("1\nd").is_some());
  EXPECT_EQ(p.body(), "1\nd");
  EXPECT_FALSE(p.finish().has_value());
  EXPECT_TRUE(p.complete());
}

TEST(HttpExecutorHttp, StopsAtTheEndOfAResponseForTheNext) {
  const std::string two = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n";
  ResponseParser p;
  Try<size_t> used = p.feed(two);
  ASSERT_TRUE(used.is_some());
  EXPECT_EQ(*used, two.size() / 2);
  EXPECT_TRUE(p.complete());
  EXPECT_EQ(p.head().status, 202);
  p.reset();
  EXPECT_EQ(*p.feed(std::string_view(two).substr(*used)), two.size() / 2);
  EXPECT_TRUE(p.complete());
}

TEST(HttpExecutorHttp, SkipsInterimResponsesAndHonoursConnectionClose) {
  ResponseParser p;
  ASSERT_TRUE(p.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 202 Accepted\r\nContent-Length: 0\r\n\r\n").is_some());
  ASSERT_TRUE(p.complete());
  EXPECT_EQ(p.head().status, 202);
  EXPECT_FALSE(p.head().keep_alive);  // HTTP/1.0
  ResponseParser q;
  ASSERT_TRUE(q.feed("HTTP/1.1 202 Accepted\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n").is_some());
  EXPECT_FALSE(q.head().keep_alive);
}

TEST(HttpExecutorHttp, RefusesMalformedResponsesQuotingThem) {
  EXPECT_EQ(ResponseParser().feed("HTTP/1.1 OK\r\n\r\n").error(), "malformed HTTP status line 'HTTP/1.1 OK'");
  EXPECT_EQ(ResponseParser().feed("SSH-2.0-OpenSSH\r\n\r\n").error(), "malformed HTTP status line 'SSH-2.0-OpenSSH'");
  EXPECT_EQ(ResponseParser().feed("HTTP/1.1 200 OK\r\nno colon\r\n\r\n").error(),
            "malformed HTTP header line 'no colon'");
  EXPECT_EQ(ResponseParser().feed("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n").error(),
            "HTTP Content-Length '1x' is not a number");
  EXPECT_EQ(ResponseParser().feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").error(),
            "HTTP chunk size 'zz' is not hexadecimal");
  EXPECT_EQ(ResponseParser().feed("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n").error(),
            "HTTP chunk not followed by CRLF but by 'b'");
  Try<size_t> huge = ResponseParser().feed(std::string(MAX_RESPONSE_HEAD + 10, 'x'));
  ASSERT_TRUE(huge.is_error());
  EXPECT_NE(huge.error().find("longer than 65536 bytes"), std::string::npos);
}

TEST(HttpExecutorHttp, FinishReportsACutResponse) {
  EXPECT_EQ(ResponseParser().finish()->message, "connection closed before a response");
  ResponseParser head;
  ASSERT_TRUE(head.feed("HTTP/1.1 200 OK\r\nConte").is_some());
  EXPECT_EQ(head.finish()->message, "connection closed in the middle of the response head");
  ResponseParser body;
  ASSERT_TRUE(body.feed("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").is_some());
  EXPECT_EQ(body.finish()->message, "connection closed in the middle of the response body");
}

TEST(HttpExecutorHttp, BuildsTheCallRequest) {
  EXPECT_EQ(http_post_call("10.0.0.1:5051", "{}"),
            "POST /api/v1/executor HTTP/1.1\r\nHost: 10.0.0.1:5051\r\nContent-Type: application/json\r\n"
            "Accept: application/json\r\nContent-Length: 2\r\n\r\n{}");
}

TEST(HttpExecutorHttp, BuildsThePoolRequest) {
  EXPECT_EQ(http_post_pool("10.0.0.1:5051", "tok", 42),
            "POST /stoa/executor/pool HTTP/1.1\r\nHost: 10.0.0.1:5051\r\nContent-Type: application/json\r\n"
            "Accept: application/json\r\nContent-Length: 24\r\n\r\n{\"pid\":42,\"token\":\"tok\"}");
}

// --- Events. ---

TEST(HttpExecutorEvents, ParsesALaunchWithDefaultsAndUnknownFields) {
  Try<Event> e = parse_event(R"({"type":"LAUNCH","launch":{"task":{
      "name":"web","task_id":{"value":"t1"},"slave_id":{"value":"S1"},"resources":[{"name":"cpus"}],
      "command":{"value":"sleep 10","environment":{"variables":[{"name":"A","value":"1"},{"name":"B"}]},
                 "future_field":{"x":1}},
      "kill_policy":{"grace_period":{"nanoseconds":"2500000000"}}},"extra":true},"unknown":[1,2]})");
  ASSERT_TRUE(e.is_some()) << e.error();
  EXPECT_EQ(e->type, Event::Type::LAUNCH);
  ASSERT_TRUE(e->task.has_value());
  const TaskSpec& t = *e->task;
  EXPECT_EQ(t.task_id, "t1");
  EXPECT_EQ(t.name, "web");
  ASSERT_TRUE(t.command.has_value());
  EXPECT_TRUE(t.command->shell);  // absent means true
  EXPECT_EQ(t.command->value, "sleep 10");
  EXPECT_TRUE(t.command->arguments.empty());
  ASSERT_EQ(t.command->environment.size(), 2u);
  EXPECT_EQ(t.command->environment[1], (std::pair<std::string, std::string>{"B", ""}));
  EXPECT_EQ(t.kill_grace, std::chrono::nanoseconds(2500000000));
  EXPECT_FALSE(t.has_health_check);
  EXPECT_EQ(json_serialize(t.json.get("slave_id")), R"({"value":"S1"})");
}

TEST(HttpExecutorEvents, ReadsInt64AsNumberOrString) {
  for (const char* ns : {"1500000000", "\"1500000000\"", "1.5e9"}) {
    Try<Event> e = parse_event(std::string(R"({"type":"KILL","kill":{"task_id":{"value":"t1"},)") +
                               R"("kill_policy":{"grace_period":{"nanoseconds":)" + ns + "}}}}");
    ASSERT_TRUE(e.is_some()) << ns << ": " << e.error();
    EXPECT_EQ(e->kill_grace, std::chrono::nanoseconds(1500000000)) << ns;
  }
  Try<Event> none = parse_event(R"({"type":"KILL","kill":{"task_id":{"value":"t1"}}})");
  ASSERT_TRUE(none.is_some());
  EXPECT_EQ(none->task_id, "t1");
  EXPECT_FALSE(none->kill_grace.has_value());
  Try<Event> bad = parse_event(R"({"type":"KILL","kill":{"task_id":{"value":"t1"},)"
                               R"("kill_policy":{"grace_period":{"nanoseconds":"12x"}}}})");
  ASSERT_TRUE(bad.is_error());
  EXPECT_EQ(bad.error(), "KILL event: kill.kill_policy.grace_period.nanoseconds is not a 64-bit integer: \"12x\"");
  EXPECT_EQ(parse_event(R"({"type":"KILL","kill":{"kill_policy":{"grace_period":{"nanoseconds":1.5}}}})").error(),
            "KILL event: kill.task_id is missing");
}

TEST(HttpExecutorEvents, ParsesTheOtherEvents) {
  Try<Event> sub = parse_event(R"({"type":"SUBSCRIBED","subscribed":{"executor_info":{},"agent_info":{},
      "framework_info":{"user":"u","capabilities":[{"type":"GPU_RESOURCES"},{"type":"TASK_KILLING_STATE"}]},
      "container_id":{"value":"c1"}}})");
  ASSERT_TRUE(sub.is_some()) << sub.error();
  EXPECT_EQ(sub->type, Event::Type::SUBSCRIBED);
  EXPECT_TRUE(sub->task_killing_state);
  EXPECT_EQ(sub->container_id, "c1");
  Try<Event> plain = parse_event(R"({"type":"SUBSCRIBED","subscribed":{"framework_info":{"name":"f"}}})");
  ASSERT_TRUE(plain.is_some());
  EXPECT_FALSE(plain->task_killing_state);

  Try<Event> ack = parse_event(R"({"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":"t1"},"uuid":"AAEC/w=="}})");
  ASSERT_TRUE(ack.is_some()) << ack.error();
  EXPECT_EQ(ack->uuid, std::string("\x00\x01\x02\xff", 4));
  EXPECT_EQ(parse_event(R"({"type":"ACKNOWLEDGED","acknowledged":{"uuid":"A!=="}})").error(),
            "ACKNOWLEDGED event: acknowledged.uuid is not base64 (invalid base64 character '!' at position 1): 'A!=='");

  EXPECT_EQ(parse_event(R"({"type":"MESSAGE","message":{"data":"Zm9vYmFy"}})")->data_size, 6u);
  EXPECT_EQ(parse_event(R"({"type":"ERROR","error":{"message":"boom"}})")->message, "boom");
  EXPECT_EQ(parse_event(R"({"type":"SHUTDOWN"})")->type, Event::Type::SHUTDOWN);
  EXPECT_EQ(parse_event(R"({"type":"HEARTBEAT"})")->type, Event::Type::HEARTBEAT);
  Try<Event> future = parse_event(R"({"type":"LAUNCH_GROUP","launch_group":{}})");
  ASSERT_TRUE(future.is_some());
  EXPECT_EQ(future->type, Event::Type::UNKNOWN);
  EXPECT_EQ(future->type_name, "LAUNCH_GROUP");
}

TEST(HttpExecutorEvents, ParsesAnAdoptionAndRefusesAnIncompleteOne) {
  Try<Event> e = parse_event(R"({"type":"ADOPTED","adopted":{"token":"tok","container_id":"c1",
      "directory":"/w/runs/c1","environment":{"variables":[{"name":"A","value":"1"},{"name":"EMPTY"}]}}})");
  ASSERT_TRUE(e.is_some()) << e.error();
  EXPECT_EQ(e->type, Event::Type::ADOPTED);
  ASSERT_TRUE(e->adoption);
  EXPECT_EQ(e->adoption->token, "tok");
  EXPECT_EQ(e->adoption->container_id, "c1");
  EXPECT_EQ(e->adoption->directory, "/w/runs/c1");
  EXPECT_EQ(e->adoption->environment,
            (std::vector<std::pair<std::string, std::string>>{{"A", "1"}, {"EMPTY", ""}}));
  EXPECT_EQ(parse_event(R"({"type":"ADOPTED"})").error(), "ADOPTED event: adopted is missing");
  EXPECT_EQ(parse_event(R"({"type":"ADOPTED","adopted":{"token":"t","directory":"/d"}})").error(),
            "ADOPTED event: adopted.container_id is missing");
  EXPECT_EQ(parse_event(R"({"type":"ADOPTED","adopted":{"token":"t","container_id":"","directory":"/d"}})").error(),
            R"(ADOPTED event: adopted needs a non-empty token, container_id and directory: )"
            R"({"container_id":"","directory":"/d","token":"t"})");
  EXPECT_EQ(parse_event(R"({"type":"ADOPTED","adopted":{"token":"t","container_id":"c","directory":"/d",)"
                        R"("environment":{"variables":{"A":"1"}}}})")
                .error(),
            R"(ADOPTED event: adopted.environment.variables is not an array: {"A":"1"})");
}

TEST(HttpExecutorEvents, RefusesBadEventsNamingTheProblem) {
  Try<Event> json = parse_event("{\"type\":");
  ASSERT_TRUE(json.is_error());
  EXPECT_EQ(json.error().rfind("Event is not valid JSON: ", 0), 0u) << json.error();
  EXPECT_EQ(parse_event("[1]").error(), "Event is not a JSON object: [1]");
  EXPECT_EQ(parse_event("{}").error(), "Event: type is missing");
  EXPECT_EQ(parse_event(R"({"type":"LAUNCH"})").error(), "LAUNCH event: launch is missing");
  EXPECT_EQ(parse_event(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":""}}}})").error(),
            "LAUNCH event: launch.task: task_id.value is empty");
  EXPECT_EQ(parse_event(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t"},"command":{"shell":"no"}}}})")
                .error(),
            "LAUNCH event: launch.task: command.shell is not a boolean: \"no\"");
}

TEST(HttpExecutorEvents, ParsesAShellFreeCommandAndAHealthCheck) {
  Try<Event> e = parse_event(R"({"type":"LAUNCH","launch":{"task":{"task_id":{"value":"t"},
      "command":{"value":"/bin/echo","shell":false,"arguments":["echo","a b"]},"health_check":{"type":"COMMAND"}}}})");
  ASSERT_TRUE(e.is_some()) << e.error();
  EXPECT_FALSE(e->task->command->shell);
  EXPECT_EQ(e->task->command->arguments, (std::vector<std::string>{"echo", "a b"}));
  EXPECT_TRUE(e->task->has_health_check);
}

// --- Calls. ---

picojson::value parsed(const std::string& json) {
  Try<picojson::value> v = json_parse(json);
  EXPECT_TRUE(v.is_some()) << json;
  return v.is_some() ? *v : picojson::value();
}

TEST(HttpExecutorCalls, BuildsUpdateAndSubscribe) {
  const Identity id{"F1", "E1"};
  StatusUpdateRecord u;
  u.task_id = "t1";
  u.state = "TASK_FAILED";
  u.message = "Command exited with status 3";
  u.reason = "REASON_COMMAND_EXECUTOR_FAILED";
  u.uuid = std::string("\x01\x02\x03", 3);
  u.timestamp = 1700000000.25;
  const picojson::value update = parsed(update_call(id, u));
  EXPECT_EQ(update.get("type").get<std::string>(), "UPDATE");
  EXPECT_EQ(json_serialize(update.get("framework_id")), R"({"value":"F1"})");
  EXPECT_EQ(json_serialize(update.get("executor_id")), R"({"value":"E1"})");
  EXPECT_EQ(json_serialize(update.get("update")),
            R"({"status":{"executor_id":{"value":"E1"},"message":"Command exited with status 3",)"
            R"("reason":"REASON_COMMAND_EXECUTOR_FAILED","source":"SOURCE_EXECUTOR","state":"TASK_FAILED",)"
            R"("task_id":{"value":"t1"},"timestamp":1700000000.25,"uuid":"AQID"}})");
  u.message.clear();
  u.reason.reset();
  u.healthy = false;
  const picojson::value status = task_status_json(id, u);
  EXPECT_FALSE(status.contains("message"));
  EXPECT_FALSE(status.contains("reason"));
  EXPECT_EQ(status.get("healthy").get<bool>(), false);

  const picojson::value task = parsed(R"({"task_id":{"value":"t1"},"name":"x"})");
  const picojson::value sub = parsed(subscribe_call(id, {task}, {u}));
  EXPECT_EQ(sub.get("type").get<std::string>(), "SUBSCRIBE");
  EXPECT_EQ(json_serialize(sub.get("subscribe").get("unacknowledged_tasks")), R"([{"name":"x","task_id":{"value":"t1"}}])");
  const picojson::value& su = sub.get("subscribe").get("unacknowledged_updates").get(0);
  EXPECT_EQ(json_serialize(su.get("framework_id")), R"({"value":"F1"})");
  EXPECT_EQ(json_serialize(su.get("executor_id")), R"({"value":"E1"})");
  EXPECT_EQ(su.get("uuid").get<std::string>(), "AQID");
  EXPECT_EQ(su.get("status").get("state").get<std::string>(), "TASK_FAILED");
  EXPECT_EQ(su.get("timestamp").get<double>(), 1700000000.25);
  const picojson::value none = parsed(subscribe_call(id, {}, {}));
  EXPECT_EQ(json_serialize(none.get("subscribe")), R"({"unacknowledged_tasks":[],"unacknowledged_updates":[]})");
}

// --- The environment. ---

std::map<std::string, std::string> good_environment() {
  return {{"MESOS_AGENT_ENDPOINT", "127.0.0.1:5051"}, {"MESOS_FRAMEWORK_ID", "F1"}, {"MESOS_EXECUTOR_ID", "E1"},
          {"MESOS_DIRECTORY", "/sandbox"},           {"MESOS_CHECKPOINT", "1"},    {"MESOS_RECOVERY_TIMEOUT", "15mins"},
          {"MESOS_SLAVE_ID", "S1"},                  {"STOA_CONTAINER_ID", "c1"}};
}

Try<ExecutorConfig> config_of(const std::map<std::string, std::string>& env) {
  return config_from_environment([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(HttpExecutorConfig, ReadsTheEnvironment) {
  Try<ExecutorConfig> c = config_of(good_environment());
  ASSERT_TRUE(c.is_some()) << c.error();
  EXPECT_EQ(c->agent_host, "127.0.0.1");
  EXPECT_EQ(c->agent_port, 5051);
  EXPECT_EQ(c->agent_endpoint, "127.0.0.1:5051");
  EXPECT_EQ(c->id.framework_id, "F1");
  EXPECT_EQ(c->id.executor_id, "E1");
  EXPECT_EQ(c->sandbox, "/sandbox");
  EXPECT_TRUE(c->checkpoint);
  EXPECT_EQ(c->recovery_timeout, std::chrono::minutes(15));
  EXPECT_EQ(c->subscription_backoff_max, std::chrono::seconds(2));
  EXPECT_EQ(c->shutdown_grace_period, std::chrono::seconds(5));
  EXPECT_EQ(c->container_id, "c1");

  auto env = good_environment();
  env.erase("MESOS_DIRECTORY");
  env["MESOS_SANDBOX"] = "/other";
  env["MESOS_AGENT_ENDPOINT"] = "[::1]:5051";
  env["MESOS_CHECKPOINT"] = "0";
  env.erase("MESOS_RECOVERY_TIMEOUT");
  env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] = "500ms";
  c = config_of(env);
  ASSERT_TRUE(c.is_some()) << c.error();
  EXPECT_EQ(c->agent_host, "::1");
  EXPECT_EQ(c->sandbox, "/other");
  EXPECT_FALSE(c->checkpoint);
  EXPECT_EQ(c->subscription_backoff_max, std::chrono::milliseconds(500));
  EXPECT_EQ(c->domain_socket, "");
  env["MESOS_DOMAIN_SOCKET"] = "/var/lib/stoa/agent.sock";  // --http_executor_domain_sockets
  c = config_of(env);
  ASSERT_TRUE(c.is_some()) << c.error();
  EXPECT_EQ(c->domain_socket, "/var/lib/stoa/agent.sock");
  EXPECT_EQ(c->agent_endpoint, "[::1]:5051") << "still the Host header";
}

TEST(HttpExecutorConfig, NamesAMissingOrBadVariable) {
  auto without = [](const char* name) {
    auto env = good_environment();
    env.erase(name);
    return config_of(env);
  };
  auto with = [](const char* name, const char* value) {
    auto env = good_environment();
    env[name] = value;
    return config_of(env);
  };
  EXPECT_EQ(without("MESOS_AGENT_ENDPOINT").error(), "MESOS_AGENT_ENDPOINT is not set");
  EXPECT_EQ(without("MESOS_EXECUTOR_ID").error(), "MESOS_EXECUTOR_ID is not set");
  EXPECT_EQ(without("MESOS_DIRECTORY").error(), "MESOS_DIRECTORY (or MESOS_SANDBOX) is not set");
  EXPECT_EQ(without("MESOS_RECOVERY_TIMEOUT").error(), "MESOS_RECOVERY_TIMEOUT is not set (MESOS_CHECKPOINT=1 needs it)");
  EXPECT_EQ(with("MESOS_AGENT_ENDPOINT", "localhost:5051").error(),
            "MESOS_AGENT_ENDPOINT='localhost:5051' is not ip:port (e.g. 10.0.0.1:5051)");
  EXPECT_EQ(with("MESOS_AGENT_ENDPOINT", "127.0.0.1:70000").error(),
            "MESOS_AGENT_ENDPOINT='127.0.0.1:70000' is not ip:port (e.g. 10.0.0.1:5051)");
  EXPECT_EQ(with("MESOS_CHECKPOINT", "yes").error(), "MESOS_CHECKPOINT='yes' is not 0 or 1");
  EXPECT_EQ(with("MESOS_DOMAIN_SOCKET", "agent.sock").error(),
            "MESOS_DOMAIN_SOCKET='agent.sock' is not an absolute path of fewer than 108 bytes");
  const std::string long_path = "/" + std::string(107, 'x');
  EXPECT_EQ(with("MESOS_DOMAIN_SOCKET", long_path.c_str()).error(),
            "MESOS_DOMAIN_SOCKET='" + long_path + "' is not an absolute path of fewer than 108 bytes");
  Try<ExecutorConfig> d = with("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "5 seconds");
  ASSERT_TRUE(d.is_error());
  EXPECT_EQ(d.error().rfind("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD='5 seconds' is not a duration: ", 0), 0u)
      << d.error();
}


// MESOS_DOMAIN_SOCKET: the executor connects there; when nothing is there
// (a slave restarted without --http_executor_domain_sockets) it connects to
// MESOS_AGENT_ENDPOINT instead.
TEST(HttpExecutorConnection, ConnectsToTheUnixSocketElseToTheTcpEndpoint) {
  int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(tcp, reinterpret_cast<sockaddr*>(&in), sizeof(in)), 0);
  ASSERT_EQ(::listen(tcp, 4), 0);
  socklen_t len = sizeof(in);
  ASSERT_EQ(::getsockname(tcp, reinterpret_cast<sockaddr*>(&in), &len), 0);
  char dir_template[] = "/tmp/stoa-executor-unix.XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string path = std::string(dir_template) + "/agent.sock";

  ExecutorConfig c;
  c.agent_host = "127.0.0.1";
  c.agent_port = ntohs(in.sin_port);
  c.agent_endpoint = "127.0.0.1:" + std::to_string(c.agent_port);
  c.domain_socket = path;
  // Connected (or failed) within 5 s: poll for writable, then finish.
  auto connected = [&c](Connection& conn) -> std::optional<Error> {
    if (std::optional<Error> e = conn.connect(c)) {
      return e;
    }
    pollfd p{conn.fd, POLLOUT, 0};
    if (::poll(&p, 1, 5000) != 1) {
      return Error("not writable within 5 s");
    }
    return conn.finish_connect(c);
  };
  auto accepted = [](int listener) {
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 5000) != 1) {
      return false;
    }
    int fd = ::accept(listener, nullptr, nullptr);
    ::close(fd);
    return fd >= 0;
  };

  Connection over_tcp;  // no socket at `path` yet
  ASSERT_FALSE(connected(over_tcp));
  EXPECT_TRUE(accepted(tcp));
  over_tcp.close();

  int local = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  std::memcpy(un.sun_path, path.data(), path.size());
  ASSERT_EQ(::bind(local, reinterpret_cast<sockaddr*>(&un), sizeof(un)), 0);
  ASSERT_EQ(::listen(local, 4), 0);
  Connection over_unix;
  ASSERT_FALSE(connected(over_unix));
  EXPECT_TRUE(accepted(local));
  over_unix.close();

  ::close(local);
  ::close(tcp);  // a socket file nobody listens on, and no TCP listener: an error naming the endpoint
  Connection nowhere;
  std::optional<Error> e = connected(nowhere);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find(c.agent_endpoint), std::string::npos) << e->message;
  nowhere.close();
  ::unlink(path.c_str());
  ::rmdir(dir_template);
}

}  // namespace
}  // namespace http_executor_test
