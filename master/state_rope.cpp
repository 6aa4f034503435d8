// The rope renders of /master/state and /master/frameworks
// (state_rope.hpp): fragments refreshed and collected on the master's
// thread, with the bytes of the streamed writers (state_json_stream.cpp).
#include "master/state_rope.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "common/json.hpp"
#include "common/task_state.hpp"
#include "master/state_json.hpp"
#include "master/state_json_internal.hpp"

namespace stoa::master {

namespace {

using state_json_detail::JsonBuffer;
using state_json_detail::RenderedResources;
using state_json_detail::resources_views;
using state_json_detail::ResourcesViews;

// First reservations: a task's and a slave's JSON (they grow past it), the
// glue of a view per slave and per framework.
constexpr size_t ROPE_TASK_BYTES = 1024;
constexpr size_t ROPE_SLAVE_BYTES = 2048;
// The glue of /state is a comma per slave plus the offered resources of a
// slave with offers (~100-200 bytes): reserved per slave and per offer
// outstanding, not 48 bytes per slave (a 1 MB buffer zeroed for ~20 KB of
// glue at 20,000 slaves, and its malloc consolidating the heap first:
// ~15 % of a collect; #17).
constexpr size_t ROPE_GLUE_PER_SLAVE = 2;
constexpr size_t ROPE_GLUE_PER_OFFER = 256;
constexpr size_t ROPE_GLUE_FIXED = 1 << 16;

bool stale_task(const TaskMap::Slot& slot) { return slot.json == nullptr || slot.extra == nullptr; }

// Tasks joined into one piece: ~100 KB, ~0.1 ms to join again.
constexpr size_t ROPE_RUN = 256;

// Consecutive tasks of a TaskMap, joined: their JSON separated by commas
// and the sum of the resources of those not terminal (fixed-point scalars
// and unions of ranges and sets: the sum of the runs' sums is the sum of
// the tasks', in any order).
struct TaskRun : FragmentGroup {
  std::string first;  // where the run's keys begin ("" for the first run)
  Fragment bytes;
  Resources used;
};

// A TaskMap's runs in key order (TaskMap::groups()).
struct TaskRuns {
  std::vector<std::shared_ptr<TaskRun>> list;
};

// Slaves joined into one piece, each with its offered resources cut in:
// ~64 x 1.5 KB. The collect then pushes a piece per run instead of one per
// slave (2,203 pieces and 0.6 ms at 20k slaves / 200k + 200k tasks in
// memory, was 21,890 and 3.3-5.0 ms), and a refresh with nothing stale no
// longer walks every slave. (The live collect's 30-150 ms were glibc's
// deferred merging of freed chunks: heap_tidy.hpp; #17.)
constexpr size_t ROPE_SLAVE_RUN = 64;

// Consecutive slaves of MasterState::slaves, joined as /master/state lists
// them. Marked stale by a change to one of them (their fragment dropped),
// a slave inserted next to them, and their offers changing
// (RenderedMap::regroup).
struct SlaveRun : FragmentGroup {
  std::string first;  // where the run's keys begin ("" for the first run)
  Fragment bytes;
};
struct SlaveRuns {
  std::vector<std::shared_ptr<SlaveRun>> list;
};

// Joins the stale runs of `list` (runs of `m`'s records in key order, each
// covering [its first key, the next run's first key)) again until
// `deadline`: consecutive stale runs as one range, cut into runs from its
// first key, so that runs cut short by earlier slices grow back whole. The
// deadline is checked before every run but the first of a refresh
// (*joined_one): each refresh makes progress. `join(it, in_range, run)`
// joins the records from `it` (while in_range(it), at most a run's worth)
// into `run`, moving `it` past them. Returns true when none is left stale.
template <class Run, class Map, class Join>
bool join_runs(std::vector<std::shared_ptr<Run>>& list, const Map& m, std::chrono::steady_clock::time_point deadline,
               bool* joined_one, Join&& join) {
  if (list.empty() && !m.empty()) {
    // Records came into a map with no run: no neighbour's run to mark.
    auto whole = std::make_shared<Run>();
    whole->stale = true;
    list.push_back(std::move(whole));
  }
  if (std::none_of(list.begin(), list.end(), [](const auto& run) { return run->stale; })) {
    return true;
  }
  std::vector<std::shared_ptr<Run>> out;
  out.reserve(list.size() + 1);
  bool done = true;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i]->stale || !done) {
      out.push_back(list[i]);
      continue;
    }
    size_t next = i + 1;
    while (next < list.size() && list[next]->stale) {
      ++next;
    }
    const std::string* end = next < list.size() ? &list[next]->first : nullptr;
    auto in_range = [&m, end](const typename Map::const_iterator& it) {
      return it != m.end() && (end == nullptr || it->first < *end);
    };
    auto it = m.lower_bound(list[i]->first);
    while (in_range(it)) {
      if (*joined_one && std::chrono::steady_clock::now() >= deadline) {
        auto rest = std::make_shared<Run>();
        rest->stale = true;
        rest->first = it->first;
        out.push_back(std::move(rest));
        done = false;
        break;
      }
      *joined_one = true;
      auto joined = std::make_shared<Run>();
      joined->first = it->first;
      join(it, in_range, joined);
      out.push_back(std::move(joined));
    }
    i = next - 1;
  }
  if (!out.empty()) {
    out.front()->first.clear();  // the first run starts at the beginning
  }
  list = std::move(out);
  return done;
}

