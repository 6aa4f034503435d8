#pragma once
// The registrar: the only writer of the master's Registry (which slaves are
// admitted, unreachable or gone; weights; quotas), as Mesos' Registrar.
// docs/registrar.md has the design and the storage formats.
//
// Messages (a dynamically typed actor; answers go to the requester):
//   (recover_atom, stoa::MasterInfo leader) -> ScannedRegistry:
//       reads the registry (empty if none yet), records `leader` in it and
//       stores it, so that of two masters recovering from the same version
//       only one succeeds; answers the registry as stored, its admitted
//       slaves as encoded SlaveInfos with their ids (registrar/parts.hpp:
//       what a new leader needs, without parsing 50,000 SlaveInfos first).
//       Must be the first request; a second one is an error (and changes
//       nothing). The registrar parses the whole registry for itself only
//       when first needed, by an operation or by loaded_atom; a registry
//       that does not parse then fails the registrar (below).
//   (loaded_atom) -> bool: parses the recovered registry if that is not
//       done yet; true once parsed, an error if that (or anything before)
//       failed. The new leader asks once it has handled the messages that
//       waited for its recovery.
//   (apply_atom, stoa::registry::Operation) -> bool: true = it changed the
//       registry and the change is durably stored; false = the operation
//       does not apply (registrar/operations.hpp) and nothing changed.
//       Operations sent while recovering wait for it; before any recover
//       they are an error. A malformed operation (operations.hpp) gets an
//       error of its own and the registrar goes on.
// An error of the store (it failed, it timed out, or the registry was changed
// by someone else: the compare-and-swap was lost) means the master must stop
// leading: from then on every request, queued or new, fails with that error.
//
// Batching (Mesos' group commit): while a store is in flight, operations
// queue; when it completes, every queued one is applied in order and all are
// stored in one write; each gets its own answer once that write is done.
//
// The actor is detached (each store serializes the whole registry: tens of
// milliseconds at 50,000 slaves; Options::detached = false for tests on
// CAF's test_coordinator) and linked to its storage.

#include <chrono>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "actors/messages.hpp"
#include "common/try.hpp"
#include "proto/registry.pb.h"
#include "registrar/parts.hpp"
#include "registrar/storage.hpp"

namespace stoa::registry {
// Registry and Operation travel as CAF messages between the master and the
// registrar (in-process only).
STOA_DEFINE_PROTOBUF_INSPECT
}  // namespace stoa::registry

namespace stoa::registrar {

// The answer to recover_atom travels in-process only.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ScannedRegistry& x) {
  return f(caf::meta::type_name("stoa.registrar.ScannedRegistry"), x.rest, x.slave_ids, x.slave_infos);
}

using recover_atom = caf::atom_constant<caf::atom("rg_recover")>;
using apply_atom = caf::atom_constant<caf::atom("rg_apply")>;
using loaded_atom = caf::atom_constant<caf::atom("rg_loaded")>;
constexpr recover_atom recover_atom_v{};
constexpr loaded_atom loaded_atom_v{};
constexpr apply_atom apply_atom_v{};

// Mesos' --registry_fetch_timeout and --registry_store_timeout defaults.
constexpr auto DEFAULT_FETCH_TIMEOUT = std::chrono::seconds(60);
constexpr auto DEFAULT_STORE_TIMEOUT = std::chrono::seconds(20);

struct Options {
  std::string backend;     // "in_memory" | "leveldb" | "zookeeper"
  std::string work_dir;    // leveldb: the store lives in <work_dir>/registry (a LevelDB dir)
  std::string zk_connect;  // zookeeper: "h1:p1,h2:p2" (zookeeper::Url::connect_string())
  std::string zk_path;     // zookeeper: the --zk path, e.g. "/mesos"; the registry lives under <zk_path>/registry
  std::chrono::milliseconds zk_session_timeout{10000};
  std::chrono::milliseconds fetch_timeout{DEFAULT_FETCH_TIMEOUT};
  std::chrono::milliseconds store_timeout{DEFAULT_STORE_TIMEOUT};
  // The registrar runs on its own thread; false for tests driven by CAF's
  // test_coordinator (virtual time), which must schedule it (with the
  // in-memory store, which is never detached).
  bool detached = true;
};

// The backend names `Options::backend` accepts.
inline const char* const BACKENDS = "in_memory, leveldb, zookeeper";

// Spawns the storage `options.backend` names and a registrar over it. Error
// for an unknown backend (naming it and the known ones), a missing work_dir
// or ZooKeeper address, or a LevelDB store that cannot be opened (another
// process holds it, ...).
Try<caf::actor> spawn_registrar(caf::actor_system& sys, Options options);

// The text of an error of the registrar (or of a storage): the message it
// carries, else CAF's rendering of the error.
std::string error_text(const caf::error& e);

// The whole registry a recover answered (its admitted slaves parsed), or
// the error naming the slave whose SlaveInfo does not parse.
caf::expected<registry::Registry> recovered_registry(const ScannedRegistry& scan);

// A registrar over a storage spawned by the caller (tests, or a storage of
// its own). Only the timeouts of `options` are used.
caf::actor spawn_registrar(caf::actor_system& sys, Storage storage, Options options);

}  // namespace stoa::registrar
