// The pure parts of stoa-http-executor (slave/http_executor.hpp).
#include "slave/http_executor.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "common/base64.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"
#include "common/uuid.hpp"

namespace stoa::http_executor {

// Helpers live in anonymous namespaces nested in stoa::http_executor, which
// only http_executor_machine.cpp shares, so a unity build batching these
// files with others of the slave cannot clash.
namespace {

// "'x'" for a printable byte, else "byte 0x0a".
std::string describe_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) {
    return std::string("'") + c + "'";
  }
  static constexpr char HEX[] = "0123456789abcdef";
  return std::string("byte 0x") + HEX[u >> 4] + HEX[u & 0xf];
}

// `text` quoted for an error message, cut at 200 bytes.
std::string quote(std::string_view text) {
  constexpr size_t MAX = 200;
  return "'" + std::string(text.substr(0, MAX)) + (text.size() > MAX ? "...'" : "'");
}

}  // namespace

// --- RecordIO. ---

std::string recordio_encode(std::string_view record) {
  return std::to_string(record.size()) + "\n" + std::string(record);
}

Try<std::vector<std::string>> RecordIoDecoder::feed(std::string_view data) {
  if (error_) {
    return Error(*error_);
  }
  buffer_.append(data);
  std::vector<std::string> records;
  size_t pos = 0;
  while (true) {
    if (!length_) {
      // Checked as it comes, so that a bad length fails at once rather than
      // after MAX_RECORD_SIZE bytes without a newline.
      size_t value = 0;
      size_t i = pos;
      for (; i < buffer_.size() && buffer_[i] != '\n'; ++i) {
        if (buffer_[i] < '0' || buffer_[i] > '9') {
          error_ = "RecordIO record length has " + describe_byte(buffer_[i]) + " after " +
                   quote(std::string_view(buffer_).substr(pos, i - pos)) + " (expected decimal digits)";
          return Error(*error_);
        }
        value = value * 10 + static_cast<size_t>(buffer_[i] - '0');
        if (value > MAX_RECORD_SIZE) {
          error_ = "RecordIO record length " + std::string(buffer_, pos, i + 1 - pos) +
                   (i + 1 < buffer_.size() && buffer_[i + 1] != '\n' ? "..." : "") + " is over the limit of " +
                   std::to_string(MAX_RECORD_SIZE) + " bytes";
          return Error(*error_);
        }
      }
      if (i == buffer_.size()) {
        break;  // the length line goes on in the next feed
      }
      if (i == pos) {
        error_ = "RecordIO record length is empty";
        return Error(*error_);
      }
      length_ = value;
      pos = i + 1;
    }
    if (buffer_.size() - pos < *length_) {
      break;
    }
    records.emplace_back(buffer_, pos, *length_);
    pos += *length_;
    length_.reset();
  }
  buffer_.erase(0, pos);
  return records;
}

// --- HTTP responses. ---

void ResponseParser::reset() { *this = ResponseParser(); }

