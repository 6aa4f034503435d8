// The Docker engine client against a stand-in engine on a unix socket (the
// wire details a real dockerd does not let a test choose: chunk boundaries,
// huge frames, old versions, bad JSON, silence), and its pure helpers.
// slave/docker_test.cpp runs it against a real dockerd.
#include "slave/docker_http.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "slave/docker.hpp"
#include "tests/cluster.hpp"

namespace stoa::slave::docker {
namespace {

using namespace std::chrono_literals;
using tests::TempDir;

// An 8-byte frame header and the payload.
std::string frame(int stream, const std::string& payload) {
  std::string h(8, '\0');
  h[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) {
    h[4 + i] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
  }
  return h + payload;
}

std::string binary_bytes(size_t n) {
  std::string out;
  std::mt19937 gen(42);
  for (size_t i = 0; i < n; ++i) {
    out += static_cast<char>(gen() & 0xff);
  }
  return out;
}

// An HTTP/1.1 answer with a JSON body and Content-Length.
std::string json_answer(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// `body` chunked in pieces of `size` bytes.
std::string chunked(const std::string& body, size_t size) {
  std::string out = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += size) {
    std::string piece = body.substr(at, size);
    char hex[16];
    std::snprintf(hex, sizeof(hex), "%zx", piece.size());
    out += std::string(hex) + "\r\n" + piece + "\r\n";
  }
  return out + "0\r\n\r\n";
}

// A stand-in engine: answers each request (its head, e.g. "GET /version
// HTTP/1.1...") with respond(head), written in small pieces, then closes;
// nullopt keeps the connection open and silent until the engine is destroyed.
class FakeEngine {
 public:
  using Respond = std::function<std::optional<std::string>(const std::string& head)>;

  FakeEngine(std::string path, Respond respond)
      : path_(std::move(path)), respond_(std::move(respond)) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path_;
    EXPECT_EQ(::listen(listener_, 16), 0);
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeEngine() {
    stop_ = true;
    thread_.join();
    for (int fd : silent_) {
      ::close(fd);
    }
    ::close(listener_);
  }

  // The request lines seen so far ("GET /version").
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> lines;
    for (const std::string& head : heads_) {
      lines.push_back(head.substr(0, head.find(" HTTP/1.1")));
    }
    return lines;
  }

  // The body of the last request whose line starts with `prefix`.
  std::string body_of(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string body;
    for (const std::string& head : heads_) {
      body = head.rfind(prefix, 0) == 0 ? head.substr(head.find("\r\n\r\n") + 4) : body;
    }
    return body;
  }

 private:
  // Waits until `fd` is readable or the engine stops.
  bool readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        return true;
      }
    }
    return false;
  }

  void serve() {
    while (readable(listener_)) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      std::string head;
      char c = 0;
      while (head.find("\r\n\r\n") == std::string::npos && readable(fd) && ::read(fd, &c, 1) == 1) {
        head += c;
      }
      size_t length_at = head.find("Content-Length: ");
      size_t length = length_at == std::string::npos ? 0 : std::stoul(head.substr(length_at + 16));
      for (size_t i = 0; i < length && readable(fd) && ::read(fd, &c, 1) == 1; ++i) {
        head += c;
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        heads_.push_back(head);
      }
      std::optional<std::string> answer = respond_(head);
      if (!answer) {
        silent_.push_back(fd);
        continue;
      }
      // Odd-sized writes, so the client sees answers split anywhere.
      for (size_t at = 0; at < answer->size(); at += 997) {
        std::string piece = answer->substr(at, 997);
        if (::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) < 0) {
          break;
        }
      }
      ::close(fd);
    }
  }

  std::string path_;
  Respond respond_;
  int listener_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> silent_;
  std::mutex mutex_;
  std::vector<std::string> heads_;
};

bool starts(const std::string& head, const std::string& prefix) {
  return head.rfind(prefix, 0) == 0;
}

const std::string VERSION_141 = json_answer(200, R"({"Version":"20.10.24","ApiVersion":"1.41"})");

