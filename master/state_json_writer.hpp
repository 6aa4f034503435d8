#pragma once
// The output buffer of the streamed /master/state writers
// (state_json_stream.cpp): JSON appended through a raw cursor into one
// big std::string, with the same bytes as json_serialize()
// (common/json.hpp): shortest round-trip numbers, strings escaped as
// write_string() escapes them (with a fast path for strings that need no
// escaping), no per-field temporaries.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include "common/json_writer.hpp"
#include "common/resources.hpp"

namespace stoa::master::state_json_detail {

// Appends to `*out` from its current size. Invariant: out->size() is the
// capacity in use, `pos_` the end of the JSON written; finish() (or the
// destructor) trims the string to `pos_`. Not copyable.
class JsonBuffer {
 public:
  // `expected` bytes are reserved up front (an estimate; the buffer grows
  // by doubling past it).
  JsonBuffer(std::string* out, size_t expected) : out_(out), pos_(out->size()) {
    out_->resize(pos_ + std::max<size_t>(expected, MIN_GROWTH));
  }
  ~JsonBuffer() { finish(); }
  JsonBuffer(const JsonBuffer&) = delete;
  JsonBuffer& operator=(const JsonBuffer&) = delete;

  // Trims the string to what was written. The buffer may be used again.
  void finish() { out_->resize(pos_); }

  void raw(std::string_view s) {
    char* p = reserve(s.size());
    std::memcpy(p, s.data(), s.size());
    pos_ += s.size();
  }
  void ch(char c) {
    *reserve(1) = c;
    ++pos_;
  }
  // `s` as a JSON string, quoted and escaped.
  void str(std::string_view s) {
    for (char c : s) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
        slow_str(s);
        return;
      }
    }
    char* p = reserve(s.size() + 2);
    p[0] = '"';
    std::memcpy(p + 1, s.data(), s.size());
    p[s.size() + 1] = '"';
    pos_ += s.size() + 2;
  }
  // A number as json_serialize() writes it (null when not finite).
  void num(double d) {
    if (!std::isfinite(d)) {
      raw("null");
      return;
    }
    char* p = reserve(NUMBER_CHARS);
    auto r = std::to_chars(p, p + NUMBER_CHARS, d);
    pos_ = static_cast<size_t>(r.ptr - out_->data());
  }
  void boolean(bool b) { raw(b ? std::string_view("true") : std::string_view("false")); }

 private:
  static constexpr size_t MIN_GROWTH = 1 << 16;
  static constexpr size_t NUMBER_CHARS = 32;

  char* reserve(size_t n) {
    if (out_->size() - pos_ < n) {
      out_->resize(std::max(out_->size() * 2, pos_ + n + MIN_GROWTH));
    }
    return out_->data() + pos_;
  }
  void slow_str(std::string_view s) {
    std::string escaped;
    json_append_string(s, &escaped);
    raw(escaped);
  }

  std::string* out_;
  size_t pos_;
};

// resources_to_json(r) and reserved_resources_to_json(r), written directly.
void write_resources(const Resources& r, JsonBuffer* b);
void write_reserved_resources(const Resources& r, JsonBuffer* b);

}  // namespace stoa::master::state_json_detail
