#include "actors/http.hpp"

#include "common/json.hpp"

#include <http_parser.h>
#include <picojson.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <deque>
#include <exception>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <type_traits>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/guarded_io.hpp"
#include "common/logging.hpp"
#include "common/try.hpp"

namespace stoa::http {

namespace {

using tick_atom = caf::atom_constant<caf::atom("http_tick")>;
using idle_atom = caf::atom_constant<caf::atom("http_idle")>;

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  for (auto& ch : s) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return s;
}

// How long spawn_server waits for the broker to bind.
constexpr auto BIND_WAIT = std::chrono::seconds(10);

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
  void erase(caf::io::connection_handle hdl);
  void schedule_tick();
  Connection* find(uint64_t conn_id);
};

// ---- http_parser callbacks -------------------------------------------------

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

bool valid_jsonp_callback(const std::string& cb) {
  if (cb.empty() || cb.size() > 128) {
    return false;
  }
  for (char ch : cb) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '$' || ch == '.')) {
      return false;
    }
  }
  return true;
}

bool starts_with_json(const std::string& content_type) {
  return lower(content_type).rfind("application/json", 0) == 0;
}

// ---- ServerCore ----------------------------------------------------------

void ServerCore::add_route(Route r) {
  for (auto& existing : routes) {
    if (existing.path == r.path && existing.prefix == r.prefix) {
      existing = std::move(r);
      return;
    }
  }
  routes.push_back(std::move(r));
}

const Route* ServerCore::match(const std::string& path) const {
  const Route* best = nullptr;
  for (const auto& r : routes) {
    if (!r.prefix) {
      if (r.path == path) {
        return &r;
      }
    } else if (path.compare(0, r.path.size(), r.path) == 0 &&
               (best == nullptr || r.path.size() > best->path.size())) {
      best = &r;
    }
  }
  return best;
}

Connection* ServerCore::find(uint64_t conn_id) {
  auto i = conn_ids.find(conn_id);
  if (i == conn_ids.end()) {
    return nullptr;
  }
  auto j = conns.find(i->second);
  return j == conns.end() ? nullptr : j->second.get();
}

void ServerCore::on_new_connection(caf::io::connection_handle hdl) {
  if (conns.size() >= opts.max_connections) {
    // Over the limit: the newest connection goes, the server keeps serving.
    ++refused;
    auto now = Clock::now();
    if (now - last_refusal_log >= std::chrono::seconds(5)) {
      LOG_WARNING << "Closing a new HTTP connection from " << self->remote_addr(hdl) << ": "
                  << conns.size() << " connections are open (--max_connections=" << opts.max_connections
                  << "; " << refusals_unlogged << " more closed since the last message)";
      last_refusal_log = now;
      refusals_unlogged = 0;
    } else {
      ++refusals_unlogged;
    }
    self->close(hdl);
    return;
  }
  auto c = std::make_unique<Connection>();
  c->id = next_conn_id++;
  c->hdl = hdl;
  c->core = this;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c.get();
  auto addr = self->remote_addr(hdl);
  if (!addr.empty()) {
    c->peer = addr + ":" + std::to_string(self->remote_port(hdl));
  }
  conn_ids[c->id] = hdl;
  conns[hdl] = std::move(c);
  // 16 KiB per read: every open connection holds a buffer this large.
  self->configure_read(hdl, caf::io::receive_policy::at_most(16 * 1024));
}

void ServerCore::on_data(caf::io::connection_handle hdl, const std::vector<char>& buf) {
  auto i = conns.find(hdl);
  if (i == conns.end()) {
    return;
  }
  Connection& c = *i->second;
  c.last_activity = Clock::now();
  if (c.parsing_done) {
    return;
  }
  size_t n = http_parser_execute(&c.parser, &parser_settings(), buf.data(), buf.size());
  auto err = static_cast<http_errno>(c.parser.http_errno);
  if (c.error_status != 0) {
    fail_connection(c, c.error_status, c.error_message);
  } else if (!c.parsing_done && err != HPE_OK) {
    if (err == HPE_HEADER_OVERFLOW) {
      fail_connection(c, 431, "request headers are too large");
    } else {
      fail_connection(c, 400, std::string("malformed HTTP request: ") +
                                  http_errno_description(err));
    }
  } else if (!c.parsing_done && c.parser.upgrade) {
    // We speak no other protocol: answer what we parsed, then close.
    c.parsing_done = true;
    if (!c.slots.empty()) {
      c.slots.back().close_after = true;
    }
  } else if (!c.parsing_done && n != buf.size()) {
    fail_connection(c, 400, "malformed HTTP request");
  }
  uint64_t conn_id = c.id;
  auto parsed = std::move(c.completed);
  c.completed.clear();
  for (auto& pr : parsed) {
    dispatch(conn_id, pr);  // may respond and even erase the connection
  }
  write_ready(conn_id);
}

