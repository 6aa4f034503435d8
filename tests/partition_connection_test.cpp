// A partition shorter than the middleman's connection timeout (15 s) but
// longer than the ping timeout (#15/#16; docs/multi-host.md "A partition's
// stale connection"). The slave reaches the master through a relay
// (tests/relay.hpp) on 127.0.0.4 that the test can cut (it stops relaying,
// closes nothing) and heal. A real link that comes back does not resume
// both ways at once: each side's unacknowledged segments wait for that
// side's next retransmission, whose interval has backed off to seconds. The relay models that for the
// connections that lived through the cut: at the heal the slave->master way
// resumes at once and the master->slave way `STALL` later. New connections
// flow at once both ways.
//
// Before the fix the master re-admitted the slave over the old connection,
// its answer and pings waited in the stalled way, and it marked the slave
// unreachable a second time. Now both ends reset the connection when their
// ping timeout fires, so the slave re-registers over a fresh one: marked
// unreachable once, re-registered once, its partition-aware task back
// TASK_RUNNING (REASON_SLAVE_REREGISTERED) without a restart.
//
// The first test checks the reset itself on two Runtimes in this process.
//
// Runtime: about 12 s (a 2 s ping timeout, the cut, a 5 s stall and a
// window of 3 s past it in which no second episode may start), plus 1 s.

#include <gtest/gtest.h>

#include <algorithm>
#include <regex>

#include <caf/all.hpp>

#include "actors/atoms.hpp"
#include "actors/router.hpp"
#include "actors/runtime.hpp"
#include "tests/cluster.hpp"
#include "tests/relay.hpp"
#include "tests/task_checks.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

// The master->slave way of a connection that lived through the cut resumes
// this long after the heal; above the master's total ping timeout (2 s).
constexpr auto STALL = 5s;
const std::vector<std::string> PARTITION_PINGS = {"--slave_ping_timeout=1secs", "--max_slave_ping_timeouts=2"};

caf::behavior plus_one(caf::event_based_actor*) {
  return {[](tick_atom, int64_t x) { return x + 1; }};
}

caf::expected<caf::actor> resolve_in(Runtime& rt, const std::string& upid) {
  caf::scoped_actor self{rt.system()};
  caf::expected<caf::actor> out = caf::make_error(caf::sec::request_timeout);
  self->request(rt.router(), 10s, resolve_atom_v, upid)
      .receive([&](const caf::actor& a) { out = a; }, [&](caf::error& e) { out = std::move(e); });
  return out;
}

int64_t tick(Runtime& rt, const caf::actor& whom) {
  caf::scoped_actor self{rt.system()};
  int64_t got = -1;
  self->request(whom, 5s, tick_atom_v, int64_t{41}).receive([&](int64_t v) { got = v; }, [](caf::error&) {});
  return got;
}

// Two Runtimes ("processes") in this one: a (disconnect_atom, peer) to the
// router resets the connection to the peer's process at once (no 15 s
// connection timeout), monitors of its actors hear it, and the next
// resolve opens a fresh connection that works.
TEST(PartitionConnection, TheRouterResetsAConnectionAndTheNextResolveOpensAFreshOne) {
  Try<std::unique_ptr<Runtime>> a = Runtime::start(RuntimeOptions{});
  Try<std::unique_ptr<Runtime>> b = Runtime::start(RuntimeOptions{});
  ASSERT_TRUE(a.is_some() && b.is_some());
  (*b)->register_actor("plus(1)", (*b)->system().spawn(plus_one));
  const std::string upid = (*b)->upid("plus(1)").str();
  caf::expected<caf::actor> first = resolve_in(**a, upid);
  ASSERT_TRUE(first) << (*a)->system().render(first.error());
  ASSERT_EQ(tick(**a, *first), 42);

  caf::scoped_actor self{(*a)->system()};
  self->monitor(*first);
  bool closed = false;
  self->request((*a)->router(), 5s, disconnect_atom_v, *first, std::string("a test"))
      .receive([&](bool done) { closed = done; }, [](caf::error&) {});
  EXPECT_TRUE(closed);
  auto asked = Clock::now();
  bool down = false;
  self->receive([&](const caf::down_msg&) { down = true; }, caf::after(10s) >> [] {});
  EXPECT_TRUE(down) << "the proxy of the peer's actor never went down";
  EXPECT_LT(Clock::now() - asked, 5s) << "closed by the connection timeout, not at once";

  caf::expected<caf::actor> second = resolve_in(**a, upid);
  ASSERT_TRUE(second) << (*a)->system().render(second.error());
  EXPECT_EQ(tick(**a, *second), 42) << "the fresh connection does not work";

  // Nothing to close for an actor of this process.
  bool local = true;
  self->request((*a)->router(), 5s, disconnect_atom_v, (*a)->router(), std::string("a test"))
      .receive([&](bool done) { local = done; }, [](caf::error&) {});
  EXPECT_FALSE(local);
}

size_t lines_in(const Process& p, const std::string& pattern) { return p.lines_matching(std::regex(pattern)).size(); }

double metric(int master_port, const std::string& name) {
  Try<picojson::value> m = http_get_json("127.0.0.1", master_port, "/metrics/snapshot");
  if (m.is_error() || !m->is<picojson::object>() || !m->contains(name)) {
    return -1;
  }
  return json_number(json_at(*m, name));
}

