// The harness itself, with /bin/sh and a canned HTTP server (no Stoa binaries needed).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <thread>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

TEST(ClusterHarness, ProcessLogIsPolledAndExitCodeReported) {
  TempDir dir;
  Try<std::unique_ptr<Process>> p =
      Process::start("/bin/sh", {"-c", "echo starting; echo listening on http://127.0.0.1:4242 >&2; exit 7"},
                     dir.path() + "/sh.log");
  ASSERT_TRUE(p) << p.error();
  auto m = (*p)->wait_for_line(listening_line(), deadline_in(5s));
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)[1], "4242");
  EXPECT_EQ((*p)->wait_exit(deadline_in(5s)), 7);
  EXPECT_EQ((*p)->lines_matching(std::regex("^starting$")).size(), 1U);
}

TEST(ClusterHarness, WaitForLineStopsWhenTheProcessExits) {
  TempDir dir;
  Try<std::unique_ptr<Process>> p = Process::start("/bin/sh", {"-c", "exit 0"}, dir.path() + "/sh.log");
  ASSERT_TRUE(p) << p.error();
  auto start = Clock::now();
  EXPECT_FALSE((*p)->wait_for_line(std::regex("never"), deadline_in(30s)));
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(ClusterHarness, MissingBinaryIsAnError) {
  TempDir dir;
  EXPECT_FALSE(Process::start("/nonexistent/stoa-nothing", {}, dir.path() + "/x.log"));
  EXPECT_TRUE(missing_binaries({"/nonexistent/stoa-nothing"}));
  EXPECT_FALSE(missing_binaries({"/bin/sh"}));
}

TEST(ClusterHarness, DestructorKillsTheProcessGroupAndMarkersAreFound) {
  TempDir dir;
  const std::string marker = unique_marker();
  {
    Try<std::unique_ptr<Process>> p =
        Process::start("/bin/sh", {"-c", "sleep 1000 & sleep 1000; : " + marker}, dir.path() + "/sh.log",
                       {{"STOA_TEST_MARKER", marker}});
    ASSERT_TRUE(p) << p.error();
    ASSERT_TRUE(poll_until([&] { return processes_with_marker(marker).size() == 3; }, deadline_in(5s)))
        << processes_with_marker(marker).size();
    EXPECT_EQ(processes_under(dir.path()).size(), 0U);  // cwd is ours, not the temp dir
  }
  EXPECT_TRUE(poll_until([&] { return processes_with_marker(marker).empty(); }, deadline_in(5s)));
}

TEST(ClusterHarness, ProcessKillDeliversTheSignal) {
  TempDir dir;
  Try<std::unique_ptr<Process>> p = Process::start("/bin/sh", {"-c", "echo up; exec sleep 1000"}, dir.path() + "/sh.log");
  ASSERT_TRUE(p) << p.error();
  ASSERT_TRUE((*p)->wait_for_line(std::regex("^up$"), deadline_in(5s)));
  EXPECT_TRUE((*p)->running());
  (*p)->kill(SIGTERM);
  EXPECT_EQ((*p)->wait_exit(deadline_in(5s)), 128 + SIGTERM);
  EXPECT_EQ((*p)->describe_exit(), "signal 15");
}

// Serves one canned response per connection, `count` times.
class CannedServer {
 public:
  CannedServer(std::vector<std::string> responses) : responses_(std::move(responses)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 8);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (const std::string& response : responses_) {
        int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) {
          return;
        }
        char buf[4096];
        std::string got;
        while (got.find("\r\n\r\n") == std::string::npos) {
          ssize_t n = ::recv(c, buf, sizeof(buf), 0);
          if (n <= 0) {
            break;
          }
          got.append(buf, static_cast<size_t>(n));
        }
        requests_.push_back(got);
        ::send(c, response.data(), response.size(), MSG_NOSIGNAL);
        ::close(c);
      }
    });
  }
  ~CannedServer() {
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }
  const std::vector<std::string>& requests() const { return requests_; }

 private:
  std::vector<std::string> responses_;
  std::vector<std::string> requests_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST(ClusterHarness, HttpClientReadsLengthChunkedAndCloseDelimitedBodies) {
  std::vector<std::string> requests;
  {
    CannedServer server({"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":[1,2]}",
                         "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                         "HTTP/1.0 404 Not Found\r\n\r\nuntil close"});
    Try<picojson::value> json = http_get_json("127.0.0.1", server.port(), "/x");
    ASSERT_TRUE(json) << json.error();
    EXPECT_EQ(json_array(json_at(*json, "a")).size(), 2U);
    Try<HttpResponse> chunked = http_raw("127.0.0.1", server.port(), "GARBAGE\r\n\r\n");
    ASSERT_TRUE(chunked) << chunked.error();
    EXPECT_EQ(chunked->status, 400);
    EXPECT_EQ(chunked->body, "abcde");
    Try<HttpResponse> closed = http_get("127.0.0.1", server.port(), "/y");
    ASSERT_TRUE(closed) << closed.error();
    EXPECT_EQ(closed->status, 404);
    EXPECT_EQ(closed->body, "until close");
    requests = server.requests();
  }
  ASSERT_EQ(requests.size(), 3U);
  EXPECT_EQ(requests[0].rfind("GET /x HTTP/1.1\r\n", 0), 0U) << requests[0];
}

TEST(ClusterHarness, HttpClientReportsRefusedConnections) {
  // A port that was just free: bind, read it, close.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  Try<HttpResponse> r = http_get("127.0.0.1", ntohs(addr.sin_port), "/", deadline_in(2s));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("connect"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace stoa::tests