void ServerCore::fail_connection(Connection& c, int status, const std::string& message) {
  c.parsing_done = true;
  Slot slot;
  slot.seq = c.next_seq++;
  slot.ready = true;
  slot.close_after = true;
  slot.bytes = serialize_response(error_response(status, message), true);
  c.slots.push_back(std::move(slot));
}

void ServerCore::dispatch(uint64_t conn_id, ParsedRequest& pr) {
  const Request& req = pr.request;
  const Route* route = match(req.path);
  if (route == nullptr) {
    respond(conn_id, pr.seq, error_response(404, "no route for '" + req.path + "'"));
    return;
  }
  bool allowed = false;
  std::string allow;
  for (const auto& m : route->methods) {
    // HEAD is served by GET routes (the body is dropped when writing).
    allowed = allowed || m == req.method || (req.method == "HEAD" && m == "GET");
    allow += (allow.empty() ? "" : ", ") + m;
  }
  if (!allowed) {
    auto resp = error_response(405, "method " + req.method + " is not allowed for '" +
                                        req.path + "'; use " + allow);
    resp.headers.emplace_back("Allow", allow);
    respond(conn_id, pr.seq, std::move(resp));
    return;
  }
  if (Connection* c = find(conn_id)) {
    for (auto& slot : c->slots) {
      if (slot.seq == pr.seq) {
        slot.deadline = Clock::now() + opts.handler_timeout;
        deadlines.emplace(*slot.deadline, conn_id, pr.seq);
        schedule_tick();
        break;
      }
    }
  }
  std::weak_ptr<ServerCore> weak = weak_from_this();
  uint64_t seq = pr.seq;
  Responder responder = [weak, conn_id, seq](Response resp) {
    if (auto core = weak.lock()) {
      core->respond(conn_id, seq, std::move(resp));
    }
  };
  try {
    route->handler(self, req, std::move(responder));
  } catch (const std::exception& e) {
    respond(conn_id, seq, error_response(500, std::string("handler failed: ") + e.what()));
  } catch (...) {
    respond(conn_id, seq, error_response(500, "handler failed with an unknown exception"));
  }
}

void ServerCore::respond(uint64_t conn_id, uint64_t seq, Response resp) {
  Connection* c = find(conn_id);
  if (c == nullptr) {
    return;  // the client went away
  }
  Slot* slot = nullptr;
  for (auto& s : c->slots) {
    if (s.seq == seq) {
      slot = &s;
      break;
    }
  }
  if (slot == nullptr || slot->ready) {
    return;  // already answered (or timed out)
  }
  if (!slot->jsonp.empty() && starts_with_json(resp.content_type)) {
    if (valid_jsonp_callback(slot->jsonp)) {
      resp.body = slot->jsonp + "(" + resp.body + ");";
      resp.content_type = "application/javascript";
    } else {
      resp = error_response(400, "invalid jsonp callback name");
    }
  }
  if (slot->deadline) {
    deadlines.erase({*slot->deadline, conn_id, seq});
    slot->deadline.reset();
  }
  slot->bytes = serialize_response(resp, slot->close_after);
  if (slot->head) {
    slot->bytes.resize(slot->bytes.size() - resp.body.size());
  }
  slot->ready = true;
  write_ready(conn_id);
}

void ServerCore::write_ready(uint64_t conn_id) {
  Connection* c = find(conn_id);
  if (c == nullptr) {
    return;
  }
  bool wrote = false;
  while (!c->slots.empty() && c->slots.front().ready) {
    Slot& s = c->slots.front();
    self->write(c->hdl, s.bytes.size(), s.bytes.data());
    wrote = true;
    if (s.close_after) {
      self->flush(c->hdl);
      auto hdl = c->hdl;
      self->close(hdl);  // graceful: buffered bytes are still sent
      erase(hdl);
      return;
    }
    c->slots.pop_front();
  }
  if (wrote) {
    c->last_activity = Clock::now();
    self->flush(c->hdl);
  }
}

void ServerCore::erase(caf::io::connection_handle hdl) {
  auto i = conns.find(hdl);
  if (i == conns.end()) {
    return;
  }
  for (auto& s : i->second->slots) {
    if (s.deadline) {
      deadlines.erase({*s.deadline, i->second->id, s.seq});
    }
  }
  conn_ids.erase(i->second->id);
  conns.erase(i);
}

