// /v2/events and callback subscribers over a real HTTP server: Marathon's
// wire format, filters, heartbeat, 405, 302, attach/detach, slow clients.

#include "apps/services/events.hpp"

#include <mutex>

#include "actors/http_test_support.hpp"
#include "actors/safety.hpp"
#include "apps/services/model.hpp"
#include "tests/poll.hpp"

namespace events_test {
namespace {

using stoa::services::EventBusOptions;
using stoa::services::EventStream;

class EventsTest : public ::testing::Test {
 protected:
  EventsTest() : sys(std::make_unique<caf::actor_system>(http_test::configure(cfg))) {}

  ~EventsTest() override {
    for (auto& a : to_stop) {
      stoa::stop_actor(*sys, a);
    }
    to_stop.clear();
    stream.bus.reset();
    stream.route = {};
    stream.hub = nullptr;
    sys.reset();
  }

  uint16_t start(EventBusOptions opts, std::function<std::optional<std::string>()> standby = {},
                 std::vector<http::Route> extra = {}) {
    stream = stoa::services::spawn_event_stream(*sys, std::move(opts), std::move(standby));
    to_stop.push_back(stream.hub);
    extra.push_back(stream.route);
    auto server = http::spawn_server(*sys, {}, extra);
    if (!server) {
      ADD_FAILURE() << sys->render(server.error());
      return 0;
    }
    to_stop.push_back(server->actor);
    return server->port;
  }

  // Opens a stream; the head is read.
  std::unique_ptr<http_test::RawConn> attach(uint16_t port, const std::string& query, int* status = nullptr,
                                             std::string accept = "text/event-stream") {
    auto conn = std::make_unique<http_test::RawConn>(port);
    std::string req = "GET /v2/events" + query + " HTTP/1.1\r\nHost: x\r\n";
    if (!accept.empty()) {
      req += "Accept: " + accept + "\r\n";
    }
    conn->send(req + "\r\n");
    auto head = conn->read_head();
    if (!head) {
      ADD_FAILURE() << "no head";
      return conn;
    }
    last_head = *head;
    if (status != nullptr) {
      *status = head->status;
    }
    return conn;
  }

  bool wait_listening() {
    return stoa::tests::poll_until([this] { return stream.bus->listening(); },
                                   stoa::tests::deadline_in(stoa::tests::DEFAULT_TIMEOUT));
  }

