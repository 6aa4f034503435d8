#pragma once
// Errors as values (stout's Try / Option<Error>, LevelDB's Status).
// Nothing in Stoa throws across a component boundary: a fallible function
// returns Try<T> (a value or an Error) or std::optional<Error>.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace stoa {

struct Error {
  std::string message;
  explicit Error(std::string m) : message(std::move(m)) {}
};

template <class T>
class Try {
 public:
  Try(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Try(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool is_error() const { return std::holds_alternative<Error>(v_); }
  bool is_some() const { return !is_error(); }
  explicit operator bool() const { return is_some(); }

  // REQUIRES: is_error().
  const std::string& error() const { return std::get<Error>(v_).message; }

  // REQUIRES: is_some().
  T& get() & { return std::get<T>(v_); }
  const T& get() const& { return std::get<T>(v_); }
  T&& get() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return get(); }
  const T& operator*() const& { return get(); }
  T* operator->() { return &get(); }
  const T* operator->() const { return &get(); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace stoa