// Completed tasks [first, first + ROPE_RUN), numbered from the first ever
// pushed (CompletedTasks::popped()), joined; in order of `first`.
struct CompletedRun {
  uint64_t first = 0;
  Fragment bytes;
};
struct CompletedRuns {
  std::vector<CompletedRun> list;
};

// *used += r, n times: scalars are fixed point (exact, in any order), and
// ranges and sets added again add nothing, so one addition of `r` with
// its scalars times n is the same sum.
void add_times(Resources* used, const Resources& r, size_t n) {
  if (n == 1) {
    *used += r;
    return;
  }
  Resources scaled;
  for (const ResourceEntry& e : r) {
    if (e.type == ResourceType::SCALAR) {
      scaled += Resources::scalar_resource(e.name, fixed_to_scalar(e.units * static_cast<int64_t>(n)), e.role);
    } else if (e.type == ResourceType::RANGES) {
      scaled += Resources::ranges_resource(e.name, e.ranges, e.role);
    } else {
      for (size_t i = 0; i < n; ++i) {
        *used += r;
      }
      return;
    }
  }
  *used += scaled;
}

}  // namespace

size_t Rope::size() const {
  if (!starts_.empty()) {
    return starts_.back();
  }
  size_t n = glue.size();
  for (const Piece& p : pieces) {
    n += p.size;
  }
  return n;
}

std::string Rope::concat() const {
  std::string out;
  out.resize(size());
  char* at = out.data();
  size_t glue_at = 0;
  for (const Piece& p : pieces) {
    std::memcpy(at, glue.data() + glue_at, p.glue_end - glue_at);
    at += p.glue_end - glue_at;
    glue_at = p.glue_end;
    if (p.size > 0) {
      std::memcpy(at, p.fragment->data() + p.begin, p.size);
      at += p.size;
    }
  }
  std::memcpy(at, glue.data() + glue_at, glue.size() - glue_at);
  return out;
}

void Rope::seal() {
  starts_.clear();
  starts_.reserve(pieces.size() + 2);
  size_t at = 0;
  size_t glue_at = 0;
  for (const Piece& p : pieces) {
    starts_.push_back(at);
    at += p.glue_end - glue_at + p.size;
    glue_at = p.glue_end;
  }
  starts_.push_back(at);
  starts_.push_back(at + glue.size() - glue_at);
}

