// render(): which apps, ports and servers are published, and the shape of
// the configuration (head, shared frontends, names, order).

#include "apps/lb/render.hpp"

#include <gtest/gtest.h>

#include "apps/lb/render_internal.hpp"
#include "apps/lb/render_test_support.hpp"

namespace stoa::lb {
namespace {

using render_testing::has_line;
using render_testing::make_app;
using render_testing::make_check;
using render_testing::make_task;
using render_testing::section;
using render_testing::test_options;

TEST(Render, HeadHasStatsSocketStatsPageAndNoDaemon) {
  RenderOptions o = test_options();
  o.run_dir = "/run/lbx";
  Rendered r = render({}, Templates(), o);
  std::vector<std::string> global = section(r.config, "global");
  EXPECT_TRUE(has_line(global, "  stats socket /run/lbx/socket expose-fd listeners level admin"));
  EXPECT_TRUE(has_line(global, "  server-state-file /run/lbx/server-state"));
  EXPECT_FALSE(has_line(global, "  maxconn 50000"));  // derived by HAProxy from its fd limit
  o.maxconn = 4000;
  EXPECT_TRUE(has_line(section(render({}, Templates(), o).config, "global"), "  maxconn 4000"));
  EXPECT_FALSE(has_line(global, "  daemon"));
  std::vector<std::string> stats = section(r.config, "listen stats");
  EXPECT_TRUE(has_line(stats, "  bind 0.0.0.0:19090"));
  EXPECT_TRUE(has_line(stats, "  stats enable"));
  EXPECT_TRUE(has_line(stats, "  stats uri /haproxy?stats"));
  EXPECT_TRUE(has_line(stats, "  monitor-uri /_haproxy_health_check"));
  EXPECT_TRUE(
      has_line(stats, "  http-request use-service prometheus-exporter if { path /metrics }"));
  // No Lua directory: no Lua services.
  EXPECT_EQ(r.config.find("lua"), std::string::npos);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(Render, LuaServicesWhenLuaDirIsSet) {
  RenderOptions o = test_options();
  o.lua_dir = "/run/lbx/lua";
  o.config_dir = "/etc/lbx";
  Rendered r = render({}, Templates(), o);
  std::vector<std::string> global = section(r.config, "global");
  EXPECT_TRUE(has_line(global, "  lua-load /run/lbx/lua/getpids.lua"));
  EXPECT_TRUE(has_line(global, "  lua-load /run/lbx/lua/getconfig.lua"));
  EXPECT_TRUE(has_line(global, "  setenv STOA_LB_CONFIG_DIR /etc/lbx"));
  EXPECT_TRUE(has_line(global, "  lua-load /run/lbx/lua/signalmlb.lua"));
  EXPECT_EQ(r.config.find("STOA_LB_PID"), std::string::npos) << "no pid given, none rendered";
  std::vector<std::string> stats = section(r.config, "listen stats");
  EXPECT_TRUE(
      has_line(stats, "  http-request use-service lua.getpids if { path /_haproxy_getpids }"));
  EXPECT_TRUE(
      has_line(stats, "  http-request use-service lua.getconfig if { path /_haproxy_getconfig }"));
  EXPECT_TRUE(
      has_line(stats, "  http-request use-service lua.signalmlbhup if { path /_mlb_signal/hup }"));
  EXPECT_TRUE(
      has_line(stats, "  http-request use-service lua.signalmlbusr1 if { path /_mlb_signal/usr1 }"));
  o.lb_pid = 4242;
  EXPECT_TRUE(has_line(section(render({}, Templates(), o).config, "global"), "  setenv STOA_LB_PID 4242"));
}

TEST(Render, CustomHeadWithDaemonFallsBackToDefaultWithWarning) {
  Templates t;
  t.set("HAPROXY_HEAD", "global\n  daemon\n  stats socket /x expose-fd listeners\n");
  Rendered r = render({}, t, test_options());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("daemon"), std::string::npos);
  EXPECT_EQ(r.config.find("daemon"), std::string::npos);
  t.set("HAPROXY_HEAD", "global\n  maxconn 7\n  stats socket /x expose-fd listeners\n");
  r = render({}, t, test_options());
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.config.rfind("global\n  maxconn 7\n", 0), 0u);
}

TEST(Render, TcpServicePortFrontendBackendAndServers) {
  std::vector<App> apps = {make_app("/group/db", {10001}, {{"HAPROXY_GROUP", "external"}}, 2)};
  Rendered r = render(apps, Templates(), test_options());
  EXPECT_EQ(
      section(r.config, "frontend group_db_10001"),
      (std::vector<std::string>{"  bind *:10001", "  mode tcp", "  use_backend group_db_10001"}));
  EXPECT_EQ(section(r.config, "backend group_db_10001"),
            (std::vector<std::string>{"  balance roundrobin", "  mode tcp",
                                      "  server agent1_10_0_0_1_31000 10.0.0.1:31000 id 7306",
                                      "  server agent2_10_0_0_2_31100 10.0.0.2:31100 id 18367"}));
  EXPECT_EQ(r.backends.at("group_db_10001"),
            (std::vector<std::string>{"agent1_10_0_0_1_31000", "agent2_10_0_0_2_31100"}));
  // tcp mode: nothing in the app-id frontend.
  EXPECT_TRUE(section(r.config, "frontend marathon_http_appid_in") ==
              (std::vector<std::string>{"  bind 127.0.0.1:19091", "  mode http", "  option idle-close-on-response"}));
}

TEST(Render, ServerNameIsIpPortWhenHostIsTheIp) {
  App app = make_app("/a", {10001}, {{"HAPROXY_GROUP", "external"}}, 0);
  app.tasks.push_back(make_task("a.1", "10.1.2.3", "10.1.2.3", {4000}));
  Rendered r = render({app}, Templates(), test_options());
  EXPECT_EQ(r.backends.at("a_10001"), (std::vector<std::string>{"10_1_2_3_4000"}));
}

TEST(Render, GroupFiltering) {
  std::vector<App> apps = {
      make_app("/ext", {10001}, {{"HAPROXY_GROUP", "external"}}),
      make_app("/int", {10002}, {{"HAPROXY_GROUP", "internal,other"}}),
      make_app("/both", {10003}, {{"HAPROXY_GROUP", "a,external"}}),
      make_app("/none", {10004}, {}),
      // Port 0 in internal, port 1 falls back to the app group.
      make_app("/mixed", {10005, 10006},
               {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_GROUP", "internal"}}),
  };
  RenderOptions o = test_options();
  Rendered r = render(apps, Templates(), o);
  std::vector<std::string> names;
  for (const auto& [name, servers] : r.backends) {
    names.push_back(name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"both_10003", "ext_10001", "mixed_10006"}));
  o.groups = {"internal"};
  r = render(apps, Templates(), o);
  EXPECT_EQ(r.backends.size(), 2u);
  EXPECT_EQ(r.backends.count("int_10002"), 1u);
  EXPECT_EQ(r.backends.count("mixed_10005"), 1u);
  o.groups = {"*"};
  r = render(apps, Templates(), o);
  EXPECT_EQ(r.backends.size(), 6u);  // "*" includes /none
  o.groups = {};
  r = render(apps, Templates(), o);
  EXPECT_TRUE(r.backends.empty());
}

TEST(Render, StrictModeNeedsEnabledLabel) {
  std::vector<App> apps = {
      make_app("/on", {10001}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_ENABLED", "true"}}),
      make_app("/off", {10002}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_ENABLED", "false"}}),
      make_app("/unset", {10003}, {{"HAPROXY_GROUP", "external"}}),
  };
  RenderOptions o = test_options();
  EXPECT_EQ(render(apps, Templates(), o).backends.size(), 3u);
  o.strict_mode = true;
  Rendered r = render(apps, Templates(), o);
  ASSERT_EQ(r.backends.size(), 1u);
  EXPECT_EQ(r.backends.count("on_10001"), 1u);
}

TEST(Render, TaskStateFiltering) {
  App app = make_app("/s", {10001}, {{"HAPROXY_GROUP", "external"}}, 0);
  int i = 0;
  for (const char* state :
       {"TASK_RUNNING", "TASK_LOST", "TASK_UNREACHABLE", "TASK_STAGING", "TASK_STARTING",
        "TASK_KILLING", "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_DROPPED",
        "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"}) {
    app.tasks.push_back(make_task(state, "h", "10.0.0.1", {5000 + i++}, std::string(state)));
  }
  app.tasks.push_back(make_task("nostate", "h", "10.0.0.1", {6000}, std::nullopt));
  Rendered r = render({app}, Templates(), test_options());
  EXPECT_EQ(r.backends.at("s_10001"),
            (std::vector<std::string>{"h_10_0_0_1_5000", "h_10_0_0_1_5001", "h_10_0_0_1_5002",
                                      "h_10_0_0_1_6000"}));
}

TEST(Render, TasksWithoutHostOrIpAreSkippedAndAppWithoutServersIsLeftOut) {
  App app = make_app("/x", {10001}, {{"HAPROXY_GROUP", "external"}}, 0);
  app.tasks.push_back(make_task("a", "", "10.0.0.1", {5000}));
  app.tasks.push_back(make_task("b", "host", "", {5001}));
  Rendered r = render({app}, Templates(), test_options());
  EXPECT_TRUE(r.backends.empty());
  EXPECT_EQ(r.config.find("x_10001"), std::string::npos);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(Render, HealthFilteringOnlyWithHealthCheckOptionAndChecks) {
  App app = make_app("/h", {10001}, {{"HAPROXY_GROUP", "external"}}, 3);
  app.tasks[0].healthy = true;
  app.tasks[1].healthy = false;
  app.tasks[2].healthy = std::nullopt;
  RenderOptions o = test_options();
  o.health_check = true;
  // No health checks on the app: every task.
  EXPECT_EQ(render({app}, Templates(), o).backends.at("h_10001").size(), 3u);
  app.health_checks.push_back(make_check("TCP", 0));
  EXPECT_EQ(render({app}, Templates(), o).backends.at("h_10001"),
            (std::vector<std::string>{"agent1_10_0_0_1_31000"}));
  o.health_check = false;
  EXPECT_EQ(render({app}, Templates(), o).backends.at("h_10001").size(), 3u);
}

TEST(Render, TaskPortsPairWithServicePortsInOrder) {
  App app = make_app("/p", {10001, 10002, 10003}, {{"HAPROXY_GROUP", "external"}}, 0);
  app.tasks.push_back(make_task("t", "h", "10.0.0.9", {7001, 7002}));  // one port short
  Rendered r = render({app}, Templates(), test_options());
  EXPECT_EQ(r.backends.at("p_10001"), (std::vector<std::string>{"h_10_0_0_9_7001"}));
  EXPECT_EQ(r.backends.at("p_10002"), (std::vector<std::string>{"h_10_0_0_9_7002"}));
  EXPECT_EQ(r.backends.count("p_10003"), 0u);
}

TEST(Render, AServicePortOfZeroIsLeftOutWithAWarning) {
  App app = make_app("/ipt", {0, 10002}, {{"HAPROXY_GROUP", "external"}}, 0);
  app.tasks.push_back(make_task("t", "h", "10.0.0.9", {7001, 7002}));
  Rendered r = render({app}, Templates(), test_options());
  EXPECT_EQ(r.backends.count("ipt_0"), 0u);
  EXPECT_EQ(r.backends.at("ipt_10002"), (std::vector<std::string>{"h_10_0_0_9_7002"}));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("app /ipt port 0"), std::string::npos) << r.warnings[0];
  EXPECT_EQ(r.config.find(":0\n"), std::string::npos);
}

TEST(Render, ContainerModeUsesContainerPorts) {
  App app = make_app("/c", {10001}, {{"HAPROXY_GROUP", "external"}}, 0);
  app.mode = NetworkingMode::Container;
  app.container_ports = {8080};
  app.tasks.push_back(make_task("t", "agent", "172.17.0.5", {}));
  Rendered r = render({app}, Templates(), test_options());
  EXPECT_EQ(r.backends.at("c_10001"), (std::vector<std::string>{"agent_172_17_0_5_8080"}));
}

TEST(Render, DrainingServerIsDisabled) {
  App app = make_app("/d", {10001}, {{"HAPROXY_GROUP", "external"}}, 2);
  app.tasks[1].draining = true;
  Rendered r = render({app}, Templates(), test_options());
  std::vector<std::string> backend = section(r.config, "backend d_10001");
  EXPECT_TRUE(has_line(backend, "  server agent1_10_0_0_1_31000 10.0.0.1:31000 id 7306"));
  EXPECT_TRUE(has_line(backend, "  server agent2_10_0_0_2_31100 10.0.0.2:31100 id 18367 disabled"));
}

TEST(Render, DeterministicWhateverTheInputOrder) {
  std::vector<App> apps = {
      make_app("/b", {10002}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "b.com"}}, 3),
      make_app("/a", {10001}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "a.com"}}, 2)};
  Rendered first = render(apps, Templates(), test_options());
  std::swap(apps[0], apps[1]);
  std::reverse(apps[0].tasks.begin(), apps[0].tasks.end());
  Rendered second = render(apps, Templates(), test_options());
  EXPECT_EQ(first.config, second.config);
  EXPECT_LT(first.config.find("frontend a_10001"), first.config.find("frontend b_10002"));
  EXPECT_LT(first.config.find("backend a_10001"), first.config.find("backend b_10002"));
}

