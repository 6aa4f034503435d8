// The registry client actor of stoa-lb (marathon.hpp): snapshots of
// /v2/apps?embed=apps.tasks with URL failover, the /v2/events stream with
// reconnects, coalesced refreshes, resyncs and poll mode, and host
// resolution before every delivery. Parsing: marathon_json.cpp; lookups:
// marathon_resolve.cpp.

#include "apps/lb/marathon.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/http_client.hpp"
#include "actors/safety.hpp"
#include "apps/lb/marathon_json.hpp"
#include "apps/lb/marathon_resolve.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"

namespace stoa::lb {

namespace {

// Private messages (timers and the stream worker's reports).
using mc_sse_head_atom = caf::atom_constant<caf::atom("lbc_head")>;
using mc_sse_bytes_atom = caf::atom_constant<caf::atom("lbc_bytes")>;
using mc_reconnect_atom = caf::atom_constant<caf::atom("lbc_recon")>;
using mc_stall_atom = caf::atom_constant<caf::atom("lbc_stall")>;
using mc_resync_atom = caf::atom_constant<caf::atom("lbc_resync")>;
using mc_poll_atom = caf::atom_constant<caf::atom("lbc_poll")>;

// The backoff base grows by this factor after every failed stream...
constexpr double MC_BACKOFF_FACTOR = 1.5;
// ...and is reset to the initial value when the stream had lived this long.
constexpr auto MC_BACKOFF_RESET_AFTER = std::chrono::seconds(600);
// An SSE line longer than this is dropped (a registry must not grow our memory).
constexpr size_t MC_MAX_SSE_LINE = 16u << 20;

constexpr const char* MC_EVENTS_QUERY =
    "?plan-format=light&event_type=api_post_event&event_type=health_status_changed_event"
    "&event_type=status_update_event";

using McClock = std::chrono::steady_clock;

int64_t mc_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct McUrl {
  std::string text;  // as given, without a trailing '/'
  RegistryUrl url;
};

// Where a redirect points: host, port and the path with its query.
struct McTarget {
  std::string host;
  uint16_t port = 80;
  std::string path;
  std::string text;
};

// Location of a 3xx: absolute http:// (or scheme-relative //host) URL, or
// a path on the same server.
std::optional<McTarget> mc_parse_location(const std::string& location, const McTarget& current) {
  McTarget out;
  std::string rest;
  if (lower(location.substr(0, 7)) == "http://") {
    rest = location.substr(7);
  } else if (location.rfind("//", 0) == 0) {
    rest = location.substr(2);
  } else if (location.rfind('/', 0) == 0) {
    out = current;
    out.path = location;
    out.text = "http://" + current.host + ":" + std::to_string(current.port) + location;
    return out;
  } else {
    return std::nullopt;
  }
  size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (path[0] == '?') {
    path = "/" + path;
  }
  Try<RegistryUrl> parsed = parse_registry_url("http://" + authority);
  if (!parsed) {
    return std::nullopt;
  }
  out.host = parsed->host;
  out.port = parsed->port;
  out.path = path;
  out.text = "http://" + authority + path;
  return out;
}

// A snapshot waiting for its host lookups.
struct McResolveJob {
  std::vector<App> apps;
  std::string url;
  std::map<std::string, std::string> fresh;
  size_t remaining = 0;
};

struct MarathonClientState {
  MarathonClientState() = default;
  static inline const char* name = "stoa.lb.marathon";

  caf::stateful_actor<MarathonClientState>* self = nullptr;
  MarathonOptions opts;
  caf::actor listener;
  std::vector<McUrl> urls;
  std::vector<size_t> order;  // snapshot order: the last URL that answered first
  std::optional<HostCache> cache;
  std::mt19937_64 rng;

  // Snapshots: at most one in flight (fetch + lookups) and one pending.
  bool fetching = false;
  bool pending = false;
  uint64_t sequence = 0;
  uint64_t resync_gen = 0;
  std::vector<std::string> attempt_errors;

