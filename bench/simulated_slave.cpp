// The simulated slaves of the slave simulator and their registration
// timers (slave_simulator_internal.hpp).

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/safety.hpp"
#include "actors/send_batch.hpp"
#include "actors/upid.hpp"
#include "bench/slave_simulator_internal.hpp"
#include "common/logging.hpp"
#include "common/task_state.hpp"
#include "common/uuid.hpp"
#include "common/version.hpp"
#include "slave/slave_state.hpp"
#include "slave/status_update_manager.hpp"

namespace stoa::bench::sim {

using namespace stoa::internal;

namespace {

// Private to the slaves (texts no other atom uses).
using sim_retry_atom = caf::atom_constant<caf::atom("sim_retry")>;  // a slave's registration timer
using sim_update_atom =
    caf::atom_constant<caf::atom("sim_update")>;  // a slave's update retry timer (one per slave)
using sim_finish_atom = caf::atom_constant<caf::atom("sim_finish")>;  // a slave's task finishes
using sim_timer_atom = caf::atom_constant<caf::atom("sim_timer")>;  // slave -> timers: retry after
using sim_tick_atom = caf::atom_constant<caf::atom("sim_tick")>;    // the timers' own wake-up

constexpr auto MAX_BACKOFF = std::chrono::seconds(60);
// How late the process's timers (TimerHeap) may fire a slave's retry.
constexpr auto TIMER_TICK = std::chrono::milliseconds(5);

// --- the process's registration timers ----------------------------------------

// Every slave's registration retry in one heap, in one actor that wakes at
// most every TIMER_TICK for all that are due: a timeout per retry on CAF's
// clock thread (an insertion under its lock and a wake-up each) took ~25 %
// of a simulator's CPU while 50,000 slaves re-registered after a failover,
// on the cores the master needs (docs/benchmarks.md). A retry fires up to
// TIMER_TICK late.
struct TimerHeap {
  struct Entry {
    std::chrono::steady_clock::time_point due;
    caf::actor slave;
    uint64_t generation = 0;
    bool operator>(const Entry& o) const { return due > o.due; }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  bool armed = false;
  static inline const char* name = "simulator timers";
};

caf::behavior timers_actor(caf::stateful_actor<TimerHeap>* self) {
  set_safe_handlers(self, "simulator timers");
  auto arm = [self](std::chrono::steady_clock::time_point now) {
    TimerHeap& t = self->state;
    if (!t.armed && !t.heap.empty()) {
      t.armed = true;
      auto wait = std::max<std::chrono::steady_clock::duration>(t.heap.top().due - now, TIMER_TICK);
      self->delayed_send(self, wait, sim_tick_atom::value);
    }
  };
  return {
      [self, arm](sim_timer_atom, caf::actor& slave, Duration wait, uint64_t generation) {
        if (!self->current_sender() || self->current_sender()->node() != self->node()) {
          return;  // only this process's slaves
        }
        auto now = std::chrono::steady_clock::now();
        self->state.heap.push(TimerHeap::Entry{now + wait, std::move(slave), generation});
        arm(now);
      },
      [self, arm](sim_tick_atom) {
        if (self->current_sender() != self->ctrl()) {
          return;
        }
        TimerHeap& t = self->state;
        t.armed = false;
        auto now = std::chrono::steady_clock::now();
        while (!t.heap.empty() && t.heap.top().due <= now) {
          self->send(t.heap.top().slave, sim_retry_atom::value, t.heap.top().generation);
          t.heap.pop();
        }
        arm(now);
      },
  };
}

// --- a simulated slave ------------------------------------------------------

class SimSlave {
 public:
  SimSlave() = default;

