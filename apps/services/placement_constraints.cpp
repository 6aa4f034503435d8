// Constraints (marathon.md §2), the fields of an offer they read, the
// scale-down victim choice and service port assignment. The resource side of
// placement is in placement.cpp.

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstdlib>
#include <regex>
#include <sstream>

#include "apps/services/placement.hpp"

namespace stoa::services {

namespace {

// Java's DecimalFormat("0.###") with HALF_EVEN rounding: at most three
// decimals, no trailing zeros, no trailing dot.
std::string constraint_format_scalar(double value) {
  const int saved = std::fegetround();
  std::fesetround(FE_TONEAREST);
  const double thousandths = std::nearbyint(value * 1000.0);
  std::fesetround(saved);
  const bool negative = thousandths < 0;
  const auto units = static_cast<long long>(std::fabs(thousandths));
  std::string out = (negative ? "-" : "") + std::to_string(units / 1000);
  long long fraction = units % 1000;
  if (fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 3 - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0') {
      digits.pop_back();
    }
    out += "." + digits;
  }
  return out;
}

std::string constraint_format_attribute(const Attribute& a) {
  switch (a.type()) {
    case Value::SCALAR:
      return constraint_format_scalar(a.scalar().value());
    case Value::RANGES: {
      std::string out = "[";
      for (int i = 0; i < a.ranges().range_size(); ++i) {
        const Value::Range& r = a.ranges().range(i);
        out += (i > 0 ? "," : "") + std::to_string(r.begin()) + "-" + std::to_string(r.end());
      }
      return out + "]";
    }
    case Value::SET: {
      std::string out = "{";
      for (int i = 0; i < a.set().item_size(); ++i) {
        out += (i > 0 ? "," : "") + a.set().item(i);
      }
      return out + "}";
    }
    case Value::TEXT:
      return a.text().value();
  }
  return "";
}

// The value an IS constraint compares with a scalar attribute: a number
// written as Marathon formats scalars ("1.50" → "1.5"); other text unchanged.
std::string constraint_normalize_scalar_text(const std::string& value) {
  if (value.empty()) {
    return value;
  }
  char* end = nullptr;
  const double parsed = std::strtod(value.c_str(), &end);
  if (end != value.c_str() + value.size() || !std::isfinite(parsed)) {
    return value;
  }
  return constraint_format_scalar(parsed);
}

bool constraint_is_scalar_attribute(const Offer& offer, const std::string& field) {
  for (const Attribute& a : offer.attributes()) {
    if (a.name() == field) {
      return a.type() == Value::SCALAR;
    }
  }
  return false;
}

// Java's String.matches: the whole value matches the regex. An invalid
// regex (validation refuses those) matches nothing.
std::optional<bool> constraint_full_match(const std::string& value, const std::string& pattern) {
  try {
    return std::regex_match(value, std::regex(pattern));
  } catch (const std::regex_error&) {
    return std::nullopt;
  }
}

std::optional<long long> constraint_int_value(const std::optional<std::string>& value) {
  if (!value || value->empty()) {
    return std::nullopt;
  }
  char* end = nullptr;
  const long long n = std::strtoll(value->c_str(), &end, 10);
  if (end != value->c_str() + value->size()) {
    return std::nullopt;
  }
  return n;
}

// The value of `field` on the slave an instance runs on.
std::optional<std::string> constraint_instance_field(const Instance& instance, const std::string& field,
                                                     const std::map<std::string, SlaveFields>& slave_fields) {
  auto slave = slave_fields.find(instance.slave_id);
  if (slave == slave_fields.end()) {
    return std::nullopt;
  }
  auto value = slave->second.find(field);
  if (value == slave->second.end()) {
    return std::nullopt;
  }
  return value->second;
}

bool constraint_met(const Constraint& c, const Offer& offer, const std::vector<const Instance*>& placed,
                    const std::map<std::string, SlaveFields>& slave_fields) {
  const std::optional<std::string> offer_value = offer_field(offer, c.field);
  if (!offer_value) {
    return c.op == "UNLIKE";
  }
  // The placed instances' values of the field (instances lacking it are left out).
  std::vector<std::string> values;
  for (const Instance* i : placed) {
    if (std::optional<std::string> v = constraint_instance_field(*i, c.field, slave_fields)) {
      values.push_back(*v);
    }
  }
  const auto count_of = [&values](const std::string& v) {
    return static_cast<long long>(std::count(values.begin(), values.end(), v));
  };
  if (c.op == "UNIQUE") {
    return count_of(*offer_value) == 0;
  }
  if (c.op == "CLUSTER") {
    if (c.value && !c.value->empty()) {
      return *offer_value == *c.value;
    }
    if (placed.empty()) {
      return true;
    }
    std::optional<std::string> first = constraint_instance_field(*placed.front(), c.field, slave_fields);
    return first && *first == *offer_value;
  }
  if (c.op == "GROUP_BY") {
    // v1.10.26: a new value is always welcome; an existing group only once
    // there are at least N groups and it is (one of) the smallest.
    std::map<std::string, long long> groups;
    for (const std::string& v : values) {
      ++groups[v];
    }
    auto own = groups.find(*offer_value);
    if (own == groups.end()) {
      return true;
    }
    const long long minimum_groups = constraint_int_value(c.value).value_or(0);
    long long min_count = own->second;
    for (const auto& [value, count] : groups) {
      min_count = std::min(min_count, count);
    }
    return static_cast<long long>(groups.size()) >= minimum_groups && own->second == min_count;
  }
  if (c.op == "MAX_PER") {
    std::optional<long long> limit = constraint_int_value(c.value);
    return limit && count_of(*offer_value) < *limit;
  }
  if (c.op == "LIKE" || c.op == "UNLIKE") {
    std::optional<bool> matches = constraint_full_match(*offer_value, c.value.value_or(""));
    if (!matches) {
      return false;
    }
    return c.op == "LIKE" ? *matches : !*matches;
  }
  if (c.op == "IS") {
    std::string expected = c.value.value_or("");
    if (constraint_is_scalar_attribute(offer, c.field)) {
      expected = constraint_normalize_scalar_text(expected);
    }
    return *offer_value == expected;
  }
  return false;  // unknown operators are refused by validation; never match one
}

// Which instances a scale-down gives up first: unreachable ones, then
// staging, then starting, then the rest (running, killing).
int constraint_kill_weight(const Instance& i) {
  if (i.state == "TASK_UNREACHABLE" || i.state == "TASK_LOST") {
    return 0;
  }
  if (i.state == "TASK_STAGING") {
    return 1;
  }
  if (i.state == "TASK_STARTING") {
    return 2;
  }
  return 3;
}

// Within one weight, killSelection on the time the instance is judged by:
// its start for a started one, its staging otherwise.
bool constraint_kill_order_before(const App& app, const Instance* a, const Instance* b) {
  const int weight_a = constraint_kill_weight(*a);
  const int weight_b = constraint_kill_weight(*b);
  if (weight_a != weight_b) {
    return weight_a < weight_b;
  }
  const Timestamp time_a = weight_a == 3 ? a->started_at.value_or(a->staged_at) : a->staged_at;
  const Timestamp time_b = weight_b == 3 ? b->started_at.value_or(b->staged_at) : b->staged_at;
  if (time_a != time_b) {
    return app.kill_selection == "OLDEST_FIRST" ? time_a < time_b : time_a > time_b;
  }
  return a->task_id < b->task_id;
}

}  // namespace