void Rope::spans(size_t offset, size_t n, const std::function<void(const char*, size_t)>& out) const {
  // Segment i is the glue before pieces[i] and pieces[i]; the last one, the
  // glue after the last piece.
  const size_t segments = pieces.size() + 1;
  if (starts_.size() != segments + 1) {
    return;  // not sealed: nothing to say where the bytes are
  }
  n = offset >= starts_.back() ? 0 : std::min(n, starts_.back() - offset);
  size_t i = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.begin() + segments, offset) -
                                 starts_.begin()) - 1;
  for (; n > 0 && i < segments; ++i) {
    size_t glue_from = i == 0 ? 0 : pieces[i - 1].glue_end;
    size_t glue_to = i < pieces.size() ? pieces[i].glue_end : glue.size();
    size_t pos = offset - starts_[i];
    if (pos < glue_to - glue_from) {
      size_t k = std::min(n, glue_to - glue_from - pos);
      out(glue.data() + glue_from + pos, k);
      n -= k;
      offset += k;
      pos += k;
    }
    if (n > 0 && i < pieces.size()) {
      const Piece& p = pieces[i];
      size_t in_piece = pos - (glue_to - glue_from);
      if (in_piece < p.size) {
        size_t k = std::min(n, p.size - in_piece);
        out(p.fragment->data() + p.begin + in_piece, k);
        n -= k;
        offset += k;
      }
    }
  }
}

RopeRenderer::ResourcesPtr RopeRenderer::resources_of(const Task& t) {
  state_json_detail::task_resources_key(t, &key_);
  auto it = resources_.find(key_);
  if (it != resources_.end()) {
    return it->second;
  }
  if (resources_.size() >= prune_at_) {
    // Drop the parsed resources no task holds any more.
    for (auto i = resources_.begin(); i != resources_.end();) {
      i = i->second.use_count() == 1 ? resources_.erase(i) : std::next(i);
    }
    prune_at_ = std::max(MIN_PRUNE, 2 * resources_.size());
  }
  auto rendered = std::make_shared<RenderedResources>();
  rendered->parsed = state_json_detail::task_resources(t);
  {
    JsonBuffer b(&rendered->json, 0);
    state_json_detail::write_resources(rendered->parsed, &b);
  }
  return resources_.emplace(key_, std::move(rendered)).first->second;
}

const RenderedResources& RopeRenderer::fresh_task(const TaskMap::Slot& slot) {
  if (stale_task(slot)) {
    ResourcesPtr r = resources_of(slot.value);
    json_.clear();
    {
      // Also called while a view is collected (a task changed after the
      // last refresh): the view's buffer is put back after.
      JsonBuffer* outer = b_;
      JsonBuffer b(&json_, ROPE_TASK_BYTES);
      b_ = &b;
      task(slot.value, r->json);
      b_ = outer;
    }
    slot.json = std::make_shared<const std::string>(json_);
    slot.extra = std::move(r);
    ++tasks_rendered_;
  }
  return *static_cast<const RenderedResources*>(slot.extra.get());
}

void RopeRenderer::fresh_slave(const MasterState& s, const SlaveSlot& slot) {
  if (slot.json != nullptr && slot.extra != nullptr) {
    return;
  }
  const SlaveRecord& slave = slot.value;
  // used_resources(s, slave): the same tasks, summed in the same order.
  Resources used;
  for_each_live_task_entry(s, slave, [&](const auto& t) { used += fresh_task(t.slot()).parsed; });
  json_.clear();
  size_t offered_at = 0;
  {
    JsonBuffer* outer = b_;  // as in fresh_task
    JsonBuffer b(&json_, ROPE_SLAVE_BYTES);
    b_ = &b;
    offered_at = TaskWriter::slave(slave, resources_views(slave.total), resources_views(used), no_offers());
    b_ = outer;
  }
  slot.json = std::make_shared<const std::string>(json_);
  auto cut = std::make_shared<SlaveFragmentSplit>();
  cut->offered_at = offered_at;
  cut->idle_size = no_offers().size();
  slot.extra = std::move(cut);
  ++slaves_rendered_;
}

