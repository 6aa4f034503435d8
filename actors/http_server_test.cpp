// The server broker over real loopback sockets: keep-alive and closing,
// HEAD, pipelining in request order, routing (404, 405, prefixes, /help,
// routes added later), bodies streamed from files, JSONP, handler failures (500, 504), clients going away
// and shutdown.
#include "actors/http_test_support.hpp"
#include "tests/poll.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

using namespace http_test;

TEST_F(HttpServer, KeepAliveByDefault) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  for (int i = 0; i < 3; ++i) {
    c.send("GET /text HTTP/1.1\r\nHost: test\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->body, "hello");
    EXPECT_EQ(r->headers["connection"], "keep-alive");
  }
  EXPECT_EQ(stats(server).connections, 1u);
}

TEST_F(HttpServer, HeadGetsHeadersOnly) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("HEAD /text HTTP/1.1\r\nHost: test\r\n\r\nGET /text HTTP/1.1\r\nHost: test\r\n\r\n");
  auto r1 = c.read_response(true);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->headers["content-length"], "5");
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "hello");
}

// A body from a file (Response::body_file): byte-exact, in order with the
// pipelined responses around it, headers only for HEAD, 500 for a file that
// is not there, and a connection closed when the file is shorter than said.
TEST_F(HttpServer, FileBodiesAreStreamedInOrder) {
  char dir_template[] = "/tmp/stoa-http-stream-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string file = std::string(dir_template) + "/big.bin";
  std::string bytes;
  for (size_t i = 0; i < (5u << 20) + 123; ++i) {
    bytes.push_back(static_cast<char>((i * 7) % 253));
  }
  {
    std::ofstream out(file, std::ios::binary);
    out << bytes;
  }
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  const std::string stream = "/stream?file=" + file + "&size=" + std::to_string(bytes.size());
  c.send("GET " + stream + " HTTP/1.1\r\nHost: t\r\n\r\nGET /text HTTP/1.1\r\nHost: t\r\n\r\n"
         "HEAD " + stream + " HTTP/1.1\r\nHost: t\r\n\r\n"
         "GET /stream?file=" + file + ".missing&size=3 HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->headers["content-length"], std::to_string(bytes.size()));
  EXPECT_TRUE(r1->body == bytes) << "got " << r1->body.size() << " bytes";
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "hello");
  auto r3 = c.read_response(true);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->headers["content-length"], std::to_string(bytes.size()));
  auto r4 = c.read_response();
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->status, 500);
  EXPECT_NE(r4->body.find(".missing"), std::string::npos) << r4->body;

  // Promised more than the file holds: closed once the file runs out.
  RawConn short_conn(server.port);
  ASSERT_TRUE(short_conn.ok());
  short_conn.send("GET /stream?file=" + file + "&size=" + std::to_string(bytes.size() + 10) +
                  " HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_FALSE(short_conn.read_response());
  std::filesystem::remove_all(dir_template);
}

// A large in-memory body is written in chunks as the client reads (issue
// #17): byte-exact, in order with the pipelined responses around it, its
// Content-Length in the head, headers only for HEAD, and with
// `Connection: close` the connection closes after the last chunk.
TEST_F(HttpServer, LargeBodiesAreWrittenInChunksInOrder) {
  const size_t size = (5u << 20) + 77;
  const std::string big = "/big?size=" + std::to_string(size);
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("GET " + big + " HTTP/1.1\r\nHost: t\r\n\r\nGET /text HTTP/1.1\r\nHost: t\r\n\r\n"
         "HEAD " + big + " HTTP/1.1\r\nHost: t\r\n\r\nGET " + big + " HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->headers["content-length"], std::to_string(size));
  EXPECT_TRUE(r1->body == big_body(size)) << "got " << r1->body.size() << " bytes";
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "hello");
  auto r3 = c.read_response(true);
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->headers["content-length"], std::to_string(size));
  auto r4 = c.read_response();
  ASSERT_TRUE(r4);
  EXPECT_TRUE(r4->body == big_body(size)) << "got " << r4->body.size() << " bytes";

  RawConn closing(server.port);
  ASSERT_TRUE(closing.ok());
  closing.send("GET " + big + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  auto r5 = closing.read_response();
  ASSERT_TRUE(r5);
  EXPECT_EQ(r5->headers["connection"], "close");
  EXPECT_TRUE(r5->body == big_body(size)) << "got " << r5->body.size() << " bytes";
  EXPECT_FALSE(closing.read_response());  // closed after the body
}

