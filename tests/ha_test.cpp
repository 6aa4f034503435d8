// High availability with real ZooKeeper and real binaries on loopback:
// several masters contend in ZooKeeper, slaves and a framework follow the
// leader given as --master=zk://..., and the loss of the leader (kill -9,
// SIGSTOP past the session timeout), a ZooKeeper restart or the loss of one
// ensemble server loses nothing. (A single master's durable registry:
// recovery_test.cpp.)

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/zookeeper.hpp"
#include "tests/cluster.hpp"
#include "tests/task_checks.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::tests {
// Named so that this file's helpers stay apart from other test files'
// when CI compiles the test files of one binary as one unit (unity build).
namespace ha_test {
namespace {

using namespace std::chrono_literals;

// The session timeout every process of these tests uses; failover is
// measured against it.
constexpr auto SESSION_TIMEOUT = 2s;
const std::string SESSION_TIMEOUT_FLAG = "2secs";

struct MasterProcess {
  Process* process = nullptr;
  int port = 0;
  std::vector<std::string> args;
  std::string label;
};

double metric(int port, const std::string& name) {
  Try<picojson::value> m = http_get_json("127.0.0.1", port, "/metrics/snapshot", deadline_in(2s));
  if (m.is_error()) {
    return -1;
  }
  const picojson::value& v = json_at(*m, name);
  return v.is<double>() ? v.get<double>() : -1;
}

// Masters in ZooKeeper, slaves and frameworks that detect them, all under
// one Cluster (its temp dir, process bookkeeping and clean-up).
class HaCluster {
 public:
  explicit HaCluster(std::string zk_servers)
      : zk_servers_(std::move(zk_servers)), zk_url_("zk://" + zk_servers_ + "/stoa-" + unique_marker()) {}
  ~HaCluster() { expect_invariants_held(); }

  Cluster& cluster() { return cluster_; }
  const std::string& zk_url() const { return zk_url_; }
  std::vector<MasterProcess>& masters() { return masters_; }

  Try<MasterProcess*> start_master(const std::vector<std::string>& extra = {}) {
    const size_t n = masters_.size();
    MasterProcess m;
    m.label = "master" + std::to_string(n);
    m.args = {"--ip=127.0.0.1", "--port=0", "--work_dir=" + cluster_.dir() + "/" + m.label,
              "--zk=" + zk_url_, "--zk_session_timeout=" + SESSION_TIMEOUT_FLAG, "--no-hostname_lookup"};
    m.args.insert(m.args.end(), extra.begin(), extra.end());
    masters_.push_back(m);
    return launch(masters_.size() - 1, m.label);
  }

  // Starts master `i` again with its arguments (a process supervisor's
  // restart), logging under a new label.
  Try<MasterProcess*> restart_master(size_t i) {
    return launch(i, masters_[i].label + "-r" + std::to_string(++restarts_));
  }

  Try<Process*> start_slave(const std::vector<std::string>& extra = {}) {
    const std::string dir = cluster_.dir() + "/slave" + std::to_string(slaves_++);
    std::vector<std::string> args = {"--master=" + zk_url_, "--ip=127.0.0.1", "--port=0", "--work_dir=" + dir,
                                     "--resources=cpus:2;mem:1024;disk:1000;ports:[31000-32000]",
                                     "--registration_backoff_factor=100ms",
                                     "--zk_session_timeout=" + SESSION_TIMEOUT_FLAG};
    args.insert(args.end(), extra.begin(), extra.end());
    Try<Process*> p = cluster_.start("stoa-slave", "slave" + std::to_string(slaves_ - 1), args);
    if (p.is_error()) {
      return p;
    }
    if (!(*p)->wait_for_line(listening_line(), deadline_in(DEFAULT_TIMEOUT))) {
      return Error("stoa-slave did not start: " + (*p)->describe_exit() + "\n" + tail_of_file((*p)->log_path(), 20));
    }
    return p;
  }

