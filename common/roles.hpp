#pragma once
// The one rule for role names (docs/allocator.md, "Role names"). The
// allocator, the master's request and flag validation, the operator API and
// Resources (reservations such as "cpus(web):1", and Resource protobufs) all
// call check_role_name(); whitelists (--roles) are checked by their callers
// on top of it.

#include <optional>
#include <string>
#include <string_view>

namespace stoa {

// Why `role` cannot be a role name, or nullopt if it can. "*" (the default
// role) is a valid name. Otherwise, Mesos' rules for a non-hierarchical role
// (a role is a valid directory name): not empty, not "." or "..", not
// starting with '-', no whitespace or control characters, no '/' or '\';
// plus the characters of our text syntax, so that every valid role can be
// written in --resources, --roles and --weights: no '*' (other than the
// whole name), '(', ')', '[', ']', '{', '}', ',', ';', ':'. The message
// names the role and the offending character.
std::optional<std::string> check_role_name(std::string_view role);

}  // namespace stoa
