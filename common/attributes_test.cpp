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

TEST(AttributesTest, RejectsWhatAHostileUserWouldTry) {
  for (const char* bad : {"rack", ":x", "zone:", "z:[3-1]", "z:[1-", "z:[]", "z:[1-2,,3]",
                          "z:[1-10, 5-6]", "z:[a-b]", "z:[1-2-3]", "z:[-1]", "s:{a,b}", "s:{}", "t:a]",
                          "t:a,b", "t:{a", "t:a}", "r a:1", "z:[1-99999999999999999999999]"}) {
    Try<std::vector<stoa::Attribute>> a = parse_attributes(std::string("ok:1;") + bad);
    ASSERT_TRUE(a.is_error()) << bad;
    EXPECT_NE(a.error().find(bad), std::string::npos) << a.error();
  }
  // A name given twice.
  Try<std::vector<stoa::Attribute>> dup = parse_attributes("rack:r1;zone:a;rack:r2");
  ASSERT_TRUE(dup.is_error());
  EXPECT_NE(dup.error().find("rack:r2"), std::string::npos) << dup.error();
  EXPECT_NE(dup.error().find("already given"), std::string::npos) << dup.error();
  // Control characters.
  EXPECT_TRUE(parse_attributes(std::string("ra\x01ck:r1")).is_error());
  EXPECT_TRUE(parse_attributes(std::string("rack:r\x7f" "1")).is_error());
  EXPECT_TRUE(parse_attributes(std::string("rack:r1\0", 8)).is_error());
}

TEST(AttributesTest, NonFiniteOrHugeNumbersAreText) {
  Try<std::vector<stoa::Attribute>> a = parse_attributes("n:nan;i:inf;h:1e400;neg:-2;big:1e300");
  ASSERT_TRUE(a.is_some()) << a.error();
  ASSERT_EQ(5u, a->size());
  EXPECT_EQ(stoa::Value::TEXT, (*a)[0].type());
  EXPECT_EQ(stoa::Value::TEXT, (*a)[1].type());
  EXPECT_EQ(stoa::Value::TEXT, (*a)[2].type());
  EXPECT_EQ(stoa::Value::SCALAR, (*a)[3].type());
  EXPECT_DOUBLE_EQ(-2.0, (*a)[3].scalar().value());
  EXPECT_EQ(stoa::Value::SCALAR, (*a)[4].type());
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
