// Marathon's event bus (marathon.md §5): /v2/events in Jetty's
// EventSource wire format and HTTP callback subscribers, fed by one hub
// actor that is the producer of every event stream.

#include "apps/services/events.hpp"

#include <atomic>
#include <map>
#include <set>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/http_client.hpp"
#include "actors/safety.hpp"
#include "apps/services/model.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"

namespace stoa::services {

namespace {

using ev_publish_atom = caf::atom_constant<caf::atom("svc_evpub")>;
using ev_beat_atom = caf::atom_constant<caf::atom("svc_evbeat")>;

// A chunk the server has not taken within this is counted as lost.
constexpr auto EV_CHUNK_TIMEOUT = std::chrono::minutes(1);
// Bounds one callback POST.
constexpr auto EV_CALLBACK_TIMEOUT = std::chrono::seconds(10);

struct EvClient {
  caf::actor server;
  uint64_t id = 0;
  std::set<std::string> filter;  // empty: every event
  std::string address;           // the client's IP
  size_t outstanding = 0;        // chunks the server has not taken yet
  bool dropping = false;
};

struct EvCallback {
  std::string url;
  std::string host;
  uint16_t port = 80;
  std::string path;
};

using EvKey = std::pair<caf::actor_addr, uint64_t>;

struct EvHubState {
  EvHubState() = default;

  caf::stateful_actor<EvHubState>* self = nullptr;
  EventBusOptions opts;
  std::shared_ptr<std::atomic<uint64_t>> clients;
  std::map<EvKey, EvClient> subs;
  std::vector<EvCallback> callbacks;
  bool beat_pending = false;
  static inline const char* name = "stoa.services.events";

  void on_open(const http::StreamSink& sink);
  void on_closed(uint64_t id);
  void on_publish(const std::string& type, const std::string& json);
  void on_heartbeat();

