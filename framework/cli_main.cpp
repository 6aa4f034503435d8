// stoa: the operator's command line (docs/cli.md).
//
//   stoa slave list
//   stoa --master=zk://zk1:2181/stoa task log web-1a2b --follow
//   stoa state '.slaves[0].hostname'
//
// Exit codes: framework/cli.hpp.

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <memory>
#include <iostream>

#include "framework/cli.hpp"
#include "framework/cli_client.hpp"

int main(int argc, char** argv) {
  using namespace stoa::cli;
  // A reader that goes away (`stoa task log x --follow | head`) ends us quietly.
  std::signal(SIGPIPE, SIG_DFL);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::map<std::string, std::string> env;
  if (const char* m = std::getenv("STOA_MASTER")) {
    env["STOA_MASTER"] = m;
  }
  if (const char* s = std::getenv("STOA_SERVICES")) {
    env["STOA_SERVICES"] = s;
  }
  Result<Invocation> inv = parse_command_line(args, env);
  if (!inv) {
    std::cerr << "stoa: " << inv.failure().message << "\n\nSee `stoa help`." << std::endl;
    return inv.failure().code;
  }
  if (args.empty()) {
    // A bare `stoa` is a usage error; `stoa help` is not.
    std::cerr << usage();
    return EXIT_USAGE;
  }
  Context context;
  context.globals = inv->globals;
  context.out = &std::cout;
  context.err = &std::cerr;
  context.out_is_terminal = ::isatty(STDOUT_FILENO) == 1;
  context.err_is_terminal = ::isatty(STDERR_FILENO) == 1;
  if (inv->help || inv->command == nullptr) {
    return run(context, *inv);
  }
  // `app` and `deployment` talk to stoa-services (--services) through the
  // same HTTP client; every other command to the master.
  bool for_services = inv->command->words.front() == "app" || inv->command->words.front() == "deployment";
  Globals target = inv->globals;
  if (for_services) {
    target.master = inv->globals.services;
  }
  std::unique_ptr<MasterClient> client = make_master_client(target);
  (for_services ? context.services : context.client) = client.get();
  int code = run(context, *inv);
  std::cout.flush();
  return code;
}
