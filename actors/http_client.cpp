#include "actors/http_client.hpp"

#include <http_parser.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <type_traits>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/safety.hpp"
#include "common/strings.hpp"

namespace stoa::http {

namespace {

using timeout_atom = caf::atom_constant<caf::atom("http_tmo")>;
using resolve_atom = caf::atom_constant<caf::atom("http_res")>;

// Slack added to the CAF request in fetch() so the client's own timeout error
// arrives first.
constexpr auto FETCH_SLACK = std::chrono::seconds(1);

// The user-declared constructor keeps CAF from constructing the state from
// the actor pointer (C++20 aggregate paren-init makes that "possible").
struct ClientState {
  ClientState() = default;
  ClientRequest req;
  caf::response_promise rp;
  bool started = false;
  bool done = false;
  bool connected = false;
  caf::io::connection_handle hdl;

  http_parser parser;
  Response resp;
  std::string field;
  std::string value;
  bool last_was_value = false;
  bool complete = false;
  bool received_any = false;
  bool head_complete = false;  // the headers are in (body_sink mode)

  static inline const char* name = "stoa.http.client";
};

using ClientBroker = caf::stateful_actor<ClientState, caf::io::broker>;
static_assert(!std::is_constructible_v<ClientState, ClientBroker*>);

ClientState* state_of(http_parser* p) { return static_cast<ClientState*>(p->data); }

void commit_header(ClientState* st) {
  if (st->field.empty()) {
    return;
  }
  std::string name = lower(st->field);
  if (name == "content-type") {
    st->resp.content_type = st->value;
  } else {
    st->resp.headers.emplace_back(std::move(name), st->value);
  }
  st->field.clear();
  st->value.clear();
  st->last_was_value = false;
}

int on_header_field(http_parser* p, const char* at, size_t len) {
  ClientState* st = state_of(p);
  if (st->last_was_value) {
    commit_header(st);
  }
  st->field.append(at, len);
  return 0;
}

int on_header_value(http_parser* p, const char* at, size_t len) {
  ClientState* st = state_of(p);
  st->value.append(at, len);
  st->last_was_value = true;
  return 0;
}

int on_headers_complete(http_parser* p) {
  ClientState* st = state_of(p);
  commit_header(st);
  st->resp.status = static_cast<int>(p->status_code);
  if (st->req.body_sink && st->resp.status >= 200) {
    st->head_complete = true;
    st->req.body_sink(st->resp, std::string_view());
  }
  // A response to HEAD has headers only; 1 tells http_parser to skip the body.
  return st->req.method == "HEAD" ? 1 : 0;
}

int on_body(http_parser* p, const char* at, size_t len) {
  ClientState* st = state_of(p);
  if (st->head_complete) {
    st->req.body_sink(st->resp, std::string_view(at, len));
    return 0;
  }
  st->resp.body.append(at, len);
  return 0;
}

int on_message_begin(http_parser* p) {
  ClientState* st = state_of(p);
  st->resp = Response{};
  st->resp.content_type.clear();
  return 0;
}

int on_message_complete(http_parser* p) {
  ClientState* st = state_of(p);
  // An interim 1xx response is followed by the real one.
  if (st->resp.status >= 200 || st->resp.status == 0) {
    st->complete = true;
    return 1;  // stop: one response per connection
  }
  return 0;
}

const http_parser_settings& response_parser_settings() {
  static const http_parser_settings settings = [] {
    http_parser_settings s;
    http_parser_settings_init(&s);
    s.on_message_begin = on_message_begin;
    s.on_header_field = on_header_field;
    s.on_header_value = on_header_value;
    s.on_headers_complete = on_headers_complete;
    s.on_body = on_body;
    s.on_message_complete = on_message_complete;
    return s;
  }();
  return settings;
}

std::string render_request(const ClientRequest& req) {
  std::string out;
  out.reserve(req.body.size() + 256);
  out += req.method;
  out += ' ';
  out += req.path.empty() ? "/" : req.path;
  out += " HTTP/1.1\r\nHost: ";
  bool v6 = req.host.find(':') != std::string::npos;
  out += v6 ? "[" + req.host + "]" : req.host;
  out += ':';
  out += std::to_string(req.port);
  out += "\r\nConnection: close\r\n";
  if (!req.body.empty() || (req.method != "GET" && req.method != "HEAD")) {
    out += "Content-Length: " + std::to_string(req.body.size()) + "\r\n";
  }
  for (const auto& [name, value] : req.headers) {
    auto lname = lower(name);
    if (lname == "host" || lname == "content-length" || lname == "connection" ||
        lname == "transfer-encoding" ||
        name.find_first_of("\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      continue;
    }
    out += name + ": " + value + "\r\n";
  }
  out += "\r\n";
  out += req.body;
  return out;
}

// Delivers the outcome (a Response or an error) once, then exits.
template <class T>
void finish(ClientBroker* self, T result) {
  auto& st = self->state;
  if (st.done) {
    return;
  }
  st.done = true;
  if (st.rp.pending()) {
    st.rp.deliver(std::move(result));
  }
  if (st.connected) {
    self->close(st.hdl);
  }
  self->quit();
}

void fail(ClientBroker* self, caf::sec code, std::string message) {
  finish(self, caf::make_error(code, std::move(message)));
}

// Starts a non-blocking connect to the IP literal `ip` and hands the socket to
// the broker. The request bytes are queued at once; CAF writes them when the
// socket becomes writable, i.e. once connected. A failed connect shows up as
// connection_closed_msg.
void connect_and_send(ClientBroker* self, const std::string& ip) {
  auto& st = self->state;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(st.req.port);
    addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(st.req.port);
    addr_len = sizeof(sockaddr_in6);
  } else {
    fail(self, caf::sec::cannot_connect_to_node, "not an IP address: '" + ip + "'");
    return;
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail(self, caf::sec::cannot_connect_to_node, "socket(): " + errno_text(errno));
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    fail(self, caf::sec::cannot_connect_to_node,
         "connect to " + ip + ":" + std::to_string(st.req.port) + ": " + errno_text(err));
    return;
  }
  st.hdl = self->add_scribe(fd);
  st.connected = true;
  self->configure_read(st.hdl, caf::io::receive_policy::at_most(64 * 1024));
  auto bytes = render_request(st.req);
  self->write(st.hdl, bytes.size(), bytes.data());
  self->flush(st.hdl);
}

// Resolves a host name with getaddrinfo, which may block: runs detached.
caf::behavior resolver(caf::event_based_actor* self) {
  return {
      [self](resolve_atom, const std::string& host) -> caf::result<std::string> {
        self->quit();
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
        if (rc != 0 || res == nullptr) {
          return caf::make_error(caf::sec::cannot_connect_to_node,
                                 "cannot resolve '" + host + "': " + gai_strerror(rc));
        }
        const addrinfo* pick = res;  // prefer IPv4: servers here bind 127.0.0.1-style hosts
        for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
          if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
          }
        }
        char buf[INET6_ADDRSTRLEN] = {0};
        const void* src = pick->ai_family == AF_INET
                              ? static_cast<const void*>(
                                    &reinterpret_cast<sockaddr_in*>(pick->ai_addr)->sin_addr)
                              : static_cast<const void*>(
                                    &reinterpret_cast<sockaddr_in6*>(pick->ai_addr)->sin6_addr);
        ::inet_ntop(pick->ai_family, src, buf, sizeof(buf));
        ::freeaddrinfo(res);
        return std::string(buf);
      },
  };
}

