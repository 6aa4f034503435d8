#pragma once
// What the benchmarks that run real processes through the tests' harness
// (scale_bench.cpp, failover_bench.cpp) share: starting a daemon and reading
// one of its metrics. Header-only; those benches link stoa_test_support.

#include <chrono>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/cluster.hpp"

namespace stoa::bench {

// How long a daemon may take to log its "listening on" line.
inline constexpr auto BENCH_STARTUP_TIMEOUT = std::chrono::seconds(30);

// The metrics of the process serving 127.0.0.1:port at one moment (one
// /metrics/snapshot); empty when it does not answer 200 within `timeout` (a
// non-leading master redirects).
struct Snapshot {
  std::optional<picojson::value> json;
  // The metric `name`, or nullopt when the snapshot failed or lacks it.
  std::optional<double> value(const std::string& name) const {
    if (!json || !tests::json_at(*json, name).is<double>()) {
      return std::nullopt;
    }
    return tests::json_number(tests::json_at(*json, name));
  }
};

inline Snapshot snapshot(int port, tests::Clock::duration timeout) {
  Try<picojson::value> json = tests::http_get_json("127.0.0.1", port, "/metrics/snapshot", tests::deadline_in(timeout));
  return json.is_some() ? Snapshot{*json} : Snapshot{};
}

// One metric of the process serving 127.0.0.1:port (snapshot()).
inline std::optional<double> metric(int port, const std::string& name, tests::Clock::duration timeout) {
  return snapshot(port, timeout).value(name);
}

struct Server {
  std::unique_ptr<tests::Process> process;
  int port = 0;
};

// Starts `binary` and waits for its "listening on" line. Error with the end
// of its log when it exits or stays silent.
inline Try<Server> start_server(const std::string& binary, const std::vector<std::string>& args,
                                const std::string& log) {
  Try<std::unique_ptr<tests::Process>> p = tests::Process::start(binary, args, log);
  if (p.is_error()) {
    return Error(p.error());
  }
  static const std::regex listening(R"(listening on http://[0-9.]+:([0-9]+))");
  auto line = (*p)->wait_for_line(listening, tests::deadline_in(BENCH_STARTUP_TIMEOUT));
  if (!line) {
    return Error(binary + " did not start (" + (*p)->describe_exit() + "); its log ends:\n" +
                 tests::tail_of_file(log, 15));
  }
  Server s;
  s.port = std::stoi((*line)[1]);
  s.process = std::move(*p);
  return s;
}

}  // namespace stoa::bench
