// `stoa state [path]`: /master/state, or what a jq-like path selects in it.

#include <iostream>

#include "common/json.hpp"
#include "framework/cli_client.hpp"
#include "framework/cli_commands.hpp"
#include "framework/cli_output.hpp"
#include "framework/cli_select.hpp"

namespace stoa::cli {

int run_state(Context& c, const Invocation& inv) {
  std::vector<Step> steps;
  if (!inv.args.empty()) {
    Result<std::vector<Step>> parsed = parse_path(inv.args[0]);
    if (!parsed) {
      return c.fail(parsed.failure());
    }
    steps = *parsed;
  }
  Result<picojson::value> state = get_json(*c.client, "/master/state");
  if (!state) {
    return c.fail(state.failure());
  }
  Result<std::vector<picojson::value>> selected = select_path(*state, steps);
  if (!selected) {
    return c.fail(selected.failure());
  }
  // One value per line: JSON with --json; on a terminal strings bare and the
  // rest indented; otherwise (scripts) strings bare and the rest compact.
  for (const picojson::value& v : *selected) {
    if (c.globals.json) {
      *c.out << json_serialize(v) << "\n";
    } else if (v.is<picojson::object>() || v.is<picojson::array>()) {
      *c.out << (c.out_is_terminal ? pretty_json(v) : json_serialize(v)) << "\n";
    } else {
      *c.out << plain_text(v) << "\n";
    }
  }
  c.out->flush();
  return EXIT_OK;
}

}  // namespace stoa::cli
