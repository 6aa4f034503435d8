// The slave simulator against the real master: each in its own Runtime (so
// every message crosses CAF's network layer, as between processes), with a
// framework actor speaking the scheduler Calls in the master's Runtime.
// Real time, short timers, every wait a poll with a deadline.

#include "bench/slave_simulator.hpp"

#include <gtest/gtest.h>
#include <picojson.h>

#include <caf/all.hpp>
#include <mutex>
#include <optional>
#include <set>

#include "actors/atoms.hpp"
#include "actors/master_detector.hpp"
#include "actors/messages.hpp"
#include "actors/runtime.hpp"
#include "bench/remote_rate.hpp"
#include "common/task_state.hpp"
#include "master/master.hpp"
#include "tests/poll.hpp"

namespace stoa::bench {
namespace {

using namespace std::chrono_literals;
using scheduler::Call;
using scheduler::Event;
using tests::deadline_in;
using tests::poll_until;

constexpr auto WAIT = std::chrono::seconds(20);  // generous: the machine is shared

RuntimeOptions runtime_options(uint16_t port = 0) {
  RuntimeOptions o;
  o.port = port;
  o.max_threads = 2;
  o.on_component_failure = [](const std::string& what) { ADD_FAILURE() << what << " failed"; };
  return o;
}

// A master in its own Runtime.
struct MasterProcess {
  std::unique_ptr<Runtime> rt;
  caf::actor master;

  static std::unique_ptr<MasterProcess> start(uint16_t port = 0) {
    auto m = std::make_unique<MasterProcess>();
    Try<std::unique_ptr<Runtime>> rt = Runtime::start(runtime_options(port));
    EXPECT_TRUE(rt.is_some()) << rt.error();
    if (rt.is_error()) {
      return nullptr;
    }
    m->rt = std::move(*rt);
    master::MasterOptions opts;
    const char* argv[] = {"stoa-master", "--allocation_interval=50ms",
                          "--slave_ping_timeout=100ms"};
    EXPECT_FALSE(opts.flags.load(3, argv, {}));
    opts.upid = m->rt->upid("master");
    opts.hostname = "localhost";
    opts.metrics = &m->rt->metrics();
    Try<caf::actor> a = master::spawn_master(m->rt->system(), opts);
    EXPECT_TRUE(a.is_some()) << a.error();
    if (a.is_error()) {
      return nullptr;
    }
    m->master = *a;
    m->rt->register_actor("master", m->master);
    return m;
  }

  std::string address() const { return rt->ip() + ":" + std::to_string(rt->port()); }
  double metric(const std::string& name) const { return rt->metrics().value(name).value_or(-1); }

