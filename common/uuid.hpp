#pragma once
// Random (version 4) UUIDs: 16 raw bytes for status-update ids, or text
// ("6d2ad7f1-6c3c-4a4e-8d9c-2f0c4b1f3e11") for master and container ids.

#include <string>

namespace stoa {

std::string random_uuid_bytes();              // 16 bytes
std::string uuid_to_string(const std::string& bytes);  // REQUIRES: 16 bytes
std::string random_uuid();                    // text form

// Seconds since the epoch, as a double (Mesos' timestamps).
double now_seconds();

}  // namespace stoa
