#include "actors/metrics_endpoint.hpp"

#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/atoms.hpp"
#include "actors/safety.hpp"
#include "common/logging.hpp"

namespace stoa {

namespace {

constexpr const char* TIMEOUTS = "system/metrics_collector_timeouts";
// The HTTP route gives the metrics actor this much beyond the collectors'
// deadline to render.
constexpr auto RENDER_MARGIN = std::chrono::seconds(5);

// "MemTotal:       16314724 kB" -> bytes, when the line has key `key`.
std::optional<double> meminfo_bytes(const std::string& line, const std::string& key) {
  if (line.compare(0, key.size(), key) != 0) {
    return std::nullopt;
  }
  std::istringstream in(line.substr(key.size()));
  double value = 0;
  std::string unit;
  if (!(in >> value)) {
    return std::nullopt;
  }
  in >> unit;
  return unit == "kB" ? value * 1024 : value;
}

}  // namespace

void declare_system_metrics(metrics::Registry& registry) {
  registry.gauge("system/cpus_total", "Number of CPUs online on this host.");
  registry.gauge("system/load_1min", "Load average of this host over the past minute.");
  registry.gauge("system/load_5min", "Load average of this host over the past 5 minutes.");
  registry.gauge("system/load_15min", "Load average of this host over the past 15 minutes.");
  registry.gauge("system/mem_total_bytes", "Total memory of this host in bytes.");
  registry.gauge("system/mem_free_bytes", "Free memory of this host in bytes.");
  registry.counter(TIMEOUTS, "Metrics collectors that did not answer a scrape within the deadline.");
}

void refresh_system_metrics(metrics::Registry& registry) {
  if (long cpus = ::sysconf(_SC_NPROCESSORS_ONLN); cpus > 0) {
    registry.set("system/cpus_total", static_cast<double>(cpus));
  }
  std::ifstream loadavg("/proc/loadavg");
  double one = 0;
  double five = 0;
  double fifteen = 0;
  if (loadavg >> one >> five >> fifteen) {
    registry.set("system/load_1min", one);
    registry.set("system/load_5min", five);
    registry.set("system/load_15min", fifteen);
  }
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    if (auto total = meminfo_bytes(line, "MemTotal:")) {
      registry.set("system/mem_total_bytes", *total);
    } else if (auto free = meminfo_bytes(line, "MemFree:")) {
      registry.set("system/mem_free_bytes", *free);
    }
  }
}

namespace {

// One scrape waiting for its collectors.
struct Scrape {
  caf::typed_response_promise<std::string> promise;
  size_t waiting = 0;
  bool prometheus = false;
};

class MetricsEndpoint {
 public:
  MetricsEndpoint() = default;  // CAF default-constructs the state; the behavior sets the rest

  caf::stateful_actor<MetricsEndpoint>* self = nullptr;
  metrics::Registry* registry = nullptr;
  metrics::Counter* timeouts = nullptr;
  std::chrono::milliseconds collector_timeout{0};
  std::vector<caf::actor> collectors;
  static inline const char* name = "metrics";

  void on_collector(const caf::actor& collector) {
    auto sender = self->current_sender();
    if (!collector || !sender || sender->node() != self->node() || collector.node() != self->node()) {
      LOG_WARNING << "The metrics actor refused a collector that is not an actor of this process";
      return;
    }
    self->monitor(collector);
    collectors.push_back(collector);
  }

  void on_down(const caf::down_msg& dm) {
    std::erase_if(collectors, [&](const caf::actor& c) { return c.address() == dm.source; });
  }

