#include "registrar/registrar.hpp"

#include <chrono>
#include <deque>
#include <utility>
#include <vector>

#include <caf/all.hpp>
#include <glog/logging.h>

#include "registrar/operations.hpp"
#include "registrar/parts.hpp"

namespace stoa::registrar {

using registry::Operation;
using registry::Registry;

std::string error_text(const caf::error& e) {
  const caf::message& context = e.context();
  if (!context.empty() && context.match_element<std::string>(0)) {
    return context.get_as<std::string>(0);
  }
  if (e == caf::sec::request_timeout) {
    return "timed out";
  }
  return caf::to_string(e);
}

caf::expected<Registry> recovered_registry(const ScannedRegistry& scan) {
  Try<Registry> r = to_registry(scan);
  if (r.is_error()) {
    return caf::make_error(caf::sec::runtime_error, r.error());
  }
  return std::move(r).get();
}

namespace {

caf::error make_registrar_error(std::string text) {
  return caf::make_error(caf::sec::runtime_error, std::move(text));
}

enum class Phase { fresh, recovering, ready, failed };

// The fetch and store timeouts. A pending timer (a request timeout or a
// delayed_send) holds its receiver alive until it fires, and a detached
// actor's thread ends only once its actor is destroyed: timers on the
// registrar itself would hold a stopping master up to the fetch timeout. So
// an event-based companion keeps the timers and tells the registrar (weakly
// referenced) when one fires: (timeout, seq).
using arm_atom = caf::atom_constant<caf::atom("rg_arm")>;
using timeout_atom = caf::atom_constant<caf::atom("rg_timeout")>;

caf::behavior registrar_timer(caf::event_based_actor* self, caf::weak_actor_ptr owner) {
  return {
      [self](arm_atom, uint64_t seq, std::chrono::milliseconds after) {
        self->delayed_send(self, after, timeout_atom::value, seq);
      },
      [self, owner](timeout_atom, uint64_t seq) {
        if (self->current_sender() != self->ctrl()) {
          return;
        }
        if (caf::strong_actor_ptr registrar = owner.lock()) {
          self->send(caf::actor_cast<caf::actor>(registrar), timeout_atom::value, seq);
        }
      },
  };
}

struct Queued {
  Operation op;
  caf::response_promise promise;
};

struct Answer {
  caf::response_promise promise;
  bool changed;
};

struct Registrar;
using registrar_actor = caf::stateful_actor<Registrar>;

struct Registrar {
  registrar_actor* self = nullptr;
  Storage storage;
  Options options;
  Phase phase = Phase::fresh;
  Registry registry;  // parsed after recovery has answered (loaded)
  SlaveIds ids;
  ScannedRegistry scanned;  // from the fetch until it is handed to the new leader
  bool loaded = false;      // `registry` and `ids` hold what is stored
  std::vector<caf::response_promise> loaded_waiters;
  std::vector<std::string> parts;  // split_registry(registry), kept up to date part by part
  uint64_t version = 0;
  caf::response_promise recovering;
  std::deque<Queued> queue;    // waiting for the store in flight (or for recovery)
  std::vector<Answer> batch;   // in the store in flight
  bool storing = false;
  std::string failure;  // why every request fails (Phase::failed)
  caf::actor timer;
  uint64_t deadline = 0;  // the armed timer's number; 0: none
  std::string waiting_for;  // what it times: "fetching the registry from ..."
  std::chrono::milliseconds waiting_timeout{0};
  const char* waiting_flag = "";
  std::chrono::steady_clock::time_point recording_since;  // the recovery's store of the new leader

  static inline const char* name = "registrar";

  Registrar() = default;