// One body shared by several responses (Response::shared_body, e.g. one
// /master/state render answering every request that waited for it): each
// gets the same bytes, large ones in chunks, HEAD the head alone, ?jsonp=
// the wrapped body; and the server lets go of the body once written.
TEST_F(HttpServer, ASharedBodyAnswersSeveralRequests) {
  const size_t size = (3u << 20) + 5;
  auto big = std::make_shared<const std::string>("\"" + big_body(size - 2) + "\"");
  auto small = std::make_shared<const std::string>("{\"small\":true}");
  auto server = start();
  for (auto [path, body] : {std::pair{"/shared/big", big}, std::pair{"/shared/small", small}}) {
    std::weak_ptr<const std::string> weak = body;  // the route holds no reference
    http::add_route(server, {path, "A shared body.", {"GET"},
                             [weak](caf::io::broker*, const http::Request&, http::Responder respond) {
                               http::Response r;
                               r.shared_body = weak.lock();
                               respond(std::move(r));
                             }});
  }
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 3; ++i) {
    conns.push_back(std::make_unique<RawConn>(server.port));
    ASSERT_TRUE(conns.back()->ok());
    conns.back()->send("GET /shared/big HTTP/1.1\r\nHost: t\r\n\r\nHEAD /shared/big HTTP/1.1\r\nHost: t\r\n\r\n"
                       "GET /shared/small HTTP/1.1\r\nHost: t\r\n\r\nGET /shared/big?jsonp=cb HTTP/1.1\r\n"
                       "Host: t\r\n\r\n");
  }
  for (auto& c : conns) {
    auto r1 = c->read_response();
    ASSERT_TRUE(r1);
    EXPECT_EQ(r1->status, 200);
    EXPECT_EQ(r1->headers["content-type"], "application/json");
    EXPECT_EQ(r1->headers["content-length"], std::to_string(size));
    EXPECT_TRUE(r1->body == *big) << "got " << r1->body.size() << " bytes";
    auto r2 = c->read_response(true);
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->headers["content-length"], std::to_string(size));
    auto r3 = c->read_response();
    ASSERT_TRUE(r3);
    EXPECT_EQ(r3->body, *small);
    EXPECT_EQ(r3->headers["content-length"], std::to_string(small->size()));
    auto r4 = c->read_response();
    ASSERT_TRUE(r4);
    EXPECT_EQ(r4->headers["content-type"], "application/javascript");
    EXPECT_TRUE(r4->body == "cb(" + *big + ");") << "got " << r4->body.size() << " bytes";
  }
  // Written: the server holds no reference to the body any more.
  EXPECT_TRUE(stoa::tests::poll_until([&] { return big.use_count() == 1; }, stoa::tests::deadline_in(DEADLINE)))
      << big.use_count() << " references";
}

