// Addresses and ports across hosts (docs/multi-host.md): --actor_port,
// --advertise_ip/--advertise_port behind a port forwarder (a NAT on one
// machine), --ip=0.0.0.0, the loopback warnings, and a master and a slave in
// two network namespaces joined by a veth pair (root and `ip netns` only).
//
// The whole 127.0.0.0/8 is loopback, so 127.0.0.2.. are distinct "hosts"
// whose ports do not collide with 127.0.0.1's.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

#include "actors/addresses.hpp"
#include "tests/cluster.hpp"
#include "tests/relay.hpp"

namespace stoa::tests {
namespace {

// Any "listening on" line (the harness' listening_line() expects 127.0.0.1).
const std::regex& any_listening_line() {
  static const std::regex re(R"(listening on http://[0-9.]+:([0-9]+))");
  return re;
}

Try<Process*> start_and_wait(Cluster& cluster, const std::string& binary, const std::string& label,
                             const std::vector<std::string>& args) {
  Try<Process*> p = cluster.start(binary, label, args);
  if (p.is_error()) {
    return p;
  }
  if (!(*p)->wait_for_line(any_listening_line(), deadline_in(DEFAULT_TIMEOUT))) {
    return Error(label + " did not log 'listening on' (" + (*p)->describe_exit() + "); log tail:\n" +
                 tail_of_file((*p)->log_path(), 20));
  }
  return p;
}

int logged_port(const Process& p) {
  std::vector<std::string> lines = p.lines_matching(any_listening_line());
  std::smatch m;
  if (lines.empty() || !std::regex_search(lines.front(), m, any_listening_line())) {
    return 0;
  }
  return std::stoi(m[1]);
}

// True when a TCP connection to ip:port is accepted.
bool connects(const std::string& ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

// /master/state at ip:port once the master answers it: a master that has
// just logged "listening on" may still be recovering (503).
Try<picojson::value> state_when_recovered(const std::string& ip, int port) {
  Try<picojson::value> state = Error("never asked");
  poll_until([&] { return (state = http_get_json(ip, port, "/master/state")).is_some(); },
             deadline_in(DEFAULT_TIMEOUT));
  return state;
}

// The slaves of /master/state at ip:port once `count` are active (null
// value at the deadline).
picojson::value wait_for_slaves(const std::string& ip, int port, size_t count) {
  picojson::value last;
  poll_until(
      [&] {
        Try<picojson::value> state = http_get_json(ip, port, "/master/state");
        if (state.is_error()) {
          return false;
        }
        Try<size_t> active = count_active_slaves(*state);
        if (active.is_some() && *active == count) {
          last = json_at(*state, "slaves");
          return true;
        }
        return false;
      },
      deadline_in(DEFAULT_TIMEOUT));
  return last;
}

TEST(Addresses, FixedActorPortAnswersOnTheBoundAddress) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor");
  Cluster cluster;
  const int actor_port = free_loopback_port();
  Try<Process*> master = start_and_wait(cluster, "stoa-master", "master",
                                        {"--ip=127.0.0.2", "--port=0", "--actor_port=" + std::to_string(actor_port),
                                         "--no-hostname_lookup", "--work_dir=" + cluster.dir() + "/master"});
  ASSERT_TRUE(master) << master.error();
  const int port = logged_port(**master);
  ASSERT_NE(port, 0);
  Try<picojson::value> processes = http_get_json("127.0.0.2", port, "/__stoa__/processes");
  ASSERT_TRUE(processes) << processes.error();
  EXPECT_EQ(json_number(json_at(*processes, "actor_port")), actor_port);
  EXPECT_TRUE(connects("127.0.0.2", actor_port));
  EXPECT_FALSE(connects("127.0.0.1", actor_port)) << "the actor port is bound to --ip only";
  Try<picojson::value> state = state_when_recovered("127.0.0.2", port);
  ASSERT_TRUE(state) << state.error();
  const std::string pid = "master@127.0.0.2:" + std::to_string(port);
  EXPECT_EQ(json_string(json_at(*state, "pid")), pid);
  EXPECT_EQ(json_string(json_at(*state, "hostname")), "127.0.0.2");
  EXPECT_EQ(json_number(json_at(json_at(*state, "leader_info"), "actor_port")), actor_port);

  // A slave on another loopback address with its own fixed actor port.
  const int slave_actor_port = free_loopback_port();
  Try<Process*> slave = start_and_wait(
      cluster, "stoa-slave", "slave",
      {"--master=127.0.0.2:" + std::to_string(port), "--ip=127.0.0.3", "--port=0", "--no-hostname_lookup",
       "--actor_port=" + std::to_string(slave_actor_port), "--work_dir=" + cluster.dir() + "/slave",
       "--resources=cpus:1;mem:256;disk:100"});
  ASSERT_TRUE(slave) << slave.error();
  const int slave_port = logged_port(**slave);
  picojson::value slaves = wait_for_slaves("127.0.0.2", port, 1);
  ASSERT_EQ(json_array(slaves).size(), 1U) << "the slave never registered";
  EXPECT_EQ(json_string(json_at(slaves.get(0), "pid")), "slave(1)@127.0.0.3:" + std::to_string(slave_port));
  EXPECT_EQ(json_string(json_at(slaves.get(0), "hostname")), "127.0.0.3");
  Try<picojson::value> slave_processes = http_get_json("127.0.0.3", slave_port, "/__stoa__/processes");
  ASSERT_TRUE(slave_processes) << slave_processes.error();
  EXPECT_EQ(json_number(json_at(*slave_processes, "actor_port")), slave_actor_port);
  // Both on loopback: no warning.
  EXPECT_TRUE((*slave)->lines_matching(std::regex("bound to loopback interface")).empty()) << (*slave)->log();
}

// The forwarders are tests/relay.hpp's Relay: what a NAT does for one address.
TEST(Addresses, AdvertisedAddressesWorkBehindAForwarder) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor");
  Cluster cluster;
  // The "NAT": 127.0.0.4 forwards to the master at 127.0.0.2, 127.0.0.5 to
  // the slave at 127.0.0.3. HTTP ports are mapped to other numbers; actor
  // ports keep theirs (docs/multi-host.md).
  const int master_port = free_loopback_port();
  const int master_actor_port = free_loopback_port();
  Relay master_http("127.0.0.4", 0, "127.0.0.2", master_port);
  Relay master_actor("127.0.0.4", master_actor_port, "127.0.0.2", master_actor_port);
  ASSERT_NE(master_http.port(), 0);
  ASSERT_EQ(master_actor.port(), master_actor_port);
  Try<Process*> master = start_and_wait(
      cluster, "stoa-master", "master",
      {"--ip=127.0.0.2", "--port=" + std::to_string(master_port), "--actor_port=" + std::to_string(master_actor_port),
       "--advertise_ip=127.0.0.4", "--advertise_port=" + std::to_string(master_http.port()), "--no-hostname_lookup",
       "--work_dir=" + cluster.dir() + "/master"});
  ASSERT_TRUE(master) << master.error();
  EXPECT_FALSE(connects("127.0.0.4", master_port)) << "the master must bind --ip, not --advertise_ip";

