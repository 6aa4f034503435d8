#include "apps/services/instance.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace stoa::services {
namespace {

App instance_test_app(const std::string& text) {
  Try<picojson::value> v = json_parse(text);
  EXPECT_TRUE(v.is_some());
  std::variant<App, ApiError> r = parse_app(*v);
  if (std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << json_serialize(std::get<ApiError>(r).body);
    return App{};
  }
  return std::get<App>(r);
}

Instance running_instance() {
  Instance i;
  i.task_id = "web.instance-8cad6a69-6ca8-11e7-beb2-0e2beceebfcc._app.1";
  i.app_id = "/web";
  i.app_version = 1601553600000;
  i.slave_id = "db7b40e2-S1";
  i.host = "10.0.2.148";
  i.host_ports = {31565};
  i.service_ports = {10001};
  i.state = "TASK_RUNNING";
  i.message = "ok";
  i.staged_at = 1601553601039;
  i.started_at = 1601553615654;
  return i;
}

TEST(Instance, ActiveStates) {
  Instance i;
  for (const char* s : {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE"}) {
    i.state = s;
    EXPECT_TRUE(i.active()) << s;
  }
  for (const char* s : {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_GONE"}) {
    i.state = s;
    EXPECT_FALSE(i.active()) << s;
  }
}

TEST(Instance, HealthyNeedsEveryCheckAlive) {
  App plain = instance_test_app(R"({"id":"/web","cmd":"x"})");
  Instance i = running_instance();
  EXPECT_TRUE(i.healthy(plain));
  i.state = "TASK_STAGING";
  EXPECT_FALSE(i.healthy(plain));

  App checked = instance_test_app(R"({"id":"/web","cmd":"x","healthChecks":[{"protocol":"HTTP"},{"protocol":"TCP"}]})");
  i = running_instance();
  EXPECT_FALSE(i.healthy(checked));  // no results yet
  HealthResult ok;
  ok.last_success = 10;
  HealthResult failing;
  failing.last_success = 10;
  failing.last_failure = 20;
  i.health = {ok, failing};
  EXPECT_FALSE(i.healthy(checked));
  i.health = {ok, ok};
  EXPECT_TRUE(i.healthy(checked));

  App mesos = instance_test_app(R"({"id":"/web","cmd":"x","healthChecks":[{"protocol":"MESOS_TCP"}]})");
  i = running_instance();
  EXPECT_FALSE(i.healthy(mesos));
  i.mesos_healthy = false;
  EXPECT_FALSE(i.healthy(mesos));
  i.mesos_healthy = true;
  EXPECT_TRUE(i.healthy(mesos));
}

TEST(Instance, TaskJsonMatchesMarathonsShape) {
  App app = instance_test_app(R"({"id":"/web","cmd":"x","healthChecks":[{"protocol":"HTTP"}]})");
  Instance i = running_instance();
  HealthResult h;
  h.first_success = 1601553620000;
  h.last_success = 1601553680000;
  i.health = {h};
  picojson::object t = task_json(i, &app, false);
  EXPECT_EQ(json_serialize(picojson::value(t)),
            R"({"appId":"/web","healthCheckResults":[{"alive":true,"consecutiveFailures":0,)"
            R"("firstSuccess":"2020-10-01T12:00:20.000Z","instanceId":"web.instance-8cad6a69-6ca8-11e7-beb2-0e2beceebfcc",)"
            R"("lastSuccess":"2020-10-01T12:01:20.000Z"}],"host":"10.0.2.148",)"
            R"("id":"web.instance-8cad6a69-6ca8-11e7-beb2-0e2beceebfcc._app.1",)"
            R"("ipAddresses":[{"ipAddress":"10.0.2.148","protocol":"IPv4"}],"localVolumes":[],"ports":[31565],)"
            R"("role":"*","servicePorts":[],"slaveId":"db7b40e2-S1","stagedAt":"2020-10-01T12:00:01.039Z",)"
            R"("startedAt":"2020-10-01T12:00:15.654Z","state":"TASK_RUNNING","version":"2020-10-01T12:00:00.000Z"})");
  EXPECT_EQ(json_serialize(task_json(i, &app, true)["servicePorts"]), "[10001]");

  i.state = "TASK_KILLED";
  EXPECT_EQ(json_serialize(task_json(i, &app, false)["ports"]), "[]");
  i.host = "fe80::1";
  EXPECT_EQ(task_json(i, nullptr, false)["ipAddresses"].get<picojson::array>()[0].get("protocol").to_str(), "IPv6");

  App mesos = instance_test_app(R"({"id":"/web","cmd":"x","healthChecks":[{"protocol":"MESOS_HTTP"}]})");
  Instance m = running_instance();
  EXPECT_EQ(json_serialize(task_json(m, &mesos, false)["healthCheckResults"]), "[]");
  m.mesos_healthy = true;
  picojson::array results = task_json(m, &mesos, false)["healthCheckResults"].get<picojson::array>();
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].get("alive").get<bool>());
}

TEST(Instance, TaskFailureJson) {
  TaskFailure f{"/web", "web.instance-x._app.1", "TASK_FAILED", "exited 1", "h1", "S1", 1601553600000, 1601553500000};
  EXPECT_EQ(json_serialize(picojson::value(task_failure_json(f))),
            R"({"appId":"/web","host":"h1","message":"exited 1","slaveId":"S1","state":"TASK_FAILED",)"
            R"("taskId":"web.instance-x._app.1","timestamp":"2020-10-01T12:00:00.000Z",)"
            R"("version":"2020-10-01T11:58:20.000Z"})");
}

Deployment sample_deployment() {
  Deployment d;
  d.id = "97c136bf-5a28-4821-9d94-480d9fbb01c8";
  d.version = 1601553600000;
  d.affected_apps = {"/web"};
  d.steps = {{{"StartApplication", "/web"}}, {{"ScaleApplication", "/web"}}};
  d.current_step = 2;
  d.target["/web"] = instance_test_app(R"({"id":"/web","cmd":"x","instances":3,"env":{"A":"b"}})");
  d.to_kill = {"web.instance-1._app.1"};
  return d;
}

TEST(Instance, DeploymentAndPlanJson) {
  Deployment d = sample_deployment();
  EXPECT_EQ(json_serialize(picojson::value(deployment_json(d))),
            R"({"affectedApps":["/web"],"affectedPods":[],"currentActions":[{"action":"ScaleApplication",)"
            R"("app":"/web","readinessCheckResults":[]}],"currentStep":2,"id":"97c136bf-5a28-4821-9d94-480d9fbb01c8",)"
            R"("steps":[{"actions":[{"action":"StartApplication","app":"/web"}]},{"actions":[{"action":)"
            R"("ScaleApplication","app":"/web"}]}],"totalSteps":2,"version":"2020-10-01T12:00:00.000Z"})");
  EXPECT_EQ(json_serialize(picojson::value(plan_json(d))),
            R"({"id":"97c136bf-5a28-4821-9d94-480d9fbb01c8","steps":[{"actions":[{"action":"StartApplication",)"
            R"("app":"/web"}]},{"actions":[{"action":"ScaleApplication","app":"/web"}]}],)"
            R"("version":"2020-10-01T12:00:00.000Z"})");
  d.current_step = 0;
  EXPECT_EQ(json_serialize(deployment_json(d)["currentActions"]), "[]");
}

TEST(InstanceStore, InstanceRoundTrips) {
  Instance i = running_instance();
  HealthResult h;
  h.consecutive_failures = 2;
  h.first_success = 1;
  h.last_failure = 3;
  h.last_failure_cause = "503";
  i.health = {h, HealthResult{}};
  i.mesos_healthy = false;
  i.goal = Goal::DECOMMISSIONED;
  picojson::value stored = instance_to_store(i);
  Try<Instance> back = instance_from_store(*json_parse(json_serialize(stored)));
  ASSERT_TRUE(back.is_some()) << back.error();
  EXPECT_EQ(json_serialize(instance_to_store(*back)), json_serialize(stored));
  EXPECT_EQ(back->goal, Goal::DECOMMISSIONED);
  EXPECT_EQ(back->health[0].last_failure_cause, "503");
  EXPECT_EQ(back->started_at, i.started_at);

  Instance staging;
  staging.task_id = "a.instance-1._app.1";
  Try<Instance> s = instance_from_store(instance_to_store(staging));
  ASSERT_TRUE(s.is_some());
  EXPECT_FALSE(s->started_at.has_value());
  EXPECT_FALSE(s->mesos_healthy.has_value());
}

TEST(InstanceStore, CorruptInstancesNameTheField) {
  picojson::object o = instance_to_store(running_instance()).get<picojson::object>();
  auto broken = [&o](const std::string& key, picojson::value v) {
    picojson::object copy = o;
    copy[key] = std::move(v);
    return instance_from_store(picojson::value(copy));
  };
  Try<Instance> host = broken("host", picojson::value(3.0));
  ASSERT_TRUE(host.is_error());
  EXPECT_NE(host.error().find("'host'"), std::string::npos) << host.error();
  Try<Instance> goal = broken("goal", picojson::value("LATER"));
  ASSERT_TRUE(goal.is_error());
  EXPECT_NE(goal.error().find("'goal'"), std::string::npos) << goal.error();
  Try<Instance> ports = broken("hostPorts", picojson::value(picojson::array{picojson::value("x")}));
  ASSERT_TRUE(ports.is_error());
  EXPECT_NE(ports.error().find("'hostPorts'"), std::string::npos);
  picojson::object missing = o;
  missing.erase("stagedAt");
  Try<Instance> m = instance_from_store(picojson::value(missing));
  ASSERT_TRUE(m.is_error());
  EXPECT_NE(m.error().find("'stagedAt'"), std::string::npos);
  EXPECT_TRUE(instance_from_store(picojson::value("x")).is_error());
}

TEST(InstanceStore, DeploymentRoundTrips) {
  Deployment d = sample_deployment();
  d.original["/web"] = d.target["/web"];
  d.original["/web"].instances = 1;
  picojson::value stored = deployment_to_store(d);
  Try<Deployment> back = deployment_from_store(*json_parse(json_serialize(stored)));
  ASSERT_TRUE(back.is_some()) << back.error();
  EXPECT_EQ(json_serialize(deployment_to_store(*back)), json_serialize(stored));
  EXPECT_EQ(back->current_step, 2u);
  EXPECT_EQ(back->target.at("/web").instances, 3);
  EXPECT_EQ(back->original.at("/web").instances, 1);
  EXPECT_EQ(back->to_kill, d.to_kill);

  picojson::object o = stored.get<picojson::object>();
  o["currentStep"] = picojson::value(static_cast<int64_t>(9));
  Try<Deployment> step = deployment_from_store(picojson::value(o));
  ASSERT_TRUE(step.is_error());
  EXPECT_NE(step.error().find("'currentStep'"), std::string::npos) << step.error();
  o = stored.get<picojson::object>();
  o["target"].get<picojson::object>()["/web"].get<picojson::object>()["cpus"] = picojson::value("many");
  Try<Deployment> app = deployment_from_store(picojson::value(o));
  ASSERT_TRUE(app.is_error());
  EXPECT_NE(app.error().find("/cpus"), std::string::npos) << app.error();
}

TEST(InstanceStore, AppRoundTripsWithVersions) {
  App app = instance_test_app(R"({"id":"/prod/web","args":["a","b"],"user":"nobody","env":{"A":"1"},"instances":3,
      "cpus":0.25,"mem":64.5,"disk":10,"gpus":1,"portDefinitions":[{"port":10001,"name":"http","labels":{"x":"y"}}],
      "requirePorts":true,"constraints":[["rack","GROUP_BY","2"]],"labels":{"l":"v"},
      "healthChecks":[{"protocol":"HTTP","path":"/h","portIndex":0,"ignoreHttp1xx":true}],
      "readinessChecks":[{"portName":"http"}],"upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0.2},
      "backoffSeconds":2,"backoffFactor":2,"maxLaunchDelaySeconds":60,"taskKillGracePeriodSeconds":3,
      "fetch":[{"uri":"http://h/x.tgz","cache":true}],"container":{"type":"MESOS","docker":{"image":"busybox"},
      "volumes":[{"containerPath":"/d","hostPath":"/tmp","mode":"RO"}]},"dependencies":["/db"],
      "killSelection":"OLDEST_FIRST","unreachableStrategy":{"inactiveAfterSeconds":60,"expungeAfterSeconds":120},
      "acceptedResourceRoles":["*"],"executor":"/opt/exec"})");
  app.version = 1601553600000;
  app.last_scaling_at = 1601553600001;
  app.last_config_change_at = 1601553500000;
  picojson::value stored = app_to_store(app);
  Try<App> back = app_from_store(*json_parse(json_serialize(stored)));
  ASSERT_TRUE(back.is_some()) << back.error();
  EXPECT_EQ(json_serialize(app_to_store(*back)), json_serialize(stored));
  EXPECT_EQ(back->version, app.version);
  EXPECT_EQ(back->last_scaling_at, app.last_scaling_at);
  EXPECT_EQ(back->last_config_change_at, app.last_config_change_at);
  EXPECT_FALSE(is_upgrade(app, *back));

  picojson::object o = stored.get<picojson::object>();
  o["version"] = picojson::value("soon");
  Try<App> v = app_from_store(picojson::value(o));
  ASSERT_TRUE(v.is_error());
  EXPECT_NE(v.error().find("'version'"), std::string::npos) << v.error();
  o = stored.get<picojson::object>();
  o.erase("versionInfo");
  EXPECT_TRUE(app_from_store(picojson::value(o)).is_error());
  o = stored.get<picojson::object>();
  o["instances"] = picojson::value(-1.0);
  Try<App> neg = app_from_store(picojson::value(o));
  ASSERT_TRUE(neg.is_error());
  EXPECT_NE(neg.error().find("/instances"), std::string::npos) << neg.error();
}

}  // namespace
}  // namespace stoa::services
