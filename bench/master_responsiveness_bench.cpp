// stoa-bench-master-responsiveness: does the master keep answering while the
// allocator actor runs long allocation passes?
//
// One process, a real threaded CAF system (2 worker threads), the real
// master and allocator actors. N fake slaves (cpus:24;mem:4096 each) and F
// frameworks (role "web") are added through the master's messages; each
// framework declines every offer with a 1-hour filter, and a quota on "web"
// keeps every pass visiting every (slave, framework) pair (the allocator
// skips unchanged slaves only while no quota is set). So each pass is as long
// as a full pass over the cluster and produces no offers: the allocator is
// busy, the master is not. Meanwhile a prober asks the master for
// /master/health (the same actor request the HTTP route makes) back to back
// and records each round trip.
//
// With the allocator inside the master (as before #7) every probe that
// arrived during a pass waited for the rest of it: the worst round trip was
// the pass time. Printed: pass time (from the allocator's own gauge) and the
// probe latency percentiles over the same window.
//
// Usage: stoa-bench-master-responsiveness [--slaves=N] [--frameworks=F] [--seconds=S]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "bench/bench_util.hpp"
#include "actors/messages.hpp"
#include "actors/safety.hpp"
#include "common/metrics.hpp"
#include "common/resources.hpp"
#include "master/master.hpp"

using namespace stoa;
using stoa::bench::percentile;
using namespace stoa::internal;
using namespace std::chrono_literals;
using stoa::scheduler::Call;
using stoa::scheduler::Event;

namespace {

struct Args {
  size_t slaves = 20000;
  size_t frameworks = 5;
  double seconds = 5;
};

bool parse_args(int argc, char** argv, Args* a) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* prefix) -> const char* {
      size_t n = std::strlen(prefix);
      return arg.compare(0, n, prefix) == 0 ? argv[i] + n : nullptr;
    };
    char* end = nullptr;
    if (const char* v = value("--slaves=")) {
      a->slaves = std::strtoull(v, &end, 10);
    } else if (const char* v = value("--frameworks=")) {
      a->frameworks = std::strtoull(v, &end, 10);
    } else if (const char* v = value("--seconds=")) {
      a->seconds = std::strtod(v, &end);
    } else {
      std::fprintf(stderr, "Unknown argument '%s'\nUsage: %s [--slaves=N] [--frameworks=F] [--seconds=S]\n",
                   argv[i], argv[0]);
      return false;
    }
    if (end == nullptr || *end != '\0' || a->slaves == 0 || a->frameworks == 0 || !(a->seconds > 0)) {
      std::fprintf(stderr, "Invalid value in '%s'\n", argv[i]);
      return false;
    }
  }
  return true;
}

