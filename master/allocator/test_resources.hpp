#pragma once
// Resources from text in the allocator's tests: R("cpus:1;mem:128").

#include <string_view>

#include "common/resources.hpp"

namespace stoa::allocator {

// REQUIRES: `text` parses (a test's own literal).
inline Resources R(std::string_view text) { return *Resources::parse(text); }

}  // namespace stoa::allocator
