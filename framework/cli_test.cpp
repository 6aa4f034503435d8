// The `stoa` CLI's pure parts: the command line, the state selector, tables
// and values. tests/cli_test.cpp drives the real binary against a cluster.

#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <functional>
#include <sstream>

#include "actors/http.hpp"

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

// A master that answers what `task log` and `task kill` ask, from memory:
// GET /master/tasks?task_id=, GET /files/read (reads capped at 64 KiB, as
// the files service does), POST /master/kill as contract A describes.
class FakeMaster : public MasterClient {
 public:
  std::string file;                   // the task's stdout
  std::string state = "TASK_RUNNING";
  std::vector<std::string> frameworks{"fw-1"};
  int reads = 0;
  int kills = 0;
  // Called before each /master/tasks answer (to move the task along).
  std::function<void()> on_tasks_poll;

  Result<Reply> call(const std::string& method, const std::string& target, const std::string& body,
                     const std::string&) override {
    size_t q = target.find('?');
    std::string path = target.substr(0, q);
    Try<std::map<std::string, std::string>> query =
        http::parse_query(q == std::string::npos ? "" : target.substr(q + 1));
    EXPECT_TRUE(query) << target;
    Reply r;
    r.status = 200;
    if (method == "GET" && path == "/master/tasks") {
      if (on_tasks_poll) {
        on_tasks_poll();
      }
      picojson::array tasks;
      for (const std::string& f : frameworks) {
        if ((*query)["task_id"] != "t-1" || (query->count("framework_id") && (*query)["framework_id"] != f)) {
          continue;
        }
        tasks.push_back(json(R"({"id":"t-1","framework_id":")" + f +
                             R"(","executor_id":"","slave_id":"s-1","state":")" + state + R"("})"));
      }
      r.body = json_serialize(picojson::value(picojson::object{{"tasks", picojson::value(tasks)}}));
    } else if (method == "GET" && path == "/files/read") {
      ++reads;
      EXPECT_EQ((*query)["slave_id"], "s-1");
      EXPECT_EQ((*query)["path"], "/frameworks/" + frameworks[0] + "/executors/t-1/runs/latest/stdout");
      long offset = std::stol((*query)["offset"]);
      long length = query->count("length") ? std::stol((*query)["length"]) : 1L << 30;
      EXPECT_TRUE(query->count("length") || offset == -1) << "reads name their length: " << target;
      EXPECT_LE(length, query->count("length") ? 64 * 1024 : length);
      if (offset < 0) {
        offset = static_cast<long>(file.size());
      }
      std::string data = offset >= static_cast<long>(file.size()) ? "" : file.substr(offset, std::min(length, 64L * 1024));
      picojson::object o{{"data", picojson::value(data)}, {"offset", picojson::value(static_cast<int64_t>(offset))}};
      r.body = json_serialize(picojson::value(o));
    } else if (method == "POST" && path == "/master/kill") {
      ++kills;
      picojson::value b = json(body);
      if (string_at(b, "task_id") != "t-1") {
        r.status = 404;
        r.body = R"({"message":"No task"})";
      } else if (is_terminal_state_name(state)) {
        r.status = 409;
        r.body = R"({"message":"Task t-1 is terminal"})";
      } else {
        r.status = 202;
        r.body = R"({"task_id":"t-1","framework_id":"fw-1","slave_id":"s-1"})";
      }
    } else {
      r.status = 404;
      r.body = R"({"message":"no route for ')" + path + "'\"}";
    }
    return r;
  }
  std::string base_url() const override { return "http://fake:1"; }
};

struct Ran {
  int code;
  std::string out, err;
};

Ran run_with(FakeMaster& master, std::vector<std::string> args) {
  Result<Invocation> inv = parse_command_line(args, {});
  EXPECT_TRUE(inv) << (inv ? "" : inv.failure().message);
  std::ostringstream out, err;
  Context c;
  c.globals = inv->globals;
  c.client = &master;
  c.out = &out;
  c.err = &err;
  int code = run(c, *inv);
  return {code, out.str(), err.str()};
}

