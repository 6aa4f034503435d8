#include "common/roles.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/resources.hpp"

namespace stoa {
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

// Reservations in the text syntax and in Resource protobufs follow the same
// rule and report its message.
TEST(RoleNameTest, ResourcesFollowTheSameRule) {
  for (const char* role : {"", ".", "..", "-web", "a/b", "a\\b", "a*", "*web", "we b", "a\x7f"}) {
    std::string expected = why(role);
    ASSERT_NE("", expected) << role;
    Try<Resources> parsed = Resources::parse(std::string("cpus(") + role + "):1");
    ASSERT_TRUE(parsed.is_error()) << role;
    EXPECT_NE(std::string::npos, parsed.error().find(expected)) << parsed.error();

    google::protobuf::RepeatedPtrField<stoa::Resource> proto;
    stoa::Resource* r = proto.Add();
    r->set_name("cpus");
    r->set_type(stoa::Value::SCALAR);
    r->mutable_scalar()->set_value(1);
    r->set_role(role);
    Try<Resources> converted = Resources::from_proto(proto);
    ASSERT_TRUE(converted.is_error()) << role;
    EXPECT_NE(std::string::npos, converted.error().find(expected)) << converted.error();
  }
  for (const char* role : {"*", "web", "x.y", "role=1"}) {
    Try<Resources> parsed = Resources::parse(std::string("cpus(") + role + "):1");
    ASSERT_FALSE(parsed.is_error()) << parsed.error();
    EXPECT_EQ(1u, parsed->roles().count(role)) << role;
  }
}

}  // namespace
}  // namespace stoa