// ---------------------------------------------------------------------------
// Pure helpers.

TEST(DockerApiVersionTest, ComparesNumerically) {
  EXPECT_LT(*compare_api_versions("1.9", "1.25"), 0);
  EXPECT_GT(*compare_api_versions("1.25", "1.9"), 0);
  EXPECT_EQ(*compare_api_versions("1.41", "1.41.0"), 0);
  EXPECT_LT(*compare_api_versions("1.41", "2.0"), 0);
  Try<int> bad = compare_api_versions("1.x", "1.2");
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("'1.x'"), std::string::npos) << bad.error();
}

TEST(DockerApiVersionTest, NegotiatesTheMinimumOfEngineAndMax) {
  EXPECT_EQ(*negotiate_api_version("1.44"), "1.41");
  EXPECT_EQ(*negotiate_api_version("1.41"), "1.41");
  EXPECT_EQ(*negotiate_api_version("1.30"), "1.30");
  EXPECT_EQ(*negotiate_api_version("1.25"), "1.25");
  Try<std::string> old = negotiate_api_version("1.24");
  ASSERT_TRUE(old.is_error());
  EXPECT_NE(old.error().find("1.24"), std::string::npos) << old.error();
  EXPECT_NE(old.error().find("1.25"), std::string::npos) << old.error();
  EXPECT_TRUE(negotiate_api_version("").is_error());
}

TEST(DockerNameTest, ContainerNamesCarryThePrefix) {
  EXPECT_EQ(container_name("abc"), "mesos-abc");
}

// ---------------------------------------------------------------------------
// The multiplexed stream.

struct Demuxed {
  std::string out;
  std::string err;
};

Demuxed demux_in_pieces(const std::string& stream, size_t piece,
                        std::optional<Error>* error = nullptr) {
  Demuxed d;
  transport::Demuxer demux([&](int s, std::string_view data) -> std::optional<Error> {
    (s == 2 ? d.err : d.out).append(data);
    return std::nullopt;
  });
  for (size_t at = 0; at < stream.size(); at += piece) {
    if (auto e = demux.feed(std::string_view(stream).substr(at, piece))) {
      if (error != nullptr) {
        *error = e;
      }
      break;
    }
  }
  return d;
}

TEST(DockerDemuxerTest, SeparatesStreamsWhereverThePiecesEnd) {
  const std::string big = binary_bytes(100 * 1024);  // one frame > 64 KiB
  const std::string stream = frame(1, "hello ") + frame(2, "oops\n") + frame(1, big) +
                             frame(2, "") + frame(0, "stdin echo") +
                             frame(2, std::string("\0\xff\n", 3));
  for (size_t piece :
       {size_t{1}, size_t{3}, size_t{7}, size_t{8}, size_t{9}, size_t{4096}, stream.size()}) {
    Demuxed d = demux_in_pieces(stream, piece);
    EXPECT_EQ(d.out, "hello " + big + "stdin echo") << "pieces of " << piece;
    EXPECT_EQ(d.err, "oops\n" + std::string("\0\xff\n", 3)) << "pieces of " << piece;
  }
}

TEST(DockerDemuxerTest, RawStreamGoesToStdoutAndLateGarbageIsAnError) {
  Demuxed raw = demux_in_pieces("plain TTY output\n", 5);
  EXPECT_EQ(raw.out, "plain TTY output\n");
  EXPECT_EQ(raw.err, "");
  std::optional<Error> error;
  demux_in_pieces(frame(1, "ok") + "garbage!", 4, &error);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->message.find("malformed frame header"), std::string::npos) << error->message;
}

// ---------------------------------------------------------------------------
// The engine's API over a stand-in engine.

class DockerFakeEngineTest : public ::testing::Test {
 protected:
  std::string socket() const { return dir_.path() + "/engine.sock"; }
  TempDir dir_;
};