Try<size_t> ResponseParser::feed(std::string_view data) {
  size_t used = 0;
  // Appends to line_ up to a '\n'; true when the line is complete (line_
  // then holds it without its CR LF).
  auto take_line = [&]() -> std::optional<bool> {
    const size_t nl = data.find('\n', used);
    const size_t end = nl == std::string_view::npos ? data.size() : nl + 1;
    line_.append(data.substr(used, end - used));
    used = end;
    if (line_.size() > MAX_RESPONSE_HEAD) {
      return std::nullopt;
    }
    if (nl == std::string_view::npos) {
      return false;
    }
    line_.pop_back();
    if (!line_.empty() && line_.back() == '\r') {
      line_.pop_back();
    }
    return true;
  };
  auto too_long = [this] {
    return Error("HTTP response line longer than " + std::to_string(MAX_RESPONSE_HEAD) + " bytes: " + quote(line_));
  };
  while (used < data.size() && state_ != State::DONE) {
    switch (state_) {
      case State::HEAD: {
        std::optional<bool> done = take_line();
        if (!done) {
          return too_long();
        }
        if (!*done) {
          break;
        }
        if (!line_.empty()) {
          head_lines_.push_back(std::move(line_));
          line_.clear();
          head_size_ += head_lines_.back().size();
          if (head_size_ > MAX_RESPONSE_HEAD) {
            return Error("HTTP response head longer than " + std::to_string(MAX_RESPONSE_HEAD) + " bytes");
          }
          break;
        }
        if (head_lines_.empty()) {
          break;  // blank lines before a status line are tolerated
        }
        if (std::optional<Error> e = parse_head()) {
          return *e;
        }
        break;
      }
      case State::LENGTH_BODY:
      case State::CHUNK_DATA: {
        const size_t n = std::min(remaining_, data.size() - used);
        body_.append(data.substr(used, n));
        used += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          state_ = state_ == State::LENGTH_BODY ? State::DONE : State::CHUNK_DATA_END;
        }
        break;
      }
      case State::UNTIL_CLOSE:
        body_.append(data.substr(used));
        used = data.size();
        break;
      case State::CHUNK_SIZE: {
        std::optional<bool> done = take_line();
        if (!done) {
          return too_long();
        }
        if (!*done) {
          break;
        }
        const std::string_view digits = trim(std::string_view(line_).substr(0, line_.find(';')));
        size_t size = 0;
        if (digits.empty() || digits.size() > 8) {
          return Error("HTTP chunk size " + quote(line_) + " is not 1 to 8 hex digits");
        }
        for (char c : digits) {
          const int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                        : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                        : (c >= 'A' && c <= 'F')                    ? c - 'A' + 10
                                                                    : -1;
          if (v < 0) {
            return Error("HTTP chunk size " + quote(line_) + " is not hexadecimal");
          }
          size = size * 16 + static_cast<size_t>(v);
        }
        line_.clear();
        remaining_ = size;
        state_ = size == 0 ? State::TRAILERS : State::CHUNK_DATA;
        break;
      }
      case State::CHUNK_DATA_END: {
        std::optional<bool> done = take_line();
        if (!done) {
          return too_long();
        }
        if (*done) {
          if (!line_.empty()) {
            return Error("HTTP chunk not followed by CRLF but by " + quote(line_));
          }
          state_ = State::CHUNK_SIZE;
        }
        break;
      }
      case State::TRAILERS: {
        std::optional<bool> done = take_line();
        if (!done) {
          return too_long();
        }
        if (*done) {
          if (line_.empty()) {
            state_ = State::DONE;
          }
          line_.clear();
        }
        break;
      }
      case State::DONE:
        break;
    }
  }
  return used;
}

std::optional<Error> ResponseParser::parse_head() {
  const std::string& status_line = head_lines_.front();
  // "HTTP/1.1 200 OK": the version, a space, three digits, then the reason.
  if (status_line.compare(0, 7, "HTTP/1.") != 0 || status_line.size() < 12 || status_line[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[11])) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    return Error("malformed HTTP status line " + quote(status_line));
  }
  ResponseHead h;
  h.status = std::stoi(status_line.substr(9, 3));
  h.reason = status_line.size() > 13 ? status_line.substr(13) : "";
  h.keep_alive = status_line[7] == '1';  // HTTP/1.1 keeps alive by default, 1.0 does not
  for (size_t i = 1; i < head_lines_.size(); ++i) {
    const std::string& line = head_lines_[i];
    const size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      return Error("malformed HTTP header line " + quote(line));
    }
    h.headers[lower(trim(std::string_view(line).substr(0, colon)))] =
        std::string(trim(std::string_view(line).substr(colon + 1)));
  }
  head_lines_.clear();
  head_size_ = 0;
  if (h.status >= 100 && h.status < 200) {
    return std::nullopt;  // an interim response: the real one follows
  }
  if (auto c = h.headers.find("connection"); c != h.headers.end()) {
    const std::string v = lower(c->second);
    if (v.find("close") != std::string::npos) {
      h.keep_alive = false;
    } else if (v.find("keep-alive") != std::string::npos) {
      h.keep_alive = true;
    }
  }
  auto te = h.headers.find("transfer-encoding");
  auto cl = h.headers.find("content-length");
  if (h.status == 204 || h.status == 304) {
    h.body = ResponseHead::Body::LENGTH;
    state_ = State::DONE;
  } else if (te != h.headers.end() && lower(te->second).find("chunked") != std::string::npos) {
    h.body = ResponseHead::Body::CHUNKED;
    state_ = State::CHUNK_SIZE;
  } else if (cl != h.headers.end()) {
    const std::string& v = cl->second;
    if (v.empty() || v.size() > 15 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Error("HTTP Content-Length " + quote(v) + " is not a number");
    }
    h.body = ResponseHead::Body::LENGTH;
    h.content_length = std::stoull(v);
    remaining_ = h.content_length;
    state_ = remaining_ == 0 ? State::DONE : State::LENGTH_BODY;
  } else {
    h.body = ResponseHead::Body::UNTIL_CLOSE;
    h.keep_alive = false;
    state_ = State::UNTIL_CLOSE;
  }
  head_ = std::move(h);
  return std::nullopt;
}

