#pragma once
// Who leads: Mesos' master detector and contender over ZooKeeper.
//
// Every master contends by creating an ephemeral sequential znode
// `json.info_<10 digits>` under the `--zk` path holding its MasterInfo as
// JSON (Mesos' layout and field names, so Mesos tools can read it); the
// lowest sequence number leads. Slaves, schedulers and tools detect: they
// watch the same children and follow the lowest. A fixed `--master=host:port`
// is a detector that reports that one address once.
//
// The detector actor reports to its subscriber:
//   (leader_atom, Leader) — at start (once known) and whenever the leading
//       node changes; `Leader::pid` empty = no leader (none contending, or
//       this detector's session expired). Also sent when `contenders` changes.
//   (lost_atom, std::string why) — contenders only: this candidacy is over
//       for good (its session expired, its node was deleted, or creating it
//       failed). A master that hears this must stop leading at once.
// A detector (not a contender) whose session expires reports "no leader",
// starts a new session and goes on detecting.
// While the session is merely disconnected (the client reconnects within the
// session timeout), the last leader stays the leader, as in Mesos.
//
// Details (actors/master_detector.cpp):
// - Only children named `json.info_<digits>` count (`log_replicas` and
//   Mesos' older `info_` / unlabeled members are ignored); `contenders` is
//   how many there are.
// - A node whose data is not a MasterInfo (not JSON, no parsable "pid") is
//   logged with a warning naming it and skipped: the lowest node that holds
//   a MasterInfo leads. (Mesos takes the lowest regardless; a leader nobody
//   can reach is no leader.) No readable node → `Leader{}` with contenders.
// - The path not existing yet → `Leader{}` (no leader), then listings are
//   retried with a backoff from 50 ms doubling to 1 s until it exists; a
//   failed listing or get is retried the same way; a node gone between the
//   listing and its get → listed again at once.
// - A contender creates the path's missing components (persistent, empty),
//   then its node. A failed create of its node ends the candidacy (lost):
//   its outcome is unknown, and ending the session removes the node if it
//   was made. Once lost, the actor closes its session and exits.
// - A ZooKeeper detector exits (closing its session) when its subscriber
//   terminates; a fixed one likewise.
// - A fixed master's report: pid "master@host:port", hostname = host,
//   contenders 1, znode empty, self false.
// - `file://` names a file whose content (trimmed) is any other form; it is
//   read once, at spawn.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "actors/zookeeper.hpp"
#include "common/try.hpp"

namespace stoa {
class MasterInfo;
}

namespace stoa::detector {

struct Leader {
  std::string pid;       // "master@10.0.0.1:5050"; empty = no leader known
  std::string id;        // MasterInfo.id
  std::string hostname;  // MasterInfo.hostname
  std::string version;   // MasterInfo.version
  std::string znode;     // "json.info_0000000003"; empty for a fixed master
  bool self = false;     // a contender's own node is the lowest
  int contenders = 0;    // json.info_ nodes seen (1 for a fixed master)

  bool operator==(const Leader&) const = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Leader& x) {
  return f(caf::meta::type_name("stoa.detector.Leader"), x.pid, x.id, x.hostname, x.version,
           x.znode, x.self, x.contenders);
}

using leader_atom = caf::atom_constant<caf::atom("det_leader")>;
using lost_atom = caf::atom_constant<caf::atom("det_lost")>;
constexpr leader_atom leader_atom_v{};
constexpr lost_atom lost_atom_v{};

// The prefix of Mesos' contender nodes.
inline const std::string NODE_PREFIX = "json.info_";

struct Options {
  // "host:port", "master@host:port", "http://host:port", "zk://h1:p1,h2:p2/path"
  // or "file:///path" holding one of those.
  std::string master;
  caf::actor subscriber;
  std::chrono::milliseconds session_timeout = zookeeper::DEFAULT_SESSION_TIMEOUT;
  // Contend as well as detect (zk:// only): the MasterInfo JSON to publish
  // (master_info_json()). The path is created (persistent) if missing.
  std::optional<std::string> contend_with;
};

// Spawns the detector (a ZooKeeper session of its own for zk://). Errors:
// a malformed --master value (naming it), contend_with without zk://.
Try<caf::actor> spawn_detector(caf::actor_system& sys, Options options);

// True for a `zk://` or `file://` master (one that must be detected).
bool is_detected(std::string_view master);

// Checks a --master value as spawn_detector() would (reading a file://
// master's file): nullopt when it would be accepted, else an error naming the
// value and the fault. For flag checks.
std::optional<std::string> check_master(std::string_view master);

// MasterInfo.ip holds what Mesos' does: the IPv4 address's in_addr.s_addr
// (network byte order) read as a uint32 on the host, so 10.0.0.1 is
// 16777226 on x86. master_info_json() derives it from address_ip when ip is
// 0; parse_master_info_json() fills ip and address_ip from the pid's host
// when the JSON lacks them, and port from the pid.
// MasterInfo as Mesos writes it into ZooKeeper:
// {"id":..,"ip":<uint32 network order>,"port":..,"pid":"master@ip:port",
//  "hostname":..,"version":..,"address":{"ip":"1.2.3.4","hostname":..,"port":..}}
std::string master_info_json(const MasterInfo& info);
// The reverse; needs at least a parsable "pid". Errors name what is wrong.
Try<MasterInfo> parse_master_info_json(std::string_view text);

}  // namespace stoa::detector
