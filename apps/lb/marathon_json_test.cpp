// Parsing the registry's /v2/apps?embed=apps.tasks body, SSE event payloads
// and registry URLs (marathon_json.cpp), plus the host cache
// (marathon_resolve.cpp).

#include "apps/lb/marathon_json.hpp"

#include <gtest/gtest.h>

#include <string>

#include "apps/lb/marathon.hpp"
#include "apps/lb/marathon_resolve.hpp"

namespace {

using stoa::lb::App;
using stoa::lb::NetworkingMode;
using stoa::lb::ParseOptions;

// The §1.3 example element, as stoa-services and Marathon 1.5+ serve it.
const char* const WEB_APP = R"({"id":"/web","cmd":"python3 -m http.server $PORT0","instances":2,
 "labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"web.example.com"},
 "portDefinitions":[{"port":10001,"name":"http","protocol":"tcp","labels":{}}],
 "networks":[{"mode":"host"}],
 "healthChecks":[{"protocol":"HTTP","path":"/","portIndex":0,"gracePeriodSeconds":300,"intervalSeconds":60,
                  "timeoutSeconds":20,"maxConsecutiveFailures":3,"ignoreHttp1xx":false,"delaySeconds":15}],
 "tasks":[{"id":"web.instance-1._app.1","appId":"/web","host":"10.0.2.148","slaveId":"S1",
           "state":"TASK_RUNNING","ports":[31565],"servicePorts":[],
           "ipAddresses":[{"ipAddress":"10.0.2.148","protocol":"IPv4"}],
           "healthCheckResults":[{"alive":true,"consecutiveFailures":0,"instanceId":"web.instance-1"}]}]})";

std::string body_of(const std::string& apps) { return "{\"apps\":[" + apps + "]}"; }

App parse_one(const std::string& app, const ParseOptions& options = {}) {
  auto apps = stoa::lb::parse_apps(body_of(app), options);
  EXPECT_TRUE(apps) << apps.error();
  if (!apps || apps->size() != 1) {
    ADD_FAILURE() << "expected one app";
    return {};
  }
  return apps->front();
}

// The error parse_apps gives for `body` ("" and a failure when it succeeds).
std::string error_of(const std::string& body) {
  auto apps = stoa::lb::parse_apps(body, {});
  EXPECT_FALSE(apps) << body;
  return apps ? "" : apps.error();
}

TEST(ParseApps, ReadsEveryFieldOfAHostModeApp) {
  App app = parse_one(WEB_APP);
  EXPECT_EQ(app.id, "/web");
  EXPECT_EQ(app.labels.at("HAPROXY_GROUP"), "external");
  EXPECT_EQ(app.labels.at("HAPROXY_0_VHOST"), "web.example.com");
  EXPECT_EQ(app.instances, 2);
  EXPECT_EQ(app.mode, NetworkingMode::Host);
  EXPECT_EQ(app.service_ports, std::vector<int>({10001}));
  ASSERT_EQ(app.health_checks.size(), 1u);
  const auto& hc = app.health_checks[0];
  EXPECT_EQ(hc.protocol, "HTTP");
  EXPECT_EQ(hc.path, "/");
  EXPECT_EQ(hc.port_index, 0);
  EXPECT_FALSE(hc.port.has_value());
  EXPECT_EQ(hc.interval_seconds, 60);
  EXPECT_EQ(hc.timeout_seconds, 20);
  EXPECT_EQ(hc.grace_period_seconds, 300);
  EXPECT_EQ(hc.max_consecutive_failures, 3);
  ASSERT_EQ(app.tasks.size(), 1u);
  const auto& task = app.tasks[0];
  EXPECT_EQ(task.id, "web.instance-1._app.1");
  EXPECT_EQ(task.app_id, "/web");
  EXPECT_EQ(task.host, "10.0.2.148");
  EXPECT_EQ(task.ports, std::vector<int>({31565}));
  EXPECT_EQ(task.ip_addresses, std::vector<std::string>({"10.0.2.148"}));
  EXPECT_EQ(task.state, "TASK_RUNNING");
  EXPECT_EQ(task.healthy, true);
  EXPECT_EQ(task.ip, "");  // filled by the client after resolution
  EXPECT_FALSE(task.draining);
}

