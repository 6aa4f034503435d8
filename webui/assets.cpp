#include "webui/assets.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "webui/assets_data.hpp"

namespace stoa::webui {

std::string_view mime_type(std::string_view path) {
  size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) {
    return "application/octet-stream";
  }
  std::string ext(name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  struct Type {
    const char* ext;
    const char* mime;
  };
  static constexpr Type TYPES[] = {
      {"html", "text/html; charset=utf-8"},
      {"htm", "text/html; charset=utf-8"},
      {"js", "text/javascript"},
      {"mjs", "text/javascript"},
      {"css", "text/css; charset=utf-8"},
      {"svg", "image/svg+xml"},
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"ico", "image/x-icon"},
      {"json", "application/json"},
      {"map", "application/json"},
      {"txt", "text/plain; charset=utf-8"},
      {"md", "text/plain; charset=utf-8"},
      {"woff", "font/woff"},
      {"woff2", "font/woff2"},
      {"wasm", "application/wasm"},
  };
  for (const Type& t : TYPES) {
    if (ext == t.ext) {
      return t.mime;
    }
  }
  return "application/octet-stream";
}

const std::vector<Asset>& assets() {
  static const std::vector<Asset> all = [] {
    size_t count = 0;
    const EmbeddedFile* files = embedded_files(&count);
    std::vector<Asset> out;
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      const EmbeddedFile& f = files[i];
      out.push_back(Asset{f.path, std::string_view(reinterpret_cast<const char*>(f.data), f.size),
                          mime_type(f.path), f.etag});
    }
    std::sort(out.begin(), out.end(), [](const Asset& a, const Asset& b) { return a.path < b.path; });
    return out;
  }();
  return all;
}

const Asset* find_asset(std::string_view path) {
  if (!path.empty() && path.front() == '/') {
    path.remove_prefix(1);
  }
  const std::vector<Asset>& all = assets();
  auto it = std::lower_bound(all.begin(), all.end(), path,
                             [](const Asset& a, std::string_view p) { return a.path < p; });
  if (it == all.end() || it->path != path) {
    return nullptr;
  }
  return &*it;
}

}  // namespace stoa::webui
