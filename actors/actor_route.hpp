#pragma once
// HTTP routes answered by an actor that never sees HTTP: the handler sends
// the actor a typed request and turns its `(int status, std::string json)`
// reply into the response (STYLE.md §7.3).
//
//   GET (and HEAD)  -> (state_atom, endpoint, query)
//   other methods   -> (update_atom, endpoint, method, path, body)
//
// A reply with status 307 carries in its body the base URL to redirect to
// ("//host:port"); the Location header is that base plus the request's path
// and query (only the base for the endpoint "redirect").

#include <string>
#include <vector>

#include <caf/actor.hpp>

#include "actors/http.hpp"

namespace stoa {

// A component's (status, body) answer as HTTP: a 307 carries the leader's
// base URL in `body`, answered with `Location: <body><target>` and a JSON
// message naming it; any other status passes `body` through.
http::Response component_response(int status, std::string body, const std::string& target);

http::Route actor_route(const caf::actor& target, std::string path, std::string endpoint,
                        std::string help, std::vector<std::string> methods = {"GET"},
                        bool prefix = false);

}  // namespace stoa
