// Bad flags make a binary exit non-zero with a message naming the flag or value.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {

using namespace std::chrono_literals;

// Runs `binary args...` and expects a quick non-zero exit whose output matches every pattern in `naming`.
void expect_rejected(const std::string& binary, const std::vector<std::string>& args,
                     const std::vector<std::string>& naming) {
  TempDir dir;
  Try<std::unique_ptr<Process>> p = Process::start(binary, args, dir.path() + "/out.log");
  ASSERT_TRUE(p) << p.error();
  std::optional<int> code = (*p)->wait_exit(deadline_in(5s));
  ASSERT_TRUE(code) << binary << " kept running with a bad flag; output:\n" << (*p)->log();
  EXPECT_NE(*code, 0) << binary << " accepted a bad flag; output:\n" << (*p)->log();
  EXPECT_NE(*code, 128 + 11) << "crashed (SIGSEGV)";
  EXPECT_NE(*code, 128 + 6) << "aborted (SIGABRT)";
  for (const std::string& pattern : naming) {
    EXPECT_TRUE(std::regex_search((*p)->log(), std::regex(pattern)))
        << "the message does not name /" << pattern << "/; output:\n" << (*p)->log();
  }
}

TEST(BinaryFlags, MasterRejectsNonNumericPort) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir work;
  expect_rejected("stoa-master", {"--ip=127.0.0.1", "--port=abc", "--work_dir=" + work.path()}, {"port", "abc"});
}

TEST(BinaryFlags, MasterRejectsUnknownFlag) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir work;
  expect_rejected("stoa-master", {"--ip=127.0.0.1", "--port=0", "--work_dir=" + work.path(), "--nonexistent=1"},
                  {"nonexistent"});
}

TEST(BinaryFlags, SlaveRejectsNegativeResources) {
  STOA_REQUIRE_BINARIES("stoa-slave");
  TempDir work;
  expect_rejected("stoa-slave",
                  {"--master=127.0.0.1:1", "--ip=127.0.0.1", "--port=0", "--work_dir=" + work.path(),
                   "--resources=cpus:-1"},
                  {"resources|cpus:-1"});
}

TEST(BinaryFlags, SlaveRejectsUnknownFlag) {
  STOA_REQUIRE_BINARIES("stoa-slave");
  TempDir work;
  expect_rejected("stoa-slave",
                  {"--master=127.0.0.1:1", "--ip=127.0.0.1", "--port=0", "--work_dir=" + work.path(),
                   "--nonexistent=1"},
                  {"nonexistent"});
}

TEST(BinaryFlags, ExecuteRejectsBadResources) {
  STOA_REQUIRE_BINARIES("stoa-execute");
  expect_rejected("stoa-execute",
                  {"--master=127.0.0.1:1", "--name=x", "--command=true", "--resources=cpus:-1"},
                  {"resources|cpus:-1"});
}

// `base` with each `--name=value` of `overrides` replacing the flag of that name (or added).
std::vector<std::string> with_flags(std::vector<std::string> base, const std::vector<std::string>& overrides) {
  for (const std::string& o : overrides) {
    std::string name = o.substr(0, o.find('=') + 1);
    auto it = std::find_if(base.begin(), base.end(), [&](const std::string& b) { return b.rfind(name, 0) == 0; });
    if (it != base.end()) {
      *it = o;
    } else {
      base.push_back(o);
    }
  }
  return base;
}

// One bad invocation: the flags that differ from a good one, and the flag and
// value the message must name (the value quoted as given).
struct BadFlag {
  std::vector<std::string> flags;
  std::string flag;
  std::string value;
};

void expect_each_rejected(const std::string& binary, const std::vector<std::string>& good,
                          const std::vector<BadFlag>& cases) {
  for (const BadFlag& c : cases) {
    SCOPED_TRACE(binary + " " + c.flags.back());
    expect_rejected(binary, with_flags(good, c.flags),
                    {regex_escape("--" + c.flag), regex_escape("'" + c.value + "'")});
  }
}

