#pragma once
// The subcommands of `stoa`, one function each, listed in commands()
// (cli_args.cpp). Each returns the exit code.

#include "framework/cli.hpp"

namespace stoa::cli {

// cli_lists.cpp
int run_slave_list(Context& c, const Invocation& inv);
int run_framework_list(Context& c, const Invocation& inv);
int run_task_list(Context& c, const Invocation& inv);

// cli_task_log.cpp
int run_task_log(Context& c, const Invocation& inv);

// cli_task_kill.cpp
int run_task_kill(Context& c, const Invocation& inv);

// cli_roles.cpp
int run_quota_get(Context& c, const Invocation& inv);
int run_quota_set(Context& c, const Invocation& inv);
int run_quota_remove(Context& c, const Invocation& inv);
int run_weights_get(Context& c, const Invocation& inv);
int run_weights_set(Context& c, const Invocation& inv);
// "web=2" "batch=0.5" -> {{"web", 2}, {"batch", 0.5}}; EXIT_USAGE naming the
// argument that is not <role>=<positive number>.
Result<std::vector<std::pair<std::string, double>>> parse_weight_args(const std::vector<std::string>& args);

// cli_apps.cpp: stoa-services (--services)
int run_app_list(Context& c, const Invocation& inv);
int run_app_show(Context& c, const Invocation& inv);
int run_app_add(Context& c, const Invocation& inv);
int run_app_scale(Context& c, const Invocation& inv);
int run_app_restart(Context& c, const Invocation& inv);
int run_app_remove(Context& c, const Invocation& inv);
int run_app_versions(Context& c, const Invocation& inv);
int run_app_rollback(Context& c, const Invocation& inv);
int run_app_tasks(Context& c, const Invocation& inv);
int run_deployment_list(Context& c, const Invocation& inv);
int run_deployment_cancel(Context& c, const Invocation& inv);
int run_deployment_watch(Context& c, const Invocation& inv);

// cli_state.cpp
int run_state(Context& c, const Invocation& inv);

}  // namespace stoa::cli