// 100,000 numbered lines: about 690 KB, many 64 KiB reads.
std::string numbered_lines(int n) {
  std::string out;
  for (int i = 1; i <= n; ++i) {
    out += "line " + std::to_string(i) + "\n";
  }
  return out;
}

TEST(CliTaskLog, PrintsTheWholeFileOrItsLastLinesAcrossReads) {
  FakeMaster m;
  m.file = numbered_lines(100000);
  Ran all = run_with(m, {"task", "log", "t-1"});
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(all.out, m.file);
  EXPECT_GT(m.reads, 10);
  for (int n : {0, 1, 3, 9000, 99999, 100000, 200000}) {
    Ran tail = run_with(m, {"task", "log", "t-1", "--lines=" + std::to_string(n)});
    EXPECT_EQ(tail.code, 0) << tail.err;
    std::string expected;
    for (int i = std::max(1, 100000 - n + 1); i <= 100000 && n > 0; ++i) {
      expected += "line " + std::to_string(i) + "\n";
    }
    EXPECT_EQ(tail.out, expected) << "--lines=" << n;
  }
  // A last line without a newline counts as a line.
  m.file = "a\nb\nc";
  EXPECT_EQ(run_with(m, {"task", "log", "t-1", "--lines=2"}).out, "b\nc");
  m.file = "";
  EXPECT_EQ(run_with(m, {"task", "log", "t-1", "--lines=2"}).out, "");
  Ran bad = run_with(m, {"task", "log", "t-1", "--lines=-1"});
  EXPECT_EQ(bad.code, EXIT_USAGE);
  EXPECT_NE(bad.err.find("'-1'"), std::string::npos) << bad.err;
}

TEST(CliTaskLog, FollowPrintsWhatIsAppendedUntilTheTaskIsTerminal) {
  FakeMaster m;
  m.file = "one\n";
  int polls = 0;
  m.on_tasks_poll = [&] {
    ++polls;
    if (polls == 2) {
      m.file += "two\n";
    } else if (polls == 3) {
      m.file += "three\n";  // written before the terminal update
      m.state = "TASK_FINISHED";
    }
  };
  Ran follow = run_with(m, {"task", "log", "t-1", "--follow"});
  EXPECT_EQ(follow.code, 0) << follow.err;
  EXPECT_EQ(follow.out, "one\ntwo\nthree\n");
  EXPECT_EQ(follow.err, "") << "progress lines only on a terminal";
}

TEST(CliTaskLog, NamesTheTaskThatIsMissingOrAmbiguous) {
  FakeMaster m;
  Ran missing = run_with(m, {"task", "log", "nope"});
  EXPECT_EQ(missing.code, EXIT_NOT_FOUND);
  EXPECT_NE(missing.err.find("no task 'nope'"), std::string::npos) << missing.err;
  m.frameworks = {"fw-1", "fw-2"};
  Ran two = run_with(m, {"task", "log", "t-1"});
  EXPECT_EQ(two.code, EXIT_CONFLICT);
  EXPECT_NE(two.err.find("fw-1 and fw-2"), std::string::npos) << two.err;
  Ran chosen = run_with(m, {"task", "log", "t-1", "--framework=fw-1"});
  EXPECT_EQ(chosen.code, 0) << chosen.err;
  // The master reads task_id= as any task: an empty id is refused here.
  for (std::vector<std::string> args : {std::vector<std::string>{"task", "log", ""},
                                        {"task", "kill", ""},
                                        {"task", "log", "t-1", "--framework="}}) {
    Ran empty = run_with(m, args);
    EXPECT_EQ(empty.code, EXIT_USAGE) << args[1] << ": " << empty.err;
  }
  EXPECT_EQ(m.kills, 0);
}

