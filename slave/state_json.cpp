#include "slave/state_json.hpp"

#include "common/attributes.hpp"
#include "common/container_json.hpp"
#include "common/version.hpp"

namespace stoa::slave {

namespace {

picojson::object flag_values(const SlaveFlags& flags) {
  picojson::object values;
  for (const auto& [k, v] : flags.values()) {
    values[k] = picojson::value(v);
  }
  return values;
}

// Mesos' names of its command and docker executors.
std::string executor_name(const Executor& e) {
  return std::string(e.docker ? "Docker Executor" : "Command Executor") + " (Task: " + e.executor_id + ")";
}

}  // namespace

picojson::value task_json(const Task& t) {
  picojson::object o;
  o["id"] = picojson::value(t.task_id().value());
  o["name"] = picojson::value(t.name());
  o["framework_id"] = picojson::value(t.framework_id().value());
  o["executor_id"] = picojson::value(t.executor_id().value());
  o["slave_id"] = picojson::value(t.slave_id().value());
  o["state"] = picojson::value(TaskState_Name(t.state()));
  Try<Resources> r = Resources::from_proto(t.resources());
  o["resources"] = resources_to_json(r.is_some() ? *r : Resources());
  picojson::array statuses;
  for (const TaskStatus& s : t.statuses()) {
    picojson::object so;
    so["state"] = picojson::value(TaskState_Name(s.state()));
    so["timestamp"] = picojson::value(s.timestamp());
    if (s.has_healthy()) {
      so["healthy"] = picojson::value(s.healthy());
    }
    if (s.has_container_status()) {
      so["container_status"] = container_status_json(s.container_status());
    }
    statuses.emplace_back(so);
  }
  o["statuses"] = picojson::value(statuses);
  if (t.has_container()) {
    o["container"] = container_info_json(t.container());
  }
  return picojson::value(o);
}

picojson::value executor_json(const Executor& e, const std::string& slave_id) {
  picojson::object o;
  o["id"] = picojson::value(e.executor_id);
  o["name"] = picojson::value(executor_name(e));
  o["source"] = picojson::value(e.executor_id);
  o["container"] = picojson::value(e.container_id);
  o["directory"] = picojson::value(e.directory);
  o["resources"] = resources_to_json(e.resources);
  picojson::array tasks;
  picojson::array queued;
  picojson::array completed;
  for (const auto& [tid, t] : e.tasks) {
    tasks.push_back(task_json(t));
  }
  for (const auto& [tid, ti] : e.queued) {
    queued.push_back(task_json(make_task(ti, e.framework_id, slave_id, TASK_STAGING)));
  }
  for (const Task& t : e.completed) {
    completed.push_back(task_json(t));
  }
  o["tasks"] = picojson::value(tasks);
  o["queued_tasks"] = picojson::value(queued);
  o["completed_tasks"] = picojson::value(completed);
  return picojson::value(o);
}

picojson::value framework_json(const Framework& f, const std::string& slave_id) {
  picojson::object fo;
  fo["id"] = picojson::value(f.info.id().value());
  fo["name"] = picojson::value(f.info.name());
  fo["user"] = picojson::value(f.info.user());
  fo["failover_timeout"] = picojson::value(f.info.failover_timeout());
  fo["checkpoint"] = picojson::value(f.info.checkpoint());
  fo["hostname"] = picojson::value(f.info.hostname());
  fo["role"] = picojson::value(f.info.role());
  picojson::array execs;
  for (const auto& [eid, e] : f.executors) {
    execs.push_back(executor_json(e, slave_id));
  }
  picojson::array done;
  for (const Executor& e : f.completed_executors) {
    done.push_back(executor_json(e, slave_id));
  }
  fo["executors"] = picojson::value(execs);
  fo["completed_executors"] = picojson::value(done);
  return picojson::value(fo);
}

picojson::value state_json(const SlaveState& s, const SlaveOptions& opts) {
  picojson::object o;
  o["version"] = picojson::value(STOA_VERSION);
  o["build_date"] = picojson::value(build_date());
  o["build_time"] = picojson::value(build_time());
  o["build_user"] = picojson::value(build_user());
  o["start_time"] = picojson::value(s.start_time);
  o["id"] = picojson::value(s.slave_id);
  o["pid"] = picojson::value(opts.upid.str());
  o["hostname"] = picojson::value(s.info.hostname());
  o["port"] = picojson::value(static_cast<double>(opts.upid.port));
  o["capabilities"] = picojson::value(picojson::array{picojson::value("MULTI_ROLE")});
  o["resources"] = resources_to_json(opts.resources);
  o["reserved_resources"] = reserved_resources_to_json(opts.resources);
  o["unreserved_resources"] = resources_to_json(opts.resources.unreserved());
  o["attributes"] = attributes_to_json(s.info.attributes());
  o["master_hostname"] = picojson::value(opts.master.host);
  if (opts.flags.log_dir) {
    o["log_dir"] = picojson::value(*opts.flags.log_dir);
  }
  o["flags"] = picojson::value(flag_values(opts.flags));
  picojson::array fws;
  for (const auto& [fid, f] : s.frameworks) {
    fws.push_back(framework_json(f, s.slave_id));
  }
  o["frameworks"] = picojson::value(fws);
  picojson::array done_fws;
  for (const Framework& f : s.completed_frameworks) {
    done_fws.push_back(framework_json(f, s.slave_id));
  }
  o["completed_frameworks"] = picojson::value(done_fws);
  return picojson::value(o);
}

picojson::value monitor_json(const SlaveState& s, const ContainerUsages& usages) {
  picojson::array out;
  for (const auto& [fid, f] : s.frameworks) {
    for (const auto& [eid, e] : f.executors) {
      auto usage = usages.find(e.container_id);
      if (e.phase == Executor::Phase::TERMINATED || usage == usages.end()) {
        continue;
      }
      const ResourceStatistics& u = usage->second;
      picojson::object stats;
      stats["timestamp"] = picojson::value(u.timestamp);
      auto put_double = [&stats](const char* name, const std::optional<double>& v) {
        if (v) {
          stats[name] = picojson::value(*v);
        }
      };
      auto put_int = [&stats](const char* name, const auto& v) {
        if (v) {
          stats[name] = picojson::value(static_cast<int64_t>(*v));
        }
      };
      put_double("cpus_user_time_secs", u.cpus_user_time_secs);
      put_double("cpus_system_time_secs", u.cpus_system_time_secs);
      put_double("cpus_limit", u.cpus_limit);
      put_int("cpus_nr_periods", u.cpus_nr_periods);
      put_int("cpus_nr_throttled", u.cpus_nr_throttled);
      put_double("cpus_throttled_time_secs", u.cpus_throttled_time_secs);
      put_int("mem_total_bytes", u.mem_total_bytes);
      put_int("mem_rss_bytes", u.mem_rss_bytes);
      put_int("mem_cache_bytes", u.mem_cache_bytes);
      put_int("mem_limit_bytes", u.mem_limit_bytes);
      put_int("mem_soft_limit_bytes", u.mem_soft_limit_bytes);
      put_int("disk_limit_bytes", u.disk_limit_bytes);
      put_int("disk_used_bytes", u.disk_used_bytes);
      put_int("processes", u.processes);
      put_int("threads", u.threads);
      picojson::object o;
      o["executor_id"] = picojson::value(eid);
      o["executor_name"] = picojson::value(executor_name(e));
      o["framework_id"] = picojson::value(fid);
      o["source"] = picojson::value(eid);
      o["statistics"] = picojson::value(stats);
      out.emplace_back(o);
    }
  }
  return picojson::value(out);
}


picojson::value flags_json(const SlaveFlags& flags) {
  picojson::object o;
  o["flags"] = picojson::value(flag_values(flags));
  return picojson::value(o);
}

}  // namespace stoa::slave
