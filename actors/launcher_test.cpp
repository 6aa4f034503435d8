#include "actors/launcher.hpp"
#include "tests/poll.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

namespace stoa {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto TEST_DEADLINE = std::chrono::seconds(10);
constexpr auto POLL_INTERVAL = std::chrono::milliseconds(5);

// Polls `done` until it holds or `timeout` passes; returns the last answer.
bool poll_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = TEST_DEADLINE) {
  return tests::poll_until(done, tests::deadline_in(timeout), POLL_INTERVAL);
}

// Reaps `pid` within the deadline; returns its wait status, or -1 on timeout.
int wait_for(pid_t pid) {
  int status = -1;
  bool reaped = poll_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; });
  if (!reaped) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return status;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Live (non-zombie) members of process group `pgid`, from /proc.
int live_group_members(pid_t pgid) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) {
      continue;
    }
    std::string line = read_file("/proc/" + name + "/stat");
    std::size_t close = line.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    long ppid = 0;
    long pgrp = 0;
    if ((rest >> state >> ppid >> pgrp) && pgrp == pgid && state != 'Z') {
      ++count;
    }
  }
  return count;
}

class LauncherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "stoa-launcher-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

TEST_F(LauncherTest, WritesStdoutAndStderrAndReportsExitStatus) {
  LaunchSpec spec;
  spec.argv = {"sh", "-c", "echo out; echo err >&2; exit 3"};
  spec.stdout_path = path("stdout");
  spec.stderr_path = path("stderr");
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid) << pid.error();

  int status = wait_for(*pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(describe_wait_status(status), "Command exited with status 3");
  EXPECT_EQ(read_file(path("stdout")), "out\n");
  EXPECT_EQ(read_file(path("stderr")), "err\n");

  mode_t umask_bits = ::umask(0);
  ::umask(umask_bits);
  struct stat st {};
  ASSERT_EQ(::stat(path("stdout").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644 & ~umask_bits);
}

TEST_F(LauncherTest, OutputFilesAreAppendedTo) {
  LaunchSpec spec;
  spec.argv = {"sh", "-c", "echo second"};
  spec.stdout_path = path("stdout");
  spec.stderr_path = path("stdout");
  std::ofstream(path("stdout")) << "first\n";
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_TRUE(WIFEXITED(wait_for(*pid)));
  EXPECT_EQ(read_file(path("stdout")), "first\nsecond\n");
}

// stdin_fd: the child reads one of our descriptors as its stdin (a
// socketpair's end here, as the slave gives its executor zygote), and ours
// stays open.
TEST_F(LauncherTest, StdinComesFromTheGivenDescriptor) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  LaunchSpec spec;
  spec.argv = {"sh", "-c", "read line; echo got=$line"};
  spec.stdout_path = path("stdout");
  spec.stdin_fd = sv[1];
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid) << pid.error();
  EXPECT_EQ(::fcntl(sv[1], F_GETFD), FD_CLOEXEC) << "our descriptor changed";
  ::close(sv[1]);
  ASSERT_EQ(::write(sv[0], "hello\n", 6), 6);
  ASSERT_TRUE(WIFEXITED(wait_for(*pid)));
  EXPECT_EQ(read_file(path("stdout")), "got=hello\n");
  ::close(sv[0]);
}

TEST_F(LauncherTest, MissingProgramIsAnErrorNamingIt) {
  LaunchSpec spec;
  spec.argv = {"stoa-no-such-program-1f2e3d"};
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_error());
  EXPECT_NE(pid.error().find("stoa-no-such-program-1f2e3d"), std::string::npos) << pid.error();
  EXPECT_NE(pid.error().find("No such file or directory"), std::string::npos) << pid.error();

  spec.argv = {path("missing")};
  pid = launch(spec);
  ASSERT_TRUE(pid.is_error());
  EXPECT_NE(pid.error().find(path("missing")), std::string::npos) << pid.error();
  EXPECT_NE(pid.error().find("No such file or directory"), std::string::npos) << pid.error();
}

TEST_F(LauncherTest, NonExecutableFileIsAnError) {
  std::ofstream(path("script")) << "#!/bin/sh\nexit 0\n";
  ASSERT_EQ(::chmod(path("script").c_str(), 0644), 0);
  LaunchSpec spec;
  spec.argv = {path("script")};
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_error());
  EXPECT_NE(pid.error().find(path("script")), std::string::npos) << pid.error();
  EXPECT_NE(pid.error().find("Permission denied"), std::string::npos) << pid.error();
}