TEST_F(DockerFakeEngineTest, NegotiatesOnceAndPrefixesEveryCall) {
  FakeEngine fake(socket(), [](const std::string& head) -> std::optional<std::string> {
    if (starts(head, "GET /version ")) {
      return json_answer(200, R"({"Version":"99.0","ApiVersion":"1.44"})");
    }
    return json_answer(200, R"({"Id":"abc","Name":"/mesos-x","State":{"Running":true,"Pid":42}})");
  });
  Engine engine("docker", "unix://" + socket(), 5s);
  EXPECT_EQ(engine.socket(), socket());
  Try<ContainerState> first = engine.inspect("mesos-x");
  ASSERT_TRUE(first.is_some()) << first.error();
  EXPECT_EQ(first->name, "mesos-x");
  EXPECT_EQ(first->pid, 42);
  ASSERT_TRUE(engine.inspect("mesos-x").is_some());
  Try<Version> v = engine.version();
  ASSERT_TRUE(v.is_some()) << v.error();
  EXPECT_EQ(v->version, "99.0");
  EXPECT_EQ(v->api_version, "1.44");
  EXPECT_EQ(v->negotiated, "1.41");
  EXPECT_EQ(fake.requests(),
            (std::vector<std::string>{"GET /version", "GET /v1.41/containers/mesos-x/json",
                                      "GET /v1.41/containers/mesos-x/json", "GET /version"}));
}

TEST_F(DockerFakeEngineTest, RefusesAnOldEngineAndRetriesTheNegotiation) {
  std::mutex mutex;
  std::string api = "1.24";
  FakeEngine fake(socket(), [&](const std::string& head) -> std::optional<std::string> {
    if (starts(head, "GET /version ")) {
      std::lock_guard<std::mutex> lock(mutex);
      return json_answer(200, R"({"Version":"1.12.6","ApiVersion":")" + api + "\"}");
    }
    return json_answer(200, R"({"Id":"abc"})");
  });
  Engine engine("docker", socket(), 5s);
  Try<Version> v = engine.version();
  ASSERT_TRUE(v.is_error());
  EXPECT_NE(v.error().find("1.24"), std::string::npos) << v.error();
  EXPECT_NE(v.error().find("1.25"), std::string::npos) << v.error();
  Try<ContainerState> refused = engine.inspect("x");
  ASSERT_TRUE(refused.is_error());
  EXPECT_NE(refused.error().find("older than 1.25"), std::string::npos) << refused.error();
  {
    std::lock_guard<std::mutex> lock(mutex);
    api = "1.30";
  }
  ASSERT_TRUE(engine.inspect("x").is_some());
  EXPECT_EQ(fake.requests().back(), "GET /v1.30/containers/x/json");
}

TEST_F(DockerFakeEngineTest, ErrorsCarryTheEngineMessageAndStatus) {
  FakeEngine fake(socket(), [](const std::string& head) -> std::optional<std::string> {
    if (starts(head, "GET /version ")) {
      return VERSION_141;
    }
    if (starts(head, "POST /v1.41/containers/gone/stop")) {
      return json_answer(304, "");
    }
    if (starts(head, "POST /v1.41/containers/dead/kill")) {
      return json_answer(409, R"({"message":"Container dead is not running"})");
    }
    if (starts(head, "POST /v1.41/containers/busy/kill")) {
      return json_answer(409, R"({"message":"Container busy is paused"})");
    }
    if (starts(head, "GET /v1.41/containers/boom/json")) {
      return json_answer(500, "plain text trouble\n");
    }
    return json_answer(404, R"({"message":"No such container: mesos-x"})");
  });
  Engine engine("docker", socket(), 5s);
  Try<ContainerState> missing = engine.inspect("mesos-x");
  ASSERT_TRUE(missing.is_error());
  EXPECT_EQ(missing.error(), "No such container: mesos-x (HTTP 404)");
  EXPECT_EQ(engine.start("mesos-x")->message, "No such container: mesos-x (HTTP 404)");
  EXPECT_FALSE(engine.remove("mesos-x").has_value());  // already gone: no error
  EXPECT_FALSE(engine.stop("gone", 1s).has_value());   // 304: already stopped
  EXPECT_FALSE(engine.kill("dead").has_value());       // not running: no error
  ASSERT_TRUE(engine.kill("busy").has_value());
  EXPECT_EQ(engine.kill("busy")->message, "Container busy is paused (HTTP 409)");
  EXPECT_EQ(engine.inspect("boom").error(), "plain text trouble (HTTP 500)");
  EXPECT_EQ(engine.inspect("").error(), "empty container name");
  EXPECT_EQ(engine.kill("x", 0)->message, "not a signal number: 0");
  Try<bool> image = engine.has_image("stoa/none:1");
  ASSERT_TRUE(image.is_some()) << image.error();
  EXPECT_FALSE(*image);
  EXPECT_EQ(fake.requests().back(), "GET /v1.41/images/stoa/none:1/json");
}