  caf::typed_response_promise<std::string> on_scrape(bool prometheus) {
    auto scrape = std::make_shared<Scrape>();
    scrape->promise = self->make_response_promise<std::string>();
    scrape->prometheus = prometheus;
    scrape->waiting = collectors.size();
    if (collectors.empty()) {
      render(*scrape);
      return scrape->promise;
    }
    for (const caf::actor& collector : collectors) {
      // High priority: a collector with a backlog (a master taking a burst
      // of re-registrations after a failover) answers before it, not after.
      // A caf::duration, not a std::chrono one: CAF 0.17's chrono overload
      // of request() drops the priority (it calls the other without it).
      self->request<caf::message_priority::high>(collector, caf::duration{collector_timeout}, metrics_atom_v)
          .then([this, scrape](bool) { on_collected(scrape); },
                [this, scrape, collector](caf::error& e) { on_collect_failed(scrape, collector, e); });
    }
    return scrape->promise;
  }

 private:
  void on_collected(const std::shared_ptr<Scrape>& scrape) {
    if (--scrape->waiting == 0) {
      render(*scrape);
    }
  }

  void on_collect_failed(const std::shared_ptr<Scrape>& scrape, const caf::actor& collector, const caf::error& e) {
    if (e == caf::sec::request_timeout) {
      timeouts->inc();
      LOG_WARNING << "Metrics collector " << caf::to_string(collector.address()) << " did not answer within "
                  << collector_timeout.count() << " ms; serving the scrape without it";
    } else if (e != caf::sec::unexpected_response) {  // an answer other than `true` is an answer
      LOG_WARNING << "Metrics collector " << caf::to_string(collector.address())
                  << " failed: " << self->system().render(e);
    }
    on_collected(scrape);
  }

  void render(Scrape& scrape) {
    refresh_system_metrics(*registry);  // on this actor's own thread (detached)
    scrape.promise.deliver(scrape.prometheus ? registry->prometheus() : registry->json());
  }
};

caf::behavior metrics_actor(caf::stateful_actor<MetricsEndpoint>* self, metrics::Registry* registry,
                            std::chrono::milliseconds collector_timeout) {
  set_safe_handlers(self, "metrics");
  MetricsEndpoint& st = self->state;
  st.self = self;
  st.registry = registry;
  st.timeouts = &registry->counter(TIMEOUTS, "");
  st.collector_timeout = collector_timeout;
  self->set_down_handler([self](caf::down_msg& dm) { self->state.on_down(dm); });
  return {
      [self](collector_atom, const caf::actor& collector) { self->state.on_collector(collector); },
      [self](scrape_atom, bool prometheus) { return self->state.on_scrape(prometheus); },
  };
}

}  // namespace

caf::actor spawn_metrics_actor(caf::actor_system& sys, metrics::Registry& registry,
                               std::chrono::milliseconds collector_timeout) {
  return sys.spawn<caf::detached>(metrics_actor, &registry, collector_timeout);
}

std::vector<http::Route> metrics_routes(const caf::actor& metrics_actor,
                                        std::chrono::milliseconds collector_timeout) {
  auto route = [metrics_actor, collector_timeout](std::string path, std::string help, bool prometheus) {
    http::Route r;
    r.path = std::move(path);
    r.help = std::move(help);
    r.handler = [metrics_actor, collector_timeout, prometheus](caf::io::broker* self, const http::Request&,
                                                                http::Responder respond) {
      self->request(metrics_actor, collector_timeout + RENDER_MARGIN, scrape_atom_v, prometheus)
          .then(
              [respond, prometheus](std::string& body) {
                http::Response resp;
                resp.content_type = prometheus ? PROMETHEUS_CONTENT_TYPE : "application/json";
                resp.body = std::move(body);
                respond(std::move(resp));
              },
              [respond](caf::error& e) {
                respond(http::error_response(503, "No metrics: " + caf::to_string(e)));
              });
    };
    return r;
  };
  return {
      route("/metrics",
            "Every metric of this process in the Prometheus text format (version 0.0.4), with # HELP and "
            "# TYPE lines.",
            true),
      route("/metrics/snapshot", "Every metric of this process as one JSON object of name to value (Mesos' "
                                 "/metrics/snapshot).",
            false),
  };
}

}  // namespace stoa
