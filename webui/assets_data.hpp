#pragma once
// The generated side of the embedded web UI (internal to webui/): embed.cmake
// writes the definition of embedded_files() into the build directory.

#include <cstddef>

namespace stoa::webui {

struct EmbeddedFile {
  const char* path;           // relative to webui/app, '/'-separated
  const unsigned char* data;  // `size` bytes (plus a trailing 0)
  size_t size;
  const char* etag;  // quoted, e.g. "\"3f2a...\""
};

// Every file of webui/app, sorted by path; `*count` gets their number.
const EmbeddedFile* embedded_files(size_t* count);

}  // namespace stoa::webui
