#pragma once
// Resources: a plain C++ value type for slave/framework resources (Mesos'
// `Resources`), with Mesos' simple text syntax and conversions to and from
// the `stoa::Resource` protobuf.
//
// It is not protobuf-backed: the allocator's hot path adds, subtracts and
// compares Resources millions of times per cycle.
//
// Representation and invariants (copies are cheap: see `data_`):
//   * A Resources is a vector of entries sorted by (name, role, type) with
//     no two entries sharing that key.
//   * Scalars are fixed point with 3 decimal places (Mesos' precision), so
//     equality and containment are exact and epsilon-safe: 0.1 + 0.2 == 0.3.
//   * No entry is empty: a zero scalar, an empty range list or an empty set
//     is dropped. Hence `==` compares entries directly.
//   * Ranges within an entry are sorted, non-overlapping and non-adjacent
//     ([1-2] + [3-4] is stored as [1-4]); set items are sorted and unique.
//   * Role "*" means unreserved; any other role is a static reservation.
//
// Thread safety: a value type; const methods may be called concurrently.

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/repeated_field.h>
#include <picojson.h>

#include "common/try.hpp"
#include "proto/stoa.pb.h"

namespace stoa {

// An inclusive range [begin, end].
struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
  bool operator==(const Range&) const = default;
};

enum class ResourceType { SCALAR = 0, RANGES = 1, SET = 2 };

// Fixed-point scalars: 1.0 == 1000 units.
constexpr int64_t SCALAR_UNITS = 1000;
// The largest scalar parse() and from_proto() accept, per entry (after
// summing repeated tokens): 1e12 (an exabyte of mem in MB), far below where
// fixed point or sums over a cluster could overflow.
constexpr double MAX_SCALAR = 1e12;
// Ports are ranges within 0..MAX_PORT.
constexpr uint64_t MAX_PORT = 65535;

// Converts a finite, non-negative double to fixed point (rounded to the
// nearest thousandth).
int64_t scalar_to_fixed(double value);
inline double fixed_to_scalar(int64_t units) { return static_cast<double>(units) / SCALAR_UNITS; }

// One (name, role, type) entry of a Resources. Only the member matching
// `type` is meaningful.
struct ResourceEntry {
  std::string name;
  std::string role = "*";
  ResourceType type = ResourceType::SCALAR;
  int64_t units = 0;                   // SCALAR: fixed point, see SCALAR_UNITS.
  std::vector<Range> ranges;           // RANGES: sorted, merged.
  std::vector<std::string> set;        // SET: sorted, unique.

  double scalar() const { return fixed_to_scalar(units); }
  bool empty() const;
  bool operator==(const ResourceEntry&) const = default;
};

class Resources {
 public:
  Resources() = default;

  // Mesos simple syntax:
  //   "cpus:4;mem:4096;disk:10000;ports:[31000-32000];cpus(web):2;set:{a,b}".
  // Tokens are split on ';' (empty tokens are skipped), each is
  // `name[(role)]:value`; a token without a role gets `default_role`.
  // A value is a scalar ("4", "0.5"), ranges ("[a-b, c-d]", a single "[a]"
  // is allowed) or a set ("{a,b}"). Repeated (name, role) tokens of the same
  // type are summed (scalars) or joined (ranges, sets). Returns an Error
  // naming the offending token for:
  //   * a missing ':'; an empty name or one with whitespace, control
  //     characters or any of ()[]{},;:|; an empty, unterminated or invalid
  //     role (whitespace, control characters, '/', '\', '*' other than the
  //     role "*", ".", "..", a leading '-', or any of ()[]{},;:);
  //   * a scalar that is not a plain decimal number (NaN, infinite, negative,
  //     hex, '+', out of double range) or exceeds MAX_SCALAR, alone or summed;
  //   * a malformed range, a range with begin > end, ranges that overlap
  //     (within a token or with an earlier token of the same name and role),
  //     a malformed or duplicate set item (also across tokens);
  //   * a name used with two different types;
  //   * the resources Mesos gives a meaning: cpus, mem, disk and gpus must
  //     be scalars, gpus a whole number, ports ranges within 0..MAX_PORT.
  static Try<Resources> parse(std::string_view text, std::string_view default_role = "*");

  // Validates like Mesos' Resources::validate(): name non-empty, the value
  // field matching `type` present, scalar finite, >= 0 and <= MAX_SCALAR
  // (also summed), ranges with begin <= end and not overlapping, set items
  // unique, role non-empty, one type per name.
  static Try<Resources> from_proto(const google::protobuf::RepeatedPtrField<stoa::Resource>& r);