std::optional<Error> ResponseParser::finish() {
  if (state_ == State::UNTIL_CLOSE) {
    state_ = State::DONE;
  }
  if (state_ == State::DONE) {
    return std::nullopt;
  }
  if (state_ == State::HEAD && head_lines_.empty() && line_.empty()) {
    return Error("connection closed before a response");
  }
  return Error(state_ == State::HEAD ? "connection closed in the middle of the response head"
                                     : "connection closed in the middle of the response body");
}

namespace {

std::string http_post(const char* path, const std::string& host, std::string_view body) {
  std::string out = std::string("POST ") + path + " HTTP/1.1\r\nHost: " + host +
                    "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n";
  out.append(body);
  return out;
}

}  // namespace

std::string http_post_call(const std::string& host, std::string_view body) {
  return http_post("/api/v1/executor", host, body);
}

std::string http_post_pool(const std::string& host, const std::string& token, pid_t pid) {
  picojson::object o;
  o["token"] = picojson::value(token);
  o["pid"] = picojson::value(static_cast<int64_t>(pid));
  return http_post("/stoa/executor/pool", host, picojson::value(std::move(o)).serialize());
}

// --- Calls. ---

namespace {

picojson::value id_json(const std::string& value) {
  picojson::object o;
  o["value"] = picojson::value(value);
  return picojson::value(std::move(o));
}

picojson::value status_update_json(const Identity& id, const StatusUpdateRecord& u) {
  picojson::object o;
  o["framework_id"] = id_json(id.framework_id);
  o["executor_id"] = id_json(id.executor_id);
  o["status"] = task_status_json(id, u);
  o["timestamp"] = picojson::value(u.timestamp);
  o["uuid"] = picojson::value(base64_encode(u.uuid));
  return picojson::value(std::move(o));
}

picojson::object call_json(const Identity& id, const char* type) {
  picojson::object o;
  o["type"] = picojson::value(type);
  o["framework_id"] = id_json(id.framework_id);
  o["executor_id"] = id_json(id.executor_id);
  return o;
}

}  // namespace

picojson::value task_status_json(const Identity& id, const StatusUpdateRecord& u) {
  picojson::object o;
  o["task_id"] = id_json(u.task_id);
  o["state"] = picojson::value(u.state);
  o["source"] = picojson::value("SOURCE_EXECUTOR");
  o["executor_id"] = id_json(id.executor_id);
  o["uuid"] = picojson::value(base64_encode(u.uuid));
  o["timestamp"] = picojson::value(u.timestamp);
  if (!u.message.empty()) {
    o["message"] = picojson::value(u.message);
  }
  if (u.reason) {
    o["reason"] = picojson::value(*u.reason);
  }
  if (u.healthy) {
    o["healthy"] = picojson::value(*u.healthy);
  }
  return picojson::value(std::move(o));
}

std::string update_call(const Identity& id, const StatusUpdateRecord& u) {
  picojson::object call = call_json(id, "UPDATE");
  picojson::object update;
  update["status"] = task_status_json(id, u);
  call["update"] = picojson::value(std::move(update));
  return json_serialize(picojson::value(std::move(call)));
}

std::string subscribe_call(const Identity& id, const std::vector<picojson::value>& unacknowledged_tasks,
                           const std::vector<StatusUpdateRecord>& unacknowledged_updates) {
  picojson::object call = call_json(id, "SUBSCRIBE");
  picojson::array updates;
  for (const StatusUpdateRecord& u : unacknowledged_updates) {
    updates.push_back(status_update_json(id, u));
  }
  picojson::object subscribe;
  subscribe["unacknowledged_tasks"] = picojson::value(unacknowledged_tasks);
  subscribe["unacknowledged_updates"] = picojson::value(std::move(updates));
  call["subscribe"] = picojson::value(std::move(subscribe));
  return json_serialize(picojson::value(std::move(call)));
}

// --- Events. ---

namespace {

// Reads fields of one event, naming them ("kill.task_id.value") in errors
// prefixed with `where` ("KILL event").
#define STOA_RETURN_IF_ERROR(expr)          \
  if (std::optional<Error> e_ = (expr)) {   \
    return *e_;                             \
  }

struct FieldReader {
  std::string where;

