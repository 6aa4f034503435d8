#pragma once
// An HTTP/1.1 server that runs as one CAF io::broker (Mesos' libprocess HTTP
// endpoints, on our actor runtime).
//
// Threading: every Handler and every Responder call runs inside the server
// broker, on the middleman's event loop. Handlers must not block; they answer
// at once or from a `self->request(...).then(...)` continuation.
//
// Implementation: http_request_parser.cpp (parsing and its limits),
// http_routes.cpp (the route table and /help), http_server.cpp (the broker:
// connections, dispatch, ordering, timeouts), http.cpp (the helpers below);
// tests: http_parsing_test.cpp, http_server_test.cpp, http_client_test.cpp.
//
// Protocol (each point covered by those tests):
// * Requests are parsed with http_parser (Content-Length and chunked bodies,
//   data split across reads).
// * HTTP/1.1 keeps connections alive unless `Connection: close`; HTTP/1.0
//   closes unless `Connection: keep-alive`.
// * Pipelined requests are dispatched at once; their responses are written in
//   request order (a fast later response waits for a slow earlier one).
// * Errors are JSON `{"message": "..."}`: 400 malformed request (then close),
//   404 unknown path, 405 wrong method (with `Allow`), 413 body above
//   `max_body_bytes`, 431 headers above `max_header_bytes` (then close),
//   500 handler threw, 504 handler did not respond within `handler_timeout`.
// * Every response carries Content-Length and Content-Type. `?jsonp=cb`
//   turns an application/json body into `cb(body);` (application/javascript).
// * GET /help lists every route (JSON).
// * A streamed response (Response::stream_producer) has no Content-Length: the
//   headers go out with `Connection: close`, then the bytes the producer actor
//   sends, until either side ends it. It is the last response on its
//   connection (later pipelined requests are not answered). See "Streams".

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/io/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/body_spans.hpp"
#include "common/try.hpp"

namespace picojson {
class value;
}  // namespace picojson

namespace stoa::metrics {
class Registry;
}  // namespace stoa::metrics

namespace stoa::http {

// A handler that has not responded after this long gets a 504 for it.
constexpr auto DEFAULT_HANDLER_TIMEOUT = std::chrono::seconds(30);
// A connection with no request in flight that has sent nothing for this long
// is closed (keep-alive and half-sent requests alike).
constexpr auto DEFAULT_IDLE_TIMEOUT = std::chrono::seconds(60);
// Open connections beyond this are closed at once (the newest), with a log line.
constexpr size_t DEFAULT_MAX_CONNECTIONS = 4096;
// A streamed response closes when this many of its bytes wait for the client.
constexpr size_t DEFAULT_MAX_STREAM_UNSENT = 1 << 20;

struct Request {
  std::string method;                          // "GET"
  std::string path;                            // "/master/state" (decoded, no query)
  std::string query_string;                    // raw, without '?'
  std::map<std::string, std::string> query;    // decoded ('+' is a space)
  std::map<std::string, std::string> headers;  // names lower-cased; repeats joined by ", "
  std::string body;                            // de-chunked
  std::string peer;                            // "127.0.0.1:54321" if known
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // A body read from a file instead (`body` must then be empty): the server
  // answers with Content-Length `body_file_size` and sends the first that
  // many bytes of `body_file` in chunks as the client takes them, so memory
  // stays bounded whatever the file's size. A file that cannot be opened is a
  // 500; one that shrinks meanwhile closes the connection.
  std::string body_file;
  uint64_t body_file_size = 0;
  // Extra headers. The server writes Content-Type, Content-Length and
  // Connection itself and ignores those names here.
  std::vector<std::pair<std::string, std::string>> headers;
  // A streamed body instead (`body` and `body_file` must then be empty): once
  // the headers are written the server sends the producer
  // (stream_open_atom, StreamSink) and writes every chunk the producer sends
  // back, see "Streams" below. `stream_context` is handed over in the
  // StreamSink (e.g. a subscriber's filter). A HEAD request gets the headers
  // only and the producer hears nothing.
  caf::actor stream_producer;
  std::string stream_context;
  // A body shared with other responses instead (`body` must then be empty):
  // the server writes from it, in chunks as the client takes them when it
  // is large, without copying it, and drops its reference once written. For
  // one rendered view answering several requests (issue #17). Local only:
  // not serialized.
  std::shared_ptr<const std::string> shared_body;
  // A body in pieces instead (`body` must then be empty; body_spans.hpp):
  // the server writes its spans in order, as the client takes them, without
  // joining them. Local only: not serialized.
  std::shared_ptr<const BodySpans> spans_body;
};

// The std::string at `pos` of the message `self` is handling (e.g. a reply,
// in a response handler, that the handler takes as `const std::string&`
// `body`), as an immutable shared body, without copying it when the
// message is shared (one reply delivered to several requesters: this
// holds a reference to the message) and moved out of it when `self` holds
// it alone. Copies `body` only when it is not that element.
std::shared_ptr<const std::string> share_current_string(caf::local_actor* self, size_t pos,
                                                        const std::string& body);

// Serializable so a Response can cross nodes (register it under this name if
// you send it remotely); locally it needs no registration.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Response& x) {
  return f(caf::meta::type_name("stoa.http.Response"), x.status, x.content_type, x.body,
           x.body_file, x.body_file_size, x.headers, x.stream_producer, x.stream_context);
}

