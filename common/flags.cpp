#include "common/flags.hpp"

#include <arpa/inet.h>

#include <cassert>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <sstream>

extern char** environ;

namespace stoa {

namespace {

std::string upper(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

// A finite double, the whole text (no spaces, sign '+', hex or "nan").
std::optional<double> parse_double(const std::string& text) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::string format_double(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

}  // namespace

Try<Duration> parse_duration(const std::string& text) {
  size_t i = 0;
  size_t dots = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    dots += text[i] == '.' ? 1 : 0;
    ++i;
  }
  const std::string number = text.substr(0, i);
  const std::string unit = text.substr(i);
  if (number.empty() || number == "." || dots > 1) {
    return Error("invalid duration '" + text + "' (expected a non-negative number and a unit, e.g. 10secs)");
  }
  static const std::map<std::string, int64_t> units = {
      {"ns", 1LL},
      {"us", 1000LL},
      {"ms", 1000000LL},
      {"secs", 1000000000LL},
      {"sec", 1000000000LL},
      {"s", 1000000000LL},
      {"mins", 60000000000LL},
      {"min", 60000000000LL},
      {"hrs", 3600000000000LL},
      {"hr", 3600000000000LL},
      {"days", 86400000000000LL},
      {"day", 86400000000000LL},
      {"weeks", 604800000000000LL},
      {"week", 604800000000000LL}};
  auto u = units.find(unit);
  if (u == units.end()) {
    return Error("invalid duration '" + text + "' (unit must be one of ns, us, ms, secs, mins, hrs, days, weeks)");
  }
  const Error too_large("invalid duration '" + text +
                        "': too large (at most 9223372036854775807ns, about 292 years)");
  if (dots == 0) {
    // Whole numbers exactly, in integers.
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    int64_t ns = 0;
    if (ec != std::errc() || ptr != number.data() + number.size() || n > static_cast<uint64_t>(INT64_MAX) ||
        __builtin_mul_overflow(static_cast<int64_t>(n), u->second, &ns)) {
      return too_large;
    }
    return Duration(ns);
  }
  std::optional<double> v = parse_double(number);
  if (!v) {
    return Error("invalid duration '" + text + "'");
  }
  const double ns = *v * static_cast<double>(u->second);
  // 2^63 as a double; anything below it rounds into int64_t.
  if (!(ns < 9223372036854775808.0)) {
    return too_large;
  }
  return Duration(static_cast<int64_t>(std::llround(ns)));
}

std::string format_duration(Duration d) {
  int64_t ns = d.count();
  struct Unit { const char* name; int64_t ns; };
  static const Unit units[] = {{"weeks", 604800000000000LL}, {"days", 86400000000000LL},
                               {"hrs", 3600000000000LL},     {"mins", 60000000000LL},
                               {"secs", 1000000000LL},       {"ms", 1000000LL},
                               {"us", 1000LL}};
  for (const Unit& u : units) {
    if (ns >= u.ns && ns % u.ns == 0) {
      return std::to_string(ns / u.ns) + u.name;
    }
  }
  // Not a whole number of microseconds: nanoseconds, exactly (a rounded
  // "1.23457secs" would not parse back to the same value).
  return std::to_string(ns) + "ns";
}

FlagsBase::FlagsBase() {
  add(&help, "help", "Prints this help message and exits.", false);
}

FlagsBase::Flag& FlagsBase::insert(std::string name, std::string help) {
  Flag& f = flags_[name];
  f.name = std::move(name);
  f.help = std::move(help);
  return f;
}

void FlagsBase::add(std::string* field, std::string name, std::string help, std::string def) {
  *field = def;
  Flag& f = insert(std::move(name), std::move(help));
  f.default_text = def;
  ptrdiff_t off = offset_of(field);
  f.set = [off](FlagsBase* self, const std::string& v) -> std::optional<std::string> {
    at<std::string>(self, off) = v;
    return std::nullopt;
  };
  f.get = [off](const FlagsBase* self) { return at<std::string>(self, off); };
}

void FlagsBase::add(bool* field, std::string name, std::string help, bool def) {
  *field = def;
  Flag& f = insert(std::move(name), std::move(help));
  f.boolean = true;
  f.default_text = def ? "true" : "false";
  ptrdiff_t off = offset_of(field);
  f.set = [off](FlagsBase* self, const std::string& v) -> std::optional<std::string> {
    if (v == "true" || v == "1") {
      at<bool>(self, off) = true;
    } else if (v == "false" || v == "0") {
      at<bool>(self, off) = false;
    } else {
      return "expected true/false/1/0";
    }
    return std::nullopt;
  };
  f.get = [off](const FlagsBase* self) { return std::string(at<bool>(self, off) ? "true" : "false"); };
}

void FlagsBase::add(int* field, std::string name, std::string help, int def) {
  *field = def;
  Flag& f = insert(std::move(name), std::move(help));
  f.default_text = std::to_string(def);
  ptrdiff_t off = offset_of(field);
  f.set = [off](FlagsBase* self, const std::string& v) -> std::optional<std::string> {
    long long n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || (ec != std::errc() && ec != std::errc::result_out_of_range) ||
        ptr != v.data() + v.size()) {
      return "expected an integer";
    }
    if (ec == std::errc::result_out_of_range || n < INT_MIN || n > INT_MAX) {
      return "out of range (an integer within " + std::to_string(INT_MIN) + ".." + std::to_string(INT_MAX) +
             " is expected)";
    }
    at<int>(self, off) = static_cast<int>(n);
    return std::nullopt;
  };
  f.get = [off](const FlagsBase* self) { return std::to_string(at<int>(self, off)); };
}

void FlagsBase::add(double* field, std::string name, std::string help, double def) {
  *field = def;
  Flag& f = insert(std::move(name), std::move(help));
  f.default_text = format_double(def);
  ptrdiff_t off = offset_of(field);
  f.set = [off](FlagsBase* self, const std::string& v) -> std::optional<std::string> {
    std::optional<double> d = parse_double(v);
    if (!d) {
      return "expected a finite number";
    }
    at<double>(self, off) = *d;
    return std::nullopt;
  };
  f.get = [off](const FlagsBase* self) { return format_double(at<double>(self, off)); };
}

void FlagsBase::add(Duration* field, std::string name, std::string help, Duration def) {
  *field = def;
  Flag& f = insert(std::move(name), std::move(help));
  f.default_text = format_duration(def);
  ptrdiff_t off = offset_of(field);
  f.set = [off](FlagsBase* self, const std::string& v) -> std::optional<std::string> {
    Try<Duration> d = parse_duration(v);
    if (d.is_error()) {
      return d.error();
    }
    if (*d > MAX_FLAG_DURATION) {
      return "too large (at most " + format_duration(MAX_FLAG_DURATION) + ")";
    }
    at<Duration>(self, off) = *d;
    return std::nullopt;
  };
  f.get = [off](const FlagsBase* self) { return format_duration(at<Duration>(self, off)); };
}

void FlagsBase::add(Duration* field, std::string name, std::string help, Duration def, Duration number_unit) {
  add(field, name, std::move(help), def);
  Flag& f = flags_.at(name);
  ptrdiff_t off = offset_of(field);
  auto with_unit = std::move(f.set);
  f.set = [off, number_unit, with_unit](FlagsBase* self, const std::string& v) -> std::optional<std::string> {
    const bool bare = !v.empty() && v.find_first_not_of("0123456789.") == std::string::npos;
    if (!bare) {
      return with_unit(self, v);
    }
    const std::string unit_text = format_duration(number_unit);
    std::optional<double> number = parse_double(v);
    if (!number || *number < 0) {
      return "expected a number (of " + unit_text + ") or a duration such as 10secs";
    }
    int64_t ns = 0;
    uint64_t whole = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), whole);
    if (ec == std::errc() && ptr == v.data() + v.size()) {
      if (whole > static_cast<uint64_t>(INT64_MAX) ||
          __builtin_mul_overflow(static_cast<int64_t>(whole), number_unit.count(), &ns)) {
        return "too large (at most " + format_duration(MAX_FLAG_DURATION) + ")";
      }
    } else {
      const double d = *number * static_cast<double>(number_unit.count());
      if (!(d < 9223372036854775808.0)) {
        return "too large (at most " + format_duration(MAX_FLAG_DURATION) + ")";
      }
      ns = static_cast<int64_t>(std::llround(d));
    }
    if (Duration(ns) > MAX_FLAG_DURATION) {
      return "too large (at most " + format_duration(MAX_FLAG_DURATION) + ")";
    }
    at<Duration>(self, off) = Duration(ns);
    return std::nullopt;
  };
}

