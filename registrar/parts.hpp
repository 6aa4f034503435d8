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

// What a new leader needs of a stored registry, read without parsing every
// admitted slave: the admitted slaves' ids and their SlaveInfos as encoded
// (parsed when someone reads one), and everything else parsed. At 50,000
// slaves it takes a small part of a full parse (issue #17).
struct ScannedRegistry {
  registry::Registry rest;               // all but the admitted slaves
  std::vector<std::string> slave_ids;    // admitted, in the registry's order
  std::vector<std::string> slave_infos;  // slave_infos[i]: the SlaveInfo of slave_ids[i], encoded
};

// Reads the concatenation of `parts` (any split) as join_registry does,
// parsing everything but the admitted slaves' SlaveInfos, of which it takes
// the id. An admitted slave without an id is left out. Error when the
// bytes are not a Registry's encoding, or an admitted slave's encoding is
// broken where the id is read; a SlaveInfo broken elsewhere is found only
// by a full parse (join_registry).
Try<ScannedRegistry> scan_registry(const std::vector<std::string>& parts);

// The Registry `scan` was read from (the admitted slaves parsed). Error
// naming the slave whose SlaveInfo does not parse.
Try<registry::Registry> to_registry(const ScannedRegistry& scan);

}  // namespace stoa::registrar