TEST_F(LauncherTest, MissingWorkingDirIsAnErrorNamingIt) {
  LaunchSpec spec;
  spec.argv = {"true"};
  spec.working_dir = path("nowhere");
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_error());
  EXPECT_NE(pid.error().find(path("nowhere")), std::string::npos) << pid.error();
  EXPECT_NE(pid.error().find("No such file or directory"), std::string::npos) << pid.error();
}

TEST_F(LauncherTest, UnopenableStdoutIsAnErrorNamingIt) {
  LaunchSpec spec;
  spec.argv = {"true"};
  spec.stdout_path = path("no/such/dir/stdout");
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid.is_error());
  EXPECT_NE(pid.error().find(path("no/such/dir/stdout")), std::string::npos) << pid.error();
}

TEST_F(LauncherTest, EmptyArgvIsAnError) {
  EXPECT_TRUE(launch(LaunchSpec{}).is_error());
}

TEST_F(LauncherTest, EnvironmentAndWorkingDirAreApplied) {
  ASSERT_EQ(::setenv("STOA_LAUNCHER_TEST_INHERITED", "yes", 1), 0);
  LaunchSpec spec;
  spec.argv = {"sh", "-c", "echo \"$FOO:$STOA_LAUNCHER_TEST_INHERITED\"; pwd -P"};
  spec.env = {{"FOO", "bar baz"}};
  spec.working_dir = dir_;
  spec.stdout_path = path("stdout");
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_EQ(wait_for(*pid), 0);
  EXPECT_EQ(read_file(path("stdout")),
            "bar baz:yes\n" + std::filesystem::canonical(dir_).string() + "\n");
}

TEST_F(LauncherTest, EnvironmentCanReplaceOurs) {
  ASSERT_EQ(::setenv("STOA_LAUNCHER_TEST_INHERITED", "yes", 1), 0);
  LaunchSpec spec;
  spec.argv = {"env"};  // Found through our PATH: the child has none.
  spec.env = {{"ONLY", "this"}};
  spec.inherit_env = false;
  spec.stdout_path = path("stdout");
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_EQ(wait_for(*pid), 0);
  EXPECT_EQ(read_file(path("stdout")), "ONLY=this\n");
}

TEST_F(LauncherTest, ChildLeadsANewSession) {
  LaunchSpec spec;
  spec.argv = {"sh", "-c", "cut -d' ' -f5,6 /proc/$$/stat"};  // "<pgrp> <session>".
  spec.stdout_path = path("stdout");
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_EQ(wait_for(*pid), 0);
  EXPECT_EQ(read_file(path("stdout")), std::to_string(*pid) + " " + std::to_string(*pid) + "\n");
}

// After an executor exits its pid (= its session id) may be reused by a newer
// executor before the leftovers are killed: a session member that names
// another container must be spared, everything naming ours killed.
TEST_F(LauncherTest, ContainerLeftoversSpareProcessesOfOtherContainers) {
  LaunchSpec spec;
  spec.argv = {"sh", "-c",
               "STOA_CONTAINER_ID=other sleep 1000 & echo $! > other; "
               "sleep 1000 & echo $! > ours; wait"};
  spec.env = {{"STOA_CONTAINER_ID", "mine"}};
  spec.working_dir = dir_;
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_TRUE(poll_until([&] { return read_file(path("other")).size() > 1 && read_file(path("ours")).size() > 1; }));
  pid_t other = std::stoi(read_file(path("other")));
  pid_t ours = std::stoi(read_file(path("ours")));
  // Both `sleep`s are in the shell's session; only `ours` names "mine".
  int killed = kill_container_leftovers(*pid, "mine", SIGKILL);
  EXPECT_GE(killed, 2);  // the shell and its sleep
  EXPECT_TRUE(poll_until([&] { return ::kill(ours, 0) != 0 || read_file("/proc/" + std::to_string(ours) + "/stat").find(") Z") != std::string::npos; }));
  EXPECT_EQ(::kill(other, 0), 0) << "a process of another container was killed";
  ::kill(other, SIGKILL);
  wait_for(*pid);
}

