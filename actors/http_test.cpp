// Tests of the HTTP server broker (actors/http.hpp) and client
// (actors/http_client.hpp) over real loopback sockets. The server tests talk
// plain POSIX sockets, so the client side assumes nothing about our own
// parser. No sleeps for synchronisation and no timing asserts: every wait is
// a poll against a generous deadline.

#include "actors/http.hpp"
#include "actors/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <picojson.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <gtest/gtest.h>

namespace http = stoa::http;
using namespace std::chrono_literals;

namespace {

// Upper bound for any single wait in these tests. Only reached on failure.
constexpr auto DEADLINE = std::chrono::seconds(10);

using Clock = std::chrono::steady_clock;

using wait_atom = caf::atom_constant<caf::atom("t_wait")>;
using open_atom = caf::atom_constant<caf::atom("t_open")>;
using probe_atom = caf::atom_constant<caf::atom("t_probe")>;

// ---- a raw HTTP/1.1 client on a blocking socket ----------------------------

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

std::string lower(std::string s) {
  for (auto& ch : s) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return s;
}

class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  ~RawConn() { close(); }

  bool ok() const { return fd_ >= 0; }

  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  void send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      auto n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        ADD_FAILURE() << "send failed";
        return;
      }
      off += static_cast<size_t>(n);
    }
  }

  // Reads exactly one response. Expects Content-Length and Content-Type on
  // every final (>= 200) response. std::nullopt on EOF, timeout or garbage.
  // `head_only`: the response to a HEAD request (Content-Length but no body).
  std::optional<RawResponse> read_response(bool head_only = false) {
    auto deadline = Clock::now() + DEADLINE;
    size_t eoh;
    while ((eoh = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) {
        return std::nullopt;
      }
    }
    RawResponse r;
    std::string head = buf_.substr(0, eoh);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) {
      ADD_FAILURE() << "bad status line: " << status_line;
      return std::nullopt;
    }
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) {
        e = head.size();
      }
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      r.headers[lower(line.substr(0, colon))] = value;
      pos = e + 2;
    }
    buf_.erase(0, eoh + 4);
    if (r.status < 200) {
      return r;  // interim response, no body
    }
    EXPECT_EQ(r.headers.count("content-type"), 1u) << "no Content-Type";
    auto cl = r.headers.find("content-length");
    if (cl == r.headers.end()) {
      ADD_FAILURE() << "no Content-Length";
      return std::nullopt;
    }
    size_t len = head_only ? 0 : std::stoul(cl->second);
    while (buf_.size() < len) {
      if (!fill(deadline)) {
        return std::nullopt;
      }
    }
    r.body = buf_.substr(0, len);
    buf_.erase(0, len);
    return r;
  }

  // True when the peer closes the connection with nothing more to read.
  bool wait_eof() {
    auto deadline = Clock::now() + DEADLINE;
    while (fill(deadline)) {
    }
    return eof_ && buf_.empty();
  }

  // Bytes received but not consumed by read_response.
  const std::string& leftover() const { return buf_; }

 private:
  // Appends available bytes; false on EOF, error or deadline.
  bool fill(Clock::time_point deadline) {
    if (fd_ < 0) {
      return false;
    }
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, static_cast<int>(left.count()));
      if (rc <= 0) {
        continue;
      }
      char tmp[16384];
      auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
        return true;
      }
      eof_ = true;  // 0 = orderly close, < 0 = reset: both end the stream
      return false;
    }
  }

  int fd_ = -1;
  bool eof_ = false;
  std::string buf_;
};

std::optional<picojson::value> parse_json(const std::string& text) {
  picojson::value v;
  std::string err = picojson::parse(v, text);
  if (!err.empty()) {
    return std::nullopt;
  }
  return v;
}

std::string json_message(const RawResponse& r) {
  auto v = parse_json(r.body);
  if (!v || !v->is<picojson::object>() || !v->get("message").is<std::string>()) {
    return "<no message in " + r.body + ">";
  }
  return v->get("message").get<std::string>();
}

