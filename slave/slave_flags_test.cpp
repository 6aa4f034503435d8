#include "slave/slave_flags.hpp"

#include <gtest/gtest.h>

namespace stoa::slave {
namespace {

std::optional<Error> load(SlaveFlags& f, std::vector<const char*> args) {
  args.insert(args.begin(), "stoa-slave");
  return f.load(static_cast<int>(args.size()), args.data(), {});
}

TEST(SlaveFlags, DefaultsAndGoodValuesLoad) {
  SlaveFlags f;
  ASSERT_FALSE(load(f, {"--master=127.0.0.1:5050"}));
  SlaveFlags g;
  std::optional<Error> e =
      load(g, {"--master=127.0.0.1:5050", "--port=0", "--resources=cpus:2;gpus:1;ports:[31000-32000, 40000-40010]",
               "--attributes=rack:r1;u:2;z:[1-3]", "--registration_backoff_factor=10ms",
               "--executor_registration_timeout=1secs", "--executor_shutdown_grace_period=0secs"});
  ASSERT_FALSE(e) << e->message;
}

TEST(SlaveFlags, MasterMayBeAZooKeeperUrl) {
  SlaveFlags f;
  std::optional<Error> e = load(f, {"--master=zk://10.0.0.1:2181,10.0.0.2:2181/mesos", "--zk_session_timeout=3secs"});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(*f.master, "zk://10.0.0.1:2181,10.0.0.2:2181/mesos");
  EXPECT_EQ(f.zk_session_timeout, std::chrono::seconds(3));
  SlaveFlags g;
  ASSERT_FALSE(load(g, {"--master=127.0.0.1:5050"}));
  EXPECT_EQ(g.zk_session_timeout, std::chrono::seconds(10));  // Mesos' default
}

TEST(SlaveFlags, BadMastersNameTheValue) {
  for (const char* value : {"zk://10.0.0.1:2181", "zk://10.0.0.1/mesos", "file:///nonexistent/stoa-master"}) {
    SlaveFlags f;
    std::string arg = std::string("--master=") + value;
    std::optional<Error> e = load(f, {arg.c_str()});
    ASSERT_TRUE(e) << "accepted " << arg;
    EXPECT_NE(e->message.find("--master"), std::string::npos) << e->message;
    EXPECT_NE(e->message.find(value), std::string::npos) << e->message;
  }
}

TEST(SlaveFlags, BadValuesNameTheFlagAndTheValue) {
  const std::pair<const char*, const char*> bad[] = {
      {"--port=70000", "70000"},
      {"--port=-1", "-1"},
      {"--port=99999999999999999999", "99999999999999999999"},
      {"--ip=not-an-ip", "not-an-ip"},
      {"--ip=", ""},
      {"--work_dir=", ""},
      {"--log_dir=", ""},
      {"--launcher_dir=", ""},
      {"--hostname=", ""},
      {"--hostname=a b", "a b"},
      {"--resources=gpus:1.5", "gpus:1.5"},
      {"--resources=ports:{1,2}", "ports:{1,2}"},
      {"--resources=ports:31000", "ports:31000"},
      {"--resources=ports:[1-99999999999]", "ports:[1-99999999999]"},
      {"--resources=ports:[1-10, 5-20]", "ports:[1-10, 5-20]"},
      {"--resources=cpus:-1", "cpus:-1"},
      {"--resources=cpus:nan", "cpus:nan"},
      {"--resources=mem:1e400", "mem:1e400"},
      {"--resources=:4", ":4"},
      {"--resources=cpus:1;cpus:[1-2]", "cpus:1;cpus:[1-2]"},
      {"--attributes=:r1", ":r1"},
      {"--attributes=z:[3-1]", "z:[3-1]"},
      {"--attributes=s:{a,b}", "s:{a,b}"},
      {"--attributes=rack:r1;rack:r2", "rack:r1;rack:r2"},
      {"--registration_backoff_factor=0secs", "0secs"},
      {"--executor_registration_timeout=0secs", "0secs"},
      {"--executor_registration_timeout=-1secs", "-1secs"},
      {"--executor_shutdown_grace_period=99999999999999weeks", "99999999999999weeks"},
      {"--executor_shutdown_grace_period=nansecs", "nansecs"},
      {"--isolation=", ""},
      {"--zk_session_timeout=0secs", "0secs"},

      {"--isolation=posix/cpu,,posix/mem", "posix/cpu,,posix/mem"},
  };
  for (const auto& [arg, value] : bad) {
    SlaveFlags f;
    std::optional<Error> e = load(f, {"--master=127.0.0.1:5050", arg});
    ASSERT_TRUE(e) << "accepted " << arg;
    std::string flag = std::string(arg).substr(0, std::string(arg).find('='));
    EXPECT_NE(e->message.find(flag), std::string::npos) << arg << ": " << e->message;
    EXPECT_NE(e->message.find("'" + std::string(value) + "'"), std::string::npos) << arg << ": " << e->message;
  }
}

TEST(SlaveFlags, ExecutorPoolSizeIsAWholeNumberFrom0To64) {
  SlaveFlags defaults;
  ASSERT_FALSE(load(defaults, {"--master=127.0.0.1:5050"}));
  EXPECT_EQ(defaults.executor_pool_size, 0);
  for (const char* good : {"--executor_pool_size=0", "--executor_pool_size=8", "--executor_pool_size=64"}) {
    SlaveFlags f;
    std::optional<Error> e = load(f, {"--master=127.0.0.1:5050", good});
    EXPECT_FALSE(e) << good << ": " << e->message;
  }
  SlaveFlags eight;
  ASSERT_FALSE(load(eight, {"--master=127.0.0.1:5050", "--executor_pool_size=8"}));
  EXPECT_EQ(eight.executor_pool_size, 8);
  for (const std::string value : {"-1", "65", "1000", "abc", "1.5", ""}) {
    SlaveFlags f;
    const std::string arg = "--executor_pool_size=" + value;
    std::optional<Error> e = load(f, {"--master=127.0.0.1:5050", arg.c_str()});
    ASSERT_TRUE(e) << "accepted " << arg;
    EXPECT_NE(e->message.find("executor_pool_size"), std::string::npos) << arg << ": " << e->message;
    EXPECT_NE(e->message.find("'" + value + "'"), std::string::npos) << arg << ": " << e->message;
  }
}

TEST(SlaveFlags, UsageReportIntervalIsZeroOrAtLeast100ms) {
  SlaveFlags defaults;
  ASSERT_FALSE(load(defaults, {"--master=127.0.0.1:5050"}));
  EXPECT_EQ(defaults.usage_report_interval, std::chrono::seconds(5));
  EXPECT_EQ(defaults.values().at("usage_report_interval"), "5secs");
  for (auto [arg, expected] : {std::pair{"--usage_report_interval=0secs", Duration(0)},
                               {"--usage_report_interval=100ms", std::chrono::milliseconds(100)},
                               {"--usage_report_interval=200ms", std::chrono::milliseconds(200)},
                               {"--usage_report_interval=1mins", std::chrono::minutes(1)}}) {
    SlaveFlags f;
    std::optional<Error> e = load(f, {"--master=127.0.0.1:5050", arg});
    ASSERT_FALSE(e) << arg << ": " << e->message;
    EXPECT_EQ(f.usage_report_interval, expected) << arg;
  }
  for (const char* value : {"99ms", "1ms", "50us", "-1secs", "nansecs", "5", "", "99999999999999weeks"}) {
    SlaveFlags f;
    std::string arg = std::string("--usage_report_interval=") + value;
    std::optional<Error> e = load(f, {"--master=127.0.0.1:5050", arg.c_str()});
    ASSERT_TRUE(e) << "accepted " << arg;
    EXPECT_NE(e->message.find("--usage_report_interval"), std::string::npos) << e->message;
    EXPECT_NE(e->message.find("'" + std::string(value) + "'"), std::string::npos) << e->message;
  }
  SlaveFlags small;
  std::optional<Error> e = load(small, {"--master=127.0.0.1:5050", "--usage_report_interval=99ms"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("at least 100ms"), std::string::npos) << e->message;
  // From the environment too, as every flag.
  SlaveFlags env;
  const char* argv[] = {"stoa-slave", "--master=127.0.0.1:5050"};
  e = env.load(2, argv, {{"STOA_USAGE_REPORT_INTERVAL", "10ms"}});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("10ms"), std::string::npos) << e->message;
}

TEST(SlaveFlags, ContainerizersAreMesosAndDockerEachOnceInOrder) {
  EXPECT_EQ(*parse_containerizers("mesos"), (std::vector<std::string>{"mesos"}));
  EXPECT_EQ(*parse_containerizers("docker,mesos"), (std::vector<std::string>{"docker", "mesos"}));
  EXPECT_EQ(*parse_containerizers("mesos, docker"), (std::vector<std::string>{"mesos", "docker"}));
  for (auto [value, part] : {std::pair{"docker,docker", "'docker' is listed twice"},
                             {"mesos,appc", "unknown containerizer 'appc'"},
                             {"mesos,", "empty containerizer name"},
                             {"", "empty containerizer name"}}) {
    Try<std::vector<std::string>> parsed = parse_containerizers(value);
    ASSERT_TRUE(parsed.is_error()) << value;
    EXPECT_NE(parsed.error().find(part), std::string::npos) << parsed.error();
    SlaveFlags f;
    std::string arg = std::string("--containerizers=") + value;
    std::optional<Error> e = load(f, {"--master=127.0.0.1:5050", arg.c_str()});
    ASSERT_TRUE(e) << "accepted " << arg;
    EXPECT_NE(e->message.find(part), std::string::npos) << e->message;
  }
  SlaveFlags docker;
  std::optional<Error> e = load(docker, {"--master=127.0.0.1:5050", "--containerizers=docker,mesos",
                                         "--docker=/usr/bin/docker", "--docker_socket=/run/d.sock",
                                         "--docker_stop_timeout=5secs", "--no-docker_kill_orphans",
                                         "--docker_remove_delay=1mins", "--sandbox_directory=/sandbox"});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(docker.docker_socket, "/run/d.sock");
  EXPECT_EQ(docker.docker_stop_timeout, std::chrono::seconds(5));
  EXPECT_FALSE(docker.docker_kill_orphans);
  EXPECT_EQ(docker.docker_remove_delay, std::chrono::minutes(1));
  SlaveFlags relative;
  e = load(relative, {"--master=127.0.0.1:5050", "--sandbox_directory=mnt/sandbox"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("mnt/sandbox"), std::string::npos) << e->message;
  SlaveFlags defaults;
  ASSERT_FALSE(load(defaults, {"--master=127.0.0.1:5050"}));
  EXPECT_EQ(defaults.docker_socket, "/var/run/docker.sock");
  EXPECT_EQ(defaults.sandbox_directory, "/mnt/mesos/sandbox");
  EXPECT_EQ(defaults.docker_remove_delay, std::chrono::hours(6));
  EXPECT_TRUE(defaults.docker_kill_orphans);
}

TEST(SlaveFlags, DomainSocketLocationIsAnAbsolutePathUnder108Bytes) {
  SlaveFlags defaults;
  ASSERT_FALSE(load(defaults, {"--master=127.0.0.1:5050"}));
  EXPECT_FALSE(defaults.http_executor_domain_sockets);
  EXPECT_FALSE(defaults.domain_socket_location);
  SlaveFlags set;
  ASSERT_FALSE(load(set, {"--master=127.0.0.1:5050", "--http_executor_domain_sockets",
                          "--domain_socket_location=/run/stoa/agent.sock"}));
  EXPECT_TRUE(set.http_executor_domain_sockets);
  EXPECT_EQ(set.domain_socket_location, "/run/stoa/agent.sock");
  SlaveFlags relative;
  std::optional<Error> e = load(relative, {"--master=127.0.0.1:5050", "--domain_socket_location=run/agent.sock"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("run/agent.sock"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("must be an absolute path"), std::string::npos) << e->message;
  SlaveFlags too_long;
  const std::string arg = "--domain_socket_location=/" + std::string(110, 'x');
  e = load(too_long, {"--master=127.0.0.1:5050", arg.c_str()});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("fewer than 108 bytes"), std::string::npos) << e->message;
}

TEST(SlaveFlags, AddressFlags) {
  SlaveFlags defaults;
  ASSERT_FALSE(load(defaults, {"--master=10.0.0.1:5050"}));
  EXPECT_EQ(effective_actor_port(defaults.port, defaults.address), 15051);
  SlaveFlags given;
  std::optional<Error> e = load(given, {"--master=10.0.0.1:5050", "--ip=0.0.0.0", "--actor_port=0",
                                        "--advertise_ip=192.168.7.8", "--advertise_port=15151"});
  ASSERT_FALSE(e) << e->message;
  EXPECT_EQ(effective_actor_port(given.port, given.address), 0);
  EXPECT_EQ(effective_advertise_port(given.address), 15151);
  EXPECT_EQ(*given.address.advertise_ip, "192.168.7.8");
  SlaveFlags bad_port;
  e = load(bad_port, {"--master=10.0.0.1:5050", "--actor_port=70000"});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->message, "Invalid value '70000' for flag '--actor_port': must be a port number within 0..65535");
  SlaveFlags bad_ip;
  e = load(bad_ip, {"--master=10.0.0.1:5050", "--advertise_ip=agent-1"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("Invalid value 'agent-1' for flag '--advertise_ip': not an IPv4 address"),
            std::string::npos)
      << e->message;
  SlaveFlags same;
  e = load(same, {"--master=10.0.0.1:5050", "--port=5051", "--actor_port=5051"});
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("'--actor_port=5051' is the same port as '--port=5051'"), std::string::npos) << e->message;
}

}  // namespace
}  // namespace stoa::slave
