#pragma once
// The web UI on the master: GET / (index.html) and GET /static/<path>, from
// the assets embedded at build time (webui/assets.hpp) or, with
// --webui_dir=DIR, from DIR on disk, read per request (docs/operator-api.md).
// Every answer carries an ETag and `Cache-Control: no-cache`; a matching
// If-None-Match is a 304.

#include <optional>
#include <string>

#include "actors/http.hpp"

namespace stoa {
class Runtime;
}  // namespace stoa

namespace stoa::master {

// Adds / and /static/ to the runtime's routes. `dir`: --webui_dir.
void register_webui_routes(Runtime& runtime, const std::optional<std::string>& dir);

// The answer to `req` for a GET of / or /static/<path> (what the routes
// run; pure apart from reading `dir`). `..` segments and absolute paths are
// a 400; a missing asset, a directory, or a file whose real path (after
// symlinks) is outside `dir` a 404.
http::Response webui_response(const std::optional<std::string>& dir, const http::Request& req);

// --webui_dir's check: an existing, readable directory.
std::optional<std::string> check_webui_dir(const std::string& dir);

}  // namespace stoa::master
