#pragma once
// Base64 (RFC 4648, section 4: the standard alphabet A-Z a-z 0-9 + /, padded
// with '=' to a multiple of 4 characters): protobuf's JSON form of `bytes`
// fields, as in the Mesos v1 HTTP APIs (status update uuids, message data).
// Plain C++, no CAF or glog: the HTTP command executor links it on its own.

#include <string>
#include <string_view>

#include "common/try.hpp"

namespace stoa {

// Always padded: 1 byte gives 4 characters ("AA=="), "" gives "".
std::string base64_encode(std::string_view bytes);

// The bytes `text` encodes. Padding may be left out (protobuf's JSON parser
// accepts that too), but when present it comes only at the end and makes
// the length a multiple of 4. Unused low bits of the last character are
// ignored. Errors name the offending character and its position ("invalid
// base64 character '!' at position 3") or the length ("base64 text of 5
// characters is truncated").
Try<std::string> base64_decode(std::string_view text);

}  // namespace stoa
