#include "apps/services/ui_routes.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace stoa::services {
namespace {

namespace fs = std::filesystem;

http::Request ui_get(const std::string& path) {
  http::Request req;
  req.method = "GET";
  req.path = path;
  return req;
}

std::string ui_header(const http::Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) {
      return v;
    }
  }
  return "";
}

std::string ui_read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(UiRoutesTest, RootAndUiServeIndexHtmlAsOnDisk) {
  std::string index = ui_read_file(fs::path(STOA_SERVICES_UI_DIR) / "index.html");
  ASSERT_FALSE(index.empty());
  for (const char* path : {"/", "/ui", "/ui/", "/ui/index.html"}) {
    http::Response r = ui_response(ui_get(path));
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.content_type, "text/html; charset=utf-8") << path;
    EXPECT_EQ(r.body, index) << path;
    EXPECT_EQ(ui_header(r, "Cache-Control"), "no-cache");
    EXPECT_EQ(ui_header(r, "ETag").size(), 18u) << ui_header(r, "ETag");
  }
}

TEST(UiRoutesTest, EveryFileOfTheFolderIsEmbeddedWithItsType) {
  size_t on_disk = 0;
  for (const auto& entry : fs::recursive_directory_iterator(STOA_SERVICES_UI_DIR)) {
    if (!entry.is_regular_file() || entry.path().filename().string().front() == '.') {
      continue;
    }
    ++on_disk;
    std::string rel = fs::relative(entry.path(), STOA_SERVICES_UI_DIR).generic_string();
    http::Response r = ui_response(ui_get("/ui/" + rel));
    EXPECT_EQ(r.status, 200) << rel;
    EXPECT_EQ(r.body, ui_read_file(entry.path())) << rel;
    if (rel.size() > 3 && rel.substr(rel.size() - 3) == ".js") {
      EXPECT_EQ(r.content_type, "text/javascript") << rel;
    }
  }
  EXPECT_EQ(ui_files().size(), on_disk);
  EXPECT_GE(on_disk, 3u);
}

TEST(UiRoutesTest, MatchingIfNoneMatchIs304WithoutBody) {
  http::Response first = ui_response(ui_get("/ui/app.js"));
  ASSERT_EQ(first.status, 200);
  std::string etag = ui_header(first, "ETag");
  http::Request again = ui_get("/ui/app.js");
  again.headers["if-none-match"] = "\"0000000000000000\", W/" + etag;
  http::Response r = ui_response(again);
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(ui_header(r, "ETag"), etag);
  again.headers["if-none-match"] = "\"0000000000000000\"";
  EXPECT_EQ(ui_response(again).status, 200);
}

TEST(UiRoutesTest, UnknownFilesAre404AndDotSegments400) {
  http::Response missing = ui_response(ui_get("/ui/nope.js"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("nope.js"), std::string::npos) << missing.body;
  EXPECT_EQ(ui_response(ui_get("/ui/../ui_routes.cpp")).status, 400);
  EXPECT_EQ(ui_response(ui_get("/ui/./app.js")).status, 400);
  EXPECT_EQ(ui_response(ui_get("/ui//app.js")).status, 400);
  EXPECT_EQ(ui_response(ui_get(std::string("/ui/app.js\0x", 12))).status, 400);
  EXPECT_EQ(ui_response(ui_get("/v2/apps")).status, 404);
}

TEST(UiRoutesTest, TheMastersStyleSheetIsSharedUnderUiMaster) {
  // The page links /ui/master/style.css (webui/app/style.css from the master's
  // embedded files) before its own additions.
  http::Response css = ui_response(ui_get("/ui/master/style.css"));
  ASSERT_EQ(css.status, 200) << css.body;
  EXPECT_EQ(css.content_type.rfind("text/css", 0), 0u) << css.content_type;
  std::ifstream in(STOA_SOURCE_DIR "/webui/app/style.css");
  std::stringstream master;
  master << in.rdbuf();
  EXPECT_EQ(css.body, master.str());
  http::Response index = ui_response(ui_get("/"));
  EXPECT_LT(index.body.find("/ui/master/style.css"), index.body.find("/ui/style.css"));
  EXPECT_EQ(ui_response(ui_get("/ui/master/nope.css")).status, 404);
  EXPECT_EQ(ui_response(ui_get("/ui/master/../style.css")).status, 400);
}

TEST(UiRoutesTest, RoutesCoverRootUiAndThePrefix) {
  std::vector<http::Route> routes = ui_routes();
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_EQ(routes[0].path, "/");
  EXPECT_FALSE(routes[0].prefix);
  EXPECT_EQ(routes[1].path, "/ui");
  EXPECT_EQ(routes[2].path, "/ui/");
  EXPECT_TRUE(routes[2].prefix);
  for (const http::Route& r : routes) {
    EXPECT_TRUE(static_cast<bool>(r.handler));
    EXPECT_FALSE(r.help.empty());
  }
}

// embed.cmake with another namespace, symbol prefix and header (how the page
// above is embedded) names them all and nothing of the master's.
TEST(UiRoutesTest, EmbedScriptTakesAnotherNamespaceAndPrefix) {
  fs::path dir = fs::temp_directory_path() /
                 ("stoa-ui-embed-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(dir / "app" / "sub");
  std::ofstream(dir / "app" / "sub" / "a.txt") << "AB";
  fs::path out = dir / "out.cpp";
  std::string cmd = std::string("'") + STOA_CMAKE_COMMAND + "' -DAPP_DIR='" + (dir / "app").string() +
                    "' -DOUTPUT='" + out.string() +
                    "' -DNAMESPACE=my::ns -DSYMBOL_PREFIX=my_prefix -DHEADER=my/header.hpp "
                    "-DSOURCE_NAME=my/folder -P '" + STOA_EMBED_SCRIPT + "' > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::string text = ui_read_file(out);
  EXPECT_NE(text.find("from my/folder: do not edit"), std::string::npos) << text;
  EXPECT_NE(text.find("#include \"my/header.hpp\""), std::string::npos) << text;
  EXPECT_NE(text.find("const unsigned char my_prefix_file_0[] = {0x41,0x42,0};"), std::string::npos) << text;
  EXPECT_NE(text.find("{\"sub/a.txt\", my_prefix_file_0, 2,"), std::string::npos) << text;
  EXPECT_NE(text.find("namespace my::ns {"), std::string::npos) << text;
  EXPECT_NE(text.find("}  // namespace my::ns"), std::string::npos) << text;
  EXPECT_EQ(text.find("stoa_webui"), std::string::npos) << text;
  EXPECT_EQ(text.find("stoa::webui"), std::string::npos) << text;
  // A prefix that is not an identifier is refused.
  std::string bad = std::string("'") + STOA_CMAKE_COMMAND + "' -DAPP_DIR='" + (dir / "app").string() +
                    "' -DOUTPUT='" + (dir / "bad.cpp").string() + "' -DSYMBOL_PREFIX='1 x' -P '" +
                    STOA_EMBED_SCRIPT + "' > /dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_FALSE(fs::exists(dir / "bad.cpp"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace stoa::services
