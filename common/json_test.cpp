#include "common/json.hpp"

#include <cmath>

#include <gtest/gtest.h>

namespace stoa {
namespace {

TEST(Json, ShortestNumbersAndRoundTrip) {
  picojson::object o;
  o["cpus"] = picojson::value(0.1);
  o["mem"] = picojson::value(4096.0);
  o["n"] = picojson::value(static_cast<int64_t>(-7));
  o["big"] = picojson::value(1e21);
  std::string text = json_serialize(picojson::value(o));
  EXPECT_NE(text.find("\"cpus\":0.1,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"mem\":4096"), std::string::npos) << text;
  EXPECT_NE(text.find("\"n\":-7"), std::string::npos) << text;
  picojson::value back;
  ASSERT_TRUE(picojson::parse(back, text).empty()) << text;
  EXPECT_EQ(back.get("cpus").get<double>(), 0.1);
  EXPECT_EQ(back.get("big").get<double>(), 1e21);
}

TEST(Json, StringsAreEscaped) {
  picojson::array a{picojson::value(std::string("a\"b\\c\n\x01/d")), picojson::value(true),
                    picojson::value()};
  std::string text = json_serialize(picojson::value(a));
  EXPECT_EQ(text, R"(["a\"b\\c\n\u0001/d",true,null])");
  picojson::value back;
  ASSERT_TRUE(picojson::parse(back, text).empty());
  EXPECT_EQ(back.get<picojson::array>()[0].get<std::string>(), "a\"b\\c\n\x01/d");
}

TEST(JsonParse, AcceptsOrdinaryDocuments) {
  Try<picojson::value> v = json_parse(R"( [{"role":"web","weight":2.5,"n":3,"ok":true,"x":null}] )");
  ASSERT_TRUE(v.is_some()) << v.error();
  const picojson::value& e = v->get<picojson::array>().at(0);
  EXPECT_EQ(e.get("role").get<std::string>(), "web");
  EXPECT_EQ(e.get("weight").get<double>(), 2.5);
  EXPECT_TRUE(e.get("n").is<int64_t>());
  EXPECT_TRUE(e.get("x").is<picojson::null>());
}

TEST(JsonParse, DeepNestingIsAnErrorNotACrash) {
  // 50,000 nested objects overflowed the stack in picojson's own parser.
  std::string deep;
  for (int i = 0; i < 50000; ++i) {
    deep += "{\"a\":";
  }
  Try<picojson::value> v = json_parse(deep);
  ASSERT_TRUE(v.is_error());
  EXPECT_NE(v.error().find("nesting deeper than 64 levels"), std::string::npos) << v.error();
  std::string arrays(100000, '[');
  ASSERT_TRUE(json_parse(arrays).is_error());
  // Exactly the limit is fine.
  std::string ok = std::string(JSON_MAX_DEPTH, '[') + std::string(JSON_MAX_DEPTH, ']');
  EXPECT_TRUE(json_parse(ok).is_some());
  std::string over = std::string(JSON_MAX_DEPTH + 1, '[') + std::string(JSON_MAX_DEPTH + 1, ']');
  EXPECT_TRUE(json_parse(over).is_error());
}

TEST(JsonParse, NonFiniteNumbersAreErrorsNamingTheNumber) {
  Try<picojson::value> v = json_parse(R"([{"role":"web","weight":1e400}])");
  ASSERT_TRUE(v.is_error());
  EXPECT_NE(v.error().find("number out of range"), std::string::npos) << v.error();
  EXPECT_NE(v.error().find("1e400"), std::string::npos) << v.error();
  EXPECT_TRUE(json_parse("-1e999").is_error());
  // Tiny numbers are finite (they round to 0 or a denormal): accepted here,
  // range checks belong to the field.
  EXPECT_TRUE(json_parse("5e-324").is_some());
  EXPECT_TRUE(json_parse("99999999999999999999").is_some());  // beyond int64: a double
}

TEST(JsonParse, SyntaxErrorsNameThePlace) {
  Try<picojson::value> v = json_parse(R"({"a": tru})");
  ASSERT_TRUE(v.is_error());
  EXPECT_NE(v.error().find("at byte"), std::string::npos) << v.error();
  EXPECT_TRUE(json_parse("").is_error());
  EXPECT_TRUE(json_parse("{} x").is_error());
  EXPECT_TRUE(json_parse("\"\\ud800\"").is_error());  // lone surrogate
  // The error text is bounded however long the rest of the line is.
  std::string long_tail = "{\"a\": x" + std::string(1 << 20, 'y') + "}";
  Try<picojson::value> t = json_parse(long_tail);
  ASSERT_TRUE(t.is_error());
  EXPECT_LT(t.error().size(), 200u);
}

TEST(JsonNumber, NonFiniteBecomesNull) {
  EXPECT_TRUE(json_number(1.0 / 0.0).is<picojson::null>());
  EXPECT_TRUE(json_number(std::nan("")).is<picojson::null>());
  EXPECT_EQ(json_number(0.5).get<double>(), 0.5);
}

}  // namespace
}  // namespace stoa