std::optional<std::string> offer_field(const Offer& offer, const std::string& field) {
  if (field == "hostname" || field == "@hostname") {
    return offer.hostname();
  }
  for (const Attribute& a : offer.attributes()) {
    if (a.name() == field) {
      return constraint_format_attribute(a);
    }
  }
  return std::nullopt;
}

SlaveFields offer_fields(const Offer& offer) {
  SlaveFields fields;
  fields["hostname"] = offer.hostname();
  fields["@hostname"] = offer.hostname();
  for (const Attribute& a : offer.attributes()) {
    fields.emplace(a.name(), constraint_format_attribute(a));  // the first of a repeated name wins, as in offer_field
  }
  return fields;
}

bool constraints_met(const App& app, const Offer& offer, const std::vector<const Instance*>& placed,
                     const std::map<std::string, SlaveFields>& slave_fields) {
  std::vector<const Instance*> current;
  for (const Instance* i : placed) {
    if (i != nullptr && i->active() && i->app_version >= app.last_config_change_at) {
      current.push_back(i);
    }
  }
  for (const Constraint& c : app.constraints) {
    if (!constraint_met(c, offer, current, slave_fields)) {
      return false;
    }
  }
  return true;
}

std::vector<const Instance*> select_to_kill(const App& app, std::vector<const Instance*> candidates, size_t count,
                                            const std::map<std::string, SlaveFields>& slave_fields) {
  candidates.erase(std::remove(candidates.begin(), candidates.end(), nullptr), candidates.end());
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&app](const Instance* a, const Instance* b) { return constraint_kill_order_before(app, a, b); });
  std::vector<std::string> group_fields;
  for (const Constraint& c : app.constraints) {
    if (c.op == "GROUP_BY") {
      group_fields.push_back(c.field);
    }
  }
  std::vector<const Instance*> victims;
  while (victims.size() < count && !candidates.empty()) {
    size_t pick = 0;
    if (!group_fields.empty()) {
      // The sizes of each candidate's groups, field by field: kill from the
      // largest group (first field first), so the groups stay even; among
      // equals the kill selection order decides.
      std::vector<std::map<std::string, size_t>> sizes(group_fields.size());
      const auto key = [&](const Instance* i, size_t f) {
        return constraint_instance_field(*i, group_fields[f], slave_fields).value_or("");
      };
      for (const Instance* i : candidates) {
        for (size_t f = 0; f < group_fields.size(); ++f) {
          ++sizes[f][key(i, f)];
        }
      }
      const auto rank = [&](const Instance* i) {
        std::vector<size_t> r;
        for (size_t f = 0; f < group_fields.size(); ++f) {
          r.push_back(sizes[f][key(i, f)]);
        }
        return r;
      };
      std::vector<size_t> best = rank(candidates[0]);
      for (size_t k = 1; k < candidates.size(); ++k) {
        std::vector<size_t> r = rank(candidates[k]);
        if (r > best) {
          best = r;
          pick = k;
        }
      }
    }
    victims.push_back(candidates[pick]);
    candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(pick));
  }
  return victims;
}

Try<App> assign_service_ports(App app, const std::set<int>& taken, int min, int max) {
  std::set<int> used = taken;
  const bool host = app.network_mode() == "host";
  std::vector<int*> ports;
  if (host) {
    for (PortDefinition& d : app.port_definitions) {
      ports.push_back(&d.port);
    }
  } else if (app.container) {
    for (PortMapping& m : app.container->port_mappings) {
      ports.push_back(&m.service_port);
    }
  }
  for (int* p : ports) {
    if (*p != 0) {
      used.insert(*p);
    }
  }
  int next = min;
  for (int* p : ports) {
    if (*p != 0) {
      continue;
    }
    while (next <= max && used.contains(next)) {
      ++next;
    }
    if (next > max) {
      std::ostringstream message;
      message << "App " << app.id << ": no free service port left in [" << min << ", " << max << "]";
      return Error(message.str());
    }
    *p = next;
    used.insert(next);
  }
  return app;
}

}  // namespace stoa::services