  caf::result<ScannedRegistry> on_recover(const MasterInfo& leader);
  void on_fetched(Stored& stored, const MasterInfo& leader);
  void on_recovered();
  bool load();
  caf::result<bool> on_loaded();
  caf::result<bool> on_apply(Operation& op);
  void start_batch();
  void on_batch_stored();
  template <class Done>
  void store(Done done);
  void fail(const std::string& what, const caf::error& e, std::chrono::milliseconds timeout, const char* flag);
  void fail(std::string reason);
  void arm(std::string what, std::chrono::milliseconds timeout, const char* flag);
  void on_timeout(uint64_t seq);
};

void Registrar::arm(std::string what, std::chrono::milliseconds timeout, const char* flag) {
  deadline++;
  waiting_for = std::move(what);
  waiting_timeout = timeout;
  waiting_flag = flag;
  self->send(timer, arm_atom::value, deadline, timeout);
}

void Registrar::on_timeout(uint64_t seq) {
  if (self->current_sender() != caf::actor_cast<caf::strong_actor_ptr>(timer) || seq != deadline || phase == Phase::failed) {
    return;  // from elsewhere, or answered in time
  }
  fail("registrar: " + waiting_for + " timed out after " + std::to_string(waiting_timeout.count()) + "ms (" +
       waiting_flag + ")");
}

caf::result<ScannedRegistry> Registrar::on_recover(const MasterInfo& leader) {
  if (phase == Phase::failed) {
    return make_registrar_error(failure);
  }
  if (phase != Phase::fresh) {
    return make_registrar_error("registrar: recover was already requested; it is the first request and only one");
  }
  phase = Phase::recovering;
  recovering = self->make_response_promise();
  arm("fetching the registry from " + storage.description, options.fetch_timeout, "--registry_fetch_timeout");
  uint64_t armed = deadline;
  self->request(storage.actor, caf::infinite, fetch_atom_v)
      .then(
          [this, leader, armed](Stored& stored) {
            if (phase != Phase::failed && armed == deadline) {
              deadline++;  // answered in time
              on_fetched(stored, leader);
            }
          },
          [this](const caf::error& e) {
            fail("fetching the registry from " + storage.description, e, options.fetch_timeout,
                 "--registry_fetch_timeout");
          });
  return recovering;
}

std::string corrupt(const std::string& why, const Storage& storage, uint64_t version) {
  return "registrar: " + why + ", read from " + storage.description + " (version " + std::to_string(version) +
         "): the registry is corrupt. Repair it, or " + storage.reset_hint +
         " to start with an empty registry (every slave then registers as a new one)";
}

long long ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
}

// The new leader is answered from a scan of what is stored (the admitted
// slaves' SlaveInfos left encoded): at 50,000 slaves a full parse, and the
// copy of the parsed registry into the answer, took 1.5-3.3 s of the
// failover (issue #17). The registrar parses the whole registry for itself
// when it first needs it (on_recovered).
void Registrar::on_fetched(Stored& stored, const MasterInfo& leader) {
  size_t bytes = parts_size(stored.parts);
  auto scan_started = std::chrono::steady_clock::now();
  Try<ScannedRegistry> read = scan_registry(stored.parts);
  if (read.is_error()) {
    fail(corrupt(read.error(), storage, stored.version));
    return;
  }
  scanned = std::move(read).get();
  version = stored.version;
  LOG(INFO) << "Recovered the registry from " << storage.description << " (version " << version << ", " << bytes
            << " bytes): " << scanned.slave_ids.size() << " admitted, " << scanned.rest.unreachable().slaves_size()
            << " unreachable, " << scanned.rest.gone().slaves_size() << " gone slaves (scanned in "
            << ms_since(scan_started) << " ms); recording the new leader " << leader.id();
  *scanned.rest.mutable_master() = leader;
  if (stored.parts.size() == 1 + REGISTRY_BUCKETS) {
    // Laid out by split_registry when it was stored: only part 0 (the
    // master) changes, so the storage writes that part and its version.
    parts = std::move(stored.parts);
    std::vector<bool> dirty(1 + REGISTRY_BUCKETS, false);
    dirty[0] = true;
    update_parts(parts, scanned.rest, dirty);  // part 0 holds none of the admitted slaves
  } else {
    // Empty, or another layout: every part is written, from the whole registry.
    if (!load()) {
      return;
    }
    *registry.mutable_master() = leader;
    parts = split_registry(registry);
  }
  recording_since = std::chrono::steady_clock::now();
  store([this] { on_recovered(); });
}

// Parses what was recovered into `registry` and `ids` (from the parts once
// they are read and updated, else from the scan). False: the registrar failed.
bool Registrar::load() {
  auto started = std::chrono::steady_clock::now();
  Try<Registry> read = parts.empty() ? to_registry(scanned) : join_registry(parts);
  if (read.is_error()) {
    fail(corrupt(read.error(), storage, version));
    return false;
  }
  registry = std::move(read).get();
  ids = SlaveIds::of(registry);
  loaded = true;
  LOG(INFO) << "Parsed the registry (" << registry.slaves().slaves_size() << " admitted slaves) in "
            << ms_since(started) << " ms";
  return true;
}

// The registry is parsed when first needed: by an operation, or when the
// new leader asks whether it is loaded, which it does once it has handled
// the re-registrations that waited for its recovery. So the parse (~1 s at
// 50,000 slaves on a loaded machine) does not compete with those.
void Registrar::on_recovered() {
  LOG(INFO) << "Recorded the new leader " << scanned.rest.master().id() << " in " << storage.description
            << " (version " << version << ") in " << ms_since(recording_since) << " ms";
  recovering.deliver(std::move(scanned));
  scanned = ScannedRegistry{};
  phase = Phase::ready;
  if (!loaded_waiters.empty() || !queue.empty()) {
    if (!load()) {
      return;
    }
    for (caf::response_promise& p : loaded_waiters) {
      p.deliver(true);
    }
    loaded_waiters.clear();
  }
  if (!queue.empty()) {
    start_batch();
  }
}

caf::result<bool> Registrar::on_loaded() {
  if (phase == Phase::failed) {
    return make_registrar_error(failure);
  }
  if (phase == Phase::fresh) {
    return make_registrar_error("registrar: loaded before recovery; (recover_atom, MasterInfo) must come first");
  }
  if (phase == Phase::ready) {
    if (!loaded && !load()) {
      return make_registrar_error(failure);
    }
    return true;
  }
  loaded_waiters.push_back(self->make_response_promise());
  return loaded_waiters.back();
}

caf::result<bool> Registrar::on_apply(Operation& op) {
  if (phase == Phase::failed) {
    return make_registrar_error(failure);
  }
  if (phase == Phase::fresh) {
    return make_registrar_error("registrar: " + operation_name(op) +
                                " before recovery; (recover_atom, MasterInfo) must come first");
  }
  caf::response_promise promise = self->make_response_promise();
  queue.push_back(Queued{std::move(op), promise});
  if (phase == Phase::ready && !storing) {
    if (!loaded && !load()) {
      return promise;  // failed: answered with the failure
    }
    start_batch();
  }
  return promise;
}

void Registrar::start_batch() {
  batch.clear();
  bool changed = false;
  std::vector<bool> dirty(1 + REGISTRY_BUCKETS, false);
  while (!queue.empty()) {
    Queued q = std::move(queue.front());
    queue.pop_front();
    Try<bool> result = apply(registry, ids, q.op);
    if (result.is_error()) {
      q.promise.deliver(make_registrar_error("registrar: invalid operation: " + result.error()));
      continue;
    }
    if (*result) {
      changed = true;
      for (int p : parts_touched(q.op)) {
        dirty[p] = true;
      }
    }
    batch.push_back(Answer{q.promise, *result});
  }
  if (!changed) {
    on_batch_stored();  // nothing to write
    return;
  }
  update_parts(parts, registry, dirty);
  store([this] { on_batch_stored(); });
}

void Registrar::on_batch_stored() {
  std::vector<Answer> done = std::move(batch);
  batch.clear();
  for (Answer& a : done) {
    a.promise.deliver(a.changed);
  }
  if (!queue.empty()) {
    start_batch();
  }
}

template <class Done>
void Registrar::store(Done done) {
  storing = true;
  arm("storing the registry in " + storage.description, options.store_timeout, "--registry_store_timeout");
  uint64_t armed = deadline;
  self->request(storage.actor, caf::infinite, store_atom_v, parts, version)
      .then(
          [this, done, armed](uint64_t stored) {
            if (phase == Phase::failed || armed != deadline) {
              return;
            }
            deadline++;  // answered in time
            storing = false;
            version = stored;
            done();
          },
          [this](const caf::error& e) {
            storing = false;
            fail("storing the registry in " + storage.description, e, options.store_timeout,
                 "--registry_store_timeout");
          });
}

void Registrar::fail(const std::string& what, const caf::error& e, std::chrono::milliseconds timeout,
                     const char* flag) {
  if (e == caf::sec::request_timeout) {
    fail("registrar: " + what + " timed out after " + std::to_string(timeout.count()) + "ms (" + flag + ")");
  } else {
    fail("registrar: " + what + " failed: " + error_text(e));
  }
}

void Registrar::fail(std::string reason) {
  if (phase == Phase::failed) {
    return;
  }
  LOG(ERROR) << reason << "; the registrar refuses every request from now on";
  phase = Phase::failed;
  deadline++;  // no timer is waited for any more
  failure = std::move(reason);
  caf::error e = make_registrar_error(failure);
  if (recovering.pending()) {
    recovering.deliver(e);
  }
  for (caf::response_promise& p : loaded_waiters) {
    p.deliver(e);
  }
  loaded_waiters.clear();
  for (Answer& a : batch) {
    a.promise.deliver(e);
  }
  batch.clear();
  for (Queued& q : queue) {
    q.promise.deliver(e);
  }
  queue.clear();
}

caf::behavior registrar(registrar_actor* self, Storage storage, Options options) {
  auto& st = self->state;
  st.self = self;
  st.storage = std::move(storage);
  st.options = options;
  self->link_to(st.storage.actor);
  st.timer = self->spawn<caf::linked>(registrar_timer, caf::actor_cast<caf::weak_actor_ptr>(self->ctrl()));
  return {
      [self](timeout_atom, uint64_t seq) { self->state.on_timeout(seq); },
      [self](recover_atom, const MasterInfo& leader) { return self->state.on_recover(leader); },
      [self](loaded_atom) { return self->state.on_loaded(); },
      [self](apply_atom, Operation& op) { return self->state.on_apply(op); },
  };
}

}  // namespace

