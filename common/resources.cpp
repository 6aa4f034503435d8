#include "common/resources.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

namespace stoa {

namespace {

// Short-string helpers for the hot path: names and roles are a few bytes,
// so an inline loop beats a call to memcmp, and most mismatches differ in
// the first byte or the length.
inline bool same(const std::string& a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

inline bool is_unreserved(const std::string& role) { return role.size() == 1 && role[0] == '*'; }

inline int compare_short(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]) ? -1 : 1;
    }
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

// Entries are ordered by (name, role, type).
int compare_key(const ResourceEntry& a, const ResourceEntry& b) {
  if (int c = compare_short(a.name, b.name); c != 0) {
    return c;
  }
  if (int c = compare_short(a.role, b.role); c != 0) {
    return c;
  }
  return static_cast<int>(a.type) - static_cast<int>(b.type);
}

bool key_less(const ResourceEntry& a, const ResourceEntry& b) { return compare_key(a, b) < 0; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// Sorts and merges overlapping or adjacent ranges in place.
void normalize_ranges(std::vector<Range>& ranges) {
  if (ranges.size() < 2) {
    return;
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  size_t out = 0;
  for (size_t i = 1; i < ranges.size(); ++i) {
    Range& last = ranges[out];
    const Range& r = ranges[i];
    if (last.end == UINT64_MAX || r.begin <= last.end + 1) {
      last.end = std::max(last.end, r.end);
    } else {
      ranges[++out] = r;
    }
  }
  ranges.resize(out + 1);
}

// a ∪ b for normalized lists.
void add_ranges(std::vector<Range>& a, const std::vector<Range>& b) {
  if (b.empty()) {
    return;
  }
  if (a.empty()) {
    a = b;
    return;
  }
  // Fast path: disjoint and after.
  if (a.back().end != UINT64_MAX && b.front().begin > a.back().end + 1) {
    a.insert(a.end(), b.begin(), b.end());
    return;
  }
  a.insert(a.end(), b.begin(), b.end());
  normalize_ranges(a);
}

// a \ b for normalized lists.
void subtract_ranges(std::vector<Range>& a, const std::vector<Range>& b) {
  if (a.empty() || b.empty()) {
    return;
  }
  std::vector<Range> out;
  out.reserve(a.size() + 1);
  size_t j = 0;
  for (const Range& r : a) {
    uint64_t begin = r.begin;
    const uint64_t end = r.end;
    bool alive = true;
    while (j < b.size() && b[j].end < begin) {
      ++j;
    }
    size_t k = j;
    while (alive && k < b.size() && b[k].begin <= end) {
      const Range& cut = b[k];
      if (cut.begin > begin) {
        out.push_back(Range{begin, cut.begin - 1});
      }
      if (cut.end >= end) {
        alive = false;
      } else {
        begin = cut.end + 1;
        ++k;
      }
    }
    if (alive) {
      out.push_back(Range{begin, end});
    }
  }
  a = std::move(out);
}

// b ⊆ a for normalized lists.
bool contains_ranges(const std::vector<Range>& a, const std::vector<Range>& b) {
  size_t i = 0;
  for (const Range& r : b) {
    while (i < a.size() && a[i].end < r.begin) {
      ++i;
    }
    if (i == a.size() || a[i].begin > r.begin || a[i].end < r.end) {
      return false;
    }
  }
  return true;
}

void add_set(std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (b.empty()) {
    return;
  }
  std::vector<std::string> out;
  out.reserve(a.size() + b.size());
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  a = std::move(out);
}

void subtract_set(std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (a.empty() || b.empty()) {
    return;
  }
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  a = std::move(out);
}

void add_value(ResourceEntry& e, const ResourceEntry& that) {
  switch (e.type) {
    case ResourceType::SCALAR:
      e.units += that.units;
      break;
    case ResourceType::RANGES:
      add_ranges(e.ranges, that.ranges);
      break;
    case ResourceType::SET:
      add_set(e.set, that.set);
      break;
  }
}

void subtract_value(ResourceEntry& e, const ResourceEntry& that) {
  switch (e.type) {
    case ResourceType::SCALAR:
      e.units = std::max<int64_t>(0, e.units - that.units);
      break;
    case ResourceType::RANGES:
      subtract_ranges(e.ranges, that.ranges);
      break;
    case ResourceType::SET:
      subtract_set(e.set, that.set);
      break;
  }
}

bool contains_value(const ResourceEntry& e, const ResourceEntry& that) {
  switch (e.type) {
    case ResourceType::SCALAR:
      return e.units >= that.units;
    case ResourceType::RANGES:
      return contains_ranges(e.ranges, that.ranges);
    case ResourceType::SET:
      return std::includes(e.set.begin(), e.set.end(), that.set.begin(), that.set.end());
  }
  return false;
}

const char* type_name(ResourceType t) {
  switch (t) {
    case ResourceType::SCALAR:
      return "SCALAR";
    case ResourceType::RANGES:
      return "RANGES";
    case ResourceType::SET:
      return "SET";
  }
  return "?";
}

std::string format_scalar(int64_t units) {
  std::string out = std::to_string(units / SCALAR_UNITS);
  int64_t frac = units % SCALAR_UNITS;
  if (frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), ".%03lld", static_cast<long long>(frac));
    std::string f(buf);
    while (f.back() == '0') {
      f.pop_back();
    }
    out += f;
  }
  return out;
}

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

constexpr int64_t MAX_SCALAR_UNITS = static_cast<int64_t>(MAX_SCALAR) * SCALAR_UNITS;

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

// Why `role` cannot be a role, or nullopt (Mesos' role rules, plus the
// characters of the text syntax).
std::optional<std::string> invalid_role(std::string_view role) {
  if (role == "*") {
    return std::nullopt;
  }
  if (role.empty()) {
    return "empty role";
  }
  if (role == "." || role == ".." || role.front() == '-') {
    return "bad role '" + std::string(role) + "'";
  }
  for (char c : role) {
    if (is_space_or_control(c) || std::string_view("/\\*()[]{},;:").find(c) != std::string_view::npos) {
      return "bad role '" + std::string(role) + "' (no whitespace, control characters or any of /\\*()[]{},;:)";
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

}  // namespace

int64_t scalar_to_fixed(double value) {
  return static_cast<int64_t>(std::llround(value * static_cast<double>(SCALAR_UNITS)));
}

bool ResourceEntry::empty() const {
  switch (type) {
    case ResourceType::SCALAR:
      return units <= 0;
    case ResourceType::RANGES:
      return ranges.empty();
    case ResourceType::SET:
      return set.empty();
  }
  return true;
}

std::vector<ResourceEntry>& Resources::mut() {
  if (!data_) {
    data_ = std::make_shared<std::vector<ResourceEntry>>();
  } else if (data_.use_count() > 1) {
    data_ = std::make_shared<std::vector<ResourceEntry>>(*data_);
  } else {
    // Sole owner: order our writes after other threads' reads that ended
    // with them dropping their reference (use_count() is a relaxed load).
    std::atomic_thread_fence(std::memory_order_acquire);
  }
  return *data_;
}

void Resources::add(const ResourceEntry& entry) {
  if (entry.empty()) {
    return;
  }
  std::vector<ResourceEntry>& v = mut();
  auto it = std::lower_bound(v.begin(), v.end(), entry, key_less);
  if (it != v.end() && compare_key(*it, entry) == 0) {
    add_value(*it, entry);
  } else {
    v.insert(it, entry);
  }
}

Resources& Resources::operator+=(const Resources& that) {
  if (that.empty()) {
    return *this;
  }
  if (empty()) {
    data_ = that.data_;
    return *this;
  }
  if (&that == this) {
    Resources copy = that;
    return *this += copy;
  }
  // Linear merge of two sorted lists; new keys are appended and merged in
  // place afterwards.
  std::vector<ResourceEntry>& v = mut();
  const std::vector<ResourceEntry>& other = that.entries();
  size_t original = v.size();
  size_t i = 0;
  bool appended = false;
  for (const ResourceEntry& e : other) {
    while (i < original && compare_key(v[i], e) < 0) {
      ++i;
    }
    if (i < original && compare_key(v[i], e) == 0) {
      add_value(v[i], e);
    } else {
      v.push_back(e);
      appended = true;
    }
  }
  if (appended) {
    std::inplace_merge(v.begin(), v.begin() + static_cast<ptrdiff_t>(original), v.end(), key_less);
  }
  return *this;
}

Resources& Resources::operator+=(Resources&& that) {
  if (empty()) {
    data_ = std::move(that.data_);
    that.data_.reset();
    return *this;
  }
  return *this += static_cast<const Resources&>(that);
}

Resources& Resources::add_scalars(const Resources& that) {
  if (&that == this) {
    Resources copy = that;
    return add_scalars(copy);
  }
  for (const ResourceEntry& e : that) {
    if (e.type == ResourceType::SCALAR) {
      add(e);
    }
  }
  return *this;
}

Resources& Resources::subtract_scalars(const Resources& that) {
  if (&that == this) {
    Resources copy = that;
    return subtract_scalars(copy);
  }
  for (const ResourceEntry& e : that) {
    if (e.type != ResourceType::SCALAR || empty()) {
      continue;
    }
    const std::vector<ResourceEntry>& current = entries();
    auto found = std::lower_bound(current.begin(), current.end(), e, key_less);
    if (found == current.end() || compare_key(*found, e) != 0) {
      continue;
    }
    std::vector<ResourceEntry>& v = mut();
    auto it = v.begin() + (found - current.begin());
    it->units = std::max<int64_t>(0, it->units - e.units);
    if (it->units == 0) {
      v.erase(it);
    }
  }
  return *this;
}

bool Resources::all_allocatable_to(std::string_view role) const {
  for (const ResourceEntry& e : *this) {
    if (!is_unreserved(e.role) && !same(e.role, role)) {
      return false;
    }
  }
  return true;
}

Resources& Resources::operator-=(const Resources& that) {
  if (that.empty() || empty()) {
    return *this;
  }
  if (&that == this || data_ == that.data_) {
    data_.reset();
    return *this;
  }
  std::vector<ResourceEntry>& v = mut();
  size_t i = 0;
  bool emptied = false;
  for (const ResourceEntry& e : that) {
    while (i < v.size() && compare_key(v[i], e) < 0) {
      ++i;
    }
    if (i == v.size()) {
      break;
    }
    if (compare_key(v[i], e) == 0) {
      subtract_value(v[i], e);
      emptied = emptied || v[i].empty();
    }
  }
  if (emptied) {
    v.erase(std::remove_if(v.begin(), v.end(), [](const ResourceEntry& e) { return e.empty(); }), v.end());
  }
  return *this;
}

bool Resources::contains(const Resources& that) const {
  if (data_ == that.data_) {
    return true;
  }
  const std::vector<ResourceEntry>& v = entries();
  size_t i = 0;
  for (const ResourceEntry& e : that) {
    while (i < v.size() && compare_key(v[i], e) < 0) {
      ++i;
    }
    if (i == v.size() || compare_key(v[i], e) != 0) {
      return false;
    }
    if (!contains_value(v[i], e)) {
      return false;
    }
  }
  return true;
}

int64_t Resources::scalar_units(std::string_view name) const {
  int64_t total = 0;
  for (const ResourceEntry& e : *this) {
    if (e.type == ResourceType::SCALAR && same(e.name, name)) {
      total += e.units;
    }
  }
  return total;
}

double Resources::scalar(std::string_view name) const { return fixed_to_scalar(scalar_units(name)); }

std::vector<Range> Resources::ranges(std::string_view name) const {
  std::vector<Range> out;
  for (const ResourceEntry& e : *this) {
    if (e.type == ResourceType::RANGES && e.name == name) {
      add_ranges(out, e.ranges);
    }
  }
  return out;
}

std::vector<std::string> Resources::set(std::string_view name) const {
  std::vector<std::string> out;
  for (const ResourceEntry& e : *this) {
    if (e.type == ResourceType::SET && e.name == name) {
      add_set(out, e.set);
    }
  }
  return out;
}

namespace {

// The entries of `r` matching `keep`, sharing r's storage when all match.
template <class Keep>
Resources filter_entries(const Resources& r, Keep keep) {
  bool all = true;
  for (const ResourceEntry& e : r) {
    if (!keep(e)) {
      all = false;
      break;
    }
  }
  if (all) {
    return r;
  }
  Resources out;
  for (const ResourceEntry& e : r) {
    if (keep(e)) {
      out.add(e);
    }
  }
  return out;
}

}  // namespace

Resources Resources::reserved(std::string_view role) const {
  return filter_entries(*this, [&](const ResourceEntry& e) { return same(e.role, role); });
}

Resources Resources::all_reserved() const {
  return filter_entries(*this, [](const ResourceEntry& e) { return !is_unreserved(e.role); });
}

Resources Resources::allocatable_to(std::string_view role) const {
  return filter_entries(*this,
                        [&](const ResourceEntry& e) { return is_unreserved(e.role) || same(e.role, role); });
}

Resources Resources::flatten(std::string_view role) const {
  Resources out;
  for (const ResourceEntry& e : *this) {
    ResourceEntry copy = e;
    copy.role = std::string(role);
    out.add(copy);
  }
  return out;
}

Resources Resources::scalars() const {
  return filter_entries(*this, [](const ResourceEntry& e) { return e.type == ResourceType::SCALAR; });
}

Resources Resources::non_scalars() const {
  return filter_entries(*this, [](const ResourceEntry& e) { return e.type != ResourceType::SCALAR; });
}

std::set<std::string> Resources::roles() const {
  std::set<std::string> out;
  for (const ResourceEntry& e : *this) {
    out.insert(e.role);
  }
  return out;
}

std::set<std::string> Resources::names() const {
  std::set<std::string> out;
  for (const ResourceEntry& e : *this) {
    out.insert(e.name);
  }
  return out;
}

Resources Resources::scalar_resource(std::string name, double value, std::string role) {
  ResourceEntry e;
  e.name = std::move(name);
  e.role = std::move(role);
  e.type = ResourceType::SCALAR;
  e.units = scalar_to_fixed(value);
  Resources out;
  out.add(e);
  return out;
}

Resources Resources::ranges_resource(std::string name, std::vector<Range> ranges, std::string role) {
  ResourceEntry e;
  e.name = std::move(name);
  e.role = std::move(role);
  e.type = ResourceType::RANGES;
  e.ranges = std::move(ranges);
  normalize_ranges(e.ranges);
  Resources out;
  out.add(e);
  return out;
}

std::string ranges_to_string(const std::vector<Range>& ranges) {
  std::string out = "[";
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    out += std::to_string(ranges[i].begin);
    out += '-';
    out += std::to_string(ranges[i].end);
  }
  out += ']';
  return out;
}

std::string set_to_string(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += items[i];
  }
  out += '}';
  return out;
}

std::string Resources::to_string() const {
  std::string out;
  for (const ResourceEntry& e : *this) {
    if (!out.empty()) {
      out += ';';
    }
    out += e.name;
    if (e.role != "*") {
      out += '(' + e.role + ')';
    }
    out += ':';
    switch (e.type) {
      case ResourceType::SCALAR:
        out += format_scalar(e.units);
        break;
      case ResourceType::RANGES:
        out += ranges_to_string(e.ranges);
        break;
      case ResourceType::SET:
        out += set_to_string(e.set);
        break;
    }
  }
  return out;
}

namespace {

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
    if (std::optional<std::string> why = invalid_role(role)) {
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

Try<Resources> Resources::from_proto(const google::protobuf::RepeatedPtrField<stoa::Resource>& r) {
  std::vector<std::pair<ResourceEntry, std::string>> parsed;
  for (const stoa::Resource& res : r) {
    std::string what = res.name() + "(" + res.role() + ")";
    auto fail = [&](const std::string& why) { return Error("Invalid resource '" + what + "': " + why); };
    if (res.name().empty()) {
      return fail("empty name");
    }
    if (res.role().empty()) {
      return fail("empty role");
    }
    ResourceEntry e;
    e.name = res.name();
    e.role = res.role();
    switch (res.type()) {
      case stoa::Value::SCALAR: {
        if (!res.has_scalar()) {
          return fail("SCALAR without a scalar value");
        }
        double v = res.scalar().value();
        if (!std::isfinite(v) || v < 0) {
          return fail("scalar must be finite and non-negative");
        }
        if (v > MAX_SCALAR) {
          return fail("scalar is too large (at most " + format_scalar(MAX_SCALAR_UNITS) + ")");
        }
        e.type = ResourceType::SCALAR;
        e.units = scalar_to_fixed(v);
        break;
      }
      case stoa::Value::RANGES: {
        if (!res.has_ranges()) {
          return fail("RANGES without ranges");
        }
        e.type = ResourceType::RANGES;
        for (const stoa::Value::Range& range : res.ranges().range()) {
          if (range.begin() > range.end()) {
            return fail("range " + std::to_string(range.begin()) + "-" + std::to_string(range.end()) +
                        " has begin > end");
          }
          e.ranges.push_back(Range{range.begin(), range.end()});
        }
        std::sort(e.ranges.begin(), e.ranges.end(),
                  [](const Range& a, const Range& b) { return a.begin < b.begin; });
        if (std::optional<std::string> why = overlap_in(e.ranges)) {
          return fail(*why);
        }
        normalize_ranges(e.ranges);
        break;
      }
      case stoa::Value::SET: {
        if (!res.has_set()) {
          return fail("SET without a set");
        }
        e.type = ResourceType::SET;
        for (const std::string& item : res.set().item()) {
          e.set.push_back(item);
        }
        std::sort(e.set.begin(), e.set.end());
        if (std::optional<std::string> dup = duplicate_in(e.set)) {
          return fail("duplicate set item '" + *dup + "'");
        }
        break;
      }
      default:
        return fail("unsupported type");
    }
    parsed.emplace_back(std::move(e), std::move(what));
  }
  if (std::optional<Error> error = check_types(parsed)) {
    return *error;
  }
  Resources out;
  for (const auto& [entry, what] : parsed) {
    if (entry.type == ResourceType::SCALAR) {
      // Each is at most MAX_SCALAR_UNITS, so this sum cannot overflow.
      for (const ResourceEntry& have : out) {
        if (compare_key(have, entry) == 0 && have.units + entry.units > MAX_SCALAR_UNITS) {
          return Error("Invalid resource '" + what + "': scalars sum to more than " +
                       format_scalar(MAX_SCALAR_UNITS));
        }
      }
    }
    out.add(entry);
  }
  return out;
}

void Resources::to_proto(google::protobuf::RepeatedPtrField<stoa::Resource>* out) const {
  for (const ResourceEntry& e : *this) {
    stoa::Resource* r = out->Add();
    r->set_name(e.name);
    r->set_role(e.role);
    switch (e.type) {
      case ResourceType::SCALAR:
        r->set_type(stoa::Value::SCALAR);
        r->mutable_scalar()->set_value(e.scalar());
        break;
      case ResourceType::RANGES:
        r->set_type(stoa::Value::RANGES);
        for (const Range& range : e.ranges) {
          stoa::Value::Range* pr = r->mutable_ranges()->add_range();
          pr->set_begin(range.begin);
          pr->set_end(range.end);
        }
        break;
      case ResourceType::SET:
        r->set_type(stoa::Value::SET);
        for (const std::string& item : e.set) {
          r->mutable_set()->add_item(item);
        }
        break;
    }
  }
}

namespace {

picojson::object shape(const Resources& r) {
  picojson::object obj;
  for (const char* name : {"cpus", "gpus", "mem", "disk"}) {
    obj[name] = picojson::value(0.0);
  }
  for (const std::string& name : r.names()) {
    bool is_scalar = false;
    bool is_ranges = false;
    for (const ResourceEntry& e : r) {
      if (e.name == name) {
        is_scalar = is_scalar || e.type == ResourceType::SCALAR;
        is_ranges = is_ranges || e.type == ResourceType::RANGES;
      }
    }
    if (is_scalar) {
      obj[name] = picojson::value(r.scalar(name));
    } else if (is_ranges) {
      obj[name] = picojson::value(ranges_to_string(r.ranges(name)));
    } else {
      obj[name] = picojson::value(set_to_string(r.set(name)));
    }
  }
  return obj;
}

}  // namespace

picojson::value resources_to_json(const Resources& r) { return picojson::value(shape(r)); }

picojson::value reserved_resources_to_json(const Resources& r) {
  picojson::object obj;
  for (const std::string& role : r.roles()) {
    if (role != "*") {
      obj[role] = picojson::value(shape(r.reserved(role)));
    }
  }
  return picojson::value(obj);
}

}  // namespace stoa