  caf::stateful_actor<SimSlave>* self = nullptr;
  std::shared_ptr<const Shared> shared;
  uint32_t index = 0;
  std::string slave_id;
  bool registered = false;
  caf::actor master;
  uint64_t registration_generation = 0;
  Duration backoff{};
  std::minstd_rand rng;
  // The frameworks of its tasks, each with how many it has here.
  struct SimFramework {
    FrameworkInfo info;
    size_t tasks = 0;
  };
  std::map<std::string, SimFramework> frameworks;
  // A task and the retry of its stream's unacknowledged head (10 s
  // doubling to 10 min, as the slave's): one timer per slave, armed while a
  // head waits, rather than one timer (a message to the clock thread) per
  // update. Side by side, so that an update looks its task up once.
  struct SimTask {
    Task task;
    // The time and uuid of the last of a run of updates of one state: its
    // last status in `task` keeps the run's first's until a new state or a
    // re-registration (settle_status()) — the cold status (and its uuid's
    // string) left alone at every repeated TASK_RUNNING.
    bool unsettled = false;
    double status_time = 0;
    char status_uuid[16] = {};
    bool retrying = false;
    std::string retry_uuid;
    std::chrono::steady_clock::time_point due;
    std::chrono::nanoseconds interval{};
  };
  using Tasks = std::map<slave::StatusUpdateManager::Key, SimTask, slave::StatusUpdateManager::KeyLess>;
  Tasks tasks;
  slave::StatusUpdateManager updates;
  bool retry_armed = false;
  // While a batch of acknowledgements is handled: the updates it releases.
  std::optional<StatusUpdatesMessage> batch;
  // The uuids of its updates (unique, not secret: no syscall per update).
  std::mt19937_64 uuid_rng;
  static inline const char* name = "simulated slave";

  std::string upid;  // slave(<index>)@<address>, in every update it sends
  const std::string& pid() const { return upid; }

  bool from_master() {
    const caf::strong_actor_ptr& sender = self->current_sender();
    if (sender && master && sender->address() == master.address()) {
      return true;
    }
    shared->dropped->inc();
    return false;
  }

  void set_registered(bool now) {
    if (now != registered) {
      shared->registered->add(now ? 1 : -1);
      registered = now;
    }
  }

  // A master from the coordinator (none while it is being resolved).
  void on_master(const caf::actor& m) {
    set_registered(false);
    master = m;
    ++registration_generation;
    // As a slave (and Mesos' agent): the first retry after the first
    // attempt waits a random part of twice the factor.
    backoff = 2 * shared->opts.registration_backoff;
    if (!master) {
      return;
    }
    if (!slave_id.empty() && shared->opts.reregister_spread > Duration::zero()) {
      retry_after(random_wait(rng, shared->opts.reregister_spread));
      return;
    }
    send_registration();
  }

  void on_retry(uint64_t generation) {
    if (generation == registration_generation && !registered && master) {
      send_registration();
    }
  }

  void send_registration() {
    SlaveInfo info = shared->info;
    info.set_hostname(shared->opts.hostname + "-" + std::to_string(index));
    if (slave_id.empty()) {
      RegisterSlaveMessage m;
      *m.mutable_slave() = std::move(info);
      m.set_version(STOA_VERSION);
      m.set_pid(pid());
      m.set_batched_acknowledgements(shared->opts.batched_acknowledgements);
      self->send(master, m);
    } else {
      ReregisterSlaveMessage m;
      info.mutable_id()->set_value(slave_id);
      *m.mutable_slave() = std::move(info);
      m.set_version(STOA_VERSION);
      m.set_pid(pid());
      m.set_batched_acknowledgements(shared->opts.batched_acknowledgements);
      for (const auto& [fid, f] : frameworks) {
        *m.add_frameworks() = f.info;
      }
      for (auto& [key, t] : tasks) {
        settle_status(t);
        *m.add_tasks() = t.task;
      }
      self->send(master, m);
    }
    shared->registration_messages->inc();
    retry_after(random_wait(rng, backoff));
    backoff = std::min<Duration>(backoff * 2, MAX_BACKOFF);
  }

  // A sim_retry for this registration generation after `wait`, from the
  // process's timers (TimerHeap).
  void retry_after(Duration wait) {
    self->send(shared->timers, sim_timer_atom::value, caf::actor_cast<caf::actor>(self), wait,
               registration_generation);
  }

  void on_registered(const std::string& id, bool reregistered) {
    if (!slave_id.empty() && id != slave_id) {
      LOG_ERROR << pid() << " was " << slave_id << " and is now registered as " << id;
      shared->registration_errors->inc();
    }
    slave_id = id;
    if (registered) {
      return;  // the answer to a retry
    }
    set_registered(true);
    (reregistered ? shared->reregistrations : shared->registrations)->inc();
    for (const auto& key : updates.streams()) {
      const StatusUpdate* u = updates.head(key);
      auto t = tasks.find(key);
      if (u != nullptr && t != tasks.end()) {
        forward(t->second, *u);
      }
    }
  }

  void on_ping() {
    self->send(master, PongSlaveMessage{});
    shared->pongs->inc();
  }