TEST(Render, RenderSubsetKeepsOnlyTheGivenApps) {
  std::vector<App> apps = {make_app("/a", {10001}, {{"HAPROXY_GROUP", "external"}}),
                           make_app("/b", {10002}, {{"HAPROXY_GROUP", "external"}}),
                           make_app("/c", {10003}, {{"HAPROXY_GROUP", "external"}})};
  Rendered r = render_subset(apps, {2, 0, 7}, Templates(), test_options());
  EXPECT_EQ(r.backends.size(), 2u);
  EXPECT_EQ(r.backends.count("b_10002"), 0u);
}

TEST(Render, VhostAclsOrderedByBackendWeight) {
  std::vector<App> apps = {
      make_app("/root", {10001}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "x.com"}}),
      make_app("/api", {10002},
               {{"HAPROXY_GROUP", "external"},
                {"HAPROXY_0_VHOST", "x.com"},
                {"HAPROXY_0_PATH", "/api"}}),
      make_app("/heavy", {10003},
               {{"HAPROXY_GROUP", "external"},
                {"HAPROXY_0_VHOST", "x.com"},
                {"HAPROXY_0_PATH", "/h"},
                {"HAPROXY_0_BACKEND_WEIGHT", "10"}}),
  };
  Rendered r = render(apps, Templates(), test_options());
  EXPECT_EQ(section(r.config, "frontend marathon_http_in"),
            (std::vector<std::string>{
                "  bind 127.0.0.1:18080", "  mode http", "  option idle-close-on-response",
                "  acl host_x_com_heavy hdr(host),field(1,:) -i x.com", "  acl path_heavy_10003 path_beg /h",
                "  use_backend heavy_10003 if host_x_com_heavy path_heavy_10003",
                "  acl host_x_com_api hdr(host),field(1,:) -i x.com", "  acl path_api_10002 path_beg /api",
                "  use_backend api_10002 if host_x_com_api path_api_10002",
                "  acl host_x_com_root hdr(host),field(1,:) -i x.com",
                "  use_backend root_10001 if host_x_com_root"}));
  EXPECT_EQ(section(r.config, "frontend marathon_https_in"),
            (std::vector<std::string>{
                "  bind 127.0.0.1:18443 ssl crt /etc/ssl/cert.pem", "  mode http", "  option idle-close-on-response",
                "  acl path_heavy_10003 path_beg /h",
                "  use_backend heavy_10003 if { ssl_fc_sni x.com } path_heavy_10003",
                "  acl path_api_10002 path_beg /api",
                "  use_backend api_10002 if { ssl_fc_sni x.com } path_api_10002",
                "  use_backend root_10001 if { ssl_fc_sni x.com }"}));
  EXPECT_EQ(section(r.config, "frontend marathon_http_appid_in"),
            (std::vector<std::string>{"  bind 127.0.0.1:19091", "  mode http", "  option idle-close-on-response",
                                      "  acl app__api hdr(x-marathon-app-id) -i /api",
                                      "  use_backend api_10002 if app__api",
                                      "  acl app__heavy hdr(x-marathon-app-id) -i /heavy",
                                      "  use_backend heavy_10003 if app__heavy",
                                      "  acl app__root hdr(x-marathon-app-id) -i /root",
                                      "  use_backend root_10001 if app__root"}));
}

