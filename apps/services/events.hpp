#pragma once
// Marathon's event bus: /v2/events (Server-Sent Events in Marathon's exact
// wire format) and HTTP callback subscribers (--event_subscriber
// http_callback --http_endpoints URL,…). Facts: marathon.md §5.
//
// The core publishes through an EventBus from its own actor; publish() never
// blocks and costs nothing beyond building the JSON when nobody listens
// (check `listening()` before building a big event).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <picojson.h>

#include "actors/http.hpp"

namespace stoa::services {

class EventBus {
 public:
  virtual ~EventBus() = default;
  // Adds "eventType": type and "timestamp" (ISO, ms) to `fields` and sends
  // it to every SSE client whose event_type filter takes `type` and to every
  // callback URL (POST, JSON body; failures are logged and dropped).
  virtual void publish(const std::string& type, picojson::object fields) = 0;
  // True if any SSE client or callback would receive an event now.
  virtual bool listening() const = 0;
};

struct EventBusOptions {
  std::vector<std::string> callback_urls;  // http://host:port/path
  size_t max_outstanding = 50;             // per SSE client, then it is dropped
  // A bare "\r\n" goes to every SSE client this often (Jetty's default);
  // tests shorten it. Zero or less: none.
  std::chrono::milliseconds heartbeat = std::chrono::seconds(10);
};

// The bus and its HTTP route: GET /v2/events — 405 unless an Accept value is
// exactly text/event-stream; `event_type` (repeatable) filters; 200
// text/event-stream;charset=UTF-8 frames "event: <type>\r\ndata: <json>\r\n\r\n",
// a bare "\r\n" heartbeat every 10 s; event_stream_attached/detached
// published. `leader_url_if_standby` is asked first: a standby answers 302
// to the leader's /v2/events (nullopt = serve here). It returns the
// leader's "host:port" or "http://host:port" (the path and this request's
// query are appended); it runs in the HTTP server broker.
// A client is dropped (its stream ended) when more than `max_outstanding`
// of its events have not been taken by the HTTP server yet; the server's
// max_stream_unsent bounds the bytes the client has not read.
struct EventStream {
  std::shared_ptr<EventBus> bus;
  http::Route route;
  // The hub actor (the producer of every stream); it lives until stopped
  // with stop_actor(sys, hub) (actors/safety.hpp: anonymous exits are refused).
  caf::actor hub;
};
EventStream spawn_event_stream(caf::actor_system& sys, EventBusOptions options,
                               std::function<std::optional<std::string>()> leader_url_if_standby);

}  // namespace stoa::services