  void on_shutdown(const ShutdownMessage& m) {
    LOG_WARNING << pid() << " told to shut down by the master: " << m.message();
    shared->shutdowns->inc();
    set_registered(false);
    master = caf::actor{};
    ++registration_generation;
  }

  // --- tasks and their status updates ---

  void on_run_task(const RunTaskMessage& m) {
    const std::string fid = m.framework_id().value();
    const std::string tid = m.task().task_id().value();
    slave::StatusUpdateManager::Key key{fid, tid};
    if (tasks.count(key) != 0) {
      return;  // a duplicate
    }
    SimFramework& f = frameworks[fid];
    f.info = m.framework();
    *f.info.mutable_id() = m.framework_id();
    ++f.tasks;
    Task t = slave::make_task(m.task(), fid, slave_id, TASK_STAGING);
    t.mutable_executor_id()->set_value(tid);  // a command task's executor is named after it
    auto it = tasks.try_emplace(key).first;
    it->second.task = std::move(t);
    shared->tasks_launched->inc();
    update(it, TASK_STARTING);
    update(it, TASK_RUNNING);
    if (shared->opts.task_duration) {
      self->delayed_send(self, *shared->opts.task_duration, sim_finish_atom::value, fid, tid);
    }
  }

  void on_finish(const std::string& fid, const std::string& tid) {
    auto t = tasks.find({fid, tid});
    if (t != tasks.end() && t->second.task.state() == TASK_RUNNING) {
      update(t, TASK_FINISHED);
    }
  }

  void kill(const slave::StatusUpdateManager::Key& key) {
    auto t = tasks.find(key);
    if (t != tasks.end() && !is_terminal_state(t->second.task.state())) {
      update(t, TASK_KILLED);
    }
  }

  void on_kill_task(const KillTaskMessage& m) {
    kill({m.framework_id().value(), m.task_id().value()});
  }

  void on_shutdown_framework(const ShutdownFrameworkMessage& m) {
    std::vector<slave::StatusUpdateManager::Key> keys;
    for (const auto& [key, t] : tasks) {
      if (key.first == m.framework_id().value()) {
        keys.push_back(key);
      }
    }
    for (const auto& key : keys) {
      kill(key);
    }
  }

  void set_state(Task& t, TaskState state) {
    bool was_running = t.state() == TASK_RUNNING;
    t.set_state(state);
    if (state == TASK_RUNNING && !was_running) {
      shared->tasks_running->add(1);
    } else if (was_running && state != TASK_RUNNING) {
      shared->tasks_running->add(-1);
    }
    if (state == TASK_FINISHED) {
      shared->tasks_finished->inc();
    } else if (state == TASK_KILLED) {
      shared->tasks_killed->inc();
    }
  }

  void update(Tasks::iterator it, TaskState state) {
    const slave::StatusUpdateManager::Key& key = it->first;
    Task& t = it->second.task;
    // Built where it goes when it goes now: in the batch (a kept element,
    // filled in place), else aside.
    const bool now = registered && master;
    StatusUpdateMessage single;
    StatusUpdateMessage& m = now ? outgoing(single) : single;
    StatusUpdate& u = *m.mutable_update();
    // (A command task's executor is named after it: the ids from the key,
    // not from the task's cold fields.)
    u.mutable_framework_id()->set_value(key.first);
    u.mutable_executor_id()->set_value(key.second);
    u.mutable_slave_id()->set_value(slave_id);
    char uuid[16];
    for (size_t i = 0; i < 16; i += 8) {
      uint64_t r = uuid_rng();
      std::memcpy(uuid + i, &r, 8);
    }
    uuid[6] = static_cast<char>((uuid[6] & 0x0f) | 0x40);  // version 4
    uuid[8] = static_cast<char>((uuid[8] & 0x3f) | 0x80);
    TaskStatus* s = u.mutable_status();
    s->mutable_task_id()->set_value(key.second);
    s->set_state(state);
    s->set_source(TaskStatus::SOURCE_EXECUTOR);
    s->set_timestamp(now_seconds());
    s->mutable_slave_id()->set_value(slave_id);
    s->set_uuid(uuid, sizeof uuid);
    u.set_timestamp(s->timestamp());
    u.set_uuid(uuid, sizeof uuid);
    const bool repeated = t.state() == state && t.statuses_size() > 0;
    set_state(t, state);
    // As the master keeps them (Mesos): a repeated state replaces the last
    // (the same task, state, source and slave: a new time and uuid).
    SimTask& st = it->second;
    if (repeated) {
      st.unsettled = true;
      st.status_time = s->timestamp();
      std::memcpy(st.status_uuid, uuid, sizeof uuid);
    } else {
      settle_status(st);
      *t.add_statuses() = *s;
    }
    if (!updates.update(u)) {
      if (&m != &single) {
        batch->mutable_updates()->RemoveLast();  // queued behind the head
      }
      return;
    }
    if (now) {
      retry(it->second, u.uuid());
      send_built(it->second, m, single);
    }
  }

