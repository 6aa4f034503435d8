#include <gtest/gtest.h>

#include "slave/isolator.hpp"
#include "slave/slave_flags.hpp"

namespace stoa::slave {
namespace {

TEST(IsolatorTable, ListsPosixCpuAndPosixMemUnderTheirOwnNames) {
  std::vector<std::string> names;
  for (const IsolatorEntry& entry : isolator_table()) {
    names.push_back(entry.name);
    EXPECT_EQ(entry.create()->name(), entry.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"posix/cpu", "posix/mem"}));
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
  for (const std::string flag : {"posix/cpu,cgroups/cpu", "posix/gpu", "posix/cpu,", ""}) {
    Try<std::vector<std::string>> names = parse_isolation(flag);
    ASSERT_TRUE(names.is_error()) << flag;
    std::string bad = flag == "posix/cpu,cgroups/cpu" ? "cgroups/cpu" : flag == "posix/gpu" ? "posix/gpu" : "";
    EXPECT_NE(names.error().find("isolator '" + bad + "' is not supported yet"), std::string::npos)
        << names.error();
    EXPECT_NE(names.error().find("supported: posix/cpu, posix/mem"), std::string::npos) << names.error();
    EXPECT_TRUE(create_isolators(flag).is_error()) << flag;
  }
}

TEST(IsolatorTable, TheIsolationFlagConsultsTheTable) {
  SlaveFlags flags;
  const char* argv[] = {"stoa-slave", "--master=127.0.0.1:5050", "--isolation=posix/mem,cgroups/mem"};
  std::optional<Error> error = flags.load(3, argv, {});
  ASSERT_TRUE(error);
  EXPECT_NE(error->message.find("isolator 'cgroups/mem' is not supported yet"), std::string::npos)
      << error->message;
  SlaveFlags good;
  const char* ok[] = {"stoa-slave", "--master=127.0.0.1:5050", "--isolation=posix/mem"};
  std::optional<Error> none = good.load(3, ok, {});
  EXPECT_FALSE(none) << none->message;
  EXPECT_EQ(good.isolation, "posix/mem");
}

}  // namespace
}  // namespace stoa::slave
