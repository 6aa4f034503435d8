#include "actors/http.hpp"

#include "common/json.hpp"

#include <picojson.h>

#include <string>

#include "common/strings.hpp"
#include "common/try.hpp"

namespace stoa::http {

// ---- public helpers ----------------------------------------------------------

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

namespace {

int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') {
    return ch - '0';
  }
  if (ch >= 'a' && ch <= 'f') {
    return ch - 'a' + 10;
  }
  if (ch >= 'A' && ch <= 'F') {
    return ch - 'A' + 10;
  }
  return -1;
}

bool header_safe(const std::string& s) {
  return s.find_first_of("\r\n") == std::string::npos;
}

}  // namespace

Try<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    if (ch == '%') {
      if (i + 2 >= s.size()) {
        return Error("truncated percent-escape");
      }
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) {
        return Error("invalid percent-escape");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (ch == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

Try<std::map<std::string, std::string>> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    if (amp == std::string_view::npos) {
      amp = query.size();
    }
    std::string_view pair = query.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      auto key = percent_decode(pair.substr(0, eq), true);
      auto value = percent_decode(eq == std::string_view::npos ? std::string_view{}
                                                               : pair.substr(eq + 1),
                                  true);
      if (key.is_error()) {
        return Error(key.error());
      }
      if (value.is_error()) {
        return Error(value.error());
      }
      out.insert_or_assign(std::move(*key), std::move(*value));
    }
    pos = amp + 1;
  }
  return out;
}

std::string serialize_response(const Response& r, bool close) {
  std::string out;
  const std::string& body = r.shared_body ? *r.shared_body : r.body;
  out.reserve((r.spans_body ? r.spans_body->size() : body.size()) + 160);
  out += serialize_response_head(r, close);
  if (r.spans_body) {
    r.spans_body->spans(0, r.spans_body->size(), [&out](const char* data, size_t n) { out.append(data, n); });
  } else {
    out += body;
  }
  return out;
}

std::string serialize_response_head(const Response& r, bool close) {
  std::string out;
  const uint64_t length = !r.body_file.empty() ? r.body_file_size
                          : r.shared_body      ? r.shared_body->size()
                          : r.spans_body       ? r.spans_body->size()
                                               : r.body.size();
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += reason_phrase(r.status);
  out += "\r\nContent-Type: ";
  out += header_safe(r.content_type) ? r.content_type : "application/octet-stream";
  if (r.stream_producer) {
    // A stream ends when the connection does.
    out += "\r\nConnection: close\r\n";
  } else {
    out += "\r\nContent-Length: ";
    out += std::to_string(length);
    out += close ? "\r\nConnection: close\r\n" : "\r\nConnection: keep-alive\r\n";
  }
  for (const auto& [name, value] : r.headers) {
    auto lname = lower(name);
    if (lname == "content-type" || lname == "content-length" || lname == "connection" ||
        lname == "transfer-encoding" || name.empty() || !header_safe(name) ||
        !header_safe(value)) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

Response json_response(const picojson::value& v, int status) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = json_serialize(v);
  return r;
}

Response text_response(std::string body, int status, std::string content_type) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response error_response(int status, const std::string& message) {
  picojson::object o;
  o["message"] = picojson::value(message);
  return json_response(picojson::value(std::move(o)), status);
}

std::string BodySpans::str() const {
  std::string out;
  out.reserve(size());
  spans(0, size(), [&out](const char* data, size_t n) { out.append(data, n); });
  return out;
}

}  // namespace stoa::http