void RopeRenderer::fresh_offered(const MasterState& s, const SlaveSlot& slot) {
  const auto* cut = static_cast<const SlaveFragmentSplit*>(slot.extra.get());
  if (slot.value.offers.empty() || (!cut->offered.empty() && cut->offers == slot.value.offers)) {
    return;
  }
  cut->offered.clear();
  JsonBuffer offered(&cut->offered, 0);
  state_json_detail::write_resources(offered_resources(s, slot.value), &offered);
  offered.finish();
  cut->offers = slot.value.offers;
}

void RopeRenderer::take_touched(MasterState& s) {
  std::vector<std::string> ids;
  ids.reserve(s.frameworks.size());
  for (const auto& [id, f] : s.frameworks) {
    ids.push_back(id);
  }
  if (ids != framework_ids_) {
    // A slave's used resources count only the tasks of s.frameworks.
    for (auto it = s.slaves.begin(); it != s.slaves.end(); ++it) {
      s.slaves.invalidate(it);
    }
    framework_ids_ = std::move(ids);
  }
  auto take = [&s](TaskMap& m) {
    if (m.touched().empty()) {
      return;
    }
    for (const std::string& sid : m.touched().take()) {
      if (auto it = s.slaves.find(sid); it != s.slaves.end()) {
        s.slaves.invalidate(it);
      }
    }
  };
  for (auto& [id, f] : s.frameworks) {
    take(f.tasks);
    take(f.unreachable_tasks);
  }
  for (FrameworkRecord& f : s.completed_frameworks) {
    take(f.tasks);
    take(f.unreachable_tasks);
  }
}

bool RopeRenderer::join_stale(const TaskMap& m, std::chrono::steady_clock::time_point deadline) {
  std::shared_ptr<void>& groups = m.groups();
  if (groups == nullptr) {
    groups = std::make_shared<TaskRuns>();
  }
  return join_runs(static_cast<TaskRuns*>(groups.get())->list, m, deadline, &joined_one_,
                   [this](auto& it, const auto& in_range, const std::shared_ptr<TaskRun>& joined) {
                     joined_.clear();
                     const RenderedResources* same = nullptr;
                     size_t same_count = 0;
                     for (size_t n = 0; n < ROPE_RUN && in_range(it); ++n, ++it) {
                       const TaskMap::Slot& slot = it.slot();
                       const RenderedResources& r = fresh_task(slot);
                       if (n > 0) {
                         joined_ += ',';
                       }
                       joined_ += *slot.json;
                       slot.group = joined;
                       if (!is_terminal_state(slot.value.state())) {
                         if (&r != same && same != nullptr) {
                           add_times(&joined->used, same->parsed, same_count);
                           same_count = 0;
                         }
                         same = &r;
                         ++same_count;
                       }
                     }
                     if (same != nullptr) {
                       add_times(&joined->used, same->parsed, same_count);
                     }
                     joined->bytes = std::make_shared<const std::string>(joined_);
                   });
}

bool RopeRenderer::join_completed(const CompletedTasks& c, std::chrono::steady_clock::time_point deadline) {
  std::shared_ptr<void>& groups = c.groups();
  if (groups == nullptr) {
    groups = std::make_shared<CompletedRuns>();
  }
  std::vector<CompletedRun>& runs = static_cast<CompletedRuns*>(groups.get())->list;
  uint64_t begin = c.popped();
  uint64_t end = begin + c.size();
  // Runs no longer wholly held go (their first tasks left, or all did).
  runs.erase(std::remove_if(runs.begin(), runs.end(),
                            [&](const CompletedRun& r) { return r.first < begin || r.first + ROPE_RUN > end; }),
             runs.end());
  uint64_t at = (begin + ROPE_RUN - 1) / ROPE_RUN * ROPE_RUN;
  std::vector<CompletedRun> out;
  out.reserve((end - begin) / ROPE_RUN + 1);
  size_t ri = 0;
  bool done = true;
  for (; at + ROPE_RUN <= end; at += ROPE_RUN) {
    if (ri < runs.size() && runs[ri].first == at) {
      out.push_back(std::move(runs[ri++]));
      continue;
    }
    if (!done || (joined_one_ && std::chrono::steady_clock::now() >= deadline)) {
      done = false;
      continue;
    }
    joined_one_ = true;
    joined_.clear();
    for (uint64_t i = at; i < at + ROPE_RUN; ++i) {
      if (i > at) {
        joined_ += ',';
      }
      joined_ += c.json(static_cast<size_t>(i - begin));
    }
    out.push_back(CompletedRun{at, std::make_shared<const std::string>(joined_)});
  }
  runs = std::move(out);
  return done;
}