  Error error(const std::string& path, const std::string& what) const { return Error(where + ": " + path + " " + what); }

  static std::string shown(const picojson::value& v) {
    std::string text = json_serialize(v);
    return text.size() > 100 ? text.substr(0, 100) + "..." : text;
  }

  // obj[name], or nullptr when obj is not an object, or the field is absent
  // or null (protobuf's JSON for a field at its default).
  static const picojson::value* get(const picojson::value* obj, const std::string& name) {
    if (obj == nullptr || !obj->is<picojson::object>()) {
      return nullptr;
    }
    const picojson::object& o = obj->get<picojson::object>();
    auto it = o.find(name);
    return it == o.end() || it->second.is<picojson::null>() ? nullptr : &it->second;
  }

  Try<const picojson::value*> object(const picojson::value* obj, const std::string& name, const std::string& path,
                                     bool required) const {
    const picojson::value* v = get(obj, name);
    if (v == nullptr) {
      return required ? Try<const picojson::value*>(error(path, "is missing")) : Try<const picojson::value*>(v);
    }
    if (!v->is<picojson::object>()) {
      return error(path, "is not an object: " + shown(*v));
    }
    return v;
  }

  std::optional<Error> string(const picojson::value* obj, const std::string& name, const std::string& path,
                              bool required, std::string* out) const {
    const picojson::value* v = get(obj, name);
    if (v == nullptr) {
      return required ? std::optional<Error>(error(path, "is missing")) : std::nullopt;
    }
    if (!v->is<std::string>()) {
      return error(path, "is not a string: " + shown(*v));
    }
    *out = v->get<std::string>();
    return std::nullopt;
  }

  // An Environment ({"variables": [{"name", "value"}, ...]}), if present.
  std::optional<Error> environment(const picojson::value* obj, const std::string& name, const std::string& path,
                                   std::vector<std::pair<std::string, std::string>>* out) const {
    Try<const picojson::value*> env = object(obj, name, path, false);
    if (env.is_error()) {
      return Error(env.error());
    }
    const picojson::value* vars = get(*env, "variables");
    if (vars == nullptr) {
      return std::nullopt;
    }
    if (!vars->is<picojson::array>()) {
      return error(path + ".variables", "is not an array: " + shown(*vars));
    }
    for (const picojson::value& var : vars->get<picojson::array>()) {
      std::string n;
      std::string value;
      STOA_RETURN_IF_ERROR(string(&var, "name", path + ".variables[].name", true, &n));
      STOA_RETURN_IF_ERROR(string(&var, "value", path + ".variables[].value", false, &value));
      out->emplace_back(std::move(n), std::move(value));
    }
    return std::nullopt;
  }

  // An {"value": "..."} id, non-empty when required.
  std::optional<Error> id(const picojson::value* obj, const std::string& name, const std::string& path,
                          bool required, std::string* out) const {
    Try<const picojson::value*> o = object(obj, name, path, required);
    if (o.is_error()) {
      return Error(o.error());
    }
    if (std::optional<Error> e = string(*o, "value", path + ".value", required, out)) {
      return e;
    }
    if (required && out->empty()) {
      return error(path + ".value", "is empty");
    }
    return std::nullopt;
  }

  // int64: a JSON number or (protobuf's printer) a string of digits.
  std::optional<Error> int64(const picojson::value* obj, const std::string& name, const std::string& path,
                             std::optional<int64_t>* out) const {
    const picojson::value* v = get(obj, name);
    if (v == nullptr) {
      return std::nullopt;
    }
    if (v->is<int64_t>()) {
      *out = v->get<int64_t>();
      return std::nullopt;
    }
    if (v->is<double>()) {
      const double d = v->get<double>();
      if (d != std::floor(d) || d < -9.2e18 || d > 9.2e18) {
        return error(path, "is not a 64-bit integer: " + shown(*v));
      }
      *out = static_cast<int64_t>(d);
      return std::nullopt;
    }
    if (v->is<std::string>()) {
      const std::string& s = v->get<std::string>();
      errno = 0;
      char* end = nullptr;
      const long long n = std::strtoll(s.c_str(), &end, 10);
      const bool digits = !s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) ||
                                         (s[0] == '-' && s.size() > 1));
      if (!digits || end != s.c_str() + s.size() || errno == ERANGE) {
        return error(path, "is not a 64-bit integer: " + shown(*v));
      }
      *out = n;
      return std::nullopt;
    }
    return error(path, "is not a 64-bit integer: " + shown(*v));
  }

  std::optional<Error> bytes(const picojson::value* obj, const std::string& name, const std::string& path,
                             bool required, std::string* out) const {
    std::string text;
    if (std::optional<Error> e = string(obj, name, path, required, &text)) {
      return e;
    }
    Try<std::string> decoded = base64_decode(text);
    if (decoded.is_error()) {
      return error(path, "is not base64 (" + decoded.error() + "): " + quote(text));
    }
    *out = std::move(*decoded);
    return std::nullopt;
  }

  // A KillPolicy's grace period, clamped at 0 as the CAF executors do.
  std::optional<Error> grace(const picojson::value* policy, const std::string& path,
                             std::optional<std::chrono::nanoseconds>* out) const {
    Try<const picojson::value*> gp = object(policy, "grace_period", path + ".grace_period", false);
    if (gp.is_error()) {
      return Error(gp.error());
    }
    std::optional<int64_t> ns;
    if (std::optional<Error> e = int64(*gp, "nanoseconds", path + ".grace_period.nanoseconds", &ns)) {
      return e;
    }
    if (ns) {
      *out = std::chrono::nanoseconds(std::max<int64_t>(0, *ns));
    }
    return std::nullopt;
  }
};

}  // namespace

