// The registry client actor (marathon.cpp) against real in-process HTTP
// servers on loopback that serve /v2/apps and a /v2/events stream the test
// controls. Every wait is a message receive or a poll with a deadline.

#include "apps/lb/marathon.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "actors/http_test_support.hpp"
#include "actors/safety.hpp"
#include "tests/cluster.hpp"
#include "tests/poll.hpp"

namespace {

using namespace http_test;
namespace lb = stoa::lb;

// What a fake registry answers; shared with its handlers (server thread).
struct RegistryBehaviour {
  std::mutex mutex;
  int apps_status = 200;
  std::string apps_body = R"({"apps":[]})";
  std::string redirect_events_to;                     // non-empty: /v2/events answers 302 here
  std::map<std::string, std::string> apps_headers;    // of the last /v2/apps request
  std::map<std::string, std::string> events_headers;  // of the last /v2/events request
  std::string events_query;
  std::atomic<int> apps_requests{0};
  std::atomic<int> events_requests{0};

  void serve(int status, std::string body) {
    std::lock_guard<std::mutex> lock(mutex);
    apps_status = status;
    apps_body = std::move(body);
  }
};

struct FakeRegistry {
  std::shared_ptr<RegistryBehaviour> behaviour = std::make_shared<RegistryBehaviour>();
  caf::actor producer;  // feeds its /v2/events streams (http_test::producer)
  http::Server server;
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server.port); }
};

// One app whose single task runs on `host`; `tag` goes into a label so a
// test can tell snapshots apart.
std::string apps_body(const std::string& tag, const std::string& host = "127.0.0.1") {
  return R"({"apps":[{"id":"/web","labels":{"TAG":")" + tag +
         R"("},"portDefinitions":[{"port":10001}],"tasks":[{"id":"web.1","host":")" + host +
         R"(","state":"TASK_RUNNING","ports":[31001]}]}]})";
}

// One SSE frame as Marathon and stoa-services write it (CRLF), or with bare
// LF line ends as other servers do.
std::string event_frame(const std::string& type, const std::string& eol = "\r\n") {
  return "event: " + type + eol + "data: {\"eventType\":\"" + type + "\",\"timestamp\":\"t\"}" +
         eol + eol;
}

class MarathonClient : public HttpTest {
 protected:
  ~MarathonClient() override {
    for (auto& c : clients) {
      stoa::stop_actor(*sys, c);
    }
  }

  FakeRegistry start_registry() {
    FakeRegistry reg;
    reg.producer = sys->spawn(producer);
    to_stop.push_back(reg.producer);
    auto b = reg.behaviour;
    std::vector<http::Route> routes;
    routes.push_back({"/v2/apps",
                      "apps",
                      {"GET"},
                      [b](caf::io::broker*, const http::Request& req, http::Responder respond) {
                        ++b->apps_requests;
                        std::lock_guard<std::mutex> lock(b->mutex);
                        b->apps_headers = req.headers;
                        respond(
                            http::text_response(b->apps_body, b->apps_status, "application/json"));
                      }});
    caf::actor p = reg.producer;
    routes.push_back({"/v2/events",
                      "events",
                      {"GET"},
                      [b, p](caf::io::broker*, const http::Request& req, http::Responder respond) {
                        ++b->events_requests;
                        std::lock_guard<std::mutex> lock(b->mutex);
                        b->events_headers = req.headers;
                        b->events_query = req.query_string;
                        if (!b->redirect_events_to.empty()) {
                          http::Response r;
                          r.status = 302;
                          r.headers.emplace_back("Location",
                                                 b->redirect_events_to + "?" + req.query_string);
                          respond(std::move(r));
                          return;
                        }
                        http::Response r;
                        r.content_type = "text/event-stream;charset=UTF-8";
                        r.stream_producer = p;
                        respond(std::move(r));
                      }});
    auto server = http::spawn_server(*sys, {}, routes);
    if (!server) {
      ADD_FAILURE() << sys->render(server.error());
      return reg;
    }
    to_stop.push_back(server->actor);
    reg.server = *server;
    return reg;
  }

