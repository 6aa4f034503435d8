#include "common/base64.hpp"

#include <cstdint>

namespace stoa {

// Named so that a unity build batching this file with others of stoa::
// cannot see two helpers of one name.
namespace base64_internal {

constexpr char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of `c`, or -1.
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

// "'!'" for a printable character, else its code ("byte 0x0a").
std::string describe(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) {
    return std::string("'") + c + "'";
  }
  static constexpr char HEX[] = "0123456789abcdef";
  return std::string("byte 0x") + HEX[u >> 4] + HEX[u & 0xf];
}

}  // namespace base64_internal

std::string base64_encode(std::string_view bytes) {
  using base64_internal::ALPHABET;
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    out += ALPHABET[(n >> 18) & 63];
    out += ALPHABET[(n >> 12) & 63];
    out += ALPHABET[(n >> 6) & 63];
    out += ALPHABET[n & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    out += ALPHABET[(n >> 18) & 63];
    out += ALPHABET[(n >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    const uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += ALPHABET[(n >> 18) & 63];
    out += ALPHABET[(n >> 12) & 63];
    out += ALPHABET[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

Try<std::string> base64_decode(std::string_view text) {
  using base64_internal::describe;
  using base64_internal::sextet;
  // The data characters: everything before the padding, which must be the
  // last one or two characters of a multiple of 4.
  size_t data = text.size();
  while (data > 0 && text[data - 1] == '=' && text.size() - data < 2) {
    --data;
  }
  const size_t padding = text.size() - data;
  for (size_t i = 0; i < data; ++i) {
    if (sextet(text[i]) < 0) {
      if (text[i] == '=') {
        return Error("base64 padding '=' at position " + std::to_string(i) + " is not at the end");
      }
      return Error("invalid base64 character " + describe(text[i]) + " at position " + std::to_string(i));
    }
  }
  if (padding > 0 && text.size() % 4 != 0) {
    return Error("base64 text of " + std::to_string(text.size()) + " characters with padding is not a multiple of 4");
  }
  if (data % 4 == 1) {
    return Error("base64 text of " + std::to_string(data) + " characters is truncated");
  }
  if (padding > 0 && (4 - data % 4) % 4 != padding) {
    return Error("base64 text has " + std::to_string(padding) + " padding characters after " + std::to_string(data) +
                 " characters");
  }
  std::string out;
  out.reserve(data / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < data; ++i) {
    acc = (acc << 6) | static_cast<uint32_t>(sextet(text[i]));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace stoa
