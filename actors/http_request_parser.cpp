// Request parsing: the http_parser callbacks that fill a Connection's
// requests, enforce the header and body limits and answer
// `Expect: 100-continue`; and parse_requests(), the same parsing without a
// broker.
#include <algorithm>
#include <string>

#include <caf/io/broker.hpp>

#include "actors/http.hpp"
#include "actors/http_server_core.hpp"
#include "common/strings.hpp"

namespace stoa::http {

namespace detail {

namespace {

Connection* conn_of(http_parser* p) { return static_cast<Connection*>(p->data); }

int reject(Connection* c, int status, std::string message) {
  c->error_status = status;
  c->error_message = std::move(message);
  // Makes http_parser_execute stop with an HPE_CB_* error. Not 1: from
  // on_headers_complete, 1 means "no body" and 2 "upgrade".
  return -1;
}

void commit_header(Connection* c) {
  if (c->field.empty()) {
    return;
  }
  std::string name = lower(c->field);
  auto [it, inserted] = c->current.headers.emplace(name, c->value);
  if (!inserted) {
    it->second += ", " + c->value;
  }
  c->field.clear();
  c->value.clear();
  c->last_was_value = false;
}

int count_header_bytes(Connection* c, size_t len) {
  c->header_bytes += len;
  if (c->header_bytes > c->core->opts.max_header_bytes) {
    return reject(c, 431, "request headers are larger than " +
                              std::to_string(c->core->opts.max_header_bytes) + " bytes");
  }
  return 0;
}

int on_message_begin(http_parser* p) {
  Connection* c = conn_of(p);
  if (c->parsing_done) {
    return 1;
  }
  c->current = Request{};
  c->current.peer = c->peer;
  c->request_started = Clock::now();
  c->url.clear();
  c->field.clear();
  c->value.clear();
  c->last_was_value = false;
  c->header_bytes = 0;
  return 0;
}

int on_url(http_parser* p, const char* at, size_t len) {
  Connection* c = conn_of(p);
  c->url.append(at, len);
  return count_header_bytes(c, len);
}

int on_header_field(http_parser* p, const char* at, size_t len) {
  Connection* c = conn_of(p);
  if (c->last_was_value) {
    commit_header(c);
  }
  c->field.append(at, len);
  return count_header_bytes(c, len + 4);  // ": " and CRLF
}

int on_header_value(http_parser* p, const char* at, size_t len) {
  Connection* c = conn_of(p);
  c->value.append(at, len);
  c->last_was_value = true;
  return count_header_bytes(c, len);
}

int on_headers_complete(http_parser* p) {
  Connection* c = conn_of(p);
  commit_header(c);
  Request& r = c->current;
  r.method = http_method_str(static_cast<http_method>(p->method));
  http_parser_url u;
  http_parser_url_init(&u);
  if (http_parser_parse_url(c->url.data(), c->url.size(), p->method == HTTP_CONNECT, &u) != 0) {
    return reject(c, 400, "malformed request target '" + c->url + "'");
  }
  std::string raw_path = "/";
  if (u.field_set & (1 << UF_PATH)) {
    raw_path = c->url.substr(u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
  }
  auto path = percent_decode(raw_path, false);
  if (path.is_error()) {
    return reject(c, 400, "malformed percent-encoding in path '" + raw_path + "'");
  }
  r.path = std::move(*path);
  if (u.field_set & (1 << UF_QUERY)) {
    r.query_string = c->url.substr(u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    auto query = parse_query(r.query_string);
    if (query.is_error()) {
      return reject(c, 400, "malformed query string '" + r.query_string + "'");
    }
    r.query = std::move(*query);
  }
  size_t max_body = c->core->opts.max_body_bytes;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > max_body) {
    return reject(c, 413, "request body is larger than " + std::to_string(max_body) + " bytes");
  }
  // curl sends `Expect: 100-continue` before bodies above 1 KiB. Say yes unless
  // an earlier pipelined response is still owed (interim responses would
  // overtake it); the client then sends the body after its own short wait.
  auto expect = r.headers.find("expect");
  if (expect != r.headers.end() && lower(expect->second) == "100-continue" &&
      c->slots.empty() && p->http_major == 1 && p->http_minor >= 1) {
    static constexpr char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    c->core->self->write(c->hdl, sizeof(cont) - 1, cont);
    c->core->self->flush(c->hdl);
  }
  return 0;
}

int on_body(http_parser* p, const char* at, size_t len) {
  Connection* c = conn_of(p);
  size_t max_body = c->core->opts.max_body_bytes;
  if (c->current.body.size() + len > max_body) {
    return reject(c, 413, "request body is larger than " + std::to_string(max_body) + " bytes");
  }
  c->current.body.append(at, len);
  return 0;
}

int on_message_complete(http_parser* p) {
  Connection* c = conn_of(p);
  if (c->parsing_done) {
    return 1;
  }
  c->request_started.reset();
  Slot slot;
  slot.seq = c->next_seq++;
  slot.close_after = http_should_keep_alive(p) == 0;
  if (auto j = c->current.query.find("jsonp"); j != c->current.query.end()) {
    slot.jsonp = j->second;
  }
  slot.head = p->method == HTTP_HEAD;
  if (slot.close_after) {
    c->parsing_done = true;  // ignore anything sent after a closing request
  }
  c->slots.push_back(std::move(slot));
  ++c->core->requests;
  c->completed.push_back(ParsedRequest{c->slots.back().seq, std::move(c->current)});
  c->current = Request{};
  return 0;
}

}  // namespace

const http_parser_settings& parser_settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = on_message_begin;
    s.on_url = on_url;
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    return s;
  }();
  return settings;
}

}  // namespace detail

