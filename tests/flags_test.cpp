// Bad flags make a binary exit non-zero with a message naming the flag or value.

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace stoa::tests
