// The master's HTTP routes. A handler only turns the request into a typed
// request to the master actor and the reply into a response; the master
// actor never sees HTTP (STYLE.md §7.3).

#include <picojson.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/actor_route.hpp"
#include "actors/atoms.hpp"
#include "actors/http.hpp"
#include "actors/runtime.hpp"
#include "common/version.hpp"
#include "master/master.hpp"

namespace stoa::master {

void register_master_routes(Runtime& runtime, const caf::actor& master) {
  runtime.add_route(actor_route(master, "/master/state", "state",
                                "Full state of the cluster: slaves, frameworks, tasks, offers "
                                "(Mesos' /master/state shape). Supports ?jsonp=."));
  runtime.add_route(actor_route(master, "/state", "state", "Alias of /master/state."));
  runtime.add_route(actor_route(master, "/master/state.json", "state", "Alias of /master/state."));
  runtime.add_route(actor_route(master, "/master/state-summary", "state-summary",
                                "Summary of slaves and frameworks with task counts per state."));
  runtime.add_route(
      actor_route(master, "/master/slaves", "slaves", "Registered slaves; ?slave_id= filters."));
  runtime.add_route(actor_route(master, "/master/frameworks", "frameworks",
                                "Active and completed frameworks; ?framework_id= filters."));
  runtime.add_route(actor_route(master, "/master/tasks", "tasks",
                                "Tasks of all frameworks: ?limit=100&offset=0&order=des|asc"
                                "&framework_id=&task_id=."));
  runtime.add_route(actor_route(master, "/master/flags", "flags", "The master's effective flags."));
  runtime.add_route(actor_route(master, "/master/roles", "roles",
                                "Roles with their weight, frameworks, allocated, offered and "
                                "reserved resources and quota."));
  runtime.add_route(actor_route(master, "/master/weights", "weights",
                                "GET: role weights. PUT [{\"role\":\"web\",\"weight\":2}]: "
                                "changes them at run time (400 and no change on bad input).",
                                {"GET", "PUT"}, false));
  runtime.add_route(actor_route(master, "/master/quota", "quota",
                                "GET: quotas. POST {\"role\":\"web\",\"guarantee\":[...]} sets "
                                "one; DELETE /master/quota/<role> removes it.",
                                {"GET", "POST", "DELETE"}, false));
  runtime.add_route(actor_route(master, "/master/quota/", "quota",
                                "DELETE /master/quota/<role>: removes the role's quota.",
                                {"DELETE"}, true));

  runtime.add_route(actor_route(master, "/master/health", "health",
                                "Answers 200 OK with an empty body when the master actor answers "
                                "(503 when it does not: the component is checked, not the socket)."));

  runtime.add_route(actor_route(master, "/master/redirect", "redirect",
                                "307 to the leading master (Location: //host:port); 503 when no "
                                "master leads."));

  http::Route version;
  version.path = "/version";
  version.help = "Version and build information of this Stoa binary.";
  version.handler = [](caf::io::broker*, const http::Request&, http::Responder respond) {
    picojson::object o;
    o["version"] = picojson::value(STOA_VERSION);
    o["build_date"] = picojson::value(build_date());
    o["build_time"] = picojson::value(build_time());
    o["build_user"] = picojson::value(build_user());
    respond(http::json_response(picojson::value(o)));
  };
  runtime.add_route(version);
}

}  // namespace stoa::master