  // Puts the time and uuid of a run of repeated states into the last status.
  static void settle_status(SimTask& t) {
    if (t.unsettled && t.task.statuses_size() > 0) {
      TaskStatus* last = t.task.mutable_statuses(t.task.statuses_size() - 1);
      last->set_timestamp(t.status_time);
      last->set_uuid(t.status_uuid, sizeof t.status_uuid);
    }
    t.unsettled = false;
  }

  // Where an update to the master is built: the next (kept) element of the
  // batch being collected, else `single`.
  StatusUpdateMessage& outgoing(StatusUpdateMessage& single) {
    return batch ? *batch->add_updates() : single;
  }

  // `m`, from outgoing(single), is filled in: sends it unless it waits in the batch
  // (sent by on_acknowledgements).
  void send_built(const SimTask& t, StatusUpdateMessage& m, StatusUpdateMessage& single) {
    m.set_pid(pid());
    m.mutable_update()->set_latest_state(t.task.state());
    if (&m == &single) {
      self->send(master, std::move(single));
    }
    shared->updates_sent->inc();
  }

  // Sends `u` to the master (a copy).
  void send_update(const SimTask& t, const StatusUpdate& u) {
    StatusUpdateMessage single;
    StatusUpdateMessage& m = outgoing(single);
    *m.mutable_update() = u;
    send_built(t, m, single);
  }

  // (Re)starts the retry of `t`'s head, whose uuid is `uuid`.
  void retry(SimTask& t, const std::string& uuid) {
    t.retrying = true;
    t.retry_uuid = uuid;
    t.interval = std::chrono::duration_cast<std::chrono::nanoseconds>(shared->opts.update_retry_interval);
    t.due = std::chrono::steady_clock::now() + t.interval;
    arm_retry(t.interval);
  }

  // Sends `u`, the head of `t`'s stream, and (re)starts its retry.
  void forward(SimTask& t, const StatusUpdate& u) {
    if (!registered || !master) {
      return;  // re-sent on (re-)registration
    }
    retry(t, u.uuid());
    send_update(t, u);
  }

  void arm_retry(std::chrono::nanoseconds in) {
    if (!retry_armed) {
      retry_armed = true;
      self->delayed_send(self, in, sim_update_atom::value);
    }
  }

  // Re-sends every head whose retry is due; forgets acknowledged ones.
  // Without a master nothing is due: (re-)registering sends every head
  // again (on_registered) and re-arms.
  void on_update_retry() {
    retry_armed = false;
    if (!registered || !master) {
      return;
    }
    auto now = std::chrono::steady_clock::now();
    auto next = std::chrono::steady_clock::time_point::max();
    bool waiting = false;
    for (auto& [key, t] : tasks) {
      if (!t.retrying) {
        continue;
      }
      const StatusUpdate* head = updates.head(key);
      if (head == nullptr || head->uuid() != t.retry_uuid) {
        t.retrying = false;
        continue;
      }
      if (now >= t.due) {
        send_update(t, *head);
        t.interval = slave::UpdateRetries::backoff(t.interval);
        t.due = now + t.interval;
      }
      next = std::min(next, t.due);
      waiting = true;
    }
    if (waiting) {
      arm_retry(std::max<std::chrono::nanoseconds>(next - now, std::chrono::milliseconds(100)));
    }
  }

  void on_acknowledgements(const StatusUpdateAcknowledgementsMessage& m) {
    batch.emplace();
    take_recycled(*batch);
    for (const StatusUpdateAcknowledgementMessage& ack : m.acknowledgements()) {
      on_acknowledgement(ack);
    }
    StatusUpdatesMessage out = std::move(*batch);
    batch.reset();
    if (send_batch(self, master, out, out.mutable_updates()) > 0) {
      shared->update_batches->inc();
    }
  }

