#pragma once
// The jq-like paths of `stoa state`: `.slaves[0].hostname`, `.frameworks[].name`.
//
// Grammar: a path is `.` (the whole value) or a chain of steps:
//   .name      a key (letters, digits, '_', '-'); the first '.' may be left out
//   ["key"]    a key with any characters (JSON string escapes allowed)
//   [N]        an array element; negative N counts from the end
//   []         every element of an array (or every value of an object)
// Whitespace is not allowed. Select() yields every value the path reaches.
// (select_path: `select` would meet the POSIX function.)

#include <string>
#include <vector>

#include <picojson.h>

#include "framework/cli.hpp"

namespace stoa::cli {

struct Step {
  enum Kind { KEY, INDEX, EACH } kind = KEY;
  std::string key;
  long index = 0;

  bool operator==(const Step&) const = default;
};

// The steps of `path`, or EXIT_USAGE naming the path and the offending position.
Result<std::vector<Step>> parse_path(const std::string& path);

// The values `steps` reach in `root`. A missing key, an index out of range
// or a step that does not fit the value (a key of an array) is EXIT_NOT_FOUND
// naming the path up to there ("no key 'x' at .slaves[0]").
Result<std::vector<picojson::value>> select_path(const picojson::value& root, const std::vector<Step>& steps);

// The steps as text: {KEY slaves, INDEX 0} -> ".slaves[0]".
std::string path_text(const std::vector<Step>& steps);

}  // namespace stoa::cli
