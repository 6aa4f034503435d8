#include "common/flags.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
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

std::optional<double> parse_double(const std::string& text) {
  if (text.empty()) {
    return std::nullopt;
  }
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(v)) {
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
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
  }
  std::string number = text.substr(0, i);
  std::string unit = text.substr(i);
  std::optional<double> v = parse_double(number);
  if (!v || *v < 0) {
    return Error("invalid duration '" + text + "'");
  }
  static const std::map<std::string, double> units = {
      {"ns", 1.0},        {"us", 1e3},          {"ms", 1e6},
      {"secs", 1e9},      {"sec", 1e9},         {"s", 1e9},
      {"mins", 60e9},     {"min", 60e9},        {"hrs", 3600e9},
      {"hr", 3600e9},     {"days", 86400e9},    {"day", 86400e9},
      {"weeks", 604800e9}, {"week", 604800e9}};
  auto u = units.find(unit);
  if (u == units.end()) {
    return Error("invalid duration '" + text + "' (unit must be one of ns, us, ms, secs, mins, hrs, days, weeks)");
  }
  return Duration(static_cast<int64_t>(std::llround(*v * u->second)));
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
  if (ns >= 1000000000LL) {
    return format_double(static_cast<double>(ns) / 1e9) + "secs";
  }
  if (ns >= 1000000LL) {
    return format_double(static_cast<double>(ns) / 1e6) + "ms";
  }
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
    char* end = nullptr;
    errno = 0;
    long n = v.empty() ? 0 : std::strtol(v.c_str(), &end, 10);
    if (v.empty() || end != v.c_str() + v.size() || errno != 0 || n < INT32_MIN || n > INT32_MAX) {
      return "expected an integer";
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
    at<Duration>(self, off) = *d;
    return std::nullopt;
  };
  f.get = [off](const FlagsBase* self) { return format_duration(at<Duration>(self, off)); };
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

void FlagsBase::check(const std::string& name,
                      std::function<std::optional<std::string>(const std::string&)> fn) {
  flags_.at(name).checks.push_back(std::move(fn));
}

std::optional<Error> FlagsBase::assign(Flag& flag, const std::string& value,
                                       const std::string& source) {
  if (std::optional<std::string> e = flag.set(this, value)) {
    return Error("Invalid value '" + value + "' for flag '--" + flag.name + "'" +
                 (source.empty() ? "" : " (from " + source + ")") + ": " + *e);
  }
  flag.given = true;
  return std::nullopt;
}

std::optional<Error> FlagsBase::load(int argc, const char* const* argv,
                                     const std::map<std::string, std::string>& env) {
  // Environment first (MESOS_ then STOA_), so the command line wins.
  for (const char* prefix : {"MESOS_", "STOA_"}) {
    for (auto& [name, flag] : flags_) {
      auto it = env.find(prefix + upper(name));
      if (it != env.end()) {
        if (std::optional<Error> e = assign(flag, it->second, it->first)) {
          return e;
        }
      }
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return Error("Unexpected argument '" + arg + "' (flags are --name=value)");
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
        neg->second.set(this, "false");
        neg->second.given = true;
        continue;
      }
    }
    if (it == flags_.end()) {
      return Error("Unknown flag '--" + name + "'");
    }
    if (!value) {
      if (!it->second.boolean) {
        return Error("Flag '--" + name + "' needs a value (--" + name + "=VALUE)");
      }
      value = "true";
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
        return Error("Flag '--" + name + "=" + v + "': " + *e);
      }
    }
  }
  return std::nullopt;
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
    std::string left = flag.boolean ? "  --[no-]" + name : "  --" + name + "=VALUE";
    out << left << "\n      " << flag.help;
    if (!flag.default_text.empty()) {
      out << " (default: " << flag.default_text << ")";
    }
    out << "\n";
  }
  out << "\nEvery flag may also be set as STOA_<NAME> or MESOS_<NAME> in the environment.\n";
  return out.str();
}

std::map<std::string, std::string> FlagsBase::values() const {
  std::map<std::string, std::string> out;
  for (const auto& [name, flag] : flags_) {
    out[name] = flag.get(this);
  }
  return out;
}

std::function<std::optional<std::string>(const std::string&)> only_supported(
    std::vector<std::string> allowed) {
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

}  // namespace stoa
