#include <unistd.h>

#include <gtest/gtest.h>

#include "slave/isolator.hpp"
#include "slave/slave_flags.hpp"

namespace stoa::slave {
namespace {

TEST(IsolatorTable, ListsEveryIsolatorUnderItsOwnName) {
  std::vector<std::string> names;
  for (const IsolatorEntry& entry : isolator_table()) {
    names.push_back(entry.name);
    // posix/disk is Mesos' other name of disk/du.
    EXPECT_EQ(entry.create({})->name(), std::string(entry.name) == "posix/disk" ? "disk/du" : entry.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"posix/cpu", "posix/mem", "cgroups/cpu", "cgroups/mem",
                                             "cgroups/pids", "disk/du", "posix/disk"}));
}

TEST(IsolatorTable, CgroupsIsolationPutsTheFreezerInFront) {
  IsolatorOptions options;
  if (check_controllers({"cgroups/mem"}, options)) {
    GTEST_SKIP() << "needs root and the cgroups v1 memory and freezer controllers under /sys/fs/cgroup";
  }
  Try<Isolators> isolators = create_isolators("disk/du,cgroups/mem", options);
  ASSERT_TRUE(isolators.is_some()) << isolators.error();
  ASSERT_EQ(isolators->size(), 3u);
  EXPECT_EQ((*isolators)[0]->name(), "cgroups/freezer");
  EXPECT_EQ((*isolators)[1]->name(), "disk/du");
  EXPECT_EQ((*isolators)[2]->name(), "cgroups/mem");
  Try<Isolators> posix = create_isolators("posix/cpu,disk/du", options);
  ASSERT_TRUE(posix.is_some()) << posix.error();
  EXPECT_EQ(posix->size(), 2u);
}

TEST(IsolatorTable, AMissingControllerNamesItTheHierarchyAndTheIsolator) {
  IsolatorOptions options;
  options.cgroups_hierarchy = "/nonexistent/cgroup";
  std::optional<Error> error = check_controllers({"posix/cpu", "cgroups/pids"}, options);
  ASSERT_TRUE(error);
  if (::geteuid() != 0) {
    EXPECT_NE(error->message.find("needs root"), std::string::npos) << error->message;
    return;
  }
  EXPECT_NE(error->message.find("isolator 'cgroups/pids'"), std::string::npos) << error->message;
  EXPECT_NE(error->message.find("'pids' controller is not mounted at /nonexistent/cgroup/pids"), std::string::npos)
      << error->message;
  EXPECT_NE(error->message.find("--cgroups_hierarchy=/nonexistent/cgroup"), std::string::npos) << error->message;
  EXPECT_TRUE(create_isolators("cgroups/pids", options).is_error());
  EXPECT_FALSE(check_controllers({"posix/cpu", "disk/du"}, options));
}

TEST(IsolatorTable, ParsesTheFlagInItsOrder) {
  Try<std::vector<std::string>> names = parse_isolation("posix/mem,posix/cpu");
  ASSERT_TRUE(names.is_some()) << names.error();
  EXPECT_EQ(*names, (std::vector<std::string>{"posix/mem", "posix/cpu"}));
  Try<Isolators> isolators = create_isolators("posix/mem");
  ASSERT_TRUE(isolators.is_some()) << isolators.error();
  ASSERT_EQ(isolators->size(), 1u);
  EXPECT_EQ((*isolators)[0]->name(), "posix/mem");
}

TEST(IsolatorTable, UnknownNameIsAnErrorNamingIt) {
  for (const std::string flag : {"posix/cpu,cgroups/devices", "posix/gpu", "posix/cpu,", ""}) {
    Try<std::vector<std::string>> names = parse_isolation(flag);
    ASSERT_TRUE(names.is_error()) << flag;
    std::string bad = flag == "posix/cpu,cgroups/devices" ? "cgroups/devices" : flag == "posix/gpu" ? "posix/gpu" : "";
    EXPECT_NE(names.error().find("isolator '" + bad + "' is not supported yet"), std::string::npos)
        << names.error();
    EXPECT_NE(names.error().find("supported: posix/cpu, posix/mem, cgroups/cpu, cgroups/mem, cgroups/pids, "
                                 "disk/du, posix/disk"),
              std::string::npos)
        << names.error();
    EXPECT_TRUE(create_isolators(flag).is_error()) << flag;
  }
}

TEST(IsolatorTable, TheIsolationFlagConsultsTheTable) {
  SlaveFlags flags;
  const char* argv[] = {"stoa-slave", "--master=127.0.0.1:5050", "--isolation=posix/mem,cgroups/devices"};
  std::optional<Error> error = flags.load(3, argv, {});
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("isolator 'cgroups/devices' is not supported yet"), std::string::npos)
      << error->message;
  SlaveFlags good;
  const char* ok[] = {"stoa-slave", "--master=127.0.0.1:5050", "--isolation=posix/mem"};
  std::optional<Error> none = good.load(3, ok, {});
  EXPECT_FALSE(none) << none->message;
  EXPECT_EQ(good.isolation, "posix/mem");
}

}  // namespace
}  // namespace stoa::slave
