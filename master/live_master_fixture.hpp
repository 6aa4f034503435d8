#pragma once
// A real master on a real Runtime, for the in-process master tests that
// talk to it through actors and views (master_test.cpp,
// view_renders_test.cpp). master_fixture.hpp is the virtual-time one.
// Test-only: included by *_test.cpp files.

#include <chrono>
#include <map>
#include <string>

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include "actors/atoms.hpp"
#include "actors/runtime.hpp"
#include "master/master.hpp"

namespace stoa::master::testing {

// Spawns a master on `rt` (allocation every 50 ms, hostname "localhost"),
// registers it as "master" and waits up to 5 s until it leads: once it has
// read its (in-memory) registry, its views answer 200 instead of 503. Sets
// `*master` as soon as it is spawned and `*flags` (when given) to its flags.
// Fails the test fatally otherwise: call through ASSERT_NO_FATAL_FAILURE.
inline void start_leading_master(Runtime& rt, caf::actor* master, MasterFlags* flags = nullptr) {
  using namespace std::chrono_literals;
  MasterOptions opts;
  const char* argv[] = {"stoa-master", "--allocation_interval=50ms"};
  ASSERT_FALSE(opts.flags.load(2, argv, {}));
  opts.upid = rt.upid("master");
  opts.hostname = "localhost";
  Try<caf::actor> m = spawn_master(rt.system(), opts);
  ASSERT_TRUE(m.is_some()) << m.error();
  *master = *m;
  if (flags != nullptr) {
    *flags = opts.flags;
  }
  rt.register_actor("master", *master);
  caf::scoped_actor self{rt.system()};
  int status = 0;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       status != 200 && std::chrono::steady_clock::now() < deadline;) {
    self->request(*master, 5s, state_atom_v, std::string("metrics"), std::map<std::string, std::string>{})
        .receive([&](int s, std::string&) { status = s; }, [&](caf::error&) {});
  }
  ASSERT_EQ(status, 200) << "the master did not finish its recovery";
}

}  // namespace stoa::master::testing
