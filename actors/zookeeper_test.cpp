// The parts of the ZooKeeper client (actors/zookeeper.hpp) that need no
// server: URLs and error names. Tests against a real server are in
// tests/zookeeper_test.cpp.
#include "actors/zookeeper.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <caf/error.hpp>
#include <caf/sec.hpp>
#include <gtest/gtest.h>

namespace stoa::zookeeper {
namespace {

TEST(ZooKeeperUrl, ParsesServersAndPath) {
  Try<Url> url = parse_url("zk://10.0.0.1:2181,zk2.example.com:2182/mesos");
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->servers, (std::vector<std::string>{"10.0.0.1:2181", "zk2.example.com:2182"}));
  EXPECT_EQ(url->path, "/mesos");
  EXPECT_EQ(url->connect_string(), "10.0.0.1:2181,zk2.example.com:2182");
  EXPECT_EQ(url->text(), "zk://10.0.0.1:2181,zk2.example.com:2182/mesos");
}

TEST(ZooKeeperUrl, ParsesNestedAndRootPaths) {
  Try<Url> nested = parse_url("zk://h:1/a/b/c");
  ASSERT_TRUE(nested) << nested.error();
  EXPECT_EQ(nested->path, "/a/b/c");
  Try<Url> root = parse_url("zk://h:65535/");
  ASSERT_TRUE(root) << root.error();
  EXPECT_EQ(root->path, "/");
}

// Each bad URL is refused with an error quoting it and naming the fault.
TEST(ZooKeeperUrl, RefusesBadUrlsNamingTheFault) {
  struct Case {
    std::string url;
    std::string fault;
  };
  for (const Case& c : std::vector<Case>{
           {"http://h:2181/mesos", "does not start with zk://"},
           {"h:2181/mesos", "does not start with zk://"},
           {"zk://h:2181", "has no path"},
           {"zk:///mesos", "empty server"},
           {"zk://h:2181,/mesos", "empty server"},
           {"zk://h/mesos", "server 'h' is not host:port"},
           {"zk://:2181/mesos", "server ':2181' is not host:port"},
           {"zk://h:0/mesos", "port '0'"},
           {"zk://h:65536/mesos", "port '65536'"},
           {"zk://h:21x/mesos", "port '21x'"},
           {"zk://h:/mesos", "port ''"},
           {"zk://u:p@h:2181/mesos", "credentials"},
           {"zk://h:2181/mesos/", "ends with '/'"},
           {"zk://h:2181/a//b", "empty, '.' or '..'"},
           {"zk://h:2181/a/../b", "empty, '.' or '..'"},
       }) {
    Try<Url> url = parse_url(c.url);
    ASSERT_TRUE(url.is_error()) << c.url << " was accepted";
    EXPECT_NE(url.error().find("'" + c.url + "'"), std::string::npos) << url.error();
    EXPECT_NE(url.error().find(c.fault), std::string::npos) << c.url << ": " << url.error();
  }
}

class ZooKeeperUrlFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/stoa-zk-url-XXXXXX";
    int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path_ = tmpl;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  std::string path_;
};

TEST_F(ZooKeeperUrlFile, ReadsTheUrlFromTheFile) {
  write("  zk://127.0.0.1:2181/mesos\n");
  Try<Url> url = parse_url("file://" + path_);
  ASSERT_TRUE(url) << url.error();
  EXPECT_EQ(url->text(), "zk://127.0.0.1:2181/mesos");
}

TEST_F(ZooKeeperUrlFile, NamesTheFileWhenItsUrlIsBad) {
  write("zk://127.0.0.1/mesos\n");
  Try<Url> url = parse_url("file://" + path_);
  ASSERT_TRUE(url.is_error());
  EXPECT_NE(url.error().find("not host:port"), std::string::npos) << url.error();
  EXPECT_NE(url.error().find(path_), std::string::npos) << url.error();
}

TEST_F(ZooKeeperUrlFile, RefusesAFileHoldingAFileUrl) {
  write("file://" + path_);
  Try<Url> url = parse_url("file://" + path_);
  ASSERT_TRUE(url.is_error());
  EXPECT_NE(url.error().find("another file:// URL"), std::string::npos) << url.error();
}

TEST(ZooKeeperUrlFileMissing, NamesTheMissingFile) {
  Try<Url> url = parse_url("file:///nonexistent/stoa-zk-url");
  ASSERT_TRUE(url.is_error());
  EXPECT_NE(url.error().find("cannot read '/nonexistent/stoa-zk-url'"), std::string::npos) << url.error();
  Try<Url> relative = parse_url("file://relative/path");
  ASSERT_TRUE(relative.is_error());
  EXPECT_NE(relative.error().find("absolute"), std::string::npos) << relative.error();
}

TEST(ZooKeeperErrors, NamesCodesAndReadsThemBackFromOtherErrors) {
  EXPECT_EQ(zookeeper_error_name(-101), "ZNONODE");
  EXPECT_EQ(zookeeper_error_name(-110), "ZNODEEXISTS");
  EXPECT_EQ(zookeeper_error_name(-12345), "error -12345");
  EXPECT_EQ(zookeeper_error_code(caf::make_error(caf::sec::runtime_error, "not from ZooKeeper")), 0);
}

}  // namespace
}  // namespace stoa::zookeeper
