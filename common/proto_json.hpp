#pragma once
// Protobuf messages in and out of JSON by reflection, in protobuf's JSON
// mapping with proto field names: what the v1 executor API speaks
// (slave/executor_http.cpp), for proto2 messages without maps or
// well-known types (stoa.proto, executor.proto).
//
// Why not google::protobuf::util: JsonStringToMessage / MessageToJsonString
// convert each message's descriptors into google.protobuf.Type protos on
// every call and go through the binary form; at a few hundred launches a
// second that was ~7 % of the slave's CPU (#17, docs/benchmarks.md). Here a
// message is read from json_parse()'s tree and written straight from the
// message.
//
// Writing (proto_to_json): the fields that are set, in field-number order;
// 64-bit integers as strings, enums by name (by number when unknown),
// bytes in base64, non-finite floats as "NaN" / "Infinity" / "-Infinity".
// Reading (proto_from_json): a key is a field's proto name or its JSON
// (lowerCamelCase) name; unknown keys are ignored (as Mesos' parser does);
// null leaves a field unset; integers as numbers or strings, exact and in
// range; enums by name or number; bytes in standard or URL-safe base64.
// Errors name the field's path and the offending value. Required fields
// are not checked here (Message::IsInitialized is the caller's).

#include <string>
#include <string_view>

#include "common/try.hpp"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace stoa {

std::string proto_to_json(const google::protobuf::Message& message);
void proto_append_json(const google::protobuf::Message& message, std::string* out);

// Merges `text` (a JSON object) into `message`; on error `message` may be
// partly filled.
Try<bool> proto_from_json(std::string_view text, google::protobuf::Message* message);

}  // namespace stoa
