#include "slave/posix_containerizer.hpp"
#include "tests/poll.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <caf/all.hpp>

#include "actors/launcher.hpp"
#include "slave/paths.hpp"

namespace stoa::slave {
namespace {

using namespace std::chrono_literals;

constexpr auto REPLY_TIMEOUT = std::chrono::seconds(10);

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A real threaded actor system: launches fork and exec real processes.
class PosixContainerizerTest : public ::testing::Test {
 protected:
  PosixContainerizerTest() : sys(init(cfg)), self(sys) {
    char tmpl[] = "/tmp/stoa-containerizer-XXXXXX";
    work_dir = ::mkdtemp(tmpl);
    containerizer = spawn_posix_containerizer(sys, *create_isolators("posix/cpu,posix/mem"));
  }
  ~PosixContainerizerTest() override {
    caf::anon_send_exit(containerizer, caf::exit_reason::user_shutdown);
    std::filesystem::remove_all(work_dir);
  }
  static caf::actor_system_config& init(caf::actor_system_config& c) {
    c.set("scheduler.max-threads", 2);
    return c;
  }

  ContainerConfig config(const std::string& cid, std::vector<std::string> argv) {
    ContainerConfig c;
    c.container_id = cid;
    c.work_dir = work_dir;
    c.slave_id = "S1";
    c.framework_id = "F1";
    c.executor_id = "E1";
    c.directory = sandbox_path(work_dir, "S1", "F1", "E1", cid);
    c.argv = std::move(argv);
    c.env = {{"STOA_CONTAINER_ID", cid}, {"GREETING", "hello"}};
    c.resources = *Resources::parse("cpus:0.5;mem:64");
    return c;
  }

  LaunchResult launch(const ContainerConfig& c) {
    LaunchResult result{-1, "no answer"};
    self->request(containerizer, REPLY_TIMEOUT, launch_atom::value, c)
        .receive([&](const LaunchResult& r) { result = r; },
                 [&](caf::error& e) { result.error = sys.render(e); });
    return result;
  }

  int32_t wait(const std::string& cid) {
    int32_t status = -2;
    self->request(containerizer, REPLY_TIMEOUT, wait_atom::value, cid)
        .receive([&](int32_t s) { status = s; }, [&](caf::error& e) { ADD_FAILURE() << sys.render(e); });
    return status;
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  std::string work_dir;
  containerizer_actor containerizer;
};

TEST_F(PosixContainerizerTest, LaunchCreatesTheSandboxAndWaitGivesTheExitStatus) {
  ContainerConfig c = config("c1", {"/bin/sh", "-c", "echo $GREETING; echo oops >&2; exit 3"});
  LaunchResult r = launch(c);
  ASSERT_GT(r.pid, 0) << r.error;
  EXPECT_TRUE(std::filesystem::is_directory(c.directory));
  EXPECT_EQ(std::filesystem::read_symlink(latest_run_path(work_dir, "S1", "F1", "E1")), "c1");
  int32_t status = wait("c1");
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(read_file(c.directory + "/stdout"), "hello\n");
  EXPECT_EQ(read_file(c.directory + "/stderr"), "oops\n");
  EXPECT_EQ(wait("c1"), -1);  // waited for: the container is gone
}

TEST_F(PosixContainerizerTest, DestroyKillsTheWholeContainer) {
  LaunchResult r = launch(config("c2", {"/bin/sh", "-c", "sleep 100 & sleep 100"}));
  ASSERT_GT(r.pid, 0) << r.error;
  self->send(containerizer, destroy_atom::value, std::string("c2"));
  int32_t status = wait("c2");
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  // The background sleep got the same SIGKILL; it may take a moment to die.
  EXPECT_TRUE(tests::poll_until([&] { return !process_group_alive(r.pid); }, tests::deadline_in(REPLY_TIMEOUT)));
}

TEST_F(PosixContainerizerTest, UsageIsWhatTheIsolatorsMeasure) {
  LaunchResult r = launch(config("c3", {"/bin/sh", "-c", "sleep 100"}));
  ASSERT_GT(r.pid, 0) << r.error;
  // The kernel's RSS counters of a process that has just exec'd can still
  // read 0 (they are synced from per-task caches lazily): asked again until
  // the shell's pages are counted.
  ContainerUsages usages;
  ASSERT_TRUE(tests::poll_until(
      [&] {
        self->request(containerizer, REPLY_TIMEOUT, usage_atom::value, std::vector<std::string>{"c3", "unknown"})
            .receive([&](const ContainerUsages& u) { usages = u; }, [&](caf::error& e) { FAIL() << sys.render(e); });
        auto it = usages.find("c3");
        return it != usages.end() && it->second.mem_rss_bytes && *it->second.mem_rss_bytes > 0;
      },
      tests::deadline_in(REPLY_TIMEOUT)));
  self->send(containerizer, destroy_atom::value, std::string("c3"));
  wait("c3");
  ASSERT_EQ(usages.size(), 1u);
  const ResourceStatistics& u = usages.at("c3");
  ASSERT_TRUE(u.mem_rss_bytes && u.cpus_user_time_secs && u.processes);
  EXPECT_GT(*u.mem_rss_bytes, 0u);
  EXPECT_EQ(*u.mem_limit_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(*u.cpus_limit, 0.5);
  EXPECT_GE(*u.processes, 1);
  EXPECT_GT(u.timestamp, 0);
}

TEST_F(PosixContainerizerTest, LaunchErrorsNameTheStepAndTheCause) {
  LaunchResult missing = launch(config("c4", {"/nonexistent/stoa-executor"}));
  EXPECT_EQ(missing.pid, -1);
  EXPECT_NE(missing.error.find("Cannot launch the executor: "), std::string::npos) << missing.error;
  EXPECT_NE(missing.error.find("/nonexistent/stoa-executor"), std::string::npos) << missing.error;
  ContainerConfig bad = config("c5", {"/bin/true"});
  bad.framework_id = "a/b";
  LaunchResult sandbox = launch(bad);
  EXPECT_EQ(sandbox.pid, -1);
  EXPECT_NE(sandbox.error.find("Cannot create the sandbox: "), std::string::npos) << sandbox.error;
  EXPECT_NE(sandbox.error.find("a/b"), std::string::npos) << sandbox.error;
  EXPECT_EQ(wait("c4"), -1);  // nothing is left of a failed launch
}

TEST_F(PosixContainerizerTest, StoppingKillsEveryContainer) {
  LaunchResult r = launch(config("c6", {"/bin/sh", "-c", "sleep 100"}));
  ASSERT_GT(r.pid, 0) << r.error;
  caf::anon_send_exit(containerizer, caf::exit_reason::user_shutdown);
  EXPECT_TRUE(tests::poll_until([&] { return !process_group_alive(r.pid); }, tests::deadline_in(REPLY_TIMEOUT)));
}

}  // namespace
}  // namespace stoa::slave