// A body in spans is written as its bytes joined: large ones in chunks that
// cut across its pieces, small ones at once, HEAD the head alone, ?jsonp=
// wrapped; the server lets go of it once written.
TEST_F(HttpServer, ABodyInSpansIsWrittenAsItsJoinedBytes) {
  const std::string big_text = "\"" + big_body((3u << 20) + 3) + "\"";
  auto big = std::make_shared<const PiecesBody>(big_text);
  auto small = std::make_shared<const PiecesBody>("{\"small\":true}");
  ASSERT_EQ(big->str(), big_text);
  auto server = start();
  for (auto [path, body] : {std::pair{"/spans/big", big}, std::pair{"/spans/small", small}}) {
    std::weak_ptr<const PiecesBody> weak = body;  // the route holds no reference
    http::add_route(server, {path, "A body in spans.", {"GET"},
                             [weak](caf::io::broker*, const http::Request&, http::Responder respond) {
                               http::Response r;
                               r.spans_body = weak.lock();
                               respond(std::move(r));
                             }});
  }
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("GET /spans/big HTTP/1.1\r\nHost: t\r\n\r\nHEAD /spans/big HTTP/1.1\r\nHost: t\r\n\r\n"
         "GET /spans/small HTTP/1.1\r\nHost: t\r\n\r\nGET /spans/big?jsonp=cb HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->headers["content-length"], std::to_string(big_text.size()));
  EXPECT_TRUE(r1->body == big_text) << "got " << r1->body.size() << " bytes";
  auto r2 = c.read_response(true);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->headers["content-length"], std::to_string(big_text.size()));
  auto r3 = c.read_response();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->body, "{\"small\":true}");
  auto r4 = c.read_response();
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->headers["content-type"], "application/javascript");
  EXPECT_TRUE(r4->body == "cb(" + big_text + ");") << "got " << r4->body.size() << " bytes";
  EXPECT_TRUE(stoa::tests::poll_until([&] { return big.use_count() == 1; }, stoa::tests::deadline_in(DEADLINE)))
      << big.use_count() << " references";
}

TEST_F(HttpServer, ConnectionCloseClosesAfterResponse) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  // Anything after the closing request is ignored.
  c.send("GET /text HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
         "GET /text HTTP/1.1\r\nHost: test\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->headers["connection"], "close");
  EXPECT_TRUE(c.wait_eof()) << "leftover: " << c.leftover();
}

TEST_F(HttpServer, Http10ClosesUnlessKeepAlive) {
  auto server = start();
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("GET /text HTTP/1.0\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "hello");
    EXPECT_TRUE(c.wait_eof());
  }
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("GET /text HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto r1 = c.read_response();
    ASSERT_TRUE(r1);
    EXPECT_EQ(r1->headers["connection"], "keep-alive");
    c.send("GET /text HTTP/1.0\r\n\r\n");
    auto r2 = c.read_response();
    ASSERT_TRUE(r2);
    EXPECT_EQ(r2->body, "hello");
    EXPECT_TRUE(c.wait_eof());
  }
}

TEST_F(HttpServer, PipelinedResponsesStayInOrder) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  // /slow waits for the gate; /fast responds at once and then opens the gate,
  // so the second response is ready strictly before the first.
  c.send("GET /slow HTTP/1.1\r\nHost: test\r\n\r\n"
         "GET /fast HTTP/1.1\r\nHost: test\r\n\r\n"
         "GET /nope HTTP/1.1\r\nHost: test\r\n\r\n");
  auto r1 = c.read_response();
  auto r2 = c.read_response();
  auto r3 = c.read_response();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->body, "slow");
  EXPECT_EQ(r2->body, "fast");
  EXPECT_EQ(r3->status, 404);
}

TEST_F(HttpServer, UnknownPathIs404AndWrongMethodIs405) {
  auto server = start();
  auto r404 = get(server.port, "/nope");
  ASSERT_TRUE(r404);
  EXPECT_EQ(r404->status, 404);
  EXPECT_EQ(r404->headers["content-type"], "application/json");
  EXPECT_NE(json_message(*r404).find("/nope"), std::string::npos);

  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("DELETE /echo HTTP/1.1\r\nHost: test\r\n\r\n");
  auto r405 = c.read_response();
  ASSERT_TRUE(r405);
  EXPECT_EQ(r405->status, 405);
  EXPECT_EQ(r405->headers["allow"], "GET, POST");
  EXPECT_FALSE(json_message(*r405).empty());
}

TEST_F(HttpServer, PrefixRoutesAndExactRoutesWin) {
  auto server = start();
  auto deep = get(server.port, "/files/a/b.txt");
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->body, "file:/files/a/b.txt");
  auto exact = get(server.port, "/files/exact");
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->body, "exact");
}

