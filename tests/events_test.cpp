// GET /master/events end to end: a real master, slave and framework; a
// subscriber reads the text/event-stream as a browser would.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

struct SseEvent {
  uint64_t id = 0;
  std::string type;
  std::string data;
  picojson::value json;
};

// A subscriber on a blocking socket: sends GET `path`, reads the head, then
// frames as they arrive.
class EventStream {
 public:
  EventStream(int port, const std::string& path) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    std::string req = "GET " + path + " HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n";
    ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
    auto deadline = deadline_in(DEFAULT_TIMEOUT);
    size_t eoh;
    while ((eoh = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) {
        return;
      }
    }
    head_ = buf_.substr(0, eoh);
    buf_.erase(0, eoh + 4);
  }
  ~EventStream() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // The status line and headers ("" when none came).
  const std::string& head() const { return head_; }
  int status() const { return head_.size() >= 12 ? std::stoi(head_.substr(9, 3)) : 0; }

  // The next event (comments skipped), or nullopt at the deadline / EOF.
  std::optional<SseEvent> next(Deadline deadline) {
    for (;;) {
      size_t end;
      while ((end = buf_.find("\n\n")) == std::string::npos) {
        if (!fill(deadline)) {
          return std::nullopt;
        }
      }
      std::string block = buf_.substr(0, end);
      buf_.erase(0, end + 2);
      SseEvent e;
      bool any = false;
      size_t pos = 0;
      while (pos <= block.size()) {
        size_t nl = block.find('\n', pos);
        std::string line = block.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? block.size() + 1 : nl + 1;
        if (line.rfind("id: ", 0) == 0) {
          e.id = std::stoull(line.substr(4));
        } else if (line.rfind("event: ", 0) == 0) {
          e.type = line.substr(7);
          any = true;
        } else if (line.rfind("data: ", 0) == 0) {
          e.data += line.substr(6);
        }
      }
      if (!any) {
        continue;  // a heartbeat comment
      }
      std::string err = picojson::parse(e.json, e.data);
      EXPECT_TRUE(err.empty()) << "event " << e.type << " data is not JSON: " << e.data;
      return e;
    }
  }

  // Events until one matches `pred` (returned), or nullopt at the deadline;
  // every event read is appended to `seen`.
  std::optional<SseEvent> until(const std::function<bool(const SseEvent&)>& pred, Deadline deadline,
                                std::vector<SseEvent>* seen = nullptr) {
    while (auto e = next(deadline)) {
      if (seen != nullptr) {
        seen->push_back(*e);
      }
      if (pred(*e)) {
        return e;
      }
    }
    return std::nullopt;
  }

 private:
  bool fill(Deadline deadline) {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (fd_ < 0 || left.count() <= 0) {
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        continue;
      }
      char tmp[16384];
      auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n <= 0) {
        return false;
      }
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
  }

  int fd_ = -1;
  std::string head_;
  std::string buf_;
};

bool is_type(const SseEvent& e, const std::string& type) { return e.type == type; }