bool is_ip_literal(const std::string& host) {
  in6_addr buf;
  return inet_pton(AF_INET, host.c_str(), &buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &buf) == 1;
}

void on_go(ClientBroker* self) {
  auto& st = self->state;
  self->delayed_send(self, st.req.timeout, timeout_atom::value);
  if (is_ip_literal(st.req.host)) {
    connect_and_send(self, st.req.host);
    return;
  }
  Try<caf::actor> spawned =
      spawn_with_thread(self->system(), ThreadActor::detached, [self] { return self->spawn<caf::detached>(resolver); });
  if (spawned.is_error()) {
    fail(self, caf::sec::cannot_connect_to_node, "cannot resolve '" + st.req.host + "': " + spawned.error());
    return;
  }
  caf::actor r = *spawned;
  self->request(r, st.req.timeout, resolve_atom::value, st.req.host)
      .then([self](const std::string& ip) { connect_and_send(self, ip); },
            [self](caf::error& e) {
              fail(self, caf::sec::cannot_connect_to_node, self->system().render(e));
            });
}

void on_data(ClientBroker* self, const std::vector<char>& buf) {
  auto& st = self->state;
  if (st.done) {
    return;
  }
  st.received_any = st.received_any || !buf.empty();
  http_parser_execute(&st.parser, &response_parser_settings(), buf.data(), buf.size());
  if (st.complete) {
    finish(self, std::move(st.resp));
    return;
  }
  auto err = static_cast<http_errno>(st.parser.http_errno);
  if (err != HPE_OK) {
    fail(self, caf::sec::invalid_argument,
         std::string("malformed HTTP response: ") + http_errno_description(err));
  }
}

