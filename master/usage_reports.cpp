// The master's side of slave usage reports (docs/utilization.md): each
// SlaveUsageMessage is checked and recorded in the utilization history; a
// timer records the cluster's sample every 5 s; /master/utilization renders
// the history; the gauges master/utilization/*_used read it.

#include "master/usage_reports.hpp"

#include <cmath>
#include <sstream>

#include <caf/all.hpp>

#include "common/json.hpp"
#include "common/logging.hpp"
#include "master/events.hpp"
#include "master/master_actor.hpp"
#include "master/operator_json.hpp"

namespace stoa::master {

using internal::SlaveUsageMessage;

namespace {

constexpr double BYTES_PER_MB = 1024.0 * 1024.0;
constexpr double DEFAULT_REPORT_INTERVAL_SECONDS = 5;
// The cluster's tick lands this long after a bucket starts, so one tick
// falls in every bucket despite timer jitter.
constexpr double UTILIZATION_TICK_SLACK_SECONDS = 0.05;
// A report refreshes the cluster's total and allocated when they are older
// than this (a walk over every slave: at most once a second, not per report).
constexpr double CLUSTER_TOTALS_MAX_AGE_SECONDS = 1;

std::string usage_number_text(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

// Appends why `v` (named `name`) is not a finite number >= 0.
void check_usage_number(const std::string& name, double v, std::optional<std::string>* error) {
  if (!*error && (!std::isfinite(v) || v < 0)) {
    *error = name + " is " + usage_number_text(v) + " (must be a finite number >= 0)";
  }
}

ResourceFigures figures_of(const ScalarTally& total, const ScalarTally& allocated, const char* name, double used) {
  return ResourceFigures{total.get(name), allocated.get(name), used};
}

}  // namespace

std::optional<std::string> check_usage_report(const SlaveUsageMessage& m) {
  std::optional<std::string> error;
  if (m.slave_id().value().empty()) {
    return std::string("slave_id is empty");
  }
  check_usage_number("timestamp", m.timestamp(), &error);
  check_usage_number("cpus_used", m.cpus_used(), &error);
  check_usage_number("mem_rss_bytes", m.mem_rss_bytes(), &error);
  if (m.has_disk_used_bytes()) {
    check_usage_number("disk_used_bytes", m.disk_used_bytes(), &error);
  }
  if (m.has_interval_seconds()) {
    check_usage_number("interval_seconds", m.interval_seconds(), &error);
  }
  if (m.executors_size() > MAX_USAGE_REPORT_EXECUTORS) {
    return "executors has " + std::to_string(m.executors_size()) + " entries (at most " +
           std::to_string(MAX_USAGE_REPORT_EXECUTORS) + ")";
  }
  for (int i = 0; i < m.executors_size() && !error; ++i) {
    const internal::ExecutorUsage& e = m.executors(i);
    std::string prefix = "executors[" + std::to_string(i) + "].";
    if (e.framework_id().value().empty() || e.executor_id().value().empty()) {
      return prefix + (e.framework_id().value().empty() ? "framework_id" : "executor_id") + " is empty";
    }
    if (e.has_cpus_used()) {
      check_usage_number(prefix + "cpus_used", e.cpus_used(), &error);
    }
    if (e.has_mem_rss_bytes()) {
      check_usage_number(prefix + "mem_rss_bytes", e.mem_rss_bytes(), &error);
    }
    if (e.has_disk_used_bytes()) {
      check_usage_number(prefix + "disk_used_bytes", e.disk_used_bytes(), &error);
    }
  }
  return error;
}

MeasuredUsage measured_usage(const SlaveUsageMessage& m) {
  return MeasuredUsage{m.cpus_used(), m.mem_rss_bytes() / BYTES_PER_MB, m.disk_used_bytes() / BYTES_PER_MB};
}

std::vector<ExecutorUsageFigures> executor_figures(const SlaveUsageMessage& m) {
  std::vector<ExecutorUsageFigures> out;
  out.reserve(static_cast<size_t>(m.executors_size()));
  for (const internal::ExecutorUsage& e : m.executors()) {
    ExecutorUsageFigures f;
    f.framework_id = e.framework_id().value();
    f.executor_id = e.executor_id().value();
    if (e.has_cpus_used()) {
      f.cpus = e.cpus_used();
    }
    if (e.has_mem_rss_bytes()) {
      f.mem = e.mem_rss_bytes() / BYTES_PER_MB;
    }
    if (e.has_disk_used_bytes()) {
      f.disk = e.disk_used_bytes() / BYTES_PER_MB;
    }
    out.push_back(std::move(f));
  }
  return out;
}

double report_interval_seconds(const SlaveUsageMessage& m) {
  return m.has_interval_seconds() && m.interval_seconds() > 0 ? m.interval_seconds()
                                                              : DEFAULT_REPORT_INTERVAL_SECONDS;
}

std::optional<std::string> check_utilization_query(const std::map<std::string, std::string>& query) {
  for (const auto& [key, value] : query) {
    if (key == "jsonp") {
      continue;
    }
    if (key != "slave_id") {
      return "Unknown parameter '" + key.substr(0, 64) + "' (/master/utilization takes slave_id)";
    }
    if (value.empty()) {
      return std::string("Invalid 'slave_id' parameter '': expected a slave id");
    }
  }
  return std::nullopt;
}

// --- the master actor ------------------------------------------------------------

UtilizationSample Master::slave_sample(const SlaveRecord& s, double now, const MeasuredUsage& used) {
  ScalarTally total = scalar_tally(s.total);
  UtilizationSample out;
  out.timestamp = now;
  out.cpus = figures_of(total, s.used, "cpus", used.cpus);
  out.mem = figures_of(total, s.used, "mem", used.mem);
  out.disk = figures_of(total, s.used, "disk", used.disk);
  out.gpus = figures_of(total, s.used, "gpus", 0);
  return out;
}

void Master::drop_usage_report(const std::string& slave_id, const char* reason, const std::string& why) {
  count("master/invalid_usage_reports");
  count(std::string("master/invalid_usage_reports/reason_") + reason);
  const caf::strong_actor_ptr& sender = self->current_sender();
  LOG_WARNING << "Dropping a usage report for slave '" << slave_id.substr(0, 200) << "' from "
              << (sender ? caf::to_string(sender->address()) : std::string("an anonymous sender")) << ": " << why;
}

void Master::on_slave_usage(SlaveUsageMessage& m) {
  const std::string& id = m.slave_id().value();
  if (std::optional<std::string> bad = check_usage_report(m)) {
    drop_usage_report(id, "invalid", *bad);
    return;
  }
  auto it = st.slaves.find(id);
  if (it == st.slaves.end()) {
    drop_usage_report(id, "unknown_slave", "no such slave is registered");
    return;
  }
  const SlaveRecord* from = self->current_sender() ? slave_by_handle(self->current_sender()->address()) : nullptr;
  if (from == nullptr || from->id != id) {
    drop_usage_report(id, "wrong_sender",
                      from == nullptr ? "the sender is not a registered slave"
                                      : "the sender is slave " + from->id + ", not " + id);
    return;
  }
  count("master/valid_usage_reports");
  // Stamped with the master's clock: the slaves' clocks may differ.
  double now = now_seconds();
  if (now - utilization.cluster_totals_time() >= CLUSTER_TOTALS_MAX_AGE_SECONDS) {
    utilization.update_cluster_totals(cluster_totals(now));
  }
  utilization.record_slave(id, slave_sample(it->second, now, measured_usage(m)), report_interval_seconds(m),
                           executor_figures(m));
}

void Master::start_utilization() { on_utilization_tick(); }

UtilizationSample Master::cluster_totals(double now) {
  // The kept totals (master_tally.hpp): O(1), however many tasks run.
  const ScalarTally& total = st.tally.total;
  const ScalarTally& allocated = st.tally.used;
  UtilizationSample base;
  base.timestamp = now;
  base.cpus = figures_of(total, allocated, "cpus", 0);
  base.mem = figures_of(total, allocated, "mem", 0);
  base.disk = figures_of(total, allocated, "disk", 0);
  base.gpus = figures_of(total, allocated, "gpus", 0);
  return base;
}

void Master::on_utilization_tick() {
  double now = now_seconds();
  utilization.record_cluster(cluster_totals(now));
  if (const UtilizationSample* sample = utilization.cluster().newest()) {
    events::publish(*this, "UTILIZATION", [sample] { return utilization_sample_json(*sample); });
  }
  // The next tick lands just after the next bucket starts.
  double interval = utilization.options().cluster_interval;
  double wait = interval - std::fmod(now, interval) + UTILIZATION_TICK_SLACK_SECONDS;
  self->delayed_send(self, std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(wait)),
                     utilization_timer_atom_v);
}

StatusReply Master::utilization_reply(const std::map<std::string, std::string>& query) {
  if (std::optional<std::string> bad = check_utilization_query(query)) {
    return json_error(400, *bad);
  }
  auto given = query.find("slave_id");
  if (given == query.end()) {
    return {200, json_serialize(cluster_utilization_json(utilization))};
  }
  if (st.slaves.count(given->second) == 0) {
    return json_error(404, "No slave found with specified ID '" + given->second.substr(0, 200) + "'");
  }
  return {200, json_serialize(slave_utilization_json(given->second, utilization.slave(given->second),
                                                     utilization.options().slave_interval,
                                                     utilization.slave_executors(given->second)))};
}

void Master::refresh_utilization_gauges() {
  MeasuredUsage used = utilization.used_at(now_seconds());
  metrics->set("master/utilization/cpus_used", used.cpus);
  metrics->set("master/utilization/mem_used", used.mem);
  metrics->set("master/utilization/disk_used", used.disk);
}

void declare_utilization_metrics(metrics::Registry& r) {
  r.gauge("master/utilization/cpus_used", "Cores the slaves' executors were measured to use (latest reports)");
  r.gauge("master/utilization/mem_used", "MB of resident memory the slaves' executors use (latest reports)");
  r.gauge("master/utilization/disk_used", "MB of sandbox disk the slaves' executors use (disk/du; latest reports)");
  r.counter("master/valid_usage_reports", "Slave usage reports recorded");
  r.counter("master/invalid_usage_reports", "Slave usage reports dropped");
  r.counter("master/invalid_usage_reports/reason_invalid", "Usage reports dropped: a number negative or not finite");
  r.counter("master/invalid_usage_reports/reason_unknown_slave", "Usage reports dropped: no such slave registered");
  r.counter("master/invalid_usage_reports/reason_wrong_sender",
            "Usage reports dropped: not sent by the slave they name");
}

}  // namespace stoa::master
