#pragma once
// Version and build information of this Stoa build (/version, and the
// build_* fields of /master/state and /slave(1)/state, as Mesos shows them).

#include <string>

#define STOA_VERSION "0.1.0"

namespace stoa {

// When this build was configured, as seconds since the epoch (UTC): CMake
// stamps it into common/version.cpp when the build directory is first
// configured (every release or CI build configures a fresh one).
double build_time();
// The same instant as Mesos prints it ("2026-11-30 07:48:41").
std::string build_date();
// Who built it ($USER at configure time).
std::string build_user();

}  // namespace stoa
