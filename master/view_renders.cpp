// The big read-only views, rendered so that the master actor never stalls
// long on them (issue #17): /master/state and /master/frameworks as a rope
// of the records' fragments (state_rope.hpp), refreshed in slices and
// handed to the HTTP routes as the rope (the server writes its pieces) or,
// for a state_atom request, concatenated by a detached actor;
// /master/state-summary, /master/slaves and /master/tasks by a forked child
// (state_serving.hpp).

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/safety.hpp"
#include "common/logging.hpp"
#include "master/master_actor.hpp"
#include "master/operator_json.hpp"
#include "master/state_serving.hpp"

namespace stoa::master {

namespace {

// Below this many slaves + tasks a view renders in place in well under
// 50 ms (~5 us per task), cheaper than a fork. STOA_INLINE_RENDER_LIMIT
// overrides it (tests set 0 to fork for every view).
constexpr size_t DEFAULT_INLINE_RENDER_LIMIT = 5000;
// A render child that has not finished by then is killed (the HTTP
// route gave up long before).
constexpr auto VIEW_RENDER_TIMEOUT = std::chrono::seconds(120);
// The longest the master refreshes fragments in one turn (a slice stops at
// the first look at the clock past it, every 64 records).
constexpr auto ROPE_SLICE = std::chrono::milliseconds(10);
// A refresh that ends after this long in its turn leaves the collect to a
// turn of its own, so that no turn holds both.
constexpr auto ROPE_COLLECT_SPLIT = std::chrono::milliseconds(2);
// A refresh slice or a collect this long is logged with its parts (#17).
constexpr auto ROPE_SLOW_TURN = std::chrono::milliseconds(50);
// After a rope render that kept the master's thread busy for B (at least
// ROPE_REST_MIN), the next one (of any roped view) starts only once the
// master has rested ROPE_REST_FACTOR * B, at most
// MasterOptions::view_render_rest_max (100 ms by default): however
// many clients poll, renders of up to ~33 ms take at most a quarter of its
// thread, and messages never wait behind render after render. Shorter
// renders (small clusters) go on at once; the cap keeps a long one (the
// first after a start renders every fragment: 1.1 s at 20k slaves / 400k
// tasks) from holding back the next request for seconds.
constexpr auto ROPE_REST_MIN = std::chrono::milliseconds(2);
constexpr int ROPE_REST_FACTOR = 3;

bool rope_view(const std::string& endpoint) { return endpoint == "state" || endpoint == "frameworks"; }

// The views whose size grows with the slaves and tasks.
bool big_view(const std::string& endpoint) {
  return rope_view(endpoint) || endpoint == "state-summary" || endpoint == "slaves" || endpoint == "tasks";
}

// The body of a shared reply message (int status, std::string body) as
// spans, for the requests that take a view's body so: no copy of it.
class MessageBody final : public http::BodySpans {
 public:
  explicit MessageBody(caf::message reply) : reply_(std::move(reply)) {}
  size_t size() const override { return text().size(); }
  void spans(size_t offset, size_t n, const std::function<void(const char*, size_t)>& out) const override {
    const std::string& t = text();
    if (offset < t.size() && n > 0) {
      out(t.data() + offset, std::min(n, t.size() - offset));
    }
  }

