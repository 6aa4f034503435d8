#pragma once
// Server-sent events (text/event-stream) over the HTTP server's streamed
// responses (actors/http.hpp, "Streams").
//
// A hub actor fans published events out to its subscribers. Subscribers
// attach through an HTTP route (sse::route): the route checks `?types=A,B`
// against the known types (400 naming an unknown one), asks the owner's
// on_attach hook for the first event (or a response to send instead, e.g. a
// redirect), then answers with a stream fed by the hub. Every event gets the
// next sequence number of its hub as `id:`; a heartbeat comment goes to every
// subscriber each `heartbeat`. A subscriber that reads too slowly is closed by
// the HTTP server (ServerOptions::max_stream_unsent). Replay (Last-Event-ID)
// is not done: a subscriber sees what is published after it attached.
//
// Frames: "id: <seq>\nevent: <TYPE>\ndata: <json>\n\n" (a data with line
// breaks is split into several `data:` lines, as SSE specifies).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "actors/http.hpp"
#include "common/try.hpp"

namespace stoa::sse {

constexpr auto DEFAULT_HEARTBEAT = std::chrono::seconds(15);

struct HubOptions {
  // A comment line (": heartbeat") goes to every subscriber this often, so
  // proxies and clients see a live connection.
  std::chrono::milliseconds heartbeat = DEFAULT_HEARTBEAT;
};

// (publish_atom, std::string type, std::string json): sends the event to every
// subscriber whose filter takes `type`. Asynchronous; from any actor.
using publish_atom = caf::atom_constant<caf::atom("sse_pub")>;
constexpr publish_atom publish_atom_v{};
// (hub_stats_atom) -> (uint64_t subscribers, uint64_t published): tests.
using hub_stats_atom = caf::atom_constant<caf::atom("sse_stats")>;
constexpr hub_stats_atom hub_stats_atom_v{};

struct Hub {
  caf::actor actor;  // stop it with anon_send_exit(actor, user_shutdown)
  HubOptions options;
  // Subscribers attached now, kept by the hub. Read it (from any thread)
  // before building an event that nobody would receive.
  std::shared_ptr<const std::atomic<uint64_t>> subscribers;

  // True when the hub exists and has a subscriber.
  bool listening() const { return subscribers && subscribers->load(std::memory_order_relaxed) > 0; }
};

// Spawns a hub. It lives until sent an exit message.
Hub spawn_hub(caf::actor_system& sys, HubOptions opts = {});

// Publishes (type, json) on `hub` (nothing when the hub is null).
void publish(const Hub& hub, std::string type, std::string json);

struct Event {
  std::string type;
  std::string data;  // JSON, one line
};

// One SSE frame.
std::string frame(uint64_t id, const std::string& type, const std::string& data);

// "A,B" -> {A, B}. Error naming the first name not in `known` (or an empty
// name). "" -> {} (every type).
Try<std::set<std::string>> parse_types(std::string_view text, const std::vector<std::string>& known);

// What on_attach decides: the first event of the stream, or a response to
// send instead (a redirect, an error); the request then does not subscribe.
using AttachResult = std::variant<Event, http::Response>;
// Runs inside the HTTP server broker (it may request other actors and call
// `done` from the continuation, exactly once).
using OnAttach =
    std::function<void(caf::io::broker* self, const http::Request& req, std::function<void(AttachResult)> done)>;

// GET `path[?types=A,B]`: subscribes to `hub`. `known_types` bounds ?types=.
http::Route route(const Hub& hub, std::string path, std::string help, std::vector<std::string> known_types,
                  OnAttach on_attach);

}  // namespace stoa::sse
