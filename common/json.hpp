#pragma once
// JSON text for our HTTP answers. Same as picojson's serialize(), except
// that numbers are written in their shortest round-trip form (0.1, not
// picojson's 0.10000000000000001) and '/' is not escaped. (picojson refuses
// non-finite numbers when a value is built, so none reach here.)

#include <string>

#include <picojson.h>

namespace stoa {

std::string json_serialize(const picojson::value& v);

}  // namespace stoa