TEST(ParseApps, KeepsTheStateAsGivenAndMissingOnesAsNone) {
  App app = parse_one(R"({"id":"/a","labels":{},"tasks":[
      {"id":"t1","host":"h","state":"TASK_KILLING"},{"id":"t2","host":"h"},{"id":"t3","host":""},
      {"id":"t4","host":null}]})");
  ASSERT_EQ(app.tasks.size(), 4u);
  EXPECT_EQ(app.tasks[0].state, "TASK_KILLING");
  EXPECT_FALSE(app.tasks[1].state.has_value());
  EXPECT_EQ(app.tasks[1].app_id, "/a");  // no appId: the app's
  EXPECT_EQ(app.tasks[2].host, "");
  EXPECT_EQ(app.tasks[3].host, "");
}

TEST(ParseApps, MissingRequiredKeysNameThePath) {
  EXPECT_EQ(error_of("{}"), "the /v2/apps body: missing 'apps'");
  EXPECT_EQ(error_of(R"({"apps":{}})"), "apps: expected an array, got {}");
  EXPECT_EQ(error_of(body_of(std::string(WEB_APP) + R"(,{"labels":{},"tasks":[]})")),
            "apps[1]: missing 'id'");
  EXPECT_EQ(error_of(body_of(R"({"id":"/a","tasks":[]})")), "apps[0]: missing 'labels'");
  EXPECT_EQ(error_of(body_of(R"({"id":"/a","labels":{}})")), "apps[0]: missing 'tasks'");
  EXPECT_EQ(error_of(body_of(R"({"id":"/a","labels":{},"tasks":[{"host":"h"}]})")),
            "apps[0].tasks[0]: missing 'id'");
  EXPECT_EQ(error_of(body_of(R"({"id":"/a","labels":{},"tasks":[{"id":"t"}]})")),
            "apps[0].tasks[0]: missing 'host'");
  EXPECT_EQ(error_of(body_of(R"({"id":"/a","labels":{},"tasks":[],
                               "healthChecks":[{"protocol":"TCP","intervalSeconds":1,
                               "gracePeriodSeconds":1,"maxConsecutiveFailures":1}]})")),
            "apps[0].healthChecks[0]: missing 'timeoutSeconds'");
  EXPECT_EQ(error_of(body_of(R"({"id":"/a","labels":{},"tasks":[{"id":"t","host":"h",
                               "healthCheckResults":[{"alive":true},{"consecutiveFailures":1}]}]})")),
            "apps[0].tasks[0].healthCheckResults[1]: missing 'alive'");
}

TEST(ParseApps, WrongTypesNameThePathAndTheValue) {
  EXPECT_EQ(error_of(body_of(R"({"id":7,"labels":{},"tasks":[]})")),
            "apps[0].id: expected a string, got 7");
  EXPECT_EQ(error_of(body_of(R"({"id":"/a","labels":{"HAPROXY_GROUP":1},"tasks":[]})")),
            "apps[0].labels.HAPROXY_GROUP: expected a string, got 1");
  EXPECT_EQ(error_of(body_of(
                R"({"id":"/a","labels":{},"tasks":[{"id":"t","host":"h","ports":["80"]}]})")),
            "apps[0].tasks[0].ports[0]: expected an integer, got \"80\"");
  EXPECT_EQ(
      error_of(body_of(R"({"id":"/a","labels":{},"tasks":[],"portDefinitions":[{"port":1.5}]})")),
      "apps[0].portDefinitions[0].port: expected an integer, got 1.5");
}

