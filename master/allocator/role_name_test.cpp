#include "master/allocator/role_name.hpp"

#include <gtest/gtest.h>

#include <string>

namespace stoa::allocator {
namespace {

// The message for `role`, or "" if the name is valid.
std::string why(std::string_view role) { return check_role_name(role).value_or(""); }

TEST(RoleNameTest, AcceptsOrdinaryNamesAndTheDefaultRole) {
  for (const char* role :
       {"*", "web", "a", "prod-db", "team_1", "x.y", "...", "a-", "role=1", "ünïcode"}) {
    EXPECT_EQ("", why(role)) << role;
  }
}

TEST(RoleNameTest, RejectsTheDirectoryNamesMesosRejects) {
  EXPECT_EQ("Invalid role '': must not be empty", why(""));
  EXPECT_EQ("Invalid role '.': must not be '.' or '..'", why("."));
  EXPECT_EQ("Invalid role '..': must not be '.' or '..'", why(".."));
  EXPECT_EQ("Invalid role '-web': must not start with '-'", why("-web"));
  EXPECT_EQ("Invalid role 'a/b': contains '/' (hierarchical roles are not supported)", why("a/b"));
  EXPECT_EQ("Invalid role 'a\\b': contains '\\' (a role must be a valid directory name)",
            why("a\\b"));
}

TEST(RoleNameTest, RejectsWhitespaceAndControlCharactersNamingThemInHex) {
  EXPECT_EQ("Invalid role 'a b': contains the whitespace or control character 0x20", why("a b"));
  EXPECT_NE(std::string::npos, why("a\tb").find("0x09"));
  EXPECT_NE(std::string::npos, why("a\bb").find("0x08"));   // Backspace, as Mesos.
  EXPECT_NE(std::string::npos, why("a\x7f").find("0x7f"));  // DEL.
  EXPECT_NE(std::string::npos, why(std::string("a\0b", 3)).find("0x00"));
  EXPECT_NE(std::string::npos, why("web\n").find("0x0a"));
}

TEST(RoleNameTest, RejectsEveryCharacterOfTheTextSyntax) {
  for (char c : std::string("*()[]{},;:")) {
    std::string role = std::string("we") + c + "b";
    std::string message = why(role);
    EXPECT_NE(std::string::npos, message.find("'" + role + "'")) << role;
    EXPECT_NE(std::string::npos, message.find(std::string("contains '") + c + "'")) << role;
  }
  // '*' is valid only as the whole name.
  EXPECT_NE("", why("**"));
  EXPECT_NE("", why("*web"));
}

}  // namespace
}  // namespace stoa::allocator
