#pragma once
// stoa-services' web page (apps/services/ui, embedded at build time into
// stoa_services_ui by webui/embed.cmake): GET / and GET /ui/ (and /ui) answer
// index.html, GET /ui/<file> the other files. Every answer carries an ETag
// (the first 16 hex digits of the file's SHA-256), `Cache-Control: no-cache`
// and `X-Content-Type-Options: nosniff`; a matching If-None-Match is a 304.
// A '.', '..' or empty segment or a NUL byte is a 400, an unknown file a 404.

#include <string_view>
#include <vector>

#include "actors/http.hpp"

namespace stoa::services {

std::vector<http::Route> ui_routes();

// The answer to a GET of `req.path` (what the routes run; pure).
http::Response ui_response(const http::Request& req);

// The embedded page's file names ("index.html", "app.js", ...), sorted.
std::vector<std::string_view> ui_files();

}  // namespace stoa::services