void FlagsBase::add(std::optional<std::string>* field, std::string name, std::string help) {
  field->reset();
  Flag& f = insert(std::move(name), std::move(help));
  ptrdiff_t off = offset_of(field);
  f.set = [off](FlagsBase* self, const std::string& v) -> std::optional<std::string> {
    at<std::optional<std::string>>(self, off) = v;
    return std::nullopt;
  };
  f.get = [off](const FlagsBase* self) { return at<std::optional<std::string>>(self, off).value_or(""); };
}

void FlagsBase::check(const std::string& name, FlagCheck fn) { flags_.at(name).checks.push_back(std::move(fn)); }

Error FlagsBase::invalid(const Flag& flag, const std::string& value, const std::string& source,
                         const std::string& why) {
  return Error("Invalid value '" + value + "' for flag '--" + flag.name + "'" +
               (source.empty() ? "" : " (from " + source + ")") + ": " + why);
}

std::optional<Error> FlagsBase::assign(Flag& flag, const std::string& value,
                                       const std::string& source) {
  if (std::optional<std::string> e = flag.set(this, value)) {
    return invalid(flag, value, source, *e);
  }
  flag.given = true;
  flag.given_text = value;
  flag.given_source = source;
  return std::nullopt;
}

std::optional<Error> FlagsBase::load(int argc, const char* const* argv,
                                     const std::map<std::string, std::string>& env) {
  // Environment first (aliases, then by default MESOS_ then STOA_), so the
  // command line wins.
  for (auto& [name, flag] : flags_) {
    for (const std::string& var : flag.env_aliases) {
      auto it = env.find(var);
      if (it != env.end()) {
        if (std::optional<Error> e = assign(flag, it->second, it->first)) {
          return e;
        }
      }
    }
  }
  for (const std::string& prefix : style_.env_prefixes) {
    for (auto& [name, flag] : flags_) {
      auto it = env.find(prefix + upper(name));
      if (it != env.end()) {
        if (std::optional<Error> e = assign(flag, it->second, it->first)) {
          return e;
        }
      }
    }
  }
  std::map<std::string, std::string> on_command_line;  // flag name -> the argument that gave it
  auto once = [&](const std::string& name, const std::string& arg) -> std::optional<Error> {
    auto [it, inserted] = on_command_line.emplace(name, arg);
    if (!inserted) {
      return Error("Flag '--" + name + "' was given twice on the command line ('" + it->second + "' and '" +
                   arg + "')");
    }
    return std::nullopt;
  };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return Error("Unexpected argument '" + arg + "' (flags are --name=value" +
                   (style_.space_separated ? " or --name value)" : ")"));
    }
    std::string body = arg.substr(2);
    size_t eq = body.find('=');
    std::string name = eq == std::string::npos ? body : body.substr(0, eq);
    std::optional<std::string> value;
    if (eq != std::string::npos) {
      value = body.substr(eq + 1);
    }
    auto it = flags_.find(name);
    if (it == flags_.end() && !value && name.rfind("no-", 0) == 0) {
      auto neg = flags_.find(name.substr(3));
      if (neg != flags_.end() && neg->second.boolean) {
        if (std::optional<Error> e = once(neg->first, arg)) {
          return e;
        }
        if (std::optional<Error> e = assign(neg->second, "false", "")) {
          return e;
        }
        continue;
      }
    }
    if (it == flags_.end()) {
      return Error("Unknown flag '--" + name + "'");
    }
    if (!value) {
      if (!it->second.boolean) {
        // Marathon style: the next word is the value, unless it is a flag.
        if (style_.space_separated && i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
          value = argv[++i];
          arg += std::string(" ") + *value;
        } else {
          return Error("Flag '--" + name + "' needs a value (--" + name + "=VALUE" +
                       (style_.space_separated ? " or --" + name + " VALUE)" : ")"));
        }
      } else {
        value = "true";
      }
    }
    if (std::optional<Error> e = once(name, arg)) {
      return e;
    }
    if (std::optional<Error> e = assign(it->second, *value, "")) {
      return e;
    }
  }
  for (auto& [name, flag] : flags_) {
    if (!flag.given) {
      continue;
    }
    std::string v = flag.get(this);
    for (auto& c : flag.checks) {
      if (std::optional<std::string> e = c(v)) {
        return invalid(flag, flag.given_text, flag.given_source, *e);
      }
    }
  }
  return validate();
}