// Polls `pred` until it holds or DEADLINE passes.
bool eventually(const std::function<bool()>& pred) {
  auto deadline = Clock::now() + DEADLINE;
  while (Clock::now() < deadline) {
    if (pred()) {
      return true;
    }
    std::this_thread::yield();
  }
  return pred();
}

// ---- actors used by handlers ------------------------------------------------

// Holds `wait` requests until it is sent `open`, then answers them all.
// The user-declared constructor matters: CAF 0.17's stateful_actor constructs
// the state from `this` when it can, and C++20 parenthesized aggregate init
// would make a plain aggregate "constructible" from the actor pointer,
// initializing `open` (a bool) to true.
struct GateState {
  GateState() = default;
  bool open = false;
  std::vector<caf::typed_response_promise<std::string>> waiting;
  static inline const char* name = "test.gate";
};

static_assert(!std::is_constructible_v<GateState, caf::stateful_actor<GateState>*>);

caf::behavior gate(caf::stateful_actor<GateState>* self) {
  return {
      [self](wait_atom) -> caf::result<std::string> {
        if (self->state.open) {
          return std::string("slow");
        }
        auto rp = self->make_response_promise<std::string>();
        self->state.waiting.push_back(rp);
        return rp;
      },
      [self](open_atom) {
        self->state.open = true;
        for (auto& rp : self->state.waiting) {
          rp.deliver(std::string("slow"));
        }
        self->state.waiting.clear();
      },
  };
}

// Sends the server an unexpected async message, then asks for its stats. If
// the server answered the async message with an error, this actor would die
// (CAF's default error handler) before the stats arrive.
caf::behavior prober(caf::event_based_actor* self, caf::actor server) {
  return {
      [self, server](probe_atom) -> caf::result<http::ServerStats> {
        self->send(server, std::string("nobody handles this"));
        auto rp = self->make_response_promise<http::ServerStats>();
        self->request(server, 5s, http::stats_atom_v)
            .then([rp](const http::ServerStats& s) mutable { rp.deliver(s); });
        return rp;
      },
  };
}

// Echoes the parsed request as JSON.
void echo_handler(caf::io::broker*, const http::Request& req, http::Responder respond) {
  picojson::object o;
  o["method"] = picojson::value(req.method);
  o["path"] = picojson::value(req.path);
  o["query_string"] = picojson::value(req.query_string);
  o["body"] = picojson::value(req.body);
  o["peer"] = picojson::value(req.peer);
  picojson::object q;
  for (const auto& [k, v] : req.query) {
    q[k] = picojson::value(v);
  }
  o["query"] = picojson::value(q);
  picojson::object h;
  for (const auto& [k, v] : req.headers) {
    h[k] = picojson::value(v);
  }
  o["headers"] = picojson::value(h);
  respond(http::json_response(picojson::value(o)));
}

// ---- fixture ------------------------------------------------------------------

caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  cfg.load<caf::io::middleman>();
  cfg.set("scheduler.max-threads", 2);
  cfg.set("middleman.workers", 0);
  return cfg;
}

class HttpTest : public ::testing::Test {
 protected:
  HttpTest() : sys(std::make_unique<caf::actor_system>(configure(cfg))) {
    gate_actor = sys->spawn(gate);
  }

  ~HttpTest() override {
    if (sys) {
      for (auto& a : to_stop) {
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      }
      caf::anon_send_exit(gate_actor, caf::exit_reason::user_shutdown);
      gate_actor = nullptr;
      to_stop.clear();
      sys.reset();
    }
  }