void ServerCore::on_closed(caf::io::connection_handle hdl) { erase(hdl); }

void ServerCore::schedule_tick() {
  if (tick_pending || deadlines.empty()) {
    return;
  }
  auto wait = std::get<0>(*deadlines.begin()) - Clock::now();
  auto delay = std::max(std::chrono::duration_cast<std::chrono::milliseconds>(wait),
                        std::chrono::milliseconds(1));
  tick_pending = true;
  self->delayed_send(self, delay + std::chrono::milliseconds(1), tick_atom::value);
}

void ServerCore::on_tick() {
  tick_pending = false;
  auto now = Clock::now();
  while (!deadlines.empty() && std::get<0>(*deadlines.begin()) <= now) {
    auto [deadline, conn_id, seq] = *deadlines.begin();
    deadlines.erase(deadlines.begin());
    respond(conn_id, seq,
            error_response(504, "the handler did not respond within " +
                                    std::to_string(opts.handler_timeout.count()) + " ms"));
  }
  schedule_tick();
}

// Closes connections that have no request in flight and have sent nothing
// for `idle_timeout` (idle keep-alive connections and half-sent requests).
void ServerCore::on_idle_check() {
  auto now = Clock::now();
  std::vector<caf::io::connection_handle> idle;
  for (const auto& [hdl, c] : conns) {
    bool idle_for_long = c->slots.empty() && now - c->last_activity >= opts.idle_timeout;
    // One byte now and then must not keep a request open forever.
    bool request_too_slow = c->request_started && now - *c->request_started >= opts.idle_timeout;
    if (idle_for_long || request_too_slow) {
      idle.push_back(hdl);
    }
  }
  for (const auto& hdl : idle) {
    ++idle_closed;
    self->close(hdl);
    erase(hdl);
  }
}

// ---- the broker ------------------------------------------------------------

// The user-declared constructor keeps CAF from constructing the state from
// the actor pointer (C++20 aggregate paren-init makes that "possible").
struct ServerState {
  ServerState() = default;
  std::shared_ptr<ServerCore> core;
  static inline const char* name = "stoa.http.server";
};

using ServerBroker = caf::stateful_actor<ServerState, caf::io::broker>;
static_assert(!std::is_constructible_v<ServerState, ServerBroker*>);

using BindPromise = std::shared_ptr<std::promise<caf::expected<uint16_t>>>;

Route help_route(std::weak_ptr<ServerCore> weak) {
  Route r;
  r.path = "/help";
  r.help = "Lists every route of this server with its help text and methods (JSON).";
  r.handler = [weak](caf::io::broker*, const Request&, Responder respond) {
    auto core = weak.lock();
    if (!core) {
      return;
    }
    picojson::array list;
    for (const auto& route : core->routes) {
      picojson::object o;
      o["path"] = picojson::value(route.path);
      o["help"] = picojson::value(route.help);
      o["prefix"] = picojson::value(route.prefix);
      picojson::array methods;
      for (const auto& m : route.methods) {
        methods.emplace_back(m);
      }
      o["methods"] = picojson::value(std::move(methods));
      list.emplace_back(std::move(o));
    }
    picojson::object root;
    root["routes"] = picojson::value(std::move(list));
    respond(json_response(picojson::value(std::move(root))));
  };
  return r;
}

