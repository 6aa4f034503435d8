// The chaos harness' schedule and checks, on hand-made inputs: each check
// must find the violation it exists for (a checker that passes everything
// proves nothing).

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/chaos/chaos_checks.hpp"
#include "tests/chaos/chaos_cluster.hpp"
#include "tests/chaos/chaos_schedule.hpp"

namespace stoa::chaos {
namespace {

ScheduleOptions full_run(uint64_t seed) {
  ScheduleOptions o;
  o.seed = seed;
  o.counts = {10, 10, 5, 2, 2};
  o.window = std::chrono::seconds(150);
  return o;
}

TEST(ChaosSchedule, TheSameSeedGivesTheSameScheduleAndAnotherSeedAnother) {
  EXPECT_EQ(describe_schedule(build_schedule(full_run(7))),
            describe_schedule(build_schedule(full_run(7))));
  EXPECT_NE(describe_schedule(build_schedule(full_run(7))),
            describe_schedule(build_schedule(full_run(8))));
}

TEST(ChaosSchedule, HoldsEveryFaultAskedForSortedAndNeverTwoOfAClassAtOnce) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    ScheduleOptions o = full_run(seed);
    std::vector<Fault> s = build_schedule(o);
    ASSERT_EQ(s.size(), 29u);
    EXPECT_EQ(
        std::count_if(s.begin(), s.end(),
                      [](const Fault& f) { return f.kind == FaultKind::kill_leading_master; }),
        10);
    EXPECT_EQ(std::count_if(s.begin(), s.end(),
                            [](const Fault& f) { return f.kind == FaultKind::partition_slave; }),
              5);
    for (size_t i = 0; i < s.size(); ++i) {
      if (i > 0) {
        EXPECT_LE(s[i - 1].at, s[i].at);
      }
      EXPECT_GE(s[i].target, 0);
      EXPECT_LT(s[i].target, s[i].kind == FaultKind::restart_zookeeper ? 3 : 4);
      if (s[i].kind == FaultKind::partition_slave) {
        EXPECT_GE(s[i].down, o.partition_down);
      }
      for (size_t j = i + 1; j < s.size(); ++j) {
        int a = fault_class(s[i].kind);
        int b = fault_class(s[j].kind);
        bool conflict = a == b || (a == 0 && b == 2) || (a == 2 && b == 0);
        if (conflict) {
          EXPECT_GE(s[j].at, s[i].at + s[i].down + o.settle) << "seed " << seed << ":\n"
                                                             << describe_schedule(s);
        }
      }
    }
  }
}

RecordLine rl(int64_t t, const std::string& type, picojson::object fields) {
  RecordLine r;
  r.t = t;
  r.type = type;
  r.fields = std::move(fields);
  return r;
}

RecordLine launch(int64_t t, const std::string& id, int logical, int attempt) {
  return rl(t, "launch",
            {{"task", picojson::value(id)},
             {"logical", picojson::value(static_cast<double>(logical))},
             {"attempt", picojson::value(static_cast<double>(attempt))},
             {"token", picojson::value("tok-" + id)}});
}

RecordLine update(int64_t t, const std::string& id, const std::string& state,
                  const std::string& uuid, const std::string& master = "M1") {
  return rl(t, "update",
            {{"task", picojson::value(id)},
             {"state", picojson::value(state)},
             {"uuid", picojson::value(uuid)},
             {"master_id", picojson::value(master)}});
}

RecordLine ack(int64_t t, const std::string& id, const std::string& uuid) {
  return rl(t, "ack", {{"task", picojson::value(id)}, {"uuid", picojson::value(uuid)}});
}

// Two logical tasks: chaos-0-0 finishes; chaos-1-0 is lost and chaos-1-1 finishes.
CheckInput good_run() {
  CheckInput in;
  in.tasks = 2;
  in.record = {launch(100, "chaos-0-0", 0, 0),
               update(110, "chaos-0-0", "TASK_RUNNING", "a1"),
               ack(111, "chaos-0-0", "a1"),
               update(120, "chaos-0-0", "TASK_FINISHED", "a2"),
               ack(121, "chaos-0-0", "a2"),
               update(125, "chaos-0-0", "TASK_FINISHED", "a2"),
               ack(126, "chaos-0-0", "a2"),
               launch(130, "chaos-1-0", 1, 0),
               update(140, "chaos-1-0", "TASK_LOST", ""),
               launch(150, "chaos-1-1", 1, 1),
               update(160, "chaos-1-1", "TASK_RUNNING", "b1", "M2"),
               ack(161, "chaos-1-1", "b1"),
               update(170, "chaos-1-1", "TASK_FINISHED", "b2", "M2"),
               ack(171, "chaos-1-1", "b2")};
  in.terms = {{"M1", 50, 145}, {"M2", 145, 1000}};
  in.tokens = {{"tok-chaos-0-0", {"/s0/token"}}, {"tok-chaos-1-1", {"/s1/token"}}};
  in.master_tasks = {{"chaos-0-0", "TASK_FINISHED"}, {"chaos-1-1", "TASK_FINISHED"}};
  return in;
}

