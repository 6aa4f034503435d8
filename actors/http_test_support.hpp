#pragma once
// Shared by the HTTP tests (http_parsing_test.cpp, http_server_test.cpp,
// http_client_test.cpp): a raw HTTP/1.1 client on a blocking POSIX socket (so
// the server tests assume nothing about our own parser), actors the test
// handlers talk to, and the fixture that runs a server with the test routes.
// No sleeps for synchronisation and no timing asserts: every wait is a poll
// against a generous deadline.

#include "actors/buffered_tcp.hpp"
#include "actors/http.hpp"
#include "actors/http_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <picojson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
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


#include "common/metrics.hpp"
#include "common/strings.hpp"

namespace http = stoa::http;
using namespace std::chrono_literals;

namespace http_test {

// The body of GET /big?size=n: n bytes of a pattern that does not repeat
// at 1 MiB boundaries (a misplaced chunk would show).
inline std::string big_body(size_t n) {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(static_cast<char>('a' + (i * 7 + i / 1000) % 26));
  }
  return out;
}

// Upper bound for any single wait in these tests. Only reached on failure.
constexpr auto DEADLINE = std::chrono::seconds(10);

using Clock = std::chrono::steady_clock;

using wait_atom = caf::atom_constant<caf::atom("t_wait")>;
using open_atom = caf::atom_constant<caf::atom("t_open")>;
using probe_atom = caf::atom_constant<caf::atom("t_probe")>;

// ---- a body held in pieces (http::BodySpans) --------------------------------

// `pieces` in order; a string given to the constructor is cut into pieces
// of 1, 4093 and 70001 bytes in turn, so that chunks cut across them.
class PiecesBody : public http::BodySpans {
 public:
  PiecesBody() = default;
  explicit PiecesBody(const std::string& whole) {
    size_t at = 0;
    for (size_t i = 0; at < whole.size(); ++i) {
      size_t n = std::min(whole.size() - at, i % 3 == 0 ? size_t{1} : i % 3 == 1 ? size_t{4093} : size_t{70001});
      pieces.push_back(whole.substr(at, n));
      at += n;
    }
  }
  size_t size() const override {
    size_t n = 0;
    for (const std::string& p : pieces) {
      n += p.size();
    }
    return n;
  }
  void spans(size_t offset, size_t n, const std::function<void(const char*, size_t)>& out) const override {
    size_t at = 0;
    for (const std::string& p : pieces) {
      if (n == 0) {
        return;
      }
      if (offset < at + p.size()) {
        size_t from = offset > at ? offset - at : 0;
        size_t k = std::min(n, p.size() - from);
        out(p.data() + from, k);
        n -= k;
        offset += k;
      }
      at += p.size();
    }
  }

  std::vector<std::string> pieces;
};

// ---- a raw HTTP/1.1 client on a blocking socket ----------------------------

struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};

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
  // A connection to the Unix domain socket at `path` (ServerOptions::unix_socket).
  explicit RawConn(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof(addr.sun_path) - 1));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
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
      r.headers[stoa::lower(line.substr(0, colon))] = value;
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

  // Reads the head of a streamed response (no Content-Length): status and
  // headers; the body bytes that came along stay in leftover().
  std::optional<RawResponse> read_head() {
    auto deadline = Clock::now() + DEADLINE;
    size_t eoh;
    while ((eoh = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) {
        return std::nullopt;
      }
    }
    RawResponse r;
    std::string head = buf_.substr(0, eoh);
    buf_.erase(0, eoh + 4);
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) {
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
      r.headers[stoa::lower(line.substr(0, colon))] = value;
      pos = e + 2;
    }
    return r;
  }

  // Reads until leftover() holds `needle`; false on EOF or at the deadline.
  bool read_until(const std::string& needle) {
    auto deadline = Clock::now() + DEADLINE;
    while (buf_.find(needle) == std::string::npos) {
      if (!fill(deadline)) {
        return false;
      }
    }
    return true;
  }

  // Drops the first `n` bytes of leftover().
  void consume(size_t n) { buf_.erase(0, n); }

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

inline std::optional<picojson::value> parse_json(const std::string& text) {
  picojson::value v;
  std::string err = picojson::parse(v, text);
  if (!err.empty()) {
    return std::nullopt;
  }
  return v;
}

inline std::string json_message(const RawResponse& r) {
  auto v = parse_json(r.body);
  if (!v || !v->is<picojson::object>() || !v->get("message").is<std::string>()) {
    return "<no message in " + r.body + ">";
  }
  return v->get("message").get<std::string>();
}