  // The port of the one running master that says it leads, once exactly one
  // does; nullopt at the deadline.
  std::optional<int> wait_for_leader(Deadline deadline, int not_port = 0) {
    std::optional<int> found;
    poll_until(
        [&] {
          std::vector<int> leaders;
          for (MasterProcess& m : masters_) {
            if (m.process != nullptr && m.process->running() && m.port != not_port &&
                metric(m.port, "master/elected") == 1) {
              leaders.push_back(m.port);
            }
          }
          if (leaders.size() == 1) {
            found = leaders.front();
            return true;
          }
          return false;
        },
        deadline);
    return found;
  }

  // Plays the masters' process supervisor: starts again every master that
  // exited (a master whose ZooKeeper session expires exits, as Mesos' does),
  // except the one that ran on `not_port`.
  void restart_exited_masters(int not_port = 0) {
    for (size_t i = 0; i < masters_.size(); ++i) {
      if (masters_[i].process != nullptr && !masters_[i].process->running() && masters_[i].port != not_port) {
        Try<MasterProcess*> m = restart_master(i);
        EXPECT_TRUE(m) << m.error();
      }
    }
  }

  // Supervising the masters, waits until one leads and stays up past two
  // session timeouts (a master may learn only then that its old session
  // expired, and exit; slow under the sanitizers).
  std::optional<int> wait_for_lasting_leader(Deadline deadline) {
    std::optional<int> found;
    poll_until(
        [&] {
          restart_exited_masters();
          found = wait_for_leader(deadline_in(1s));
          if (!found) {
            return false;
          }
          MasterProcess* m = master_on(*found);
          return m != nullptr &&
                 !poll_until([&] { return !m->process->running(); }, deadline_in(2 * SESSION_TIMEOUT));
        },
        deadline);
    return found;
  }

  MasterProcess* master_on(int port) {
    for (MasterProcess& m : masters_) {
      if (m.port == port) {
        return &m;
      }
    }
    return nullptr;
  }

  // Fails the test when any master broke an accounting invariant (the log
  // of every master, killed ones too; the counter of the running ones).
  void expect_invariants_held() {
    for (Process* p : all_masters_) {
      std::vector<std::string> lines = invariant_violations_logged(*p);
      EXPECT_TRUE(lines.empty()) << p->name() << " logged invariant violations:\n" << lines.front();
    }
    for (MasterProcess& m : masters_) {
      if (m.process != nullptr && m.process->running()) {
        EXPECT_EQ(metric(m.port, "master/invariant_violations"), 0) << "master on port " << m.port;
      }
    }
  }

 private:
  Try<MasterProcess*> launch(size_t i, const std::string& label) {
    MasterProcess& m = masters_[i];
    Try<Process*> p = cluster_.start("stoa-master", label, m.args, {{"STOA_CHECK_INVARIANTS", "1"}});
    if (p.is_error()) {
      return Error(p.error());
    }
    auto line = (*p)->wait_for_line(listening_line(), deadline_in(DEFAULT_TIMEOUT));
    if (!line) {
      return Error("stoa-master did not start: " + (*p)->describe_exit() + "\n" + tail_of_file((*p)->log_path(), 20));
    }
    m.process = *p;
    m.port = std::stoi((*line)[1]);
    all_masters_.push_back(*p);
    return &m;
  }

