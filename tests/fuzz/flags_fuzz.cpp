// Flag values (common/flags.hpp) as stoa-master and stoa-slave load them:
// booleans, integers, numbers, durations, strings, "not supported yet"
// checks, then the values those programs parse further (--weights lists,
// --roles, --min_allocatable_resources, --resources, --attributes,
// --master).
//
// Input: one argument per line ("--port=5050"); a line "$NAME=value" is an
// environment variable instead ("$MESOS_PORT=1").
//
// Properties: no crash or sanitizer report (UBSan: out-of-range conversions
// of huge numbers and durations); a duration parse_duration() accepts is not
// negative, and format_duration() of it parses again; the effective values
// (and the usage text, for --help) can be produced after any load.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "actors/upid.hpp"
#include "common/attributes.hpp"
#include "common/flags.hpp"
#include "common/resources.hpp"
#include "common/strings.hpp"
#include "master/master_flags.hpp"
#include "master/validation.hpp"
#include "slave/slave_flags.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace {

void check_duration(const std::string& text) {
  stoa::Try<stoa::Duration> d = stoa::parse_duration(text);
  if (d.is_error()) {
    return;
  }
  STOA_FUZZ_CHECK(d->count() >= 0, "parse_duration('" + text + "') is negative: " +
                                       std::to_string(d->count()) + "ns");
  std::string printed = stoa::format_duration(*d);
  STOA_FUZZ_CHECK(stoa::parse_duration(printed).is_some(),
                  "format_duration() of '" + text + "' does not parse: '" + printed + "'");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args{"stoa-fuzz"};
  std::map<std::string, std::string> env;
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string line(in.substr(0, nl));
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    check_duration(line);
    if (!line.empty() && line[0] == '$') {
      size_t eq = line.find('=');
      env[line.substr(1, eq == std::string::npos ? std::string::npos : eq - 1)] =
          eq == std::string::npos ? "" : line.substr(eq + 1);
    } else {
      args.push_back(std::move(line));
    }
  }
  std::vector<const char*> argv;
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
  }
  int argc = static_cast<int>(argv.size());

  stoa::master::MasterFlags master;
  if (!master.load(argc, argv.data(), env)) {
    for (const stoa::Duration* d : {&master.allocation_interval, &master.slave_ping_timeout,
                                    &master.slave_reregister_timeout}) {
      check_duration(stoa::format_duration(*d));
    }
    if (master.weights) {
      auto w = stoa::master::parse_weights(*master.weights);
      if (w.is_some()) {
        for (const auto& [role, weight] : *w) {
          STOA_FUZZ_CHECK(weight > 0, "non-positive weight accepted for " + role);
        }
      }
    }
    if (master.roles) {
      for (const std::string& role : stoa::split(*master.roles, ',')) {
        (void)stoa::master::validate_role(role);
      }
    }
    for (const std::string& part : stoa::split(master.min_allocatable_resources, '|')) {
      (void)stoa::Resources::parse(part);
    }
  }
  (void)master.values();
  if (master.help) {
    (void)master.usage("stoa-master");
  }

  stoa::slave::SlaveFlags slave;
  if (!slave.load(argc, argv.data(), env)) {
    for (const stoa::Duration* d : {&slave.registration_backoff_factor,
                                    &slave.executor_registration_timeout,
                                    &slave.executor_shutdown_grace_period}) {
      check_duration(stoa::format_duration(*d));
    }
    if (slave.master) {
      (void)stoa::parse_master_address(*slave.master);
    }
    (void)stoa::Resources::parse(slave.resources);
    if (slave.attributes) {
      (void)stoa::parse_attributes(*slave.attributes);
    }
  }
  (void)slave.values();
  return 0;
}
