#include "common/attributes.hpp"

#include <gtest/gtest.h>

namespace stoa {
namespace {

TEST(AttributesTest, ParsesScalarRangesAndText) {
  Try<std::vector<stoa::Attribute>> a = parse_attributes("rack:r1;zone:a;u:2;zone2:[1-3, 5-5]");
  ASSERT_TRUE(a.is_some()) << a.error();
  ASSERT_EQ(4u, a->size());
  EXPECT_EQ("rack", (*a)[0].name());
  EXPECT_EQ(stoa::Value::TEXT, (*a)[0].type());
  EXPECT_EQ("r1", (*a)[0].text().value());
  EXPECT_EQ(stoa::Value::SCALAR, (*a)[2].type());
  EXPECT_DOUBLE_EQ(2.0, (*a)[2].scalar().value());
  EXPECT_EQ(stoa::Value::RANGES, (*a)[3].type());
  ASSERT_EQ(2, (*a)[3].ranges().range_size());
  EXPECT_EQ(1u, (*a)[3].ranges().range(0).begin());
  EXPECT_EQ(3u, (*a)[3].ranges().range(0).end());
}

TEST(AttributesTest, ErrorsNameTheBadToken) {
  for (const char* bad : {"rack", ":x", "zone:", "z:[3-1]", "z:[1-", "s:{a,b}"}) {
    Try<std::vector<stoa::Attribute>> a = parse_attributes(std::string("ok:1;") + bad);
    ASSERT_TRUE(a.is_error()) << bad;
    EXPECT_NE(a.error().find(bad), std::string::npos) << a.error();
  }
}

TEST(AttributesTest, JsonAndStringShape) {
  Try<std::vector<stoa::Attribute>> a = parse_attributes("rack:r1;u:2.5;zone2:[1-3]");
  ASSERT_TRUE(a.is_some());
  google::protobuf::RepeatedPtrField<stoa::Attribute> field(a->begin(), a->end());
  picojson::value v = attributes_to_json(field);
  EXPECT_EQ(R"({"rack":"r1","u":2.5,"zone2":"[1-3]"})", v.serialize());
  std::string text = attributes_to_string(field);
  EXPECT_EQ("rack:r1;u:2.5;zone2:[1-3]", text);
  Try<std::vector<stoa::Attribute>> back = parse_attributes(text);
  ASSERT_TRUE(back.is_some());
  EXPECT_EQ(a->size(), back->size());
}

TEST(AttributesTest, EmptyTextIsNoAttributes) {
  Try<std::vector<stoa::Attribute>> a = parse_attributes(" ; ");
  ASSERT_TRUE(a.is_some());
  EXPECT_TRUE(a->empty());
}

}  // namespace
}  // namespace stoa
