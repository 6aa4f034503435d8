#pragma once
// Small string rules with one home: splitting, trimming, lower-casing and
// joining. ASCII only: bytes above 0x7f are left as they are.

#include <string>
#include <string_view>
#include <vector>

namespace stoa {

// `text` cut at every `sep`, keeping empty parts: n separators give n + 1
// parts, so "" gives {""}, "a,,b" gives {"a", "", "b"} and "a," gives
// {"a", ""}. Callers that do not want empty parts skip them (trimming first
// if blanks count as empty). The parts are copies: `text` may go away.
std::vector<std::string> split(std::string_view text, char sep);

// The default set of blanks trimmed: space, tab, CR and LF.
inline constexpr std::string_view BLANKS = " \t\r\n";

// `text` without leading and trailing characters from `chars`. The result
// views `text`: keep `text` alive while using it.
std::string_view trim(std::string_view text, std::string_view chars = BLANKS);

// `text` with 'A'-'Z' turned into 'a'-'z' (HTTP header names, booleans).
std::string lower(std::string_view text);

// The parts with `sep` between them: {"a", "b"} and ", " give "a, b"; no parts
// give "".
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// The description of errno value `err` ("No such file or directory"), or
// "Unknown error <err>"; thread-safe, unlike strerror.
std::string errno_text(int err);

}  // namespace stoa
