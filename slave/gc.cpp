// The garbage collector: a timeline of scheduled paths on the actor clock,
// removal batches handed to a detached worker, and the disk watch.
#include "slave/gc.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include <caf/all.hpp>
#include <picojson.h>

#include "actors/atoms.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/metrics.hpp"
#include "common/uuid.hpp"

namespace stoa::slave {

namespace {

// The collector's own timers.
using gc_timer_atom = caf::atom_constant<caf::atom("gc_timer")>;
using gc_watch_atom = caf::atom_constant<caf::atom("gc_watch")>;


double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// `a` is `b`, or a parent or child of it.
bool overlaps(const std::string& a, const std::string& b) {
  const std::string& shorter = a.size() <= b.size() ? a : b;
  const std::string& longer = a.size() <= b.size() ? b : a;
  return longer.compare(0, shorter.size(), shorter) == 0 &&
         (longer.size() == shorter.size() || longer[shorter.size()] == '/');
}

}  // namespace

Duration max_gc_age(Duration gc_delay, double headroom, double usage) {
  double factor = std::max(0.0, 1.0 - headroom - usage);
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::nano>(
      static_cast<double>(gc_delay.count()) * factor));
}

Try<double> disk_usage(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) {
    return Error("Cannot measure the disk usage of '" + dir + "': " + std::strerror(errno));
  }
  if (st.f_blocks == 0) {
    return 0.0;
  }
  return 1.0 - static_cast<double>(st.f_bavail) / static_cast<double>(st.f_blocks);
}

// ---- the worker ------------------------------------------------------------------

namespace {

caf::behavior gc_worker(caf::event_based_actor*) {
  return {
      [](gc_remove_atom, const std::vector<std::string>& paths) {
        std::vector<std::string> errors;
        for (const std::string& p : paths) {
          std::error_code ec;
          std::filesystem::remove_all(p, ec);
          errors.push_back(ec && ec != std::errc::no_such_file_or_directory
                               ? "Cannot remove '" + p + "': " + ec.message()
                               : std::string());
        }
        return errors;
      },
      [](gc_usage_atom, const std::string& dir) -> caf::result<double> {
        Try<double> usage = disk_usage(dir);
        if (usage.is_error()) {
          return caf::make_error(caf::sec::runtime_error, usage.error());
        }
        return *usage;
      },
  };
}

}  // namespace

caf::actor spawn_gc_worker(caf::actor_system& sys) { return sys.spawn<caf::detached>(gc_worker); }

// ---- the collector ------------------------------------------------------------------

namespace {

using Clock = caf::actor_clock;
using TimePoint = Clock::time_point;

struct Scheduled {
  TimePoint scheduled_at;
  TimePoint remove_at;
  double scheduled_wall = 0;  // seconds since the epoch, for the view
  caf::typed_response_promise<bool> promise;
};

struct GcState {
  GcState() = default;
  caf::stateful_actor<GcState>* self = nullptr;
  GcOptions opts;
  caf::actor worker;
  std::map<std::string, Scheduled> paths;
  std::multimap<TimePoint, std::string> timeline;
  // Paths in the batch the worker is removing, each with the promises to
  // keep once it is done (its schedule's, and unschedules that wait).
  std::map<std::string, std::vector<caf::typed_response_promise<bool>>> removing;
  std::vector<std::string> queued;  // due while a batch runs
  std::map<std::string, std::vector<caf::typed_response_promise<bool>>> queued_promises;
  bool batch_running = false;
  // The disk watch runs while anything is scheduled (an idle collector
  // keeps no timer).
  bool watching = false;
  uint64_t timer_generation = 0;
  std::optional<TimePoint> timer_at;
  Duration max_age{0};
  double usage = 0;
  metrics::Counter* succeeded = nullptr;
  metrics::Counter* failed = nullptr;
  metrics::Gauge* pending = nullptr;
  static inline const char* name = "gc";

  TimePoint now() const { return self->clock().now(); }

  void update_pending() {
    if (pending != nullptr) {
      pending->set(static_cast<double>(paths.size() + removing.size() + queued.size()));
    }
  }