// Numbers beyond an int are refused naming the path; port values that are
// integers but no port (negative, above 65535) are kept here and left out
// by the renderer with a warning (render_safety_test.cpp).
TEST(ParseApps, OddPortNumbersAreRefusedOrKeptForTheRenderer) {
  std::string e =
      error_of(body_of(R"({"id":"/a","labels":{},"tasks":[{"id":"t","host":"h","ports":[1e10]}]})"));
  EXPECT_EQ(e.rfind("apps[0].tasks[0].ports[0]: expected an integer, got 1", 0), 0u) << e;
  e = error_of(body_of(R"({"id":"/a","labels":{},"tasks":[],"portDefinitions":[{"port":-1e300}]})"));
  EXPECT_EQ(e.rfind("apps[0].portDefinitions[0].port: expected an integer, got -1", 0), 0u) << e;
  App app = parse_one(
      R"({"id":"/a","labels":{},"portDefinitions":[{"port":-80},{"port":99999}],
          "tasks":[{"id":"t","host":"h","ports":[-1,70000]}]})");
  EXPECT_EQ(app.service_ports, (std::vector<int>{-80, 99999}));
  ASSERT_EQ(app.tasks.size(), 1u);
  EXPECT_EQ(app.tasks[0].ports, (std::vector<int>{-1, 70000}));
  // Labels whose values are not strings refuse the refresh, naming the label.
  EXPECT_EQ(error_of(body_of(R"({"id":"/a","labels":{"HAPROXY_0_PORT":{"x":1}},"tasks":[]})")),
            "apps[0].labels.HAPROXY_0_PORT: expected a string, got {\"x\":1}");
}

TEST(ParseApps, MalformedJsonIsAnErrorNotACrash) {
  std::string e = error_of("{\"apps\": [");
  EXPECT_NE(e.find("not JSON"), std::string::npos) << e;
  e = error_of("<html>Bad Gateway</html>");
  EXPECT_NE(e.find("not JSON"), std::string::npos) << e;
  EXPECT_EQ(error_of("[]"), "the /v2/apps body: expected an object, got []");
}

TEST(ParseApps, NetworkingModeFollowsMarathonLb) {
  auto mode_of = [](const std::string& extra) {
    return parse_one(R"({"id":"/a","labels":{},"tasks":[])" + extra + "}").mode;
  };
  EXPECT_EQ(mode_of(""), NetworkingMode::Host);
  EXPECT_EQ(mode_of(R"(,"ipAddress":{"networkName":"dcos"})"), NetworkingMode::Container);
  EXPECT_EQ(mode_of(R"(,"ipAddress":{})"), NetworkingMode::Host);  // empty = falsy
  EXPECT_EQ(mode_of(R"(,"ipAddress":null)"), NetworkingMode::Host);
  EXPECT_EQ(mode_of(R"(,"container":{"type":"DOCKER","docker":{"network":"USER"}})"),
            NetworkingMode::Container);
  EXPECT_EQ(mode_of(R"(,"container":{"type":"DOCKER","docker":{"network":"BRIDGE"}})"),
            NetworkingMode::ContainerBridge);
  EXPECT_EQ(mode_of(R"(,"networks":[{"mode":"container/bridge"}])"),
            NetworkingMode::ContainerBridge);
  EXPECT_EQ(mode_of(R"(,"networks":[{"mode":"container","name":"dcos"}])"),
            NetworkingMode::Container);
  EXPECT_EQ(mode_of(R"(,"networks":[{"name":"dcos"}])"), NetworkingMode::Container);  // no mode
  // The last network wins, over the docker network too.
  EXPECT_EQ(mode_of(R"(,"container":{"docker":{"network":"BRIDGE"}},"networks":[{"mode":"host"}])"),
            NetworkingMode::Host);
  EXPECT_EQ(
      error_of(body_of(R"({"id":"/a","labels":{},"tasks":[],"networks":[{"mode":"overlay"}]})")),
      "apps[0].networks[0].mode: unknown networking mode 'overlay' (expected host, container or "
      "container/bridge)");
}