TEST(ChaosChecks, AGoodRunPasses) {
  std::vector<std::string> v = check_all(good_run());
  EXPECT_TRUE(v.empty()) << v.front();
}

TEST(ChaosChecks, FindsATaskWithoutTerminalStateOrWithTwo) {
  CheckInput in = good_run();
  in.record.push_back(update(180, "chaos-1-0", "TASK_FINISHED", "c1", "M2"));
  in.record.push_back(ack(181, "chaos-1-0", "c1"));
  std::vector<std::string> v = check_terminal_states(in);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("task chaos-1-0 reached 2 terminal states"), std::string::npos) << v[0];
  // A second attempt that finished first, besides the first one.
  in = good_run();
  in.record[8] = update(140, "chaos-1-0", "TASK_FINISHED", "c0");
  v = check_terminal_states(in);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NE(v[0].find("logical task 1 finished 2 times"), std::string::npos) << v[0];
  EXPECT_NE(v[1].find("chaos-1-1 was relaunched although chaos-1-0 had finished"),
            std::string::npos)
      << v[1];

  in = good_run();
  in.record.resize(3);  // chaos-0-0 only RUNNING
  in.tasks = 1;
  v = check_terminal_states(in);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NE(v[0].find("chaos-0-0 (launched at 100) never reached a terminal state"),
            std::string::npos)
      << v[0];
  EXPECT_NE(v[1].find("logical task 0 never finished"), std::string::npos) << v[1];
}

TEST(ChaosChecks, ALostTaskOfAnUnreachableSlaveMayStillEndOnceMore) {
  CheckInput in = good_run();
  // chaos-1-0 was LOST because its slave was marked unreachable; it ran on.
  in.record[8].fields["reason"] = picojson::value("REASON_SLAVE_REMOVED");
  in.record.push_back(update(180, "chaos-1-0", "TASK_FINISHED", "c1", "M2"));
  in.record.push_back(ack(181, "chaos-1-0", "c1"));
  in.tokens["tok-chaos-1-0"] = {"/s9/token"};
  in.master_tasks["chaos-1-0"] = "TASK_LOST";
  std::vector<std::string> v = check_all(in);
  EXPECT_TRUE(v.empty()) << v.front();
  EXPECT_EQ(lost_then_ended(in), std::vector<std::string>{"chaos-1-0"});
  // Not a third end, and not for a LOST of another reason.
  in.record.push_back(update(190, "chaos-1-0", "TASK_FAILED", "c2", "M2"));
  in.record.push_back(ack(191, "chaos-1-0", "c2"));
  EXPECT_EQ(check_terminal_states(in).size(), 1u);
  in = good_run();
  in.record[8].fields["reason"] = picojson::value("REASON_RECONCILIATION");
  in.record.push_back(update(180, "chaos-1-0", "TASK_FINISHED", "c1", "M2"));
  in.record.push_back(ack(181, "chaos-1-0", "c1"));
  v = check_terminal_states(in);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("task chaos-1-0 reached 2 terminal states"), std::string::npos) << v[0];
}

TEST(ChaosChecks, FindsARelaunchUnderTheSameIdOrBeforeTheEnd) {
  CheckInput in = good_run();
  in.record.push_back(launch(200, "chaos-0-0", 0, 1));
  std::vector<std::string> v = check_terminal_states(in);
  ASSERT_FALSE(v.empty());
  EXPECT_NE(v[0].find("chaos-0-0 was launched twice"), std::string::npos) << v[0];

  in = good_run();
  in.record[9].t = 135;  // chaos-1-1 launched before chaos-1-0 was lost
  v = check_terminal_states(in);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("relaunched at 135 before chaos-1-0 reached a terminal state"),
            std::string::npos)
      << v[0];
}