  // Options for fast tests: small backoffs, everything else long enough
  // never to fire unless a test asks for it.
  lb::MarathonOptions options(std::vector<std::string> urls, bool sse) {
    lb::MarathonOptions o;
    o.urls = std::move(urls);
    o.sse = sse;
    o.initial_backoff = std::chrono::milliseconds(10);
    o.max_backoff = std::chrono::milliseconds(50);
    o.request_timeout = std::chrono::milliseconds(5000);
    o.poll_interval = std::chrono::minutes(10);
    o.resync_interval = std::chrono::minutes(10);
    o.stall_timeout = std::chrono::minutes(10);
    return o;
  }

  caf::actor start_client(lb::MarathonOptions o) {
    caf::actor c =
        lb::spawn_marathon_client(*sys, std::move(o), caf::actor_cast<caf::actor>(listener));
    clients.push_back(c);
    return c;
  }

  // The next snapshot (nullptr after DEADLINE or on registry_down).
  lb::SnapshotPtr next_snapshot() {
    lb::SnapshotPtr out;
    listener->receive([&](lb::lb_snapshot_atom, const lb::SnapshotPtr& s) { out = s; },
                      [&](lb::lb_registry_down_atom, const std::string& reason) {
                        ADD_FAILURE() << "registry down: " << reason;
                      },
                      caf::after(DEADLINE) >> [&] { ADD_FAILURE() << "no snapshot"; });
    return out;
  }

  // Snapshots until one whose first app has label TAG == tag.
  lb::SnapshotPtr snapshot_tagged(const std::string& tag) {
    auto deadline = Clock::now() + DEADLINE;
    while (Clock::now() < deadline) {
      lb::SnapshotPtr s = next_snapshot();
      if (!s) {
        return nullptr;
      }
      if (!s->apps.empty() && s->apps[0].labels.count("TAG") > 0 &&
          s->apps[0].labels.at("TAG") == tag) {
        return s;
      }
    }
    ADD_FAILURE() << "no snapshot tagged " << tag;
    return nullptr;
  }

  std::optional<std::string> registry_down() {
    std::optional<std::string> out;
    listener->receive([&](lb::lb_registry_down_atom, const std::string& reason) { out = reason; },
                      [&](lb::lb_snapshot_atom, const lb::SnapshotPtr&) {
                        ADD_FAILURE() << "unexpected snapshot";
                      },
                      caf::after(DEADLINE) >> [&] { ADD_FAILURE() << "no registry_down"; });
    return out;
  }

