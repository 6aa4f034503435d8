// Master failover: a master killed with SIGKILL and restarted on the same
// port gets its slave back under the same slave id (ReregisterSlaveMessage),
// learns the slave's running task from it, and the framework re-subscribes
// with its framework id.

#include <gtest/gtest.h>
#include <signal.h>

#include <regex>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

struct SlaveView {
  std::string id;
  bool active = false;
};

std::vector<SlaveView> slaves_of(const picojson::value& state) {
  std::vector<SlaveView> out;
  for (const auto& s : json_array(json_at(state, "slaves"))) {
    const picojson::value& active = json_at(s, "active");
    out.push_back({json_string(json_at(s, "id")), active.is<bool>() && active.get<bool>()});
  }
  return out;
}

// The active (not completed) task `task_id` of active framework `framework_id`, or null.
const picojson::value* active_task(const picojson::value& state, const std::string& framework_id,
                                   const std::string& task_id) {
  for (const auto& fw : json_array(json_at(state, "frameworks"))) {
    if (json_string(json_at(fw, "id")) != framework_id) {
      continue;
    }
    for (const auto& t : json_array(json_at(fw, "tasks"))) {
      if (json_string(json_at(t, "id")) == task_id) {
        return &t;
      }
    }
  }
  return nullptr;
}

const picojson::value* framework_of(const picojson::value& state, const std::string& framework_id) {
  for (const auto& fw : json_array(json_at(state, "frameworks"))) {
    if (json_string(json_at(fw, "id")) == framework_id) {
      return &fw;
    }
  }
  return nullptr;
}

bool json_true(const picojson::value& v) { return v.is<bool>() && v.get<bool>(); }

