#pragma once
// stoa-lb's own Lua services for the `listen stats` proxy (HAProxy's
// built-in Lua 5.3), kept as text here and written to --run-dir by the
// balancer before HAProxy starts; the rendered HAPROXY_HEAD `lua-load`s them
// when RenderOptions::lua_dir is set (render.hpp):
//   /_haproxy_getpids     the pids of the running HAProxy processes (the
//                         master and its workers, draining ones included),
//                         space-separated, as marathon-lb answers it
//   /_haproxy_getconfig   the configuration file the process was started
//                         with (read once at start, as marathon-lb)
//   /_haproxy_getvhostmap, /_haproxy_getappmap   the --haproxy-map files
//                         (read per request from $STOA_LB_CONFIG_DIR)
//   /_mlb_signal/hup, /_mlb_signal/usr1   SIGHUP / SIGUSR1 to the stoa-lb
//                         named by $STOA_LB_PID (RenderOptions::lb_pid)

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/try.hpp"

namespace stoa::lb {

struct LuaScript {
  std::string file;  // "getpids.lua"
  std::string text;
  // (service name registered with core.register_service, path of the
  // `listen stats` proxy that serves it)
  std::vector<std::pair<std::string, std::string>> services;
};

// Every script, in a stable order.
const std::vector<LuaScript>& lua_scripts();

// Writes every script into `dir` (created if missing), each through a
// temporary file and a rename. Error names the file.
std::optional<Error> write_lua_scripts(const std::string& dir);

}  // namespace stoa::lb
