// /v2/apps over a real HTTP server and an in-process Core
// (rest_test_support.hpp): status codes, headers and JSON shapes.

#include "apps/services/rest_test_support.hpp"

namespace rest_test {
namespace {

const picojson::value& field(const picojson::value& v, const std::string& name) { return v.get(name); }

size_t array_size(const picojson::value& v) {
  return v.is<picojson::array>() ? v.get<picojson::array>().size() : static_cast<size_t>(-1);
}

class RestAppsTest : public RestTest {
 protected:
  void SetUp() override {
    start_leader();
    App web = make_app("/prod/web", 2);
    web.labels = {{"HAPROXY_GROUP", "external"}, {"tier", "front"}};
    core->add_app(web);
    App db = make_app("/prod/db", 1);
    db.cmd = "postgres -D /data";
    db.labels = {{"tier", "back"}};
    core->add_app(db);
    core->add_app(make_app("/other", 1));
    core->add_task(make_task("/prod/web", "prod_web.instance-1._app.1", "h1"));
    core->add_task(make_task("/prod/web", "prod_web.instance-2._app.1", "h2", "TASK_STAGING"));
    Deployment d;
    d.id = "dep-web";
    d.affected_apps = {"/prod/web"};
    core->deployments_.push_back(d);
    TaskFailure f;
    f.app_id = "/prod/web";
    f.task_id = "prod_web.instance-0._app.1";
    f.state = "TASK_FAILED";
    f.message = "exited 1";
    core->failures_["/prod/web"] = f;
  }