TEST_F(HttpServer, JsonpWrapsJsonBodies) {
  auto server = start();
  auto r = get(server.port, "/echo?jsonp=cb");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], "application/javascript");
  ASSERT_GE(r->body.size(), 5u);
  EXPECT_EQ(r->body.substr(0, 3), "cb(");
  EXPECT_EQ(r->body.substr(r->body.size() - 2), ");");
  EXPECT_TRUE(parse_json(r->body.substr(3, r->body.size() - 5)));
  // Not JSON: untouched.
  auto t = get(server.port, "/text?jsonp=cb");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->body, "hello");
  // Not an identifier: refused rather than reflected.
  auto bad = get(server.port, "/echo?jsonp=alert(1)");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST_F(HttpServer, SilentHandlerGets504) {
  http::ServerOptions opts;
  opts.handler_timeout = 100ms;
  auto server = start(opts);
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("GET /hang HTTP/1.1\r\nHost: test\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_FALSE(json_message(*r).empty());
  // The connection stays usable and nothing is pending any more.
  c.send("GET /text HTTP/1.1\r\nHost: test\r\n\r\n");
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "hello");
  EXPECT_EQ(stats(server).pending, 0u);
}

TEST_F(HttpServer, ThrowingHandlerGets500) {
  auto server = start();
  auto r = get(server.port, "/throw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(json_message(*r).find("boom"), std::string::npos);
  auto again = get(server.port, "/text");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(HttpServer, ClientClosingMidRequestCleansUp) {
  auto server = start();
  {
    RawConn partial(server.port);
    RawConn waiting(server.port);
    ASSERT_TRUE(partial.ok() && waiting.ok());
    partial.send("POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc");
    waiting.send("GET /slow HTTP/1.1\r\nHost: test\r\n\r\n");
    http::ServerStats last;
    EXPECT_TRUE(eventually([&] {
      last = stats(server);
      return last.connections == 2 && last.pending == 1;
    })) << "connections " << last.connections << ", pending " << last.pending
        << ", requests " << last.requests;
  }  // both close here
  EXPECT_TRUE(eventually([&] {
    auto s = stats(server);
    return s.connections == 0 && s.pending == 0;
  }));
  // The orphaned /slow handler now responds to a connection that is gone.
  caf::anon_send(gate_actor, open_atom::value);
  auto r = get(server.port, "/slow");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "slow");
}

TEST_F(HttpServer, HelpListsRoutes) {
  auto server = start();
  auto r = get(server.port, "/help");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto v = parse_json(r->body);
  ASSERT_TRUE(v && v->get("routes").is<picojson::array>()) << r->body;
  bool found_echo = false;
  bool found_help = false;
  for (const auto& route : v->get("routes").get<picojson::array>()) {
    if (route.get("path").to_str() == "/echo") {
      found_echo = true;
      EXPECT_EQ(route.get("help").to_str(), "Echoes the request as JSON.");
      ASSERT_TRUE(route.get("methods").is<picojson::array>());
      EXPECT_EQ(route.get("methods").get<picojson::array>().size(), 2u);
    }
    found_help = found_help || route.get("path").to_str() == "/help";
  }
  EXPECT_TRUE(found_echo);
  EXPECT_TRUE(found_help);
}

TEST_F(HttpServer, RoutesCanBeAddedLater) {
  auto server = start();
  http::add_route(server, {"/late", "Added after start.", {"GET"},
                           [](caf::io::broker*, const http::Request&, http::Responder respond) {
                             respond(http::text_response("late"));
                           }});
  EXPECT_TRUE(eventually([&] {
    auto r = get(server.port, "/late");
    return r && r->status == 200 && r->body == "late";
  }));
}

// A daemon's server listens before its component has added its routes: an
// unknown path is 503 (retry) until the routes are complete, then 404.
TEST_F(HttpServer, WhileStartingAnUnknownPathIs503ThenRoutesCompleteMakeIt404) {
  http::ServerOptions opts;
  opts.starting = true;
  auto server = start(opts);
  auto early = get(server.port, "/late");
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 503);
  EXPECT_EQ(early->headers["retry-after"], "1");
  EXPECT_NE(json_message(*early).find("'/late' yet: the server is starting"), std::string::npos);
  auto known = get(server.port, "/echo");
  ASSERT_TRUE(known);
  EXPECT_EQ(known->status, 200) << "a route that is up is served while starting";
  http::add_route(server, {"/late", "Added after start.", {"GET"},
                           [](caf::io::broker*, const http::Request&, http::Responder respond) {
                             respond(http::text_response("late"));
                           }});
  http::routes_complete(server);
  auto late = get(server.port, "/late");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 200);
  auto unknown = get(server.port, "/nope");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(HttpServer, UnexpectedMessagesAreDroppedQuietly) {
  auto server = start();
  auto p = sys->spawn(prober, server.actor);
  caf::scoped_actor self{*sys};
  bool answered = false;
  self->request(p, DEADLINE, probe_atom::value)
      .receive([&](const http::ServerStats&) { answered = true; },
               [&](caf::error& e) { ADD_FAILURE() << "prober died: " << sys->render(e); });
  EXPECT_TRUE(answered);
  caf::anon_send_exit(p, caf::exit_reason::user_shutdown);
  auto r = get(server.port, "/text");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServer, ShutdownIsPromptWithOpenConnections) {
  auto server = start();
  RawConn busy(server.port);
  ASSERT_TRUE(busy.ok());
  busy.send("GET /hang HTTP/1.1\r\nHost: test\r\n\r\n");
  RawConn idle(server.port);
  ASSERT_TRUE(idle.ok());
  EXPECT_TRUE(eventually([&] { return stats(server).connections == 2; }));
  caf::anon_send_exit(server.actor, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(gate_actor, caf::exit_reason::user_shutdown);
  gate_actor = nullptr;
  caf::anon_send_exit(producer_actor, caf::exit_reason::user_shutdown);
  producer_actor = nullptr;
  to_stop.clear();
  server.actor = nullptr;
  sys.reset();  // hangs (and the ctest TIMEOUT fails us) if the broker lingers
  EXPECT_TRUE(busy.wait_eof());
  EXPECT_TRUE(idle.wait_eof());
}

// A fresh directory under /tmp (short: a Unix socket's path has < 108 bytes).
std::string temp_dir() {
  char tmpl[] = "/tmp/stoa-http-unix.XXXXXX";
  const char* made = ::mkdtemp(tmpl);
  EXPECT_NE(made, nullptr);
  return made != nullptr ? std::string(made) : std::string("/tmp");
}

// ServerOptions::unix_socket (the slave's for its executors): the same
// routes on a Unix socket, which replaces one an earlier process left and
// goes when the server stops.
TEST_F(HttpServer, AUnixSocketServesTheSameRoutesAndGoesWithTheServer) {
  const std::string dir = temp_dir();
  const std::string path = dir + "/http.sock";
  {
    // What a killed process leaves: a bound socket's file, nobody listening.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ::close(fd);
  }
  http::ServerOptions opts;
  opts.unix_socket = path;
  auto server = start(opts);
  ASSERT_TRUE(server.actor);
  EXPECT_TRUE(std::filesystem::is_socket(path));
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_write,
            std::filesystem::perms::others_write);
  auto help = [](RawConn& conn) {
    ASSERT_TRUE(conn.ok());
    conn.send("GET /help HTTP/1.1\r\nHost: test\r\n\r\n");
    auto r = conn.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_NE(r->body.find("/help"), std::string::npos) << r->body;
  };
  RawConn local(path);
  help(local);
  RawConn tcp(server.port);
  help(tcp);
  caf::anon_send_exit(server.actor, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(path); })) << "the socket outlived its server";
  std::filesystem::remove_all(dir);
}