TEST(CliTaskKill, SendsTheKillAndWaitsForATerminalState) {
  FakeMaster m;
  Ran sent = run_with(m, {"task", "kill", "t-1"});
  EXPECT_EQ(sent.code, 0) << sent.err;
  EXPECT_EQ(json(sent.out).get("slave_id").to_str(), "s-1");
  int polls = 0;
  m.on_tasks_poll = [&] {
    if (++polls == 3) {
      m.state = "TASK_KILLED";
    }
  };
  Ran waited = run_with(m, {"task", "kill", "t-1", "--wait"});
  EXPECT_EQ(waited.code, 0) << waited.err;
  EXPECT_EQ(json(waited.out).get("state").to_str(), "TASK_KILLED");
  EXPECT_EQ(polls, 3);
  Ran again = run_with(m, {"task", "kill", "t-1"});
  EXPECT_EQ(again.code, EXIT_CONFLICT) << again.err;
  Ran unknown = run_with(m, {"task", "kill", "t-2"});
  EXPECT_EQ(unknown.code, EXIT_NOT_FOUND) << unknown.err;

  // A kill the task never reacts to: --wait gives up after --timeout.
  m.state = "TASK_RUNNING";
  m.on_tasks_poll = nullptr;
  Ran stuck = run_with(m, {"task", "kill", "t-1", "--wait", "--timeout=300ms"});
  EXPECT_EQ(stuck.code, EXIT_TIMED_OUT) << stuck.err;
  EXPECT_NE(stuck.err.find("still TASK_RUNNING"), std::string::npos) << stuck.err;
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

// stoa-services from memory: what `app` and `deployment` send, recorded.
class FakeServices : public MasterClient {
 public:
  std::vector<std::string> calls;  // "METHOD target body"
  // What GET /v2/deployments answers, one per call; "[]" once used up.
  std::deque<std::string> deployments;
  Result<Reply> call(const std::string& method, const std::string& target, const std::string& body,
                     const std::string&) override {
    calls.push_back(method + " " + target + (body.empty() ? "" : " " + body));
    Reply r;
    r.status = 200;
    if (method == "GET" && target == "/v2/deployments") {
      r.body = deployments.empty() ? "[]" : deployments.front();
      if (!deployments.empty()) {
        deployments.pop_front();
      }
    } else if (method == "GET" && target == "/v2/apps/web") {
      r.body = R"({"app":{"id":"/web","instances":3,"tasksRunning":)" + std::to_string(running) +
               R"(,"tasksHealthy":0,"deployments":[]}})";
    } else if (method == "GET" && target == "/v2/apps") {
      r.body = R"({"apps":[{"id":"/web","cmd":"sleep 1","instances":2,"tasksRunning":1,"tasksHealthy":1,)"
               R"("tasksUnhealthy":0,"cpus":0.5,"mem":64,"deployments":[]},)"
               R"({"id":"/idle","instances":0,"tasksRunning":0,"cpus":1,"mem":32,"deployments":[]}]})";
    } else if (method == "POST" && target == "/v2/apps") {
      picojson::value def = json(body);
      if (string_at(def, "id") == "/Bad") {
        r.status = 422;
        r.body = R"({"message":"Object is not valid","details":[{"path":"/id","errors":["bad id","too loud"]}]})";
      } else {
        r.status = 201;
        r.body = R"({"id":")" + string_at(def, "id") + R"(","deployments":[{"id":"d-1"}]})";
      }
    } else if (method == "PUT" && target.rfind("/v2/apps/web", 0) == 0) {
      r.body = R"({"version":"2026-01-01T00:00:00.000Z","deploymentId":"d-2"})";
    } else if (method == "DELETE" && target == "/v2/deployments/d-3?force=true") {
      r.status = 202;
    } else {
      r.status = 404;
      r.body = R"({"message":"App '/nope' does not exist"})";
    }
    return r;
  }
  std::string base_url() const override { return "http://services:8080"; }
  int running = 1;  // tasksRunning of /web
};

Ran run_services(FakeServices& services, std::vector<std::string> args, bool terminal = true) {
  Result<Invocation> inv = parse_command_line(args, {});
  EXPECT_TRUE(inv) << (inv ? "" : inv.failure().message);
  std::ostringstream out, err;
  Context c;
  c.globals = inv->globals;
  c.services = &services;
  c.out = &out;
  c.err = &err;
  c.out_is_terminal = terminal;
  c.poll_interval = std::chrono::milliseconds(1);
  int code = run(c, *inv);
  return {code, out.str(), err.str()};
}

TEST(CliApps, ServicesAddressFromFlagThenEnvironmentThenDefault) {
  Result<Invocation> inv = parse({"app", "list"});
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->globals.services, "127.0.0.1:8080");
  inv = parse({"app", "list"}, {{"STOA_SERVICES", "10.0.0.2:8080"}});
  ASSERT_TRUE(inv);
  EXPECT_EQ(inv->globals.services, "10.0.0.2:8080");
  inv = parse({"--services", "h:9", "app", "scale", "/web", "3", "--force"}, {{"STOA_SERVICES", "x:1"}});
  ASSERT_TRUE(inv) << inv.failure().message;
  EXPECT_EQ(inv->globals.services, "h:9");
  EXPECT_EQ(inv->args, (std::vector<std::string>{"/web", "3"}));
  EXPECT_TRUE(inv->has("force"));
  EXPECT_EQ(parse({"app", "scale", "/web"}).failure().code, EXIT_USAGE);
  EXPECT_EQ(parse({"--services=", "app", "list"}).failure().code, EXIT_USAGE);
}

