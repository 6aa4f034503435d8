// The Lua services of the stats proxy (lua.hpp). Our own scripts.

#include "apps/lb/lua.hpp"

#include <filesystem>
#include <fstream>

namespace stoa::lb {
namespace {

const char* const LUA_GETPIDS_LUA = R"lua(-- stoa-lb: /_haproxy_getpids
-- Answers the pids of the running HAProxy processes, space-separated. In
-- master-worker mode these are the master and all its children (workers of
-- older generations that still drain connections included), so a reload
-- is finished when only two remain. Outside master-worker mode, or when
-- /proc does not list children, `pidof haproxy` answers.

local function stoa_read(path)
  local f = io.open(path, "rb")
  if f == nil then
    return nil
  end
  local s = f:read("a")
  f:close()
  return s
end

local function stoa_parent(pid)
  local stat = stoa_read("/proc/" .. pid .. "/stat")
  if stat == nil then
    return nil
  end
  -- Field 2 is "(comm)" and may hold spaces: parse after its last ')'.
  local rest = stat:match(".*%)%s+(.*)$")
  if rest == nil then
    return nil
  end
  local state, ppid = rest:match("^(%S+)%s+(%d+)")
  return tonumber(ppid)
end

local function stoa_pidof()
  local p = io.popen("pidof haproxy", "r")
  if p == nil then
    return {}
  end
  local out = p:read("a") or ""
  p:close()
  local pids = {}
  for pid in out:gmatch("%d+") do
    pids[#pids + 1] = tonumber(pid)
  end
  return pids
end

local function stoa_haproxy_pids()
  local self_stat = stoa_read("/proc/self/stat")
  local self_pid = self_stat and tonumber(self_stat:match("^(%d+)"))
  local master = self_pid and stoa_parent(self_pid)
  local comm = master and stoa_read("/proc/" .. master .. "/comm")
  local children = master and stoa_read("/proc/" .. master .. "/task/" .. master .. "/children")
  if comm == nil or not comm:match("^haproxy") or children == nil then
    return stoa_pidof()
  end
  local pids = { master }
  for pid in children:gmatch("%d+") do
    pids[#pids + 1] = tonumber(pid)
  end
  return pids
end

core.register_service("getpids", "http", function(applet)
  local pids = stoa_haproxy_pids()
  table.sort(pids)
  local parts = {}
  for i, pid in ipairs(pids) do
    parts[i] = tostring(pid)
  end
  local body = table.concat(parts, " ")
  applet:set_status(200)
  applet:add_header("content-length", string.len(body))
  applet:add_header("content-type", "text/plain")
  applet:start_response()
  applet:send(body)
end)
)lua";

const char* const LUA_GETCONFIG_LUA = R"lua(-- stoa-lb: /_haproxy_getconfig
-- Answers the configuration file this HAProxy was started with (the
-- argument after -f on its command line), as read when the process started.

local stoa_config = ""

local function stoa_started_config()
  local f = io.open("/proc/self/cmdline", "rb")
  if f == nil then
    return ""
  end
  local cmdline = f:read("a")
  f:close()
  local want = false
  for arg in cmdline:gmatch("[^\0]+") do
    if want then
      local cfg = io.open(arg, "rb")
      if cfg == nil then
        return ""
      end
      local text = cfg:read("a")
      cfg:close()
      return text
    end
    want = (arg == "-f")
  end
  return ""
end

core.register_init(function()
  stoa_config = stoa_started_config()
end)

core.register_service("getconfig", "http", function(applet)
  applet:set_status(200)
  applet:add_header("content-length", string.len(stoa_config))
  applet:add_header("content-type", "text/plain")
  applet:start_response()
  applet:send(stoa_config)
end)
)lua";

const char* const LUA_GETMAPS_LUA = R"lua(-- stoa-lb: /_haproxy_getvhostmap and /_haproxy_getappmap
-- Answer the --haproxy-map files (domain2backend.map, app2backend.map) of
-- the directory in $STOA_LB_CONFIG_DIR, read at each request ("" when
-- missing).

local function stoa_map(name)
  local dir = os.getenv("STOA_LB_CONFIG_DIR")
  if dir == nil then
    return ""
  end
  local f = io.open(dir .. "/" .. name, "rb")
  if f == nil then
    return ""
  end
  local text = f:read("a")
  f:close()
  return text
end

local function stoa_send(applet, body)
  applet:set_status(200)
  applet:add_header("content-length", string.len(body))
  applet:add_header("content-type", "text/plain")
  applet:start_response()
  applet:send(body)
end

core.register_service("getvhostmap", "http", function(applet)
  stoa_send(applet, stoa_map("domain2backend.map"))
end)

core.register_service("getappmap", "http", function(applet)
  stoa_send(applet, stoa_map("app2backend.map"))
end)
)lua";

const char* const LUA_SIGNALMLB_LUA = R"lua(-- stoa-lb: /_mlb_signal/hup and /_mlb_signal/usr1
-- Send the stoa-lb named by $STOA_LB_PID (set by the configuration it
-- rendered) SIGHUP, to read the registry again, or SIGUSR1, to re-validate
-- and reload HAProxy: what marathon-lb's endpoints do to marathon_lb.py.
-- 200 when the signal was sent; 503 when no process is named (a --dry
-- configuration); 500 when kill(1) fails (e.g. that stoa-lb has exited).

local function stoa_answer(applet, status, body)
  applet:set_status(status)
  applet:add_header("content-length", string.len(body))
  applet:add_header("content-type", "text/plain")
  applet:start_response()
  applet:send(body)
end

local function stoa_signal(applet, name)
  local pid = os.getenv("STOA_LB_PID")
  if pid == nil or string.match(pid, "^[1-9]%d*$") == nil then
    stoa_answer(applet, 503, "no stoa-lb to signal: STOA_LB_PID is '" .. tostring(pid) .. "'\n")
    return
  end
  local ok = os.execute("kill -" .. name .. " " .. pid .. " 2>/dev/null")
  if ok then
    stoa_answer(applet, 200, "Sent SIG" .. name .. " to stoa-lb (pid " .. pid .. ")\n")
  else
    stoa_answer(applet, 500, "cannot send SIG" .. name .. " to stoa-lb (pid " .. pid .. ")\n")
  end
end

core.register_service("signalmlbhup", "http", function(applet)
  stoa_signal(applet, "HUP")
end)

core.register_service("signalmlbusr1", "http", function(applet)
  stoa_signal(applet, "USR1")
end)
)lua";

}  // namespace