// One walk for two containers: each one's processes (named in their
// environment, outside any session we know) die; a process that names a
// container but started before it (a stale name, not its child) is spared.
TEST_F(LauncherTest, OneWalkKillsTheLeftoversOfSeveralContainers) {
  auto start = [](const std::string& cid) {
    LaunchSpec spec;
    spec.argv = {"sleep", "1000"};
    spec.env = {{"STOA_CONTAINER_ID", cid}};
    Try<pid_t> pid = launch(spec);  // a session of its own, as an escaped daemon has
    EXPECT_TRUE(pid) << pid.error();
    return pid.is_some() ? *pid : -1;
  };
  pid_t a = start("ca");
  pid_t b = start("cb");
  pid_t stale = start("cc");
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  ASSERT_GT(stale, 0);
  unsigned long long a_start = process_start_ticks(a);
  ASSERT_GT(a_start, 0u);
  EXPECT_EQ(process_start_ticks(-1), 0u);
  // Session ids that lead nowhere: only the environment finds them.
  std::vector<LeftoverQuery> queries = {{-1, "ca", a_start}, {-1, "cb", process_start_ticks(b)},
                                        {-1, "cc", process_start_ticks(stale) + 1}};
  EXPECT_EQ(kill_containers_leftovers(queries, SIGKILL), 2);
  EXPECT_NE(wait_for(a), -1);
  EXPECT_NE(wait_for(b), -1);
  EXPECT_EQ(::kill(stale, 0), 0) << "a process older than its container was killed";
  EXPECT_TRUE(environment_has(stale, "STOA_CONTAINER_ID=cc"));
  EXPECT_FALSE(environment_has(stale, "STOA_CONTAINER_ID=c"));
  EXPECT_FALSE(environment_has(stale, "STOA_CONTAINER_I"));
  ::kill(stale, SIGKILL);
  wait_for(stale);
}

// An environment with empty entries (NULs in a row, as a pooled executor's
// rewritten STOA_CONTAINER_ID leaves): they are skipped, the entries around
// them still found, and nothing matches the empty text.
TEST_F(LauncherTest, EmptyEnvironmentEntriesAreSkipped) {
  char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("1000"), nullptr};
  char* envp[] = {const_cast<char*>("STOA_CONTAINER_ID=cpad"), const_cast<char*>(""), const_cast<char*>(""),
                  const_cast<char*>("AFTER=1"), const_cast<char*>(""), nullptr};
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawnp(&pid, "sleep", nullptr, nullptr, argv, envp), 0);
  ASSERT_TRUE(poll_until([&] { return environment_has(pid, "AFTER=1"); }))
      << "the child never showed its environment";
  EXPECT_TRUE(environment_has(pid, "STOA_CONTAINER_ID=cpad"));
  EXPECT_FALSE(environment_has(pid, "STOA_CONTAINER_ID="));
  EXPECT_FALSE(environment_has(pid, "="));
  EXPECT_EQ(kill_processes_with_env("STOA_CONTAINER_ID=cpad", SIGKILL), 1);
  EXPECT_NE(wait_for(pid), -1);
}

// The child borrows our memory until it execs (CLONE_VM): switching its user
// must not switch ours, nor that of our other threads (glibc's setuid would).
TEST_F(LauncherTest, SwitchingTheChildsUserLeavesOursAlone) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to run a child as another user";
  }
  Try<UserIds> nobody = lookup_user("nobody");
  if (nobody.is_error()) {
    GTEST_SKIP() << "no user 'nobody': " << nobody.error();
  }
  uid_t other_thread_uid = 12345;
  std::atomic<bool> launched{false};
  std::thread other([&] {
    while (!launched.load()) {
      std::this_thread::yield();
    }
    other_thread_uid = ::geteuid();
  });
  LaunchSpec spec;
  spec.argv = {"id", "-u"};
  spec.user = "nobody";
  spec.stdout_path = path("stdout");
  Try<pid_t> pid = launch(spec);
  launched = true;
  other.join();
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_EQ(wait_for(*pid), 0);
  EXPECT_EQ(read_file(path("stdout")), std::to_string(nobody->uid) + "\n");
  EXPECT_EQ(::geteuid(), 0u);
  EXPECT_EQ(other_thread_uid, 0u);
}