TEST_F(DockerFakeEngineTest, BadJsonNamesWhatWasBeingParsed) {
  std::atomic<bool> bad_version{true};
  FakeEngine fake(socket(), [&](const std::string& head) -> std::optional<std::string> {
    if (starts(head, "GET /version ")) {
      return bad_version ? json_answer(200, "{\"ApiVersion\":") : VERSION_141;
    }
    return json_answer(200, "[1, 2]");
  });
  Engine engine("docker", socket(), 5s);
  Try<Version> v = engine.version();
  ASSERT_TRUE(v.is_error());
  EXPECT_NE(v.error().find("answer to GET /version"), std::string::npos) << v.error();
  bad_version = false;
  Try<ContainerState> s = engine.inspect("mesos-y");
  ASSERT_TRUE(s.is_error());
  EXPECT_NE(s.error().find("inspection of container 'mesos-y'"), std::string::npos) << s.error();
  Try<int> code = engine.wait("mesos-y");
  ASSERT_TRUE(code.is_error());
  EXPECT_NE(code.error().find("waiting for container 'mesos-y'"), std::string::npos)
      << code.error();
}

TEST_F(DockerFakeEngineTest, FollowsChunkedLogsIntoTwoDescriptorsThenCatchesUp) {
  const std::string big = binary_bytes(70 * 1024);
  const std::string stream =
      frame(1, "line one\n") + frame(2, "warning\n") + frame(1, big) + frame(2, "bye\n");
  FakeEngine fake(socket(), [&](const std::string& head) -> std::optional<std::string> {
    if (starts(head, "GET /version ")) {
      return VERSION_141;
    }
    if (head.find("follow=1") != std::string::npos) {
      return chunked(stream, 1000);  // chunk ends fall inside headers and frames
    }
    // The whole log, with the last lines the follow missed.
    return chunked(stream + frame(1, "tail") + frame(2, "last words"), 333);
  });
  Engine engine("docker", socket(), 5s);
  std::string out_path = dir_.path() + "/stdout";
  std::string err_path = dir_.path() + "/stderr";
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::optional<Error> e = engine.follow_logs("mesos-z", out, err);
  ::close(out);
  ::close(err);
  ASSERT_FALSE(e.has_value()) << e->message;
  EXPECT_TRUE(tests::read_file(out_path) == "line one\n" + big + "tail") << "stdout differs";
  EXPECT_EQ(tests::read_file(err_path), "warning\nbye\nlast words");
  std::vector<std::string> r = fake.requests();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[1], "GET /v1.41/containers/mesos-z/logs?follow=1&stdout=1&stderr=1");
  EXPECT_EQ(r[2], "GET /v1.41/containers/mesos-z/logs?stdout=1&stderr=1");
}

