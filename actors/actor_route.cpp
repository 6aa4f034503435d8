#include "actors/actor_route.hpp"

#include <picojson.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/atoms.hpp"

namespace stoa {

http::Response component_response(int status, std::string body, const std::string& target) {
  http::Response resp;
  resp.status = status;
  if (status == 307) {
    std::string location = body + target;
    resp.headers.emplace_back("Location", location);
    picojson::object o;
    o["message"] = picojson::value("Redirecting to the leading master");
    o["location"] = picojson::value(location);
    resp.body = picojson::value(o).serialize();
  } else {
    resp.body = std::move(body);
  }
  return resp;
}

namespace {

constexpr auto ROUTE_TIMEOUT = std::chrono::seconds(10);

}  // namespace

http::Route actor_route(const caf::actor& target, std::string path, std::string endpoint,
                        std::string help, std::vector<std::string> methods, bool prefix) {
  http::Route r;
  r.path = std::move(path);
  r.help = std::move(help);
  r.methods = std::move(methods);
  r.prefix = prefix;
  r.handler = [target, endpoint](caf::io::broker* self, const http::Request& req,
                                 http::Responder respond) {
    // A 307 reply carries the base URL of where to go ("//host:port"): the
    // request's path and query are appended, except for the redirect
    // endpoint itself, which names the base (Mesos' /master/redirect).
    std::string target_path = endpoint == "redirect" ? std::string() : req.path;
    if (!target_path.empty() && !req.query_string.empty()) {
      target_path += "?" + req.query_string;
    }
    auto on_reply = [respond, target_path](int status, std::string& body) {
      respond(component_response(status, std::move(body), target_path));
    };
    auto on_error = [respond](caf::error& e) {
      respond(http::error_response(503, "No answer from the component: " + caf::to_string(e)));
    };
    if (req.method == "GET" || req.method == "HEAD") {
      self->request(target, ROUTE_TIMEOUT, state_atom_v, endpoint, req.query)
          .then(on_reply, on_error);
    } else {
      self->request(target, ROUTE_TIMEOUT, update_atom_v, endpoint, req.method, req.path, req.body)
          .then(on_reply, on_error);
    }
  };
  return r;
}

}  // namespace stoa
