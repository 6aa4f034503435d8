#include "common/json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace stoa {

namespace {

void write_string(const std::string& s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void write(const picojson::value& v, std::string* out) {
  if (v.is<picojson::null>()) {
    out->append("null");
  } else if (v.is<bool>()) {
    out->append(v.get<bool>() ? "true" : "false");
  } else if (v.is<int64_t>()) {
    out->append(std::to_string(v.get<int64_t>()));
  } else if (v.is<double>()) {
    double d = v.get<double>();
    if (!std::isfinite(d)) {
      out->append("null");
      return;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), d);
    out->append(buf, r.ptr);
  } else if (v.is<std::string>()) {
    write_string(v.get<std::string>(), out);
  } else if (v.is<picojson::array>()) {
    out->push_back('[');
    bool first = true;
    for (const picojson::value& e : v.get<picojson::array>()) {
      if (!first) {
        out->push_back(',');
      }
      first = false;
      write(e, out);
    }
    out->push_back(']');
  } else if (v.is<picojson::object>()) {
    out->push_back('{');
    bool first = true;
    for (const auto& [k, e] : v.get<picojson::object>()) {
      if (!first) {
        out->push_back(',');
      }
      first = false;
      write_string(k, out);
      out->push_back(':');
      write(e, out);
    }
    out->push_back('}');
  }
}

}  // namespace

std::string json_serialize(const picojson::value& v) {
  std::string out;
  write(v, &out);
  return out;
}

}  // namespace stoa
