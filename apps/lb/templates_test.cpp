#include "apps/lb/templates.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace stoa::lb {
namespace {

TEST(FormatTemplate, ReplacesNamesAndDoubledBraces) {
  Try<std::string> out =
      format_template("acl {name} if {{ ssl_fc }} x{n}y}}", {{"name", "host_a"}, {"n", "1"}});
  ASSERT_TRUE(out) << out.error();
  EXPECT_EQ(*out, "acl host_a if { ssl_fc } x1y}");
}

TEST(FormatTemplate, IgnoresUnusedVariables) {
  Try<std::string> out = format_template("plain", {{"unused", "x"}});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "plain");
}

TEST(FormatTemplate, UnknownPlaceholderIsNamed) {
  Try<std::string> out =
      format_template("backend {backend}\n  balance {balanse}\n", {{"backend", "b"}});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), "unknown placeholder '{balanse}'");
}

TEST(FormatTemplate, UnbalancedBracesAreErrors) {
  Try<std::string> open = format_template("if { ssl_fc", {});
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error(), "unbalanced '{' at offset 3");
  Try<std::string> close = format_template("a } b", {});
  ASSERT_FALSE(close);
  EXPECT_NE(close.error().find("single '}' at offset 2"), std::string::npos);
}

TEST(FormatTemplate, PythonFormatSpecsAndPositionalsAreRefused) {
  for (const char* text : {"{}", "{0}", "{a.b}", "{a!r}", "{a:>4}", "{a[0]}"}) {
    Try<std::string> out = format_template(text, {{"a", "x"}});
    ASSERT_FALSE(out) << text;
    EXPECT_NE(out.error().find("unsupported placeholder"), std::string::npos) << text;
  }
}

TEST(ExpandTemplate, RawTemplatesKeepSingleBraces) {
  // marathon-lb uses BACKEND_HTTP_OPTIONS verbatim: `{ ssl_fc }` stays.
  Try<std::string> out = expand_template("HAPROXY_BACKEND_HTTP_OPTIONS",
                                         "  x if { ssl_fc } {backend}\n", {{"backend", "b"}});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, "  x if { ssl_fc } {backend}\n");
  Try<std::string> head =
      expand_template("HAPROXY_HEAD", "bind 0.0.0.0:{statsPort} {other}", {{"statsPort", "9"}});
  ASSERT_TRUE(head);
  EXPECT_EQ(*head, "bind 0.0.0.0:9 {other}");
}

TEST(ExpandTemplate, FormattedTemplateErrorsNameTheTemplate) {
  Try<std::string> out = expand_template("HAPROXY_BACKEND_HEAD", "backend {nope}", {});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), "HAPROXY_BACKEND_HEAD: unknown placeholder '{nope}'");
}

TEST(TemplateCatalogue, HasMarathonLbNamesWithTheirVariables) {
  std::set<std::string> names;
  for (const TemplateInfo& t : template_catalogue()) {
    EXPECT_TRUE(names.insert(t.name).second) << "duplicate " << t.name;
    EXPECT_EQ(t.name.rfind("HAPROXY_", 0), 0u) << t.name;
    EXPECT_FALSE(t.help.empty()) << t.name;
    // Every default expands with its declared variables only.
    std::map<std::string, std::string> vars;
    for (const std::string& v : t.variables) {
      vars[v] = "x";
    }
    Try<std::string> out = expand_template(t.name, t.default_text, vars);
    EXPECT_TRUE(out) << t.name << ": " << (out ? "" : out.error());
  }
  for (const char* name : {"HAPROXY_HEAD",
                           "HAPROXY_HTTP_FRONTEND_HEAD",
                           "HAPROXY_HTTP_FRONTEND_APPID_HEAD",
                           "HAPROXY_HTTPS_FRONTEND_HEAD",
                           "HAPROXY_FRONTEND_HEAD",
                           "HAPROXY_BACKEND_HEAD",
                           "HAPROXY_BACKEND_SERVER_OPTIONS",
                           "HAPROXY_HTTP_FRONTEND_ACL",
                           "HAPROXY_HTTPS_FRONTEND_ACL",
                           "HAPROXY_HTTP_FRONTEND_APPID_ACL",
                           "HAPROXY_MAP_HTTP_FRONTEND_ACL",
                           "HAPROXY_USERLIST_HEAD",
                           "HAPROXY_BACKEND_HSTS_OPTIONS",
                           "HAPROXY_HTTP_BACKEND_PROXYPASS_GLUE",
                           "HAPROXY_HTTP_BACKEND_REVPROXY_GLUE",
                           "HAPROXY_HTTP_BACKEND_REDIR",
                           "HAPROXY_BACKEND_HTTP_HEALTHCHECK_OPTIONS",
                           "HAPROXY_BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS",
                           "HAPROXY_TCP_BACKEND_ACL_ALLOW_DENY",
                           "HAPROXY_HTTPS_GROUPED_VHOST_FRONTEND_HEAD"}) {
    EXPECT_NE(find_template(name), nullptr) << name;
  }
  const TemplateInfo* server = find_template("HAPROXY_BACKEND_SERVER_OPTIONS");
  ASSERT_NE(server, nullptr);
  EXPECT_TRUE(server->per_service);
  EXPECT_EQ(server->variables,
            (std::vector<std::string>{"host", "host_ipv4", "port", "serverName", "serverId",
                                      "cookieOptions", "healthCheckOptions", "otherOptions"}));
  EXPECT_FALSE(find_template("HAPROXY_HEAD")->per_service);
  EXPECT_EQ(find_template("HAPROXY_NOPE"), nullptr);
}