  // Everything is read through the advertised address.
  const std::string advertised = "127.0.0.4:" + std::to_string(master_http.port());
  Try<picojson::value> state = state_when_recovered("127.0.0.4", master_http.port());
  ASSERT_TRUE(state) << state.error();
  EXPECT_EQ(json_string(json_at(*state, "pid")), "master@" + advertised);
  EXPECT_EQ(json_string(json_at(*state, "hostname")), "127.0.0.4");
  const picojson::value& address = json_at(json_at(*state, "leader_info"), "address");
  EXPECT_EQ(json_string(json_at(address, "ip")), "127.0.0.4");
  EXPECT_EQ(json_number(json_at(address, "port")), master_http.port());
  EXPECT_EQ(json_number(json_at(json_at(*state, "leader_info"), "actor_port")), master_actor_port);

  const int slave_port = free_loopback_port();
  const int slave_actor_port = free_loopback_port();
  Relay slave_http("127.0.0.5", 0, "127.0.0.3", slave_port);
  Relay slave_actor("127.0.0.5", slave_actor_port, "127.0.0.3", slave_actor_port);
  ASSERT_NE(slave_http.port(), 0);
  ASSERT_EQ(slave_actor.port(), slave_actor_port);
  Try<Process*> slave = start_and_wait(
      cluster, "stoa-slave", "slave",
      {"--master=" + advertised, "--ip=127.0.0.3", "--port=" + std::to_string(slave_port),
       "--actor_port=" + std::to_string(slave_actor_port), "--advertise_ip=127.0.0.5",
       "--advertise_port=" + std::to_string(slave_http.port()), "--hostname=agent-1.example",
       "--work_dir=" + cluster.dir() + "/slave", "--resources=cpus:1;mem:256;disk:100"});
  ASSERT_TRUE(slave) << slave.error();
  picojson::value slaves = wait_for_slaves("127.0.0.4", master_http.port(), 1);
  ASSERT_EQ(json_array(slaves).size(), 1U) << "the slave never registered through the forwarders";
  EXPECT_EQ(json_string(json_at(slaves.get(0), "pid")), "slave(1)@127.0.0.5:" + std::to_string(slave_http.port()));
  EXPECT_EQ(json_string(json_at(slaves.get(0), "hostname")), "agent-1.example");
  EXPECT_EQ(json_number(json_at(slaves.get(0), "port")), slave_http.port());
  EXPECT_TRUE((*slave)->wait_for_line(std::regex("Registered with master master@" + regex_escape(advertised)),
                                      deadline_in(DEFAULT_TIMEOUT)))
      << (*slave)->log();
}

TEST(Addresses, AFrameworkBehindAForwarderIsReachedThroughItsLibprocessAddresses) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<Process*> master =
      start_and_wait(cluster, "stoa-master", "master",
                     {"--ip=127.0.0.2", "--port=0", "--no-hostname_lookup", "--work_dir=" + cluster.dir() + "/master"});
  ASSERT_TRUE(master) << master.error();
  const int port = logged_port(**master);
  const std::string master_address = "127.0.0.2:" + std::to_string(port);
  Try<Process*> slave = start_and_wait(cluster, "stoa-slave", "slave",
                                       {"--master=" + master_address, "--ip=127.0.0.3", "--port=0",
                                        "--no-hostname_lookup", "--work_dir=" + cluster.dir() + "/slave",
                                        "--resources=cpus:1;mem:256;disk:100"});
  ASSERT_TRUE(slave) << slave.error();
  ASSERT_EQ(json_array(wait_for_slaves("127.0.0.2", port, 1)).size(), 1U) << "the slave never registered";

