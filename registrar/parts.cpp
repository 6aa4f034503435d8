#include "registrar/parts.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>

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

void update_parts(std::vector<std::string>& parts, const Registry& registry, const std::vector<bool>& dirty) {
  parts.resize(1 + REGISTRY_BUCKETS);
  if (dirty[0]) {
    Registry meta;
    if (registry.has_master()) {
      *meta.mutable_master() = registry.master();
    }
    *meta.mutable_weights() = registry.weights();
    *meta.mutable_quotas() = registry.quotas();
    if (registry.has_removed_frameworks()) {
      *meta.mutable_removed_frameworks() = registry.removed_frameworks();
    }
    if (registry.has_maintenance()) {
      *meta.mutable_maintenance() = registry.maintenance();
    }
    parts[0] = meta.SerializeAsString();
  }
  for (size_t p = 1; p < parts.size(); ++p) {
    if (dirty[p]) {
      parts[p].clear();
    }
  }
  auto add = [&](int list, const auto& entry) {
    size_t p = 1 + static_cast<size_t>(bucket_of(entry.id().value()));
    if (dirty[p]) {
      append_entry(parts[p], list, entry);
    }
  };
  for (const SlaveInfo& s : registry.slaves().slaves()) {
    add(Registry::kSlavesFieldNumber, s);
  }
  for (const auto& s : registry.unreachable().slaves()) {
    add(Registry::kUnreachableFieldNumber, s);
  }
  for (const auto& s : registry.gone().slaves()) {
    add(Registry::kGoneFieldNumber, s);
  }
}

std::vector<std::string> split_registry(const Registry& registry) {
  std::vector<std::string> parts;
  update_parts(parts, registry, std::vector<bool>(1 + REGISTRY_BUCKETS, true));
  return parts;
}

std::vector<int> parts_touched(const registry::Operation& op) {
  using registry::Operation;
  auto part_of = [](const std::string& id) { return 1 + bucket_of(id); };
  switch (op.operation_case()) {
    case Operation::kAdmitSlave: return {part_of(op.admit_slave().info().id().value())};
    case Operation::kUpdateSlave: return {part_of(op.update_slave().info().id().value())};
    case Operation::kMarkSlaveUnreachable: return {part_of(op.mark_slave_unreachable().slave_id().value())};
    case Operation::kMarkSlaveReachable: return {part_of(op.mark_slave_reachable().info().id().value())};
    case Operation::kRemoveSlave: return {part_of(op.remove_slave().slave_id().value())};
    case Operation::kMarkSlaveGone: return {part_of(op.mark_slave_gone().slave_id().value())};
    case Operation::kPruneUnreachable: {
      std::vector<int> out;
      for (const SlaveID& id : op.prune_unreachable().slave_ids()) {
        out.push_back(part_of(id.value()));
      }
      return out;
    }
    case Operation::kUpdateWeights:
    case Operation::kUpdateQuota:
    case Operation::kRemoveQuota:
    case Operation::kMarkFrameworkRemoved:
    case Operation::kUpdateMaintenance: return {0};
    case Operation::OPERATION_NOT_SET: break;
  }
  return {};
}

size_t parts_size(const std::vector<std::string>& parts) {
  size_t n = 0;
  for (const std::string& p : parts) {
    n += p.size();
  }
  return n;
}

namespace {

std::string joined(const std::vector<std::string>& parts) {
  std::string bytes;
  bytes.reserve(parts_size(parts));
  for (const std::string& p : parts) {
    bytes += p;
  }
  return bytes;
}

using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

// A reader of `bytes` (CodedInputStream can be neither copied nor moved).
struct Reader {
  explicit Reader(std::string_view bytes)
      : in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size())) {
    in.SetTotalBytesLimit(INT32_MAX);
  }
  CodedInputStream in;
};

constexpr uint32_t length_delimited(int field) {
  return (static_cast<uint32_t>(field) << 3) | WireFormatLite::WIRETYPE_LENGTH_DELIMITED;
}

