#pragma once
// A response body held in pieces that the HTTP server writes in order
// without joining them first (issue #17): /master/state is a rope of the
// records' shared JSON fragments, 32-168 MB, and joining it into one string
// for every render cost more of the machine than the render itself (a fresh
// allocation, its pages faulted in and zeroed, then the copy).
//
// Immutable once handed to the server; it may be read from the server's
// thread while its maker still holds it, so every const method must be a
// pure read.

#include <cstddef>
#include <functional>
#include <string>

namespace stoa::http {

class BodySpans {
 public:
  virtual ~BodySpans() = default;
  // The body's length in bytes.
  virtual size_t size() const = 0;
  // Calls `out` with the contiguous spans that make up bytes
  // [offset, offset + n) of the body, in order; n is cut at the end.
  virtual void spans(size_t offset, size_t n, const std::function<void(const char*, size_t)>& out) const = 0;
  // The whole body in one string (for the rare reader that needs it so).
  std::string str() const;
};

}  // namespace stoa::http