  picojson::value status(const caf::actor& client) {
    picojson::value out;
    caf::scoped_actor self{*sys};
    self->request(client, DEADLINE, lb::lb_status_atom::value)
        .receive([&](const std::string& s) { out = parse_json(s).value_or(picojson::value()); },
                 [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
    return out;
  }

  double counter(const caf::actor& client, const std::string& name) {
    picojson::value s = status(client);
    return s.get(name).is<double>() ? s.get(name).get<double>() : -1;
  }

  // Streams the producer has opened.
  int streams_opened(const FakeRegistry& reg) {
    int opened = -1;
    caf::scoped_actor self{*sys};
    self->request(reg.producer, DEADLINE, count_atom::value)
        .receive([&](int o, int) { opened = o; },
                 [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
    return opened;
  }

  // Waits until the client is idle: stream attached (sse), no fetch in
  // flight, and the snapshots it took meanwhile drained from the mailbox.
  void settle(const caf::actor& client, const FakeRegistry* reg) {
    if (reg != nullptr) {
      ASSERT_TRUE(stoa::tests::poll_until([&] { return streams_opened(*reg) >= 1; },
                                          stoa::tests::deadline_in(DEADLINE)));
    }
    ASSERT_TRUE(stoa::tests::poll_until(
        [&] {
          picojson::value s = status(client);
          return s.get("fetching").is<bool>() && !s.get("fetching").get<bool>() &&
                 (reg == nullptr || s.get("stream_connected").evaluate_as_boolean());
        },
        stoa::tests::deadline_in(DEADLINE)));
    while (true) {
      bool got = false;
      listener->receive([&](lb::lb_snapshot_atom, const lb::SnapshotPtr&) { got = true; },
                        caf::after(std::chrono::milliseconds(0)) >> [] {});
      if (!got) {
        break;
      }
    }
  }

  caf::scoped_actor listener{*sys};
  std::vector<caf::actor> clients;
};

// A loopback port nothing listens on.
uint16_t dead_port() {
  return static_cast<uint16_t>(stoa::tests::free_loopback_port());
}

TEST_F(MarathonClient, FirstSnapshotOnConnectWithMarathonLbsHeaders) {
  FakeRegistry reg = start_registry();
  reg.behaviour->serve(200, apps_body("one"));
  auto o = options({reg.url()}, true);
  o.basic_auth = "user:pass";
  caf::actor client = start_client(o);
  lb::SnapshotPtr s = snapshot_tagged("one");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->url, reg.url());
  EXPECT_GE(s->sequence, 1u);
  ASSERT_EQ(s->apps[0].tasks.size(), 1u);
  EXPECT_EQ(s->apps[0].tasks[0].ip, "127.0.0.1");
  settle(client, &reg);
  std::lock_guard<std::mutex> lock(reg.behaviour->mutex);
  EXPECT_EQ(reg.behaviour->apps_headers["accept"], "application/json");
  EXPECT_EQ(reg.behaviour->apps_headers["content-type"], "application/json");
  EXPECT_EQ(reg.behaviour->apps_headers["user-agent"], "stoa-lb");
  EXPECT_EQ(reg.behaviour->apps_headers["authorization"], "Basic dXNlcjpwYXNz");
  EXPECT_EQ(reg.behaviour->events_headers["accept"], "text/event-stream");
  EXPECT_EQ(reg.behaviour->events_headers["authorization"], "Basic dXNlcjpwYXNz");
  EXPECT_EQ(reg.behaviour->events_query,
            "plan-format=light&event_type=api_post_event&event_type=health_status_changed_event"
            "&event_type=status_update_event");
}

TEST_F(MarathonClient, ARelevantEventTakesANewSnapshotAndOthersDoNot) {
  FakeRegistry reg = start_registry();
  reg.behaviour->serve(200, apps_body("before"));
  caf::actor client = start_client(options({reg.url()}, true));
  ASSERT_TRUE(snapshot_tagged("before"));
  settle(client, &reg);
  int fetches_before = reg.behaviour->apps_requests.load();
  reg.behaviour->serve(200, apps_body("after"));
  caf::anon_send(reg.producer, push_atom::value,
                 event_frame("deployment_info") + ": a comment\r\n\r\n" +
                     event_frame("status_update_event", "\n"));
  // Resync and poll are 10 minutes away: only the event can bring this.
  lb::SnapshotPtr s = snapshot_tagged("after");
  ASSERT_TRUE(s);
  EXPECT_EQ(counter(client, "events"), 2);
  EXPECT_EQ(counter(client, "relevant_events"), 1);
  settle(client, nullptr);
  EXPECT_EQ(reg.behaviour->apps_requests.load(), fetches_before + 1);
}

TEST_F(MarathonClient, ABurstOfEventsIsCoalesced) {
  FakeRegistry reg = start_registry();
  caf::actor client = start_client(options({reg.url()}, true));
  ASSERT_TRUE(next_snapshot());
  settle(client, &reg);
  int fetches_before = reg.behaviour->apps_requests.load();
  std::string burst;
  for (int i = 0; i < 50; ++i) {
    burst += event_frame(i % 2 == 0 ? "status_update_event" : "health_status_changed_event");
  }
  caf::anon_send(reg.producer, push_atom::value, burst);
  ASSERT_TRUE(stoa::tests::poll_until([&] { return counter(client, "relevant_events") == 50; },
                                      stoa::tests::deadline_in(DEADLINE)));
  settle(client, nullptr);
  int fetched = reg.behaviour->apps_requests.load() - fetches_before;
  EXPECT_GE(fetched, 1);
  EXPECT_LE(fetched, 2) << "one in flight and one pending at most";
}

TEST_F(MarathonClient, ADeadFirstUrlFailsOverAndTheGoodOneStaysFirst) {
  FakeRegistry good = start_registry();
  good.behaviour->serve(200, apps_body("good"));
  std::string dead = "http://127.0.0.1:" + std::to_string(dead_port());
  caf::actor client = start_client(options({dead, good.url()}, false));
  lb::SnapshotPtr s = snapshot_tagged("good");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->url, good.url());
  settle(client, nullptr);
  picojson::value st = status(client);
  ASSERT_TRUE(st.get("urls").is<picojson::array>());
  EXPECT_EQ(st.get("urls").get<picojson::array>().at(0).to_str(), good.url());
  // The next refresh asks the good URL first: no failure on the way.
  caf::anon_send(client, lb::lb_refresh_atom::value);
  s = next_snapshot();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->url, good.url());
  EXPECT_EQ(counter(client, "fetch_failures"), 0);
  EXPECT_EQ(good.behaviour->apps_requests.load(), 2);
}

TEST_F(MarathonClient, NonJsonAndErrorsMoveOnAndAllFailingIsRegistryDown) {
  FakeRegistry html = start_registry();
  FakeRegistry failing = start_registry();
  html.behaviour->serve(200, "<html>Bad Gateway</html>");
  failing.behaviour->serve(500, R"({"message":"storage unavailable"})");
  caf::actor client = start_client(options({html.url(), failing.url()}, false));
  std::optional<std::string> reason = registry_down();
  ASSERT_TRUE(reason);
  EXPECT_NE(reason->find(html.url() + ": the answer is not JSON"), std::string::npos) << *reason;
  EXPECT_NE(reason->find(failing.url() + ": HTTP 500 (storage unavailable)"), std::string::npos)
      << *reason;
  EXPECT_EQ(html.behaviour->apps_requests.load(), 1);
  EXPECT_EQ(failing.behaviour->apps_requests.load(), 1);
  // Once the second answers, a refresh gets its snapshot.
  failing.behaviour->serve(200, apps_body("back"));
  caf::anon_send(client, lb::lb_refresh_atom::value);
  lb::SnapshotPtr s = snapshot_tagged("back");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->url, failing.url());
}