std::vector<std::string> good_master_args(const TempDir& work) {
  return {"--ip=127.0.0.1", "--port=0", "--work_dir=" + work.path()};
}

std::vector<std::string> good_slave_args(const TempDir& work) {
  return {"--master=127.0.0.1:1", "--ip=127.0.0.1", "--port=0", "--work_dir=" + work.path(),
          "--resources=cpus:1;mem:64;disk:64;ports:[31000-31001]"};
}

TEST(BinaryFlags, MasterRejectsBadPortsAddressesAndPaths) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir work;
  expect_each_rejected("stoa-master", good_master_args(work),
                       {{{"--port=70000"}, "port", "70000"},
                        {{"--port=99999999999999999999"}, "port", "99999999999999999999"},
                        {{"--port=-1"}, "port", "-1"},
                        {{"--ip=not-an-ip"}, "ip", "not-an-ip"},
                        {{"--work_dir="}, "work_dir", ""},
                        {{"--hostname="}, "hostname", ""},
                        {{"--log_dir="}, "log_dir", ""}});
}

TEST(BinaryFlags, MasterRejectsNonPositiveOrHugeDurations) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir work;
  expect_each_rejected("stoa-master", good_master_args(work),
                       {{{"--slave_ping_timeout=0secs"}, "slave_ping_timeout", "0secs"},
                        {{"--slave_ping_timeout=-1secs"}, "slave_ping_timeout", "-1secs"},
                        {{"--slave_ping_timeout=nansecs"}, "slave_ping_timeout", "nansecs"},
                        {{"--allocation_interval=0ms"}, "allocation_interval", "0ms"},
                        {{"--allocation_interval=99999999999999weeks"}, "allocation_interval", "99999999999999weeks"},
                        {{"--offer_timeout=0secs"}, "offer_timeout", "0secs"},
                        {{"--offer_timeout=99999999999999weeks"}, "offer_timeout", "99999999999999weeks"},
                        {{"--slave_reregister_timeout=0secs"}, "slave_reregister_timeout", "0secs"}});
}

TEST(BinaryFlags, MasterRejectsBadHighAvailabilityFlags) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir work;
  expect_each_rejected("stoa-master", good_master_args(work),
                       {{{"--zk=127.0.0.1:2181/stoa"}, "zk", "127.0.0.1:2181/stoa"},
                        {{"--zk=zk://127.0.0.1:99999/stoa"}, "zk", "99999"},
                        {{"--zk=zk://127.0.0.1:2181"}, "zk", "zk://127.0.0.1:2181"},
                        {{"--zk=file:///nonexistent/zk-url"}, "zk", "/nonexistent/zk-url"},
                        {{"--zk=zk://127.0.0.1:2181/stoa", "--zk_session_timeout=0secs"}, "zk_session_timeout",
                         "0secs"},
                        {{"--quorum=0"}, "quorum", "0"},
                        {{"--registry=etcd"}, "registry", "etcd"},
                        {{"--registry=zookeeper"}, "registry", "zookeeper"},
                        {{"--registry_store_timeout=0secs"}, "registry_store_timeout", "0secs"},
                        {{"--recovery_slave_removal_limit=150%"}, "recovery_slave_removal_limit", "150%"},
                        {{"--recovery_slave_removal_limit=half"}, "recovery_slave_removal_limit", "half"}});
}

TEST(BinaryFlags, MasterRejectsNegativeOrZeroCounts) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir work;
  expect_each_rejected("stoa-master", good_master_args(work),
                       {{{"--max_slave_ping_timeouts=0"}, "max_slave_ping_timeouts", "0"},
                        {{"--max_slave_ping_timeouts=-5"}, "max_slave_ping_timeouts", "-5"},
                        {{"--max_completed_frameworks=-1"}, "max_completed_frameworks", "-1"},
                        {{"--max_completed_tasks_per_framework=-1"}, "max_completed_tasks_per_framework", "-1"},
                        {{"--max_completed_frameworks=99999999999"}, "max_completed_frameworks", "99999999999"}});
}

