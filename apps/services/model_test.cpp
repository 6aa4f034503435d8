#include "apps/services/model.hpp"

#include <functional>

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace stoa::services {
namespace {

picojson::value model_test_json(const std::string& text) {
  Try<picojson::value> v = json_parse(text);
  EXPECT_TRUE(v.is_some()) << text;
  return v.is_some() ? *v : picojson::value();
}

App parse_ok(const std::string& text, const ParseOptions& options = {}) {
  std::variant<App, ApiError> r = parse_app(model_test_json(text), options);
  if (std::holds_alternative<ApiError>(r)) {
    ADD_FAILURE() << text << " → " << json_serialize(std::get<ApiError>(r).body);
    return App{};
  }
  return std::get<App>(r);
}

ApiError parse_err(const std::string& text, const ParseOptions& options = {}) {
  std::variant<App, ApiError> r = parse_app(model_test_json(text), options);
  if (std::holds_alternative<App>(r)) {
    ADD_FAILURE() << text << " was accepted";
    return ApiError{};
  }
  return std::get<ApiError>(r);
}

// The errors listed for `path` in a 422 body.
std::vector<std::string> errors_at(const ApiError& e, const std::string& path) {
  std::vector<std::string> out;
  if (!e.body.is<picojson::object>()) {
    return out;
  }
  const picojson::value& details = e.body.get("details");
  if (!details.is<picojson::array>()) {
    return out;
  }
  for (const picojson::value& d : details.get<picojson::array>()) {
    if (d.get("path").to_str() == path) {
      for (const picojson::value& err : d.get("errors").get<picojson::array>()) {
        out.push_back(err.to_str());
      }
    }
  }
  return out;
}

std::string message(const ApiError& e) { return e.body.get("message").to_str(); }

bool has_error(const ApiError& e, const std::string& path, const std::string& needle) {
  for (const std::string& err : errors_at(e, path)) {
    if (err.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(ModelTime, FormatsAndParsesIso) {
  EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_timestamp(1601553600123), "2020-10-01T12:00:00.123Z");
  EXPECT_EQ(*parse_timestamp("2020-10-01T12:00:00.123Z"), 1601553600123);
  EXPECT_EQ(*parse_timestamp("2020-10-01T12:00:00Z"), 1601553600000);
  EXPECT_EQ(*parse_timestamp("2020-10-01T12:00:00+00:00"), 1601553600000);
  EXPECT_EQ(*parse_timestamp("2020-10-01T14:00:00.5+02:00"), 1601553600500);
  EXPECT_EQ(*parse_timestamp("2020-10-01T12:00:00.123456789Z"), 1601553600123);
  EXPECT_EQ(*parse_timestamp("2024-02-29T00:00:00.000Z"), *parse_timestamp("2024-02-28T00:00:00.000Z") + 86400000);
  Timestamp now = now_ms();
  EXPECT_EQ(*parse_timestamp(format_timestamp(now)), now);
}

TEST(ModelTime, RejectsMalformedTimestampsQuotingThem) {
  for (const char* bad : {"", "2020-10-01", "2020-13-01T00:00:00Z", "2020-02-30T00:00:00Z", "2020-10-01T12:00:00",
                          "2020-10-01T12:00:00.Z", "2020-10-01T12:00:00.1234567890Z", "2020-10-01T12:00:00Zjunk"}) {
    Try<Timestamp> t = parse_timestamp(bad);
    ASSERT_TRUE(t.is_error()) << bad;
    EXPECT_NE(t.error().find(std::string("'") + bad + "'"), std::string::npos) << t.error();
  }
}

TEST(ModelIds, CanonicalizesRelativeAndDottedIds) {
  EXPECT_EQ(*canonical_id("prod/web"), "/prod/web");
  EXPECT_EQ(*canonical_id("/prod/web/"), "/prod/web");
  EXPECT_EQ(*canonical_id("web", "/prod"), "/prod/web");
  EXPECT_EQ(*canonical_id("/web", "/prod"), "/web");
  EXPECT_EQ(*canonical_id("../db", "/prod/web"), "/prod/db");
  EXPECT_EQ(*canonical_id("./a/./b"), "/a/b");
  EXPECT_EQ(*canonical_id("my.app-1"), "/my.app-1");
  EXPECT_EQ(*canonical_id("/"), "/");
}

TEST(ModelIds, RejectsSegmentsOutsidePathIdPattern) {
  for (const char* bad : {"/Web", "/web_app", "/-web", "/web-", "/a..b", "/a b", "/.."}) {
    Try<std::string> id = canonical_id(bad);
    ASSERT_TRUE(id.is_error()) << bad;
    EXPECT_NE(id.error().find(std::string("'") + bad + "'"), std::string::npos) << id.error();
  }
  EXPECT_NE(canonical_id("/Web").error().find("must fully match regular expression"), std::string::npos);
}

TEST(ModelIds, TaskIdsAndParents) {
  EXPECT_EQ(task_id_prefix("/prod/web"), "prod_web");
  std::string id = new_task_id("/prod/web");
  EXPECT_EQ(id.rfind("prod_web.instance-", 0), 0u) << id;
  EXPECT_EQ(id.substr(id.size() - 7), "._app.1");
  EXPECT_NE(id, new_task_id("/prod/web"));
  EXPECT_EQ(task_id_app_prefix(id), "prod_web");
  EXPECT_EQ(task_id_app_prefix("web.marathon-1234"), "web");
  EXPECT_EQ(parent_id("/prod/web"), "/prod");
  EXPECT_EQ(parent_id("/web"), "/");
  EXPECT_EQ(parent_id("/"), "/");
}

TEST(ModelParse, MinimalAppGetsMarathonDefaults) {
  App app = parse_ok(R"({"id":"web","cmd":"sleep 1"})");
  EXPECT_EQ(app.id, "/web");
  EXPECT_EQ(app.instances, 1);
  EXPECT_DOUBLE_EQ(app.cpus, 1);
  EXPECT_DOUBLE_EQ(app.mem, 128);
  ASSERT_EQ(app.port_definitions.size(), 1u);
  EXPECT_EQ(app.port_definitions[0].port, 0);
  EXPECT_EQ(app.port_definitions[0].name, std::optional<std::string>("default"));
  EXPECT_EQ(app.port_definitions[0].protocol, "tcp");
  EXPECT_EQ(app.network_mode(), "host");

  picojson::object j = app_json(app);
  for (const char* key : {"id", "cmd", "instances", "cpus", "mem", "disk", "gpus", "executor", "backoffSeconds",
                          "backoffFactor", "maxLaunchDelaySeconds", "labels", "portDefinitions", "requirePorts",
                          "networks", "constraints", "upgradeStrategy", "unreachableStrategy", "killSelection", "role",
                          "version", "versionInfo", "fetch", "dependencies", "readinessChecks"}) {
    EXPECT_EQ(j.count(key), 1u) << key;
  }
  for (const char* key : {"env", "healthChecks", "ports", "args", "uris", "container"}) {
    EXPECT_EQ(j.count(key), 0u) << key;
  }
  EXPECT_EQ(json_serialize(j["portDefinitions"]), R"([{"labels":{},"name":"default","port":0,"protocol":"tcp"}])");
  EXPECT_EQ(json_serialize(j["networks"]), R"([{"mode":"host"}])");
  EXPECT_EQ(json_serialize(j["upgradeStrategy"]), R"({"maximumOverCapacity":1,"minimumHealthCapacity":1})");
  EXPECT_EQ(json_serialize(j["unreachableStrategy"]), R"({"expungeAfterSeconds":0,"inactiveAfterSeconds":0})");
  EXPECT_EQ(j["killSelection"].to_str(), "YOUNGEST_FIRST");
  EXPECT_EQ(j["role"].to_str(), "*");
  EXPECT_EQ(j["labels"].get<picojson::object>().size(), 0u);
  EXPECT_DOUBLE_EQ(j["backoffFactor"].get<double>(), 1.15);
  EXPECT_TRUE(j["versionInfo"].get("lastScalingAt").is<std::string>());
}

TEST(ModelParse, MarathonExampleRoundTripsThroughAppJson) {
  App app = parse_ok(R"({"id":"/web","cmd":"python3 -m http.server $PORT0","cpus":0.1,"mem":32,"instances":2,
    "labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"web.example.com"},
    "portDefinitions":[{"port":10001,"name":"http","protocol":"tcp","labels":{}}],
    "constraints":[["hostname","unique"]],
    "healthChecks":[{"protocol":"HTTP","path":"/","gracePeriodSeconds":300}]})");
  picojson::object j = app_json(app);
  EXPECT_EQ(json_serialize(j["constraints"]), R"([["hostname","UNIQUE"]])");
  EXPECT_EQ(json_serialize(j["healthChecks"]),
            R"([{"delaySeconds":15,"gracePeriodSeconds":300,"ignoreHttp1xx":false,"intervalSeconds":60,)"
            R"("ipProtocol":"IPv4","maxConsecutiveFailures":3,"path":"/","portIndex":0,"protocol":"HTTP",)"
            R"("timeoutSeconds":20}])");
  App again = parse_ok(json_serialize(picojson::value(j)));
  EXPECT_EQ(json_serialize(picojson::value(app_json(again))), json_serialize(picojson::value(j)));
  EXPECT_FALSE(is_upgrade(app, again));
}

TEST(ModelParse, PortsAreNormalizedAndNeverWrittenBack) {
  App app = parse_ok(R"({"id":"/a","cmd":"x","ports":[0,10005]})");
  ASSERT_EQ(app.port_definitions.size(), 2u);
  EXPECT_EQ(app.port_definitions[1].port, 10005);
  EXPECT_FALSE(app.port_definitions[1].name.has_value());
  picojson::object j = app_json(app);
  EXPECT_EQ(j.count("ports"), 0u);
  EXPECT_EQ(j["portDefinitions"].get<picojson::array>().size(), 2u);
  EXPECT_TRUE(parse_ok(R"({"id":"/a","cmd":"x","portDefinitions":[]})").port_definitions.empty());
  ApiError both = parse_err(R"({"id":"/a","cmd":"x","ports":[1],"portDefinitions":[]})");
  EXPECT_TRUE(has_error(both, "/", "both ports and port definitions"));
}

TEST(ModelParse, UrisBecomeFetch) {
  App app = parse_ok(R"({"id":"/a","cmd":"x","uris":["http://h/a.tgz","http://h/b.sh"]})");
  ASSERT_EQ(app.fetch.size(), 2u);
  EXPECT_TRUE(app.fetch[0].extract);
  EXPECT_FALSE(app.fetch[1].extract);
  App f = parse_ok(R"({"id":"/a","cmd":"x","fetch":[{"uri":"http://h/c","executable":true,"destPath":"c"}]})");
  ASSERT_EQ(f.fetch.size(), 1u);
  EXPECT_TRUE(f.fetch[0].executable);
  EXPECT_EQ(f.fetch[0].dest_path, std::optional<std::string>("c"));
}

TEST(ModelParse, WrongTypesAreInvalidJsonWithPlayKeys) {
  ApiError e = parse_err(R"({"id":"/a","cmd":"x","cpus":"x"})");
  EXPECT_EQ(e.status, 422);
  EXPECT_EQ(message(e), "Invalid JSON");
  EXPECT_EQ(errors_at(e, "/cpus"), std::vector<std::string>{"error.expected.jsnumber"});

  ApiError many = parse_err(R"({"id":"/a","cmd":1,"instances":1.5,"labels":{"a":1},"requirePorts":"yes",
    "healthChecks":[{"protocol":"SMTP"}],"constraints":"x"})");
  EXPECT_EQ(errors_at(many, "/cmd"), std::vector<std::string>{"error.expected.jsstring"});
  EXPECT_EQ(errors_at(many, "/instances"), std::vector<std::string>{"error.expected.int"});
  EXPECT_EQ(errors_at(many, "/labels/a"), std::vector<std::string>{"error.expected.jsstring"});
  EXPECT_EQ(errors_at(many, "/requirePorts"), std::vector<std::string>{"error.expected.jsboolean"});
  EXPECT_EQ(errors_at(many, "/healthChecks(0)/protocol"), std::vector<std::string>{"error.unknown.enum.literal"});
  EXPECT_EQ(errors_at(many, "/constraints"), std::vector<std::string>{"error.expected.jsarray"});

  EXPECT_EQ(errors_at(parse_err(R"({"cmd":"x"})"), "/id"), std::vector<std::string>{"error.path.missing"});
  EXPECT_EQ(errors_at(parse_err("[1]"), "/"), std::vector<std::string>{"error.expected.jsobject"});
}

TEST(ModelParse, ReportsEveryViolationWithItsPath) {
  ApiError e = parse_err(R"({"id":"/a","cmd":"x","cpus":0,"mem":-1,"disk":-2,"gpus":-1,"instances":-1,
    "backoffFactor":0.5,"upgradeStrategy":{"minimumHealthCapacity":1.5,"maximumOverCapacity":-0.5}})");
  EXPECT_EQ(e.status, 422);
  EXPECT_EQ(message(e), "Object is not valid");
  EXPECT_EQ(errors_at(e, "/cpus"), std::vector<std::string>{"got 0.0, expected 0.001 or more"});
  EXPECT_EQ(errors_at(e, "/mem"), std::vector<std::string>{"got -1.0, expected 0.0 or more"});
  EXPECT_EQ(errors_at(e, "/disk"), std::vector<std::string>{"got -2.0, expected 0.0 or more"});
  EXPECT_EQ(errors_at(e, "/gpus"), std::vector<std::string>{"got -1.0, expected 0.0 or more"});
  EXPECT_EQ(errors_at(e, "/instances"), std::vector<std::string>{"got -1, expected 0 or more"});
  EXPECT_EQ(errors_at(e, "/backoffFactor"), std::vector<std::string>{"got 0.5, expected 1.0 or more"});
  EXPECT_EQ(errors_at(e, "/upgradeStrategy/minimumHealthCapacity"),
            std::vector<std::string>{"got 1.5, expected between 0.0 and 1.0"});
  EXPECT_EQ(errors_at(e, "/upgradeStrategy/maximumOverCapacity"),
            std::vector<std::string>{"got -0.5, expected between 0.0 and 1.0"});
  EXPECT_TRUE(parse_ok(R"({"id":"/a","cmd":"x","cpus":0.001,"instances":0,"mem":0})").instances == 0);
}

// Values that would overflow later arithmetic (the restart's maxCapacity,
// the launch delay's deadline in ms) are refused as Marathon refuses them:
// maximumOverCapacity in [0, 1], the backoff seconds int32.
TEST(ModelParse, RefusesHugeCapacitiesAndDelays) {
  ApiError e = parse_err(R"({"id":"/a","cmd":"x","upgradeStrategy":{"maximumOverCapacity":1e308},
    "backoffSeconds":1e308,"maxLaunchDelaySeconds":3e9,"backoffFactor":1e308})");
  EXPECT_EQ(errors_at(e, "/upgradeStrategy/maximumOverCapacity").size(), 1u) << json_serialize(e.body);
  EXPECT_TRUE(has_error(e, "/upgradeStrategy/maximumOverCapacity", "expected between 0.0 and 1.0"));
  EXPECT_TRUE(has_error(e, "/backoffSeconds", "expected between 0.0 and")) << json_serialize(e.body);
  EXPECT_TRUE(has_error(e, "/maxLaunchDelaySeconds", "expected between 0.0 and")) << json_serialize(e.body);
  EXPECT_TRUE(errors_at(e, "/backoffFactor").empty()) << json_serialize(e.body);
  App most = parse_ok(R"({"id":"/a","cmd":"x","upgradeStrategy":{"maximumOverCapacity":1},
    "backoffSeconds":2147483647,"maxLaunchDelaySeconds":2147483647,"backoffFactor":1e308})");
  EXPECT_EQ(most.upgrade_strategy.maximum_over_capacity, 1.0);
  EXPECT_EQ(most.max_launch_delay_seconds, 2147483647.0);
}

TEST(ModelParse, IdRules) {
  EXPECT_EQ(parse_ok(R"({"id":"web","cmd":"x"})", ParseOptions{"/prod", std::nullopt}).id, "/prod/web");
  EXPECT_EQ(parse_ok(R"({"cmd":"x"})", ParseOptions{"/", std::string("/p/q")}).id, "/p/q");
  ApiError bad = parse_err(R"({"id":"/Web_1","cmd":"x"})");
  EXPECT_EQ(message(bad), "Object is not valid");
  EXPECT_TRUE(has_error(bad, "/id", "must fully match regular expression"));
  EXPECT_TRUE(has_error(parse_err(R"({"id":"/","cmd":"x"})"), "/id", "root group"));
}

// A task id is one state store key component (200 bytes encoded, '.' as
// %2E): an app whose task ids do not fit could never launch, so its id is
// refused up front. The fixed part ".instance-<uuid>._app.1" takes 59.
TEST(ModelParse, IdsWhoseTaskIdsDoNotFitTheStoreAreRefused) {
  const std::string fits = "/" + std::string(70, 'a') + "/" + std::string(70, 'b');  // prefix 141
  EXPECT_EQ(parse_ok(R"({"cmd":"x","id":")" + fits + R"("})").id, fits);
  ApiError too_long = parse_err(R"({"cmd":"x","id":")" + fits + R"(c"})");
  EXPECT_TRUE(has_error(too_long, "/id", "is too long")) << json_serialize(too_long.body);
  EXPECT_TRUE(has_error(too_long, "/id", "at most 200")) << json_serialize(too_long.body);
  // Dots take three bytes each: 36 labels "a" joined by 35 dots are 141
  // bytes, 37 labels are too many.
  std::string dotted = "/a";
  for (int i = 0; i < 35; ++i) {
    dotted += ".a";
  }
  EXPECT_EQ(parse_ok(R"({"cmd":"x","id":")" + dotted + R"("})").id, dotted);
  EXPECT_TRUE(has_error(parse_err(R"({"cmd":"x","id":")" + dotted + R"(.a"})"), "/id", "is too long"));
  // The URL's id is held to the same rule.
  ParseOptions from_path;
  from_path.path_id = "/" + std::string(300, 'x');
  EXPECT_TRUE(has_error(parse_err(R"({"cmd":"x"})", from_path), "/id", "is too long"));
}

// A task's environment is "NAME=value" strings: a name with '=' (or none)
// would set another variable than the one asked for.
TEST(ModelParse, EnvNamesMustBeUsable) {
  for (const char* body : {R"({"id":"/a","cmd":"x","env":{"A=B":"c"}})", R"({"id":"/a","cmd":"x","env":{"":"c"}})",
                           R"({"id":"/a","cmd":"x","env":{"A\u0000B":"c"}})"}) {
    ApiError e = parse_err(body);
    EXPECT_TRUE(has_error(e, "/env", "must not be empty or contain '=' or NUL")) << body << json_serialize(e.body);
  }
  EXPECT_EQ(parse_ok(R"({"id":"/a","cmd":"x","env":{"A_1":"b=c"}})").env.at("A_1"), "b=c");
}

TEST(ModelParse, CmdArgsContainerExclusivity) {
  const std::string msg = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.";
  EXPECT_EQ(errors_at(parse_err(R"({"id":"/a"})"), "/"), std::vector<std::string>{msg});
  EXPECT_EQ(errors_at(parse_err(R"({"id":"/a","cmd":"x","args":["y"]})"), "/"), std::vector<std::string>{msg});
  EXPECT_EQ(parse_ok(R"({"id":"/a","args":["sleep","1"]})").args->size(), 2u);
  EXPECT_EQ(errors_at(parse_err(R"({"id":"/a","args":[]})"), "/"), std::vector<std::string>{msg});
  EXPECT_TRUE(parse_ok(R"({"id":"/a","cmd":"x","args":[]})").cmd.has_value());
  App docker = parse_ok(R"({"id":"/a","container":{"type":"DOCKER","docker":{"image":"nginx"}}})");
  EXPECT_EQ(docker.container->docker->image, "nginx");
}

TEST(ModelParse, EnvStringsOnlySecretsRefused) {
  App app = parse_ok(R"({"id":"/a","cmd":"x","env":{"A":"1","B":""}})");
  EXPECT_EQ(app.env.at("A"), "1");
  EXPECT_EQ(app_json(app)["env"].get("B").to_str(), "");
  ApiError secret = parse_err(R"({"id":"/a","cmd":"x","env":{"PW":{"secret":"db"}}})");
  EXPECT_EQ(secret.status, 422);
  EXPECT_TRUE(has_error(secret, "/env/PW", "secrets are not supported"));
  EXPECT_EQ(errors_at(parse_err(R"({"id":"/a","cmd":"x","env":{"N":1}})"), "/env/N"),
            std::vector<std::string>{"error.expected.jsstring"});
}

TEST(ModelParse, PortDefinitionRules) {
  ApiError dup = parse_err(R"({"id":"/a","cmd":"x","portDefinitions":[{"port":0,"name":"http"},{"port":0,"name":"http"}]})");
  EXPECT_TRUE(has_error(dup, "/portDefinitions", "Port names must be unique."));
  ApiError proto = parse_err(R"({"id":"/a","cmd":"x","portDefinitions":[{"port":70000,"protocol":"sctp"}]})");
  EXPECT_TRUE(has_error(proto, "/portDefinitions(0)/protocol", "Invalid protocol"));
  EXPECT_TRUE(has_error(proto, "/portDefinitions(0)/port", "expected between 0 and 65535"));
  App rp = parse_ok(R"({"id":"/a","cmd":"x","requirePorts":true,"portDefinitions":[{"port":10001,"protocol":"udp,tcp"}]})");
  EXPECT_TRUE(rp.require_ports);
  EXPECT_EQ(rp.service_ports(), std::vector<int>{10001});
}

TEST(ModelParse, ConstraintValidationMessages) {
  ApiError e = parse_err(R"({"id":"/a","cmd":"x","constraints":[
      ["hostname","UNIQUE","x"],["rack","GROUP_BY","a"],["rack","MAX_PER"],["rack","LIKE"],["rack","UNLIKE","("],
      ["rack","IS","a b"],["rack"],["rack","NEAR"],["rack","cluster","r1"],["rack","group_by","3"]]})");
  EXPECT_EQ(errors_at(e, "/constraints(0)"), std::vector<std::string>{"UNIQUE does not accept a value"});
  EXPECT_EQ(errors_at(e, "/constraints(1)"),
            std::vector<std::string>{"GROUP BY must define an integer value or else no value at all"});
  EXPECT_EQ(errors_at(e, "/constraints(2)"), std::vector<std::string>{"MAX_PER requires an integer value"});
  EXPECT_EQ(errors_at(e, "/constraints(3)"),
            std::vector<std::string>{"LIKE and UNLIKE require a non-empty, regular expression value"});
  EXPECT_TRUE(has_error(e, "/constraints(4)", "is not a valid regular expression"));
  EXPECT_EQ(errors_at(e, "/constraints(5)"), std::vector<std::string>{"IS only supports Mesos text and float values"});
  EXPECT_EQ(errors_at(e, "/constraints(6)"), std::vector<std::string>{"Each constraint must have either 2 or 3 fields"});
  EXPECT_TRUE(has_error(e, "/constraints(7)",
                        "must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"));
  EXPECT_TRUE(errors_at(e, "/constraints(8)").empty());
  EXPECT_TRUE(errors_at(e, "/constraints(9)").empty());
  App ok = parse_ok(R"({"id":"/a","cmd":"x","constraints":[["rack","group_by","3"],["@zone","is","z-1.5"]]})");
  EXPECT_EQ(ok.constraints[0].op, "GROUP_BY");
  EXPECT_EQ(ok.constraints[1].value, std::optional<std::string>("z-1.5"));
}