TEST_F(MarathonClient, AJsonBodyWithoutRequiredKeysIsRefusedNotDelivered) {
  FakeRegistry reg = start_registry();
  reg.behaviour->serve(200, R"({"apps":[{"id":"/x","tasks":[]}]})");
  caf::actor client = start_client(options({reg.url()}, false));
  ASSERT_TRUE(stoa::tests::poll_until([&] { return counter(client, "parse_failures") == 1; },
                                      stoa::tests::deadline_in(DEADLINE)));
  EXPECT_NE(status(client).get("last_error").to_str().find("apps[0]: missing 'labels'"),
            std::string::npos);
  reg.behaviour->serve(200, apps_body("fixed"));
  caf::anon_send(client, lb::lb_refresh_atom::value);
  lb::SnapshotPtr s = next_snapshot();  // the refused one was never sent
  ASSERT_TRUE(s);
  EXPECT_EQ(s->apps[0].labels.at("TAG"), "fixed");
  EXPECT_EQ(s->sequence, 1u);
}

TEST_F(MarathonClient, AClosedStreamReconnectsAndTakesASnapshot) {
  FakeRegistry reg = start_registry();
  reg.behaviour->serve(200, apps_body("first"));
  caf::actor client = start_client(options({reg.url()}, true));
  ASSERT_TRUE(snapshot_tagged("first"));
  settle(client, &reg);
  reg.behaviour->serve(200, apps_body("second"));
  caf::anon_send(reg.producer, end_atom::value);
  ASSERT_TRUE(stoa::tests::poll_until([&] { return streams_opened(reg) >= 2; },
                                      stoa::tests::deadline_in(DEADLINE)));
  ASSERT_TRUE(snapshot_tagged("second"));
  EXPECT_GE(counter(client, "stream_connects"), 2);
}