std::optional<Error> FlagsBase::load(int argc, const char* const* argv) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos) {
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  return load(argc, argv, env);
}

std::string FlagsBase::usage(const std::string& program) const {
  std::ostringstream out;
  out << "Usage: " << program << " [options]\n\n";
  for (const auto& [name, flag] : flags_) {
    std::string left = flag.boolean ? "  --[no-]" + name
                                    : "  --" + name + (style_.space_separated ? " VALUE" : "=VALUE");
    out << left << "\n      " << flag.help;
    if (!flag.default_text.empty()) {
      out << " (default: " << flag.default_text << ")";
    }
    for (const std::string& var : flag.env_aliases) {
      out << " Also read from " << var << " (below the prefixed variables).";
    }
    out << "\n";
  }
  std::string prefixes;
  for (auto p = style_.env_prefixes.rbegin(); p != style_.env_prefixes.rend(); ++p) {
    prefixes += (prefixes.empty() ? "" : " or ") + *p + "<NAME>";
  }
  out << "\n";
  if (style_.space_separated) {
    out << "A flag's value follows it as --name=VALUE or as the next argument (--name VALUE).\n";
  }
  if (!prefixes.empty()) {
    out << "Every flag may also be set as " << prefixes << " in the environment (the command\n"
        << "line wins), and given at most once on the command line. ";
  } else {
    out << "Every flag may be given at most once on the command line. ";
  }
  out << "Durations are a number and a unit\n"
         "(ns, us, ms, secs, mins, hrs, days, weeks), at most "
      << format_duration(MAX_FLAG_DURATION) << ".\n";
  return out.str();
}