TEST(ModelParse, HealthCheckRules) {
  App app = parse_ok(R"({"id":"/a","cmd":"x","healthChecks":[{"protocol":"TCP"}]})");
  EXPECT_EQ(app.health_checks[0].port_index, std::optional<int>(0));
  EXPECT_TRUE(app.health_checks[0].marathon_level());
  EXPECT_EQ(health_check_json(app.health_checks[0]).get<picojson::object>().count("path"), 0u);

  ApiError e = parse_err(R"({"id":"/a","cmd":"x","healthChecks":[
      {"protocol":"HTTP","portIndex":1},{"protocol":"COMMAND"},{"protocol":"HTTP","path":"health","intervalSeconds":0}]})");
  EXPECT_TRUE(has_error(e, "/healthChecks(0)", "port indices must address an element"));
  EXPECT_TRUE(has_error(e, "/healthChecks(1)/command", "COMMAND health check needs a command"));
  EXPECT_TRUE(has_error(e, "/healthChecks(2)/path", "must start with '/'"));
  EXPECT_TRUE(has_error(e, "/healthChecks(2)/intervalSeconds", "got 0, expected 1 or more"));
  EXPECT_TRUE(has_error(e, "/healthChecks", "cannot be mixed"));

  App cmd = parse_ok(R"({"id":"/a","cmd":"x","portDefinitions":[],
      "healthChecks":[{"protocol":"COMMAND","command":{"value":"true"},"maxConsecutiveFailures":0}]})");
  EXPECT_EQ(cmd.health_checks[0].command, std::optional<std::string>("true"));
  EXPECT_FALSE(cmd.health_checks[0].marathon_level());
  ApiError two = parse_err(R"({"id":"/a","cmd":"x","healthChecks":[{"protocol":"MESOS_TCP"},{"protocol":"MESOS_HTTP"}]})");
  EXPECT_TRUE(has_error(two, "/healthChecks", "at most one Mesos health check"));
  App port = parse_ok(R"({"id":"/a","cmd":"x","portDefinitions":[],"healthChecks":[{"protocol":"HTTP","port":8080}]})");
  EXPECT_FALSE(port.health_checks[0].port_index.has_value());
  // marathon-lb reads portIndex of every check: written even beside `port`,
  // and the app still reads back the same.
  picojson::object port_json = health_check_json(port.health_checks[0]).get<picojson::object>();
  EXPECT_EQ(port_json.count("portIndex"), 1u);
  EXPECT_EQ(port_json["port"].get<int64_t>(), 8080);
  picojson::object round = app_json(port);
  App again = parse_ok(json_serialize(picojson::value(round)));
  EXPECT_EQ(json_serialize(picojson::value(app_json(again))), json_serialize(picojson::value(round)));
  EXPECT_FALSE(is_upgrade(port, again));

  // A probe's path goes into a request line: no spaces or CR/LF.
  ApiError smuggled = parse_err(R"({"id":"/a","cmd":"x","healthChecks":[{"protocol":"HTTP","path":"/h HTTP/1.1\r\nX: y"}],
      "portDefinitions":[{"port":0,"name":"http"}],"readinessChecks":[{"portName":"http","path":"/r\n"}]})");
  EXPECT_TRUE(has_error(smuggled, "/healthChecks(0)/path", "must not contain spaces or control characters"))
      << json_serialize(smuggled.body);
  EXPECT_TRUE(has_error(smuggled, "/readinessChecks(0)/path", "must not contain spaces or control characters"))
      << json_serialize(smuggled.body);
  EXPECT_EQ(parse_ok(R"({"id":"/a","cmd":"x","healthChecks":[{"protocol":"HTTP","path":"/a%20b?x=1"}]})")
                .health_checks[0]
                .path,
            "/a%20b?x=1");
}