  // The event stream.
  std::shared_ptr<caf::actor> stream = std::make_shared<caf::actor>();
  uint64_t stream_gen = 0;
  size_t next_stream_url = 0;
  bool stream_connected = false;
  McTarget stream_target;
  std::string line_buf;
  McClock::time_point stream_started;
  McClock::time_point last_bytes;
  double backoff_base_ms = 3000;
  double attempt_wait_ms = 0;

  // For lb_status_atom.
  uint64_t fetches = 0;
  uint64_t fetch_failures = 0;
  uint64_t parse_failures = 0;
  uint64_t events = 0;
  uint64_t relevant_events = 0;
  uint64_t stream_connects = 0;
  int64_t last_event_ms = 0;
  int64_t last_snapshot_ms = 0;
  std::string last_snapshot_url;
  std::string last_error;

  void init();
  bool from_self() const { return self->current_sender() == self->ctrl(); }

  // Snapshots.
  void request_snapshot();
  void start_snapshot();
  void try_snapshot_at(size_t pos);
  void on_snapshot_response(size_t pos, http::Response r);
  void on_snapshot_failed(size_t pos, const std::string& reason);
  void on_all_urls_failed();
  void resolve_and_deliver(std::vector<App> apps, const std::string& url);
  void on_resolved(const std::shared_ptr<McResolveJob>& job);
  void deliver(std::vector<App> apps, const std::string& url,
               const std::map<std::string, std::string>& fresh);
  void finish_snapshot();
  void on_resync(uint64_t gen);
  void on_poll();

  // The stream.
  void connect_stream();
  void open_stream(const McTarget& target, bool redirected);
  void on_sse_head(uint64_t gen, int status);
  void on_sse_bytes(uint64_t gen, const std::string& bytes);
  void on_sse_line(std::string_view line);
  void on_stream_ended(uint64_t gen, const http::Response& r, bool redirected);
  void on_stream_failed(uint64_t gen, const std::string& reason);
  void on_stall(uint64_t gen);
  void stream_lost(const std::string& reason, bool immediately);
  void on_reconnect(uint64_t gen);

