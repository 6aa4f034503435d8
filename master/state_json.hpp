#pragma once
// Renders the master's state as Mesos-shaped JSON (field names and shapes of
// Mesos' /master/state, /master/state-summary, /master/slaves,
// /master/frameworks and /master/tasks; see docs/http-api.md). Pure
// functions of MasterState: the web UI and tools depend on these shapes,
// which state_json_test.cpp pins.

#include <map>
#include <string>

#include <picojson.h>

#include "master/master_state.hpp"

namespace stoa::master {

picojson::value task_json(const Task& t);
// One entry of a task's "statuses" (the event stream's TASK_UPDATED too).
picojson::value task_status_json(const TaskStatus& status);
picojson::value offer_json(const Offer& o);
// `full`: also the `*_full` arrays of Mesos Resource JSON (/master/slaves).
picojson::value slave_json(const MasterState& s, const SlaveRecord& slave, bool full = false);
picojson::value framework_json(const MasterState& s, const FrameworkRecord& f);

picojson::value state_json(const MasterState& s);
picojson::value state_summary_json(const MasterState& s);
// ?slave_id= filters.
picojson::value slaves_json(const MasterState& s, const std::map<std::string, std::string>& query);
// ?framework_id= filters.
picojson::value frameworks_json(const MasterState& s, const std::map<std::string, std::string>& query);
// The bytes of json_serialize(state_json(s)) and of
// json_serialize(frameworks_json(s, query)), appended to `out` without ever
// holding the whole tree: what the master serves (state_serving.hpp). In a
// render child (current_body_pipe() set, state_json_writer.hpp) the bytes,
// with what `out` held, go to the pipe in parts as they are rendered and
// `out` keeps only the tail.
void write_state(const MasterState& s, std::string* out);
void write_frameworks(const MasterState& s, const std::map<std::string, std::string>& query, std::string* out);

// ?limit=100&offset=0&order=des|asc&framework_id=&task_id=. Returns an Error
// message in `error` for bad parameters (non-numeric limit, bad order).
picojson::value tasks_json(const MasterState& s, const std::map<std::string, std::string>& query,
                           std::string* error);

}  // namespace stoa::master
