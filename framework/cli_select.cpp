#include "framework/cli_select.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "common/json.hpp"

namespace stoa::cli {

namespace {

bool is_key_char(char ch) {
  return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '-';
}

Failure bad_path(const std::string& path, size_t at, const std::string& why) {
  return Failure{EXIT_USAGE, "invalid path '" + path + "' at character " + std::to_string(at + 1) + ": " + why +
                                 " (paths look like .slaves[0].hostname or .frameworks[].name)"};
}

bool is_plain_key(const std::string& key) {
  if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0])) != 0) {
    return false;
  }
  for (char ch : key) {
    if (!is_key_char(ch)) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::vector<Step>> parse_path(const std::string& path) {
  std::vector<Step> steps;
  if (path.empty()) {
    return bad_path(path, 0, "empty");
  }
  if (path == ".") {
    return steps;
  }
  size_t i = 0;
  bool first = true;
  while (i < path.size()) {
    char ch = path[i];
    if (ch == '.' || (first && is_key_char(ch))) {
      if (ch == '.') {
        ++i;
      }
      size_t start = i;
      while (i < path.size() && is_key_char(path[i])) {
        ++i;
      }
      if (i == start) {
        // ".[0]" as in jq: a dot before a bracket is allowed.
        if (i < path.size() && path[i] == '[') {
          first = false;
          continue;
        }
        return bad_path(path, i, i < path.size() ? "expected a key, got '" + std::string(1, path[i]) + "'"
                                                 : "expected a key after '.'");
      }
      steps.push_back(Step{Step::KEY, path.substr(start, i - start), 0});
    } else if (ch == '[') {
      size_t open = i;
      ++i;
      if (i < path.size() && path[i] == ']') {
        steps.push_back(Step{Step::EACH, "", 0});
        ++i;
      } else if (i < path.size() && path[i] == '"') {
        // A JSON string up to the closing quote (escapes skipped).
        size_t start = i;
        ++i;
        while (i < path.size() && path[i] != '"') {
          i += path[i] == '\\' ? 2 : 1;
        }
        if (i >= path.size()) {
          return bad_path(path, start, "unterminated string");
        }
        ++i;
        Try<picojson::value> key = json_parse(path.substr(start, i - start));
        if (key.is_error() || !key->is<std::string>()) {
          return bad_path(path, start, "invalid string");
        }
        if (i >= path.size() || path[i] != ']') {
          return bad_path(path, i, "expected ']'");
        }
        ++i;
        steps.push_back(Step{Step::KEY, key->get<std::string>(), 0});
      } else {
        size_t start = i;
        if (i < path.size() && path[i] == '-') {
          ++i;
        }
        while (i < path.size() && std::isdigit(static_cast<unsigned char>(path[i])) != 0) {
          ++i;
        }
        if (i >= path.size() || path[i] != ']' || i == start || (i == start + 1 && path[start] == '-')) {
          return bad_path(path, open, "expected [N], [] or [\"key\"]");
        }
        errno = 0;
        long n = std::strtol(path.substr(start, i - start).c_str(), nullptr, 10);
        if (errno == ERANGE) {
          return bad_path(path, start, "index out of range");
        }
        ++i;
        steps.push_back(Step{Step::INDEX, "", n});
      }
    } else {
      return bad_path(path, i, "unexpected '" + std::string(1, ch) + "'");
    }
    first = false;
  }
  return steps;
}

std::string path_text(const std::vector<Step>& steps) {
  std::string out;
  for (const Step& s : steps) {
    switch (s.kind) {
      case Step::KEY:
        out += is_plain_key(s.key) ? "." + s.key : "[" + json_serialize(picojson::value(s.key)) + "]";
        break;
      case Step::INDEX:
        out += "[" + std::to_string(s.index) + "]";
        break;
      case Step::EACH:
        out += "[]";
        break;
    }
  }
  return out.empty() ? "." : out;
}

Result<std::vector<picojson::value>> select_path(const picojson::value& root, const std::vector<Step>& steps) {
  std::vector<picojson::value> current{root};
  std::vector<Step> done;
  for (const Step& step : steps) {
    const std::string where = path_text(done);
    std::vector<picojson::value> next;
    for (const picojson::value& v : current) {
      switch (step.kind) {
        case Step::KEY: {
          if (!v.is<picojson::object>()) {
            return Failure{EXIT_NOT_FOUND, "no key '" + step.key + "' at " + where + ": not an object"};
          }
          const picojson::object& o = v.get<picojson::object>();
          auto it = o.find(step.key);
          if (it == o.end()) {
            return Failure{EXIT_NOT_FOUND, "no key '" + step.key + "' at " + where};
          }
          next.push_back(it->second);
          break;
        }
        case Step::INDEX: {
          if (!v.is<picojson::array>()) {
            return Failure{EXIT_NOT_FOUND, "no element [" + std::to_string(step.index) + "] at " + where +
                                               ": not an array"};
          }
          const picojson::array& a = v.get<picojson::array>();
          long size = static_cast<long>(a.size());
          long at = step.index < 0 ? size + step.index : step.index;
          if (at < 0 || at >= size) {
            return Failure{EXIT_NOT_FOUND, "no element [" + std::to_string(step.index) + "] at " + where +
                                               ": it has " + std::to_string(size) + " element" +
                                               (size == 1 ? "" : "s")};
          }
          next.push_back(a[static_cast<size_t>(at)]);
          break;
        }
        case Step::EACH: {
          if (v.is<picojson::array>()) {
            for (const picojson::value& item : v.get<picojson::array>()) {
              next.push_back(item);
            }
          } else if (v.is<picojson::object>()) {
            for (const auto& [key, item] : v.get<picojson::object>()) {
              next.push_back(item);
            }
          } else {
            return Failure{EXIT_NOT_FOUND, "cannot iterate over " + where + ": not an array or object"};
          }
          break;
        }
      }
    }
    current = std::move(next);
    done.push_back(step);
  }
  return current;
}

}  // namespace stoa::cli
