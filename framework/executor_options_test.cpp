// ExecutorOptions as an executor builds them from the environment the slave
// gives it (framework/executor.hpp): every variable read, defaults, and a
// clear error naming a bad value.

#include <cstdlib>

#include <gtest/gtest.h>

#include "framework/executor.hpp"

namespace stoa {
namespace {

using namespace std::chrono_literals;

TEST(ExecutorOptionsTest, FromEnvironment) {
  ::setenv("STOA_SLAVE_PID", "slave(1)@127.0.0.1:5051", 1);
  ::setenv("STOA_SLAVE_ACTOR_PORT", "4242", 1);
  ::setenv("STOA_FRAMEWORK_ID", "fw-1", 1);
  ::setenv("STOA_EXECUTOR_ID", "exec-1", 1);
  ::setenv("STOA_DIRECTORY", "/tmp/sandbox", 1);
  ::setenv("STOA_EXECUTOR_IP", "127.0.0.2", 1);
  Try<ExecutorOptions> o = ExecutorOptions::from_environment();
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->slave_pid, "slave(1)@127.0.0.1:5051");
  EXPECT_EQ(o->slave_actor_port, 4242);
  EXPECT_EQ(o->framework_id.value(), "fw-1");
  EXPECT_EQ(o->executor_id.value(), "exec-1");
  EXPECT_EQ(o->directory, "/tmp/sandbox");
  EXPECT_EQ(o->ip, "127.0.0.2");

  ::unsetenv("STOA_EXECUTOR_IP");
  ::unsetenv("STOA_SLAVE_ACTOR_PORT");
  o = ExecutorOptions::from_environment();
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->ip, "127.0.0.1");
  EXPECT_EQ(o->slave_actor_port, 0);

  ::setenv("STOA_SLAVE_ACTOR_PORT", "70000", 1);
  o = ExecutorOptions::from_environment();
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().find("STOA_SLAVE_ACTOR_PORT"), std::string::npos) << o.error();
  ::setenv("STOA_SLAVE_ACTOR_PORT", "12x", 1);
  EXPECT_FALSE(ExecutorOptions::from_environment());
  ::unsetenv("STOA_SLAVE_ACTOR_PORT");

  ::unsetenv("STOA_EXECUTOR_ID");
  o = ExecutorOptions::from_environment();
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().find("STOA_EXECUTOR_ID"), std::string::npos) << o.error();
  for (const char* v : {"STOA_SLAVE_PID", "STOA_FRAMEWORK_ID", "STOA_DIRECTORY"}) {
    ::unsetenv(v);
  }
}

TEST(ExecutorOptionsTest, CheckpointRecoveryTimeoutAndShutdownGrace) {
  for (auto [name, value] : {std::pair{"STOA_SLAVE_PID", "slave(1)@127.0.0.1:5051"}, std::pair{"STOA_FRAMEWORK_ID", "f"},
                             std::pair{"STOA_EXECUTOR_ID", "e"}, std::pair{"STOA_DIRECTORY", "/tmp"}}) {
    ::setenv(name, value, 1);
  }
  Try<ExecutorOptions> o = ExecutorOptions::from_environment();
  ASSERT_TRUE(o) << o.error();
  EXPECT_FALSE(o->checkpoint);
  EXPECT_EQ(o->recovery_timeout, std::chrono::minutes(15));
  EXPECT_EQ(o->shutdown_grace, std::chrono::seconds(5));

  ::setenv("STOA_CHECKPOINT", "true", 1);
  ::setenv("STOA_RECOVERY_TIMEOUT", "2secs", 1);
  ::setenv("STOA_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "0ms", 1);
  o = ExecutorOptions::from_environment();
  ASSERT_TRUE(o) << o.error();
  EXPECT_TRUE(o->checkpoint);
  EXPECT_EQ(o->recovery_timeout, 2s);
  EXPECT_EQ(o->shutdown_grace, 0ms);
  ::setenv("STOA_CHECKPOINT", "0", 1);
  EXPECT_FALSE(ExecutorOptions::from_environment()->checkpoint);

  // The Mesos names, when the Stoa ones are not set.
  ::unsetenv("STOA_CHECKPOINT");
  ::unsetenv("STOA_RECOVERY_TIMEOUT");
  ::setenv("MESOS_CHECKPOINT", "1", 1);
  ::setenv("MESOS_RECOVERY_TIMEOUT", "3mins", 1);
  o = ExecutorOptions::from_environment();
  ASSERT_TRUE(o) << o.error();
  EXPECT_TRUE(o->checkpoint);
  EXPECT_EQ(o->recovery_timeout, std::chrono::minutes(3));
  ::setenv("STOA_CHECKPOINT", "false", 1);  // the Stoa name wins
  EXPECT_FALSE(ExecutorOptions::from_environment()->checkpoint);

  // Bad values: the error names the variable and the value.
  for (auto [name, value] : {std::pair{"STOA_CHECKPOINT", "yes"}, std::pair{"MESOS_CHECKPOINT", "2"},
                             std::pair{"STOA_RECOVERY_TIMEOUT", "soon"}, std::pair{"STOA_RECOVERY_TIMEOUT", "0secs"},
                             std::pair{"MESOS_RECOVERY_TIMEOUT", "10"},
                             std::pair{"STOA_RECOVERY_TIMEOUT", "1000weeks"},
                             std::pair{"STOA_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "-1secs"}}) {
    for (const char* v : {"STOA_CHECKPOINT", "MESOS_CHECKPOINT", "STOA_RECOVERY_TIMEOUT", "MESOS_RECOVERY_TIMEOUT",
                          "STOA_EXECUTOR_SHUTDOWN_GRACE_PERIOD"}) {
      ::unsetenv(v);
    }
    ::setenv(name, value, 1);
    o = ExecutorOptions::from_environment();
    ASSERT_FALSE(o) << name << "=" << value;
    EXPECT_NE(o.error().find(name), std::string::npos) << o.error();
    EXPECT_NE(o.error().find(std::string("'") + value + "'"), std::string::npos) << o.error();
  }
  for (const char* v : {"STOA_CHECKPOINT", "MESOS_CHECKPOINT", "STOA_RECOVERY_TIMEOUT", "MESOS_RECOVERY_TIMEOUT",
                        "STOA_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "STOA_SLAVE_PID", "STOA_FRAMEWORK_ID",
                        "STOA_EXECUTOR_ID", "STOA_DIRECTORY"}) {
    ::unsetenv(v);
  }
}

}  // namespace
}  // namespace stoa
