#include "master/state_json.hpp"
#include "master/state_json_internal.hpp"

#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>

#include <algorithm>
#include <functional>
#include <unordered_map>

#include "common/attributes.hpp"
#include "common/container_json.hpp"
#include "common/json.hpp"
#include "common/json_writer.hpp"
#include "common/task_state.hpp"
#include "common/version.hpp"

namespace stoa::master {

namespace {

using picojson::array;
using picojson::object;
using picojson::value;

value num(double d) { return value(d); }
value str(const std::string& s) { return value(s); }

}  // namespace

namespace state_json_detail {

Resources task_resources(const Task& t) {
  Try<Resources> r = Resources::from_proto(t.resources());
  return r.is_some() ? *r : Resources();
}

value status_json(const TaskStatus& st) {
  object o;
  o["state"] = str(TaskState_Name(st.state()));
  o["timestamp"] = num(st.timestamp());
  if (st.has_reason()) {
    o["reason"] = str(TaskStatus::Reason_Name(st.reason()));
  }
  if (st.has_message() && !st.message().empty()) {
    o["message"] = str(st.message());
  }
  if (st.has_source()) {
    o["source"] = str(TaskStatus::Source_Name(st.source()));
  }
  if (st.has_healthy()) {
    o["healthy"] = value(st.healthy());
  }
  if (st.has_container_status() || st.has_container_id()) {
    ContainerStatus cs = st.container_status();
    if (!cs.has_container_id() && st.has_container_id()) {
      *cs.mutable_container_id() = st.container_id();
    }
    o["container_status"] = container_status_json(cs);
  }
  return value(o);
}

value labels_json(const Labels& labels) {
  array a;
  for (const Label& l : labels.labels()) {
    object o;
    o["key"] = str(l.key());
    if (l.has_value()) {
      o["value"] = str(l.value());
    }
    a.emplace_back(o);
  }
  return value(a);
}

bool query_matches(const std::map<std::string, std::string>& q, const char* key,
                   const std::string& v) {
  auto it = q.find(key);
  return it == q.end() || it->second.empty() || it->second == v;
}

}  // namespace state_json_detail

namespace {

using state_json_detail::labels_json;
using state_json_detail::query_matches;
using state_json_detail::status_json;
using state_json_detail::task_resources;


double first_timestamp(const Task& t) {
  return t.statuses_size() > 0 ? t.statuses(0).timestamp() : 0.0;
}



template <class Pred>
object counters_by_state(const std::vector<const Task*>& tasks, Pred) {
  static const TaskState states[] = {TASK_STAGING, TASK_STARTING, TASK_RUNNING, TASK_KILLING,
                                     TASK_FINISHED, TASK_KILLED,  TASK_FAILED,  TASK_LOST,
                                     TASK_ERROR,   TASK_UNREACHABLE};
  object o;
  for (TaskState st : states) {
    double n = 0;
    for (const Task* t : tasks) {
      if (t->state() == st) {
        ++n;
      }
    }
    o[TaskState_Name(st)] = num(n);
  }
  return o;
}


}  // namespace

Resources used_resources(const FrameworkRecord& f) {
  Resources r;
  for (const auto& [id, t] : f.tasks) {
    if (!is_terminal_state(t.state())) {
      r += task_resources(t);
    }
  }
  return r;
}

Resources offered_resources(const MasterState& s, const FrameworkRecord& f) {
  Resources r;
  for (const std::string& oid : f.offers) {
    auto it = s.offers.find(oid);
    if (it != s.offers.end()) {
      r += it->second.resources;
    }
  }
  return r;
}

Resources used_resources(const MasterState& s, const SlaveRecord& slave) {
  Resources r;
  for_each_live_task(s, slave, [&](const Task& t) { r += task_resources(t); });
  return r;
}

Resources used_scalars(const MasterState& s, const SlaveRecord& slave) {
  std::map<std::string, int64_t> units;
  for_each_live_task(s, slave, [&](const Task& t) {
    // As Resources::from_proto: a task with an invalid scalar counts nothing.
    for (const Resource& r : t.resources()) {
      if (r.type() == Value::SCALAR && (!r.has_scalar() || !std::isfinite(r.scalar().value()) ||
                                        r.scalar().value() < 0 || r.name().empty())) {
        return;
      }
    }
    for (const Resource& r : t.resources()) {
      if (r.type() == Value::SCALAR) {
        units[r.name()] += scalar_to_fixed(r.scalar().value());
      }
    }
  });
  Resources out;
  for (const auto& [name, n] : units) {
    out += Resources::scalar_resource(name, fixed_to_scalar(n));
  }
  return out;
}

Resources offered_resources(const MasterState& s, const SlaveRecord& slave) {
  Resources r;
  for (const std::string& oid : slave.offers) {
    auto it = s.offers.find(oid);
    if (it != s.offers.end()) {
      r += it->second.resources;
    }
  }
  return r;
}

value task_json(const Task& t) {
  object o;
  o["id"] = str(t.task_id().value());
  o["name"] = str(t.name());
  o["framework_id"] = str(t.framework_id().value());
  o["executor_id"] = str(t.has_executor_id() ? t.executor_id().value() : "");
  o["slave_id"] = str(t.slave_id().value());
  o["state"] = str(TaskState_Name(t.state()));
  o["resources"] = resources_to_json(task_resources(t));
  o["role"] = str(t.has_role() ? t.role() : "*");
  array statuses;
  for (const TaskStatus& st : t.statuses()) {
    statuses.push_back(status_json(st));
  }
  o["statuses"] = value(statuses);
  if (t.has_user()) {
    o["user"] = str(t.user());
  }
  if (t.has_labels()) {
    o["labels"] = labels_json(t.labels());
  }
  if (t.has_container()) {
    o["container"] = container_info_json(t.container());
  }
  return value(o);
}

value offer_json(const Offer& offer) {
  object o;
  o["id"] = str(offer.id().value());
  o["framework_id"] = str(offer.framework_id().value());
  o["allocation_info"] = value(object{{"role", str(offer.allocation_info().role())}});
  o["slave_id"] = str(offer.slave_id().value());
  Try<Resources> r = Resources::from_proto(offer.resources());
  o["resources"] = resources_to_json(r.is_some() ? *r : Resources());
  return value(o);
}

namespace {

// One Resource in Mesos' JSON (the protobuf's field names):
// {"name":"cpus","type":"SCALAR","scalar":{"value":4},"role":"*"}.
value resource_full_json(const Resource& r) {
  object o;
  o["name"] = str(r.name());
  o["type"] = str(Value::Type_Name(r.type()));
  if (r.has_scalar()) {
    o["scalar"] = value(object{{"value", num(r.scalar().value())}});
  }
  if (r.has_ranges()) {
    array ranges;
    for (const Value::Range& x : r.ranges().range()) {
      ranges.emplace_back(object{{"begin", num(static_cast<double>(x.begin()))},
                                 {"end", num(static_cast<double>(x.end()))}});
    }
    o["ranges"] = value(object{{"range", value(ranges)}});
  }
  if (r.has_set()) {
    array items;
    for (const std::string& item : r.set().item()) {
      items.push_back(str(item));
    }
    o["set"] = value(object{{"item", value(items)}});
  }
  o["role"] = str(r.role());
  if (r.has_allocation_info()) {
    o["allocation_info"] = value(object{{"role", str(r.allocation_info().role())}});
  }
  return value(o);
}

value resources_full_json(const Resources& r) {
  google::protobuf::RepeatedPtrField<Resource> protos;
  r.to_proto(&protos);
  array a;
  for (const Resource& x : protos) {
    a.push_back(resource_full_json(x));
  }
  return value(a);
}

// {"<role>": [Resource JSON...]} for every reserved role.
value reserved_resources_full_json(const Resources& r) {
  object o;
  for (const std::string& role : r.roles()) {
    if (role != "*") {
      o[role] = resources_full_json(r.reserved(role));
    }
  }
  return value(o);
}

}  // namespace

value slave_json(const MasterState& s, const SlaveRecord& slave, bool full) {
  object o;
  o["id"] = str(slave.id);
  o["hostname"] = str(slave.info.hostname());
  o["port"] = num(slave.info.port());
  o["attributes"] = attributes_to_json(slave.info.attributes());
  o["pid"] = str(slave.pid);
  o["registered_time"] = num(slave.registered_time);
  if (slave.reregistered_time > 0) {
    o["reregistered_time"] = num(slave.reregistered_time);
  }
  Resources used = used_resources(s, slave);
  o["resources"] = resources_to_json(slave.total);
  o["used_resources"] = resources_to_json(used);
  o["offered_resources"] = resources_to_json(offered_resources(s, slave));
  o["reserved_resources"] = reserved_resources_to_json(slave.total);
  o["unreserved_resources"] = resources_to_json(slave.total.unreserved());
  // What tasks hold, split as Mesos' tools read it.
  o["reserved_resources_allocated"] = reserved_resources_to_json(used);
  o["unreserved_resources_allocated"] = resources_to_json(used.unreserved());
  if (full) {
    o["resources_full"] = resources_full_json(slave.total);
    o["used_resources_full"] = resources_full_json(used);
    o["offered_resources_full"] = resources_full_json(offered_resources(s, slave));
    o["reserved_resources_full"] = reserved_resources_full_json(slave.total);
    o["unreserved_resources_full"] = resources_full_json(slave.total.unreserved());
  }
  o["active"] = value(slave.active);
  o["deactivated"] = value(!slave.active);
  o["version"] = str(STOA_VERSION);
  o["capabilities"] = value(array{str("MULTI_ROLE")});
  return value(o);
}

// A slave of the registry that has not re-registered since the failover:
// its SlaveInfo (Mesos' `recovered_slaves`).
value recovered_slaves_json(const MasterState& s, const std::map<std::string, std::string>& query) {
  array out;
  for (const auto& [id, recovered] : s.recovered_slaves) {
    if (!query_matches(query, "slave_id", id)) {
      continue;
    }
    const SlaveInfo info = recovered.info();
    object o;
    o["id"] = str(id);
    o["hostname"] = str(info.hostname());
    o["port"] = num(info.port());
    o["attributes"] = attributes_to_json(info.attributes());
    Try<Resources> r = Resources::from_proto(info.resources());
    o["resources"] = resources_to_json(r.is_some() ? *r : Resources{});
    out.push_back(value(o));
  }
  return value(out);
}

// A framework's fields except its three task arrays, which
// framework_json() adds and write_framework() streams.
object framework_head(const MasterState& s, const FrameworkRecord& f, const Resources* used_by_tasks,
                      const Resources* offered_by_offers, bool with_offers) {
  object o;
  o["id"] = str(f.id);
  o["name"] = str(f.info.name());
  if (!f.pid.empty()) {
    o["pid"] = str(f.pid);
  }
  Resources used = used_by_tasks != nullptr ? *used_by_tasks : used_resources(f);
  Resources offered = offered_by_offers != nullptr ? *offered_by_offers : offered_resources(s, f);
  o["used_resources"] = resources_to_json(used);
  o["offered_resources"] = resources_to_json(offered);
  array caps;
  for (const auto& c : f.info.capabilities()) {
    caps.push_back(str(FrameworkInfo_Capability_Type_Name(c.type())));
  }
  o["capabilities"] = value(caps);
  o["hostname"] = str(f.info.hostname());
  o["webui_url"] = str(f.info.webui_url());
  o["active"] = value(f.active);
  o["connected"] = value(f.connected);
  o["recovered"] = value(f.recovered);
  o["user"] = str(f.info.user());
  o["failover_timeout"] = num(f.info.failover_timeout());
  o["checkpoint"] = value(f.info.checkpoint());
  o["registered_time"] = num(f.registered_time);
  o["unregistered_time"] = num(f.unregistered_time);
  if (f.info.has_principal()) {
    o["principal"] = str(f.info.principal());
  }
  o["resources"] = resources_to_json(used + offered);
  if (f.reregistered_time > 0 && f.reregistered_time != f.registered_time) {
    o["reregistered_time"] = num(f.reregistered_time);
  }
  array roles;
  for (const std::string& r : f.roles) {
    roles.push_back(str(r));
  }
  o["roles"] = value(roles);
  o["role"] = str(f.roles.empty() ? "*" : f.roles.front());
  if (with_offers) {
    array offers;
    for (const std::string& oid : f.offers) {
      auto it = s.offers.find(oid);
      if (it != s.offers.end()) {
        offers.push_back(offer_json(it->second.offer));
      }
    }
    o["offers"] = value(offers);
  }
  o["executors"] = value(array{});
  o["offer_constraints"] = value(object{});
  if (f.info.has_labels()) {
    o["labels"] = labels_json(f.info.labels());
  }
  return o;
}

value framework_json(const MasterState& s, const FrameworkRecord& f) {
  object o = framework_head(s, f);
  array tasks;
  for (const auto& [id, t] : f.tasks) {
    tasks.push_back(task_json(t));
  }
  o["tasks"] = value(std::move(tasks));
  array unreachable;
  for (const auto& [id, t] : f.unreachable_tasks) {
    unreachable.push_back(task_json(t));
  }
  o["unreachable_tasks"] = value(std::move(unreachable));
  array completed;
  for (const Task& t : f.completed_tasks) {
    completed.push_back(task_json(t));
  }
  o["completed_tasks"] = value(std::move(completed));
  return value(std::move(o));
}

// /master/state's fields except "slaves", "frameworks" and
// "completed_frameworks", which state_json() adds and write_state() streams.
object state_head(const MasterState& s) {
  object o;
  o["version"] = str(STOA_VERSION);
  o["build_date"] = str(build_date());
  o["build_time"] = num(build_time());
  o["build_user"] = str(build_user());
  o["start_time"] = num(s.start_time);
  o["elected_time"] = num(s.elected_time);
  o["id"] = str(s.info.id());
  o["pid"] = str(s.info.pid());
  o["hostname"] = str(s.info.hostname());
  o["capabilities"] = value(array{str("AGENT_UPDATE")});
  // From the kept tally (master_tally.hpp), not a walk of the slaves: at
  // 20,000 slaves the walk was a third of the rope's collect (#17).
  const auto activated = static_cast<double>(s.tally.slaves_active);
  o["activated_slaves"] = num(activated);
  o["deactivated_slaves"] = num(static_cast<double>(s.slaves.size()) - activated);
  o["unreachable_slaves"] = num(static_cast<double>(s.unreachable_slaves.size()));
  o["leader"] = str(s.info.pid());
  object leader;
  leader["id"] = str(s.info.id());
  leader["pid"] = str(s.info.pid());
  leader["port"] = num(s.info.port());
  leader["hostname"] = str(s.info.hostname());
  // Mesos' MasterInfo.address, and Stoa's actor port (docs/multi-host.md).
  leader["address"] = value(object{{"ip", str(s.info.address_ip())},
                                   {"port", num(s.info.port())},
                                   {"hostname", str(s.info.hostname())}});
  if (s.info.has_actor_port()) {
    leader["actor_port"] = num(s.info.actor_port());
  }
  o["leader_info"] = value(leader);
  if (!s.cluster.empty()) {
    o["cluster"] = str(s.cluster);
  }
  if (auto it = s.flags.find("log_dir"); it != s.flags.end() && !it->second.empty()) {
    o["log_dir"] = str(it->second);
  }
  object flags;
  for (const auto& [k, v] : s.flags) {
    flags[k] = str(v);
  }
  o["flags"] = value(flags);
  o["recovered_slaves"] = recovered_slaves_json(s, {});
  o["orphan_tasks"] = value(array{});
  o["unregistered_frameworks"] = value(array{});
  return o;
}

value state_json(const MasterState& s) {
  object o = state_head(s);
  array slaves;
  for (const auto& [id, slave] : s.slaves) {
    slaves.push_back(slave_json(s, slave));
  }
  o["slaves"] = value(std::move(slaves));
  array frameworks;
  for (const auto& [id, f] : s.frameworks) {
    frameworks.push_back(framework_json(s, f));
  }
  o["frameworks"] = value(std::move(frameworks));
  array completed;
  for (const FrameworkRecord& f : s.completed_frameworks) {
    completed.push_back(framework_json(s, f));
  }
  o["completed_frameworks"] = value(std::move(completed));
  return value(std::move(o));
}

value state_summary_json(const MasterState& s) {
  object o;
  o["hostname"] = str(s.info.hostname());
  if (!s.cluster.empty()) {
    o["cluster"] = str(s.cluster);
  }
  array slaves;
  for (const auto& [id, slave] : s.slaves) {
    value v = slave_json(s, slave);
    std::vector<const Task*> tasks;
    std::set<std::string> fids;
    for (const auto& [fid, tid] : slave.tasks) {
      auto f = s.frameworks.find(fid);
      if (f != s.frameworks.end()) {
        auto t = f->second.tasks.find(tid);
        if (t != f->second.tasks.end()) {
          tasks.push_back(&t->second);
          fids.insert(fid);
        }
      }
    }
    object& so = v.get<object>();
    for (auto& [k, n] : counters_by_state(tasks, 0)) {
      so[k] = n;
    }
    array fa;
    for (const std::string& fid : fids) {
      fa.push_back(str(fid));
    }
    so["framework_ids"] = value(fa);
    slaves.push_back(v);
  }
  o["slaves"] = value(slaves);
  array frameworks;
  for (const auto& [id, f] : s.frameworks) {
    object fo;
    fo["id"] = str(f.id);
    fo["name"] = str(f.info.name());
    if (!f.pid.empty()) {
      fo["pid"] = str(f.pid);
    }
    fo["used_resources"] = resources_to_json(used_resources(f));
    fo["offered_resources"] = resources_to_json(offered_resources(s, f));
    fo["hostname"] = str(f.info.hostname());
    fo["webui_url"] = str(f.info.webui_url());
    fo["active"] = value(f.active);
    fo["connected"] = value(f.connected);
    fo["recovered"] = value(f.recovered);
    std::vector<const Task*> tasks;
    std::set<std::string> sids;
    for (const auto& [tid, t] : f.tasks) {
      tasks.push_back(&t);
      sids.insert(t.slave_id().value());
    }
    for (const Task& t : f.completed_tasks) {
      tasks.push_back(&t);
    }
    for (auto& [k, n] : counters_by_state(tasks, 0)) {
      fo[k] = n;
    }
    array sa;
    for (const std::string& sid : sids) {
      sa.push_back(str(sid));
    }
    fo["slave_ids"] = value(sa);
    frameworks.emplace_back(fo);
  }
  o["frameworks"] = value(frameworks);
  return value(o);
}

value slaves_json(const MasterState& s, const std::map<std::string, std::string>& query) {
  array slaves;
  for (const auto& [id, slave] : s.slaves) {
    if (query_matches(query, "slave_id", id)) {
      slaves.push_back(slave_json(s, slave, true));
    }
  }
  object o;
  o["slaves"] = value(slaves);
  o["recovered_slaves"] = recovered_slaves_json(s, query);
  return value(o);
}

value frameworks_json(const MasterState& s, const std::map<std::string, std::string>& query) {
  array frameworks;
  for (const auto& [id, f] : s.frameworks) {
    if (query_matches(query, "framework_id", id)) {
      frameworks.push_back(framework_json(s, f));
    }
  }
  array completed;
  for (const FrameworkRecord& f : s.completed_frameworks) {
    if (query_matches(query, "framework_id", f.id)) {
      completed.push_back(framework_json(s, f));
    }
  }
  object o;
  o["frameworks"] = value(std::move(frameworks));
  o["completed_frameworks"] = value(std::move(completed));
  o["unregistered_frameworks"] = value(array{});
  return value(std::move(o));
}

value tasks_json(const MasterState& s, const std::map<std::string, std::string>& query,
                 std::string* error) {
  auto number = [&](const char* key, long def) -> long {
    auto it = query.find(key);
    if (it == query.end() || it->second.empty()) {
      return def;
    }
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(it->second.c_str(), &end, 10);
    if (end != it->second.c_str() + it->second.size() || v < 0 || errno == ERANGE ||
        !std::isdigit(static_cast<unsigned char>(it->second[0]))) {
      *error = std::string("Invalid '") + key + "' parameter '" + it->second +
               "': expected an integer from 0 to " + std::to_string(LONG_MAX);
      return def;
    }
    return v;
  };
  long limit = number("limit", 100);
  long offset = number("offset", 0);
  std::string order = query.count("order") ? query.at("order") : "des";
  if (order != "asc" && order != "des") {
    *error = "Invalid 'order' parameter '" + order + "': expected asc or des";
  }
  if (!error->empty()) {
    return value();
  }
  std::vector<const Task*> all;
  auto consider = [&](const FrameworkRecord& f) {
    if (!query_matches(query, "framework_id", f.id)) {
      return;
    }
    for (const auto& [tid, t] : f.tasks) {
      if (query_matches(query, "task_id", tid)) {
        all.push_back(&t);
      }
    }
    for (const Task& t : f.completed_tasks) {
      if (query_matches(query, "task_id", t.task_id().value())) {
        all.push_back(&t);
      }
    }
  };
  for (const auto& [id, f] : s.frameworks) {
    consider(f);
  }
  for (const FrameworkRecord& f : s.completed_frameworks) {
    consider(f);
  }
  std::stable_sort(all.begin(), all.end(), [&](const Task* a, const Task* b) {
    return order == "asc" ? first_timestamp(*a) < first_timestamp(*b)
                          : first_timestamp(*a) > first_timestamp(*b);
  });
  array tasks;
  for (size_t i = static_cast<size_t>(offset); i < all.size() && tasks.size() < static_cast<size_t>(limit); ++i) {
    tasks.push_back(task_json(*all[i]));
  }
  object o;
  o["tasks"] = value(tasks);
  return value(o);
}

value task_status_json(const TaskStatus& status) { return status_json(status); }

}  // namespace stoa::master
