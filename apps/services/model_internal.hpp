#pragma once
// What model_parse.cpp (reading an app definition) and model_validate.cpp
// (validating it) share; not part of the public interface (model.hpp is).
//
//   model_parse.cpp     JSON → App (type errors), normalization, parse_app,
//                       apply_update
//   model_validate.cpp  the whole-app validation (violations with paths)
//
// Nothing here throws.

#include <climits>
#include <cmath>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <picojson.h>

#include "apps/services/model.hpp"
#include "common/json.hpp"

namespace stoa::services::model_in {

// What the input said, beyond the App it gives (normalization needs it).
struct Given {
  bool ports = false;
  bool port_definitions = false;
  bool uris = false;
  bool fetch = false;
  bool networks = false;
  bool container_port_mappings = false;
  std::vector<std::string> uri_list;
  std::vector<PortMapping> docker_port_mappings;
  bool docker_port_mappings_given = false;
  std::vector<int> ports_list;
  std::optional<std::string> raw_id;
  // Legacy IP-per-task ("ipAddress": {"networkName": …}).
  bool ip_address = false;
  std::optional<std::string> ip_network_name;
};

// Scala's Double.toString for the usual range: "0.0", "1.5", "0.001".
inline std::string scala_double(double d) {
  std::string s = json_serialize(json_number(d));
  if (s.find_first_of(".eE") == std::string::npos && s != "null") {
    s += ".0";
  }
  return s;
}

// Reads JSON values at a path: a value of the wrong type is recorded in
// `shape`, a value out of range or otherwise not allowed in `invalid`.
struct Reader {
  std::vector<Violation> shape;    // → 422 Invalid JSON
  std::vector<Violation> invalid;  // → 422 Object is not valid

  void type_error(const std::string& path, const std::string& key) { shape.push_back({path, key}); }
  void violation(const std::string& path, const std::string& error) { invalid.push_back({path, error}); }

  // The member `key` of `o`, or nullptr when absent or null.
  static const picojson::value* field(const picojson::object& o, const std::string& key) {
    auto it = o.find(key);
    if (it == o.end() || it->second.is<picojson::null>()) {
      return nullptr;
    }
    return &it->second;
  }

  bool string(const picojson::value& v, const std::string& path, std::string* out) {
    if (!v.is<std::string>()) {
      type_error(path, "error.expected.jsstring");
      return false;
    }
    *out = v.get<std::string>();
    return true;
  }
  bool number(const picojson::value& v, const std::string& path, double* out) {
    if (!v.is<double>()) {
      type_error(path, "error.expected.jsnumber");
      return false;
    }
    *out = v.get<double>();
    return true;
  }
  bool integer(const picojson::value& v, const std::string& path, int* out) {
    if (v.is<int64_t>()) {
      int64_t i = v.get<int64_t>();
      if (i < INT_MIN || i > INT_MAX) {
        type_error(path, "error.expected.int");
        return false;
      }
      *out = static_cast<int>(i);
      return true;
    }
    if (!v.is<double>()) {
      type_error(path, "error.expected.jsnumber");
      return false;
    }
    double d = v.get<double>();
    if (std::floor(d) != d || d < INT_MIN || d > INT_MAX) {
      type_error(path, "error.expected.int");
      return false;
    }
    *out = static_cast<int>(d);
    return true;
  }
  bool boolean(const picojson::value& v, const std::string& path, bool* out) {
    if (!v.is<bool>()) {
      type_error(path, "error.expected.jsboolean");
      return false;
    }
    *out = v.get<bool>();
    return true;
  }
  const picojson::object* object(const picojson::value& v, const std::string& path) {
    if (!v.is<picojson::object>()) {
      type_error(path, "error.expected.jsobject");
      return nullptr;
    }
    return &v.get<picojson::object>();
  }
  const picojson::array* array(const picojson::value& v, const std::string& path) {
    if (!v.is<picojson::array>()) {
      type_error(path, "error.expected.jsarray");
      return nullptr;
    }
    return &v.get<picojson::array>();
  }
  bool enumeration(const picojson::value& v, const std::string& path, const std::set<std::string>& allowed,
                   std::string* out) {
    std::string s;
    if (!string(v, path, &s)) {
      return false;
    }
    if (allowed.count(s) == 0) {
      type_error(path, "error.unknown.enum.literal");
      return false;
    }
    *out = s;
    return true;
  }

