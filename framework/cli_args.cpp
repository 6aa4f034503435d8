// The command table of `stoa`, parsing its command line, and its help.

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <iostream>
#include <sstream>

#include "framework/cli.hpp"
#include "framework/cli_commands.hpp"

namespace stoa::cli {

namespace {

const std::vector<OptionSpec>& global_options() {
  static const std::vector<OptionSpec> options = {
      {"master", true,
       "The master: HOST:PORT, http://HOST:PORT, master@HOST:PORT or zk://H1:P1,H2:P2/path (default: "
       "$STOA_MASTER, else " + std::string(DEFAULT_MASTER) + ")."},
      {"services", true,
       "stoa-services (the Marathon API) for `app` and `deployment`: HOST:PORT or http://HOST:PORT (default: "
       "$STOA_SERVICES, else " + std::string(DEFAULT_SERVICES) + ")."},
      {"json", false, "Machine output (JSON) even on a terminal."},
      {"timeout", true, "How long each request to the master may take, e.g. 10secs (the default)."},
      {"help", false, "Show the command's usage."},
  };
  return options;
}

const OptionSpec* find_option(const std::vector<OptionSpec>& specs, const std::string& name) {
  for (const OptionSpec& o : specs) {
    if (o.name == name) {
      return &o;
    }
  }
  return nullptr;
}

std::string command_name(const Command& c) {
  std::string out;
  for (const std::string& w : c.words) {
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

// The command whose words are the longest prefix of `words`; how many words it took.
std::pair<const Command*, size_t> match_command(const std::vector<Command>& table,
                                                const std::vector<std::string>& words) {
  const Command* best = nullptr;
  size_t best_len = 0;
  for (const Command& c : table) {
    if (c.words.size() <= words.size() && c.words.size() > best_len &&
        std::equal(c.words.begin(), c.words.end(), words.begin())) {
      best = &c;
      best_len = c.words.size();
    }
  }
  return {best, best_len};
}

// The commands that start with `word` ("task" -> "task list, task log, ...").
std::string commands_starting_with(const std::vector<Command>& table, const std::string& word) {
  std::string out;
  for (const Command& c : table) {
    if (c.words.front() == word) {
      out += (out.empty() ? "" : ", ") + command_name(c);
    }
  }
  return out;
}

// Whether a global option or some command's option called `name` takes a value.
bool takes_value_anywhere(const std::vector<Command>& table, const std::string& name) {
  if (const OptionSpec* o = find_option(global_options(), name)) {
    return o->takes_value;
  }
  for (const Command& c : table) {
    if (const OptionSpec* o = find_option(c.options, name)) {
      return o->takes_value;
    }
  }
  return false;
}

Failure usage_failure(const std::string& message) { return Failure{EXIT_USAGE, message}; }

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {{"slave", "list"}, "", 0, 0, {}, "List the registered slaves with their resources.", "", run_slave_list},
      {{"framework", "list"}, "", 0, 0, {{"all", false, "Include completed frameworks."}},
       "List the frameworks with their roles and resources.", "", run_framework_list},
      {{"task", "list"},
       "",
       0,
       0,
       {{"all", false, "Include completed tasks."},
        {"framework", true, "Only the tasks of this framework ID."},
        {"state", true, "Only tasks in this state, e.g. TASK_RUNNING or running."}},
       "List the active tasks (all with --all).",
       "",
       run_task_list},
      {{"task", "log"},
       "<task>",
       1,
       1,
       {{"file", true, "The sandbox file to read: stdout (default) or stderr."},
        {"follow", false, "Keep printing what is appended until the task is terminal (or Ctrl-C)."},
        {"lines", true, "Print only the last N lines (then follow, with --follow)."},
        {"framework", true, "The framework ID, when two frameworks use the task ID."}},
       "Print a task's stdout or stderr, read through the master.",
       "The task's sandbox is read through the master's /files/read, so the slave need not be reachable.",
       run_task_log},
      {{"task", "kill"},
       "<task>",
       1,
       1,
       {{"framework", true, "The framework ID, when two frameworks use the task ID."},
        {"wait", false, "Wait until the task is terminal (TASK_KILLED); --timeout bounds the wait."}},
       "Ask the master to kill a task (POST /master/kill).",
       "",
       run_task_kill},
      {{"quota", "get"}, "[<role>]", 0, 1, {}, "Show the quota guarantees (of one role).", "", run_quota_get},
      {{"quota", "set"},
       "<role> <resources>",
       2,
       2,
       {},
       "Set a role's quota guarantee, e.g. `stoa quota set web 'cpus:2;mem:1024'`.",
       "",
       run_quota_set},
      {{"quota", "remove"}, "<role>", 1, 1, {}, "Remove a role's quota.", "", run_quota_remove},
      {{"weights", "get"}, "", 0, 0, {}, "Show the roles' weights.", "", run_weights_get},
      {{"weights", "set"},
       "<role>=<weight>...",
       1,
       SIZE_MAX,
       {},
       "Set roles' weights, e.g. `stoa weights set web=2 batch=0.5`.",
       "",
       run_weights_set},
      {{"app", "list"}, "", 0, 0, {}, "List stoa-services' apps: status, running/instances, resources, health.",
       "Talks to stoa-services (--services), like every `app` and `deployment` command.", run_app_list},
      {{"app", "show"}, "<app>", 1, 1, {}, "Print an app's definition and state (GET /v2/apps/<app>).", "",
       run_app_show},
      {{"app", "add"},
       "<file.json>",
       1,
       1,
       {{"no-wait", false, "Return once stoa-services accepted the change instead of following its deployment."}},
       "Create an app from a JSON definition ('-' reads stdin).",
       "A 422 lists every invalid field by its path. " "Then follows the deployment until it is over (a progress line on a terminal) and prints how many tasks run; Ctrl-C stops following, not the deployment.",
       run_app_add},
      {{"app", "scale"}, "<app> <instances>", 2, 2, {{"force", false, "Override a running deployment of the app."}, {"no-wait", false, "Return once stoa-services accepted the change instead of following its deployment."}},
       "Scale an app to a number of instances.", "Then follows the deployment until it is over (a progress line on a terminal) and prints how many tasks run; Ctrl-C stops following, not the deployment.", run_app_scale},
      {{"app", "restart"}, "<app>", 1, 1, {{"force", false, "Override a running deployment of the app."}, {"no-wait", false, "Return once stoa-services accepted the change instead of following its deployment."}},
       "Replace every task of an app (a rolling restart).", "Then follows the deployment until it is over (a progress line on a terminal) and prints how many tasks run; Ctrl-C stops following, not the deployment.", run_app_restart},
      {{"app", "remove"}, "<app>", 1, 1, {{"no-wait", false, "Return once stoa-services accepted the change instead of following its deployment."}}, "Kill an app's tasks and delete it.", "Then follows the deployment until it is over (a progress line on a terminal) and prints how many tasks run; Ctrl-C stops following, not the deployment.",
       run_app_remove},
      {{"app", "versions"}, "<app>", 1, 1, {}, "List an app's stored versions, newest first.", "", run_app_versions},
      {{"app", "rollback"}, "<app> <version>", 2, 2, {{"force", false, "Override a running deployment of the app."}, {"no-wait", false, "Return once stoa-services accepted the change instead of following its deployment."}},
       "Deploy a stored version of an app again (see `app versions`).", "Then follows the deployment until it is over (a progress line on a terminal) and prints how many tasks run; Ctrl-C stops following, not the deployment.", run_app_rollback},
      {{"app", "tasks"}, "<app>", 1, 1, {}, "List an app's tasks: state, host:ports, health.", "", run_app_tasks},
      {{"deployment", "list"}, "", 0, 0, {}, "List stoa-services' running deployments.", "", run_deployment_list},
      {{"deployment", "cancel"},
       "<deployment>",
       1,
       1,
       {{"force", false, "Just stop it (no rollback deployment)."}, {"no-wait", false, "Return once stoa-services accepted the change instead of following its deployment."}},
       "Cancel a deployment: roll its apps back (or just stop it with --force).",
       "Without --force, follows the rollback deployment until it is over (unless --no-wait).",
       run_deployment_cancel},
      {{"deployment", "watch"},
       "[<deployment>]",
       0,
       1,
       {},
       "Follow a deployment (or every running one) until it is over.",
       "Prints a line each time a deployment's step, actions or task counts change (its JSON with --json), "
       "and \"Deployment <id> is over.\" at the end; exits 4 if the deployment is not running.",
       run_deployment_watch},
      {{"state"},
       "[<path>]",
       0,
       1,
       {},
       "Print the master's /master/state, or the part a jq-like path selects.",
       "Paths: `.key`, `[\"key\"]`, `[N]` (negative counts from the end), `[]` (every element), chained: "
       "`.slaves[0].hostname`, `.frameworks[].name`, `.flags.port`. A selection that yields several values "
       "prints one per line.",
       run_state},
  };
  return table;
}

std::optional<std::string> Invocation::option(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) {
    return std::nullopt;
  }
  return it->second;
}

Result<Invocation> parse_command_line(const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env,
                                      const std::vector<Command>& table) {
  Invocation inv;
  if (auto it = env.find("STOA_MASTER"); it != env.end() && !it->second.empty()) {
    inv.globals.master = it->second;
  }
  if (auto it = env.find("STOA_SERVICES"); it != env.end() && !it->second.empty()) {
    inv.globals.services = it->second;
  }
  // Words and options, in order. `--name value` takes the next word as the
  // value when an option of that name takes one (the table's options agree
  // on that across commands); `--` ends the options.
  std::vector<std::string> words;
  std::vector<std::pair<std::string, std::optional<std::string>>> given;
  bool only_words = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!only_words && a == "--") {
      only_words = true;
      continue;
    }
    if (only_words || a.empty() || a[0] != '-' || a == "-" ||
        std::isdigit(static_cast<unsigned char>(a[1])) != 0) {
      words.push_back(a);
      continue;
    }
    if (a.size() < 3 || a[1] != '-') {
      return usage_failure("unknown option '" + a + "' (options are written --name or --name=value)");
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (takes_value_anywhere(table, name) && i + 1 < args.size()) {
      value = args[++i];
    }
    given.emplace_back(name, value);
  }