TEST_F(DockerFakeEngineTest, ExecKeepsTheFirst64KiBAndTheExitCode) {
  std::atomic<int> inspections{0};
  const std::string big = binary_bytes(100 * 1024);
  FakeEngine fake(socket(), [&](const std::string& head) -> std::optional<std::string> {
    if (starts(head, "GET /version ")) {
      return VERSION_141;
    }
    if (starts(head, "POST /v1.41/containers/c1/exec ")) {
      return json_answer(201, R"({"Id":"e1"})");
    }
    if (starts(head, "POST /v1.41/exec/e1/start ")) {
      // A hijacked stream: no length, no chunks, until the connection closes.
      return "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n" +
             frame(1, "out\n") + frame(2, "err\n") + frame(1, big);
    }
    // The exit code shows a moment after the output ends.
    return json_answer(200, ++inspections < 3 ? R"({"Running":true,"ExitCode":0})"
                                              : R"({"Running":false,"ExitCode":5})");
  });
  Engine engine("docker", socket(), 5s);
  Try<ExecResult> r = engine.exec("c1", {"sh", "-c", "say \"hi\""}, 5s);
  ASSERT_TRUE(r.is_some()) << r.error();
  EXPECT_EQ(r->exit_code, 5);
  ASSERT_EQ(r->output.size(), 64u * 1024);
  EXPECT_TRUE(r->output == ("out\nerr\n" + big).substr(0, 64 * 1024));
  const std::string create_body = fake.body_of("POST /v1.41/containers/c1/exec");
  EXPECT_NE(create_body.find(R"("Cmd":["sh","-c","say \"hi\""])"), std::string::npos)
      << create_body;
  EXPECT_NE(create_body.find(R"("AttachStdout":true)"), std::string::npos) << create_body;
  EXPECT_EQ(engine.exec("c1", {}, 1s).error(), "exec in container 'c1': empty command");
}

TEST_F(DockerFakeEngineTest, PullReportsTheErrorInsideTheStreamAndSplitsTags) {
  FakeEngine fake(socket(), [](const std::string& head) -> std::optional<std::string> {
    if (starts(head, "GET /version ")) {
      return VERSION_141;
    }
    if (head.find("fromImage=broken") != std::string::npos) {
      return chunked(
          "{\"status\":\"Pulling from broken\"}\r\n"
          "{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest unknown\"}\r\n",
          7);
    }
    return chunked("{\"status\":\"Downloaded newer image\"}\r\n", 5);
  });
  Engine engine("docker", socket(), 5s);
  std::optional<Error> broken = engine.pull("broken");
  ASSERT_TRUE(broken.has_value());
  EXPECT_EQ(broken->message, "manifest unknown");
  EXPECT_FALSE(engine.pull("registry.local:5000/team/app:v2").has_value());
  EXPECT_FALSE(engine.pull("registry.local:5000/app").has_value());
  EXPECT_FALSE(engine.pull("app@sha256:0123").has_value());
  std::vector<std::string> r = fake.requests();
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[1], "POST /v1.41/images/create?fromImage=broken&tag=latest");
  EXPECT_EQ(r[2], "POST /v1.41/images/create?fromImage=registry.local%3A5000%2Fteam%2Fapp&tag=v2");
  EXPECT_EQ(r[3], "POST /v1.41/images/create?fromImage=registry.local%3A5000%2Fapp&tag=latest");
  EXPECT_EQ(r[4], "POST /v1.41/images/create?fromImage=app%40sha256%3A0123");
  EXPECT_EQ(engine.pull("app:")->message, "not an image name: 'app:'");
}

