#pragma once
// Placing an app's tasks on offers (Marathon's ResourceMatcher and
// Constraints) and choosing which tasks a scale-down kills.
// Pure functions over the app, the offer and the tasks already placed: no
// CAF, no I/O (unit tests: placement_test.cpp).
// Facts: shared/reference/marathon.md §1.3 (ports, env), §2 (constraints).

#include <map>
#include <optional>
#include <set>
#include <variant>
#include <string>
#include <vector>

#include "apps/services/instance.hpp"
#include "apps/services/model.hpp"
#include "proto/stoa.pb.h"

namespace stoa::services {

// What is left of one offer while tasks are placed on it: scalars per
// name and the port ranges not yet taken. Which roles an app may use is
// decided by place() (options.role, app.accepted_resource_roles).
// Several tasks may be placed on one offer; each place() takes from it.
struct OfferSpace {
  explicit OfferSpace(const Offer& offer);
  const Offer& offer;
  std::map<std::string, double> scalars;   // cpus, mem, disk, gpus, … left (over every role of the offer)
  std::vector<std::pair<uint64_t, uint64_t>> ports;  // free host port ranges, sorted
  std::vector<Resource> used;  // resources taken so far (for the LAUNCH operation)
  // What is left of each of the offer's resources, role by role (place()
  // takes from here; `scalars` and `ports` above are the totals of it over
  // every role of the offer, kept in step).
  std::vector<Resource> left;
};

// The value of a constraint field on an offer: hostname for "hostname" /
// "@hostname", the attribute otherwise (scalars formatted "0.###", ranges
// "[a-b,c-d]", sets "{x,y}"), nullopt if the offer lacks it.
std::optional<std::string> offer_field(const Offer& offer, const std::string& field);

// Why an offer was not used for an app (Marathon's NoOfferMatchReason names,
// for /v2/queue's processedOffersSummary).
enum class Reject {
  NONE,
  INSUFFICIENT_CPUS,
  INSUFFICIENT_MEMORY,
  INSUFFICIENT_DISK,
  INSUFFICIENT_GPUS,
  INSUFFICIENT_PORTS,
  UNFULFILLED_ROLE,
  UNFULFILLED_CONSTRAINT,
  DECLINED_SCARCE_RESOURCES,
};
const char* reject_name(Reject r);  // "InsufficientCpus", "UnfulfilledConstraint", …

// Every field of an offer's slave: "hostname" and "@hostname" → hostname,
// and each attribute as offer_field() formats it. The core records this per
// slave id as offers arrive, to know the fields of slaves its tasks run on.
using SlaveFields = std::map<std::string, std::string>;
SlaveFields offer_fields(const Offer& offer);

// Does the offer satisfy every constraint of `app`, given `placed`: every
// active instance of the app whose app_version >= app.last_config_change_at
// (older configs are ignored, as Marathon does), including the ones placed
// on this offer a moment ago? `slave_fields` maps a slave id to its fields
// (an instance on a slave missing there counts as lacking every field).
bool constraints_met(const App& app, const Offer& offer, const std::vector<const Instance*>& placed,
                     const std::map<std::string, SlaveFields>& slave_fields);

struct Placement {
  TaskInfo task;             // ready to LAUNCH (task_id, name, slave_id, resources, command, env, …)
  std::vector<int> host_ports;
  std::vector<int> service_ports;
};

struct PlaceOptions {
  std::string framework_name = "marathon";
  // --mesos_role: the role whose reserved resources the app may use besides '*'.
  std::string role = "*";
  std::string task_id;  // the new task's id (new_task_id(app.id))
  // Where the ports the app leaves to the offer (port 0, not requirePorts)
  // start: at this index mod the number of free ports, then the next ones.
  // The core passes a random number (Marathon picks host ports at random);
  // 0 takes the lowest free ports.
  uint64_t port_seed = 0;
};

// Takes one task of `app` from `space` if it fits (resources, ports,
// requirePorts, role) and returns it; else the first reason it does not.
// Constraints are not checked here (constraints_met does that).
// The TaskInfo carries:
//  * command: `cmd` via /bin/sh -c, or `args` (shell=false), user, fetch URIs;
//    a DOCKER container when app.container is DOCKER (ContainerInfo with
//    docker image, network BRIDGE/HOST, port mappings with the host ports);
//  * env: PORT0..PORTn, PORT (= PORT0), PORTS (comma list), PORT_<NAME>
//    (upper-cased names), PORT_<requested> = host port (requested: the
//    service port in host networking, the container port behind port
//    mappings; the host port itself when 0), HOST,
//    MARATHON_APP_ID, MARATHON_APP_VERSION, MARATHON_APP_RESOURCE_CPUS/MEM/DISK/GPUS,
//    MARATHON_APP_LABELS + MARATHON_APP_LABEL_<NAME>, MESOS_TASK_ID, plus app.env;
//  * health checks: the first MESOS_HTTP/MESOS_HTTPS/MESOS_TCP/COMMAND check as
//    a Mesos HealthCheck (port from portIndex → host port, or `port`);
//  * kill_policy grace from taskKillGracePeriodSeconds;
//  * labels: MARATHON_APP_ID-free copy of the app labels (Mesos Labels).
// `service_ports` are the app's service ports (already assigned).
std::variant<Placement, Reject> place(const App& app, OfferSpace& space, const PlaceOptions& options);

// Picks `count` victims among `candidates` (active instances of `app`) for a
// scale-down: GROUP_BY constraints first keep the distribution even, then
// unreachable before staging before starting before running instances, and
// within those killSelection (YOUNGEST_FIRST: latest started_at, for
// instances not started yet latest staged_at, first).
std::vector<const Instance*> select_to_kill(const App& app, std::vector<const Instance*> candidates,
                                            size_t count,
                                            const std::map<std::string, SlaveFields>& slave_fields);

// Assigns service ports: every 0 service port of `app` (portDefinitions[].port
// or portMappings[].servicePort) gets the lowest free port in [min, max] not
// in `taken` (the other apps' service ports); non-zero ports are kept. Error
// when the range is exhausted.
Try<App> assign_service_ports(App app, const std::set<int>& taken, int min, int max);

}  // namespace stoa::services