TEST_F(HttpServer, AUnixSocketPathThatIsAnotherFileOrTooLongIsAnError) {
  const std::string dir = temp_dir();
  http::ServerOptions opts;
  opts.unix_socket = dir + "/plain";
  std::ofstream(opts.unix_socket) << "keep me";
  auto taken = http::spawn_server(*sys, opts, {});
  ASSERT_FALSE(taken);
  EXPECT_NE(sys->render(taken.error()).find(opts.unix_socket + ": the path exists and is not a socket"),
            std::string::npos)
      << sys->render(taken.error());
  std::ifstream kept(opts.unix_socket);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(kept), {}), "keep me");
  // A live server's socket is not taken over by a second one.
  http::ServerOptions first_opts;
  first_opts.unix_socket = dir + "/live.sock";
  auto first = start(first_opts);
  ASSERT_TRUE(first.actor);
  opts.unix_socket = first_opts.unix_socket;
  auto second = http::spawn_server(*sys, opts, {});
  ASSERT_FALSE(second);
  EXPECT_NE(sys->render(second.error()).find("another process listens on it"), std::string::npos)
      << sys->render(second.error());
  RawConn still(first_opts.unix_socket);
  EXPECT_TRUE(still.ok());
  opts.unix_socket = dir + "/" + std::string(120, 'x');
  auto too_long = http::spawn_server(*sys, opts, {});
  ASSERT_FALSE(too_long);
  EXPECT_NE(sys->render(too_long.error()).find("must have 1 to 107 bytes"), std::string::npos)
      << sys->render(too_long.error());
  std::filesystem::remove_all(dir);
}

