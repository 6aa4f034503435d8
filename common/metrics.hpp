#pragma once
// One metrics registry per process (Mesos' metrics, Prometheus' exposition).
//
// Every metric is declared up front with its type and help text, so a scrape
// shows it at 0 before anything happened. Names are Mesos' (`master/
// tasks_running`, `slave/executors_running`, `system/load_1min`); the
// Prometheus rendering maps each character outside [A-Za-z0-9_:] to '_'
// (`master_tasks_running`).
//
// Counters and gauges are handles with atomic values: the owner keeps the
// reference from `counter()`/`gauge()` and updates it without a lock or a
// map lookup. Declaration and rendering take the registry's mutex. Handles
// live as long as the registry; a name is declared once (a second
// declaration of the same type returns the same handle).
//
// Gauges whose value is derived from an actor's state (slaves active,
// tasks by state) are refreshed by that actor when a scrape asks it to (see
// Runtime::add_metrics_collector), the way Mesos' gauges defer to their
// actor.

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace stoa::metrics {

enum class Type { COUNTER, GAUGE };

class Counter {
 public:
  void inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

struct Sample {
  std::string name;
  Type type;
  std::string help;
  double value;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Declares (or finds) a metric. Declaring a name already declared with
  // the other type is a programming error: it is logged and the name gets
  // a fresh handle that is never rendered, so the first owner keeps its
  // meaning.
  Counter& counter(const std::string& name, const std::string& help);
  Gauge& gauge(const std::string& name, const std::string& help);

  // By-name updates for names built at run time (`master/tasks_<state>`).
  // An undeclared name is logged once and then declared with an empty help,
  // so nothing is lost; tests assert that never happens
  // (`undeclared_names()`).
  void inc(const std::string& name, double by = 1);
  void set(const std::string& name, double value);

  std::optional<double> value(const std::string& name) const;
  bool has(const std::string& name) const { return value(name).has_value(); }
  std::vector<Sample> samples() const;               // sorted by name
  std::vector<std::string> undeclared_names() const;  // used without a declaration

  // {"master/elected":1,...} — Mesos' /metrics/snapshot.
  std::string json() const;
  // Text exposition format 0.0.4 (`# HELP`, `# TYPE`, one sample per line).
  std::string prometheus() const;

 private:
  struct Entry {
    Type type;
    std::string help;
    Counter counter;
    Gauge gauge;
  };
  Entry& declare(const std::string& name, Type type, const std::string& help);
  Entry& find_or_declare(const std::string& name, Type type);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
  std::vector<std::unique_ptr<Entry>> orphans_;  // type clashes: kept alive, never rendered
  std::vector<std::string> undeclared_;
};

// "master/tasks_running" -> "master_tasks_running"; a leading digit gets a '_'.
std::string prometheus_name(const std::string& name);

// A number as Prometheus writes it: integers without a fraction, NaN, +Inf, -Inf.
std::string prometheus_value(double v);

}  // namespace stoa::metrics
