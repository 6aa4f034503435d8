#pragma once
// Internals of the registry client shared by marathon_json.cpp and
// marathon.cpp: parsing an already-parsed JSON document (so the client parses
// a large /v2/apps body once, and can tell "not JSON" — a dead host, try the
// next — from "JSON without a required key" — refuse the refresh), and the
// Basic credentials header.

#include <string>
#include <vector>

#include <picojson.h>

#include "apps/lb/model.hpp"
#include "common/try.hpp"

namespace stoa::lb {

// parse_apps() on a parsed document. Same contract (model.hpp).
Try<std::vector<App>> parse_apps_json(const picojson::value& doc, const ParseOptions& options);

// "user:pass" -> "Basic dXNlcjpwYXNz" (RFC 7617).
std::string basic_auth_header(const std::string& user_pass);

// The 'message' of a registry error body ({"message": "..."}), or "" when the
// body is not such an object.
std::string registry_error_message(const picojson::value& doc);

}  // namespace stoa::lb
