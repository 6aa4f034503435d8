#include "framework/cli_output.hpp"

#include <algorithm>

#include "common/json.hpp"

namespace stoa::cli {

namespace {

// Code points in UTF-8 text (continuation bytes are not counted).
size_t display_width(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char ch) {
    return (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  }));
}

void append_pretty(std::string& out, const picojson::value& v, size_t indent) {
  const std::string pad(indent + 2, ' ');
  if (v.is<picojson::array>()) {
    const picojson::array& a = v.get<picojson::array>();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < a.size(); ++i) {
      out += pad;
      append_pretty(out, a[i], indent + 2);
      out += i + 1 < a.size() ? ",\n" : "\n";
    }
    out += std::string(indent, ' ') + "]";
    return;
  }
  if (v.is<picojson::object>()) {
    const picojson::object& o = v.get<picojson::object>();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    size_t i = 0;
    for (const auto& [key, item] : o) {
      out += pad + json_serialize(picojson::value(key)) + ": ";
      append_pretty(out, item, indent + 2);
      out += ++i < o.size() ? ",\n" : "\n";
    }
    out += std::string(indent, ' ') + "}";
    return;
  }
  out += json_serialize(v);
}

const picojson::array& empty_array() {
  static const picojson::array empty;
  return empty;
}

}  // namespace

std::string render_table(const std::vector<std::string>& header,
                         const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) {
    widths[i] = display_width(header[i]);
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i]));
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t i = 0; i < header.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      text += cell;
      if (i + 1 < header.size()) {
        text += std::string(widths[i] - display_width(cell) + 2, ' ');
      }
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out += text + "\n";
  };
  line(header);
  for (const auto& row : rows) {
    line(row);
  }
  return out;
}

std::string pretty_json(const picojson::value& v) {
  std::string out;
  append_pretty(out, v, 0);
  return out;
}

std::string plain_text(const picojson::value& v) {
  if (v.is<std::string>()) {
    return v.get<std::string>();
  }
  if (v.is<picojson::null>()) {
    return "";
  }
  return json_serialize(v);
}

std::string number_text(double d) { return json_serialize(json_number(d)); }

std::string resources_text(const picojson::value& resources) {
  if (!resources.is<picojson::object>()) {
    return "";
  }
  std::string out;
  for (const auto& [name, value] : resources.get<picojson::object>()) {
    std::string text;
    if (value.is<double>()) {
      if (value.get<double>() == 0) {
        continue;
      }
      text = number_text(value.get<double>());
    } else if (value.is<std::string>()) {
      if (value.get<std::string>().empty()) {
        continue;
      }
      text = value.get<std::string>();
    } else {
      continue;
    }
    out += (out.empty() ? "" : ";") + name + ":" + text;
  }
  return out;
}

double number_at(const picojson::value& object, const std::string& key) {
  if (!object.is<picojson::object>()) {
    return 0;
  }
  const picojson::value& v = object.get(key);
  return v.is<double>() ? v.get<double>() : 0;
}

std::string string_at(const picojson::value& object, const std::string& key) {
  if (!object.is<picojson::object>()) {
    return "";
  }
  const picojson::value& v = object.get(key);
  return v.is<std::string>() ? v.get<std::string>() : "";
}

const picojson::array& array_at(const picojson::value& object, const std::string& key) {
  if (!object.is<picojson::object>()) {
    return empty_array();
  }
  const picojson::value& v = object.get(key);
  return v.is<picojson::array>() ? v.get<picojson::array>() : empty_array();
}

}  // namespace stoa::cli