TEST_F(MarathonClient, StreamReconnectsGoRoundRobinOverTheUrls) {
  FakeRegistry first = start_registry();
  FakeRegistry second = start_registry();
  caf::actor client = start_client(options({first.url(), second.url()}, true));
  ASSERT_TRUE(next_snapshot());
  settle(client, &first);
  EXPECT_EQ(streams_opened(second), 0);
  caf::anon_send(first.producer, end_atom::value);
  ASSERT_TRUE(stoa::tests::poll_until([&] { return streams_opened(second) == 1; },
                                      stoa::tests::deadline_in(DEADLINE)));
  caf::anon_send(second.producer, end_atom::value);
  ASSERT_TRUE(stoa::tests::poll_until([&] { return streams_opened(first) == 2; },
                                      stoa::tests::deadline_in(DEADLINE)));
  EXPECT_EQ(streams_opened(second), 1);
  // Snapshots still go to the first URL, which never failed.
  EXPECT_EQ(second.behaviour->apps_requests.load(), 0);
}

TEST_F(MarathonClient, TheBackoffGrowsByHalfUpToTheMaximum) {
  FakeRegistry reg = start_registry();
  caf::actor client = start_client(options({reg.url()}, true));  // 10 ms, at most 50 ms
  ASSERT_TRUE(next_snapshot());
  settle(client, &reg);
  EXPECT_DOUBLE_EQ(counter(client, "backoff_ms"), 10);
  const double expected[] = {15, 22.5, 33.75, 50, 50};
  for (int i = 0; i < 5; ++i) {
    caf::anon_send(reg.producer, end_atom::value);
    ASSERT_TRUE(stoa::tests::poll_until([&] { return streams_opened(reg) == i + 2; },
                                        stoa::tests::deadline_in(DEADLINE)));
    EXPECT_DOUBLE_EQ(counter(client, "backoff_ms"), expected[i]) << "after " << i + 1 << " losses";
  }
}

TEST_F(MarathonClient, OnlyOneRedirectIsFollowed) {
  FakeRegistry first = start_registry();
  FakeRegistry second = start_registry();
  FakeRegistry leader = start_registry();
  {
    std::lock_guard<std::mutex> lock(first.behaviour->mutex);
    first.behaviour->redirect_events_to = second.url() + "/v2/events";
  }
  {
    std::lock_guard<std::mutex> lock(second.behaviour->mutex);
    second.behaviour->redirect_events_to = leader.url() + "/v2/events";
  }
  caf::actor client = start_client(options({first.url()}, true));
  ASSERT_TRUE(stoa::tests::poll_until(
      [&] {
        return status(client)
                   .get("last_error")
                   .to_str()
                   .find("a second redirect is not followed") != std::string::npos;
      },
      stoa::tests::deadline_in(DEADLINE)));
  EXPECT_GE(second.behaviour->events_requests.load(), 1);
  EXPECT_EQ(leader.behaviour->events_requests.load(), 0);
}

TEST_F(MarathonClient, WithoutEventsItResyncsEveryInterval) {
  FakeRegistry reg = start_registry();
  auto o = options({reg.url()}, true);
  o.resync_interval = std::chrono::milliseconds(100);
  caf::actor client = start_client(o);
  ASSERT_TRUE(next_snapshot());
  settle(client, &reg);
  int before = reg.behaviour->apps_requests.load();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(next_snapshot());
  }
  EXPECT_GE(reg.behaviour->apps_requests.load(), before + 3);
  EXPECT_EQ(counter(client, "events"), 0);
  EXPECT_EQ(counter(client, "stream_connects"), 1);
}

TEST_F(MarathonClient, ASilentStreamIsReconnectedAfterTheStallTimeout) {
  FakeRegistry reg = start_registry();
  auto o = options({reg.url()}, true);
  o.stall_timeout = std::chrono::milliseconds(300);
  caf::actor client = start_client(o);
  ASSERT_TRUE(next_snapshot());
  // The producer says "hello" once, then nothing.
  ASSERT_TRUE(stoa::tests::poll_until([&] { return streams_opened(reg) >= 2; },
                                      stoa::tests::deadline_in(DEADLINE)));
  EXPECT_NE(status(client).get("last_error").to_str().find("no bytes for"), std::string::npos);
}

