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
#include <vector>

#include <picojson.h>

#include "common/json_writer.hpp"
#include "common/resources.hpp"
#include "master/master_state.hpp"

namespace stoa::master {

// Where a render child (fork_render, state_serving.hpp) hands its body over
// while it renders: the body is every write(), in order, followed by the
// string the render returns. Implemented by the child's pipe.
class BodyPipe {
 public:
  virtual ~BodyPipe() = default;
  // The body will be about `bytes` long (a hint for the reader's buffer).
  virtual void expect(size_t bytes) = 0;
  // Hands `bytes`, the next part of the body, over. Does not return when
  // the pipe fails: the child exits, and its reader answers 500.
  virtual void write(std::string_view bytes) = 0;
};

// The pipe of the render child running on this thread, or nullptr (always,
// outside a render child).
BodyPipe* current_body_pipe();

// Makes `pipe` the current_body_pipe() of this thread for its lifetime.
class ScopedBodyPipe {
 public:
  explicit ScopedBodyPipe(BodyPipe* pipe);
  ~ScopedBodyPipe();
  ScopedBodyPipe(const ScopedBodyPipe&) = delete;
  ScopedBodyPipe& operator=(const ScopedBodyPipe&) = delete;

 private:
  BodyPipe* previous_;
};

}  // namespace stoa::master

namespace stoa::master::state_json_detail {

// Appends to `*out` from its current size. Invariant: out->size() is the
// capacity in use, `pos_` the end of the JSON written; finish() (or the
// destructor) trims the string to `pos_`. Not copyable.
//
// With a BodyPipe, `*out` is the body's unsent tail: when its PIPE_CHUNK
// bytes are full, the buffer writes them (and whatever `*out` held before)
// to the pipe and starts again at the string's beginning, so that the
// reader receives the body while it renders and the render touches only
// PIPE_CHUNK bytes of memory. The check is the one that grows the string
// without a pipe: the fast path has no extra branch.
class JsonBuffer {
 public:
  // How many bytes a buffer with a pipe collects before it writes them.
  static constexpr size_t PIPE_CHUNK = 1 << 20;

  // `expected` bytes are reserved up front (an estimate, 0 for "unknown":
  // MIN_GROWTH; the buffer grows by doubling past it); with a `pipe`, PIPE_CHUNK bytes, and the pipe
  // is told to expect `expected`.
  JsonBuffer(std::string* out, size_t expected, BodyPipe* pipe = nullptr) : out_(out), pos_(out->size()), pipe_(pipe) {
    if (pipe_ != nullptr) {
      pipe_->expect(expected);
      out_->resize(std::max(out_->size(), PIPE_CHUNK));
      return;
    }
    out_->resize(pos_ + (expected > 0 ? expected : MIN_GROWTH));
  }
  ~JsonBuffer() { finish(); }
  JsonBuffer(const JsonBuffer&) = delete;
  JsonBuffer& operator=(const JsonBuffer&) = delete;

  // Trims the string to what was written. The buffer may be used again.
  void finish() { out_->resize(pos_); }
  // The end of what was written, an offset into the string (no pipe).
  size_t written() const { return pos_; }

  void raw(std::string_view s) {
    if (s.empty()) return;  // data() may be null: no memcpy from it
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
    if (!s.empty()) std::memcpy(p + 1, s.data(), s.size());
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
    if (out_->size() - pos_ < n && pipe_ != nullptr && pos_ > 0) {
      pipe_->write(std::string_view(out_->data(), pos_));
      pos_ = 0;
    }
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
  BodyPipe* pipe_;
};

// A task's `resources`, parsed (as task_resources()) and rendered.
struct RenderedResources {
  Resources parsed;
  std::string json;
};

// A slave's resources as its JSON shows them three ways.
struct ResourcesViews {
  std::string all;         // resources_to_json(r)
  std::string reserved;    // reserved_resources_to_json(r)
  std::string unreserved;  // resources_to_json(r.unreserved())
};
ResourcesViews resources_views(const Resources& r);
// Sets `*key` to exactly what Resources::from_proto reads of t.resources()
// (allocation_info does not change the parse), length-prefixed: equal keys,
// equal parsed resources.
void task_resources_key(const Task& t, std::string* key);

// The names of one protobuf enum's values, looked up once per writer
// (protobuf's *_Name() searches the enum's descriptor on every call).
class EnumNames {
 public:
  explicit EnumNames(const std::string& (*name)(int)) : name_(name) {}
  const std::string& operator()(int v) {
    if (v < 0 || v >= MAX_CACHED) {
      return name_(v);
    }
    if (names_.size() <= static_cast<size_t>(v)) {
      names_.resize(static_cast<size_t>(v) + 1, nullptr);
    }
    const std::string*& n = names_[static_cast<size_t>(v)];
    if (n == nullptr) {
      n = &name_(v);
    }
    return *n;
  }

 private:
  static constexpr int MAX_CACHED = 256;
  const std::string& (*name_)(int);
  std::vector<const std::string*> names_;
};

// Writes tasks and slaves into a buffer: the per-record half of a render
// (state_json_stream.cpp), also used alone to render a record's fragment
// (CompletedTasks::push_back, state_rope.cpp).
class TaskWriter {
 public:
  explicit TaskWriter(JsonBuffer* b) : b_(b) {}

  // task_json(t) with `resources` the JSON of its resources.
  void task(const Task& t, std::string_view resources);
  // slave_json(s, slave) (full = false), keys in its sorted order, with
  // `total` and `allocated` the views of its total and used resources and
  // `offered` the JSON of its offered resources. Returns the offset in the
  // buffer at which `offered` was written.
  size_t slave(const SlaveRecord& slave, const ResourcesViews& total, const ResourcesViews& allocated,
               std::string_view offered);

 protected:
  template <class Range, class Write>
  void array_of(const Range& range, Write write) {
    b_->ch('[');
    bool first = true;
    for (const auto& x : range) {
      if (!first) {
        b_->ch(',');
      }
      first = false;
      write(x);
    }
    b_->ch(']');
  }
  // An object of `fixed`'s members and `streamed`'s, merged in key order
  // (picojson's objects are sorted maps); `stream(f)` writes the value of
  // the streamed member whose writer is `f`.
  template <class Streamed, class Stream>
  void object_of(const picojson::object& fixed, const Streamed& streamed, Stream stream) {
    b_->ch('{');
    auto a = fixed.begin();
    auto c = streamed.begin();
    bool first = true;
    while (a != fixed.end() || c != streamed.end()) {
      bool take_fixed = c == streamed.end() || (a != fixed.end() && a->first < c->first);
      key(take_fixed ? a->first : c->first, &first);
      if (take_fixed) {
        tree(a->second);
        ++a;
      } else {
        stream(c->second);
        ++c;
      }
    }
    b_->ch('}');
  }
  void key(std::string_view k, bool* first);
  void tree(const picojson::value& v);
  void status(const TaskStatus& st);
  void labels(const Labels& labels);

  JsonBuffer* b_;
  std::string scratch_;
  EnumNames task_state_{[](int v) -> const std::string& { return TaskState_Name(v); }};
  EnumNames reason_{[](int v) -> const std::string& { return TaskStatus::Reason_Name(v); }};
  EnumNames source_{[](int v) -> const std::string& { return TaskStatus::Source_Name(v); }};
};

// resources_to_json(r) and reserved_resources_to_json(r), written directly.
void write_resources(const Resources& r, JsonBuffer* b);
void write_reserved_resources(const Resources& r, JsonBuffer* b);

}  // namespace stoa::master::state_json_detail
