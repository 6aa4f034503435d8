// The start-up and wait steps every main shares (actors/daemon.hpp).

#include "actors/daemon.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <csignal>

#include "actors/atoms.hpp"
#include "actors/safety.hpp"

namespace stoa::daemon {
namespace {

struct TestFlags : FlagsBase {
  TestFlags() { add(&count, "count", "A number.", 1); }
  int count = 1;
};

char** argv_of(std::vector<std::string>& args, std::vector<char*>& out) {
  out.clear();
  for (std::string& a : args) {
    out.push_back(a.data());
  }
  out.push_back(nullptr);
  return out.data();
}

TEST(Daemon, LoadFlagsGoesOnAnswersHelpAndReportsBadFlagsInEitherStyle) {
  std::vector<std::string> args = {"prog", "--count=3"};
  std::vector<char*> argv;
  TestFlags flags;
  const Program daemon_style{"stoa-test"};
  EXPECT_FALSE(load_flags(daemon_style, flags, 2, argv_of(args, argv)).has_value());
  EXPECT_EQ(flags.count, 3);

  args = {"prog", "--help"};
  TestFlags help;
  testing::internal::CaptureStdout();
  EXPECT_EQ(load_flags(daemon_style, help, 2, argv_of(args, argv)), 0);
  EXPECT_NE(testing::internal::GetCapturedStdout().find("--count"), std::string::npos);

  args = {"prog", "--count=many"};
  TestFlags bad;
  testing::internal::CaptureStderr();
  EXPECT_EQ(load_flags(daemon_style, bad, 2, argv_of(args, argv)), 1);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("stoa-test: ", 0), 0u) << err;
  EXPECT_NE(err.find("many"), std::string::npos) << err;
  EXPECT_NE(err.find("See --help for the flags."), std::string::npos) << err;

  const Program tool_style{"stoa-tool", FlagErrors::PRINT_USAGE, 2};
  TestFlags bad_tool;
  testing::internal::CaptureStderr();
  EXPECT_EQ(load_flags(tool_style, bad_tool, 2, argv_of(args, argv)), 2);
  err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.find("See --help"), std::string::npos) << err;
  EXPECT_NE(err.find("--count"), std::string::npos) << "no usage after the error: " << err;
}

TEST(Daemon, AnnouncedHostnameIsTheFlagOrTheIpWithoutLookup) {
  EXPECT_EQ(announced_hostname(std::string("node-1"), true, "127.0.0.1"), "node-1");
  EXPECT_EQ(announced_hostname(std::nullopt, false, "10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(announced_hostname(std::nullopt, true, "not-an-ip"), "not-an-ip");
}

// Records the signal it is sent, then stops (as a scheduler that is told to stop).
caf::behavior signalled(caf::event_based_actor* self, std::shared_ptr<std::atomic<int>> got) {
  set_safe_handlers(self, "signalled");
  return {[self, got](signal_atom, int signo) {
    *got = signo;
    self->quit();
  }};
}

TEST(Daemon, RunToolForwardsSignalsToItsActorAndReturnsTheToolsStatusOnceItStops) {
  auto got = std::make_shared<std::atomic<int>>(0);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigset_t before;
  // Thread-directed and blocked here: only run_tool's wait can take it.
  pthread_sigmask(SIG_BLOCK, &term, &before);
  pthread_kill(pthread_self(), SIGTERM);
  int status = run_tool(
      Program{"stoa-test"}, RuntimeOptions{}, "tool",
      [got](Runtime& rt) { return rt.system().spawn(signalled, got); }, [got] { return got->load() == SIGTERM ? 7 : 0; });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  EXPECT_EQ(got->load(), SIGTERM);
  EXPECT_EQ(status, 7);
}

TEST(Daemon, RunToolReportsARuntimeThatCannotStart) {
  RuntimeOptions bad;
  bad.ip = "256.0.0.1";
  bool spawned = false;
  testing::internal::CaptureStderr();
  int status = run_tool(
      Program{"stoa-test"}, bad, "tool",
      [&](Runtime& rt) {
        spawned = true;
        return rt.system().spawn(signalled, std::make_shared<std::atomic<int>>(0));
      },
      [] { return 0; });
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(status, 1);
  EXPECT_FALSE(spawned);
  EXPECT_EQ(err.rfind("stoa-test: ", 0), 0u) << err;
}

}  // namespace
}  // namespace stoa::daemon
