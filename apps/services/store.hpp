#pragma once
// Where stoa-services keeps its state: a key-value store actor with two
// back ends, so a restart or a failover keeps every app, version,
// deployment, task id and the framework id.
//
//  * ZooKeeper (--zk zk://h:p/marathon): one persistent znode per key under
//    <path>/state/ (a key's '/' are part of the znode path; each component
//    is percent-encoded so any key is a valid path), data = the value. The
//    last component's znode is named "<encoded>.v" (encoded components
//    never hold a '.'), so "apps/prod" and "apps/prod/web" can both be keys:
//    key apps/prod/web is <path>/state/apps/prod/web.v.
//  * Files (no --zk): one file per key under <work_dir>/state/, the same
//    layout (key apps/prod/web is <dir>/apps/prod/web.v), written to a
//    temporary file "<name>.v.tmp", fsynced and renamed, and the directory
//    fsynced (a crash leaves the old value or the new one, never half of
//    one; a temporary file left behind is ignored and overwritten).
// Percent-encoding: every byte but [A-Za-z0-9_-] as %XX (upper-case hex).
// A value may hold at most MAX_STORE_VALUE_BYTES (both back ends, so state
// moves between them): a larger put fails naming the key and the size.
// delete_prefix works on whole components: "app-versions/prod/web" removes
// that key and every key below it ("app-versions/prod/web/1"), never
// "app-versions/prod/web2"; "" removes everything.
//
// Keys (the core's layout; the store does not interpret them):
//   framework-id                       the FrameworkID value
//   apps/<app id without '/'>          the current app (app_to_store JSON)
//   app-versions/<app id>/<version ms> every stored version of an app
//   deployments/<deployment id>        deployment_to_store JSON
//   instances/<task id>                instance_to_store JSON
//   task-failures/<app id>             the app's last task failure (lastTaskFailure JSON)
//   launch-delays/<app id>             the app's launch backoff ({appId, config, delaySeconds, until})
// (app ids keep their '/', e.g. apps/prod/web: a key component may not be
// "" "." or "..".)
//
// Messages (a dynamically typed actor; every request gets a reply or an error):
//   (store_load_atom) -> std::map<std::string, std::string>: every key and value;
//   (store_put_atom, std::string key, std::string value) -> bool: written durably;
//   (store_delete_atom, std::string key) -> bool: gone (true also when it was absent);
//   (store_delete_prefix_atom, std::string prefix) -> bool: every key under it gone.
// Requests are carried out in the order received. An error (sec::runtime_error)
// names the key and the cause; the core treats a failed write as fatal for
// the change it was making (the REST call answers 503) and a failed load as
// "cannot lead".
//
// The ZooKeeper back end uses actors/zookeeper.hpp (its own session); an
// expired session fails every later request (the leader then abdicates).

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "common/try.hpp"

namespace stoa::services {

using store_load_atom = caf::atom_constant<caf::atom("st_load")>;
using store_put_atom = caf::atom_constant<caf::atom("st_put")>;
using store_delete_atom = caf::atom_constant<caf::atom("st_del")>;
using store_delete_prefix_atom = caf::atom_constant<caf::atom("st_delpre")>;
constexpr store_load_atom store_load_atom_v{};
constexpr store_put_atom store_put_atom_v{};
constexpr store_delete_atom store_delete_atom_v{};
constexpr store_delete_prefix_atom store_delete_prefix_atom_v{};

// ZooKeeper's default jute.maxbuffer (1 MB) less 1 KB for the request's framing.
constexpr size_t MAX_STORE_VALUE_BYTES = 1024 * 1024 - 1024;

// Errors when `dir` cannot be created or is not writable. The actor is
// detached (its writes fsync).

Try<caf::actor> spawn_file_store(caf::actor_system& sys, const std::string& dir);

// `zk` = "zk://h1:p1,h2:p2/marathon" (state under /marathon/state).
Try<caf::actor> spawn_zk_store(caf::actor_system& sys, const std::string& zk,
                               std::chrono::milliseconds session_timeout);

// Key checks shared by both back ends: nullopt when fine, else why not.
std::optional<std::string> check_key(const std::string& key);

}  // namespace stoa::services