TEST(BinaryFlags, MasterRejectsBadRolesWeightsAndMinimumResources) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir work;
  expect_each_rejected("stoa-master", good_master_args(work),
                       {{{"--weights=web=2,web=3"}, "weights", "web=2,web=3"},
                        {{"--weights=web=0"}, "weights", "web=0"},
                        {{"--weights=web=-1"}, "weights", "web=-1"},
                        {{"--weights=web=nan"}, "weights", "web=nan"},
                        {{"--weights=web=inf"}, "weights", "web=inf"},
                        {{"--weights==2"}, "weights", "=2"},
                        {{"--weights=web"}, "weights", "web"},
                        {{"--weights=web=1,"}, "weights", "web=1,"},
                        {{"--roles=web,web"}, "roles", "web,web"},
                        {{"--roles=web,,db"}, "roles", "web,,db"},
                        {{"--roles=a b"}, "roles", "a b"},
                        {{"--roles=web", "--weights=db=2"}, "weights", "db=2"},
                        {{"--min_allocatable_resources=cpus:-1"}, "min_allocatable_resources", "cpus:-1"},
                        {{"--min_allocatable_resources=cpus:1||mem:32"}, "min_allocatable_resources",
                         "cpus:1||mem:32"},
                        {{"--min_allocatable_resources=ports:[1-2]"}, "min_allocatable_resources", "ports:[1-2]"},
                        {{"--min_allocatable_resources=cpus:0"}, "min_allocatable_resources", "cpus:0"}});
}

TEST(BinaryFlags, AFlagGivenTwiceIsRejected) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave");
  TempDir work;
  std::vector<std::string> master = good_master_args(work);
  master.push_back("--port=5");
  expect_rejected("stoa-master", master, {"--port", "twice"});
  std::vector<std::string> slave = good_slave_args(work);
  slave.push_back("--resources=cpus:2");
  expect_rejected("stoa-slave", slave, {"--resources", "twice"});
}

TEST(BinaryFlags, SlaveRejectsBadResources) {
  STOA_REQUIRE_BINARIES("stoa-slave");
  TempDir work;
  expect_each_rejected("stoa-slave", good_slave_args(work),
                       {{{"--resources=gpus:1.5"}, "resources", "gpus:1.5"},
                        {{"--resources=ports:{1,2}"}, "resources", "ports:{1,2}"},
                        {{"--resources=ports:31000"}, "resources", "ports:31000"},
                        {{"--resources=ports:[1-99999999999]"}, "resources", "ports:[1-99999999999]"},
                        {{"--resources=ports:[10-1]"}, "resources", "ports:[10-1]"},
                        {{"--resources=ports:[1-10, 5-20]"}, "resources", "ports:[1-10, 5-20]"},
                        {{"--resources=cpus:nan"}, "resources", "cpus:nan"},
                        {{"--resources=mem:1e400"}, "resources", "mem:1e400"},
                        {{"--resources=:4"}, "resources", ":4"},
                        {{"--resources=cpus:1;cpus:[1-2]"}, "resources", "cpus:1;cpus:[1-2]"}});
}

TEST(BinaryFlags, SlaveRejectsBadAttributesDurationsAndPorts) {
  STOA_REQUIRE_BINARIES("stoa-slave");
  TempDir work;
  expect_each_rejected(
      "stoa-slave", good_slave_args(work),
      {{{"--attributes=:r1"}, "attributes", ":r1"},
       {{"--attributes=z:[3-1]"}, "attributes", "z:[3-1]"},
       {{"--attributes=rack:r1;rack:r2"}, "attributes", "rack:r1;rack:r2"},
       {{"--executor_registration_timeout=0secs"}, "executor_registration_timeout", "0secs"},
       {{"--registration_backoff_factor=0secs"}, "registration_backoff_factor", "0secs"},
       {{"--executor_shutdown_grace_period=99999999999999weeks"}, "executor_shutdown_grace_period",
        "99999999999999weeks"},
       {{"--port=70000"}, "port", "70000"},
       {{"--port=99999999999999999999"}, "port", "99999999999999999999"}});
}

