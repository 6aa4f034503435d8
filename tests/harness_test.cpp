// The harness itself, with /bin/sh and a canned HTTP server (no Stoa binaries needed).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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

picojson::value parse(const std::string& text) {
  picojson::value v;
  std::string err = picojson::parse(v, text);
  EXPECT_TRUE(err.empty()) << err << " in " << text;
  return v;
}

TEST(ClusterHarness, SlaveWithoutActiveFieldIsAnErrorNotActive) {
  Try<size_t> two = count_active_slaves(
      parse(R"({"slaves":[{"id":"s1","active":true},{"id":"s2","active":false},{"id":"s3","active":true}]})"));
  ASSERT_TRUE(two) << two.error();
  EXPECT_EQ(*two, 2U);
  Try<size_t> none = count_active_slaves(parse(R"({"slaves":[]})"));
  ASSERT_TRUE(none) << none.error();
  EXPECT_EQ(*none, 0U);
  // A slave whose "active" is missing or not a boolean is a broken view.
  for (const std::string& slave : {std::string(R"({"id":"s9"})"), std::string(R"({"id":"s9","active":"yes"})"),
                                   std::string(R"({"id":"s9","active":1})")}) {
    Try<size_t> n = count_active_slaves(parse(R"({"slaves":[{"id":"s1","active":true},)" + slave + "]}"));
    ASSERT_FALSE(n) << slave << " counted as " << *n;
    EXPECT_NE(n.error().find("s9"), std::string::npos) << n.error();
  }
  EXPECT_FALSE(count_active_slaves(parse(R"({"frameworks":[]})")));
}

TEST(ClusterHarness, InvariantCounterMustBePresent) {
  Try<double> two = invariant_violations(parse(R"({"master/invariant_violations":2})"));
  ASSERT_TRUE(two) << two.error();
  EXPECT_EQ(*two, 2.0);
  EXPECT_FALSE(invariant_violations(parse(R"({"master/uptime_secs":1})")));
  EXPECT_FALSE(invariant_violations(parse(R"({"master/invariant_violations":"0"})")));
}

TEST(ClusterHarness, InvariantViolationsAreReadFromAnyMastersLog) {
  TempDir dir;
  Try<std::unique_ptr<Process>> bad = Process::start(
      "/bin/sh",
      {"-c", "echo 'I1130 05:27:01.752007 8605 master.cpp:75] Master started'; "
             "echo 'E1130 05:27:02.000001 8605 master.cpp:260] Allocator invariant violated: slave s1 total != sum'; "
             "echo 'E1130 05:27:02.000002 8605 master.cpp:266] Slave s1 has cpus:3 used or offered but only cpus:2'"},
      dir.path() + "/bad.log");
  ASSERT_TRUE(bad) << bad.error();
  ASSERT_TRUE((*bad)->wait_exit(deadline_in(5s)));
  EXPECT_EQ(invariant_violations_logged(**bad).size(), 2U);
  Try<std::unique_ptr<Process>> good =
      Process::start("/bin/sh", {"-c", "echo 'I1130 05:27:01.752007 8605 master.cpp:75] Master started'"},
                     dir.path() + "/good.log");
  ASSERT_TRUE(good) << good.error();
  ASSERT_TRUE((*good)->wait_exit(deadline_in(5s)));
  EXPECT_TRUE(invariant_violations_logged(**good).empty());
}

