// The registry in ZooKeeper (docs/registrar.md, "The ZooKeeper store").
//
// <path>/registry is the manifest node: its data is a registry::Manifest (or
// empty: nothing stored yet) and its data version is the registry's version.
// Its children chunk-<10 digits> (sequential, so no two writers ever create
// the same name) hold the bytes, each at most CHUNK_BYTES, well under
// ZooKeeper's 1 MB node limit (jute.maxbuffer). A store creates chunks for
// the parts that changed, then sets the manifest with the version it read:
// that compare-and-swap is the one commit point. After it succeeds, chunks
// the old manifest listed and the new one does not are deleted, and after
// the first store following a fetch, every child the manifest does not list
// (leftovers of writers whose commit failed). A writer whose commit lost
// never deletes anything, so no live manifest ever loses a chunk; a reader
// that finds a chunk missing re-reads the manifest and starts over if it
// changed meanwhile.
#include <zookeeper/zookeeper.h>

#include <chrono>
#include <functional>
#include <memory>
#include <set>

#include <caf/all.hpp>
#include <glog/logging.h>

#include "actors/zookeeper.hpp"
#include "proto/registry.pb.h"
#include "registrar/parts.hpp"
#include "registrar/storage.hpp"

namespace stoa::registrar {

namespace zk = stoa::zookeeper;

namespace {

// The largest chunk: half of ZooKeeper's default 1 MB limit, leaving room
// for the request's own framing.
constexpr size_t CHUNK_BYTES = 512 * 1024;
// The manifest must fit one node too.
constexpr size_t MANIFEST_LIMIT = 900 * 1024;
constexpr uint32_t MANIFEST_FORMAT = 1;
// A fetch that keeps racing a writer's garbage collection gives up after this many tries.
constexpr int FETCH_ATTEMPTS = 5;
// A fetch starts over after a connection loss (each one is a connection to a
// server that failed: the C client then tries the next server; a new session
// meets one for each server of its list that is down) at most this often.
constexpr int FETCH_CONNECTION_LOSSES = 10;
const std::string CHUNK_PREFIX = "chunk-";

caf::error storage_error(std::string text) { return caf::make_error(caf::sec::runtime_error, std::move(text)); }

std::string text_of(const caf::error& e) {
  const caf::message& context = e.context();
  if (!context.empty() && context.match_element<std::string>(0)) {
    return context.get_as<std::string>(0);
  }
  return caf::to_string(e);
}

struct ZkState;
using zk_storage = storage_actor::stateful_pointer<ZkState>;

// One fetch in progress.
struct Fetch {
  caf::response_promise promise;
  int attempt = 0;
  int connection_losses = 0;
  int version = 0;
  registry::Manifest manifest;
  std::vector<std::vector<std::string>> chunks;  // [part][chunk]
  size_t pending = 0;
  bool done = false;
  // For the log line of a fetch: when it was asked for, when the manifest
  // came (every chunk is then requested at once: the C client pipelines
  // them on the session).
  std::chrono::steady_clock::time_point asked = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point manifest_at;
};

// One store in progress.
struct Store {
  caf::response_promise promise;
  std::vector<std::string> parts;
  uint64_t expected = 0;
  registry::Manifest manifest;
  std::vector<std::string> created;  // chunk names, for cleanup on failure
  size_t pending = 0;
  uint64_t bytes = 0;
  bool done = false;
};

struct ZkState {
  zk_storage self = nullptr;
  // The session starts with the first request (a master's recovery, once it
  // is elected), not when the storage is spawned: a standby master's session
  // could expire while it stands by (ZooKeeper losing its quorum for longer
  // than the session timeout), and the expired client refuses every request,
  // so that master would fail its recovery once elected.
  zk::ClientOptions client_options;
  caf::actor client;
  std::string path;  // the --zk path
  std::string root;  // <path>/registry, the manifest node
  // What was last read or written (for writing only what changed).
  bool known = false;
  int version = 0;
  registry::Manifest manifest;
  std::vector<std::string> parts;
  bool collect_leftovers = false;  // after the next successful store
  StorageStats stats;
  static inline const char* name = "registry_zookeeper";

