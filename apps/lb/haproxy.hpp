#pragma once
// The HAProxy stoa-lb drives: a real `haproxy` (Debian's 2.6) in
// master-worker mode, started and supervised by this actor, reloaded without
// refusing a connection (the new worker takes the listening sockets over
// from the old one: `-x` / `expose-fd listeners`, or the master's own
// socket pair), or — with --command — an HAProxy run by someone else,
// reloaded by running that command (marathon-lb's behaviour).
//
// Applying a configuration: unchanged text (config + maps) → nothing; else
// write it to a temporary file next to the target, validate it with
// `haproxy -c -f <tmp>` (unless skip_validation), and only when valid swap
// it in (rename), archive the previous one (archive_versions copies) and
// reload. An invalid text keeps the old configuration and the reply says
// why (haproxy's own message). Reloads are rate-limited: at most one per
// min_reload_interval; applies that arrive meanwhile are merged, the last
// one wins. A different text that arrives while one is being validated
// supersedes it: that one stays installed on disk but is not reloaded; the
// next flight (never itself superseded) reloads with the newer text, and
// both applies are answered by that reload (if the newer text is invalid,
// the superseded one is reloaded instead). After a reload the actor waits until a new worker runs (up to
// max_reload_retries × reload_interval, re-sending the reload each
// interval; 0 retries = wait forever, as marathon-lb).
//
// If the supervised master process exits, it is started again (with
// backoff) from the last valid configuration. On actor exit HAProxy is
// stopped (SIGUSR1 soft-stop, then SIGTERM after a grace period).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include "apps/lb/atoms.hpp"

namespace stoa::lb {

struct HaproxyOptions {
  std::string binary = "haproxy";               // --haproxy-bin (PATH lookup)
  std::string config_path = "/etc/haproxy/haproxy.cfg";  // --haproxy-config; maps beside it
  std::string run_dir = "/var/run/haproxy";     // sockets and pid file of the supervised HAProxy
  std::optional<std::string> command;           // --command: external reload, no supervision
  bool skip_validation = false;
  int archive_versions = 5;
  int max_reload_retries = 10;
  std::chrono::milliseconds reload_interval{10'000};
  std::chrono::milliseconds min_reload_interval{500};
};

// A configuration to apply (render.hpp's Rendered, without its notes).
struct HaproxyConfig {
  std::string config;
  std::string domain2backend_map;
  std::string app2backend_map;
};

struct ApplyResult {
  bool changed = false;   // the text differed from the applied one
  bool valid = true;      // false: `error` says why, nothing was swapped
  bool reloaded = false;  // a reload (or first start) happened and a new worker runs
  std::string error;
  uint64_t generation = 0;  // counts successful reloads since start
};

// Messages:
//   (lb_apply_atom, HaproxyConfig) -> ApplyResult   (replies once the
//       result is known: after validation when invalid, after the new
//       worker runs when reloaded; a merged apply replies with the result
//       of the reload that carried it)
//   (lb_reload_atom, HaproxyConfig) -> ApplyResult   (SIGUSR1, marathon-lb's
//       forced reload: as lb_apply_atom, but reloads even when the text
//       equals the applied one. It validates first like any apply (an
//       invalid text keeps the old configuration), is merged with pending
//       applies (a force on any merged apply forces the flight; the newest
//       text wins), obeys min_reload_interval, and answers changed=false,
//       reloaded=true with a new generation once the new worker runs. The
//       files on disk are rewritten only when the text differs.)
//   (lb_validate_atom, std::string config) -> ApplyResult  (haproxy -c only)
//   (lb_status_atom) -> std::string  (JSON: pid of the master, workers,
//       generation, last error; for /_stoa_lb/status and tests)

caf::actor spawn_haproxy(caf::actor_system& sys, HaproxyOptions options);

// The pids of the running HAProxy processes of the master `master_pid`
// (its workers), oldest first; for /_haproxy_getpids and tests.
std::vector<int> haproxy_worker_pids(int master_pid);

}  // namespace stoa::lb

#include <caf/allowed_unsafe_message_type.hpp>
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::lb::HaproxyConfig)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stoa::lb::ApplyResult)
