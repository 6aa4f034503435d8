// The HTTP client (actors/http_client.hpp) against our server and against a
// raw TCP server that sends what a test wants.
#include "actors/http_test_support.hpp"

#include <mutex>

#include "actors/safety.hpp"
#include "tests/poll.hpp"

namespace {

using namespace http_test;

// A one-shot raw TCP server on a thread: accepts one connection, reads the
// request head, writes `reply` (unless empty), then closes (unless `hold`).
class RawServer {
 public:
  RawServer(std::string reply, bool accept_at_all = true) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 4);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    if (accept_at_all) {
      thread_ = std::thread([this, reply] { serve(reply); });
    }
  }
  ~RawServer() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
    ::close(fd_);
  }
  uint16_t port = 0;

 private:
  void serve(const std::string& reply) {
    auto deadline = Clock::now() + DEADLINE;
    int conn = -1;
    while (conn < 0 && !stop_ && Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        conn = ::accept(fd_, nullptr, nullptr);
      }
    }
    if (conn < 0) {
      return;
    }
    std::string got;
    while (got.find("\r\n\r\n") == std::string::npos && !stop_ && Clock::now() < deadline) {
      pollfd p{conn, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char buf[4096];
        auto n = ::recv(conn, buf, sizeof(buf), 0);
        if (n <= 0) {
          break;
        }
        got.append(buf, static_cast<size_t>(n));
      }
    }
    ::send(conn, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::close(conn);
  }

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

caf::expected<http::Response> run_client(caf::actor_system& sys, http::ClientRequest req) {
  caf::expected<http::Response> out{caf::make_error(caf::sec::runtime_error, "no answer")};
  caf::scoped_actor self{sys};
  self->request(http::spawn_request(sys, std::move(req)), DEADLINE, http::go_atom_v)
      .receive([&](http::Response& r) { out = std::move(r); },
               [&](caf::error& e) { out = std::move(e); });
  return out;
}

http::ClientRequest local_request(uint16_t port, std::string path) {
  http::ClientRequest req;
  req.host = "127.0.0.1";
  req.port = port;
  req.path = std::move(path);
  return req;
}

TEST_F(HttpClient, GetAgainstOurServer) {
  auto server = start();
  auto r = run_client(*sys, local_request(server.port, "/echo?x=1"));
  ASSERT_TRUE(r) << sys->render(r.error());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "application/json");
  auto v = parse_json(r->body);
  ASSERT_TRUE(v) << r->body;
  EXPECT_EQ(v->get("query").get("x").to_str(), "1");
  EXPECT_EQ(v->get("headers").get("connection").to_str(), "close");
}

TEST_F(HttpClient, PostWithBodyAndHeaders) {
  auto server = start();
  auto req = local_request(server.port, "/echo");
  req.method = "POST";
  req.body = std::string(100000, 'b');
  req.headers.emplace_back("X-Custom", "yes");
  auto r = run_client(*sys, req);
  ASSERT_TRUE(r) << sys->render(r.error());
  EXPECT_EQ(r->status, 200);
  auto v = parse_json(r->body);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->get("method").to_str(), "POST");
  EXPECT_EQ(v->get("body").to_str(), req.body);
  EXPECT_EQ(v->get("headers").get("x-custom").to_str(), "yes");
}

TEST_F(HttpClient, ErrorStatusIsAResponse) {
  auto server = start();
  auto r = run_client(*sys, local_request(server.port, "/nope"));
  ASSERT_TRUE(r) << sys->render(r.error());
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("/nope"), std::string::npos);
}

TEST_F(HttpClient, ConnectionRefusedIsAnError) {
  uint16_t port;
  {
    RawServer closed("", false);  // bound, then closed below: nobody listens
    port = closed.port;
  }
  auto req = local_request(port, "/");
  req.timeout = std::chrono::milliseconds(DEADLINE) * 2;  // must fail by refusal, not time out
  auto r = run_client(*sys, req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), caf::sec::cannot_connect_to_node) << sys->render(r.error());
}

TEST_F(HttpClient, ChunkedAndCloseDelimitedResponses) {
  {
    RawServer raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n"
                  "X-Extra: 1\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    auto r = run_client(*sys, local_request(raw.port, "/"));
    ASSERT_TRUE(r) << sys->render(r.error());
    EXPECT_EQ(r->body, "hello world");
    EXPECT_EQ(r->content_type, "text/plain");
    bool extra = false;
    for (const auto& [k, v] : r->headers) {
      extra = extra || (k == "x-extra" && v == "1");
    }
    EXPECT_TRUE(extra);
  }
  {
    RawServer raw("HTTP/1.0 200 OK\r\n\r\nuntil close");
    auto r = run_client(*sys, local_request(raw.port, "/"));
    ASSERT_TRUE(r) << sys->render(r.error());
    EXPECT_EQ(r->body, "until close");
  }
}

