// stoa-bench-proto-json [--iterations=N]: the executor API's JSON codec
// (common/proto_json.hpp) against protobuf's util::JsonStringToMessage /
// MessageToJsonString on the messages a command task's executor exchanges
// with its slave (docs/benchmarks.md, "Less work per launch in the slave").
// Prints a table: microseconds per message, each way, and the ratio.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "common/proto_json.hpp"
#include "proto/executor.pb.h"

namespace {

using namespace stoa;
using Clock = std::chrono::steady_clock;

// Microseconds per call of `fn`, the best of three rounds of `n`.
template <class Fn>
double per_call_us(int n, Fn fn) {
  double best = 1e100;
  for (int round = 0; round < 3; ++round) {
    auto start = Clock::now();
    for (int i = 0; i < n; ++i) {
      fn();
    }
    best = std::min(best, std::chrono::duration<double, std::micro>(Clock::now() - start).count() / n);
  }
  return best;
}

executor::Call update_call() {
  executor::Call c;
  c.set_type(executor::Call::UPDATE);
  c.mutable_framework_id()->set_value("b06b6992-050a-460e-af9b-1a1520f876c2-0000");
  c.mutable_executor_id()->set_value("bench-57");
  TaskStatus& s = *c.mutable_update()->mutable_status();
  s.mutable_task_id()->set_value("bench-57");
  s.set_state(TASK_RUNNING);
  s.set_source(TaskStatus::SOURCE_EXECUTOR);
  s.mutable_executor_id()->set_value("bench-57");
  s.set_uuid(std::string(16, '\x5a'));
  s.set_timestamp(1764846120.123456);
  return c;
}

executor::Event launch_event() {
  executor::Event ev;
  ev.set_type(executor::Event::LAUNCH);
  TaskInfo& t = *ev.mutable_launch()->mutable_task();
  t.set_name("bench");
  t.mutable_task_id()->set_value("bench-57");
  t.mutable_slave_id()->set_value("b06b6992-050a-460e-af9b-1a1520f876c2-S0");
  for (const char* name : {"cpus", "mem"}) {
    Resource& r = *t.add_resources();
    r.set_name(name);
    r.set_type(Value::SCALAR);
    r.mutable_scalar()->set_value(name[0] == 'c' ? 0.1 : 32);
  }
  t.mutable_command()->set_value("true");
  return ev;
}

executor::Event acknowledged_event() {
  executor::Event ev;
  ev.set_type(executor::Event::ACKNOWLEDGED);
  ev.mutable_acknowledged()->mutable_task_id()->set_value("bench-57");
  ev.mutable_acknowledged()->set_uuid(std::string(16, '\x5a'));
  return ev;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 20000;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--iterations=", 0) == 0) {
      n = std::atoi(arg.c_str() + 13);
    }
    if (n <= 0 || arg.rfind("--iterations=", 0) != 0) {
      std::fprintf(stderr, "Usage: stoa-bench-proto-json [--iterations=N>0], not '%s'\n", arg.c_str());
      return 1;
    }
  }
  google::protobuf::util::JsonPrintOptions print_opts;
  print_opts.preserve_proto_field_names = true;
  google::protobuf::util::JsonParseOptions parse_opts;
  parse_opts.ignore_unknown_fields = true;

  std::printf("%-34s %12s %12s %8s\n", "message (direction)", "util (us)", "ours (us)", "ratio");
  const executor::Call call = update_call();
  std::string call_json = proto_to_json(call);
  double util_parse = per_call_us(n, [&] {
    executor::Call c;
    (void)google::protobuf::util::JsonStringToMessage(call_json, &c, parse_opts);
  });
  double ours_parse = per_call_us(n, [&] {
    executor::Call c;
    (void)proto_from_json(call_json, &c);
  });
  std::printf("%-34s %12.2f %12.2f %7.1fx\n", "Call UPDATE (parse)", util_parse, ours_parse, util_parse / ours_parse);
  std::vector<std::pair<const char*, executor::Event>> events = {{"Event ACKNOWLEDGED (write)", acknowledged_event()},
                                                                 {"Event LAUNCH (write)", launch_event()}};
  for (const auto& [name, ev] : events) {
    double util_write = per_call_us(n, [&] {
      std::string s;
      (void)google::protobuf::util::MessageToJsonString(ev, &s, print_opts);
    });
    double ours_write = per_call_us(n, [&] {
      std::string s;
      proto_append_json(ev, &s);
    });
    std::printf("%-34s %12.2f %12.2f %7.1fx\n", name, util_write, ours_write, util_write / ours_write);
  }
  std::printf("(%d iterations, best of 3 rounds; %zu bytes of UPDATE JSON)\n", n, call_json.size());
  return 0;
}