TEST(ClusterHarness, SnapshotsIgnoreTimesAndOffersButNotWhatWasSetOrAdmitted) {
  auto snapshot = [](const std::string& roles, const std::string& weights, const std::string& quota,
                     const std::string& state) {
    picojson::object o;
    o["/master/roles"] = without_volatile_fields("/master/roles", parse(roles));
    o["/master/weights"] = without_volatile_fields("/master/weights", parse(weights));
    o["/master/quota"] = without_volatile_fields("/master/quota", parse(quota));
    o["/master/state"] = without_volatile_fields("/master/state", parse(state));
    return picojson::value(o);
  };
  const std::string weights = R"([{"role":"web","weight":2}])";
  const std::string quota = R"({"infos":[{"role":"web","guarantee":{"cpus":1}}]})";
  picojson::value before = snapshot(
      R"({"roles":[{"name":"web","weight":2,"resources":{"cpus":1},"allocated":{"cpus":0},"offered":{"cpus":1},
          "share":0.5,"reserved":{},"quota":{"guarantee":{"cpus":1},"consumed":{"cpus":1}}}]})",
      weights, quota,
      R"({"start_time":1,"slaves":[{"id":"s1","active":true,"registered_time":1,"resources":{"cpus":2},
          "offered_resources":{"cpus":1}}],
          "frameworks":[{"id":"f1","resources":{"cpus":1.5},"used_resources":{"cpus":0.5},"offers":[{"id":"o1"}],
          "tasks":[{"id":"t1","state":"TASK_RUNNING","statuses":[{"state":"TASK_RUNNING","timestamp":5}]}]}]})");
  // Other times, other offers: the same snapshot.
  picojson::value later = snapshot(
      R"({"roles":[{"name":"web","weight":2,"resources":{"cpus":0.5},"allocated":{"cpus":0},"offered":{},
          "share":0.25,"reserved":{},"quota":{"guarantee":{"cpus":1},"consumed":{"cpus":0.5}}}]})",
      weights, quota,
      R"({"start_time":1,"slaves":[{"id":"s1","active":true,"registered_time":1,"resources":{"cpus":2},
          "offered_resources":{}}],
          "frameworks":[{"id":"f1","resources":{"cpus":0.5},"used_resources":{"cpus":0.5},"offers":[],
          "tasks":[{"id":"t1","state":"TASK_RUNNING","statuses":[{"state":"TASK_RUNNING","timestamp":7}]}]}]})");
  EXPECT_EQ(snapshot_difference(before, later), "");
  // A changed weight, a lost task or an inactive slave is a difference.
  picojson::value reweighted = snapshot(
      R"({"roles":[{"name":"web","weight":3}]})", R"([{"role":"web","weight":3}])", quota,
      R"({"start_time":1,"slaves":[{"id":"s1","active":false,"resources":{"cpus":2}}],
          "frameworks":[{"id":"f1","used_resources":{},"tasks":[]}]})");
  std::string diff = snapshot_difference(before, reweighted);
  for (const char* path : {"/master/roles", "/master/weights", "/master/state"}) {
    EXPECT_NE(diff.find(std::string(path) + " changed"), std::string::npos) << path << " in:\n" << diff;
  }
  EXPECT_EQ(diff.find("/master/quota changed"), std::string::npos) << diff;
}

TEST(ClusterHarness, EveryMasterChecksInvariantsRestartedOnesToo) {
  STOA_REQUIRE_BINARIES("stoa-master");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  auto checks_invariants = [](const Process* p) {
    std::vector<pid_t> pids = processes_with_marker("STOA_CHECK_INVARIANTS=1");
    return std::find(pids.begin(), pids.end(), p->pid()) != pids.end();
  };
  EXPECT_TRUE(checks_invariants(cluster.master())) << "the first master runs without STOA_CHECK_INVARIANTS=1";
  cluster.master()->kill(SIGKILL);
  ASSERT_TRUE(cluster.master()->wait_exit(deadline_in(5s)));
  Try<Process*> second = cluster.restart_master("master-restarted");
  ASSERT_TRUE(second) << second.error();
  EXPECT_TRUE(checks_invariants(*second)) << "the restarted master runs without STOA_CHECK_INVARIANTS=1";
  ASSERT_EQ(cluster.masters().size(), 2U);
  EXPECT_EQ(cluster.masters()[1], *second);
  // The counter the destructor reads is there on the restarted master.
  Try<picojson::value> metrics = http_get_json("127.0.0.1", cluster.master_port(), "/metrics/snapshot");
  ASSERT_TRUE(metrics) << metrics.error();
  Try<double> violations = invariant_violations(*metrics);
  ASSERT_TRUE(violations) << violations.error();
  EXPECT_EQ(*violations, 0.0);
}

}  // namespace
}  // namespace stoa::tests