TEST(ModelParse, ReadinessUpgradeBackoffUnreachable) {
  App app = parse_ok(R"({"id":"/a","cmd":"x","portDefinitions":[{"port":0,"name":"http-api"}],
      "readinessChecks":[{"httpStatusCodesForReady":[200,204]}],"unreachableStrategy":"disabled",
      "upgradeStrategy":{"minimumHealthCapacity":0.5,"maximumOverCapacity":0},"backoffSeconds":2,
      "killSelection":"OLDEST_FIRST","taskKillGracePeriodSeconds":5})");
  EXPECT_EQ(app.readiness_checks[0].http_status_codes_for_ready, (std::vector<int>{200, 204}));
  EXPECT_TRUE(app.unreachable_strategy.disabled);
  EXPECT_EQ(app_json(app)["unreachableStrategy"].to_str(), "disabled");
  EXPECT_EQ(app.kill_selection, "OLDEST_FIRST");
  EXPECT_EQ(app.task_kill_grace_period_seconds, std::optional<int>(5));

  ApiError e = parse_err(R"({"id":"/a","cmd":"x","readinessChecks":[{"portName":"nope"}],
      "unreachableStrategy":{"inactiveAfterSeconds":10,"expungeAfterSeconds":5},"backoffSeconds":-1})");
  EXPECT_TRUE(has_error(e, "/readinessChecks(0)/portName", "'nope'"));
  EXPECT_TRUE(has_error(e, "/unreachableStrategy", "expungeAfterSeconds must be greater"));
  EXPECT_TRUE(has_error(e, "/backoffSeconds", "got -1.0, expected between 0.0 and"));
  EXPECT_EQ(errors_at(parse_err(R"({"id":"/a","cmd":"x","killSelection":"RANDOM"})"), "/killSelection"),
            std::vector<std::string>{"error.unknown.enum.literal"});
}