void RopeRenderer::completed(const CompletedTasks& c) {
  join_completed(c, std::chrono::steady_clock::time_point::max());
  const std::vector<CompletedRun>& runs = static_cast<const CompletedRuns*>(c.groups().get())->list;
  uint64_t begin = c.popped();
  uint64_t end = begin + c.size();
  size_t ri = 0;
  b_->ch('[');
  for (uint64_t at = begin; at < end;) {
    if (at > begin) {
      b_->ch(',');
    }
    if (ri < runs.size() && runs[ri].first == at) {
      piece(runs[ri].bytes, 0, runs[ri].bytes->size());
      at += ROPE_RUN;
      ++ri;
      continue;
    }
    size_t i = static_cast<size_t>(at - begin);
    piece(c.fragment(i), 0, c.json(i).size());
    ++at;
  }
  b_->ch(']');
}

bool RopeRenderer::refresh(MasterState& s, std::chrono::steady_clock::time_point deadline) {
  joined_one_ = false;
  const auto started = std::chrono::steady_clock::now();
  take_touched(s);
  touched_took_ = std::chrono::steady_clock::now() - started;
  for (const auto& [id, f] : s.frameworks) {
    if (!join_stale(f.tasks, deadline) || !join_stale(f.unreachable_tasks, deadline) ||
        !join_completed(f.completed_tasks, deadline)) {
      return false;
    }
  }
  return join_slaves(s, deadline);
}

void RopeRenderer::append_slave(const MasterState& s, const SlaveSlot& slot, std::string* out) {
  fresh_slave(s, slot);
  const std::string& json = *slot.json;
  if (slot.value.offers.empty()) {
    out->append(json);
    return;
  }
  // The slave's offered resources too: the offers change with every
  // allocation pass, and re-rendering them for 20,000 slaves in the
  // collect made it a turn of 60-90 ms (#17).
  fresh_offered(s, slot);
  const auto* cut = static_cast<const SlaveFragmentSplit*>(slot.extra.get());
  const size_t after = cut->offered_at + cut->idle_size;
  out->append(json, 0, cut->offered_at);
  out->append(cut->offered);
  out->append(json, after, json.size() - after);
}

bool RopeRenderer::join_slaves(MasterState& s, std::chrono::steady_clock::time_point deadline) {
  std::shared_ptr<void>& groups = s.slaves.groups();
  if (groups == nullptr) {
    groups = std::make_shared<SlaveRuns>();
  }
  return join_runs(static_cast<SlaveRuns*>(groups.get())->list, s.slaves, deadline, &joined_one_,
                   [this, &s](auto& it, const auto& in_range, const std::shared_ptr<SlaveRun>& joined) {
                     joined_.clear();
                     for (size_t n = 0; n < ROPE_SLAVE_RUN && in_range(it); ++n, ++it) {
                       if (n > 0) {
                         joined_ += ',';
                       }
                       append_slave(s, it.slot(), &joined_);
                       it.slot().group = joined;
                     }
                     joined->bytes = std::make_shared<const std::string>(joined_);
                   });
}

void RopeRenderer::piece(Fragment f, size_t begin, size_t size) {
  rope_->pieces.push_back(Rope::Piece{b_->written(), std::move(f), begin, size});
}

void RopeRenderer::object_of(const picojson::object& fixed,
                             const std::map<std::string, std::function<void()>>& streamed) {
  TaskWriter::object_of(fixed, streamed, [](const std::function<void()>& write) { write(); });
}

