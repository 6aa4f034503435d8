// The rendered configuration is accepted by the real HAProxy: `haproxy -c`
// on a rich multi-app example under every rendering mode. (-c parses,
// loads the certificates, maps and Lua scripts, and binds nothing.)

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "apps/lb/lua.hpp"
#include "apps/lb/render.hpp"
#include "apps/lb/render_test_support.hpp"

namespace stoa::lb {
namespace {

using render_testing::make_app;
using render_testing::make_check;
using render_testing::test_options;

const char* const HAPROXY = "/usr/sbin/haproxy";

// A self-signed P-256 certificate and its key (CN=stoa-lb-test, valid until 2126).
const char* const TEST_CERT = R"(-----BEGIN CERTIFICATE-----
MIIBhDCCASugAwIBAgIUSysy2Bjk6Q3gV3C0kbCJilqcVuIwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMc3RvYS1sYi10ZXN0MCAXDTI2MTIwMTE2MzkxMloYDzIxMjYx
MTA3MTYzOTEyWjAXMRUwEwYDVQQDDAxzdG9hLWxiLXRlc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAT5y/o53HXD6Jw/8/39mUMOnjpSAtDrOWd258G4RHaL8U29
kbK0wG0QaaAf2DsFzJCW5/all1v+6bO/xjQGOSqOo1MwUTAdBgNVHQ4EFgQUDXff
RJKcGaW8QkwP8cZW3LVkYpQwHwYDVR0jBBgwFoAUDXffRJKcGaW8QkwP8cZW3LVk
YpQwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiA4JVSmyBo3LXRa
QUD72bzmVLgULFg0mjHLslfEcDZL4wIgNsxHTPBj1vVzv+AX0ytm9RzEVljorpDi
2ZLgErnfz5Q=
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKZ1dPN3mFSq9SyGT
8IcDfKLA9ZTqWgVcPPo1cyTv7S2hRANCAAT5y/o53HXD6Jw/8/39mUMOnjpSAtDr
OWd258G4RHaL8U29kbK0wG0QaaAf2DsFzJCW5/all1v+6bO/xjQGOSqO
-----END PRIVATE KEY-----
)";

class RenderHaproxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(HAPROXY, X_OK) != 0) {
      GTEST_SKIP() << HAPROXY << " is not installed: cannot validate rendered configurations";
    }
    char tmpl[] = "/tmp/stoa-lb-render-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write("cert.pem", TEST_CERT);
    write("other.pem", TEST_CERT);
    ASSERT_FALSE(write_lua_scripts(dir_ + "/lua").has_value());
  }
  void TearDown() override {
    if (!dir_.empty()) {
      std::filesystem::remove_all(dir_);
    }
  }

  void write(const std::string& name, const std::string& text) {
    std::ofstream out(dir_ + "/" + name, std::ios::binary | std::ios::trunc);
    out << text;
  }

  RenderOptions options() {
    RenderOptions o = test_options();
    o.run_dir = dir_;
    o.config_dir = dir_;
    o.lua_dir = dir_ + "/lua";
    o.ssl_certs = {dir_ + "/cert.pem"};
    return o;
  }

  // The rich example: every label family at least once.
  std::vector<App> apps() {
    std::vector<App> out;
    App web = make_app("/web", {20001},
                       {{"HAPROXY_GROUP", "external"},
                        {"HAPROXY_0_VHOST", "Web.Example.com"},
                        {"HAPROXY_0_STICKY", "true"},
                        {"HAPROXY_0_USE_HSTS", "true"},
                        {"HAPROXY_0_REDIRECT_TO_HTTPS", "true"}},
                       3);
    web.health_checks.push_back(make_check("HTTP", 0, "/health"));
    web.tasks[2].draining = true;
    out.push_back(web);
    out.push_back(make_app("/api/v1", {20002},
                           {{"HAPROXY_GROUP", "external"},
                            {"HAPROXY_0_VHOST", "api.example.com,api2.example.com"},
                            {"HAPROXY_0_PATH", "/v1"},
                            {"HAPROXY_0_AUTH", "Users:alice:$5$salt$abcdef"},
                            {"HAPROXY_0_BACKEND_WEIGHT", "5"}},
                           2));
    out.push_back(make_app("/api/admin", {20003},
                           {{"HAPROXY_GROUP", "external"},
                            {"HAPROXY_0_VHOST", "api.example.com"},
                            {"HAPROXY_0_PATH", "/admin"},
                            {"HAPROXY_0_AUTH", "Admins:bob:$5$salt$123456"}}));
    out.push_back(make_app(
        "/multi/plain", {20004},
        {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "a.example.com,b.example.com"}}));
    App db = make_app("/db", {20005, 20006},
                      {{"HAPROXY_GROUP", "external"},
                       {"HAPROXY_0_BACKEND_NETWORK_ALLOWED_ACL", "10.0.0.0/8 127.0.0.1"},
                       {"HAPROXY_0_BALANCE", "leastconn"},
                       {"HAPROXY_0_BIND_ADDR", "127.0.0.1"},
                       {"HAPROXY_1_MODE", "http"},
                       {"HAPROXY_1_BACKEND_NETWORK_ALLOWED_ACL", "192.168.0.0/16"}},
                      2);
    db.health_checks.push_back(make_check("TCP", 0));
    out.push_back(db);
    out.push_back(make_app("/proxy", {20007},
                           {{"HAPROXY_GROUP", "external"},
                            {"HAPROXY_0_VHOST", "proxy.example.com"},
                            {"HAPROXY_0_HTTP_BACKEND_PROXYPASS_PATH", "/p"},
                            {"HAPROXY_0_HTTP_BACKEND_REVPROXY_PATH", "/r"},
                            {"HAPROXY_0_HTTP_BACKEND_REDIR", "/home"},
                            {"HAPROXY_0_BIND_OPTIONS", "maxconn 100"},
                            {"HAPROXY_0_SSL_CERT", dir_ + "/other.pem"}}));
    App hc = make_app(
        "/hcidx", {20008, 20009},
        {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_BACKEND_HEALTHCHECK_PORT_INDEX", "1"}}, 2);
    hc.health_checks.push_back(make_check("MESOS_HTTP", 1, "/ready"));
    out.push_back(hc);
    out.push_back(make_app("/redirpath", {20010},
                           {{"HAPROXY_GROUP", "external"},
                            {"HAPROXY_0_VHOST", "r.example.com"},
                            {"HAPROXY_0_PATH", "/x"},
                            {"HAPROXY_0_REDIRECT_TO_HTTPS", "true"}}));
    out.push_back(
        make_app("/plainvhost", {20011},
                 {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_VHOST", "plain.example.com"}}));
    return out;
  }

  // Runs `haproxy -c -f` on `rendered` (maps written beside it); returns
  // haproxy's output, or "" when it accepted the file.
  std::string check(const Rendered& rendered) {
    write("haproxy.cfg", rendered.config);
    write("domain2backend.map", rendered.domain2backend_map);
    write("app2backend.map", rendered.app2backend_map);
    std::string cmd = std::string(HAPROXY) + " -c -f " + dir_ + "/haproxy.cfg 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
      return "popen failed";
    }
    std::string output;
    char buf[4096];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
      output.append(buf, n);
    }
    int status = ::pclose(p);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      return "";
    }
    return "haproxy -c failed:\n" + output + "\n--- config ---\n" + rendered.config;
  }

  std::string dir_;
};

