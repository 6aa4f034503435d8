#pragma once
// Skipping tests that need root and the cgroups v1 controllers Stoa's
// cgroups isolators use. Header-only, so unit tests beside the code and the
// integration tests share it without linking anything.

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace stoa::tests {

inline const std::string CGROUPS_HIERARCHY = "/sys/fs/cgroup";
inline const std::vector<std::string> CGROUPS_CONTROLLERS = {"cpu", "cpuacct", "memory", "pids", "freezer"};

// Why cgroups tests cannot run here ("" when they can).
inline std::string cgroups_missing() {
  if (::geteuid() != 0) {
    return "needs root (cgroups are written by root)";
  }
  for (const std::string& c : CGROUPS_CONTROLLERS) {
    if (!std::filesystem::exists(CGROUPS_HIERARCHY + "/" + c + "/cgroup.procs")) {
      return "needs the cgroups v1 '" + c + "' controller mounted at " + CGROUPS_HIERARCHY + "/" + c;
    }
  }
  return "";
}

}  // namespace stoa::tests

#define STOA_REQUIRE_CGROUPS()                                                   \
  do {                                                                           \
    if (std::string why = ::stoa::tests::cgroups_missing(); !why.empty()) {      \
      GTEST_SKIP() << why;                                                       \
    }                                                                            \
  } while (false)
