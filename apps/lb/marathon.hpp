#pragma once
// The registry client of stoa-lb: speaks only the Marathon REST + SSE
// contract (marathon.md §7.1), so it works against stoa-services and any
// Marathon.
//
// * Snapshot: GET <url>/v2/apps?embed=apps.tasks with Accept and
//   Content-Type application/json, User-Agent stoa-lb, tried on each URL in
//   order; the last URL that answered is tried first next time. A non-200 or
//   non-JSON answer counts as a dead host (the next is tried); the reason
//   (with the body's `message`) is logged.
// * Events (sse mode): GET <url>/v2/events?plan-format=light&event_type=
//   api_post_event&event_type=health_status_changed_event&event_type=
//   status_update_event with Accept: text/event-stream, following one
//   redirect (a standby's 302 to the leader). Lines starting with "data: "
//   are events. On every (re)connect a snapshot is taken; a relevant event
//   asks for a snapshot at once, and events arriving while one is in flight
//   are coalesced into one more. Without any event, a snapshot every
//   resync_interval (300 s). A stream that ends, errs or stays silent for
//   stall_timeout (300 s) is reconnected to the next URL (round-robin) after
//   a jittered backoff: random()*base, base ×1.5 up to max_backoff, back to
//   3 s when the stream lived longer than 600 s.
// * Poll mode: a snapshot every poll_interval.
// * Host names of tasks are resolved (LRU cache of lru_cache_capacity,
//   off the actor's thread) so every snapshot delivered has Task::ip set
//   (container mode: ipAddresses[0]); unresolvable → "" (skipped, logged).

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "apps/lb/atoms.hpp"
#include <caf/fwd.hpp>

#include "apps/lb/model.hpp"

namespace stoa::lb {

struct MarathonOptions {
  std::vector<std::string> urls;   // "http://host:port" (https is refused at flag parsing)
  bool sse = true;
  std::chrono::milliseconds poll_interval{60'000};
  std::chrono::milliseconds resync_interval{300'000};
  std::chrono::milliseconds stall_timeout{300'000};
  std::chrono::milliseconds max_backoff{300'000};
  std::chrono::milliseconds initial_backoff{3'000};
  std::chrono::milliseconds request_timeout{46'000};
  std::string basic_auth;          // "user:pass" or ""
  int lru_cache_capacity = 1000;
  ParseOptions parse;
};

// What the client sends its listener.
struct Snapshot {
  std::vector<App> apps;
  std::string url;        // which registry answered
  uint64_t sequence = 0;  // increases with every snapshot
};
using SnapshotPtr = std::shared_ptr<const Snapshot>;

// Sent to the listener:
//   (lb_snapshot_atom, SnapshotPtr)     a fresh, resolved snapshot
//   (lb_registry_down_atom, std::string) every URL failed (the reason)
// Accepted:
//   (lb_refresh_atom)   take a snapshot now (SIGHUP)
//   (lb_status_atom)    -> std::string JSON (connected url, last event time, counters)

caf::actor spawn_marathon_client(caf::actor_system& sys, MarathonOptions options, caf::actor listener);

// Splits "http://host:port[/prefix]" into its parts; error naming the URL
// otherwise (no https yet: stoa-lb has no TLS client).
struct RegistryUrl {
  std::string host;
  uint16_t port = 80;
  std::string prefix;  // "" or "/path" without a trailing '/'
};
Try<RegistryUrl> parse_registry_url(const std::string& url);

}  // namespace stoa::lb

#include <caf/allowed_unsafe_message_type.hpp>
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::lb::SnapshotPtr)