  void emit(const std::string& type, const std::string& address);
  void send_chunk(const EvKey& key, const std::string& bytes);
  void on_chunk_taken(const EvKey& key);
  void drop(const EvKey& key, const std::string& why);
  void post_callbacks(const std::string& json);
  void schedule_heartbeat();
  void update_count() { clients->store(subs.size(), std::memory_order_relaxed); }
};

using EvHubActor = caf::stateful_actor<EvHubState>;

std::string ev_frame(const std::string& type, const std::string& json) {
  return "event: " + type + "\r\ndata: " + json + "\r\n\r\n";
}

std::string ev_event_json(const std::string& type, picojson::object fields) {
  fields["eventType"] = picojson::value(type);
  fields["timestamp"] = picojson::value(format_timestamp(now_ms()));
  return json_serialize(picojson::value(fields));
}

void EvHubState::on_open(const http::StreamSink& sink) {
  EvClient c;
  c.server = sink.server;
  c.id = sink.id;
  c.address = sink.peer.substr(0, sink.peer.rfind(':'));
  Try<picojson::value> ctx = json_parse(sink.context);
  if (ctx.is_some() && ctx->is<picojson::array>()) {
    for (const picojson::value& t : ctx->get<picojson::array>()) {
      if (t.is<std::string>()) {
        c.filter.insert(t.get<std::string>());
      }
    }
  }
  const std::string address = c.address;
  subs[{sink.server.address(), sink.id}] = std::move(c);
  update_count();
  LOG_INFO << "Event stream attached: " << sink.peer;
  emit("event_stream_attached", address);
  schedule_heartbeat();
}

void EvHubState::on_closed(uint64_t id) {
  auto server = caf::actor_cast<caf::actor_addr>(self->current_sender());
  auto it = subs.find({server, id});
  if (it == subs.end()) {
    return;
  }
  const std::string address = it->second.address;
  subs.erase(it);
  update_count();
  LOG_INFO << "Event stream detached: " << address;
  emit("event_stream_detached", address);
}

void EvHubState::emit(const std::string& type, const std::string& address) {
  picojson::object fields;
  fields["remoteAddress"] = picojson::value(address);
  on_publish(type, ev_event_json(type, std::move(fields)));
}

void EvHubState::on_publish(const std::string& type, const std::string& json) {
  const std::string bytes = ev_frame(type, json);
  std::vector<EvKey> targets;
  for (const auto& [key, c] : subs) {
    if (!c.dropping && (c.filter.empty() || c.filter.count(type) > 0)) {
      targets.push_back(key);
    }
  }
  for (const EvKey& key : targets) {
    send_chunk(key, bytes);
  }
  post_callbacks(json);
}

void EvHubState::send_chunk(const EvKey& key, const std::string& bytes) {
  auto it = subs.find(key);
  if (it == subs.end() || it->second.dropping) {
    return;
  }
  EvClient& c = it->second;
  if (c.outstanding >= opts.max_outstanding) {
    drop(key, "more than " + std::to_string(opts.max_outstanding) + " events outstanding");
    return;
  }
  ++c.outstanding;
  // A request: the server's (empty) reply says the chunk was taken.
  self->request(c.server, EV_CHUNK_TIMEOUT, http::stream_chunk_atom_v, c.id, bytes)
      .then([this, key]() { on_chunk_taken(key); }, [this, key](const caf::error&) { on_chunk_taken(key); });
}

void EvHubState::on_chunk_taken(const EvKey& key) {
  auto it = subs.find(key);
  if (it != subs.end() && it->second.outstanding > 0) {
    --it->second.outstanding;
  }
}

void EvHubState::drop(const EvKey& key, const std::string& why) {
  auto it = subs.find(key);
  if (it == subs.end() || it->second.dropping) {
    return;
  }
  LOG_WARNING << "Dropping event stream client " << it->second.address << ": " << why;
  it->second.dropping = true;
  // The server answers with stream_closed, which detaches the client.
  self->send(it->second.server, http::stream_end_atom_v, it->second.id);
}

void EvHubState::post_callbacks(const std::string& json) {
  for (const EvCallback& cb : callbacks) {
    http::ClientRequest req;
    req.method = "POST";
    req.host = cb.host;
    req.port = cb.port;
    req.path = cb.path;
    req.body = json;
    req.headers.emplace_back("Content-Type", "application/json");
    req.timeout = EV_CALLBACK_TIMEOUT;
    const std::string url = cb.url;
    http::fetch(
        self, std::move(req),
        [url](const http::Response& r) {
          if (r.status < 200 || r.status >= 300) {
            LOG_WARNING << "Event callback " << url << " answered " << r.status << "; event dropped";
          }
        },
        [url](const caf::error& e) {
          LOG_WARNING << "Event callback " << url << " failed: " << caf::to_string(e) << "; event dropped";
        });
  }
}

void EvHubState::schedule_heartbeat() {
  if (beat_pending || subs.empty() || opts.heartbeat.count() <= 0) {
    return;
  }
  beat_pending = true;
  self->delayed_send(self, opts.heartbeat, ev_beat_atom::value);
}

void EvHubState::on_heartbeat() {
  beat_pending = false;
  std::vector<EvKey> keys;
  for (const auto& [key, c] : subs) {
    keys.push_back(key);
  }
  for (const EvKey& key : keys) {
    send_chunk(key, "\r\n");
  }
  schedule_heartbeat();
}

caf::behavior ev_hub(EvHubActor* self, EventBusOptions opts, std::vector<EvCallback> callbacks,
                     std::shared_ptr<std::atomic<uint64_t>> clients) {
  auto& st = self->state;
  st.self = self;
  st.opts = std::move(opts);
  st.callbacks = std::move(callbacks);
  st.clients = std::move(clients);
  set_safe_handlers(self, EvHubState::name);
  self->attach_functor([count = st.clients] { count->store(0); });
  return {
      [self](http::stream_open_atom, const http::StreamSink& sink) { self->state.on_open(sink); },
      [self](http::stream_closed_atom, uint64_t id) { self->state.on_closed(id); },
      [self](ev_publish_atom, const std::string& type, const std::string& json) {
        self->state.on_publish(type, json);
      },
      [self](ev_beat_atom) {
        if (self->current_sender() == self->ctrl()) {
          self->state.on_heartbeat();
        }
      },
  };
}

class EvBus final : public EventBus {
 public:
  EvBus(caf::actor hub, std::shared_ptr<std::atomic<uint64_t>> clients, bool callbacks)
      : hub_(std::move(hub)), clients_(std::move(clients)), callbacks_(callbacks) {}

  void publish(const std::string& type, picojson::object fields) override {
    if (!listening()) {
      return;
    }
    caf::anon_send(hub_, ev_publish_atom::value, type, ev_event_json(type, std::move(fields)));
  }

