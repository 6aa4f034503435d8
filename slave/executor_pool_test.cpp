// The warm executor pool's pieces that need no cluster: which launches may
// adopt a pooled executor, how one is started, and the executor's side of
// an adoption (environment, sandbox). The whole path, with a real slave and
// stoa-executor, is tests/executor_pool_test.cpp.

#include "slave/executor_pool.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/uuid.hpp"

namespace stoa::slave {
namespace {

ContainerConfig eligible_config() {
  ContainerConfig c;
  c.container_id = random_uuid();
  c.argv = {"/bin/stoa-executor"};
  return c;
}

TEST(ExecutorPool, CommandExecutorsOfTheSlavesUserWithoutCgroupsMayAdopt) {
  const std::vector<std::string> posix = {"posix/cpu", "posix/mem", "disk/du"};
  EXPECT_EQ(pool_refusal(eligible_config(), posix, "alice"), std::nullopt);
  ContainerConfig same_user = eligible_config();
  same_user.user = "alice";  // --switch_user to the slave's own user changes nothing
  EXPECT_EQ(pool_refusal(same_user, posix, "alice"), std::nullopt);
}

TEST(ExecutorPool, LaunchesThePoolCannotHonourStartAfresh) {
  const std::vector<std::string> posix = {"posix/cpu", "posix/mem"};
  ContainerConfig docker = eligible_config();
  docker.docker = true;
  EXPECT_EQ(pool_refusal(docker, posix, "alice").value_or(""), "a Docker container");

  ContainerConfig other = eligible_config();
  other.user = "bob";
  EXPECT_EQ(pool_refusal(other, posix, "alice").value_or(""), "runs as user 'bob', the pool as 'alice'");

  for (const std::string cgroups : {"cgroups/cpu", "cgroups/mem", "cgroups/pids"}) {
    std::optional<std::string> why = pool_refusal(eligible_config(), {"posix/cpu", cgroups}, "alice");
    ASSERT_TRUE(why) << cgroups;
    EXPECT_NE(why->find(cgroups), std::string::npos) << *why;
  }

  ContainerConfig long_id = eligible_config();
  long_id.container_id = std::string(POOL_CONTAINER_ID_CAPACITY + 1, 'c');
  EXPECT_TRUE(pool_refusal(long_id, posix, "alice"));
  long_id.container_id.pop_back();
  EXPECT_FALSE(pool_refusal(long_id, posix, "alice"));
}

TEST(ExecutorPool, PooledExecutorsStartInASessionOfTheirOwnWithAPlaceholder) {
  PoolSpecInputs in{"/bin/stoa-executor", "tok", "slave(1)@127.0.0.1:5051", 15051, "127.0.0.1", "/w", "", ""};
  LaunchSpec spec = pooled_executor_spec(in);
  EXPECT_EQ(spec.argv, std::vector<std::string>{"/bin/stoa-executor"});
  EXPECT_TRUE(spec.new_session);
  EXPECT_TRUE(spec.user.empty());
  EXPECT_TRUE(spec.cgroups.empty());
  EXPECT_EQ(spec.working_dir, "/w");
  EXPECT_EQ(spec.stdout_path, "/dev/null");
  EXPECT_EQ(spec.stderr_path, "/dev/null");
  EXPECT_EQ(spec.env.at(POOL_TOKEN_VARIABLE), "tok");
  EXPECT_EQ(spec.env.at("STOA_SLAVE_PID"), "slave(1)@127.0.0.1:5051");
  EXPECT_EQ(spec.env.at("STOA_SLAVE_ACTOR_PORT"), "15051");
  EXPECT_EQ(spec.env.at("STOA_EXECUTOR_IP"), "127.0.0.1");
  EXPECT_EQ(spec.env.at("STOA_CONTAINER_ID"), std::string(POOL_CONTAINER_ID_CAPACITY, POOL_PLACEHOLDER_CHAR));
  EXPECT_EQ(spec.env.count("STOA_FRAMEWORK_ID"), 0U) << "a pooled executor names no framework yet";
  EXPECT_EQ(spec.env.count("MESOS_AGENT_ENDPOINT"), 0U) << "stoa-executor reaches its slave over the actor port";

  in.executor_path = "/bin/stoa-http-executor";
  in.agent_endpoint = "127.0.0.1:5051";
  spec = pooled_executor_spec(in);
  EXPECT_EQ(spec.argv, std::vector<std::string>{"/bin/stoa-http-executor"});
  EXPECT_EQ(spec.env.at("MESOS_AGENT_ENDPOINT"), "127.0.0.1:5051");
  EXPECT_EQ(spec.env.at(POOL_TOKEN_VARIABLE), "tok");
  EXPECT_EQ(spec.env.count("MESOS_DOMAIN_SOCKET"), 0U);

  in.domain_socket = "/w/agent.sock";  // --http_executor_domain_sockets
  spec = pooled_executor_spec(in);
  EXPECT_EQ(spec.env.at("MESOS_DOMAIN_SOCKET"), "/w/agent.sock");
  EXPECT_EQ(spec.env.at("MESOS_AGENT_ENDPOINT"), "127.0.0.1:5051");
}

// This test process was not started with the placeholder: there is none to
// claim, and one set with setenv() lives on the heap, outside the region
// /proc/self/environ shows, so the rewrite is refused as not visible.
TEST(ExecutorPool, ClaimingNeedsThePlaceholderOfTheInitialEnvironment) {
  const char* before = std::getenv("STOA_CONTAINER_ID");
  ASSERT_EQ(before, nullptr) << "the test runs with STOA_CONTAINER_ID set";
  std::optional<Error> none = claim_container_id("c1");
  ASSERT_TRUE(none);
  EXPECT_NE(none->message.find("no STOA_CONTAINER_ID placeholder"), std::string::npos) << none->message;

  ::setenv("STOA_CONTAINER_ID", std::string(8, POOL_PLACEHOLDER_CHAR).c_str(), 1);
  std::optional<Error> too_long = claim_container_id("123456789");
  ASSERT_TRUE(too_long);
  EXPECT_NE(too_long->message.find("longer than the placeholder"), std::string::npos) << too_long->message;
  std::optional<Error> invisible = claim_container_id("c1");
  ASSERT_TRUE(invisible);
  EXPECT_NE(invisible->message.find("/proc/self/environ does not name container c1"), std::string::npos)
      << invisible->message;
  std::optional<Error> again = claim_container_id("c2");
  ASSERT_TRUE(again);
  EXPECT_NE(again->message.find("not the pool's placeholder"), std::string::npos) << again->message;
  ::unsetenv("STOA_CONTAINER_ID");
}

TEST(ExecutorPool, AdoptedEnvironmentIsTheColdOneWithoutTheToken) {
  ::setenv(POOL_TOKEN_VARIABLE, "tok", 1);
  Environment env;
  auto add = [&env](const std::string& name, const std::string& value) {
    Environment::Variable* v = env.add_variables();
    v->set_name(name);
    v->set_value(value);
  };
  add("STOA_POOL_TEST_A", "1");
  add("MESOS_SANDBOX", "/sandbox/x");
  EXPECT_EQ(adopt_environment(env), std::nullopt);
  EXPECT_STREQ(std::getenv("STOA_POOL_TEST_A"), "1");
  EXPECT_STREQ(std::getenv("MESOS_SANDBOX"), "/sandbox/x");
  EXPECT_EQ(std::getenv(POOL_TOKEN_VARIABLE), nullptr);
  ::unsetenv("STOA_POOL_TEST_A");
  ::unsetenv("MESOS_SANDBOX");

  Environment bad;
  Environment::Variable* v = bad.add_variables();
  v->set_name("A=B");
  std::optional<Error> e = adopt_environment(bad);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("'A=B'"), std::string::npos) << e->message;

