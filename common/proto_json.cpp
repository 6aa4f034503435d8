#include "common/proto_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <picojson.h>

#include "common/base64.hpp"
#include "common/json.hpp"
#include "common/json_writer.hpp"

namespace stoa {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// --- writing ----------------------------------------------------------------

template <class F>
void append_float(F value, std::string* out) {
  if (std::isnan(value)) {
    out->append("\"NaN\"");
  } else if (std::isinf(value)) {
    out->append(value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);  // shortest round trip
    out->append(buf, ec == std::errc() ? end : buf);
  }
}

template <class I>
void append_integer(I value, bool quoted, std::string* out) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (quoted) {
    out->push_back('"');
  }
  out->append(buf, end);
  if (quoted) {
    out->push_back('"');
  }
}

void append_message(const Message& m, std::string* out);

// One value of `f` (element `index` when repeated, else -1).
void append_value(const Message& m, const Reflection& r, const FieldDescriptor* f, int index, std::string* out) {
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      append_integer(rep ? r.GetRepeatedInt32(m, f, index) : r.GetInt32(m, f), false, out);
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      append_integer(rep ? r.GetRepeatedUInt32(m, f, index) : r.GetUInt32(m, f), false, out);
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      append_integer(rep ? r.GetRepeatedInt64(m, f, index) : r.GetInt64(m, f), true, out);
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      append_integer(rep ? r.GetRepeatedUInt64(m, f, index) : r.GetUInt64(m, f), true, out);
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      append_float(rep ? r.GetRepeatedDouble(m, f, index) : r.GetDouble(m, f), out);
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      append_float(rep ? r.GetRepeatedFloat(m, f, index) : r.GetFloat(m, f), out);
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      out->append((rep ? r.GetRepeatedBool(m, f, index) : r.GetBool(m, f)) ? "true" : "false");
      break;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = rep ? r.GetRepeatedEnumValue(m, f, index) : r.GetEnumValue(m, f);
      if (const EnumValueDescriptor* v = f->enum_type()->FindValueByNumber(number)) {
        json_append_string(v->name(), out);
      } else {
        append_integer(number, false, out);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r.GetRepeatedStringReference(m, f, index, &scratch)
                                 : r.GetStringReference(m, f, &scratch);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        out->push_back('"');
        out->append(base64_encode(s));
        out->push_back('"');
      } else {
        json_append_string(s, out);
      }
      break;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      append_message(rep ? r.GetRepeatedMessage(m, f, index) : r.GetMessage(m, f), out);
      break;
  }
}

void append_message(const Message& m, std::string* out) {
  const Reflection& r = *m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r.ListFields(m, &fields);  // set ones, by number
  out->push_back('{');
  bool first = true;
  for (const FieldDescriptor* f : fields) {
    if (f->is_extension()) {
      continue;
    }
    if (!first) {
      out->push_back(',');
    }
    first = false;
    json_append_string(f->name(), out);
    out->push_back(':');
    if (f->is_repeated()) {
      out->push_back('[');
      const int n = r.FieldSize(m, f);
      for (int i = 0; i < n; ++i) {
        if (i > 0) {
          out->push_back(',');
        }
        append_value(m, r, f, i, out);
      }
      out->push_back(']');
    } else {
      append_value(m, r, f, -1, out);
    }
  }
  out->push_back('}');
}

// --- reading ----------------------------------------------------------------

std::string shown(const picojson::value& v) {
  std::string s = json_serialize(v);
  if (s.size() > 64) {
    s.resize(61);
    s += "...";
  }
  return s;
}

std::optional<Error> wrong(const std::string& path, const std::string& expected, const picojson::value& v) {
  return Error("'" + path + "' must be " + expected + ", not " + shown(v));
}