size_t updates_of(const Process& framework, const std::string& state_and_reason) {
  size_t n = 0;
  for (const auto& [task, states] : updates_with_reasons(framework)) {
    n += static_cast<size_t>(std::count(states.begin(), states.end(), state_and_reason));
  }
  return n;
}

size_t updates_in_state(const Process& framework, const std::string& state) {
  size_t n = 0;
  for (const auto& [task, states] : updates_by_task(framework)) {
    n += static_cast<size_t>(std::count(states.begin(), states.end(), state));
  }
  return n;
}

TEST(PartitionConnection, ShortPartitionMarksTheSlaveUnreachableOnceAndItComesBackOverAFreshConnection) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  // The master advertises the relay's address; the relay's actor port keeps
  // the master's number (docs/multi-host.md).
  const int actor_port = free_loopback_port();
  Relay http_relay("127.0.0.4", 0);
  Relay actor_relay("127.0.0.4", actor_port);
  ASSERT_NE(http_relay.port(), 0);
  ASSERT_EQ(actor_relay.port(), actor_port);
  actor_relay.set_target_port(actor_port);
  std::vector<std::string> master_args = PARTITION_PINGS;
  master_args.insert(master_args.end(), {"--actor_port=" + std::to_string(actor_port), "--advertise_ip=127.0.0.4",
                                         "--advertise_port=" + std::to_string(http_relay.port())});
  Try<Process*> master = cluster.start_master(master_args);
  ASSERT_TRUE(master) << master.error();
  http_relay.set_target_port(cluster.master_port());

  const std::string work_dir = cluster.dir() + "/slave0";
  Try<Process*> slave = cluster.start(
      "stoa-slave", "slave0",
      {"--master=127.0.0.4:" + std::to_string(http_relay.port()), "--ip=127.0.0.1", "--port=0",
       "--work_dir=" + work_dir, "--resources=cpus:2;mem:1024;disk:1000"});
  ASSERT_TRUE(slave) << slave.error();
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT))) << (*slave)->log();
  const std::string slave_id = only_slave_id(cluster);

  // A partition-aware framework (talking to the master directly) with one task there.
  const std::string marker = unique_marker();
  Try<Process*> framework = cluster.start(
      "stoa-example-framework", "framework",
      {"--master=" + cluster.master_address(), "--tasks=1", "--partition_aware",
       "--command=sleep 1000; echo " + marker, "--task_resources=cpus:0.5;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  ASSERT_TRUE(poll_until([&] { return tasks_in_state(**framework, "TASK_RUNNING") == 1; },
                         deadline_in(DEFAULT_TIMEOUT)));
  // The task's shell has a child that has not exec'd `sleep` yet for a moment.
  std::vector<pid_t> task_pids;
  ASSERT_TRUE(poll_until(
      [&] {
        task_pids = task_processes(marker, **framework);
        return task_pids.size() == 1;
      },
      deadline_in(DEFAULT_TIMEOUT)));

  // Cut until both ends gave up on each other (2 s each), then heal.
  http_relay.cut();
  actor_relay.cut();
  ASSERT_TRUE(poll_until(
      [&] {
        return lines_in(**master, "Slave " + slave_id + " missed [0-9]+ pings") == 1 &&
               lines_in(**slave, "No ping from the master") == 1;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the ping timeouts never fired";
  ASSERT_TRUE(poll_until([&] { return updates_in_state(**framework, "TASK_UNREACHABLE") == 1; },
                         deadline_in(DEFAULT_TIMEOUT)));
  http_relay.heal(STALL);
  actor_relay.heal(STALL);
  const Deadline stall_over = deadline_in(STALL);

  ASSERT_TRUE(poll_until([&] { return updates_of(**framework, "TASK_RUNNING REASON_SLAVE_REREGISTERED") >= 1; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "the framework never heard its task run again";
  // The stalled way opens at `stall_over`; a second episode would start
  // within the ping timeout of the master's first unanswered ping after the
  // heal. Watch until 3 s past the stall.
  EXPECT_FALSE(poll_until([&] { return lines_in(**master, "missed [0-9]+ pings") > 1; }, stall_over + 3s))
      << "the slave was marked unreachable a second time:\n"
      << tail_of_file((*master)->log_path(), 30);

  EXPECT_EQ(lines_in(**master, "missed [0-9]+ pings"), 1U);
  EXPECT_EQ(lines_in(**master, "Re-registered (unknown|known) slave " + slave_id), 1U) << (*master)->log();
  EXPECT_EQ(metric(cluster.master_port(), "master/slave_unreachable_completed"), 1.0);
  EXPECT_EQ(metric(cluster.master_port(), "master/slave_reregistrations"), 1.0);
  EXPECT_EQ(lines_in(**master, "Reset the connection to .*slave " + slave_id + " is unreachable"), 1U)
      << "the master did not reset its end";
  EXPECT_EQ(actor_relay.stale_bytes(), 0U) << "bytes queued before the cut reached the slave after it";
  // The task is back as the docs say, the same process, reported once each way.
  EXPECT_EQ(updates_in_state(**framework, "TASK_UNREACHABLE"), 1U);
  EXPECT_EQ(updates_of(**framework, "TASK_RUNNING REASON_SLAVE_REREGISTERED"), 1U);
  EXPECT_EQ(task_processes(marker, **framework), task_pids) << "the task was restarted or killed";
  EXPECT_EQ(only_active_slave_id(cluster), slave_id);
  EXPECT_EQ(running_tasks_on(cluster, slave_id), 1U);
}

}  // namespace
}  // namespace stoa::tests