TEST(ModelParse, ContainersAndNetworks) {
  ApiError noimage = parse_err(R"({"id":"/a","container":{"type":"DOCKER","docker":{"image":""}}})");
  EXPECT_TRUE(has_error(noimage, "/container/docker/image", "must not be empty"));
  EXPECT_TRUE(has_error(parse_err(R"({"id":"/a","container":{"type":"DOCKER"}})"), "/container/docker",
                        "must be defined"));

  App bridge = parse_ok(R"({"id":"/a","networks":[{"mode":"container/bridge"}],
      "container":{"type":"DOCKER","docker":{"image":"nginx"},
                   "portMappings":[{"containerPort":80,"hostPort":0,"servicePort":10080,"name":"web"}]}})");
  EXPECT_EQ(bridge.network_mode(), "container/bridge");
  EXPECT_TRUE(bridge.port_definitions.empty());
  EXPECT_EQ(bridge.service_ports(), std::vector<int>{10080});
  EXPECT_EQ(bridge.host_port_count(), 1u);
  EXPECT_EQ(bridge.port_names(), std::vector<std::string>{"web"});
  picojson::object j = app_json(bridge);
  EXPECT_EQ(json_serialize(j["portDefinitions"]), "[]");
  EXPECT_EQ(j["container"].get("portMappings").get<picojson::array>().size(), 1u);

  App legacy = parse_ok(R"({"id":"/a","container":{"type":"DOCKER","docker":{"image":"nginx","network":"BRIDGE",
      "portMappings":[{"containerPort":80}]}}})");
  EXPECT_EQ(legacy.network_mode(), "container/bridge");
  EXPECT_EQ(legacy.container->port_mappings.size(), 1u);
  EXPECT_FALSE(legacy.container->docker->network.has_value());

  ApiError hostmap = parse_err(R"({"id":"/a","cmd":"x","container":{"type":"MESOS","portMappings":[{"containerPort":80}]}})");
  EXPECT_TRUE(has_error(hostmap, "/container/portMappings", "only allowed with container"));
  ApiError noname = parse_err(R"({"id":"/a","cmd":"x","networks":[{"mode":"container"}]})");
  EXPECT_TRUE(has_error(noname, "/networks(0)/name", "name"));
  ApiError mixed = parse_err(R"({"id":"/a","cmd":"x","networks":[{"mode":"host"},{"mode":"container","name":"n"}]})");
  EXPECT_TRUE(has_error(mixed, "/networks", "may not be combined"));
  App ipt = parse_ok(R"({"id":"/a","cmd":"x","ipAddress":{"networkName":"dcos"}})");
  EXPECT_EQ(ipt.network_mode(), "container");
  EXPECT_EQ(ipt.networks[0].name, std::optional<std::string>("dcos"));
  EXPECT_TRUE(ipt.port_definitions.empty());
  App implied = parse_ok(R"({"id":"/a","container":{"docker":{"image":"nginx"}}})");
  EXPECT_EQ(implied.container->type, "DOCKER");
  EXPECT_EQ(parse_ok(R"({"id":"/a","cmd":"x","container":{}})").container->type, "MESOS");
  App named = parse_ok(R"({"id":"/a","cmd":"x","networks":[{"mode":"container","name":"dcos"}]})");
  EXPECT_EQ(named.network_mode(), "container");
  EXPECT_EQ(errors_at(parse_err(R"({"id":"/a","cmd":"x","networks":[{"mode":"overlay"}]})"), "/networks(0)/mode"),
            std::vector<std::string>{"error.unknown.enum.literal"});
}

