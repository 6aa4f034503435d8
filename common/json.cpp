#include "common/json.hpp"
#include "common/json_writer.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace stoa {

namespace {

void write_string(std::string_view s, std::string* out) {
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

// A picojson parse context (the interface of picojson's default one) that
// counts the depth of arrays *and* objects and refuses non-finite numbers,
// recording why it stopped so the error names the real cause.
struct ParseFailure {
  std::optional<std::string> reason;
};

class BoundedContext {
 public:
  BoundedContext(picojson::value* out, size_t depth_left, ParseFailure* failure)
      : out_(out), depth_left_(depth_left), failure_(failure) {}
  BoundedContext(const BoundedContext&) = delete;
  BoundedContext& operator=(const BoundedContext&) = delete;

  bool set_null() {
    *out_ = picojson::value();
    return true;
  }
  bool set_bool(bool b) {
    *out_ = picojson::value(b);
    return true;
  }
  bool set_int64(int64_t i) {
    *out_ = picojson::value(i);
    return true;
  }
  bool set_number(double f) {
    if (!std::isfinite(f)) {
      failure_->reason = "number out of range";
      return false;
    }
    *out_ = picojson::value(f);
    return true;
  }
  template <typename Iter>
  bool parse_string(picojson::input<Iter>& in) {
    *out_ = picojson::value(picojson::string_type, false);
    return picojson::_parse_string(out_->get<std::string>(), in);
  }
  bool parse_array_start() {
    if (!enter()) {
      return false;
    }
    *out_ = picojson::value(picojson::array_type, false);
    return true;
  }
  template <typename Iter>
  bool parse_array_item(picojson::input<Iter>& in, size_t) {
    picojson::array& a = out_->get<picojson::array>();
    a.emplace_back();
    BoundedContext sub(&a.back(), depth_left_, failure_);
    return picojson::_parse(sub, in);
  }
  bool parse_array_stop(size_t) {
    ++depth_left_;
    return true;
  }
  bool parse_object_start() {
    if (!enter()) {
      return false;
    }
    *out_ = picojson::value(picojson::object_type, false);
    return true;
  }
  template <typename Iter>
  bool parse_object_item(picojson::input<Iter>& in, const std::string& key) {
    picojson::object& o = out_->get<picojson::object>();
    BoundedContext sub(&o[key], depth_left_, failure_);
    return picojson::_parse(sub, in);
  }
  bool parse_object_stop() {
    ++depth_left_;
    return true;
  }

 private:
  bool enter() {
    if (depth_left_ == 0) {
      failure_->reason = "nesting too deep";
      return false;
    }
    --depth_left_;
    return true;
  }

  picojson::value* out_;
  size_t depth_left_;
  ParseFailure* failure_;
};

}  // namespace

Try<picojson::value> json_parse(std::string_view text, size_t max_depth) {
  picojson::value out;
  ParseFailure failure;
  const char* begin = text.data();
  const char* last = text.data() + text.size();
  try {
    BoundedContext ctx(&out, max_depth, &failure);
    picojson::input<const char*> in(begin, last);
    bool ok = picojson::_parse(ctx, in);
    const char* at = in.cur();
    auto where = [&](const char* p) { return std::to_string(p - begin); };
    auto near = [&](const char* p) {
      return std::string(p, std::min<size_t>(static_cast<size_t>(last - p), 32));
    };
    if (failure.reason && *failure.reason == "number out of range") {
      // picojson ignores set_number()'s verdict and goes on: find the first
      // number token that is not a finite double to name it.
      bool in_string = false;
      for (const char* p = begin; p != last; ++p) {
        if (in_string) {
          if (*p == '\\') {
            ++p;
            if (p == last) {
              break;
            }
          } else if (*p == '"') {
            in_string = false;
          }
          continue;
        }
        if (*p == '"') {
          in_string = true;
          continue;
        }
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
          const char* q = p;
          while (q != last && std::string_view("0123456789+-.eE").find(*q) != std::string_view::npos) {
            ++q;
          }
          std::string token(p, q);
          if (!std::isfinite(std::strtod(token.c_str(), nullptr))) {
            return Error(*failure.reason + " at byte " + where(p) + ": " + token.substr(0, 64));
          }
          p = q - 1;
        }
      }
      return Error(*failure.reason);
    }
    if (ok) {
      // Only white space may follow the value.
      for (const char* p = at; p != last; ++p) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
          return Error("unexpected text after the JSON value at byte " + where(p) + ": " + near(p));
        }
      }
      return out;
    }
    if (failure.reason && *failure.reason == "nesting too deep") {
      return Error("nesting deeper than " + std::to_string(max_depth) + " levels at byte " +
                   where(at > begin ? at - 1 : at));
    }
    if (at == last) {
      return Error("unexpected end of JSON at byte " + where(at));
    }
    return Error("syntax error at byte " + where(at) + " near: " + near(at));
  } catch (const std::exception& e) {
    // Not expected (the context never builds a throwing value); a
    // bad_alloc on a pathological body ends here rather than in an actor.
    return Error(std::string("cannot parse JSON: ") + e.what());
  }
}

picojson::value json_number(double d) {
  if (!std::isfinite(d)) {
    return picojson::value();
  }
  return picojson::value(d);
}

std::string json_serialize(const picojson::value& v) {
  std::string out;
  write(v, &out);
  return out;
}

void json_append(const picojson::value& v, std::string* out) { write(v, out); }

void json_append_string(std::string_view s, std::string* out) { write_string(s, out); }

void json_append_number(double d, std::string* out) {
  if (!std::isfinite(d)) {
    out->append("null");
    return;
  }
  write(picojson::value(d), out);
}

}  // namespace stoa
