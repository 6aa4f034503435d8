#pragma once
// What the framework programs (stoa-execute, stoa-example-framework) share:
// the filters they answer offers with, the shell-command task they launch on
// an offer, and how they print a line of output.

#include <iostream>
#include <string>

#include "common/resources.hpp"
#include "proto/stoa.pb.h"

namespace stoa {

// Filters declining (or leaving over) resources for `seconds`.
Filters refuse(double seconds);

// A task named `name` with id `task_id` running `command` through the shell
// on `offer`'s slave, using `resources`. The resources carry the offer's
// allocation info (the role it was allocated to), as the master requires of
// a framework with several roles.
TaskInfo shell_task(const Offer& offer, const std::string& name, const std::string& task_id,
                    const Resources& resources, const std::string& command);

// Writes `line` and a newline to `out` and flushes: readers (tests, scripts)
// watch a tool's stdout line by line.
void say(const std::string& line, std::ostream& out = std::cout);

}  // namespace stoa
