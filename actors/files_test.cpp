// The files service: resolution (prefixes, `..`, symlinks out), reads
// (offsets, -1, past the end, the length cap), browse, download and its
// limit, and the actor's table through real requests.
#include "actors/files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <picojson.h>

#include "common/json.hpp"

namespace files = stoa::files;
namespace http = stoa::http;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A fresh directory, removed at the end.
struct Dir {
  std::string path;
  Dir() {
    std::string templ = (fs::temp_directory_path() / "stoa-files-XXXXXX").string();
    path = ::mkdtemp(templ.data());
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write_file(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

picojson::value parse(const http::Response& r) {
  auto v = stoa::json_parse(r.body);
  EXPECT_TRUE(v.is_some()) << r.body;
  return v.is_some() ? *v : picojson::value();
}

std::string message(const http::Response& r) {
  return parse(r).get("message").to_str();
}

files::Lookup lookup_in(const std::map<std::string, std::string>& table, const std::string& path) {
  auto v = files::normalize_virtual_path(path);
  EXPECT_TRUE(v.is_some()) << path;
  return files::lookup(table, *v);
}

}  // namespace

TEST(FilesPaths, NormalizeRefusesRelativePathsAndTidiesSlashes) {
  EXPECT_EQ(*files::normalize_virtual_path("//a///b/"), "/a/b");
  EXPECT_EQ(*files::normalize_virtual_path("/"), "/");
  auto bad = files::normalize_virtual_path("a/b");
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("'a/b'"), std::string::npos);
}

TEST(FilesPaths, TheLongestAttachedPrefixWinsAtComponentBoundaries) {
  std::map<std::string, std::string> table = {{"/a", "/real/a"}, {"/a/b", "/real/b"}, {"/ab", "/real/ab"}};
  EXPECT_EQ(lookup_in(table, "/a/b/c").real, "/real/b/c");
  EXPECT_EQ(lookup_in(table, "/a/x").real, "/real/a/x");
  EXPECT_EQ(lookup_in(table, "/ab").real, "/real/ab");
  EXPECT_EQ(lookup_in(table, "/a").real, "/real/a");
  EXPECT_EQ(lookup_in(table, "/a/./x").real, "/real/a/x");
  files::Lookup none = lookup_in(table, "/abc");
  EXPECT_EQ(none.status, 404);
  EXPECT_NE(none.message.find("'/abc'"), std::string::npos);
  files::Lookup up = lookup_in(table, "/a/../etc/passwd");
  EXPECT_EQ(up.status, 403);
  EXPECT_NE(up.message.find("'/a/../etc/passwd'"), std::string::npos);
}

TEST(FilesPaths, ModeStringsAreLsStyle) {
  EXPECT_EQ(files::mode_string(S_IFDIR | 0755), "drwxr-xr-x");
  EXPECT_EQ(files::mode_string(S_IFREG | 0640), "-rw-r-----");
  EXPECT_EQ(files::mode_string(S_IFLNK | 0777), "lrwxrwxrwx");
  EXPECT_EQ(files::mode_string(S_IFDIR | 01777), "drwxrwxrwt");
  EXPECT_EQ(files::mode_string(S_IFREG | 04755), "-rwsr-xr-x");
  EXPECT_EQ(files::mode_string(S_IFREG | 04644), "-rwSr--r--");
}

TEST(FilesPaths, ReadRangesNeedAnOffsetAndRefuseBadNumbers) {
  EXPECT_TRUE(files::parse_read_range({}).is_error());
  auto r = files::parse_read_range({{"offset", "-1"}});
  ASSERT_TRUE(r.is_some());
  EXPECT_EQ(r->offset, -1);
  EXPECT_EQ(r->length, -1);
  auto bad = files::parse_read_range({{"offset", "12x"}});
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("'12x'"), std::string::npos);
  EXPECT_TRUE(files::parse_read_range({{"offset", "-2"}}).is_error());
  EXPECT_TRUE(files::parse_read_range({{"offset", "0"}, {"length", "-5"}}).is_error());
  EXPECT_TRUE(files::parse_read_range({{"offset", "99999999999999999999"}}).is_error());
}

