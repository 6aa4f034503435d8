// Logs as operators of Mesos know them (#7): glog's line format, per-severity
// files and symlinks under --log_dir, --quiet, --logging_level, and the
// "Flags at startup" line.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/cluster.hpp"

namespace stoa::tests {
namespace {


// "I1130 05:27:01.752007  8605 master.cpp:75] text"
const std::regex& mesos_line() {
  static const std::regex re(R"(^[IWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ [A-Za-z_0-9]+\.cpp:\d+\] )");
  return re;
}

TEST(Logging, LinesHaveMesosFormatAndFlagsAreLoggedAtStartup) {
  STOA_REQUIRE_BINARIES("stoa-master");
  Cluster cluster;
  ASSERT_TRUE(cluster.start_master());
  auto flags = cluster.master()->wait_for_line(std::regex("Flags at startup: .*--port=\"" + std::to_string(cluster.master_port()) + "\""),
                                               deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(flags) << cluster.master()->log();
  EXPECT_TRUE(std::regex_search((*flags)[0], std::regex("--allocation_interval=\"1secs\"")));
  std::vector<std::string> lines = cluster.master()->lines_matching(std::regex("listening on"));
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(std::regex_search(lines[0], mesos_line())) << lines[0];
}

TEST(Logging, LogDirGetsPerSeverityFilesAndSymlinksAndQuietKeepsStderrEmpty) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir dir;
  std::string logs = dir.path() + "/logs/nested";
  Try<std::unique_ptr<Process>> p =
      Process::start("stoa-master",
                     {"--ip=127.0.0.1", "--port=0", "--work_dir=" + dir.path() + "/work", "--log_dir=" + logs,
                      "--quiet", "--weights=nosuch=1", "--roles=web"},
                     dir.path() + "/stderr.log");
  ASSERT_TRUE(p) << p.error();
  // --weights names a role outside --roles: the flag error is on stderr
  // (before logging starts), the process exits 1.
  auto code = (*p)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);

  Try<std::unique_ptr<Process>> q = Process::start(
      "stoa-master", {"--ip=127.0.0.1", "--port=0", "--work_dir=" + dir.path() + "/work", "--log_dir=" + logs, "--quiet"},
      dir.path() + "/quiet.log");
  ASSERT_TRUE(q) << q.error();
  std::string info = logs + "/stoa-master.INFO";
  ASSERT_TRUE(poll_until(
      [&] { return read_file(info).find("listening on") != std::string::npos; }, deadline_in(DEFAULT_TIMEOUT)))
      << "no " << info;
  struct stat st {};
  ASSERT_EQ(::lstat(info.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << info << " is not the symlink to the current file";
  std::string text = read_file(info);
  EXPECT_NE(text.find("Flags at startup"), std::string::npos);
  // Every line after glog's file header has the Mesos prefix.
  size_t checked = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("Log file", 0) == 0 || line.rfind("Running", 0) == 0 ||
        line.rfind("Log line format", 0) == 0) {
      continue;
    }
    EXPECT_TRUE(std::regex_search(line, mesos_line())) << line;
    ++checked;
  }
  EXPECT_GE(checked, 2u);
  (*q)->kill(SIGTERM);
  ASSERT_TRUE((*q)->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
  EXPECT_EQ((*q)->log().find("listening on"), std::string::npos) << "--quiet still wrote to stderr";
}

TEST(Logging, LoggingLevelDropsLowerSeveritiesAndBadLevelsAreRefused) {
  STOA_REQUIRE_BINARIES("stoa-master");
  TempDir dir;
  Try<std::unique_ptr<Process>> bad = Process::start(
      "stoa-master", {"--ip=127.0.0.1", "--port=0", "--work_dir=" + dir.path() + "/w", "--logging_level=LOUD"},
      dir.path() + "/bad.log");
  ASSERT_TRUE(bad);
  auto code = (*bad)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  EXPECT_NE((*bad)->log().find("LOUD"), std::string::npos) << (*bad)->log();

  // The master logs its start at INFO; with WARNING it must not. (The
  // harness waits for that INFO line, so this one runs on a port of its own.)
  int port = free_loopback_port();
  ASSERT_GT(port, 0);
  Try<std::unique_ptr<Process>> quiet = Process::start(
      "stoa-master",
      {"--ip=127.0.0.1", "--port=" + std::to_string(port), "--work_dir=" + dir.path() + "/w2",
       "--logging_level=WARNING"},
      dir.path() + "/warning.log");
  ASSERT_TRUE(quiet);
  ASSERT_TRUE(poll_until(
      [&] {
        Try<HttpResponse> r = http_get("127.0.0.1", port, "/master/health");
        return r && r->status == 200;
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << (*quiet)->log();
  EXPECT_TRUE((*quiet)->lines_matching(std::regex("^I\\d{4} ")).empty()) << (*quiet)->log();
}

}  // namespace
}  // namespace stoa::tests
