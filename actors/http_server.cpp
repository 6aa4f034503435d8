// The server broker: accepting connections (up to max_connections), feeding
// the parser, dispatching requests to handlers, writing responses in request
// order (with ?jsonp= and HEAD), 504 for a late handler and closing idle
// connections.
#include "actors/http.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cctype>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/guarded_io.hpp"
#include "actors/http_server_core.hpp"
#include "actors/safety.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"

namespace stoa::http {

namespace detail {

namespace {

using tick_atom = caf::atom_constant<caf::atom("http_tick")>;
using idle_atom = caf::atom_constant<caf::atom("http_idle")>;

// Bodies larger than this are written in chunks as the client takes them
// (FileBody), not copied into the broker's buffer at once.
constexpr size_t CHUNKED_BODY_BYTES = 1 << 20;

// How long spawn_server waits for the broker to bind.
constexpr auto BIND_WAIT = std::chrono::seconds(10);
// How long add_route() waits for the server to take a route.
constexpr auto ROUTE_WAIT = std::chrono::seconds(10);

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

}  // namespace

// ---- ServerCore ----------------------------------------------------------

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
    if (opts.starting) {
      Response r = error_response(503, "no route for '" + req.path + "' yet: the server is starting");
      r.headers.emplace_back("Retry-After", "1");
      respond(conn_id, pr.seq, std::move(r));
      return;
    }
    respond(conn_id, pr.seq, error_response(404, "no route for '" + req.path + "'"));
    return;
  }
  bool allowed = false;
  for (const auto& m : route->methods) {
    // HEAD is served by GET routes (the body is dropped when writing).
    allowed = allowed || m == req.method || (req.method == "HEAD" && m == "GET");
  }
  std::string allow = join(route->methods, ", ");
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

void ServerCore::stream_never_opened(const caf::actor& producer) {
  if (producer) {
    self->send(producer, stream_closed_atom_v, uint64_t{0});
  }
}

void ServerCore::respond(uint64_t conn_id, uint64_t seq, Response resp) {
  Connection* c = find(conn_id);
  if (c == nullptr) {
    stream_never_opened(resp.stream_producer);
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
    stream_never_opened(resp.stream_producer);
    return;  // already answered (or timed out)
  }
  if (!slot->jsonp.empty() && starts_with_json(resp.content_type)) {
    if (valid_jsonp_callback(slot->jsonp)) {
      resp.body = slot->jsonp + "(" +
                  (resp.spans_body ? resp.spans_body->str() : resp.shared_body ? *resp.shared_body : resp.body) + ");";
      resp.shared_body.reset();
      resp.spans_body.reset();
      resp.content_type = "application/javascript";
    } else {
      resp = error_response(400, "invalid jsonp callback name");
    }
  }
  if (slot->deadline) {
    deadlines.erase({*slot->deadline, conn_id, seq});
    slot->deadline.reset();
  }
  if (!resp.body_file.empty() && !slot->head) {
    auto file = std::make_unique<FileBody>();
    file->fd = ::open(resp.body_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (file->fd < 0) {
      resp = error_response(500, "Cannot open '" + resp.body_file + "': " + std::strerror(errno));
    } else {
      file->size = resp.body_file_size;
      slot->file = std::move(file);
    }
  }
  if (resp.stream_producer) {
    // The stream is the last response on its connection.
    slot->close_after = true;
    c->parsing_done = true;
    if (!slot->head) {
      slot->stream_producer = resp.stream_producer;
      slot->stream_context = std::move(resp.stream_context);
    } else {
      stream_never_opened(resp.stream_producer);  // headers only
    }
  }
  if (resp.stream_producer) {
    resp.shared_body.reset();  // a stream has no body of its own
    resp.spans_body.reset();
  }
  const size_t body_size = resp.spans_body    ? resp.spans_body->size()
                           : resp.shared_body ? resp.shared_body->size()
                                              : resp.body.size();
  if (resp.body_file.empty() && !resp.stream_producer && !slot->head && body_size > CHUNKED_BODY_BYTES) {
    auto body = std::make_unique<FileBody>();
    body->size = body_size;
    slot->bytes = serialize_response_head(resp, slot->close_after);
    if (resp.spans_body) {
      body->spans = std::move(resp.spans_body);
    } else {
      body->memory = resp.shared_body ? std::move(resp.shared_body)
                                      : std::make_shared<const std::string>(std::move(resp.body));
    }
    slot->file = std::move(body);
    slot->ready = true;
    write_ready(conn_id);
    return;
  }
  slot->bytes = slot->head ? serialize_response_head(resp, slot->close_after)
                           : serialize_response(resp, slot->close_after);
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
    if (!c->streaming) {
      self->write(c->hdl, s.bytes.size(), s.bytes.data());
      wrote = true;
      s.bytes.clear();
      c->streaming = s.file != nullptr;
    }
    if (s.stream_producer) {
      start_stream(*c, s);
      return;
    }
    if (c->streaming) {
      bool done = pump_file(*c);
      if (find(conn_id) == nullptr) {
        return;  // the file shrank: the connection is gone
      }
      if (!done) {
        break;  // more once the client has taken what is buffered
      }
      c->streaming = false;
    }
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

FileBody::~FileBody() {
  if (fd >= 0) {
    ::close(fd);
  }
}

bool ServerCore::pump_file(Connection& c) {
  constexpr uint64_t CHUNK = 256 << 10;
  constexpr uint64_t MAX_UNSENT = 1 << 20;
  FileBody& f = *c.slots.front().file;
  self->ack_writes(c.hdl, true);
  std::vector<char> buf;
  while (f.sent < f.size && c.unsent < MAX_UNSENT) {
    if (f.spans) {
      auto n = static_cast<size_t>(std::min(CHUNK, f.size - f.sent));
      f.spans->spans(static_cast<size_t>(f.sent), n,
                     [this, &c](const char* data, size_t k) { self->write(c.hdl, k, data); });
      f.sent += n;
      c.unsent += n;
      continue;
    }
    if (f.fd < 0) {
      auto n = static_cast<size_t>(std::min(CHUNK, f.size - f.sent));
      self->write(c.hdl, n, f.memory->data() + f.sent);
      f.sent += n;
      c.unsent += n;
      continue;
    }
    buf.resize(static_cast<size_t>(std::min(CHUNK, f.size - f.sent)));
    ssize_t n = ::pread(f.fd, buf.data(), buf.size(), static_cast<off_t>(f.sent));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      // The file shrank (or failed) under us: the promised length cannot be
      // met, so the only honest answer is to close.
      LOG_WARNING << "HTTP: a streamed body ended after " << f.sent << " of " << f.size << " bytes"
                  << (n < 0 ? std::string(": ") + std::strerror(errno) : std::string()) << "; closing "
                  << c.peer;
      auto hdl = c.hdl;
      self->close(hdl);
      erase(hdl);
      return true;
    }
    self->write(c.hdl, static_cast<size_t>(n), buf.data());
    f.sent += static_cast<uint64_t>(n);
    c.unsent += static_cast<uint64_t>(n);
  }
  self->flush(c.hdl);
  c.last_activity = Clock::now();
  return f.sent >= f.size;
}

void ServerCore::on_transferred(caf::io::connection_handle hdl, uint64_t written) {
  auto i = conns.find(hdl);
  if (i == conns.end()) {
    return;
  }
  Connection& c = *i->second;
  c.unsent = written >= c.unsent ? 0 : c.unsent - written;
  c.last_activity = Clock::now();
  if (c.streaming) {
    write_ready(c.id);
  }
}

void ServerCore::erase(caf::io::connection_handle hdl) {
  auto i = conns.find(hdl);
  if (i == conns.end()) {
    return;
  }
  if (uint64_t id = i->second->stream_id; id != 0) {
    streams.erase(id);
    ++streams_closed;
    if (streams_gauge != nullptr) {
      streams_gauge->set(static_cast<double>(streams.size()));
    }
    self->send(i->second->stream_producer, stream_closed_atom_v, id);
  }
  for (auto& s : i->second->slots) {
    if (s.deadline) {
      deadlines.erase({*s.deadline, i->second->id, s.seq});
    }
    stream_never_opened(s.stream_producer);  // answered, not yet written
  }
  conn_ids.erase(i->second->id);
  conns.erase(i);
}

void ServerCore::on_closed(caf::io::connection_handle hdl) { erase(hdl); }

void ServerCore::start_stream(Connection& c, Slot& s) {
  uint64_t id = next_stream_id++;
  c.stream_id = id;
  c.stream_producer = std::move(s.stream_producer);
  StreamSink sink{caf::actor_cast<caf::actor>(self), id, std::move(s.stream_context), c.peer};
  // Nothing else is answered on this connection.
  for (auto& slot : c.slots) {
    if (slot.deadline) {
      deadlines.erase({*slot.deadline, c.id, slot.seq});
    }
  }
  c.slots.clear();
  c.unsent = 0;
  streams[id] = c.hdl;
  if (streams_gauge != nullptr) {
    streams_gauge->set(static_cast<double>(streams.size()));
  }
  self->ack_writes(c.hdl, true);
  self->flush(c.hdl);
  c.last_activity = Clock::now();
  self->monitor(c.stream_producer);
  self->send(c.stream_producer, stream_open_atom_v, std::move(sink));
}

void ServerCore::on_stream_chunk(uint64_t id, const std::string& bytes) {
  auto i = streams.find(id);
  if (i == streams.end() || bytes.empty()) {
    return;  // closed meanwhile
  }
  auto hdl = i->second;
  Connection* c = conns.count(hdl) > 0 ? conns[hdl].get() : nullptr;
  if (c == nullptr) {
    return;
  }
  if (c->unsent + bytes.size() > opts.max_stream_unsent) {
    ++streams_slow_closed;
    if (streams_slow_counter != nullptr) {
      streams_slow_counter->inc();
    }
    LOG_WARNING << "HTTP: closing the stream to " << c->peer << ": " << c->unsent
                << " bytes wait for the client, which reads too slowly (limit "
                << opts.max_stream_unsent << ")";
    // Shut the socket down first: a graceful close would keep the unsent
    // bytes for a client that does not read them. CAF's default multiplexer
    // names a connection by its socket (conn_hdl_from_socket), and the
    // handle is still ours, so the descriptor cannot have been reused.
    ::shutdown(static_cast<int>(hdl.id()), SHUT_RDWR);
    self->close(hdl);
    erase(hdl);
    return;
  }
  self->write(hdl, bytes.size(), bytes.data());
  self->flush(hdl);
  c->unsent += bytes.size();
}

void ServerCore::on_stream_end(uint64_t id) {
  auto i = streams.find(id);
  if (i == streams.end()) {
    return;
  }
  auto hdl = i->second;
  self->flush(hdl);
  self->close(hdl);  // graceful: what was written still goes out
  erase(hdl);
}

void ServerCore::on_producer_down(const caf::actor_addr& producer) {
  std::vector<caf::io::connection_handle> gone;
  for (const auto& [id, hdl] : streams) {
    auto j = conns.find(hdl);
    if (j != conns.end() && j->second->stream_producer.address() == producer) {
      gone.push_back(hdl);
    }
  }
  for (const auto& hdl : gone) {
    self->flush(hdl);
    self->close(hdl);
    erase(hdl);
  }
}

void ServerCore::close_all() {
  std::vector<caf::io::connection_handle> all;
  for (const auto& [hdl, c] : conns) {
    all.push_back(hdl);
  }
  for (const auto& hdl : all) {
    erase(hdl);  // tells the producer of a stream
  }
  self->close_all();
}

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
    // A client that stops taking a streamed body is idle too.
    // A streamed response is not: it may be quiet for long, and a slow
    // reader is closed by max_stream_unsent.
    bool idle_for_long = c->stream_id == 0 && (c->slots.empty() || c->streaming) &&
                         now - c->last_activity >= opts.idle_timeout;
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

}  // namespace detail

namespace {

using detail::BIND_WAIT;
using detail::ROUTE_WAIT;
using detail::Clock;
using detail::help_route;
using detail::idle_atom;
using detail::ServerCore;
using detail::tick_atom;

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

caf::behavior server_main(ServerBroker* self, ServerOptions opts, std::vector<Route> routes,
                          BindPromise bound) {
  close_mailbox_at_exit(self);  // its idle tick would keep it alive (actors/safety.hpp)
  auto core = std::make_shared<ServerCore>();
  core->self = self;
  core->opts = std::move(opts);
  self->state.core = core;
  core->add_route(help_route(core));
  if (core->opts.metrics != nullptr) {
    core->streams_gauge = &core->opts.metrics->gauge("http/streams", "Streamed HTTP responses open now.");
    core->streams_slow_counter = &core->opts.metrics->counter(
        "http/streams_slow_closed", "Streamed HTTP responses closed because the client read too slowly.");
  }
  for (auto& r : routes) {
    core->add_route(std::move(r));
  }
  auto res = guard::add_guarded_doorman(self, core->opts.port, core->opts.host, "HTTP port");
  if (!res) {
    bound->set_value(res.error());
    self->quit(res.error());
    return {};
  }
  if (!core->opts.unix_socket.empty()) {
    auto local = guard::add_guarded_unix_doorman(self, core->opts.unix_socket, "HTTP socket");
    if (!local) {
      bound->set_value(local.error());
      self->quit(local.error());
      return {};
    }
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
  self->set_down_handler([self](caf::down_msg& msg) {
    self->state.core->on_producer_down(msg.source);
  });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    // Any exit message stops the server: shutdown must never hang on us.
    self->state.core->close_all();
    self->quit(msg.reason);
  });
  return {
      [self](const caf::io::new_connection_msg& msg) {
        self->state.core->on_new_connection(msg.handle);
      },
      [self](const caf::io::new_data_msg& msg) {
        self->state.core->on_data(msg.handle, msg.buf);
      },
      [self](const caf::io::data_transferred_msg& msg) {
        self->state.core->on_transferred(msg.handle, msg.written);
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
      [self](routes_complete_atom) { self->state.core->opts.starting = false; },
      [self](stream_chunk_atom, uint64_t id, const std::string& bytes) {
        self->state.core->on_stream_chunk(id, bytes);
      },
      [self](stream_end_atom, uint64_t id) { self->state.core->on_stream_end(id); },
      [self](stats_atom) {
        const auto& core = *self->state.core;
        return ServerStats{core.conns.size(), core.deadlines.size(), core.requests,
                           core.idle_closed,      core.refused,           core.streams.size(),
                           core.streams_slow_closed, core.streams_closed};
      },
  };
}

}  // namespace

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

std::shared_ptr<const std::string> share_current_string(caf::local_actor* self, size_t pos,
                                                        const std::string& body) {
  caf::mailbox_element* current = self->current_mailbox_element();
  if (current != nullptr) {
    caf::type_erased_tuple& content = current->content();
    if (pos < content.size() && content.match_element<std::string>(pos) && content.get(pos) == &body) {
      if (!content.shared()) {
        // This message alone holds the string: take it.
        return std::make_shared<const std::string>(std::move(content.get_mutable_as<std::string>(pos)));
      }
      // Held by the message, which others hold too: keep the message alive
      // as long as the body is used, and point into it.
      auto holder = std::make_shared<caf::message>(current->copy_content_to_message());
      if (holder->size() > pos && holder->get(pos) == &body) {
        return std::shared_ptr<const std::string>(holder, &body);
      }
    }
  }
  return std::make_shared<const std::string>(body);
}

namespace {

// Sends `msg` to the server and returns once it has handled it; on the
// multiplexer's own thread, where the server cannot answer while we wait,
// it only sends. `what` names the step in the error log.
template <class... Ts>
void tell_and_wait(const Server& server, const std::string& what, Ts&&... msg) {
  caf::actor_system& sys = server.actor->home_system();
  if (std::this_thread::get_id() == sys.middleman().backend().thread_id()) {
    caf::anon_send(server.actor, std::forward<Ts>(msg)...);
    return;
  }
  caf::scoped_actor self{sys};
  self->request(server.actor, ROUTE_WAIT, std::forward<Ts>(msg)...)
      .receive([] {}, [&](caf::error& e) { LOG_ERROR << "Failed to " << what << ": " << sys.render(e); });
}

}  // namespace

void add_route(const Server& server, Route route) {
  // Waited for: a request reaches the server through its socket, which may
  // be read before this message; a peer resolving a UPID right after
  // Runtime::start() got 404 for /__stoa__/processes (Runtime.ActorsOnThe-
  // IoThread… under load).
  std::string what = "serve '" + route.path + "'";
  tell_and_wait(server, what, add_route_atom_v, std::move(route));
}

void routes_complete(const Server& server) { tell_and_wait(server, "end the server's start", routes_complete_atom_v); }

}  // namespace stoa::http
