// render(): what each HAPROXY_{n}_* label renders, bad label values, and
// template overrides by label, file and environment.

#include <gtest/gtest.h>

#include "apps/lb/render.hpp"
#include "apps/lb/render_test_support.hpp"

namespace stoa::lb {
namespace {

using render_testing::has_line;
using render_testing::make_app;
using render_testing::make_check;
using render_testing::section;
using render_testing::test_options;

Rendered render_one(std::map<std::string, std::string> labels, int tasks = 1,
                    std::vector<HealthCheck> checks = {}, const Templates& templates = Templates(),
                    RenderOptions options = test_options()) {
  labels["HAPROXY_GROUP"] = "external";
  App app = make_app("/app", {10001}, std::move(labels), tasks);
  app.health_checks = std::move(checks);
  return render({app}, templates, options);
}

TEST(RenderLabels, BindAddrPortOptionsAndSslCert) {
  Rendered r = render_one({{"HAPROXY_0_BIND_ADDR", "127.0.0.2"},
                           {"HAPROXY_0_PORT", "10500"},
                           {"HAPROXY_0_BIND_OPTIONS", "maxconn 10"},
                           {"HAPROXY_0_SSL_CERT", "/c/x.pem"}});
  EXPECT_EQ(section(r.config, "frontend app_10500"),
            (std::vector<std::string>{"  bind 127.0.0.2:10500 ssl crt /c/x.pem maxconn 10",
                                      "  mode tcp", "  use_backend app_10500"}));
  EXPECT_EQ(r.backends.count("app_10500"), 1u);
}

TEST(RenderLabels, ModeDefaultsAndExplicitLabelWins) {
  EXPECT_TRUE(has_line(section(render_one({}).config, "backend app_10001"), "  mode tcp"));
  EXPECT_TRUE(
      has_line(section(render_one({{"HAPROXY_0_VHOST", "a.com"}}).config, "backend app_10001"),
               "  mode http"));
  // An HTTP check on the port makes it http...
  Rendered http_check = render_one({}, 1, {make_check("HTTP", 0, "/hc")});
  std::vector<std::string> backend = section(http_check.config, "backend app_10001");
  EXPECT_TRUE(has_line(backend, "  mode http"));
  EXPECT_TRUE(has_line(backend, "  option httpchk GET /hc"));
  EXPECT_TRUE(has_line(backend, "  timeout check 5s"));
  EXPECT_TRUE(has_line(
      backend, "  server agent1_10_0_0_1_31000 10.0.0.1:31000 id 7306 check inter 10s fall 3"));
  // ...but an explicit MODE label wins (and the check becomes a tcp one).
  Rendered tcp = render_one({{"HAPROXY_0_MODE", "TCP"}}, 1, {make_check("HTTP", 0, "/hc")});
  backend = section(tcp.config, "backend app_10001");
  EXPECT_TRUE(has_line(backend, "  mode tcp"));
  EXPECT_FALSE(has_line(backend, "  option httpchk GET /hc"));
  EXPECT_TRUE(has_line(
      backend, "  server agent1_10_0_0_1_31000 10.0.0.1:31000 id 7306 check inter 10s fall 3"));
  // MESOS_HTTP on the port does not switch the mode by itself.
  EXPECT_TRUE(has_line(
      section(render_one({}, 1, {make_check("MESOS_HTTP", 0)}).config, "backend app_10001"),
      "  mode tcp"));
}

TEST(RenderLabels, HealthCheckPortIndexForcesHttpAndUsesTheOtherPort) {
  App app = make_app("/hc", {10001, 10002},
                     {{"HAPROXY_GROUP", "external"},
                      {"HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX", "1"},
                      {"HAPROXY_0_MODE", "tcp"}},
                     2);
  app.health_checks.push_back(make_check("MESOS_HTTP", 1));
  Rendered r = render({app}, Templates(), test_options());
  std::vector<std::string> backend = section(r.config, "backend hc_10001");
  EXPECT_TRUE(has_line(backend, "  mode http"));
  EXPECT_TRUE(has_line(backend, "  option httpchk GET /"));
  EXPECT_TRUE(has_line(
      backend,
      "  server agent1_10_0_0_1_31000 10.0.0.1:31000 id 7306 check inter 10s fall 3 port 31001"));
  EXPECT_TRUE(has_line(
      backend,
      "  server agent2_10_0_0_2_31100 10.0.0.2:31100 id 18367 check inter 10s fall 3 port 31101"));
}

TEST(RenderLabels, HealthCheckPortIndexMayNameAnUnpublishedPort) {
  App app = make_app("/hc", {10001, 10002},
                     {{"HAPROXY_GROUP", "external"},
                      {"HAPROXY_1_GROUP", "internal"},
                      {"HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX", "1"}});
  app.health_checks.push_back(make_check("HTTP", 1, "/ready"));
  Rendered r = render({app}, Templates(), test_options());
  EXPECT_EQ(r.backends.count("hc_10002"), 0u);
  EXPECT_TRUE(has_line(
      section(r.config, "backend hc_10001"),
      "  server agent1_10_0_0_1_31000 10.0.0.1:31000 id 7306 check inter 10s fall 3 port 31001"));
}

TEST(RenderLabels, HealthCheckWithExplicitPort) {
  HealthCheck check = make_check("TCP", 0);
  check.port_index.reset();
  check.port = 8181;
  Rendered r = render_one({}, 1, {check});
  EXPECT_TRUE(has_line(
      section(r.config, "backend app_10001"),
      "  server agent1_10_0_0_1_31000 10.0.0.1:31000 id 7306 check inter 10s fall 3 port 8181"));
}

TEST(RenderLabels, BalanceStickyAndHsts) {
  Rendered r = render_one({{"HAPROXY_0_VHOST", "a.com"},
                           {"HAPROXY_0_BALANCE", "leastconn"},
                           {"HAPROXY_0_STICKY", "true"},
                           {"HAPROXY_0_USE_HSTS", "yes"}});
  EXPECT_EQ(section(r.config, "backend app_10001"),
            (std::vector<std::string>{
                "  balance leastconn", "  mode http",
                "  http-response set-header Strict-Transport-Security \"max-age=15768000\"",
                "  option forwardfor", "  http-request set-header X-Forwarded-Port %[dst_port]",
                "  http-request add-header X-Forwarded-Proto https if { ssl_fc }",
                "  cookie mesosphere_server_id insert indirect nocache",
                "  server agent1_10_0_0_1_31000 10.0.0.1:31000 id 7306 check cookie 85e33450c0"}));
}

TEST(RenderLabels, RedirectToHttps) {
  Rendered r = render_one({{"HAPROXY_0_VHOST", "a.com"}, {"HAPROXY_0_REDIRECT_TO_HTTPS", "true"}});
  EXPECT_EQ(section(r.config, "frontend marathon_http_in"),
            (std::vector<std::string>{
                "  bind 127.0.0.1:18080", "  mode http", "  option idle-close-on-response", "  acl host_a_com_app hdr(host),field(1,:) -i a.com",
                "  use_backend app_10001 if host_a_com_app",
                "  redirect scheme https code 301 if !{ ssl_fc } host_a_com_app"}));
  Rendered with_path = render_one({{"HAPROXY_0_VHOST", "a.com"},
                                   {"HAPROXY_0_REDIRECT_TO_HTTPS", "true"},
                                   {"HAPROXY_0_PATH", "/p"}});
  EXPECT_EQ(section(with_path.config, "frontend marathon_http_in"),
            (std::vector<std::string>{
                "  bind 127.0.0.1:18080", "  mode http", "  option idle-close-on-response", "  acl host_a_com_app hdr(host),field(1,:) -i a.com",
                "  acl path_app_10001 path_beg /p",
                "  redirect scheme https code 301 if !{ ssl_fc } host_a_com_app path_app_10001"}));
}

TEST(RenderLabels, AuthRendersUserlistAndHttpAuth) {
  Rendered r =
      render_one({{"HAPROXY_0_VHOST", "a.com"}, {"HAPROXY_0_AUTH", "My Realm:alice:$6$x$y"}});
  EXPECT_EQ(section(r.config, "userlist user_app_10001"),
            (std::vector<std::string>{"  user alice password $6$x$y"}));
  EXPECT_EQ(section(r.config, "frontend marathon_http_in"),
            (std::vector<std::string>{
                "  bind 127.0.0.1:18080", "  mode http", "  option idle-close-on-response", "  acl host_a_com_app hdr(host),field(1,:) -i a.com",
                "  acl auth_a_com_app http_auth(user_app_10001)",
                "  http-request auth realm \"My Realm\" if host_a_com_app !auth_a_com_app",
                "  use_backend app_10001 if host_a_com_app"}));
  EXPECT_TRUE(
      has_line(section(r.config, "frontend marathon_https_in"),
               "  http-request auth realm \"My Realm\" if { ssl_fc_sni a.com } !auth_a_com_app"));
}

TEST(RenderLabels, NetworkAllowedAcl) {
  Rendered tcp = render_one({{"HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8  192.168.1.1"}});
  EXPECT_EQ(section(tcp.config, "backend app_10001"),
            (std::vector<std::string>{
                "  balance roundrobin", "  mode tcp", "  acl network_allowed src 10.0.0.0/8",
                "  acl network_allowed src 192.168.1.1",
                "  tcp-request content accept if network_allowed", "  tcp-request content reject",
                "  server agent1_10_0_0_1_31000 10.0.0.1:31000 id 7306"}));
  Rendered http = render_one(
      {{"HAPROXY_0_MODE", "http"}, {"HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8"}});
  std::vector<std::string> backend = section(http.config, "backend app_10001");
  EXPECT_TRUE(has_line(backend, "  http-request allow if network_allowed"));
  EXPECT_TRUE(has_line(backend, "  http-request deny"));
}

TEST(RenderLabels, ProxyPassRevProxyAndRedirInHaproxy2Syntax) {
  Rendered r = render_one({{"HAPROXY_0_VHOST", "a.com"},
                           {"HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH", "/api"},
                           {"HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH", "/root"},
                           {"HAPROXY_0_HTTP_BACKEND_REDIR", "/home"}});
  std::vector<std::string> backend = section(r.config, "backend app_10001");
  EXPECT_TRUE(has_line(backend, "  http-request set-header Host a.com"));
  EXPECT_TRUE(has_line(backend, "  http-request replace-path ^/api/?(.*) /\\1"));
  EXPECT_TRUE(has_line(backend, "  acl hdr_location res.hdr(Location) -m found"));
  EXPECT_TRUE(has_line(backend,
                       "  http-response replace-header Location ^(https?://a.com(:[0-9]+)?)?(/.*)$ "
                       "/root\\3 if hdr_location"));
  EXPECT_TRUE(has_line(backend, "  acl is_domain hdr(host),field(1,:) -i a.com"));
  EXPECT_TRUE(has_line(backend, "  redirect code 301 location /home if is_domain is_root"));
  EXPECT_EQ(r.config.find("reqirep"), std::string::npos);
  EXPECT_EQ(r.config.find("rspirep"), std::string::npos);
}

TEST(RenderLabels, BadValuesLeaveThePortOutWithANamedWarning) {
  struct Case {
    std::string label, value, why;
  };
  for (const Case& c : std::vector<Case>{
           {"MODE", "udp", "is not tcp or http"},
           {"PORT", "http", "is not a port number"},
           {"PORT", "70000", "is not a port number"},
           {"AUTH", "realm-only", "is not realm:user:encrypted-password"},
           {"BACKEND_WEIGHT", "heavy", "is not an integer"},
           {"BACKEND_HEALTHCHECK_PORT_INDEX", "-1", "is not a port index"},
           {"VHOST", "a.com,,b.com", "is not a comma list of host names"},
           {"BACKEND_NETWORK_ALLOWED_ACL", "everyone", "is not a space-separated"},
           {"HTTP_BACKEND_PROXYPASS_PATH", "api", "is not a path starting with '/'"},
           {"BIND_ADDR", "1.2.3.4 extra", "is not an address"},
           {"BALANCE", "roundrobin\n  server evil 1.2.3.4:1", "contains a line break"}}) {
    App bad = make_app("/web", {10001, 10002},
                       {{"HAPROXY_GROUP", "external"}, {"HAPROXY_1_" + c.label, c.value}});
    App good = make_app("/other", {10003}, {{"HAPROXY_GROUP", "external"}});
    Rendered r = render({bad, good}, Templates(), test_options());
    ASSERT_EQ(r.warnings.size(), 1u) << c.label;
    EXPECT_EQ(r.warnings[0].rfind(
                  "app /web port 1: HAPROXY_1_" + c.label + " '" + c.value + "' " + c.why, 0),
              0u)
        << r.warnings[0];
    EXPECT_EQ(r.backends.count("web_10001"), 1u) << c.label;  // the other port of the app stays
    EXPECT_EQ(r.backends.count("web_10002"), 0u) << c.label;
    EXPECT_EQ(r.backends.count("other_10003"), 1u) << c.label;
    EXPECT_EQ(r.config.find("evil"), std::string::npos);
  }
}

TEST(RenderLabels, TemplateOverrideByLabel) {
  Rendered r = render_one(
      {{"HAPROXY_0_BACKEND_HEAD",
        "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n  # mine\n"},
       {"HAPROXY_0_BACKEND_SERVER_OPTIONS", "  server {serverName} {host_ipv4}:{port} weight 5\n"},
       {"HAPROXY_0_FRONTEND_BACKEND_GLUE", "  default_backend {backend}\n"}});
  EXPECT_EQ(section(r.config, "backend app_10001"),
            (std::vector<std::string>{"  balance roundrobin", "  mode tcp", "  # mine",
                                      "  server agent1_10_0_0_1_31000 10.0.0.1:31000 weight 5"}));
  EXPECT_TRUE(has_line(section(r.config, "frontend app_10001"), "  default_backend app_10001"));
}

TEST(RenderLabels, BrokenLabelTemplateLeavesThePortOutNamingTheLabel) {
  Rendered r = render_one({{"HAPROXY_0_BACKEND_HEAD", "backend {backend}\n  balance {balanse}\n"}});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "app /app port 0: HAPROXY_BACKEND_HEAD: unknown placeholder '{balanse}' (from label "
            "HAPROXY_0_BACKEND_HEAD); left out");
  EXPECT_TRUE(r.backends.empty());
  EXPECT_EQ(r.config.find("app_10001"), std::string::npos);
}

TEST(RenderLabels, TemplateOverrideFromEnvironmentAndBrokenGlobalFallsBack) {
  Try<Templates> t =
      Templates::load("/nonexistent-stoa-dir",
                      {{"HAPROXY_BACKEND_HEAD", "\nbackend {backend}\n  mode {mode}\n  # env\n"},
                       {"HAPROXY_HTTPS_FRONTEND_HEAD", "\nfrontend marathon_https_in {nope}\n"}});
  ASSERT_TRUE(t);
  Rendered r = render_one({}, 1, {}, *t);
  EXPECT_TRUE(has_line(section(r.config, "backend app_10001"), "  # env"));
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            "HAPROXY_HTTPS_FRONTEND_HEAD: unknown placeholder '{nope}'; using the default "
            "HAPROXY_HTTPS_FRONTEND_HEAD");
  EXPECT_TRUE(has_line(section(r.config, "frontend marathon_https_in"), "  mode http"));
}

