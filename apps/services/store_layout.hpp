#pragma once
// How both store back ends lay keys out (store.hpp): a key's components,
// each percent-encoded, are the directories (znodes) on the way, and the
// last one with VALUE_SUFFIX holds the value. Internal to store*.cpp.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/error.hpp>

namespace stoa::services::store_layout {

// The leaf that holds a key's value: "<encoded last component>.v". Encoded
// components never contain '.', so a value never collides with a directory
// (znode) of a longer key, and anything else with a '.' (a temporary file)
// is not a value.
inline constexpr std::string_view VALUE_SUFFIX = ".v";
// An encoded component's longest form (file names stop at 255 bytes).
constexpr size_t MAX_ENCODED_COMPONENT = 200;

// Every byte but [A-Za-z0-9_-] as %XX (upper-case hex).
std::string encode_component(std::string_view raw);
// The reverse; nullopt when `encoded` is not an encode_component() output.
std::optional<std::string> decode_component(std::string_view encoded);

// REQUIRES: check_key(key) is nullopt.
std::vector<std::string> split_key(const std::string& key);
// The encoded path of a key below the root, without the value suffix:
// "apps/prod/web" -> "apps/prod/web" (with any odd byte encoded).
std::string encoded_path(const std::string& key);

// A prefix for delete_prefix as a key (trailing '/' dropped), or why not.
// An empty prefix (or "/") means every key.
std::optional<std::string> normalize_prefix(const std::string& prefix, std::string* out);

// nullopt when `value` fits (at most MAX_STORE_VALUE_BYTES), else why not,
// naming the key and the size.
std::optional<std::string> check_value(const std::string& key, const std::string& value);

// sec::runtime_error carrying `text`.
caf::error store_error(std::string text);
// The text of an error of the ZooKeeper client or of ours.
std::string error_text(const caf::error& e);

}  // namespace stoa::services::store_layout