// The bytes of the length-delimited field whose tag `in` has just read
// (`base`: the start of what `in` reads).
bool read_delimited(CodedInputStream& in, const char* base, std::string_view* out) {
  uint32_t size = 0;
  if (!in.ReadVarint32(&size)) {
    return false;
  }
  const int at = in.CurrentPosition();
  if (!in.Skip(static_cast<int>(size))) {
    return false;
  }
  *out = std::string_view(base + at, size);
  return true;
}

// Reads the fields of the message `bytes`, calling on_field(tag, in) for
// each (it consumes the field's value; false = broken). False when the
// bytes are not a message's encoding.
template <class OnField>
bool for_each_field(std::string_view bytes, OnField on_field) {
  Reader r(bytes);
  CodedInputStream& in = r.in;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      return in.ConsumedEntireMessage();
    }
    if (!on_field(tag, in)) {
      return false;
    }
  }
}

// The id of an encoded SlaveInfo (SlaveInfo.id, SlaveID.value; the last
// occurrence of each wins, as in a parse): has_id false when it has none;
// false when the bytes on the way are broken.
bool slave_info_id(std::string_view info, bool* has_id, std::string* id) {
  *has_id = false;
  return for_each_field(info, [&](uint32_t tag, CodedInputStream& in) {
    if (tag != length_delimited(SlaveInfo::kIdFieldNumber)) {
      return WireFormatLite::SkipField(&in, tag);
    }
    std::string_view slave_id;
    if (!read_delimited(in, info.data(), &slave_id)) {
      return false;
    }
    *has_id = true;
    return for_each_field(slave_id, [&](uint32_t t, CodedInputStream& sub) {
      if (t != length_delimited(SlaveID::kValueFieldNumber)) {
        return WireFormatLite::SkipField(&sub, t);
      }
      std::string_view value;
      if (!read_delimited(sub, slave_id.data(), &value)) {
        return false;
      }
      id->assign(value);
      return true;
    });
  });
}

}  // namespace

Try<ScannedRegistry> scan_registry(const std::vector<std::string>& parts) {
  const std::string bytes = joined(parts);
  ScannedRegistry scan;
  std::string rest;  // the encoding of every field but the admitted slaves
  Reader r(bytes);
  CodedInputStream& in = r.in;
  bool ok = true;
  while (ok) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    if (tag == 0) {
      ok = in.ConsumedEntireMessage();
      break;
    }
    if (tag != length_delimited(Registry::kSlavesFieldNumber)) {
      ok = WireFormatLite::SkipField(&in, tag);
      rest.append(bytes, static_cast<size_t>(start), static_cast<size_t>(in.CurrentPosition() - start));
      continue;
    }
    std::string_view slaves;
    ok = read_delimited(in, bytes.data(), &slaves) &&
         for_each_field(slaves, [&](uint32_t t, CodedInputStream& list) {
           if (t != length_delimited(registry::Slaves::kSlavesFieldNumber)) {
             return WireFormatLite::SkipField(&list, t);
           }
           std::string_view info;
           bool has_id = false;
           std::string id;
           if (!read_delimited(list, slaves.data(), &info) || !slave_info_id(info, &has_id, &id)) {
             return false;
           }
           if (has_id) {
             scan.slave_ids.push_back(std::move(id));
             scan.slave_infos.emplace_back(info);
           }
           return true;
         });
  }
  if (!ok || !scan.rest.ParseFromString(rest)) {
    return Error("the stored registry (" + std::to_string(bytes.size()) +
                 " bytes) does not parse as a Registry protobuf");
  }
  return scan;
}

Try<Registry> to_registry(const ScannedRegistry& scan) {
  Registry registry = scan.rest;
  for (size_t i = 0; i < scan.slave_infos.size(); ++i) {
    if (!registry.mutable_slaves()->add_slaves()->ParseFromString(scan.slave_infos[i])) {
      return Error("the registry's SlaveInfo of slave " + scan.slave_ids[i] + " (" +
                   std::to_string(scan.slave_infos[i].size()) + " bytes) does not parse");
    }
  }
  return registry;
}

Try<Registry> join_registry(const std::vector<std::string>& parts) {
  const std::string bytes = joined(parts);
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
