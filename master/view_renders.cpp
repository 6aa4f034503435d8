// The big read-only views, rendered so that the master actor never stalls
// long on them (issue #17): /master/state and /master/frameworks as a rope
// of the records' fragments (state_rope.hpp), refreshed in slices and
// concatenated by a detached actor; /master/state-summary, /master/slaves
// and /master/tasks by a forked child (state_serving.hpp).

#include <cstdlib>
#include <memory>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
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

bool rope_view(const std::string& endpoint) { return endpoint == "state" || endpoint == "frameworks"; }

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
  if (endpoint != "state" && endpoint != "frameworks" && endpoint != "state-summary" && endpoint != "slaves" &&
      endpoint != "tasks") {
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

caf::result<int, std::string> Master::serve_view_in_child(const std::string& endpoint,
                                                          const std::map<std::string, std::string>& query) {
  std::string key = endpoint;
  for (const auto& [k, v] : query) {
    key += "&" + k + "=" + v;
  }
  caf::response_promise rp = self->make_response_promise();
  auto [it, inserted] = view_renders.try_emplace(key);
  if (!inserted) {
    // One render of this view runs: this request waits for the next one,
    // which sees the state at or after its arrival.
    it->second.next.push_back(rp);
    return rp;
  }
  it->second.endpoint = endpoint;
  it->second.query = query;
  it->second.current.push_back(rp);
  start_view_render(key);
  return rp;
}

void Master::start_view_render(const std::string& key) {
  ViewRender& view = view_renders.at(key);
  if (rope_view(view.endpoint)) {
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
  caf::actor collector = spawn_render_collector(self->system(), *child, VIEW_RENDER_TIMEOUT);
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
  if (!rope.refresh(st, std::chrono::steady_clock::now() + ROPE_SLICE)) {
    self->send(self, rope_slice_atom_v, key);
    return;
  }
  // All fragments were fresh at the last pass; those changed since are
  // rendered as the view is collected, in this turn.
  auto collected = std::make_shared<const Rope>(it->second.endpoint == "state" ? rope.state(st)
                                                                               : rope.frameworks(st, it->second.query));
  count("master/view_renders_roped");
  caf::actor concatenator = spawn_rope_concatenator(self->system(), std::move(collected));
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
  std::vector<caf::response_promise> done = std::move(it->second.current);
  // One message for all: each request's reply holds a reference to it, and
  // no copy of the body is made here (32 MB at 10k slaves, 168 MB at 20k;
  // a copy per waiting request stalled the master 41-129 ms). The HTTP
  // route serves the body from the message (http::share_current_string).
  caf::message reply = caf::make_message(status, std::move(body));
  for (caf::response_promise& rp : done) {
    rp.deliver(reply);
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
