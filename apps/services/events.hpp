#pragma once
// Marathon's event bus: /v2/events (Server-Sent Events in Marathon's exact
// wire format) and HTTP callback subscribers (--event_subscriber
// http_callback --http_endpoints URL,…). Facts: marathon.md §5.
//
// The core publishes through an EventBus from its own actor; publish() never
// blocks and costs nothing beyond building the JSON when nobody listens
// (check `listening()` before building a big event).

#include <memory>
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
};

// The bus and its HTTP route: GET /v2/events — 405 unless an Accept value is
// exactly text/event-stream; `event_type` (repeatable) filters; 200
// text/event-stream;charset=UTF-8 frames "event: <type>\r\ndata: <json>\r\n\r\n",
// a bare "\r\n" heartbeat every 10 s; event_stream_attached/detached
// published. `redirect_to_leader` is asked first: a standby answers 302
// to the leader's /v2/events (nullopt = serve here).
struct EventStream {
  std::shared_ptr<EventBus> bus;
  http::Route route;
};
EventStream spawn_event_stream(caf::actor_system& sys, EventBusOptions options,
                               std::function<std::optional<std::string>()> leader_url_if_standby);

}  // namespace stoa::services