TEST_F(DockerFakeEngineTest, ListKeepsOnlyRealPrefixesAndMapsStats) {
  FakeEngine fake(socket(), [](const std::string& head) -> std::optional<std::string> {
    if (starts(head, "GET /version ")) {
      return VERSION_141;
    }
    if (starts(head, "GET /v1.41/containers/json")) {
      return json_answer(200,
                         R"([{"Id":"1","Names":["/mesos-a"],"State":"running","Labels":{"k":"v"}},
                                  {"Id":"2","Names":["/x-mesos-b"],"State":"exited"},
                                  {"Id":"3","Names":["/web/mesos-link","/mesos-c"],"State":"created"}])");
    }
    return json_answer(200, R"({"cpu_stats":{"cpu_usage":{"usage_in_usermode":1500000000,
        "usage_in_kernelmode":250000000},"throttling_data":{"periods":10,"throttled_periods":2,
        "throttled_time":3000000000}},"memory_stats":{"usage":1048576,"limit":67108864,
        "stats":{"anon":4096,"file":8192}}})");
  });
  Engine engine("docker", socket(), 5s);
  Try<std::vector<ContainerSummary>> listed = engine.list(NAME_PREFIX);
  ASSERT_TRUE(listed.is_some()) << listed.error();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "mesos-a");
  EXPECT_EQ((*listed)[0].labels.at("k"), "v");
  EXPECT_EQ((*listed)[1].name, "mesos-c");
  EXPECT_EQ((*listed)[1].state, "created");
  EXPECT_EQ(fake.requests().back(),
            "GET /v1.41/containers/json?all=1&filters=%7B%22name%22%3A%5B%22mesos-%22%5D%7D");
  Try<ContainerStats> s = engine.stats("mesos-a");
  ASSERT_TRUE(s.is_some()) << s.error();
  EXPECT_DOUBLE_EQ(s->cpus_user_time_secs, 1.5);
  EXPECT_DOUBLE_EQ(s->cpus_system_time_secs, 0.25);
  EXPECT_EQ(s->cpus_nr_periods, 10u);
  EXPECT_EQ(s->cpus_nr_throttled, 2u);
  EXPECT_DOUBLE_EQ(s->cpus_throttled_time_secs, 3.0);
  EXPECT_EQ(s->mem_total_bytes, 1048576u);
  EXPECT_EQ(s->mem_limit_bytes, 67108864u);
  EXPECT_EQ(s->mem_rss_bytes, 4096u);  // cgroups v2 names
  EXPECT_EQ(s->mem_cache_bytes, 8192u);
  EXPECT_EQ(fake.requests().back(),
            "GET /v1.41/containers/mesos-a/stats?stream=false&one-shot=true");
}

