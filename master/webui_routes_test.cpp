// The web UI's routes: the embedded assets and --webui_dir, through a real
// HTTP server (a Runtime with the routes) and the pure answer function.
#include "master/webui_routes.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "actors/http_test_support.hpp"
#include "actors/runtime.hpp"
#include "webui/assets.hpp"

namespace stoa::master {
namespace {

namespace fs = std::filesystem;

http::Request get(const std::string& path, const std::string& if_none_match = "") {
  http::Request r;
  r.method = "GET";
  r.path = path;
  if (!if_none_match.empty()) {
    r.headers["if-none-match"] = if_none_match;
  }
  return r;
}

std::string header(const http::Response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) {
      return v;
    }
  }
  return {};
}

class WebuiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("stoa-webui-routes-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "ui" / "js");
    std::ofstream(dir_ / "ui" / "index.html") << "<html>from disk</html>";
    std::ofstream(dir_ / "ui" / "js" / "app.js") << "export const x = 1;";
    std::ofstream(dir_ / "secret.txt") << "outside";
    fs::create_symlink(dir_ / "secret.txt", dir_ / "ui" / "escape.txt");
    fs::create_symlink(dir_ / "ui" / "js" / "app.js", dir_ / "ui" / "inside.js");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::optional<std::string> ui() const { return (dir_ / "ui").string(); }

  fs::path dir_;
};

TEST_F(WebuiRoutesTest, EmbeddedIndexAndStaticFilesWithEtags) {
  const webui::Asset* index = webui::find_asset("index.html");
  ASSERT_NE(index, nullptr);
  for (const char* path : {"/", "/static/index.html"}) {
    http::Response r = webui_response(std::nullopt, get(path));
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, index->data);
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(header(r, "ETag"), index->etag);
    EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  }
  // Every asset is served with its type.
  for (const webui::Asset& a : webui::assets()) {
    http::Response r = webui_response(std::nullopt, get("/static/" + std::string(a.path)));
    EXPECT_EQ(r.status, 200) << a.path;
    EXPECT_EQ(r.content_type, a.mime);
    EXPECT_EQ(r.body.size(), a.data.size());
  }
}

TEST_F(WebuiRoutesTest, IfNoneMatchGivesNotModified) {
  std::string etag(webui::find_asset("index.html")->etag);
  for (const std::string& inm : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    http::Response r = webui_response(std::nullopt, get("/", inm));
    EXPECT_EQ(r.status, 304) << inm;
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(header(r, "ETag"), etag);
  }
  EXPECT_EQ(webui_response(std::nullopt, get("/", "\"stale\"")).status, 200);
}

TEST_F(WebuiRoutesTest, UnknownAssetsAre404AndEscapesAre400) {
  EXPECT_EQ(webui_response(std::nullopt, get("/static/missing.js")).status, 404);
  EXPECT_EQ(webui_response(std::nullopt, get("/static/")).status, 404);
  for (const char* path : {"/static/../master/state", "/static/js/../../x", "/static/./index.html",
                           "/static//etc/passwd"}) {
    http::Response r = webui_response(std::nullopt, get(path));
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_NE(r.body.find(path), std::string::npos) << r.body;
    EXPECT_EQ(webui_response(ui(), get(path)).status, 400) << path;
  }
}

TEST_F(WebuiRoutesTest, WebuiDirServesFilesFromDiskPerRequest) {
  http::Response r = webui_response(ui(), get("/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body_file, fs::canonical(dir_ / "ui" / "index.html").string());
  EXPECT_EQ(r.body_file_size, std::string("<html>from disk</html>").size());
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  std::string etag = header(r, "ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(webui_response(ui(), get("/", etag)).status, 304);
  r = webui_response(ui(), get("/static/js/app.js"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/javascript");
  // Read per request: a changed file is seen at once, with a new ETag.
  std::ofstream(dir_ / "ui" / "index.html") << "<html>changed, and longer</html>";
  r = webui_response(ui(), get("/", etag));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(header(r, "ETag"), etag);
  // A symlink inside the directory is fine; one that leads out is not.
  EXPECT_EQ(webui_response(ui(), get("/static/inside.js")).status, 200);
  r = webui_response(ui(), get("/static/escape.txt"));
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.body_file.empty());
  EXPECT_EQ(webui_response(ui(), get("/static/js")).status, 404) << "a directory";
  EXPECT_EQ(webui_response(ui(), get("/static/missing.css")).status, 404);
}

TEST_F(WebuiRoutesTest, ServedByTheRuntime) {
  auto rt = Runtime::start(RuntimeOptions{});
  ASSERT_TRUE(rt.is_some()) << rt.error();
  register_webui_routes(**rt, std::nullopt);
  auto rt_disk = Runtime::start(RuntimeOptions{});
  ASSERT_TRUE(rt_disk.is_some()) << rt_disk.error();
  register_webui_routes(**rt_disk, ui());
  auto fetch = [](uint16_t port, const std::string& request) {
    http_test::RawConn c(port);
    EXPECT_TRUE(c.ok());
    c.send(request);
    return c.read_response();
  };
  // Routes are added asynchronously: poll until / answers.
  std::optional<http_test::RawResponse> r;
  for (auto deadline = std::chrono::steady_clock::now() + http_test::DEADLINE;
       std::chrono::steady_clock::now() < deadline;) {
    r = fetch((*rt)->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    if (r && r->status == 200) {
      break;
    }
  }
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, webui::find_asset("index.html")->data);
  EXPECT_EQ(r->headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(r->headers["cache-control"], "no-cache");
  std::string etag = r->headers["etag"];
  r = fetch((*rt)->port(), "GET /static/index.html HTTP/1.1\r\nHost: x\r\nIf-None-Match: " + etag + "\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 304);
  r = fetch((*rt)->port(), "GET /static/%2e%2e/master/state HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = fetch((*rt)->port(), "GET /static/nope.js HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);

  for (auto deadline = std::chrono::steady_clock::now() + http_test::DEADLINE;
       std::chrono::steady_clock::now() < deadline;) {
    r = fetch((*rt_disk)->port(), "GET /static/js/app.js HTTP/1.1\r\nHost: x\r\n\r\n");
    if (r && r->status == 200) {
      break;
    }
  }
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "export const x = 1;");
  EXPECT_EQ(r->headers["content-type"], "text/javascript");
  r = fetch((*rt_disk)->port(), "GET /static/escape.txt HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body.find("outside\n"), std::string::npos);
  (*rt)->shutdown();
  (*rt_disk)->shutdown();
}

}  // namespace
}  // namespace stoa::master