TEST(Render, SeveralVhostsShareOneAclName) {
  std::vector<App> apps = {
      make_app("/m", {10001}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "A.com, b.com"}})};
  Rendered r = render(apps, Templates(), test_options());
  EXPECT_EQ(section(r.config, "frontend marathon_http_in"),
            (std::vector<std::string>{
                "  bind 127.0.0.1:18080", "  mode http", "  option idle-close-on-response", "  acl host_a_com_m hdr(host),field(1,:) -i a.com",
                "  acl host_a_com_m hdr(host),field(1,:) -i b.com", "  use_backend m_10001 if host_a_com_m"}));
  std::vector<std::string> https = section(r.config, "frontend marathon_https_in");
  EXPECT_TRUE(has_line(https, "  use_backend m_10001 if { ssl_fc_sni a.com }"));
  EXPECT_TRUE(has_line(https, "  use_backend m_10001 if { ssl_fc_sni b.com }"));
}

TEST(Render, DontBindHttpHttpsOmitsSharedFrontendsButKeepsAppId) {
  RenderOptions o = test_options();
  o.dont_bind_http_https = true;
  std::vector<App> apps = {
      make_app("/v", {10001}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "v.com"}})};
  Rendered r = render(apps, Templates(), o);
  EXPECT_EQ(r.config.find("marathon_http_in"), std::string::npos);
  EXPECT_EQ(r.config.find("marathon_https_in"), std::string::npos);
  EXPECT_TRUE(has_line(section(r.config, "frontend marathon_http_appid_in"),
                       "  use_backend v_10001 if app__v"));
}

