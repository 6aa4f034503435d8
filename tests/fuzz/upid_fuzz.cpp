// UPIDs (actors/upid.hpp): parse_upid() and parse_master_address(), which
// read --master and every address a peer sends.
//
// Input: the text.
//
// Properties: no crash or sanitizer report; a parsed UPID prints (str())
// as text that parses back to the same UPID; a master address parses to a
// UPID whose str() parses too.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "actors/upid.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto parse : {&stoa::parse_upid, &stoa::parse_master_address}) {
    stoa::Try<stoa::Upid> u = parse(text);
    if (u.is_error()) {
      continue;
    }
    STOA_FUZZ_CHECK(!u->id.empty() && !u->host.empty(), "empty id or host from '" + std::string(text) + "'");
    std::string printed = u->str();
    stoa::Try<stoa::Upid> again = stoa::parse_upid(printed);
    STOA_FUZZ_CHECK(again.is_some(), "str() of '" + std::string(text) + "' does not parse: '" +
                                         printed + "': " + (again.is_error() ? again.error() : ""));
    STOA_FUZZ_CHECK(*again == *u, "'" + std::string(text) + "' -> '" + printed + "' -> '" +
                                      again->str() + "'");
    (void)u->address();
  }
  return 0;
}
