#include "common/attributes.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <set>
#include <sstream>
#include <string>

#include "common/resources.hpp"
#include "common/strings.hpp"

namespace stoa {

namespace {

// Attributes trim spaces and tabs only (not CR or LF, unlike strings.hpp's default).
constexpr std::string_view ATTRIBUTE_BLANKS = " \t";

std::string format_number(double v) {
  std::ostringstream out;
  out.precision(15);
  out << v;
  return out.str();
}

bool is_control(char c) { return std::iscntrl(static_cast<unsigned char>(c)) != 0; }

}  // namespace

Try<std::vector<stoa::Attribute>> parse_attributes(std::string_view text) {
  std::vector<stoa::Attribute> out;
  std::set<std::string, std::less<>> names;
  const std::vector<std::string> parts = split(text, ';');
  for (const std::string& part : parts) {
    std::string_view token = trim(part, ATTRIBUTE_BLANKS);
    if (token.empty()) {
      continue;
    }
    auto fail = [&](const std::string& why) {
      return Error("Invalid attribute '" + std::string(token) + "': " + why);
    };
    size_t colon = token.find(':');
    if (colon == std::string_view::npos) {
      return fail("expected 'name:value'");
    }
    std::string_view name = trim(token.substr(0, colon), ATTRIBUTE_BLANKS);
    std::string_view value = trim(token.substr(colon + 1), ATTRIBUTE_BLANKS);
    if (name.empty()) {
      return fail("empty name");
    }
    for (char c : name) {
      if (std::isspace(static_cast<unsigned char>(c)) || is_control(c) ||
          std::string_view("()[]{},;:").find(c) != std::string_view::npos) {
        return fail("bad name '" + std::string(name) + "' (no whitespace, control characters or any of ()[]{},;:)");
      }
    }
    if (!names.emplace(name).second) {
      return fail("attribute '" + std::string(name) + "' was already given (each name once)");
    }
    if (value.empty()) {
      return fail("empty value");
    }
    for (char c : value) {
      if (is_control(c)) {
        return fail("control character in the value");
      }
    }
    stoa::Attribute attr;
    attr.set_name(std::string(name));
    if (value.front() == '{') {
      return fail("sets are not supported for attributes");
    }
    if (value.front() == '[') {
      // Reuse the resource ranges parser for identical syntax and errors.
      Try<Resources> r = Resources::parse("a:" + std::string(value));
      if (!r) {
        std::string why = r.error();
        size_t sep = why.find("': ");
        return fail(sep == std::string::npos ? why : why.substr(sep + 3));
      }
      if (r->empty()) {
        return fail("empty ranges");
      }
      attr.set_type(stoa::Value::RANGES);
      stoa::Value::Ranges* ranges = attr.mutable_ranges();
      for (const Range& range : r->ranges("a")) {
        stoa::Value::Range* pr = ranges->add_range();
        pr->set_begin(range.begin);
        pr->set_end(range.end);
      }
    } else {
      double v = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec == std::errc() && ptr == value.data() + value.size() && std::isfinite(v)) {
        attr.set_type(stoa::Value::SCALAR);
        attr.mutable_scalar()->set_value(v);
      } else {
        if (value.find_first_of("[]{},") != std::string_view::npos) {
          return fail("text values may not contain any of []{}, (ranges are written [a-b, c-d])");
        }
        attr.set_type(stoa::Value::TEXT);
        attr.mutable_text()->set_value(std::string(value));
      }
    }
    out.push_back(std::move(attr));
  }
  return out;
}

namespace {

std::vector<Range> attribute_ranges(const stoa::Attribute& a) {
  std::vector<Range> out;
  for (const stoa::Value::Range& r : a.ranges().range()) {
    out.push_back(Range{r.begin(), r.end()});
  }
  return out;
}

std::vector<std::string> attribute_set(const stoa::Attribute& a) {
  return std::vector<std::string>(a.set().item().begin(), a.set().item().end());
}

}  // namespace

picojson::value attributes_to_json(const google::protobuf::RepeatedPtrField<stoa::Attribute>& attrs) {
  picojson::object obj;
  for (const stoa::Attribute& a : attrs) {
    switch (a.type()) {
      case stoa::Value::SCALAR:
        obj[a.name()] = picojson::value(a.scalar().value());
        break;
      case stoa::Value::RANGES:
        obj[a.name()] = picojson::value(ranges_to_string(attribute_ranges(a)));
        break;
      case stoa::Value::SET:
        obj[a.name()] = picojson::value(set_to_string(attribute_set(a)));
        break;
      default:
        obj[a.name()] = picojson::value(a.text().value());
        break;
    }
  }
  return picojson::value(obj);
}

std::string attributes_to_string(const google::protobuf::RepeatedPtrField<stoa::Attribute>& attrs) {
  std::string out;
  for (const stoa::Attribute& a : attrs) {
    if (!out.empty()) {
      out += ';';
    }
    out += a.name() + ':';
    switch (a.type()) {
      case stoa::Value::SCALAR:
        out += format_number(a.scalar().value());
        break;
      case stoa::Value::RANGES:
        out += ranges_to_string(attribute_ranges(a));
        break;
      case stoa::Value::SET:
        out += set_to_string(attribute_set(a));
        break;
      default:
        out += a.text().value();
        break;
    }
  }
  return out;
}

}  // namespace stoa