std::map<std::string, std::string> FlagsBase::values() const {
  std::map<std::string, std::string> out;
  for (const auto& [name, flag] : flags_) {
    out[name] = flag.get(this);
  }
  return out;
}

FlagCheck only_supported(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) -> std::optional<std::string> {
    for (const std::string& a : allowed) {
      if (a == v) {
        return std::nullopt;
      }
    }
    std::string list;
    for (const std::string& a : allowed) {
      list += (list.empty() ? "" : ", ") + a;
    }
    return "not supported yet (supported: " + list + ")";
  };
}

FlagCheck positive_duration() {
  return [](const std::string& v) -> std::optional<std::string> {
    Try<Duration> d = parse_duration(v);
    if (d.is_error() || d->count() <= 0) {
      return "must be positive";
    }
    return std::nullopt;
  };
}

FlagCheck duration_text() {
  return [](const std::string& v) -> std::optional<std::string> {
    Try<Duration> d = parse_duration(v);
    if (d.is_error()) {
      return d.error();
    }
    return std::nullopt;
  };
}

FlagCheck at_least(int min) {
  return [min](const std::string& v) -> std::optional<std::string> {
    if (std::stoll(v) < min) {
      return "must be at least " + std::to_string(min);
    }
    return std::nullopt;
  };
}

FlagCheck within(int min, int max) {
  return [min, max](const std::string& v) -> std::optional<std::string> {
    long long n = std::stoll(v);
    if (n < min || n > max) {
      return "must be within " + std::to_string(min) + ".." + std::to_string(max);
    }
    return std::nullopt;
  };
}

FlagCheck non_empty() {
  return [](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) {
      return "must not be empty";
    }
    return std::nullopt;
  };
}

FlagCheck no_whitespace() {
  return [](const std::string& v) -> std::optional<std::string> {
    if (v.empty()) {
      return "must not be empty";
    }
    for (char c : v) {
      if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c))) {
        return "must not contain whitespace or control characters";
      }
    }
    return std::nullopt;
  };
}

FlagCheck ipv4_address() {
  return [](const std::string& v) -> std::optional<std::string> {
    in_addr addr{};
    if (::inet_pton(AF_INET, v.c_str(), &addr) != 1) {
      return "not an IPv4 address (expected a.b.c.d, e.g. 127.0.0.1)";
    }
    return std::nullopt;
  };
}

FlagCheck port_number(int min) {
  return [min](const std::string& v) -> std::optional<std::string> {
    std::string why = "must be a port number within " + std::to_string(min) + "..65535";
    if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos) {
      return why;
    }
    int n = std::stoi(v);
    if (n < min || n > 65535) {
      return why;
    }
    return std::nullopt;
  };
}

int default_actor_port(int http_port) {
  if (http_port <= 0 || http_port + ACTOR_PORT_OFFSET >= EPHEMERAL_PORT_START) {
    return 0;
  }
  return http_port + ACTOR_PORT_OFFSET;
}

int effective_actor_port(int http_port, const AddressFlags& address) {
  // The flag's check admitted only port numbers.
  return address.actor_port ? std::stoi(*address.actor_port) : default_actor_port(http_port);
}

int effective_advertise_port(const AddressFlags& address) {
  return address.advertise_port ? std::stoi(*address.advertise_port) : 0;
}

std::optional<Error> check_address_flags(int http_port, const AddressFlags& address) {
  int actor_port = effective_actor_port(http_port, address);
  if (actor_port != 0 && actor_port == http_port) {
    return Error("Flag '--actor_port=" + std::to_string(actor_port) + "' is the same port as '--port=" +
                 std::to_string(http_port) + "': the actor port needs a port of its own (or 0: the OS picks one)");
  }
  return std::nullopt;
}