  std::string on_status() const;
  std::vector<std::pair<std::string, std::string>> common_headers() const;
};

using McActor = caf::stateful_actor<MarathonClientState>;
static_assert(!std::is_constructible_v<MarathonClientState, McActor*>);

void MarathonClientState::init() {
  for (const std::string& text : opts.urls) {
    Try<RegistryUrl> url = parse_registry_url(text);
    if (!url) {
      LOG_ERROR << "Ignoring " << url.error();
      continue;
    }
    std::string shown = text;
    while (!shown.empty() && shown.back() == '/') {
      shown.pop_back();
    }
    order.push_back(urls.size());
    urls.push_back({shown, *url});
  }
  cache.emplace(static_cast<size_t>(opts.lru_cache_capacity > 0 ? opts.lru_cache_capacity : 1));
  rng.seed(std::random_device{}());
  backoff_base_ms = static_cast<double>(opts.initial_backoff.count());
  LOG_INFO << "Registry client on " << opts.urls.size() << " URL(s), "
           << (opts.sse ? "event stream" : "poll") << " mode";
  request_snapshot();
  if (opts.sse) {
    connect_stream();
  } else {
    self->delayed_send(self, opts.poll_interval, mc_poll_atom::value);
  }
}

std::vector<std::pair<std::string, std::string>> MarathonClientState::common_headers() const {
  std::vector<std::pair<std::string, std::string>> h = {{"User-Agent", "stoa-lb"}};
  if (!opts.basic_auth.empty()) {
    h.emplace_back("Authorization", basic_auth_header(opts.basic_auth));
  }
  return h;
}

// ---- snapshots ---------------------------------------------------------------

void MarathonClientState::request_snapshot() {
  if (fetching) {
    pending = true;  // every request meanwhile collapses into this one
    return;
  }
  start_snapshot();
}

void MarathonClientState::start_snapshot() {
  fetching = true;
  pending = false;
  ++fetches;
  attempt_errors.clear();
  if (opts.sse) {
    // Without any event, a snapshot every resync_interval after the last one.
    self->delayed_send(self, opts.resync_interval, mc_resync_atom::value, ++resync_gen);
  }
  try_snapshot_at(0);
}

void MarathonClientState::try_snapshot_at(size_t pos) {
  if (pos >= order.size()) {
    on_all_urls_failed();
    return;
  }
  const McUrl& u = urls[order[pos]];
  http::ClientRequest req;
  req.host = u.url.host;
  req.port = u.url.port;
  req.path = u.url.prefix + "/v2/apps?embed=apps.tasks";
  req.headers = common_headers();
  req.headers.emplace_back("Accept", "application/json");
  req.headers.emplace_back("Content-Type", "application/json");
  req.timeout = opts.request_timeout;
  http::fetch(
      self, std::move(req),
      [this, pos](http::Response r) { on_snapshot_response(pos, std::move(r)); },
      [this, pos](caf::error e) { on_snapshot_failed(pos, self->system().render(e)); });
}

void MarathonClientState::on_snapshot_response(size_t pos, http::Response r) {
  Try<picojson::value> doc = json_parse(r.body);
  if (r.status != 200) {
    std::string message = doc ? registry_error_message(*doc) : "";
    on_snapshot_failed(
        pos, "HTTP " + std::to_string(r.status) + (message.empty() ? "" : " (" + message + ")"));
    return;
  }
  if (!doc) {
    on_snapshot_failed(pos, "the answer is not JSON: " + doc.error());
    return;
  }
  size_t index = order[pos];
  if (pos != 0) {  // stick to the URL that answered
    std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(pos), order.end());
  }
  Try<std::vector<App>> apps = parse_apps_json(*doc, opts.parse);
  if (!apps) {
    ++parse_failures;
    last_error = urls[index].text + ": " + apps.error();
    LOG_ERROR << "Refusing the registry's apps from " << urls[index].text << ": " << apps.error()
              << " (the previous configuration stays)";
    finish_snapshot();
    return;
  }
  resolve_and_deliver(std::move(*apps), urls[index].text);
}

void MarathonClientState::on_snapshot_failed(size_t pos, const std::string& reason) {
  const std::string& url = urls[order[pos]].text;
  LOG_WARNING << "Error calling GET " << url << "/v2/apps?embed=apps.tasks: " << reason
              << (pos + 1 < order.size() ? ", trying the next URL" : "");
  attempt_errors.push_back(url + ": " + reason);
  try_snapshot_at(pos + 1);
}

void MarathonClientState::on_all_urls_failed() {
  ++fetch_failures;
  std::string reason =
      attempt_errors.empty() ? "no usable registry URL" : join(attempt_errors, "; ");
  last_error = reason;
  LOG_ERROR << "Every registry URL failed: " << reason;
  self->send(listener, lb_registry_down_atom::value, reason);
  finish_snapshot();
}

void MarathonClientState::resolve_and_deliver(std::vector<App> apps, const std::string& url) {
  std::vector<std::string> names = hosts_to_resolve(apps, *cache);
  if (names.empty()) {
    deliver(std::move(apps), url, {});
    return;
  }
  auto job = std::make_shared<McResolveJob>();
  job->apps = std::move(apps);
  job->url = url;
  size_t workers = std::min(MAX_RESOLVER_WORKERS, names.size());
  std::vector<std::vector<std::string>> batches(workers);
  for (size_t i = 0; i < names.size(); ++i) {
    batches[i % workers].push_back(names[i]);
  }
  job->remaining = workers;
  for (auto& batch : batches) {
    Try<caf::actor> spawned = spawn_with_thread(self->system(), ThreadActor::detached,
                                                [this] { return spawn_host_resolver(self->system()); });
    if (spawned.is_error()) {
      LOG_WARNING << "Host lookups failed (" << spawned.error() << ") for " << join(batch, ", ");
      for (const std::string& name : batch) {
        job->fresh[name] = "";
      }
      on_resolved(job);
      continue;
    }
    caf::actor resolver = *spawned;
    self->request(resolver, RESOLVE_TIMEOUT, lb_resolve_atom::value, batch)
        .then(
            [this, job, batch](const std::vector<std::string>& ips) {
              for (size_t i = 0; i < batch.size(); ++i) {
                job->fresh[batch[i]] = i < ips.size() ? ips[i] : "";
              }
              on_resolved(job);
            },
            [this, job, batch](caf::error& e) {
              LOG_WARNING << "Host lookups failed (" << self->system().render(e) << ") for "
                          << join(batch, ", ");
              for (const std::string& name : batch) {
                job->fresh[name] = "";
              }
              on_resolved(job);
            });
  }
}

void MarathonClientState::on_resolved(const std::shared_ptr<McResolveJob>& job) {
  if (--job->remaining == 0) {
    deliver(std::move(job->apps), job->url, job->fresh);
  }
}

void MarathonClientState::deliver(std::vector<App> apps, const std::string& url,
                                  const std::map<std::string, std::string>& fresh) {
  std::vector<std::string> unresolved = assign_task_ips(apps, *cache, fresh);
  if (!unresolved.empty()) {
    LOG_WARNING << "Could not resolve ip for host(s) " << join(unresolved, ", ")
                << ": their tasks are skipped";
  }
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->apps = std::move(apps);
  snapshot->url = url;
  snapshot->sequence = ++sequence;
  last_snapshot_ms = mc_now_ms();
  last_snapshot_url = url;
  self->send(listener, lb_snapshot_atom::value, SnapshotPtr(std::move(snapshot)));
  finish_snapshot();
}

void MarathonClientState::finish_snapshot() {
  fetching = false;
  if (pending) {
    start_snapshot();
  }
}

void MarathonClientState::on_resync(uint64_t gen) {
  if (gen == resync_gen) {
    LOG_INFO << "No snapshot for " << opts.resync_interval.count() << " ms: resyncing";
    request_snapshot();
  }
}

void MarathonClientState::on_poll() {
  request_snapshot();
  self->delayed_send(self, opts.poll_interval, mc_poll_atom::value);
}

// ---- the event stream --------------------------------------------------------

void MarathonClientState::connect_stream() {
  if (urls.empty()) {
    return;
  }
  const McUrl& u = urls[next_stream_url++ % urls.size()];
  // The wait before the next attempt should this one fail (marathon-lb:
  // random() * base, drawn when the attempt starts).
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  attempt_wait_ms = unit(rng) * backoff_base_ms;
  stream_started = McClock::now();
  McTarget target;
  target.host = u.url.host;
  target.port = u.url.port;
  target.path = u.url.prefix + "/v2/events" + MC_EVENTS_QUERY;
  target.text = u.text + "/v2/events";
  open_stream(target, false);
}

void MarathonClientState::open_stream(const McTarget& target, bool redirected) {
  uint64_t gen = ++stream_gen;
  stream_connected = false;
  stream_target = target;
  line_buf.clear();
  last_bytes = McClock::now();
  ++stream_connects;
  http::ClientRequest req;
  req.host = target.host;
  req.port = target.port;
  req.path = target.path;
  req.headers = common_headers();
  req.headers.emplace_back("Accept", "text/event-stream");
  req.headers.emplace_back("Cache-Control", "no-cache");
  req.timeout = opts.request_timeout;  // bounds the wait for the headers only
  caf::actor client = caf::actor_cast<caf::actor>(self);
  req.body_sink = [client, gen](const http::Response& head, std::string_view bytes) {
    if (bytes.empty()) {
      caf::anon_send(client, mc_sse_head_atom::value, gen, head.status);
    } else {
      caf::anon_send(client, mc_sse_bytes_atom::value, gen, std::string(bytes));
    }
  };
  *stream = http::spawn_request(self->system(), std::move(req));
  self->request(*stream, caf::infinite, http::go_atom_v)
      .then([this, gen, redirected](http::Response& r) { on_stream_ended(gen, r, redirected); },
            [this, gen](caf::error& e) { on_stream_failed(gen, self->system().render(e)); });
  self->delayed_send(self, opts.stall_timeout, mc_stall_atom::value, gen);
}

void MarathonClientState::on_sse_head(uint64_t gen, int status) {
  if (gen != stream_gen || status != 200) {
    return;  // a redirect or an error: handled when the response ends
  }
  stream_connected = true;
  LOG_INFO << "Event stream active on " << stream_target.text;
  request_snapshot();  // whatever happened while we were not listening
}

void MarathonClientState::on_sse_bytes(uint64_t gen, const std::string& bytes) {
  if (gen != stream_gen) {
    return;
  }
  last_bytes = McClock::now();
  line_buf += bytes;
  size_t start = 0;
  while (true) {
    size_t end = line_buf.find_first_of("\r\n", start);
    if (end == std::string::npos) {
      break;
    }
    on_sse_line(std::string_view(line_buf).substr(start, end - start));
    start = end + 1;
    if (line_buf[end] == '\r' && start < line_buf.size() && line_buf[start] == '\n') {
      ++start;
    }
  }
  line_buf.erase(0, start);
  if (line_buf.size() > MC_MAX_SSE_LINE) {
    LOG_WARNING << "Dropping an event line longer than " << MC_MAX_SSE_LINE << " bytes from "
                << stream_target.text;
    line_buf.clear();
  }
}

void MarathonClientState::on_sse_line(std::string_view line) {
  // Only "data: " lines carry events; event names, comments and heartbeats
  // are ignored, as marathon-lb does.
  if (line.substr(0, 6) != "data: ") {
    return;
  }
  std::string_view data = line.substr(6);
  if (trim(data).empty()) {
    return;
  }
  ++events;
  last_event_ms = mc_now_ms();
  if (is_relevant_event(data)) {
    ++relevant_events;
    request_snapshot();
  }
}

void MarathonClientState::on_stream_ended(uint64_t gen, const http::Response& r, bool redirected) {
  if (gen != stream_gen) {
    return;
  }
  *stream = caf::actor();
  bool is_redirect =
      r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
  if (is_redirect && !redirected) {
    std::string location;
    for (const auto& [name, value] : r.headers) {
      if (name == "location") {
        location = value;
      }
    }
    if (std::optional<McTarget> next = mc_parse_location(location, stream_target)) {
      LOG_INFO << "Event stream " << stream_target.text << " redirects (" << r.status << ") to "
               << next->text;
      open_stream(*next, true);
      return;
    }
    stream_lost(
        "HTTP " + std::to_string(r.status) + " with an unusable Location '" + location + "'",
        false);
    return;
  }
  stream_lost(r.status == 200 ? std::string("the registry closed the stream")
                              : "HTTP " + std::to_string(r.status) +
                                    (is_redirect ? " (a second redirect is not followed)" : ""),
              false);
}

void MarathonClientState::on_stream_failed(uint64_t gen, const std::string& reason) {
  if (gen != stream_gen) {
    return;
  }
  *stream = caf::actor();
  stream_lost(reason, false);
}

void MarathonClientState::on_stall(uint64_t gen) {
  if (gen != stream_gen || !*stream) {
    return;
  }
  auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(McClock::now() - last_bytes);
  if (silent < opts.stall_timeout) {
    self->delayed_send(self, opts.stall_timeout - silent, mc_stall_atom::value, gen);
    return;
  }
  // As marathon-lb's curl low-speed timeout: reconnect at once.
  stream_lost("no bytes for " + std::to_string(silent.count()) + " ms", true);
}

void MarathonClientState::stream_lost(const std::string& reason, bool immediately) {
  uint64_t gen = ++stream_gen;  // whatever the old stream still says is ignored
  stream_connected = false;
  if (*stream) {
    caf::anon_send_exit(*stream, caf::exit_reason::user_shutdown);
    *stream = caf::actor();
  }
  double wait_ms = immediately ? 0.0 : attempt_wait_ms;
  if (wait_ms > 0) {
    backoff_base_ms = std::min(backoff_base_ms * MC_BACKOFF_FACTOR,
                               static_cast<double>(opts.max_backoff.count()));
    if (McClock::now() - stream_started > MC_BACKOFF_RESET_AFTER) {
      backoff_base_ms = static_cast<double>(opts.initial_backoff.count());
    }
  }
  LOG_WARNING << "Event stream " << stream_target.text << " lost: " << reason
              << "; reconnecting in " << static_cast<int64_t>(wait_ms) << " ms";
  last_error = stream_target.text + ": " + reason;
  auto wait = std::chrono::microseconds(static_cast<int64_t>(wait_ms * 1000));
  if (wait.count() == 0) {
    self->send(self, mc_reconnect_atom::value, gen);
  } else {
    self->delayed_send(self, wait, mc_reconnect_atom::value, gen);
  }
}

void MarathonClientState::on_reconnect(uint64_t gen) {
  if (gen == stream_gen) {
    connect_stream();
  }
}

std::string MarathonClientState::on_status() const {
  picojson::object o;
  o["mode"] = picojson::value(opts.sse ? "sse" : "poll");
  picojson::array list;
  for (size_t i : order) {
    list.emplace_back(urls[i].text);
  }
  o["urls"] = picojson::value(list);  // snapshot order: the last that answered first
  o["stream_url"] = opts.sse ? picojson::value(stream_target.text) : picojson::value();
  o["stream_connected"] = picojson::value(stream_connected);
  o["last_event_at_ms"] =
      last_event_ms > 0 ? json_number(static_cast<double>(last_event_ms)) : picojson::value();
  o["last_snapshot_at_ms"] =
      last_snapshot_ms > 0 ? json_number(static_cast<double>(last_snapshot_ms)) : picojson::value();
  o["last_snapshot_url"] = picojson::value(last_snapshot_url);
  o["sequence"] = json_number(static_cast<double>(sequence));
  o["fetching"] = picojson::value(fetching);
  o["fetches"] = json_number(static_cast<double>(fetches));
  o["fetch_failures"] = json_number(static_cast<double>(fetch_failures));
  o["parse_failures"] = json_number(static_cast<double>(parse_failures));
  o["events"] = json_number(static_cast<double>(events));
  o["relevant_events"] = json_number(static_cast<double>(relevant_events));
  o["stream_connects"] = json_number(static_cast<double>(stream_connects));
  o["backoff_ms"] = json_number(backoff_base_ms);  // the base of the next random wait
  o["host_cache_size"] = json_number(static_cast<double>(cache->size()));
  o["last_error"] = picojson::value(last_error);
  return json_serialize(picojson::value(o));
}

caf::behavior marathon_client_actor(McActor* self, MarathonOptions opts, caf::actor listener) {
  auto& st = self->state;
  st.self = self;
  st.opts = std::move(opts);
  st.listener = std::move(listener);
  set_safe_handlers(self, MarathonClientState::name);
  // The stream worker holds a handle to us: stop it when we go.
  self->attach_functor([stream = st.stream] {
    if (*stream) {
      caf::anon_send_exit(*stream, caf::exit_reason::user_shutdown);
    }
  });
  st.init();
  return {
      [self](lb_refresh_atom) { self->state.request_snapshot(); },
      [self](lb_status_atom) { return self->state.on_status(); },
      [self](mc_sse_head_atom, uint64_t gen, int status) { self->state.on_sse_head(gen, status); },
      [self](mc_sse_bytes_atom, uint64_t gen, const std::string& bytes) {
        self->state.on_sse_bytes(gen, bytes);
      },
      [self](mc_reconnect_atom, uint64_t gen) {
        if (self->state.from_self()) {
          self->state.on_reconnect(gen);
        }
      },
      [self](mc_stall_atom, uint64_t gen) {
        if (self->state.from_self()) {
          self->state.on_stall(gen);
        }
      },
      [self](mc_resync_atom, uint64_t gen) {
        if (self->state.from_self()) {
          self->state.on_resync(gen);
        }
      },
      [self](mc_poll_atom) {
        if (self->state.from_self()) {
          self->state.on_poll();
        }
      },
  };
}

}  // namespace

caf::actor spawn_marathon_client(caf::actor_system& sys, MarathonOptions options,
                                 caf::actor listener) {
  return sys.spawn(marathon_client_actor, std::move(options), std::move(listener));
}

}  // namespace stoa::lb
