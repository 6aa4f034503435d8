#include "common/strings.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace stoa {
namespace {

using Parts = std::vector<std::string>;

TEST(Strings, SplitKeepsEveryPartIncludingEmptyOnes) {
  EXPECT_EQ((Parts{"a", "b", "c"}), split("a,b,c", ','));
  EXPECT_EQ((Parts{"a", "", "b"}), split("a,,b", ','));
  EXPECT_EQ((Parts{"", "a", ""}), split(",a,", ','));
  EXPECT_EQ((Parts{""}), split("", ','));
  EXPECT_EQ((Parts{"", ""}), split(",", ','));
  EXPECT_EQ((Parts{"no separator"}), split("no separator", ','));
  EXPECT_EQ((Parts{"cpus:1", " mem:2"}), split("cpus:1; mem:2", ';'));
}

TEST(Strings, SplitPartsOutliveTheirText) {
  Parts parts = split(std::string("x|y"), '|');
  EXPECT_EQ((Parts{"x", "y"}), parts);
}

TEST(Strings, TrimRemovesBlanksAtBothEndsOnly) {
  EXPECT_EQ("a b", trim("  a b\t\r\n"));
  EXPECT_EQ("", trim(" \t "));
  EXPECT_EQ("", trim(""));
  EXPECT_EQ("x", trim("x"));
  // Only the given characters: a form feed is not a default blank.
  EXPECT_EQ("\fx", trim(" \fx "));
  EXPECT_EQ("\nx\n", trim(" \nx\n ", " \t"));
  EXPECT_EQ("b", trim("aaba", "a"));
}

TEST(Strings, LowerTouchesOnlyAsciiCapitals) {
  EXPECT_EQ("content-length", lower("Content-Length"));
  EXPECT_EQ("true 1 _", lower("TRUE 1 _"));
  EXPECT_EQ("\xC3\x89t\xC3\xA9", lower("\xC3\x89T\xC3\xA9"));  // UTF-8 bytes unchanged
  EXPECT_EQ("", lower(""));
}

TEST(Strings, JoinPutsTheSeparatorBetweenParts) {
  EXPECT_EQ("GET, POST", join({"GET", "POST"}, ", "));
  EXPECT_EQ("one", join({"one"}, ","));
  EXPECT_EQ("", join({}, ","));
  EXPECT_EQ(",", join({"", ""}, ","));
}

TEST(Strings, JoinUndoesSplit) {
  for (const std::string text : {"", ",", "a,,b", ",x,"}) {
    EXPECT_EQ(text, join(split(text, ','), ",")) << text;
  }
}

}  // namespace
}  // namespace stoa