TEST_F(DockerFakeEngineTest, ASilentEngineTimesOut) {
  FakeEngine fake(socket(),
                  [](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  Engine engine("docker", socket(), 300ms);
  auto begin = tests::Clock::now();
  Try<ContainerState> s = engine.inspect("x");
  auto took = tests::Clock::now() - begin;
  ASSERT_TRUE(s.is_error());
  EXPECT_NE(s.error().find("did not answer GET /version in time"), std::string::npos) << s.error();
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2s);
}

TEST_F(DockerFakeEngineTest, WaitAndLogsEndWithinATickOfCancel) {
  FakeEngine fake(socket(), [](const std::string& head) -> std::optional<std::string> {
    if (starts(head, "GET /version ")) {
      return VERSION_141;
    }
    return std::nullopt;  // the container runs on
  });
  Engine engine("docker", socket(), 1s);  // cancel, not the timeout, ends them
  for (const char* call : {"wait", "follow_logs"}) {
    std::atomic<bool> cancel{false};
    std::atomic<tests::Clock::rep> cancelled_at{0};
    const size_t before = fake.requests().size();
    const auto began = tests::Clock::now();
    std::thread canceller([&] {
      // Cancels once the engine has the request and the engine's timeout
      // (which must not end these calls) is over.
      tests::poll_until(
          [&] { return fake.requests().size() > before && tests::Clock::now() - began > 1200ms; },
          tests::deadline_in(10s));
      cancelled_at = tests::Clock::now().time_since_epoch().count();
      cancel = true;
    });
    std::string error = std::string(call) == "wait"
                            ? engine.wait("x", &cancel).error()
                            : engine.follow_logs("x", -1, -1, &cancel)->message;
    auto returned = tests::Clock::now();
    canceller.join();
    EXPECT_EQ(error, "cancelled") << call;
    auto late = returned - tests::Clock::time_point(tests::Clock::duration(cancelled_at.load()));
    EXPECT_LT(late, 300ms) << call << " returned "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(late).count()
                           << " ms after cancel";
  }
}

TEST_F(DockerFakeEngineTest, AnUnreachableEngineIsNamedByEveryCall) {
  // A socket file nobody listens on (connection refused), and a missing one.
  int bound = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket().c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(::bind(bound, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  for (const std::string& path : {socket(), dir_.path() + "/missing/docker.sock"}) {
    Engine engine("/nonexistent/docker", path, 2s);
    const std::string named = "Cannot reach the Docker engine at unix://" + path + ": connect: ";
    std::atomic<bool> cancel{false};
    std::vector<std::pair<std::string, std::string>> errors = {
        {"version", engine.version().error()},
        {"start", engine.start("c")->message},
        {"inspect", engine.inspect("c").error()},
        {"wait", engine.wait("c", &cancel).error()},
        {"follow_logs", engine.follow_logs("c", -1, -1, &cancel)->message},
        {"stop", engine.stop("c", 1s)->message},
        {"kill", engine.kill("c")->message},
        {"remove", engine.remove("c")->message},
        {"list", engine.list("mesos-").error()},
        {"stats", engine.stats("c").error()},
        {"has_image", engine.has_image("i").error()},
        {"pull", engine.pull("i")->message},
        {"exec", engine.exec("c", {"true"}, 1s).error()},
    };
    for (const auto& [call, error] : errors) {
      EXPECT_EQ(error.rfind(named, 0), 0u) << call << ": " << error;
    }
    Try<std::string> created = engine.create({"img"});
    ASSERT_TRUE(created.is_error());
    EXPECT_NE(created.error().find("'/nonexistent/docker'"), std::string::npos) << created.error();
  }
  ::close(bound);
}

// A stand-in docker CLI: a shell script.
std::string write_cli(const std::string& dir, const std::string& body) {
  std::string path = dir + "/docker-" + tests::unique_marker();
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

TEST(DockerCreateTest, RunsTheCliAndReturnsTheIdOrItsTrimmedError) {
  TempDir dir;
  std::string args_file = dir.path() + "/args";
  std::string ok = write_cli(dir.path(), "echo \"$@\" > " + args_file +
                                             "; echo 'WARNING: no swap limit' >&2;"
                                             " echo; echo 0123abcd; echo");
  Try<std::string> id = Engine(ok, "unix:///x/docker.sock").create({"--name=mesos-1", "img", "a b"});
  ASSERT_TRUE(id.is_some()) << id.error();
  EXPECT_EQ(*id, "0123abcd");
  EXPECT_EQ(tests::read_file(args_file), "-H unix:///x/docker.sock create --name=mesos-1 img a b\n");
  std::string conflict = write_cli(
      dir.path(), "printf '\\n  Error response from daemon: Conflict. In use.\\n\\n' >&2; exit 125");
  Try<std::string> refused = Engine(conflict, "/x.sock").create({"img"});
  ASSERT_TRUE(refused.is_error());
  EXPECT_EQ(refused.error(), "Error response from daemon: Conflict. In use.");
  std::string silent = write_cli(dir.path(), "exit 3");
  EXPECT_EQ(Engine(silent, "/x.sock").create({"img"}).error(), "docker create exited with status 3");
}

TEST(DockerCreateTest, KillsACliThatOutlivesTheTimeout) {
  TempDir dir;
  std::string slow = write_cli(dir.path(), "sleep 30; echo late");
  auto begin = tests::Clock::now();
  Try<std::string> id = Engine(slow, "/x.sock", 300ms).create({"img"});
  ASSERT_TRUE(id.is_error());
  EXPECT_EQ(id.error(), "docker create timed out after 300 ms (killed)");
  EXPECT_LT(tests::Clock::now() - begin, 3s);
  // The script and its sleep are gone (killed as a group, reaped).
  EXPECT_TRUE(tests::poll_until([&] { return tests::processes_with_marker(slow).empty(); },
                                tests::deadline_in(5s)));
}

}  // namespace
}  // namespace stoa::slave::docker