TEST(ModelParse, RolesExecutorDependencies) {
  App app = parse_ok(R"({"id":"/prod/web","cmd":"x","role":"web","acceptedResourceRoles":["*","web"],
      "executor":"//cmd","dependencies":["db","/cache/"]})");
  EXPECT_EQ(app.executor, "");
  EXPECT_EQ(app.dependencies, (std::vector<std::string>{"/prod/db", "/cache"}));
  EXPECT_EQ(json_serialize(app_json(app)["acceptedResourceRoles"]), R"(["*","web"])");
  ApiError e = parse_err(R"({"id":"/a","cmd":"x","acceptedResourceRoles":["other"],"role":"a b",
      "dependencies":["Bad"]})");
  EXPECT_TRUE(has_error(e, "/acceptedResourceRoles", "can only contain *"));
  EXPECT_TRUE(has_error(e, "/role", "'a b'"));
  EXPECT_TRUE(has_error(e, "/dependencies(0)", "'Bad'"));
}

TEST(ModelParse, UnknownAndReadOnlyFieldsAreIgnored) {
  App app = parse_ok(R"({"id":"/a","cmd":"x","version":"2020-10-01T12:00:00.000Z","tasks":[1],"tasksRunning":3,
      "deployments":[],"someFutureField":{"x":1},"user":null})");
  EXPECT_EQ(app.version, 0);
  EXPECT_FALSE(app.user.has_value());
}

