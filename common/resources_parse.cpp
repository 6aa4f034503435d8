// The text syntax: Resources::parse ("cpus:4;mem:4096;ports:[31000-32000]").
#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/resources.hpp"
#include "common/resources_internal.hpp"
#include "common/roles.hpp"
#include "common/strings.hpp"

namespace stoa {

using namespace resources_internal;

namespace {

Try<uint64_t> parse_u64(std::string_view s) {
  s = trim(s);
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return Error("'" + std::string(s) + "' is not a non-negative integer");
  }
  return v;
}

Try<double> parse_nonnegative_scalar(std::string_view s) {
  s = trim(s);
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || (ec != std::errc() && ec != std::errc::result_out_of_range) || ptr != s.data() + s.size()) {
    return Error("'" + std::string(s) + "' is not a number");
  }
  if (ec == std::errc::result_out_of_range || !std::isfinite(v)) {
    return Error("'" + std::string(s) + "' is not a finite number");
  }
  if (v < 0) {
    return Error("'" + std::string(s) + "' is negative");
  }
  if (v > MAX_SCALAR) {
    return Error("'" + std::string(s) + "' is too large (at most " + format_scalar(scalar_to_fixed(MAX_SCALAR)) +
                 ")");
  }
  return v;
}

Try<ResourceEntry> parse_token(std::string_view token, std::string_view default_role) {
  auto fail = [&](const std::string& why) {
    return Error("Invalid resource '" + std::string(token) + "': " + why);
  };
  size_t colon = token.find(':');
  if (colon == std::string_view::npos) {
    return fail("expected 'name:value'");
  }
  std::string_view key = trim(token.substr(0, colon));
  std::string_view value = trim(token.substr(colon + 1));
  ResourceEntry e;
  size_t paren = key.find('(');
  if (paren != std::string_view::npos) {
    if (key.back() != ')') {
      return fail("role must be written as 'name(role)'");
    }
    std::string_view role = key.substr(paren + 1, key.size() - paren - 2);
    if (std::optional<std::string> why = check_role_name(role)) {  // common/roles.hpp
      return fail(*why);
    }
    e.role = std::string(role);
    key = trim(key.substr(0, paren));
  } else {
    e.role = std::string(default_role);
  }
  if (std::optional<std::string> why = invalid_name(key)) {
    return fail(*why);
  }
  e.name = std::string(key);
  if (value.empty()) {
    return fail("empty value");
  }
  if (value.front() == '[') {
    if (value.back() != ']') {
      return fail("ranges must end with ']'");
    }
    e.type = ResourceType::RANGES;
    std::string_view inner = trim(value.substr(1, value.size() - 2));
    if (!inner.empty()) {
      for (std::string_view part : split(inner, ',')) {
        part = trim(part);
        size_t dash = part.find('-');
        std::string_view b = dash == std::string_view::npos ? part : part.substr(0, dash);
        std::string_view en = dash == std::string_view::npos ? part : part.substr(dash + 1);
        Try<uint64_t> begin = parse_u64(b);
        Try<uint64_t> end = parse_u64(en);
        if (!begin) {
          return fail("bad range '" + std::string(part) + "': " + begin.error());
        }
        if (!end) {
          return fail("bad range '" + std::string(part) + "': " + end.error());
        }
        if (*begin > *end) {
          return fail("bad range '" + std::string(part) + "': begin > end");
        }
        e.ranges.push_back(Range{*begin, *end});
      }
    }
    std::sort(e.ranges.begin(), e.ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
    if (std::optional<std::string> why = overlap_in(e.ranges)) {
      return fail(*why);
    }
    normalize_ranges(e.ranges);
  } else if (value.front() == '{') {
    if (value.back() != '}') {
      return fail("sets must end with '}'");
    }
    e.type = ResourceType::SET;
    std::string_view inner = trim(value.substr(1, value.size() - 2));
    if (!inner.empty()) {
      for (std::string_view item : split(inner, ',')) {
        item = trim(item);
        if (item.empty()) {
          return fail("empty set item");
        }
        for (char c : item) {
          if (is_space_or_control(c) || std::string_view("()[]{};:").find(c) != std::string_view::npos) {
            return fail("bad set item '" + std::string(item) + "'");
          }
        }
        e.set.emplace_back(item);
      }
    }
    std::sort(e.set.begin(), e.set.end());
    if (std::optional<std::string> dup = duplicate_in(e.set)) {
      return fail("set item '" + *dup + "' is listed twice");
    }
  } else {
    e.type = ResourceType::SCALAR;
    Try<double> v = parse_nonnegative_scalar(value);
    if (!v) {
      return fail(v.error());
    }
    e.units = scalar_to_fixed(*v);
  }
  if (std::optional<std::string> why = invalid_known(e)) {
    return fail(*why);
  }
  return e;
}

// Adds `entry` (parsed from `what`) to `out`, refusing what would be given
// twice: overlapping ranges, a set item again, or a scalar sum beyond
// MAX_SCALAR.
std::optional<Error> add_checked(Resources& out, const ResourceEntry& entry, const std::string& what) {
  auto fail = [&](const std::string& why) { return Error("Invalid resource '" + what + "': " + why); };
  for (const ResourceEntry& have : out) {
    if (compare_key(have, entry) != 0) {
      continue;
    }
    switch (entry.type) {
      case ResourceType::SCALAR:
        if (have.units + entry.units > MAX_SCALAR_UNITS) {
          return fail("'" + entry.name + "' sums to more than " + format_scalar(MAX_SCALAR_UNITS));
        }
        break;
      case ResourceType::RANGES:
        if (ranges_intersect(have.ranges, entry.ranges)) {
          return fail("overlaps " + ranges_to_string(have.ranges) + " given before for '" + entry.name + "'");
        }
        break;
      case ResourceType::SET:
        for (const std::string& item : entry.set) {
          if (std::binary_search(have.set.begin(), have.set.end(), item)) {
            return fail("set item '" + item + "' was given before for '" + entry.name + "'");
          }
        }
        break;
    }
  }
  out.add(entry);
  return std::nullopt;
}

}  // namespace

Try<Resources> Resources::parse(std::string_view text, std::string_view default_role) {
  if (default_role.empty()) {
    return Error("Invalid default role: empty");
  }
  std::vector<std::pair<ResourceEntry, std::string>> parsed;
  for (std::string_view token : split(text, ';')) {
    token = trim(token);
    if (token.empty()) {
      continue;
    }
    Try<ResourceEntry> e = parse_token(token, default_role);
    if (!e) {
      return Error(e.error());
    }
    parsed.emplace_back(std::move(*e), std::string(token));
  }
  if (std::optional<Error> error = check_types(parsed)) {
    return *error;
  }
  Resources out;
  for (const auto& [entry, token] : parsed) {
    if (std::optional<Error> error = add_checked(out, entry, token)) {
      return *error;
    }
  }
  return out;
}

}  // namespace stoa