TEST(CliApps, ListShowsStatusRunningAndHealthOrJson) {
  FakeServices s;
  Ran r = run_services(s, {"app", "list"});
  EXPECT_EQ(r.code, EXIT_OK) << r.err;
  EXPECT_NE(r.out.find("ID     STATUS     RUNNING"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/web   waiting    1/2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/idle  suspended  0/0"), std::string::npos) << r.out;
  Ran machine = run_services(s, {"app", "list"}, false);
  picojson::value apps = json(machine.out);
  ASSERT_TRUE(apps.is<picojson::array>());
  EXPECT_EQ(apps.get<picojson::array>().size(), 2u);
}

TEST(CliApps, AddSendsTheFileAndListsA422ByPath) {
  FakeServices s;
  std::string file = ::testing::TempDir() + "/cli-app.json";
  std::ofstream(file) << R"({"id": "/web", "cmd": "sleep 1"})";
  Ran ok = run_services(s, {"app", "add", file, "--no-wait"});
  EXPECT_EQ(ok.code, EXIT_OK) << ok.err;
  EXPECT_EQ(ok.out, "Created /web (deployment d-1)\n");
  ASSERT_EQ(s.calls.size(), 1u);
  EXPECT_EQ(s.calls[0], R"(POST /v2/apps {"cmd":"sleep 1","id":"/web"})");
  std::ofstream(file) << R"({"id": "/Bad"})";
  Ran bad = run_services(s, {"app", "add", file});
  EXPECT_EQ(bad.code, EXIT_MASTER_ERROR);
  EXPECT_NE(bad.err.find("stoa-services answered 422"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("\n  /id: bad id; too loud"), std::string::npos) << bad.err;
  std::ofstream(file) << "{not json";
  Ran broken = run_services(s, {"app", "add", file});
  EXPECT_EQ(broken.code, EXIT_USAGE);
  EXPECT_NE(broken.err.find("is not JSON"), std::string::npos) << broken.err;
  EXPECT_EQ(s.calls.size(), 2u) << "nothing is sent for a file that is not JSON";
  EXPECT_EQ(run_services(s, {"app", "add", file + ".missing"}).code, EXIT_USAGE);
}

TEST(CliApps, ScaleRollbackAndCancelSendMarathonsRequests) {
  FakeServices s;
  Ran scaled = run_services(s, {"app", "scale", "web", "3", "--force", "--no-wait"});
  EXPECT_EQ(scaled.code, EXIT_OK) << scaled.err;
  EXPECT_EQ(scaled.out, "Scaling web to 3 (deployment d-2)\n");
  EXPECT_EQ(s.calls.back(), R"(PUT /v2/apps/web?force=true {"instances":3})");
  Ran bad = run_services(s, {"app", "scale", "web", "-1"});
  EXPECT_EQ(bad.code, EXIT_USAGE);
  EXPECT_NE(bad.err.find("instances '-1'"), std::string::npos) << bad.err;
  EXPECT_EQ(run_services(s, {"app", "scale", "web", "2x"}).code, EXIT_USAGE);
  EXPECT_EQ(run_services(s, {"app", "rollback", "/web", "2026-01-01T00:00:00.000Z", "--no-wait"}).code, EXIT_OK);
  EXPECT_EQ(s.calls.back(), R"(PUT /v2/apps/web {"version":"2026-01-01T00:00:00.000Z"})");
  Ran cancelled = run_services(s, {"deployment", "cancel", "d-3", "--force"});
  EXPECT_EQ(cancelled.code, EXIT_OK) << cancelled.err;
  EXPECT_EQ(cancelled.out, "Stopped deployment d-3\n");
  Ran missing = run_services(s, {"app", "show", "/nope"});
  EXPECT_EQ(missing.code, EXIT_NOT_FOUND);
  EXPECT_NE(missing.err.find("App '/nope' does not exist"), std::string::npos) << missing.err;
}

TEST(CliApps, ChangesFollowTheirDeploymentUntilItIsOver) {
  FakeServices s;
  const std::string step1 =
      R"([{"id":"d-2","affectedApps":["/web"],"currentStep":1,"totalSteps":1,)"
      R"("currentActions":[{"action":"ScaleApplication","app":"/web"}]}])";
  s.deployments = {step1, step1, "[]"};
  Ran scaled = run_services(s, {"app", "scale", "web", "3"});
  EXPECT_EQ(scaled.code, EXIT_OK) << scaled.err;
  EXPECT_EQ(scaled.out, "Scaling web to 3 (deployment d-2)\n/web: 1/3 running\n");
  int polls = 0;
  for (const std::string& call : s.calls) {
    polls += call == "GET /v2/deployments" ? 1 : 0;
  }
  EXPECT_EQ(polls, 3) << "asks again until the deployment is gone";
  // --no-wait returns at once.
  s.calls.clear();
  s.deployments = {step1};
  EXPECT_EQ(run_services(s, {"app", "scale", "web", "3", "--no-wait"}).code, EXIT_OK);
  EXPECT_EQ(s.calls.size(), 1u);
  // A failing poll is the command's failure.
  FakeServices broken;
  broken.deployments = {"{\"not\":\"an array\"}"};
  Ran failed = run_services(broken, {"app", "scale", "web", "3"});
  EXPECT_EQ(failed.code, EXIT_MASTER_ERROR);
  EXPECT_NE(failed.err.find("/v2/deployments answered no JSON array"), std::string::npos) << failed.err;
}

TEST(CliApps, DeploymentWatchPrintsEachChangeUntilOver) {
  FakeServices s;
  const std::string step1 =
      R"([{"id":"d-9","affectedApps":["/web"],"currentStep":1,"totalSteps":2,)"
      R"("currentActions":[{"action":"StartApplication","app":"/web"}]}])";
  const std::string step2 =
      R"([{"id":"d-9","affectedApps":["/web"],"currentStep":2,"totalSteps":2,)"
      R"("currentActions":[{"action":"ScaleApplication","app":"/web"}]}])";
  s.deployments = {step1, step1, step1, step2, step2, "[]"};
  Ran watched = run_services(s, {"deployment", "watch", "d-9"});
  EXPECT_EQ(watched.code, EXIT_OK) << watched.err;
  EXPECT_EQ(watched.out,
            "Deployment d-9 step 1/2: StartApplication /web (/web 1/3 running)\n"
            "Deployment d-9 step 2/2: ScaleApplication /web (/web 1/3 running)\n"
            "Deployment d-9 is over.\n");
  // Not running: exit 4. Nothing running and no id: says so.
  EXPECT_EQ(run_services(s, {"deployment", "watch", "d-404"}).code, EXIT_NOT_FOUND);
  Ran none = run_services(s, {"deployment", "watch"});
  EXPECT_EQ(none.code, EXIT_OK);
  EXPECT_EQ(none.out, "No deployment is running.\n");
}

}  // namespace
}  // namespace stoa::cli
