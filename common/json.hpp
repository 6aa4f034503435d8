#pragma once
// JSON in and out of our HTTP endpoints.
//
// json_parse() is the only way request bodies and other untrusted text are
// parsed: it never throws, bounds the nesting depth (picojson's own parser
// recurses without a bound on objects, so a body nested 50,000 deep would
// overflow the stack) and refuses numbers that do not fit a double
// (picojson would throw when building the value).
//
// json_serialize() is picojson's serialize(), except that numbers are
// written in their shortest round-trip form (0.1, not 0.10000000000000001)
// and '/' is not escaped.
//
// json_number() builds a number value from a double that may be non-finite
// (a ratio over a zero total, a share over a tiny weight): picojson throws on
// NaN and infinities; we write null instead, so building a response can never
// end an actor.

#include <cstddef>
#include <string>
#include <string_view>

#include <picojson.h>

#include "common/try.hpp"

namespace stoa {

// The deepest nesting of arrays and objects json_parse() accepts.
inline constexpr size_t JSON_MAX_DEPTH = 64;

// Returns the value, or an Error naming what is wrong and where ("nesting
// deeper than 64 levels at byte 65", "number out of range at byte 10: 1e400",
// "syntax error at line 1 near: ...").
Try<picojson::value> json_parse(std::string_view text, size_t max_depth = JSON_MAX_DEPTH);

std::string json_serialize(const picojson::value& v);

picojson::value json_number(double d);

}  // namespace stoa