TEST(Render, HaproxyMapRoutesThroughMapFiles) {
  RenderOptions o = test_options();
  o.haproxy_map = true;
  o.config_dir = "/etc/lbx";
  std::vector<App> apps = {
      make_app("/a", {10001}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "a.com"}}),
      make_app("/b", {10002}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "b.com,c.com"}}),
  };
  Rendered r = render(apps, Templates(), o);
  EXPECT_EQ(r.domain2backend_map, "a.com a_10001\nb.com b_10002\nc.com b_10002\n");
  EXPECT_EQ(r.app2backend_map, "/a a_10001\n/b b_10002\n");
  EXPECT_EQ(
      section(r.config, "frontend marathon_http_in"),
      (std::vector<std::string>{
          "  bind 127.0.0.1:18080", "  mode http", "  option idle-close-on-response",
          "  use_backend %[req.hdr(host),lower,regsub(:.*$,,),map(/etc/lbx/domain2backend.map)]"}));
  EXPECT_EQ(
      section(r.config, "frontend marathon_http_appid_in"),
      (std::vector<std::string>{
          "  bind 127.0.0.1:19091", "  mode http", "  option idle-close-on-response",
          "  use_backend %[req.hdr(x-marathon-app-id),lower,map(/etc/lbx/app2backend.map)]"}));
  EXPECT_TRUE(has_line(section(r.config, "frontend marathon_https_in"),
                       "  use_backend %[ssl_fc_sni,lower,map(/etc/lbx/domain2backend.map)]"));
  o.haproxy_map = false;
  r = render(apps, Templates(), o);
  EXPECT_EQ(r.domain2backend_map, "");
  EXPECT_EQ(r.app2backend_map, "");
}