  // The framework binds 127.0.0.6 and is reached only through the "NAT" at
  // 127.0.0.7, all from Mesos' LIBPROCESS_* variables (no flags).
  const int fw_port = free_loopback_port();
  const int fw_actor_port = free_loopback_port();
  Relay fw_http("127.0.0.7", 0, "127.0.0.6", fw_port);
  Relay fw_actor("127.0.0.7", fw_actor_port, "127.0.0.6", fw_actor_port);
  ASSERT_NE(fw_http.port(), 0);
  ASSERT_EQ(fw_actor.port(), fw_actor_port);
  Try<Process*> execute = cluster.start(
      "stoa-execute", "execute",
      {"--master=" + master_address, "--name=behind-nat", "--command=echo through the forwarder",
       "--resources=cpus:0.1;mem:32", "--actor_port=" + std::to_string(fw_actor_port)},
      {{"LIBPROCESS_IP", "127.0.0.6"},
       {"LIBPROCESS_PORT", std::to_string(fw_port)},
       {"LIBPROCESS_ADVERTISE_IP", "127.0.0.7"},
       {"LIBPROCESS_ADVERTISE_PORT", std::to_string(fw_http.port())}});
  ASSERT_TRUE(execute) << execute.error();
  EXPECT_TRUE((*execute)->wait_for_line(std::regex("TASK_FINISHED"), deadline_in(DEFAULT_TIMEOUT)))
      << (*execute)->log();
  std::optional<int> status = (*execute)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, 0) << (*execute)->log();
  EXPECT_FALSE(connects("127.0.0.7", fw_port)) << "the framework must bind LIBPROCESS_IP, not the advertised IP";
  // The master knew the framework by its advertised address.
  EXPECT_TRUE((*master)->wait_for_line(
      std::regex("Subscribed framework .* at scheduler-[0-9a-f-]+@127\\.0\\.0\\.7:" + std::to_string(fw_http.port())),
      deadline_in(DEFAULT_TIMEOUT)))
      << (*master)->log();
}