  picojson::value state() {
    caf::scoped_actor self{rt->system()};
    picojson::value v;
    self->request(master, 10s, state_atom_v, std::string("state"),
                  std::map<std::string, std::string>{})
        .receive([&](int, std::string& body) { picojson::parse(v, body); },
                 [&](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
    return v;
  }

  // Slave id -> pid, from /master/state.
  std::map<std::string, std::string> slaves() {
    std::map<std::string, std::string> out;
    picojson::value s = state();
    if (s.get("slaves").is<picojson::array>()) {
      for (const picojson::value& slave : s.get("slaves").get<picojson::array>()) {
        out[slave.get("id").to_str()] = slave.get("pid").to_str();
      }
    }
    return out;
  }
};

// A simulator in its own Runtime.
struct SimulatorProcess {
  std::unique_ptr<Runtime> rt;
  caf::actor coordinator;

  static std::unique_ptr<SimulatorProcess> start(SimulatorOptions opts) {
    auto s = std::make_unique<SimulatorProcess>();
    Try<std::unique_ptr<Runtime>> rt = Runtime::start(runtime_options());
    EXPECT_TRUE(rt.is_some()) << rt.error();
    if (rt.is_error()) {
      return nullptr;
    }
    s->rt = std::move(*rt);
    Try<caf::actor> c = start_simulator(*s->rt, std::move(opts));
    EXPECT_TRUE(c.is_some()) << c.error();
    if (c.is_error()) {
      return nullptr;
    }
    s->coordinator = *c;
    return s;
  }

  double metric(const std::string& name) const { return rt->metrics().value(name).value_or(-1); }
};

SimulatorOptions options(const std::string& master, size_t slaves) {
  SimulatorOptions o;
  o.master = master;
  o.slaves = slaves;
  o.resources = *Resources::parse(DEFAULT_SIMULATED_RESOURCES);
  o.registration_backoff = 50ms;
  return o;
}

// What the framework saw.
struct Seen {
  std::mutex mu;
  std::map<std::string, std::vector<TaskState>> updates;  // task id -> states in order
  size_t launched = 0;
  bool acknowledge = true;  // the framework acknowledges what it gets

  size_t count(TaskState state) {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const auto& [tid, states] : updates) {
      n += static_cast<size_t>(std::count(states.begin(), states.end(), state));
    }
    return n;
  }
};

// A framework that launches one `cpus:1;mem:128` task per offer until it
// has launched `tasks`, declines the rest and acknowledges every update.
// A batch of events (it subscribed with batched_events) is handled event by
// event, its calls sent after it in one scheduler::Calls.
caf::behavior framework(caf::event_based_actor* self, caf::actor master, size_t tasks,
                        std::shared_ptr<Seen> seen) {
  auto fid = std::make_shared<std::string>();
  auto batch = std::make_shared<std::optional<scheduler::Calls>>();
  auto call = [=](Call c) {
    c.mutable_framework_id()->set_value(*fid);
    if (*batch) {
      *(*batch)->add_calls() = std::move(c);
    } else {
      self->send(master, std::move(c));
    }
  };
  auto handle = [=](Event& e) {
        if (e.type() == Event::SUBSCRIBED) {
          *fid = e.subscribed().framework_id().value();
        } else if (e.type() == Event::OFFERS) {
          for (const Offer& o : e.offers().offers()) {
            Call c;
            size_t n = 0;
            {
              std::lock_guard<std::mutex> lock(seen->mu);
              n = seen->launched < tasks ? ++seen->launched : 0;
            }
            if (n == 0) {
              c.set_type(Call::DECLINE);
              *c.mutable_decline()->add_offer_ids() = o.id();
            } else {
              c.set_type(Call::ACCEPT);
              *c.mutable_accept()->add_offer_ids() = o.id();
              Offer::Operation* op = c.mutable_accept()->add_operations();
              op->set_type(Offer::Operation::LAUNCH);
              TaskInfo* t = op->mutable_launch()->add_task_infos();
              t->set_name("t");
              t->mutable_task_id()->set_value("task-" + std::to_string(n));
              *t->mutable_slave_id() = o.slave_id();
              t->mutable_command()->set_value("true");
              Resources::parse("cpus:1;mem:128")->to_proto(t->mutable_resources());
            }
            call(std::move(c));
          }
        } else if (e.type() == Event::UPDATE) {
          const TaskStatus& s = e.update().status();
          bool acknowledge = false;
          {
            std::lock_guard<std::mutex> lock(seen->mu);
            seen->updates[s.task_id().value()].push_back(s.state());
            acknowledge = seen->acknowledge;
          }
          if (acknowledge && !s.uuid().empty()) {
            Call c;
            c.set_type(Call::ACKNOWLEDGE);
            *c.mutable_acknowledge()->mutable_slave_id() = s.slave_id();
            *c.mutable_acknowledge()->mutable_task_id() = s.task_id();
            c.mutable_acknowledge()->set_uuid(s.uuid());
            call(std::move(c));
          }
        }
  };
  return {
      [=](Event& e) { handle(e); },
      [=](scheduler::Events& events) {
        batch->emplace();
        for (Event& e : *events.mutable_events()) {
          handle(e);
        }
        scheduler::Calls calls = std::move(**batch);
        batch->reset();
        if (calls.calls_size() > 0) {
          self->send(master, std::move(calls));
        }
      },
  };
}

void subscribe(MasterProcess& m, size_t tasks, const std::shared_ptr<Seen>& seen, bool batched = false) {
  caf::actor f = m.rt->system().spawn(framework, m.master, tasks, seen);
  Call c;
  c.set_type(Call::SUBSCRIBE);
  c.mutable_subscribe()->set_batched_events(batched);
  FrameworkInfo* info = c.mutable_subscribe()->mutable_framework_info();
  info->set_name("simulator-test");
  info->set_user("nobody");
  info->set_role("*");
  c.mutable_subscribe()->set_pid("scheduler-test@" + m.address());
  caf::send_as(f, m.master, c);
}

TEST(SlaveSimulatorTest, SlavesRegisterUnderTheirNamesAndAnswerPings) {
  auto m = MasterProcess::start();
  ASSERT_TRUE(m);
  auto sim = SimulatorProcess::start(options(m->address(), 25));
  ASSERT_TRUE(sim);
  EXPECT_TRUE(
      poll_until([&] { return m->metric("master/slave_registrations") == 25; }, deadline_in(WAIT)));
  EXPECT_TRUE(poll_until([&] { return sim->metric("simulator/slaves_registered") == 25; },
                         deadline_in(WAIT)));
  EXPECT_EQ(sim->metric("simulator/registrations"), 25);
  // One slave per name, each under its own id.
  std::map<std::string, std::string> slaves = m->slaves();
  std::set<std::string> pids;
  for (const auto& [id, pid] : slaves) {
    pids.insert(pid);
  }
  EXPECT_EQ(slaves.size(), 25u);
  EXPECT_EQ(pids.size(), 25u);
  std::string address = sim->rt->ip() + ":" + std::to_string(sim->rt->port());
  EXPECT_EQ(pids.count("slave(1)@" + address), 1u);
  EXPECT_EQ(pids.count("slave(25)@" + address), 1u);
  // Every slave keeps answering the master's pings (every 100 ms here).
  EXPECT_TRUE(poll_until([&] { return sim->metric("simulator/pongs") >= 100; }, deadline_in(WAIT)));
  EXPECT_EQ(m->metric("master/slave_removals"), 0);
  sim->rt->shutdown();
  m->rt->shutdown();
}

TEST(SlaveSimulatorTest, TasksRunAndFinishWithAcknowledgedUpdates) {
  auto m = MasterProcess::start();
  ASSERT_TRUE(m);
  SimulatorOptions o = options(m->address(), 2);
  o.task_duration = 50ms;
  auto sim = SimulatorProcess::start(o);
  ASSERT_TRUE(sim);
  ASSERT_TRUE(poll_until([&] { return sim->metric("simulator/slaves_registered") == 2; },
                         deadline_in(WAIT)));
  auto seen = std::make_shared<Seen>();
  subscribe(*m, 6, seen);
  EXPECT_TRUE(poll_until([&] { return seen->count(TASK_FINISHED) == 6; }, deadline_in(WAIT)));
  // Each update once, in order, each acknowledged; then the slaves forget the task.
  {
    std::lock_guard<std::mutex> lock(seen->mu);
    EXPECT_EQ(seen->updates.size(), 6u);
    for (const auto& [tid, states] : seen->updates) {
      EXPECT_EQ(states, (std::vector<TaskState>{TASK_STARTING, TASK_RUNNING, TASK_FINISHED}))
          << tid;
    }
  }
  EXPECT_TRUE(poll_until([&] { return sim->metric("simulator/status_updates_acknowledged") == 18; },
                         deadline_in(WAIT)));
  EXPECT_EQ(sim->metric("simulator/tasks_launched"), 6);
  EXPECT_EQ(sim->metric("simulator/tasks_finished"), 6);
  EXPECT_EQ(sim->metric("simulator/tasks_running"), 0);
  EXPECT_EQ(m->metric("master/tasks_finished"), 6);
  EXPECT_EQ(m->metric("master/invariant_violations"), 0);
  sim->rt->shutdown();
  m->rt->shutdown();
}

// One simulated slave that repeats TASK_RUNNING (--repeat_running_updates),
// registered with `m`.
std::unique_ptr<SimulatorProcess> start_repeating_slave(MasterProcess& m) {
  SimulatorOptions o = options(m.address(), 1);
  o.repeat_running_updates = true;
  auto sim = SimulatorProcess::start(o);
  EXPECT_TRUE(sim);
  if (sim && !poll_until([&] { return sim->metric("simulator/slaves_registered") == 1; }, deadline_in(WAIT))) {
    ADD_FAILURE() << "the simulated slave did not register";
    return nullptr;
  }
  return sim;
}

// Each of `tasks` tasks got TASK_STARTING, then at least `running` TASK_RUNNINGs and nothing else.
void expect_starting_then_running(Seen& seen, size_t tasks, size_t running) {
  std::lock_guard<std::mutex> lock(seen.mu);
  EXPECT_EQ(seen.updates.size(), tasks);
  for (const auto& [tid, states] : seen.updates) {
    ASSERT_GE(states.size(), running + 1) << tid;
    EXPECT_EQ(states[0], TASK_STARTING) << tid;
    EXPECT_EQ(std::count(states.begin() + 1, states.end(), TASK_RUNNING), static_cast<long>(states.size() - 1))
        << tid;
  }
}

// --repeat_running_updates: every acknowledged TASK_RUNNING is followed by
// another (a new uuid), in order, each acknowledged; the master keeps one
// status per state (a repeated state replaces the last, as in Mesos).
TEST(SlaveSimulatorTest, RunningTasksRepeatTaskRunningAndTheMasterKeepsOneStatusPerState) {
  auto m = MasterProcess::start();
  ASSERT_TRUE(m);
  auto sim = start_repeating_slave(*m);
  ASSERT_TRUE(sim);
  auto seen = std::make_shared<Seen>();
  subscribe(*m, 2, seen);
  EXPECT_TRUE(poll_until([&] { return seen->count(TASK_RUNNING) >= 40; }, deadline_in(WAIT)));
  expect_starting_then_running(*seen, 2, 2);
  EXPECT_GE(m->metric("master/valid_status_update_acknowledgements"), 40);
  EXPECT_GE(sim->metric("simulator/status_updates_acknowledged"), 40);
  picojson::value state = m->state();
  ASSERT_TRUE(state.get("frameworks").is<picojson::array>());
  ASSERT_EQ(state.get("frameworks").get<picojson::array>().size(), 1u);
  const picojson::value& f = state.get("frameworks").get<picojson::array>()[0];
  ASSERT_EQ(f.get("tasks").get<picojson::array>().size(), 2u);
  for (const picojson::value& t : f.get("tasks").get<picojson::array>()) {
    EXPECT_EQ(t.get("state").to_str(), "TASK_RUNNING");
    const picojson::array& statuses = t.get("statuses").get<picojson::array>();
    ASSERT_EQ(statuses.size(), 3u) << t.serialize();
    EXPECT_EQ(statuses[0].get("state").to_str(), "TASK_STAGING");  // the master's, at launch
    EXPECT_EQ(statuses[1].get("state").to_str(), "TASK_STARTING");
    EXPECT_EQ(statuses[2].get("state").to_str(), "TASK_RUNNING");
  }
  EXPECT_EQ(m->metric("master/invariant_violations"), 0);
  sim->rt->shutdown();
  m->rt->shutdown();
}

// Batched status updates: with a framework that takes batches, the master
// batches events and the acknowledgements for the simulated slave, which
// answers with its updates in one message; every stream stays in order.
TEST(SlaveSimulatorTest, BatchedAcknowledgementsAreAnsweredWithBatchedUpdatesInOrder) {
  auto m = MasterProcess::start();
  ASSERT_TRUE(m);
  auto sim = start_repeating_slave(*m);
  ASSERT_TRUE(sim);
  auto seen = std::make_shared<Seen>();
  subscribe(*m, 4, seen, true);
  // Four streams (the slave's 4 cpus) repeat TASK_RUNNING: updates meet in
  // the master's mailbox.
  EXPECT_TRUE(poll_until(
      [&] {
        return m->metric("master/batches_sent") > 0 && sim->metric("simulator/status_update_batches") > 0 &&
               seen->count(TASK_RUNNING) >= 100;
      },
      deadline_in(WAIT)))
      << "batches sent by the master " << m->metric("master/batches_sent") << ", by the simulator "
      << sim->metric("simulator/status_update_batches");
  expect_starting_then_running(*seen, 4, 1);
  EXPECT_EQ(m->metric("master/invalid_status_updates"), 0);
  EXPECT_EQ(m->metric("master/invariant_violations"), 0);
  EXPECT_EQ(sim->metric("simulator/dropped_messages"), 0);
  sim->rt->shutdown();
  m->rt->shutdown();
}

// An update the framework does not acknowledge is sent again (the slave's
// backoff, shortened here), and nothing after it, until it is acknowledged.
TEST(SlaveSimulatorTest, AnUnacknowledgedUpdateIsSentAgainUntilAcknowledged) {
  auto m = MasterProcess::start();
  ASSERT_TRUE(m);
  SimulatorOptions o = options(m->address(), 1);
  o.update_retry_interval = 50ms;
  auto sim = SimulatorProcess::start(o);
  ASSERT_TRUE(sim);
  ASSERT_TRUE(poll_until([&] { return sim->metric("simulator/slaves_registered") == 1; }, deadline_in(WAIT)));
  auto seen = std::make_shared<Seen>();
  seen->acknowledge = false;
  subscribe(*m, 1, seen);
  EXPECT_TRUE(poll_until([&] { return seen->count(TASK_STARTING) >= 4; }, deadline_in(WAIT)));
  EXPECT_EQ(seen->count(TASK_RUNNING), 0u) << "one update in flight per task";
  EXPECT_GE(sim->metric("simulator/status_updates_sent"), 4);
  EXPECT_EQ(sim->metric("simulator/status_updates_acknowledged"), 0);
  {
    std::lock_guard<std::mutex> lock(seen->mu);
    seen->acknowledge = true;
  }
  EXPECT_TRUE(poll_until([&] { return seen->count(TASK_RUNNING) >= 1; }, deadline_in(WAIT)));
  EXPECT_TRUE(poll_until([&] { return sim->metric("simulator/status_updates_acknowledged") == 2; },
                         deadline_in(WAIT)));
  sim->rt->shutdown();
  m->rt->shutdown();
}

// The raw remote rate's two ends (bench/remote_rate.hpp) between two
// Runtimes: one way, every message is credited (rounded up to whole
// credits); echoed, every message is answered and its round trip recorded.
TEST(SlaveSimulatorTest, TheRateEchoCreditsAndAnswersEveryMessage) {
  auto m = MasterProcess::start();  // only something for the simulator to follow
  ASSERT_TRUE(m);
  auto sim = SimulatorProcess::start(options(m->address(), 1));
  ASSERT_TRUE(sim);
  Try<std::unique_ptr<Runtime>> rt = Runtime::start(runtime_options());
  ASSERT_TRUE(rt.is_some()) << rt.error();
  caf::actor echo;
  {
    caf::scoped_actor self{(*rt)->system()};
    self->request((*rt)->router(), RESOLVE_TIMEOUT, resolve_atom_v, sim->rt->upid(RATE_ECHO_NAME).str())
        .receive([&](const caf::actor& h) { echo = h; }, [&](caf::error& e) { ADD_FAILURE() << caf::to_string(e); });
  }
  ASSERT_TRUE(echo);
  for (int run = 0; run < 2; ++run) {  // the echo's count starts again with each run
    std::optional<RateResult> one_way = measure_remote_rate((*rt)->system(), echo, true, 1000, 128, 60s);
    ASSERT_TRUE(one_way);
    EXPECT_EQ(one_way->messages, 1024u);
    EXPECT_GT(one_way->seconds, 0);
    EXPECT_TRUE(one_way->round_trip_us.empty());
  }
  std::optional<RateResult> echoed = measure_remote_rate((*rt)->system(), echo, false, 500, 16, 60s);
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->messages, 500u);
  EXPECT_EQ(echoed->round_trip_us.size(), 500u);
  EXPECT_GT(*std::min_element(echoed->round_trip_us.begin(), echoed->round_trip_us.end()), 0);
  (*rt)->shutdown();
  sim->rt->shutdown();
  m->rt->shutdown();
}

TEST(SlaveSimulatorTest, SlavesFollowANewLeaderWithTheirIdsAndTasksAndIgnoreTheOldOne) {
  auto a = MasterProcess::start();
  auto b = MasterProcess::start();
  ASSERT_TRUE(a && b);
  auto sim = SimulatorProcess::start(options(a->address(), 10));
  ASSERT_TRUE(sim);
  ASSERT_TRUE(
      poll_until([&] { return a->metric("master/slave_registrations") == 10; }, deadline_in(WAIT)));
  auto seen = std::make_shared<Seen>();
  subscribe(*a, 3, seen);  // tasks run until killed
  ASSERT_TRUE(poll_until([&] { return seen->count(TASK_RUNNING) == 3; }, deadline_in(WAIT)));
  std::map<std::string, std::string> before = a->slaves();
  // Counted from the leader change on: the old leader stops pinging once its
  // pings have gone unanswered --max_slave_ping_timeouts times (0.5 s here),
  // which may be before the last slave re-registered (a random wait of up to 1 s).
  double dropped = sim->metric("simulator/dropped_messages");
  // The detector's report of a new leader.
  detector::Leader leader;
  leader.pid = "master@" + b->address();
  {
    caf::scoped_actor self{sim->rt->system()};
    self->send(sim->coordinator, detector::leader_atom_v, leader);
  }
  // Each slave counts its re-registration once; a retry may cross the
  // answer, and the master counts every re-registration message.
  EXPECT_TRUE(poll_until([&] { return sim->metric("simulator/reregistrations") == 10; },
                         deadline_in(WAIT)));
  EXPECT_EQ(sim->metric("simulator/slaves_registered"), 10);
  EXPECT_GE(b->metric("master/slave_reregistrations"), 10);
  EXPECT_EQ(b->metric("master/slave_registrations"), 0);
  EXPECT_EQ(b->slaves(), before);
  // The new leader learned the running tasks from the re-registrations.
  picojson::value state = b->state();
  size_t running = 0;
  for (const picojson::value& f : state.get("frameworks").get<picojson::array>()) {
    for (const picojson::value& t : f.get("tasks").get<picojson::array>()) {
      running += t.get("state").to_str() == "TASK_RUNNING" ? 1 : 0;
    }
  }
  EXPECT_EQ(running, 3u);
  // The old leader's pings are dropped, not answered.
  EXPECT_TRUE(poll_until([&] { return sim->metric("simulator/dropped_messages") >= dropped + 20; },
                         deadline_in(WAIT)));
  sim->rt->shutdown();
  a->rt->shutdown();
  b->rt->shutdown();
}

TEST(SlaveSimulatorTest, SlavesReregisterWhenTheirMasterComesBackOnItsPort) {
  auto m = MasterProcess::start();
  ASSERT_TRUE(m);
  uint16_t port = m->rt->port();
  auto sim = SimulatorProcess::start(options(m->address(), 10));
  ASSERT_TRUE(sim);
  ASSERT_TRUE(
      poll_until([&] { return m->metric("master/slave_registrations") == 10; }, deadline_in(WAIT)));
  std::map<std::string, std::string> before = m->slaves();
  m->rt->shutdown();
  EXPECT_TRUE(poll_until([&] { return sim->metric("simulator/slaves_registered") == 0; },
                         deadline_in(WAIT)));
  m = MasterProcess::start(port);
  ASSERT_TRUE(m);
  // A retry may cross the answer: the master counts every re-registration message.
  EXPECT_TRUE(poll_until([&] { return sim->metric("simulator/reregistrations") == 10; },
                         deadline_in(WAIT)));
  EXPECT_EQ(sim->metric("simulator/slaves_registered"), 10);
  EXPECT_GE(m->metric("master/slave_reregistrations"), 10);
  EXPECT_EQ(m->metric("master/slave_registrations"), 0);
  EXPECT_EQ(m->slaves(), before);
  sim->rt->shutdown();
  m->rt->shutdown();
}

std::string flags_error(std::vector<const char*> argv) {
  SimulatorFlags flags;
  argv.insert(argv.begin(), "stoa-slave-simulator");
  if (std::optional<Error> e = flags.load(static_cast<int>(argv.size()), argv.data(), {})) {
    return e->message;
  }
  Try<SimulatorOptions> o = simulator_options(flags);
  return o.is_error() ? o.error() : "";
}

TEST(SlaveSimulatorTest, BadFlagsAreRefusedNamingTheValue) {
  EXPECT_EQ(flags_error({"--master=127.0.0.1:5050", "--slaves=3", "--task_duration=2secs"}), "");
  EXPECT_NE(flags_error({"--slaves=3"}).find("--master"), std::string::npos);
  EXPECT_NE(flags_error({"--master=127.0.0.1:5050", "--slaves=0"}).find("'0'"), std::string::npos);
  EXPECT_NE(flags_error({"--master=nohost"}).find("'nohost'"), std::string::npos);
  EXPECT_NE(flags_error({"--master=127.0.0.1:5050", "--task_duration=5"}).find("'5'"),
            std::string::npos);
  EXPECT_NE(flags_error({"--master=127.0.0.1:5050", "--resources=cpus:-1"}).find("'cpus:-1'"),
            std::string::npos);
  EXPECT_NE(flags_error({"--master=127.0.0.1:5050", "--reregister_spread=soon"}).find("'soon'"),
            std::string::npos);
  EXPECT_NE(flags_error({"--master=127.0.0.1:5050", "--nice=20"}).find("'20'"), std::string::npos);
  EXPECT_EQ(flags_error({"--master=127.0.0.1:5050", "--nice=19"}), "");
  // Unset, the spread follows the backoff factor, as stoa-slave's first wait
  // after a failover does.
  SimulatorFlags flags;
  const char* argv[] = {"stoa-slave-simulator", "--master=127.0.0.1:5050", "--registration_backoff_factor=300ms"};
  ASSERT_FALSE(flags.load(3, argv, {}));
  Try<SimulatorOptions> spread = simulator_options(flags);
  ASSERT_TRUE(spread) << spread.error();
  EXPECT_EQ(spread->reregister_spread, std::chrono::milliseconds(300));
  SimulatorOptions zero = options("127.0.0.1:1", 0);
  auto rt = Runtime::start(runtime_options());
  ASSERT_TRUE(rt.is_some());
  Try<caf::actor> none = start_simulator(**rt, zero);
  ASSERT_TRUE(none.is_error());
  EXPECT_NE(none.error().find("at least one slave"), std::string::npos);
  (*rt)->shutdown();
}

}  // namespace
}  // namespace stoa::bench
