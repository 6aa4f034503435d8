#pragma once
// The `stoa` command line (docs/cli.md): what its pieces share.
//
//   stoa [--master=HOST:PORT] [--json] [--timeout=10secs] <command> [args] [--options]
//
// cli.hpp        exit codes, Failure/Result, the parsed command line, the
//                command table and its parser (cli_args.cpp)
// cli_client.hpp talking to the leading master over HTTP (cli_client.cpp)
// cli_output.hpp tables and JSON output (cli_output.cpp)
// cli_select.hpp the jq-like selector of `stoa state` (cli_select.cpp)
// cli_*.cpp      one file per group of subcommands
//
// Exit codes (the contract of issue #12): 0 ok, 1 an error answered by the
// master, 2 usage (bad flag, argument or selector), 3 master unreachable
// (the message names the URL tried), 4 not found, 5 conflict, 6 timeout.

#include <chrono>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/flags.hpp"

namespace stoa::cli {

constexpr int EXIT_OK = 0;
constexpr int EXIT_MASTER_ERROR = 1;
constexpr int EXIT_USAGE = 2;
constexpr int EXIT_UNREACHABLE = 3;
constexpr int EXIT_NOT_FOUND = 4;
constexpr int EXIT_CONFLICT = 5;
constexpr int EXIT_TIMED_OUT = 6;

constexpr const char* DEFAULT_MASTER = "127.0.0.1:5050";
// stoa-services' Marathon API (`stoa app`, `stoa deployment`).
constexpr const char* DEFAULT_SERVICES = "127.0.0.1:8080";
constexpr auto DEFAULT_TIMEOUT = std::chrono::seconds(10);

// Why a command failed: the exit code and the message printed as
// "stoa: <message>" on stderr.
struct Failure {
  int code = EXIT_MASTER_ERROR;
  std::string message;
};

// A value or a Failure.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Failure failure) : v_(std::move(failure)) {}  // NOLINT: implicit by design
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Failure& failure() const { return std::get<Failure>(v_); }
  T& operator*() { return std::get<T>(v_); }
  const T& operator*() const { return std::get<T>(v_); }
  T* operator->() { return &std::get<T>(v_); }
  const T* operator->() const { return &std::get<T>(v_); }

 private:
  std::variant<T, Failure> v_;
};

// Options every command takes.
struct Globals {
  std::string master = DEFAULT_MASTER;  // --master, else $STOA_MASTER
  std::string services = DEFAULT_SERVICES;  // --services, else $STOA_SERVICES
  bool json = false;                    // --json
  Duration timeout = DEFAULT_TIMEOUT;   // --timeout, per request to the master
};

struct Context;
struct Invocation;

// An option of one command: `--name=value` (or `--name value`) when it takes
// a value, else `--name`.
struct OptionSpec {
  std::string name;
  bool takes_value = false;
  std::string help;
};

// One line of the command table (commands()).
struct Command {
  std::vector<std::string> words;  // {"task", "list"}
  std::string arguments;           // "<task>" for the usage line
  size_t min_args = 0;
  size_t max_args = 0;             // SIZE_MAX: any number
  std::vector<OptionSpec> options;
  std::string summary;             // one line
  std::string help;                // more, may be empty
  int (*run)(Context&, const Invocation&) = nullptr;
};

// The table of every subcommand, in the order `stoa help` lists them.
const std::vector<Command>& commands();

// A parsed command line.
struct Invocation {
  const Command* command = nullptr;  // nullptr: `stoa help` / `stoa` alone
  std::vector<std::string> args;     // positional arguments after the command words
  std::map<std::string, std::string> options;  // the command's options given ("" for a switch)
  Globals globals;
  bool help = false;                 // --help, or `stoa help [command]`

  bool has(const std::string& option) const { return options.count(option) > 0; }
  std::optional<std::string> option(const std::string& name) const;
};

// Parses argv[1..] against `table`. `env` supplies STOA_MASTER and STOA_SERVICES. Failures are
// EXIT_USAGE with a message naming the offending word or value.
Result<Invocation> parse_command_line(const std::vector<std::string>& args,
                                      const std::map<std::string, std::string>& env,
                                      const std::vector<Command>& table = commands());

// `stoa help`: every command; with a command, its usage and options.
std::string usage(const Command* command = nullptr);

// Where a command writes and who it talks to.
class MasterClient;
struct Context {
  Globals globals;
  MasterClient* client = nullptr;
  MasterClient* services = nullptr;  // stoa-services (globals.services), for `app` and `deployment`
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool out_is_terminal = false;  // tables instead of JSON (unless --json)
  bool err_is_terminal = false;  // progress lines on stderr
  // How often commands that follow stoa-services' deployments ask again.
  std::chrono::milliseconds poll_interval{500};

  bool machine() const { return globals.json || !out_is_terminal; }
  // Prints "stoa: <message>" and returns the failure's code.
  int fail(const Failure& f) const;
  // A progress line on stderr, only on a terminal.
  void progress(const std::string& line) const;
};

// Runs a parsed invocation (help included). Returns the exit code.
int run(Context& context, const Invocation& invocation);

}  // namespace stoa::cli