Try<TaskSpec> parse_task_info(const picojson::value& task, const std::string& where) {
  const FieldReader r{where};
  if (!task.is<picojson::object>()) {
    return Error(where + " is not an object: " + FieldReader::shown(task));
  }
  TaskSpec t;
  t.json = task;
  STOA_RETURN_IF_ERROR(r.id(&task, "task_id", "task_id", true, &t.task_id));
  STOA_RETURN_IF_ERROR(r.string(&task, "name", "name", false, &t.name));
  Try<const picojson::value*> command = r.object(&task, "command", "command", false);
  if (command.is_error()) {
    return Error(command.error());
  }
  if (const picojson::value* c = *command) {
    CommandSpec cmd;
    STOA_RETURN_IF_ERROR(r.string(c, "value", "command.value", false, &cmd.value));
    STOA_RETURN_IF_ERROR(r.string(c, "user", "command.user", false, &cmd.user));
    if (const picojson::value* shell = FieldReader::get(c, "shell")) {
      if (!shell->is<bool>()) {
        return r.error("command.shell", "is not a boolean: " + FieldReader::shown(*shell));
      }
      cmd.shell = shell->get<bool>();
    }
    if (const picojson::value* args = FieldReader::get(c, "arguments")) {
      if (!args->is<picojson::array>()) {
        return r.error("command.arguments", "is not an array: " + FieldReader::shown(*args));
      }
      for (const picojson::value& a : args->get<picojson::array>()) {
        if (!a.is<std::string>()) {
          return r.error("command.arguments", "holds a non-string: " + FieldReader::shown(a));
        }
        cmd.arguments.push_back(a.get<std::string>());
      }
    }
    STOA_RETURN_IF_ERROR(r.environment(c, "environment", "command.environment", &cmd.environment));
    t.command = std::move(cmd);
  }
  Try<const picojson::value*> policy = r.object(&task, "kill_policy", "kill_policy", false);
  if (policy.is_error()) {
    return Error(policy.error());
  }
  STOA_RETURN_IF_ERROR(r.grace(*policy, "kill_policy", &t.kill_grace));
  t.has_health_check = FieldReader::get(&task, "health_check") != nullptr;
  return t;
}

