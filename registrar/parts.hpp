#pragma once
// How a Registry is laid out for storage (docs/registrar.md, "Parts").
//
// A stored registry is a list of parts whose concatenation is the Registry's
// protobuf encoding (concatenated encodings of a message merge: repeated
// fields append). Part 0 holds the master, weights, quotas, removed
// frameworks and the maintenance schedule; part 1 + b holds the admitted, unreachable and gone slaves
// whose id hashes to bucket b (FNV-1a 64 of the id, modulo REGISTRY_BUCKETS). A change to one slave
// changes one part, so a storage that writes only the parts that changed
// writes O(1) bytes per slave operation however large the registry is.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/try.hpp"
#include "proto/registry.pb.h"

namespace stoa::registrar {

// With 50,000 slaves of ~450 bytes, a bucket holds ~90 KB.
constexpr int REGISTRY_BUCKETS = 256;

// FNV-1a, 64 bits: stable across builds and machines.
uint64_t fnv1a64(std::string_view bytes);

// The bucket of a slave id: 0 .. REGISTRY_BUCKETS - 1.
int bucket_of(std::string_view slave_id);

// 1 + REGISTRY_BUCKETS parts; each is deterministic in the registry's content
// and order (a slave's entry keeps its place within its bucket).
std::vector<std::string> split_registry(const registry::Registry& registry);

// The parts `op` may change: 0 for weights, quotas, removed frameworks and
// maintenance,
// the bucket parts of the slave ids it names.
std::vector<int> parts_touched(const registry::Operation& op);

// Recomputes the parts whose `dirty` flag is set (REQUIRES: `parts` was split
// from a registry that differs from `registry` only in those parts; dirty
// has 1 + REGISTRY_BUCKETS flags). Then parts == split_registry(registry),
// at the cost of the dirty parts only (and a pass over the slave ids).
void update_parts(std::vector<std::string>& parts, const registry::Registry& registry,
                  const std::vector<bool>& dirty);

// The total size of `parts`.
size_t parts_size(const std::vector<std::string>& parts);

// Parses the concatenation of `parts` (any number of parts, any split).
// Error when it is not a Registry, naming its size.
Try<registry::Registry> join_registry(const std::vector<std::string>& parts);

}  // namespace stoa::registrar
