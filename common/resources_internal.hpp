#pragma once
// Shared by the files that implement Resources (resources.cpp: arithmetic,
// containment and printing; resources_validation.cpp: what a valid name, role
// and value are; resources_parse.cpp: the text syntax; resources_proto.cpp:
// protobuf and JSON). Not part of the public API: include common/resources.hpp.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/resources.hpp"
#include "common/try.hpp"

namespace stoa::resources_internal {

// MAX_SCALAR in fixed point units.
constexpr int64_t MAX_SCALAR_UNITS = static_cast<int64_t>(MAX_SCALAR) * SCALAR_UNITS;

// ---- resources.cpp ----------------------------------------------------------

// Entries are ordered by (name, role, type): <0, 0 or >0.
int compare_key(const ResourceEntry& a, const ResourceEntry& b);
// Sorts and merges overlapping or adjacent ranges in place.
void normalize_ranges(std::vector<Range>& ranges);
// "SCALAR", "RANGES" or "SET".
const char* type_name(ResourceType t);
// Fixed point as the text syntax writes it: "4", "0.5", "0.125".
std::string format_scalar(int64_t units);

// ---- resources_validation.cpp -----------------------------------------------

bool is_space_or_control(char c);
// Why `name` cannot be a resource name, or nullopt.
std::optional<std::string> invalid_name(std::string_view name);
// For sorted ranges: why two of them overlap, or nullopt.
std::optional<std::string> overlap_in(const std::vector<Range>& sorted);
// For sorted items: the first duplicate, or nullopt.
std::optional<std::string> duplicate_in(const std::vector<std::string>& sorted);
// Normalized lists a and b share a value.
bool ranges_intersect(const std::vector<Range>& a, const std::vector<Range>& b);
// The resources Mesos gives a meaning: why `e` is not a valid one, or nullopt.
std::optional<std::string> invalid_known(const ResourceEntry& e);
// Checks that every name has one type; the second of each pair names the
// entry for errors.
std::optional<Error> check_types(const std::vector<std::pair<ResourceEntry, std::string>>& parsed);

}  // namespace stoa::resources_internal