TEST(FilesDisk, ASymlinkOutOfTheAttachedDirectoryIs403AndOneInsideIsServed) {
  Dir outside;
  Dir sandbox;
  write_file(outside.path + "/secret", "secret");
  write_file(sandbox.path + "/stdout", "hello\n");
  fs::create_symlink(outside.path + "/secret", sandbox.path + "/escape");
  fs::create_symlink(sandbox.path + "/stdout", sandbox.path + "/inside");
  std::map<std::string, std::string> table = {{"/sandbox", sandbox.path}};

  http::Response escape = files::read(lookup_in(table, "/sandbox/escape"), {{"offset", "0"}}, 65536);
  EXPECT_EQ(escape.status, 403);
  EXPECT_NE(message(escape).find("'/sandbox/escape'"), std::string::npos);
  EXPECT_EQ(files::download(lookup_in(table, "/sandbox/escape")).status, 403);
  EXPECT_EQ(files::browse(lookup_in(table, "/sandbox/escape")).status, 403);

  http::Response inside = files::read(lookup_in(table, "/sandbox/inside"), {{"offset", "0"}}, 65536);
  EXPECT_EQ(inside.status, 200);
  EXPECT_EQ(parse(inside).get("data").to_str(), "hello\n");

  http::Response missing = files::read(lookup_in(table, "/sandbox/nope"), {{"offset", "0"}}, 65536);
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(message(missing).find("'/sandbox/nope'"), std::string::npos);
}

TEST(FilesDisk, ReadsHonourOffsetsLengthsMinusOneTheEndAndTheCap) {
  Dir d;
  write_file(d.path + "/f", "0123456789");
  std::map<std::string, std::string> table = {{"/d", d.path}};
  files::Lookup f = lookup_in(table, "/d/f");

  auto read = [&](std::map<std::string, std::string> q, size_t cap = 65536) {
    http::Response r = files::read(f, q, cap);
    EXPECT_EQ(r.status, 200) << r.body;
    return parse(r);
  };
  picojson::value size = read({{"offset", "-1"}});
  EXPECT_EQ(size.get("offset").get<double>(), 10);
  EXPECT_EQ(size.get("data").to_str(), "");
  picojson::value middle = read({{"offset", "3"}, {"length", "4"}});
  EXPECT_EQ(middle.get("offset").get<double>(), 3);
  EXPECT_EQ(middle.get("data").to_str(), "3456");
  EXPECT_EQ(read({{"offset", "7"}}).get("data").to_str(), "789");
  EXPECT_EQ(read({{"offset", "8"}, {"length", "100"}}).get("data").to_str(), "89");
  picojson::value past = read({{"offset", "50"}});
  EXPECT_EQ(past.get("offset").get<double>(), 10);
  EXPECT_EQ(past.get("data").to_str(), "");
  EXPECT_EQ(read({{"offset", "0"}}, 4).get("data").to_str(), "0123");

  http::Response no_offset = files::read(f, {}, 65536);
  EXPECT_EQ(no_offset.status, 400);
  EXPECT_NE(message(no_offset).find("offset"), std::string::npos);
  http::Response dir = files::read(lookup_in(table, "/d"), {{"offset", "0"}}, 65536);
  EXPECT_EQ(dir.status, 400);
  EXPECT_NE(message(dir).find("'/d'"), std::string::npos);
  EXPECT_EQ(files::download(lookup_in(table, "/d")).status, 400);
}

TEST(FilesDisk, BrowseListsSortedEntriesWithVirtualPathsAndAFileAsItself) {
  Dir d;
  write_file(d.path + "/b.txt", "12345");
  fs::create_directory(d.path + "/a");
  std::map<std::string, std::string> table = {{"/d", d.path}};
  http::Response r = files::browse(lookup_in(table, "/d"));
  ASSERT_EQ(r.status, 200) << r.body;
  const picojson::value listing = parse(r);
  ASSERT_TRUE(listing.is<picojson::array>());
  const picojson::array& entries = listing.get<picojson::array>();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].get("path").to_str(), "/d/a");
  EXPECT_EQ(entries[0].get("mode").to_str().substr(0, 1), "d");
  EXPECT_EQ(entries[1].get("path").to_str(), "/d/b.txt");
  EXPECT_EQ(entries[1].get("size").get<double>(), 5);
  EXPECT_EQ(entries[1].get("mode").to_str().substr(0, 1), "-");
  EXPECT_TRUE(entries[1].get("uid").is<std::string>());
  EXPECT_TRUE(entries[1].get("gid").is<std::string>());
  EXPECT_GT(entries[1].get("mtime").get<double>(), 0);
  EXPECT_GE(entries[1].get("nlink").get<double>(), 1);

  http::Response one = files::browse(lookup_in(table, "/d/b.txt"));
  ASSERT_EQ(one.status, 200);
  const picojson::value single = parse(one);
  ASSERT_TRUE(single.is<picojson::array>());
  EXPECT_EQ(single.get<picojson::array>().size(), 1u);
}

