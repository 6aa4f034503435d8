#pragma once
// Slave usage reports as the master takes them (docs/utilization.md): the
// pure checks and conversions, unit-tested in usage_reports_test.cpp. The
// master actor's handlers that use them are in usage_reports.cpp.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "master/utilization.hpp"
#include "proto/messages.pb.h"

namespace stoa::master {

// The most executor entries a report may hold.
constexpr int MAX_USAGE_REPORT_EXECUTORS = 10000;

// Why the numbers of report `m` are unacceptable, naming the field and its
// value ("executors[2].cpus_used is -1"), or nullopt. Every number must be
// finite and >= 0, the timestamp too; the slave id must not be empty, nor
// an entry's framework or executor id; at most MAX_USAGE_REPORT_EXECUTORS
// entries.
std::optional<std::string> check_usage_report(const internal::SlaveUsageMessage& m);

// What report `m` says the slave's executors use (bytes -> MB). REQUIRES:
// check_usage_report(m) found nothing wrong.
MeasuredUsage measured_usage(const internal::SlaveUsageMessage& m);

// The per-executor figures of report `m` (bytes -> MB). REQUIRES:
// check_usage_report(m) found nothing wrong.
std::vector<ExecutorUsageFigures> executor_figures(const internal::SlaveUsageMessage& m);

// How long report `m` stands for: its interval_seconds when set and > 0,
// else the default --usage_report_interval (5 s).
double report_interval_seconds(const internal::SlaveUsageMessage& m);

// Why a /master/utilization query is bad (an unknown parameter, an empty
// slave_id), naming the parameter and its value, or nullopt. It takes
// `slave_id` and `jsonp` only.
std::optional<std::string> check_utilization_query(const std::map<std::string, std::string>& query);

}  // namespace stoa::master
