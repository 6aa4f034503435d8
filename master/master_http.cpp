// The master's HTTP routes. A handler only turns the request into a typed
// request to the master actor and the reply into a response; the master
// actor never sees HTTP (STYLE.md §7.3).

#include <glog/logging.h>
#include <picojson.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/actor_route.hpp"
#include "actors/atoms.hpp"
#include "actors/files.hpp"
#include "actors/http_client.hpp"
#include "actors/http.hpp"
#include "actors/runtime.hpp"
#include "actors/safety.hpp"
#include "common/json.hpp"
#include "common/logging.hpp"
#include "common/strings.hpp"
#include "common/version.hpp"
#include "master/master.hpp"
#include "master/state_serving.hpp"
#include "master/webui_routes.hpp"

namespace stoa::master {

namespace {

// How long the master waits for its own answer and for a slave's.
constexpr auto SLAVE_LOOKUP_TIMEOUT = std::chrono::seconds(10);
constexpr auto PROXY_TIMEOUT = std::chrono::seconds(20);
// How long a big view may take (it renders in a child of the master,
// view_renders.cpp), under the HTTP server's 30 s handler timeout.
constexpr auto VIEW_TIMEOUT = std::chrono::seconds(25);
// Smaller bodies go out uncompressed.
constexpr size_t GZIP_MIN_BYTES = 1024;

// A read-only view of the master, as actor_route() serves it, gzipped
// (Content-Encoding: gzip) when the client accepts it and did not ask for
// ?jsonp= (the server wraps that body). Compressing /master/state at 400k
// tasks takes ~0.5 s: a detached actor does it, not the HTTP server.
http::Route view_route(const caf::actor& master, std::string path, std::string endpoint, std::string help) {
  http::Route r = actor_route(master, std::move(path), endpoint, std::move(help));
  r.handler = [master, endpoint](caf::io::broker* self, const http::Request& req, http::Responder respond) {
    std::string target = req.path + (req.query_string.empty() ? std::string() : "?" + req.query_string);
    auto enc = req.headers.find("accept-encoding");
    bool zip = enc != req.headers.end() && accepts_gzip(enc->second) && req.query.count("jsonp") == 0;
    self->request(master, VIEW_TIMEOUT, view_atom_v, endpoint, req.query)
        .then(
            [self, respond, target, zip](int status, const std::string& body, ViewBody& spans) {
              // One render answers every request that waited for it: the
              // body is shared with them, never copied (view_renders.cpp);
              // a rope's pieces are written as they are, never joined.
              std::shared_ptr<const std::string> shared;
              if (!spans) {
                shared = http::share_current_string(self, 1, body);
              }
              if (status == 307) {
                respond(component_response(status, shared ? *shared : spans->str(), target));
                return;
              }
              const size_t size = spans ? spans->size() : shared->size();
              // Compressed off the master's thread when asked for and worth
              // it; otherwise, or with no thread to compress on, as it is.
              Try<caf::actor> zipper = Error("not compressed");
              if (zip && status == 200 && size >= GZIP_MIN_BYTES) {
                zipper = spawn_with_thread(self->system(), ThreadActor::detached, [&] {
                  return self->spawn<caf::detached>([shared, spans](caf::event_based_actor* z) -> caf::behavior {
                    return {[z, shared, spans](state_atom) -> std::string {
                      z->quit();
                      return spans ? gzip(*spans) : gzip(*shared);
                    }};
                  });
                });
              }
              if (zipper.is_error()) {
                http::Response out;
                out.status = status;
                out.shared_body = std::move(shared);
                out.spans_body = std::move(spans);
                respond(std::move(out));
                return;
              }
              self->request(*zipper, VIEW_TIMEOUT, state_atom_v)
                  .then(
                      [respond](std::string& zipped) {
                        http::Response out;
                        out.body = std::move(zipped);
                        out.headers.emplace_back("Content-Encoding", "gzip");
                        out.headers.emplace_back("Vary", "Accept-Encoding");
                        respond(std::move(out));
                      },
                      [respond](caf::error& e) {
                        respond(http::error_response(500, "Cannot compress the view: " + caf::to_string(e)));
                      });
            },
            [respond](caf::error& e) {
              respond(http::error_response(503, "No answer from the master: " + caf::to_string(e)));
            });
  };
  return r;
}

// The slave id a sandbox path names ("<work_dir>/slaves/<id>/..."), or "".
std::string slave_id_in_path(const std::string& path) {
  const std::string marker = "/slaves/";
  size_t at = path.find(marker);
  if (at == std::string::npos) {
    return {};
  }
  size_t start = at + marker.size();
  size_t end = path.find('/', start);
  return path.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The request's raw query without `slave_id` (the slave does not know it).
std::string query_without_slave_id(const std::string& raw) {
  std::string out;
  for (const std::string& part : split(raw, '&')) {
    if (part.empty() || part.rfind("slave_id=", 0) == 0 || part == "slave_id") {
      continue;
    }
    out += (out.empty() ? "" : "&") + part;
  }
  return out;
}

// The answer of a slave, as the master's: 2xx and its bodies pass; an
// error names the slave and carries its message.
http::Response relay(const std::string& sid, const std::string& address, http::Response r) {
  if (r.status >= 200 && r.status < 300) {
    http::Response out;
    out.status = r.status;
    out.content_type = r.content_type;
    out.body = std::move(r.body);
    for (auto& [name, value] : r.headers) {
      if (name == "content-disposition") {
        out.headers.emplace_back("Content-Disposition", value);
      }
    }
    return out;
  }
  std::string message = r.body;
  if (auto v = json_parse(r.body); v.is_some() && v->is<picojson::object>() && v->contains("message")) {
    message = v->get("message").to_str();
  }
  return http::error_response(r.status, "Slave " + sid + " at " + address + " answered " +
                                            std::to_string(r.status) + ": " + message);
}

// Serves /files/<op> for a slave's path by asking that slave.
void proxy_to_slave(const caf::actor& master, caf::io::broker* self, const std::string& op,
                    const http::Request& req, http::Responder respond) {
  auto given = req.query.find("slave_id");
  auto p = req.query.find("path");
  std::string sid = given != req.query.end() ? given->second
                                              : slave_id_in_path(p == req.query.end() ? "" : p->second);
  if (sid.empty()) {
    respond(http::error_response(404, "No file or directory is attached at '" +
                                          (p == req.query.end() ? std::string() : p->second) +
                                          "' on the master, and it names no slave (give slave_id=)"));
    return;
  }
  std::string query = query_without_slave_id(req.query_string);
  self->request(master, SLAVE_LOOKUP_TIMEOUT, state_atom_v, std::string("slaves"),
                std::map<std::string, std::string>{{"slave_id", sid}})
      .then(
          [self, sid, op, query, respond](int status, const std::string& body) {
            auto v = json_parse(body);
            std::string pid;
            if (status == 200 && v.is_some() && v->is<picojson::object>()) {
              const picojson::value& slaves = v->get("slaves");
              if (slaves.is<picojson::array>() && !slaves.get<picojson::array>().empty()) {
                pid = slaves.get<picojson::array>()[0].get("pid").to_str();
              }
            }
            Try<Upid> upid = pid.empty() ? Try<Upid>(Error("no pid")) : parse_upid(pid);
            if (upid.is_error()) {
              respond(http::error_response(status == 200 ? 404 : status, "Unknown slave '" + sid + "'"));
              return;
            }
            std::string address = upid->host + ":" + std::to_string(upid->port);
            http::ClientRequest cr;
            cr.host = upid->host;
            cr.port = upid->port;
            cr.path = "/files/" + op + (query.empty() ? "" : "?" + query);
            cr.timeout = PROXY_TIMEOUT;
            http::fetch(
                self, cr, [sid, address, respond](http::Response r) { respond(relay(sid, address, std::move(r))); },
                [sid, address, respond](caf::error e) {
                  respond(http::error_response(502, "Cannot reach slave " + sid + " at " + address + ": " +
                                                        caf::to_string(e)));
                });
          },
          [respond, sid](caf::error& e) {
            respond(http::error_response(503, "The master did not answer for slave '" + sid + "': " +
                                                  caf::to_string(e)));
          });
}

}  // namespace

void register_master_routes(Runtime& runtime, const caf::actor& master, const MasterFlags& flags) {
  register_webui_routes(runtime, flags.webui_dir);
  // The views that grow with the cluster: rendered off the master actor
  // on big clusters and gzipped for clients that accept it.
  runtime.add_route(view_route(master, "/master/state", "state",
                               "Full state of the cluster: slaves, frameworks, tasks, offers "
                               "(Mesos' /master/state shape). Supports ?jsonp= and gzip."));
  runtime.add_route(view_route(master, "/state", "state", "Alias of /master/state."));
  runtime.add_route(view_route(master, "/master/state.json", "state", "Alias of /master/state."));
  runtime.add_route(view_route(master, "/master/state-summary", "state-summary",
                               "Summary of slaves and frameworks with task counts per state."));
  runtime.add_route(view_route(master, "/master/slaves", "slaves", "Registered slaves; ?slave_id= filters."));
  runtime.add_route(view_route(master, "/master/frameworks", "frameworks",
                               "Active and completed frameworks; ?framework_id= filters."));
  runtime.add_route(view_route(master, "/master/tasks", "tasks",
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

  runtime.add_route(actor_route(master, "/master/utilization", "utilization",
                                "Utilization history (total, allocated and measured used cpus, mem, "
                                "disk, gpus): the cluster's last 15 minutes in 5 s samples, or "
                                "?slave_id= one slave's in 15 s samples (docs/utilization.md)."));
  // Operator actions and maintenance (operator_actions.cpp, maintenance.cpp;
  // docs/operator-api.md).
  runtime.add_route(actor_route(master, "/master/teardown", "teardown",
                                "POST frameworkID=<id> (or {\"framework_id\":\"<id>\"}): removes the framework "
                                "and kills its tasks. 404 for an unknown or completed framework.",
                                {"POST"}, false));
  runtime.add_route(actor_route(master, "/master/kill", "kill",
                                "POST taskID=<id>[&frameworkID=<id>] (or {\"task_id\",\"framework_id\"}): "
                                "sends the kill to the task's slave; 202 {task_id, framework_id, slave_id}.",
                                {"POST"}, false));
  runtime.add_route(actor_route(master, "/master/maintenance/schedule", "maintenance-schedule",
                                "GET: the maintenance schedule ({} when none). POST {\"windows\":[...]}: "
                                "replaces it (Mesos' shape; kept in memory only).",
                                {"GET", "POST"}, false));
  runtime.add_route(actor_route(master, "/master/maintenance/status", "maintenance-status",
                                "Machines draining (scheduled) and down."));
  runtime.add_route(actor_route(master, "/machine/down", "machine-down",
                                "POST [{\"hostname\":\"h\",\"ip\":\"1.2.3.4\"}, ...]: marks scheduled "
                                "machines down.",
                                {"POST"}, false));
  runtime.add_route(actor_route(master, "/machine/up", "machine-up",
                                "POST [{\"hostname\":\"h\",\"ip\":\"1.2.3.4\"}, ...]: brings down "
                                "machines back up (and out of the schedule).",
                                {"POST"}, false));

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

  // /files/*: the master's own log, and every slave's sandboxes by proxy
  // (docs/sandboxes.md). The files actor lives as long as the master actor.
  caf::actor files = files::spawn_files(runtime.system(), master);
  if (!FLAGS_log_dir.empty() && !FLAGS_logtostderr) {
    caf::anon_send(files, files::attach_atom::value, files::info_log_path(FLAGS_log_dir, "stoa-master"),
                   std::string("/master/log"));
  }
  files::register_files_routes(
      runtime, files,
      [master](caf::io::broker* self, const std::string& op, const http::Request& req, http::Responder respond) {
        proxy_to_slave(master, self, op, req, std::move(respond));
      },
      [](const http::Request& req) { return req.query.count("slave_id") > 0; });
}

}  // namespace stoa::master