  // The JSON of the first frame of `type` in the client's buffer.
  static std::optional<picojson::value> frame_data(const http_test::RawConn& c, const std::string& type) {
    const std::string& buf = c.leftover();
    size_t at = buf.find("event: " + type + "\r\ndata: ");
    if (at == std::string::npos) {
      return std::nullopt;
    }
    size_t start = buf.find("data: ", at) + 6;
    size_t end = buf.find("\r\n", start);
    return http_test::parse_json(buf.substr(start, end - start));
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  EventStream stream;
  std::vector<caf::actor> to_stop;
  http_test::RawResponse last_head;
};

TEST_F(EventsTest, FramesAreMarathonsEventDataCrlfWithoutIds) {
  uint16_t port = start({});
  EXPECT_FALSE(stream.bus->listening());
  int status = 0;
  auto c = attach(port, "", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(last_head.headers["content-type"], "text/event-stream;charset=UTF-8");
  EXPECT_EQ(last_head.headers.count("content-length"), 0u);
  ASSERT_TRUE(wait_listening());
  ASSERT_TRUE(c->read_until("event: event_stream_attached\r\n"));
  ASSERT_TRUE(c->read_until("\r\n\r\n"));
  auto attached = frame_data(*c, "event_stream_attached");
  ASSERT_TRUE(attached.has_value()) << c->leftover();
  EXPECT_EQ(attached->get("remoteAddress").to_str(), "127.0.0.1");
  EXPECT_EQ(attached->get("eventType").to_str(), "event_stream_attached");

  picojson::object fields;
  fields["appId"] = picojson::value("/web");
  stream.bus->publish("app_terminated_event", fields);
  ASSERT_TRUE(c->read_until("event: app_terminated_event\r\n"));
  ASSERT_TRUE(c->read_until("}\r\n\r\n"));
  auto data = frame_data(*c, "app_terminated_event");
  ASSERT_TRUE(data.has_value()) << c->leftover();
  EXPECT_EQ(data->get("appId").to_str(), "/web");
  EXPECT_EQ(data->get("eventType").to_str(), "app_terminated_event");
  ASSERT_TRUE(data->get("timestamp").is<std::string>());
  EXPECT_TRUE(stoa::services::parse_timestamp(data->get("timestamp").get<std::string>()).is_some());
  EXPECT_EQ(c->leftover().find("id:"), std::string::npos);
  // Exactly the two frames, each "event: …\r\ndata: …\r\n\r\n".
  size_t at = c->leftover().find("event: app_terminated_event");
  std::string frame = c->leftover().substr(at);
  EXPECT_EQ(frame.rfind("event: app_terminated_event\r\ndata: {", 0), 0u) << frame;
  EXPECT_EQ(frame.substr(frame.size() - 5), "}\r\n\r\n");
}

TEST_F(EventsTest, RepeatedEventTypeParametersFilter) {
  uint16_t port = start({});
  auto c = attach(port, "?event_type=a_event&event_type=b_event");
  ASSERT_TRUE(wait_listening());
  stream.bus->publish("a_event", {});
  stream.bus->publish("c_event", {});
  stream.bus->publish("b_event", {});
  ASSERT_TRUE(c->read_until("event: b_event\r\n"));
  ASSERT_TRUE(c->read_until("}\r\n\r\n"));
  EXPECT_NE(c->leftover().find("event: a_event\r\n"), std::string::npos);
  EXPECT_EQ(c->leftover().find("c_event"), std::string::npos);
  EXPECT_EQ(c->leftover().find("event_stream_attached"), std::string::npos);
}

TEST_F(EventsTest, HeartbeatIsABareCrlf) {
  EventBusOptions opts;
  opts.heartbeat = std::chrono::milliseconds(20);
  uint16_t port = start(opts);
  auto c = attach(port, "?event_type=none");
  ASSERT_TRUE(c->read_until("\r\n\r\n"));
  EXPECT_EQ(c->leftover().find_first_not_of("\r\n"), std::string::npos) << c->leftover();
  EXPECT_EQ(c->leftover().substr(0, 2), "\r\n");
}

TEST_F(EventsTest, WithoutAnExactAcceptItIs405) {
  uint16_t port = start({});
  int status = 0;
  auto none = attach(port, "", &status, "");
  EXPECT_EQ(status, 405);
  auto html = attach(port, "", &status, "text/html");
  EXPECT_EQ(status, 405);
  auto prefixed = attach(port, "", &status, "text/event-streams");
  EXPECT_EQ(status, 405);
  EXPECT_FALSE(stream.bus->listening());
}

TEST_F(EventsTest, AStandbyRedirectsToTheLeaderWithTheQuery) {
  uint16_t port = start({}, [] { return std::optional<std::string>("10.0.0.1:8080"); });
  int status = 0;
  auto c = attach(port, "?event_type=a&event_type=b", &status);
  EXPECT_EQ(status, 302);
  EXPECT_EQ(last_head.headers["location"], "http://10.0.0.1:8080/v2/events?event_type=a&event_type=b");
}

TEST_F(EventsTest, OthersSeeAttachAndDetach) {
  uint16_t port = start({});
  auto watcher = attach(port, "?event_type=event_stream_attached&event_type=event_stream_detached");
  ASSERT_TRUE(watcher->read_until("event: event_stream_attached\r\n"));
  watcher->consume(watcher->leftover().size());
  auto other = attach(port, "?event_type=nothing");
  ASSERT_TRUE(watcher->read_until("event: event_stream_attached\r\n"));
  other->close();
  ASSERT_TRUE(watcher->read_until("event: event_stream_detached\r\n"));
  ASSERT_TRUE(watcher->read_until("}\r\n\r\n"));
  auto detached = frame_data(*watcher, "event_stream_detached");
  ASSERT_TRUE(detached.has_value());
  EXPECT_EQ(detached->get("remoteAddress").to_str(), "127.0.0.1");
}

TEST_F(EventsTest, AClientAboveMaxOutstandingIsDropped) {
  EventBusOptions opts;
  opts.max_outstanding = 0;
  uint16_t port = start(opts);
  auto c = attach(port, "");
  EXPECT_TRUE(c->wait_eof());
  EXPECT_TRUE(stoa::tests::poll_until([this] { return !stream.bus->listening(); },
                                      stoa::tests::deadline_in(stoa::tests::DEFAULT_TIMEOUT)));
}

TEST_F(EventsTest, CallbacksGetEveryEventAsAPost) {
  auto received = std::make_shared<std::vector<std::string>>();
  auto mu = std::make_shared<std::mutex>();
  http::Route sink{"/callback", "records POSTs", {"POST"},
                   [received, mu](caf::io::broker*, const http::Request& req, http::Responder respond) {
                     std::lock_guard<std::mutex> lock(*mu);
                     received->push_back(req.headers.count("content-type") > 0
                                             ? req.headers.at("content-type") + " " + req.body
                                             : req.body);
                     respond(http::json_response(picojson::value(picojson::object())));
                   }};
  // The callback server is its own server, started first so its port is known.
  auto callback_server = http::spawn_server(*sys, {}, {sink});
  ASSERT_TRUE(callback_server);
  to_stop.push_back(callback_server->actor);
  EventBusOptions opts;
  opts.callback_urls = {"http://127.0.0.1:" + std::to_string(callback_server->port) + "/callback",
                        "https://unsupported/x"};
  start(opts);
  EXPECT_TRUE(stream.bus->listening());
  picojson::object fields;
  fields["appId"] = picojson::value("/web");
  stream.bus->publish("app_terminated_event", fields);
  ASSERT_TRUE(stoa::tests::poll_until(
      [&] {
        std::lock_guard<std::mutex> lock(*mu);
        return !received->empty();
      },
      stoa::tests::deadline_in(stoa::tests::DEFAULT_TIMEOUT)));
  std::lock_guard<std::mutex> lock(*mu);
  const std::string& got = received->front();
  EXPECT_EQ(got.rfind("application/json {", 0), 0u) << got;
  auto json = http_test::parse_json(got.substr(got.find('{')));
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(json->get("eventType").to_str(), "app_terminated_event");
  EXPECT_EQ(json->get("appId").to_str(), "/web");
}

}  // namespace
}  // namespace events_test