Try<Event> parse_event(std::string_view json) {
  Try<picojson::value> parsed = json_parse(json);
  if (parsed.is_error()) {
    return Error("Event is not valid JSON: " + parsed.error());
  }
  const picojson::value& v = *parsed;
  if (!v.is<picojson::object>()) {
    return Error("Event is not a JSON object: " + FieldReader::shown(v));
  }
  Event e;
  STOA_RETURN_IF_ERROR(FieldReader{"Event"}.string(&v, "type", "type", true, &e.type_name));
  const FieldReader r{e.type_name + " event"};
  const std::string member = lower(e.type_name);
  if (e.type_name == "SUBSCRIBED") {
    e.type = Event::Type::SUBSCRIBED;
    Try<const picojson::value*> sub = r.object(&v, member, member, true);
    if (sub.is_error()) {
      return Error(sub.error());
    }
    Try<const picojson::value*> fw = r.object(*sub, "framework_info", "subscribed.framework_info", false);
    if (fw.is_error()) {
      return Error(fw.error());
    }
    if (const picojson::value* caps = FieldReader::get(*fw, "capabilities"); caps && caps->is<picojson::array>()) {
      for (const picojson::value& c : caps->get<picojson::array>()) {
        const picojson::value* type = FieldReader::get(&c, "type");
        // An enum is its name, or (protobuf's parser takes both) its number.
        if (type && ((type->is<std::string>() && type->get<std::string>() == "TASK_KILLING_STATE") ||
                     (type->is<int64_t>() && type->get<int64_t>() == 2))) {
          e.task_killing_state = true;
        }
      }
    }
    STOA_RETURN_IF_ERROR(r.id(*sub, "container_id", "subscribed.container_id", false, &e.container_id));
  } else if (e.type_name == "LAUNCH") {
    e.type = Event::Type::LAUNCH;
    Try<const picojson::value*> launch = r.object(&v, member, member, true);
    if (launch.is_error()) {
      return Error(launch.error());
    }
    Try<const picojson::value*> task = r.object(*launch, "task", "launch.task", true);
    if (task.is_error()) {
      return Error(task.error());
    }
    Try<TaskSpec> t = parse_task_info(**task, "LAUNCH event: launch.task");
    if (t.is_error()) {
      return Error(t.error());
    }
    e.task = std::move(*t);
  } else if (e.type_name == "KILL") {
    e.type = Event::Type::KILL;
    Try<const picojson::value*> kill = r.object(&v, member, member, true);
    if (kill.is_error()) {
      return Error(kill.error());
    }
    STOA_RETURN_IF_ERROR(r.id(*kill, "task_id", "kill.task_id", true, &e.task_id));
    Try<const picojson::value*> policy = r.object(*kill, "kill_policy", "kill.kill_policy", false);
    if (policy.is_error()) {
      return Error(policy.error());
    }
    STOA_RETURN_IF_ERROR(r.grace(*policy, "kill.kill_policy", &e.kill_grace));
  } else if (e.type_name == "ACKNOWLEDGED") {
    e.type = Event::Type::ACKNOWLEDGED;
    Try<const picojson::value*> ack = r.object(&v, member, member, true);
    if (ack.is_error()) {
      return Error(ack.error());
    }
    STOA_RETURN_IF_ERROR(r.id(*ack, "task_id", "acknowledged.task_id", false, &e.task_id));
    STOA_RETURN_IF_ERROR(r.bytes(*ack, "uuid", "acknowledged.uuid", true, &e.uuid));
  } else if (e.type_name == "MESSAGE") {
    e.type = Event::Type::MESSAGE;
    Try<const picojson::value*> msg = r.object(&v, member, member, false);
    if (msg.is_error()) {
      return Error(msg.error());
    }
    std::string data;
    STOA_RETURN_IF_ERROR(r.bytes(*msg, "data", "message.data", false, &data));
    e.data_size = data.size();
  } else if (e.type_name == "ERROR") {
    e.type = Event::Type::ERROR;
    Try<const picojson::value*> err = r.object(&v, member, member, false);
    if (err.is_error()) {
      return Error(err.error());
    }
    STOA_RETURN_IF_ERROR(r.string(*err, "message", "error.message", false, &e.message));
  } else if (e.type_name == "SHUTDOWN") {
    e.type = Event::Type::SHUTDOWN;
  } else if (e.type_name == "HEARTBEAT") {
    e.type = Event::Type::HEARTBEAT;
  } else if (e.type_name == "ADOPTED") {
    e.type = Event::Type::ADOPTED;
    Try<const picojson::value*> adopted = r.object(&v, member, member, true);
    if (adopted.is_error()) {
      return Error(adopted.error());
    }
    Adoption a;
    STOA_RETURN_IF_ERROR(r.string(*adopted, "token", "adopted.token", true, &a.token));
    STOA_RETURN_IF_ERROR(r.string(*adopted, "container_id", "adopted.container_id", true, &a.container_id));
    STOA_RETURN_IF_ERROR(r.string(*adopted, "directory", "adopted.directory", true, &a.directory));
    STOA_RETURN_IF_ERROR(r.environment(*adopted, "environment", "adopted.environment", &a.environment));
    if (a.token.empty() || a.container_id.empty() || a.directory.empty()) {
      return r.error("adopted", "needs a non-empty token, container_id and directory: " + FieldReader::shown(**adopted));
    }
    e.adoption = std::move(a);
  }
  return e;
}

#undef STOA_RETURN_IF_ERROR

}  // namespace stoa::http_executor