using detail::Connection;
using detail::ParsedRequest;
using detail::parser_settings;
using detail::ServerCore;

// ---- parsing and routing without a broker (fuzzing) -------------------------

ParsedRequests parse_requests(std::string_view bytes, const std::vector<Route>& routes,
                              const ServerOptions& opts, size_t read_size) {
  ParsedRequests out;
  ServerCore core;  // no broker: `self` stays null, so nothing may be written
  core.opts = opts;
  for (const Route& r : routes) {
    core.add_route(r);
  }
  Connection c;
  c.core = &core;
  http_parser_init(&c.parser, HTTP_REQUEST);
  c.parser.data = &c;
  c.slots.emplace_back();  // a response still owed: on_headers_complete sends no 100 Continue
  read_size = std::max<size_t>(read_size, 1);
  // The same checks as ServerCore::on_data, read by read.
  for (size_t pos = 0; pos < bytes.size() && !c.parsing_done; pos += read_size) {
    size_t len = std::min(read_size, bytes.size() - pos);
    size_t n = http_parser_execute(&c.parser, &parser_settings(), bytes.data() + pos, len);
    auto err = static_cast<http_errno>(c.parser.http_errno);
    if (c.error_status != 0) {
      out.error_status = c.error_status;
      out.error_message = c.error_message;
    } else if (!c.parsing_done && err != HPE_OK) {
      out.error_status = err == HPE_HEADER_OVERFLOW ? 431 : 400;
      out.error_message = http_errno_description(err);
    } else if (!c.parsing_done && !c.parser.upgrade && n != len) {
      out.error_status = 400;
      out.error_message = "malformed HTTP request";
    }
    c.parsing_done = c.parsing_done || out.error_status != 0 || c.parser.upgrade;
  }
  for (ParsedRequest& pr : c.completed) {
    const Route* m = core.match(pr.request.path);
    const Route* given = nullptr;  // the last of `routes` with the same key wins, as in add_route
    for (const Route& r : routes) {
      if (m != nullptr && r.path == m->path && r.prefix == m->prefix) {
        given = &r;
      }
    }
    out.matched.push_back(given);
    out.requests.push_back(std::move(pr.request));
  }
  return out;
}

}  // namespace stoa::http