  void erase_from_timeline(const std::string& path, TimePoint at) {
    auto range = timeline.equal_range(at);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second == path) {
        timeline.erase(it);
        return;
      }
    }
  }

  caf::typed_response_promise<bool> schedule(Duration delay, const std::string& path) {
    auto rp = self->make_response_promise<bool>();
    auto old = paths.find(path);
    if (old != paths.end()) {
      erase_from_timeline(path, old->second.remove_at);
      old->second.promise.deliver(false);
      paths.erase(old);
    }
    Scheduled s;
    s.scheduled_at = now();
    s.remove_at = s.scheduled_at + std::max(delay, Duration(0));
    s.scheduled_wall = now_seconds();
    s.promise = rp;
    timeline.emplace(s.remove_at, path);
    paths.emplace(path, std::move(s));
    LOG_INFO << "Scheduling '" << path << "' for removal in " << format_duration(std::max(delay, Duration(0)));
    update_pending();
    arm();
    if (!watching) {
      watching = true;
      self->delayed_send(self, opts.disk_watch_interval, gc_watch_atom::value);
    }
    return rp;
  }

  caf::typed_response_promise<bool> unschedule(const std::string& path) {
    auto rp = self->make_response_promise<bool>();
    auto it = paths.find(path);
    if (it != paths.end()) {
      erase_from_timeline(path, it->second.remove_at);
      it->second.promise.deliver(false);
      paths.erase(it);
      LOG_INFO << "Unscheduled the removal of '" << path << "'";
      update_pending();
      rp.deliver(true);
      return rp;
    }
    // A removal under way (or queued) that touches the path: answer after it.
    for (auto* batch : {&removing, &queued_promises}) {
      for (auto& [p, waiting] : *batch) {
        if (overlaps(p, path)) {
          waiting.push_back(rp);
          return rp;
        }
      }
    }
    rp.deliver(false);
    return rp;
  }

  uint64_t prune(Duration max_age_now) {
    std::vector<std::string> due;
    TimePoint t = now();
    for (const auto& [path, s] : paths) {
      if (t - s.scheduled_at >= max_age_now) {
        due.push_back(path);
      }
    }
    if (!due.empty()) {
      LOG_INFO << "Pruning " << due.size() << " path(s) scheduled at least " << format_duration(max_age_now)
               << " ago (disk usage " << usage << ")";
    }
    remove_now(due);
    return due.size();
  }

  // Takes `due` off the timeline and hands them to the worker.
  void remove_now(const std::vector<std::string>& due) {
    for (const std::string& path : due) {
      auto it = paths.find(path);
      if (it == paths.end()) {
        continue;
      }
      erase_from_timeline(path, it->second.remove_at);
      queued.push_back(path);
      queued_promises[path].push_back(it->second.promise);
      paths.erase(it);
    }
    start_batch();
    arm();
  }

  void start_batch() {
    if (batch_running || queued.empty()) {
      update_pending();
      return;
    }
    batch_running = true;
    std::vector<std::string> batch;
    batch.swap(queued);
    for (const std::string& p : batch) {
      removing[p] = std::move(queued_promises[p]);
      queued_promises.erase(p);
    }
    update_pending();
    self->request(worker, caf::infinite, gc_remove_atom::value, batch)
        .then([this, batch](const std::vector<std::string>& errors) { on_removed(batch, errors); },
              [this, batch](caf::error& e) {
                on_removed(batch, std::vector<std::string>(batch.size(), "the removal worker failed: " +
                                                                          self->system().render(e)));
              });
  }

  void on_removed(const std::vector<std::string>& batch, const std::vector<std::string>& errors) {
    for (size_t i = 0; i < batch.size(); ++i) {
      const std::string error = i < errors.size() ? errors[i] : std::string("no answer for this path");
      bool ok = error.empty();
      if (ok) {
        LOG_INFO << "Removed '" << batch[i] << "'";
        if (succeeded != nullptr) {
          succeeded->inc();
        }
      } else {
        LOG_WARNING << "Garbage collection failed: " << error;
        if (failed != nullptr) {
          failed->inc();
        }
      }
      auto it = removing.find(batch[i]);
      if (it == removing.end()) {
        continue;
      }
      // The schedule's own promise is first: it learns the outcome; later
      // ones are unschedules that waited and cancelled nothing.
      for (size_t k = 0; k < it->second.size(); ++k) {
        it->second[k].deliver(k == 0 ? ok : false);
      }
      removing.erase(it);
    }
    batch_running = false;
    start_batch();
  }

  void arm() {
    if (timeline.empty()) {
      return;
    }
    TimePoint earliest = timeline.begin()->first;
    if (timer_at && *timer_at <= earliest) {
      return;
    }
    timer_at = earliest;
    ++timer_generation;
    auto delay = std::max(earliest - now(), Clock::duration_type(0));
    self->delayed_send(self, delay, gc_timer_atom::value, timer_generation);
  }

  void on_timer(uint64_t generation) {
    if (generation != timer_generation) {
      return;
    }
    timer_at.reset();
    std::vector<std::string> due;
    TimePoint t = now();
    for (auto it = timeline.begin(); it != timeline.end() && it->first <= t; ++it) {
      due.push_back(it->second);
    }
    remove_now(due);
    arm();
  }

  void watch_disk() {
    self->request(worker, caf::infinite, gc_usage_atom::value, opts.work_dir)
        .then(
            [this](double used) {
              usage = used;
              max_age = max_gc_age(opts.gc_delay, opts.disk_headroom, used);
              prune(max_age);
            },
            [this](caf::error& e) { LOG_WARNING << self->system().render(e); });
    if (paths.empty()) {
      watching = false;
    } else {
      self->delayed_send(self, opts.disk_watch_interval, gc_watch_atom::value);
    }
  }

  std::string view() const {
    picojson::object o;
    o["gc_delay_secs"] = json_number(seconds(opts.gc_delay));
    o["max_age_secs"] = json_number(seconds(max_age));
    o["disk_usage"] = json_number(usage);
    picojson::array scheduled;
    TimePoint t = self->clock().now();
    double wall = now_seconds();
    for (const auto& [at, path] : timeline) {
      const Scheduled& s = paths.at(path);
      double remaining = seconds(std::chrono::duration_cast<Duration>(at - t));
      picojson::object e;
      e["path"] = picojson::value(path);
      e["scheduled_at"] = json_number(s.scheduled_wall);
      e["removal_time"] = json_number(wall + remaining);
      e["remaining_secs"] = json_number(remaining);
      scheduled.emplace_back(std::move(e));
    }
    o["scheduled"] = picojson::value(std::move(scheduled));
    picojson::array busy;
    for (const auto& [path, waiting] : removing) {
      busy.emplace_back(path);
    }
    for (const std::string& path : queued) {
      busy.emplace_back(path);
    }
    o["removing"] = picojson::value(std::move(busy));
    return json_serialize(picojson::value(std::move(o)));
  }
};