TEST(MasterEvents, SubscriberSeesSlavesFrameworksAndTasks) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  Cluster cluster;
  Try<Process*> master = cluster.start_master();
  ASSERT_TRUE(master) << master.error();

  EventStream all(cluster.master_port(), "/master/events");
  ASSERT_EQ(all.status(), 200) << all.head();
  EXPECT_NE(all.head().find("Content-Type: text/event-stream"), std::string::npos) << all.head();
  EventStream only_updates(cluster.master_port(), "/master/events?types=TASK_UPDATED");
  ASSERT_EQ(only_updates.status(), 200) << only_updates.head();

  auto first = all.next(deadline_in(5s));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->type, "SUBSCRIBED");
  EXPECT_FALSE(json_string(json_at(first->json, "master_id")).empty()) << first->data;
  EXPECT_NE(json_string(json_at(first->json, "leader")).find("master@"), std::string::npos) << first->data;
  EXPECT_EQ(json_number(json_at(first->json, "heartbeat_interval_seconds")), 15);
  auto first_filtered = only_updates.next(deadline_in(5s));
  ASSERT_TRUE(first_filtered);
  EXPECT_EQ(first_filtered->type, "SUBSCRIBED");

  Try<Process*> slave = cluster.start_slave();
  ASSERT_TRUE(slave) << slave.error();
  auto added = all.until([](const SseEvent& e) { return is_type(e, "AGENT_ADDED"); }, deadline_in(10s));
  ASSERT_TRUE(added) << "no AGENT_ADDED";
  const picojson::value& agent = json_at(added->json, "agent");
  EXPECT_FALSE(json_string(json_at(agent, "id")).empty()) << added->data;
  EXPECT_TRUE(json_at(agent, "active").is<bool>()) << added->data;
  EXPECT_GT(added->id, first->id);

  Try<Process*> framework =
      cluster.start("stoa-example-framework", "framework",
                    {"--master=" + cluster.master_address(), "--tasks=1", "--command=true",
                     "--task_resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(framework) << framework.error();
  std::vector<SseEvent> seen;
  auto task_added = all.until([](const SseEvent& e) { return is_type(e, "TASK_ADDED"); }, deadline_in(15s), &seen);
  ASSERT_TRUE(task_added) << "no TASK_ADDED";
  bool framework_added = false;
  for (const auto& e : seen) {
    framework_added |= e.type == "FRAMEWORK_ADDED" && json_at(json_at(e.json, "framework"), "tasks").is<picojson::null>() &&
                       !json_string(json_at(json_at(e.json, "framework"), "id")).empty();
  }
  EXPECT_TRUE(framework_added) << "FRAMEWORK_ADDED (without tasks) before TASK_ADDED";
  const picojson::value& task = json_at(task_added->json, "task");
  std::string task_id = json_string(json_at(task, "id"));
  EXPECT_FALSE(task_id.empty()) << task_added->data;
  EXPECT_EQ(json_string(json_at(task, "state")), "TASK_STAGING");

  // RUNNING then FINISHED, each within 2 s of the one before (the command is `true`).
  std::vector<std::string> states;
  auto finished = all.until(
      [&](const SseEvent& e) {
        if (e.type == "TASK_UPDATED" && json_string(json_at(e.json, "task_id")) == task_id) {
          states.push_back(json_string(json_at(json_at(e.json, "status"), "state")));
          return states.back() == "TASK_FINISHED";
        }
        return false;
      },
      deadline_in(4s));
  ASSERT_TRUE(finished) << "no TASK_FINISHED; states seen: " << states.size();
  ASSERT_GE(states.size(), 2u);
  EXPECT_EQ(states[states.size() - 2], "TASK_RUNNING");
  EXPECT_EQ(json_string(json_at(finished->json, "state")), "TASK_FINISHED");
  EXPECT_FALSE(json_string(json_at(finished->json, "slave_id")).empty());
  EXPECT_FALSE(json_string(json_at(finished->json, "framework_id")).empty());
  EXPECT_GT(json_number(json_at(json_at(finished->json, "status"), "timestamp")), 0);

  // The filtered subscriber saw only TASK_UPDATED after SUBSCRIBED.
  auto update = only_updates.until([&](const SseEvent& e) {
    EXPECT_EQ(e.type, "TASK_UPDATED") << e.data;
    return json_string(json_at(json_at(e.json, "status"), "state")) == "TASK_FINISHED";
  }, deadline_in(5s));
  EXPECT_TRUE(update);
}

// Every 5 s the master records the cluster's utilization sample and
// publishes it: a subscriber to UTILIZATION gets one within an interval,
// with the slave's resources as the total.
TEST(MasterEvents, UtilizationSamplesArriveEveryClusterInterval) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  EventStream samples(cluster.master_port(), "/master/events?types=UTILIZATION");
  ASSERT_EQ(samples.status(), 200) << samples.head();
  ASSERT_TRUE(samples.until([](const SseEvent& e) { return is_type(e, "SUBSCRIBED"); }, deadline_in(5s)));
  // The cluster interval is 5 s; the first sample may predate the slave.
  auto with_slave = samples.until(
      [](const SseEvent& e) { return json_number(json_at(json_at(e.json, "cpus"), "total")) > 0; },
      deadline_in(12s));
  ASSERT_TRUE(with_slave) << "no UTILIZATION sample with the slave's cpus";
  EXPECT_EQ(with_slave->type, "UTILIZATION");
  EXPECT_GT(json_number(json_at(with_slave->json, "timestamp")), 0) << with_slave->data;
  EXPECT_GT(json_number(json_at(json_at(with_slave->json, "mem"), "total")), 0) << with_slave->data;
  EXPECT_TRUE(json_at(json_at(with_slave->json, "cpus"), "used").is<double>()) << with_slave->data;
}

TEST(MasterEvents, UnknownTypeIsA400NamingIt) {
  STOA_REQUIRE_BINARIES("stoa-master");
  Cluster cluster;
  Try<Process*> master = cluster.start_master();
  ASSERT_TRUE(master) << master.error();
  Try<HttpResponse> r = http_get("127.0.0.1", cluster.master_port(), "/master/events?types=TASK_ADDED,TASK_EXPLODED");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("'TASK_EXPLODED'"), std::string::npos) << r->body;
  // The master serves on.
  Try<HttpResponse> ok = http_get("127.0.0.1", cluster.master_port(), "/master/health");
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->status, 200);
}

}  // namespace
}  // namespace stoa::tests
