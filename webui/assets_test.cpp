#include "webui/assets.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace fs = std::filesystem;

namespace {

std::string read_whole(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every file of webui/app that embed.cmake embeds (no dot files).
std::set<std::string> files_on_disk() {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(STOA_WEBUI_APP_DIR)) {
    if (e.is_regular_file() && e.path().filename().string().front() != '.') {
      out.insert(fs::relative(e.path(), STOA_WEBUI_APP_DIR).generic_string());
    }
  }
  return out;
}

TEST(WebuiAssets, EveryFileOfTheAppIsEmbeddedByteForByte) {
  std::set<std::string> disk = files_on_disk();
  ASSERT_FALSE(disk.empty());
  std::set<std::string> embedded;
  for (const stoa::webui::Asset& a : stoa::webui::assets()) {
    embedded.insert(std::string(a.path));
    EXPECT_EQ(a.data, read_whole(fs::path(STOA_WEBUI_APP_DIR) / std::string(a.path))) << a.path;
    EXPECT_EQ(a.mime, stoa::webui::mime_type(a.path));
  }
  EXPECT_EQ(embedded, disk);
}

TEST(WebuiAssets, FindsByPathWithOrWithoutLeadingSlash) {
  const stoa::webui::Asset* index = stoa::webui::find_asset("index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->path, "index.html");
  EXPECT_EQ(index->mime, "text/html; charset=utf-8");
  EXPECT_NE(index->data.find("<html"), std::string_view::npos);
  EXPECT_EQ(stoa::webui::find_asset("/index.html"), index);
  EXPECT_EQ(stoa::webui::find_asset("missing.js"), nullptr);
  EXPECT_EQ(stoa::webui::find_asset(""), nullptr);
  EXPECT_EQ(stoa::webui::find_asset("../webui/app/index.html"), nullptr);
  EXPECT_EQ(stoa::webui::find_asset("INDEX.HTML"), nullptr);
}

TEST(WebuiAssets, EtagsAreQuotedAndFollowTheContent) {
  std::map<std::string, std::string> by_content;
  for (const stoa::webui::Asset& a : stoa::webui::assets()) {
    ASSERT_EQ(a.etag.size(), 18u) << a.path;
    EXPECT_EQ(a.etag.front(), '"');
    EXPECT_EQ(a.etag.back(), '"');
    auto [it, fresh] = by_content.emplace(std::string(a.data), std::string(a.etag));
    EXPECT_EQ(it->second, a.etag) << "same content, other ETag: " << a.path;
  }
  std::set<std::string> etags;
  for (const auto& [data, etag] : by_content) {
    EXPECT_TRUE(etags.insert(etag).second) << "two contents share ETag " << etag;
  }
}

TEST(WebuiAssets, MimeTypesByExtension) {
  using stoa::webui::mime_type;
  EXPECT_EQ(mime_type("a/b/app.js"), "text/javascript");
  EXPECT_EQ(mime_type("x.mjs"), "text/javascript");
  EXPECT_EQ(mime_type("style.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(mime_type("logo.svg"), "image/svg+xml");
  EXPECT_EQ(mime_type("logo.png"), "image/png");
  EXPECT_EQ(mime_type("data.json"), "application/json");
  EXPECT_EQ(mime_type("app.js.map"), "application/json");
  EXPECT_EQ(mime_type("favicon.ico"), "image/x-icon");
  EXPECT_EQ(mime_type("LICENSE.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(mime_type("LICENSE"), "application/octet-stream");
  EXPECT_EQ(mime_type("dir.d/noext"), "application/octet-stream");
  EXPECT_EQ(mime_type("x.exe"), "application/octet-stream");
}

// The script itself on a directory of awkward files: empty, every byte
// value, nested, and a dot file it must leave out.
TEST(WebuiEmbedScript, GeneratesEveryByteAndSkipsDotFiles) {
  fs::path dir = fs::temp_directory_path() / ("stoa-embed-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "app" / "vendor" / "lib");
  std::ofstream(dir / "app" / "empty.txt").close();
  {
    std::ofstream bytes(dir / "app" / "vendor" / "lib" / "all.bin", std::ios::binary);
    for (int i = 0; i < 256; ++i) {
      bytes.put(static_cast<char>(i));
    }
  }
  std::ofstream(dir / "app" / ".swp") << "secret";
  fs::path out = dir / "out.cpp";
  std::string cmd = std::string("'") + STOA_CMAKE_COMMAND + "' -DAPP_DIR='" + (dir / "app").string() +
                    "' -DOUTPUT='" + out.string() + "' -P '" + STOA_WEBUI_EMBED_SCRIPT + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::string text = read_whole(out);
  EXPECT_NE(text.find("{\"empty.txt\", stoa_webui_file_0, 0,"), std::string::npos) << text;
  EXPECT_NE(text.find("{\"vendor/lib/all.bin\", stoa_webui_file_1, 256,"), std::string::npos);
  EXPECT_NE(text.find("0x00,0x01,0x02,"), std::string::npos);
  EXPECT_NE(text.find("0xfe,0xff,0}"), std::string::npos);
  EXPECT_NE(text.find("*count = 2;"), std::string::npos);
  EXPECT_EQ(text.find(".swp"), std::string::npos);
  EXPECT_EQ(text.find("secret"), std::string::npos);
  // Unchanged input: the file is not rewritten (nothing recompiles).
  auto before = fs::last_write_time(out);
  fs::last_write_time(out, before - std::chrono::hours(1));
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(fs::last_write_time(out), before - std::chrono::hours(1));
  fs::remove_all(dir);
}

}  // namespace