// --http_executor_domain_sockets: a socket path that cannot be (the default
// under a long --work_dir; --domain_socket_location relative or too long)
// is refused before the work_dir is made.
TEST(BinaryFlags, SlaveRejectsADomainSocketPathThatCannotBe) {
  STOA_REQUIRE_BINARIES("stoa-slave");
  TempDir work;
  const std::string deep = work.path() + "/" + std::string(120, 'w');
  std::vector<std::string> args = good_slave_args(work);
  for (std::string& a : args) {
    if (a.rfind("--work_dir=", 0) == 0) {
      a = "--work_dir=" + deep;
    }
  }
  args.push_back("--http_executor_domain_sockets");
  expect_rejected("stoa-slave", args, {"--http_executor_domain_sockets", regex_escape(deep + "/agent.sock"), "108"});
  EXPECT_FALSE(std::filesystem::exists(deep)) << "the work_dir was made for a slave that refused to start";
  expect_each_rejected("stoa-slave", good_slave_args(work),
                       {{{"--domain_socket_location=run/agent.sock"}, "domain_socket_location", "run/agent.sock"},
                        {{"--domain_socket_location=/" + std::string(110, 's')}, "domain_socket_location",
                         "/" + std::string(110, 's')}});
}

TEST(BinaryFlags, SlaveRejectsAnUnusableWorkDir) {
  STOA_REQUIRE_BINARIES("stoa-slave", "stoa-executor");
  TempDir work;
  std::string file = work.path() + "/a-file";
  std::ofstream(file) << "x";
  // Paths that fail for root too: a directory nobody may create files in,
  // a regular file, and a path below a regular file.
  for (const std::string& bad : {std::string("/proc/self"), file, file + "/sub"}) {
    SCOPED_TRACE(bad);
    expect_rejected("stoa-slave", with_flags(good_slave_args(work), {"--work_dir=" + bad}),
                    {regex_escape("--work_dir"), regex_escape(bad)});
  }
}

TEST(BinaryFlags, ASecondSlaveOnTheSameWorkDirRefusesToStart) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  Try<Process*> first = cluster.start_slave();
  ASSERT_TRUE(first) << first.error();
  ASSERT_TRUE(cluster.wait_for_active_slaves(1, deadline_in(DEFAULT_TIMEOUT)));

  const std::string work_dir = cluster.slave_work_dir(0);
  Try<Process*> second = cluster.start("stoa-slave", "second-slave",
                                       {"--master=" + cluster.master_address(), "--ip=127.0.0.1", "--port=0",
                                        "--work_dir=" + work_dir,
                                        "--resources=cpus:1;mem:64;disk:64;ports:[31000-31001]"});
  ASSERT_TRUE(second) << second.error();
  std::optional<int> code = (*second)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code) << "the second slave kept running on the first one's work_dir; output:\n" << (*second)->log();
  EXPECT_NE(*code, 0);
  std::string log = (*second)->log();
  EXPECT_NE(log.find(work_dir), std::string::npos) << log;
  EXPECT_NE(log.find("another slave is using it"), std::string::npos) << log;
  EXPECT_NE(log.find("pid " + std::to_string((*first)->pid())), std::string::npos) << log;

  // The first one is unharmed: still running, still the one registered slave.
  EXPECT_TRUE((*first)->running());
  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();
  const picojson::array& slaves = json_array(json_at(*state, "slaves"));
  ASSERT_EQ(slaves.size(), 1u);
  EXPECT_TRUE(json_at(slaves[0], "active").get<bool>());
  Try<picojson::value> slave_state = http_get_json("127.0.0.1", cluster.slave_port(0), "/slave(1)/state");
  EXPECT_TRUE(slave_state) << slave_state.error();
}

}  // namespace
}  // namespace stoa::tests