TEST(ParseApps, ServicePortsComeFromDefinitionsPortsOrMappings) {
  // portDefinitions win over the deprecated `ports`.
  EXPECT_EQ(parse_one(R"({"id":"/a","labels":{},"tasks":[],"ports":[1],
                          "portDefinitions":[{"port":2},{"name":"x"},{"port":3}]})")
                .service_ports,
            std::vector<int>({2, 3}));
  EXPECT_EQ(parse_one(R"({"id":"/a","labels":{},"tasks":[],"ports":[10005,10006]})").service_ports,
            std::vector<int>({10005, 10006}));
  // Container modes: the mappings' servicePort; docker.portMappings first.
  App user =
      parse_one(R"({"id":"/a","labels":{},"tasks":[],"networks":[{"mode":"container","name":"n"}],
      "portDefinitions":[],
      "container":{"type":"DOCKER","docker":{"portMappings":[{"containerPort":80,"servicePort":10010},
                                                             {"containerPort":81}]},
                   "portMappings":[{"containerPort":90,"servicePort":10090}]}})");
  EXPECT_EQ(user.service_ports, std::vector<int>({10010}));
  EXPECT_EQ(user.container_ports, std::vector<int>({80, 81}));
  App bridge = parse_one(R"({"id":"/b","labels":{},"networks":[{"mode":"container/bridge"}],
      "container":{"type":"MESOS","portMappings":[{"containerPort":8080,"hostPort":0,"servicePort":10020}]},
      "tasks":[{"id":"t","host":"h","ports":[31001]},{"id":"u","host":"h","ports":[]}]})");
  EXPECT_EQ(bridge.service_ports, std::vector<int>({10020}));
  EXPECT_EQ(bridge.container_ports, std::vector<int>({8080}));
  EXPECT_EQ(bridge.tasks[0].ports, std::vector<int>({31001}));  // host ports first
  EXPECT_EQ(bridge.tasks[1].ports, std::vector<int>({8080}));   // then the container ports
  // Host mode ignores mappings; a task without ports falls back to the definitions.
  App host = parse_one(R"({"id":"/c","labels":{},"portDefinitions":[{"port":10030}],
      "container":{"portMappings":[{"containerPort":1,"servicePort":2}]},
      "tasks":[{"id":"t","host":"h"}]})");
  EXPECT_EQ(host.service_ports, std::vector<int>({10030}));
  EXPECT_EQ(host.tasks[0].ports, std::vector<int>({10030}));
  // Container mode: the backend ports are the container ports.
  EXPECT_EQ(user.mode, NetworkingMode::Container);
  App user_task = parse_one(R"({"id":"/d","labels":{},"networks":[{"mode":"container"}],
      "container":{"portMappings":[{"containerPort":8080,"servicePort":10040}]},
      "tasks":[{"id":"t","host":"h","ports":[],"ipAddresses":[{"ipAddress":"9.0.0.7"}]}]})");
  EXPECT_EQ(user_task.tasks[0].ports, std::vector<int>({8080}));
  EXPECT_EQ(user_task.tasks[0].ip_addresses, std::vector<std::string>({"9.0.0.7"}));
}

