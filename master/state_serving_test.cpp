// Rendering views in a forked child and gzip (state_serving.hpp).

#include "master/state_serving.hpp"

#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

namespace stoa::master {
namespace {

using namespace std::chrono_literals;

std::string gunzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&z);
  return out;
}

TEST(StateServing, GzipRoundTripsAndWritesAGzipHeader) {
  std::string json = "{\"slaves\":[";
  for (int i = 0; i < 5000; ++i) {
    json += (i ? "," : "") + std::string("{\"id\":\"S") + std::to_string(i) + "\",\"active\":true}";
  }
  json += "]}";
  std::string gz = gzip(json);
  ASSERT_GT(gz.size(), 10u);
  EXPECT_EQ(static_cast<unsigned char>(gz[0]), 0x1f);  // RFC 1952 magic
  EXPECT_EQ(static_cast<unsigned char>(gz[1]), 0x8b);
  EXPECT_LT(gz.size(), json.size() / 5);
  EXPECT_EQ(gunzip(gz), json);
  EXPECT_EQ(gunzip(gzip("")), "");
}

TEST(StateServing, AcceptEncodingParsing) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("deflate, gzip;q=0.5"));
  EXPECT_TRUE(accepts_gzip(" GZIP "));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_TRUE(accepts_gzip("x-gzip"));
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip("br, deflate"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzipx"));
}

TEST(StateServing, ChildRendersTheViewAndItsStatus) {
  std::vector<int> state{1, 2, 3};
  Try<ForkedRender> child = fork_render([&state](std::string* body) {
    for (int x : state) {
      *body += std::to_string(x);
    }
    *body += std::string(300000, 'x');  // more than a pipe holds
    return 203;
  });
  ASSERT_TRUE(child.is_some()) << child.error();
  state.push_back(4);  // the parent's change after the fork: not in the view
  Try<RenderedView> view = collect_render(*child, 30s);
  ASSERT_TRUE(view.is_some()) << view.error();
  EXPECT_EQ(view->status, 203);
  EXPECT_EQ(view->body, "123" + std::string(300000, 'x'));
}

// The child announces the body's size in its header: an empty body and one
// holding newlines and NULs come back exactly.
TEST(StateServing, TheBodyComesBackByTheSizeItsHeaderAnnounces) {
  for (const std::string& text : {std::string(), std::string("a\nb\0c\n", 6) + std::string(70000, '\n')}) {
    Try<ForkedRender> child = fork_render([&text](std::string* body) {
      *body = text;
      return 200;
    });
    ASSERT_TRUE(child.is_some()) << child.error();
    Try<RenderedView> view = collect_render(*child, 30s);
    ASSERT_TRUE(view.is_some()) << view.error();
    EXPECT_EQ(view->status, 200);
    EXPECT_EQ(view->body, text);
  }
}

TEST(StateServing, TheParentGoesOnWhileTheChildRenders) {
  // The child renders only once the parent writes a byte to `gate`: had
  // fork_render waited for the render, this test would never get there.
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  Try<ForkedRender> child = fork_render([&gate](std::string* body) {
    char c = 0;
    ssize_t n = ::read(gate[0], &c, 1);
    *body = n == 1 ? std::string(1, c) : std::string("no gate");
    return 200;
  });
  ASSERT_TRUE(child.is_some()) << child.error();
  ASSERT_EQ(::write(gate[1], "g", 1), 1);
  Try<RenderedView> view = collect_render(*child, 30s);
  ::close(gate[0]);
  ::close(gate[1]);
  ASSERT_TRUE(view.is_some()) << view.error();
  EXPECT_EQ(view->body, "g");
}

TEST(StateServing, AChildThatOverrunsIsKilledAndOneThatThrowsFails) {
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  Try<ForkedRender> stuck = fork_render([&gate](std::string* body) {
    char c = 0;
    ::close(gate[1]);
    *body = ::read(gate[0], &c, 1) == 1 ? "late" : "eof";
    return 200;
  });
  ASSERT_TRUE(stuck.is_some()) << stuck.error();
  // The parent keeps the gate's write end open: the child blocks for good.
  Try<RenderedView> view = collect_render(*stuck, 200ms);
  ::close(gate[0]);
  ::close(gate[1]);
  ASSERT_TRUE(view.is_error());
  EXPECT_NE(view.error().find("did not finish within 200 ms"), std::string::npos) << view.error();
  // Reaped: no child of this test is left.
  EXPECT_EQ(::kill(stuck->pid, 0), -1);

  Try<ForkedRender> thrower = fork_render([](std::string*) -> int { throw std::runtime_error("bad value"); });
  ASSERT_TRUE(thrower.is_some()) << thrower.error();
  Try<RenderedView> failed = collect_render(*thrower, 30s);
  ASSERT_TRUE(failed.is_error());
  EXPECT_NE(failed.error().find("exited with status 2"), std::string::npos) << failed.error();
}

}  // namespace
}  // namespace stoa::master