// `v.serialize()` as application/json.
Response json_response(const picojson::value& v, int status = 200);
Response text_response(std::string body, int status = 200,
                       std::string content_type = "text/plain; charset=utf-8");
// Body `{"message": message}`, application/json.
Response error_response(int status, const std::string& message);

// The standard reason phrase ("Not Found"), or "Unknown".
const char* reason_phrase(int status);

// Decodes %XX escapes (and '+' as a space when `plus_is_space`, as in query
// strings). Errors on a truncated or non-hex escape.
Try<std::string> percent_decode(std::string_view s, bool plus_is_space);

// "a=1&b=x%20y&c" -> {a: "1", b: "x y", c: ""}. A repeated key keeps its last
// value. Errors on a malformed escape.
Try<std::map<std::string, std::string>> parse_query(std::string_view query);

// The response as HTTP/1.1 bytes: status line, Content-Type, Content-Length,
// `Connection: close` or `keep-alive`, then `r.headers` (minus the names the
// server owns and any name or value containing CR or LF), then the body. A
// stream (`r.stream_producer` set) has no Content-Length and always closes.
std::string serialize_response(const Response& r, bool close);
// The same without the body (Content-Length is still the body's): the head
// of a response whose body the server writes separately, in chunks.
std::string serialize_response_head(const Response& r, bool close);

// Delivers the response to a request. Call it exactly once, from inside the
// server broker (directly in the Handler or from a continuation the Handler
// installed in that broker). Later calls, and calls after the client has gone
// or after the 504, are ignored. Safe to call after the server has exited
// (nothing happens).
using Responder = std::function<void(Response)>;

// Runs inside the server broker (an event-based actor): it must not block. It
// may call self->request(some_actor, timeout, ...).then(...) and respond from
// the continuation. If it throws, the client gets a 500 (only exceptions
// thrown by the Handler call itself; an exception in a continuation kills the
// broker as for any CAF actor).
using Handler = std::function<void(caf::io::broker* self, const Request& req, Responder respond)>;

struct Route {
  std::string path;  // exact path, or a prefix when `prefix` is true
  std::string help;  // one paragraph, shown by /help
  std::vector<std::string> methods = {"GET"};
  Handler handler;
  bool prefix = false;  // the longest matching prefix wins; exact routes win over prefixes
};

struct ServerOptions {
  std::string host = "127.0.0.1";  // bind address
  uint16_t port = 0;               // 0 = the OS picks
  size_t max_body_bytes = 8 << 20;     // 413 above
  size_t max_header_bytes = 64 << 10;  // 431 above (request line + header lines)
  std::chrono::milliseconds handler_timeout = DEFAULT_HANDLER_TIMEOUT;  // then 504
  std::chrono::milliseconds idle_timeout = DEFAULT_IDLE_TIMEOUT;        // then closed
  size_t max_connections = DEFAULT_MAX_CONNECTIONS;                    // newest beyond is closed
  // A stream whose bytes not yet taken by the client pass this is closed
  // (a slow reader must not grow the server's memory).
  size_t max_stream_unsent = DEFAULT_MAX_STREAM_UNSENT;
  // When set (the process' registry, which must outlive the server): the
  // gauge http/streams (open streams) and the counter
  // http/streams_slow_closed are declared there and kept current.
  metrics::Registry* metrics = nullptr;
  // When set, the same routes are served on a Unix domain socket at this
  // path too (guard::add_guarded_unix_doorman: made connectable by every
  // user, replaced if a socket is left there, removed when the server stops).
  std::string unix_socket;
  // A daemon's server listens before its component has added its routes:
  // while `starting`, a path no route matches is answered 503 ("not all
  // routes are up yet", Retry-After: 1), not 404, so that a client that
  // comes first (an executor re-subscribing to a restarted slave) retries
  // instead of taking the route for absent. routes_complete() ends it.
  bool starting = false;
};

struct Server {
  caf::actor actor;  // the broker; stop it with anon_send_exit(actor, user_shutdown)
  uint16_t port;     // the bound port (the chosen one when options.port was 0)
};