caf::actor spawn_registrar(caf::actor_system& sys, Storage storage, Options options) {
  if (!options.detached) {
    return sys.spawn(registrar, std::move(storage), std::move(options));
  }
  return sys.spawn<caf::detached>(registrar, std::move(storage), std::move(options));
}

Try<caf::actor> spawn_registrar(caf::actor_system& sys, Options options) {
  Try<Storage> storage = Error("unknown registry backend '" + options.backend + "' (known: " + BACKENDS + ")");
  if (options.backend == "in_memory") {
    storage = spawn_in_memory_storage(sys);
  } else if (options.backend == "leveldb") {
    if (options.work_dir.empty()) {
      return Error("the leveldb registry needs a work directory (--work_dir)");
    }
    storage = spawn_leveldb_storage(sys, options.work_dir + "/registry");
  } else if (options.backend == "zookeeper") {
    if (options.zk_connect.empty() || options.zk_path.empty()) {
      return Error("the zookeeper registry needs a ZooKeeper address and path (--zk)");
    }
    storage = spawn_zookeeper_storage(
        sys, ZooKeeperStorageOptions{options.zk_connect, options.zk_path, options.zk_session_timeout});
  }
  if (storage.is_error()) {
    return Error(storage.error());
  }
  return spawn_registrar(sys, std::move(storage).get(), std::move(options));
}

}  // namespace stoa::registrar