TEST(ParseApps, IpPerTaskAppsWithoutServicePortsGetThemFromTheRange) {
  const std::string ipt = R"({"id":"/ipt","labels":{},
      "ipAddress":{"discovery":{"ports":[{"number":8080,"name":"http"},{"number":"9090"}]}},
      "tasks":[{"id":"t","host":"h","ipAddresses":[{"ipAddress":"9.0.0.1"}]}]})";
  App app = parse_one(ipt);
  EXPECT_EQ(app.mode, NetworkingMode::Container);
  EXPECT_EQ(app.container_ports, std::vector<int>({8080, 9090}));
  EXPECT_EQ(app.tasks[0].ports, std::vector<int>({8080, 9090}));
  // The values marathon-lb's hash gives: 10050 + sha1("/ipt-8080-0")[:8] % 51, ...
  EXPECT_EQ(app.service_ports, std::vector<int>({10078, 10074}));
  // Deterministic: the same again.
  EXPECT_EQ(parse_one(ipt).service_ports, app.service_ports);
  // A second app never gets a port the first has.
  auto two = stoa::lb::parse_apps(body_of(ipt + "," + R"({"id":"/other","labels":{},
      "ipAddress":{"discovery":{"ports":[{"number":8080}]}},"tasks":[{"id":"o","host":"h"}]})"),
                                  {});
  ASSERT_TRUE(two) << two.error();
  ASSERT_EQ((*two)[1].service_ports.size(), 1u);
  int other = (*two)[1].service_ports[0];
  EXPECT_GE(other, 10050);
  EXPECT_LE(other, 10100);
  EXPECT_NE(other, 10078);
  EXPECT_NE(other, 10074);
  // No tasks, or assignment turned off: no service ports.
  EXPECT_TRUE(
      parse_one(R"({"id":"/ipt","labels":{},"ipAddress":{"discovery":{"ports":[{"number":8080}]}},
                            "tasks":[]})")
          .service_ports.empty());
  ParseOptions off;
  off.min_serv_port_ip_per_task = 0;
  off.max_serv_port_ip_per_task = 0;
  EXPECT_TRUE(parse_one(ipt, off).service_ports.empty());
  // A range used up gives 0 (no port) for the rest.
  ParseOptions tiny;
  tiny.min_serv_port_ip_per_task = 10050;
  tiny.max_serv_port_ip_per_task = 10050;
  EXPECT_EQ(parse_one(ipt, tiny).service_ports, std::vector<int>({10050, 0}));
}

TEST(ParseApps, HealthChecksReadPortAndPortIndex) {
  App app = parse_one(R"({"id":"/a","labels":{},"tasks":[],"healthChecks":[
      {"protocol":"TCP","port":8123,"intervalSeconds":5,"timeoutSeconds":2,"gracePeriodSeconds":10,
       "maxConsecutiveFailures":0},
      {"protocol":"MESOS_HTTP","portIndex":1,"path":"/health","intervalSeconds":1,"timeoutSeconds":1,
       "gracePeriodSeconds":1,"maxConsecutiveFailures":1,"portIndex":null}]})");
  ASSERT_EQ(app.health_checks.size(), 2u);
  EXPECT_EQ(app.health_checks[0].port, 8123);
  EXPECT_FALSE(app.health_checks[0].port_index.has_value());
  EXPECT_EQ(app.health_checks[0].path, "");
  EXPECT_EQ(app.health_checks[0].interval_seconds, 5);
  EXPECT_EQ(app.health_checks[0].max_consecutive_failures, 0);
  EXPECT_EQ(app.health_checks[1].protocol, "MESOS_HTTP");
  EXPECT_EQ(app.health_checks[1].path, "/health");
  App with_index = parse_one(R"({"id":"/a","labels":{},"tasks":[],"healthChecks":[
      {"protocol":"HTTP","portIndex":1,"intervalSeconds":1,"timeoutSeconds":1,"gracePeriodSeconds":1,
       "maxConsecutiveFailures":1}]})");
  EXPECT_EQ(with_index.health_checks[0].port_index, 1);
}

TEST(ParseApps, HealthyIsTriState) {
  App app = parse_one(R"({"id":"/a","labels":{},"tasks":[
      {"id":"up","host":"h","healthCheckResults":[{"alive":false},{"alive":true}]},
      {"id":"down","host":"h","healthCheckResults":[{"alive":false}]},
      {"id":"empty","host":"h","healthCheckResults":[]},
      {"id":"unknown","host":"h"}]})");
  ASSERT_EQ(app.tasks.size(), 4u);
  EXPECT_EQ(app.tasks[0].healthy, true);
  EXPECT_EQ(app.tasks[1].healthy, false);
  EXPECT_EQ(app.tasks[2].healthy, false);  // an empty list means excluded
  EXPECT_FALSE(app.tasks[3].healthy.has_value());
}

