#include "common/roles.hpp"

#include <cctype>
#include <cstdio>

namespace stoa {

namespace {

// The characters that end a role in our text syntax: resources
// ("cpus(web):1;mem:2", ranges, sets), the comma-separated --roles list.
// '*' is the unreserved role and must stay unambiguous.
constexpr std::string_view SYNTAX_CHARACTERS = "*()[]{},;:";

// `c` as it should appear in a message: printable characters as themselves,
// the others as a hex escape (a tab or a NUL would be invisible).
std::string describe(char c) {
  auto byte = static_cast<unsigned char>(c);
  if (std::isprint(byte) && byte != ' ') {
    return "'" + std::string(1, c) + "'";
  }
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", static_cast<unsigned>(byte));
  return buf;
}

}  // namespace

std::optional<std::string> check_role_name(std::string_view role) {
  if (role == "*") {
    return std::nullopt;
  }
  const std::string quoted = "Invalid role '" + std::string(role) + "'";
  if (role.empty()) {
    return quoted + ": must not be empty";
  }
  if (role == "." || role == "..") {
    return quoted + ": must not be '.' or '..'";
  }
  if (role.front() == '-') {
    return quoted + ": must not start with '-'";
  }
  for (char c : role) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isspace(byte) || std::iscntrl(byte)) {
      return quoted + ": contains the whitespace or control character " + describe(c);
    }
    if (c == '/') {
      return quoted + ": contains '/' (hierarchical roles are not supported)";
    }
    if (c == '\\') {
      return quoted + ": contains '\\' (a role must be a valid directory name)";
    }
    if (SYNTAX_CHARACTERS.find(c) != std::string_view::npos) {
      return quoted + ": contains " + describe(c) +
             ", which is reserved by the resource and flag syntax";
    }
  }
  return std::nullopt;
}

}  // namespace stoa
