#include "actors/sse.hpp"

#include <picojson.h>

#include <map>
#include <type_traits>
#include <utility>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "common/logging.hpp"
#include "common/strings.hpp"

namespace stoa::sse {

namespace {

using sse_heartbeat_atom = caf::atom_constant<caf::atom("sse_beat")>;

struct SseSubscriber {
  caf::actor server;
  uint64_t stream_id = 0;
  std::set<std::string> types;  // empty: every type
  std::string peer;
};

// The user-declared constructor keeps CAF from constructing the state from
// the actor pointer (C++20 aggregate paren-init makes that "possible").
struct HubState {
  HubState() = default;
  HubOptions opts;
  std::shared_ptr<std::atomic<uint64_t>> count;
  // By (server, stream id): the server's stream ids are unique per server.
  std::map<std::pair<caf::actor_addr, uint64_t>, SseSubscriber> subs;
  uint64_t seq = 0;
  uint64_t published = 0;
  bool heartbeat_pending = false;
  static inline const char* name = "stoa.sse.hub";
};

using HubActor = caf::stateful_actor<HubState>;
static_assert(!std::is_constructible_v<HubState, HubActor*>);

// The stream context the route hands to the hub: the filter and the first event.
std::string encode_context(const std::set<std::string>& types, const Event& first) {
  picojson::array t;
  for (const auto& name : types) {
    t.emplace_back(name);
  }
  picojson::object o;
  o["types"] = picojson::value(t);
  o["type"] = picojson::value(first.type);
  o["data"] = picojson::value(first.data);
  return picojson::value(o).serialize();
}

void update_count(HubActor* self) {
  self->state.count->store(self->state.subs.size(), std::memory_order_relaxed);
}

void schedule_heartbeat(HubActor* self) {
  auto& st = self->state;
  if (st.heartbeat_pending || st.subs.empty() || st.opts.heartbeat.count() <= 0) {
    return;
  }
  st.heartbeat_pending = true;
  self->delayed_send(self, st.opts.heartbeat, sse_heartbeat_atom::value);
}

void on_open(HubActor* self, const http::StreamSink& sink) {
  auto& st = self->state;
  picojson::value ctx;
  std::string err = picojson::parse(ctx, sink.context);
  if (!err.empty() || !ctx.is<picojson::object>()) {
    // Only our route opens streams on a hub; anything else is a bug.
    LOG_ERROR << "Event hub: a stream from " << sink.peer << " carries no subscription ('" << sink.context
              << "'); closing it";
    self->send(sink.server, http::stream_end_atom_v, sink.id);
    return;
  }
  SseSubscriber sub;
  sub.server = sink.server;
  sub.stream_id = sink.id;
  sub.peer = sink.peer;
  if (ctx.get("types").is<picojson::array>()) {
    for (const auto& t : ctx.get("types").get<picojson::array>()) {
      sub.types.insert(t.to_str());
    }
  }
  std::string first = frame(++st.seq, ctx.get("type").to_str(), ctx.get("data").to_str());
  self->send(sink.server, http::stream_chunk_atom_v, sink.id, std::move(first));
  st.subs[{sink.server.address(), sink.id}] = std::move(sub);
  update_count(self);
  schedule_heartbeat(self);
}

void on_publish(HubActor* self, const std::string& type, const std::string& json) {
  auto& st = self->state;
  ++st.published;
  if (st.subs.empty()) {
    return;
  }
  std::string bytes = frame(++st.seq, type, json);
  for (const auto& [key, sub] : st.subs) {
    if (sub.types.empty() || sub.types.count(type) > 0) {
      self->send(sub.server, http::stream_chunk_atom_v, sub.stream_id, bytes);
    }
  }
}

void on_heartbeat(HubActor* self) {
  auto& st = self->state;
  st.heartbeat_pending = false;
  const std::string comment = ": heartbeat\n\n";
  for (const auto& [key, sub] : st.subs) {
    self->send(sub.server, http::stream_chunk_atom_v, sub.stream_id, comment);
  }
  schedule_heartbeat(self);
}

caf::behavior hub_main(HubActor* self, HubOptions opts, std::shared_ptr<std::atomic<uint64_t>> count) {
  self->state.opts = opts;
  self->state.count = std::move(count);
  self->set_default_handler(
      [](caf::scheduled_actor* s, caf::message_view&) -> caf::result<caf::message> {
        if (s->current_message_id().is_request()) {
          return caf::sec::unexpected_message;
        }
        return caf::message{};
      });
  self->attach_functor([count = self->state.count] { count->store(0); });
  return {
      [self](http::stream_open_atom, const http::StreamSink& sink) { on_open(self, sink); },
      [self](http::stream_closed_atom, uint64_t id) {
        auto server = caf::actor_cast<caf::actor_addr>(self->current_sender());
        self->state.subs.erase({server, id});
        update_count(self);
      },
      [self](publish_atom, const std::string& type, const std::string& json) { on_publish(self, type, json); },
      [self](sse_heartbeat_atom) {
        if (self->current_sender() == self->ctrl()) {
          on_heartbeat(self);
        }
      },
      [self](hub_stats_atom) {
        return std::make_tuple(static_cast<uint64_t>(self->state.subs.size()), self->state.published);
      },
  };
}

}  // namespace

Hub spawn_hub(caf::actor_system& sys, HubOptions opts) {
  auto count = std::make_shared<std::atomic<uint64_t>>(0);
  Hub hub;
  hub.options = opts;
  hub.subscribers = count;
  hub.actor = sys.spawn(hub_main, opts, count);
  return hub;
}

void publish(const Hub& hub, std::string type, std::string json) {
  if (hub.actor) {
    caf::anon_send(hub.actor, publish_atom_v, std::move(type), std::move(json));
  }
}

std::string frame(uint64_t id, const std::string& type, const std::string& data) {
  std::string out;
  out.reserve(data.size() + type.size() + 40);
  out += "id: ";
  out += std::to_string(id);
  out += "\nevent: ";
  out += type;
  out += '\n';
  size_t start = 0;
  for (;;) {
    size_t nl = data.find('\n', start);
    out += "data: ";
    out.append(data, start, nl == std::string::npos ? std::string::npos : nl - start);
    out += '\n';
    if (nl == std::string::npos) {
      break;
    }
    start = nl + 1;
  }
  out += '\n';
  return out;
}

Try<std::set<std::string>> parse_types(std::string_view text, const std::vector<std::string>& known) {
  std::set<std::string> out;
  if (text.empty()) {
    return out;
  }
  for (const std::string& name : split(std::string(text), ',')) {
    bool ok = false;
    for (const auto& k : known) {
      ok = ok || k == name;
    }
    if (!ok) {
      return Error("Unknown event type '" + name + "' in types='" + std::string(text) +
                   "'; known types: " + join(known, ", "));
    }
    out.insert(name);
  }
  return out;
}

http::Route route(const Hub& hub, std::string path, std::string help, std::vector<std::string> known_types,
                  OnAttach on_attach) {
  http::Route r;
  r.path = std::move(path);
  r.help = std::move(help);
  r.methods = {"GET"};
  caf::actor producer = hub.actor;
  r.handler = [producer, known = std::move(known_types), on_attach = std::move(on_attach)](
                  caf::io::broker* self, const http::Request& req, http::Responder respond) {
    auto given = req.query.find("types");
    Try<std::set<std::string>> types =
        parse_types(given == req.query.end() ? std::string_view() : given->second, known);
    if (types.is_error()) {
      respond(http::error_response(400, types.error()));
      return;
    }
    std::set<std::string> filter = *types;
    on_attach(self, req, [producer, filter, respond](AttachResult result) {
      if (auto* resp = std::get_if<http::Response>(&result)) {
        respond(std::move(*resp));
        return;
      }
      if (!producer) {
        respond(http::error_response(503, "No event hub"));
        return;
      }
      http::Response r;
      r.status = 200;
      r.content_type = "text/event-stream";
      r.headers.emplace_back("Cache-Control", "no-cache");
      r.headers.emplace_back("X-Accel-Buffering", "no");  // proxies must not buffer the stream
      r.stream_producer = producer;
      r.stream_context = encode_context(filter, std::get<Event>(result));
      respond(std::move(r));
    });
  };
  return r;
}

}  // namespace stoa::sse
