// Recovery without ZooKeeper: a single master with the durable (LevelDB)
// registry keeps its slaves' ids across restarts, marks the ones that do not
// come back unreachable (and admits them again when they do), and exits
// rather than mark more than --recovery_slave_removal_limit of them; a
// framework gone longer than its failover timeout is removed with its tasks.

#include <gtest/gtest.h>
#include <signal.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

size_t active_count(const picojson::value& state) {
  Try<size_t> n = count_active_slaves(state);
  return n.is_some() ? *n : 0;
}

// The slave of `state` (its id), or "".
std::string only_slave_id(const picojson::value& state) {
  const picojson::array& slaves = json_array(json_at(state, "slaves"));
  return slaves.size() == 1 ? json_string(json_at(slaves.front(), "id")) : "";
}

std::vector<std::string> recovered_slave_ids(const picojson::value& state) {
  std::vector<std::string> ids;
  for (const auto& s : json_array(json_at(state, "recovered_slaves"))) {
    ids.push_back(json_string(json_at(s, "id")));
  }
  return ids;
}

TEST(DurableRegistry, AMasterRestartKeepsItsSlavesIds) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  Cluster cluster;
  Try<Process*> master = cluster.start_master({"--registry=leveldb"});
  ASSERT_TRUE(master) << master.error();
  Try<Process*> slave = cluster.start_slave("cpus:1;mem:256;disk:100", {"--registration_backoff_factor=100ms"});
  ASSERT_TRUE(slave) << slave.error();
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));
  Try<picojson::value> before = cluster.state();
  ASSERT_TRUE(before) << before.error();
  const std::string id = only_slave_id(*before);
  ASSERT_FALSE(id.empty());

  // The slave is held still while the master restarts: the new master knows
  // it only from the registry.
  (*slave)->kill(SIGSTOP);
  (*master)->kill(SIGKILL);
  ASSERT_TRUE((*master)->wait_exit(deadline_in(5s)));
  Try<Process*> second = cluster.restart_master("master-2", {"--registry=leveldb", "--slave_reregister_timeout=1mins"});
  ASSERT_TRUE(second) << second.error();
  Try<picojson::value> recovering = cluster.state();
  ASSERT_TRUE(recovering) << recovering.error();
  EXPECT_EQ(recovered_slave_ids(*recovering), std::vector<std::string>{id});
  EXPECT_FALSE((*second)->lines_matching(std::regex("Recovered 1 slaves from the registry")).empty());

  (*slave)->kill(SIGCONT);
  std::string why;
  EXPECT_TRUE(poll_until(
      [&] {
        Try<picojson::value> s = cluster.state();
        if (s.is_error()) {
          why = s.error();
          return false;
        }
        why = s->serialize().substr(0, 2000);
        return only_slave_id(*s) == id && active_count(*s) == 1 && recovered_slave_ids(*s).empty();
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the slave did not come back under its id " << id << ": " << why;

  // A slave that does not come back in time is marked unreachable; when it
  // does come back later, it is admitted again under its id.
  (*slave)->kill(SIGSTOP);
  (*second)->kill(SIGKILL);
  ASSERT_TRUE((*second)->wait_exit(deadline_in(5s)));
  Try<Process*> third = cluster.restart_master("master-3", {"--registry=leveldb", "--slave_reregister_timeout=1secs"});
  ASSERT_TRUE(third) << third.error();
  EXPECT_TRUE(poll_until(
      [&] {
        Try<picojson::value> s = cluster.state();
        return s && json_number(json_at(*s, "unreachable_slaves")) == 1 && recovered_slave_ids(*s).empty();
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the missing slave was not marked unreachable after --slave_reregister_timeout";
  (*slave)->kill(SIGCONT);
  EXPECT_TRUE(poll_until(
      [&] {
        Try<picojson::value> s = cluster.state();
        return s && only_slave_id(*s) == id && active_count(*s) == 1 &&
               json_number(json_at(*s, "unreachable_slaves")) == 0;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the unreachable slave was not admitted again under its id";
}

// More of the registry's slaves missing after a failover than
// --recovery_slave_removal_limit allows: the master exits rather than mark
// them unreachable (something is wrong with it, not with them).
TEST(DurableRegistry, TooManyMissingSlavesAfterAFailoverStopTheMaster) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  Cluster cluster;
  Try<Process*> master = cluster.start_master({"--registry=leveldb"});
  ASSERT_TRUE(master) << master.error();
  std::vector<Process*> slaves;
  for (int i = 0; i < 2; ++i) {
    Try<Process*> s = cluster.start_slave("cpus:1;mem:256;disk:100", {"--registration_backoff_factor=100ms"});
    ASSERT_TRUE(s) << s.error();
    slaves.push_back(*s);
  }
  ASSERT_TRUE(cluster.wait_for_active_slaves(2, deadline_in(DEFAULT_TIMEOUT)));
  for (Process* s : slaves) {
    s->kill(SIGSTOP);
  }
  (*master)->kill(SIGKILL);
  ASSERT_TRUE((*master)->wait_exit(deadline_in(5s)));
  Try<Process*> second = cluster.restart_master(
      "master-2", {"--registry=leveldb", "--slave_reregister_timeout=1secs", "--recovery_slave_removal_limit=50%"});
  ASSERT_TRUE(second) << second.error();
  std::optional<int> code = (*second)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "the master kept going with every slave of its registry missing";
  EXPECT_NE(*code, 0);
  EXPECT_FALSE((*second)->lines_matching(std::regex("removal limit exceeded: 2 of 2 slaves")).empty())
      << (*second)->log();
  for (Process* s : slaves) {
    s->kill(SIGCONT);
  }
}

// A scheduler gone longer than its failover timeout: the master removes the
// framework and the slave kills its task.
TEST(FrameworkFailover, TasksOfAFrameworkGonePastItsFailoverTimeoutAreKilled) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_with_slaves(1));
  const std::string marker = unique_marker();
  Try<Process*> execute = cluster.start(
      "stoa-execute", "execute",
      {"--master=" + cluster.master_address(), "--name=orphan", "--command=sleep 1000; : " + marker,
       "--resources=cpus:0.1;mem:32", "--failover_timeout=2secs"});
  ASSERT_TRUE(execute) << execute.error();
  auto subscribed = (*execute)->wait_for_line(std::regex(R"(Subscribed with framework ID (\S+))"),
                                              deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(subscribed) << (*execute)->log();
  const std::string framework_id = (*subscribed)[1];
  ASSERT_TRUE((*execute)->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DEFAULT_TIMEOUT)));
  // The scheduler dies without a word; for its failover timeout the master
  // keeps the framework (disconnected) and the task runs on.
  (*execute)->kill(SIGKILL);
  ASSERT_TRUE(poll_until(
      [&] {
        Try<picojson::value> s = cluster.state();
        if (s.is_error()) {
          return false;
        }
        for (const auto& fw : json_array(json_at(*s, "frameworks"))) {
          const picojson::value& c = json_at(fw, "connected");
          if (json_string(json_at(fw, "id")) == framework_id && c.is<bool>() && !c.get<bool>()) {
            return true;
          }
        }
        return false;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the master did not show the framework disconnected";
  EXPECT_FALSE(processes_with_marker(marker).empty()) << "the task died with its scheduler";
  // Then it is removed, and the task with it.
  EXPECT_TRUE(poll_until(
      [&] {
        Try<picojson::value> s = cluster.state();
        if (s.is_error()) {
          return false;
        }
        for (const auto& fw : json_array(json_at(*s, "completed_frameworks"))) {
          if (json_string(json_at(fw, "id")) == framework_id) {
            return processes_with_marker(marker).empty();
          }
        }
        return false;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the framework was not removed with its task after its failover timeout";
}

}  // namespace
}  // namespace stoa::tests
