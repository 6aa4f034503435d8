// Times, ids, the App's derived views, is_upgrade and the error bodies
// (model.hpp). Parsing lives in model_parse.cpp, the JSON written back in
// model_json.cpp.

#include "apps/services/model.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common/json.hpp"
#include "common/uuid.hpp"

namespace stoa::services {

namespace {
namespace model_time {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2 ? 1 : 0);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `*pos`.
bool digits(std::string_view s, size_t* pos, size_t n, int* out) {
  if (*pos + n > s.size()) {
    return false;
  }
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (!is_digit(c)) {
      return false;
    }
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool expect_char(std::string_view s, size_t* pos, char c) {
  if (*pos < s.size() && s[*pos] == c) {
    ++*pos;
    return true;
  }
  return false;
}

int days_in_month(int64_t y, unsigned m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

}  // namespace model_time

namespace model_ids {

// One PathId segment: dot-separated labels of [a-z0-9] with inner '-'.
bool valid_label(std::string_view label) {
  if (label.empty()) {
    return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(label.front()) || !alnum(label.back())) {
    return false;
  }
  for (char c : label) {
    if (!alnum(c) && c != '-') {
      return false;
    }
  }
  return true;
}

bool valid_segment(std::string_view segment) {
  size_t start = 0;
  while (true) {
    size_t dot = segment.find('.', start);
    std::string_view label = segment.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!valid_label(label)) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

}  // namespace model_ids
}  // namespace

// ---------------------------------------------------------------------------
// Times.

Timestamp now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_timestamp(Timestamp t) {
  int64_t days = t >= 0 ? t / 86400000 : -((-t + 86399999) / 86400000);
  int64_t ms_of_day = t - days * 86400000;
  int64_t y = 0;
  unsigned m = 0;
  unsigned d = 0;
  model_time::civil_from_days(days, &y, &m, &d);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<long long>(y), m, d,
                static_cast<int>(ms_of_day / 3600000), static_cast<int>(ms_of_day / 60000 % 60),
                static_cast<int>(ms_of_day / 1000 % 60), static_cast<int>(ms_of_day % 1000));
  return buf;
}

Try<Timestamp> parse_timestamp(std::string_view text) {
  auto bad = [&text]() {
    return Error("'" + std::string(text) + "' is not an ISO-8601 timestamp (expected e.g. 2020-10-01T12:00:00.000Z)");
  };
  size_t pos = 0;
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  using model_time::digits;
  using model_time::expect_char;
  if (!digits(text, &pos, 4, &year) || !expect_char(text, &pos, '-') || !digits(text, &pos, 2, &month) ||
      !expect_char(text, &pos, '-') || !digits(text, &pos, 2, &day) ||
      !(expect_char(text, &pos, 'T') || expect_char(text, &pos, 't')) || !digits(text, &pos, 2, &hour) ||
      !expect_char(text, &pos, ':') || !digits(text, &pos, 2, &minute) || !expect_char(text, &pos, ':') ||
      !digits(text, &pos, 2, &second)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > model_time::days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return bad();
  }
  int millis = 0;
  if (expect_char(text, &pos, '.')) {
    size_t start = pos;
    int scale = 100;
    while (pos < text.size() && model_time::is_digit(text[pos])) {
      millis += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) {
      return bad();
    }
  }
  int64_t offset_minutes = 0;
  if (expect_char(text, &pos, 'Z') || expect_char(text, &pos, 'z')) {
    // UTC.
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int oh = 0;
    int om = 0;
    if (!digits(text, &pos, 2, &oh)) {
      return bad();
    }
    expect_char(text, &pos, ':');
    if (!digits(text, &pos, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad();
  }
  if (pos != text.size()) {
    return bad();
  }
  int64_t days = model_time::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return Timestamp{seconds * 1000 + millis};
}

// ---------------------------------------------------------------------------
// Ids.

Try<std::string> canonical_id(std::string_view id, std::string_view base) {
  std::vector<std::string> segments;
  auto push_parts = [&segments](std::string_view path) {
    size_t start = 0;
    while (start <= path.size()) {
      size_t slash = path.find('/', start);
      size_t end = slash == std::string_view::npos ? path.size() : slash;
      if (end > start) {
        segments.emplace_back(path.substr(start, end - start));
      }
      if (slash == std::string_view::npos) {
        break;
      }
      start = slash + 1;
    }
  };
  if (id.empty() || id.front() != '/') {
    push_parts(base);
  }
  push_parts(id);
  std::vector<std::string> resolved;
  for (const std::string& s : segments) {
    if (s == ".") {
      continue;
    }
    if (s == "..") {
      if (resolved.empty()) {
        return Error("'" + std::string(id) + "' is not a valid id: '..' goes above the root");
      }
      resolved.pop_back();
      continue;
    }
    if (!model_ids::valid_segment(s)) {
      return Error("'" + std::string(id) + "' is not a valid id: the path segment '" + s +
                   "' must fully match regular expression "
                   "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'");
    }
    resolved.push_back(s);
  }
  std::string out;
  for (const std::string& s : resolved) {
    out += "/" + s;
  }
  return out.empty() ? std::string("/") : out;
}

std::string task_id_prefix(const std::string& app_id) {
  std::string out;
  out.reserve(app_id.size());
  for (size_t i = 0; i < app_id.size(); ++i) {
    if (i == 0 && app_id[i] == '/') {
      continue;
    }
    out.push_back(app_id[i] == '/' ? '_' : app_id[i]);
  }
  return out;
}

std::string new_task_id(const std::string& app_id) {
  return task_id_prefix(app_id) + ".instance-" + random_uuid() + "._app.1";
}

std::string task_id_app_prefix(std::string_view task_id) {
  size_t at = task_id.find(".instance-");
  if (at == std::string_view::npos) {
    at = task_id.find(".marathon-");
  }
  if (at == std::string_view::npos) {
    at = task_id.rfind('.');
  }
  return std::string(at == std::string_view::npos ? task_id : task_id.substr(0, at));
}

std::string parent_id(const std::string& id) {
  size_t slash = id.rfind('/');
  if (slash == std::string::npos || slash == 0) {
    return "/";
  }
  return id.substr(0, slash);
}

// ---------------------------------------------------------------------------
// The app.

std::string App::network_mode() const { return networks.empty() ? std::string("host") : networks.back().mode; }

std::vector<int> App::service_ports() const {
  std::vector<int> out;
  if (network_mode() == "host") {
    for (const PortDefinition& p : port_definitions) {
      out.push_back(p.port);
    }
  } else if (container) {
    for (const PortMapping& p : container->port_mappings) {
      out.push_back(p.service_port);
    }
  }
  return out;
}

size_t App::host_port_count() const {
  if (network_mode() == "host") {
    return port_definitions.size();
  }
  return container ? container->port_mappings.size() : 0;
}

std::vector<std::string> App::port_names() const {
  std::vector<std::string> out;
  if (network_mode() == "host") {
    for (const PortDefinition& p : port_definitions) {
      out.push_back(p.name.value_or(""));
    }
  } else if (container) {
    for (const PortMapping& p : container->port_mappings) {
      out.push_back(p.name.value_or(""));
    }
  }
  return out;
}

bool is_upgrade(const App& from, const App& to) {
  App a = from;
  App b = to;
  for (App* x : {&a, &b}) {
    x->instances = 0;
    x->version = 0;
    x->last_scaling_at = 0;
    x->last_config_change_at = 0;
  }
  return json_serialize(picojson::value(app_json(a))) != json_serialize(picojson::value(app_json(b)));
}

// ---------------------------------------------------------------------------
// Validation errors.

namespace {
namespace model_errors {

picojson::value details(const std::vector<Violation>& violations) {
  // One entry per path, errors in the order found (Marathon groups by path).
  std::vector<std::pair<std::string, std::vector<std::string>>> grouped;
  for (const Violation& v : violations) {
    auto it = std::find_if(grouped.begin(), grouped.end(), [&v](const auto& g) { return g.first == v.path; });
    if (it == grouped.end()) {
      grouped.push_back({v.path, {v.error}});
    } else if (std::find(it->second.begin(), it->second.end(), v.error) == it->second.end()) {
      it->second.push_back(v.error);
    }
  }
  picojson::array out;
  for (const auto& [path, errors] : grouped) {
    picojson::array errs;
    for (const std::string& e : errors) {
      errs.emplace_back(e);
    }
    picojson::object entry;
    entry["path"] = picojson::value(path);
    entry["errors"] = picojson::value(std::move(errs));
    out.emplace_back(std::move(entry));
  }
  return picojson::value(std::move(out));
}

ApiError body(int status, const std::string& message, picojson::value detail) {
  picojson::object o;
  o["message"] = picojson::value(message);
  o["details"] = std::move(detail);
  return ApiError{status, picojson::value(std::move(o))};
}

}  // namespace model_errors
}  // namespace

ApiError invalid_object(const std::vector<Violation>& violations) {
  return model_errors::body(422, "Object is not valid", model_errors::details(violations));
}

ApiError invalid_json_syntax(const std::string& detail) {
  return model_errors::body(400, "Invalid JSON", picojson::value(detail));
}

ApiError invalid_json_shape(const std::vector<Violation>& violations) {
  return model_errors::body(422, "Invalid JSON", model_errors::details(violations));
}

ApiError api_error(int status, const std::string& message) {
  picojson::object o;
  o["message"] = picojson::value(message);
  return ApiError{status, picojson::value(std::move(o))};
}

}  // namespace stoa::services
