#pragma once
// /master/state and /master/frameworks as a rope of fragments (issue #17).
//
// Every running and unreachable task and every slave keeps its rendered
// JSON as an immutable, shared Fragment in its record's slot
// (RenderedMap, master_state.hpp), dropped by any change to the record;
// completed tasks keep theirs from the moment they complete
// (CompletedTasks). The tasks of a framework are also joined in runs of
// up to ROPE_RUN consecutive tasks, one piece each with the sum of their
// resources, so that collecting 200k running tasks is ~800 pieces: a
// change to a task (or an insert next to a run) marks its run stale, and
// the render joins it again. Slaves likewise, in runs of ROPE_SLAVE_RUN
// with their offered resources cut in (an offer made or gone marks its
// slave's run: RenderedMap::regroup); a collect takes a stale run's slaves
// one by one. A render, on the master's thread, brings the stale
// fragments up to date (refresh(), in slices bounded in time, the master
// handling its mailbox between them) and then, in one turn, collects the
// view as a Rope: the fragments, shared, and the small glue between them
// (framework heads, commas, the top-level fields, each slave's offered
// resources). The rope is concatenated off the master's thread
// (view_renders.cpp). The bytes are those of write_state() /
// write_frameworks() (state_json.hpp) for the same state.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/body_spans.hpp"
#include "master/master_state.hpp"
#include "master/state_json_writer.hpp"

namespace stoa::master {

// A view's bytes: glue and pieces of fragments, in order. The bytes are
// glue[0, pieces[0].glue_end), then pieces[0], then glue up to
// pieces[1].glue_end, ..., then the rest of the glue. A sealed rope is
// also a response body the HTTP server writes piece by piece (BodySpans).
struct Rope final : http::BodySpans {
  struct Piece {
    size_t glue_end = 0;
    Fragment fragment;
    size_t begin = 0;
    size_t size = 0;
  };
  std::string glue;
  std::vector<Piece> pieces;

  size_t size() const override;
  // The bytes, in one string. Reads only the rope: any thread.
  std::string concat() const;
  // Records where each piece's glue starts in the bytes, for spans(); call
  // once the rope is complete (RopeRenderer::state() and frameworks() do).
  void seal();
  // Bytes [offset, offset + n) as spans of the glue and the fragments. Needs
  // a sealed rope. Reads only the rope: any thread.
  void spans(size_t offset, size_t n, const std::function<void(const char*, size_t)>& out) const override;

 private:
  // starts_[i]: where the glue before pieces[i] starts in the bytes
  // (i == pieces.size(): the glue after the last piece); then the size.
  std::vector<size_t> starts_;
};

// Where a slave's fragment is cut: its offered resources go there. The
// fragment holds, at `offered_at`, those of a slave with no offer
// (`idle_size` bytes), so a slave without offers is one piece; a slave
// with offers is written as the fragment around them and its own (by each
// render, as offers come and go every allocation cycle).
struct SlaveFragmentSplit {
  size_t offered_at = 0;
  size_t idle_size = 0;
  // The JSON of the offered resources of `offers`, kept while the slave's
  // offer ids stay these (an offer's resources never change; ids are never
  // reused): most slaves hold the same offer from one render to the next.
  mutable std::set<std::string> offers;
  mutable std::string offered;
};

// Renders and collects fragments. Lives in the master actor and is used
// only on its thread; keeps, between renders, where the last refresh
// stopped and the tasks' parsed resources (shared by equal resources).
class RopeRenderer : private state_json_detail::TaskWriter {
 public:
  RopeRenderer() : TaskWriter(nullptr) {}

  // Renders stale fragments (running and unreachable tasks, then slaves)
  // from where the last call stopped, until `deadline`. Returns true when
  // it went through all of them (none was left stale at its pass).
  bool refresh(MasterState& s, std::chrono::steady_clock::time_point deadline);
  // The views, collected in one call (rendering what is still stale).
  Rope state(MasterState& s);
  Rope frameworks(MasterState& s, const std::map<std::string, std::string>& query);

  // Fragments rendered so far (tasks, slaves), for the bench and tests.
  size_t tasks_rendered() const { return tasks_rendered_; }
  size_t slaves_rendered() const { return slaves_rendered_; }
  // How long the last refresh took to drop the fragments its changes made
  // stale (take_touched), before it rendered anything.
  std::chrono::steady_clock::duration touched_took() const { return touched_took_; }

