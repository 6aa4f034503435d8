#pragma once
// The server's internals, shared by the files that implement actors/http.hpp:
//   http_request_parser.cpp  http_parser callbacks (one Connection each) and
//                            parse_requests()
//   http_routes.cpp          the route table: add, match, GET /help
//   http_server.cpp          the broker: connections, dispatch, ordered
//                            responses, handler and idle timeouts, limits
//   http.cpp                 the public helpers (responses, percent-decoding)
// Not part of the public API: include actors/http.hpp.

#include <http_parser.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <caf/actor.hpp>
#include <caf/io/connection_handle.hpp>

#include "actors/http.hpp"
#include "common/metrics.hpp"

namespace stoa::http::detail {

using Clock = std::chrono::steady_clock;

// A response body streamed from a file (Response::body_file).
// A body sent in chunks as the client takes it: a file (`fd`), or a large
// in-memory body (`memory` or `spans`, fd < 0), so that one big response never makes
// the broker copy tens of MB in one step while other connections (and the
// actor traffic of the same multiplexer) wait (issue #17).
struct FileBody {
  int fd = -1;
  std::shared_ptr<const std::string> memory;  // the body when fd < 0 (and no spans)
  std::shared_ptr<const BodySpans> spans;     // the body in pieces, when set
  uint64_t size = 0;  // bytes to send
  uint64_t sent = 0;  // bytes handed to the broker so far
  FileBody() = default;
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;
  ~FileBody();
};

// One response slot per parsed request, in request order. A slot is written
// once it and every slot before it are ready.
struct Slot {
  uint64_t seq = 0;
  bool ready = false;
  bool close_after = false;
  std::string bytes;              // the serialized response, once ready
  std::string jsonp;              // callback name from ?jsonp=, if any
  bool head = false;              // a HEAD request: headers only
  std::optional<Clock::time_point> deadline;  // set while a handler owes a response
  std::unique_ptr<FileBody> file;  // the body, once `bytes` (the head) is written
  caf::actor stream_producer;      // a streamed response: its producer
  std::string stream_context;
};

struct ParsedRequest {
  uint64_t seq;
  Request request;
};

struct ServerCore;

// Per-connection state. Lives at a stable address (unique_ptr) because the
// parser's `data` points at it.
struct Connection {
  uint64_t id = 0;
  caf::io::connection_handle hdl;
  ServerCore* core = nullptr;
  http_parser parser;
  std::string peer;
  Clock::time_point last_activity = Clock::now();  // last byte received or response written
  // When the request being parsed began (its first byte); unset between
  // requests. A request trickled in slower than idle_timeout is cut off.
  std::optional<Clock::time_point> request_started;

  // The message being parsed.
  Request current;
  std::string url;
  std::string field;
  std::string value;
  bool last_was_value = false;
  size_t header_bytes = 0;

  // Parsing stopped for good (a non-keep-alive request or an error).
  bool parsing_done = false;
  int error_status = 0;  // set by a callback that rejects the request
  std::string error_message;

  uint64_t next_seq = 0;
  std::deque<Slot> slots;
  // Bytes of a streamed body handed to the broker and not yet reported sent
  // (data_transferred_msg): the next chunk is read only below a bound.
  uint64_t unsent = 0;
  bool streaming = false;  // the front slot's head is written, its file is being sent
  // A streamed response (Response::stream_producer) is open: nothing else is
  // written on this connection, and it closes when the stream ends.
  uint64_t stream_id = 0;
  caf::actor stream_producer;
  std::vector<ParsedRequest> completed;  // parsed in this read, not yet dispatched
};

struct ServerCore : std::enable_shared_from_this<ServerCore> {
  caf::io::broker* self = nullptr;
  ServerOptions opts;
  std::vector<Route> routes;
  uint64_t next_conn_id = 1;
  std::map<caf::io::connection_handle, std::unique_ptr<Connection>> conns;
  std::map<uint64_t, caf::io::connection_handle> conn_ids;
  // (deadline, connection id, seq) of every request awaiting its handler.
  std::set<std::tuple<Clock::time_point, uint64_t, uint64_t>> deadlines;
  bool tick_pending = false;
  uint64_t requests = 0;
  uint64_t idle_closed = 0;
  uint64_t refused = 0;
  // Open streams: stream id -> connection.
  std::map<uint64_t, caf::io::connection_handle> streams;
  uint64_t next_stream_id = 1;
  uint64_t streams_slow_closed = 0;
  uint64_t streams_closed = 0;
  metrics::Gauge* streams_gauge = nullptr;          // ServerOptions::metrics
  metrics::Counter* streams_slow_counter = nullptr;
  Clock::time_point last_refusal_log{};
  uint64_t refusals_unlogged = 0;

  void add_route(Route r);
  const Route* match(const std::string& path) const;

  void on_new_connection(caf::io::connection_handle hdl);
  void on_data(caf::io::connection_handle hdl, const std::vector<char>& buf);
  void on_closed(caf::io::connection_handle hdl);
  void on_tick();
  void on_idle_check();

  void dispatch(uint64_t conn_id, ParsedRequest& pr);
  void respond(uint64_t conn_id, uint64_t seq, Response resp);
  void fail_connection(Connection& c, int status, const std::string& message);
  void write_ready(uint64_t conn_id);
  // Sends the next chunks of the front slot's file; true once it is all sent.
  bool pump_file(Connection& c);
  void on_transferred(caf::io::connection_handle hdl, uint64_t written);
  void erase(caf::io::connection_handle hdl);
  // Streams (Response::stream_producer).
  void start_stream(Connection& c, Slot& s);
  // Tells the producer of a streamed response that will never be written
  // (the client left, the request was answered already, a HEAD) that its
  // stream is gone: (stream_closed_atom, 0). A producer made for one stream
  // ends on it instead of waiting forever.
  void stream_never_opened(const caf::actor& producer);
  void on_stream_chunk(uint64_t id, const std::string& bytes);
  void on_stream_end(uint64_t id);
  void on_producer_down(const caf::actor_addr& producer);
  // Closes every connection and tells every producer (the server stops).
  void close_all();
  void schedule_tick();
  Connection* find(uint64_t conn_id);
};

// The callbacks of http_request_parser.cpp; every parser's `data` is its
// Connection.
const http_parser_settings& parser_settings();

// The built-in GET /help over the routes of `weak` (http_routes.cpp).
Route help_route(std::weak_ptr<ServerCore> weak);

}  // namespace stoa::http::detail