TEST(ParseApps, SkipsTheFrameworksOwnApp) {
  ParseOptions options;
  options.framework_name = "marathon-lb";
  auto apps = stoa::lb::parse_apps(
      body_of(R"({"id":"/marathon-lb","labels":{},"tasks":[]},{"id":"/web","labels":{},"tasks":[]},
                 {"id":"/group/marathon-lb","labels":{},"tasks":[]})"),
      options);
  ASSERT_TRUE(apps) << apps.error();
  ASSERT_EQ(apps->size(), 2u);
  EXPECT_EQ((*apps)[0].id, "/web");
  EXPECT_EQ((*apps)[1].id, "/group/marathon-lb");
  // Without FRAMEWORK_NAME nothing is skipped.
  auto all = stoa::lb::parse_apps(body_of(R"({"id":"/marathon-lb","labels":{},"tasks":[]})"), {});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1u);
}

TEST(RelevantEvent, OnlyTheThreeTypesMarathonLbSubscribesTo) {
  EXPECT_TRUE(stoa::lb::is_relevant_event(R"({"eventType":"api_post_event","appDefinition":{}})"));
  EXPECT_TRUE(stoa::lb::is_relevant_event(
      R"({"eventType":"status_update_event","taskStatus":"TASK_RUNNING"})"));
  EXPECT_TRUE(
      stoa::lb::is_relevant_event(R"({"eventType":"health_status_changed_event","alive":true})"));
  EXPECT_FALSE(stoa::lb::is_relevant_event(R"({"eventType":"deployment_info"})"));
  EXPECT_FALSE(stoa::lb::is_relevant_event(R"({"eventType":"event_stream_attached"})"));
  EXPECT_FALSE(stoa::lb::is_relevant_event(R"({"type":"api_post_event"})"));
  EXPECT_FALSE(stoa::lb::is_relevant_event("{not json"));
  EXPECT_FALSE(stoa::lb::is_relevant_event(""));
  // Several objects in one data line, split by CRLF.
  EXPECT_TRUE(
      stoa::lb::is_relevant_event("{\"eventType\":\"x\"}\r\n{\"eventType\":\"api_post_event\"}"));
}

TEST(RegistryUrl, ParsesHostPortAndPrefix) {
  auto a = stoa::lb::parse_registry_url("http://marathon.mesos:8080");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->host, "marathon.mesos");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->prefix, "");
  auto b = stoa::lb::parse_registry_url("http://10.0.0.1");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->port, 80);
  auto c = stoa::lb::parse_registry_url("HTTP://h:1/service/marathon/");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->prefix, "/service/marathon");
  auto d = stoa::lb::parse_registry_url("http://[::1]:8080/");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, 8080);
  EXPECT_EQ(d->prefix, "");
}

TEST(RegistryUrl, RefusesWhatItCannotUseNamingTheUrl) {
  auto error_for = [](const std::string& url) {
    auto r = stoa::lb::parse_registry_url(url);
    EXPECT_FALSE(r) << url;
    return r ? "" : r.error();
  };
  EXPECT_NE(error_for("https://m:8443").find("https is not supported"), std::string::npos);
  EXPECT_NE(error_for("ftp://m").find("'ftp://m'"), std::string::npos);
  EXPECT_NE(error_for("m:8080").find("expected http://"), std::string::npos);
  EXPECT_NE(error_for("http://:8080").find("no host"), std::string::npos);
  EXPECT_NE(error_for("http://m:").find("empty port"), std::string::npos);
  EXPECT_NE(error_for("http://m:80a").find("'80a' is not a number"), std::string::npos);
  EXPECT_NE(error_for("http://m:0").find("out of range"), std::string::npos);
  EXPECT_NE(error_for("http://m:70000").find("out of range"), std::string::npos);
  EXPECT_NE(error_for("http://u:p@m:8080").find("credentials"), std::string::npos);
  EXPECT_NE(error_for("http://m:8080/?x=1").find("query"), std::string::npos);
  EXPECT_NE(error_for("http://[::1").find("unterminated"), std::string::npos);
}

