// The HTTP server's request parser and router (actors/http.hpp), without a
// broker: http::parse_requests() runs the server's own http_parser callbacks
// and route matching over the bytes of one connection.
//
// Input: byte 0 is the read size (1..255 bytes per read, 0 = everything in
// one read), the rest is what the client sends. Limits are small (4 KiB
// body, 2 KiB headers) so that 413 and 431 are reached.
//
// Properties: no crash or sanitizer report; one route result per request; a
// matched route really matches (exact path, or a prefix of it); bodies within
// the limit; the error status is one the server sends; each parsed query
// string parses again to the same map; a response echoing a request's header
// values serializes to a well-formed head (no bare CR or LF, the right
// Content-Length).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "actors/http.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace http = stoa::http;

namespace {

// The master's and a slave's routes (master/master_http.cpp, slave/slave.cpp,
// actors/runtime.cpp), with handlers that are never called.
const std::vector<http::Route>& routes() {
  static const std::vector<http::Route> all = [] {
    std::vector<http::Route> v;
    auto add = [&v](std::string path, std::vector<std::string> methods, bool prefix) {
      http::Route r;
      r.path = std::move(path);
      r.methods = std::move(methods);
      r.prefix = prefix;
      r.handler = [](caf::io::broker*, const http::Request&, http::Responder) {};
      v.push_back(std::move(r));
    };
    for (const char* p : {"/master/state", "/master/state-summary", "/master/slaves",
                          "/master/frameworks", "/master/tasks", "/master/roles", "/master/flags",
                          "/master/health", "/metrics/snapshot", "/version", "/help",
                          "/__stoa__/processes", "/slave(1)/state", "/slave(1)/flags",
                          "/slave(1)/health", "/slave(1)/monitor/statistics"}) {
      add(p, {"GET"}, false);
    }
    add("/master/weights", {"GET", "PUT"}, false);
    add("/master/quota", {"GET", "POST", "DELETE"}, false);
    add("/master/quota/", {"DELETE"}, true);
    add("/files/", {"GET"}, true);
    add("/", {"GET"}, true);
    add("/master/state", {"GET", "HEAD"}, false);  // replaces the first one
    return v;
  }();
  return all;
}

bool head_is_well_formed(const std::string& bytes, size_t body_size) {
  size_t end = bytes.find("\r\n\r\n");
  if (end == std::string::npos) {
    return false;
  }
  if (bytes.size() - (end + 4) != body_size) {
    return false;
  }
  for (size_t i = 0; i < end; ++i) {
    if (bytes[i] == '\r' && bytes[i + 1] != '\n') {
      return false;
    }
    if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) {
      return false;
    }
  }
  return bytes.find("\r\nContent-Length: " + std::to_string(body_size) + "\r\n") <
         end;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  size_t read_size = data[0] == 0 ? size : data[0];
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  http::ServerOptions opts;
  opts.max_body_bytes = 4096;
  opts.max_header_bytes = 2048;

  http::ParsedRequests parsed = http::parse_requests(bytes, routes(), opts, read_size);

  STOA_FUZZ_CHECK(parsed.matched.size() == parsed.requests.size(), "one route result per request");
  STOA_FUZZ_CHECK(parsed.error_status == 0 || parsed.error_status == 400 ||
                      parsed.error_status == 413 || parsed.error_status == 431,
                  std::to_string(parsed.error_status) + " " + parsed.error_message);
  for (size_t i = 0; i < parsed.requests.size(); ++i) {
    const http::Request& req = parsed.requests[i];
    const http::Route* route = parsed.matched[i];
    STOA_FUZZ_CHECK(req.body.size() <= opts.max_body_bytes, "body above the limit");
    STOA_FUZZ_CHECK(!req.method.empty(), "a request without a method");
    if (route != nullptr) {
      STOA_FUZZ_CHECK(route >= routes().data() && route < routes().data() + routes().size(),
                      "matched route is not one of ours");
      STOA_FUZZ_CHECK(route->prefix ? req.path.compare(0, route->path.size(), route->path) == 0
                                    : req.path == route->path,
                      "'" + req.path + "' routed to '" + route->path + "'");
    }
    auto query = http::parse_query(req.query_string);
    STOA_FUZZ_CHECK(query.is_some(), "accepted query '" + req.query_string + "' fails to parse");
    STOA_FUZZ_CHECK(*query == req.query, "query '" + req.query_string + "' parses differently");

    // Echo what the client controls into a response, as error messages and
    // handlers do (paths in messages, content types, header values).
    http::Response resp = http::error_response(404, "no route for '" + req.path + "'");
    for (const auto& [name, value] : req.headers) {
      resp.headers.emplace_back(name, value);
      resp.headers.emplace_back(value, name);
    }
    if (auto ct = req.headers.find("content-type"); ct != req.headers.end()) {
      resp.content_type = ct->second;
    }
    resp.body += req.body;
    for (bool close : {false, true}) {
      std::string out = http::serialize_response(resp, close);
      STOA_FUZZ_CHECK(head_is_well_formed(out, resp.body.size()), "malformed response head");
    }
  }
  return 0;
}