  std::string corrupt(const std::string& what) const {
    return "the ZooKeeper registry " + root + " is corrupt: " + what + ". Repair it, or delete " + root +
           " and its children to start with an empty registry (every slave then registers as a new one)";
  }
  std::string chunk_path(const std::string& name) const { return root + "/" + name; }

  void connect() {
    if (!client) {
      client = zk::spawn_client(self->system(), client_options);
      self->link_to(client);
    }
  }

  void ensure(std::vector<std::string> nodes, size_t i, std::function<void()> then,
              std::function<void(const caf::error&)> failed);
  void start_fetch(std::shared_ptr<Fetch> f);
  bool fetch_again_after(std::shared_ptr<Fetch> f, const caf::error& e);
  void fetch(std::shared_ptr<Fetch> f);
  void on_manifest(std::shared_ptr<Fetch> f, const std::string& data, int version);
  void on_chunk(std::shared_ptr<Fetch> f, size_t part, size_t chunk, std::string& data);
  void on_missing_chunk(std::shared_ptr<Fetch> f, const std::string& name);
  void finish_fetch(std::shared_ptr<Fetch> f);
  void store(std::shared_ptr<Store> s);
  void commit(std::shared_ptr<Store> s);
  void on_committed(std::shared_ptr<Store> s, int version);
  void fail_store(std::shared_ptr<Store> s, std::string why);
  void remove_chunk(const std::string& name);
};

// "/a/b/registry" -> {"/a", "/a/b", "/a/b/registry"}
std::vector<std::string> ancestors_and_self(const std::string& path) {
  std::vector<std::string> out;
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    out.push_back(path.substr(0, at));
  }
  out.push_back(path);
  return out;
}

// Creates each of `nodes` in turn (absent ones; ZNODEEXISTS is fine).
void ZkState::ensure(std::vector<std::string> nodes, size_t i, std::function<void()> then,
                     std::function<void(const caf::error&)> failed) {
  if (i == nodes.size()) {
    then();
    return;
  }
  std::string node = nodes[i];
  self->request(client, caf::infinite, zk::create_atom_v, node, std::string(), zk::PERSISTENT)
      .then([this, nodes, i, then, failed](const std::string&) { ensure(nodes, i + 1, then, failed); },
            [this, nodes, i, then, failed](const caf::error& e) {
              if (zk::zookeeper_error_code(e) == ZNODEEXISTS) {
                ensure(nodes, i + 1, then, failed);
              } else {
                failed(e);
              }
            });
}

// The registry's path (created where missing), then the fetch.
void ZkState::start_fetch(std::shared_ptr<Fetch> f) {
  ensure(
      ancestors_and_self(root), 0, [this, f] { fetch(f); },
      [this, f](const caf::error& e) {
        if (!fetch_again_after(f, e)) {
          f->promise.deliver(storage_error("creating the ZooKeeper registry " + root + ": " + text_of(e)));
        }
      });
}

// A read met a connection loss: reads and creates of existing nodes may be
// repeated, so the fetch starts over (true), a bounded number of times.
bool ZkState::fetch_again_after(std::shared_ptr<Fetch> f, const caf::error& e) {
  if (f->done || zk::zookeeper_error_code(e) != ZCONNECTIONLOSS ||
      f->connection_losses + 1 >= FETCH_CONNECTION_LOSSES) {
    return false;
  }
  f->done = true;
  auto again = std::make_shared<Fetch>();
  again->promise = f->promise;
  again->attempt = f->attempt;
  again->connection_losses = f->connection_losses + 1;
  again->asked = f->asked;
  LOG(WARNING) << "Reading the ZooKeeper registry " << root << " met a connection loss (" << again->connection_losses
               << " of at most " << FETCH_CONNECTION_LOSSES - 1 << "); reading it again";
  start_fetch(again);
  return true;
}

void ZkState::fetch(std::shared_ptr<Fetch> f) {
  self->request(client, caf::infinite, zk::get_version_atom_v, root)
      .then([this, f](std::string& data, int version) { on_manifest(f, data, version); },
            [this, f](const caf::error& e) {
              if (!fetch_again_after(f, e)) {
                f->promise.deliver(storage_error("reading the ZooKeeper registry " + root + ": " + text_of(e)));
              }
            });
}

void ZkState::on_manifest(std::shared_ptr<Fetch> f, const std::string& data, int version) {
  f->version = version;
  f->manifest_at = std::chrono::steady_clock::now();
  if (data.empty()) {
    finish_fetch(f);
    return;
  }
  if (!f->manifest.ParseFromString(data)) {
    f->promise.deliver(storage_error(corrupt("its manifest (" + std::to_string(data.size()) +
                                             " bytes, version " + std::to_string(version) +
                                             ") is not a registry manifest")));
    return;
  }
  if (f->manifest.format() != MANIFEST_FORMAT) {
    f->promise.deliver(storage_error(corrupt("its manifest has format " + std::to_string(f->manifest.format()) +
                                             "; this Stoa reads format " + std::to_string(MANIFEST_FORMAT))));
    return;
  }
  f->chunks.assign(f->manifest.parts_size(), {});
  for (int p = 0; p < f->manifest.parts_size(); ++p) {
    f->chunks[p].resize(f->manifest.parts(p).chunks_size());
    f->pending += f->manifest.parts(p).chunks_size();
  }
  if (f->pending == 0) {
    finish_fetch(f);
    return;
  }
  for (int p = 0; p < f->manifest.parts_size(); ++p) {
    for (int c = 0; c < f->manifest.parts(p).chunks_size(); ++c) {
      const std::string name = f->manifest.parts(p).chunks(c).name();
      self->request(client, caf::infinite, zk::get_atom_v, chunk_path(name))
          .then([this, f, p, c](std::string& bytes) { on_chunk(f, p, c, bytes); },
                [this, f, name](const caf::error& e) {
                  if (f->done) {
                    return;
                  }
                  if (zk::zookeeper_error_code(e) == ZNONODE) {
                    on_missing_chunk(f, name);
                    return;
                  }
                  if (fetch_again_after(f, e)) {
                    return;
                  }
                  f->done = true;
                  f->promise.deliver(storage_error("reading chunk " + chunk_path(name) + ": " + text_of(e)));
                });
    }
  }
}

void ZkState::on_chunk(std::shared_ptr<Fetch> f, size_t part, size_t chunk, std::string& data) {
  if (f->done) {
    return;
  }
  const registry::Manifest::Chunk& want = f->manifest.parts(part).chunks(chunk);
  if (data.size() != want.size() || fnv1a64(data) != want.hash()) {
    f->done = true;
    f->promise.deliver(storage_error(corrupt("chunk " + chunk_path(want.name()) + " holds " +
                                             std::to_string(data.size()) + " bytes that do not match the manifest (" +
                                             std::to_string(want.size()) + " bytes and their hash)")));
    return;
  }
  f->chunks[part][chunk] = std::move(data);
  if (--f->pending == 0) {
    finish_fetch(f);
  }
}

// A chunk the manifest lists is gone: either a writer replaced the manifest
// and collected the chunk meanwhile (read again), or the store is corrupt.
void ZkState::on_missing_chunk(std::shared_ptr<Fetch> f, const std::string& name) {
  f->done = true;
  self->request(client, caf::infinite, zk::get_version_atom_v, root)
      .then(
          [this, f, name](std::string&, int version) {
            if (version != f->version && f->attempt + 1 < FETCH_ATTEMPTS) {
              auto again = std::make_shared<Fetch>();
              again->promise = f->promise;
              again->attempt = f->attempt + 1;
              again->connection_losses = f->connection_losses;
              fetch(again);
              return;
            }
            f->promise.deliver(storage_error(corrupt("chunk " + chunk_path(name) + ", listed by its manifest (version " +
                                                     std::to_string(f->version) + "), is missing")));
          },
          [this, f](const caf::error& e) {
            f->promise.deliver(storage_error("reading the ZooKeeper registry " + root + ": " + text_of(e)));
          });
}

void ZkState::finish_fetch(std::shared_ptr<Fetch> f) {
  f->done = true;
  if (f->pending == 0 && !f->chunks.empty()) {
    auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
    size_t count = 0;
    size_t bytes = 0;
    for (const auto& chunks : f->chunks) {
      count += chunks.size();
      for (const std::string& c : chunks) {
        bytes += c.size();
      }
    }
    auto now = std::chrono::steady_clock::now();
    LOG(INFO) << "Read " << root << ": the manifest after " << ms(f->manifest_at - f->asked) << " ms, then its "
              << count << " chunks (" << bytes << " bytes, requested at once) in " << ms(now - f->manifest_at)
              << " ms";
  }
  Stored out;
  out.version = static_cast<uint64_t>(f->version);
  for (auto& chunks : f->chunks) {
    std::string part;
    for (std::string& c : chunks) {
      part += c;
    }
    out.parts.push_back(std::move(part));
  }
  known = true;
  version = f->version;
  manifest = f->manifest;
  parts = out.parts;
  collect_leftovers = true;
  f->promise.deliver(std::move(out));
}

void ZkState::store(std::shared_ptr<Store> s) {
  s->manifest.set_format(MANIFEST_FORMAT);
  bool reuse = known && s->expected == static_cast<uint64_t>(version);
  struct Piece {
    int part;
    int chunk;
    std::string data;
  };
  std::vector<Piece> pieces;
  for (size_t p = 0; p < s->parts.size(); ++p) {
    registry::Manifest::Part* part = s->manifest.add_parts();
    if (reuse && p < parts.size() && parts[p] == s->parts[p] && static_cast<int>(p) < manifest.parts_size()) {
      *part = manifest.parts(static_cast<int>(p));
      continue;
    }
    const std::string& bytes = s->parts[p];
    for (size_t at = 0; at < bytes.size(); at += CHUNK_BYTES) {
      std::string data = bytes.substr(at, CHUNK_BYTES);
      registry::Manifest::Chunk* chunk = part->add_chunks();
      chunk->set_size(data.size());
      chunk->set_hash(fnv1a64(data));
      pieces.push_back(Piece{static_cast<int>(p), part->chunks_size() - 1, std::move(data)});
    }
  }
  s->pending = pieces.size();
  if (s->pending == 0) {
    commit(s);
    return;
  }
  for (Piece& piece : pieces) {
    s->bytes += piece.data.size();
    int p = piece.part;
    int c = piece.chunk;
    self->request(client, caf::infinite, zk::create_atom_v, chunk_path(CHUNK_PREFIX), std::move(piece.data),
                  zk::PERSISTENT | zk::SEQUENTIAL)
        .then(
            [this, s, p, c](const std::string& created) {
              std::string name = created.substr(created.rfind('/') + 1);
              s->created.push_back(name);
              s->manifest.mutable_parts(p)->mutable_chunks(c)->set_name(name);
              if (--s->pending == 0 && !s->done) {
                commit(s);
              }
            },
            [this, s](const caf::error& e) { fail_store(s, "creating a chunk under " + root + ": " + text_of(e)); });
  }
}

void ZkState::commit(std::shared_ptr<Store> s) {
  std::string data = s->manifest.SerializeAsString();
  if (data.size() > MANIFEST_LIMIT) {
    fail_store(s, "its manifest would be " + std::to_string(data.size()) + " bytes, over the limit of " +
                      std::to_string(MANIFEST_LIMIT));
    return;
  }
  self->request(client, caf::infinite, zk::set_atom_v, root, data, static_cast<int>(s->expected))
      .then([this, s](int new_version) { on_committed(s, new_version); },
            [this, s](const caf::error& e) {
              if (zk::zookeeper_error_code(e) == ZBADVERSION) {
                fail_store(s, "compare-and-swap lost: " + root + " is no longer at version " +
                                  std::to_string(s->expected) + " (another master changed the registry)");
              } else {
                fail_store(s, "setting the manifest " + root + ": " + text_of(e));
              }
            });
}

void ZkState::on_committed(std::shared_ptr<Store> s, int new_version) {
  s->done = true;
  std::set<std::string> live;
  for (const auto& part : s->manifest.parts()) {
    for (const auto& chunk : part.chunks()) {
      live.insert(chunk.name());
    }
  }
  if (known) {
    for (const auto& part : manifest.parts()) {
      for (const auto& chunk : part.chunks()) {
        if (live.count(chunk.name()) == 0) {
          remove_chunk(chunk.name());
        }
      }
    }
  }
  if (collect_leftovers) {
    collect_leftovers = false;
    self->request(client, caf::infinite, zk::children_atom_v, root)
        .then(
            [this, live](std::vector<std::string>& children) {
              for (const std::string& child : children) {
                if (live.count(child) == 0 && child.rfind(CHUNK_PREFIX, 0) == 0) {
                  remove_chunk(child);
                }
              }
            },
            [this](const caf::error& e) {
              LOG(WARNING) << "Could not list " << root << " to delete leftover chunks: " << text_of(e);
            });
  }
  known = true;
  version = new_version;
  manifest = std::move(s->manifest);
  parts = std::move(s->parts);
  stats.stores++;
  stats.parts_written += s->created.size();
  stats.bytes_written += s->bytes;
  s->promise.deliver(static_cast<uint64_t>(new_version));
}

void ZkState::fail_store(std::shared_ptr<Store> s, std::string why) {
  if (s->done) {
    return;
  }
  s->done = true;
  // Our chunks are orphans now; a later recovery collects any we miss here.
  for (const std::string& name : s->created) {
    remove_chunk(name);
  }
  known = false;
  s->promise.deliver(storage_error("storing the registry in ZooKeeper " + root + ": " + why));
}

void ZkState::remove_chunk(const std::string& name) {
  stats.chunks_deleted++;
  self->request(client, caf::infinite, zk::delete_atom_v, chunk_path(name))
      .then([](bool) {},
            [this, name](const caf::error& e) {
              LOG(WARNING) << "Could not delete " << chunk_path(name) << ": " << text_of(e);
            });
}

storage_actor::behavior_type zookeeper_storage(zk_storage self, zk::ClientOptions client_options,
                                               std::string path) {
  auto& st = self->state;
  st.self = self;
  st.client_options = std::move(client_options);
  st.path = path;
  st.root = (path == "/" ? "" : path) + "/registry";
  return {
      [self](fetch_atom) -> caf::result<Stored> {
        auto& st = self->state;
        st.connect();
        auto f = std::make_shared<Fetch>();
        f->promise = self->make_response_promise();
        st.start_fetch(f);
        return f->promise;
      },
      [self](store_atom, std::vector<std::string>& parts, uint64_t expected) -> caf::result<uint64_t> {
        auto s = std::make_shared<Store>();
        s->promise = self->make_response_promise();
        s->parts = std::move(parts);
        s->expected = expected;
        self->state.connect();
        self->state.store(s);
        return s->promise;
      },
      [self](storage_stats_atom) { return self->state.stats; },
  };
}

}  // namespace

Try<Storage> spawn_zookeeper_storage(caf::actor_system& sys, ZooKeeperStorageOptions options) {
  if (options.path.empty() || options.path[0] != '/' || (options.path.size() > 1 && options.path.back() == '/')) {
    return Error("the ZooKeeper registry path '" + options.path + "' is not an absolute path like /mesos");
  }
  std::string root = (options.path == "/" ? "" : options.path) + "/registry";
  return Storage{sys.spawn<caf::detached>(zookeeper_storage,
                                          zk::ClientOptions{options.connect, options.session_timeout, {}},
                                          options.path),
                 "ZooKeeper (" + options.connect + ") node " + root, "delete " + root + " and its children"};
}

}  // namespace stoa::registrar