  bool listening() const override { return callbacks_ || clients_->load(std::memory_order_relaxed) > 0; }

 private:
  caf::actor hub_;
  std::shared_ptr<std::atomic<uint64_t>> clients_;
  bool callbacks_;
};

std::optional<EvCallback> ev_parse_callback(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    return std::nullopt;
  }
  EvCallback cb;
  cb.url = url;
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  cb.path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  cb.host = authority.substr(0, colon);
  if (colon != std::string::npos) {
    try {
      int port = std::stoi(authority.substr(colon + 1));
      if (port <= 0 || port > 65535) {
        return std::nullopt;
      }
      cb.port = static_cast<uint16_t>(port);
    } catch (...) {
      return std::nullopt;
    }
  }
  if (cb.host.empty()) {
    return std::nullopt;
  }
  return cb;
}

// Every event_type value of the raw query (repeats kept).
std::vector<std::string> ev_event_types(const std::string& query_string) {
  std::vector<std::string> out;
  for (const std::string& pair : split(query_string, '&')) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    Try<std::string> name = http::percent_decode(std::string_view(pair).substr(0, eq), true);
    Try<std::string> value = http::percent_decode(std::string_view(pair).substr(eq + 1), true);
    if (name.is_some() && *name == "event_type" && value.is_some()) {
      for (const std::string& v : split(*value, ',')) {
        if (!trim(v).empty()) {
          out.emplace_back(trim(v));
        }
      }
    }
  }
  return out;
}

bool ev_accepts_stream(const http::Request& req) {
  auto it = req.headers.find("accept");
  if (it == req.headers.end()) {
    return false;
  }
  for (const std::string& v : split(it->second, ',')) {
    if (trim(v) == "text/event-stream") {
      return true;
    }
  }
  return false;
}

}  // namespace

EventStream spawn_event_stream(caf::actor_system& sys, EventBusOptions options,
                               std::function<std::optional<std::string>()> leader_url_if_standby) {
  std::vector<EvCallback> callbacks;
  for (const std::string& url : options.callback_urls) {
    if (std::optional<EvCallback> cb = ev_parse_callback(url)) {
      callbacks.push_back(*cb);
    } else {
      LOG_ERROR << "Ignoring event callback URL '" << url << "': only http://host[:port]/path is supported";
    }
  }
  auto clients = std::make_shared<std::atomic<uint64_t>>(0);
  const bool has_callbacks = !callbacks.empty();
  caf::actor hub = sys.spawn(ev_hub, std::move(options), std::move(callbacks), clients);

  EventStream out;
  out.hub = hub;
  out.bus = std::make_shared<EvBus>(hub, clients, has_callbacks);
  out.route.path = "/v2/events";
  out.route.methods = {"GET"};
  out.route.help =
      "Marathon's event stream (text/event-stream; Accept: text/event-stream required; event_type= filters, "
      "repeatable). A standby redirects to the leader.";
  out.route.handler = [hub, standby = std::move(leader_url_if_standby)](
                          caf::io::broker*, const http::Request& req, http::Responder respond) {
    if (standby) {
      if (std::optional<std::string> leader = standby()) {
        std::string url = *leader;
        if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
          url = "http://" + url;
        }
        if (url.find("/v2/events") == std::string::npos) {
          url += "/v2/events";
        }
        if (!req.query_string.empty()) {
          url += "?" + req.query_string;
        }
        http::Response r;
        r.status = 302;
        r.headers.emplace_back("Location", url);
        respond(std::move(r));
        return;
      }
    }
    if (!ev_accepts_stream(req)) {
      respond(http::error_response(405, "HTTP method GET is not supported by this URL"));
      return;
    }
    picojson::array filter;
    for (const std::string& t : ev_event_types(req.query_string)) {
      filter.emplace_back(t);
    }
    http::Response r;
    r.status = 200;
    r.content_type = "text/event-stream;charset=UTF-8";
    r.headers.emplace_back("Cache-Control", "no-cache, no-store, must-revalidate");
    r.headers.emplace_back("Pragma", "no-cache");
    r.headers.emplace_back("Expires", "0");
    r.stream_producer = hub;
    r.stream_context = json_serialize(picojson::value(filter));
    respond(std::move(r));
  };
  return out;
}

}  // namespace stoa::services
