// The `stoa` command line end to end: the real binary against a real
// cluster (slaves, tasks, a task's log and --follow, state paths, quota,
// weights, kill) and the exit codes of its failures (docs/cli.md).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "common/json.hpp"
#include "tests/cluster.hpp"
#include "tests/zookeeper_fixture.hpp"

namespace stoa::tests {
namespace {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `stoa args...` to completion (SIGKILLed at the deadline: code -1),
// stdout and stderr captured apart. `env` is added to ours.
CliRun run_stoa(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                Deadline deadline = deadline_in(DEFAULT_TIMEOUT * 2)) {
  static TempDir dir;
  static int runs = 0;
  const std::string out_path = dir.path() + "/out" + std::to_string(++runs);
  const std::string err_path = dir.path() + "/err" + std::to_string(runs);
  std::vector<std::string> argv_s{binary_path("stoa")};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    for (const auto& [k, v] : env) {
      ::setenv(k.c_str(), v.c_str(), 1);
    }
    std::vector<char*> argv;
    for (std::string& a : argv_s) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  CliRun r;
  int status = 0;
  bool done = poll_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, deadline);
  if (!done) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  } else if (WIFEXITED(status)) {
    r.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.code = 128 + WTERMSIG(status);
  }
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  return r;
}

std::string describe(const CliRun& r) {
  return "exit " + std::to_string(r.code) + "\nstdout: " + r.out + "\nstderr: " + r.err;
}

picojson::value parse_out(const CliRun& r) {
  Try<picojson::value> v = json_parse(r.out);
  EXPECT_TRUE(v) << describe(r);
  return v ? *v : picojson::value();
}

// The ids in a JSON array of objects.
std::vector<std::string> ids_of(const picojson::value& list) {
  std::vector<std::string> ids;
  for (const picojson::value& item : json_array(list)) {
    ids.push_back(json_string(json_at(item, "id")));
  }
  return ids;
}

// Starts stoa-execute running `command`; returns it with its task id once
// the task is TASK_RUNNING.
std::pair<Process*, std::string> start_task(Cluster& cluster, const std::string& name, const std::string& command) {
  Try<Process*> execute = cluster.start("stoa-execute", name,
                                        {"--master=" + cluster.master_address(), "--name=" + name,
                                         "--command=" + command, "--resources=cpus:0.1;mem:32"});
  EXPECT_TRUE(execute) << execute.error();
  if (!execute) {
    return {nullptr, ""};
  }
  auto submitted = (*execute)->wait_for_line(std::regex("Submitted task '" + name + "' as (\\S+) to slave"),
                                             deadline_in(DEFAULT_TIMEOUT));
  EXPECT_TRUE(submitted) << (*execute)->log();
  auto running = (*execute)->wait_for_line(std::regex("TASK_RUNNING"), deadline_in(DEFAULT_TIMEOUT));
  EXPECT_TRUE(running) << (*execute)->log();
  return {*execute, submitted ? (*submitted)[1] : ""};
}

