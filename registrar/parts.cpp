#include "registrar/parts.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

namespace stoa::registrar {

using registry::Registry;

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

int bucket_of(std::string_view slave_id) {
  return static_cast<int>(fnv1a64(slave_id) % REGISTRY_BUCKETS);
}

namespace {

void append_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Appends field `number` (wire type 2, length-delimited) holding `bytes`.
void append_field(std::string& out, int number, const std::string& bytes) {
  append_varint(out, (static_cast<uint64_t>(number) << 3) | 2);
  append_varint(out, bytes.size());
  out += bytes;
}

// Appends a Registry holding only `entry` in field `list` (slaves,
// unreachable or gone) of the Registry: field `list` { field 1 { entry } }.
template <class Entry>
void append_entry(std::string& out, int list, const Entry& entry) {
  std::string inner;
  append_field(inner, 1, entry.SerializeAsString());
  append_field(out, list, inner);
}

}  // namespace

std::vector<std::string> split_registry(const Registry& registry) {
  std::vector<std::string> parts(1 + REGISTRY_BUCKETS);
  Registry meta;
  if (registry.has_master()) {
    *meta.mutable_master() = registry.master();
  }
  *meta.mutable_weights() = registry.weights();
  *meta.mutable_quotas() = registry.quotas();
  parts[0] = meta.SerializeAsString();
  for (const SlaveInfo& s : registry.slaves().slaves()) {
    append_entry(parts[1 + bucket_of(s.id().value())], Registry::kSlavesFieldNumber, s);
  }
  for (const auto& s : registry.unreachable().slaves()) {
    append_entry(parts[1 + bucket_of(s.id().value())], Registry::kUnreachableFieldNumber, s);
  }
  for (const auto& s : registry.gone().slaves()) {
    append_entry(parts[1 + bucket_of(s.id().value())], Registry::kGoneFieldNumber, s);
  }
  return parts;
}

size_t parts_size(const std::vector<std::string>& parts) {
  size_t n = 0;
  for (const std::string& p : parts) {
    n += p.size();
  }
  return n;
}

Try<Registry> join_registry(const std::vector<std::string>& parts) {
  std::string bytes;
  bytes.reserve(parts_size(parts));
  for (const std::string& p : parts) {
    bytes += p;
  }
  Registry registry;
  google::protobuf::io::ArrayInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream in(&stream);
  in.SetTotalBytesLimit(INT32_MAX);
  if (!registry.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage()) {
    return Error("the stored registry (" + std::to_string(bytes.size()) +
                 " bytes) does not parse as a Registry protobuf");
  }
  return registry;
}

}  // namespace stoa::registrar
