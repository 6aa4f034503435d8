// Slave attributes text (common/attributes.hpp, --attributes).
//
// Input: the flag value.
//
// Properties: no crash or sanitizer report; what attributes_to_string()
// writes parses again (it is documented to round-trip), with the same names
// and types; attributes_to_json() serializes.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/attributes.hpp"
#include "common/json.hpp"
#include "tests/fuzz/fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = stoa::parse_attributes(text);
  if (parsed.is_error()) {
    return 0;
  }
  google::protobuf::RepeatedPtrField<stoa::Attribute> attrs(parsed->begin(), parsed->end());
  (void)stoa::json_serialize(stoa::attributes_to_json(attrs));
  std::string printed = stoa::attributes_to_string(attrs);
  auto again = stoa::parse_attributes(printed);
  STOA_FUZZ_CHECK(again.is_some(), "attributes_to_string() of '" + std::string(text) +
                                       "' does not parse: '" + printed + "': " +
                                       (again.is_error() ? again.error() : ""));
  STOA_FUZZ_CHECK(again->size() == static_cast<size_t>(attrs.size()), "count changes: '" + printed + "'");
  for (int i = 0; i < attrs.size(); ++i) {
    const stoa::Attribute& x = attrs[i];
    const stoa::Attribute& y = (*again)[static_cast<size_t>(i)];
    STOA_FUZZ_CHECK(x.name() == y.name() && x.type() == y.type(),
                    "attribute " + std::to_string(i) + " changes: '" + std::string(text) +
                        "' -> '" + printed + "' (" + x.ShortDebugString() + " vs " +
                        y.ShortDebugString() + ")");
  }
  return 0;
}
