// Resources text (common/resources.hpp: Resources::parse, as --resources,
// --min_allocatable_resources, quota guarantees and task resources use it)
// and the arithmetic every parsed value then meets in the allocator.
//
// Input: up to three lines, "A\nB\nROLE": A and B are parsed (B with ROLE as
// its default role when given).
//
// Properties: no crash or sanitizer report (UBSan: signed overflow in sums,
// out-of-range float conversions); every parsed value keeps the documented
// representation invariants; to_string() and to_proto() round-trip; the
// algebra holds: A+B contains A and B, A contains A-B, (A-B)+B contains A,
// add_scalars/subtract_scalars equal += / -= of scalars(), scalars() plus
// non_scalars() and unreserved() plus all_reserved() give A back,
// all_allocatable_to(r) agrees with allocatable_to(r), flatten() keeps every
// scalar quantity.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/json.hpp"
#include "common/resources.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using stoa::Range;
using stoa::ResourceEntry;
using stoa::Resources;
using stoa::ResourceType;

namespace {

std::string_view next_line(std::string_view* in) {
  size_t nl = in->find('\n');
  std::string_view line = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return line;
}

void check_invariants(const Resources& r, const std::string& what) {
  const ResourceEntry* prev = nullptr;
  for (const ResourceEntry& e : r) {
    STOA_FUZZ_CHECK(!e.empty(), what + ": empty entry " + e.name);
    STOA_FUZZ_CHECK(!e.role.empty(), what + ": empty role");
    if (prev != nullptr) {
      STOA_FUZZ_CHECK(std::tie(prev->name, prev->role, prev->type) < std::tie(e.name, e.role, e.type),
                      what + ": entries not sorted and unique at " + e.name);
    }
    prev = &e;
    if (e.type == ResourceType::RANGES) {
      for (size_t i = 0; i < e.ranges.size(); ++i) {
        STOA_FUZZ_CHECK(e.ranges[i].begin <= e.ranges[i].end, what + ": range begin > end");
        if (i > 0) {
          // Sorted, non-overlapping and non-adjacent.
          STOA_FUZZ_CHECK(e.ranges[i - 1].end < e.ranges[i].begin &&
                              e.ranges[i].begin - e.ranges[i - 1].end > 1,
                          what + ": ranges not merged " + stoa::ranges_to_string(e.ranges));
        }
      }
    } else if (e.type == ResourceType::SET) {
      for (size_t i = 1; i < e.set.size(); ++i) {
        STOA_FUZZ_CHECK(e.set[i - 1] < e.set[i], what + ": set not sorted and unique");
      }
    }
  }
}

void check_one(const Resources& a, const std::string& text) {
  check_invariants(a, "parse('" + text + "')");

  std::string printed = a.to_string();
  stoa::Try<Resources> again = Resources::parse(printed);
  STOA_FUZZ_CHECK(again.is_some(), "to_string() of '" + text + "' does not parse: '" + printed +
                                       "': " + (again.is_error() ? again.error() : ""));
  STOA_FUZZ_CHECK(*again == a, "to_string() of '" + text + "' parses differently: '" + printed +
                                   "' -> '" + again->to_string() + "'");

  google::protobuf::RepeatedPtrField<stoa::Resource> pb;
  a.to_proto(&pb);
  stoa::Try<Resources> back = Resources::from_proto(pb);
  STOA_FUZZ_CHECK(back.is_some(), "from_proto(to_proto()) fails for '" + printed + "': " +
                                      (back.is_error() ? back.error() : ""));
  STOA_FUZZ_CHECK(*back == a, "proto round trip changes '" + printed + "'");

  (void)stoa::json_serialize(stoa::resources_to_json(a));
  (void)stoa::json_serialize(stoa::reserved_resources_to_json(a));

  STOA_FUZZ_CHECK(a.contains(a), "does not contain itself: " + printed);
  STOA_FUZZ_CHECK(a.scalars() + a.non_scalars() == a, "scalars + non_scalars: " + printed);
  STOA_FUZZ_CHECK(a.unreserved() + a.all_reserved() == a, "unreserved + reserved: " + printed);
  Resources flat = a.flatten();
  check_invariants(flat, "flatten()");
  for (const std::string& name : a.names()) {
    STOA_FUZZ_CHECK(flat.scalar_units(name) == a.scalar_units(name), "flatten() changes " + name);
    (void)a.ranges(name);
    (void)a.set(name);
  }
  for (const std::string& role : a.roles()) {
    Resources alloc = a.allocatable_to(role);
    STOA_FUZZ_CHECK(a.all_allocatable_to(role) == (alloc == a),
                    "all_allocatable_to(" + role + ") disagrees: " + printed);
    STOA_FUZZ_CHECK(a.contains(a.reserved(role)), "reserved(" + role + ")");
  }
}

void check_two(const Resources& a, const Resources& b) {
  std::string what = "'" + a.to_string() + "' and '" + b.to_string() + "'";
  Resources sum = a + b;
  check_invariants(sum, "A+B of " + what);
  STOA_FUZZ_CHECK(sum.contains(a) && sum.contains(b), "A+B contains A and B: " + what);
  Resources diff = a - b;
  check_invariants(diff, "A-B of " + what);
  STOA_FUZZ_CHECK(a.contains(diff), "A contains A-B: " + what);
  STOA_FUZZ_CHECK((diff + b).contains(a), "(A-B)+B contains A: " + what);

  Resources x = a;
  x.add_scalars(b);
  STOA_FUZZ_CHECK(x == a + b.scalars(), "add_scalars: " + what);
  Resources y = a;
  y.subtract_scalars(b);
  STOA_FUZZ_CHECK(y == a - b.scalars(), "subtract_scalars: " + what);

  Resources moved;
  moved += Resources(a);
  moved += Resources(b);
  STOA_FUZZ_CHECK(moved == sum, "+= by move: " + what);
  (void)(a == b);
  (void)a.contains(b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view a_text = next_line(&in);
  std::string_view b_text = next_line(&in);
  std::string_view role = next_line(&in);

  stoa::Try<Resources> a = Resources::parse(a_text);
  if (a.is_some()) {
    check_one(*a, std::string(a_text));
  }
  stoa::Try<Resources> b = Resources::parse(b_text, role.empty() ? "*" : role);
  if (b.is_some()) {
    check_invariants(*b, "parse('" + std::string(b_text) + "', '" + std::string(role) + "')");
    if (a.is_some()) {
      check_two(*a, *b);
    }
  }
  return 0;
}
