#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "framework/executor.hpp"

namespace stoa {
namespace {

using Argv = std::vector<std::string>;

TEST(ShellFreeArgv, SimpleCommandsAreSplitIntoTheirWords) {
  EXPECT_EQ(shell_free_argv("true"), std::optional<Argv>(Argv{"true"}));
  EXPECT_EQ(shell_free_argv("sleep 1000"), std::optional<Argv>(Argv{"sleep", "1000"}));
  EXPECT_EQ(shell_free_argv("/bin/echo a-b.c,d:e+f@g%h=i _x"),
            std::optional<Argv>(Argv{"/bin/echo", "a-b.c,d:e+f@g%h=i", "_x"}));
  EXPECT_EQ(shell_free_argv("./run.sh --port=31000"), std::optional<Argv>(Argv{"./run.sh", "--port=31000"}));
}

TEST(ShellFreeArgv, AnythingAShellWouldInterpretIsLeftToSh) {
  for (const char* value :
       {"", " true", "true ", "sleep  1", "echo $HOME", "echo 'x'", "echo \"x\"", "a;b", "a|b", "a && b",
        "echo x > f", "cat < f", "ls *", "ls ?", "ls [ab]", "echo ~", "echo ~/x", "echo {a,b}", "(true)",
        "true &", "echo a\tb", "echo a\nb", "echo \\n", "echo `id`", "echo #x", "!true", "A=1 env",
        "cd /tmp", "exit 3", "exec true", "export A=1", "set -e", "if true", "while true", ". ./x", ": x",
        "wait", "ulimit -n 10", "umask 077", "time true"}) {
    EXPECT_EQ(shell_free_argv(value), std::nullopt) << "'" << value << "'";
  }
}

}  // namespace
}  // namespace stoa
