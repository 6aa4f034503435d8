#include "common/metrics.hpp"

#include <cmath>
#include <cstdio>

#include <picojson.h>

#include "common/json.hpp"
#include "common/logging.hpp"

namespace stoa::metrics {

Registry::Entry& Registry::declare(const std::string& name, Type type, const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    auto entry = std::make_unique<Entry>();
    entry->type = type;
    entry->help = help;
    it = entries_.emplace(name, std::move(entry)).first;
  } else if (it->second->type != type) {
    LOG_ERROR << "Metric '" << name << "' is declared as both a counter and a gauge; "
              << "the second declaration is not rendered";
    orphans_.push_back(std::make_unique<Entry>());
    orphans_.back()->type = type;
    return *orphans_.back();
  } else if (it->second->help.empty() && !help.empty()) {
    it->second->help = help;
  }
  return *it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help) {
  return declare(name, Type::COUNTER, help).counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help) {
  return declare(name, Type::GAUGE, help).gauge;
}

// A name used before it was declared: kept (declared now, with the type of
// its first use) and reported, so nothing is lost and tests can catch it.
Registry::Entry& Registry::find_or_declare(const std::string& name, Type type) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end()) {
      return *it->second;
    }
    undeclared_.push_back(name);
  }
  LOG_ERROR << "Metric '" << name << "' was not declared; declaring it now";
  return declare(name, type, "");
}

void Registry::inc(const std::string& name, double by) {
  Entry& entry = find_or_declare(name, Type::COUNTER);
  if (entry.type == Type::COUNTER) {
    entry.counter.inc(by);
  } else {
    entry.gauge.add(by);
  }
}

void Registry::set(const std::string& name, double value) {
  Entry& entry = find_or_declare(name, Type::GAUGE);
  if (entry.type == Type::GAUGE) {
    entry.gauge.set(value);
  } else {
    LOG_ERROR << "Metric '" << name << "' is a counter; set() ignored";
  }
}

std::optional<double> Registry::value(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  const Entry& e = *it->second;
  return e.type == Type::COUNTER ? e.counter.value() : e.gauge.value();
}

std::vector<Sample> Registry::samples() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Sample> out;
  out.reserve(entries_.size());
  for (const auto& [name, e] : entries_) {
    out.push_back(Sample{name, e->type, e->help,
                         e->type == Type::COUNTER ? e->counter.value() : e->gauge.value()});
  }
  return out;
}

std::vector<std::string> Registry::undeclared_names() const {
  std::lock_guard<std::mutex> lock(mu_);
  return undeclared_;
}

std::string Registry::json() const {
  picojson::object o;
  for (const Sample& s : samples()) {
    o[s.name] = json_number(s.value);
  }
  return json_serialize(picojson::value(o));
}

std::string prometheus_name(const std::string& name) {
  std::string out;
  out.reserve(name.size() + 1);
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == ':';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || (out[0] >= '0' && out[0] <= '9')) {
    out.insert(out.begin(), '_');
  }
  return out;
}

std::string prometheus_value(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.17g", v);
  }
  return buf;
}

namespace {

// HELP text escapes backslash and newline (exposition format 0.0.4).
std::string escape_help(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string Registry::prometheus() const {
  std::string out;
  for (const Sample& s : samples()) {
    std::string name = prometheus_name(s.name);
    out += "# HELP " + name + " " + escape_help(s.help.empty() ? s.name : s.help) + "\n";
    out += "# TYPE " + name + (s.type == Type::COUNTER ? " counter\n" : " gauge\n");
    out += name + " " + prometheus_value(s.value) + "\n";
  }
  return out;
}

}  // namespace stoa::metrics
