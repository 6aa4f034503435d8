#include "apps/lb/flags.hpp"

#include "apps/lb/templates.hpp"

#include <gtest/gtest.h>

namespace stoa::lb {
namespace {

Try<LbFlags> parse(std::vector<std::string> args, const std::map<std::string, std::string>& env = {}) {
  args.insert(args.begin(), "stoa-lb");
  std::vector<const char*> argv;
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
  }
  return parse_lb_flags(static_cast<int>(argv.size()), argv.data(), env);
}

TEST(LbFlags, DefaultsAreMarathonLbs) {
  Try<LbFlags> f = parse({"--group", "external"});
  ASSERT_TRUE(f.is_some()) << f.error();
  EXPECT_FALSE(f->sse);
  EXPECT_FALSE(f->poll_loop);
  EXPECT_EQ(f->marathon, std::vector<std::string>{"http://master.mesos:8080"});
  EXPECT_EQ(f->groups, std::vector<std::string>{"external"});
  EXPECT_EQ(f->haproxy_config, "/etc/haproxy/haproxy.cfg");
  EXPECT_EQ(f->max_reload_retries, 10);
  EXPECT_EQ(f->reload_interval, std::chrono::seconds(10));
  EXPECT_EQ(f->stats_port, 9090);
  EXPECT_EQ(f->poll_interval, std::chrono::seconds(60));
  EXPECT_EQ(f->max_backoff, std::chrono::seconds(300));
  EXPECT_EQ(f->ssl_certs, std::vector<std::string>{"/etc/ssl/cert.pem"});
}

TEST(LbFlags, ModeWordAndMarathonLbsDockerCommandLine) {
  Try<LbFlags> f = parse({"sse", "--health-check", "--group", "external", "-m", "http://a:8080", "http://b:8080",
                          "--group", "internal", "--dont-bind-http-https", "--strict-mode"});
  ASSERT_TRUE(f.is_some()) << f.error();
  EXPECT_TRUE(f->sse);
  EXPECT_TRUE(f->health_check);
  EXPECT_TRUE(f->dont_bind_http_https);
  EXPECT_TRUE(f->strict_mode);
  EXPECT_EQ(f->marathon, (std::vector<std::string>{"http://a:8080", "http://b:8080"}));
  EXPECT_EQ(f->groups, (std::vector<std::string>{"external", "internal"}));

  Try<LbFlags> poll = parse({"poll", "--group=*", "-H", "-s"});
  ASSERT_TRUE(poll.is_some()) << poll.error();
  EXPECT_TRUE(poll->poll_loop);
  EXPECT_TRUE(poll->sse);
  EXPECT_EQ(poll->groups, std::vector<std::string>{"*"});
}

TEST(LbFlags, ValuesTakeEitherForm) {
  Try<LbFlags> f = parse({"--group", "g", "--max-reload-retries=0", "--reload-interval", "2", "--max-backoff=7",
                          "--min-serv-port-ip-per-task", "20000", "--max-serv-port-ip-per-task=20010",
                          "--ssl-certs", "/a.pem,/b.pem", "--haproxy-config", "/tmp/x/haproxy.cfg", "-c",
                          "systemctl reload haproxy", "--http-port", "8081", "--min-reload-interval", "50",
                          "--log-level", "debug", "--haproxy-map", "--skip-config-cleanup", "--dry"});
  ASSERT_TRUE(f.is_some()) << f.error();
  EXPECT_EQ(f->max_reload_retries, 0);
  EXPECT_EQ(f->reload_interval, std::chrono::seconds(2));
  EXPECT_EQ(f->max_backoff, std::chrono::seconds(7));
  EXPECT_EQ(f->min_serv_port_ip_per_task, 20000);
  EXPECT_EQ(f->max_serv_port_ip_per_task, 20010);
  EXPECT_EQ(f->ssl_certs, (std::vector<std::string>{"/a.pem", "/b.pem"}));
  EXPECT_EQ(f->haproxy_config, "/tmp/x/haproxy.cfg");
  ASSERT_TRUE(f->command.has_value());
  EXPECT_EQ(*f->command, "systemctl reload haproxy");
  EXPECT_EQ(f->http_port, 8081);
  EXPECT_EQ(f->min_reload_interval, std::chrono::milliseconds(50));
  EXPECT_EQ(f->log_level, "DEBUG");
  EXPECT_TRUE(f->haproxy_map);
  EXPECT_TRUE(f->skip_config_cleanup);
  EXPECT_TRUE(f->dry);
}

TEST(LbFlags, UniquePrefixesAreAcceptedAsArgparseDoes) {
  Try<LbFlags> f = parse({"--group", "g", "--health", "--max-reload=3"});
  ASSERT_TRUE(f.is_some()) << f.error();
  EXPECT_TRUE(f->health_check);
  EXPECT_EQ(f->max_reload_retries, 3);
  Try<LbFlags> ambiguous = parse({"--group", "g", "--max"});
  ASSERT_TRUE(ambiguous.is_error());
  EXPECT_NE(ambiguous.error().find("ambiguous option '--max'"), std::string::npos) << ambiguous.error();
}

TEST(LbFlags, EnvironmentOfTheRunScript) {
  Try<LbFlags> f = parse({"--group", "g"}, {{"PORTS", "9190,9191"},
                                            {"POLL_INTERVAL", "5"},
                                            {"FRAMEWORK_NAME", "marathon-lb"},
                                            {"MARATHON_USER", "u"},
                                            {"MARATHON_PASSWORD", "p"}});
  ASSERT_TRUE(f.is_some()) << f.error();
  EXPECT_EQ(f->stats_port, 9190);
  EXPECT_EQ(f->poll_interval, std::chrono::seconds(5));
  EXPECT_EQ(f->framework_name, "marathon-lb");
  ASSERT_TRUE(f->auth_credentials.has_value());
  EXPECT_EQ(*f->auth_credentials, "u:p");
  // The flag wins over the environment.
  Try<LbFlags> flag = parse({"--group", "g", "--auth-credentials", "a:b"}, {{"MARATHON_USER", "u"},
                                                                         {"MARATHON_PASSWORD", "p"}});
  ASSERT_TRUE(flag.is_some()) << flag.error();
  EXPECT_EQ(*flag->auth_credentials, "a:b");
}

void expect_error(const std::vector<std::string>& args, const std::string& text,
                  const std::map<std::string, std::string>& env = {}) {
  Try<LbFlags> f = parse(args, env);
  ASSERT_TRUE(f.is_error()) << "accepted: " << testing::PrintToString(args);
  EXPECT_NE(f.error().find(text), std::string::npos) << f.error();
}

TEST(LbFlags, BadInputIsAnErrorNamingIt) {
  expect_error({"--group", "g", "--foo"}, "unknown option '--foo'");
  expect_error({"--group", "g", "-x"}, "unknown option '-x'");
  expect_error({"--group", "g", "--max-reload-retries", "x"}, "--max-reload-retries: 'x' is not an integer");
  expect_error({"--group", "g", "--reload-interval=-3"}, "--reload-interval: '-3' is out of range");
  expect_error({"--group", "g", "--http-port", "70000"}, "--http-port: '70000' is out of range");
  expect_error({"--group", "g", "--log-level", "LOUD"}, "--log-level: 'LOUD'");
  expect_error({"--group", "g", "-m"}, "--marathon: expected at least one value");
  expect_error({"--group", "g", "-m", "master:8080"}, "'master:8080' is not an http://host[:port] URL");
  expect_error({"--group", "g", "-m", "https://m:8443"}, "https is not supported");
  expect_error({"--group"}, "--group: expected one value");
  expect_error({"--sse"}, "--group is required");
  expect_error({"--group", "g", "stray"}, "unexpected argument 'stray'");
  expect_error({"--group", "g", "sse"}, "the mode word 'sse' must come first");
  expect_error({"--group", "g", "--sse=yes"}, "--sse: takes no value");
  expect_error({"--group", "g", "--auth-credentials", "nopass"}, "'nopass' is not user:password");
  expect_error({"--group", "g", "--min-serv-port-ip-per-task", "300", "--max-serv-port-ip-per-task", "200"},
               "--min-serv-port-ip-per-task 300 is above --max-serv-port-ip-per-task 200");
  expect_error({"--group", "g"}, "PORTS: 'abc' is not an integer", {{"PORTS", "abc"}});
  expect_error({"--group", "g"}, "POLL_INTERVAL: '0' is out of range", {{"POLL_INTERVAL", "0"}});
  expect_error({"--group", "g"}, "MARATHON_USER is set without MARATHON_PASSWORD", {{"MARATHON_USER", "u"}});
}

TEST(LbFlags, HelpDryAndLonghelpNeedNoGroup) {
  for (const char* word : {"--help", "-h", "--longhelp", "--dry"}) {
    Try<LbFlags> f = parse({word});
    ASSERT_TRUE(f.is_some()) << word << ": " << f.error();
  }
  std::string usage = lb_usage("stoa-lb");
  for (const char* name : {"--marathon", "--group", "--health-check", "--dont-bind-http-https", "--http-port",
                           "--max-reload-retries", "PORTS", "POLL_INTERVAL", "SIGUSR1"}) {
    EXPECT_NE(usage.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace stoa::lb

namespace stoa::lb {
namespace {

TEST(LbFlags, LonghelpListsEveryTemplateAndTheLabels) {
  std::string text = lb_longhelp();
  for (const TemplateInfo& t : template_catalogue()) {
    EXPECT_NE(text.find("## " + t.name), std::string::npos) << t.name;
  }
  for (const char* label : {"HAPROXY_GROUP", "HAPROXY_{n}_VHOST", "HAPROXY_{n}_MODE", "HAPROXY_{n}_ENABLED"}) {
    EXPECT_NE(text.find(label), std::string::npos) << label;
  }
}

}  // namespace
}  // namespace stoa::lb
