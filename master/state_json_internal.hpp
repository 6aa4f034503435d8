#pragma once
// Pieces of the /master/state JSON shared by the tree renderers
// (state_json.cpp) and the streamed writers (state_json_stream.cpp).

#include <map>
#include <string>

#include <picojson.h>

#include "common/resources.hpp"
#include "master/master_state.hpp"

namespace stoa::master {

namespace state_json_detail {
// A task's resources (empty when they do not parse).
Resources task_resources(const Task& t);
// A TaskStatus as Mesos' state JSON shows it.
picojson::value status_json(const TaskStatus& st);
// Labels as [{"key", "value"}].
picojson::value labels_json(const Labels& labels);
// Whether query parameter `key` is absent, empty or equal to `v`.
bool query_matches(const std::map<std::string, std::string>& q, const char* key, const std::string& v);
}  // namespace state_json_detail

// The fields of a framework / of the whole state that are not arrays of
// tasks, frameworks or slaves. `used_by_tasks`, when given, is
// used_resources(f), already summed by the caller.
// `offered`, when given, is offered_resources(s, f), already summed; with
// `with_offers` false the object has no "offers" (the rope writes them).
picojson::object framework_head(const MasterState& s, const FrameworkRecord& f,
                                const Resources* used_by_tasks = nullptr, const Resources* offered = nullptr,
                                bool with_offers = true);
picojson::object state_head(const MasterState& s);

}  // namespace stoa::master
