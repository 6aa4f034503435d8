// Every JSON request body: stoa::json_parse() (common/json.hpp), and the
// body validators of PUT /master/weights and POST /master/quota
// (master/validation.hpp parse_weights_body / parse_quota_body) when this
// tree has them (STOA_FUZZ_BODY_VALIDATORS, set by CMakeLists.txt).
//
// Input: the request body.
//
// Properties: no crash, exception or sanitizer report (json_parse must never
// throw, and must bound the nesting depth: a deep body would otherwise
// overflow the stack, which ASan reports); what json_serialize() writes for
// an accepted value is accepted again, and serializing reaches a fixpoint
// after one round (1.0 is written "1" and read back as an integer, so the
// first round may change the text); accepted weights have valid roles and
// weights in range; an accepted quota has a valid role and a guarantee that
// round-trips through its text form.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/json.hpp"
#include "tests/fuzz/fuzz_check.hpp"

#ifdef STOA_FUZZ_BODY_VALIDATORS
#include "master/validation.hpp"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  stoa::Try<picojson::value> v = stoa::json_parse(body);
  if (v.is_some()) {
    std::string s1 = stoa::json_serialize(*v);
    stoa::Try<picojson::value> v1 = stoa::json_parse(s1);
    STOA_FUZZ_CHECK(v1.is_some(), "json_serialize wrote what json_parse refuses: " + s1 + " (" +
                                      (v1.is_error() ? v1.error() : "") + ")");
    std::string s2 = stoa::json_serialize(*v1);
    stoa::Try<picojson::value> v2 = stoa::json_parse(s2);
    STOA_FUZZ_CHECK(v2.is_some(), "second round refused: " + s2);
    std::string s3 = stoa::json_serialize(*v2);
    STOA_FUZZ_CHECK(s2 == s3, "serialization does not settle: " + s2 + " vs " + s3);
  }

#ifdef STOA_FUZZ_BODY_VALIDATORS
  auto weights = stoa::master::parse_weights_body(body);
  if (weights.is_some()) {
    STOA_FUZZ_CHECK(v.is_some(), "weights accepted from a body json_parse refuses");
    STOA_FUZZ_CHECK(!weights->empty(), "empty weights accepted");
    for (const auto& [role, w] : *weights) {
      STOA_FUZZ_CHECK(!stoa::master::validate_role(role), "invalid role accepted: " + role);
      STOA_FUZZ_CHECK(!stoa::master::validate_weight(w), "weight out of range accepted");
    }
  }
  auto quota = stoa::master::parse_quota_body(body);
  if (quota.is_some()) {
    STOA_FUZZ_CHECK(v.is_some(), "quota accepted from a body json_parse refuses");
    STOA_FUZZ_CHECK(!stoa::master::validate_role(quota->role),
                    "invalid role accepted: " + quota->role);
    std::string text = quota->guarantee.to_string();
    auto again = stoa::Resources::parse(text);
    STOA_FUZZ_CHECK(again.is_some() && *again == quota->guarantee,
                    "guarantee does not round-trip: " + text);
    (void)stoa::json_serialize(stoa::resources_to_json(quota->guarantee));
  }
#endif
  return 0;
}