TEST_F(RenderHaproxyTest, RichExampleIsValid) {
  Rendered r = render(apps(), Templates(), options());
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  EXPECT_EQ(r.backends.size(), 11u);
  EXPECT_EQ(check(r), "");
}

TEST_F(RenderHaproxyTest, RichExampleIsValidWithMaps) {
  RenderOptions o = options();
  o.haproxy_map = true;
  Rendered r = render(apps(), Templates(), o);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_NE(r.domain2backend_map, "");
  EXPECT_NE(r.app2backend_map, "");
  EXPECT_EQ(check(r), "");
}

TEST_F(RenderHaproxyTest, RichExampleIsValidGroupedByVhost) {
  RenderOptions o = options();
  o.group_https_by_vhost = true;
  Rendered r = render(apps(), Templates(), o);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_NE(r.config.find("bind abns@web_example_com accept-proxy ssl"), std::string::npos);
  EXPECT_EQ(check(r), "");
}

TEST_F(RenderHaproxyTest, RichExampleIsValidWithoutSharedFrontendsOrLua) {
  RenderOptions o = options();
  o.dont_bind_http_https = true;
  o.lua_dir = "";
  Rendered r = render(apps(), Templates(), o);
  EXPECT_EQ(r.config.find("marathon_http_in"), std::string::npos);
  EXPECT_EQ(r.config.find("lua-load"), std::string::npos);
  EXPECT_EQ(check(r), "");
}

TEST_F(RenderHaproxyTest, BrokenAppLeavesTheRestValid) {
  std::vector<App> all = apps();
  all.push_back(
      make_app("/bad", {20050}, {{"HAPROXY_GROUP", "external"}, {"HAPROXY_0_MODE", "udp"}}));
  all.push_back(make_app("/badtpl", {20051},
                         {{"HAPROXY_GROUP", "external"},
                          {"HAPROXY_0_BACKEND_HEAD", "backend {backend}\n  balance {nope}\n"}}));
  Rendered r = render(all, Templates(), options());
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.backends.count("bad_20050"), 0u);
  EXPECT_EQ(r.backends.count("badtpl_20051"), 0u);
  EXPECT_EQ(check(r), "");
}

TEST_F(RenderHaproxyTest, Marathon20DirectivesInOverridesAreRejectedByHaproxy26) {
  // marathon-lb's own HSTS template (rspadd) is refused by HAProxy 2.6: a
  // user who copies it into a label gets an invalid configuration, which
  // the balancer's cleanup then drops (docs/lb-templates.md).
  std::vector<App> one = {make_app(
      "/old", {20060},
      {{"HAPROXY_GROUP", "external"},
       {"HAPROXY_0_MODE", "http"},
       {"HAPROXY_0_USE_HSTS", "true"},
       {"HAPROXY_0_BACKEND_HSTS_OPTIONS", "  rspadd  Strict-Transport-Security:\\ max-age=1\n"}})};
  Rendered r = render(one, Templates(), options());
  EXPECT_NE(check(r).find("rspadd"), std::string::npos);
}

}  // namespace
}  // namespace stoa::lb