caf::behavior server_main(ServerBroker* self, ServerOptions opts, std::vector<Route> routes,
                          BindPromise bound) {
  auto core = std::make_shared<ServerCore>();
  core->self = self;
  core->opts = std::move(opts);
  self->state.core = core;
  core->add_route(help_route(core));
  for (auto& r : routes) {
    core->add_route(std::move(r));
  }
  auto res = guard::add_guarded_doorman(self, core->opts.port, core->opts.host, "HTTP port");
  if (!res) {
    bound->set_value(res.error());
    self->quit(res.error());
    return {};
  }
  bound->set_value(*res);
  auto idle_period = std::clamp<std::chrono::milliseconds>(core->opts.idle_timeout / 4,
                                                           std::chrono::milliseconds(10),
                                                           std::chrono::milliseconds(5000));
  self->delayed_send(self, idle_period, idle_atom::value);
  self->set_default_handler(
      [](caf::scheduled_actor* s, caf::message_view&) -> caf::result<caf::message> {
        if (s->current_message_id().is_request()) {
          return caf::sec::unexpected_message;
        }
        return caf::message{};  // async: drop quietly (cookbook §3)
      });
  self->set_error_handler([](caf::error&) {});
  self->set_exit_handler([self](caf::exit_msg& msg) {
    // Any exit message stops the server: shutdown must never hang on us.
    self->state.core->conns.clear();
    self->close_all();
    self->quit(msg.reason);
  });
  return {
      [self](const caf::io::new_connection_msg& msg) {
        self->state.core->on_new_connection(msg.handle);
      },
      [self](const caf::io::new_data_msg& msg) {
        self->state.core->on_data(msg.handle, msg.buf);
      },
      [self](const caf::io::connection_closed_msg& msg) {
        self->state.core->on_closed(msg.handle);
      },
      // Losing the listening socket leaves a process nobody can reach: a
      // failure for the supervisor, not a clean stop.
      [self](const caf::io::acceptor_closed_msg&) {
        self->quit(caf::make_error(caf::sec::runtime_error, "the HTTP listening socket was closed"));
      },
      [self](tick_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.core->on_tick();
        }
      },
      [self, idle_period](idle_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.core->on_idle_check();
          self->delayed_send(self, idle_period, idle_atom::value);
        }
      },
      [self](add_route_atom, Route& r) { self->state.core->add_route(std::move(r)); },
      [self](stats_atom) {
        const auto& core = *self->state.core;
        return ServerStats{core.conns.size(), core.deadlines.size(), core.requests, core.idle_closed,
                           core.refused};
      },
  };
}

}  // namespace

// ---- public helpers ----------------------------------------------------------

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

namespace {

int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') {
    return ch - '0';
  }
  if (ch >= 'a' && ch <= 'f') {
    return ch - 'a' + 10;
  }
  if (ch >= 'A' && ch <= 'F') {
    return ch - 'A' + 10;
  }
  return -1;
}

bool header_safe(const std::string& s) {
  return s.find_first_of("\r\n") == std::string::npos;
}

}  // namespace

Try<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    if (ch == '%') {
      if (i + 2 >= s.size()) {
        return Error("truncated percent-escape");
      }
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return Error("invalid percent-escape");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (ch == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

Try<std::map<std::string, std::string>> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    std::string_view pair = query.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      auto key = percent_decode(pair.substr(0, eq), true);
      auto value = percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                               : pair.substr(eq + 1),
                                  true);
      if (key.is_error()) {
        return Error(key.error());
      }
      if (value.is_error()) {
        return Error(value.error());
      }
      out.insert_or_assign(std::move(*key), std::move(*value));
    }
    pos = amp + 1;
  }
  return out;
}

std::string serialize_response(const Response& r, bool close) {
  std::string out;
  out.reserve(r.body.size() + 160);
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += reason_phrase(r.status);
  out += "\r\nContent-Type: ";
  out += header_safe(r.content_type) ? r.content_type : "application/octet-stream";
  out += "\r\nContent-Length: ";
  out += std::to_string(r.body.size());
  out += close ? "\r\nConnection: close\r\n" : "\r\nConnection: keep-alive\r\n";
  for (const auto& [name, value] : r.headers) {
    auto lname = lower(name);
    if (lname == "content-type" || lname == "content-length" || lname == "connection" ||
        lname == "transfer-encoding" || name.empty() || !header_safe(name) ||
        !header_safe(value)) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  out += r.body;
  return out;
}

Response json_response(const picojson::value& v, int status) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = json_serialize(v);
  return r;
}

Response text_response(std::string body, int status, std::string content_type) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response error_response(int status, const std::string& message) {
  picojson::object o;
  o["message"] = picojson::value(message);
  return json_response(picojson::value(std::move(o)), status);
}

caf::expected<Server> spawn_server(caf::actor_system& sys, ServerOptions opts,
                                   std::vector<Route> routes) {
  auto bound = std::make_shared<std::promise<caf::expected<uint16_t>>>();
  auto result = bound->get_future();
  caf::actor actor =
      sys.middleman().spawn_broker(server_main, std::move(opts), std::move(routes), bound);
  if (result.wait_for(BIND_WAIT) != std::future_status::ready) {
    caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    return caf::make_error(caf::sec::cannot_open_port,
                           "the HTTP server broker did not start (spawn_server called "
                           "from inside a broker?)");
  }
  auto port = result.get();
  if (!port) {
    return std::move(port.error());
  }
  return Server{std::move(actor), *port};
}

void add_route(const Server& server, Route route) {
  caf::anon_send(server.actor, add_route_atom_v, std::move(route));
}

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