// An integer of [lo, hi] from a JSON number or a string holding one.
template <class I>
std::optional<I> integer_of(const picojson::value& v) {
  if (v.is<int64_t>()) {
    const int64_t x = v.get<int64_t>();
    if constexpr (std::is_signed_v<I>) {
      if (x < std::numeric_limits<I>::min() || x > std::numeric_limits<I>::max()) {
        return std::nullopt;
      }
    } else {
      if (x < 0 || static_cast<uint64_t>(x) > std::numeric_limits<I>::max()) {
        return std::nullopt;
      }
    }
    return static_cast<I>(x);
  }
  if (v.is<double>()) {  // not integral, or beyond int64
    const double d = v.get<double>();
    // Exact integers only; 2^63 and 2^64 themselves are out of range.
    if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(std::numeric_limits<I>::min()) ||
        d >= std::ldexp(1.0, std::numeric_limits<I>::digits)) {
      return std::nullopt;
    }
    return static_cast<I>(d);
  }
  if (v.is<std::string>()) {
    const std::string& s = v.get<std::string>();
    I x{};
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), x);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
      return std::nullopt;
    }
    return x;
  }
  return std::nullopt;
}

std::optional<double> double_of(const picojson::value& v) {
  if (v.is<double>()) {  // ints too
    return v.get<double>();
  }
  if (v.is<std::string>()) {
    const std::string& s = v.get<std::string>();
    if (s == "NaN") {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (s == "Infinity") {
      return std::numeric_limits<double>::infinity();
    }
    if (s == "-Infinity") {
      return -std::numeric_limits<double>::infinity();
    }
    double d = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (!s.empty() && ec == std::errc() && end == s.data() + s.size() && std::isfinite(d)) {
      return d;
    }
  }
  return std::nullopt;
}

std::optional<Error> read_message(const picojson::value& v, Message* m, const std::string& path);

// Calls `set` with `v` as an I, or names what is wrong.
template <class I, class Set>
std::optional<Error> set_integer(const picojson::value& v, const std::string& path, const char* expected, Set set) {
  std::optional<I> x = integer_of<I>(v);
  if (!x) {
    return wrong(path, expected, v);
  }
  set(*x);
  return std::nullopt;
}

// Sets (or adds, when repeated) one value of `f`.
std::optional<Error> read_value(const picojson::value& v, Message* m, const FieldDescriptor* f, const std::string& path) {
  const Reflection& r = *m->GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return set_integer<int32_t>(v, path, "a 32-bit integer",
                                  [&](int32_t x) { rep ? r.AddInt32(m, f, x) : r.SetInt32(m, f, x); });
    case FieldDescriptor::CPPTYPE_UINT32:
      return set_integer<uint32_t>(v, path, "an unsigned 32-bit integer",
                                   [&](uint32_t x) { rep ? r.AddUInt32(m, f, x) : r.SetUInt32(m, f, x); });
    case FieldDescriptor::CPPTYPE_INT64:
      return set_integer<int64_t>(v, path, "a 64-bit integer",
                                  [&](int64_t x) { rep ? r.AddInt64(m, f, x) : r.SetInt64(m, f, x); });
    case FieldDescriptor::CPPTYPE_UINT64:
      return set_integer<uint64_t>(v, path, "an unsigned 64-bit integer",
                                   [&](uint64_t x) { rep ? r.AddUInt64(m, f, x) : r.SetUInt64(m, f, x); });
    case FieldDescriptor::CPPTYPE_DOUBLE:
    case FieldDescriptor::CPPTYPE_FLOAT: {
      std::optional<double> x = double_of(v);
      if (!x) {
        return wrong(path, "a number", v);
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_DOUBLE) {
        rep ? r.AddDouble(m, f, *x) : r.SetDouble(m, f, *x);
      } else {
        if (std::isfinite(*x) && std::fabs(*x) > std::numeric_limits<float>::max()) {
          return wrong(path, "a 32-bit float", v);
        }
        const auto fx = static_cast<float>(*x);
        rep ? r.AddFloat(m, f, fx) : r.SetFloat(m, f, fx);
      }
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      if (!v.is<bool>()) {
        return wrong(path, "true or false", v);
      }
      rep ? r.AddBool(m, f, v.get<bool>()) : r.SetBool(m, f, v.get<bool>());
      return std::nullopt;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const EnumValueDescriptor* e = nullptr;
      if (v.is<std::string>()) {
        e = f->enum_type()->FindValueByName(v.get<std::string>());
      } else if (std::optional<int32_t> n = integer_of<int32_t>(v)) {
        e = f->enum_type()->FindValueByNumber(*n);
      }
      if (e == nullptr) {
        std::string names;
        for (int i = 0; i < f->enum_type()->value_count(); ++i) {
          names += (i == 0 ? "" : ", ") + f->enum_type()->value(i)->name();
        }
        return wrong(path, "one of " + names, v);
      }
      rep ? r.AddEnum(m, f, e) : r.SetEnum(m, f, e);
      return std::nullopt;
    }
    case FieldDescriptor::CPPTYPE_STRING:
      if (!v.is<std::string>()) {
        return wrong(path, f->type() == FieldDescriptor::TYPE_BYTES ? "a base64 string" : "a string", v);
      }
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        std::string text = v.get<std::string>();
        for (char& c : text) {  // URL-safe base64 too
          c = c == '-' ? '+' : c == '_' ? '/' : c;
        }
        Try<std::string> bytes = base64_decode(text);
        if (bytes.is_error()) {
          return Error("'" + path + "' must be base64: " + bytes.error());
        }
        rep ? r.AddString(m, f, std::move(*bytes)) : r.SetString(m, f, std::move(*bytes));
      } else {
        rep ? r.AddString(m, f, v.get<std::string>()) : r.SetString(m, f, v.get<std::string>());
      }
      return std::nullopt;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return read_message(v, rep ? r.AddMessage(m, f) : r.MutableMessage(m, f), path);
  }
  return Error("'" + path + "' has a type this reader does not know");
}