  // `stoa help [command...]` and `stoa` alone.
  bool help_word = !words.empty() && words[0] == "help";
  std::vector<std::string> command_words(words.begin() + (help_word ? 1 : 0), words.end());
  auto [cmd, used] = match_command(table, command_words);

  inv.help = help_word;
  if (command_words.empty()) {
    inv.help = true;
  } else if (!cmd) {
    std::string starting = commands_starting_with(table, command_words[0]);
    if (!starting.empty()) {
      return usage_failure("'" + command_words[0] + (command_words.size() > 1 ? " " + command_words[1] : "") +
                           "' is not a command; did you mean one of: " + starting + "?");
    }
    return usage_failure("unknown command '" + command_words[0] + "' (see `stoa help`)");
  }
  inv.command = cmd;
  if (cmd) {
    inv.args.assign(command_words.begin() + static_cast<long>(used), command_words.end());
  }

  for (const auto& [name, value] : given) {
    if (name == "help") {
      if (value) {
        return usage_failure("option '--help' takes no value (got '" + *value + "')");
      }
      inv.help = true;
      continue;
    }
    const OptionSpec* spec = find_option(global_options(), name);
    bool global = spec != nullptr;
    if (!spec && cmd) {
      spec = find_option(cmd->options, name);
    }
    if (!spec) {
      return usage_failure("unknown option '--" + name + "'" +
                           (cmd ? " for `stoa " + command_name(*cmd) + "`" : std::string()) + " (see --help)");
    }
    if (spec->takes_value && !value) {
      return usage_failure("option '--" + name + "' needs a value (--" + name + "=...)");
    }
    if (!spec->takes_value && value) {
      return usage_failure("option '--" + name + "' takes no value (got '" + *value + "')");
    }
    if (global) {
      if (name == "master") {
        if (value->empty()) {
          return usage_failure("option '--master' needs a value, e.g. --master=127.0.0.1:5050");
        }
        inv.globals.master = *value;
      } else if (name == "services") {
        if (value->empty()) {
          return usage_failure("option '--services' needs a value, e.g. --services=127.0.0.1:8080");
        }
        inv.globals.services = *value;
      } else if (name == "json") {
        inv.globals.json = true;
      } else if (name == "timeout") {
        Try<Duration> d = parse_duration(*value);
        if (d.is_error()) {
          return usage_failure("invalid value '" + *value + "' for '--timeout': " + d.error());
        }
        if (d->count() <= 0) {
          return usage_failure("invalid value '" + *value + "' for '--timeout': must be positive");
        }
        if (*d > MAX_FLAG_DURATION) {
          return usage_failure("invalid value '" + *value + "' for '--timeout': too long");
        }
        inv.globals.timeout = *d;
      }
      continue;
    }
    if (inv.options.count(name)) {
      return usage_failure("option '--" + name + "' given twice");
    }
    inv.options[name] = value.value_or("");
  }