const std::vector<LuaScript>& lua_scripts() {
  static const std::vector<LuaScript> scripts = {
      {"getpids.lua", LUA_GETPIDS_LUA, {{"getpids", "/_haproxy_getpids"}}},
      {"getconfig.lua", LUA_GETCONFIG_LUA, {{"getconfig", "/_haproxy_getconfig"}}},
      {"getmaps.lua",
       LUA_GETMAPS_LUA,
       {{"getvhostmap", "/_haproxy_getvhostmap"}, {"getappmap", "/_haproxy_getappmap"}}},
      {"signalmlb.lua",
       LUA_SIGNALMLB_LUA,
       {{"signalmlbhup", "/_mlb_signal/hup"}, {"signalmlbusr1", "/_mlb_signal/usr1"}}},
  };
  return scripts;
}

std::optional<Error> write_lua_scripts(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Error("cannot create Lua directory '" + dir + "': " + ec.message());
  }
  for (const LuaScript& script : lua_scripts()) {
    std::filesystem::path target = std::filesystem::path(dir) / script.file;
    std::filesystem::path tmp = target;
    tmp += ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << script.text;
      out.flush();
      if (!out) {
        return Error("cannot write Lua script '" + tmp.string() + "'");
      }
    }
    std::filesystem::rename(tmp, target, ec);
    if (ec) {
      return Error("cannot rename '" + tmp.string() + "' to '" + target.string() +
                   "': " + ec.message());
    }
  }
  return std::nullopt;
}

}  // namespace stoa::lb
