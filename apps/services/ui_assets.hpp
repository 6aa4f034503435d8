#pragma once
// The generated side of stoa-services' embedded page (apps/services/ui):
// webui/embed.cmake writes the definition of embedded_files() into the build
// directory (library stoa_services_ui); ui_routes.cpp serves the files.

#include <cstddef>

#include "webui/assets_data.hpp"

namespace stoa::services::ui {

using webui::EmbeddedFile;

// Every file of apps/services/ui, sorted by path; `*count` gets their number.
const EmbeddedFile* embedded_files(size_t* count);

}  // namespace stoa::services::ui
