#include "slave/cleaner.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <vector>

#include <caf/all.hpp>

#include "actors/safety.hpp"
#include "common/logging.hpp"
#include "actors/launcher.hpp"

namespace stoa::slave {

namespace {

using clean_atom = caf::atom_constant<caf::atom("clean")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using kill_atom = caf::atom_constant<caf::atom("kill")>;

// A walk reads the stat of every process on the node whatever the number
// of containers it looks for: exits within this window share one walk (at
// 250 tasks/s a walk per exit was a tenth of the slave's CPU; #17). A
// leftover lives at most this much longer.
constexpr auto WALK_BATCH_WINDOW = std::chrono::milliseconds(50);
// Walks start at least this far apart: under a steady stream of exits a
// walk every WALK_BATCH_WINDOW still took 8 % of the slave's CPU at 450
// tasks/s with 66 processes on the node (#17, session 27), and a busier
// node has hundreds. A lone exit after a quiet spell still waits only the
// window.
constexpr auto MIN_WALK_INTERVAL = std::chrono::milliseconds(250);

void cleanup_isolators(const std::string& container_id, const Isolators& isolators) {
  for (const auto& isolator : isolators) {
    if (std::optional<Error> error = isolator->cleanup(container_id)) {
      LOG_WARNING << "Cannot clean up " << isolator->name() << " of container " << container_id << ": "
                  << error->message;
    }
  }
}

// Containers whose leftovers wait for the cleaner's next walk.
struct CleanerState {
  Isolators isolators;
  std::vector<LeftoverQuery> pending;
  bool flush_sent = false;
  caf::actor_clock::time_point last_walk{};  // when the last walk started
  static inline const char* name = "container cleaner";
};

// Kills the leftovers of every pending container: through the freezer when
// an isolator has one, the rest in one /proc walk; then their isolators'
// cleanup.
void flush_pending(CleanerState& st) {
  std::vector<LeftoverQuery> walk;
  for (LeftoverQuery& q : st.pending) {
    if (!kill_through_isolators(q.container_id, st.isolators)) {
      walk.push_back(q);
    }
  }
  kill_containers_leftovers(walk, SIGKILL);
  for (const LeftoverQuery& q : st.pending) {
    cleanup_isolators(q.container_id, st.isolators);
  }
  st.pending.clear();
  st.flush_sent = false;
}

caf::behavior cleaner_fn(caf::stateful_actor<CleanerState>* self, Isolators isolators) {
  set_safe_handlers(self, "container cleaner");
  self->state.isolators = std::move(isolators);
  // Unlike named components it takes any exit: nothing outside the
  // containerizer holds its handle, and the containerizer stops it from an
  // attached functor. What waits for the next walk is not left behind.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (!self->state.pending.empty()) {
      flush_pending(self->state);
    }
    self->quit(msg.reason);
  });
  return {
      // Its handle never leaves the containerizer (it is not named in the
      // router), so no peer can reach it.
      // The containerizer signalled the process group itself when it reaped
      // the executor; here only the walk, which spares reused pids. Requests
      // that come within WALK_BATCH_WINDOW of the first (MIN_WALK_INTERVAL
      // after the last walk began, if later), or queue up while a walk
      // runs, share the next one.
      [self](clean_atom, int32_t pid, const std::string& container_id, uint64_t started_ticks) {
        self->state.pending.push_back(LeftoverQuery{static_cast<pid_t>(pid), container_id, started_ticks});
        if (!self->state.flush_sent) {
          self->state.flush_sent = true;
          const caf::timespan until_allowed = self->state.last_walk + MIN_WALK_INTERVAL - self->clock().now();
          self->delayed_send(self, std::max<caf::timespan>(WALK_BATCH_WINDOW, until_allowed), flush_atom::value);
        }
      },
      [self](flush_atom) {
        if (self->state.flush_sent) {
          self->state.last_walk = self->clock().now();
          flush_pending(self->state);
        }
      },
      [self](kill_atom, const std::string& container_id) {
        kill_through_isolators(container_id, self->state.isolators);
      },
  };
}

// The freezer when there is one, else the /proc walk.
void kill_leftovers(pid_t pid, const std::string& container_id, const Isolators& isolators) {
  if (!kill_through_isolators(container_id, isolators)) {
    kill_container_leftovers(pid, container_id, SIGKILL);
  }
}

}  // namespace

bool kill_through_isolators(const std::string& container_id, const Isolators& isolators) {
  for (const auto& isolator : isolators) {
    if (isolator->kill(container_id)) {
      return true;
    }
  }
  return false;
}

caf::actor spawn_cleaner(caf::local_actor* owner, Isolators isolators) {
  return owner->spawn<caf::detached + caf::linked>(cleaner_fn, std::move(isolators));
}

void clean_container(const caf::actor& cleaner, pid_t pid, const std::string& container_id,
                     const Isolators& isolators, uint64_t started_ticks) {
  if (cleaner) {
    caf::anon_send(cleaner, clean_atom::value, static_cast<int32_t>(pid), container_id, started_ticks);
  } else {
    clean_container_now(pid, container_id, isolators);
  }
}

void clean_container_now(pid_t pid, const std::string& container_id, const Isolators& isolators) {
  if (pid > 0) {
    signal_process_group(pid, SIGKILL);
  }
  kill_leftovers(pid, container_id, isolators);
  cleanup_isolators(container_id, isolators);
}

void kill_container(const caf::actor& cleaner, const std::string& container_id, const Isolators& isolators) {
  if (cleaner) {
    caf::anon_send(cleaner, kill_atom::value, container_id);
  } else {
    kill_through_isolators(container_id, isolators);
  }
}

}  // namespace stoa::slave
