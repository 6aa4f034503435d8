#pragma once
// The web UI's files (webui/app), embedded into the binary at build time
// (webui/embed.cmake). The master serves them at / and /static/<path>
// (master/webui_routes.cpp); docs/operator-api.md describes it.

#include <string_view>
#include <vector>

namespace stoa::webui {

struct Asset {
  std::string_view path;  // relative to webui/app: "index.html", "vendor/uplot/uPlot.iife.min.js"
  std::string_view data;  // the file's bytes
  std::string_view mime;  // Content-Type, from the extension (mime_type)
  std::string_view etag;  // quoted strong validator from the content ("\"<16 hex>\"")
};

// The asset at `path` ("app.js"; one leading '/' is ignored), or nullptr.
// Paths are matched exactly: no '..' resolution, no case folding.
const Asset* find_asset(std::string_view path);

// Every embedded asset, sorted by path.
const std::vector<Asset>& assets();

// The Content-Type for a file name by its extension (case-insensitive):
// html, js/mjs (text/javascript), css, svg, png, jpg, gif, webp, json, map,
// ico, txt, woff/woff2, wasm; anything else application/octet-stream.
std::string_view mime_type(std::string_view path);

}  // namespace stoa::webui