const std::string& RopeRenderer::no_offers() {
  if (no_offers_.empty()) {
    JsonBuffer empty(&no_offers_, 0);
    state_json_detail::write_resources(Resources(), &empty);
    empty.finish();
  }
  return no_offers_;
}

void RopeRenderer::slaves(const MasterState& s) {
  b_->ch('[');
  bool first = true;
  const auto* runs = static_cast<const SlaveRuns*>(s.slaves.groups().get());
  if (runs == nullptr || runs->list.empty()) {
    slaves_each(s, s.slaves.begin(), s.slaves.end(), &first);
  } else {
    // A fresh run is one piece; the slaves of a stale one (changed since
    // the last refresh) are collected one by one, and joined again by the
    // next refresh, not in this turn.
    const auto& list = runs->list;
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i]->stale) {
        if (!first) {
          b_->ch(',');
        }
        first = false;
        piece(list[i]->bytes, 0, list[i]->bytes->size());
        continue;
      }
      auto end = i + 1 < list.size() ? s.slaves.lower_bound(list[i + 1]->first) : s.slaves.end();
      slaves_each(s, s.slaves.lower_bound(list[i]->first), end, &first);
    }
  }
  b_->ch(']');
}

void RopeRenderer::slaves_each(const MasterState& s, SlaveMap::const_iterator it, SlaveMap::const_iterator end,
                               bool* first) {
  for (; it != end; ++it) {
    if (!*first) {
      b_->ch(',');
    }
    *first = false;
    const auto& slot = it.slot();
    fresh_slave(s, slot);
    const auto* cut = static_cast<const SlaveFragmentSplit*>(slot.extra.get());
    if (slot.value.offers.empty()) {
      // Most slaves have no offer out: the fragment as rendered.
      piece(slot.json, 0, slot.json->size());
      continue;
    }
    fresh_offered(s, slot);  // fresh unless the offers changed since the last refresh
    const size_t after = cut->offered_at + cut->idle_size;
    piece(slot.json, 0, cut->offered_at);
    b_->raw(cut->offered);
    piece(slot.json, after, slot.json->size() - after);
  }
}

void RopeRenderer::tasks(const TaskMap& m, Resources* used) {
  join_stale(m, std::chrono::steady_clock::time_point::max());
  b_->ch('[');
  bool first = true;
  if (m.groups() != nullptr) {
    for (const auto& run : static_cast<const TaskRuns*>(m.groups().get())->list) {
      if (!first) {
        b_->ch(',');
      }
      first = false;
      piece(run->bytes, 0, run->bytes->size());
      if (used != nullptr) {
        *used += run->used;
      }
    }
  }
  b_->ch(']');
}

const Resources& RopeRenderer::offered(const MasterState& s, const FrameworkRecord& f) {
  if (offered_.size() > 2 * (s.frameworks.size() + s.completed_frameworks.size()) + 16) {
    offered_.clear();
  }
  Offered& o = offered_[f.id];
  if (o.ids != f.offers) {
    o.sum = offered_resources(s, f);
    o.ids = f.offers;
  }
  return o.sum;
}

void RopeRenderer::offers(const MasterState& s, const FrameworkRecord& f) {
  if (offer_json_.size() > 2 * s.offers.size() + 1024) {
    // Drop the JSON of offers that are gone.
    for (auto it = offer_json_.begin(); it != offer_json_.end();) {
      it = s.offers.count(it->first) == 0 ? offer_json_.erase(it) : std::next(it);
    }
  }
  b_->ch('[');
  bool first = true;
  for (const std::string& oid : f.offers) {
    auto it = s.offers.find(oid);
    if (it == s.offers.end()) {
      continue;
    }
    Fragment& json = offer_json_[oid];
    if (json == nullptr) {
      json = std::make_shared<const std::string>(json_serialize(offer_json(it->second.offer)));
    }
    if (!first) {
      b_->ch(',');
    }
    first = false;
    piece(json, 0, json->size());
  }
  b_->ch(']');
}

