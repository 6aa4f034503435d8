#include "apps/services/ui_routes.hpp"

#include <algorithm>
#include <string>

#include "apps/services/ui_assets.hpp"
#include "common/strings.hpp"
#include "webui/assets.hpp"

namespace stoa::services {

namespace {

const std::string UI_PREFIX = "/ui/";
const std::string UI_MASTER_PREFIX = "master/";

struct UiFile {
  std::string_view path;
  std::string_view data;
  std::string_view etag;
};

const std::vector<UiFile>& ui_embedded() {
  static const std::vector<UiFile> all = [] {
    size_t count = 0;
    const ui::EmbeddedFile* files = ui::embedded_files(&count);
    std::vector<UiFile> out;
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      out.push_back(UiFile{files[i].path,
                           std::string_view(reinterpret_cast<const char*>(files[i].data), files[i].size),
                           files[i].etag});
    }
    std::sort(out.begin(), out.end(), [](const UiFile& a, const UiFile& b) { return a.path < b.path; });
    return out;
  }();
  return all;
}

const UiFile* ui_find(std::string_view rel) {
  const std::vector<UiFile>& all = ui_embedded();
  auto it = std::lower_bound(all.begin(), all.end(), rel,
                             [](const UiFile& f, std::string_view p) { return f.path < p; });
  return it == all.end() || it->path != rel ? nullptr : &*it;
}

// If-None-Match lists `etag` (or is "*"); weak comparison, as for GET.
bool ui_etag_matches(const http::Request& req, std::string_view etag) {
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

}  // namespace

std::vector<std::string_view> ui_files() {
  std::vector<std::string_view> out;
  for (const UiFile& f : ui_embedded()) {
    out.push_back(f.path);
  }
  return out;
}

http::Response ui_response(const http::Request& req) {
  std::string rel;
  if (req.path == "/" || req.path == "/ui" || req.path == UI_PREFIX) {
    rel = "index.html";
  } else if (req.path.rfind(UI_PREFIX, 0) == 0) {
    rel = req.path.substr(UI_PREFIX.size());
  } else {
    return http::error_response(404, "Path '" + req.path + "' is not a page of the web UI (/ or /ui/<file>)");
  }
  if (rel.find('\0') != std::string::npos) {
    return http::error_response(400, "Path '" + req.path + "' contains a NUL byte");
  }
  for (const std::string& segment : split(rel, '/')) {
    if (segment.empty() || segment == "." || segment == "..") {
      return http::error_response(400, "Path '" + req.path + "' has an empty, '.' or '..' segment: the web UI's "
                                       "files are named without them");
    }
  }
  // /ui/master/<file>: the master's web UI files (its style sheet), shared
  // rather than copied.
  std::string_view path;
  std::string_view data;
  std::string_view etag;
  if (rel.rfind(UI_MASTER_PREFIX, 0) == 0) {
    const webui::Asset* asset = webui::find_asset(rel.substr(UI_MASTER_PREFIX.size()));
    if (asset == nullptr) {
      return http::error_response(404, "No master web UI file '" + rel.substr(UI_MASTER_PREFIX.size()) + "'");
    }
    path = asset->path;
    data = asset->data;
    etag = asset->etag;
  } else {
    const UiFile* file = ui_find(rel);
    if (file == nullptr) {
      return http::error_response(404, "No web UI file '" + rel + "'");
    }
    path = file->path;
    data = file->data;
    etag = file->etag;
  }
  http::Response r;
  r.content_type = std::string(webui::mime_type(path));
  if (ui_etag_matches(req, etag)) {
    r.status = 304;
  } else {
    r.body = std::string(data);
  }
  r.headers.emplace_back("ETag", std::string(etag));
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

std::vector<http::Route> ui_routes() {
  auto handler = [](caf::io::broker*, const http::Request& req, http::Responder respond) {
    respond(ui_response(req));
  };
  std::vector<http::Route> routes;
  for (const char* path : {"/", "/ui"}) {
    http::Route index;
    index.path = path;
    index.help = "The web UI's page (index.html, embedded in the binary).";
    index.handler = handler;
    routes.push_back(std::move(index));
  }
  http::Route files;
  files.path = UI_PREFIX;
  files.prefix = true;
  files.help = "The web UI: /ui/ is the page, /ui/<file> its files (embedded); ETag, If-None-Match -> 304.";
  files.handler = handler;
  routes.push_back(std::move(files));
  return routes;
}

}  // namespace stoa::services
