#pragma once
// The balancer actor of stoa-lb: takes the registry client's snapshots
// (marathon.hpp), fills each task's health from its cache where the registry
// left it out, renders (render.hpp) and hands the text to the HAProxy actor
// (haproxy.hpp), which reloads only when it changed. With config cleanup
// (default; --skip-config-cleanup turns it off) an invalid result is retried
// app by app and the apps that break validation are left out and logged.
// SIGHUP → a new snapshot; SIGUSR1 → re-validate and reload the current
// configuration (main sends the atoms).

#include <string>

#include <caf/fwd.hpp>

#include "apps/lb/atoms.hpp"
#include "apps/lb/flags.hpp"
#include "apps/lb/haproxy.hpp"
#include "apps/lb/marathon.hpp"
#include "apps/lb/render.hpp"

namespace stoa::lb {

// Accepts (lb_snapshot_atom, SnapshotPtr), (lb_registry_down_atom, string),
// (lb_reapply_atom),
// (lb_status_atom) -> JSON string (counters, last error, dropped apps, the
// applied snapshot and its backends with their servers).
// Without a sse/poll mode and with --command (marathon-lb's one run), the
// balancer quits after its first apply: normally when HAProxy took it, with
// an error otherwise. (SIGHUP goes to the client: main sends it
// lb_refresh_atom.)
caf::actor spawn_balancer(caf::actor_system& sys, const LbFlags& flags, Templates templates,
                          caf::actor haproxy);

// Where HAProxy's sockets, pid file and our Lua scripts live: --run-dir, or
// "run" beside --haproxy-config.
std::string lb_run_dir(const LbFlags& flags);

// The options of the parts, from the flags. (marathon_options takes the
// Basic auth from `auth_credentials`: main reads
// --marathon-auth-credential-file into it first.)
RenderOptions render_options(const LbFlags& flags);
HaproxyOptions haproxy_options(const LbFlags& flags);
MarathonOptions marathon_options(const LbFlags& flags);

}  // namespace stoa::lb
