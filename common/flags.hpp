#pragma once
// Typed command-line flags, one Flags struct per binary (stout's FlagsBase).
//
// A flag is `--name=value`; booleans also take `--name` and `--no-name`.
// Every flag can come from the environment as STOA_<NAME> or MESOS_<NAME>
// (upper case); the command line wins over the environment, STOA_ over MESOS_.
// An unknown flag, a bad value or a flag this build does not act on yet is
// an error naming it: nothing is silently accepted.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/try.hpp"

namespace stoa {

using Duration = std::chrono::nanoseconds;

// Parses Mesos durations: "10secs", "100ms", "1mins", "2hrs", "5us", "3days", "1weeks".
Try<Duration> parse_duration(const std::string& text);
// Formats like Mesos: "1secs", "150ms", "10mins".
std::string format_duration(Duration d);

class FlagsBase {
 public:
  virtual ~FlagsBase() = default;

  // Loads argv[1..] and the environment. Returns an Error naming the first
  // bad flag; on error the fields hold an unspecified mix of values.
  std::optional<Error> load(int argc, const char* const* argv,
                            const std::map<std::string, std::string>& env);
  // Same, reading the process environment.
  std::optional<Error> load(int argc, const char* const* argv);

  // Multi-line usage text listing every flag, its default and help.
  std::string usage(const std::string& program) const;

  // Effective values as strings (what /master/flags and state "flags" show).
  std::map<std::string, std::string> values() const;

  bool help = false;

 protected:
  FlagsBase();

  // Registers a flag. `field` must outlive this object (it is a member).
  void add(std::string* field, std::string name, std::string help, std::string def);
  void add(bool* field, std::string name, std::string help, bool def);
  void add(int* field, std::string name, std::string help, int def);
  void add(double* field, std::string name, std::string help, double def);
  void add(Duration* field, std::string name, std::string help, Duration def);
  void add(std::optional<std::string>* field, std::string name, std::string help);

  // Adds a check run after loading when the flag was given (or has a value):
  // it returns an Error message (without the flag name) to reject the value,
  // e.g. "not supported yet".
  void check(const std::string& name,
             std::function<std::optional<std::string>(const std::string&)> fn);

 private:
  struct Flag {
    std::string name;
    std::string help;
    bool boolean = false;
    std::string default_text;
    // Fields are reached through their offset from `this`, so a copied
    // Flags struct reads and writes its own fields.
    std::function<std::optional<std::string>(FlagsBase*, const std::string&)> set;  // error text
    std::function<std::string(const FlagsBase*)> get;
    std::vector<std::function<std::optional<std::string>(const std::string&)>> checks;
    bool given = false;
  };
  Flag& insert(std::string name, std::string help);
  template <class T>
  ptrdiff_t offset_of(T* field) const {
    return reinterpret_cast<const char*>(field) - reinterpret_cast<const char*>(this);
  }
  template <class T>
  static T& at(FlagsBase* self, ptrdiff_t off) {
    return *reinterpret_cast<T*>(reinterpret_cast<char*>(self) + off);
  }
  template <class T>
  static const T& at(const FlagsBase* self, ptrdiff_t off) {
    return *reinterpret_cast<const T*>(reinterpret_cast<const char*>(self) + off);
  }
  std::optional<Error> assign(Flag& flag, const std::string& value, const std::string& source);

  std::map<std::string, Flag> flags_;
};

// A check that rejects any value other than those listed, saying the others
// are "not supported yet".
std::function<std::optional<std::string>(const std::string&)> only_supported(
    std::vector<std::string> allowed);

}  // namespace stoa
