#pragma once
// Where the registrar keeps the registry: a versioned list of parts
// (registrar/parts.hpp) with compare-and-swap, one actor per store.
//
//   (fetch_atom) -> Stored: what is stored (no parts and version 0 when
//       nothing is), and its version;
//   (store_atom, parts, uint64_t expected) -> uint64_t: replaces what is
//       stored if its version is still `expected` and answers the new
//       version. An error when it is not (another writer changed it: the
//       compare-and-swap is lost), or when the write failed; the error names
//       the store and the cause. A storage writes only the parts that differ
//       from what it last read or wrote.
//   (storage_stats_atom) -> StorageStats: counters for logs and tests.
// A registrar sends one request at a time and waits for its answer.
//
// Backends, one file each: in_memory_storage.cpp, leveldb_storage.cpp,
// zookeeper_storage.cpp. Blocking I/O runs on a detached actor.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/typed_actor.hpp>
#include <caf/replies_to.hpp>

#include "common/try.hpp"

namespace caf {
class actor_system;
}

namespace stoa::registrar {

struct Stored {
  std::vector<std::string> parts;
  uint64_t version = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Stored& x) {
  return f(caf::meta::type_name("stoa.registrar.Stored"), x.parts, x.version);
}

struct StorageStats {
  uint64_t stores = 0;          // successful stores
  uint64_t parts_written = 0;   // parts (LevelDB keys, in-memory parts) or chunks (ZooKeeper nodes) written
  uint64_t bytes_written = 0;   // their bytes
  uint64_t chunks_deleted = 0;  // ZooKeeper: chunk nodes deleted (replaced, or leftovers)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, StorageStats& x) {
  return f(caf::meta::type_name("stoa.registrar.StorageStats"), x.stores, x.parts_written, x.bytes_written,
           x.chunks_deleted);
}

using fetch_atom = caf::atom_constant<caf::atom("rg_fetch")>;
using store_atom = caf::atom_constant<caf::atom("rg_store")>;
using storage_stats_atom = caf::atom_constant<caf::atom("rg_stats")>;
constexpr fetch_atom fetch_atom_v{};
constexpr store_atom store_atom_v{};
constexpr storage_stats_atom storage_stats_atom_v{};

using storage_actor =
    caf::typed_actor<caf::replies_to<fetch_atom>::with<Stored>,
                     caf::replies_to<store_atom, std::vector<std::string>, uint64_t>::with<uint64_t>,
                     caf::replies_to<storage_stats_atom>::with<StorageStats>>;

// A spawned store and how to name it to an operator.
struct Storage {
  storage_actor actor;
  std::string description;  // "the LevelDB store /var/lib/stoa/registry"
  std::string reset_hint;   // how to start over: "move /var/lib/stoa/registry aside"
};

// Lost with the process (Mesos' --registry=in_memory).
Storage spawn_in_memory_storage(caf::actor_system& sys);

// A LevelDB database in `dir` (created if missing), opened here (in the
// caller) so that a store another process holds is refused at once: Error
// names the directory and says so. Its actor is detached.
Try<Storage> spawn_leveldb_storage(caf::actor_system& sys, const std::string& dir);

struct ZooKeeperStorageOptions {
  std::string connect;  // "h1:p1,h2:p2"
  std::string path;     // the --zk path; the registry lives under <path>/registry
  std::chrono::milliseconds session_timeout{10000};
};

// The registry in ZooKeeper under <path>/registry (docs/registrar.md): its
// own client session, started by the first fetch or store; Error for a path
// that is not absolute.
Try<Storage> spawn_zookeeper_storage(caf::actor_system& sys, ZooKeeperStorageOptions options);

}  // namespace stoa::registrar
