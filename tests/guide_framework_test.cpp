// The guide's framework (framework/examples/guide_framework_main.cpp,
// docs/framework-guide.md) on a real cluster: it keeps N tasks running, each
// reported healthy by its COMMAND check, replaces a killed one, and a
// successor started with the framework id adopts the running tasks through
// reconciliation instead of launching more.

#include <gtest/gtest.h>

#include <csignal>
#include <regex>
#include <set>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

constexpr auto GUIDE_TIMEOUT = std::chrono::seconds(30);

// The framework named `name` among the active ones of `state`, or null.
const picojson::value* guide_framework(const picojson::value& state, const std::string& name) {
  for (const auto& fw : json_array(json_at(state, "frameworks"))) {
    if (json_string(json_at(fw, "name")) == name) {
      return &fw;
    }
  }
  return nullptr;
}

// The ids of the framework's tasks in TASK_RUNNING.
std::set<std::string> running_tasks(Cluster& cluster, const std::string& name, std::string* framework_id = nullptr) {
  std::set<std::string> ids;
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return ids;
  }
  const picojson::value* fw = guide_framework(*state, name);
  if (fw == nullptr) {
    return ids;
  }
  if (framework_id != nullptr) {
    *framework_id = json_string(json_at(*fw, "id"));
  }
  for (const auto& t : json_array(json_at(*fw, "tasks"))) {
    if (json_string(json_at(t, "state")) == "TASK_RUNNING") {
      ids.insert(json_string(json_at(t, "id")));
    }
  }
  return ids;
}

Try<HttpResponse> post_form(int port, const std::string& path, const std::string& body) {
  return http_raw("127.0.0.1", port,
                  "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                  "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body);
}

TEST(GuideFramework, KeepsTwoTasksRunningAndReplacesAKilledOne) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-guide-framework");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const std::string name = "guide-" + unique_marker();
  Try<Process*> framework = cluster.start(
      "stoa-guide-framework", "guide",
      {"--master=" + cluster.master_address(), "--instances=2", "--command=sleep 600", "--framework_name=" + name,
       "--failover_timeout=1mins", "--health_command=true"});
  ASSERT_TRUE(framework) << framework.error();

  std::string framework_id;
  std::set<std::string> first;
  ASSERT_TRUE(poll_until(
      [&] {
        first = running_tasks(cluster, name, &framework_id);
        return first.size() == 2;
      },
      deadline_in(GUIDE_TIMEOUT)))
      << "2 tasks did not reach TASK_RUNNING; running: " << first.size();
  // Each task got a port of the offer, and said so.
  EXPECT_EQ((*framework)->lines_matching(std::regex("^LAUNCH guide-\\S+ \\S+ 3[0-9]{4}$")).size(), 2U)
      << (*framework)->log();
  // The slave runs each task's COMMAND health check and reports it healthy.
  for (const std::string& id : first) {
    EXPECT_TRUE((*framework)->wait_for_line(std::regex("^HEALTHY " + regex_escape(id) + "$"),
                                            deadline_in(GUIDE_TIMEOUT)))
        << (*framework)->log();
  }

  // Kill one through the operator API: the framework sees TASK_KILLED and
  // launches a replacement.
  const std::string victim = *first.begin();
  Try<HttpResponse> killed =
      post_form(cluster.master_port(), "/master/kill", "taskID=" + victim + "&frameworkID=" + framework_id);
  ASSERT_TRUE(killed) << killed.error();
  ASSERT_EQ(killed->status, 202) << killed->body;
  ASSERT_TRUE((*framework)->wait_for_line(std::regex("^TASK_KILLED " + regex_escape(victim) + "$"),
                                          deadline_in(GUIDE_TIMEOUT)))
      << (*framework)->log();
  std::set<std::string> second;
  ASSERT_TRUE(poll_until(
      [&] {
        second = running_tasks(cluster, name);
        return second.size() == 2 && !second.contains(victim);
      },
      deadline_in(GUIDE_TIMEOUT)))
      << "no replacement for " << victim << "; log:\n" << (*framework)->log();
  EXPECT_TRUE(second.contains(*first.rbegin()));  // the other task was left alone
  EXPECT_EQ((*framework)->lines_matching(std::regex("^LAUNCH ")).size(), 3U);

  // SIGTERM with a failover timeout leaves the tasks running; a successor
  // with the same framework id adopts both and launches nothing.
  (*framework)->kill(SIGTERM);
  ASSERT_EQ((*framework)->wait_exit(deadline_in(GUIDE_TIMEOUT)), 0) << (*framework)->log();
  Try<Process*> successor = cluster.start(
      "stoa-guide-framework", "guide-successor",
      {"--master=" + cluster.master_address(), "--instances=2", "--command=sleep 600", "--framework_name=" + name,
       "--failover_timeout=1mins", "--framework_id=" + framework_id});
  ASSERT_TRUE(successor) << successor.error();
  ASSERT_TRUE((*successor)->wait_for_line(std::regex("^SUBSCRIBED " + regex_escape(framework_id) + "$"),
                                          deadline_in(GUIDE_TIMEOUT)))
      << (*successor)->log();
  ASSERT_TRUE((*successor)->wait_for_line(std::regex("^RECONCILED 2$"), deadline_in(GUIDE_TIMEOUT)))
      << (*successor)->log();
  for (const std::string& id : second) {
    EXPECT_EQ((*successor)->lines_matching(std::regex("^TASK_RUNNING " + regex_escape(id) + "$")).size(), 1U)
        << (*successor)->log();
  }
  EXPECT_TRUE((*successor)->lines_matching(std::regex("^LAUNCH ")).empty()) << (*successor)->log();
  EXPECT_EQ(running_tasks(cluster, name), second);
}

}  // namespace
}  // namespace stoa::tests
