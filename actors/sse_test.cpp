// The event hub (actors/sse.hpp) behind a real HTTP server: frames with
// sequence ids, the SUBSCRIBED-style first event, ?types= filtering and its
// 400, a refusing on_attach, heartbeats and the subscriber count.
#include "actors/sse.hpp"

#include "actors/http_test_support.hpp"

namespace {

using namespace http_test;
namespace sse = stoa::sse;

class Sse : public HttpTest {
 protected:
  // A server with GET /events on a new hub; ?refuse=1 makes on_attach answer 307.
  http::Server start_events(sse::HubOptions opts = {}) {
    hub = sse::spawn_hub(*sys, opts);
    to_stop.push_back(hub.actor);
    auto route = sse::route(hub, "/events", "Test events.", {"A", "B", "C"},
                            [](caf::io::broker*, const http::Request& req,
                               std::function<void(sse::AttachResult)> done) {
                              if (req.query.count("refuse") > 0) {
                                http::Response r = http::error_response(307, "go elsewhere");
                                r.headers.emplace_back("Location", "//elsewhere:5050/events");
                                done(std::move(r));
                                return;
                              }
                              done(sse::Event{"SUBSCRIBED", "{\"hello\":true}"});
                            });
    auto server = http::spawn_server(*sys, {}, {route});
    if (!server) {
      ADD_FAILURE() << sys->render(server.error());
      return {};
    }
    to_stop.push_back(server->actor);
    return *server;
  }

  // Opens GET `target` on `c` and waits for the first frame.
  void subscribe(RawConn& c, const std::string& target) {
    c.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
    auto head = c.read_head();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->headers["content-type"], "text/event-stream");
    EXPECT_EQ(head->headers["cache-control"], "no-cache");
    ASSERT_TRUE(c.read_until("event: SUBSCRIBED\ndata: {\"hello\":true}\n\n")) << c.leftover();
  }

  sse::Hub hub;
};

TEST(SseFrame, RendersIdTypeAndOneDataLinePerLine) {
  EXPECT_EQ(sse::frame(7, "TASK_ADDED", "{\"a\":1}"), "id: 7\nevent: TASK_ADDED\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(sse::frame(1, "X", "a\nb"), "id: 1\nevent: X\ndata: a\ndata: b\n\n");
}

TEST(SseTypes, ParsesKnownNamesAndNamesTheUnknownOne) {
  auto all = sse::parse_types("", {"A", "B"});
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->empty());
  auto two = sse::parse_types("B,A", {"A", "B"});
  ASSERT_TRUE(two);
  EXPECT_EQ(two->size(), 2u);
  auto bad = sse::parse_types("A,NOPE", {"A", "B"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("'NOPE'"), std::string::npos) << bad.error();
  EXPECT_FALSE(sse::parse_types("A,", {"A"}));
}

TEST_F(Sse, SubscribersGetFramesInOrderAndFiltersApply) {
  auto server = start_events();
  EXPECT_FALSE(hub.listening());
  RawConn all(server.port);
  RawConn only_b(server.port);
  ASSERT_TRUE(all.ok() && only_b.ok());
  subscribe(all, "/events");
  subscribe(only_b, "/events?types=B,C");
  EXPECT_TRUE(all.leftover().rfind("id: 1\n", 0) == 0) << all.leftover();
  EXPECT_TRUE(only_b.leftover().rfind("id: 2\n", 0) == 0) << only_b.leftover();
  EXPECT_TRUE(eventually([&] { return hub.subscribers->load() == 2; }));
  EXPECT_TRUE(hub.listening());
  all.consume(all.leftover().size());
  only_b.consume(only_b.leftover().size());
  sse::publish(hub, "A", "{\"n\":1}");
  sse::publish(hub, "B", "{\"n\":2}");
  ASSERT_TRUE(all.read_until("data: {\"n\":2}\n\n"));
  EXPECT_EQ(all.leftover(), "id: 3\nevent: A\ndata: {\"n\":1}\n\nid: 4\nevent: B\ndata: {\"n\":2}\n\n");
  ASSERT_TRUE(only_b.read_until("data: {\"n\":2}\n\n"));
  EXPECT_EQ(only_b.leftover(), "id: 4\nevent: B\ndata: {\"n\":2}\n\n");
}

TEST_F(Sse, UnknownTypeIsA400NamingIt) {
  auto server = start_events();
  auto r = get(server.port, "/events?types=A,TASK_EXPLODED");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(json_message(*r).find("'TASK_EXPLODED'"), std::string::npos) << r->body;
  EXPECT_FALSE(hub.listening());
}

TEST_F(Sse, OnAttachMayAnswerInstead) {
  auto server = start_events();
  auto r = get(server.port, "/events?refuse=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 307);
  EXPECT_EQ(r->headers["location"], "//elsewhere:5050/events");
  EXPECT_FALSE(hub.listening());
}

TEST_F(Sse, HeartbeatCommentsKeepTheStreamAlive) {
  sse::HubOptions opts;
  opts.heartbeat = std::chrono::milliseconds(20);
  auto server = start_events(opts);
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  subscribe(c, "/events");
  ASSERT_TRUE(c.read_until("\n\n: heartbeat\n\n")) << c.leftover();
}

TEST_F(Sse, AClosedSubscriberIsForgotten) {
  auto server = start_events();
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    subscribe(c, "/events");
    EXPECT_TRUE(eventually([&] { return hub.listening(); }));
  }
  EXPECT_TRUE(eventually([&] { return !hub.listening(); }));
  // Publishing to nobody still counts, and nothing breaks.
  sse::publish(hub, "A", "{}");
  caf::scoped_actor self{*sys};
  uint64_t published = 0;
  self->request(hub.actor, DEADLINE, sse::hub_stats_atom_v)
      .receive([&](uint64_t, uint64_t p) { published = p; },
               [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  EXPECT_EQ(published, 1u);
}

}  // namespace
