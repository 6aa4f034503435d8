// The durable local store: a LevelDB database (Debian's libleveldb) in
// <work_dir>/registry, for a single master that restarts (docs/registrar.md).
//
// Keys: "registry/version" (decimal), "registry/parts" (decimal count) and
// "registry/part/<i>" (part i's bytes). A store writes the parts that
// changed, the count and the new version in one WriteBatch with sync=true:
// it is on disk, whole or not at all, when the store answers. LevelDB's LOCK
// file keeps a second process (or a second open in this one) out.
//
// Every LevelDB call blocks on the disk, so the actor is detached.
#include <charconv>
#include <filesystem>
#include <memory>

#include <caf/all.hpp>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include "registrar/storage.hpp"

namespace stoa::registrar {

namespace {

const std::string VERSION_KEY = "registry/version";
const std::string COUNT_KEY = "registry/parts";
std::string part_key(size_t i) { return "registry/part/" + std::to_string(i); }

// At most 40 bytes of `bytes`, printable.
std::string excerpt(const std::string& bytes) {
  std::string out;
  for (char c : bytes.substr(0, 40)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return "'" + out + (bytes.size() > 40 ? "...'" : "'");
}

struct LevelDbState {
  std::shared_ptr<leveldb::DB> db;  // closed when the actor ends
  std::string dir;
  std::vector<std::string> last;  // the parts as last read or written
  bool last_known = false;
  StorageStats stats;
  static inline const char* name = "registry_leveldb";

  std::string corrupt(const std::string& what) const {
    return "the LevelDB registry " + dir + " is corrupt: " + what + ". Repair it, or move " + dir +
           " aside to start with an empty registry (every slave then registers as a new one)";
  }

  // A decimal key; NotFound -> 0.
  Try<uint64_t> read_number(const std::string& key) const {
    std::string text;
    leveldb::Status s = db->Get(leveldb::ReadOptions(), key, &text);
    if (s.IsNotFound()) {
      return uint64_t{0};
    }
    if (!s.ok()) {
      return Error("reading key '" + key + "' of the LevelDB registry " + dir + ": " + s.ToString());
    }
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
      return Error(corrupt("key '" + key + "' holds " + excerpt(text) + ", not a number"));
    }
    return n;
  }

  Try<Stored> fetch() {
    Try<uint64_t> version = read_number(VERSION_KEY);
    if (version.is_error()) {
      return Error(version.error());
    }
    Try<uint64_t> count = read_number(COUNT_KEY);
    if (count.is_error()) {
      return Error(count.error());
    }
    Stored out;
    out.version = *version;
    for (uint64_t i = 0; i < *count; ++i) {
      std::string part;
      leveldb::Status s = db->Get(leveldb::ReadOptions(), part_key(i), &part);
      if (s.IsNotFound()) {
        return Error(corrupt("key '" + part_key(i) + "' is missing (" + COUNT_KEY + " says " +
                             std::to_string(*count) + " parts)"));
      }
      if (!s.ok()) {
        return Error("reading key '" + part_key(i) + "' of the LevelDB registry " + dir + ": " + s.ToString());
      }
      out.parts.push_back(std::move(part));
    }
    last = out.parts;
    last_known = true;
    return out;
  }

  Try<uint64_t> store(std::vector<std::string>& parts, uint64_t expected) {
    Try<uint64_t> version = read_number(VERSION_KEY);
    if (version.is_error()) {
      return Error(version.error());
    }
    if (*version != expected) {
      return Error("the LevelDB registry " + dir + " is at version " + std::to_string(*version) + ", not " +
                   std::to_string(expected) + ": compare-and-swap lost");
    }
    leveldb::WriteBatch batch;
    uint64_t written = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!last_known || i >= last.size() || last[i] != parts[i]) {
        batch.Put(part_key(i), parts[i]);
        written++;
        bytes += parts[i].size();
      }
    }
    Try<uint64_t> old_count = read_number(COUNT_KEY);
    for (uint64_t i = parts.size(); old_count && i < *old_count; ++i) {
      batch.Delete(part_key(i));
    }
    batch.Put(COUNT_KEY, std::to_string(parts.size()));
    batch.Put(VERSION_KEY, std::to_string(expected + 1));
    leveldb::WriteOptions sync;
    sync.sync = true;
    leveldb::Status s = db->Write(sync, &batch);
    if (!s.ok()) {
      last_known = false;  // unknown what is on disk now
      return Error("writing the LevelDB registry " + dir + ": " + s.ToString());
    }
    last = std::move(parts);
    last_known = true;
    stats.stores++;
    stats.parts_written += written;
    stats.bytes_written += bytes;
    return expected + 1;
  }
};

storage_actor::behavior_type leveldb_storage(storage_actor::stateful_pointer<LevelDbState> self,
                                             std::shared_ptr<leveldb::DB> db, std::string dir) {
  auto& st = self->state;
  st.db = std::move(db);
  st.dir = std::move(dir);
  return {
      [self](fetch_atom) -> caf::result<Stored> {
        Try<Stored> stored = self->state.fetch();
        if (stored.is_error()) {
          return caf::make_error(caf::sec::runtime_error, stored.error());
        }
        return std::move(stored).get();
      },
      [self](store_atom, std::vector<std::string>& parts, uint64_t expected) -> caf::result<uint64_t> {
        Try<uint64_t> version = self->state.store(parts, expected);
        if (version.is_error()) {
          return caf::make_error(caf::sec::runtime_error, version.error());
        }
        return *version;
      },
      [self](storage_stats_atom) { return self->state.stats; },
  };
}

}  // namespace

Try<Storage> spawn_leveldb_storage(caf::actor_system& sys, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(dir).parent_path(), ec);
  leveldb::Options options;
  options.create_if_missing = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    std::string text = s.ToString();
    if (s.IsIOError() && text.find("lock") != std::string::npos) {
      return Error("cannot open the LevelDB registry " + dir +
                   ": another process holds it (is another stoa-master running with the same --work_dir?): " +
                   text);
    }
    return Error("cannot open the LevelDB registry " + dir + ": " + text +
                 (s.IsCorruption() ? "; repair it, or move it aside to start with an empty registry" : ""));
  }
  std::shared_ptr<leveldb::DB> db(raw);
  return Storage{sys.spawn<caf::detached>(leveldb_storage, std::move(db), dir), "the LevelDB store " + dir,
                 "move " + dir + " aside"};
}

}  // namespace stoa::registrar