void on_closed(ClientBroker* self) {
  auto& st = self->state;
  st.connected = false;
  if (st.done) {
    return;
  }
  // EOF ends a response that has neither Content-Length nor chunking.
  if (st.parser.http_errno == HPE_OK) {
    http_parser_execute(&st.parser, &response_parser_settings(), nullptr, 0);
  }
  if (st.complete) {
    finish(self, std::move(st.resp));
    return;
  }
  auto where = st.req.host + ":" + std::to_string(st.req.port);
  fail(self, caf::sec::cannot_connect_to_node,
       st.received_any ? "connection to " + where + " closed before a complete response"
                       : "cannot connect to " + where +
                             " (refused, unreachable, or closed without a response)");
}

caf::behavior client_main(ClientBroker* self, ClientRequest req) {
  // Its timeout, due after it answered, would keep it alive (actors/safety.hpp).
  close_mailbox_at_exit(self);
  auto& st = self->state;
  st.req = std::move(req);
  http_parser_init(&st.parser, HTTP_RESPONSE);
  st.parser.data = &st;
  self->set_default_handler(
      [](caf::scheduled_actor* s, caf::message_view&) -> caf::result<caf::message> {
        if (s->current_message_id().is_request()) {
          return caf::sec::unexpected_message;
        }
        return caf::message{};
      });
  self->set_exit_handler([self](caf::exit_msg& msg) {
    finish(self, msg.reason);
  });
  return {
      [self](go_atom) -> caf::result<Response> {
        auto& st = self->state;
        if (st.started) {
          return caf::make_error(caf::sec::invalid_argument, "http request already started");
        }
        st.started = true;
        st.rp = self->make_response_promise();
        on_go(self);
        return st.rp;
      },
      [self](const caf::io::new_data_msg& msg) { on_data(self, msg.buf); },
      [self](const caf::io::connection_closed_msg&) { on_closed(self); },
      [self](timeout_atom) {
        auto& st = self->state;
        if (st.head_complete) {
          return;  // a streamed body may last as long as the server sends it
        }
        fail(self, caf::sec::request_timeout,
             "no complete response from " + st.req.host + ":" + std::to_string(st.req.port) +
                 " within " + std::to_string(st.req.timeout.count()) + " ms");
      },
  };
}

template <class Self>
void fetch_impl(Self* self, ClientRequest req, std::function<void(Response)> on_response,
                std::function<void(caf::error)> on_error) {
  auto timeout = req.timeout + FETCH_SLACK;
  auto worker = spawn_request(self->system(), std::move(req));
  self->request(worker, timeout, go_atom_v)
      .then([on_response](Response& r) { on_response(std::move(r)); },
            [on_error](caf::error& e) { on_error(std::move(e)); });
}

}  // namespace

caf::actor spawn_request(caf::actor_system& sys, ClientRequest req) {
  return sys.middleman().spawn_broker(client_main, std::move(req));
}

void fetch(caf::event_based_actor* self, ClientRequest req,
           std::function<void(Response)> on_response, std::function<void(caf::error)> on_error) {
  fetch_impl(self, std::move(req), std::move(on_response), std::move(on_error));
}

void fetch(caf::io::broker* self, ClientRequest req, std::function<void(Response)> on_response,
           std::function<void(caf::error)> on_error) {
  fetch_impl(self, std::move(req), std::move(on_response), std::move(on_error));
}

}  // namespace stoa::http
