#include "actors/launcher.hpp"

// How a command executor starts its task (declared in launcher.hpp): shared
// by stoa-executor (slave/executor_main.cpp) and stoa-http-executor
// (slave/http_executor_machine.cpp), which compiles this file itself.

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stoa {

std::optional<std::vector<std::string>> shell_free_argv(const std::string& value) {
  // Keywords, and builtins with no program of their own or that change the shell itself.
  static const std::set<std::string, std::less<>> shell_words = {
      "!",      "{",     "}",     "case",  "do",       "done",   "elif",   "else",    "esac",   "fi",
      "for",    "if",    "in",    "then",  "until",    "while",  "function", "select", "time", ".",
      ":",      "alias", "bg",    "break", "cd",       "command", "continue", "eval",  "exec",  "exit",
      "export", "fc",    "fg",    "getopts", "hash",   "jobs",   "let",    "local",   "read",   "readonly",
      "return", "set",   "shift", "source", "times",   "trap",   "type",   "ulimit",  "umask",  "unalias",
      "unset",  "wait"};
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("_-./,:+@%=").find(c) != std::string_view::npos;
  };
  std::vector<std::string> argv;
  std::string word;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || value[i] == ' ') {
      if (word.empty()) {
        return std::nullopt;  // empty command, or not single spaces
      }
      argv.push_back(std::move(word));
      word.clear();
      continue;
    }
    if (!plain(value[i])) {
      return std::nullopt;
    }
    word += value[i];
  }
  if (argv.front().find('=') != std::string::npos || shell_words.count(argv.front()) != 0) {
    return std::nullopt;
  }
  return argv;
}

std::vector<std::string> command_argv(const CommandLine& command) {
  if (command.shell) {
    return {"/bin/sh", "-c", command.value};
  }
  if (command.arguments.empty() || command.value.empty()) {
    std::vector<std::string> argv = {command.value};
    argv.insert(argv.end(), command.arguments.begin(), command.arguments.end());
    return argv;
  }
  std::vector<std::string> argv = command.arguments;
  argv[0] = command.value;
  return argv;
}

LaunchSpec command_task_spec(const CommandLine& command, const std::string& sandbox, const std::string& task_id,
                             const std::vector<std::pair<std::string, std::string>>& env) {
  LaunchSpec spec;
  spec.argv = command_argv(command);
  spec.new_session = false;
  spec.new_process_group = true;
  spec.working_dir = sandbox;
  spec.stdout_path = sandbox + "/stdout";
  spec.stderr_path = sandbox + "/stderr";
  spec.env["MESOS_SANDBOX"] = sandbox;
  spec.env["STOA_SANDBOX"] = sandbox;
  spec.env["MESOS_TASK_ID"] = task_id;
  for (const auto& [name, value] : env) {
    spec.env[name] = value;
  }
  return spec;
}

Try<pid_t> launch_command_task(const CommandLine& command, const LaunchSpec& spec,
                               const std::function<Try<pid_t>(const LaunchSpec&)>& start) {
  if (std::optional<std::vector<std::string>> direct; command.shell && (direct = shell_free_argv(command.value))) {
    LaunchSpec direct_spec = spec;
    direct_spec.argv = std::move(*direct);
    direct_spec.env["PWD"] = spec.working_dir;
    if (Try<pid_t> launched = start(direct_spec); launched.is_some()) {
      return launched;
    }
  }
  return start(spec);
}

}  // namespace stoa
