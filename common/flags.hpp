#pragma once
// Typed command-line flags, one Flags struct per binary (stout's FlagsBase).
//
// A flag is `--name=value`; booleans also take `--name` and `--no-name`.
// Every flag can come from the environment as STOA_<NAME> or MESOS_<NAME>
// (upper case); the command line wins over the environment, STOA_ over MESOS_.
// An unknown flag, a bad value or a flag this build does not act on yet is
// an error naming it: nothing is silently accepted.
//
// A Flags struct may opt in to Marathon's style (FlagStyle, set_style()):
// `--name value` as well as `--name=value`, and other environment prefixes
// (stoa-services reads STOA_<NAME> and MARATHON_<NAME>). Structs that do not
// opt in keep the style above exactly.

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
// A non-negative decimal number and a unit, nothing else (no sign, exponent,
// space, NaN or infinity). Error, quoting `text`, for anything else and for
// values beyond what 64-bit nanoseconds hold (about 292 years): "too large".
Try<Duration> parse_duration(const std::string& text);
// Formats like Mesos: "1secs", "150ms", "10mins", in the largest unit that
// holds `d` exactly; parse_duration() of the result gives `d` back.
std::string format_duration(Duration d);

// Every duration flag is at most this long (the value is refused above it),
// so timers and the arithmetic on them (backoffs double) cannot overflow.
constexpr Duration MAX_FLAG_DURATION = std::chrono::hours(24 * 365);

// A check for FlagsBase::check(): gets the flag's effective value as text
// (what values() shows) and returns why it is wrong, or nullopt.
using FlagCheck = std::function<std::optional<std::string>(const std::string&)>;

// Limits of a process' network-facing ports (docs/hardening.md), the same
// flags on every daemon: --max_connections, --http_idle_timeout,
// --handshake_timeout, --max_message_bytes.
struct NetworkLimitFlags {
  int max_connections = 4096;
  Duration http_idle_timeout = std::chrono::seconds(60);
  Duration handshake_timeout = std::chrono::seconds(10);
  int max_message_bytes = 64 << 20;
};

// Where a daemon is reached from other hosts (docs/multi-host.md), the same
// flags on stoa-master and stoa-slave: --advertise_ip, --advertise_port and
// --actor_port. Unset values are derived (see effective_actor_port() and
// RuntimeOptions).
struct AddressFlags {
  std::optional<std::string> advertise_ip;    // an IPv4 address
  std::optional<std::string> advertise_port;  // 1..65535
  std::optional<std::string> actor_port;      // 0..65535; 0 = the OS picks one
};

// The default actor port is the HTTP port plus this, as long as the result
// stays below EPHEMERAL_PORT_START (Linux' default ip_local_port_range
// starts there: the kernel hands those ports to outgoing connections, so a
// listening port there is not reliably free). 5050 -> 15050, 5051 -> 15051.
constexpr int ACTOR_PORT_OFFSET = 10000;
constexpr int EPHEMERAL_PORT_START = 32768;
// --actor_port when it is not given: `http_port` + ACTOR_PORT_OFFSET when
// `http_port` is non-zero and the sum stays below EPHEMERAL_PORT_START, else
// 0 (the OS picks one, as for an OS-picked HTTP port).
int default_actor_port(int http_port);
// --actor_port as given, else default_actor_port(http_port).
int effective_actor_port(int http_port, const AddressFlags& address);
// --advertise_port as given, else 0 (advertise the bound HTTP port).
int effective_advertise_port(const AddressFlags& address);
// The checks across flags: a non-zero actor port (given or derived) must
// differ from a non-zero --port. The Error names both flags and values.
std::optional<Error> check_address_flags(int http_port, const AddressFlags& address);

// Logging flags of every daemon (common/logging.hpp), beside --log_dir.
struct LoggingFlags {
  std::string logging_level = "INFO";
  bool quiet = false;
  int max_log_size = 100;  // MB
};

// How a Flags struct reads its command line and environment.
struct FlagStyle {
  // Also take `--name value` (the next argument is the value) for flags that
  // are not booleans. A boolean flag never takes the next word (`--quiet x`
  // leaves `x` an unexpected argument), and a next word starting with "--"
  // is never a value (`--master --zk=...` says --master needs a value).
  bool space_separated = false;
  // Environment prefixes, the later ones winning over the earlier ones (the
  // command line wins over all of them).
  std::vector<std::string> env_prefixes = {"MESOS_", "STOA_"};
};

class FlagsBase {
 public:
  virtual ~FlagsBase() = default;