  // The routes every server test uses.
  std::vector<http::Route> test_routes() {
    std::vector<http::Route> routes;
    routes.push_back({"/echo", "Echoes the request as JSON.", {"GET", "POST"}, echo_handler});
    routes.push_back({"/text", "Says hello in plain text.", {"GET"},
                      [](caf::io::broker*, const http::Request&, http::Responder respond) {
                        respond(http::text_response("hello"));
                      }});
    routes.push_back({"/hang", "Never responds.", {"GET"},
                      [](caf::io::broker*, const http::Request&, http::Responder) {}});
    routes.push_back({"/throw", "Throws.", {"GET"},
                      [](caf::io::broker*, const http::Request&, http::Responder) {
                        throw std::runtime_error("boom");
                      }});
    caf::actor g = gate_actor;
    routes.push_back({"/slow", "Responds once the gate opens.", {"GET"},
                      [g](caf::io::broker* self, const http::Request&, http::Responder respond) {
                        self->request(g, 20s, wait_atom::value)
                            .then([respond](const std::string& s) {
                                    respond(http::text_response(s));
                                  },
                                  [respond](caf::error&) {
                                    respond(http::error_response(500, "gate failed"));
                                  });
                      }});
    routes.push_back({"/fast", "Responds at once, then opens the gate.", {"GET"},
                      [g](caf::io::broker* self, const http::Request&, http::Responder respond) {
                        respond(http::text_response("fast"));
                        self->send(g, open_atom::value);
                      }});
    http::Route files{"/files/", "Serves everything under /files/.", {"GET"},
                      [](caf::io::broker*, const http::Request& req, http::Responder respond) {
                        respond(http::text_response("file:" + req.path));
                      }};
    files.prefix = true;
    routes.push_back(files);
    routes.push_back({"/files/exact", "An exact route under the prefix.", {"GET"},
                      [](caf::io::broker*, const http::Request&, http::Responder respond) {
                        respond(http::text_response("exact"));
                      }});
    return routes;
  }

  http::Server start(http::ServerOptions opts = {}) {
    auto server = http::spawn_server(*sys, opts, test_routes());
    if (!server) {
      ADD_FAILURE() << "spawn_server: " << sys->render(server.error());
      return {};
    }
    to_stop.push_back(server->actor);
    return *server;
  }

  http::ServerStats stats(const http::Server& server) {
    http::ServerStats out;
    caf::scoped_actor self{*sys};
    self->request(server.actor, DEADLINE, http::stats_atom_v)
        .receive([&](const http::ServerStats& s) { out = s; },
                 [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
    return out;
  }

  // One request on a fresh connection.
  std::optional<RawResponse> get(uint16_t port, const std::string& target) {
    RawConn c(port);
    if (!c.ok()) {
      return std::nullopt;
    }
    c.send("GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n");
    return c.read_response();
  }

  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor gate_actor;
  std::vector<caf::actor> to_stop;
};

using HttpServer = HttpTest;
using HttpClient = HttpTest;

// ---- server -----------------------------------------------------------------

TEST_F(HttpServer, ParsesRequestLineQueryHeadersAndPeer) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("GET /ech%6F?a=1&b=x%20y+z&c HTTP/1.1\r\nHost: test\r\nX-Thing: V\r\n"
         "X-Multi: 1\r\nX-Multi: 2\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"], "application/json");
  auto v = parse_json(r->body);
  ASSERT_TRUE(v) << r->body;
  EXPECT_EQ(v->get("method").to_str(), "GET");
  EXPECT_EQ(v->get("path").to_str(), "/echo");
  EXPECT_EQ(v->get("query_string").to_str(), "a=1&b=x%20y+z&c");
  EXPECT_EQ(v->get("query").get("a").to_str(), "1");
  EXPECT_EQ(v->get("query").get("b").to_str(), "x y z");
  EXPECT_TRUE(v->get("query").get("c").is<std::string>());
  EXPECT_EQ(v->get("headers").get("x-thing").to_str(), "V");
  EXPECT_EQ(v->get("headers").get("x-multi").to_str(), "1, 2");
  EXPECT_EQ(v->get("peer").to_str().rfind("127.0.0.1:", 0), 0u) << v->get("peer").to_str();
}

TEST_F(HttpServer, PartialDataAcrossReads) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  // The second request's line is cut in the middle; the first response proves
  // the server has read (and kept) the fragment before we send the rest.
  c.send("GET /echo?n=1 HTTP/1.1\r\nHost: test\r\n\r\nGET /echo?n=2 HT");
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(parse_json(r1->body)->get("query").get("n").to_str(), "1");
  c.send("TP/1.1\r\nHost: te");
  c.send("st\r\n\r\n");
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(parse_json(r2->body)->get("query").get("n").to_str(), "2");
}