TEST(ModelUpdate, PresentFieldsReplaceTheRest) {
  App current = parse_ok(R"({"id":"/a","cmd":"x","instances":2,"labels":{"a":"1"},
      "portDefinitions":[{"port":10001,"name":"http"}]})");
  current.version = 1000;
  std::variant<AppUpdate, ApiError> r = apply_update(current, model_test_json(R"({"instances":5})"));
  ASSERT_TRUE(std::holds_alternative<AppUpdate>(r));
  const AppUpdate& u = std::get<AppUpdate>(r);
  EXPECT_FALSE(u.rollback_to.has_value());
  EXPECT_EQ(u.app.instances, 5);
  EXPECT_EQ(u.app.labels, current.labels);
  EXPECT_EQ(u.app.port_definitions[0].port, 10001);
  EXPECT_EQ(u.app.version, 1000);
  EXPECT_FALSE(is_upgrade(current, u.app));

  auto labels = std::get<AppUpdate>(apply_update(current, model_test_json(R"({"labels":{"b":"2"}})")));
  EXPECT_EQ(labels.app.labels.size(), 1u);
  EXPECT_TRUE(is_upgrade(current, labels.app));

  auto ports = std::get<AppUpdate>(apply_update(current, model_test_json(R"({"ports":[0,0]})")));
  EXPECT_EQ(ports.app.port_definitions.size(), 2u);

  auto args = std::get<AppUpdate>(apply_update(current, model_test_json(R"({"args":["a"]})")));
  EXPECT_FALSE(args.app.cmd.has_value());
  EXPECT_TRUE(is_upgrade(current, args.app));

  auto bridge = std::get<AppUpdate>(apply_update(current, model_test_json(
      R"({"networks":[{"mode":"container/bridge"}],"container":{"type":"DOCKER","docker":{"image":"nginx"}}})")));
  EXPECT_TRUE(bridge.app.port_definitions.empty());
}