TEST(BasicAuth, EncodesUserAndPassword) {
  EXPECT_EQ(stoa::lb::basic_auth_header("user:pass"), "Basic dXNlcjpwYXNz");
  EXPECT_EQ(stoa::lb::basic_auth_header("a"), "Basic YQ==");
  EXPECT_EQ(stoa::lb::basic_auth_header("ab"), "Basic YWI=");
  EXPECT_EQ(stoa::lb::basic_auth_header("abc"), "Basic YWJj");
}

TEST(HostCache, EvictsTheLeastRecentlyUsed) {
  stoa::lb::HostCache cache(2);
  cache.put("a", "1.1.1.1");
  cache.put("b", "2.2.2.2");
  EXPECT_EQ(cache.get("a"), "1.1.1.1");  // a is now the most recent
  cache.put("c", "3.3.3.3");
  EXPECT_FALSE(cache.get("b").has_value());
  EXPECT_EQ(cache.get("a"), "1.1.1.1");
  EXPECT_EQ(cache.get("c"), "3.3.3.3");
  EXPECT_EQ(cache.size(), 2u);
  // A name that did not resolve is retried once its entry has expired.
  auto t0 = stoa::lb::HostClock::now();
  stoa::lb::HostCache negative(10, std::chrono::seconds(30));
  negative.put("gone", "", t0);
  EXPECT_EQ(negative.get("gone", t0 + std::chrono::seconds(29)), "");
  EXPECT_FALSE(negative.get("gone", t0 + std::chrono::seconds(30)).has_value());
  EXPECT_EQ(negative.size(), 0u);
  negative.put("kept", "4.4.4.4", t0);
  EXPECT_EQ(negative.get("kept", t0 + std::chrono::hours(1)), "4.4.4.4");  // answers do not expire
  EXPECT_TRUE(stoa::lb::is_ipv4_literal("127.0.0.1"));
  EXPECT_FALSE(stoa::lb::is_ipv4_literal("localhost"));
  EXPECT_FALSE(stoa::lb::is_ipv4_literal("::1"));
}

TEST(HostCache, AssignsIpsByModeAndListsTheUnresolved) {
  auto apps = stoa::lb::parse_apps(body_of(R"(
      {"id":"/h","labels":{},"tasks":[{"id":"1","host":"10.1.1.1"},{"id":"2","host":"known"},
                                      {"id":"3","host":"fresh"},{"id":"4","host":"nowhere"},{"id":"5","host":""}]},
      {"id":"/c","labels":{},"networks":[{"mode":"container"}],
       "tasks":[{"id":"6","host":"nowhere","ipAddresses":[{"ipAddress":"9.9.9.9"}]},{"id":"7","host":"x"}]})"),
                                   {});
  ASSERT_TRUE(apps) << apps.error();
  stoa::lb::HostCache cache(10);
  cache.put("known", "2.2.2.2");
  EXPECT_EQ(stoa::lb::hosts_to_resolve(*apps, cache),
            std::vector<std::string>({"fresh", "nowhere"}));
  auto unresolved =
      stoa::lb::assign_task_ips(*apps, cache, {{"fresh", "3.3.3.3"}, {"nowhere", ""}});
  EXPECT_EQ(unresolved, std::vector<std::string>({"nowhere"}));
  const auto& h = (*apps)[0].tasks;
  EXPECT_EQ(h[0].ip, "10.1.1.1");
  EXPECT_EQ(h[1].ip, "2.2.2.2");
  EXPECT_EQ(h[2].ip, "3.3.3.3");
  EXPECT_EQ(h[3].ip, "");
  EXPECT_EQ(h[4].ip, "");
  EXPECT_EQ((*apps)[1].tasks[0].ip, "9.9.9.9");
  EXPECT_EQ((*apps)[1].tasks[1].ip, "");
  EXPECT_EQ(cache.get("fresh"), "3.3.3.3");  // cached for the next snapshot
  EXPECT_EQ(cache.get("nowhere"), "");       // and the failure too, for a while
  EXPECT_TRUE(stoa::lb::hosts_to_resolve(*apps, cache).empty());
}

}  // namespace
