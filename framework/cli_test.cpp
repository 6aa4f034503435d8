// The `stoa` CLI's pure parts: the command line, the state selector, tables
// and values. tests/cli_test.cpp drives the real binary against a cluster.

#include <gtest/gtest.h>

#include "common/json.hpp"
#include "framework/cli.hpp"
#include "framework/cli_client.hpp"
#include "framework/cli_commands.hpp"
#include "framework/cli_output.hpp"
#include "framework/cli_select.hpp"
#include "framework/cli_tasks.hpp"

namespace stoa::cli {
namespace {

Result<Invocation> parse(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  return parse_command_line(args, env);
}

std::string name_of(const Invocation& inv) {
  std::string out;
  for (const std::string& w : inv.command->words) {
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

picojson::value json(const std::string& text) {
  Try<picojson::value> v = json_parse(text);
  EXPECT_TRUE(v) << text;
  return v ? *v : picojson::value();
}

TEST(CliArgs, MatchesCommandsWithTheirArgumentsAndOptions) {
  Result<Invocation> inv = parse({"task", "log", "web-1", "--file=stderr", "--follow", "--lines", "20"});
  ASSERT_TRUE(inv) << inv.failure().message;
  EXPECT_EQ(name_of(*inv), "task log");
  EXPECT_EQ(inv->args, std::vector<std::string>{"web-1"});
  EXPECT_EQ(inv->option("file"), "stderr");
  EXPECT_TRUE(inv->has("follow"));
  EXPECT_EQ(inv->option("lines"), "20");
  EXPECT_FALSE(inv->help);

  // Options may come first; `--` ends them.
  inv = parse({"--json", "--master", "10.0.0.1:5050", "state", "--", ".slaves[0]"});
  ASSERT_TRUE(inv) << inv.failure().message;
  EXPECT_EQ(name_of(*inv), "state");
  EXPECT_EQ(inv->args, std::vector<std::string>{".slaves[0]"});
  EXPECT_TRUE(inv->globals.json);
  EXPECT_EQ(inv->globals.master, "10.0.0.1:5050");

  inv = parse({"weights", "set", "web=2", "batch=0.5"});
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->args.size(), 2u);
}

TEST(CliArgs, GlobalsComeFromFlagsThenEnvironmentThenDefaults) {
  Result<Invocation> inv = parse({"slave", "list"});
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->globals.master, "127.0.0.1:5050");
  EXPECT_EQ(inv->globals.timeout, std::chrono::seconds(10));
  EXPECT_FALSE(inv->globals.json);
  inv = parse({"slave", "list"}, {{"STOA_MASTER", "zk://h:2181/stoa"}});
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->globals.master, "zk://h:2181/stoa");
  inv = parse({"slave", "list", "--master=h:1", "--timeout=250ms"}, {{"STOA_MASTER", "zk://h:2181/stoa"}});
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->globals.master, "h:1");
  EXPECT_EQ(inv->globals.timeout, std::chrono::milliseconds(250));
}