TEST_F(LauncherTest, ChildDoesNotInheritOurDescriptorsOrIgnoredSignals) {
  int fd = ::open(path("held").c_str(), O_WRONLY | O_CREAT, 0644);  // Deliberately not CLOEXEC.
  ASSERT_GE(fd, 3);
  struct sigaction ignore {};
  struct sigaction old {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGUSR1, &ignore, &old), 0);

  LaunchSpec spec;
  spec.argv = {"sh", "-c",
               "if [ -e /proc/$$/fd/" + std::to_string(fd) + " ]; then echo open; else echo closed; fi; "
               "grep SigIgn /proc/$$/status"};
  spec.stdout_path = path("stdout");
  Try<pid_t> pid = launch(spec);
  ::sigaction(SIGUSR1, &old, nullptr);
  ::close(fd);
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_EQ(wait_for(*pid), 0);

  std::istringstream out(read_file(path("stdout")));
  std::string first;
  std::string label;
  std::string mask;
  std::getline(out, first);
  out >> label >> mask;
  EXPECT_EQ(first, "closed");
  ASSERT_EQ(label, "SigIgn:");
  EXPECT_EQ(std::stoull(mask, nullptr, 16) & (1ULL << (SIGUSR1 - 1)), 0U) << mask;
}

TEST_F(LauncherTest, SignalToTheGroupKillsTheWholeTree) {
  // Orphaned grandchildren come back to us, so they are reaped here instead
  // of lingering as zombies under a pid 1 that may not reap.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);

  LaunchSpec spec;
  spec.argv = {"sh", "-c", "sleep 300 & sleep 301 & wait"};
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_TRUE(poll_until([&] { return live_group_members(*pid) == 3; }))
      << "expected sh and two sleeps, saw " << live_group_members(*pid);
  EXPECT_TRUE(process_group_alive(*pid));

  signal_process_group(*pid, SIGTERM);
  int status = wait_for(*pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
  EXPECT_EQ(describe_wait_status(status), "Command terminated with signal Terminated");

  // The sleeps become our zombies until reaped: zombies do not count as alive.
  EXPECT_TRUE(poll_until([&] { return !process_group_alive(*pid); }));
  EXPECT_EQ(live_group_members(*pid), 0);
  poll_until([] { return ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD; });
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

TEST_F(LauncherTest, SignalingANonexistentOrInvalidGroupIsHarmless) {
  LaunchSpec spec;
  spec.argv = {"true"};
  Try<pid_t> pid = launch(spec);
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_EQ(wait_for(*pid), 0);
  EXPECT_FALSE(process_group_alive(*pid));
  signal_process_group(*pid, SIGKILL);  // ESRCH.
  // Never kill(0) / kill(-1): these would hit this test or everything.
  signal_process_group(0, SIGKILL);
  signal_process_group(1, SIGKILL);
  signal_process_group(-5, SIGKILL);
  EXPECT_FALSE(process_group_alive(0));
  EXPECT_FALSE(process_group_alive(1));
}

// A usage report's snapshot: every session from one walk of /proc, taken
// at the first call; later calls on this thread get what that walk saw
// until the snapshot ends (an inner one walks anew).
TEST_F(LauncherTest, ASessionUsageSnapshotAnswersEveryCallFromOneWalk) {
  LaunchSpec spec;
  spec.argv = {"sleep", "30"};
  Try<pid_t> a = launch(spec);
  Try<pid_t> b = launch(spec);
  ASSERT_TRUE(a) << a.error();
  ASSERT_TRUE(b) << b.error();
  // Once `a` runs `sleep`: in the moment of its exec the kernel reports a
  // resident size of 0 (its new address space has no page yet), which made
  // the snapshot's check below fail once in a full run of the suite.
  EXPECT_TRUE(poll_until([&] {
    Usage u = session_usage(*a);
    return u.processes == 1 && u.mem_rss_bytes > 0;
  })) << "processes " << session_usage(*a).processes << ", rss " << session_usage(*a).mem_rss_bytes;
  {
    SessionUsageSnapshot snapshot;
    Usage ua = session_usage(*a);
    EXPECT_EQ(ua.processes, 1);
    EXPECT_GT(ua.mem_rss_bytes, 0U);
    ASSERT_EQ(::kill(*b, SIGKILL), 0);
    wait_for(*b);
    EXPECT_EQ(session_usage(*b).processes, 1) << "the walk of the first call had it";
    {
      SessionUsageSnapshot inner;
      EXPECT_EQ(session_usage(*b).processes, 0) << "an inner snapshot walks anew";
      EXPECT_EQ(session_usage(*a).processes, 1);
    }
    EXPECT_EQ(session_usage(*b).processes, 1) << "the outer snapshot again";
  }
  EXPECT_EQ(session_usage(*b).processes, 0) << "no snapshot: walked at the call";
  ::kill(*a, SIGKILL);
  wait_for(*a);
}

TEST(DescribeWaitStatus, UsesMesosWording) {
  EXPECT_EQ(describe_wait_status(0), "Command exited with status 0");
  EXPECT_EQ(describe_wait_status(3 << 8), "Command exited with status 3");
  EXPECT_EQ(describe_wait_status(SIGKILL), "Command terminated with signal Killed");
  EXPECT_EQ(describe_wait_status(SIGTERM), "Command terminated with signal Terminated");
  EXPECT_EQ(describe_wait_status((SIGSTOP << 8) | 0x7f), "Command stopped with signal Stopped (signal)");
}

using Argv = std::vector<std::string>;

TEST(CommandTask, ArgvFollowsMesosCommandInfo) {
  EXPECT_EQ(command_argv(CommandLine{true, "echo $HOME", {}}), (Argv{"/bin/sh", "-c", "echo $HOME"}));
  EXPECT_EQ(command_argv(CommandLine{false, "/bin/echo", {}}), (Argv{"/bin/echo"}));
  EXPECT_EQ(command_argv(CommandLine{false, "/bin/echo", {"echo", "a", "b"}}), (Argv{"/bin/echo", "a", "b"}));
  EXPECT_EQ(command_argv(CommandLine{false, "", {"x", "y"}}), (Argv{"", "x", "y"}));
}

TEST(CommandTask, SpecPutsTheTaskInItsSandboxAndGroupWithMesosVariables) {
  LaunchSpec spec = command_task_spec(CommandLine{true, "true", {}}, "/sb", "t1", {{"A", "1"}, {"MESOS_TASK_ID", "x"}});
  EXPECT_EQ(spec.argv, (Argv{"/bin/sh", "-c", "true"}));
  EXPECT_FALSE(spec.new_session);
  EXPECT_TRUE(spec.new_process_group);
  EXPECT_EQ(spec.working_dir, "/sb");
  EXPECT_EQ(spec.stdout_path, "/sb/stdout");
  EXPECT_EQ(spec.stderr_path, "/sb/stderr");
  EXPECT_EQ(spec.env.at("MESOS_SANDBOX"), "/sb");
  EXPECT_EQ(spec.env.at("STOA_SANDBOX"), "/sb");
  EXPECT_EQ(spec.env.at("A"), "1");
  EXPECT_EQ(spec.env.at("MESOS_TASK_ID"), "x") << "the command's own variables come last";
}

TEST(CommandTask, ASimpleCommandRunsWithoutShAndFallsBackToIt) {
  const CommandLine simple{true, "sleep 5", {}};
  const LaunchSpec spec = command_task_spec(simple, "/sb", "t", {});
  std::vector<LaunchSpec> tried;
  auto refuse_direct = [&](const LaunchSpec& s) -> Try<pid_t> {
    tried.push_back(s);
    if (s.argv.front() != "/bin/sh") {
      return Error("Failed to execute 'sleep'");
    }
    return static_cast<pid_t>(42);
  };
  Try<pid_t> pid = launch_command_task(simple, spec, refuse_direct);
  ASSERT_TRUE(pid) << pid.error();
  EXPECT_EQ(*pid, 42);
  ASSERT_EQ(tried.size(), 2U);
  EXPECT_EQ(tried[0].argv, (Argv{"sleep", "5"}));
  EXPECT_EQ(tried[0].env.at("PWD"), "/sb");
  EXPECT_EQ(tried[1].argv, (Argv{"/bin/sh", "-c", "sleep 5"}));
  EXPECT_EQ(tried[1].env.count("PWD"), 0U);

  tried.clear();
  const CommandLine shell{true, "echo $HOME", {}};
  pid = launch_command_task(shell, command_task_spec(shell, "/sb", "t", {}), refuse_direct);
  ASSERT_TRUE(pid) << pid.error();
  ASSERT_EQ(tried.size(), 1U) << "a command that needs sh goes to sh at once";
  EXPECT_EQ(tried[0].argv.front(), "/bin/sh");

  tried.clear();
  auto refuse_all = [&](const LaunchSpec& s) -> Try<pid_t> {
    tried.push_back(s);
    return Error("no " + s.argv.front());
  };
  pid = launch_command_task(simple, spec, refuse_all);
  ASSERT_TRUE(pid.is_error());
  EXPECT_EQ(pid.error(), "no /bin/sh") << "sh's error is the one reported";
}

}  // namespace
}  // namespace stoa