 private:
  const std::string& text() const { return reply_.get_as<std::string>(1); }
  caf::message reply_;
};

// A detached actor that concatenates `rope` and answers one
// `(state_atom) -> (int status, std::string body)` request with it, then
// exits: the copy of 32-168 MB happens off the master's thread.
caf::actor spawn_rope_concatenator(caf::actor_system& sys, std::shared_ptr<const Rope> rope) {
  return sys.spawn<caf::detached>([rope](caf::event_based_actor* self) -> caf::behavior {
    return {[self, rope](state_atom) -> caf::result<int, std::string> {
      self->quit();
      return {200, rope->concat()};
    }};
  });
}

// Read at every request (a getenv), so that a test can change it.
size_t inline_render_limit() {
  const char* text = std::getenv("STOA_INLINE_RENDER_LIMIT");
  if (text == nullptr || *text < '0' || *text > '9') {
    return DEFAULT_INLINE_RENDER_LIMIT;
  }
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  return *end == '\0' ? static_cast<size_t>(v) : DEFAULT_INLINE_RENDER_LIMIT;
}

}  // namespace

bool Master::renders_in_child(const std::string& endpoint) const {
  if (!big_view(endpoint)) {
    return false;
  }
  size_t records = st.slaves.size();
  for (const auto& [id, f] : st.frameworks) {
    records += f.tasks.size() + f.unreachable_tasks.size() + f.completed_tasks.size();
  }
  for (const FrameworkRecord& f : st.completed_frameworks) {
    records += f.completed_tasks.size();
  }
  return records > inline_render_limit();
}

caf::response_promise Master::serve_view_in_child(const std::string& endpoint,
                                                  const std::map<std::string, std::string>& query, bool spans) {
  std::string key = endpoint;
  for (const auto& [k, v] : query) {
    key += "&" + k + "=" + v;
  }
  caf::response_promise rp = self->make_response_promise();
  auto [it, inserted] = view_renders.try_emplace(key);
  if (!inserted) {
    // One render of this view runs: this request waits for the next one,
    // which sees the state at or after its arrival.
    it->second.next.push_back({rp, spans});
    return rp;
  }
  it->second.endpoint = endpoint;
  it->second.query = query;
  it->second.current.push_back({rp, spans});
  start_view_render(key);
  return rp;
}

caf::result<int, std::string, ViewBody> Master::on_view_request(const std::string& endpoint,
                                                                const std::map<std::string, std::string>& query) {
  if (!big_view(endpoint)) {
    auto [status, body] = json_error(404, "Unknown view '" + endpoint + "'");
    return {status, body, ViewBody()};
  }
  if (std::optional<std::string> bad = check_paging(query)) {
    auto [status, body] = json_error(400, *bad);
    return {status, body, ViewBody()};
  }
  if (renders_in_child(endpoint)) {
    return serve_view_in_child(endpoint, query, true);
  }
  auto [status, body] = render(endpoint, query);
  return {status, body, ViewBody()};
}

void Master::start_view_render(const std::string& key) {
  ViewRender& view = view_renders.at(key);
  if (rope_view(view.endpoint)) {
    view.busy = {};
    view.refreshed = false;
    auto now = std::chrono::steady_clock::now();
    if (now < renders_rested_at) {
      count("master/view_render_rests");
      self->delayed_send(self, renders_rested_at - now, rope_slice_atom_v, key);
      return;
    }
    on_rope_slice(key);
    return;
  }
  // In the child, `this` is the snapshot: the memory of this actor at the
  // fork, which only the child's thread exists to read.
  auto draw = [this, endpoint = view.endpoint, query = view.query](std::string* out) {
    auto [status, body] = render(endpoint, query);
    *out = std::move(body);
    return status;
  };
  Try<ForkedRender> child = fork_render(draw);
  if (child.is_error()) {
    count("master/view_render_fork_failures");
    LOG_WARNING << "Rendering /master/" << view.endpoint << " in the master actor: " << child.error();
    std::string body;
    int status = draw(&body);
    on_view_rendered(key, status, body);
    return;
  }
  count("master/view_renders_forked");
  Try<caf::actor> spawned = spawn_render_collector(self->system(), *child, VIEW_RENDER_TIMEOUT);
  if (spawned.is_error()) {
    auto [status, body] = json_error(503, "Cannot collect the render of /master/" + view.endpoint + ": " +
                                              spawned.error());
    on_view_rendered(key, status, body);
    return;
  }
  caf::actor collector = *spawned;
  self->request(collector, caf::infinite, state_atom_v)
      .then([this, key](int status, std::string& body) { on_view_rendered(key, status, body); },
            [this, key](caf::error& e) {
              auto [status, body] = json_error(500, "The render collector failed: " + caf::to_string(e));
              on_view_rendered(key, status, body);
            });
}

void Master::on_rope_slice(const std::string& key) {
  auto it = view_renders.find(key);
  if (it == view_renders.end()) {
    return;
  }
  ViewRender& view = it->second;
  const auto started = std::chrono::steady_clock::now();
  if (!view.refreshed) {
    const size_t tasks_before = rope.tasks_rendered();
    const size_t slaves_before = rope.slaves_rendered();
    bool done = rope.refresh(st, started + ROPE_SLICE);
    auto now = std::chrono::steady_clock::now();
    if (now - started >= ROPE_SLOW_TURN) {
      auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
      LOG_INFO << "A slow /master/" << view.endpoint << " refresh slice: " << ms(now - started) << " ms for its "
               << ms(ROPE_SLICE) << " ms budget (" << (done ? "done" : "more to do") << "; "
               << ms(rope.touched_took()) << " ms dropping stale fragments, then "
               << rope.tasks_rendered() - tasks_before << " task and " << rope.slaves_rendered() - slaves_before
               << " slave fragments rendered)";
    }
    view.refreshed = done;
    if (!done || now - started >= ROPE_COLLECT_SPLIT) {
      view.busy += now - started;
      self->send(self, rope_slice_atom_v, key);
      return;
    }
  }
  // All fragments were fresh at the last pass; those changed since are
  // rendered as the view is collected, in this turn.
  const auto collect_started = std::chrono::steady_clock::now();
  const size_t tasks_before = rope.tasks_rendered();
  const size_t slaves_before = rope.slaves_rendered();
  auto collected = std::make_shared<const Rope>(view.endpoint == "state" ? rope.state(st)
                                                                         : rope.frameworks(st, view.query));
  count("master/view_renders_roped");
  auto now = std::chrono::steady_clock::now();
  if (now - started >= ROPE_SLOW_TURN) {
    // Which part: the last refresh of stale fragments or the collect.
    auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    LOG_INFO << "A slow /master/" << view.endpoint << " collect: " << ms(now - started) << " ms, of which "
             << ms(now - collect_started) << " ms collecting " << collected->pieces.size() << " pieces ("
             << collected->size() << " bytes; " << rope.tasks_rendered() - tasks_before << " task and "
             << rope.slaves_rendered() - slaves_before << " slave fragments rendered in it)";
  }
  view.busy += now - started;
  if (view.busy >= ROPE_REST_MIN && opts.view_render_rest_max.count() > 0) {
    renders_rested_at =
        now + std::min<std::chrono::steady_clock::duration>(ROPE_REST_FACTOR * view.busy, opts.view_render_rest_max);
  }
  // The HTTP routes' requests take the rope itself: the server writes its
  // pieces, never joined.
  std::vector<ViewWaiter> joined;
  ViewBody body = collected;
  for (ViewWaiter& w : view.current) {
    if (w.spans) {
      w.rp.deliver(200, std::string(), body);
    } else {
      joined.push_back(std::move(w));
    }
  }
  view.current = std::move(joined);
  if (view.current.empty()) {
    next_view_render(key);
    return;
  }
  // The others (state_atom) take one string, joined off the master's thread.
  Try<caf::actor> spawned = spawn_with_thread(self->system(), ThreadActor::detached, [&] {
    return spawn_rope_concatenator(self->system(), std::move(collected));
  });
  if (spawned.is_error()) {
    auto [status, body] = json_error(503, "Cannot join the view: " + spawned.error());
    on_view_rendered(key, status, body);
    return;
  }
  caf::actor concatenator = *spawned;
  self->request(concatenator, caf::infinite, state_atom_v)
      .then([this, key](int status, std::string& body) { on_view_rendered(key, status, body); },
            [this, key](caf::error& e) {
              auto [status, body] = json_error(500, "The rope concatenation failed: " + caf::to_string(e));
              on_view_rendered(key, status, body);
            });
}

void Master::on_view_rendered(const std::string& key, int status, std::string& body) {
  auto it = view_renders.find(key);
  if (it == view_renders.end()) {
    return;
  }
  std::vector<ViewWaiter> done = std::move(it->second.current);
  it->second.current.clear();
  // One message for all: each request's reply holds a reference to it, and
  // no copy of the body is made here (32 MB at 10k slaves, 168 MB at 20k;
  // a copy per waiting request stalled the master 41-129 ms). The HTTP
  // route serves the body from the message (http::share_current_string,
  // or MessageBody for a view_atom request).
  caf::message reply = caf::make_message(status, std::move(body));
  ViewBody spans;
  for (ViewWaiter& w : done) {
    if (!w.spans) {
      w.rp.deliver(reply);
    } else if (status != 200) {
      w.rp.deliver(status, reply.get_as<std::string>(1), ViewBody());  // a short error
    } else {
      if (!spans) {
        spans = std::make_shared<const MessageBody>(reply);
      }
      w.rp.deliver(status, std::string(), spans);
    }
  }
  next_view_render(key);
}

void Master::next_view_render(const std::string& key) {
  auto it = view_renders.find(key);
  if (it == view_renders.end()) {
    return;
  }
  it->second.current = std::move(it->second.next);
  it->second.next.clear();
  if (it->second.current.empty()) {
    view_renders.erase(it);
    return;
  }
  start_view_render(key);
}

}  // namespace stoa::master