TEST(FilesDisk, DownloadNamesTheResolvedFileAndItsSizeWithADisposition) {
  Dir d;
  std::string bytes;
  for (int i = 0; i < 300000; ++i) {
    bytes.push_back(static_cast<char>(i % 251));
  }
  write_file(d.path + "/big.bin", bytes);
  std::map<std::string, std::string> table = {{"/d", d.path}};
  http::Response r = files::download(lookup_in(table, "/d/big.bin"));
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());  // the HTTP server streams the file
  char resolved[PATH_MAX];
  ASSERT_NE(::realpath((d.path + "/big.bin").c_str(), resolved), nullptr);
  EXPECT_EQ(r.body_file, resolved);
  EXPECT_EQ(r.body_file_size, bytes.size());
  EXPECT_EQ(r.content_type, "application/octet-stream");
  ASSERT_FALSE(r.headers.empty());
  EXPECT_EQ(r.headers[0].second, "attachment; filename=\"big.bin\"");
}

// The actor: attach, serve through workers, detach (real threads).
struct FilesActor : ::testing::Test {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  caf::actor fs_actor = files::spawn_files(sys);
  ~FilesActor() override { self->send_exit(fs_actor, caf::exit_reason::user_shutdown); }

  std::string attach(const std::string& real, const std::string& virtual_path) {
    std::string out = "no answer";
    self->request(fs_actor, 10s, files::attach_atom::value, real, virtual_path)
        .receive([&](const std::string& e) { out = e; }, [&](caf::error& e) { out = caf::to_string(e); });
    return out;
  }
  http::Response serve(const std::string& op, const std::map<std::string, std::string>& query) {
    http::Response out;
    out.status = 0;
    self->request(fs_actor, 10s, files::serve_atom::value, op, query)
        .receive([&](http::Response& r) { out = std::move(r); }, [&](caf::error& e) { out.body = caf::to_string(e); });
    return out;
  }
};

TEST_F(FilesActor, AttachedPathsAreServedListedAndGoneAfterDetach) {
  Dir d;
  write_file(d.path + "/stdout", "line\n");
  EXPECT_EQ(attach(d.path, "/frameworks/f/executors/e/runs/latest"), "");
  EXPECT_NE(attach("relative", "/x").find("'relative'"), std::string::npos);
  EXPECT_NE(attach(d.path, "x").find("'x'"), std::string::npos);

  http::Response r = serve("read", {{"path", "/frameworks/f/executors/e/runs/latest/stdout"}, {"offset", "0"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r).get("data").to_str(), "line\n");
  http::Response debug = serve("debug", {});
  EXPECT_EQ(parse(debug).get("/frameworks/f/executors/e/runs/latest").to_str(), d.path);
  EXPECT_EQ(serve("browse", {}).status, 400);
  EXPECT_EQ(serve("browse", {{"path", "relative"}}).status, 400);

  bool detached = false;
  self->request(fs_actor, 10s, files::detach_atom::value, std::string("/frameworks/f/executors/e/runs/latest"),
                std::string("/elsewhere"))
      .receive([&](bool b) { detached = b; }, [](caf::error&) {});
  EXPECT_FALSE(detached) << "a detach naming another real path leaves the attachment";
  self->request(fs_actor, 10s, files::detach_atom::value, std::string("/frameworks/f/executors/e/runs/latest"))
      .receive([&](bool b) { detached = b; }, [](caf::error&) {});
  EXPECT_TRUE(detached);
  http::Response gone = serve("read", {{"path", "/frameworks/f/executors/e/runs/latest/stdout"}, {"offset", "0"}});
  EXPECT_EQ(gone.status, 404);
  EXPECT_NE(message(gone).find("/frameworks/f/executors/e/runs/latest/stdout"), std::string::npos);
}