void RopeRenderer::framework(const MasterState& s, const FrameworkRecord& f) {
  // The tasks first: the framework's head shows the sum of their resources.
  Rope tasks_rope;
  std::string tasks_glue;
  Resources used;
  {
    Rope* outer = rope_;
    JsonBuffer* outer_b = b_;
    JsonBuffer b(&tasks_glue, 0);
    rope_ = &tasks_rope;
    b_ = &b;
    tasks(f.tasks, &used);
    b.finish();
    rope_ = outer;
    b_ = outer_b;
  }
  std::map<std::string, std::function<void()>> streamed;
  streamed["tasks"] = [&] {
    size_t glue_at = 0;
    for (Rope::Piece& p : tasks_rope.pieces) {
      b_->raw(std::string_view(tasks_glue).substr(glue_at, p.glue_end - glue_at));
      glue_at = p.glue_end;
      piece(std::move(p.fragment), p.begin, p.size);
    }
    b_->raw(std::string_view(tasks_glue).substr(glue_at));
  };
  streamed["unreachable_tasks"] = [&] { tasks(f.unreachable_tasks, nullptr); };
  streamed["completed_tasks"] = [&] { completed(f.completed_tasks); };
  streamed["offers"] = [&] { offers(s, f); };
  object_of(framework_head(s, f, &used, &offered(s, f), false), streamed);
}

Rope RopeRenderer::state(MasterState& s) {
  take_touched(s);
  Rope rope;
  {
    JsonBuffer b(&rope.glue,
                 ROPE_GLUE_FIXED + ROPE_GLUE_PER_SLAVE * s.slaves.size() + ROPE_GLUE_PER_OFFER * s.offers.size());
    // As many pieces as the last collect had, and some: the vector is not
    // moved (copying ~20,000 pieces per doubling) while it fills.
    rope.pieces.reserve(state_pieces_ + state_pieces_ / 8 + 64);
    rope_ = &rope;
    b_ = &b;
    std::map<std::string, std::function<void()>> streamed;
    streamed["slaves"] = [&] { slaves(s); };
    streamed["frameworks"] = [&] {
      b_->ch('[');
      for (auto f = s.frameworks.begin(); f != s.frameworks.end(); ++f) {
        if (f != s.frameworks.begin()) {
          b_->ch(',');
        }
        framework(s, f->second);
      }
      b_->ch(']');
    };
    streamed["completed_frameworks"] = [&] {
      array_of(s.completed_frameworks, [&](const FrameworkRecord& f) { framework(s, f); });
    };
    object_of(state_head(s), streamed);
    b_ = nullptr;
    rope_ = nullptr;
  }
  rope.seal();
  state_pieces_ = rope.pieces.size();
  return rope;
}

Rope RopeRenderer::frameworks(MasterState& s, const std::map<std::string, std::string>& query) {
  take_touched(s);
  std::vector<const FrameworkRecord*> active;
  for (const auto& [id, f] : s.frameworks) {
    if (state_json_detail::query_matches(query, "framework_id", id)) {
      active.push_back(&f);
    }
  }
  std::vector<const FrameworkRecord*> completed;
  for (const FrameworkRecord& f : s.completed_frameworks) {
    if (state_json_detail::query_matches(query, "framework_id", f.id)) {
      completed.push_back(&f);
    }
  }
  Rope rope;
  {
    JsonBuffer b(&rope.glue, ROPE_GLUE_FIXED);
    rope_ = &rope;
    b_ = &b;
    std::map<std::string, std::function<void()>> streamed;
    streamed["frameworks"] = [&] { array_of(active, [&](const FrameworkRecord* f) { framework(s, *f); }); };
    streamed["completed_frameworks"] = [&] {
      array_of(completed, [&](const FrameworkRecord* f) { framework(s, *f); });
    };
    picojson::object fixed;
    fixed["unregistered_frameworks"] = picojson::value(picojson::array{});
    object_of(fixed, streamed);
    b_ = nullptr;
    rope_ = nullptr;
  }
  rope.seal();
  return rope;
}

}  // namespace stoa::master
