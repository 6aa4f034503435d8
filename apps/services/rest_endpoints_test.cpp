// /v2/tasks, /v2/deployments, /v2/groups, /v2/queue, /v2/info, /v2/leader,
// /ping, /metrics and the leader proxy over a real HTTP server and an
// in-process Core (rest_test_support.hpp).

#include "apps/services/rest_test_support.hpp"
#include "tests/cluster.hpp"

namespace rest_test {
namespace {

size_t count_of(const picojson::value& v) {
  return v.is<picojson::array>() ? v.get<picojson::array>().size() : static_cast<size_t>(-1);
}

class RestEndpointsTest : public RestTest {
 protected:
  void SetUp() override {
    start_leader();
    core->add_app(make_app("/prod/web", 2));
    core->add_app(make_app("/prod/back/db", 1));
    core->add_app(make_app("/solo", 1));
    core->add_task(make_task("/prod/web", "prod_web.instance-1._app.1", "h1"));
    core->add_task(make_task("/prod/web", "prod_web.instance-2._app.1", "h2", "TASK_STAGING"));
    core->add_task(make_task("/solo", "solo.instance-1._app.1", "h1", "TASK_FINISHED"));
  }
};

TEST_F(RestEndpointsTest, TasksListsActiveTasksWithServicePortsAndFiltersByStatus) {
  Reply all = call("GET", "/v2/tasks");
  ASSERT_EQ(all.status, 200) << all.body;
  ASSERT_EQ(count_of(all.json.get("tasks")), 2u);
  for (const auto& t : all.json.get("tasks").get<picojson::array>()) {
    EXPECT_EQ(count_of(t.get("servicePorts")), 1u) << t.serialize();
  }
  Reply running = call("GET", "/v2/tasks?status=running");
  ASSERT_EQ(count_of(running.json.get("tasks")), 1u);
  EXPECT_EQ(running.json.get("tasks").get<picojson::array>()[0].get("id").to_str(), "prod_web.instance-1._app.1");
  EXPECT_EQ(count_of(call("GET", "/v2/tasks?status[]=staging&status[]=running").json.get("tasks")), 2u);
  // Marathon's text/plain form: per app and service port, its running tasks' host:port.
  Reply text = call("GET", "/v2/tasks", "", {{"Accept", "text/plain"}});
  EXPECT_EQ(text.status, 200);
  EXPECT_EQ(text.headers["content-type"], "text/plain");
  EXPECT_EQ(text.body, "prod_back_db\t \t\nprod_web\t \th1\t\nsolo\t \t\n")
      << "apps without service ports list their running tasks' hosts";
}

TEST_F(RestEndpointsTest, TasksDeleteKillsOrScales) {
  Reply bad = call("POST", "/v2/tasks/delete", R"({"ids":[5]})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(RestTest::message(bad).find("Invalid task id"), std::string::npos);
  EXPECT_EQ(call("POST", "/v2/tasks/delete", R"({"nothing":1})").status, 422);
  EXPECT_EQ(call("POST", "/v2/tasks/delete", "[").status, 400);
  EXPECT_TRUE(core->kills.empty());

  Reply killed = call("POST", "/v2/tasks/delete", R"({"ids":["prod_web.instance-1._app.1","x.instance-9._app.1"]})");
  ASSERT_EQ(killed.status, 200) << killed.body;
  EXPECT_EQ(count_of(killed.json.get("tasks")), 1u);
  ASSERT_EQ(core->kills.size(), 1u);
  EXPECT_EQ(core->kills[0].first, std::vector<std::string>{"prod_web.instance-1._app.1"});

  Reply scaled = call("POST", "/v2/tasks/delete?scale=true", R"({"ids":["prod_web.instance-2._app.1"]})");
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  EXPECT_TRUE(scaled.json.get("deploymentId").is<std::string>());
  ASSERT_EQ(core->changes.size(), 1u);
  EXPECT_EQ(core->changes[0].upserts.at("/prod/web").instances, 1);
}

TEST_F(RestEndpointsTest, DeploymentsListAndCancel) {
  Deployment d;
  d.id = "dep-1";
  d.version = 1600000000000;
  d.affected_apps = {"/prod/web"};
  d.steps = {{{"ScaleApplication", "/prod/web"}}};
  d.current_step = 1;
  core->deployments_ = {d, d};
  core->deployments_[1].id = "dep-2";
  Reply list = call("GET", "/v2/deployments");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(count_of(list.json), 2u);
  EXPECT_EQ(list.json.get<picojson::array>()[0].get("id").to_str(), "dep-1");

  Reply forced = call("DELETE", "/v2/deployments/dep-1?force=true");
  EXPECT_EQ(forced.status, 202) << forced.body;
  EXPECT_TRUE(forced.body.empty());
  Reply reverted = call("DELETE", "/v2/deployments/dep-2");
  ASSERT_EQ(reverted.status, 200) << reverted.body;
  EXPECT_EQ(reverted.json.get("deploymentId").to_str(), "revert-of-dep-2");
  EXPECT_EQ(reverted.headers["marathon-deployment-id"], "revert-of-dep-2");
  Reply missing = call("DELETE", "/v2/deployments/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(RestTest::message(missing), "DeploymentPlan nope does not exist");
  ASSERT_EQ(core->cancels.size(), 3u);
  EXPECT_TRUE(core->cancels[0].second);
  EXPECT_FALSE(core->cancels[1].second);
}

TEST_F(RestEndpointsTest, GroupsTreeFromAppIds) {
  Reply root = call("GET", "/v2/groups");
  ASSERT_EQ(root.status, 200) << root.body;
  EXPECT_EQ(root.json.get("id").to_str(), "/");
  EXPECT_EQ(count_of(root.json.get("apps")), 1u);  // /solo
  ASSERT_EQ(count_of(root.json.get("groups")), 1u);
  const picojson::value& prod = root.json.get("groups").get<picojson::array>()[0];
  EXPECT_EQ(prod.get("id").to_str(), "/prod");
  EXPECT_EQ(count_of(prod.get("apps")), 1u);
  EXPECT_EQ(prod.get("groups").get<picojson::array>()[0].get("id").to_str(), "/prod/back");
  EXPECT_EQ(count_of(root.json.get("pods")), 0u);
  EXPECT_EQ(count_of(root.json.get("dependencies")), 0u);
  EXPECT_TRUE(root.json.get("version").is<std::string>());

  Reply back = call("GET", "/v2/groups/prod/back");
  ASSERT_EQ(back.status, 200);
  EXPECT_EQ(back.json.get("apps").get<picojson::array>()[0].get("id").to_str(), "/prod/back/db");
  Reply only_groups = call("GET", "/v2/groups/prod?embed=group.groups");
  EXPECT_EQ(count_of(only_groups.json.get("apps")), 0u);
  EXPECT_EQ(count_of(only_groups.json.get("groups")), 1u);
  Reply with_tasks = call("GET", "/v2/groups/prod?embed=group.apps&embed=group.apps.tasks");
  EXPECT_EQ(count_of(with_tasks.json.get("apps").get<picojson::array>()[0].get("tasks")), 2u);
  Reply missing = call("GET", "/v2/groups/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(RestTest::message(missing), "Group '/nope' does not exist");
  EXPECT_EQ(count_of(call("GET", "/v2/groups/prod/versions").json), 2u);
}

TEST_F(RestEndpointsTest, GroupsWrites) {
  Reply created = call("POST", "/v2/groups",
                       R"({"id":"/new","apps":[{"id":"a","cmd":"sleep 1"}],"groups":[{"id":"sub","apps":[{"id":"b","cmd":"sleep 2"}]}]})");
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(core->changes.size(), 1u);
  EXPECT_EQ(core->changes[0].upserts.count("/new/a"), 1u);
  EXPECT_EQ(core->changes[0].upserts.count("/new/sub/b"), 1u);
  EXPECT_TRUE(core->changes[0].removals.empty());

  // An update of one group cannot reach outside it: not through a subgroup
  // "/" (which would replace the top-level apps), a sibling, or an app id.
  for (const char* outside : {R"({"groups":[{"id":"/","apps":[]}]})", R"({"groups":[{"id":"/solo","apps":[]}]})",
                              R"({"groups":[{"id":"/prod"}]})", R"({"apps":[{"id":"/solo","cmd":"sleep 1"}]})",
                              R"({"groups":[{"id":"back","apps":[{"id":"/other/x","cmd":"s"}]}]})"}) {
    Reply refused = call("PUT", "/v2/groups/prod", outside);
    EXPECT_EQ(refused.status, 422) << outside << " " << refused.body;
    EXPECT_NE(refused.body.find("/prod"), std::string::npos) << refused.body;
  }
  EXPECT_EQ(core->changes.size(), 1u);
  Reply nested = call("PUT", "/v2/groups/prod?dryRun=true", R"({"groups":[{"id":"back","apps":[{"id":"db2","cmd":"s"}]}]})");
  EXPECT_EQ(nested.status, 200) << nested.body;

  Reply again = call("POST", "/v2/groups", R"({"id":"/new","apps":[]})");
  EXPECT_EQ(again.status, 409);
  Reply invalid = call("POST", "/v2/groups/other", R"({"apps":[{"id":"x","cpus":-1,"cmd":"s"}]})");
  EXPECT_EQ(invalid.status, 422) << invalid.body;
  EXPECT_EQ(core->changes.size(), 1u);

  Reply scaled = call("PUT", "/v2/groups/prod", R"({"scaleBy":2})");
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  ASSERT_EQ(core->changes.size(), 2u);
  EXPECT_EQ(core->changes[1].upserts.at("/prod/web").instances, 4);
  EXPECT_EQ(core->changes[1].upserts.at("/prod/back/db").instances, 2);
  EXPECT_EQ(core->changes[1].upserts.count("/solo"), 0u);
  // A product past INT_MAX is refused, naming the app, and changes nothing.
  for (const char* huge : {R"({"scaleBy":1e308})", R"({"scaleBy":1073741824})"}) {
    Reply overflow = call("PUT", "/v2/groups/prod", huge);
    EXPECT_EQ(overflow.status, 422) << huge << " " << overflow.body;
    EXPECT_NE(overflow.body.find("/prod/"), std::string::npos) << overflow.body;
    EXPECT_EQ(core->changes.size(), 2u) << huge;
  }

  // A PUT with `apps` replaces the group's own apps.
  Reply replaced = call("PUT", "/v2/groups/prod", R"({"apps":[{"id":"api","cmd":"sleep 3"}]})");
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  ASSERT_EQ(core->changes.size(), 3u);
  EXPECT_EQ(core->changes[2].upserts.count("/prod/api"), 1u);
  EXPECT_EQ(core->changes[2].removals, std::set<std::string>{"/prod/web"});

  Reply dry = call("PUT", "/v2/groups/prod?dryRun=true", R"({"apps":[]})");
  ASSERT_EQ(dry.status, 200) << dry.body;
  EXPECT_TRUE(dry.json.get("steps").is<picojson::array>()) << dry.body;
  EXPECT_EQ(core->changes.size(), 3u);

  Reply removed = call("DELETE", "/v2/groups/prod");
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(core->changes[3].removals.count("/prod/back/db"), 1u);
  EXPECT_FALSE(core->changes[3].force);
  EXPECT_EQ(call("DELETE", "/v2/groups/nope").status, 404);
}

TEST_F(RestEndpointsTest, Queue) {
  QueueEntry q;
  q.app_id = "/prod/web";
  q.count = 2;
  q.since = 1600000000000;
  q.delay_until = stoa::services::now_ms() + 60000;
  q.processed_offers = 7;
  q.last_rejects = {{"InsufficientCpus", 3}};
  core->queue_ = {q};
  Reply r = call("GET", "/v2/queue");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(count_of(r.json.get("queue")), 1u);
  const picojson::value& item = r.json.get("queue").get<picojson::array>()[0];
  EXPECT_EQ(item.get("count").get<double>(), 2);
  EXPECT_EQ(item.get("delay").get("overdue").get<bool>(), false);
  EXPECT_GT(item.get("delay").get("timeLeftSeconds").get<double>(), 0);
  EXPECT_EQ(item.get("app").get("id").to_str(), "/prod/web");
  EXPECT_EQ(item.get("processedOffersSummary").get("processedOffersCount").get<double>(), 7);
  EXPECT_EQ(item.get("processedOffersSummary").get("rejectSummaryLastOffers").get<picojson::array>()[0].get("reason").to_str(),
            "InsufficientCpus");
  EXPECT_EQ(call("DELETE", "/v2/queue/prod/web/delay").status, 204);
  Reply missing = call("DELETE", "/v2/queue/solo/delay");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(RestTest::message(missing), "Application /solo not found in tasks queue.");
  EXPECT_EQ(core->resets, (std::vector<std::string>{"/prod/web", "/solo"}));
}

TEST_F(RestEndpointsTest, InfoLeaderPingMetrics) {
  Reply info = call("GET", "/v2/info");
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_EQ(info.json.get("name").to_str(), "marathon");
  EXPECT_TRUE(info.json.get("elected").get<bool>());
  EXPECT_EQ(info.json.get("leader").to_str(), "leader.test:8080");
  EXPECT_EQ(info.json.get("frameworkId").to_str(), "fw-0001");
  EXPECT_EQ(info.json.get("marathon_config").get("master").to_str(), "127.0.0.1:5050");
  EXPECT_EQ(info.json.get("marathon_config").get("mesos_leader_ui_url").to_str(), "http://127.0.0.1:5050/");
  EXPECT_EQ(info.json.get("zookeeper_config").get("zk").to_str(), "zk://127.0.0.1:2181/marathon");
  // Durations are Marathon's numbers: ms, failover_timeout in seconds; other
  // flags keep their text.
  EXPECT_EQ(info.json.get("zookeeper_config").get("zk_session_timeout").get<double>(), 10000);
  EXPECT_EQ(info.json.get("marathon_config").get("decline_offer_duration").get<double>(), 120000);
  EXPECT_EQ(info.json.get("marathon_config").get("failover_timeout").get<double>(), 604800);
  EXPECT_EQ(info.json.get("marathon_config").get("framework_name").to_str(), "5secs");
  EXPECT_EQ(info.json.get("marathon_config").get<picojson::object>().count("help"), 0u);
  EXPECT_EQ(info.json.get("http_config").get("http_port").get<double>(), 8080);

  Reply leader = call("GET", "/v2/leader");
  EXPECT_EQ(leader.json.get("leader").to_str(), "leader.test:8080");
  Reply abdicate = call("DELETE", "/v2/leader");
  EXPECT_EQ(abdicate.status, 200);
  EXPECT_EQ(RestTest::message(abdicate), "Leadership abdicated");
  EXPECT_EQ(core->abdications.load(), 1);

  Reply ping = call("GET", "/ping");
  EXPECT_EQ(ping.status, 200);
  EXPECT_EQ(ping.body, "pong");
  EXPECT_EQ(ping.headers["content-type"], "text/plain");
  EXPECT_EQ(call("GET", "/ping", "", {{"Accept", "application/json"}}).body, "\"pong\"");

  registry.counter("services/test_counter", "a counter").inc(3);
  registry.gauge("services/test_gauge", "a gauge").set(1.5);
  Reply metrics = call("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.json.get("counters").get("services/test_counter").get("count").get<double>(), 3);
  EXPECT_EQ(metrics.json.get("gauges").get("services/test_gauge").get("value").get<double>(), 1.5);
  for (const char* k : {"version", "histograms", "meters", "timers"}) {
    EXPECT_TRUE(metrics.json.contains(k)) << k;
  }
}

TEST_F(RestEndpointsTest, AnElectedCoreStillLoadingItsStateAnswers503) {
  core->leading_ = false;
  EXPECT_EQ(call("GET", "/v2/apps").status, 503);
  EXPECT_EQ(call("POST", "/v2/apps", R"({"id":"/x","cmd":"sleep 1"})").status, 503);
  EXPECT_EQ(call("DELETE", "/v2/groups/prod").status, 503);
  EXPECT_TRUE(core->changes.empty());
  EXPECT_EQ(call("GET", "/v2/info").status, 200);
  EXPECT_EQ(call("DELETE", "/v2/leader").status, 200);
  EXPECT_EQ(core->abdications.load(), 1);
}

TEST_F(RestEndpointsTest, AStandbyProxiesToTheLeader) {
  auto view = std::make_shared<stoa::services::Leadership>();
  view->set({false, "127.0.0.1:" + std::to_string(port)});
  uint16_t standby = start(view, "standby.test:8080", caf::actor());

  Reply apps = call(standby, "GET", "/v2/apps?embed=apps.tasks");
  ASSERT_EQ(apps.status, 200) << apps.body;
  EXPECT_EQ(count_of(apps.json.get("apps")), 3u);
  EXPECT_EQ(apps.headers["x-marathon-leader"], "http://leader.test:8080");
  EXPECT_EQ(apps.headers["cache-control"], "no-cache, no-store, must-revalidate");

  Reply created = call(standby, "POST", "/v2/apps", R"({"id":"/via","cmd":"sleep 1"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_FALSE(created.headers["marathon-deployment-id"].empty());
  EXPECT_EQ(created.headers["location"], "http://127.0.0.1:" + std::to_string(port) + "/via");
  ASSERT_EQ(core->changes.size(), 1u);
  EXPECT_EQ(core->changes[0].client_ip, "127.0.0.1");
  EXPECT_EQ(core->changes[0].upserts.count("/via"), 1u);
  // The leader takes the client from the standby's X-Forwarded-For.
  Reply forwarded = call(standby, "PUT", "/v2/apps/via", R"({"instances":2})", {{"X-Forwarded-For", "10.1.1.1"}});
  ASSERT_EQ(forwarded.status, 200) << forwarded.body;
  ASSERT_EQ(core->changes.size(), 2u);
  EXPECT_EQ(core->changes[1].client_ip, "10.1.1.1");
  EXPECT_EQ(core->changes[1].upserts.at("/via").instances, 2);

  Reply missing = call(standby, "GET", "/v2/apps/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(RestTest::message(missing), "App '/nope' does not exist");

  // A request that already passed through the standby is a loop.
  Reply loop = call(standby, "GET", "/v2/apps", "", {{"X-Marathon-Via", "other:1, standby.test:8080"}});
  EXPECT_EQ(loop.status, 502);
  EXPECT_EQ(RestTest::message(loop), "Detected proxying loop.");
}

TEST_F(RestEndpointsTest, AStandbyWithoutALeaderAnswers502) {
  auto view = std::make_shared<stoa::services::Leadership>();
  view->set({false, ""});
  uint16_t standby = start(view, "standby.test:8080", caf::actor());
  Reply r = call(standby, "GET", "/v2/apps");
  EXPECT_EQ(r.status, 502);
  EXPECT_EQ(RestTest::message(r), "Could not determine the current leader");
  // The leader pointing at itself while not elected is no leader either.
  view->set({false, "standby.test:8080"});
  EXPECT_EQ(call(standby, "DELETE", "/v2/apps/solo").status, 502);
  EXPECT_TRUE(core->changes.empty());
  // /ping is answered by every instance.
  EXPECT_EQ(call(standby, "GET", "/ping").status, 200);
}

TEST_F(RestEndpointsTest, AStandbyWhoseLeaderIsGoneAnswers502) {
  // The leader's address is known but nothing answers there (it just died):
  // the proxy's failure comes back asynchronously, after rest_proxy returned.
  auto view = std::make_shared<stoa::services::Leadership>();
  view->set({false, "127.0.0.1:" + std::to_string(stoa::tests::free_loopback_port())});
  uint16_t standby = start(view, "standby.test:8080", caf::actor());
  for (int i = 0; i < 3; ++i) {
    Reply r = call(standby, "GET", "/v2/apps");
    EXPECT_EQ(r.status, 502);
    EXPECT_NE(RestTest::message(r).find("Could not proxy the request to the leader"), std::string::npos)
        << r.body;
  }
  EXPECT_EQ(call(standby, "GET", "/ping").status, 200);
}

}  // namespace
}  // namespace rest_test