TEST(Addresses, AnyAddressAdvertisesARoutableOne) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor");
  Cluster cluster;
  Try<Process*> master =
      start_and_wait(cluster, "stoa-master", "master",
                     {"--ip=0.0.0.0", "--port=0", "--no-hostname_lookup", "--work_dir=" + cluster.dir() + "/master"});
  ASSERT_TRUE(master) << master.error();
  const int port = logged_port(**master);
  Try<picojson::value> state = state_when_recovered("127.0.0.1", port);  // every interface
  ASSERT_TRUE(state) << state.error();
  std::smatch m;
  const std::string pid = json_string(json_at(*state, "pid"));
  ASSERT_TRUE(std::regex_match(pid, m, std::regex(R"(master@([0-9.]+):([0-9]+))"))) << pid;
  const std::string host = m[1];
  EXPECT_NE(host, "0.0.0.0");
  EXPECT_EQ(host, addresses::routable_ipv4());
  EXPECT_EQ(json_string(json_at(json_at(json_at(*state, "leader_info"), "address"), "ip")), host);
  EXPECT_EQ(json_string(json_at(*state, "hostname")), host);
  // The advertised address answers.
  Try<picojson::value> again = http_get_json(host, port, "/__stoa__/processes");
  ASSERT_TRUE(again) << again.error();

  Try<Process*> slave = start_and_wait(cluster, "stoa-slave", "slave",
                                       {"--master=" + host + ":" + std::to_string(port), "--ip=0.0.0.0", "--port=0",
                                        "--no-hostname_lookup", "--work_dir=" + cluster.dir() + "/slave",
                                        "--resources=cpus:1;mem:256;disk:100"});
  ASSERT_TRUE(slave) << slave.error();
  picojson::value slaves = wait_for_slaves(host, port, 1);
  ASSERT_EQ(json_array(slaves).size(), 1U) << "the slave never registered";
  EXPECT_EQ(json_string(json_at(slaves.get(0), "pid")), "slave(1)@" + host + ":" + std::to_string(logged_port(**slave)));
}