TEST(ClusterFailover, RestartedMasterGetsSlaveBackWithSameIdAndItsRunningTask) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<Process*> first = cluster.start_master();
  ASSERT_TRUE(first) << first.error();
  const int port = cluster.master_port();
  Try<Process*> slave = cluster.start_slave("cpus:2;mem:1024;disk:1000;ports:[31000-32000]",
                                            {"--registration_backoff_factor=200ms"});
  ASSERT_TRUE(slave) << slave.error();
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));

  Try<picojson::value> before = cluster.state();
  ASSERT_TRUE(before) << before.error();
  ASSERT_EQ(slaves_of(*before).size(), 1U);
  const std::string slave_id = slaves_of(*before).front().id;
  const std::string old_master_id = json_string(json_at(*before, "id"));
  ASSERT_FALSE(slave_id.empty());

  // A long-running task, recognisable by a marker in its command line.
  const std::string marker = unique_marker();
  Try<Process*> execute =
      cluster.start("stoa-execute", "execute",
                    {"--master=" + cluster.master_address(), "--name=survivor",
                     "--command=sleep 1000; : " + marker, "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(execute) << execute.error();
  auto running = (*execute)->wait_for_line(std::regex(R"(Received status update TASK_RUNNING for task (\S+))"),
                                           deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(running) << "no TASK_RUNNING (" << (*execute)->describe_exit() << ")";
  const std::string task_id = (*running)[1];
  auto subscribed = (*execute)->wait_for_line(std::regex(R"(Subscribed with framework ID (\S+))"), deadline_in(1s));
  ASSERT_TRUE(subscribed) << "stoa-execute did not print its framework id";
  const std::string framework_id = (*subscribed)[1];
  // (Polled: for a moment after its exec a process's command line reads empty.)
  ASSERT_TRUE(poll_until([&] { return !processes_with_marker(marker).empty(); }, deadline_in(DEFAULT_TIMEOUT)))
      << "the task's process is not running";
  // The first master has acknowledged TASK_RUNNING into its state.
  ASSERT_TRUE(poll_until(
      [&] {
        Try<picojson::value> s = cluster.state();
        const picojson::value* t = s ? active_task(*s, framework_id, task_id) : nullptr;
        return t != nullptr && json_string(json_at(*t, "state")) == "TASK_RUNNING";
      },
      deadline_in(5s)))
      << "the first master never showed task " << task_id << " as TASK_RUNNING";

  // Failover: SIGKILL, then a new master on the same port (in-memory registry: it starts empty).
  (*first)->kill(SIGKILL);
  ASSERT_TRUE((*first)->wait_exit(deadline_in(5s))) << "the first master survived SIGKILL";
  Try<Process*> second = cluster.restart_master("master-restarted");
  ASSERT_TRUE(second) << second.error();
  ASSERT_EQ(cluster.master_port(), port);

  // The slave comes back under its old id, with its task; the framework re-subscribes.
  std::string why = "no answer from the restarted master";
  picojson::value after;
  bool recovered = poll_until(
      [&] {
        Try<picojson::value> s = cluster.state();
        if (s.is_error()) {
          why = s.error();
          return false;
        }
        after = *s;
        std::vector<SlaveView> slaves = slaves_of(after);
        if (slaves.size() != 1 || slaves.front().id != slave_id || !slaves.front().active) {
          why = "slaves[] is not exactly the old slave " + slave_id + ", active";
          return false;
        }
        const picojson::value* t = active_task(after, framework_id, task_id);
        if (t == nullptr || json_string(json_at(*t, "state")) != "TASK_RUNNING") {
          why = "framework " + framework_id + " has no TASK_RUNNING task " + task_id;
          return false;
        }
        const picojson::value* fw = framework_of(after, framework_id);
        if (fw == nullptr || !json_true(json_at(*fw, "connected")) || !json_true(json_at(*fw, "active"))) {
          why = "framework " + framework_id + " is not connected and active (not re-subscribed)";
          return false;
        }
        return true;
      },
      deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(recovered) << why << "; last /master/state of the restarted master:\n" << after.serialize();

  // It really is a new master, and the slave used ReregisterSlaveMessage, not RegisterSlaveMessage.
  EXPECT_NE(json_string(json_at(after, "id")), old_master_id) << "the master id did not change: no restart?";
  const picojson::value* t = active_task(after, framework_id, task_id);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(json_string(json_at(*t, "slave_id")), slave_id);
  Try<picojson::value> metrics = http_get_json("127.0.0.1", port, "/metrics/snapshot");
  ASSERT_TRUE(metrics) << metrics.error();
  EXPECT_GE(json_number(json_at(*metrics, "master/messages_reregister_slave")), 1.0);
  EXPECT_EQ(json_number(json_at(*metrics, "master/messages_register_slave")), 0.0)
      << "the slave registered anew instead of re-registering";
  EXPECT_EQ(json_number(json_at(*metrics, "master/tasks_running")), 1.0);

  // The slave agrees on its id; the framework re-subscribed under the same id; the task still runs.
  Try<picojson::value> slave_state = http_get_json("127.0.0.1", cluster.slave_port(0), "/slave(1)/state");
  ASSERT_TRUE(slave_state) << slave_state.error();
  EXPECT_EQ(json_string(json_at(*slave_state, "id")), slave_id);
  std::vector<std::string> subscriptions =
      (*execute)->lines_matching(std::regex(R"(Subscribed with framework ID (\S+))"));
  ASSERT_GE(subscriptions.size(), 2U) << "stoa-execute did not re-subscribe";
  EXPECT_NE(subscriptions.back().find("Subscribed with framework ID " + framework_id), std::string::npos)
      << subscriptions.back();
  EXPECT_TRUE((*execute)->running()) << "stoa-execute exited: " << (*execute)->describe_exit();
  EXPECT_TRUE((*execute)->lines_matching(std::regex(R"(\bTASK_(FINISHED|FAILED|KILLED|LOST|ERROR|DROPPED)\b)")).empty())
      << "the task got a terminal update across the failover";
  EXPECT_FALSE(processes_with_marker(marker).empty()) << "the task's process did not survive the failover";
}

}  // namespace
}  // namespace stoa::tests
