// The in-memory store: Mesos' InMemoryStorage.
#include <caf/all.hpp>

#include "registrar/storage.hpp"

namespace stoa::registrar {

namespace {

struct InMemoryState {
  Stored stored;
  StorageStats stats;
  static inline const char* name = "registry_in_memory";
};

storage_actor::behavior_type in_memory(storage_actor::stateful_pointer<InMemoryState> self) {
  return {
      [self](fetch_atom) { return self->state.stored; },
      [self](store_atom, std::vector<std::string>& parts, uint64_t expected) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (expected != st.stored.version) {
          return caf::make_error(caf::sec::runtime_error,
                                 "the in-memory registry is at version " + std::to_string(st.stored.version) +
                                     ", not " + std::to_string(expected) + ": compare-and-swap lost");
        }
        for (size_t i = 0; i < parts.size(); ++i) {
          if (i >= st.stored.parts.size() || st.stored.parts[i] != parts[i]) {
            st.stats.parts_written++;
            st.stats.bytes_written += parts[i].size();
          }
        }
        st.stored.parts = std::move(parts);
        st.stats.stores++;
        return ++st.stored.version;
      },
      [self](storage_stats_atom) { return self->state.stats; },
  };
}

}  // namespace

Storage spawn_in_memory_storage(caf::actor_system& sys) {
  return Storage{sys.spawn(in_memory), "the in-memory registry",
                 "restart the master (an in-memory registry starts empty)"};
}

}  // namespace stoa::registrar