// Polls `pred` until it holds or DEADLINE passes.
inline bool eventually(const std::function<bool()>& pred) {
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

inline caf::behavior gate(caf::stateful_actor<GateState>* self) {
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

// A stream producer (Response::stream_producer): greets every stream with
// "hello\n", sends `push` bytes to every open stream, floods on `flood`
// (64 KiB chunks until its streams close) and counts what the server told it.
using push_atom = caf::atom_constant<caf::atom("t_push")>;
using flood_atom = caf::atom_constant<caf::atom("t_flood")>;
using count_atom = caf::atom_constant<caf::atom("t_count")>;
using end_atom = caf::atom_constant<caf::atom("t_end")>;

struct ProducerState {
  ProducerState() = default;
  std::map<uint64_t, http::StreamSink> open;
  int opened = 0;
  int closed = 0;
  std::vector<std::string> contexts;
  static inline const char* name = "test.producer";
};
static_assert(!std::is_constructible_v<ProducerState, caf::stateful_actor<ProducerState>*>);

inline caf::behavior producer(caf::stateful_actor<ProducerState>* self) {
  return {
      [self](http::stream_open_atom, const http::StreamSink& sink) {
        ++self->state.opened;
        self->state.contexts.push_back(sink.context);
        self->state.open[sink.id] = sink;
        self->send(sink.server, http::stream_chunk_atom_v, sink.id, std::string("hello\n"));
      },
      [self](http::stream_closed_atom, uint64_t id) {
        ++self->state.closed;
        self->state.open.erase(id);
      },
      [self](push_atom, const std::string& bytes) {
        for (const auto& [id, sink] : self->state.open) {
          self->send(sink.server, http::stream_chunk_atom_v, id, bytes);
        }
      },
      [self](end_atom) {
        for (const auto& [id, sink] : self->state.open) {
          self->send(sink.server, http::stream_end_atom_v, id);
        }
      },
      [self](flood_atom) {
        if (self->state.open.empty()) {
          return;
        }
        std::string chunk(64 * 1024, 'x');
        for (int i = 0; i < 4; ++i) {
          for (const auto& [id, sink] : self->state.open) {
            self->send(sink.server, http::stream_chunk_atom_v, id, chunk);
          }
        }
        // Again once the server had a chance to report what it wrote.
        self->delayed_send(self, std::chrono::milliseconds(1), flood_atom::value);
      },
      [self](count_atom) {
        return std::make_tuple(self->state.opened, self->state.closed);
      },
  };
}

// Sends the server an unexpected async message, then asks for its stats. If
// the server answered the async message with an error, this actor would die
// (CAF's default error handler) before the stats arrive.
inline caf::behavior prober(caf::event_based_actor* self, caf::actor server) {
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
inline void echo_handler(caf::io::broker*, const http::Request& req, http::Responder respond) {
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

inline caf::actor_system_config& configure(caf::actor_system_config& cfg) {
  stoa::load_middleman(cfg);
  cfg.set("scheduler.max-threads", 2);
  cfg.set("middleman.workers", 0);
  return cfg;
}

class HttpTest : public ::testing::Test {
 protected:
  HttpTest() : sys(std::make_unique<caf::actor_system>(configure(cfg))) {
    gate_actor = sys->spawn(gate);
    producer_actor = sys->spawn(producer);
  }

  ~HttpTest() override {
    if (sys) {
      for (auto& a : to_stop) {
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      }
      caf::anon_send_exit(gate_actor, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(producer_actor, caf::exit_reason::user_shutdown);
      gate_actor = nullptr;
      producer_actor = nullptr;
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
    routes.push_back({"/stream", "Streams ?file= (its first ?size= bytes).", {"GET"},
                      [](caf::io::broker*, const http::Request& req, http::Responder respond) {
                        http::Response r;
                        r.content_type = "application/octet-stream";
                        r.body_file = req.query.at("file");
                        r.body_file_size = std::stoull(req.query.at("size"));
                        respond(std::move(r));
                      }});
    routes.push_back({"/big", "A body of ?size= bytes (a pattern), held in memory.", {"GET"},
                      [](caf::io::broker*, const http::Request& req, http::Responder respond) {
                        respond(http::text_response(big_body(std::stoull(req.query.at("size")))));
                      }});
    caf::actor p = producer_actor;
    routes.push_back({"/events", "A stream fed by the test producer (?ctx= is its context).", {"GET"},
                      [p](caf::io::broker*, const http::Request& req, http::Responder respond) {
                        http::Response r;
                        r.content_type = "text/event-stream";
                        r.headers.emplace_back("Cache-Control", "no-cache");
                        r.stream_producer = p;
                        auto ctx = req.query.find("ctx");
                        r.stream_context = ctx == req.query.end() ? "" : ctx->second;
                        respond(std::move(r));
                      }});
    routes.push_back({"/slow-events", "The test producer's stream, once the gate opens.", {"GET"},
                      [g, p](caf::io::broker* self, const http::Request&, http::Responder respond) {
                        self->request(g, 20s, wait_atom::value)
                            .then([respond, p](const std::string&) {
                                    http::Response r;
                                    r.content_type = "text/event-stream";
                                    r.stream_producer = p;
                                    respond(std::move(r));
                                  },
                                  [respond](caf::error&) {
                                    respond(http::error_response(500, "gate failed"));
                                  });
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

  // (opened, closed) streams as the test producer counted them.
  std::pair<int, int> producer_counts() {
    std::pair<int, int> out{-1, -1};
    caf::scoped_actor self{*sys};
    self->request(producer_actor, DEADLINE, count_atom::value)
        .receive([&](int opened, int closed) { out = {opened, closed}; },
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

  // Outlives every server (a server given it as ServerOptions::metrics).
  stoa::metrics::Registry registry;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  caf::actor gate_actor;
  caf::actor producer_actor;
  std::vector<caf::actor> to_stop;
};

using HttpServer = HttpTest;
using HttpClient = HttpTest;

}  // namespace http_test