bool from_self(caf::stateful_actor<GcState>* self) {
  return self->current_sender() == self->ctrl();
}

caf::behavior gc_actor(caf::stateful_actor<GcState>* self, GcOptions opts) {
  GcState& s = self->state;
  s.self = self;
  s.opts = std::move(opts);
  s.max_age = s.opts.gc_delay;
  if (s.opts.metrics != nullptr) {
    s.succeeded = &s.opts.metrics->counter("gc/path_removals_succeeded", "Paths garbage collection removed");
    s.failed = &s.opts.metrics->counter("gc/path_removals_failed", "Paths garbage collection failed to remove");
    s.pending = &s.opts.metrics->gauge("gc/path_removals_pending", "Paths scheduled for garbage collection or being removed");
  }
  if (s.opts.worker) {
    s.worker = s.opts.worker;
  } else {
    s.worker = spawn_gc_worker(self->system());
    self->link_to(s.worker);
  }
  // Whatever is still owed an answer hears false when the collector stops.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    GcState& st = self->state;
    for (auto& [path, sched] : st.paths) {
      sched.promise.deliver(false);
    }
    for (auto* batch : {&st.removing, &st.queued_promises}) {
      for (auto& [path, waiting] : *batch) {
        for (auto& rp : waiting) {
          rp.deliver(false);
        }
      }
    }
    st.paths.clear();
    st.removing.clear();
    st.queued_promises.clear();
    self->quit(msg.reason);
  });
  return {
      [self](gc_schedule_atom, Duration delay, const std::string& path) { return self->state.schedule(delay, path); },
      [self](gc_unschedule_atom, const std::string& path) { return self->state.unschedule(path); },
      [self](gc_prune_atom, Duration max_age) { return self->state.prune(max_age); },
      [self](gc_timer_atom, uint64_t generation) {
        if (from_self(self)) {
          self->state.on_timer(generation);
        }
      },
      [self](gc_watch_atom) {
        if (from_self(self)) {
          self->state.watch_disk();
        }
      },
      [self](state_atom, const std::string&, const std::map<std::string, std::string>&) {
        return caf::make_message(200, self->state.view());
      },
  };
}

}  // namespace

caf::actor spawn_gc(caf::actor_system& sys, GcOptions opts) { return sys.spawn(gc_actor, std::move(opts)); }

}  // namespace stoa::slave