TEST_F(HttpServer, BindFailureIsAnError) {
  auto first = start();
  http::ServerOptions opts;
  opts.port = first.port;
  opts.host = "127.0.0.1";
  // A second server on the same port: SO_REUSEADDR does not allow two listeners.
  auto second = http::spawn_server(*sys, opts, {});
  EXPECT_FALSE(second);
  http::ServerOptions bad_host;
  bad_host.host = "not-an-address.invalid";
  EXPECT_FALSE(http::spawn_server(*sys, bad_host, {}));
}

}  // namespace

// ---- streamed responses (Response::stream_producer) --------------------------

namespace {

using namespace http_test;

// GET /events (the test producer) on `c`, with its head read.
std::optional<RawResponse> open_stream(RawConn& c, const std::string& ctx = "",
                                       const std::string& after = "") {
  c.send("GET /events?ctx=" + ctx + " HTTP/1.1\r\nHost: test\r\n\r\n" + after);
  return c.read_head();
}

TEST_F(HttpServer, StreamHeadersAndChunksArrive) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  // A request pipelined behind the stream is never answered: the stream is
  // the last response on its connection.
  auto head = open_stream(c, "abc", "GET /text HTTP/1.1\r\nHost: test\r\n\r\n");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-type"], "text/event-stream");
  EXPECT_EQ(head->headers["cache-control"], "no-cache");
  EXPECT_EQ(head->headers["connection"], "close");
  EXPECT_EQ(head->headers.count("content-length"), 0u);
  ASSERT_TRUE(c.read_until("hello\n")) << c.leftover();
  EXPECT_EQ(stats(server).streams, 1u);
  caf::anon_send(producer_actor, push_atom::value, std::string("one\n"));
  caf::anon_send(producer_actor, push_atom::value, std::string("two\n"));
  ASSERT_TRUE(c.read_until("two\n")) << c.leftover();
  EXPECT_EQ(c.leftover(), "hello\none\ntwo\n");
  // The producer ends it: the connection closes after the last bytes.
  caf::anon_send(producer_actor, push_atom::value, std::string("last\n"));
  caf::anon_send(producer_actor, end_atom::value);
  c.read_until("never sent");
  EXPECT_EQ(c.leftover(), "hello\none\ntwo\nlast\n");
  EXPECT_TRUE(eventually([&] { return producer_counts() == std::make_pair(1, 1); }));
  auto s = stats(server);
  EXPECT_EQ(s.streams, 0u);
  EXPECT_EQ(s.streams_closed, 1u);
  EXPECT_EQ(s.streams_slow_closed, 0u);
}