TEST_F(HttpServer, ContentLengthBodySplitAcrossReads) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  // `Expect: 100-continue` makes the server say when it has parsed the
  // headers, so the body certainly arrives in a later read.
  c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n"
         "Expect: 100-continue\r\n\r\n");
  auto cont = c.read_response();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  c.send("01234");
  c.send("56789");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(parse_json(r->body)->get("body").to_str(), "0123456789");
  EXPECT_EQ(parse_json(r->body)->get("method").to_str(), "POST");
}

TEST_F(HttpServer, ChunkedRequestBody) {
  auto server = start();
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5\r\nhello\r\n");
  c.send("6\r\n world\r\n");
  c.send("0\r\nX-Trailer: t\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(parse_json(r->body)->get("body").to_str(), "hello world");
}

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

TEST_F(HttpServer, MalformedRequestGets400AndClose) {
  auto server = start();
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("HELLO WORLD\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->headers["content-type"], "application/json");
    EXPECT_NE(json_message(*r).find("malformed"), std::string::npos) << r->body;
    EXPECT_TRUE(c.wait_eof());
  }
  {
    // A good request before the bad one is still answered, in order.
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("GET /text HTTP/1.1\r\nHost: test\r\n\r\n"
           "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    auto r1 = c.read_response();
    auto r2 = c.read_response();
    ASSERT_TRUE(r1 && r2);
    EXPECT_EQ(r1->body, "hello");
    EXPECT_EQ(r2->status, 400);
    EXPECT_TRUE(c.wait_eof());
  }
  auto again = get(server.port, "/text");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "hello");
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

TEST_F(HttpServer, BodyAboveLimitIs413) {
  http::ServerOptions opts;
  opts.max_body_bytes = 16;
  auto server = start(opts);
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.wait_eof()) << "leftover: " << c.leftover();
  }
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
           "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.wait_eof()) << "leftover: " << c.leftover();
  }
  {
    RawConn c(server.port);
    ASSERT_TRUE(c.ok());
    c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(HttpServer, HeadersAboveLimitAre431) {
  http::ServerOptions opts;
  opts.max_header_bytes = 1024;
  auto server = start(opts);
  RawConn c(server.port);
  ASSERT_TRUE(c.ok());
  c.send("GET /text HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(4000, 'a') + "\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c.wait_eof());
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
  to_stop.clear();
  server.actor = nullptr;
  sys.reset();  // hangs (and the ctest TIMEOUT fails us) if the broker lingers
  EXPECT_TRUE(busy.wait_eof());
  EXPECT_TRUE(idle.wait_eof());
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

TEST(HttpHelpers, PercentDecodeAndQuery) {
  EXPECT_EQ(*http::percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(*http::percent_decode("a%20b+c", false), "a b+c");
  EXPECT_TRUE(http::percent_decode("%2", false).is_error());
  EXPECT_TRUE(http::percent_decode("%zz", false).is_error());
  auto q = http::parse_query("a=1&b=&c&&d=x%3Dy");
  ASSERT_TRUE(q.is_some());
  EXPECT_EQ(q->at("a"), "1");
  EXPECT_EQ(q->at("b"), "");
  EXPECT_EQ(q->at("c"), "");
  EXPECT_EQ(q->at("d"), "x=y");
  auto bytes = http::serialize_response(http::text_response("hi", 201), false);
  EXPECT_EQ(bytes,
            "HTTP/1.1 201 Created\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 2\r\nConnection: keep-alive\r\n\r\nhi");
  http::Response evil = http::text_response("x");
  evil.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: b");
  evil.headers.emplace_back("Content-Length", "99");
  evil.headers.emplace_back("X-Good", "1");
  auto safe = http::serialize_response(evil, true);
  EXPECT_EQ(safe.find("Set-Cookie"), std::string::npos);
  EXPECT_EQ(safe.find("99"), std::string::npos);
  EXPECT_NE(safe.find("X-Good: 1\r\n"), std::string::npos);
}

// ---- client -----------------------------------------------------------------

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
  to_stop.clear();
  sys.reset();  // hangs (ctest TIMEOUT) if the unused broker lingers
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

}  // namespace
