// The route table: exact paths and prefixes, replacement by (path, prefix),
// longest-prefix matching, and the built-in GET /help.
#include <caf/io/broker.hpp>

#include <picojson.h>

#include "actors/http.hpp"
#include "actors/http_server_core.hpp"

namespace stoa::http::detail {

void ServerCore::add_route(Route r) {
  for (auto& existing : routes) {
    if (existing.path == r.path && existing.prefix == r.prefix) {
      existing = std::move(r);
      return;
    }
  }
  routes.push_back(std::move(r));
}

const Route* ServerCore::match(const std::string& path) const {
  const Route* best = nullptr;
  for (const auto& r : routes) {
    if (!r.prefix) {
      if (r.path == path) {
        return &r;
      }
    } else if (path.compare(0, r.path.size(), r.path) == 0 &&
               (best == nullptr || r.path.size() > best->path.size())) {
      best = &r;
    }
  }
  return best;
}

Route help_route(std::weak_ptr<ServerCore> weak) {
  Route r;
  r.path = "/help";
  r.help = "Lists every route of this server with its help text and methods (JSON).";
  r.handler = [weak](caf::io::broker*, const Request&, Responder respond) {
    auto core = weak.lock();
    if (!core) {
      return;
    }
    picojson::array list;
    for (const auto& route : core->routes) {
      picojson::object o;
      o["path"] = picojson::value(route.path);
      o["help"] = picojson::value(route.help);
      o["prefix"] = picojson::value(route.prefix);
      picojson::array methods;
      for (const auto& m : route.methods) {
        methods.emplace_back(m);
      }
      o["methods"] = picojson::value(std::move(methods));
      list.emplace_back(std::move(o));
    }
    picojson::object root;
    root["routes"] = picojson::value(std::move(list));
    respond(json_response(picojson::value(std::move(root))));
  };
  return r;
}

}  // namespace stoa::http::detail