TEST(TemplateCatalogue, DefaultsUseHaproxy2Syntax) {
  for (const TemplateInfo& t : template_catalogue()) {
    for (const char* removed : {"rspadd", "rspirep", "reqirep", "reqadd", "reqrep", "rsprep"}) {
      EXPECT_EQ(t.default_text.find(removed), std::string::npos) << t.name << " uses " << removed;
    }
  }
  const Templates defaults;
  const std::string& head = defaults.get("HAPROXY_HEAD");
  EXPECT_NE(head.find("stats socket {runDir}/socket expose-fd listeners level admin\n"),
            std::string::npos);
  EXPECT_EQ(head.find("daemon"), std::string::npos);
  EXPECT_NE(head.find("  option dontlognull\n  option http-server-close\n  option redispatch\n"),
            std::string::npos);
  // Reloads fail no request on kept-alive connections (docs/benchmarks.md):
  // set on the HTTP frontends, not in defaults (HAProxy warns about it on
  // every TCP frontend).
  EXPECT_EQ(head.find("idle-close-on-response"), std::string::npos);
  for (const char* name : {"HAPROXY_HTTP_FRONTEND_HEAD", "HAPROXY_HTTP_FRONTEND_APPID_HEAD",
                           "HAPROXY_HTTPS_FRONTEND_HEAD"}) {
    EXPECT_NE(Templates().get(name).find("  option idle-close-on-response\n"), std::string::npos)
        << name;
  }
}

class TemplatesLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/stoa-lb-templates-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
  }
  std::string dir_;
};

TEST_F(TemplatesLoadTest, FileThenEnvironmentOverride) {
  write("HAPROXY_BACKEND_HEAD", "from file {backend}\n");
  write("HAPROXY_FRONTEND_HEAD", "frontend file\n");
  write("NOT_A_TEMPLATE", "ignored");
  Try<Templates> t =
      Templates::load(dir_, {{"HAPROXY_FRONTEND_HEAD", "frontend env\n"}, {"PATH", "/bin"}});
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->get("HAPROXY_BACKEND_HEAD"), "from file {backend}\n");
  EXPECT_EQ(t->get("HAPROXY_FRONTEND_HEAD"), "frontend env\n");
  EXPECT_EQ(t->get("HAPROXY_USERLIST_HEAD"), Templates().get("HAPROXY_USERLIST_HEAD"));
}

TEST_F(TemplatesLoadTest, MissingDirectoryGivesTheDefaults) {
  Try<Templates> t = Templates::load(dir_ + "/missing", {});
  ASSERT_TRUE(t);
  EXPECT_EQ(t->get("HAPROXY_BACKEND_HEAD"), Templates().get("HAPROXY_BACKEND_HEAD"));
}

TEST_F(TemplatesLoadTest, UnreadableFileIsAnErrorNamingIt) {
  std::filesystem::create_directory(dir_ +
                                    "/HAPROXY_BACKEND_HEAD");  // a directory cannot be read as text
  Try<Templates> t = Templates::load(dir_, {});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().find("HAPROXY_BACKEND_HEAD"), std::string::npos) << t.error();
}

TEST_F(TemplatesLoadTest, GlobalDefaultOptionsFromEnvironment) {
  Try<Templates> t = Templates::load(
      dir_, {{"HAPROXY_GLOBAL_DEFAULT_OPTIONS", "redispatch, httplog ,redispatch"}});
  ASSERT_TRUE(t);
  const std::string& head = t->get("HAPROXY_HEAD");
  EXPECT_NE(head.find("  option httplog\n  option redispatch\nlisten stats\n"), std::string::npos)
      << head;
  EXPECT_EQ(head.find("dontlognull"), std::string::npos);
}

TEST(Templates, LabelOverridesPerServiceTemplatesOnlyForItsPort) {
  Templates t;
  std::map<std::string, std::string> labels = {
      {"HAPROXY_1_BACKEND_HEAD", "custom\n"},
      {"HAPROXY_0_HTTP_FRONTEND_HEAD", "not per service\n"}};
  EXPECT_EQ(t.get("HAPROXY_BACKEND_HEAD", labels, 1), "custom\n");
  EXPECT_EQ(t.get("HAPROXY_BACKEND_HEAD", labels, 0), t.get("HAPROXY_BACKEND_HEAD"));
  EXPECT_EQ(t.get("HAPROXY_HTTP_FRONTEND_HEAD", labels, 0), t.get("HAPROXY_HTTP_FRONTEND_HEAD"));
  // HAPROXY_{n}_HTTP_BACKEND_REDIR is the redirect path, not a template.
  EXPECT_EQ(t.get("HAPROXY_HTTP_BACKEND_REDIR", {{"HAPROXY_0_HTTP_BACKEND_REDIR", "/x"}}, 0),
            t.get("HAPROXY_HTTP_BACKEND_REDIR"));
}

}  // namespace
}  // namespace stoa::lb

namespace stoa::lb {
namespace {

// docs/lb-templates.md documents every template of the catalogue.
TEST(TemplateCatalogue, EveryTemplateIsDocumented) {
  // The source tree this binary was built from.
  const std::filesystem::path doc = std::filesystem::path(STOA_SOURCE_DIR) / "docs" / "lb-templates.md";
  ASSERT_TRUE(std::filesystem::exists(doc)) << doc << " does not exist";
  std::ifstream in(doc);
  std::stringstream text;
  text << in.rdbuf();
  for (const TemplateInfo& t : template_catalogue()) {
    EXPECT_NE(text.str().find("### `" + t.name + "`"), std::string::npos)
        << t.name << " missing from " << doc;
  }
}

}  // namespace
}  // namespace stoa::lb
