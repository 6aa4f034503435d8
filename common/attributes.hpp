#pragma once
// Slave attributes (Mesos `Attributes`): "rack:r1;zone:a;u:2;zone2:[1-3]".

#include <string_view>
#include <vector>

#include <google/protobuf/repeated_field.h>
#include <picojson.h>

#include "common/try.hpp"
#include "proto/stoa.pb.h"

namespace stoa {

// Parses `name:value` tokens separated by ';' (empty tokens are skipped).
// A value starting with '[' is RANGES ("[1-3, 5-6]"), one that parses as a
// finite number is SCALAR, anything else is TEXT. Sets are not supported
// (as in Mesos). Returns an Error naming the offending token for a missing
// ':'; an empty name or one with whitespace, control characters or any of
// ()[]{},;:; a name given twice; an empty value or one with control
// characters; malformed, reversed, overlapping or empty ranges; a set; a
// text value holding any of []{}, (a mistyped range or list).
Try<std::vector<stoa::Attribute>> parse_attributes(std::string_view text);

// {name: number|string}: scalars as numbers, ranges as "[a-b, c-d]", sets
// as "{a,b}", text as strings.
picojson::value attributes_to_json(const google::protobuf::RepeatedPtrField<stoa::Attribute>& a);

// "rack:r1;u:2;zone2:[1-3]" (round-trips through parse_attributes()).
std::string attributes_to_string(const google::protobuf::RepeatedPtrField<stoa::Attribute>& a);

}  // namespace stoa