TEST(CliArgs, HelpForEverythingOrOneCommand) {
  Result<Invocation> none = parse({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->help);
  EXPECT_EQ(none->command, nullptr);
  Result<Invocation> help = parse({"help", "task", "log"});
  ASSERT_TRUE(help);
  EXPECT_TRUE(help->help);
  EXPECT_EQ(name_of(*help), "task log");
  Result<Invocation> flag = parse({"quota", "set", "--help"});
  ASSERT_TRUE(flag) << flag.failure().message;  // arguments are not required with --help
  EXPECT_TRUE(flag->help);
  std::string text = usage(flag->command);
  EXPECT_NE(text.find("Usage: stoa quota set <role> <resources>"), std::string::npos) << text;
  EXPECT_NE(text.find("--master"), std::string::npos);
  std::string all = usage();
  for (const Command& c : commands()) {
    EXPECT_NE(all.find(c.summary), std::string::npos) << c.summary;
  }
}

TEST(CliArgs, BadCommandLinesAreUsageErrorsNamingTheValue) {
  struct Case {
    std::vector<std::string> args;
    std::string named;
  };
  for (const Case& c : std::vector<Case>{
           {{"slave", "list", "--bogus"}, "--bogus"},
           {{"slave", "list", "-x"}, "-x"},
           {{"frobnicate"}, "frobnicate"},
           {{"task", "frob"}, "task frob"},
           {{"task", "log"}, "<task>"},
           {{"task", "log", "a", "b"}, "'b'"},
           {{"slave", "list", "--timeout=soon"}, "soon"},
           {{"slave", "list", "--timeout=0secs"}, "0secs"},
           {{"slave", "list", "--master="}, "--master"},
           {{"slave", "list", "--json=yes"}, "yes"},
           {{"task", "list", "--state"}, "--state"},
           {{"task", "list", "--all", "--all"}, "--all"},
           {{"task", "log", "x", "--all"}, "--all"},
       }) {
    Result<Invocation> inv = parse(c.args);
    ASSERT_FALSE(inv) << c.args.front() << " was accepted";
    EXPECT_EQ(inv.failure().code, EXIT_USAGE);
    EXPECT_NE(inv.failure().message.find(c.named), std::string::npos) << inv.failure().message;
  }
}

TEST(CliArgs, OptionValuesAndArgumentsOfOtherCommandsAreChecked) {
  Result<std::vector<std::pair<std::string, double>>> w = parse_weight_args({"web=2", "a/b=0.5"});
  ASSERT_TRUE(w);
  EXPECT_EQ((*w)[0], std::make_pair(std::string("web"), 2.0));
  EXPECT_EQ((*w)[1], std::make_pair(std::string("a/b"), 0.5));
  for (std::string bad : {"web", "=2", "web=", "web=0", "web=-1", "web=nan", "web=inf", "web=2x", "web=0x10"}) {
    Result<std::vector<std::pair<std::string, double>>> r = parse_weight_args({bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.failure().code, EXIT_USAGE);
  }
  EXPECT_NE(parse_weight_args({"web=zero"}).failure().message.find("'zero'"), std::string::npos);

  EXPECT_EQ(*parse_task_state("TASK_RUNNING"), "TASK_RUNNING");
  EXPECT_EQ(*parse_task_state("running"), "TASK_RUNNING");
  EXPECT_EQ(*parse_task_state("Task_Killed"), "TASK_KILLED");
  Result<std::string> bad = parse_task_state("sleepy");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.failure().code, EXIT_USAGE);
  EXPECT_NE(bad.failure().message.find("'sleepy'"), std::string::npos);
  EXPECT_TRUE(is_terminal_state_name("TASK_KILLED"));
  EXPECT_FALSE(is_terminal_state_name("TASK_RUNNING"));
  EXPECT_FALSE(is_terminal_state_name("nonsense"));
}

TEST(CliMaster, AddressesInEveryFormTheDaemonsTake) {
  for (std::string ok : {"127.0.0.1:5050", "http://127.0.0.1:5050", "http://127.0.0.1:5050/",
                         "master@127.0.0.1:5050"}) {
    Result<std::pair<std::string, int>> a = parse_master_address(ok);
    ASSERT_TRUE(a) << ok;
    EXPECT_EQ(a->first, "127.0.0.1");
    EXPECT_EQ(a->second, 5050);
  }
  EXPECT_EQ(parse_master_address("master.example:80")->first, "master.example");
  for (std::string bad : {"nohost", ":5050", "h:", "h:0", "h:65536", "h:50x", "h:5050/path", "h:-1"}) {
    Result<std::pair<std::string, int>> a = parse_master_address(bad);
    ASSERT_FALSE(a) << bad;
    EXPECT_EQ(a.failure().code, EXIT_USAGE);
    EXPECT_NE(a.failure().message.find("'" + bad + "'"), std::string::npos);
  }
  EXPECT_EQ(url_encode("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
  EXPECT_EQ(url_encode("web-1_x.y~"), "web-1_x.y~");
}

TEST(CliMaster, AnswersMapToExitCodes) {
  Reply r;
  r.status = 404;
  r.body = R"({"message":"No task 'x'"})";
  Failure f = failure_of(r, "POST", "http://h:1/master/kill");
  EXPECT_EQ(f.code, EXIT_NOT_FOUND);
  EXPECT_EQ(f.message, "the master answered 404 Not Found to POST http://h:1/master/kill: No task 'x'");
  r.body = R"({"message":"no route for '/master/kill'"})";
  f = failure_of(r, "POST", "u");
  EXPECT_EQ(f.code, EXIT_MASTER_ERROR) << "a master without the endpoint is no missing task";
  EXPECT_NE(f.message.find("does not have the endpoint"), std::string::npos) << f.message;
  r.status = 409;
  EXPECT_EQ(failure_of(r, "POST", "u").code, EXIT_CONFLICT);
  r.status = 400;
  r.body = "plain";
  f = failure_of(r, "GET", "u");
  EXPECT_EQ(f.code, EXIT_MASTER_ERROR);
  EXPECT_NE(f.message.find(": plain"), std::string::npos);
  r.status = 503;
  EXPECT_EQ(failure_of(r, "GET", "u").code, EXIT_MASTER_ERROR);
}

TEST(CliSelect, PathsParseIntoSteps) {
  using S = Step;
  EXPECT_EQ(*parse_path("."), std::vector<Step>{});
  EXPECT_EQ(*parse_path(".slaves[0].hostname"),
            (std::vector<Step>{S{S::KEY, "slaves", 0}, S{S::INDEX, "", 0}, S{S::KEY, "hostname", 0}}));
  EXPECT_EQ(*parse_path("frameworks[].name"),
            (std::vector<Step>{S{S::KEY, "frameworks", 0}, S{S::EACH, "", 0}, S{S::KEY, "name", 0}}));
  EXPECT_EQ(*parse_path(".[\"a.b\"][-1]"), (std::vector<Step>{S{S::KEY, "a.b", 0}, S{S::INDEX, "", -1}}));
  EXPECT_EQ(*parse_path(".flags.webui_read_only"), (std::vector<Step>{S{S::KEY, "flags", 0}, S{S::KEY, "webui_read_only", 0}}));
  EXPECT_EQ(path_text(*parse_path(".a[\"b c\"][2][]")), ".a[\"b c\"][2][]");
  for (std::string bad : {"", "..", ".a.", ".a[", ".a[x]", ".a[1", ".a[-]", ".a b", ".a[\"x]", "a|b", ".[\"x\"y]"}) {
    Result<std::vector<Step>> r = parse_path(bad);
    ASSERT_FALSE(r) << "'" << bad << "' was accepted";
    EXPECT_EQ(r.failure().code, EXIT_USAGE);
    EXPECT_NE(r.failure().message.find("'" + bad + "'"), std::string::npos) << r.failure().message;
  }
}

TEST(CliSelect, SelectsValuesAndNamesWhereAPathLeadsNowhere) {
  picojson::value state = json(R"({"slaves":[{"hostname":"a","port":1},{"hostname":"b","port":2}],
                                   "frameworks":[{"name":"x"},{"name":"y"}],"flags":{"port":"5050"},"n":3})");
  auto one = [&](const std::string& path) {
    Result<std::vector<picojson::value>> r = select_path(state, *parse_path(path));
    EXPECT_TRUE(r) << path << ": " << (r ? "" : r.failure().message);
    EXPECT_EQ(r ? r->size() : 0u, 1u) << path;
    return r && r->size() == 1 ? plain_text((*r)[0]) : std::string("?");
  };
  EXPECT_EQ(one(".slaves[0].hostname"), "a");
  EXPECT_EQ(one(".slaves[-1].port"), "2");
  EXPECT_EQ(one(".flags.port"), "5050");
  EXPECT_EQ(one("[\"n\"]"), "3");
  Result<std::vector<picojson::value>> names = select_path(state, *parse_path(".frameworks[].name"));
  ASSERT_TRUE(names);
  ASSERT_EQ(names->size(), 2u);
  EXPECT_EQ(plain_text((*names)[1]), "y");
  Result<std::vector<picojson::value>> whole = select_path(state, *parse_path("."));
  ASSERT_TRUE(whole);
  EXPECT_EQ(json_serialize((*whole)[0]), json_serialize(state));

  struct Miss {
    std::string path, message;
  };
  for (const Miss& m : std::vector<Miss>{{".nope", "no key 'nope' at ."},
                                         {".slaves[2]", "no element [2] at .slaves: it has 2 elements"},
                                         {".slaves[0].x", "no key 'x' at .slaves[0]"},
                                         {".n.x", "no key 'x' at .n: not an object"},
                                         {".flags[0]", "no element [0] at .flags: not an array"},
                                         {".n[]", "cannot iterate over .n"}}) {
    Result<std::vector<picojson::value>> r = select_path(state, *parse_path(m.path));
    ASSERT_FALSE(r) << m.path;
    EXPECT_EQ(r.failure().code, EXIT_NOT_FOUND);
    EXPECT_NE(r.failure().message.find(m.message), std::string::npos) << r.failure().message;
  }
}

TEST(CliOutput, TablesAlignColumnsAndPadShortRows) {
  std::string t = render_table({"ID", "NAME", "STATE"}, {{"t-1", "web", "TASK_RUNNING"}, {"task-22", "wörk"}});
  EXPECT_EQ(t,
            "ID       NAME  STATE\n"
            "t-1      web   TASK_RUNNING\n"
            "task-22  wörk\n");
  EXPECT_EQ(render_table({"ROLE", "WEIGHT"}, {}), "ROLE  WEIGHT\n");
}

TEST(CliOutput, ValuesPrintForPeople) {
  EXPECT_EQ(resources_text(json(R"({"cpus":0.1,"disk":0,"gpus":0,"mem":32,"ports":"[31000-32000]"})")),
            "cpus:0.1;mem:32;ports:[31000-32000]");
  EXPECT_EQ(resources_text(json("{}")), "");
  EXPECT_EQ(resources_text(json("[]")), "");
  EXPECT_EQ(plain_text(json(R"("x")")), "x");
  EXPECT_EQ(plain_text(json("0.1")), "0.1");
  EXPECT_EQ(plain_text(json("null")), "");
  EXPECT_EQ(plain_text(json(R"({"a":[1,true]})")), R"({"a":[1,true]})");
  EXPECT_EQ(pretty_json(json(R"({"a":[1,{"b":0.1}],"c":{},"d":[]})")),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": 0.1\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}");
  EXPECT_EQ(number_text(2), "2");
  EXPECT_EQ(number_at(json(R"({"a":"x"})"), "a"), 0);
  EXPECT_EQ(string_at(json("[]"), "a"), "");
  EXPECT_TRUE(array_at(json(R"({"a":1})"), "a").empty());
}

}  // namespace
}  // namespace stoa::cli