  if (cmd && !inv.help) {
    if (inv.args.size() < cmd->min_args) {
      return usage_failure("`stoa " + command_name(*cmd) + "` needs " + cmd->arguments +
                           " (usage: stoa " + command_name(*cmd) + " " + cmd->arguments + ")");
    }
    if (inv.args.size() > cmd->max_args) {
      return usage_failure("unexpected argument '" + inv.args[cmd->max_args] + "' for `stoa " +
                           command_name(*cmd) + "`");
    }
  }
  return inv;
}

std::string usage(const Command* command) {
  std::ostringstream out;
  auto print_options = [&out](const std::vector<OptionSpec>& specs) {
    for (const OptionSpec& o : specs) {
      std::string left = "  --" + o.name + (o.takes_value ? "=VALUE" : "");
      out << left << std::string(left.size() < 22 ? 22 - left.size() : 1, ' ') << o.help << "\n";
    }
  };
  if (command) {
    out << "Usage: stoa " << command_name(*command) << (command->arguments.empty() ? "" : " ")
        << command->arguments << (command->options.empty() ? "" : " [options]") << "\n\n"
        << command->summary << "\n";
    if (!command->help.empty()) {
      out << "\n" << command->help << "\n";
    }
    if (!command->options.empty()) {
      out << "\nOptions:\n";
      print_options(command->options);
    }
    out << "\nGlobal options:\n";
    print_options(global_options());
    return out.str();
  }
  out << "Usage: stoa [--master=HOST:PORT] [--services=HOST:PORT] [--json] [--timeout=10secs] <command> [arguments] [options]\n\n"
      << "Commands:\n";
  for (const Command& c : commands()) {
    std::string left = "  " + command_name(c) + (c.arguments.empty() ? "" : " " + c.arguments);
    out << left << std::string(left.size() < 34 ? 34 - left.size() : 1, ' ') << c.summary << "\n";
  }
  out << "  help [<command>]                Show this, or a command's options (also `stoa <command> --help`).\n"
      << "\nGlobal options:\n";
  print_options(global_options());
  out << "\nOutput: tables on a terminal, JSON otherwise or with --json.\n"
      << "Exit codes: 0 ok, 1 error answered by the master, 2 usage, 3 master unreachable, 4 not found,\n"
      << "5 conflict, 6 timeout.\n";
  return out.str();
}

int Context::fail(const Failure& f) const {
  *err << "stoa: " << f.message << std::endl;
  return f.code;
}

void Context::progress(const std::string& line) const {
  if (err_is_terminal) {
    *err << line << std::endl;
  }
}

int run(Context& context, const Invocation& inv) {
  if (inv.help || !inv.command) {
    *context.out << usage(inv.command);
    return EXIT_OK;
  }
  return inv.command->run(context, inv);
}

}  // namespace stoa::cli
