// Resources to and from the stoa::Resource protobuf, and the JSON shape of
// /master/state.
#include <algorithm>
#include <cmath>

#include "common/resources.hpp"
#include "common/resources_internal.hpp"
#include "common/roles.hpp"

namespace stoa {

using namespace resources_internal;

Try<Resources> Resources::from_proto(const google::protobuf::RepeatedPtrField<stoa::Resource>& r) {
  std::vector<std::pair<ResourceEntry, std::string>> parsed;
  for (const stoa::Resource& res : r) {
    std::string what = res.name() + "(" + res.role() + ")";
    auto fail = [&](const std::string& why) { return Error("Invalid resource '" + what + "': " + why); };
    if (res.name().empty()) {
      return fail("empty name");
    }
    if (std::optional<std::string> why = check_role_name(res.role())) {  // common/roles.hpp
      return fail(*why);
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