TEST_F(HttpServer, StreamClientDisconnectFreesTheStream) {
  auto server = start();
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(open_stream(c));
    ASSERT_TRUE(c.read_until("hello\n"));
    EXPECT_EQ(stats(server).streams, 1u);
  }  // the client goes away
  EXPECT_TRUE(eventually([&] { return stats(server).streams == 0; }));
  EXPECT_TRUE(eventually([&] { return producer_counts() == std::make_pair(1, 1); }));
  EXPECT_EQ(stats(server).connections, 0u);
  // Chunks for the closed stream are dropped; the server serves on.
  caf::anon_send(producer_actor, push_atom::value, std::string("late\n"));
  auto r = get(server.port, "/text");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(HttpServer, StreamSlowReaderIsClosedAndCounted) {
  http::ServerOptions opts;
  opts.max_stream_unsent = 256 << 10;
  opts.metrics = &registry;
  auto server = start(opts);
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(open_stream(c));
  ASSERT_TRUE(c.read_until("hello\n"));
  EXPECT_EQ(registry.gauge("http/streams", "").value(), 1);
  // The client reads nothing more while the producer floods: once the socket
  // buffers are full, the server's unsent bytes pass the bound.
  caf::anon_send(producer_actor, flood_atom::value);
  EXPECT_TRUE(eventually([&] { return stats(server).streams_slow_closed == 1; }));
  EXPECT_TRUE(eventually([&] { return producer_counts() == std::make_pair(1, 1); }));
  auto s = stats(server);
  EXPECT_EQ(s.streams, 0u);
  EXPECT_EQ(s.connections, 0u);
  EXPECT_EQ(registry.counter("http/streams_slow_closed", "").value(), 1);
  EXPECT_EQ(registry.gauge("http/streams", "").value(), 0);
}

TEST_F(HttpServer, StreamHeadGetsHeadersOnly) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("HEAD /events HTTP/1.1\r\nHost: test\r\n\r\n");
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-type"], "text/event-stream");
  EXPECT_TRUE(c.wait_eof());
  // The producer is told the stream never opened (id 0).
  EXPECT_TRUE(eventually([&] { return producer_counts() == std::make_pair(0, 1); }));
}

// A handler that answers with a stream after its client left: the server
// cannot open it, and tells the producer so (a producer made for one stream,
// like the slave's executor connections, would otherwise wait forever).
TEST_F(HttpServer, AStreamAnsweredAfterTheClientLeftIsClosedAtItsProducer) {
  auto server = start();
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("GET /slow-events HTTP/1.1\r\nHost: test\r\n\r\n");
    ASSERT_TRUE(eventually([&] { return stats(server).pending == 1; }));
  }  // the client goes away before the handler answers
  ASSERT_TRUE(eventually([&] { return stats(server).connections == 0; }));
  caf::anon_send(gate_actor, open_atom::value);
  EXPECT_TRUE(eventually([&] { return producer_counts() == std::make_pair(0, 1); }));
  EXPECT_EQ(stats(server).streams, 0u);
}

TEST_F(HttpServer, StreamClosesWhenItsProducerExits) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(open_stream(c));
  ASSERT_TRUE(c.read_until("hello\n"));
  caf::anon_send_exit(producer_actor, caf::exit_reason::user_shutdown);
  c.read_until("never sent");
  EXPECT_EQ(c.leftover(), "hello\n");
  EXPECT_TRUE(eventually([&] { return stats(server).streams == 0; }));
}

TEST_F(HttpServer, StreamsCloseWhenTheServerStops) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(open_stream(c));
  ASSERT_TRUE(c.read_until("hello\n"));
  caf::anon_send_exit(server.actor, caf::exit_reason::user_shutdown);
  c.read_until("never sent");
  EXPECT_EQ(c.leftover(), "hello\n");
  // The producer hears that its stream is gone.
  EXPECT_TRUE(eventually([&] { return producer_counts() == std::make_pair(1, 1); }));
}

}  // namespace
