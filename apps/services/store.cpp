#include "apps/services/store.hpp"

#include <caf/all.hpp>

#include "apps/services/store_layout.hpp"

namespace stoa::services {

std::optional<std::string> check_key(const std::string& key) {
  if (key.empty()) {
    return "key '' is empty (a key must not be)";
  }
  if (key.front() == '/' || key.back() == '/') {
    return "key '" + key + "' must not begin or end with '/'";
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    std::string component = key.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (component.empty() || component == "." || component == "..") {
      return "key '" + key + "' has an empty, '.' or '..' component";
    }
    if (store_layout::encode_component(component).size() > store_layout::MAX_ENCODED_COMPONENT) {
      return "key '" + key + "' has a component longer than the store takes ('" + component.substr(0, 40) +
             "...')";
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return std::nullopt;
}

namespace store_layout {

std::string encode_component(std::string_view raw) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size());
  for (char ch : raw) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<std::string> decode_component(std::string_view encoded) {
  auto hex_value = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] != '%') {
      out += encoded[i];
      continue;
    }
    if (i + 2 >= encoded.size()) {
      return std::nullopt;
    }
    int hi = hex_value(encoded[i + 1]);
    int lo = hex_value(encoded[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  if (encode_component(out) != encoded) {
    return std::nullopt;  // not in canonical form: not ours
  }
  return out;
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = key.find('/', start);
    out.push_back(key.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) {
      return out;
    }
    start = end + 1;
  }
}

std::string encoded_path(const std::string& key) {
  std::string out;
  for (const std::string& component : split_key(key)) {
    out += (out.empty() ? "" : "/") + encode_component(component);
  }
  return out;
}

std::optional<std::string> normalize_prefix(const std::string& prefix, std::string* out) {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/') {
    p.pop_back();
  }
  if (p.empty()) {
    out->clear();
    return std::nullopt;
  }
  if (std::optional<std::string> e = check_key(p)) {
    return "prefix '" + prefix + "': " + *e;
  }
  *out = p;
  return std::nullopt;
}

std::optional<std::string> check_value(const std::string& key, const std::string& value) {
  if (value.size() > MAX_STORE_VALUE_BYTES) {
    return "the value of key '" + key + "' is " + std::to_string(value.size()) + " bytes, more than the " +
           std::to_string(MAX_STORE_VALUE_BYTES) + " a store value may hold (ZooKeeper's 1 MB node limit)";
  }
  return std::nullopt;
}

caf::error store_error(std::string text) { return caf::make_error(caf::sec::runtime_error, std::move(text)); }

std::string error_text(const caf::error& e) {
  const caf::message& context = e.context();
  if (!context.empty() && context.match_element<std::string>(0)) {
    return context.get_as<std::string>(0);
  }
  return caf::to_string(e);
}

}  // namespace store_layout

}  // namespace stoa::services