TEST(Render, GroupHttpsByVhost) {
  RenderOptions o = test_options();
  o.group_https_by_vhost = true;
  o.ssl_certs = {"/c/default.pem"};
  std::vector<App> apps = {
      make_app("/a", {10001},
               {{"HAPROXY_GROUP", "external"},
                {"HAPROXY_0_VHOST", "a.com"},
                {"HAPROXY_0_SSL_CERT", "/c/a.pem"}}),
      make_app("/b", {10002}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "b.com"}})};
  Rendered r = render(apps, Templates(), o);
  EXPECT_EQ(section(r.config, "frontend marathon_https_in"),
            (std::vector<std::string>{"  bind 127.0.0.1:18443", "  mode tcp",
                                      "  tcp-request inspect-delay 5s",
                                      "  tcp-request content accept if { req_ssl_hello_type 1 }",
                                      "  use_backend a_com if { req_ssl_sni -i a.com }",
                                      "  use_backend b_com if { req_ssl_sni -i b.com }"}));
  EXPECT_EQ(section(r.config, "backend a_com"),
            (std::vector<std::string>{"  server loopback-for-tls abns@a_com send-proxy-v2"}));
  EXPECT_EQ(
      section(r.config, "frontend a_com"),
      (std::vector<std::string>{"  mode http", "  bind abns@a_com accept-proxy ssl crt /c/a.pem",
                                "  use_backend a_10001 if { ssl_fc_sni a.com }"}));
  EXPECT_TRUE(has_line(section(r.config, "frontend b_com"),
                       "  bind abns@b_com accept-proxy ssl crt /c/default.pem"));
}