  Cluster cluster_;
  std::string zk_servers_;
  std::string zk_url_;
  std::vector<MasterProcess> masters_;
  std::vector<Process*> all_masters_;
  size_t slaves_ = 0;
  int restarts_ = 0;
};

struct TaskView {
  std::string framework_id;
  std::string state;
};

// Active tasks of active frameworks in a /master/state body, by task id;
// `duplicates` counts ids seen twice.
std::map<std::string, TaskView> active_tasks(const picojson::value& state, size_t* duplicates) {
  std::map<std::string, TaskView> out;
  for (const auto& fw : json_array(json_at(state, "frameworks"))) {
    for (const auto& t : json_array(json_at(fw, "tasks"))) {
      std::string id = json_string(json_at(t, "id"));
      if (out.count(id) && duplicates != nullptr) {
        ++*duplicates;
      }
      out[id] = {json_string(json_at(fw, "id")), json_string(json_at(t, "state"))};
    }
  }
  return out;
}

std::set<std::string> active_slave_ids(const picojson::value& state) {
  std::set<std::string> ids;
  for (const auto& s : json_array(json_at(state, "slaves"))) {
    const picojson::value& active = json_at(s, "active");
    if (active.is<bool>() && active.get<bool>()) {
      ids.insert(json_string(json_at(s, "id")));
    }
  }
  return ids;
}

bool framework_connected(const picojson::value& state, const std::string& id) {
  for (const auto& fw : json_array(json_at(state, "frameworks"))) {
    if (json_string(json_at(fw, "id")) == id) {
      const picojson::value& c = json_at(fw, "connected");
      const picojson::value& a = json_at(fw, "active");
      return c.is<bool>() && c.get<bool>() && a.is<bool>() && a.get<bool>();
    }
  }
  return false;
}

// What the cluster looked like before the fault.
struct Baseline {
  std::set<std::string> slaves;
  std::map<std::string, TaskView> tasks;
  std::string framework_id;
  std::string marker;  // in every task's command line
  const Process* framework = nullptr;  // its command line carries the marker too
  std::set<pid_t> marked;  // each task's topmost process carrying it, while all ran
};

constexpr int TASKS = 20;

// 3 masters (quorum 2), 2 slaves and a framework with TASKS sleeping tasks,
// all RUNNING in the leader's state.
Try<Baseline> start_cluster_with_tasks(HaCluster& ha, int masters, int* leader_port, int quorum = 2) {
  for (int i = 0; i < masters; ++i) {
    Try<MasterProcess*> m = ha.start_master({"--quorum=" + std::to_string(quorum)});
    if (m.is_error()) {
      return Error(m.error());
    }
  }
  std::optional<int> leader = ha.wait_for_leader(deadline_in(DEFAULT_TIMEOUT));
  if (!leader) {
    return Error("no master was elected");
  }
  *leader_port = *leader;
  for (int i = 0; i < 2; ++i) {
    Try<Process*> s = ha.start_slave();
    if (s.is_error()) {
      return Error(s.error());
    }
  }
  Baseline b;
  b.marker = unique_marker();
  Try<Process*> fw = ha.cluster().start(
      "stoa-example-framework", "framework",
      {"--master=" + ha.zk_url(), "--tasks=" + std::to_string(TASKS), "--command=sleep 1000; : " + b.marker,
       "--task_resources=cpus:0.1;mem:16", "--failover_timeout=1mins"});
  if (fw.is_error()) {
    return Error(fw.error());
  }
  b.framework = *fw;
  std::string why;
  bool ok = poll_until(
      [&] {
        Try<picojson::value> s = http_get_json("127.0.0.1", *leader, "/master/state", deadline_in(2s));
        if (s.is_error()) {
          why = s.error();
          return false;
        }
        b.slaves = active_slave_ids(*s);
        b.tasks = active_tasks(*s, nullptr);
        size_t running = 0;
        for (const auto& [id, t] : b.tasks) {
          running += t.state == "TASK_RUNNING" ? 1 : 0;
          b.framework_id = t.framework_id;
        }
        why = std::to_string(b.slaves.size()) + " active slaves, " + std::to_string(running) + " running tasks";
        return b.slaves.size() == 2 && running == TASKS;
      },
      deadline_in(30s));
  if (!ok) {
    return Error("the cluster did not reach 2 slaves and " + std::to_string(TASKS) + " running tasks: " + why);
  }
  // Each task's shell carries the marker in its command line (so does the
  // framework, and a shell's fork for an instant before its exec: neither
  // counts, task_processes()).
  if (!poll_until(
          [&] {
            std::vector<pid_t> pids = task_processes(b.marker, *b.framework);
            b.marked = std::set<pid_t>(pids.begin(), pids.end());
            return b.marked.size() == TASKS;
          },
          deadline_in(10s))) {
    return Error(std::to_string(b.marked.size()) + " task processes carry the tasks' marker, not " +
                 std::to_string(TASKS));
  }
  return b;
}

// The new leader on `port` shows exactly the baseline: the same slaves
// active, the framework connected, the same tasks RUNNING (no duplicates),
// and each task's process still the one that ran before.
void expect_recovered(int port, const Baseline& b, Deadline deadline) {
  std::string why = "no answer";
  picojson::value last;
  bool ok = poll_until(
      [&] {
        Try<picojson::value> s = http_get_json("127.0.0.1", port, "/master/state", deadline_in(2s));
        if (s.is_error()) {
          why = s.error();
          return false;
        }
        last = *s;
        size_t duplicates = 0;
        std::map<std::string, TaskView> tasks = active_tasks(*s, &duplicates);
        std::set<std::string> slaves = active_slave_ids(*s);
        if (slaves != b.slaves) {
          why = std::to_string(slaves.size()) + " of the " + std::to_string(b.slaves.size()) + " slaves are back";
          return false;
        }
        if (!framework_connected(*s, b.framework_id)) {
          why = "framework " + b.framework_id + " has not re-subscribed";
          return false;
        }
        if (duplicates != 0) {
          why = std::to_string(duplicates) + " duplicated tasks";
          return false;
        }
        if (tasks.size() != b.tasks.size()) {
          why = std::to_string(tasks.size()) + " tasks instead of " + std::to_string(b.tasks.size());
          return false;
        }
        for (const auto& [id, t] : b.tasks) {
          auto it = tasks.find(id);
          if (it == tasks.end() || it->second.state != "TASK_RUNNING") {
            why = "task " + id + " is not RUNNING";
            return false;
          }
        }
        return true;
      },
      deadline);
  EXPECT_TRUE(ok) << why << "; last state: " << last.serialize().substr(0, 3000);
  // Nothing was restarted or lost: the same processes.
  std::set<pid_t> now;
  EXPECT_TRUE(poll_until(
      [&] {
        std::vector<pid_t> pids = task_processes(b.marker, *b.framework);
        now = std::set<pid_t>(pids.begin(), pids.end());
        return now == b.marked;
      },
      deadline_in(5s)))
      << now.size() << " processes carry the tasks' marker; " << b.marked.size()
      << " did before the fault, and they must be the same ones";
}

TEST(HighAvailability, KillingTheLeaderElectsAnotherAndLosesNothing) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  STOA_REQUIRE_ZOOKEEPER();
  Try<ZooKeeperServer*> zk = shared_zookeeper_server();
  ASSERT_TRUE(zk) << zk.error();
  HaCluster ha((*zk)->connect_string());
  int leader = 0;
  Try<Baseline> b = start_cluster_with_tasks(ha, 3, &leader);
  ASSERT_TRUE(b) << b.error();

