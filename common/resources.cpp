#include "common/resources.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

#include "common/resources_internal.hpp"

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

}  // namespace

namespace resources_internal {

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

}  // namespace resources_internal

namespace {

using resources_internal::compare_key;
using resources_internal::format_scalar;
using resources_internal::normalize_ranges;

bool key_less(const ResourceEntry& a, const ResourceEntry& b) { return compare_key(a, b) < 0; }

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
    // The position first: mut() may drop the shared vector `current` names
    // (copy-on-write), and another thread may have dropped the last other
    // reference meanwhile, freeing it.
    const auto index = found - current.begin();
    std::vector<ResourceEntry>& v = mut();
    auto it = v.begin() + index;
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

}  // namespace stoa
