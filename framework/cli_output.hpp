#pragma once
// How `stoa` prints: aligned tables for people, JSON for scripts.

#include <string>
#include <vector>

#include <picojson.h>

namespace stoa::cli {

// Columns padded to their widest cell (counted in UTF-8 code points), two
// spaces apart, the header first; the last column is not padded. A row
// shorter than the header is padded with empty cells. No rows: the header only.
std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows);

// JSON indented by two spaces per level, numbers in their shortest form
// (json_serialize), keys in picojson's (sorted) order. No trailing newline.
std::string pretty_json(const picojson::value& v);

// A value as a table cell or a line of `stoa state`: strings without quotes,
// numbers in shortest form, null as "", everything else as compact JSON.
std::string plain_text(const picojson::value& v);

// Mesos' resources object ({"cpus": 2, "mem": 1024, "ports": "[31000-32000]"})
// as "cpus:2;mem:1024;ports:[31000-32000]", zero scalars left out; "" when
// none.
std::string resources_text(const picojson::value& resources);

// The number at `key` of an object, 0 when missing or not a number.
double number_at(const picojson::value& object, const std::string& key);
// The string at `key` of an object, "" when missing or not a string.
std::string string_at(const picojson::value& object, const std::string& key);
// The array at `key` of an object, empty when missing or not an array.
const picojson::array& array_at(const picojson::value& object, const std::string& key);

// "1.5", "2", "0.1": a number in its shortest form.
std::string number_text(double d);

}  // namespace stoa::cli