  MasterProcess* old = ha.master_on(leader);
  ASSERT_NE(old, nullptr);
  const auto killed = Clock::now();
  old->process->kill(SIGKILL);
  std::optional<int> next = ha.wait_for_leader(deadline_in(SESSION_TIMEOUT + 2s), leader);
  ASSERT_TRUE(next) << "no new leader within 2 s of the session timeout";
  const auto elected_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count();
  std::cout << "new leader after " << elected_ms << " ms (session timeout "
            << std::chrono::milliseconds(SESSION_TIMEOUT).count() << " ms)" << std::endl;
  expect_recovered(*next, *b, deadline_in(DEFAULT_TIMEOUT));
}

TEST(HighAvailability, AStoppedLeaderIsReplacedAndNeverLeadsAgain) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  STOA_REQUIRE_ZOOKEEPER();
  Try<ZooKeeperServer*> zk = shared_zookeeper_server();
  ASSERT_TRUE(zk) << zk.error();
  HaCluster ha((*zk)->connect_string());
  int leader = 0;
  Try<Baseline> b = start_cluster_with_tasks(ha, 3, &leader);
  ASSERT_TRUE(b) << b.error();

  MasterProcess* old = ha.master_on(leader);
  ASSERT_NE(old, nullptr);
  old->process->kill(SIGSTOP);
  std::optional<int> next = ha.wait_for_leader(deadline_in(SESSION_TIMEOUT + 2s), leader);
  ASSERT_TRUE(next) << "no new leader within 2 s of the session timeout";
  expect_recovered(*next, *b, deadline_in(DEFAULT_TIMEOUT));