TEST_F(MarathonClient, AStandbysRedirectIsFollowedToTheLeader) {
  FakeRegistry standby = start_registry();
  FakeRegistry leader = start_registry();
  standby.behaviour->serve(200, apps_body("apps"));
  {
    std::lock_guard<std::mutex> lock(standby.behaviour->mutex);
    standby.behaviour->redirect_events_to = leader.url() + "/v2/events";
  }
  caf::actor client = start_client(options({standby.url()}, true));
  ASSERT_TRUE(next_snapshot());
  settle(client, &leader);
  EXPECT_EQ(streams_opened(standby), 0);
  {
    std::lock_guard<std::mutex> lock(leader.behaviour->mutex);
    EXPECT_EQ(leader.behaviour->events_query,
              "plan-format=light&event_type=api_post_event&event_type=health_status_changed_event"
              "&event_type=status_update_event");
  }
  EXPECT_EQ(status(client).get("stream_url").to_str(),
            leader.url() + "/v2/events?" +
                "plan-format=light&event_type=api_post_event"
                "&event_type=health_status_changed_event"
                "&event_type=status_update_event");
  // Events from the leader's stream refresh from the configured URL.
  standby.behaviour->serve(200, apps_body("new"));
  caf::anon_send(leader.producer, push_atom::value, event_frame("api_post_event"));
  ASSERT_TRUE(snapshot_tagged("new"));
}

TEST_F(MarathonClient, PollModeTakesASnapshotEveryInterval) {
  FakeRegistry reg = start_registry();
  auto o = options({reg.url()}, false);
  o.poll_interval = std::chrono::milliseconds(50);
  caf::actor client = start_client(o);
  uint64_t last = 0;
  for (int i = 0; i < 4; ++i) {
    lb::SnapshotPtr s = next_snapshot();
    ASSERT_TRUE(s);
    EXPECT_GT(s->sequence, last);
    last = s->sequence;
  }
  EXPECT_GE(reg.behaviour->apps_requests.load(), 4);
  EXPECT_EQ(reg.behaviour->events_requests.load(), 0);
  EXPECT_EQ(status(client).get("mode").to_str(), "poll");
}

TEST_F(MarathonClient, ResolvesHostNamesAndSkipsTheUnresolvable) {
  FakeRegistry reg = start_registry();
  reg.behaviour->serve(200, R"({"apps":[
      {"id":"/h","labels":{},"portDefinitions":[{"port":10001}],"tasks":[
        {"id":"a","host":"localhost","ports":[1]},{"id":"b","host":"no-such-host.invalid","ports":[2]},
        {"id":"c","host":"10.9.8.7","ports":[3]}]},
      {"id":"/c","labels":{},"networks":[{"mode":"container"}],
       "container":{"portMappings":[{"containerPort":80,"servicePort":10002}]},
       "tasks":[{"id":"d","host":"no-such-host.invalid","ipAddresses":[{"ipAddress":"9.0.0.9"}]}]}]})");
  caf::actor client = start_client(options({reg.url()}, false));
  lb::SnapshotPtr s = next_snapshot();
  ASSERT_TRUE(s);
  ASSERT_EQ(s->apps.size(), 2u);
  EXPECT_EQ(s->apps[0].tasks[0].ip, "127.0.0.1");
  EXPECT_EQ(s->apps[0].tasks[1].ip, "");
  EXPECT_EQ(s->apps[0].tasks[2].ip, "10.9.8.7");
  EXPECT_EQ(s->apps[1].tasks[0].ip, "9.0.0.9");
  // Both answers are cached: the next snapshot needs no lookup.
  EXPECT_EQ(counter(client, "host_cache_size"), 2);
  caf::anon_send(client, lb::lb_refresh_atom::value);
  s = next_snapshot();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->apps[0].tasks[0].ip, "127.0.0.1");
  EXPECT_EQ(s->apps[0].tasks[1].ip, "");
}

}  // namespace
