#include "tests/task_checks.hpp"

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>

namespace stoa::tests {

namespace {

const std::regex& update_line() {
  static const std::regex re(R"(Task (\S+) is in state (TASK_[A-Z_]+)(?: \((REASON_[A-Z_]+)\))?)");
  return re;
}

}  // namespace

std::map<std::string, std::vector<std::string>> updates_with_reasons(const Process& framework) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& line : framework.lines_matching(update_line())) {
    std::smatch m;
    if (std::regex_search(line, m, update_line())) {
      out[m[1]].push_back(m[2].str() + " " + (m[3].matched ? m[3].str() : std::string("-")));
    }
  }
  return out;
}

std::map<std::string, std::vector<std::string>> updates_by_task(const Process& framework) {
  std::map<std::string, std::vector<std::string>> out;
  for (const std::string& line : framework.lines_matching(update_line())) {
    std::smatch m;
    if (std::regex_search(line, m, update_line())) {
      out[m[1]].push_back(m[2]);
    }
  }
  return out;
}

size_t tasks_in_state(const Process& framework, const std::string& state) {
  size_t n = 0;
  for (const auto& [task, states] : updates_by_task(framework)) {
    n += std::find(states.begin(), states.end(), state) != states.end() ? 1 : 0;
  }
  return n;
}

std::vector<pid_t> sorted(std::vector<pid_t> pids) {
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::vector<pid_t> task_processes(const std::string& marker, const Process& framework) {
  std::vector<pid_t> pids = processes_with_marker(marker);
  pids.erase(std::remove(pids.begin(), pids.end(), framework.pid()), pids.end());
  // A process whose parent carries the marker too is that parent's fork: a
  // task shell's child before it execs (it has the shell's command line
  // until then, e.g. for each `sleep` of a polling loop) or a subshell. The
  // task is counted once, by its topmost process.
  const std::set<pid_t> all(pids.begin(), pids.end());
  std::erase_if(pids, [&](pid_t p) { return all.count(parent_of(p)) != 0; });
  return sorted(pids);
}

std::vector<pid_t> await_task_processes(const std::string& marker, const Process& framework, size_t n,
                                        Deadline deadline) {
  std::vector<pid_t> pids;
  poll_until([&] { return (pids = task_processes(marker, framework)).size() == n; }, deadline);
  return pids;
}

std::string only_slave_id(Cluster& cluster) {
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return "";
  }
  const picojson::array& slaves = json_array(json_at(*state, "slaves"));
  return slaves.empty() ? "" : json_string(json_at(slaves.front(), "id"));
}

std::string only_active_slave_id(Cluster& cluster) {
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return "";
  }
  std::vector<std::string> active;
  for (const auto& s : json_array(json_at(*state, "slaves"))) {
    const picojson::value& a = json_at(s, "active");
    if (a.is<bool>() && a.get<bool>()) {
      active.push_back(json_string(json_at(s, "id")));
    }
  }
  return active.size() == 1 ? active.front() : "";
}

size_t running_tasks_on(Cluster& cluster, const std::string& slave_id) {
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return 0;
  }
  size_t n = 0;
  for (const auto& f : json_array(json_at(*state, "frameworks"))) {
    for (const auto& t : json_array(json_at(f, "tasks"))) {
      n += json_string(json_at(t, "state")) == "TASK_RUNNING" && json_string(json_at(t, "slave_id")) == slave_id;
    }
  }
  return n;
}

std::vector<std::string> framework_ids(Cluster& cluster, const std::string& field) {
  std::vector<std::string> ids;
  Try<picojson::value> state = cluster.state();
  if (state.is_error()) {
    return ids;
  }
  for (const auto& f : json_array(json_at(*state, field))) {
    ids.push_back(json_string(json_at(f, "id")));
  }
  return ids;
}

const std::regex HEALTHY_RUNNING(R"(TASK_RUNNING .*\(REASON_TASK_HEALTH_CHECK_STATUS_UPDATED\) \[healthy\])");

Try<Process*> start_health_checked_sleep(Cluster& cluster, const std::string& name) {
  const std::string path = cluster.dir() + "/" + name + ".json";
  std::ofstream(path) << R"({"name": ")" << name << R"(", "command": {"value": "sleep 600"}, "health_check": )"
                      << R"({"type": "COMMAND", "command": {"value": "true"}, "delay_seconds": 0,)"
                      << R"( "interval_seconds": 0.3, "timeout_seconds": 5, "grace_period_seconds": 0,)"
                      << R"( "consecutive_failures": 3}})";
  return cluster.start("stoa-execute", name,
                       {"--master=" + cluster.master_address(), "--task=" + path, "--resources=cpus:0.1;mem:32",
                        "--timeout=2mins"});
}

}  // namespace stoa::tests