TEST(RenderLabels, SslCertLabelOfAVhostJoinsTheHttpsFrontend) {
  RenderOptions o = test_options();
  o.ssl_certs = {"/c/a.pem", "/c/b.pem"};
  Rendered r = render_one({{"HAPROXY_0_VHOST", "a.com"}, {"HAPROXY_0_SSL_CERT", "/c/own.pem"}}, 1,
                          {}, Templates(), o);
  EXPECT_TRUE(has_line(section(r.config, "frontend marathon_https_in"),
                       "  bind 127.0.0.1:18443 ssl crt /c/a.pem crt /c/b.pem crt /c/own.pem"));
}

TEST(RenderLabels, OnlyTheFirstHttpPortOfAnAppGetsAppIdRouting) {
  App app = make_app(
      "/two", {10001, 10002},
      {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_MODE", "http"}, {"HAPROXY_1_MODE", "http"}});
  Rendered r = render({app}, Templates(), test_options());
  EXPECT_EQ(section(r.config, "frontend marathon_http_appid_in"),
            (std::vector<std::string>{"  bind 127.0.0.1:19091", "  mode http", "  option idle-close-on-response",
                                      "  acl app__two hdr(x-marathon-app-id) -i /two",
                                      "  use_backend two_10001 if app__two"}));
}

}  // namespace
}  // namespace stoa::lb