  Environment other_id;
  v = other_id.add_variables();
  v->set_name("STOA_CONTAINER_ID");
  v->set_value("c9");
  e = adopt_environment(other_id);
  ASSERT_TRUE(e) << "a container id that was not claimed was taken";
  EXPECT_NE(e->message.find("c9"), std::string::npos) << e->message;
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// In a child (it moves its stdout and stderr): the sandbox becomes its
// working directory and its output goes to the sandbox's files, appended.
TEST(ExecutorPool, EnteringTheSandboxMovesDirectoryAndOutput) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("stoa-pool-test-" + random_uuid());
  fs::create_directories(dir);
  { std::ofstream(dir / "stdout") << "before\n"; }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (enter_sandbox(dir.string())) {
      ::_exit(2);
    }
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr || dir.string() != cwd) {
      ::_exit(3);
    }
    (void)!::write(STDOUT_FILENO, "out\n", 4);
    (void)!::write(STDERR_FILENO, "err\n", 4);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: enter_sandbox failed, 3: wrong working directory";
  EXPECT_EQ(read_whole_file((dir / "stdout").string()), "before\nout\n");
  EXPECT_EQ(read_whole_file((dir / "stderr").string()), "err\n");
  std::optional<Error> missing = enter_sandbox((dir / "nope").string());
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->message.find((dir / "nope").string()), std::string::npos) << missing->message;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace stoa::slave
