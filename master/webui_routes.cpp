#include "master/webui_routes.hpp"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include "actors/runtime.hpp"
#include "common/strings.hpp"
#include "webui/assets.hpp"

namespace stoa::master {

namespace {

const std::string STATIC_PREFIX = "/static/";

// The file `path` (a request's path) names, relative to the app's root, or a
// 400 response for a path that tries to leave it.
struct AssetPath {
  std::string rel;
  std::optional<http::Response> refused;
};

AssetPath asset_path(const std::string& path) {
  AssetPath out;
  if (path == "/") {
    out.rel = "index.html";
    return out;
  }
  out.rel = path.substr(STATIC_PREFIX.size());
  if (out.rel.find('\0') != std::string::npos) {
    out.refused = http::error_response(400, "Path '" + path + "' contains a NUL byte");
  } else if (!out.rel.empty() && out.rel.front() == '/') {
    out.refused = http::error_response(400, "Path '" + path + "' names an absolute path: web UI files are "
                                                              "relative to the web UI's directory");
  } else {
    for (const std::string& segment : split(out.rel, '/')) {
      if (segment == ".." || segment == ".") {
        out.refused = http::error_response(400, "Path '" + path + "' has a '" + segment +
                                                    "' segment: web UI files are named without them");
        break;
      }
    }
  }
  return out;
}

// If-None-Match lists `etag` (or is "*"); weak comparison, as for GET.
bool etag_matches(const http::Request& req, std::string_view etag) {
  auto h = req.headers.find("if-none-match");
  if (h == req.headers.end()) {
    return false;
  }
  for (const std::string& listed : split(h->second, ',')) {
    std::string candidate(trim(listed));
    if (candidate.rfind("W/", 0) == 0) {
      candidate = candidate.substr(2);
    }
    if (candidate == "*" || candidate == etag) {
      return true;
    }
  }
  return false;
}

http::Response with_validators(http::Response r, const http::Request& req, std::string_view etag) {
  if (etag_matches(req, etag)) {
    http::Response not_modified;
    not_modified.status = 304;
    not_modified.content_type = r.content_type;
    r = std::move(not_modified);
  }
  r.headers.emplace_back("ETag", std::string(etag));
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

std::string real_path(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr), &std::free);
  return resolved ? std::string(resolved.get()) : std::string();
}

http::Response from_disk(const std::string& dir, const std::string& rel, const http::Request& req) {
  auto not_found = [&] { return http::error_response(404, "No web UI file '" + rel + "' in " + dir); };
  std::string root = real_path(dir);
  std::string file = real_path(dir + "/" + rel);
  if (root.empty() || file.empty()) {
    return not_found();
  }
  // A symlink may point anywhere: only files really under the root are served.
  if (file.size() <= root.size() + 1 || file.compare(0, root.size(), root) != 0 || file[root.size()] != '/') {
    return http::error_response(404, "Web UI file '" + rel + "' is outside " + dir);
  }
  struct stat sb {};
  if (::stat(file.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode) || ::access(file.c_str(), R_OK) != 0) {
    return not_found();
  }
  // Size and modification time: a file rewritten in place gets a new one.
  char etag[64];
  std::snprintf(etag, sizeof(etag), "\"%llx-%llx.%lx\"", static_cast<unsigned long long>(sb.st_size),
                static_cast<unsigned long long>(sb.st_mtim.tv_sec), static_cast<long>(sb.st_mtim.tv_nsec));
  http::Response r;
  r.content_type = std::string(webui::mime_type(rel));
  r.body_file = file;
  r.body_file_size = static_cast<uint64_t>(sb.st_size);
  return with_validators(std::move(r), req, etag);
}

}  // namespace

std::optional<std::string> check_webui_dir(const std::string& dir) {
  if (dir.empty()) {
    return "must not be empty";
  }
  struct stat sb {};
  if (::stat(dir.c_str(), &sb) != 0) {
    return std::string("cannot be read: ") + std::strerror(errno);
  }
  if (!S_ISDIR(sb.st_mode)) {
    return "is not a directory";
  }
  if (::access(dir.c_str(), R_OK | X_OK) != 0) {
    return std::string("cannot be read: ") + std::strerror(errno);
  }
  return std::nullopt;
}

http::Response webui_response(const std::optional<std::string>& dir, const http::Request& req) {
  AssetPath p = asset_path(req.path);
  if (p.refused) {
    return std::move(*p.refused);
  }
  if (dir) {
    return from_disk(*dir, p.rel, req);
  }
  const webui::Asset* asset = webui::find_asset(p.rel);
  if (p.rel.empty() || asset == nullptr) {
    return http::error_response(404, "No web UI file '" + p.rel + "'");
  }
  http::Response r;
  r.content_type = std::string(asset->mime);
  r.body = std::string(asset->data);
  return with_validators(std::move(r), req, asset->etag);
}

void register_webui_routes(Runtime& runtime, const std::optional<std::string>& dir) {
  auto handler = [dir](caf::io::broker*, const http::Request& req, http::Responder respond) {
    respond(webui_response(dir, req));
  };
  std::string source = dir ? "from " + *dir + " (--webui_dir)" : "embedded in the binary";
  http::Route index;
  index.path = "/";
  index.help = "The web UI (index.html, " + source + ").";
  index.handler = handler;
  runtime.add_route(index);
  http::Route files;
  files.path = STATIC_PREFIX;
  files.prefix = true;
  files.help = "The web UI's files: /static/<path> (" + source + "); ETag, If-None-Match -> 304.";
  files.handler = handler;
  runtime.add_route(files);
}

}  // namespace stoa::master