TEST_F(HttpClient, MalformedOrTruncatedResponsesAreErrors) {
  {
    RawServer raw("NOT HTTP AT ALL\r\n\r\n");
    auto r = run_client(*sys, local_request(raw.port, "/"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), caf::sec::invalid_argument) << sys->render(r.error());
  }
  {
    RawServer raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
    auto r = run_client(*sys, local_request(raw.port, "/"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), caf::sec::cannot_connect_to_node) << sys->render(r.error());
  }
}

TEST_F(HttpClient, SilentPeerTimesOut) {
  RawServer silent("", false);  // listens, the kernel accepts, nobody answers
  auto req = local_request(silent.port, "/");
  req.timeout = 100ms;
  auto r = run_client(*sys, req);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), caf::sec::request_timeout) << sys->render(r.error());
}

TEST_F(HttpClient, ResolvesHostNames) {
  auto server = start();
  auto req = local_request(server.port, "/text");
  req.host = "localhost";
  auto r = run_client(*sys, req);
  ASSERT_TRUE(r) << sys->render(r.error());
  EXPECT_EQ(r->body, "hello");
}

TEST_F(HttpClient, HeadRequest) {
  auto server = start();
  auto req = local_request(server.port, "/text");
  req.method = "HEAD";
  auto r = run_client(*sys, req);
  ASSERT_TRUE(r) << sys->render(r.error());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
}