  // Appends one `stoa::Resource` per entry to `out`.
  void to_proto(google::protobuf::RepeatedPtrField<stoa::Resource>* out) const;

  // Convenience constructors (no validation beyond dropping empty values).
  static Resources scalar_resource(std::string name, double value, std::string role = "*");
  static Resources ranges_resource(std::string name, std::vector<Range> ranges, std::string role = "*");

  bool empty() const { return entries().empty(); }

  // True if for every (name, role, type) in `that`, this has at least as
  // much: scalars >=, ranges and sets are subsets.
  bool contains(const Resources& that) const;

  Resources& operator+=(const Resources& that);
  // Same; steals `that`'s storage when this is empty.
  Resources& operator+=(Resources&& that);
  // Removes what is there: scalars floor at 0, ranges are split, set items
  // are removed. Entries that become empty disappear.
  Resources& operator-=(const Resources& that);
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  bool operator==(const Resources& that) const { return data_ == that.data_ || entries() == that.entries(); }

  // Hot-path helpers (no temporaries): += / -= of only the scalar entries
  // of `that`, and whether allocatable_to(role) would be all of this.
  Resources& add_scalars(const Resources& that);
  Resources& subtract_scalars(const Resources& that);
  bool all_allocatable_to(std::string_view role) const;
  void clear() { data_.reset(); }

  // Scalar `name` summed over roles; 0 if absent.
  double scalar(std::string_view name) const;
  // Same in fixed point units.
  int64_t scalar_units(std::string_view name) const;
  // Ranges of `name` merged over roles (sorted, non-overlapping).
  std::vector<Range> ranges(std::string_view name) const;
  // Set items of `name` over roles (sorted, unique).
  std::vector<std::string> set(std::string_view name) const;

  // Only the entries whose role is `role`.
  Resources reserved(std::string_view role) const;
  // Entries with role "*".
  Resources unreserved() const { return reserved("*"); }
  // Entries with a role other than "*".
  Resources all_reserved() const;
  // unreserved() + reserved(role).
  Resources allocatable_to(std::string_view role) const;
  // Same quantities, every entry with `role` (entries that collide merge).
  Resources flatten(std::string_view role = "*") const;
  // Only scalar entries / only non-scalar entries.
  Resources scalars() const;
  Resources non_scalars() const;

  // The roles present (including "*" if any unreserved entry exists).
  std::set<std::string> roles() const;
  // The names present, sorted and unique.
  std::set<std::string> names() const;

  // Round-trips through parse(): "cpus:4;mem:4096;ports:[31000-32000];cpus(web):2".
  // Unreserved entries have no "(*)". The empty Resources prints as "".
  std::string to_string() const;

  // Iteration over entries, sorted by (name, role, type).
  const std::vector<ResourceEntry>& entries() const { return data_ ? *data_ : empty_entries(); }
  std::vector<ResourceEntry>::const_iterator begin() const { return entries().begin(); }
  std::vector<ResourceEntry>::const_iterator end() const { return entries().end(); }
  size_t size() const { return entries().size(); }

  // Adds one entry (merging with an existing entry of the same key).
  // REQUIRES: ranges sorted/merged and set sorted/unique, as in ResourceEntry.
  void add(const ResourceEntry& entry);

 private:
  static const std::vector<ResourceEntry>& empty_entries() {
    static const std::vector<ResourceEntry> empty;
    return empty;
  }
  // The entries, unshared first if another Resources refers to them.
  std::vector<ResourceEntry>& mut();

  // Copy-on-write: copies share one immutable vector (a reference count
  // increment instead of copying strings and range vectors); the first
  // mutation of a shared value copies it. Null means empty. Safe across
  // threads like any value type: a Resources object itself is not shared,
  // and a vector is only mutated while its use count is 1.
  std::shared_ptr<std::vector<ResourceEntry>> data_;
};

// Formats ranges as "[a-b, c-d]" and sets as "{a,b}".
std::string ranges_to_string(const std::vector<Range>& ranges);
std::string set_to_string(const std::vector<std::string>& items);

// Mesos JSON shape used by /master/state:
//   {"cpus":4.0,"gpus":0.0,"mem":4096.0,"disk":0.0,"ports":"[31000-32000]"}
// cpus/gpus/mem/disk are always present; other scalars by name; ranges as
// "[a-b, c-d]"; sets as "{a,b}". Quantities are summed over roles.
picojson::value resources_to_json(const Resources& r);
// {"role": {...same shape...}} for every reserved (non-"*") role.
picojson::value reserved_resources_to_json(const Resources& r);

}  // namespace stoa