  // Woken up, the old leader learns that its session is gone and exits
  // without serving as leader again.
  old->process->kill(SIGCONT);
  std::optional<int> code = old->process->wait_exit(deadline_in(SESSION_TIMEOUT + 10s));
  ASSERT_TRUE(code) << "the old leader is still running after SIGCONT";
  EXPECT_NE(*code, 0);
  EXPECT_FALSE(old->process->lines_matching(std::regex("Lost leadership")).empty())
      << "the old leader did not say why it stopped";
  // The new leader still leads, with everything.
  EXPECT_EQ(ha.wait_for_leader(deadline_in(5s)), next);
  expect_recovered(*next, *b, deadline_in(10s));
}

TEST(HighAvailability, StandbyMastersRedirectToTheLeaderAndDropProtocolMessages) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  STOA_REQUIRE_ZOOKEEPER();
  Try<ZooKeeperServer*> zk = shared_zookeeper_server();
  ASSERT_TRUE(zk) << zk.error();
  HaCluster ha((*zk)->connect_string());
  for (int i = 0; i < 2; ++i) {
    Try<MasterProcess*> m = ha.start_master();
    ASSERT_TRUE(m) << m.error();
  }
  std::optional<int> leader = ha.wait_for_leader(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(leader);
  int standby = ha.masters()[0].port == *leader ? ha.masters()[1].port : ha.masters()[0].port;
  const std::string to_leader = "//127.0.0.1:" + std::to_string(*leader);
  // The standby learns who leads from its own detector, a moment later.
  EXPECT_TRUE(poll_until(
      [&] {
        Try<HttpResponse> r = http_get("127.0.0.1", standby, "/master/redirect");
        return r && r->status == 307;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "the standby never learned who leads";

  Try<HttpResponse> state = http_get("127.0.0.1", standby, "/master/state?jsonp=f");
  ASSERT_TRUE(state) << state.error();
  EXPECT_EQ(state->status, 307);
  EXPECT_EQ(state->headers["location"], to_leader + "/master/state?jsonp=f");
  // The event stream too (query kept); no stream is opened on the standby.
  Try<HttpResponse> events = http_get("127.0.0.1", standby, "/master/events?types=TASK_ADDED");
  ASSERT_TRUE(events) << events.error();
  EXPECT_EQ(events->status, 307);
  EXPECT_EQ(events->headers["location"], to_leader + "/master/events?types=TASK_ADDED");
  Try<HttpResponse> redirect = http_get("127.0.0.1", standby, "/master/redirect");
  ASSERT_TRUE(redirect) << redirect.error();
  EXPECT_EQ(redirect->status, 307);
  EXPECT_EQ(redirect->headers["location"], to_leader);
  // The leader names itself; every master answers its health.
  Try<HttpResponse> self = http_get("127.0.0.1", *leader, "/master/redirect");
  ASSERT_TRUE(self) << self.error();
  EXPECT_EQ(self->status, 307);
  EXPECT_EQ(self->headers["location"], to_leader);
  Try<HttpResponse> health = http_get("127.0.0.1", standby, "/master/health");
  ASSERT_TRUE(health) << health.error();
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(metric(standby, "master/elected"), 0);

  // Its own allocator's passes (empty, every allocation interval) are not counted as
  // dropped messages.
  EXPECT_EQ(metric(standby, "master/messages_while_not_leading"), 0);
  // A slave told the standby's address directly registers nowhere: the
  // standby drops what it sends.
  Try<Process*> stray = ha.cluster().start(
      "stoa-slave", "stray-slave",
      {"--master=127.0.0.1:" + std::to_string(standby), "--ip=127.0.0.1", "--port=0",
       "--work_dir=" + ha.cluster().dir() + "/stray", "--registration_backoff_factor=100ms"});
  ASSERT_TRUE(stray) << stray.error();
  EXPECT_TRUE(poll_until([&] { return metric(standby, "master/messages_while_not_leading") >= 2; },
                         deadline_in(DEFAULT_TIMEOUT)))
      << "the standby did not drop the stray slave's registrations";
  Try<picojson::value> leader_state = http_get_json("127.0.0.1", *leader, "/master/state");
  ASSERT_TRUE(leader_state) << leader_state.error();
  EXPECT_TRUE(json_array(json_at(*leader_state, "slaves")).empty());
}

// --quorum=2: the first master is elected but leads only once a second one
// contends.
TEST(HighAvailability, AnElectedMasterWaitsForAQuorumOfMasters) {
  STOA_REQUIRE_BINARIES("stoa-master");
  STOA_REQUIRE_ZOOKEEPER();
  Try<ZooKeeperServer*> zk = shared_zookeeper_server();
  ASSERT_TRUE(zk) << zk.error();
  HaCluster ha((*zk)->connect_string());
  Try<MasterProcess*> first = ha.start_master({"--quorum=2"});
  ASSERT_TRUE(first) << first.error();
  Process* alone = (*first)->process;
  const int alone_port = (*first)->port;
  ASSERT_TRUE(alone->wait_for_line(std::regex("waiting for --quorum=2 masters to contend \\(1 do\\)"),
                                   deadline_in(DEFAULT_TIMEOUT)))
      << alone->log();
  EXPECT_EQ(metric(alone_port, "master/elected"), 0);
  Try<HttpResponse> state = http_get("127.0.0.1", alone_port, "/master/state");
  ASSERT_TRUE(state) << state.error();
  EXPECT_EQ(state->status, 503) << state->body;
  Try<MasterProcess*> second = ha.start_master({"--quorum=2"});
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(ha.wait_for_leader(deadline_in(DEFAULT_TIMEOUT)), alone_port);
}

// The user's master script, unchanged but for the binary's name: Mesos'
// environment variables, an in-memory registry behind ZooKeeper; slaves and
// frameworks given the zk:// URL.
TEST(HighAvailability, TheUsersMasterScriptWorksUnchanged) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  STOA_REQUIRE_ZOOKEEPER();
  Try<ZooKeeperServer*> zk = shared_zookeeper_server();
  ASSERT_TRUE(zk) << zk.error();
  Cluster cluster;
  const std::string url = "zk://" + (*zk)->connect_string() + "/mesos-" + unique_marker();
  const int port = free_loopback_port();
  Try<Process*> master = cluster.start("stoa-master", "master", {"--no-hostname_lookup", "--ip=127.0.0.1"},
                                       {{"MESOS_PORT", std::to_string(port)},
                                        {"MESOS_ZK", url},
                                        {"MESOS_QUORUM", "1"},
                                        {"MESOS_REGISTRY", "in_memory"},
                                        {"MESOS_LOG_DIR", cluster.dir() + "/master-logs"},
                                        {"MESOS_WORK_DIR", cluster.dir() + "/master-work"},
                                        {"STOA_CHECK_INVARIANTS", "1"}});
  ASSERT_TRUE(master) << master.error();
  EXPECT_TRUE(poll_until([&] { return metric(port, "master/elected") == 1; }, deadline_in(DEFAULT_TIMEOUT)))
      << "the master did not lead; its log:\n" << (*master)->log();
  Try<Process*> slave = cluster.start("stoa-slave", "slave",
                                      {"--master=" + url, "--ip=127.0.0.1", "--port=0",
                                       "--work_dir=" + cluster.dir() + "/slave", "--no-hostname_lookup"});
  ASSERT_TRUE(slave) << slave.error();
  EXPECT_TRUE(poll_until([&] { return metric(port, "master/slaves_active") == 1; }, deadline_in(DEFAULT_TIMEOUT)))
      << "the slave did not register through ZooKeeper";
  Try<Process*> execute = cluster.start(
      "stoa-execute", "execute",
      {"--master=" + url, "--name=hello", "--command=echo 'hello mesos'", "--resources=cpus:0.1;mem:32"});
  ASSERT_TRUE(execute) << execute.error();
  std::optional<int> code = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "stoa-execute did not finish";
  EXPECT_EQ(*code, 0) << (*execute)->log();
  EXPECT_FALSE(find_files_named(cluster.dir() + "/master-logs", "stoa-master.INFO").empty())
      << "no log in MESOS_LOG_DIR";
  EXPECT_EQ(metric(port, "master/invariant_violations"), 0);
}

// Someone else writes the registry (a deposed leader's view of it is
// stale): the leader's next write loses the compare-and-swap and it stops
// leading at once.
TEST(HighAvailability, ALeaderWhoseRegistryWriteFailsStopsLeading) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  STOA_REQUIRE_ZOOKEEPER();
  Try<ZooKeeperServer*> zk = shared_zookeeper_server();
  ASSERT_TRUE(zk) << zk.error();
  HaCluster ha((*zk)->connect_string());
  Try<MasterProcess*> m = ha.start_master();
  ASSERT_TRUE(m) << m.error();
  std::optional<int> leader = ha.wait_for_leader(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(leader);
  Process* master = (*m)->process;

  // Bump the registry's version behind the leader's back.
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  zookeeper::ClientOptions copts;
  copts.connect_string = (*zk)->connect_string();
  caf::actor client = zookeeper::spawn_client(sys, copts);
  const std::string manifest = ha.zk_url().substr(ha.zk_url().find('/', 5)) + "/registry";
  {
    caf::scoped_actor self{sys};
    std::string data;
    int version = -1;
    self->request(client, 15s, zookeeper::get_version_atom_v, manifest)
        .receive([&](std::string& d, int v) { data = std::move(d), version = v; },
                 [&](caf::error& e) { ADD_FAILURE() << "get " << manifest << ": " << sys.render(e); });
    ASSERT_GE(version, 0);
    self->request(client, 15s, zookeeper::set_atom_v, manifest, data, version)
        .receive([](int) {}, [&](caf::error& e) { ADD_FAILURE() << "set " << manifest << ": " << sys.render(e); });
    self->request(client, 15s, zookeeper::close_atom_v).receive([](bool) {}, [](caf::error&) {});
  }
  client = caf::actor{};

  // The next write (admitting a slave) fails; the master exits, saying why,
  // and the slave is never told it registered.
  Try<Process*> slave = ha.start_slave();
  ASSERT_TRUE(slave) << slave.error();
  std::optional<int> code = master->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "the leader kept leading after its registry write failed";
  EXPECT_NE(*code, 0);
  EXPECT_FALSE(master->lines_matching(std::regex("Lost leadership \\(the registrar failed")).empty())
      << master->log();
  EXPECT_TRUE((*slave)->lines_matching(std::regex("Registered with master")).empty()) << (*slave)->log();
}

TEST(HighAvailability, TheClusterRecoversAfterAZooKeeperRestart) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  STOA_REQUIRE_ZOOKEEPER();
  Try<std::unique_ptr<ZooKeeperServer>> zk = ZooKeeperServer::start();
  ASSERT_TRUE(zk) << zk.error();
  HaCluster ha((*zk)->connect_string());
  int leader = 0;
  Try<Baseline> b = start_cluster_with_tasks(ha, 2, &leader, 1);
  ASSERT_TRUE(b) << b.error();

  (*zk)->stop();
  std::optional<Error> restarted = (*zk)->restart();
  ASSERT_FALSE(restarted) << restarted->message;
  // A master whose session expired while ZooKeeper was away exits (it may
  // not lead without ZooKeeper); its supervisor starts it again. The test
  // plays the supervisor.
  std::optional<int> next = ha.wait_for_lasting_leader(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(next) << "no master leads after the ZooKeeper restart";
  expect_recovered(*next, *b, deadline_in(DEFAULT_TIMEOUT));
}

TEST(HighAvailability, KeepsWorkingWhenAnEnsembleServerFails) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  STOA_REQUIRE_ZOOKEEPER();
  Try<std::unique_ptr<ZooKeeperEnsemble>> zk = ZooKeeperEnsemble::start();
  ASSERT_TRUE(zk) << zk.error();
  HaCluster ha((*zk)->connect_string());
  int leader = 0;
  Try<Baseline> b = start_cluster_with_tasks(ha, 3, &leader);
  ASSERT_TRUE(b) << b.error();

  // The ensemble's own leader goes: the other two elect one among them.
  int lost = 0;
  for (int i = 0; i < ZooKeeperEnsemble::SIZE; ++i) {
    if ((*zk)->mode(i) == "leader") {
      lost = i;
    }
  }
  (*zk)->stop(lost);
  // The other two elect a leader among them. Under load that may take longer
  // than the masters' 2 s sessions: a master whose session expired exits, as
  // Mesos' does, and its supervisor starts it again (the test plays it).
  std::optional<int> now = ha.wait_for_lasting_leader(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(now) << "no master leads with one ZooKeeper server down";
  expect_recovered(*now, *b, deadline_in(DEFAULT_TIMEOUT));
  // The registry still takes writes: a new slave is admitted. Asked of the
  // leader of the moment: a leader whose registry write met the lost
  // server's connection loss exits (as Mesos' does), and another one leads.
  Try<Process*> third = ha.start_slave();
  ASSERT_TRUE(third) << third.error();
  EXPECT_TRUE(poll_until(
      [&] {
        ha.restart_exited_masters();
        std::optional<int> leader = ha.wait_for_leader(deadline_in(2s));
        if (!leader) {
          return false;
        }
        now = leader;
        Try<picojson::value> s = http_get_json("127.0.0.1", *leader, "/master/state", deadline_in(2s));
        return s && active_slave_ids(*s).size() == 3;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << "a third slave was not admitted with one ZooKeeper server down";
  // And a failover still works on the two servers left.
  ha.master_on(*now)->process->kill(SIGKILL);
  std::optional<int> next;
  poll_until(
      [&] {
        ha.restart_exited_masters(*now);
        next = ha.wait_for_leader(deadline_in(1s), *now);
        return next.has_value();
      },
      deadline_in(SESSION_TIMEOUT + 10s));
  ASSERT_TRUE(next) << "no new leader after killing the leader with one ZooKeeper server down";
}

// The ensemble loses its quorum for longer than the masters' sessions: every
// master's session expires. The leader exits (and is not restarted here); the
// two standbys contend again, and the one elected must recover the registry
// and lead. (Its registry session used to start with the master, expire with
// the rest, and refuse the recovery: the elected standby exited too.)
TEST(HighAvailability, AStandbyWhoseSessionExpiredLeadsOnceTheEnsembleIsBack) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-example-framework");
  STOA_REQUIRE_ZOOKEEPER();
  Try<std::unique_ptr<ZooKeeperEnsemble>> zk = ZooKeeperEnsemble::start();
  ASSERT_TRUE(zk) << zk.error();
  HaCluster ha((*zk)->connect_string());
  int leader = 0;
  Try<Baseline> b = start_cluster_with_tasks(ha, 3, &leader);
  ASSERT_TRUE(b) << b.error();

  (*zk)->stop(0);
  (*zk)->stop(1);
  MasterProcess* old = ha.master_on(leader);
  ASSERT_NE(old, nullptr);
  std::optional<int> code = old->process->wait_exit(deadline_in(SESSION_TIMEOUT + 20s));
  ASSERT_TRUE(code) << "the leader kept leading with ZooKeeper's quorum gone";
  for (MasterProcess& m : ha.masters()) {
    if (m.port != leader) {
      ASSERT_TRUE(m.process->wait_for_line(std::regex("Candidacy lost while standing by"),
                                           deadline_in(SESSION_TIMEOUT + 20s)))
          << "the standby on port " << m.port << " did not lose its session:\n"
          << tail_of_file(m.process->log_path(), 20);
    }
  }
  std::optional<Error> back = (*zk)->start(0);
  ASSERT_FALSE(back) << back->message;

  std::optional<int> next = ha.wait_for_leader(deadline_in(DEFAULT_TIMEOUT + SESSION_TIMEOUT), leader);
  ASSERT_TRUE(next) << "no standby leads once the ensemble is back";
  expect_recovered(*next, *b, deadline_in(DEFAULT_TIMEOUT));
  for (MasterProcess& m : ha.masters()) {
    EXPECT_TRUE(m.port == leader || m.process->running())
        << "the master on port " << m.port << " exited:\n" << tail_of_file(m.process->log_path(), 20);
  }
}

}  // namespace
}  // namespace ha_test
}  // namespace stoa::tests
