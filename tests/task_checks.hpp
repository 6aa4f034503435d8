#pragma once
// What a test reads about tasks: the status updates an example framework
// logged ("Task <id> is in state <STATE> (<REASON>)"), and the tasks and
// slaves /master/state shows. Blocking, for the GoogleTest thread.

#include <sys/types.h>

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "tests/cluster.hpp"

namespace stoa::tests {

// Task id -> every state the framework logged for it, in order.
std::map<std::string, std::vector<std::string>> updates_by_task(const Process& framework);
// Task id -> every "<STATE> <REASON>" the framework logged ("<STATE> -" without reason).
std::map<std::string, std::vector<std::string>> updates_with_reasons(const Process& framework);
// How many tasks the framework saw in `state` at least once.
size_t tasks_in_state(const Process& framework, const std::string& state);

std::vector<pid_t> sorted(std::vector<pid_t> pids);
// The processes that carry `marker` (processes_with_marker), except
// `framework` (whose command line names it too) and those whose parent
// carries it (a shell's fork before its exec, a subshell), sorted.
std::vector<pid_t> task_processes(const std::string& marker, const Process& framework);
// task_processes() once it finds exactly `n`, or what it finds at
// `deadline`. A task reported TASK_RUNNING has exec'd, but its command line
// reads empty for a moment after (the kernel sets the new image's arguments
// after the point where the exec can no longer fail, which is when its
// launcher learns it ran).
std::vector<pid_t> await_task_processes(const std::string& marker, const Process& framework, size_t n,
                                        Deadline deadline = deadline_in(DEFAULT_TIMEOUT));

// The id of the first slave /master/state lists ("" if none or unreadable).
std::string only_slave_id(Cluster& cluster);
// The id of the one active slave ("" unless exactly one is active).
std::string only_active_slave_id(Cluster& cluster);
// Tasks of any framework in TASK_RUNNING on `slave_id`, per /master/state.
size_t running_tasks_on(Cluster& cluster, const std::string& slave_id);
// Ids of /master/state's "frameworks" and "completed_frameworks".
std::vector<std::string> framework_ids(Cluster& cluster, const std::string& field);

// stoa-execute running `sleep 600` as task `name` with a COMMAND health check
// (`true` every 0.3 s), its TaskInfo written to <cluster dir>/<name>.json.
Try<Process*> start_health_checked_sleep(Cluster& cluster, const std::string& name);
// stoa-execute's line for such a task's first healthy TASK_RUNNING.
extern const std::regex HEALTHY_RUNNING;

}  // namespace stoa::tests
