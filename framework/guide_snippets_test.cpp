// docs/framework-guide.md quotes framework/examples/guide_framework_main.cpp:
// every C++ block of the guide (split at its "// …" elision lines) must
// still be in the example, so the guide cannot drift from compiled code.

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace stoa {
namespace {

std::string guide_read(const std::string& relative) {
  std::ifstream in(std::string(STOA_SOURCE_DIR) + "/" + relative);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Each line without its indentation, so dedented quotes still match.
std::string guide_unindent(const std::string& text) {
  std::istringstream lines(text);
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    out += line.substr(std::min(line.size(), line.find_first_not_of(' '))) + "\n";
  }
  return out;
}

// The pieces of the guide's ```cpp blocks between elision lines.
std::vector<std::string> guide_snippets(const std::string& guide) {
  std::vector<std::string> pieces;
  std::istringstream lines(guide);
  bool in_block = false;
  std::string piece;
  const auto flush = [&] {
    if (piece.find_first_not_of(" \n") != std::string::npos) {
      pieces.push_back(piece);
    }
    piece.clear();
  };
  for (std::string line; std::getline(lines, line);) {
    if (!in_block) {
      in_block = line == "```cpp";
      continue;
    }
    if (line == "```") {
      flush();
      in_block = false;
    } else if (line.find("// \xE2\x80\xA6") != std::string::npos) {  // "// …"
      flush();
    } else {
      piece += line + "\n";
    }
  }
  return pieces;
}

TEST(FrameworkGuide, EverySnippetIsInTheCompiledExample) {
  const std::string guide = guide_read("docs/framework-guide.md");
  const std::string example = guide_unindent(guide_read("framework/examples/guide_framework_main.cpp"));
  ASSERT_FALSE(guide.empty());
  ASSERT_FALSE(example.empty());
  const std::vector<std::string> snippets = guide_snippets(guide);
  EXPECT_GE(snippets.size(), 8U);
  for (const std::string& snippet : snippets) {
    EXPECT_NE(example.find(guide_unindent(snippet)), std::string::npos) << "not in the example:\n" << snippet;
  }
}

}  // namespace
}  // namespace stoa