TEST(Render, DuplicateBackendNameIsLeftOutWithWarning) {
  std::vector<App> apps = {make_app("/a/b", {10001}, {{"HAPROXY_GROUP", "external"}}),
                           make_app("/a_b", {10001}, {{"HAPROXY_GROUP", "external"}})};
  Rendered r = render(apps, Templates(), test_options());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].rfind("app /a_b port 0: backend name 'a_b_10001' is already taken", 0),
            0u)
      << r.warnings[0];
  EXPECT_EQ(r.backends.size(), 1u);
}

TEST(RenderHash, MatchesMarathonLbIds) {
  // sha256/sha1 as marathon-lb (Python hashlib) computes them.
  EXPECT_EQ(render_detail::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(render_detail::sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(render_detail::sha256_hex(std::string(100, 'x')).size(), 64u);
  std::set<int> taken;
  EXPECT_EQ(render_detail::server_id("agent1_10_0_0_1_31000", taken), 7306);
  // A collision retries with the digest appended: a different, stable id.
  int again = render_detail::server_id("agent1_10_0_0_1_31000", taken);
  EXPECT_NE(again, 7306);
  std::set<int> fresh = {7306};
  EXPECT_EQ(render_detail::server_id("agent1_10_0_0_1_31000", fresh), again);
  EXPECT_EQ(render_detail::cookie_value("agent1_10_0_0_1_31000"), "85e33450c0");
}

}  // namespace
}  // namespace stoa::lb