  // Loads argv[1..] and the environment, runs every check() of the flags
  // that were given, then validate(). Returns an Error naming the first bad
  // flag and quoting its value as given ("Invalid value '0secs' for flag
  // '--slave_ping_timeout': must be positive"); a flag given twice on the
  // command line is an error. On error the fields hold an unspecified mix
  // of values.
  std::optional<Error> load(int argc, const char* const* argv,
                            const std::map<std::string, std::string>& env);
  // Same, reading the process environment.
  std::optional<Error> load(int argc, const char* const* argv);

  // Multi-line usage text listing every flag, its default and help.
  std::string usage(const std::string& program) const;

  // Effective values as strings (what /master/flags and state "flags" show).
  std::map<std::string, std::string> values() const;

  // Every flag as `--name="value"`, for the "Flags at startup" log line.
  std::string startup_line() const;

  bool help = false;

 protected:
  FlagsBase();

  // Opts this struct in to another style (call it in the constructor).
  void set_style(FlagStyle style) { style_ = std::move(style); }
  const FlagStyle& style() const { return style_; }

  // Checks that involve several flags, run last by load(). The Error's
  // message is printed as is, so it should name the flags and values.
  virtual std::optional<Error> validate() const { return std::nullopt; }

  // Registers a flag. `field` must outlive this object (it is a member).
  // Integers take decimal digits with an optional '-' (no spaces, '+', hex
  // or exponent) within the range of int; doubles must be finite; durations
  // as parse_duration() and at most MAX_FLAG_DURATION.
  void add(std::string* field, std::string name, std::string help, std::string def);
  void add(bool* field, std::string name, std::string help, bool def);
  void add(int* field, std::string name, std::string help, int def);
  void add(double* field, std::string name, std::string help, double def);
  void add(Duration* field, std::string name, std::string help, Duration def);
  // A duration flag that also takes a bare non-negative number in
  // `number_unit` (Marathon gives durations as plain milliseconds or
  // seconds): with number_unit 1s, "604800" and "1weeks" are the same value.
  void add(Duration* field, std::string name, std::string help, Duration def, Duration number_unit);
  void add(std::optional<std::string>* field, std::string name, std::string help);

  // Adds a check run after loading when the flag was given (or has a value):
  // it returns an Error message (without the flag name) to reject the value,
  // e.g. "not supported yet".
  void check(const std::string& name, FlagCheck fn);

  // Registers the NetworkLimitFlags group; `limits` must be a member.
  void add_network_limits(NetworkLimitFlags* limits);
  // Registers --advertise_ip, --advertise_port and --actor_port; `address`
  // must be a member.
  void add_address_flags(AddressFlags* address);
  // A framework's addresses (docs/multi-host.md): --port (its HTTP port, 0 =
  // the OS picks one) and add_address_flags()'s, with `ip_flag` (the --ip
  // the caller added) also read, as a Mesos framework reads them, from
  // LIBPROCESS_IP, LIBPROCESS_PORT, LIBPROCESS_ADVERTISE_IP and
  // LIBPROCESS_ADVERTISE_PORT (env_alias()).
  void add_framework_address_flags(const std::string& ip_flag, int* port, AddressFlags* address);
  // Flag `name` may also come from the environment variable `var`, taken as
  // is (no prefix), below every prefixed variable and the command line.
  void env_alias(const std::string& name, std::string var);
  // Registers --logging_level, --quiet and --max_log_size; `logging` must be a member.
  void add_logging_flags(LoggingFlags* logging);

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
    std::vector<FlagCheck> checks;
    bool given = false;
    std::string given_text;    // the value as given, for messages
    std::string given_source;  // "" (command line) or the environment variable
    std::vector<std::string> env_aliases;  // env_alias()
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
  static Error invalid(const Flag& flag, const std::string& value, const std::string& source,
                       const std::string& why);

  std::map<std::string, Flag> flags_;
  FlagStyle style_;
};

// A check that rejects any value other than those listed, saying the others
// are "not supported yet".
FlagCheck only_supported(std::vector<std::string> allowed);

// Common checks.
FlagCheck positive_duration();        // a duration flag: "must be positive"
FlagCheck duration_text();            // a text flag holding a duration, e.g. an optional one: must parse
FlagCheck at_least(int min);          // an int flag: "must be at least <min>"
FlagCheck within(int min, int max);   // an int flag: "must be within <min>..<max>"
FlagCheck non_empty();                // "must not be empty"
FlagCheck no_whitespace();            // non-empty, no whitespace or control characters
FlagCheck ipv4_address();             // a dotted-quad IPv4 address, e.g. 127.0.0.1
FlagCheck port_number(int min);       // decimal digits, a port within min..65535

}  // namespace stoa
