// The wire details of the registry client: which SSE events ask for a
// refresh, registry URLs, error bodies and the Basic credentials header.

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "apps/lb/marathon.hpp"
#include "apps/lb/marathon_json.hpp"
#include "common/json.hpp"
#include "common/strings.hpp"

namespace stoa::lb {

namespace {

// The event types marathon-lb subscribes to; each one asks for a refresh.
const std::set<std::string>& mw_relevant_event_types() {
  static const std::set<std::string> types = {"api_post_event", "health_status_changed_event",
                                              "status_update_event"};
  return types;
}

}  // namespace

bool is_relevant_event(std::string_view data) {
  // Marathon may put several JSON objects in one data line, split by CRLF.
  size_t start = 0;
  while (start <= data.size()) {
    size_t end = data.find("\r\n", start);
    std::string_view piece =
        data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    piece = trim(piece);
    if (!piece.empty()) {
      Try<picojson::value> doc = json_parse(piece);
      if (doc && doc->is<picojson::object>()) {
        const picojson::value& type = doc->get("eventType");
        if (type.is<std::string>() &&
            mw_relevant_event_types().count(type.get<std::string>()) > 0) {
          return true;
        }
      }
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 2;
  }
  return false;
}

std::string registry_error_message(const picojson::value& doc) {
  if (!doc.is<picojson::object>()) {
    return "";
  }
  const picojson::value& m = doc.get("message");
  return m.is<std::string>() ? m.get<std::string>() : "";
}

std::string basic_auth_header(const std::string& user_pass) {
  static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "Basic ";
  size_t i = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(user_pass.data());
  for (; i + 3 <= user_pass.size(); i += 3) {
    uint32_t n = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += ALPHABET[(n >> 18) & 63];
    out += ALPHABET[(n >> 12) & 63];
    out += ALPHABET[(n >> 6) & 63];
    out += ALPHABET[n & 63];
  }
  size_t rest = user_pass.size() - i;
  if (rest == 1) {
    uint32_t n = uint32_t{bytes[i]} << 16;
    out += ALPHABET[(n >> 18) & 63];
    out += ALPHABET[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t n = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out += ALPHABET[(n >> 18) & 63];
    out += ALPHABET[(n >> 12) & 63];
    out += ALPHABET[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

Try<RegistryUrl> parse_registry_url(const std::string& url) {
  auto bad = [&url](const std::string& why) { return Error("registry URL '" + url + "': " + why); };
  const std::string scheme = "http://";
  if (lower(url.substr(0, 8)) == "https://") {
    return bad("https is not supported (stoa-lb has no TLS client); use http://");
  }
  if (lower(url.substr(0, scheme.size())) != scheme) {
    return bad("expected http://host[:port][/prefix]");
  }
  std::string rest = url.substr(scheme.size());
  if (rest.find_first_of("?#") != std::string::npos) {
    return bad("a query or fragment is not allowed");
  }
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.pop_back();
  }
  if (authority.find('@') != std::string::npos) {
    return bad("credentials in the URL are not supported; use --auth-credentials");
  }
  RegistryUrl out;
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {  // [IPv6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      return bad("unterminated '[' in the host");
    }
    out.host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return bad("unexpected '" + after + "' after the host");
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        return bad("empty port");
      }
    }
  } else {
    size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) {
        return bad("empty port");
      }
    }
  }
  if (out.host.empty()) {
    return bad("no host");
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos) {
      return bad("port '" + port_text + "' is not a number");
    }
    int port = std::stoi(port_text);
    if (port < 1 || port > 65535) {
      return bad("port " + port_text + " is out of range 1-65535");
    }
    out.port = static_cast<uint16_t>(port);
  }
  out.prefix = prefix;
  return out;
}

}  // namespace stoa::lb