 private:
  using ResourcesPtr = std::shared_ptr<const state_json_detail::RenderedResources>;
  using SlaveMap = RenderedMap<SlaveRecord, NoneTouched>;
  using SlaveSlot = SlaveMap::Slot;

  // Drops the fragments of the slaves whose tasks changed (TouchedSlaves),
  // of all slaves when the set of frameworks changed.
  void take_touched(MasterState& s);
  // Renders the slot's fragment if it is stale. Returns the task's parsed
  // resources.
  const state_json_detail::RenderedResources& fresh_task(const TaskMap::Slot& slot);
  // Renders the slot's fragment (and its split) if it is stale.
  void fresh_slave(const MasterState& s, const SlaveSlot& slot);
  // The offered resources cut into a fresh slave's fragment, rendered again
  // when its offers changed (needs fresh_slave first).
  void fresh_offered(const MasterState& s, const SlaveSlot& slot);
  // Appends the slave's bytes as /master/state lists it: its fragment with
  // its offered resources cut in (rendering what is stale).
  void append_slave(const MasterState& s, const SlaveSlot& slot, std::string* out);
  // Joins the stale runs of slaves again (SlaveRun, state_rope.cpp), until
  // `deadline`; true when none is left stale.
  bool join_slaves(MasterState& s, std::chrono::steady_clock::time_point deadline);
  ResourcesPtr resources_of(const Task& t);

  // Collecting: `rope_` and its glue buffer are set for one view.
  void piece(Fragment f, size_t begin, size_t size);
  void slaves(const MasterState& s);
  // The slaves [it, end), one by one (their fragments, offered resources
  // as glue), each after a comma unless *first.
  void slaves_each(const MasterState& s, SlaveMap::const_iterator it, SlaveMap::const_iterator end, bool* first);
  void framework(const MasterState& s, const FrameworkRecord& f);
  void tasks(const TaskMap& m, Resources* used);
  // Writes `fixed` and `streamed` (disjoint keys) as one object, keys sorted.
  void object_of(const picojson::object& fixed, const std::map<std::string, std::function<void()>>& streamed);

  // Joins the stale runs of `m`'s tasks again (rendering their stale
  // fragments), until `deadline`; true when none is left stale.
  bool join_stale(const TaskMap& m, std::chrono::steady_clock::time_point deadline);
  // Joins the completed tasks into runs of ROPE_RUN (those numbered
  // k * ROPE_RUN to (k + 1) * ROPE_RUN - 1 since the first pushed, so that
  // a run stays whole while older tasks leave the front), until `deadline`;
  // true when every such run is joined.
  bool join_completed(const CompletedTasks& c, std::chrono::steady_clock::time_point deadline);
  void completed(const CompletedTasks& c);
  // The framework's offers: their JSON array written from each offer's
  // fragment (offers never change), and offered_resources(s, f), kept
  // while its offer ids stay the same.
  void offers(const MasterState& s, const FrameworkRecord& f);
  const Resources& offered(const MasterState& s, const FrameworkRecord& f);
  struct Offered {
    std::set<std::string> ids;
    Resources sum;
  };
  std::map<std::string, Offered> offered_;
  std::unordered_map<std::string, Fragment> offer_json_;
  // The offered resources of a slave with no offer, as JSON.
  const std::string& no_offers();
  std::string no_offers_;
  // Whether this refresh() joined a run already. The deadline is checked
  // before every run but the first of a call (each call makes progress),
  // not the first of each map: with a changed task in every run, that
  // joined them all in one turn (528 ms at 200k running tasks here).
  bool joined_one_ = false;
  // The framework ids the slaves' fragments were rendered with.
  std::vector<std::string> framework_ids_;

  std::unordered_map<std::string, ResourcesPtr> resources_;
  size_t prune_at_ = MIN_PRUNE;
  static constexpr size_t MIN_PRUNE = 4096;
  std::string key_;
  std::string json_;
  std::string joined_;
  Rope* rope_ = nullptr;
  size_t tasks_rendered_ = 0;
  size_t slaves_rendered_ = 0;
  std::chrono::steady_clock::duration touched_took_{};
  size_t state_pieces_ = 0;  // pieces of the last /state collect (reserved for the next)
};

}  // namespace stoa::master