const FieldDescriptor* field_named(const Descriptor& d, const std::string& key) {
  if (const FieldDescriptor* f = d.FindFieldByName(key)) {
    return f;
  }
  for (int i = 0; i < d.field_count(); ++i) {
    if (d.field(i)->json_name() == key) {
      return d.field(i);
    }
  }
  return nullptr;
}

std::optional<Error> read_message(const picojson::value& v, Message* m, const std::string& path) {
  if (!v.is<picojson::object>()) {
    return wrong(path.empty() ? std::string("the body") : path, "an object", v);
  }
  const Descriptor& d = *m->GetDescriptor();
  for (const auto& [key, value] : v.get<picojson::object>()) {
    const FieldDescriptor* f = field_named(d, key);
    if (f == nullptr || value.is<picojson::null>()) {
      continue;  // unknown, or left unset
    }
    const std::string here = path.empty() ? f->name() : path + "." + f->name();
    if (!f->is_repeated()) {
      if (std::optional<Error> e = read_value(value, m, f, here)) {
        return e;
      }
      continue;
    }
    if (!value.is<picojson::array>()) {
      return wrong(here, "an array", value);
    }
    const picojson::array& items = value.get<picojson::array>();
    for (size_t i = 0; i < items.size(); ++i) {
      const std::string at = here + "[" + std::to_string(i) + "]";
      if (items[i].is<picojson::null>()) {
        return wrong(at, "a value", items[i]);
      }
      if (std::optional<Error> e = read_value(items[i], m, f, at)) {
        return e;
      }
    }
  }
  return std::nullopt;
}

}  // namespace

void proto_append_json(const Message& message, std::string* out) { append_message(message, out); }

std::string proto_to_json(const Message& message) {
  std::string out;
  append_message(message, &out);
  return out;
}

Try<bool> proto_from_json(std::string_view text, Message* message) {
  Try<picojson::value> v = json_parse(text);
  if (v.is_error()) {
    return Error(v.error());
  }
  if (std::optional<Error> e = read_message(*v, message, "")) {
    return *e;
  }
  return true;
}

}  // namespace stoa