TEST(Addresses, LoopbackSlaveWarnsWhenItsMasterIsRemote) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor");
  const std::string routable = addresses::routable_ipv4();
  if (addresses::is_loopback_ip(routable)) {
    GTEST_SKIP() << "this host has no non-loopback IPv4 address (routable_ipv4() is " << routable << ")";
  }
  Cluster cluster;
  Try<Process*> master =
      start_and_wait(cluster, "stoa-master", "master",
                     {"--ip=0.0.0.0", "--port=0", "--no-hostname_lookup", "--work_dir=" + cluster.dir() + "/master"});
  ASSERT_TRUE(master) << master.error();
  const int port = logged_port(**master);
  const std::regex warning(regex_escape(
      "Agent bound to loopback interface! Cannot communicate with remote master(s). You might want to set '--ip' "
      "flag to a routable IP address."));
  Try<Process*> remote = start_and_wait(cluster, "stoa-slave", "slave-remote-master",
                                        {"--master=" + routable + ":" + std::to_string(port), "--ip=127.0.0.1",
                                         "--port=0", "--work_dir=" + cluster.dir() + "/slave1",
                                         "--resources=cpus:1;mem:256;disk:100"});
  ASSERT_TRUE(remote) << remote.error();
  EXPECT_TRUE((*remote)->wait_for_line(warning, deadline_in(DEFAULT_TIMEOUT))) << (*remote)->log();
  // The same slave with a loopback master: registered, and no warning.
  Try<Process*> local = start_and_wait(cluster, "stoa-slave", "slave-local-master",
                                       {"--master=127.0.0.1:" + std::to_string(port), "--ip=127.0.0.1", "--port=0",
                                        "--work_dir=" + cluster.dir() + "/slave2",
                                        "--resources=cpus:1;mem:256;disk:100"});
  ASSERT_TRUE(local) << local.error();
  EXPECT_EQ(json_array(wait_for_slaves("127.0.0.1", port, 2)).size(), 2U) << "both slaves register on this host";
  EXPECT_TRUE((*local)->lines_matching(warning).empty()) << (*local)->log();

  // A loopback master with a remote ZooKeeper warns too (logged before its
  // "listening on" line); with a loopback one it does not.
  const std::regex master_warning("Master bound to loopback interface!");
  Try<Process*> zk_remote =
      start_and_wait(cluster, "stoa-master", "master-remote-zk",
                     {"--ip=127.0.0.1", "--port=0", "--zk=zk://" + routable + ":1/stoa",
                      "--work_dir=" + cluster.dir() + "/master2"});
  ASSERT_TRUE(zk_remote) << zk_remote.error();
  EXPECT_FALSE((*zk_remote)->lines_matching(master_warning).empty()) << (*zk_remote)->log();
  Try<Process*> zk_local = start_and_wait(cluster, "stoa-master", "master-local-zk",
                                          {"--ip=127.0.0.1", "--port=0", "--zk=zk://127.0.0.1:1/stoa",
                                           "--work_dir=" + cluster.dir() + "/master3"});
  ASSERT_TRUE(zk_local) << zk_local.error();
  EXPECT_TRUE((*zk_local)->lines_matching(master_warning).empty()) << (*zk_local)->log();
}

// ---------------------------------------------------------------------------
// Two "hosts": network namespaces joined by a veth pair.

std::optional<std::string> netns_unavailable() {
  if (::geteuid() != 0) {
    return "needs root (network namespaces)";
  }
  if (::access("/usr/sbin/ip", X_OK) != 0 && ::access("/sbin/ip", X_OK) != 0) {
    return "needs the ip command (iproute2)";
  }
  return std::nullopt;
}

std::string ip_command() { return ::access("/usr/sbin/ip", X_OK) == 0 ? "/usr/sbin/ip" : "/sbin/ip"; }

