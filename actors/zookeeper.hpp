#pragma once
// A ZooKeeper client actor over the C client (libzookeeper-mt), and the
// `zk://` URLs that name a ZooKeeper path.
//
// The C client runs its own I/O and completion threads. Every call the actor
// makes is asynchronous (zoo_acreate, zoo_aget, zoo_awget_children2, ...);
// completions and watches post a message carrying a request id back to the
// actor (caf::anon_send from the client's threads), which answers the
// request it had put aside. Only zookeeper_close() blocks (it waits for the
// client's threads), so the actor is spawned detached: it never holds a
// scheduler thread.
//
// Messages (a dynamically typed actor; every reply or error goes to the
// sender of the request):
//   (create_atom, path, data, int mode) -> std::string: the created path
//       (with its 10-digit suffix when `mode` has SEQUENTIAL);
//   (get_atom, path) -> std::string: the node's data;
//   (get_version_atom, path) -> (std::string data, int version): the node's
//       data and its data version (0 when created, +1 per set);
//   (set_atom, path, data, int version) -> int: sets the node's data if its
//       version is still `version` (-1: any) and answers the new version;
//       ZBADVERSION when it is not (a compare-and-swap lost);
//   (children_atom, path) -> std::vector<std::string>: child names, unsorted;
//   (children_atom, path, caf::actor watcher) -> the same, and sets a
//       one-shot watch: `watcher` gets (watch_atom, path, event) once, event
//       WATCH_CHANGED (children changed), WATCH_DELETED (the node went) or
//       WATCH_SESSION_LOST (the session expired before the watch fired);
//   (delete_atom, path) -> bool true: deletes any version;
//   (exists_atom, path) -> bool;
//   (session_id_atom) -> (int64_t id, std::string password): the session's
//       credentials, for logs and for tests that expire a session by
//       closing a second handle on it; an error before the first connect;
//   (close_atom) -> bool true: closes the session (its ephemeral nodes go at
//       once), fails what is still pending, then the actor exits.
// An error is a caf::error (sec::runtime_error) whose text names the
// operation, the path and ZooKeeper's error ("ZooKeeper create /a/b: no node
// (ZNONODE)"); zookeeper_error_code() gives the ZooKeeper code.
//
// Session events go to the subscriber as (session_atom, event): SESSION_CONNECTED,
// SESSION_DISCONNECTED (the client keeps reconnecting; the session may
// still be alive), SESSION_EXPIRED (the session is gone for good, with its
// ephemeral nodes and watches: spawn a new client), SESSION_AUTH_FAILED.
// The C client hears of an expiry only from a server, so the actor also
// expires the session itself once it has been disconnected for a whole
// session timeout (as Mesos' Group does): it closes the handle, reports
// SESSION_EXPIRED (and WATCH_SESSION_LOST to the watches) and answers every
// later request with an error saying so.
// A client whose connect string the C client refuses reports SESSION_EXPIRED
// at once and answers every request with that error.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "common/try.hpp"

namespace stoa::zookeeper {

// ---------------------------------------------------------------------------
// URLs.

// A parsed `zk://host1:port1,host2:port2/path`.
struct Url {
  std::vector<std::string> servers;  // "host:port", in the URL's order
  std::string path;                  // absolute, no trailing '/' (except "/")

  // "host1:port1,host2:port2": what the C client connects to.
  std::string connect_string() const;
  // "zk://host1:port1,host2:port2/path"
  std::string text() const;
};

// Parses `zk://host:port[,host:port...]/path`, or `file:///some/file` whose
// content (surrounding whitespace ignored) is such a URL. Each server needs
// a host and a numeric port in 1..65535; the path is absolute, without empty,
// "." or ".." components. Credentials (`zk://user:pass@...`) are refused.
// Error names the offending text and what is wrong with it.
Try<Url> parse_url(std::string_view text);

// ---------------------------------------------------------------------------
// The client actor.

using create_atom = caf::atom_constant<caf::atom("zk_create")>;
using get_atom = caf::atom_constant<caf::atom("zk_get")>;
using get_version_atom = caf::atom_constant<caf::atom("zk_getv")>;
using set_atom = caf::atom_constant<caf::atom("zk_set")>;
using children_atom = caf::atom_constant<caf::atom("zk_child")>;
using delete_atom = caf::atom_constant<caf::atom("zk_delete")>;
using exists_atom = caf::atom_constant<caf::atom("zk_exists")>;
using close_atom = caf::atom_constant<caf::atom("zk_close")>;
using session_id_atom = caf::atom_constant<caf::atom("zk_sessid")>;
using session_atom = caf::atom_constant<caf::atom("zk_session")>;
using watch_atom = caf::atom_constant<caf::atom("zk_watch")>;
constexpr create_atom create_atom_v{};
constexpr get_atom get_atom_v{};
constexpr get_version_atom get_version_atom_v{};
constexpr set_atom set_atom_v{};
constexpr children_atom children_atom_v{};
constexpr delete_atom delete_atom_v{};
constexpr exists_atom exists_atom_v{};
constexpr close_atom close_atom_v{};
constexpr session_id_atom session_id_atom_v{};
constexpr session_atom session_atom_v{};
constexpr watch_atom watch_atom_v{};

// Bits of the `mode` of a create.
constexpr int PERSISTENT = 0;
constexpr int EPHEMERAL = 1;   // removed when the creating session ends
constexpr int SEQUENTIAL = 2;  // the server appends a 10-digit counter

// Session events.
inline const std::string SESSION_CONNECTED = "connected";
inline const std::string SESSION_DISCONNECTED = "disconnected";
inline const std::string SESSION_EXPIRED = "expired";
inline const std::string SESSION_AUTH_FAILED = "auth_failed";
// Watch events.
inline const std::string WATCH_CHANGED = "changed";
inline const std::string WATCH_DELETED = "deleted";
inline const std::string WATCH_SESSION_LOST = "session_lost";

// Mesos' --zk_session_timeout default.
constexpr auto DEFAULT_SESSION_TIMEOUT = std::chrono::seconds(10);

struct ClientOptions {
  std::string connect_string;  // Url::connect_string()
  std::chrono::milliseconds session_timeout = DEFAULT_SESSION_TIMEOUT;
  caf::actor subscriber;  // gets the session events; may be invalid
};

// Spawns a detached client actor that starts connecting at once. Requests
// made before the session is connected wait for it (the C client queues
// them) and fail with ZCONNECTIONLOSS if it cannot connect in time.
caf::actor spawn_client(caf::actor_system& sys, ClientOptions options);

// The ZooKeeper error code (ZNONODE, ...) carried by an error of the client,
// or 0 (ZOK) for any other error.
int zookeeper_error_code(const caf::error& e);

// "ZNONODE" for ZNONODE, ... ("error <n>" for a code we do not name).
std::string zookeeper_error_name(int code);

}  // namespace stoa::zookeeper
