#pragma once
// The chaos harness' checks (docs/chaos.md, issue #16 "The checks"): pure
// functions over the checker framework's record, the masters' leadership
// terms, the masters' final task states and the tokens found in sandboxes.
// Each returns the violations it found, one sentence each naming the task,
// update or master at fault; an empty list means the promise held.

#include <picojson.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/try.hpp"

namespace stoa::chaos {

// One line of the checker's record (tests/chaos/checker_main.cpp).
struct RecordLine {
  int64_t t = 0;  // wall clock, ms since the epoch
  std::string type;
  picojson::object fields;
  std::string str(const std::string& key) const;
  double num(const std::string& key) const;
};

// Parses the record, one JSON object per line. Error names the line number
// and what is wrong; a last line cut short by a kill is skipped.
Try<std::vector<RecordLine>> parse_record(const std::string& text);

// A master's time as leader: from its "Elected as the leading master" log
// line until it exited (or the end of the run).
struct LeaderTerm {
  std::string master_id;  // MasterInfo.id
  int64_t from = 0;       // ms since the epoch
  int64_t to = 0;
};

struct CheckInput {
  int tasks = 0;  // logical tasks the checker was asked to finish
  std::vector<RecordLine> record;
  std::vector<LeaderTerm> terms;
  // How late an update may be received after its master stopped leading
  // (it was sent before, and was in flight).
  int64_t in_flight_slack_ms = 1000;
  // token -> sandbox paths holding it (every "token" file found).
  std::map<std::string, std::vector<std::string>> tokens;
  // The final leader's view of the checker's tasks: task id -> state.
  std::map<std::string, std::string> master_tasks;
};

// Every logical task finished exactly once under some id; every launched
// id has exactly one terminal state (the same one however often it was
// delivered), except that TASK_LOST for a slave marked unreachable
// (REASON_SLAVE_REMOVED) may be followed by the task's real end (Mesos: the
// task may still run; see lost_then_ended()); a relaunch has a new id and
// follows the previous attempt's first terminal state, not TASK_FINISHED.
std::vector<std::string> check_terminal_states(const CheckInput& in);
// Per task: acknowledged updates never go back (STAGING < STARTING < RUNNING
// < terminal), and nothing new follows an acknowledged terminal update.
// The final leader's state for a task agrees with the last acknowledged one.
std::vector<std::string> check_update_order(const CheckInput& in);
// Every update came from a master while it was the leader.
std::vector<std::string> check_update_sources(const CheckInput& in);
// Every finished task's token is in exactly one sandbox; no token is in two;
// no token belongs to a task never launched.
std::vector<std::string> check_tokens(const CheckInput& in);

// The tasks that were TASK_LOST for a slave marked unreachable and then
// reported another end by the slave (allowed; the report counts them).
std::vector<std::string> lost_then_ended(const CheckInput& in);

// All of the above, in that order.
std::vector<std::string> check_all(const CheckInput& in);

// The time from `after` to the first update reporting TASK_RUNNING or
// TASK_FINISHED of a task launched at or after `after`, in ms; nullopt if none.
std::optional<int64_t> next_successful_launch(const std::vector<RecordLine>& record, int64_t after);

// "min 1.2s p50 1.5s p90 2.0s max 2.3s (n=10)" over `ms`; "none" when empty.
std::string distribution(std::vector<int64_t> ms);

}  // namespace stoa::chaos
