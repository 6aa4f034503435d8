#pragma once
// An asynchronous HTTP/1.1 client: one request per connection, run by a
// short-lived broker on the middleman's event loop. Nothing blocks a
// scheduler thread: the TCP connect is non-blocking (host names that are not
// IP literals are resolved in a detached actor first).
//
// Usage from an event-based actor:
//   self->request(http::spawn_request(self->system(), req), 5s, http::go_atom_v)
//     .then([](http::Response& r) { ... }, [](caf::error& e) { ... });
// or, shorter:
//   http::fetch(self, req, [](http::Response r) { ... }, [](caf::error e) { ... });
//
// Any status code (404, 500, ...) is a Response, not an error. Errors:
// * sec::cannot_connect_to_node: refused, unreachable, unresolvable host, or the
//   connection closed before a complete response arrived;
// * sec::request_timeout: ClientRequest::timeout elapsed;
// * sec::invalid_argument: http_parser rejected the response, or `go` was sent twice.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/io/fwd.hpp>

#include "actors/http.hpp"

namespace stoa::http {

// Bounds the whole exchange (connect, send, response) unless set otherwise.
constexpr auto DEFAULT_CLIENT_TIMEOUT = std::chrono::seconds(30);

struct ClientRequest {
  std::string method = "GET";
  std::string host;  // an IP literal ("127.0.0.1", "::1") or a host name
  uint16_t port = 0;
  std::string path = "/";  // with the query, already percent-encoded
  std::string body;        // sent with Content-Length when non-empty or not GET/HEAD
  std::vector<std::pair<std::string, std::string>> headers;  // Host, Content-Length and
                                                             // Connection are ours
  std::chrono::milliseconds timeout = DEFAULT_CLIENT_TIMEOUT;  // then request_timeout
  // Streams the body instead of collecting it: called once with the head
  // (status, content type, headers; empty body) and empty `bytes` when the
  // headers are complete, then with each piece of the body as it arrives.
  // The final Response then has an empty body. `timeout` bounds only the wait
  // for the headers; the body lasts until the server closes or the caller
  // stops the request actor (anon_send_exit), which ends it with that
  // reason. Runs inside the client's broker: it must not block (send the
  // bytes to an actor, or append them under the caller's own care).
  std::function<void(const Response& head, std::string_view bytes)> body_sink;
};

// Response.headers of a client response: every header received except
// Content-Type (in Response::content_type), names lower-cased.

using go_atom = caf::atom_constant<caf::atom("http_go")>;
constexpr go_atom go_atom_v{};

// Returns an actor that performs `req` when sent `go_atom_v` (once), replies
// with a Response or an error, then exits. It exits after `req.timeout` even
// if nobody asked. An actor that is never sent `go` does nothing and is
// collected with its last handle.
caf::actor spawn_request(caf::actor_system& sys, ClientRequest req);

// Performs `req` and calls exactly one of the callbacks inside `self` (a
// `.then` continuation). The request's own timeout applies; the CAF request
// waits a little longer so the client's error, not a generic timeout, wins.
void fetch(caf::event_based_actor* self, ClientRequest req,
           std::function<void(Response)> on_response, std::function<void(caf::error)> on_error);
void fetch(caf::io::broker* self, ClientRequest req, std::function<void(Response)> on_response,
           std::function<void(caf::error)> on_error);

}  // namespace stoa::http