TEST(ChaosChecks, FindsReorderedUnacknowledgedAndLateUpdatesAndAMasterThatDisagrees) {
  CheckInput in = good_run();
  in.record.push_back(update(180, "chaos-1-1", "TASK_RUNNING", "b3", "M2"));
  in.record.push_back(ack(181, "chaos-1-1", "b3"));
  std::vector<std::string> v = check_update_order(in);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("came after its acknowledged terminal update"), std::string::npos) << v[0];

  in = good_run();
  in.record.insert(in.record.begin() + 3, update(115, "chaos-0-0", "TASK_STAGING", "a0"));
  v = check_update_order(in);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NE(v[0].find("never acknowledged"), std::string::npos) << v[0];
  EXPECT_NE(v[1].find("came after TASK_RUNNING (reordered)"), std::string::npos) << v[1];

  in = good_run();
  in.master_tasks["chaos-1-1"] = "TASK_RUNNING";
  v = check_update_order(in);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_NE(v[0].find("the leader has task chaos-1-1 as TASK_RUNNING but TASK_FINISHED"),
            std::string::npos)
      << v[0];
}

TEST(ChaosChecks, FindsAnUpdateFromAMasterThatWasNotLeading) {
  CheckInput in = good_run();
  in.in_flight_slack_ms = 5;
  in.record.push_back(update(300, "chaos-0-0", "TASK_FINISHED", "a2", "M1"));  // M1 deposed at 145
  in.record.push_back(update(300, "chaos-0-0", "TASK_FINISHED", "a2", "M9"));
  std::vector<std::string> v = check_update_sources(in);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NE(v[0].find("from master M1 while it was not the leader"), std::string::npos) << v[0];
  EXPECT_NE(v[1].find("from master M9, which never led"), std::string::npos) << v[1];
  // Overlapping terms: the earlier ends when the later begins.
  in = good_run();
  in.in_flight_slack_ms = 5;
  in.terms = {{"M1", 50, 1000}, {"M2", 145, 1000}};
  in.record.push_back(update(300, "chaos-0-0", "TASK_FINISHED", "a2", "M1"));
  EXPECT_EQ(check_update_sources(in).size(), 1u);
}

TEST(ChaosChecks, FindsMissingDuplicatedAndForeignTokens) {
  CheckInput in = good_run();
  in.tokens.erase("tok-chaos-0-0");
  in.tokens["tok-chaos-1-1"].push_back("/s2/token");
  in.tokens["tok-nobody"] = {"/s3/token"};
  std::vector<std::string> v = check_tokens(in);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_NE(v[0].find("is in 2 sandboxes"), std::string::npos) << v[0];
  EXPECT_NE(v[1].find("'tok-nobody' in /s3/token belongs to no launched task"), std::string::npos)
      << v[1];
  EXPECT_NE(v[2].find("chaos-0-0 finished but its token is in no sandbox"), std::string::npos)
      << v[2];
}

TEST(ChaosChecks, ParsesARecordAndSkipsOnlyALastLineCutShort) {
  Try<std::vector<RecordLine>> r = parse_record(
      "{\"t\":1,\"type\":\"launch\",\"task\":\"x\"}\n{\"t\":2,\"type\":\"ack\"}\n{\"t\":3,\"ty");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].str("task"), "x");
  EXPECT_EQ((*r)[1].t, 2);
  Try<std::vector<RecordLine>> bad = parse_record("{\"t\":1,\"ty\n{\"t\":2,\"type\":\"ack\"}\n");
  ASSERT_TRUE(bad.is_error());
  EXPECT_NE(bad.error().find("record line 1"), std::string::npos) << bad.error();
  EXPECT_TRUE(parse_record("{\"type\":\"ack\"}\n").is_error());
}

TEST(ChaosChecks, AvailabilityIsTheNextLaunchThatRunsAndADistribution) {
  CheckInput in = good_run();
  EXPECT_EQ(next_successful_launch(in.record, 145),
            std::optional<int64_t>(15));  // chaos-1-1 RUNNING at 160
  EXPECT_EQ(next_successful_launch(in.record, 500), std::nullopt);
  EXPECT_EQ(distribution({}), "none");
  EXPECT_EQ(distribution({3000, 1000, 2000, 4000}),
            "min 1.00s p50 3.00s p90 4.00s max 4.00s (n=4)");
}

TEST(ChaosCluster, ReadsTheTimeOfAGlogLine) {
  std::optional<int64_t> a = log_line_time("I1201 19:28:05.123456 4242 master.cpp:12] Elected");
  std::optional<int64_t> b =
      log_line_time("E1201 19:28:06.623456 4242 master.cpp:12] Lost leadership");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*b - *a, 1500);
  EXPECT_FALSE(log_line_time("no prefix here"));
}

}  // namespace
}  // namespace stoa::chaos
