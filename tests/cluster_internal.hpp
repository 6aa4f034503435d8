#pragma once
// Shared by the files of the test harness (cluster_process.cpp: binaries,
// files and processes; cluster_http.cpp: the blocking HTTP client;
// cluster_checks.cpp: what every cluster must satisfy; cluster.cpp: the
// Cluster). Tests include tests/cluster.hpp.

#include <chrono>
#include <string>

namespace stoa::tests::internal {

// How long the harness waits for a server to log its "listening on" line.
constexpr auto STARTUP_TIMEOUT = std::chrono::seconds(10);
// How long cleanup keeps killing leftovers before giving up.
constexpr auto CLEANUP_TIMEOUT = std::chrono::seconds(5);

std::string errno_text(int err);
// The current test has a failure.
bool test_failed();
// We adopt orphans (executors and tasks of a killed slave) so they can be
// reaped; on this kind of machine pid 1 may never reap them.
void become_subreaper();
// Reaps zombie children that no Process object owns (adopted orphans).
void reap_adopted_zombies();

}  // namespace stoa::tests::internal