TEST(Cli, ListsSlavesAndTasksAndReadsAndFollowsATasksLog) {
  STOA_REQUIRE_BINARIES("stoa", "stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const std::string master = "--master=" + cluster.master_address();

  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();
  const std::string slave_id = json_string(json_at(json_array(json_at(*state, "slaves")).at(0), "id"));
  CliRun slaves = run_stoa({master, "slave", "list"});
  ASSERT_EQ(slaves.code, 0) << describe(slaves);
  EXPECT_EQ(ids_of(parse_out(slaves)), std::vector<std::string>{slave_id}) << slaves.out;
  // STOA_MASTER names the master too.
  CliRun by_env = run_stoa({"slave", "list", "--json"}, {{"STOA_MASTER", cluster.master_address()}});
  ASSERT_EQ(by_env.code, 0) << describe(by_env);
  EXPECT_EQ(ids_of(parse_out(by_env)), std::vector<std::string>{slave_id});

  TempDir gate;
  const std::string go = gate.path() + "/go";
  auto [execute, submitted_id] =
      start_task(cluster, "logs", "echo first-line; while [ ! -e " + go + " ]; do sleep 0.05; done; echo second-line");
  const std::string task_id = submitted_id;
  ASSERT_FALSE(task_id.empty());

  CliRun tasks = run_stoa({master, "task", "list"});
  ASSERT_EQ(tasks.code, 0) << describe(tasks);
  picojson::value listed = parse_out(tasks);
  ASSERT_EQ(ids_of(listed), std::vector<std::string>{task_id}) << tasks.out;
  EXPECT_EQ(json_string(json_at(json_array(listed)[0], "state")), "TASK_RUNNING");
  EXPECT_EQ(json_string(json_at(json_array(listed)[0], "slave_id")), slave_id);
  CliRun running = run_stoa({master, "task", "list", "--state=running"});
  EXPECT_EQ(ids_of(parse_out(running)), std::vector<std::string>{task_id}) << describe(running);
  CliRun finished = run_stoa({master, "task", "list", "--state", "TASK_FINISHED"});
  EXPECT_TRUE(ids_of(parse_out(finished)).empty()) << describe(finished);
  CliRun bad_state = run_stoa({master, "task", "list", "--state=sleepy"});
  EXPECT_EQ(bad_state.code, 2) << describe(bad_state);
  EXPECT_NE(bad_state.err.find("'sleepy'"), std::string::npos) << bad_state.err;
  CliRun other_framework = run_stoa({master, "task", "list", "--framework=no-such-framework"});
  EXPECT_EQ(other_framework.code, 4) << describe(other_framework);

  // The log, through the master's /files.
  CliRun log;
  ASSERT_TRUE(poll_until(
      [&] {
        log = run_stoa({master, "task", "log", task_id});
        return log.code == 0 && log.out == "first-line\n";
      },
      deadline_in(DEFAULT_TIMEOUT)))
      << describe(log);
  CliRun err_log = run_stoa({master, "task", "log", task_id, "--file=stderr"});
  EXPECT_EQ(err_log.code, 0) << describe(err_log);
  CliRun bad_file = run_stoa({master, "task", "log", task_id, "--file=passwd"});
  EXPECT_EQ(bad_file.code, 2) << describe(bad_file);
  EXPECT_NE(bad_file.err.find("'passwd'"), std::string::npos);

  // --follow prints what is appended and ends once the task is terminal.
  Try<Process*> follow = cluster.start("stoa", "follow", {master, "task", "log", task_id, "--follow"});
  ASSERT_TRUE(follow) << follow.error();
  ASSERT_TRUE((*follow)->wait_for_line(std::regex("^first-line$"), deadline_in(DEFAULT_TIMEOUT))) << (*follow)->log();
  std::ofstream(go).put('\n');
  EXPECT_TRUE((*follow)->wait_for_line(std::regex("^second-line$"), deadline_in(DEFAULT_TIMEOUT))) << (*follow)->log();
  std::optional<int> follow_code = (*follow)->wait_exit(deadline_in(DEFAULT_TIMEOUT));
  ASSERT_TRUE(follow_code) << "--follow did not end with the task: " << (*follow)->log();
  EXPECT_EQ(*follow_code, 0) << (*follow)->log();
  EXPECT_EQ((*follow)->log(), "first-line\nsecond-line\n");
  ASSERT_TRUE(execute->wait_exit(deadline_in(DEFAULT_TIMEOUT)));

  CliRun last = run_stoa({master, "task", "log", task_id, "--lines=1"});
  EXPECT_EQ(last.code, 0) << describe(last);
  EXPECT_EQ(last.out, "second-line\n");
  CliRun both = run_stoa({master, "task", "log", task_id, "--lines", "5"});
  EXPECT_EQ(both.out, "first-line\nsecond-line\n") << describe(both);

  CliRun active = run_stoa({master, "task", "list"});
  EXPECT_TRUE(ids_of(parse_out(active)).empty()) << active.out;
  CliRun all = run_stoa({master, "task", "list", "--all"});
  picojson::value all_tasks = parse_out(all);
  ASSERT_EQ(ids_of(all_tasks), std::vector<std::string>{task_id}) << all.out;
  EXPECT_EQ(json_string(json_at(json_array(all_tasks)[0], "state")), "TASK_FINISHED");

  CliRun frameworks = run_stoa({master, "framework", "list", "--all"});
  ASSERT_EQ(frameworks.code, 0) << describe(frameworks);
  EXPECT_EQ(ids_of(parse_out(frameworks)).size(), 1u) << frameworks.out;

  CliRun unknown = run_stoa({master, "task", "log", "no-such-task"});
  EXPECT_EQ(unknown.code, 4) << describe(unknown);
  EXPECT_NE(unknown.err.find("'no-such-task'"), std::string::npos) << unknown.err;
}

TEST(Cli, SelectsStatePathsAndSetsQuotaAndWeights) {
  STOA_REQUIRE_BINARIES("stoa", "stoa-master", "stoa-slave");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const std::string master = "--master=" + cluster.master_address();
  Try<picojson::value> state = cluster.state();
  ASSERT_TRUE(state) << state.error();

  CliRun hostname = run_stoa({master, "state", ".slaves[0].hostname"});
  ASSERT_EQ(hostname.code, 0) << describe(hostname);
  EXPECT_EQ(hostname.out, json_string(json_at(json_array(json_at(*state, "slaves"))[0], "hostname")) + "\n");
  CliRun quoted = run_stoa({master, "--json", "state", ".slaves[0].hostname"});
  EXPECT_EQ(quoted.out, "\"" + json_string(json_at(json_array(json_at(*state, "slaves"))[0], "hostname")) + "\"\n");
  CliRun id = run_stoa({master, "state", ".id"});
  EXPECT_EQ(id.out, json_string(json_at(*state, "id")) + "\n");
  CliRun none = run_stoa({master, "state", ".frameworks[].name"});
  EXPECT_EQ(none.code, 0) << describe(none);
  EXPECT_EQ(none.out, "");
  CliRun whole = run_stoa({master, "state"});
  ASSERT_EQ(whole.code, 0);
  EXPECT_EQ(json_string(json_at(parse_out(whole), "id")), json_string(json_at(*state, "id")));
  CliRun missing = run_stoa({master, "state", ".slaves[3]"});
  EXPECT_EQ(missing.code, 4) << describe(missing);
  EXPECT_NE(missing.err.find("no element [3] at .slaves"), std::string::npos) << missing.err;
  CliRun malformed = run_stoa({master, "state", ".slaves[x]"});
  EXPECT_EQ(malformed.code, 2) << describe(malformed);
  EXPECT_NE(malformed.err.find("'.slaves[x]'"), std::string::npos) << malformed.err;

  // Quota.
  CliRun set = run_stoa({master, "quota", "set", "web", "cpus:1;mem:100"});
  ASSERT_EQ(set.code, 0) << describe(set);
  CliRun get = run_stoa({master, "quota", "get", "web"});
  ASSERT_EQ(get.code, 0) << describe(get);
  picojson::value web = parse_out(get);
  EXPECT_EQ(json_string(json_at(web, "role")), "web");
  EXPECT_EQ(json_number(json_at(json_at(web, "guarantee"), "cpus")), 1);
  EXPECT_EQ(json_number(json_at(json_at(web, "guarantee"), "mem")), 100);
  CliRun all = run_stoa({master, "quota", "get"});
  EXPECT_EQ(json_array(json_at(parse_out(all), "infos")).size(), 1u) << all.out;
  CliRun bad = run_stoa({master, "quota", "set", "web", "cpus:lots"});
  EXPECT_EQ(bad.code, 2) << describe(bad);
  EXPECT_NE(bad.err.find("'cpus:lots'"), std::string::npos) << bad.err;
  CliRun too_much = run_stoa({master, "quota", "set", "web", "cpus:1000"});
  EXPECT_EQ(too_much.code, 1) << describe(too_much);
  EXPECT_NE(too_much.err.find("400"), std::string::npos) << too_much.err;
  CliRun still = run_stoa({master, "quota", "get", "web"});
  EXPECT_EQ(json_number(json_at(json_at(parse_out(still), "guarantee"), "cpus")), 1) << "a refused quota changed it";
  CliRun removed = run_stoa({master, "quota", "remove", "web"});
  EXPECT_EQ(removed.code, 0) << describe(removed);
  CliRun gone = run_stoa({master, "quota", "get", "web"});
  EXPECT_EQ(gone.code, 4) << describe(gone);
  CliRun again = run_stoa({master, "quota", "remove", "web"});
  EXPECT_EQ(again.code, 4) << describe(again);

  // Weights.
  CliRun weights = run_stoa({master, "weights", "set", "web=2", "batch=0.5"});
  ASSERT_EQ(weights.code, 0) << describe(weights);
  CliRun shown = run_stoa({master, "weights", "get"});
  ASSERT_EQ(shown.code, 0) << describe(shown);
  std::map<std::string, double> by_role;
  const picojson::value shown_weights = parse_out(shown);
  for (const picojson::value& w : json_array(shown_weights)) {
    by_role[json_string(json_at(w, "role"))] = json_number(json_at(w, "weight"));
  }
  EXPECT_EQ(by_role["web"], 2);
  EXPECT_EQ(by_role["batch"], 0.5);
  CliRun zero = run_stoa({master, "weights", "set", "web=0"});
  EXPECT_EQ(zero.code, 2) << describe(zero);
  EXPECT_NE(zero.err.find("'0'"), std::string::npos) << zero.err;
}

TEST(Cli, KillsATaskThroughTheMaster) {
  STOA_REQUIRE_BINARIES("stoa", "stoa-master", "stoa-slave", "stoa-executor", "stoa-execute");
  Cluster cluster;
  Try<bool> started = cluster.start_with_slaves(1);
  ASSERT_TRUE(started) << started.error();
  const std::string master = "--master=" + cluster.master_address();
  Try<HttpResponse> probe = http_raw("127.0.0.1", cluster.master_port(),
                                     "POST /master/kill HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                     "Connection: close\r\n\r\n");
  ASSERT_TRUE(probe) << probe.error();
  if (probe->status == 404 && probe->body.find("no route") != std::string::npos) {
    GTEST_SKIP() << "this master has no POST /master/kill yet (issue #12, part A)";
  }
  auto [execute, task_id] = start_task(cluster, "victim", "sleep 60");
  ASSERT_FALSE(task_id.empty());
  CliRun unknown = run_stoa({master, "task", "kill", "no-such-task"});
  EXPECT_EQ(unknown.code, 4) << describe(unknown);
  CliRun kill = run_stoa({master, "task", "kill", task_id, "--wait"});
  ASSERT_EQ(kill.code, 0) << describe(kill);
  picojson::value answer = parse_out(kill);
  EXPECT_EQ(json_string(json_at(answer, "task_id")), task_id);
  EXPECT_EQ(json_string(json_at(answer, "state")), "TASK_KILLED");
  CliRun again = run_stoa({master, "task", "kill", task_id});
  EXPECT_EQ(again.code, 5) << describe(again);
  EXPECT_TRUE(execute->wait_exit(deadline_in(DEFAULT_TIMEOUT)));
}

TEST(Cli, FindsTheLeaderInZooKeeperAndFollowsARedirect) {
  STOA_REQUIRE_BINARIES("stoa", "stoa-master");
  STOA_REQUIRE_ZOOKEEPER();
  Try<ZooKeeperServer*> zk = shared_zookeeper_server();
  ASSERT_TRUE(zk) << zk.error();
  Cluster cluster;
  const std::string zk_url = "zk://" + (*zk)->connect_string() + "/stoa-" + unique_marker();
  std::vector<int> ports;
  for (int i = 0; i < 2; ++i) {
    const std::string label = "zk-master" + std::to_string(i);
    Try<Process*> m = cluster.start("stoa-master", label,
                                    {"--ip=127.0.0.1", "--port=0", "--work_dir=" + cluster.dir() + "/" + label,
                                     "--zk=" + zk_url, "--no-hostname_lookup"});
    ASSERT_TRUE(m) << m.error();
    auto listening = (*m)->wait_for_line(listening_line(), deadline_in(DEFAULT_TIMEOUT));
    ASSERT_TRUE(listening) << (*m)->log();
    ports.push_back(std::stoi((*listening)[1]));
  }
  // The leader is the one master whose /master/state names itself.
  std::string leader_pid;
  int follower_port = 0;
  ASSERT_TRUE(poll_until(
      [&] {
        for (size_t i = 0; i < ports.size(); ++i) {
          Try<HttpResponse> r = http_get("127.0.0.1", ports[i], "/master/state");
          if (r && r->status == 200) {
            Try<picojson::value> st = json_parse(r->body);
            if (st && json_string(json_at(*st, "pid")) == json_string(json_at(json_at(*st, "leader_info"), "pid"))) {
              leader_pid = json_string(json_at(*st, "pid"));
              follower_port = ports[1 - i];
              Try<HttpResponse> f = http_get("127.0.0.1", follower_port, "/master/state");
              return f && f->status == 307;
            }
          }
        }
        return false;
      },
      deadline_in(DEFAULT_TIMEOUT * 2)))
      << "no leader elected with a redirecting follower";

  CliRun detected = run_stoa({"--master=" + zk_url, "state", ".pid"});
  EXPECT_EQ(detected.code, 0) << describe(detected);
  EXPECT_EQ(detected.out, leader_pid + "\n");
  CliRun redirected = run_stoa({"--master=127.0.0.1:" + std::to_string(follower_port), "state", ".pid"});
  EXPECT_EQ(redirected.code, 0) << describe(redirected);
  EXPECT_EQ(redirected.out, leader_pid + "\n");
  CliRun nobody = run_stoa({"--master=zk://" + (*zk)->connect_string() + "/stoa-nobody-" + unique_marker(),
                            "--timeout=1secs", "slave", "list"});
  EXPECT_EQ(nobody.code, 3) << describe(nobody);
  EXPECT_NE(nobody.err.find("no leading master"), std::string::npos) << nobody.err;
}

TEST(Cli, FailuresHaveTheirExitCodes) {
  STOA_REQUIRE_BINARIES("stoa");
  const int port = free_loopback_port();
  CliRun unreachable = run_stoa({"--master=127.0.0.1:" + std::to_string(port), "slave", "list"});
  EXPECT_EQ(unreachable.code, 3) << describe(unreachable);
  EXPECT_NE(unreachable.err.find("http://127.0.0.1:" + std::to_string(port) + "/master/slaves"), std::string::npos)
      << unreachable.err;
  EXPECT_EQ(unreachable.out, "");

  CliRun bad_flag = run_stoa({"slave", "list", "--bogus"});
  EXPECT_EQ(bad_flag.code, 2) << describe(bad_flag);
  EXPECT_NE(bad_flag.err.find("--bogus"), std::string::npos) << bad_flag.err;
  CliRun bad_master = run_stoa({"--master=nowhere", "slave", "list"});
  EXPECT_EQ(bad_master.code, 2) << describe(bad_master);
  EXPECT_NE(bad_master.err.find("'nowhere'"), std::string::npos) << bad_master.err;
  CliRun bad_command = run_stoa({"frobnicate"});
  EXPECT_EQ(bad_command.code, 2) << describe(bad_command);

  CliRun bare = run_stoa({});
  EXPECT_EQ(bare.code, 2) << describe(bare);
  EXPECT_NE(bare.err.find("Usage: stoa"), std::string::npos) << bare.err;
  CliRun help = run_stoa({"help"});
  EXPECT_EQ(help.code, 0) << describe(help);
  EXPECT_NE(help.out.find("task log"), std::string::npos);
  CliRun command_help = run_stoa({"task", "log", "--help"});
  EXPECT_EQ(command_help.code, 0) << describe(command_help);
  EXPECT_NE(command_help.out.find("--follow"), std::string::npos) << command_help.out;
}

}  // namespace
}  // namespace stoa::tests