TEST(ModelUpdate, VersionOnlyIsRollbackAndInvalidUpdatesChangeNothing) {
  App current = parse_ok(R"({"id":"/a","cmd":"x"})");
  auto rb = std::get<AppUpdate>(apply_update(current, model_test_json(R"({"version":"2020-10-01T12:00:00.000Z"})")));
  EXPECT_EQ(rb.rollback_to, std::optional<Timestamp>(1601553600000));
  auto bad_version = apply_update(current, model_test_json(R"({"version":"yesterday"})"));
  ASSERT_TRUE(std::holds_alternative<ApiError>(bad_version));
  EXPECT_TRUE(has_error(std::get<ApiError>(bad_version), "/version", "'yesterday'"));

  auto bad = apply_update(current, model_test_json(R"({"cpus":0,"mem":"lots"})"));
  ASSERT_TRUE(std::holds_alternative<ApiError>(bad));
  EXPECT_EQ(errors_at(std::get<ApiError>(bad), "/mem"), std::vector<std::string>{"error.expected.jsnumber"});
  auto other_id = apply_update(current, model_test_json(R"({"id":"/b","cpus":2})"));
  ASSERT_TRUE(std::holds_alternative<ApiError>(other_id));
  EXPECT_TRUE(has_error(std::get<ApiError>(other_id), "/id", "does not match"));
  auto with_version = std::get<AppUpdate>(
      apply_update(current, model_test_json(R"({"cpus":2,"version":"2020-10-01T12:00:00.000Z"})")));
  EXPECT_FALSE(with_version.rollback_to.has_value());
  EXPECT_DOUBLE_EQ(with_version.app.cpus, 2);
}