// Spawns the server broker, bound and listening before it returns, with
// `routes` plus the built-in GET /help. A later route with the same path and
// `prefix` flag replaces an earlier one.
// Blocks the caller until the broker has bound its port (milliseconds).
// REQUIRES: the middleman is loaded; not called from inside a broker (the
// broker is initialized on the middleman's event loop, which would deadlock;
// it fails with an error after 10 s instead).
// Ownership: the server lives until it is sent an exit message; the
// actor_system's destructor waits for it, so every owner must stop it.
caf::expected<Server> spawn_server(caf::actor_system& sys, ServerOptions opts,
                                   std::vector<Route> routes);

// anon_send(server.actor, add_route_atom_v, route) adds or replaces a route
// (same rule as above). Asynchronous: requests already parsed are unaffected.
// A request() of it is answered (with nothing) once the route is served.
using add_route_atom = caf::atom_constant<caf::atom("add_route")>;
constexpr add_route_atom add_route_atom_v{};

// Sends the message above and returns once the server serves the route (a
// request that arrives later finds it); on the multiplexer's own thread,
// where the server cannot answer while we wait, it only sends.
void add_route(const Server& server, Route route);

// Every route the component serves is up: a path no route matches is 404
// from now on (ServerOptions::starting). Returns as add_route() does.
using routes_complete_atom = caf::atom_constant<caf::atom("routes_ok")>;
constexpr routes_complete_atom routes_complete_atom_v{};
void routes_complete(const Server& server);

// request(server.actor, timeout, stats_atom_v) -> ServerStats (tests, metrics).
struct ServerStats {
  uint64_t connections = 0;  // open client connections
  uint64_t pending = 0;      // requests whose handler has not responded yet
  uint64_t requests = 0;     // requests parsed since start
  uint64_t idle_closed = 0;  // connections closed by the idle timeout
  uint64_t refused = 0;      // connections closed at once: max_connections reached
  uint64_t streams = 0;      // streamed responses open now
  uint64_t streams_slow_closed = 0;  // streams closed: the client took too little
  uint64_t streams_closed = 0;       // streams ended since start, for any reason
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ServerStats& x) {
  return f(caf::meta::type_name("stoa.http.ServerStats"), x.connections, x.pending, x.requests,
           x.idle_closed, x.refused, x.streams, x.streams_slow_closed, x.streams_closed);
}

using stats_atom = caf::atom_constant<caf::atom("http_stats")>;
constexpr stats_atom stats_atom_v{};

// ---- Streams ---------------------------------------------------------------
// A handler answers with a Response whose `stream_producer` is an actor. The
// protocol between the server broker and that producer (all asynchronous):
//
//   server -> producer  (stream_open_atom, StreamSink)   headers are written
//   producer -> server  (stream_chunk_atom, uint64_t id, std::string bytes)
//   producer -> server  (stream_end_atom, uint64_t id)   close after the bytes
//   server -> producer  (stream_closed_atom, uint64_t id) the stream is gone:
//                       client disconnected, slow reader, producer ended it,
//                       or the server stopped; id 0: it never opened (the
//                       client left before the response was written, the
//                       request was answered already, or it was a HEAD)
//
// The server monitors the producer: when it exits, its streams close. Chunks
// for an unknown (closed) id are dropped. A stream is exempt from the idle
// timeout; a client that stops reading is closed once more than
// ServerOptions::max_stream_unsent bytes wait for it (ServerStats counts it).
struct StreamSink {
  caf::actor server;  // send chunks here
  uint64_t id = 0;    // unique per server
  std::string context;  // Response::stream_context
  std::string peer;     // the client, "ip:port"
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StreamSink& x) {
  return f(caf::meta::type_name("stoa.http.StreamSink"), x.server, x.id, x.context, x.peer);
}

using stream_open_atom = caf::atom_constant<caf::atom("http_sopen")>;
constexpr stream_open_atom stream_open_atom_v{};
using stream_chunk_atom = caf::atom_constant<caf::atom("http_schnk")>;
constexpr stream_chunk_atom stream_chunk_atom_v{};
using stream_end_atom = caf::atom_constant<caf::atom("http_send")>;
constexpr stream_end_atom stream_end_atom_v{};
using stream_closed_atom = caf::atom_constant<caf::atom("http_sclos")>;
constexpr stream_closed_atom stream_closed_atom_v{};

// Parsing and routing without a broker (fuzzing, tests): feeds `bytes` to a
// new connection's parser in reads of at most `read_size` bytes and matches
// every complete request against `routes`, as the server does. Nothing is
// written (no 100 Continue) and no handler runs.
struct ParsedRequests {
  std::vector<Request> requests;      // every complete request, in order
  std::vector<const Route*> matched;  // per request: into `routes`, or nullptr (404)
  int error_status = 0;  // 400, 413 or 431 when the server would answer that and close
  std::string error_message;
};
ParsedRequests parse_requests(std::string_view bytes, const std::vector<Route>& routes,
                              const ServerOptions& opts = {}, size_t read_size = 64 * 1024);

}  // namespace stoa::http

// Route holds std::function: local messages only.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::http::Route)