// Creates two namespaces and a veth pair between them; deletes them (and
// with them the pair) on destruction.
class TwoHosts {
 public:
  explicit TwoHosts(const std::string& tag)
      : a_("stoa-addr-a-" + tag), b_("stoa-addr-b-" + tag), net_("198.18." + std::to_string(::getpid() % 250 + 1)) {}
  ~TwoHosts() {
    for (const std::string& ns : {a_, b_}) {
      run(ip_command() + " netns del " + ns + " 2>/dev/null");
    }
  }
  // Error naming the command that failed.
  std::optional<std::string> create() {
    const std::string ip = ip_command();
    const std::string va = "sa" + std::to_string(::getpid()), vb = "sb" + std::to_string(::getpid());
    for (const std::string& cmd :
         {ip + " netns add " + a_, ip + " netns add " + b_, ip + " link add " + va + " type veth peer name " + vb,
          ip + " link set " + va + " netns " + a_, ip + " link set " + vb + " netns " + b_,
          ip + " -n " + a_ + " addr add " + host_a() + "/24 dev " + va,
          ip + " -n " + b_ + " addr add " + host_b() + "/24 dev " + vb, ip + " -n " + a_ + " link set lo up",
          ip + " -n " + b_ + " link set lo up", ip + " -n " + a_ + " link set " + va + " up",
          ip + " -n " + b_ + " link set " + vb + " up"}) {
      if (run(cmd) != 0) {
        return "'" + cmd + "' failed";
      }
    }
    return std::nullopt;
  }
  const std::string& ns_a() const { return a_; }
  const std::string& ns_b() const { return b_; }
  std::string host_a() const { return net_ + ".1"; }
  std::string host_b() const { return net_ + ".2"; }
  // argv running `binary` inside `ns`.
  std::vector<std::string> in(const std::string& ns, const std::string& binary, std::vector<std::string> args) const {
    std::vector<std::string> argv = {"netns", "exec", ns, binary_path(binary)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

 private:
  static int run(const std::string& cmd) { return std::system(cmd.c_str()); }
  std::string a_, b_, net_;
};

TEST(Addresses, MasterAndSlaveInTwoNetworkNamespacesRunATask) {
  STOA_REQUIRE_BINARIES("stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  if (std::optional<std::string> why = netns_unavailable()) {
    GTEST_SKIP() << "Skipping the two-namespace test: " << *why;
  }
  TwoHosts hosts(std::to_string(::getpid()));
  if (std::optional<std::string> error = hosts.create()) {
    GTEST_SKIP() << "Skipping the two-namespace test: cannot build the namespaces (" << *error << ")";
  }
  Cluster cluster;
  // Default ports: 5050/5051 and the derived actor ports 15050/15051 are
  // free in fresh namespaces.
  Try<Process*> master =
      start_and_wait(cluster, ip_command(), "master",
                     hosts.in(hosts.ns_a(), "stoa-master",
                              {"--ip=" + hosts.host_a(), "--no-hostname_lookup", "--work_dir=" + cluster.dir() + "/m"}));
  ASSERT_TRUE(master) << master.error();
  EXPECT_TRUE((*master)->wait_for_line(std::regex("actor port 15050"), deadline_in(DEFAULT_TIMEOUT)))
      << (*master)->log();
  const std::string master_address = hosts.host_a() + ":5050";
  Try<Process*> slave = start_and_wait(
      cluster, ip_command(), "slave",
      hosts.in(hosts.ns_b(), "stoa-slave",
               {"--master=" + master_address, "--ip=" + hosts.host_b(), "--no-hostname_lookup",
                "--work_dir=" + cluster.dir() + "/s", "--resources=cpus:1;mem:256;disk:100"}));
  ASSERT_TRUE(slave) << slave.error();
  ASSERT_TRUE((*slave)->wait_for_line(std::regex("Registered with master master@" + regex_escape(master_address)),
                                      deadline_in(DEFAULT_TIMEOUT)))
      << (*slave)->log();
  EXPECT_TRUE((*slave)->lines_matching(std::regex("bound to loopback interface")).empty());

  Try<Process*> execute = cluster.start(
      ip_command(), "execute",
      hosts.in(hosts.ns_a(), "stoa-execute",
               {"--master=" + master_address, "--ip=" + hosts.host_a(), "--name=across",
                "--command=echo hello from the other host", "--resources=cpus:0.1;mem:32"}));
  ASSERT_TRUE(execute) << execute.error();
  std::optional<int> code = (*execute)->wait_exit(deadline_in(std::chrono::seconds(30)));
  ASSERT_TRUE(code) << "stoa-execute did not exit";
  EXPECT_EQ(*code, 0) << (*execute)->log();
  EXPECT_FALSE((*execute)->lines_matching(std::regex(R"(\bTASK_FINISHED\b)")).empty()) << (*execute)->log();
  std::vector<std::string> stdouts = find_files_named(cluster.dir() + "/s/slaves", "stdout");
  ASSERT_EQ(stdouts.size(), 1U);
  EXPECT_NE(read_file(stdouts[0]).find("hello from the other host"), std::string::npos) << read_file(stdouts[0]);
}

}  // namespace
}  // namespace stoa::tests