TEST(ModelUpgrade, OnlyInstancesAndVersionsAreNotUpgrades) {
  App a = parse_ok(R"({"id":"/a","cmd":"x"})");
  App b = a;
  b.instances = 7;
  b.version = 99;
  b.last_scaling_at = 99;
  EXPECT_FALSE(is_upgrade(a, b));
  for (auto change : std::vector<std::function<void(App&)>>{
           [](App& x) { x.cmd = "y"; }, [](App& x) { x.env["K"] = "v"; }, [](App& x) { x.cpus = 2; },
           [](App& x) { x.labels["l"] = "v"; }, [](App& x) { x.constraints.push_back({"hostname", "UNIQUE", {}}); },
           [](App& x) { x.health_checks.push_back(HealthCheck{}); }, [](App& x) { x.role = "r"; },
           [](App& x) { x.kill_selection = "OLDEST_FIRST"; }, [](App& x) { x.unreachable_strategy.disabled = true; },
           [](App& x) { x.upgrade_strategy.minimum_health_capacity = 0.5; },
           [](App& x) { x.port_definitions[0].port = 10000; }, [](App& x) { x.dependencies.push_back("/b"); }}) {
    App c = a;
    change(c);
    EXPECT_TRUE(is_upgrade(a, c));
  }
}

TEST(ModelErrors, BodiesHaveMarathonsShape) {
  ApiError syntax = invalid_json_syntax("Unexpected character ('}' (code 125))");
  EXPECT_EQ(syntax.status, 400);
  EXPECT_EQ(json_serialize(syntax.body), R"j({"details":"Unexpected character ('}' (code 125))","message":"Invalid JSON"})j");
  ApiError obj = invalid_object({{"/cpus", "a"}, {"/cpus", "b"}, {"/mem", "c"}});
  EXPECT_EQ(json_serialize(obj.body),
            R"({"details":[{"errors":["a","b"],"path":"/cpus"},{"errors":["c"],"path":"/mem"}],)"
            R"("message":"Object is not valid"})");
  EXPECT_EQ(json_serialize(api_error(404, "App '/x' does not exist").body), R"({"message":"App '/x' does not exist"})");
}

}  // namespace
}  // namespace stoa::services