  void on_acknowledgement(const StatusUpdateAcknowledgementMessage& m) {
    bool matched = false;
    const slave::StatusUpdateManager::KeyView key{m.framework_id().value(), m.task_id().value()};
    std::optional<StatusUpdate> next =
        updates.acknowledge(m.framework_id().value(), m.task_id().value(), m.uuid(), &matched);
    if (!matched) {
      return;
    }
    shared->updates_acknowledged->inc();
    auto t = tasks.find(key);
    if (t == tasks.end()) {
      return;  // (a task is kept until its stream is done)
    }
    t->second.retrying = false;
    if (next) {
      forward(t->second, *next);
    } else if (shared->opts.repeat_running_updates && t->second.task.state() == TASK_RUNNING) {
      update(t, TASK_RUNNING);
      return;
    }
    if (updates.done(key)) {
      auto f = frameworks.find(t->first.first);
      tasks.erase(t);
      if (f != frameworks.end() && --f->second.tasks == 0) {
        frameworks.erase(f);
      }
    }
  }
};

bool from_self(caf::stateful_actor<SimSlave>* self) {
  if (self->current_sender() == self->ctrl()) {
    return true;
  }
  self->state.shared->dropped->inc();
  return false;
}

caf::behavior sim_slave_actor(caf::stateful_actor<SimSlave>* self,
                              std::shared_ptr<const Shared> shared, uint32_t index) {
  SimSlave& s = self->state;
  s.self = self;
  s.shared = std::move(shared);
  s.index = index;
  s.upid = "slave(" + std::to_string(index) + ")@" + s.shared->address;
  s.rng.seed(s.shared->seed ^ (index * 2654435761u));
  s.uuid_rng.seed((static_cast<uint64_t>(s.shared->seed) << 32) ^ index ^ std::random_device{}());
  set_safe_handlers(self, "simulated slave");
  return {
      [self](sim_master_atom, const caf::actor& m) {
        // Only the coordinator, an actor of this process, tells it.
        if (self->current_sender() && self->current_sender()->node() == self->node()) {
          self->state.on_master(m);
        }
      },
      [self](sim_retry_atom, uint64_t generation) {
        if (self->current_sender() && self->current_sender()->address() == self->state.shared->timers.address()) {
          self->state.on_retry(generation);
        } else {
          self->state.shared->dropped->inc();
        }
      },
      [self](sim_update_atom) {
        if (from_self(self)) {
          self->state.on_update_retry();
        }
      },
      [self](sim_finish_atom, const std::string& fid, const std::string& tid) {
        if (from_self(self)) {
          self->state.on_finish(fid, tid);
        }
      },
      [self](SlaveRegisteredMessage& m) {
        if (self->state.from_master()) {
          self->state.on_registered(m.slave_id().value(), false);
        }
      },
      [self](SlaveReregisteredMessage& m) {
        if (self->state.from_master()) {
          self->state.on_registered(m.slave_id().value(), true);
        }
      },
      [self](PingSlaveMessage&) {
        if (self->state.from_master()) {
          self->state.on_ping();
        }
      },
      [self](RunTaskMessage& m) {
        if (self->state.from_master()) {
          self->state.on_run_task(m);
        }
      },
      [self](KillTaskMessage& m) {
        if (self->state.from_master()) {
          self->state.on_kill_task(m);
        }
      },
      [self](ShutdownFrameworkMessage& m) {
        if (self->state.from_master()) {
          self->state.on_shutdown_framework(m);
        }
      },
      [self](StatusUpdateAcknowledgementMessage& m) {
        if (self->state.from_master()) {
          self->state.on_acknowledgement(m);
        }
      },
      [self](StatusUpdateAcknowledgementsMessage& m) {
        if (self->state.from_master()) {
          self->state.on_acknowledgements(m);
          recycle(m);
        }
      },
      [self](ShutdownMessage& m) {
        if (self->state.from_master()) {
          self->state.on_shutdown(m);
        }
      },
  };
}

}  // namespace

caf::actor spawn_timers(caf::actor_system& sys) { return sys.spawn(timers_actor); }

caf::actor spawn_slave(caf::actor_system& sys, std::shared_ptr<const Shared> shared, uint32_t index) {
  return sys.spawn(sim_slave_actor, std::move(shared), index);
}

}  // namespace stoa::bench::sim