TEST_F(HttpClient, UnusedRequestActorDoesNotBlockShutdown) {
  auto server = start();
  {
    caf::actor unused = http::spawn_request(*sys, local_request(server.port, "/text"));
    EXPECT_TRUE(unused);
  }
  for (auto& a : to_stop) {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  caf::anon_send_exit(gate_actor, caf::exit_reason::user_shutdown);
  gate_actor = nullptr;
  caf::anon_send_exit(producer_actor, caf::exit_reason::user_shutdown);
  producer_actor = nullptr;
  to_stop.clear();
  sys.reset();  // hangs (ctest TIMEOUT) if the unused broker lingers
}

// Whether the actor behind `weak` is gone (no strong reference left) before
// the deadline.
bool freed_within(const caf::weak_actor_ptr& weak, std::chrono::milliseconds within) {
  return stoa::tests::poll_until([&] { return weak->strong_refs.load() == 0; },
                                 stoa::tests::deadline_in(within));
}

// A request broker's own timeout comes after it answered and exited: it
// must not keep the broker alive (CAF 0.17 leaves a broker's mailbox open
// at exit; close_mailbox_at_exit, actors/safety.hpp). Before, every request
// that answered within its timeout left its broker behind for good.
TEST_F(HttpClient, ARequestBrokerIsFreedWhenItsTimeoutComesAfterItsAnswer) {
  auto server = start();
  http::ClientRequest req = local_request(server.port, "/text");
  req.timeout = std::chrono::milliseconds(100);
  caf::actor worker = http::spawn_request(*sys, std::move(req));
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(worker);
  {
    caf::scoped_actor self{*sys};
    self->request(worker, DEADLINE, http::go_atom_v)
        .receive([](http::Response& r) { EXPECT_EQ(r.status, 200); },
                 [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  }
  worker = nullptr;
  // Its timeout fires 100 ms after the start; then nothing may hold it.
  EXPECT_TRUE(freed_within(weak, std::chrono::milliseconds(100) + DEADLINE))
      << weak->strong_refs.load() << " strong references left";
}

// The same for the server: its idle tick and its handler-deadline tick,
// due after it was stopped.
TEST_F(HttpServer, AStoppedServerIsFreedThoughItsTicksWereDue) {
  http::ServerOptions opts;
  opts.idle_timeout = std::chrono::milliseconds(40);      // an idle tick every 10 ms
  opts.handler_timeout = std::chrono::milliseconds(100);  // a request's deadline tick
  auto server = http::spawn_server(*sys, opts, {});
  ASSERT_TRUE(server) << sys->render(server.error());
  auto weak = caf::actor_cast<caf::weak_actor_ptr>(server->actor);
  std::optional<RawResponse> help = get(server->port, "/help");
  ASSERT_TRUE(help.has_value());
  EXPECT_EQ(help->status, 200);
  stoa::stop_actor(*sys, server->actor);
  server->actor = nullptr;
  EXPECT_TRUE(freed_within(weak, DEADLINE)) << weak->strong_refs.load() << " strong references left";
}

TEST_F(HttpClient, FetchFromAnEventBasedActor) {
  auto server = start();
  uint16_t port = server.port;
  auto user = sys->spawn([port](caf::event_based_actor* self) -> caf::behavior {
    return {
        [self, port](probe_atom) -> caf::result<std::string> {
          auto rp = self->make_response_promise<std::string>();
          http::fetch(
              self, local_request(port, "/text"),
              [rp](http::Response r) mutable { rp.deliver(std::to_string(r.status) + r.body); },
              [rp](caf::error e) mutable { rp.deliver(std::move(e)); });
          return rp;
        },
    };
  });
  caf::scoped_actor self{*sys};
  std::string got;
  self->request(user, DEADLINE, probe_atom::value)
      .receive([&](const std::string& s) { got = s; },
               [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  EXPECT_EQ(got, "200hello");
  caf::anon_send_exit(user, caf::exit_reason::user_shutdown);
}

// body_sink: the head first, then the body's bytes as the server streams
// them; the client's timeout bounds only the wait for the head; stopping the
// request actor ends the stream (and the server frees it).
TEST_F(HttpClient, BodySinkGetsAStreamAsItArrives) {
  auto server = start();
  struct Seen {
    std::mutex mutex;
    int heads = 0;
    int status = 0;
    std::string content_type;
    std::string bytes;
  };
  auto seen = std::make_shared<Seen>();
  auto req = local_request(server.port, "/events");
  req.timeout = std::chrono::milliseconds(500);
  req.body_sink = [seen](const http::Response& head, std::string_view bytes) {
    std::lock_guard<std::mutex> lock(seen->mutex);
    if (bytes.empty()) {
      ++seen->heads;
      seen->status = head.status;
      seen->content_type = head.content_type;
    }
    seen->bytes.append(bytes);
  };
  auto has = [seen](const std::string& text) {
    std::lock_guard<std::mutex> lock(seen->mutex);
    return seen->bytes == text;
  };
  caf::actor worker = http::spawn_request(*sys, std::move(req));
  caf::scoped_actor self{*sys};
  self->send(worker, http::go_atom_v);
  ASSERT_TRUE(eventually([&] { return has("hello\n"); }));
  {
    std::lock_guard<std::mutex> lock(seen->mutex);
    EXPECT_EQ(seen->heads, 1);
    EXPECT_EQ(seen->status, 200);
    EXPECT_EQ(seen->content_type, "text/event-stream");
  }
  caf::anon_send(producer_actor, push_atom::value, std::string("more\n"));
  ASSERT_TRUE(eventually([&] { return has("hello\nmore\n"); }));
  // Past the client's timeout the stream still flows (the server is asked for
  // its stats until then: a wait with a purpose, not a sleep).
  auto past = Clock::now() + std::chrono::milliseconds(700);
  EXPECT_TRUE(eventually([&] { return stats(server).streams == 1 && Clock::now() > past; }));
  caf::anon_send(producer_actor, push_atom::value, std::string("late\n"));
  ASSERT_TRUE(eventually([&] { return has("hello\nmore\nlate\n"); }));
  // The producer ends the stream: the final Response has the head, no body.
  caf::anon_send(producer_actor, end_atom::value);
  bool answered = false;
  self->receive([&](http::Response& r) {
                  answered = true;
                  EXPECT_EQ(r.status, 200);
                  EXPECT_EQ(r.body, "");
                },
                [&](caf::error& e) { ADD_FAILURE() << sys->render(e); },
                caf::after(DEADLINE) >> [&] { ADD_FAILURE() << "no final response"; });
  EXPECT_TRUE(answered);

  // A second stream, ended by the caller stopping the request actor.
  auto req2 = local_request(server.port, "/events");
  auto got = std::make_shared<std::atomic<int>>(0);
  req2.body_sink = [got](const http::Response&, std::string_view bytes) {
    *got += static_cast<int>(bytes.size());
  };
  caf::actor worker2 = http::spawn_request(*sys, std::move(req2));
  self->send(worker2, http::go_atom_v);
  ASSERT_TRUE(eventually([&] { return got->load() == 6; }));
  EXPECT_EQ(stats(server).streams, 1u);
  caf::anon_send_exit(worker2, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(eventually([&] { return stats(server).streams == 0; }));
  EXPECT_TRUE(eventually([&] { return producer_counts() == std::make_pair(2, 2); }));
}

}  // namespace
