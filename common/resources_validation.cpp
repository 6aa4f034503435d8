// What a valid resource name and value are: the rules both the text syntax
// (resources_parse.cpp) and the protobuf (resources_proto.cpp) enforce. Roles
// follow the one role rule, check_role_name() in common/roles.hpp.
#include <cctype>
#include <map>

#include "common/resources_internal.hpp"

namespace stoa::resources_internal {

bool is_space_or_control(char c) {
  return std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c));
}

// Why `name` cannot be a resource name, or nullopt.
std::optional<std::string> invalid_name(std::string_view name) {
  if (name.empty()) {
    return "empty name";
  }
  for (char c : name) {
    if (is_space_or_control(c) || std::string_view("()[]{},;:|").find(c) != std::string_view::npos) {
      return "bad name '" + std::string(name) + "' (no whitespace, control characters or any of ()[]{},;:|)";
    }
  }
  return std::nullopt;
}

// For sorted ranges: why two of them overlap, or nullopt.
std::optional<std::string> overlap_in(const std::vector<Range>& sorted) {
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].begin <= sorted[i - 1].end) {
      return "ranges " + std::to_string(sorted[i - 1].begin) + "-" + std::to_string(sorted[i - 1].end) + " and " +
             std::to_string(sorted[i].begin) + "-" + std::to_string(sorted[i].end) + " overlap";
    }
  }
  return std::nullopt;
}

// For sorted items: the first duplicate, or nullopt.
std::optional<std::string> duplicate_in(const std::vector<std::string>& sorted) {
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i] == sorted[i - 1]) {
      return sorted[i];
    }
  }
  return std::nullopt;
}

// Normalized lists a and b share a value.
bool ranges_intersect(const std::vector<Range>& a, const std::vector<Range>& b) {
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].end < b[j].begin) {
      ++i;
    } else if (b[j].end < a[i].begin) {
      ++j;
    } else {
      return true;
    }
  }
  return false;
}

// The resources Mesos gives a meaning: why `e` is not a valid one, or nullopt.
std::optional<std::string> invalid_known(const ResourceEntry& e) {
  if (e.name == "cpus" || e.name == "mem" || e.name == "disk" || e.name == "gpus") {
    if (e.type != ResourceType::SCALAR) {
      return "'" + e.name + "' must be a scalar (e.g. " + e.name + ":4)";
    }
    if (e.name == "gpus" && e.units % SCALAR_UNITS != 0) {
      return "'gpus' must be a whole number";
    }
  } else if (e.name == "ports") {
    if (e.type != ResourceType::RANGES) {
      return "'ports' must be ranges, e.g. ports:[31000-32000]";
    }
    for (const Range& r : e.ranges) {
      if (r.end > MAX_PORT) {
        return "port " + std::to_string(r.end) + " is out of range (ports are 0.." + std::to_string(MAX_PORT) + ")";
      }
    }
  }
  return std::nullopt;
}

// Checks that every name has one type; `what` names each entry for errors.
std::optional<Error> check_types(const std::vector<std::pair<ResourceEntry, std::string>>& parsed) {
  std::map<std::string, std::pair<ResourceType, std::string>, std::less<>> seen;
  for (const auto& [entry, token] : parsed) {
    auto [it, inserted] = seen.emplace(entry.name, std::make_pair(entry.type, token));
    if (!inserted && it->second.first != entry.type) {
      return Error("Invalid resource '" + token + "': '" + entry.name + "' was already given as " +
                   type_name(it->second.first) + " in '" + it->second.second + "'");
    }
  }
  return std::nullopt;
}

}  // namespace stoa::resources_internal