  // Optional members: left unchanged when absent or null.
  void opt_string(const picojson::object& o, const std::string& key, const std::string& base, std::string* out) {
    if (const picojson::value* v = field(o, key)) {
      string(*v, base + "/" + key, out);
    }
  }
  void opt_string(const picojson::object& o, const std::string& key, const std::string& base,
                  std::optional<std::string>* out) {
    if (const picojson::value* v = field(o, key)) {
      std::string s;
      if (string(*v, base + "/" + key, &s)) {
        *out = s;
      }
    }
  }
  void opt_number(const picojson::object& o, const std::string& key, const std::string& base, double* out) {
    if (const picojson::value* v = field(o, key)) {
      number(*v, base + "/" + key, out);
    }
  }
  void opt_int(const picojson::object& o, const std::string& key, const std::string& base, int* out) {
    if (const picojson::value* v = field(o, key)) {
      integer(*v, base + "/" + key, out);
    }
  }
  void opt_int(const picojson::object& o, const std::string& key, const std::string& base, std::optional<int>* out) {
    if (const picojson::value* v = field(o, key)) {
      int i = 0;
      if (integer(*v, base + "/" + key, &i)) {
        *out = i;
      }
    }
  }
  void opt_bool(const picojson::object& o, const std::string& key, const std::string& base, bool* out) {
    if (const picojson::value* v = field(o, key)) {
      boolean(*v, base + "/" + key, out);
    }
  }
  void opt_enum(const picojson::object& o, const std::string& key, const std::string& base,
                const std::set<std::string>& allowed, std::string* out) {
    if (const picojson::value* v = field(o, key)) {
      enumeration(*v, base + "/" + key, allowed, out);
    }
  }
  void string_map(const picojson::value& v, const std::string& path, std::map<std::string, std::string>* out) {
    const picojson::object* o = object(v, path);
    if (o == nullptr) {
      return;
    }
    out->clear();
    for (const auto& [k, e] : *o) {
      std::string s;
      if (string(e, path + "/" + k, &s)) {
        (*out)[k] = s;
      }
    }
  }
  void opt_string_map(const picojson::object& o, const std::string& key, const std::string& base,
                      std::map<std::string, std::string>* out) {
    if (const picojson::value* v = field(o, key)) {
      string_map(*v, base + "/" + key, out);
    }
  }
  bool string_array(const picojson::value& v, const std::string& path, std::vector<std::string>* out) {
    const picojson::array* a = array(v, path);
    if (a == nullptr) {
      return false;
    }
    out->clear();
    bool ok = true;
    for (size_t i = 0; i < a->size(); ++i) {
      std::string s;
      if (string((*a)[i], path + "(" + std::to_string(i) + ")", &s)) {
        out->push_back(s);
      } else {
        ok = false;
      }
    }
    return ok;
  }

  // Range checks in accord's words ("got 0.0, expected 0.001 or more").
  void at_least(double v, double min, const std::string& path) {
    if (!(v >= min)) {
      violation(path, "got " + scala_double(v) + ", expected " + scala_double(min) + " or more");
    }
  }
  void at_least(int v, int min, const std::string& path) {
    if (v < min) {
      violation(path, "got " + std::to_string(v) + ", expected " + std::to_string(min) + " or more");
    }
  }
  void between(double v, double min, double max, const std::string& path) {
    if (!(v >= min && v <= max)) {
      violation(path, "got " + scala_double(v) + ", expected between " + scala_double(min) + " and " +
                          scala_double(max));
    }
  }
  void between(int v, int min, int max, const std::string& path) {
    if (v < min || v > max) {
      violation(path, "got " + std::to_string(v) + ", expected between " + std::to_string(min) + " and " +
                          std::to_string(max));
    }
  }
};

inline std::string idx(const std::string& base, size_t i) { return base + "(" + std::to_string(i) + ")"; }

// Checks one constraint (its operator already upper-cased) where its index
// is known; a bad one is a violation at `path`.
void check_constraint(Reader& r, const Constraint& c, const std::string& path);

// Validates the whole normalized app, recording every violation in
// r.invalid; canonicalizes app->dependencies against the app's parent.
void validate(Reader& r, App* app);

// Why `id` is too long to run, or nullopt: each of its task ids
// (new_task_id) is one component of a state store key, which holds at most
// MAX_ENCODED_COMPONENT bytes percent-encoded ('.' takes three).
std::optional<std::string> id_too_long(const std::string& id);

}  // namespace stoa::services::model_in
