// Rendering views in a forked child and gzip (state_serving.hpp).

#include "master/state_serving.hpp"

#include <unistd.h>
#include <zlib.h>

#include <csignal>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "actors/atoms.hpp"
#include "actors/http_test_support.hpp"
#include "master/state_json_writer.hpp"

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

// A body in spans (a rope) is compressed span by span, as if joined.
TEST(StateServing, GzipOfSpansIsTheGzipOfTheJoinedBytes) {
  http_test::PiecesBody body;
  std::string joined;
  uint32_t x = 12345;
  for (int i = 0; i < 3000; ++i) {
    std::string p;
    for (int k = 0; k < i % 97; ++k) {
      x = x * 1103515245 + 12345;  // some bytes that do not compress
      p += static_cast<char>(x >> 24);
    }
    p += "{\"i\":" + std::to_string(i) + "}";
    joined += p;
    body.pieces.push_back(std::move(p));
  }
  EXPECT_EQ(gunzip(gzip(body)), joined);
  EXPECT_EQ(gunzip(gzip(http_test::PiecesBody{})), "");
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

// Part `i` of a test body: `size` bytes that differ from part to part and
// hold what the framing must not mistake for frame headers.
std::string body_part(int i, size_t size) {
  std::string part(size, static_cast<char>('a' + i % 26));
  for (size_t k = 0; k < size; k += 4099) {
    part[k] = k % 2 == 0 ? '\n' : '\0';
  }
  part.replace(0, std::min<size_t>(size, 8), std::string("E 200 0\n").substr(0, std::min<size_t>(size, 8)));
  return part;
}

// What the child's render writes through its pipe, then how it stops.
enum class Ending { killed, exits_without_end };

Try<ForkedRender> fork_partial_render(Ending ending) {
  return fork_render([ending](std::string* body) {
    BodyPipe* pipe = current_body_pipe();
    for (int i = 0; pipe != nullptr && i < 3; ++i) {
      pipe->write(body_part(i, state_json_detail::JsonBuffer::PIPE_CHUNK));
    }
    if (ending == Ending::killed) {
      ::raise(SIGKILL);
    } else {
      ::_exit(0);
    }
    *body = "never sent";
    return 200;
  });
}

// A child that dies after handing over part of its body, by a signal or
// by exiting cleanly, never yields a body: the collector fails, naming how
// and where, and the collector actor answers 500.
TEST(StateServing, AChildKilledMidBodyAnswers500NotAShortBody) {
  using state_json_detail::JsonBuffer;
  Try<ForkedRender> killed = fork_partial_render(Ending::killed);
  ASSERT_TRUE(killed.is_some()) << killed.error();
  Try<RenderedView> view = collect_render(*killed, 30s);
  ASSERT_TRUE(view.is_error()) << "a " << view->body.size() << "-byte body with status " << view->status;
  EXPECT_NE(view.error().find("was killed by signal 9"), std::string::npos) << view.error();
  EXPECT_NE(view.error().find("ends after " + std::to_string(3 * JsonBuffer::PIPE_CHUNK) +
                              " body bytes, without its end frame"),
            std::string::npos)
      << view.error();

  Try<ForkedRender> exited = fork_partial_render(Ending::exits_without_end);
  ASSERT_TRUE(exited.is_some()) << exited.error();
  view = collect_render(*exited, 30s);
  ASSERT_TRUE(view.is_error()) << "a " << view->body.size() << "-byte body with status " << view->status;
  EXPECT_NE(view.error().find("without its end frame"), std::string::npos) << view.error();

  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  Try<ForkedRender> child = fork_partial_render(Ending::killed);
  ASSERT_TRUE(child.is_some()) << child.error();
  caf::scoped_actor self{sys};
  int status = 0;
  std::string body;
  Try<caf::actor> collector = spawn_render_collector(sys, *child, 30s);
  ASSERT_FALSE(collector.is_error()) << collector.error();
  self->request(*collector, caf::infinite, state_atom_v)
      .receive(
          [&](int s, std::string& b) {
            status = s;
            body = std::move(b);
          },
          [&](caf::error& e) { body = "request failed: " + caf::to_string(e); });
  EXPECT_EQ(status, 500) << body.substr(0, 200);
  EXPECT_NE(body.find("Cannot render this view"), std::string::npos) << body.substr(0, 200);
  EXPECT_NE(body.find("killed by signal 9"), std::string::npos) << body.substr(0, 200);
}

// A body written through the pipe in many parts, some bigger than a part,
// with a tail, comes back byte for byte; the child's buffer stays a part.
TEST(StateServing, ABodyOfManyPartsComesBackByteForByte) {
  using state_json_detail::JsonBuffer;
  auto draw = [](JsonBuffer* b) {
    for (int i = 0; i < 60000; ++i) {
      b->ch(i == 0 ? '[' : ',');
      b->str(i % 97 == 0 ? "t\"" + std::to_string(i) + "\n" : "task-" + std::to_string(i));
      b->ch(',');
      b->num(i * 0.37);
      if (i % 20000 == 1) {
        b->ch(',');
        b->str(body_part(i, 3 * JsonBuffer::PIPE_CHUNK / 2));  // bigger than a part
      }
    }
    b->ch(']');
  };
  std::string expected;
  {
    JsonBuffer b(&expected, 0);
    draw(&b);
  }
  ASSERT_GT(expected.size(), 5 * JsonBuffer::PIPE_CHUNK);
  Try<ForkedRender> child = fork_render([&draw](std::string* body) {
    {
      JsonBuffer b(body, 1000, current_body_pipe());
      draw(&b);
    }
    // The tail the render returns; a child whose buffer grew past four
    // parts did not hand its body over as it went.
    return body->capacity() <= 4 * JsonBuffer::PIPE_CHUNK && !body->empty() ? 200 : 299;
  });
  ASSERT_TRUE(child.is_some()) << child.error();
  Try<RenderedView> view = collect_render(*child, 30s);
  ASSERT_TRUE(view.is_some()) << view.error();
  EXPECT_EQ(view->status, 200);
  ASSERT_EQ(view->body.size(), expected.size());
  EXPECT_TRUE(view->body == expected);
}

// A render that fails after streaming part of its body answers its error
// body alone: the streamed part is dropped.
TEST(StateServing, AFailedRenderAfterStreamingAnswersOnlyItsError) {
  Try<ForkedRender> child = fork_render([](std::string* body) {
    current_body_pipe()->write(body_part(0, 70000));
    *body = "{\"message\":\"bad\"}";
    return 500;
  });
  ASSERT_TRUE(child.is_some()) << child.error();
  Try<RenderedView> view = collect_render(*child, 30s);
  ASSERT_TRUE(view.is_some()) << view.error();
  EXPECT_EQ(view->status, 500);
  EXPECT_EQ(view->body, "{\"message\":\"bad\"}");
}

// A child that writes `bytes` (any framing, good or bad) and exits 0.
ForkedRender raw_framed_child(const std::string& bytes) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    size_t at = 0;
    while (at < bytes.size()) {
      ssize_t n = ::write(fds[1], bytes.data() + at, bytes.size() - at);
      if (n <= 0) {
        ::_exit(1);
      }
      at += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  return ForkedRender{pid, fds[0]};
}

// Output that is not a whole, well-formed body is an error naming what is
// wrong, even from a child that exits 0; a good one is the body.
TEST(StateServing, BadFramesAreErrorsNamingWhatIsWrong) {
  const std::pair<std::string, std::string> cases[] = {
      {"D 10\nabc", "ends 7 bytes into a 10-byte frame"},
      {"H 100\nD 3\nabc", "ends after 3 body bytes, without its end frame"},
      {"D 3\nabcE 200 5\n", "announced 5 body bytes and wrote 3"},
      {"X 1\n", "bad frame header: X 1"},
      {"D x\n", "bad frame header: D x"},
      {"D 3\nabcE 200 3\nD 1\nz", "wrote past its end frame"},
      {"D 3\nabcE 99 3\n", "ended with status 99"},
      {"D 99999999999\n", "a frame of 99999999999 bytes"},
      {std::string(100, 'D'), "bad frame header"},
      {"", "ends after 0 body bytes, without its end frame"},
  };
  for (const auto& [bytes, expected] : cases) {
    Try<RenderedView> view = collect_render(raw_framed_child(bytes), 30s);
    ASSERT_TRUE(view.is_error()) << bytes;
    EXPECT_NE(view.error().find(expected), std::string::npos) << bytes << " -> " << view.error();
  }
  Try<RenderedView> good = collect_render(raw_framed_child("H 5\nD 3\nabcR\nD 2\nxyD 1\nzE 201 3\n"), 30s);
  ASSERT_TRUE(good.is_some()) << good.error();
  EXPECT_EQ(good->status, 201);
  EXPECT_EQ(good->body, "xyz");
}

}  // namespace
}  // namespace stoa::master
