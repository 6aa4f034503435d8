#include "apps/services/flags.hpp"

#include <gtest/gtest.h>

namespace stoa::services {
namespace {

std::optional<Error> load_services_flags(ServicesFlags& f, std::vector<const char*> args,
                                         std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "stoa-services");
  return f.load(static_cast<int>(args.size()), args.data(), env);
}

void expect_error(std::vector<const char*> args, const std::vector<std::string>& mentions,
                  std::map<std::string, std::string> env = {}) {
  ServicesFlags f;
  std::optional<Error> e = load_services_flags(f, args, env);
  ASSERT_TRUE(e) << "accepted: " << (args.empty() ? "" : args.back());
  for (const std::string& m : mentions) {
    EXPECT_NE(e->message.find(m), std::string::npos) << "'" << m << "' not in: " << e->message;
  }
}

TEST(ServicesFlags, MarathonsCommandLineWithSpaceSeparatedValues) {
  ServicesFlags f;
  std::optional<Error> e =
      load_services_flags(f, {"--master", "zk://127.0.0.1:2181/mesos", "--zk", "zk://127.0.0.1:2181/marathon"});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(f.master, "zk://127.0.0.1:2181/mesos");
  EXPECT_EQ(f.zk, "zk://127.0.0.1:2181/marathon");
  // Marathon's defaults.
  EXPECT_EQ(f.http_port, 8080);
  EXPECT_EQ(f.framework_name, "marathon");
  EXPECT_EQ(f.mesos_role, "*");
  EXPECT_EQ(f.failover_timeout, std::chrono::hours(24 * 7));
  EXPECT_EQ(f.local_port_min, 10000);
  EXPECT_EQ(f.local_port_max, 20000);
  EXPECT_EQ(f.reconciliation_interval, std::chrono::minutes(10));
  EXPECT_EQ(f.max_running_deployments, 100);
  EXPECT_FALSE(f.disable_ha);
  EXPECT_TRUE(f.callback_urls().empty());
  EXPECT_EQ(f.effective_hostname(), "127.0.0.1");
}

TEST(ServicesFlags, AnIpHostnameIsWhereHttpIsServedUnlessHttpAddressSaysOtherwise) {
  // The user's set-up: `--hostname=192.168.154.132` and nothing else must
  // serve http://192.168.154.132:8080 (Marathon binds every address).
  ServicesFlags seed;
  ASSERT_FALSE(load_services_flags(seed, {"--master", "m:5050", "--work_dir=/w", "--hostname=192.168.154.132"}));
  EXPECT_EQ(seed.effective_http_address(), "192.168.154.132");
  EXPECT_EQ(seed.effective_hostname(), "192.168.154.132");
  ServicesFlags named;
  ASSERT_FALSE(load_services_flags(named, {"--master", "m:5050", "--work_dir=/w", "--hostname", "node1.example"}));
  EXPECT_EQ(named.effective_http_address(), "127.0.0.1");
  EXPECT_EQ(named.effective_hostname(), "node1.example");
  ServicesFlags both;
  ASSERT_FALSE(load_services_flags(
      both, {"--master", "m:5050", "--work_dir=/w", "--hostname=10.0.0.1", "--http_address", "127.0.0.2"}));
  EXPECT_EQ(both.effective_http_address(), "127.0.0.2");
  EXPECT_EQ(both.effective_hostname(), "10.0.0.1");
}

TEST(ServicesFlags, DurationsInMarathonsUnitsOrAsStoaDurations) {
  ServicesFlags f;
  std::optional<Error> e = load_services_flags(
      f, {"--master=m:5050", "--work_dir", "/tmp/w", "--failover_timeout", "3600", "--zk_session_timeout", "5000",
          "--task_launch_timeout=2mins", "--reconciliation_interval", "30000"});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(f.failover_timeout, std::chrono::hours(1));
  EXPECT_EQ(f.zk_session_timeout, std::chrono::seconds(5));
  EXPECT_EQ(f.task_launch_timeout, std::chrono::minutes(2));
  EXPECT_EQ(f.reconciliation_interval, std::chrono::seconds(30));
  ServicesFlags g;
  e = load_services_flags(g, {"--master=m:5050", "--work_dir=/w", "--failover_timeout=2weeks"});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(g.failover_timeout, std::chrono::hours(24 * 14));
}

TEST(ServicesFlags, TheEnvironmentAsMarathonOrStoa) {
  ServicesFlags f;
  std::optional<Error> e = load_services_flags(
      f, {"--http_port", "9000"},
      {{"MARATHON_MASTER", "m:5050"}, {"MARATHON_WORK_DIR", "/w"}, {"MARATHON_HTTP_PORT", "1"},
       {"STOA_FRAMEWORK_NAME", "svc"}, {"MARATHON_DISABLE_HA", "true"}, {"MESOS_MESOS_ROLE", "ignored"}});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(f.master, "m:5050");
  EXPECT_EQ(f.http_port, 9000);
  EXPECT_EQ(f.framework_name, "svc");
  EXPECT_TRUE(f.disable_ha);
  EXPECT_EQ(f.mesos_role, "*");
}

TEST(ServicesFlags, RequiredFlagsAndTheStore) {
  expect_error({}, {"--master", "required"});
  expect_error({"--master", "m:5050"}, {"--work_dir", "required without --zk"});
  expect_error({"--master", "m:5050", "--zk", "zk://h:2181/marathon", "--work_dir", "/w"},
               {"--work_dir", "'/w'", "not used with --zk"});
  ServicesFlags f;
  EXPECT_FALSE(load_services_flags(f, {"--master", "m:5050", "--work_dir", "/w"}));
  ServicesFlags help;
  EXPECT_FALSE(load_services_flags(help, {"--help"}));
  EXPECT_TRUE(help.help);
  EXPECT_NE(help.usage("stoa-services").find("--failover_timeout VALUE"), std::string::npos);
}

TEST(ServicesFlags, BadValuesNameTheFlagAndTheValue) {
  expect_error({"--master", "zk://h:2181", "--work_dir=/w"}, {"--master", "zk://h:2181"});
  expect_error({"--master", "m:notaport", "--work_dir=/w"}, {"--master", "m:notaport"});
  expect_error({"--master", "m:5050", "--zk", "zk://nohostport/marathon"}, {"--zk", "zk://nohostport/marathon"});
  expect_error({"--master", "m:5050", "--zk", "http://h:2181/marathon"}, {"--zk", "http://h:2181/marathon"});
  expect_error({"--master", "m:5050", "--zk", "zk://h:2181/"}, {"--zk", "zk://h:2181/"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--http_port", "70000"}, {"--http_port", "70000"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--http_address", "localhost"},
               {"--http_address", "localhost"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--failover_timeout", "soon"},
               {"--failover_timeout", "soon"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--failover_timeout", "0"}, {"--failover_timeout", "positive"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--local_port_min", "30000"},
               {"--local_port_min", "30000", "--local_port_max", "20000"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--local_port_max", "0"}, {"--local_port_max", "'0'"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--event_subscriber", "kafka"},
               {"--event_subscriber", "kafka", "http_callback"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--event_subscriber", "http_callback"},
               {"--event_subscriber", "--http_endpoints"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--event_subscriber", "http_callback", "--http_endpoints",
                "http://a:1/cb,ftp://b/x"},
               {"--http_endpoints", "ftp://b/x"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--http_endpoints", "http://a:1/cb"},
               {"--http_endpoints", "--event_subscriber"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--mesos_role", "a b"}, {"--mesos_role", "a b"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--webui_url", "ui.example"}, {"--webui_url", "ui.example"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--max_running_deployments", "0"},
               {"--max_running_deployments", "'0'"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--bogus", "1"}, {"--bogus"});
  expect_error({"--master", "m:5050", "--work_dir=/w", "--disable_ha", "true"}, {"'true'"});
}

TEST(ServicesFlags, CallbackUrls) {
  ServicesFlags f;
  std::optional<Error> e =
      load_services_flags(f, {"--master", "m:5050", "--work_dir=/w", "--event_subscriber", "http_callback",
                              "--http_endpoints", "http://a:1/cb,http://b/x", "--hostname", "svc1"});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(f.callback_urls(), (std::vector<std::string>{"http://a:1/cb", "http://b/x"}));
  EXPECT_EQ(f.effective_hostname(), "svc1");
}

}  // namespace
}  // namespace stoa::services