void FlagsBase::add_address_flags(AddressFlags* address) {
  add(&address->advertise_ip, "advertise_ip",
      "IPv4 address other hosts should use to reach this process (in its UPIDs, a master's MasterInfo, a slave's "
      "registration), e.g. a NAT's public address; the process still binds --ip "
      "(default: --ip, or a routable address of this host when --ip is 0.0.0.0).");
  check("advertise_ip", ipv4_address());
  check("advertise_ip", [](const std::string& v) -> std::optional<std::string> {
    if (v == "0.0.0.0") {
      return "must be an address others can reach, not 0.0.0.0";
    }
    return std::nullopt;
  });
  add(&address->advertise_port, "advertise_port",
      "HTTP port other hosts should use to reach this process (with --advertise_ip, e.g. a NAT's "
      "forwarded port); the process still binds --port (default: the bound --port).");
  check("advertise_port", port_number(1));
  add(&address->actor_port, "actor_port",
      "Port of the internal actor transport, bound on --ip beside --port and announced through "
      "/__stoa__/processes (and a master's MasterInfo) (0 = the OS picks one; default: --port + " +
          std::to_string(ACTOR_PORT_OFFSET) + " when that is below " + std::to_string(EPHEMERAL_PORT_START) +
          ", e.g. 15050 for 5050, else 0).");
  check("actor_port", port_number(0));
}

void FlagsBase::env_alias(const std::string& name, std::string var) {
  auto it = flags_.find(name);
  assert(it != flags_.end() && "env_alias of a flag that was never added");
  it->second.env_aliases.push_back(std::move(var));
}

void FlagsBase::add_framework_address_flags(const std::string& ip_flag, int* port, AddressFlags* address) {
  add(port, "port",
      "HTTP port of this framework's runtime, which the master connects back to (0 = the OS picks one).", 0);
  check("port", port_number(0));
  add_address_flags(address);
  env_alias(ip_flag, "LIBPROCESS_IP");
  env_alias("port", "LIBPROCESS_PORT");
  env_alias("advertise_ip", "LIBPROCESS_ADVERTISE_IP");
  env_alias("advertise_port", "LIBPROCESS_ADVERTISE_PORT");
}

void FlagsBase::add_network_limits(NetworkLimitFlags* limits) {
  NetworkLimitFlags defaults;
  add(&limits->max_connections, "max_connections",
      "Open connections allowed on each of the HTTP and actor ports; the newest beyond it is "
      "closed at once, with a log line (>= 1).",
      defaults.max_connections);
  check("max_connections", at_least(1));
  add(&limits->http_idle_timeout, "http_idle_timeout",
      "An HTTP connection with no request in flight that sent nothing for this long is closed (> 0).",
      defaults.http_idle_timeout);
  check("http_idle_timeout", positive_duration());
  add(&limits->handshake_timeout, "handshake_timeout",
      "A connection to the actor port that has not completed its handshake within this long is "
      "closed (> 0).",
      defaults.handshake_timeout);
  check("handshake_timeout", positive_duration());
  add(&limits->max_message_bytes, "max_message_bytes",
      "Largest message a peer may announce on the actor port; a larger one closes the connection "
      "before anything is allocated (1024 .. 1073741824).",
      defaults.max_message_bytes);
  check("max_message_bytes", within(1024, 1 << 30));
}

void FlagsBase::add_logging_flags(LoggingFlags* logging) {
  LoggingFlags defaults;
  add(&logging->logging_level, "logging_level",
      "Lowest severity logged: INFO, WARNING or ERROR.", defaults.logging_level);
  check("logging_level", [](const std::string& v) -> std::optional<std::string> {
    if (v == "INFO" || v == "WARNING" || v == "ERROR") {
      return std::nullopt;
    }
    return "expected INFO, WARNING or ERROR";
  });
  add(&logging->quiet, "quiet", "With --log_dir, log only to the files (nothing to stderr).", defaults.quiet);
  add(&logging->max_log_size, "max_log_size",
      "With --log_dir, a log file is rotated once it reaches this many MB (1 .. 4095).", defaults.max_log_size);
  check("max_log_size", within(1, 4095));
}

std::string FlagsBase::startup_line() const {
  std::string out;
  for (const auto& [name, value] : values()) {
    out += (out.empty() ? "--" : " --") + name + "=\"" + value + "\"";
  }
  return out;
}

}  // namespace stoa
