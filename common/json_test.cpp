#include "common/json.hpp"

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

}  // namespace
}  // namespace stoa