// A framework that declines every offer for an hour.
caf::behavior decliner(caf::event_based_actor* self, caf::actor master, std::shared_ptr<std::atomic<size_t>> seen) {
  auto fid = std::make_shared<std::string>();
  return {
      [=](Event& e) {
        if (e.type() == Event::SUBSCRIBED) {
          *fid = e.subscribed().framework_id().value();
        } else if (e.type() == Event::OFFERS) {
          Call c;
          c.set_type(Call::DECLINE);
          c.mutable_framework_id()->set_value(*fid);
          for (const Offer& o : e.offers().offers()) {
            *c.mutable_decline()->add_offer_ids() = o.id();
          }
          c.mutable_decline()->mutable_filters()->set_refuse_seconds(3600);
          *seen += static_cast<size_t>(e.offers().offers_size());
          self->send(master, c);
        }
      },
  };
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!parse_args(argc, argv, &args)) {
    return 2;
  }
  // Outlives the actor system: actors still running while it shuts down
  // write to it.
  metrics::Registry registry;
  caf::actor_system_config cfg;
  add_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  master::MasterOptions opts;
  const char* flags[] = {"stoa-master", "--allocation_interval=100ms", "--slave_ping_timeout=1hrs"};
  if (auto e = opts.flags.load(3, flags, {})) {
    std::fprintf(stderr, "%s\n", e->message.c_str());
    return 1;
  }
  opts.upid = Upid{"master", "127.0.0.1", 5050};
  opts.hostname = "localhost";
  opts.metrics = &registry;
  Try<caf::actor> m = master::spawn_master(sys, opts);
  if (m.is_error()) {
    std::fprintf(stderr, "%s\n", m.error().c_str());
    return 1;
  }
  caf::actor master = *m;
  caf::scoped_actor self{sys};

  auto request = [&](caf::message msg) {
    std::pair<int, std::string> out{0, ""};
    self->request(master, 60s, std::move(msg))
        .receive([&](int status, std::string& body) { out = {status, std::move(body)}; },
                 [&](caf::error& e) { out = {-1, caf::to_string(e)}; });
    return out;
  };

  // Slaves.
  auto t0 = std::chrono::steady_clock::now();
  std::vector<caf::actor> slaves;
  slaves.reserve(args.slaves);
  Resources total = *Resources::parse("cpus:24;mem:4096");
  for (size_t i = 0; i < args.slaves; ++i) {
    caf::actor s = sys.spawn([](caf::event_based_actor*) -> caf::behavior {
      return {[](SlaveRegisteredMessage&) {}, [](PingSlaveMessage&) {}, [](ShutdownFrameworkMessage&) {}};
    });
    RegisterSlaveMessage r;
    r.mutable_slave()->set_hostname("host" + std::to_string(i));
    total.to_proto(r.mutable_slave()->mutable_resources());
    r.set_pid("slave(1)@10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
              std::to_string(i % 256) + ":5051");
    caf::send_as(s, master, r);
    slaves.push_back(s);
  }
  // Frameworks.
  auto seen = std::make_shared<std::atomic<size_t>>(0);
  std::vector<caf::actor> frameworks;
  for (size_t i = 0; i < args.frameworks; ++i) {
    caf::actor f = sys.spawn(decliner, master, seen);
    Call c;
    c.set_type(Call::SUBSCRIBE);
    FrameworkInfo* info = c.mutable_subscribe()->mutable_framework_info();
    info->set_name("decliner-" + std::to_string(i));
    info->set_user("nobody");
    info->set_role("web");
    c.mutable_subscribe()->set_pid("scheduler-" + std::to_string(i) + "@127.0.0.1:9999");
    caf::send_as(f, master, c);
    frameworks.push_back(f);
  }
  // Every slave offered once and declined: filters everywhere.
  auto deadline = std::chrono::steady_clock::now() + 300s;
  while (seen->load() < args.slaves && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  auto quota = request(caf::make_message(update_atom_v, std::string("quota"), std::string("POST"),
                                         std::string("/master/quota"),
                                         std::string(R"({"role":"web","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]})")));
  double setup_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (seen->load() < args.slaves || quota.first != 200) {
    std::fprintf(stderr, "setup failed: %zu of %zu slaves offered; quota: %d %s\n", seen->load(), args.slaves,
                 quota.first, quota.second.c_str());
    return 1;
  }
  // Let the declines drain (the master answers them in order), then two
  // passes run with the quota; then measure.
  while (std::chrono::steady_clock::now() < deadline) {
    auto metrics = request(caf::make_message(state_atom_v, std::string("metrics"), std::map<std::string, std::string>{}));
    if (metrics.first == 200 && registry.value("master/outstanding_offers").value_or(1) == 0) {
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  double runs0 = registry.value("allocator/mesos/allocation_runs").value_or(0);
  while (registry.value("allocator/mesos/allocation_runs").value_or(0) < runs0 + 2) {
    std::this_thread::sleep_for(5ms);
  }
  double runs_start = registry.value("allocator/mesos/allocation_runs").value_or(0);
  std::vector<double> latencies_ms;
  std::vector<double> pass_ms;
  double last_runs = runs_start;
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(args.seconds);
  while (std::chrono::steady_clock::now() < end) {
    auto start = std::chrono::steady_clock::now();
    auto health = request(caf::make_message(state_atom_v, std::string("health"), std::map<std::string, std::string>{}));
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (health.first != 200) {
      std::fprintf(stderr, "health failed: %d %s\n", health.first, health.second.c_str());
      return 1;
    }
    latencies_ms.push_back(ms);
    double runs = registry.value("allocator/mesos/allocation_runs").value_or(0);
    if (runs != last_runs) {
      pass_ms.push_back(registry.value("allocator/mesos/allocation_run_ms").value_or(0));
      last_runs = runs;
    }
    std::this_thread::sleep_for(200us);
  }
  double passes = registry.value("allocator/mesos/allocation_runs").value_or(0) - runs_start;
  double violations = registry.value("master/invariant_violations").value_or(-1);
  std::printf("| slaves | frameworks | setup s | passes | pass ms p50 | pass ms max | probes | health ms p50 | "
              "p99 | max |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::printf("| %zu | %zu | %.1f | %.0f | %.1f | %.1f | %zu | %.3f | %.3f | %.3f |\n", args.slaves, args.frameworks,
              setup_s, passes, percentile(pass_ms, 0.5), percentile(pass_ms, 1.0), latencies_ms.size(),
              percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.99), percentile(latencies_ms, 1.0));
  if (const char* check = std::getenv("STOA_CHECK_INVARIANTS"); check != nullptr && std::string(check) == "1") {
    std::printf("invariant violations: %.0f, exact accounting checks: %.0f\n", violations,
                registry.value("master/accounting_checks").value_or(-1));
  }
  for (auto& a : slaves) {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  for (auto& a : frameworks) {
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  stop_actor(sys, master);
  return 0;
}
