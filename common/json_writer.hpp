#pragma once
// Appending JSON to a string piece by piece, byte for byte as
// json_serialize() (common/json.hpp) writes it: for writers that stream big
// documents without building their tree (master/state_json.cpp).

#include <string>
#include <string_view>

#include <picojson.h>

namespace stoa {

// Appends json_serialize(v).
void json_append(const picojson::value& v, std::string* out);
// Appends `s` as a JSON string (quoted and escaped).
void json_append_string(std::string_view s, std::string* out);
// Appends `d` as json_serialize() writes a number (null when not finite).
void json_append_number(double d, std::string* out);

}  // namespace stoa