  const picojson::value* find_app(const picojson::value& apps, const std::string& id) {
    for (const auto& a : apps.get<picojson::array>()) {
      if (a.get("id").to_str() == id) {
        return &a;
      }
    }
    return nullptr;
  }
};

TEST_F(RestAppsTest, IndexAlwaysHasCountsAndDeploymentsAndTheLeaderHeaders) {
  Reply r = call("GET", "/v2/apps");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["x-marathon-leader"], "http://leader.test:8080");
  EXPECT_EQ(r.headers["cache-control"], "no-cache, no-store, must-revalidate");
  EXPECT_EQ(r.headers["pragma"], "no-cache");
  EXPECT_EQ(r.headers["expires"], "0");
  ASSERT_EQ(array_size(field(r.json, "apps")), 3u);
  const picojson::value* web = find_app(r.json.get("apps"), "/prod/web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->get("tasksRunning").get<double>(), 1);
  EXPECT_EQ(web->get("tasksStaged").get<double>(), 1);
  EXPECT_EQ(web->get("tasksHealthy").get<double>(), 0);  // no health checks: counted neither way
  EXPECT_EQ(web->get("tasksUnhealthy").get<double>(), 0);
  ASSERT_EQ(array_size(web->get("deployments")), 1u);
  EXPECT_EQ(web->get("deployments").get<picojson::array>()[0].get("id").to_str(), "dep-web");
  EXPECT_FALSE(web->contains("tasks"));
  EXPECT_FALSE(web->contains("lastTaskFailure"));
  EXPECT_EQ(web->get("instances").get<double>(), 2);
}

TEST_F(RestAppsTest, IndexEmbedsTasksAndFailuresWhenAsked) {
  Reply r = call("GET", "/v2/apps?embed=apps.tasks&embed=apps.lastTaskFailure");
  ASSERT_EQ(r.status, 200);
  const picojson::value* web = find_app(r.json.get("apps"), "/prod/web");
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(array_size(web->get("tasks")), 2u);
  EXPECT_EQ(web->get("lastTaskFailure").get("taskId").to_str(), "prod_web.instance-0._app.1");
  // Without the task entries in /v2/apps, servicePorts stay empty.
  EXPECT_EQ(array_size(web->get("tasks").get<picojson::array>()[0].get("servicePorts")), 0u);
}

TEST_F(RestAppsTest, EmbedReadinessShowsTheAppsResultsOfItsDeployments) {
  Deployment& d = core->deployments_.front();
  d.readiness.push_back(stoa::services::ReadinessCheckResult{"ready", "prod_web.instance-1._app.1", "/prod/web", false,
                                             stoa::services::ReadinessResponse{503, "text/plain", "warming"}});
  d.readiness.push_back(stoa::services::ReadinessCheckResult{"ready", "prod_db.instance-9._app.1", "/prod/db", true, std::nullopt});
  Reply r = call("GET", "/v2/apps?embed=apps.readiness");
  ASSERT_EQ(r.status, 200) << r.body;
  const picojson::value* web = find_app(r.json.get("apps"), "/prod/web");
  ASSERT_NE(web, nullptr);
  ASSERT_EQ(array_size(web->get("readinessCheckResults")), 1u) << r.body;
  const picojson::value& result = web->get("readinessCheckResults").get<picojson::array>()[0];
  EXPECT_EQ(result.get("taskId").to_str(), "prod_web.instance-1._app.1");
  EXPECT_EQ(result.get("ready"), picojson::value(false));
  EXPECT_EQ(result.get("lastResponse").get("body").to_str(), "warming");
  const picojson::value* other = find_app(r.json.get("apps"), "/other");
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(array_size(other->get("readinessCheckResults")), 0u);
}

TEST_F(RestAppsTest, IndexFiltersByIdCmdAndLabelSelector) {
  EXPECT_EQ(array_size(call("GET", "/v2/apps?id=PROD").json.get("apps")), 2u);
  EXPECT_EQ(array_size(call("GET", "/v2/apps?cmd=postgres").json.get("apps")), 1u);
  EXPECT_EQ(array_size(call("GET", "/v2/apps?label=tier").json.get("apps")), 2u);
  EXPECT_EQ(array_size(call("GET", "/v2/apps?label=tier%3D%3Dfront").json.get("apps")), 1u);
  EXPECT_EQ(array_size(call("GET", "/v2/apps?label=tier!%3Dfront").json.get("apps")), 1u);
  EXPECT_EQ(array_size(call("GET", "/v2/apps?label=tier%20in%20(front,back)").json.get("apps")), 2u);
  EXPECT_EQ(array_size(call("GET", "/v2/apps?label=tier%20notin%20(front)").json.get("apps")), 1u);
  EXPECT_EQ(array_size(call("GET", "/v2/apps?label=tier,HAPROXY_GROUP%3D%3Dexternal").json.get("apps")), 1u);
  Reply bad = call("GET", "/v2/apps?label=tier%3D%3D%3Cx%3E");
  EXPECT_EQ(bad.status, 422);
  EXPECT_NE(message(bad).find("Can not parse label selector"), std::string::npos) << bad.body;
}

TEST_F(RestAppsTest, PostCreatesWith201LocationAndDeploymentId) {
  // X-Forwarded-For counts only on a request a standby forwarded.
  Reply r = call("POST", "/v2/apps", R"({"id":"/new","cmd":"sleep 100","cpus":0.1,"mem":32,"instances":2})",
                 {{"X-Forwarded-For", "10.9.9.9"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.headers["location"], "http://127.0.0.1:" + std::to_string(port) + "/new");
  EXPECT_EQ(r.headers["marathon-deployment-id"], "deployment-1");
  EXPECT_EQ(r.json.get("id").to_str(), "/new");
  EXPECT_EQ(r.json.get("tasksRunning").get<double>(), 0);
  EXPECT_EQ(r.json.get("deployments").get<picojson::array>()[0].get("id").to_str(), "deployment-1");
  EXPECT_FALSE(r.json.contains("tasks"));
  ASSERT_EQ(core->changes.size(), 1u);
  const Change& c = core->changes[0];
  EXPECT_TRUE(c.post_event);
  EXPECT_EQ(c.uri, "/v2/apps");
  EXPECT_EQ(c.client_ip, "127.0.0.1");
  EXPECT_FALSE(c.force);
  ASSERT_EQ(c.upserts.count("/new"), 1u);
  EXPECT_EQ(c.upserts.at("/new").instances, 2);
}

TEST_F(RestAppsTest, PostErrorsChangeNothing) {
  Reply dup = call("POST", "/v2/apps", R"({"id":"/other","cmd":"sleep 100"})");
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(message(dup), "An app with id [/other] already exists.");
  Reply syntax = call("POST", "/v2/apps", R"({"id":"/x",)");
  EXPECT_EQ(syntax.status, 400);
  EXPECT_EQ(message(syntax), "Invalid JSON");
  Reply invalid = call("POST", "/v2/apps", R"({"id":"/x","cmd":"sleep 1","cpus":-1})");
  EXPECT_EQ(invalid.status, 422) << invalid.body;
  EXPECT_TRUE(invalid.json.contains("details")) << invalid.body;
  EXPECT_TRUE(core->changes.empty());
  EXPECT_EQ(core->apps_.size(), 3u);
  // A 409 from the core is passed on as it is.
  core->fail_next = stoa::services::api_error(409, "App is locked by one or more deployments.");
  Reply locked = call("POST", "/v2/apps", R"({"id":"/y","cmd":"sleep 1"})");
  EXPECT_EQ(locked.status, 409);
  EXPECT_EQ(message(locked), "App is locked by one or more deployments.");
}

TEST_F(RestAppsTest, GetOneEmbedsTasksAndFailureAndKnowsNestedIdsAndWildcards) {
  Reply r = call("GET", "/v2/apps/prod/web");
  ASSERT_EQ(r.status, 200) << r.body;
  const picojson::value& app = r.json.get("app");
  EXPECT_EQ(app.get("id").to_str(), "/prod/web");
  EXPECT_EQ(array_size(app.get("tasks")), 2u);
  EXPECT_EQ(app.get("lastTaskFailure").get("state").to_str(), "TASK_FAILED");
  EXPECT_EQ(array_size(app.get("deployments")), 1u);
  Reply missing = call("GET", "/v2/apps/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(message(missing), "App '/nope' does not exist");
  Reply group = call("GET", "/v2/apps/prod/*");
  ASSERT_EQ(group.status, 200) << group.body;
  EXPECT_EQ(array_size(group.json.get("*")), 2u);
}

TEST_F(RestAppsTest, PutMergesByDefaultCreatesWhenMissingAndRollsBack) {
  Timestamp first = core->apps_.at("/other").version;
  Reply r = call("PUT", "/v2/apps/other", R"({"instances":3})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.get("deploymentId").to_str(), "deployment-1");
  EXPECT_TRUE(r.json.get("version").is<std::string>());
  EXPECT_EQ(r.headers["marathon-deployment-id"], "deployment-1");
  ASSERT_EQ(core->changes.size(), 1u);
  EXPECT_EQ(core->changes[0].upserts.at("/other").instances, 3);
  EXPECT_EQ(core->changes[0].upserts.at("/other").cmd, std::optional<std::string>("sleep 1000"));
  EXPECT_TRUE(core->changes[0].post_event);

  Reply created = call("PUT", "/v2/apps/fresh", R"({"cmd":"sleep 5"})");
  EXPECT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(core->changes.size(), 2u);
  EXPECT_EQ(core->changes[1].upserts.count("/fresh"), 1u);

  Reply back = call("PUT", "/v2/apps/other", "{\"version\":\"" + stoa::services::format_timestamp(first) + "\"}");
  EXPECT_EQ(back.status, 200) << back.body;
  ASSERT_EQ(core->changes.size(), 3u);
  EXPECT_EQ(core->changes[2].upserts.at("/other").instances, 1);

  Reply unknown = call("PUT", "/v2/apps/other", R"({"version":"2001-01-01T00:00:00.000Z"})");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(core->changes.size(), 3u);
}

TEST_F(RestAppsTest, PatchNeedsTheAppAndArraysUpdateMany) {
  Reply missing = call("PATCH", "/v2/apps/nope", R"({"instances":3})");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(core->changes.empty());
  Reply many = call("PUT", "/v2/apps", R"([{"id":"/other","instances":4},{"id":"prod/db","instances":0}])");
  ASSERT_EQ(many.status, 200) << many.body;
  ASSERT_EQ(core->changes.size(), 1u);
  EXPECT_EQ(core->changes[0].upserts.at("/other").instances, 4);
  EXPECT_EQ(core->changes[0].upserts.at("/prod/db").instances, 0);
  EXPECT_TRUE(core->changes[0].post_event);
  EXPECT_EQ(core->changes[0].client_ip, "127.0.0.1");
  EXPECT_EQ(core->changes[0].uri, "/v2/apps");
  Reply no_id = call("PATCH", "/v2/apps", R"([{"instances":4}])");
  EXPECT_EQ(no_id.status, 422);
  Reply not_array = call("PATCH", "/v2/apps", R"({"id":"/other"})");
  EXPECT_EQ(not_array.status, 422);
  EXPECT_EQ(core->changes.size(), 1u);
}

TEST_F(RestAppsTest, DeleteForcesByDefaultAndRestartDoesNot) {
  Reply r = call("DELETE", "/v2/apps/other");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json.get("deploymentId").to_str(), "deployment-1");
  ASSERT_EQ(core->changes.size(), 1u);
  EXPECT_TRUE(core->changes[0].force);
  EXPECT_EQ(core->changes[0].removals.count("/other"), 1u);
  EXPECT_FALSE(core->changes[0].post_event);
  EXPECT_EQ(call("DELETE", "/v2/apps/other").status, 404);
  EXPECT_EQ(call("DELETE", "/v2/apps/prod/db?force=false").status, 200);
  EXPECT_FALSE(core->changes[1].force);
  Reply restart = call("POST", "/v2/apps/prod/web/restart");
  ASSERT_EQ(restart.status, 200) << restart.body;
  EXPECT_FALSE(core->changes[2].force);
  EXPECT_EQ(core->changes[2].restarts.count("/prod/web"), 1u);
  EXPECT_EQ(call("POST", "/v2/apps/nope/restart").status, 404);
  EXPECT_EQ(call("DELETE", "/v2/apps/prod/web?force=maybe").status, 400);
  EXPECT_EQ(core->changes.size(), 3u);
}

TEST_F(RestAppsTest, TasksListKillAndScale) {
  Reply list = call("GET", "/v2/apps/prod/web/tasks");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(array_size(list.json.get("tasks")), 2u);
  EXPECT_EQ(call("GET", "/v2/apps/prod/*/tasks").status, 200);
  Reply text = call("GET", "/v2/apps/prod/web/tasks", "", {{"Accept", "text/plain"}});
  EXPECT_EQ(text.status, 200);
  EXPECT_EQ(text.body, "prod_web\t \th1\t\n") << "only the running task, by host (no service ports)";
  EXPECT_EQ(call("GET", "/v2/apps/nope/tasks").status, 404);

  Reply both = call("DELETE", "/v2/apps/prod/web/tasks?scale=true&wipe=true");
  EXPECT_EQ(both.status, 400);
  EXPECT_EQ(message(both), "You cannot use scale and wipe at the same time.");

  Reply by_host = call("DELETE", "/v2/apps/prod/web/tasks?host=h1&wipe=true");
  ASSERT_EQ(by_host.status, 200) << by_host.body;
  EXPECT_EQ(array_size(by_host.json.get("tasks")), 1u);
  ASSERT_EQ(core->kills.size(), 1u);
  EXPECT_EQ(core->kills[0].first, std::vector<std::string>{"prod_web.instance-1._app.1"});
  EXPECT_TRUE(core->kills[0].second);

  Reply one = call("DELETE", "/v2/apps/prod/web/tasks/prod_web.instance-2._app.1");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json.get("task").get("id").to_str(), "prod_web.instance-2._app.1");
  Reply unknown = call("DELETE", "/v2/apps/prod/web/tasks/prod_web.instance-9._app.1");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(message(unknown), "Task 'prod_web.instance-9._app.1' does not exist");

  core->add_task(make_task("/prod/web", "prod_web.instance-3._app.1", "h3"));
  Reply scaled = call("DELETE", "/v2/apps/prod/web/tasks/prod_web.instance-3._app.1?scale=true");
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  EXPECT_TRUE(scaled.json.get("deploymentId").is<std::string>());
  ASSERT_EQ(core->changes.size(), 1u);
  EXPECT_EQ(core->changes[0].upserts.at("/prod/web").instances, 1);
  EXPECT_EQ(core->changes[0].kill_tasks, std::vector<std::string>{"prod_web.instance-3._app.1"});
}

TEST_F(RestAppsTest, Versions) {
  Timestamp v1 = core->apps_.at("/other").version;
  App changed = make_app("/other", 5);
  changed.version = v1 + 1000;
  core->add_app(changed);
  Reply list = call("GET", "/v2/apps/other/versions");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(array_size(list.json.get("versions")), 2u);
  EXPECT_EQ(list.json.get("versions").get<picojson::array>()[0].to_str(),
            stoa::services::format_timestamp(v1 + 1000));
  Reply one = call("GET", "/v2/apps/other/versions/" + stoa::services::format_timestamp(v1));
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.json.get("instances").get<double>(), 1);
  EXPECT_EQ(call("GET", "/v2/apps/other/versions/2001-01-01T00:00:00.000Z").status, 404);
  EXPECT_EQ(call("GET", "/v2/apps/other/versions/yesterday").status, 400);
  EXPECT_EQ(call("GET", "/v2/apps/nope/versions").status, 404);
}

TEST_F(RestAppsTest, UnknownPathsAndMethods) {
  Reply r = call("GET", "/v2/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(message(r), "URI not found");
  EXPECT_EQ(r.headers["cache-control"], "no-cache, no-store, must-revalidate");
  EXPECT_EQ(call("GET", "/v2/appsx").status, 404);
  EXPECT_EQ(call("POST", "/v2/apps/prod/web").status, 405);
  EXPECT_EQ(call("DELETE", "/v2/apps/prod/*").status, 405);
  EXPECT_TRUE(core->changes.empty());
}

TEST_F(RestAppsTest, ACoreThatDoesNotAnswerIsA503) {
  auto view = std::make_shared<stoa::services::Leadership>();
  view->set({true, "x:1"});
  uint16_t other = start(view, "x:1", caf::actor());
  Reply r = call(other, "GET", "/v2/apps");
  EXPECT_EQ(r.status, 503);
}

TEST_F(RestAppsTest, TextPlainTasksListEachServicePortWithItsHostPorts) {
  // Marathon's text_plain_tasks form, as service-discovery scripts read it.
  stoa::services::App lb = make_app("/edge/lb", 2);
  lb.port_definitions = {stoa::services::PortDefinition{10001, "tcp", "http", {}}, stoa::services::PortDefinition{10002, "tcp", "admin", {}}};
  core->add_app(lb);
  stoa::services::Instance a = make_task("/edge/lb", "edge_lb.instance-a._app.1", "10.0.0.1");
  a.host_ports = {31001, 31002};
  stoa::services::Instance b = make_task("/edge/lb", "edge_lb.instance-b._app.1", "10.0.0.2");
  b.host_ports = {31011, 31012};
  stoa::services::Instance staging = make_task("/edge/lb", "edge_lb.instance-c._app.1", "10.0.0.3", "TASK_STAGING");
  core->add_task(a);
  core->add_task(b);
  core->add_task(staging);
  Reply text = call("GET", "/v2/apps/edge/lb/tasks", "", {{"Accept", "text/plain"}});
  ASSERT_EQ(text.status, 200) << text.body;
  EXPECT_EQ(text.body,
            "edge_lb\t10001\t10.0.0.1:31001\t10.0.0.2:31011\t\n"
            "edge_lb\t10002\t10.0.0.1:31002\t10.0.0.2:31012\t\n");
  // JSON wins when the client takes both.
  Reply json = call("GET", "/v2/apps/edge/lb/tasks", "", {{"Accept", "text/plain, application/json"}});
  EXPECT_EQ(json.headers["content-type"], "application/json");
}

}  // namespace
}  // namespace rest_test
